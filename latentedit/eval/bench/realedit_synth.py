"""The SynthFaces ground-truth part of ``latentedit bench realedit``.

SynthFaces draws the same person with a changed expression exactly: ``render(identity, expression')``.
For each attribute below, a person's neutral render (256 px) is edited and compared, inside the
attribute's region, with the render whose parameter moved by one standard deviation of the
SynthFaces training distribution (``ExpressionParams.sample`` / ``IdentityParams.sample``).

**Which alpha.** A boundary's ``alpha`` is a step in the codes' std along its normal; nothing maps it
to a parameter change exactly. So the alpha is *calibrated by landmarks*, per attribute: dlib's 68
points are fitted (in the same fixed box, placed from the neutral render's true landmarks) on the
neutral render, the ground-truth render and replace-mode edits at every alpha of
:data:`CALIBRATION_ALPHAS`; the alpha whose mean change of :func:`landmark_feature` (edit at alpha −
edit at 0) is closest to the ground truth's mean change (truth − neutral) is used for every mode.
Replace mode is the decode itself, so the calibration measures the model's move, not a merge's;
detail mode is then judged at the same alpha. A calibration that never reaches the truth's change
is flagged ``reached: false``; one where dlib does not read the truth's own change (compared with the
renderer's exact landmarks: same sign, at least a quarter of it) is flagged ``dlib_reads_truth: false``.

**What is compared.** Region PSNR (the union of the attribute's :func:`latentedit.masks.region_mask`
on the neutral and the truth landmarks, at 256 px) against the truth, for: no edit (the neutral
render), replace mode at alpha 0 (the model's reconstruction), replace and detail mode at the
calibrated alpha. ``gain_db = psnr(edit) − psnr(no edit)``: an edit that does not beat "no edit" is
not working. The faces are framed from their true landmarks (no detection).
"""
from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any, Sequence

import numpy as np

from ...edit import Editor, Recipe
from ...edit.detail import DetailFallback
from ...edit.recipe import MergeOptions
from ...edit.results import Face
from ...faces import fit_landmarks, landmark_box, refine_landmarks
from ...masks import region_mask
from ...preprocess import align, transform_points
from ...synth import ExpressionParams, IdentityParams, identity_params, render
from .realedit_measure import landmark_feature

#: Boundary -> (kind of SynthFaces parameter, region compared). The parameter has the boundary's name.
SYNTH_EDITS = {"smile": ("expression", "mouth"), "mouth_open": ("expression", "mouth"),
               "eye_open": ("expression", "eyes"), "brow_raise": ("expression", "brows"),
               "nose_length": ("identity", "nose")}
#: Alphas tried when calibrating an attribute's alpha by its landmark change.
CALIBRATION_ALPHAS = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0)
#: The neutral expression: SynthFaces' neutral, with the eyes half open so that +1 std still fits.
BASE_EXPRESSION = ExpressionParams.neutral(eye_open=0.5)
#: Render side of the ground-truth part.
SYNTH_SIZE = 256


def parameter_std(name: str, kind: str, n: int = 4000, seed: int = 0) -> float:
    """Std of a SynthFaces parameter over its sampling distribution (``n`` seeded draws)."""
    rng = np.random.default_rng(seed)
    cls = ExpressionParams if kind == "expression" else IdentityParams
    return float(np.std([getattr(cls.sample(rng), name) for _ in range(n)]))


def region_psnr(image: np.ndarray, truth: np.ndarray, weight: np.ndarray) -> float:
    """PSNR (dB, peak 255) of uint8 images over a soft ``H×W`` weight."""
    d = (image.astype(np.float64) - truth.astype(np.float64)) ** 2
    mse = float((d * weight[..., None]).sum() / max(3.0 * float(weight.sum()), 1e-9))
    return float(10.0 * np.log10(255.0 ** 2 / max(mse, 1e-10)))


def synth_face(editor: Editor, image: np.ndarray, landmarks: np.ndarray, label: str) -> Face:
    """An encoded :class:`Face` of a render, framed from its true landmarks the way the Editor aligns."""
    crop, affine = align(image, landmarks, editor.alignment_target, editor.resolution)
    return Face(crop=crop, z=editor.encode_crops([crop])[0], affine=affine,
                landmarks=transform_points(landmarks, affine), image=image,
                box=landmark_box(landmarks), source=label)


def _feature(attribute: str, image: np.ndarray, box) -> float:
    lm = refine_landmarks(image, fit_landmarks(image, box).landmarks)
    return landmark_feature(attribute, lm)


def _apply(editor: Editor, face: Face, recipe: Recipe, geometry: str) -> tuple[np.ndarray, bool]:
    editor.detail_geometry = geometry
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DetailFallback)
        image = editor.apply(face, recipe).image
    return image, any(issubclass(w.category, DetailFallback) for w in caught)


