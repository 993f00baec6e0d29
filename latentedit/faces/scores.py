"""Attribute scores measured from 68 landmarks (pure numpy).

Normalisation: the landmarks are rotated so the line between the eye centres is horizontal (roll),
and divided by the inter-ocular distance (size). Yaw shortens horizontal distances, which the
inter-ocular distance cancels, and leaves vertical ones unchanged, which it does not; vertical distances
are therefore multiplied by an estimate of cos(yaw) from how far the nose tip sits off the centre of the
jaw line. Scores are in inter-ocular units (larger = more):

* ``eye_open_score``: eye aspect ratio (lid gap / eye width), both eyes averaged.
* ``mouth_open_score``: inner-lip gap plus the area inside the inner lips.
* ``smile_score``: mouth width, corner lift above the upper-lip centre, upper lip raised towards the nose.
* ``nose_length_score``: nose bridge top to nose base.
* ``nose_width_score``: width of the nostrils.
* ``nose_size_score``: nostril width against the inter-ocular distance and the face width, plus length.
* ``brow_raise_score``: height of the brows above the upper eyelids.

The names end in ``_score`` so they never collide with SynthFaces ground-truth names (``smile``).
The weights of the combined scores were fitted (logistic regression, then rounded) on one half of the
CelebA identities and are reported on the other half in ``docs/bench/landmark_scores_cpu.json``
(``latentedit bench landmark-scores``, :mod:`latentedit.eval.bench.landmark_scores`).
"""
from __future__ import annotations

import numpy as np

#: Names of the measured attributes, in a fixed order.
MEASURED_ATTRIBUTES = ("eye_open_score", "mouth_open_score", "smile_score", "nose_length_score",
                       "nose_width_score", "nose_size_score", "brow_raise_score")

# Combination weights (feature units: inter-ocular distances; see the module docstring).
MOUTH_OPEN_WEIGHTS = {"mouth_gap": 1.0, "mouth_area": 3.3}
# The smile score leaves the lip gap out on purpose: adding it lifts the held-out CelebA AUC by ~0.007 only
# because CelebA smiles are often open-mouthed, and it would tie smile edits to mouth opening.
SMILE_WEIGHTS = {"mouth_width": 1.0, "corner_height": -0.63, "nose_to_lip": -1.79, "upper_lip_curve": 2.28,
                 "inner_lip_curve": -0.81, "nasolabial": 0.71}
NOSE_SIZE_WEIGHTS = {"nose_width": 1.0, "nose_face_ratio": 0.61, "nose_length": 0.48, "nose_drop": -0.56,
                     "nose_eye_ratio": -0.72, "nose_tip_drop": -0.15, "nostril_width": 2.8}

_MIN_COS_YAW = 0.45  # beyond ~63° of yaw the estimate is meaningless; clamp it


