"""One FaceSet record (a line of ``faces.jsonl``): an aligned face's source, geometry and
attribute values, validated field by field when read (see ``docs/ARCHITECTURE.md``)."""
from __future__ import annotations

import math
import os
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import FaceSetError
from .landmarks import NUM_LANDMARKS

ATTRIBUTE_SOURCES = ("ground_truth", "celeba", "measured")
_FIELDS = ("image", "identity", "source", "size", "landmarks", "affine", "attributes",
           "attribute_sources", "descriptor", "extra")


@dataclass
class FaceRecord:
    """One aligned face: where it came from, its geometry and its attribute values.

    Attributes:
        image: image path relative to the FaceSet root (e.g. ``images/000001.png``).
        identity: identity label (``"A"``, a CelebA id, a person's name).
        source: ``{"file": str | None, "frame": int | None}`` the original photo/video frame.
        size: side of the square aligned crop in pixels.
        landmarks: 68×2 float32 landmark positions in crop pixels, or None if unknown.
        affine: 2×3 float32 matrix mapping source pixels to crop pixels, or None if unknown.
        attributes: attribute name → float value.
        attribute_sources: attribute name → one of ``ground_truth``, ``celeba``, ``measured``.
        descriptor: 128-d dlib identity descriptor, or None.
        extra: free-form JSON-serialisable metadata.
    """

    image: str
    identity: str
    size: int
    source: dict = field(default_factory=lambda: {"file": None, "frame": None})
    landmarks: np.ndarray | None = None
    affine: np.ndarray | None = None
    attributes: dict[str, float] = field(default_factory=dict)
    attribute_sources: dict[str, str] = field(default_factory=dict)
    descriptor: np.ndarray | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.landmarks is not None:
            self.landmarks = np.asarray(self.landmarks, dtype=np.float32)
        if self.affine is not None:
            self.affine = np.asarray(self.affine, dtype=np.float32)
        if self.descriptor is not None:
            self.descriptor = np.asarray(self.descriptor, dtype=np.float32)
        self.attributes = {str(k): float(v) for k, v in self.attributes.items()}

    # -- (de)serialisation -------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """Return the record as a JSON-serialisable dict (the ``faces.jsonl`` schema)."""
        return {
            "image": self.image,
            "identity": self.identity,
            "source": dict(self.source),
            "size": int(self.size),
            "landmarks": None if self.landmarks is None else np.round(self.landmarks.astype(float), 3).tolist(),
            "affine": None if self.affine is None else self.affine.astype(float).tolist(),
            "attributes": {k: float(v) for k, v in self.attributes.items()},
            "attribute_sources": dict(self.attribute_sources),
            "descriptor": None if self.descriptor is None else np.round(self.descriptor.astype(float), 6).tolist(),
            "extra": self.extra,
        }

    @classmethod
    def from_json(cls, obj: Any, where: str = "record") -> "FaceRecord":
        """Validate and build a record from a parsed JSON object.

        Args:
            obj: the parsed JSON value of one line.
            where: location used in error messages, e.g. ``"faces.jsonl line 12"``.

        Raises:
            FaceSetError: naming ``where`` and the offending field.
        """
        def bad(fld: str, why: str) -> FaceSetError:
            return FaceSetError(f"{where}: field '{fld}': {why}")

        if not isinstance(obj, dict):
            raise FaceSetError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        unknown = set(obj) - set(_FIELDS)
        if unknown:
            raise FaceSetError(f"{where}: unknown field(s) {sorted(unknown)}; known: {', '.join(_FIELDS)}")
        for req in ("image", "identity", "size"):
            if req not in obj:
                raise bad(req, "missing")
        if not isinstance(obj["image"], str) or not obj["image"]:
            raise bad("image", "must be a non-empty relative path")
        if os.path.isabs(obj["image"]) or ".." in Path(obj["image"]).parts:
            raise bad("image", f"must be a path inside the FaceSet, got {obj['image']!r}")
        if not isinstance(obj["identity"], (str, int)):
            raise bad("identity", "must be a string")
        size = obj["size"]
        if isinstance(size, bool) or not isinstance(size, int) or size < 8:
            raise bad("size", f"must be an integer ≥ 8, got {size!r}")
        source = obj.get("source") or {"file": None, "frame": None}
        if not isinstance(source, dict) or set(source) - {"file", "frame"}:
            raise bad("source", "must be an object with keys 'file' and 'frame'")
        if source.get("frame") is not None and not isinstance(source["frame"], int):
            raise bad("source", "'frame' must be an integer or null")
        lm = _array_field(obj.get("landmarks"), (NUM_LANDMARKS, 2), "landmarks", bad)
        if lm is not None and not np.all(np.isfinite(lm)):
            raise bad("landmarks", "contains NaN or infinity")
        aff = _array_field(obj.get("affine"), (2, 3), "affine", bad)
        desc = _array_field(obj.get("descriptor"), (128,), "descriptor", bad)
        attrs = obj.get("attributes") or {}
        if not isinstance(attrs, dict):
            raise bad("attributes", "must be an object {name: number}")
        for k, v in attrs.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise bad("attributes", f"value of {k!r} must be a finite number, got {v!r}")
        srcs = obj.get("attribute_sources") or {}
        if not isinstance(srcs, dict):
            raise bad("attribute_sources", "must be an object {name: source}")
        if set(srcs) != set(attrs):
            missing = sorted(set(attrs) - set(srcs))
            extra = sorted(set(srcs) - set(attrs))
            raise bad("attribute_sources", f"keys must match 'attributes' (missing {missing}, unknown {extra})")
        for k, v in srcs.items():
            if v not in ATTRIBUTE_SOURCES:
                raise bad("attribute_sources", f"{k!r} has source {v!r}; expected one of {ATTRIBUTE_SOURCES}")
        extra_field = obj.get("extra") or {}
        if not isinstance(extra_field, dict):
            raise bad("extra", "must be an object")
        return cls(image=obj["image"], identity=str(obj["identity"]), size=size, source=dict(source),
                   landmarks=lm, affine=aff, attributes=attrs, attribute_sources=dict(srcs),
                   descriptor=desc, extra=extra_field)


def _array_field(value, shape, name, bad) -> np.ndarray | None:
    if value is None:
        return None
    try:
        arr = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise bad(name, f"must be a numeric array of shape {shape}") from None
    if arr.shape != shape:
        got = f"{arr.shape[0]} points" if name == "landmarks" and arr.ndim == 2 else f"shape {arr.shape}"
        want = f"{shape[0]} points" if name == "landmarks" else f"shape {shape}"
        raise bad(name, f"expected {want}, got {got}")
    return arr
