"""The app's batch tab as plain functions: expand uploads (images and zips, safely), edit them with
:meth:`Editor.iter_edit`, and pack the results with a summary into a zip."""
from __future__ import annotations

import os
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from .._io import atomic_write_json, atomic_write_text, write_image
from ..errors import LatentEditError
from .callbacks import IMAGE_SUFFIXES, AppLimits, _free_name


@dataclass
class BatchItem:
    """One image of a batch: where it came from and where its bytes are."""

    name: str       # display name (upload name or "archive.zip/member.png")
    path: Path


@dataclass
class BatchResult:
    """What :func:`run_batch` produced."""

    zip_path: Path
    summary: dict[str, Any]
    markdown: str
    rows: list[dict[str, Any]] = field(default_factory=list)


def collect_batch_inputs(paths: Iterable[str | os.PathLike], work_dir: str | os.PathLike,
                         limits: AppLimits | None = None) -> list[BatchItem]:
    """Expand uploaded images and zip archives into a list of image files.

    Zip members are extracted under ``work_dir`` with sanitised names (no path traversal); only
    image suffixes are taken; directories and other members are skipped.

    Raises:
        LatentEditError: nothing uploaded, a corrupt zip, too many images, or too many unzipped bytes.
    """
    limits = limits or AppLimits()
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    items: list[BatchItem] = []
    total = 0
    for p in paths or []:
        p = Path(p)
        if p.suffix.lower() == ".zip":
            try:
                zf = zipfile.ZipFile(p)
            except (zipfile.BadZipFile, OSError) as exc:
                raise LatentEditError(f"{p.name}: not a readable zip archive ({exc})") from None
            with zf:
                for info in zf.infolist():
                    member = info.filename
                    if info.is_dir() or Path(member).suffix.lower() not in IMAGE_SUFFIXES:
                        continue
                    if Path(member).name.startswith("._") or "__MACOSX" in member:
                        continue
                    total += info.file_size
                    if total > limits.max_unzipped_bytes:
                        raise LatentEditError(f"{p.name}: more than {limits.max_unzipped_bytes >> 20} MB "
                                              "of images once unzipped")
                    if len(items) >= limits.max_batch_files:
                        raise LatentEditError(f"more than {limits.max_batch_files} images in one batch")
                    dest = _free_name(work, Path(member).stem, Path(member).suffix.lower())
                    try:
                        with zf.open(info) as src:
                            data = src.read(limits.max_unzipped_bytes + 1)
                    except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
                        raise LatentEditError(f"{p.name}/{member}: cannot extract ({exc})") from None
                    dest.write_bytes(data)
                    items.append(BatchItem(f"{p.name}/{member}", dest))
        else:
            if len(items) >= limits.max_batch_files:
                raise LatentEditError(f"more than {limits.max_batch_files} images in one batch")
            items.append(BatchItem(p.name, p))
    if not items:
        raise LatentEditError("no images in the upload (accepted: " + ", ".join(IMAGE_SUFFIXES) + ", .zip)")
    return items


def run_batch(editor, items: Sequence[BatchItem], recipe, aligned: bool, out_dir: str | os.PathLike,
              progress: Callable[[int, int, str], None] | None = None, batch_size: int = 16) -> BatchResult:
    """Edit every face of every image and pack the results, the recipe and a summary into a zip.

    Uses the editor's batched path (:meth:`Editor.iter_edit`). A failing image (unreadable, no
    face) is recorded in the summary and skipped; it does not stop the batch.

    Args:
        editor: the :class:`~latentedit.edit.Editor`.
        items: images from :func:`collect_batch_inputs`.
        recipe: the ``Recipe`` applied to every face.
        aligned: treat every image as an already aligned face crop.
        out_dir: a fresh folder for the outputs (created).
        progress: called as ``progress(done, total, name)`` as images complete.
        batch_size: faces encoded/decoded per pass.

    Returns:
        A :class:`BatchResult` (zip path, summary dict, markdown table).

    Raises:
        RecipeError: the recipe does not fit the model (before any work).
    """
    out = Path(out_dir)
    edited_dir = out / "edited"
    edited_dir.mkdir(parents=True, exist_ok=True)
    by_label = {str(item.path): item for item in items}
    results: dict[str, list] = {}
    t_start = time.perf_counter()
    for res in editor.iter_edit([item.path for item in items], recipe, batch_size=batch_size, aligned=aligned):
        label = res.source if res.source in by_label else _match_label(res.source, by_label)
        if label not in results and progress is not None:
            progress(len(results) + 1, len(items), by_label[label].name if label in by_label else label)
        results.setdefault(label, []).append(res)
    rows: list[dict[str, Any]] = []
    for item in items:
        res = results.get(str(item.path), [])
        row: dict[str, Any] = {"input": item.name, "status": "ok", "faces": 0, "output": None, "message": ""}
        failed = [r for r in res if not r.ok]
        if failed or not res:
            msg = failed[0].error if failed else "no result"
            row.update(status="error", message=str(msg).replace(str(item.path), item.name))
        else:
            # For a photo with several faces every result holds the photo with all of them edited.
            dest = _free_name(edited_dir, Path(item.name).stem, ".png")
            write_image(dest, res[-1].image, overwrite=False)
            row.update(faces=len(res), output=f"edited/{dest.name}")
        rows.append(row)
    n_ok = sum(r["status"] == "ok" for r in rows)
    summary = {
        "recipe": recipe.to_dict(),
        "aligned": bool(aligned),
        "inputs": len(rows), "edited": n_ok, "failed": len(rows) - n_ok,
        "faces": sum(r["faces"] for r in rows),
        "seconds": round(time.perf_counter() - t_start, 3),
        "items": rows,
    }
    atomic_write_json(out / "summary.json", summary, overwrite=False)
    atomic_write_text(out / "recipe.json", recipe.to_json() + "\n", overwrite=False)
    markdown = summary_markdown(summary)
    atomic_write_text(out / "summary.md", markdown, overwrite=False)
    zip_path = _free_name(out.parent, out.name + "_results", ".zip")
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(out.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(out).as_posix())
    return BatchResult(zip_path=zip_path, summary=summary, markdown=markdown, rows=rows)


def _match_label(source: str, by_label: dict[str, BatchItem]) -> str:
    """The input a result belongs to when the editor labelled it differently (e.g. a resolved path)."""
    for label in by_label:
        if source.endswith(Path(label).name):
            return label
    return source


def summary_markdown(summary: dict[str, Any]) -> str:
    """A markdown table of a batch summary."""
    lines = [f"**{summary['edited']} of {summary['inputs']} images edited** "
             f"({summary['faces']} faces, {summary['failed']} failed, {summary['seconds']:.1f} s)", "",
             "| input | status | faces | output / message |", "|---|---|---|---|"]
    for r in summary["items"]:
        detail = r["output"] if r["status"] == "ok" else r["message"]
        detail = str(detail).replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {r['input']} | {r['status']} | {r['faces']} | {detail} |")
    return "\n".join(lines) + "\n"
