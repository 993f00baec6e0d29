"""The real-photo parts of ``latentedit bench realedit``: edit every face of a set, measure the output.

A *variant* is one way to bring an edit into the photo (replace mode, or detail mode with a geometry
and an appearance share); every variant is run at alpha 0 and at each requested alpha on the same
prepared face. All measures are dlib's, on the output photo (:mod:`.realedit_measure`).
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..._io import read_image
from ...edit import Editor, Recipe
from ...edit.detail import DetailFallback
from ...edit.recipe import MergeOptions
from ...errors import LatentEditError, NoFaceError
from ...faces import SAME_PERSON_THRESHOLD, identity_distance
from ...media import IMAGE_EXTENSIONS
from .realedit_measure import face_crop, measure_face, outside_change, reach, sharpness


@dataclass(frozen=True)
class Variant:
    """One way of merging an edit: ``mode`` replace, or detail with a ``geometry`` and ``appearance``."""

    mode: str
    geometry: str | None = None      # the Editor's detail_geometry (auto / flow / landmarks)
    appearance: float | None = None  # detail mode's merge.appearance

    def recipe(self, attribute: str, alpha: float) -> Recipe:
        """The recipe of this variant at ``alpha``."""
        merge = MergeOptions(mode=self.mode) if self.mode == "replace" else \
            MergeOptions(mode="detail", appearance=float(self.appearance))
        return Recipe(edits={attribute: float(alpha)}, merge=merge)

    def geometry_ran(self, editor: Editor) -> str | None:
        """The geometry detail mode uses for this variant on ``editor`` (None for replace mode)."""
        if self.mode != "detail":
            return None
        if self.geometry == "auto":
            return "landmarks" if editor.landmark_head is not None else "flow"
        return self.geometry


def grid_variant(variants: Sequence[Variant], editor: Editor) -> Variant | None:
    """The detail variant the picture grid shows: what the Editor runs by default (its ``auto``
    geometry, the default appearance), else the first detail variant."""
    detail = [v for v in variants if v.mode == "detail"]
    auto = "landmarks" if editor.landmark_head is not None else "flow"
    best = [v for v in detail if v.geometry_ran(editor) == auto]
    pool = best or detail
    default = MergeOptions().appearance
    same = [v for v in pool if v.appearance is not None and float(v.appearance) == default]
    return (same or pool)[0] if pool else None


def variants_for(editor: Editor, modes: Sequence[str], geometries: Sequence[str],
                 appearances: Sequence[float]) -> tuple[list[Variant], list[str]]:
    """The variants to run on ``editor``: ``all`` geometries = flow plus landmarks when there is a head.

    Returns:
        ``(variants, notes)``; a landmarks geometry asked for on a model without a head is left out
        with a note.
    """
    notes = []
    geos: list[str] = []
    for g in geometries:
        geos += ["flow", "landmarks"] if g == "all" else [g]
    if "landmarks" in geos and editor.landmark_head is None:
        notes.append("detail geometry 'landmarks' skipped: the model has no landmark head "
                     "(latentedit fit MODEL FACESET --landmark-head)")
        geos = [g for g in geos if g != "landmarks"]
    geos = list(dict.fromkeys(geos)) or ["flow"]
    out = []
    for mode in modes:
        if mode == "replace":
            out.append(Variant("replace"))
        else:
            out += [Variant("detail", g, float(a)) for g in geos for a in appearances]
    return out, notes


def apply_variant(editor: Editor, face, variant: Variant, attribute: str, alpha: float) -> tuple[np.ndarray, bool]:
    """The edited photo, and whether detail mode fell back to replace mode for it."""
    editor.detail_geometry = variant.geometry or "auto"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DetailFallback)
        image = editor.apply(face, variant.recipe(attribute, alpha)).image
    return image, any(issubclass(w.category, DetailFallback) for w in caught)


def set_items(folder: str | Path, pairs: bool, limit: int | None) -> tuple[list[tuple[str, Path, Path | None]], int]:
    """The photos of a set: ``(name, neutral, smiling or None)``, sorted by name, and the unpaired count.

    Args:
        folder: a london_dev-like folder (``neutral/``, ``smiling/``) when ``pairs``, else a folder of photos.
        pairs: whether the set has smiling pairs.
        limit: at most this many items (None: all).

    Raises:
        LatentEditError: when the folder (or its ``neutral/``/``smiling/``) is missing or holds no photo.
    """
    folder = Path(folder)
    need = [folder / "neutral", folder / "smiling"] if pairs else [folder]
    for d in need:
        if not d.is_dir():
            why = " (a pair set needs neutral/ and smiling/)" if pairs else ""
            raise LatentEditError(f"{d}: folder not found{why}")
    photos = sorted(p for p in need[0].iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    if not photos:
        raise LatentEditError(f"{need[0]}: no photos ({', '.join(IMAGE_EXTENSIONS)})")
    items, unpaired = [], 0
    for p in photos:
        smiling = (folder / "smiling" / p.name) if pairs else None
        if pairs and not smiling.is_file():
            unpaired += 1
            continue
        items.append((p.stem, p, smiling))
    return items[:limit] if limit else items, unpaired


@dataclass
class RowRecord:
    """Per-face values of one table row."""

    reach: list[float] = field(default_factory=list)
    identity: list[float] = field(default_factory=list)
    sharpness: list[float] = field(default_factory=list)
    outside: list[float] = field(default_factory=list)
    detect_fallbacks: int = 0
    detail_fallbacks: int = 0

    def summary(self) -> dict[str, Any]:
        """Medians and shares of the row (None where there are no values)."""
        med = (lambda v: float(np.median(v)) if v else None)  # noqa: E731
        ident = np.asarray(self.identity)
        reach_v = np.asarray(self.reach)
        return {"faces": len(self.identity), "reach_median": med(self.reach),
                "reach_ge_half": float(np.mean(reach_v >= 0.5)) if reach_v.size else None,
                "reach_faces": int(reach_v.size),
                "identity_median": med(self.identity),
                "same_person": float(np.mean(ident < SAME_PERSON_THRESHOLD)) if ident.size else None,
                "sharpness_ratio": med(self.sharpness),
                "outside_change": float(np.mean(self.outside)) if self.outside else None,
                "detect_fallbacks": self.detect_fallbacks, "detail_fallbacks": self.detail_fallbacks}


def edit_set(editor: Editor, attribute: str, items, variants: Sequence[Variant], alphas: Sequence[float],
             grid_faces: int = 0, grid_alpha: float | None = None, progress=None,
             desc: str = "faces") -> dict[str, Any]:
    """Edit the neutral photo of every item with every variant and alpha, and measure the outputs.

    Args:
        editor: the Editor under test.
        attribute: the boundary to edit.
        items: from :func:`set_items`.
        variants: from :func:`variants_for`.
        alphas: edit strengths (alpha 0 is added first).
        grid_faces: keep face crops of this many faces for the picture grid (columns: neutral, the first
            detail and the replace variant at ``grid_alpha``, the real smile).
        grid_alpha: alpha of the grid's edits.
        progress: optional tqdm-like wrapper.

    Returns:
        ``{"rows": [...], "reference": {...} or None, "per_face": {...}, "counts": {...}, "grid": [...]}``.
    """
    alphas = [0.0] + [float(a) for a in alphas if float(a) != 0.0]
    records = {(v, a): RowRecord() for v in variants for a in alphas}
    ref = RowRecord()
    counts = {"faces": 0, "unreadable": 0, "no_face": 0, "no_smile_widening": 0}
    per_face: dict[str, Any] = {}
    grid: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    grid_detail = grid_variant(variants, editor)
    grid_replace = next((v for v in variants if v.mode == "replace"), None)
    for name, neutral_path, smiling_path in (progress(items, desc=desc) if progress else items):
        try:
            photo = read_image(neutral_path)
            smiling = read_image(smiling_path) if smiling_path is not None else None
        except LatentEditError:
            counts["unreadable"] += 1
            continue
        try:
            face = editor.find_faces(photo, all_faces=False)[0]
        except NoFaceError:
            counts["no_face"] += 1
            continue
        base = measure_face(photo, fallback_box=face.box)
        box = base.box
        sharp0 = sharpness(photo, box)
        row_face: dict[str, Any] = {"neutral_mouth_ratio": base.mouth_ratio}
        denom_ok = True
        if smiling is not None:
            sm = measure_face(smiling, fallback_box=box)
            row_face["smiling_mouth_ratio"] = sm.mouth_ratio
            denom_ok = reach(sm.mouth_ratio, base.mouth_ratio, sm.mouth_ratio) is not None
            counts["no_smile_widening"] += int(not denom_ok)
            if denom_ok:
                ref.reach.append(1.0)
            ref.identity.append(identity_distance(sm.descriptor, base.descriptor))
            ref.sharpness.append(sharpness(smiling, box) / max(sharp0, 1e-9))
            if smiling.shape == photo.shape:
                ref.outside.append(outside_change(smiling, photo, box))
            ref.detect_fallbacks += int(sm.fallback)
        counts["faces"] += 1
        cells = {}
        for (v, a), rec in records.items():
            out, fell_back = apply_variant(editor, face, v, attribute, a)
            m = measure_face(out, fallback_box=box)
            if smiling is not None and denom_ok:
                rec.reach.append(reach(m.mouth_ratio, base.mouth_ratio, sm.mouth_ratio))
            rec.identity.append(identity_distance(m.descriptor, base.descriptor))
            rec.sharpness.append(sharpness(out, box) / max(sharp0, 1e-9))
            rec.outside.append(outside_change(out, photo, box))
            rec.detect_fallbacks += int(m.fallback)
            rec.detail_fallbacks += int(fell_back)
            if len(grid) < grid_faces and a == grid_alpha and v in (grid_detail, grid_replace):
                cells[v.mode] = face_crop(out, box)
        per_face[name] = row_face
        if len(grid) < grid_faces and smiling is not None:
            grid.append({"name": name, "neutral": face_crop(photo, box), "detail": cells.get("detail"),
                         "replace": cells.get("replace"), "smiling": face_crop(smiling, sm.box)})
    editor.detail_geometry = "auto"
    rows = []
    for (v, a), rec in records.items():
        rows.append({"mode": v.mode, "geometry": v.geometry_ran(editor),
                     "geometry_setting": v.geometry, "appearance": v.appearance, "alpha": a, **rec.summary(),
                     "per_face": {"identity": rec.identity, "reach": rec.reach, "sharpness_ratio": rec.sharpness,
                                  "outside_change": rec.outside}})
    reference = None
    if ref.identity:
        reference = {"mode": "real smiling photo", **ref.summary(),
                     "per_face": {"identity": ref.identity, "sharpness_ratio": ref.sharpness}}
    return {"rows": rows, "reference": reference, "per_face": per_face, "counts": counts, "grid": grid,
            "seconds": round(time.perf_counter() - t0, 1)}


def latency(editor: Editor, attribute: str, photo_path: str | Path, moves: int,
            variants: Sequence[Variant]) -> dict[str, Any]:
    """Slider-move latency on one photo: each variant's :meth:`Editor.apply` and the decode alone.

    Alphas sweep 0.1..3 (never 0, which detail mode answers with a copy of the photo); one warm-up
    move per variant. Returns p50/p95 in ms per row.
    """
    photo = read_image(photo_path)
    face = editor.find_faces(photo, all_faces=False)[0]
    alphas = np.linspace(0.1, 3.0, max(int(moves), 1))
    pct = (lambda t, q: float(np.percentile(np.asarray(t) * 1000.0, q)))  # noqa: E731
    rows = []
    seen = set()
    for v in variants:
        key = (v.mode, v.geometry)
        if key in seen:  # appearance does not change the cost worth a row
            continue
        seen.add(key)
        apply_variant(editor, face, v, attribute, 3.0)
        times = []
        for a in alphas:
            t = time.perf_counter()
            apply_variant(editor, face, v, attribute, float(a))
            times.append(time.perf_counter() - t)
        rows.append({"what": f"{v.mode} move" + (f" ({v.geometry_ran(editor)})" if v.mode == "detail" else ""),
                     "ms_p50": pct(times, 50), "ms_p95": pct(times, 95), "moves": len(times)})
    times = []
    for a in alphas:
        z = editor.shift(face.z[None], Recipe(edits={attribute: float(a)}))
        t = time.perf_counter()
        editor.decode(z, editor.default_identity)
        times.append(time.perf_counter() - t)
    rows.append({"what": "decode alone", "ms_p50": pct(times, 50), "ms_p95": pct(times, 95), "moves": len(times)})
    editor.detail_geometry = "auto"
    return {"photo": Path(photo_path).name, "frame": list(photo.shape[:2]), "rows": rows}
