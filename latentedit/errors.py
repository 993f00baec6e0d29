"""Exceptions the user can act on. The CLI prints their message without a traceback."""


class LatentEditError(Exception):
    """Base class for errors caused by user input (files, arguments, recipes)."""


class FaceSetError(LatentEditError):
    """A FaceSet folder or one of its records is missing, malformed or inconsistent."""


class ImageReadError(LatentEditError):
    """An image file cannot be read (missing, truncated, not an image, too large)."""


class ModelFormatError(LatentEditError):
    """A pretrained model folder is missing files, tampered with, or from another version."""


class NoFaceError(LatentEditError):
    """No face could be found in an input image."""
