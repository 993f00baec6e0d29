"""latentedit: latent-space face editing on a face-swap autoencoder.

Importing the package is cheap: it never imports torch, gradio, training code, dlib or cv2. The
FaceSet names (:mod:`latentedit.faceset`, a torch ``Dataset``) are imported on first use.
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

from .errors import FaceSetError, ImageReadError, LatentEditError, ModelFormatError, NoFaceError  # noqa: E402
from .landmarks import GROUPS, REGIONS  # noqa: E402

_FACESET_NAMES = ("FaceRecord", "FaceSet", "FaceSetWriter")

__all__ = [
    "__version__", "LatentEditError", "FaceSetError", "ImageReadError", "ModelFormatError", "NoFaceError",
    "FaceRecord", "FaceSet", "FaceSetWriter", "GROUPS", "REGIONS",
]


def __getattr__(name: str) -> Any:
    # The one lazy import of the package root: latentedit.faceset imports torch.
    if name in _FACESET_NAMES:
        from . import faceset

        return getattr(faceset, name)
    raise AttributeError(f"module 'latentedit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
