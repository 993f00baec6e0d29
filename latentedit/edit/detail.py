"""Detail mode in the Editor: an edit becomes a warp of the real photo (plus what a warp cannot show).

For one face and one recipe (``merge.mode == "detail"``):

1. **geometry** — how the edit moves the face, as a backward displacement field over the crop:
   * ``landmarks`` (used when the model folder has a landmark head): ``head(z') − head(z)`` moves the
     face's detected 68 landmarks; a thin-plate spline through them and fixed anchors around the face
     gives the field (:class:`latentedit.merge.detail.DetailPlan`);
   * ``flow`` (any model): dense optical flow (OpenCV DIS) from the edited decode to the unedited one,
     faded to zero at the footprint's edge.
2. **appearance** — the decode's change the warp does not explain (teeth, shading), kept where it is
   large, inside the edit's region and where the edit moves the face, scaled by ``merge.appearance``,
   added over the warped photo.
3. The warped photo replaces the frame inside the footprint only; outside it the frame is untouched.

A face that cannot be edited this way (degenerate landmarks, a non-finite field, a face outside the
photo) falls back to replace mode with a warning naming the input — never a smeared photo in silence.
"""
from __future__ import annotations

import warnings

import cv2
import numpy as np
import torch

from ..landmarks import region_indices
from ..merge.detail import GRID, DetailError, DetailPlan, appearance_residual, footprint_polygon, motion_weight
from ..preprocess import from_model
from .recipe import Recipe

#: Geometry estimators (``auto``: the landmark head when the model has one, else flow).
GEOMETRIES = ("auto", "landmarks", "flow")
#: Upsampling of the decodes before optical flow (DIS needs more than 64 px to resolve a mouth).
FLOW_UPSAMPLE = 4
#: Flow magnitudes (crop pixels) taken as estimation noise and shrunk to 0.
FLOW_NOISE = 0.15


class DetailFallback(UserWarning):
    """Detail mode was not possible for a face; it was re-rendered (replace mode) instead."""


def plan_for(face, frame: np.ndarray, size: int) -> DetailPlan:
    """The face's cached :class:`DetailPlan` for ``frame`` (built on first use; ~10 ms at 1024 px)."""
    plan = face._cache.get("detail_plan")
    if plan is None or not plan.matches(frame, face.affine, size, face.landmarks):
        plan = DetailPlan(frame, face.affine, size, face.landmarks)
        face._cache["detail_plan"] = plan
    return plan


def point_weights(editor, recipe: Recipe) -> np.ndarray | None:
    """Per-landmark weights ``(68,)`` of a recipe's edits: each edited boundary's
    ``meta.landmark_weights`` (where the attribute moves a face, see
    :func:`latentedit.latent.landmark_head.landmark_weights`), combined by the largest; None when no
    edited boundary has them."""
    ws = [np.asarray(editor.boundaries[n].meta["landmark_weights"], np.float64)
          for n, a in recipe.edits.items() if a and "landmark_weights" in editor.boundaries[n].meta]
    ws = [w for w in ws if w.shape == (68,) and np.all(np.isfinite(w))]
    return np.clip(np.max(ws, axis=0), 0.0, 1.0) if ws else None


def landmark_field(plan: DetailPlan, head, z: torch.Tensor, z_edit: torch.Tensor, region: str,
                   weights: np.ndarray | None = None) -> np.ndarray:
    """Backward grid field from the landmark head's predicted move (only the region's points move,
    each scaled by ``weights``)."""
    shift = head.shift(z.numpy(), z_edit.numpy()) * (plan.size / head.resolution)
    if weights is not None:
        shift = shift * weights[:, None]
    if region not in ("none", "face"):
        keep = np.zeros(68, bool)
        keep[region_indices(region)] = True
        shift = shift * keep[:, None]
    return plan.grid_field(shift)


