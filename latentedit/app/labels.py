"""What the app calls each attribute: its slider group, a human label and a one-line hint.

One table, :data:`LABELS`, covers the attribute names the project's models carry: the SynthFaces
ground-truth parameters (``smile``, ``yaw``, …), the landmark scores measured on real photos
(``smile_score``, …; :mod:`latentedit.faces.scores`) and the CelebA attribute labels (``Smiling``,
``Big_Nose``, …). A name the table does not know gets a prettified label in the "Other" group.

Which sliders are shown in the groups and which go under "More (experimental)" is decided by each
boundary's metadata (:func:`split_validated`), not by this table.
"""
from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Iterable, Mapping

#: Slider groups in the order the app shows them.
GROUPS: tuple[str, ...] = ("Expression", "Eyes", "Brows", "Nose", "Mouth", "Face", "Pose", "Other")
#: Where a label comes from, as added to tell two sliders with the same label apart.
SOURCES = {"synth": "SynthFaces", "landmarks": "landmarks", "celeba": "CelebA"}


@dataclass(frozen=True)
class AttributeLabel:
    """How one attribute is shown: ``group`` (one of :data:`GROUPS`), ``label``, ``hint`` and the
    kind of attribute it is (``source``: a key of :data:`SOURCES`, or ``""`` when unknown)."""

    group: str
    label: str
    hint: str
    source: str = ""


def _table(source: str, rows: Iterable[tuple[str, str, str, str]]) -> dict[str, AttributeLabel]:
    return {name: AttributeLabel(group, label, hint, source) for name, group, label, hint in rows}


# (attribute, group, label, hint): the hint says what moving the slider to the right does.
_SYNTH = _table("synth", [
    ("smile", "Expression", "Smile", "Right: a wider, upturned smile; left: mouth corners down"),
    ("mouth_open", "Mouth", "Open mouth", "Right: lips part and the mouth opens"),
    ("mouth_width", "Mouth", "Mouth width", "Right: a wider mouth"),
    ("eye_open", "Eyes", "Eye openness", "Right: eyes open wider; left: towards closed"),
    ("eye_size", "Eyes", "Eye size", "Right: larger eyes"),
    ("eye_hue", "Eyes", "Eye colour", "Moves the iris colour along the hue wheel"),
    ("gaze_x", "Eyes", "Gaze left/right", "Moves where the eyes look, sideways"),
    ("gaze_y", "Eyes", "Gaze up/down", "Moves where the eyes look, up or down"),
    ("brow_raise", "Brows", "Brow raise", "Right: brows lift (surprise)"),
    ("brow_thickness", "Brows", "Brow thickness", "Right: thicker brows"),
    ("nose_length", "Nose", "Nose length", "Right: a longer nose"),
    ("nose_width", "Nose", "Nose width", "Right: a wider nose"),
    ("face_width", "Face", "Face width", "Right: a wider face"),
    ("face_shape", "Face", "Face shape", "From a rounder to a longer face"),
    ("jaw", "Face", "Jaw", "Right: a stronger, wider jaw"),
    ("skin_tone", "Face", "Skin tone", "Right: darker skin"),
    ("yaw", "Pose", "Yaw (turn)", "Turns the head left or right"),
    ("pitch", "Pose", "Pitch (nod)", "Tilts the head up or down"),
    ("roll", "Pose", "Roll (tilt)", "Tilts the head towards a shoulder"),
    ("hair_style", "Other", "Hair style", "Moves between the rendered hair styles"),
    ("hair_hue", "Other", "Hair colour", "Moves the hair colour along the hue wheel"),
    ("glasses", "Other", "Glasses", "Right: glasses appear, then thicker frames"),
    ("light_angle", "Other", "Light direction", "Moves the light from one side to the other"),
    ("light_strength", "Other", "Light strength", "Right: stronger directional light"),
    ("background", "Other", "Background", "Right: a brighter background"),
])

