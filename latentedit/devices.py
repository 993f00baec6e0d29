"""Torch device names checked against this machine before any model is moved there.

Without this, ``--device cuda`` on a machine without a GPU fails deep inside PyTorch with
"Found no NVIDIA driver on your system" and a traceback.
"""
from __future__ import annotations

import torch

from .errors import LatentEditError

#: Device types latentedit runs on.
DEVICE_TYPES = ("cpu", "cuda", "mps")


def check_device(device=None, what: str = "device"):
    """``device`` as a ``torch.device`` that exists on this machine.

    Args:
        device: None or ``"auto"`` (CUDA when available, else CPU), a name such as ``"cpu"``,
            ``"cuda"``, ``"cuda:1"``, ``"mps"``, or a ``torch.device``.
        what: how to name the setting in messages: ``"--device"`` on the command line (the
            message then suggests ``--device cpu``), ``"device"`` in the Python API.

    Returns:
        The ``torch.device``.

    Raises:
        LatentEditError: an unknown device name, CUDA (or MPS) not available, or a CUDA index
            this machine does not have — one line naming ``what`` and the value.
    """
    if device is None or (isinstance(device, str) and device.strip().lower() == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    cli = what.startswith("--")
    label = f"{what} {device}" if cli else f"{what} {str(device)!r}"
    fix = f"use {what} cpu" if cli else "use device='cpu'"
    try:
        dev = device if isinstance(device, torch.device) else torch.device(str(device).strip())
    except (RuntimeError, TypeError, ValueError):
        raise LatentEditError(f"{label}: not a device name; use cpu, cuda, cuda:N or mps") from None
    if dev.type not in DEVICE_TYPES:
        raise LatentEditError(f"{label}: device type {dev.type!r} is not supported; use cpu, cuda, cuda:N or mps")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise LatentEditError(f"{label}: CUDA is not available on this machine "
                                  f"(torch.cuda.is_available() is False); {fix}")
        n = torch.cuda.device_count()
        if dev.index is not None and dev.index >= n:
            raise LatentEditError(f"{label}: this machine has {n} CUDA device(s) (cuda:0..cuda:{n - 1})")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise LatentEditError(f"{label}: MPS (Apple GPU) is not available on this machine; {fix}")
    return dev


__all__ = ["DEVICE_TYPES", "check_device"]
