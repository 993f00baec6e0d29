"""latentedit: latent-space face editing on a face-swap autoencoder.

Importing the package is cheap: it never imports gradio, training code, dlib or cv2.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .errors import FaceSetError, ImageReadError, LatentEditError, ModelFormatError, NoFaceError
from .faceset import FaceRecord, FaceSet, FaceSetWriter
from .landmarks import GROUPS, REGIONS

__all__ = [
    "__version__", "LatentEditError", "FaceSetError", "ImageReadError", "ModelFormatError", "NoFaceError",
    "FaceRecord", "FaceSet", "FaceSetWriter", "GROUPS", "REGIONS",
]