def synth_ground_truth(editor: Editor, geometries: Sequence[str], appearances: Sequence[float],
                       identities: int = 12, seed: int = 2024, progress=None) -> tuple[dict[str, Any], list[str]]:
    """Edit SynthFaces renders and compare them with the ground-truth renders.

    Args:
        editor: an Editor whose model has (some of) the boundaries of :data:`SYNTH_EDITS`.
        geometries: detail-mode geometries to run (``auto``/``flow``/``landmarks``; see
            :data:`latentedit.edit.detail.GEOMETRIES`).
        appearances: detail-mode ``merge.appearance`` values to run.
        identities: people (``identity_params(seed, i)``).
        seed: SynthFaces identity seed (a seed the model was not trained on keeps the people unseen).
        progress: optional callable wrapping an iterable (e.g. tqdm).

    Returns:
        ``(results, notes)``: per attribute the calibration and a row per method (see the module
        docstring), and notes on what was skipped.
    """
    notes: list[str] = []
    attrs = [a for a in SYNTH_EDITS if a in editor.boundaries]
    missing = [a for a in SYNTH_EDITS if a not in editor.boundaries]
    if missing:
        notes.append(f"SynthFaces: the model has no boundary for {', '.join(missing)}; skipped")
    head = editor.landmark_head is not None
    people = [identity_params(seed, i) for i in range(identities)]
    faces: dict[IdentityParams, tuple[Any, Face]] = {}

    def person(ident: IdentityParams, i: int):
        if ident not in faces:
            r = render(ident, BASE_EXPRESSION, SYNTH_SIZE, masks=False)
            faces[ident] = (r, synth_face(editor, r.image, r.landmarks, f"synth id{i:02d}"))
        return faces[ident]

    out: dict[str, Any] = {}
    for attr in (progress(attrs) if progress else attrs):
        kind, region = SYNTH_EDITS[attr]
        std = parameter_std(attr, kind)
        cases = []
        for i, ident in enumerate(people):
            if kind == "identity":  # keep room for +1 std below the parameter's maximum of 1
                ident = replace(ident, **{attr: min(getattr(ident, attr), 1.0 - std)})
                expr = BASE_EXPRESSION
            else:
                expr = replace(BASE_EXPRESSION, **{attr: min(getattr(BASE_EXPRESSION, attr) + std, 1.0)})
            neutral, face = person(ident, i)
            truth = render(replace(ident, **{attr: getattr(ident, attr) + std}) if kind == "identity" else ident,
                           expr, SYNTH_SIZE, masks=False)
            weight = np.maximum(region_mask(neutral.landmarks, SYNTH_SIZE, region),
                                region_mask(truth.landmarks, SYNTH_SIZE, region))
            box = landmark_box(neutral.landmarks)
            cases.append({"neutral": neutral, "truth": truth, "face": face, "weight": weight, "box": box,
                          "f_neutral": _feature(attr, neutral.image, box),
                          "f_truth": _feature(attr, truth.image, box)})
        gt_delta = float(np.mean([c["f_truth"] - c["f_neutral"] for c in cases]))
        # the renderer's own landmarks say how large the change really is: dlib may read it weakly
        exact = float(np.mean([landmark_feature(attr, c["truth"].landmarks)
                               - landmark_feature(attr, c["neutral"].landmarks) for c in cases]))
        dlib_reads = bool(gt_delta * exact > 0 and abs(gt_delta) >= 0.25 * abs(exact))
        if not dlib_reads:
            notes.append(f"SynthFaces {attr}: dlib reads the true change as {gt_delta:+.3f} (exact {exact:+.3f}); "
                         "its alpha calibration is unreliable")

        def replace_at(c, alpha: float) -> np.ndarray:
            recipe = Recipe(edits={attr: alpha}, merge=MergeOptions(mode="replace"))
            return _apply(editor, c["face"], recipe, "auto")[0]

        recon = [replace_at(c, 0.0) for c in cases]
        f_recon = [_feature(attr, im, c["box"]) for im, c in zip(recon, cases)]
        curve = []
        for alpha in CALIBRATION_ALPHAS:
            d = [_feature(attr, replace_at(c, alpha), c["box"]) - f0 for c, f0 in zip(cases, f_recon)]
            curve.append(float(np.mean(d)))
        k = int(np.argmin([abs(d - gt_delta) for d in curve]))
        alpha = float(CALIBRATION_ALPHAS[k])
        reached = bool(abs(curve[k] - gt_delta) <= 0.25 * abs(gt_delta))

        methods: dict[str, list[tuple[np.ndarray, bool]]] = {
            "no edit": [(c["neutral"].image, False) for c in cases],
            "replace α=0 (reconstruction)": [(im, False) for im in recon],
            f"replace α={alpha:g}": [(replace_at(c, alpha), False) for c in cases]}
        for geometry in geometries:
            ran = ("landmarks" if head else "flow") if geometry == "auto" else geometry
            for app in appearances:
                recipe = Recipe(edits={attr: alpha}, merge=MergeOptions(mode="detail", appearance=float(app)))
                label = f"detail {ran}{' (auto)' if geometry == 'auto' else ''} app={app:g} α={alpha:g}"
                methods[label] = [_apply(editor, c["face"], recipe, geometry) for c in cases]
        base_psnr = [region_psnr(c["neutral"].image, c["truth"].image, c["weight"]) for c in cases]
        rows = []
        for label, outs in methods.items():
            psnrs = [region_psnr(im, c["truth"].image, c["weight"]) for (im, _), c in zip(outs, cases)]
            deltas = [_feature(attr, im, c["box"]) - c["f_neutral"] for (im, _), c in zip(outs, cases)]
            rows.append({"method": label, "psnr_db": float(np.mean(psnrs)),
                         "gain_db": float(np.mean(psnrs) - np.mean(base_psnr)),
                         "gain_db_per_face": [p - b for p, b in zip(psnrs, base_psnr)],
                         "feature_change": float(np.mean(deltas)), "truth_feature_change": gt_delta,
                         "detail_fallbacks": int(sum(fb for _, fb in outs))})
        out[attr] = {"parameter": attr, "kind": kind, "region": region, "parameter_std": std,
                     "parameter_change": std, "alpha": alpha, "reached": reached, "dlib_reads_truth": dlib_reads,
                     "calibration": {"alphas": list(CALIBRATION_ALPHAS), "feature_change": curve,
                                     "truth_feature_change": gt_delta, "truth_feature_change_exact": exact},
                     "identities": len(cases), "rows": rows}
    editor.detail_geometry = "auto"
    return out, notes
