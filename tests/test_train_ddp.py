"""A 2-process gloo DDP step gives the same gradients as one process on the whole batch."""
from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

sys.path.insert(0, str(Path(__file__).parent))
from test_train_helpers import tiny_config  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _grads(trainer) -> dict[str, torch.Tensor]:
    named = list(trainer.model.named_parameters())
    if trainer.aux_head is not None:
        named += [(f"aux_head.{n}", p) for n, p in trainer.aux_head.named_parameters()]
    return {n: p.grad.detach().clone() for n, p in named if p.grad is not None}


def _config(tmp: Path, aux: bool = False):
    # Every phase is on at step 0 so the critic terms' sharding is covered too.
    kw = dict(steps=1, gan_power=0.1, gan_start=0, latent_disc=0.1, latent_disc_start=0)
    if aux:  # the aux head needs landmarks: two SynthFaces identities
        from latentedit.synth import synth_faceset

        synth = tmp / "synth"
        if not synth.exists():
            synth_faceset(synth, identities=2, per_identity=6, size=64, seed=0, progress=False)
        kw.update(aux=1.0, data={"A": f"{synth}@id000", "B": f"{synth}@id001"})
    return tiny_config(tmp, **kw)


def _worker(rank: int, world: int, port: int, tmp: str, aux: bool = False) -> None:
    from latentedit.train import Trainer
    from latentedit.train.distributed import DistInfo

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        tr = Trainer(_config(Path(tmp), aux), dist_info=DistInfo(rank, world, rank, torch.device("cpu")))
        tr.model.train()
        logs, _, _ = tr.generator_backward(0)
        if rank == 0:
            torch.save({"grads": _grads(tr), "loss": logs["loss"]}, Path(tmp) / "ddp.pt")
    finally:
        # Both ranks reach this point before either tears gloo down: a rank that closed its side while
        # the other was still finishing could abort it ("connection closed by peer" -> SIGABRT).
        dist.barrier()
        dist.destroy_process_group()


def test_ddp_gradients_match_single_process(tmp_path):
    from latentedit.train import Trainer

    cfg = _config(tmp_path)  # also creates the FaceSets before the workers start
    single = Trainer(cfg)
    single.model.train()
    single.generator_backward(0)
    ref = _grads(single)

    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    got = torch.load(tmp_path / "ddp.pt", weights_only=True)["grads"]
    assert got.keys() == ref.keys() and len(ref) > 20
    for name in ref:
        assert torch.allclose(got[name], ref[name], rtol=1e-3, atol=1e-6), name
    # Shards really differ: the DDP result is not just one rank's half-batch gradient.
    half = Trainer(tiny_config(tmp_path, steps=1, batch=2, gan_power=0.1, gan_start=0, latent_disc=0.1))
    half.model.train()
    half.generator_backward(0)
    assert not torch.allclose(_grads(half)["encoder.to_latent.weight"], ref["encoder.to_latent.weight"])


def test_ddp_averages_the_aux_head_too(tmp_path):
    from latentedit.train import Trainer

    single = Trainer(_config(tmp_path, aux=True))
    single.model.train()
    single.generator_backward(0)
    ref = _grads(single)
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path), True), nprocs=2, join=True)
    got = torch.load(tmp_path / "ddp.pt", weights_only=True)["grads"]
    assert {"aux_head.linear.weight", "aux_head.linear.bias"} <= set(ref) and got.keys() == ref.keys()
    for name in ref:
        assert torch.allclose(got[name], ref[name], rtol=1e-3, atol=1e-6), name
