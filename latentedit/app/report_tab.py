"""The app's report tab: the edit report of one attribute on a small built-in SynthFaces set, rendered
once per app and cached on disk.

The report engine is evaluation code (:func:`latentedit.eval.report.edit_report`), which the product
never imports: the app receives it from its caller (``build_app(editor, report=...)``; ``latentedit
app`` passes it). Without it the tab says that reports are unavailable.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Callable

from .._io import atomic_write_text
from ..errors import LatentEditError
from ..faceset import FaceSet
from ..pretrained import default_oracle_dir
from ..synth import synth_faceset

#: The report engine's signature: ``latentedit.eval.report.edit_report(editor, boundaries, faceset,
#: attribute, *, alphas, n, oracle, progress, ...) -> EditReport`` (``.save(dir)``, ``.to_markdown()``).
ReportFn = Callable[..., Any]

#: What the tab shows (and the ``/report`` endpoint answers) when the app was built without a report engine.
UNAVAILABLE = ("Edit reports are not available in this app: it was started without the report engine. "
               "`latentedit app` provides it; from Python, pass `report=latentedit.eval.report.edit_report` "
               "to `latentedit.app.build_app` or `latentedit.app.launch`.")

#: The built-in report set (people × faces each), and how many of its faces a report sweeps.
REPORT_IDENTITIES, REPORT_PER_IDENTITY = 12, 4
REPORT_FACES = 32
REPORT_ALPHAS = (-3.0, -1.5, 0.0, 1.5, 3.0)

_lock = threading.Lock()


def builtin_faceset(folder: str | os.PathLike, size: int, identities: int = REPORT_IDENTITIES,
                    per_identity: int = REPORT_PER_IDENTITY, seed: int = 1234):
    """A small seeded SynthFaces FaceSet with ground-truth attributes (made once, then reused).

    Args:
        folder: where the FaceSet lives (rendered on first use with :func:`latentedit.synth.synth_faceset`).
        size: crop side (the model resolution).
        identities: number of people.
        per_identity: faces per person.
        seed: render seed.

    Returns:
        The :class:`~latentedit.faceset.FaceSet`.
    """
    folder = Path(folder)
    with _lock:
        if (folder / "faces.jsonl").is_file():
            return FaceSet(folder)
        return synth_faceset(folder, identities=identities, per_identity=per_identity, size=size, seed=seed,
                             progress=False)


def _escape_cells(markdown: str) -> str:
    """Escape the ``|Δ|`` inside table cells so that the table renders as a table."""
    return "\n".join(line.replace("|Δ|", "\\|Δ\\|") if line.startswith("|") else line
                     for line in markdown.split("\n"))


def edit_report_for_app(editor, attribute: str, work_dir: str | os.PathLike, report: ReportFn | None,
                        n: int = REPORT_FACES) -> tuple[str, str]:
    """Compute the edit report of ``attribute`` on the built-in set and save its plot.

    Args:
        editor: the app's :class:`~latentedit.edit.Editor`.
        attribute: a loaded boundary.
        work_dir: cache folder (the FaceSet and one ``<attribute>/report.png`` per attribute).
        report: the report engine (:func:`latentedit.eval.report.edit_report`), or None.
        n: faces swept.

    Returns:
        ``(path of report.png, report markdown)``.

    Raises:
        LatentEditError: no report engine (:data:`UNAVAILABLE`), unknown attribute, or the report's
            oracle is missing.
    """
    if report is None:
        raise LatentEditError(UNAVAILABLE)
    if attribute not in editor.attributes:
        raise LatentEditError(f"no boundary for {attribute!r}; loaded: {', '.join(editor.attributes)}")
    work = Path(work_dir)
    out = work / "reports" / "".join(c if c.isalnum() or c in "-_" else "_" for c in attribute)
    png = out / "report.png"
    if png.is_file() and (out / "report.md").is_file():
        return str(png), _escape_cells((out / "report.md").read_text(encoding="utf-8"))
    faceset = builtin_faceset(work / "faceset", editor.resolution)
    # The SynthFaces oracle ships with the pretrained model; without it, measure with dlib landmarks.
    has_oracle = (default_oracle_dir() / "config.json").is_file()
    result = report(editor, None, faceset, attribute, alphas=REPORT_ALPHAS, n=n,
                    oracle="auto" if has_oracle else "landmarks", progress=False)
    result.save(out, overwrite=True)
    text = _escape_cells(result.to_markdown())
    if not has_oracle:
        text = (f"> The SynthFaces oracle ({default_oracle_dir()}) is not installed; this report measures "
                "the decoded faces with dlib landmarks instead.\n\n") + text
        atomic_write_text(out / "report.md", text)
    return str(png), text
