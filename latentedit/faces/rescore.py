"""Recompute a FaceSet's measured landmark scores from the landmarks it already stores.

The score definitions in :mod:`latentedit.faces.scores` improve between releases (new features, refitted
weights). A FaceSet keeps the values measured when it was extracted, so after an upgrade its
``*_score`` attributes follow the old definitions. :func:`rescore_faceset` brings them up to date
without re-running detection: only attributes whose source is ``measured`` (or that are missing) are
written; ground-truth and CelebA labels of the same name are never touched. The index is rewritten
atomically, so a crash leaves the previous index intact.

CLI: ``latentedit extract --rescore --out FACESET``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..errors import LatentEditError
from ..faceset import FaceSet, write_index
from .scores import MEASURED_ATTRIBUTES, landmark_scores_batch


@dataclass
class RescoreSummary:
    """What :func:`rescore_faceset` did."""

    root: str
    n_records: int
    n_rescored: int
    n_without_landmarks: int
    n_degenerate: int
    kept_labels: dict[str, int]
    mean_abs_change: dict[str, float]

    def format(self) -> str:
        """A short human-readable report."""
        lines = [f"{self.root}: rescored {self.n_rescored} of {self.n_records} faces"
                 + (f" ({self.n_without_landmarks} have no landmarks and were left as they were)"
                    if self.n_without_landmarks else "")
                 + (f" ({self.n_degenerate} have degenerate landmarks and were left as they were)"
                    if self.n_degenerate else "")]
        for name, delta in self.mean_abs_change.items():
            lines.append(f"  {name:<18} mean |change| {delta:.4f}")
        for name, n in self.kept_labels.items():
            lines.append(f"  {name:<18} kept on {n} faces (not a measured value)")
        return "\n".join(lines)


def rescore_faceset(root: str | os.PathLike) -> RescoreSummary:
    """Recompute every measured landmark score of the FaceSet at ``root`` from its stored landmarks and
    rewrite its index atomically.

    Returns:
        A :class:`RescoreSummary` (how many faces, mean absolute change per score).

    Raises:
        LatentEditError: if the FaceSet cannot be read, or none of its faces has landmarks.
    """
    fs = FaceSet(root)
    summary = rescore_records(fs.records, where=str(root))
    write_index(root, fs.records)
    return summary


def rescore_records(records, where: str = "FaceSet") -> RescoreSummary:
    """:func:`rescore_faceset` on records in memory (updated in place; nothing is written)."""
    have = [i for i, r in enumerate(records) if r.landmarks is not None and np.shape(r.landmarks) == (68, 2)]
    if not have:
        raise LatentEditError(f"{where}: no face in this FaceSet has 68 landmarks; nothing to rescore "
                              f"(extract it with `latentedit extract` to measure landmarks)")
    lms = np.stack([np.asarray(records[i].landmarks, np.float64) for i in have])
    try:
        scores = landmark_scores_batch(lms)
    except ValueError:  # one degenerate face must not stop the rest: score them one by one
        scores = {k: np.full(len(have), np.nan) for k in MEASURED_ATTRIBUTES}
        for j, lm in enumerate(lms):
            try:
                one = landmark_scores_batch(lm[None])
            except ValueError:
                continue
            for k in scores:
                scores[k][j] = one[k][0]
    kept: dict[str, int] = {}
    change: dict[str, list[float]] = {k: [] for k in MEASURED_ATTRIBUTES}
    n_done = 0
    for j, i in enumerate(have):
        rec = records[i]
        touched = False
        for name in MEASURED_ATTRIBUTES:
            value = float(scores[name][j])
            if not np.isfinite(value):
                continue
            source = rec.attribute_sources.get(name, "measured")
            if source != "measured":
                kept[name] = kept.get(name, 0) + 1
                continue
            if name in rec.attributes:
                change[name].append(abs(value - rec.attributes[name]))
            rec.attributes[name] = value
            rec.attribute_sources[name] = "measured"
            touched = True
        n_done += touched
    degenerate = int(np.sum(~np.isfinite(scores[MEASURED_ATTRIBUTES[0]])))
    return RescoreSummary(root=where, n_records=len(records), n_rescored=n_done,
                          n_without_landmarks=len(records) - len(have), n_degenerate=degenerate, kept_labels=kept,
                          mean_abs_change={k: float(np.mean(v)) for k, v in change.items() if v})
