"""The 68-point landmark convention shared by SynthFaces and the dlib pipeline.

Points follow dlib's iBUG-300W order. "Right" means the subject's right, which is the
image's left for a frontal face.
"""
from __future__ import annotations

NUM_LANDMARKS = 68

GROUPS: dict[str, tuple[int, ...]] = {
    "jaw": tuple(range(0, 17)),
    "right_brow": tuple(range(17, 22)),
    "left_brow": tuple(range(22, 27)),
    "nose_bridge": tuple(range(27, 31)),
    "nose_lower": tuple(range(31, 36)),
    "right_eye": tuple(range(36, 42)),
    "left_eye": tuple(range(42, 48)),
    "outer_lips": tuple(range(48, 60)),
    "inner_lips": tuple(range(60, 68)),
}

#: Landmark groups that make up each editable face region.
REGION_GROUPS: dict[str, tuple[str, ...]] = {
    "face": tuple(GROUPS),
    "eyes": ("right_eye", "left_eye"),
    "brows": ("right_brow", "left_brow"),
    "nose": ("nose_bridge", "nose_lower"),
    "mouth": ("outer_lips", "inner_lips"),
}

#: Region names accepted everywhere a region is asked for (masks, recipes, the app).
REGIONS: tuple[str, ...] = tuple(REGION_GROUPS)


def region_indices(region: str) -> list[int]:
    """Return the landmark indices belonging to ``region``.

    Raises:
        ValueError: if ``region`` is not one of :data:`REGIONS`.
    """
    if region not in REGION_GROUPS:
        raise ValueError(f"unknown region {region!r}; expected one of {', '.join(REGIONS)}")
    return [i for g in REGION_GROUPS[region] for i in GROUPS[g]]
