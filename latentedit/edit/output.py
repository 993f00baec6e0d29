"""Edit many inputs into a folder: the batch API behind ``latentedit edit`` / ``swap``.

Inputs are expanded once (:func:`~latentedit.edit.batch.expand_inputs`): photos and FaceSet records
go through the batched path (:func:`~latentedit.edit.batch.iter_jobs`), videos frame by frame
(:func:`~latentedit.edit.video.edit_video`). Outputs get fresh names inside the folder and nothing
there is ever overwritten:

* ``NAME.EXT`` — the photo with every face edited (same suffix as the input when it is
  PNG/JPEG/WebP, else PNG), ``NAME_faceK.png`` — face K's edited crop; ``NAME.mp4`` for a video;
* ``summary.json`` (:data:`EDIT_SUMMARY`) — the recipe, the model, one record per output and one per
  failed input.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from .. import __version__
from .._io import write_image
from ..errors import LatentEditError
from ..formats import FileFormat
from .batch import expand_inputs, iter_jobs
from .recipe import Recipe
from .video import edit_video

#: ``summary.json`` of an edit run.
EDIT_SUMMARY = FileFormat("latentedit.edit_summary", 1, what="edit summary", required={
    "n_ok": (int,), "n_failed": (int,), "results": (list,), "failures": (list,)})
#: Photo suffixes kept for the edited photo (others are written as PNG).
KEPT_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


class OutputFolder:
    """Fresh, never-overwriting output names inside one folder."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.used: set[Path] = set()

    def fresh(self, stem: str, suffix: str) -> Path:
        """``root/stem+suffix``, or ``stem_1``, ``stem_2``… when taken (on disk or in this run)."""
        stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem) or "output"
        k = 0
        while True:
            p = self.root / (f"{stem}{suffix}" if k == 0 else f"{stem}_{k}{suffix}")
            if p not in self.used and not p.exists():
                self.used.add(p)
                return p
            k += 1

    def write_result(self, res) -> dict[str, Any]:
        """Write one :class:`~latentedit.edit.editor.EditResult`; returns its summary record."""
        if not res.ok:
            return {"input": res.source, "ok": False, "error": res.error}
        src = Path(res.source)
        suffix = src.suffix.lower() if src.suffix.lower() in KEPT_SUFFIXES else ".png"
        outputs = []
        # a photo with several faces: every result carries the fully edited photo; write it once
        if res.index == 0 or res.image is res.face:
            path = self.fresh(src.stem if src.suffix else res.source, suffix)
            write_image(path, res.image, overwrite=False)
            outputs.append(str(path))
        if res.image is not res.face:
            path = self.fresh(f"{src.stem}_face{res.index}", ".png")
            write_image(path, res.face, overwrite=False)
            outputs.append(str(path))
        return {"input": res.source, "ok": True, "face_index": res.index, "outputs": outputs}


def edit_to_folder(editor, inputs: Sequence, recipe: Recipe, out: str | os.PathLike, *, batch_size: int = 32,
                   aligned: bool = False, smooth: float = 2.0, progress: bool = False, command: str = "edit",
                   model: str | None = None) -> tuple[Path, dict[str, Any]]:
    """Edit every input and write the results and ``summary.json`` into ``out``.

    Args:
        editor: the loaded :class:`~latentedit.edit.Editor`.
        inputs: paths (photos, videos, folders, FaceSet folders), arrays, Faces or FaceSets.
        recipe: the edit (validated against the editor before any work).
        out: the output folder (created if missing; existing files are never overwritten).
        batch_size: faces encoded/decoded per pass.
        aligned: the photos are already aligned face crops.
        smooth: temporal smoothing of video face tracks (frames).
        progress: show progress bars.
        command: recorded in the summary (``"edit"`` or ``"swap"``).
        model: how the model was named (recorded in the summary).

    Returns:
        ``(summary_path, summary)``; ``summary["failures"]`` lists the inputs that failed.

    Raises:
        RecipeError: the recipe does not fit the model. LatentEditError: ``out`` is not a folder
            or an input cannot be expanded (a malformed FaceSet index).
    """
    recipe.validate(editor.attributes, editor.identities)
    jobs = expand_inputs(inputs)  # once: reads FaceSet indexes, so a malformed one stops the run here
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise LatentEditError(f"--out {out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    folder = OutputFolder(out)
    records: list[dict[str, Any]] = []
    photos = [j for j in jobs if j.kind != "video"]
    if photos:
        for res in iter_jobs(editor, photos, recipe, batch_size=batch_size, aligned=aligned, progress=progress):
            records.append(folder.write_result(res))
    for job in (j for j in jobs if j.kind == "video"):
        try:
            target = folder.fresh(Path(job.label).stem, ".mp4")
            info = edit_video(editor, job.payload, recipe, target, batch_size=batch_size, smooth=smooth,
                              progress=progress)
            records.append({"input": job.label, "ok": True, "outputs": [str(target)], **info})
        except (LatentEditError, OSError, ValueError) as exc:
            records.append({"input": job.label, "ok": False, "error": str(exc)})
    failures = [r for r in records if not r["ok"]]
    summary = {"command": command, "created_by": f"latentedit {__version__}", "model": model,
               "model_id": str(editor.model.model_id), "recipe": recipe.to_dict(),
               "n_ok": len({r["input"] for r in records if r["ok"]}), "n_failed": len(failures),
               "results": [r for r in records if r["ok"]], "failures": failures}
    path = EDIT_SUMMARY.write(folder.fresh("summary", ".json"), summary, overwrite=False)
    return path, EDIT_SUMMARY.stamp(summary)
