"""Latent codes and attribute boundaries: encode FaceSets, fit InterFaceGAN-style boundaries,
save/load them per model, and condition one direction on others."""
from __future__ import annotations

from .boundary import FORMAT_VERSION, Boundary, BoundaryMismatchError, check_attribute_name, load_boundaries
from .encode import LatentTable, encode_faceset, encode_images, model_input
from .fitter import METHODS, BoundaryFitter, is_binary
from .projection import project_orthogonal, span_basis

__all__ = [
    "Boundary", "BoundaryFitter", "BoundaryMismatchError", "FORMAT_VERSION", "LatentTable", "METHODS",
    "check_attribute_name", "encode_faceset", "encode_images", "is_binary", "load_boundaries", "model_input",
    "project_orthogonal", "span_basis",
]
