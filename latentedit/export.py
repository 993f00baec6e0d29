"""Export a :class:`~latentedit.models.SwapAutoencoder` to ONNX: one encoder graph and one graph per decoder.

Each graph has a dynamic batch axis. After export every graph is run with onnxruntime on a random
batch (of a different size than the one traced, so that the dynamic axis is exercised) and compared
with PyTorch; the export fails when the largest absolute difference exceeds ``atol``. A JSON manifest
in the output folder lists the graphs, their inputs/outputs, tensor contracts, the model's
preprocessing contract (:func:`latentedit.preprocess.preprocessing_block`: how crops are aligned and
converted; a runtime outside Python must reproduce it) and the measured differences.

Graphs:
    ``encoder.onnx``: ``image`` float32 ``N×3×S×S`` in [-1, 1] → ``z`` float32 ``N×D``.
    ``decoder_<identity>.onnx``: ``z`` float32 ``N×D`` → ``rgb`` float32 ``N×3×S×S`` in [-1, 1]
    and ``mask`` float32 ``N×1×S×S`` in [0, 1].

``image`` is :func:`latentedit.preprocess.to_model` of uint8 RGB crops made by
:func:`latentedit.preprocess.align` (``x / 127.5 - 1``); ``rgb`` goes back to uint8 with
:func:`latentedit.preprocess.from_model`. The graphs are checked on such inputs.
"""
from __future__ import annotations

import hashlib
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from . import __version__
from ._io import atomic_path, atomic_write_json
from ._optional import require
from .errors import LatentEditError
from .preprocess import preprocessing_block, to_model

#: ONNX opset used for every graph (supported by onnxruntime ≥ 1.17).
OPSET = 17
#: Largest accepted |onnxruntime − PyTorch| difference.
DEFAULT_ATOL = 1e-3
MANIFEST = "manifest.json"


class _Encoder(nn.Module):
    """``image -> z`` through the model's public ``encode``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> torch.Tensor:  # (N, 3, S, S) -> (N, D)
        return self.model.encode(image)


class _Decoder(nn.Module):
    """``z -> (rgb, mask)`` for one identity through the model's public ``decode``."""

    def __init__(self, model: nn.Module, identity: str) -> None:
        super().__init__()
        self.model = model
        self.identity = identity

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # (N, D) -> (N,3,S,S), (N,1,S,S)
        rgb, mask = self.model.decode(z, self.identity)
        return rgb, mask


@dataclass
class ExportedGraph:
    """One exported ONNX graph and how closely onnxruntime reproduces PyTorch on it."""

    name: str                      # "encoder" or "decoder"
    identity: str | None           # decoder identity (None for the encoder)
    file: str                      # file name inside the export folder
    inputs: dict[str, list[Any]]   # input name -> shape ("batch" marks the dynamic axis)
    outputs: dict[str, list[Any]]
    max_abs_diff: float            # max |onnxruntime - PyTorch| over every output
    sha256: str = ""


@dataclass
class ExportResult:
    """What :func:`export_onnx` wrote."""

    out_dir: Path
    graphs: list[ExportedGraph] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def max_abs_diff(self) -> float:
        """The largest difference over all graphs."""
        return max((g.max_abs_diff for g in self.graphs), default=0.0)


def _safe_name(identity: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", identity) or "_"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _export_one(module: nn.Module, example: torch.Tensor, path: Path, input_name: str,
                output_names: list[str]) -> None:
    dynamic = {input_name: {0: "batch"}, **{n: {0: "batch"} for n in output_names}}
    with atomic_path(path, overwrite=False) as tmp, warnings.catch_warnings():
        # The TorchScript exporter is used on purpose: it needs no onnxscript and handles these
        # plain convolutional graphs exactly; torch warns that it is the legacy path.
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), str(tmp), dynamo=False, input_names=[input_name],
                          output_names=output_names, dynamic_axes=dynamic, opset_version=OPSET,
                          do_constant_folding=True)


def _check(path: Path, module: nn.Module, x: torch.Tensor, input_name: str) -> float:
    ort = require("onnxruntime", "checking the ONNX export")

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, min(2, os.cpu_count() or 1))
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    got = session.run(None, {input_name: x.numpy()})
    with torch.no_grad():
        want = module(x)
    want = (want,) if isinstance(want, torch.Tensor) else tuple(want)
    if len(got) != len(want):
        raise LatentEditError(f"{path}: onnxruntime returned {len(got)} outputs, PyTorch {len(want)}")
    diff = 0.0
    for g, w in zip(got, want):
        w = w.detach().cpu().numpy()
        if g.shape != w.shape:
            raise LatentEditError(f"{path}: output shape {g.shape} differs from PyTorch {w.shape}")
        diff = max(diff, float(np.max(np.abs(g - w))) if g.size else 0.0)
    return diff


