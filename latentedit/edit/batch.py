"""Batched editing of many inputs (``Editor.edit``): a DataLoader prepares faces input by input
(read, detect, align), codes are encoded and decoded in batches, and each input's faces are merged
back into it. A failing input (unreadable file, no face) yields a result with ``error`` set and the
rest of the batch completes.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ..errors import LatentEditError
from ..faceset import INDEX_NAME, FaceSet
from ..media import IMAGE_EXTENSIONS as IMAGE_SUFFIXES, VIDEO_EXTENSIONS as VIDEO_SUFFIXES
from .results import EditResult, Face
from .recipe import Recipe
from .video import iter_video


@dataclass
class Job:
    """One input: ``kind`` is ``image`` (path or array), ``face`` (a Face), ``record`` (FaceSet
    record) or ``video``; ``label`` names it in results and errors."""

    kind: str
    payload: Any
    label: str


def expand_inputs(inputs) -> list[Job]:
    """Turn the ``inputs`` of :meth:`Editor.edit` into a flat list of jobs.

    Folders holding ``faces.jsonl`` are FaceSets (one job per record); other folders contribute their
    image and video files (sorted, not recursive).

    Raises:
        LatentEditError: for an input of an unsupported type.
    """
    if isinstance(inputs, (str, os.PathLike, np.ndarray, Face, FaceSet)):
        inputs = [inputs]
    jobs: list[Job] = []
    for k, item in enumerate(inputs):
        if isinstance(item, Face):
            jobs.append(Job("face", item, item.source or f"face {k}"))
        elif isinstance(item, FaceSet):
            jobs.extend(Job("record", (item, i), str(item.root / r.image)) for i, r in enumerate(item.records))
        elif isinstance(item, np.ndarray):
            jobs.append(Job("image", item, f"array {k}"))
        elif isinstance(item, (str, os.PathLike)):
            path = Path(item)
            if path.is_dir() and (path / INDEX_NAME).is_file():
                jobs.extend(expand_inputs([FaceSet(path)]))
            elif path.is_dir():
                files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES)
                if not files:
                    jobs.append(Job("error", f"{path}: folder holds no images, videos or faces.jsonl", str(path)))
                jobs.extend(expand_inputs(files))
            elif path.suffix.lower() in VIDEO_SUFFIXES:
                jobs.append(Job("video", path, str(path)))
            else:
                jobs.append(Job("image", path, str(path)))
        else:
            raise LatentEditError(f"input {k}: unsupported type {type(item).__name__}; expected a path, a uint8 "
                                  "array, a Face or a FaceSet")
    return jobs


class _Prepare:
    """Map-style dataset: job index → (index, faces | error message). Runs in DataLoader workers."""

    def __init__(self, editor, jobs: list[Job], aligned: bool) -> None:
        self.editor, self.jobs, self.aligned = editor, jobs, aligned

    def __len__(self) -> int:
        return len(self.jobs)

    def __getitem__(self, i: int):
        job = self.jobs[i]
        try:
            if job.kind == "error":
                return i, str(job.payload)
            if job.kind == "face":
                return i, [job.payload]
            if job.kind == "video":
                return i, None  # handled frame by frame in the main process
            if job.kind == "record":
                fs, idx = job.payload
                return i, self.editor.faces_from_faceset(fs, [idx])
            return i, self.editor.prepare_faces(job.payload, aligned=self.aligned, source=job.label)
        except (LatentEditError, ValueError, OSError) as exc:
            msg = str(exc)
            return i, msg if job.label in msg else f"{job.label}: {msg}"


def iter_edit(editor, inputs, recipe: Recipe, batch_size: int = 32, aligned: bool = False,
              progress: bool = False, num_workers: int = 0) -> Iterator:
    """Edit every input, yielding :class:`~latentedit.edit.editor.EditResult` objects in input order.

    Raises:
        RecipeError: if the recipe does not fit the editor's model (before any work).
    """
    recipe.validate(editor.attributes, editor.identities)
    yield from iter_jobs(editor, expand_inputs(inputs), recipe, batch_size=batch_size, aligned=aligned,
                         progress=progress, num_workers=num_workers)


def iter_jobs(editor, jobs: list[Job], recipe: Recipe, batch_size: int = 32, aligned: bool = False,
              progress: bool = False, num_workers: int = 0) -> Iterator:
    """:func:`iter_edit` on inputs already expanded by :func:`expand_inputs` (each expanded once)."""
    if batch_size < 1:
        raise LatentEditError(f"batch_size must be ≥ 1, got {batch_size}")
    loader = DataLoader(_Prepare(editor, jobs, aligned), batch_size=batch_size, shuffle=False,
                        num_workers=num_workers, collate_fn=list)
    bar = None
    if progress:
        bar = tqdm(total=len(jobs), desc="editing", unit="input")
    try:
        for batch in loader:
            faces = [f for _, prepared in batch if isinstance(prepared, list) for f in prepared]
            todo = [f for f in faces if f.z is None]
            if todo:
                for f, code in zip(todo, editor.encode_crops([f.crop for f in todo], batch_size=batch_size)):
                    f.z = code
            rendered = iter(editor.render(faces, recipe, batch_size=batch_size)) if faces else iter(())
            for i, prepared in batch:
                job = jobs[i]
                if job.kind == "video":
                    yield from iter_video(editor, job.payload, recipe, batch_size=batch_size)
                elif isinstance(prepared, str):
                    yield EditResult(face=None, image=None, source=job.label, recipe=recipe, error=prepared)
                else:
                    yield from _merge_input(editor, prepared, [next(rendered) for _ in prepared], recipe, job.label)
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()


def _merge_input(editor, faces, rendered, recipe: Recipe, label: str) -> list:
    """Paste every face of one input into its image (faces of one photo accumulate)."""
    image = faces[0].image
    try:
        for f, (edited, mask) in zip(faces, rendered):
            if f.image is not None and f.affine is not None:
                image = editor.merge(image, f, edited, mask, recipe)
    except LatentEditError as exc:
        return [EditResult(face=None, image=None, source=label, recipe=recipe, error=str(exc))]
    return [EditResult(face=edited, image=image if f.image is not None and f.affine is not None else edited,
                       source=f.source or label, recipe=recipe, index=k)
            for k, (f, (edited, _)) in enumerate(zip(faces, rendered))]