def normalise_landmarks(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Remove position, roll and size; estimate yaw.

    Args:
        landmarks: ``68×2`` or ``N×68×2`` landmarks in any pixel frame.

    Returns:
        ``(points, cos_yaw)``: float64 ``N×68×2`` points with the eye midpoint at the origin, the eyes on the
        x axis (subject's right eye at ``x = -0.5``) and an inter-ocular distance of 1; and ``(N,)`` estimates
        of cos(yaw) in ``[0.45, 1]``.

    Raises:
        ValueError: if the shape is not ``(..., 68, 2)``, values are not finite or the eyes coincide.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.ndim == 2:
        lm = lm[None]
    if lm.ndim != 3 or lm.shape[1:] != (68, 2):
        raise ValueError(f"expected landmarks of shape (68, 2) or (N, 68, 2), got {np.shape(landmarks)}")
    if not np.all(np.isfinite(lm)):
        raise ValueError("landmarks contain NaN or infinity")
    right, left = lm[:, 36:42].mean(axis=1), lm[:, 42:48].mean(axis=1)
    v = left - right
    iod = np.linalg.norm(v, axis=-1)
    if np.any(iod < 1e-9):
        raise ValueError("the two eyes are at the same place; landmarks are degenerate")
    c, s = v[:, 0] / iod, v[:, 1] / iod  # rotate by -angle: [[c, s], [-s, c]]
    rot = np.stack([np.stack([c, s], -1), np.stack([-s, c], -1)], -2)  # (N, 2, 2)
    pts = np.einsum("nij,nkj->nki", rot, lm - ((right + left) / 2)[:, None]) / iod[:, None, None]
    # yaw: the nose tip moves towards the side the head turns to, relative to the jaw's sides
    left_half = pts[:, 30, 0] - pts[:, 1:4, 0].mean(axis=1)
    right_half = pts[:, 13:16, 0].mean(axis=1) - pts[:, 30, 0]
    sin_yaw = (right_half - left_half) / np.maximum(right_half + left_half, 1e-9)
    cos_yaw = np.sqrt(np.clip(1.0 - sin_yaw ** 2, _MIN_COS_YAW ** 2, 1.0))
    return pts, cos_yaw


def _polygon_area(p: np.ndarray, idx: list[int]) -> np.ndarray:
    x, y = p[:, idx, 0], p[:, idx, 1]
    return 0.5 * np.abs((x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y).sum(axis=1))


def landmark_features(landmarks: np.ndarray) -> dict[str, np.ndarray]:
    """The normalised measurements the scores are built from (batched).

    Args:
        landmarks: ``N×68×2`` (or ``68×2``) landmarks in any pixel frame.

    Returns:
        name → ``(N,)`` float64: ``ear``, ``ear_right``, ``ear_left``, ``mouth_gap``, ``mouth_area``,
        ``mouth_width``, ``corner_lift``, ``nose_to_lip``, ``nose_length``, ``nose_width``, ``face_width``,
        ``nose_face_ratio``, ``brow_height``, ``cos_yaw``.
    """
    raw, cos_yaw = normalise_landmarks(landmarks)
    p = raw.copy()
    p[..., 1] *= cos_yaw[:, None]  # undo the vertical stretch relative to the (foreshortened) eye distance

    def dist(i: int, j: int) -> np.ndarray:
        return np.linalg.norm(p[:, i] - p[:, j], axis=-1)

    def below_line(idx: list[int], a: int, b: int) -> np.ndarray:  # mean offset of points idx below line a-b
        ab = p[:, b] - p[:, a]
        t = ((p[:, idx] - p[:, a, None]) * ab[:, None]).sum(-1) / np.maximum((ab ** 2).sum(-1), 1e-12)[:, None]
        return (p[:, idx, 1] - (p[:, a, None, 1] + t * ab[:, None, 1])).mean(axis=1)

    def ear(a: int) -> np.ndarray:  # eye a..a+5: corners a, a+3; upper lid a+1, a+2; lower lid a+5, a+4
        return (dist(a + 1, a + 5) + dist(a + 2, a + 4)) / (2.0 * dist(a, a + 3) + 1e-9)

    ear_r, ear_l = ear(36), ear(42)
    face_width = dist(2, 14)
    nose_width = dist(31, 35)
    return {
        "ear": (ear_r + ear_l) / 2.0, "ear_right": ear_r, "ear_left": ear_l,
        "mouth_gap": (dist(61, 67) + dist(62, 66) + dist(63, 65)) / 3.0,
        "mouth_area": _polygon_area(p, list(range(60, 68))),
        "mouth_width": dist(48, 54),
        # y points down: positive when the corners sit above the upper-lip centre, which (unlike the lower
        # lip) does not drop when the mouth opens
        "corner_lift": (p[:, 51, 1] + p[:, 62, 1]) / 2.0 - (p[:, 48, 1] + p[:, 54, 1]) / 2.0,
        "nose_to_lip": dist(33, 51),
        # the (yaw-uncorrected) height of the mouth corners below the eye line: a smile lifts them
        "corner_height": (raw[:, 48, 1] + raw[:, 54, 1]) / 2.0,
        # how far the upper lip sags below the line between the corners (outer and inner lip contours)
        "upper_lip_curve": below_line([49, 50, 52, 53], 48, 54),
        "inner_lip_curve": below_line([61, 63], 60, 64),
        "nasolabial": dist(31, 48) + dist(35, 54),
        "nose_length": dist(27, 33),
        "nose_width": nose_width,
        "nostril_width": dist(32, 34),
        "nose_drop": raw[:, 33, 1],  # eye line to nose base, yaw-uncorrected
        "nose_eye_ratio": nose_width / np.maximum(dist(39, 42), 1e-9),  # against the inner eye corners
        "nose_tip_drop": p[:, 33, 1] - p[:, 30, 1],
        "face_width": face_width,
        "nose_face_ratio": nose_width / np.maximum(face_width, 1e-9),
        "brow_height": p[:, [37, 38, 43, 44], 1].mean(axis=1) - p[:, [18, 19, 20, 23, 24, 25], 1].mean(axis=1),
        "cos_yaw": cos_yaw,
    }


def _combine(feats: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    return sum(w * feats[k] for k, w in weights.items())


def landmark_scores_batch(landmarks: np.ndarray) -> dict[str, np.ndarray]:
    """Measured attribute scores for many faces.

    Args:
        landmarks: ``N×68×2`` landmarks (any pixel frame: source, crop, …).

    Returns:
        name (from :data:`MEASURED_ATTRIBUTES`) → ``(N,)`` float64 scores.

    Raises:
        ValueError: for a bad shape, non-finite values or degenerate landmarks.
    """
    f = landmark_features(landmarks)
    return {
        "eye_open_score": f["ear"],
        "mouth_open_score": _combine(f, MOUTH_OPEN_WEIGHTS),
        "smile_score": _combine(f, SMILE_WEIGHTS),
        "nose_length_score": f["nose_length"],
        "nose_width_score": f["nose_width"],
        "nose_size_score": _combine(f, NOSE_SIZE_WEIGHTS),
        "brow_raise_score": f["brow_height"],
    }


def landmark_scores(landmarks68: np.ndarray) -> dict[str, float]:
    """Measured attribute scores for one face.

    Args:
        landmarks68: ``68×2`` landmarks.

    Returns:
        name (from :data:`MEASURED_ATTRIBUTES`) → float.

    Raises:
        ValueError: if the landmarks are not ``68×2`` finite, non-degenerate values.
    """
    lm = np.asarray(landmarks68, dtype=np.float64)
    if lm.shape != (68, 2):
        raise ValueError(f"expected 68×2 landmarks, got shape {lm.shape}")
    return {k: float(v[0]) for k, v in landmark_scores_batch(lm[None]).items()}