_LANDMARKS = _table("landmarks", [
    ("smile_score", "Expression", "Smile", "Right: a wider smile with lifted corners"),
    ("mouth_open_score", "Mouth", "Open mouth", "Right: the lips part"),
    ("mouth_width_score", "Mouth", "Mouth width", "Right: a wider mouth"),
    ("eye_open_score", "Eyes", "Eye openness", "Right: eyes open wider; left: towards closed"),
    ("brow_raise_score", "Brows", "Brow raise", "Right: brows lift above the eyes"),
    ("nose_length_score", "Nose", "Nose length", "Right: a longer nose"),
    ("nose_width_score", "Nose", "Nose width", "Right: wider nostrils"),
    ("nose_size_score", "Nose", "Nose size", "Right: a larger nose"),
    ("corr_eye_open_score", "Eyes", "Eye openness (pose-corrected)", "Eye openness with head pose factored out"),
    ("corr_mouth_open_score", "Mouth", "Open mouth (pose-corrected)", "Mouth opening with head pose factored out"),
])

_CELEBA = _table("celeba", [
    ("Smiling", "Expression", "Smile", "Right: smiling; left: not smiling"),
    ("High_Cheekbones", "Expression", "High cheekbones", "Right: raised cheeks (often with a smile)"),
    ("Mouth_Slightly_Open", "Mouth", "Open mouth", "Right: lips slightly apart"),
    ("Big_Lips", "Mouth", "Full lips", "Right: fuller lips"),
    ("Wearing_Lipstick", "Mouth", "Lipstick", "Right: lipstick"),
    ("Narrow_Eyes", "Eyes", "Narrow eyes", "Right: narrower eyes; left: wider open"),
    ("Bags_Under_Eyes", "Eyes", "Bags under eyes", "Right: puffier under the eyes"),
    ("Eyeglasses", "Eyes", "Glasses", "Right: glasses appear"),
    ("Arched_Eyebrows", "Brows", "Arched brows", "Right: more arched brows"),
    ("Bushy_Eyebrows", "Brows", "Bushy brows", "Right: thicker brows"),
    ("Big_Nose", "Nose", "Big nose", "Right: a larger nose"),
    ("Pointy_Nose", "Nose", "Pointy nose", "Right: a pointier nose"),
    ("Young", "Face", "Younger", "Right: looks younger; left: older"),
    ("Male", "Face", "Masculine", "Right: more masculine features; left: more feminine"),
    ("Chubby", "Face", "Chubby", "Right: a fuller face"),
    ("Double_Chin", "Face", "Double chin", "Right: a double chin"),
    ("Oval_Face", "Face", "Oval face", "Right: a more oval face"),
    ("Pale_Skin", "Face", "Pale skin", "Right: paler skin"),
    ("Rosy_Cheeks", "Face", "Rosy cheeks", "Right: redder cheeks"),
    ("Heavy_Makeup", "Face", "Makeup", "Right: heavier makeup"),
    ("Attractive", "Face", "Attractive (CelebA label)", "CelebA's subjective label; expect it to change many things"),
    ("5_o_Clock_Shadow", "Face", "Stubble", "Right: a five o'clock shadow"),
    ("Goatee", "Face", "Goatee", "Right: a goatee"),
    ("Mustache", "Face", "Moustache", "Right: a moustache"),
    ("No_Beard", "Face", "Clean-shaven", "Right: no beard; left: a beard"),
    ("Sideburns", "Face", "Sideburns", "Right: sideburns"),
    ("Bald", "Other", "Bald", "Right: less hair on top"),
    ("Bangs", "Other", "Bangs", "Right: a fringe over the forehead"),
    ("Receding_Hairline", "Other", "Receding hairline", "Right: the hairline moves back"),
    ("Black_Hair", "Other", "Black hair", "Right: darker hair"),
    ("Blond_Hair", "Other", "Blond hair", "Right: blond hair"),
    ("Brown_Hair", "Other", "Brown hair", "Right: brown hair"),
    ("Gray_Hair", "Other", "Grey hair", "Right: greyer hair"),
    ("Straight_Hair", "Other", "Straight hair", "Right: straighter hair"),
    ("Wavy_Hair", "Other", "Wavy hair", "Right: wavier hair"),
    ("Wearing_Hat", "Other", "Hat", "Right: a hat"),
    ("Wearing_Earrings", "Other", "Earrings", "Right: earrings"),
    ("Wearing_Necklace", "Other", "Necklace", "Right: a necklace"),
    ("Wearing_Necktie", "Other", "Necktie", "Right: a necktie"),
    ("Blurry", "Other", "Blur", "Right: a blurrier picture"),
])

