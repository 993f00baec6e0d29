"""The carried resume state: a run's newest checkpoint, ``config.json`` and ``metrics.jsonl`` in one
file (``gpu_carry/<run>.state``) small enough to travel to the GPU machine beside the data pack.

The file is a zip of ``state.json`` (form, step, sha256), ``config.json``, ``metrics.jsonl.xz`` and
the checkpoint (``torch.save``, xz), loaded with ``weights_only=True`` like every checkpoint. See
:data:`STATE_FORMS` for what each form keeps.
"""
from __future__ import annotations

import hashlib
import io
import json
import lzma
import os
import sys
import zipfile
from pathlib import Path
from typing import Any


sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_common import FORMAT_VERSION, MiB, GpuScriptError, latest_checkpoint, load_checkpoint  # noqa: E402

STATE_FORMAT = "latentedit.gpu_state"

#: Forms of the carried resume state, most exact first, with bytes per trained parameter.
#: ``exact``: the checkpoint as written. ``bf16_moments``: Adam's two moments rounded to bf16.
#: ``bf16_v``: the second moment in bf16 and the first dropped (re-zeroed on load: with the recipe's
#: beta1 = 0.5 it is rebuilt within a few steps). ``weights``: optimiser state dropped (fresh Adam).
#: Weights, step, RNG states, lr scale and the run's config/metrics are kept exactly in every form.
STATE_FORMS = ("exact", "bf16_moments", "bf16_v", "weights")


def _opt_forms(opt: dict, form: str) -> dict:
    import torch

    if form == "exact":
        return opt
    state = {}
    for k, s in opt.get("state", {}).items():
        if form == "weights":
            continue
        t = {"step": s["step"]}
        if "exp_avg_sq" in s:
            t["exp_avg_sq"] = s["exp_avg_sq"].to(torch.bfloat16)
        if form == "bf16_moments" and "exp_avg" in s:
            t["exp_avg"] = s["exp_avg"].to(torch.bfloat16)
        state[k] = t
    return {"state": state, "param_groups": opt["param_groups"], "form": form}


def _opt_expand(opt: dict) -> dict:
    import torch

    if "form" not in opt:
        return opt
    state = {}
    for k, s in opt["state"].items():
        v = s["exp_avg_sq"].to(torch.float32)
        m = s["exp_avg"].to(torch.float32) if "exp_avg" in s else torch.zeros_like(v)
        state[k] = {"step": s["step"], "exp_avg": m, "exp_avg_sq": v}
    return {"state": state, "param_groups": opt["param_groups"]}


def initial_discriminators(model_cfg: dict, seed: int) -> dict:
    """The discriminator weights a new run of this config starts with (``Trainer`` seeds, then builds
    the autoencoder, then the discriminators); the global RNG is left as it was."""
    import torch

    from latentedit.models import Discriminators, ModelConfig, SwapAutoencoder

    mc = ModelConfig.from_dict(model_cfg)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        SwapAutoencoder(mc)
        return {k: v.detach().cpu() for k, v in Discriminators(mc).state_dict().items()}


def _state_sha(sd: dict) -> str:
    h = hashlib.sha256()
    for k in sorted(sd):
        t = sd[k].detach().cpu().contiguous()
        h.update(k.encode() + str(t.dtype).encode() + repr(tuple(t.shape)).encode())
        h.update((t.float() if t.dtype.is_floating_point else t).numpy().tobytes())
    return h.hexdigest()


def compact_payload(payload: dict, form: str, run_config: dict | None = None) -> dict:
    """A checkpoint payload in one of :data:`STATE_FORMS`.

    In the compact forms, discriminators that were never trained (their optimiser has no state:
    the recipe's GAN and latent critic are off) are left out when they equal the seeded initial
    weights, which :func:`expand_payload` rebuilds (the run never uses them).
    """
    if form not in STATE_FORMS:
        raise GpuScriptError(f"unknown state form {form!r}; one of {', '.join(STATE_FORMS)}")
    out = dict(payload)
    for key in ("opt", "opt_d"):
        if key in out:
            out[key] = _opt_forms(out[key], form)
    out["gpu_state_form"] = form
    if form != "exact" and run_config and not payload.get("opt_d", {}).get("state"):
        import torch

        init = initial_discriminators(run_config["model"], int(run_config["train"]["seed"]))
        disc = payload["disc"]
        if set(init) == set(disc) and all(torch.equal(init[k], disc[k].cpu()) for k in disc):
            out["disc"] = {}
            out["gpu_disc_from_init"] = {"seed": int(run_config["train"]["seed"]), "sha256": _state_sha(disc)}
    return out


