"""Editing: the Recipe (one JSON edit description), the Editor (batch API), region blending.

Importing this package never imports gradio or training code (the Editor imports the model,
face and merge code lazily).
"""
from __future__ import annotations

from .editor import EditResult, Editor, Face, alignment_template, load_model, model_folder, resolve_device
from .recipe import BLEND_MODES, COLOR_MODES, RECIPE_REGIONS, MergeOptions, Recipe, RecipeError, parse_assignment
from .region import blend_region, region_weights

__all__ = [
    "BLEND_MODES", "COLOR_MODES", "EditResult", "Editor", "Face", "alignment_template", "MergeOptions", "RECIPE_REGIONS", "Recipe",
    "RecipeError", "blend_region", "load_model", "model_folder", "parse_assignment", "region_weights",
    "resolve_device",
]