def export_onnx(model: nn.Module, out_dir: str | os.PathLike, identities: list[str] | None = None,
                atol: float = DEFAULT_ATOL, batch: int = 2, seed: int = 0,
                model_source: str | None = None) -> ExportResult:
    """Export the encoder and each decoder of ``model`` to ONNX and check them with onnxruntime.

    Args:
        model: a :class:`~latentedit.models.SwapAutoencoder` (anything with ``encode``, ``decode``,
            ``identities`` and ``config.resolution``/``config.latent_dim``).
        out_dir: folder to write into; created if missing. Existing ``.onnx`` files or a manifest
            in it are never overwritten.
        identities: decoders to export (default: all of ``model.identities``).
        atol: largest accepted max-abs difference between onnxruntime and PyTorch outputs.
        batch: batch size used for tracing; the check uses ``batch + 1`` to test the dynamic axis.
        seed: seed of the random check inputs.
        model_source: recorded in the manifest (e.g. the model folder).

    Returns:
        An :class:`ExportResult` listing the graphs and their measured differences.

    Raises:
        LatentEditError: unknown identity, files already present in ``out_dir``, or an ONNX graph
            whose outputs differ from PyTorch by more than ``atol``.
        MissingExtraError: onnx/onnxruntime are missing (install ``latentedit[export]``).
    """
    onnx = require("onnx", "ONNX export")
    require("onnxruntime", "ONNX export")  # checked early for a clear message

    out = Path(out_dir)
    all_ids = list(model.identities)
    ids = all_ids if identities is None else list(identities)
    unknown = [i for i in ids if i not in all_ids]
    if unknown:
        raise LatentEditError(f"unknown identity {unknown[0]!r}; the model has {', '.join(all_ids)}")
    if not ids:
        raise LatentEditError("no decoder to export")
    files = ["encoder.onnx"] + [f"decoder_{_safe_name(i)}.onnx" for i in ids]
    if len(set(files)) != len(files):
        raise LatentEditError(f"identities {ids} map to clashing file names")
    clash = [f for f in files + [MANIFEST] if (out / f).exists()]
    if clash:
        raise LatentEditError(f"{out / clash[0]} already exists; choose an empty --onnx folder")
    out.mkdir(parents=True, exist_ok=True)

    cfg = model.config
    size, dim = int(cfg.resolution), int(cfg.latent_dim)
    was_training = model.training
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    # the inputs a deployed encoder sees: uint8 crops through the preprocessing contract
    trace_x = to_model(torch.randint(0, 256, (batch, size, size, 3), generator=gen, dtype=torch.uint8))
    check_x = to_model(torch.randint(0, 256, (batch + 1, size, size, 3), generator=gen, dtype=torch.uint8))
    result = ExportResult(out_dir=out)
    try:
        enc = _Encoder(model).eval()
        path = out / files[0]
        _export_one(enc, trace_x, path, "image", ["z"])
        diff = _check(path, enc, check_x, "image")
        result.graphs.append(ExportedGraph("encoder", None, files[0], {"image": ["batch", 3, size, size]},
                                           {"z": ["batch", dim]}, diff))
        with torch.no_grad():
            trace_z = enc(trace_x)
            check_z = enc(check_x)
        for identity, fname in zip(ids, files[1:]):
            dec = _Decoder(model, identity).eval()
            path = out / fname
            _export_one(dec, trace_z, path, "z", ["rgb", "mask"])
            diff = _check(path, dec, check_z, "z")
            result.graphs.append(ExportedGraph(
                "decoder", identity, fname, {"z": ["batch", dim]},
                {"rgb": ["batch", 3, size, size], "mask": ["batch", 1, size, size]}, diff))
    finally:
        model.train(was_training)

    umask = os.umask(0)
    os.umask(umask)
    for g in result.graphs:
        onnx.checker.check_model(str(out / g.file))
        g.sha256 = _sha256(out / g.file)
        os.chmod(out / g.file, 0o666 & ~umask)   # temp files are created 0600; exports are meant to be shared
    bad = [g for g in result.graphs if not g.max_abs_diff <= atol]
    manifest = {
        "format_version": 1,
        "library": f"latentedit {__version__}",
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "opset": OPSET,
        "model_source": model_source,
        "model_id": getattr(model, "model_id", None),
        "resolution": size,
        "latent_dim": dim,
        "contracts": {"image": "float32 RGB in [-1, 1], NCHW", "z": "float32 N×D",
                      "rgb": "float32 RGB in [-1, 1], NCHW", "mask": "float32 in [0, 1], N×1×S×S"},
        "preprocessing": preprocessing_block(size),
        "atol": atol,
        "max_abs_diff": result.max_abs_diff,
        "graphs": [g.__dict__ for g in result.graphs],
    }
    result.manifest = manifest
    atomic_write_json(out / MANIFEST, manifest, overwrite=False)
    os.chmod(out / MANIFEST, 0o666 & ~umask)
    if bad:
        worst = max(bad, key=lambda g: g.max_abs_diff)
        raise LatentEditError(f"{out / worst.file}: onnxruntime differs from PyTorch by "
                              f"{worst.max_abs_diff:.3g} > atol {atol:g}")
    return result
