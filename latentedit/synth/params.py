"""SynthFaces parameters: who the person is (identity) and what the picture shows (expression).

Every parameter is a float so that it can be stored as a FaceSet attribute with the source
``ground_truth``; categorical parameters (``hair_style``, ``glasses``) are stored as float indices.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Mapping

import numpy as np

from ..errors import LatentEditError

#: Number of hair styles: 0 short, 1 long, 2 bob, 3 fringe (bangs), 4 buzz cut.
HAIR_STYLES = ("short", "long", "bob", "fringe", "buzz")
#: Glasses kinds: 0 none, 1 thin metal frames, 2 thick dark frames.
GLASSES = ("none", "thin", "thick")


def _check(name: str, value: float, lo: float, hi: float, where: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise LatentEditError(f"{where}: {name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v < lo - 1e-6 or v > hi + 1e-6:
        raise LatentEditError(f"{where}: {name}={value!r} is outside its range [{lo}, {hi}]")
    return min(max(v, lo), hi)


@dataclass(frozen=True)
class IdentityParams:
    """Parameters fixed for one synthetic person.

    Attributes:
        face_width: 0 narrow … 1 wide face.
        face_shape: 0 short/round … 1 long/oval face (chin lower).
        jaw: 0 pointed/tapered … 1 square jaw.
        skin_tone: 0 very light … 1 very dark skin.
        hair_style: float index into :data:`HAIR_STYLES` (0 short, 1 long, 2 bob, 3 fringe, 4 buzz).
        hair_hue: colour ramp 0 black, .25 dark brown, .45 brown, .6 auburn, .8 blond, 1 grey.
        eye_hue: colour ramp 0 dark brown, .25 hazel, .5 green, .75 blue, 1 grey.
        eye_size: 0 small … 1 large eyes (eye width).
        nose_length: 0 short … 1 long nose (moves the nose tip, landmarks 30–35, down).
        nose_width: 0 narrow … 1 wide nostrils.
        mouth_width: 0 narrow … 1 wide mouth.
        brow_thickness: 0 thin … 1 bushy brows.
        glasses: float index into :data:`GLASSES` (0 none, 1 thin frames, 2 thick frames).
    """

    face_width: float = 0.5
    face_shape: float = 0.5
    jaw: float = 0.5
    skin_tone: float = 0.3
    hair_style: float = 0.0
    hair_hue: float = 0.3
    eye_hue: float = 0.2
    eye_size: float = 0.5
    nose_length: float = 0.5
    nose_width: float = 0.5
    mouth_width: float = 0.5
    brow_thickness: float = 0.5
    glasses: float = 0.0

    _RANGES = {"hair_style": (0.0, float(len(HAIR_STYLES) - 1)), "glasses": (0.0, float(len(GLASSES) - 1))}

    def __post_init__(self) -> None:
        for f in fields(self):
            lo, hi = self._RANGES.get(f.name, (0.0, 1.0))
            v = _check(f.name, getattr(self, f.name), lo, hi, "IdentityParams")
            if f.name in self._RANGES:
                v = float(round(v))
            object.__setattr__(self, f.name, v)

    @classmethod
    def sample(cls, rng: np.random.Generator) -> "IdentityParams":
        """Draw a random identity.

        Args:
            rng: a seeded numpy Generator; the result depends only on its state.

        Returns:
            An :class:`IdentityParams` with every field inside its documented range.
        """
        u = rng.random(13)
        style = float(rng.choice(len(HAIR_STYLES), p=[0.3, 0.22, 0.18, 0.18, 0.12]))
        glasses = float(rng.choice(len(GLASSES), p=[0.75, 0.13, 0.12]))
        return cls(face_width=u[0], face_shape=u[1], jaw=u[2], skin_tone=float(u[3] ** 1.3),
                   hair_style=style, hair_hue=u[4], eye_hue=u[5], eye_size=u[6], nose_length=u[7],
                   nose_width=u[8], mouth_width=u[9], brow_thickness=u[10], glasses=glasses)

    def to_attributes(self) -> dict[str, float]:
        """Return ``{name: float}`` for every field (the FaceSet attribute names)."""
        return {f.name: float(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_attributes(cls, attributes: Mapping[str, float]) -> "IdentityParams":
        """Build from a mapping holding (at least) every :data:`IDENTITY_ATTRIBUTES` name.

        Raises:
            LatentEditError: naming the missing or out-of-range attribute.
        """
        missing = [n for n in IDENTITY_ATTRIBUTES if n not in attributes]
        if missing:
            raise LatentEditError(f"identity attributes missing: {', '.join(missing)}")
        return cls(**{n: attributes[n] for n in IDENTITY_ATTRIBUTES})


@dataclass(frozen=True)
class ExpressionParams:
    """Per-image parameters: expression, gaze, head pose and scene.

    Attributes:
        eye_open: 0 closed … 1 wide open (eye aspect ratio ≈ 0.34 × eye_open).
        brow_raise: -1 frown (inner brows down) … 0 rest … 1 raised.
        smile: -1 frown (mouth corners down) … 1 broad smile (corners up, 48/54 above the lip centre).
        mouth_open: 0 closed … 1 wide open (lower lip and chin drop).
        gaze_x: -1 looking to image left … 1 image right.
        gaze_y: -1 looking up … 1 down.
        yaw: -1 … 1 ↔ -30° … 30° head turn (positive moves the nose tip to image right).
        pitch: -1 … 1 ↔ -15° … 15° (positive tilts the face up).
        roll: -1 … 1 ↔ -15° … 15° in-plane rotation (positive clockwise).
        light_angle: -1 light from image left … 1 from image right.
        light_strength: 0 flat ambient light … 1 strong directional light.
        background: background hue in [0, 1].
    """

    eye_open: float = 0.8
    brow_raise: float = 0.0
    smile: float = 0.0
    mouth_open: float = 0.0
    gaze_x: float = 0.0
    gaze_y: float = 0.0
    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    light_angle: float = -0.3
    light_strength: float = 0.6
    background: float = 0.55

    _SIGNED = ("brow_raise", "smile", "gaze_x", "gaze_y", "yaw", "pitch", "roll", "light_angle")

    def __post_init__(self) -> None:
        for f in fields(self):
            lo = -1.0 if f.name in self._SIGNED else 0.0
            object.__setattr__(self, f.name, _check(f.name, getattr(self, f.name), lo, 1.0, "ExpressionParams"))

    @classmethod
    def neutral(cls, **overrides: float) -> "ExpressionParams":
        """The neutral frontal expression (used for previews), with optional field overrides."""
        return cls(**overrides)

    @classmethod
    def sample(cls, rng: np.random.Generator) -> "ExpressionParams":
        """Draw a random expression, pose and scene.

        Most faces have open eyes and a modest pose; closed eyes, open mouths, frowns and
        strong turns all occur often enough for boundaries to be learnt from them.

        Args:
            rng: a seeded numpy Generator.
        """
        u = rng.random(14)
        eye_open = 0.35 + 0.65 * u[0] if u[1] > 0.15 else 0.35 * u[0]
        mouth_open = u[2] if u[3] > 0.45 else 0.08 * u[2]
        clip = lambda v: float(np.clip(v, -1.0, 1.0))  # noqa: E731
        return cls(eye_open=eye_open, brow_raise=2 * u[4] - 1, smile=1.5 * u[5] - 0.5, mouth_open=mouth_open,
                   gaze_x=0.8 * (2 * u[6] - 1), gaze_y=0.6 * (2 * u[7] - 1),
                   yaw=clip(rng.normal(0, 0.4)), pitch=clip(rng.normal(0, 0.35)), roll=clip(rng.normal(0, 0.35)),
                   light_angle=2 * u[8] - 1, light_strength=0.15 + 0.85 * u[9], background=u[10])

    def to_attributes(self) -> dict[str, float]:
        """Return ``{name: float}`` for every field (the FaceSet attribute names)."""
        return {f.name: float(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_attributes(cls, attributes: Mapping[str, float]) -> "ExpressionParams":
        """Build from a mapping holding (at least) every :data:`EXPRESSION_ATTRIBUTES` name.

        Raises:
            LatentEditError: naming the missing or out-of-range attribute.
        """
        missing = [n for n in EXPRESSION_ATTRIBUTES if n not in attributes]
        if missing:
            raise LatentEditError(f"expression attributes missing: {', '.join(missing)}")
        return cls(**{n: attributes[n] for n in EXPRESSION_ATTRIBUTES})


#: Identity attribute names, in field order.
IDENTITY_ATTRIBUTES: tuple[str, ...] = tuple(f.name for f in fields(IdentityParams))
#: Expression/pose/scene attribute names, in field order.
EXPRESSION_ATTRIBUTES: tuple[str, ...] = tuple(f.name for f in fields(ExpressionParams))
#: Every SynthFaces ground-truth attribute.
SYNTH_ATTRIBUTES: tuple[str, ...] = IDENTITY_ATTRIBUTES + EXPRESSION_ATTRIBUTES
