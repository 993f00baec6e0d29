"""The edit recipe: one JSON-serialisable description of an edit, shared by the API, CLI and app.

``alpha`` is always a relative step along a unit normal, in units of the codes' std along it:
``z' = z + Σ_k alpha_k · std_k · n_k'`` where ``n_k'`` is boundary ``k``'s normal made orthogonal
to the normals of the attributes in ``hold``.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .._io import atomic_write_text
from ..errors import LatentEditError
from ..formats import FileFormat
from ..landmarks import REGIONS
from ..merge import BLEND_MODES, COLOR_MODES  # one definition of the merge modes

RECIPE_REGIONS = ("none",) + tuple(REGIONS)
#: Version 2 added ``merge.mode``. A recipe stamped version 1 (saved before detail mode existed) loads
#: with ``mode: "replace"``, so it gives the picture it gave when it was saved.
RECIPE_FORMAT_VERSION = 2
#: How an edit reaches the photo: ``detail`` warps the real photo (and adds only what a warp cannot
#: express), keeping its resolution and the person; ``replace`` pastes the decoded face (swaps need it:
#: a new identity is new texture).
MERGE_MODES = ("detail", "replace")
#: Largest |alpha| any recipe accepts (CLI ``--set``, recipe files, the API and the app): a step of
#: 10 std along a normal is far outside the codes the model was trained on and decodes noise, and
#: ``--set smile=1e30`` would otherwise be accepted silently. The app's sliders span a narrower
#: range (``latentedit.app.callbacks.SLIDER_MIN/MAX``); stronger edits go through the CLI or API.
MAX_ALPHA = 10.0
#: Largest |erode| and feather in crop pixels (the largest model crop is 256 px, so a larger value
#: only empties the mask; ``--erode 100000`` made OpenCV ask for a 40 GB kernel).
MAX_MASK_PIXELS = 128


class RecipeError(LatentEditError):
    """A recipe is malformed or does not fit the loaded model (names the file and field)."""


#: The recipe file format (a recipe without ``kind``/``format_version``, e.g. written by hand, is
#: read as the current version).
RECIPE_FORMAT = FileFormat("latentedit.recipe", RECIPE_FORMAT_VERSION, error=RecipeError, what="recipe")


@dataclass
class MergeOptions:
    """How an edited face is merged back into its source image.

    ``mode`` is one of :data:`MERGE_MODES`; ``color``, ``blend``, ``erode`` and ``feather`` shape the
    paste of ``replace`` mode (detail mode changes only what the edit moves and needs none of them).
    """

    mode: str = "detail"           # detail | replace
    appearance: float = 0.0        # detail mode: share of the decode's unexplained change added (0 = warp only)
    color: str = "rct"             # rct | lct | mkl | idt | sot | none
    blend: str = "alpha"           # alpha | seamless
    erode: int = 0                 # pixels, negative dilates
    feather: int | None = None     # pixels; None = scales with the crop size

    def validate(self, where: str = "merge") -> "MergeOptions":
        """Check every field.

        Raises:
            RecipeError: naming ``where`` and the field.
        """
        if self.mode not in MERGE_MODES:
            raise RecipeError(f"{where}.mode: unknown merge mode {self.mode!r}; expected one of "
                              f"{', '.join(MERGE_MODES)}")
        if isinstance(self.appearance, bool) or not isinstance(self.appearance, (int, float)) \
                or not 0.0 <= float(self.appearance) <= 1.0:
            raise RecipeError(f"{where}.appearance: must be a number in 0..1, got {self.appearance!r}")
        self.appearance = float(self.appearance)
        if self.color not in COLOR_MODES:
            raise RecipeError(f"{where}.color: unknown colour mode {self.color!r}; expected one of "
                              f"{', '.join(COLOR_MODES)}")
        if self.blend not in BLEND_MODES:
            raise RecipeError(f"{where}.blend: unknown blend mode {self.blend!r}; expected one of "
                              f"{', '.join(BLEND_MODES)}")
        if isinstance(self.erode, bool) or not isinstance(self.erode, int):
            raise RecipeError(f"{where}.erode: must be an integer number of pixels, got {self.erode!r}")
        if not -MAX_MASK_PIXELS <= self.erode <= MAX_MASK_PIXELS:
            raise RecipeError(f"{where}.erode: must be in {-MAX_MASK_PIXELS}..{MAX_MASK_PIXELS} pixels, "
                              f"got {self.erode}")
        if self.feather is not None and (isinstance(self.feather, bool) or not isinstance(self.feather, int)
                                         or not 0 <= self.feather <= MAX_MASK_PIXELS):
            raise RecipeError(f"{where}.feather: must be null or an integer in 0..{MAX_MASK_PIXELS} pixels, "
                              f"got {self.feather!r}")
        return self


@dataclass
class Recipe:
    """An edit: attribute strengths, held attributes, a region, a decoder and merge options.

    Attributes:
        edits: attribute → alpha (a step along the unit normal, in std units along it).
        hold: attributes held fixed (each edit direction is made orthogonal to their normals).
        region: ``none`` or a face region (``face``, ``eyes``, ``brows``, ``nose``, ``mouth``) the
            edit is confined to.
        identity: decoder name; None = the model's default reconstruction decoder.
        merge: :class:`MergeOptions` for pasting the face back.
    """

    edits: dict[str, float] = field(default_factory=dict)
    hold: list[str] = field(default_factory=list)
    region: str = "none"
    identity: str | None = None
    merge: MergeOptions = field(default_factory=MergeOptions)

    def __post_init__(self) -> None:
        if isinstance(self.merge, dict):
            self.merge = _merge_from_dict(self.merge, "merge")
        self.check()

    # -- validation -----------------------------------------------------------------------------
    def check(self, where: str = "recipe") -> "Recipe":
        """Validate the recipe on its own (types, finite alphas, region, merge options).

        Raises:
            RecipeError: naming ``where`` and the field.
        """
        if not isinstance(self.edits, dict):
            raise RecipeError(f"{where}: field 'edits' must be an object {{attribute: alpha}}")
        clean = {}
        for name, alpha in self.edits.items():
            if not isinstance(name, str) or not name:
                raise RecipeError(f"{where}: field 'edits': attribute names must be non-empty strings, got {name!r}")
            if isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
                raise RecipeError(f"{where}: field 'edits.{name}': alpha must be a number, got {alpha!r}")
            try:
                value = float(alpha)
            except OverflowError:  # a JSON integer with hundreds of digits
                value = math.inf if alpha > 0 else -math.inf
            if not math.isfinite(value):
                raise RecipeError(f"{where}: field 'edits.{name}': alpha must be finite, got {value}")
            if abs(value) > MAX_ALPHA:
                raise RecipeError(f"{where}: field 'edits.{name}': alpha must be in {-MAX_ALPHA:g}..{MAX_ALPHA:g} "
                                  f"(std units along the boundary normal), got {value:g}")
            clean[name] = value
        self.edits = clean
        if isinstance(self.hold, (str, bytes)) or not isinstance(self.hold, (list, tuple)):
            raise RecipeError(f"{where}: field 'hold' must be a list of attribute names")
        for h in self.hold:
            if not isinstance(h, str) or not h:
                raise RecipeError(f"{where}: field 'hold': attribute names must be non-empty strings, got {h!r}")
        self.hold = list(dict.fromkeys(self.hold))
        both = sorted(set(self.hold) & set(self.edits))
        if both:
            raise RecipeError(f"{where}: field 'hold': {', '.join(both)} cannot be both edited and held fixed")
        if self.region not in RECIPE_REGIONS:
            raise RecipeError(f"{where}: field 'region': unknown region {self.region!r}; expected one of "
                              f"{', '.join(RECIPE_REGIONS)}")
        if self.identity is not None and (not isinstance(self.identity, str) or not self.identity):
            raise RecipeError(f"{where}: field 'identity' must be a decoder name or null, got {self.identity!r}")
        if not isinstance(self.merge, MergeOptions):
            raise RecipeError(f"{where}: field 'merge' must be MergeOptions")
        self.merge.validate(f"{where}: field 'merge'")
        return self

    def validate(self, attributes: Iterable[str], identities: Iterable[str] | None = None,
                 where: str = "recipe") -> "Recipe":
        """Check the recipe against what a model offers.

        Args:
            attributes: attribute names with a loaded boundary.
            identities: decoder names of the model (None skips the identity check).
            where: label used in messages (e.g. the recipe file).

        Returns:
            self.

        Raises:
            RecipeError: for unknown attributes (listing the known ones) or an unknown identity.
        """
        self.check(where)
        known = list(attributes)
        for fld, names in (("edits", list(self.edits)), ("hold", self.hold)):
            unknown = [n for n in names if n not in known]
            if unknown:
                raise RecipeError(f"{where}: field '{fld}': unknown attribute(s) {', '.join(map(repr, unknown))}; "
                                  f"known: {', '.join(known) or '(no boundaries loaded)'}")
        if identities is not None and self.identity is not None:
            ids = list(identities)
            if self.identity not in ids:
                raise RecipeError(f"{where}: field 'identity': unknown identity {self.identity!r}; the model's "
                                  f"decoders: {', '.join(ids)}")
        return self

    @property
    def is_identity_edit(self) -> bool:
        """True when the recipe shifts no code (every alpha is 0)."""
        return all(a == 0.0 for a in self.edits.values())

    # -- (de)serialisation ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (with ``kind`` and ``format_version``)."""
        return RECIPE_FORMAT.stamp({"edits": dict(self.edits), "hold": list(self.hold), "region": self.region,
                                    "identity": self.identity, "merge": asdict(self.merge)})

    @classmethod
    def from_dict(cls, obj: Any, where: str = "recipe") -> "Recipe":
        """Build a recipe from a parsed JSON object; missing fields take their defaults.

        Raises:
            RecipeError: naming ``where`` and the field for unknown fields or bad values.
        """
        if not isinstance(obj, dict):
            raise RecipeError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        known = {"kind", "format_version", "edits", "hold", "region", "identity", "merge"}
        unknown = sorted(set(obj) - known)
        if unknown:
            raise RecipeError(f"{where}: unknown field(s) {unknown}; known: {', '.join(sorted(known))}")
        # a recipe without a version (written by hand) gets today's defaults; one stamped version 1
        # was saved by latentedit before detail mode existed and keeps its picture (replace mode)
        RECIPE_FORMAT.check(obj, where, default_version=RECIPE_FORMAT_VERSION)
        version = RECIPE_FORMAT.check_version(obj.get("format_version"), where, default=RECIPE_FORMAT_VERSION)
        merge_obj = dict(obj.get("merge") or {}) if isinstance(obj.get("merge") or {}, dict) else obj.get("merge")
        if version < 2 and isinstance(merge_obj, dict):
            for new in ("mode", "appearance"):
                if new in merge_obj:
                    raise RecipeError(f"{where}: field 'merge.{new}' needs format_version 2 (the file says "
                                      f"{version})")
            merge_obj["mode"] = "replace"   # version 1 had only the paste of the decoded face
        merge = _merge_from_dict(merge_obj, f"{where}: field 'merge'")
        edits = obj.get("edits") or {}
        hold = obj.get("hold") or []
        recipe = cls.__new__(cls)
        recipe.edits, recipe.hold = edits, hold
        recipe.region = obj.get("region", "none") if obj.get("region") is not None else "none"
        recipe.identity = obj.get("identity")
        recipe.merge = merge
        return recipe.check(where)

    def to_json(self, indent: int | None = 2) -> str:
        """Serialise to a JSON string."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str, where: str = "recipe") -> "Recipe":
        """Parse a JSON string.

        Raises:
            RecipeError: for malformed JSON (with line and column) or bad fields.
        """
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RecipeError(f"{where}: malformed JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
        except RecursionError:
            raise RecipeError(f"{where}: malformed JSON (nested too deeply to be a recipe)") from None
        return cls.from_dict(obj, where)

    def save(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write the recipe as JSON atomically.

        Raises:
            LatentEditError: if ``path`` exists and ``overwrite`` is False.
        """
        path = Path(path)
        if path.exists() and not overwrite:
            raise LatentEditError(f"{path} already exists; refusing to overwrite it")
        atomic_write_text(path, self.to_json() + "\n")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Recipe":
        """Read a recipe JSON file.

        Raises:
            RecipeError: naming the file (and field) if it is missing or malformed.
        """
        path = Path(path)
        if path.is_dir():
            raise RecipeError(f"{path}: is a folder; give a recipe .json file")
        if not path.is_file():
            raise RecipeError(f"{path}: recipe file not found")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RecipeError(f"{path}: cannot read recipe ({exc})") from None
        return cls.from_json(text, where=str(path))


