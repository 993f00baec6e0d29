"""The one versioned-file helper: every JSON file latentedit writes goes through a :class:`FileFormat`.

A written file is a JSON object that starts with ``"kind"`` (what the file is, e.g.
``"latentedit.recipe"``) and an integer ``"format_version"``. Reading checks, in this order, and
names the file and the field in one line when something is off:

1. the file exists, is at most :data:`MAX_JSON_BYTES`, is UTF-8 JSON and holds an object;
2. ``kind``, when present, is this format's (files written before ``kind`` existed have none and
   are read as they are);
3. ``format_version`` is an integer no newer than this latentedit reads (a string of digits, as
   older boundary and latents files wrote into safetensors metadata, is accepted);
4. every required field is present with a JSON type the format allows (``bool`` is never an
   integer).

Each format keeps the exception class its callers already catch (``ModelFormatError`` for model
folders, ``RecipeError`` for recipes, ``FaceSetError`` for FaceSets), so the CLI's error boundary
reports them all the same way. Field-by-field value checks (ranges, shapes) stay with the code that
owns the format; this module checks what every format has in common.

The formats and where they are defined: model ``config.json`` (:mod:`latentedit.models.hub`),
boundaries (:mod:`latentedit.latent.boundary`), latents (:mod:`latentedit.latent.encode`, in
safetensors metadata), recipes (:mod:`latentedit.edit.recipe`), alignment templates
(:mod:`latentedit.framing`), FaceSet folders (:mod:`latentedit.faceset`) and run/job summaries.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ._io import atomic_write_json
from .errors import LatentEditError, ModelFormatError

#: Largest JSON file read (a model config, a recipe or a summary is a few kB).
MAX_JSON_BYTES = 64 << 20

_JSON_TYPES: dict[type, str] = {dict: "an object", list: "a list", str: "a string", int: "an integer",
                                float: "a number", bool: "true/false", type(None): "null"}


def _type_name(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _matches(value: Any, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in types
    if isinstance(value, int) and float in types:
        return True
    return isinstance(value, types)


@dataclass(frozen=True)
class FileFormat:
    """A versioned JSON file format.

    Attributes:
        kind: the ``"kind"`` written into every file, e.g. ``"latentedit.recipe"``.
        version: the ``format_version`` this latentedit writes (and the newest it reads).
        required: field name -> allowed Python types of its JSON value (``float`` admits integers).
        error: the exception raised for a bad file (a :class:`~latentedit.errors.LatentEditError`).
        what: how messages call the file (``"recipe"``, ``"boundary"``, ...).
    """

    kind: str
    version: int
    required: Mapping[str, tuple[type, ...]] = field(default_factory=dict)
    error: type[LatentEditError] = ModelFormatError
    what: str = "file"

    # -- writing --------------------------------------------------------------------------------
    def stamp(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """``payload`` with ``kind`` and ``format_version`` first (any of its own are replaced)."""
        body = {k: v for k, v in payload.items() if k not in ("kind", "format_version")}
        return {"kind": self.kind, "format_version": self.version, **body}

    def write(self, path: str | os.PathLike, payload: Mapping[str, Any], overwrite: bool = True) -> Path:
        """Write ``stamp(payload)`` as indented JSON, atomically. Returns the path."""
        atomic_write_json(path, self.stamp(payload), overwrite=overwrite)
        return Path(path)

    # -- reading --------------------------------------------------------------------------------
    def check_version(self, value: Any, where: str, default: int | None = None) -> int:
        """The integer format version in ``value`` (an int, or digits in a string).

        Args:
            value: the stored version; None when the file has none.
            where: the file (and field) for messages.
            default: the version of files written before the field existed; None = required.

        Raises:
            ``self.error``: missing, not an integer, below 1, or newer than :attr:`version`.
        """
        if value is None and default is not None:
            return default
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.error(f"{where}: field 'format_version' must be a positive integer, got "
                             f"{value!r} ({_type_name(value)})")
        if value > self.version:
            raise self.error(f"{where}: {self.what} format_version {value} is newer than this latentedit reads "
                             f"(up to {self.version}); upgrade latentedit")
        return value

    def check(self, obj: Any, where: str, default_version: int | None = None) -> dict[str, Any]:
        """Check a parsed object (see the module docstring, steps 2–4) and return it.

        Args:
            obj: the parsed JSON value.
            where: the file, for messages.
            default_version: the version of files written before ``format_version`` existed
                (None: the field is required).

        Raises:
            ``self.error``: naming ``where`` and the field.
        """
        if not isinstance(obj, dict):
            raise self.error(f"{where}: expected a JSON object, got {_type_name(obj)}")
        kind = obj.get("kind")
        if kind is not None and kind != self.kind:
            raise self.error(f"{where}: field 'kind' is {kind!r}, expected {self.kind!r} (not a {self.what} file)")
        self.check_version(obj.get("format_version"), where, default_version)
        for name, types in self.required.items():
            if name not in obj:
                raise self.error(f"{where}: field {name!r} is missing")
            if not _matches(obj[name], types):
                allowed = " or ".join(dict.fromkeys(_JSON_TYPES.get(t, t.__name__) for t in types))
                raise self.error(f"{where}: field {name!r} must be {allowed}, got {obj[name]!r:.60} "
                                 f"({_type_name(obj[name])})")
        return obj

    def parse(self, text: str, where: str, default_version: int | None = None) -> dict[str, Any]:
        """Parse JSON text and :meth:`check` it.

        Raises:
            ``self.error``: malformed JSON (with line and column) or a failed check.
        """
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise self.error(f"{where}: malformed JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
        except RecursionError:
            raise self.error(f"{where}: malformed JSON (nested too deeply to be a {self.what} file)") from None
        return self.check(obj, where, default_version)

    def read(self, path: str | os.PathLike, default_version: int | None = None) -> dict[str, Any]:
        """Read, parse and check a file.

        Raises:
            ``self.error``: missing, too large, not UTF-8, malformed or failing :meth:`check`.
        """
        path = Path(path)
        if not path.is_file():
            raise self.error(f"{path}: {self.what} file not found")
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise self.error(f"{path}: {size / 2**20:.0f} MiB, larger than any {self.what} file "
                             f"({MAX_JSON_BYTES >> 20} MiB at most)")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise self.error(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        return self.parse(text, str(path), default_version)