#: attribute name → how the app shows it.
LABELS: dict[str, AttributeLabel] = {**_SYNTH, **_LANDMARKS, **_CELEBA}


def prettify(name: str) -> str:
    """A readable label for an attribute name the table does not know (``big_ears_v2`` → ``Big ears v2``)."""
    words = str(name).replace("_", " ").replace("-", " ").split()
    text = " ".join(words) or str(name)
    return text[:1].upper() + text[1:]


def describe(name: str) -> AttributeLabel:
    """How attribute ``name`` is shown: its table entry, else a prettified label in "Other"."""
    return LABELS.get(name) or AttributeLabel("Other", prettify(name), f"Moves the face along the '{name}' boundary")


def labels_for(attributes: Iterable[str]) -> dict[str, AttributeLabel]:
    """Labels for a model's attributes, made unique: when two attributes share a label (``smile`` and
    ``smile_score`` are both "Smile"), each gets where it comes from, e.g. "Smile (landmarks)", and
    if that still collides, its attribute name."""
    out = {a: describe(a) for a in attributes}
    for suffix_of in (lambda a, lab: SOURCES.get(lab.source), lambda a, lab: a):
        counts = collections.Counter(lab.label for lab in out.values())
        for a, lab in list(out.items()):
            suffix = suffix_of(a, lab)
            if counts[lab.label] > 1 and suffix:
                out[a] = AttributeLabel(lab.group, f"{lab.label} ({suffix})", lab.hint, lab.source)
    return out


def group_attributes(attributes: Iterable[str]) -> dict[str, list[str]]:
    """The attributes per group, groups in :data:`GROUPS` order, attributes in the table's order
    within a group (unknown ones after, alphabetically); groups with no attribute are left out."""
    attributes = list(dict.fromkeys(attributes))
    order = {name: k for k, name in enumerate(LABELS)}
    groups: dict[str, list[str]] = {g: [] for g in GROUPS}
    for a in sorted(attributes, key=lambda a: (order.get(a, len(order)), a)):
        groups[describe(a).group].append(a)
    return {g: names for g, names in groups.items() if names}


def slider_validated(boundary) -> bool | None:
    """A boundary's own verdict on its slider: ``meta["slider"]["validated"]`` when it is a bool,
    else None (the boundary does not say)."""
    meta = getattr(boundary, "meta", None)
    slider = meta.get("slider") if isinstance(meta, Mapping) else None
    value = slider.get("validated") if isinstance(slider, Mapping) else None
    return value if isinstance(value, bool) else None


def split_validated(boundaries: Mapping[str, object]) -> tuple[list[str], list[str]]:
    """Split a model's attributes into (validated, experimental) sliders, each in the given order.

    A boundary is validated when its metadata says so (:func:`slider_validated` is True). When no
    boundary of the model says either way (models made before the field existed), every slider
    counts as validated; once any does, a boundary that does not say is experimental.
    """
    verdicts = {a: slider_validated(b) for a, b in boundaries.items()}
    if all(v is None for v in verdicts.values()):
        return list(verdicts), []
    return [a for a, v in verdicts.items() if v is True], [a for a, v in verdicts.items() if v is not True]
