"""The LPIPS network (Zhang et al. 2018, v0.1, AlexNet trunk) built entirely from local files.

Product code: the optional training loss (``latentedit train --lpips W``) uses it; the evaluation
metric :func:`latentedit.eval.metrics.lpips_distance` builds on the same loader.

The network is built from the ``lpips`` package with a randomly initialised trunk (``pnet_rand=True``,
so torchvision never downloads anything), then the trunk's convolution weights are copied from a local
``alex_features.safetensors`` and the linear heads are loaded from the file the ``lpips`` package ships
(with ``weights_only=True``). Nothing is ever downloaded.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from safetensors.torch import load_file

from .._optional import require
from ..errors import LatentEditError

#: Environment variable naming the folder holding ``alex_features.safetensors``.
LPIPS_ENV = "LATENTEDIT_LPIPS_WEIGHTS"
#: File name of the AlexNet ``features`` weights inside the LPIPS weights folder.
LPIPS_FILE = "alex_features.safetensors"
#: torchvision ``alexnet.features`` indices of the five convolutions LPIPS uses.
_ALEX_CONVS = (0, 3, 6, 8, 10)


def lpips_search_paths(weights_dir: str | os.PathLike | None = None) -> list[Path]:
    """Folders searched for ``alex_features.safetensors``, in order.

    Args:
        weights_dir: an explicit folder; when given, it is the only candidate.

    Returns:
        The explicit folder, else ``$LATENTEDIT_LPIPS_WEIGHTS`` (if set) and the development
        location ``../shared/weights/lpips`` next to the repository.
    """
    if weights_dir is not None:
        return [Path(weights_dir)]
    paths = []
    if os.environ.get(LPIPS_ENV):
        paths.append(Path(os.environ[LPIPS_ENV]))
    paths.append(Path(__file__).resolve().parents[3] / "shared" / "weights" / "lpips")
    return paths


def _resolve_lpips_file(weights_dir: str | os.PathLike | None) -> Path:
    tried = []
    for folder in lpips_search_paths(weights_dir):
        f = folder if folder.suffix == ".safetensors" else folder / LPIPS_FILE
        tried.append(str(f))
        if f.is_file():
            return f
    raise LatentEditError(
        "LPIPS AlexNet weights not found; tried: " + ", ".join(tried) + f". Pass weights_dir= or set "
        f"{LPIPS_ENV} to a folder holding {LPIPS_FILE} (see ../shared/weights/lpips/PROVENANCE.md). "
        "Nothing is downloaded.")


def load_lpips(weights_dir: str | os.PathLike | None = None, device: str | torch.device | None = None):
    """Build LPIPS v0.1 (AlexNet trunk) entirely from local files, in eval mode with frozen weights.

    Args:
        weights_dir: folder holding ``alex_features.safetensors`` (or the file itself). Default:
            ``$LATENTEDIT_LPIPS_WEIGHTS``, then ``../shared/weights/lpips`` beside the repository.
        device: where to put the module (default CPU).

    Returns:
        ``lpips.LPIPS`` module; call it as ``model(x, y)`` with ``N×3×H×W`` images in [-1, 1]
        (or use :func:`lpips_distance`).

    Raises:
        LatentEditError: naming every path tried if the backbone weights are missing, or if a
            weights file does not hold the expected tensors.
    """
    lpips = require("lpips", "the LPIPS metric")

    path = _resolve_lpips_file(weights_dir)
    try:
        feats = load_file(str(path))
    except Exception as exc:  # safetensors raises several types on corrupt files
        raise LatentEditError(f"{path}: cannot read LPIPS weights ({type(exc).__name__}: {exc})") from None
    heads_path = Path(lpips.__file__).parent / "weights" / "v0.1" / "alex.pth"
    if not heads_path.is_file():
        raise LatentEditError(f"{heads_path}: the lpips package's linear heads are missing (reinstall "
                              "lpips); nothing is downloaded")
    # pretrained=False: we load the heads ourselves with weights_only=True instead of the package's
    # plain torch.load; pnet_rand=True: torchvision must not fetch ImageNet weights.
    with warnings.catch_warnings():  # torchvision's 'pretrained' deprecation notice; weights=None anyway
        warnings.simplefilter("ignore", UserWarning)
        model = lpips.LPIPS(net="alex", version="0.1", pretrained=False, pnet_rand=True, verbose=False)
    heads = torch.load(heads_path, map_location="cpu", weights_only=True)
    missing = [k for k in (f"lin{i}.model.1.weight" for i in range(5)) if k not in heads]
    if missing:
        raise LatentEditError(f"{heads_path}: unexpected LPIPS head file (missing {missing})")
    model.load_state_dict(heads, strict=False)
    convs = {}
    for slice_ in (model.net.slice1, model.net.slice2, model.net.slice3, model.net.slice4, model.net.slice5):
        for name, mod in slice_.named_children():
            if isinstance(mod, torch.nn.Conv2d):
                convs[int(name)] = mod
    for idx in _ALEX_CONVS:
        for part in ("weight", "bias"):
            key = f"features.{idx}.{part}"
            if key not in feats:
                raise LatentEditError(f"{path}: tensor {key!r} missing (expected AlexNet features weights)")
            target = getattr(convs[idx], part)
            if tuple(feats[key].shape) != tuple(target.shape):
                raise LatentEditError(f"{path}: tensor {key!r} has shape {tuple(feats[key].shape)}, "
                                      f"expected {tuple(target.shape)}")
            with torch.no_grad():
                target.copy_(feats[key])
    model.requires_grad_(False)
    model.eval()
    return model.to(device or "cpu")
