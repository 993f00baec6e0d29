"""Seeded SynthFaces datasets and preview grids.

Identity ``i`` of seed ``K`` depends only on ``(K, i)`` and its ``j``-th expression only on
``(K, i, j)``, so a FaceSet made with ``--identities 2`` shares ``id000`` and ``id001`` with one
made with ``--identities 10``, image for image.
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from tqdm.auto import tqdm

from ..errors import LatentEditError
from ..faceset import FaceRecord, FaceSet, FaceSetWriter
from .params import ExpressionParams, IdentityParams
from .render import MAX_SIZE, MIN_SIZE, RenderResult, render

#: Version of the generator recorded in every record's ``extra`` (bump when images change).
SYNTH_VERSION = 1
_IDENTITY_STREAM, _EXPRESSION_STREAM = 0, 1

#: The preview grid's columns: (label, expression).
PREVIEW_EXPRESSIONS: tuple[tuple[str, ExpressionParams], ...] = (
    ("neutral", ExpressionParams()),
    ("smile", ExpressionParams(smile=1.0)),
    ("mouth open", ExpressionParams(mouth_open=0.9, brow_raise=0.3)),
    ("eyes closed", ExpressionParams(eye_open=0.0)),
    ("brow raise", ExpressionParams(brow_raise=1.0, eye_open=1.0)),
    ("head turn", ExpressionParams(yaw=0.9, pitch=0.3, gaze_x=0.6, light_angle=0.7)),
    ("frown", ExpressionParams(smile=-1.0, brow_raise=-1.0)),
    ("look down", ExpressionParams(pitch=-0.8, roll=0.6, gaze_y=0.8, light_strength=1.0)),
)


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise LatentEditError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def identity_params(seed: int, index: int) -> IdentityParams:
    """The identity ``index`` (0-based) of dataset ``seed``; depends only on (seed, index)."""
    rng = np.random.default_rng(np.random.SeedSequence([_check_seed(seed), _IDENTITY_STREAM, int(index)]))
    return IdentityParams.sample(rng)


def expression_params(seed: int, identity_index: int, index: int) -> ExpressionParams:
    """Expression ``index`` of identity ``identity_index`` in dataset ``seed``."""
    rng = np.random.default_rng(np.random.SeedSequence(
        [_check_seed(seed), _EXPRESSION_STREAM, int(identity_index), int(index)]))
    return ExpressionParams.sample(rng)


def identity_label(index: int) -> str:
    """FaceSet identity label of identity ``index``: ``id000``, ``id001``, …"""
    return f"id{index:03d}"


def _render_job(job: tuple[IdentityParams, ExpressionParams, int, bool]) -> RenderResult:
    ident, expr, size, masks = job
    return render(ident, expr, size, masks=masks)


def _pool(workers: int):
    # spawn, not fork: the parent may hold torch/cv2 thread pools that fork does not copy safely
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))


def render_batch(identities: Sequence[IdentityParams], expressions: Sequence[ExpressionParams], size: int = 128,
                 workers: int = 1, masks: bool = True, pool=None) -> list[RenderResult]:
    """Render many faces, optionally in worker processes (rendering is CPU-bound Python + cv2).

    Args:
        identities: one identity per image.
        expressions: one expression per image (same length as ``identities``).
        size: crop side in pixels.
        workers: processes; 1 renders in this process. Starting processes costs ~1 s, so use
            more than one only for hundreds of images. Workers are spawned, so a script that
            uses them must call this under ``if __name__ == "__main__":``.
        masks: compute the region masks (False saves ~10% when only images/landmarks are needed).
        pool: an existing ``concurrent.futures`` executor to reuse instead of starting one.

    Returns:
        The :class:`RenderResult` list in input order, identical to calling :func:`render` on each.

    Raises:
        ValueError: if the two sequences differ in length or ``size`` is out of range.
    """
    if len(identities) != len(expressions):
        raise ValueError(f"got {len(identities)} identities but {len(expressions)} expressions")
    jobs = [(i, e, size, masks) for i, e in zip(identities, expressions)]
    if pool is not None:
        return list(pool.map(_render_job, jobs, chunksize=max(1, len(jobs) // (4 * max(1, workers)))))
    if workers <= 1 or len(jobs) < 2:
        return [_render_job(j) for j in jobs]
    with _pool(int(workers)) as ex:
        return list(ex.map(_render_job, jobs, chunksize=max(1, len(jobs) // (4 * workers))))


def _jobs(identities: int, per_identity: int, seed: int) -> Iterator[tuple[int, int, IdentityParams, ExpressionParams]]:
    for i in range(identities):
        ident = identity_params(seed, i)
        for j in range(per_identity):
            yield i, j, ident, expression_params(seed, i, j)


def synth_faceset(out: str | os.PathLike, identities: int = 10, per_identity: int = 20, size: int = 128,
                  seed: int = 0, progress: bool = True, workers: int = 1) -> FaceSet:
    """Render a new FaceSet of synthetic faces with exact ground truth.

    Every record has identity ``idNNN``, all :data:`SYNTH_ATTRIBUTES` with source ``ground_truth``,
    the 68 landmarks, the identity affine ``[[1, 0, 0], [0, 1, 0]]`` (the crop is the source),
    ``source = {"file": "synth:seed=K", "frame": n}`` and ``extra`` with the seed, the
    (identity, expression) indices and :data:`SYNTH_VERSION`. The same arguments always produce
    byte-identical images.

    Args:
        out: new FaceSet folder (must not hold a FaceSet yet).
        identities: number of people (≥ 1).
        per_identity: images per person (≥ 1).
        size: crop side in pixels (32–512; 64–256 recommended).
        seed: dataset seed (≥ 0).
        progress: show a tqdm progress bar.
        workers: render processes (see :func:`render_batch`); the output does not depend on it.

    Returns:
        The written :class:`FaceSet`.

    Raises:
        LatentEditError: for bad counts, size or seed.
        FaceSetError: if ``out`` already holds a FaceSet.
    """
    for name, v in (("identities", identities), ("per_identity", per_identity), ("workers", workers)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise LatentEditError(f"{name} must be a positive integer, got {v!r}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not MIN_SIZE <= size <= MAX_SIZE:
        raise LatentEditError(f"size must be an integer in [{MIN_SIZE}, {MAX_SIZE}], got {size!r}")
    seed = _check_seed(seed)
    total = identities * per_identity
    writer = FaceSetWriter(Path(out), mode="new")
    bar = None
    if progress:
        bar = tqdm(total=total, desc=f"synth {Path(out).name}", unit="img")
    chunk = 64 * max(1, workers)
    jobs = _jobs(identities, per_identity, seed)
    pool = _pool(workers) if workers > 1 and total > 1 else None
    try:
        with writer:
            while True:
                batch = [j for _, j in zip(range(chunk), jobs)]
                if not batch:
                    break
                results = render_batch([b[2] for b in batch], [b[3] for b in batch], size, workers,
                                       masks=False, pool=pool)
                for (i, j, _, _), res in zip(batch, results):
                    frame = i * per_identity + j
                    rec = FaceRecord(
                        image=f"images/{identity_label(i)}_{j:05d}.png", identity=identity_label(i), size=size,
                        source={"file": f"synth:seed={seed}", "frame": frame}, landmarks=res.landmarks,
                        affine=np.array([[1, 0, 0], [0, 1, 0]], np.float32), attributes=res.attributes,
                        attribute_sources={k: "ground_truth" for k in res.attributes},
                        extra={"synth_seed": seed, "synth_identity": i, "synth_expression": j,
                               "synth_version": SYNTH_VERSION})
                    writer.add(res.image, rec)
                if bar is not None:
                    bar.update(len(batch))
    finally:
        if bar is not None:
            bar.close()
        if pool is not None:
            pool.shutdown()
    return FaceSet(writer.root)


def preview_grid(n_identities: int = 6, n_expressions: int = 6, size: int = 128, seed: int = 0) -> np.ndarray:
    """A grid of faces: rows are identities of ``seed``, columns are expressions.

    The columns are :data:`PREVIEW_EXPRESSIONS` (neutral, smile, mouth open, eyes closed, brow
    raise, head turn, frown, look down), then sampled expressions if more are asked for. Each
    row has its own background colour.

    Args:
        n_identities: rows (≥ 1).
        n_expressions: columns (≥ 1).
        size: side of each face in pixels.
        seed: dataset seed of the identities.

    Returns:
        ``uint8 (n_identities*size)×(n_expressions*size)×3`` RGB image.

    Raises:
        LatentEditError: for non-positive counts, a size outside [32, 512] or a bad seed.
    """
    if n_identities < 1 or n_expressions < 1:
        raise LatentEditError(f"preview needs at least one row and column, got {n_identities}×{n_expressions}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not MIN_SIZE <= size <= MAX_SIZE:
        raise LatentEditError(f"size must be an integer in [{MIN_SIZE}, {MAX_SIZE}], got {size!r}")
    exprs = [e for _, e in PREVIEW_EXPRESSIONS[:n_expressions]]
    exprs += [expression_params(seed, 10**6, j) for j in range(n_expressions - len(exprs))]
    idents = [identity_params(seed, i) for i in range(n_identities)]
    # one background per row, so that only the expression changes along a row
    pairs = [(ident, replace(e, background=(0.55 + 0.17 * r) % 1.0)) for r, ident in enumerate(idents) for e in exprs]
    results = render_batch([p[0] for p in pairs], [p[1] for p in pairs], size, masks=False)
    rows = [np.concatenate([r.image for r in results[k * len(exprs):(k + 1) * len(exprs)]], 1)
            for k in range(n_identities)]
    return np.ascontiguousarray(np.concatenate(rows, 0))
