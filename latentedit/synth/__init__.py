"""SynthFaces: seeded procedural faces with exact ground truth.

``render(identity, expression, size)`` draws one face and returns its image, 68 landmarks,
soft region masks and every parameter as an attribute; the ground-truth swap "A's expression
and pose on B" is ``render(B_identity, A_expression)``. ``synth_faceset`` writes a FaceSet.
The renderer draws with cv2 (imported by its modules).
"""
from __future__ import annotations

from .dataset import SynthDataset
from .generate import (PREVIEW_EXPRESSIONS, SYNTH_VERSION, expression_params, identity_label, identity_params,
                       preview_grid, render_batch, synth_faceset)
from .params import (EXPRESSION_ATTRIBUTES, GLASSES, HAIR_STYLES, IDENTITY_ATTRIBUTES, SYNTH_ATTRIBUTES,
                     ExpressionParams, IdentityParams)
from .render import RenderResult, render

__all__ = [
    "IdentityParams", "ExpressionParams", "RenderResult", "render", "render_batch", "synth_faceset", "SynthDataset",
    "preview_grid", "identity_params", "expression_params", "identity_label",
    "IDENTITY_ATTRIBUTES", "EXPRESSION_ATTRIBUTES", "SYNTH_ATTRIBUTES", "HAIR_STYLES", "GLASSES",
    "PREVIEW_EXPRESSIONS", "SYNTH_VERSION",
]
