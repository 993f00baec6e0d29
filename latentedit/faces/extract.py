"""Extraction: photos, folders and videos → a FaceSet of aligned faces with landmarks, affine,
measured scores and identity descriptors.

Re-running on the same output appends: a (source file, frame) already in the FaceSet is skipped.
Inputs that fail are reported one by one (and in ``extract_report.json``) and the batch goes on.

Crash safety: every face reaches ``faces.jsonl`` (one appended, fsync'd line) right after its crop is
in place (see :class:`~latentedit.faceset.FaceSetWriter`), so after ``kill -9`` or a power cut the
FaceSet holds every face written so far. Re-running the same command resumes: the writer first drops
a half-written last line, the crop it belonged to and temp files, then photos and video frames
already in the index are skipped (a frame counts as done once all of its faces are in: each record
carries ``extra["faces_in_frame"]``; a frame cut short by the kill gets its missing faces only).
Nothing else identifies "the same job" because nothing else needs to: extracting into an existing
FaceSet always appends, and an appended run never rewrites or duplicates what is there.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from tqdm import tqdm

from .._io import read_image
from ..errors import FaceSetError, ImageReadError, LatentEditError
from ..faceset import INDEX_NAME, FaceRecord, FaceSetWriter
from ..formats import FileFormat
from ..media import IMAGE_EXTENSIONS, MIN_IMAGE_SIDE, VIDEO_EXTENSIONS
from ..video_io import VideoReadError, iter_frames, video_info
from .align import align_face
from .detect import DETECTORS, Detection, detect_faces, refine_landmarks
from .identity import compute_descriptors
from .scores import landmark_scores

#: Name of the per-FaceSet extraction log.
REPORT_NAME = "extract_report.json"
#: ``extract_report.json``: one entry per extract run into the FaceSet (appended).
EXTRACT_REPORT = FileFormat("latentedit.extract_report", 1, error=FaceSetError, what="extract report",
                            required={"runs": (list,)})
#: Reasons an input or frame can be skipped.
REASONS = ("missing", "unsupported", "unreadable", "video_error", "no_face", "face_too_small")


@dataclass
class SkippedInput:
    """One input (or video frame) that produced no face.

    Attributes:
        file: the file as given (or found in a folder).
        frame: video frame index, or None for a photo / a whole video.
        reason: one of :data:`REASONS`.
        detail: a human-readable explanation.
    """

    file: str
    frame: int | None
    reason: str
    detail: str


@dataclass
class ExtractSummary:
    """What an :func:`extract` run did.

    Attributes:
        out: the FaceSet folder.
        n_files: photo and video files considered.
        n_frames: photos and video frames examined (not counting already-extracted ones).
        n_frames_with_face: of those, how many gave at least one face.
        n_faces: faces written.
        n_already: photos/frames skipped because the FaceSet already had them.
        skipped: every input or frame that gave no face, with its reason.
        seconds: wall time.
        settings: the options used.
    """

    out: str
    n_files: int = 0
    n_frames: int = 0
    n_frames_with_face: int = 0
    n_faces: int = 0
    n_already: int = 0
    skipped: list[SkippedInput] = field(default_factory=list)
    seconds: float = 0.0
    settings: dict = field(default_factory=dict)

    @property
    def face_rate(self) -> float:
        """Fraction of examined photos/frames with a face (1.0 when none were examined)."""
        return self.n_frames_with_face / self.n_frames if self.n_frames else 1.0

    def reason_counts(self) -> dict[str, int]:
        """Skip reason → count."""
        counts: dict[str, int] = {}
        for s in self.skipped:
            counts[s.reason] = counts.get(s.reason, 0) + 1
        return counts

    def to_json(self) -> dict:
        """JSON-serialisable form (used for ``extract_report.json``)."""
        d = asdict(self)
        d["face_rate"] = round(self.face_rate, 4)
        d["reason_counts"] = self.reason_counts()
        return d

    def format(self, max_lines: int = 20) -> str:
        """A readable multi-line summary listing skipped inputs and why."""
        lines = [f"{self.n_faces} face(s) written to {self.out} from {self.n_frames_with_face}/{self.n_frames} "
                 f"photos/frames ({100 * self.face_rate:.1f}% with a face) in {self.seconds:.1f} s"]
        if self.n_already:
            lines.append(f"{self.n_already} photo(s)/frame(s) already in the FaceSet were skipped")
        if self.skipped:
            counts = ", ".join(f"{k}: {v}" for k, v in sorted(self.reason_counts().items()))
            lines.append(f"{len(self.skipped)} skipped ({counts}):")
            for s in self.skipped[:max_lines]:
                where = s.file if s.frame is None else f"{s.file} frame {s.frame}"
                lines.append(f"  {where}: {s.reason}: {s.detail}")
            if len(self.skipped) > max_lines:
                lines.append(f"  ... and {len(self.skipped) - max_lines} more (see {REPORT_NAME})")
        return "\n".join(lines)


@dataclass
class _Job:
    path: Path
    identity: str
    kind: str  # "image" | "video"


def collect_inputs(inputs: Sequence[str | os.PathLike], identity: str | None,
                   skipped: list[SkippedInput]) -> list[_Job]:
    """Expand files and folders (recursively, sorted) into photo and video jobs.

    Named files that are missing or have an unsupported extension are added to ``skipped``; other files
    inside folders are ignored silently.
    """
    jobs: list[_Job] = []
    media = IMAGE_EXTENSIONS + VIDEO_EXTENSIONS

    def kind(p: Path) -> str:
        return "video" if p.suffix.lower() in VIDEO_EXTENSIONS else "image"

    for item in inputs:
        p = Path(item)
        if p.is_dir():
            ident = identity or p.resolve().name
            for f in sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in media):
                jobs.append(_Job(f, ident, kind(f)))
        elif not p.exists():
            skipped.append(SkippedInput(str(p), None, "missing", "no such file or folder"))
        elif p.suffix.lower() not in media:
            skipped.append(SkippedInput(str(p), None, "unsupported",
                                        f"extension {p.suffix or '(none)'!r} is not one of {', '.join(media)}"))
        else:
            k = kind(p)
            default = p.stem if k == "video" else p.resolve().parent.name
            jobs.append(_Job(p, identity or default, k))
    return jobs


def extract(inputs: Sequence[str | os.PathLike] | str | os.PathLike, out: str | os.PathLike, size: int = 256,
            every: int = 1, detector: str = "hog", all_faces: bool = False, upscale: int = 1,
            identity: str | None = None, min_face: float = 40.0, descriptor: bool = True, refine: bool = True,
            progress: bool = True) -> ExtractSummary:
    """Detect, align and store faces from photos, folders and videos into a FaceSet.

    Args:
        inputs: files (jpg/png/webp/bmp photos; mp4/mov/avi/mkv/webm videos) and folders (searched recursively).
        out: the FaceSet folder; created, or appended to when it already holds one.
        size: side of the aligned square crops.
        every: keep every ``every``-th video frame.
        detector: ``"hog"`` or ``"cnn"``.
        all_faces: keep every face instead of the largest one.
        upscale: detector upscale (see :func:`~latentedit.faces.detect_faces`).
        identity: identity label for every face; default: a video's file stem, a named photo's parent folder
            name, or the name of the folder given as input.
        min_face: faces smaller than this (:attr:`Detection.size`, source pixels) are skipped as too small.
        descriptor: compute the 128-d dlib identity descriptor of each face.
        refine: average the landmarks over mirrored and jittered predictor runs (steadier in video, more
            accurate scores; ~20-40 ms more per face).
        progress: show a tqdm progress bar.

    Returns:
        :class:`ExtractSummary` (also written to ``out/extract_report.json``, appended to earlier runs).

    Raises:
        LatentEditError: for bad options.
        FaceSetError: if ``out`` holds a malformed FaceSet.
        ModelFormatError: if a dlib model file is missing.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    if detector not in DETECTORS:
        raise LatentEditError(f"--detector must be one of {', '.join(DETECTORS)}, got {detector!r}")
    if not isinstance(size, int) or size < 16:
        raise LatentEditError(f"--size must be an integer ≥ 16, got {size!r}")
    if every < 1:
        raise LatentEditError(f"--every must be ≥ 1, got {every}")
    if not 0 <= upscale <= 4:
        raise LatentEditError(f"--upscale must be in 0..4, got {upscale}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FaceSetError(f"{out}: exists and is not a folder")
    t0 = time.perf_counter()
    settings = {"size": size, "every": every, "detector": detector, "all_faces": all_faces, "upscale": upscale,
                "min_face": min_face, "descriptor": descriptor, "refine": refine}
    summary = ExtractSummary(out=str(out), settings=settings)
    jobs = collect_inputs(list(inputs), identity, summary.skipped)
    summary.n_files = len(jobs)
    mode = "append" if (out / INDEX_NAME).exists() else "new"
    with FaceSetWriter(out, mode=mode, durable=True) as writer:
        done = _done_frames(writer.records)
        total = sum(_frame_count(j, every) for j in jobs)
        bar = tqdm(total=total, desc="extract", unit="frame", disable=not progress, dynamic_ncols=True)
        try:
            for job in jobs:
                _run_job(job, writer, done, summary, bar, size=size, every=every, detector=detector,
                         all_faces=all_faces, upscale=upscale, min_face=min_face, descriptor=descriptor,
                         refine=refine)
        finally:
            bar.close()
    summary.seconds = round(time.perf_counter() - t0, 3)
    _write_report(out, summary)
    return summary


def _done_frames(records) -> dict[tuple[str | None, int | None], set[int] | None]:
    """``(source file, frame)`` → face indices already written, or None when the frame is complete.

    A frame is complete when it has as many records as its ``extra["faces_in_frame"]`` says (records
    from before that field existed count as complete)."""
    faces: dict[tuple, set[int]] = {}
    want: dict[tuple, int] = {}
    legacy: set[tuple] = set()
    for r in records:
        key = (r.source.get("file"), r.source.get("frame"))
        faces.setdefault(key, set()).add(int(r.extra.get("face_index", 0)))
        n = r.extra.get("faces_in_frame")
        if isinstance(n, int) and not isinstance(n, bool):
            want[key] = max(want.get(key, 0), n)
        else:
            legacy.add(key)
    return {k: None if k in legacy or len(v) >= want.get(k, 0) else v for k, v in faces.items()}


def _frame_count(job: _Job, every: int) -> int:
    if job.kind == "image":
        return 1
    try:
        n = video_info(job.path).n_frames
    except VideoReadError:
        return 1
    return max(1, (n + every - 1) // every)


def _frames(job: _Job, every: int, summary: ExtractSummary) -> Iterator[tuple[int | None, np.ndarray | None]]:
    """Yield (frame, image) pairs; read failures are recorded and yield nothing more."""
    if job.kind == "image":
        try:
            image = read_image(job.path)
        except ImageReadError as exc:
            summary.skipped.append(SkippedInput(str(job.path), None, "unreadable", _strip_path(exc, job.path)))
            return
        if min(image.shape[:2]) < MIN_IMAGE_SIDE:
            summary.skipped.append(SkippedInput(
                str(job.path), None, "too small", f"image is {image.shape[1]}×{image.shape[0]} pixels, too small "
                f"to hold a face (the minimum is {MIN_IMAGE_SIDE}×{MIN_IMAGE_SIDE})"))
            return
        yield None, image
        return
    try:
        for index, frame in iter_frames(job.path, every=every):
            yield index, frame
    except VideoReadError as exc:
        summary.skipped.append(SkippedInput(str(job.path), None, "video_error", _strip_path(exc, job.path)))


def _strip_path(exc: Exception, path: Path) -> str:
    msg = str(exc)
    prefix = f"{path}: "
    return msg[len(prefix):] if msg.startswith(prefix) else msg


def _run_job(job: _Job, writer: FaceSetWriter, done: dict, summary: ExtractSummary, bar, *, size: int, every: int,
             detector: str, all_faces: bool, upscale: int, min_face: float, descriptor: bool, refine: bool) -> None:
    key_file = str(job.path.resolve())
    if job.kind == "image" and (key_file, None) in done and done[(key_file, None)] is None:
        bar.update(1)
        summary.n_already += 1
        return
    for frame_index, image in _frames(job, every, summary):
        bar.update(1)
        have = done.get((key_file, frame_index), set())
        if have is None:
            summary.n_already += 1
            continue
        summary.n_frames += 1
        dets = detect_faces(image, detector=detector, upscale=upscale, adaptive=not all_faces)
        if not dets:
            summary.skipped.append(SkippedInput(str(job.path), frame_index, "no_face",
                                                f"no face found by the {detector} detector (upscale {upscale})"))
            continue
        big = [d for d in dets if d.size >= min_face]
        if not big:
            summary.skipped.append(SkippedInput(
                str(job.path), frame_index, "face_too_small",
                f"largest face is {dets[0].size:.0f} px wide, under the {min_face:g} px minimum"))
            continue
        keep = big if all_faces else big[:1]
        if refine:
            keep = [Detection(d.box, refine_landmarks(image, d.landmarks), d.score, d.detector) for d in keep]
        descs = compute_descriptors(image, [d.landmarks for d in keep]) if descriptor else [None] * len(keep)
        for face_index, (det, desc) in enumerate(zip(keep, descs)):
            if face_index in have:  # written before an interruption
                continue
            _write_face(writer, job, key_file, frame_index, face_index, len(keep), image, det, desc, size)
            summary.n_faces += 1
        summary.n_frames_with_face += 1
        done[(key_file, frame_index)] = None


def _write_face(writer: FaceSetWriter, job: _Job, key_file: str, frame_index: int | None, face_index: int,
                faces_in_frame: int, image: np.ndarray, det: Detection, desc: np.ndarray | None, size: int) -> None:
    aligned = align_face(image, det.landmarks, size)
    scores = landmark_scores(aligned.landmarks)
    record = FaceRecord(
        image=writer.next_name(".png"), identity=job.identity, size=size,
        source={"file": key_file, "frame": frame_index},
        landmarks=aligned.landmarks, affine=aligned.affine,
        attributes=scores, attribute_sources={k: "measured" for k in scores},
        descriptor=desc,
        extra={"face_index": face_index, "faces_in_frame": faces_in_frame, "box": [round(v, 1) for v in det.box],
               "det_score": round(det.score, 4), "detector": det.detector, "face_px": round(det.size, 1),
               "source_size": [int(image.shape[1]), int(image.shape[0])]})
    writer.add(aligned.crop, record)


def _write_report(out: Path, summary: ExtractSummary) -> None:
    path = out / REPORT_NAME
    runs: list = []
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
            runs = list(old.get("runs", [])) if isinstance(old, dict) else []
        except (OSError, ValueError):
            runs = []  # a damaged report is replaced; the FaceSet itself is untouched
    run = summary.to_json()
    run["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    runs.append(run)
    EXTRACT_REPORT.write(path, {"runs": runs})