def flow_field(plan: DetailPlan, base: np.ndarray, edited: np.ndarray) -> np.ndarray:
    """Backward grid field from DIS optical flow between the decodes (uint8 ``S×S×3`` each)."""
    s = plan.size
    up = s * FLOW_UPSAMPLE
    gray = [cv2.resize(cv2.cvtColor(np.ascontiguousarray(im), cv2.COLOR_RGB2GRAY), (up, up),
                       interpolation=cv2.INTER_CUBIC) for im in (edited, base)]
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    flow = dis.calc(gray[0], gray[1], None) / FLOW_UPSAMPLE           # edited pixel → base pixel, crop px
    g = np.linspace(0.0, s, GRID, dtype=np.float32) * FLOW_UPSAMPLE - 0.5
    gx, gy = np.meshgrid(g, g)
    field = cv2.remap(flow, gx, gy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    poly = footprint_polygon(plan.landmarks) * (GRID - 1) / s
    inside = np.zeros((GRID, GRID), np.uint8)
    cv2.fillPoly(inside, [np.round(poly * 16).astype(np.int32)], 1, shift=4)
    fade = cv2.GaussianBlur(inside.astype(np.float32), (0, 0), 1.0) * inside
    field = cv2.GaussianBlur(field * fade[..., None], (0, 0), 1.0)
    # flow between two decodes is never exactly 0; what is below FLOW_NOISE crop px is its noise
    mag = np.linalg.norm(field, axis=-1, keepdims=True)
    return (field * np.clip(1.0 - FLOW_NOISE / np.maximum(mag, 1e-9), 0.0, None)).astype(np.float32)


def unedited_decode(editor, face, z: torch.Tensor, recipe: Recipe) -> np.ndarray:
    """uint8 ``S×S×3`` decode of the unedited code (cached on the face by the Editor); only the flow
    geometry and the appearance residual need it, the landmark geometry does not."""
    return from_model(editor._base_decode([face], z[None], editor._identity_for(face, recipe)))[0]


def detail_merge(editor, frame: np.ndarray, face, edited: np.ndarray, recipe: Recipe,
                 geometry: str = "auto") -> np.ndarray:
    """The photo ``frame`` with ``face`` edited in detail mode.

    Args:
        editor: the :class:`~latentedit.edit.Editor` (its model, landmark head, boundaries).
        frame: uint8 ``H×W×3`` photo (the source, or the photo with other faces already edited).
        face: a prepared, encoded :class:`~latentedit.edit.Face` with ``affine`` and ``landmarks``.
        edited: uint8 ``S×S×3`` edited decode (after region blending) from :meth:`Editor.render`.
        recipe: the edit.
        geometry: one of :data:`GEOMETRIES`.

    Returns:
        uint8 ``H×W×3``; ``frame`` itself copied when the recipe moves nothing.

    Raises:
        DetailError: when this face cannot be edited in detail mode (callers fall back).
    """
    if recipe.is_identity_edit:
        return frame.copy()
    s = editor.resolution
    plan = plan_for(face, frame, s)
    z = face.z.detach().cpu().float()
    z_edit = editor.shift(z[None], recipe)[0].cpu()
    use = geometry
    if use == "auto":
        use = "landmarks" if editor.landmark_head is not None else "flow"
    if use == "landmarks":
        if editor.landmark_head is None:
            raise DetailError("the model has no landmark head (fit one: latentedit fit MODEL FACESET --landmark-head)")
        field = landmark_field(plan, editor.landmark_head, z, z_edit, recipe.region, point_weights(editor, recipe))
    else:
        field = flow_field(plan, unedited_decode(editor, face, z, recipe), edited)
        if recipe.region not in ("none", "face"):   # only the region moves, as with the landmark head
            keep = cv2.resize(editor._region_mask(face, recipe.region), (GRID, GRID), interpolation=cv2.INTER_AREA)
            field = field * keep[..., None]
    residual = None
    strength = float(recipe.merge.appearance)
    if strength > 0:
        region = recipe.region if recipe.region != "none" else "face"
        # only inside the edit's region, and only where the edit moves the face (a decoder's changes
        # elsewhere — eye colour, skin tone — are its reconstruction error, not the edit)
        mask = editor._region_mask(face, region) * motion_weight(field, s)
        warped_base = plan.warp_crop(unedited_decode(editor, face, z, recipe).astype(np.float32), field)
        residual = strength * appearance_residual(edited.astype(np.float32), warped_base, mask)
    return plan.apply(field, residual, frame=frame)


def merge_or_fall_back(editor, frame: np.ndarray, face, edited: np.ndarray, mask: np.ndarray, recipe: Recipe,
                       replace_merge) -> np.ndarray:
    """:func:`detail_merge`, or ``replace_merge(frame, face, edited, mask, recipe)`` with a
    :class:`DetailFallback` warning naming the input when detail mode is not possible for this face."""
    why = None
    if face.landmarks is None or face.z is None:
        why = "the face has no landmarks"
    else:
        try:
            return detail_merge(editor, frame, face, edited, recipe, geometry=editor.detail_geometry)
        except DetailError as exc:
            why = str(exc)
    warnings.warn(f"{face.source}: detail mode is not possible for this face ({why}); it was re-rendered "
                  "instead (replace mode)", DetailFallback, stacklevel=3)
    return replace_merge(frame, face, edited, mask, recipe)


__all__ = ["GEOMETRIES", "DetailFallback", "detail_merge", "merge_or_fall_back", "flow_field", "landmark_field"]