def expand_payload(payload: dict, run_config: dict | None = None) -> dict:
    """Inverse of :func:`compact_payload`: a payload ``Trainer.load_payload`` accepts. Left-out
    discriminators are rebuilt from the seed; if their checksum differs from the original's
    (another torch's initialisers) they are used anyway, with a warning: such a run never uses them."""
    out = {k: v for k, v in payload.items() if k not in ("gpu_state_form", "gpu_disc_from_init")}
    for key in ("opt", "opt_d"):
        if key in out:
            out[key] = _opt_expand(out[key])
    if payload.get("gpu_disc_from_init"):
        if run_config is None:
            raise GpuScriptError("the state left its discriminators out; the run's config.json is needed to rebuild them")
        init = initial_discriminators(run_config["model"], int(payload["gpu_disc_from_init"]["seed"]))
        out["disc"] = init
        if _state_sha(init) != payload["gpu_disc_from_init"]["sha256"]:
            import warnings

            warnings.warn("rebuilt initial discriminators differ from the original ones (another torch version); "
                          "they are unused while the GAN and latent critic are off", RuntimeWarning, stacklevel=2)
    return out


def _torch_bytes(obj: Any) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def write_state(run: Path, out: Path, budget: int | None = None, form: str | None = None) -> dict:
    """Write the carried resume state of ``run`` (its newest checkpoint, ``config.json`` and
    ``metrics.jsonl``) as one file ``out``, in ``form`` or, by default, the most exact form whose
    file fits in ``budget`` bytes.

    Returns:
        the state's manifest (form, step, bytes, sha256, the size of each form tried).

    Raises:
        GpuScriptError: no checkpoint, or not even the ``weights`` form fits.
    """
    run = Path(run)
    ck = latest_checkpoint(run)
    if ck is None:
        raise GpuScriptError(f"{run}: no checkpoint to carry")
    payload = load_checkpoint(ck)
    cfg = (run / "config.json").read_bytes()
    run_config = json.loads(cfg)
    metrics = (run / "metrics.jsonl").read_bytes() if (run / "metrics.jsonl").is_file() else b""
    tried: dict[str, int] = {}
    chosen = None
    for f in ([form] if form else STATE_FORMS):
        compact = compact_payload(payload, f, run_config)
        blob = _torch_bytes(compact)
        if budget is not None and not form and 0.75 * len(blob) > budget:  # xz gained 9-19 % on these
            tried[f] = len(blob)
            continue
        packed = lzma.compress(blob, preset=6)
        size = len(packed) + len(cfg) + len(lzma.compress(metrics)) + 4096
        tried[f] = size
        if budget is None or size <= budget:
            chosen = (f, blob, packed, bool(compact.get("gpu_disc_from_init")))
            break
    if chosen is None:
        raise GpuScriptError(f"{run}: the resume state does not fit the travel budget ({budget / MiB:.1f} MiB "
                             f"left); sizes: " + ", ".join(f"{k} {v / MiB:.1f} MiB" for k, v in tried.items()) +
                             ". Shrink the tree (e.g. the shipped models) or the pack, or use a narrower recipe.")
    f, blob, packed, disc_rebuilt = chosen
    manifest = {"format": STATE_FORMAT, "format_version": FORMAT_VERSION, "run": run.name,
                "checkpoint": ck.name, "step": int(payload["step"]), "form": f,
                "sizes_tried": tried,  # bytes with xz, or without where it could not fit even so
                "checkpoint_sha256": hashlib.sha256(blob).hexdigest(),
                "discriminators": "rebuilt from the seed (never trained)" if disc_rebuilt else "stored"}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as z:
        z.writestr("state.json", json.dumps(manifest, indent=1))
        z.writestr("config.json", cfg)
        z.writestr("metrics.jsonl.xz", lzma.compress(metrics))
        z.writestr(f"checkpoints/{ck.name}.xz", packed)
    os.replace(tmp, out)
    manifest["bytes"] = out.stat().st_size
    return manifest


def install_state(state_file: Path, run: Path) -> dict:
    """Unpack a carried state file into a run folder ``run`` (which must not hold a run yet), so
    ``latentedit train --out RUN --resume`` continues it.

    Returns:
        the state's manifest.
    """
    import torch

    try:
        with zipfile.ZipFile(state_file) as z:
            manifest = json.loads(z.read("state.json"))
            if manifest.get("format") != STATE_FORMAT:
                raise GpuScriptError(f"{state_file}: not a {STATE_FORMAT} file")
            blob = lzma.decompress(z.read(f"checkpoints/{manifest['checkpoint']}.xz"))
            cfg, metrics = z.read("config.json"), lzma.decompress(z.read("metrics.jsonl.xz"))
    except (zipfile.BadZipFile, KeyError, ValueError, lzma.LZMAError) as exc:
        raise GpuScriptError(f"{state_file}: not a readable state file ({type(exc).__name__}: {exc})") from None
    if hashlib.sha256(blob).hexdigest() != manifest["checkpoint_sha256"]:
        raise GpuScriptError(f"{state_file}: checkpoint checksum mismatch (file damaged in transit)")
    if (run / "config.json").exists():
        raise GpuScriptError(f"{run} already holds a run; refusing to overwrite it")
    payload = expand_payload(torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True), json.loads(cfg))
    (run / "checkpoints").mkdir(parents=True, exist_ok=True)
    (run / "config.json").write_bytes(cfg)
    (run / "metrics.jsonl").write_bytes(metrics)
    torch.save(payload, run / "checkpoints" / manifest["checkpoint"])
    return manifest