def _merge_from_dict(obj: Any, where: str) -> MergeOptions:
    if isinstance(obj, MergeOptions):
        return obj.validate(where)
    if not isinstance(obj, dict):
        raise RecipeError(f"{where}: expected an object, got {type(obj).__name__}")
    known = {"mode", "appearance", "color", "blend", "erode", "feather"}
    unknown = sorted(set(obj) - known)
    if unknown:
        raise RecipeError(f"{where}: unknown field(s) {unknown}; known: {', '.join(sorted(known))}")
    m = MergeOptions(**obj)
    return m.validate(where)


def parse_assignment(text: str) -> tuple[str, float]:
    """Parse a CLI ``NAME=ALPHA`` assignment (``--set smile=1.5``).

    Raises:
        RecipeError: if it is not ``name=number`` with a finite number.
    """
    if "=" not in text:
        raise RecipeError(f"--set {text!r}: expected NAME=ALPHA, e.g. smile=1.5")
    name, _, value = text.partition("=")
    name = name.strip()
    if not name:
        raise RecipeError(f"--set {text!r}: missing attribute name")
    try:
        alpha = float(value)
    except ValueError:
        raise RecipeError(f"--set {text!r}: alpha {value!r} is not a number") from None
    if not math.isfinite(alpha):
        raise RecipeError(f"--set {text!r}: alpha must be finite")
    if abs(alpha) > MAX_ALPHA:
        raise RecipeError(f"--set {text!r}: alpha must be in {-MAX_ALPHA:g}..{MAX_ALPHA:g} (std units along the "
                          f"boundary normal), got {alpha:g}")
    return name, alpha
