"""Real-video round trip on ../shared data: extract → merge the unedited crops back → mp4.

Only the first 25 frames of the clip are used (cut with write_video, audio kept) to stay well
under 30 s on a CPU.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from .conftest import shared_path

pytestmark = [pytest.mark.shared, pytest.mark.slow]

N = 25


def test_real_video_extract_merge_round_trip(tmp_path):
    from latentedit.faces.extract import extract
    from latentedit.errors import ModelFormatError
    from latentedit.merge import crop_mask, faces_from_faceset, merge_video, write_video
    from latentedit.video_io import iter_frames, video_info

    src = shared_path("data", "swap_pair", "videos", "WDA_KatieHill_000.mp4")
    info = video_info(src)
    assert info.has_audio
    clip = tmp_path / "clip.mp4"
    cut = write_video((f for _, f in itertools.islice(iter_frames(src), N)), clip, fps=info.fps, audio_from=src)
    assert cut.n_frames == N and cut.audio_codec == "aac" and cut.audio_copied
    try:
        summary = extract([clip], tmp_path / "faces", size=256, descriptor=False, progress=False)
    except ModelFormatError as exc:  # stops skipping once face_recognition_models is installed (pyproject dep)
        pytest.skip(f"dlib model files missing ({exc}); runs once face-recognition-models is installed "
                    "(pip install -e '.[dev]' installs it)")
    assert summary.n_faces >= N - 2  # a talking-head clip: a face in (nearly) every frame

    faces = faces_from_faceset(tmp_path / "faces", video=clip)
    out = tmp_path / "merged.mp4"
    res = merge_video(clip, faces, out, color="rct")
    assert res.merged == len(faces) and res.missing_frames == ()
    out_info = video_info(out)
    assert out_info.n_frames == N and out_info.fps == info.fps and out_info.has_audio
    assert (out_info.width, out_info.height) == (info.width, info.height)
    assert res.audio_codec == "aac" and res.audio_copied

    import cv2

    before = [f for _, f in iter_frames(clip)]
    after = [f for _, f in iter_frames(out)]
    assert len(after) == N
    for i, (a, b) in enumerate(zip(before, after)):
        err = np.abs(a.astype(np.float64) - b).mean(2)
        assert err.mean() < 4.0, (i, err.mean())  # re-encode + crop/paste round trip only
        if i in faces:
            m = cv2.warpAffine(crop_mask(256), faces[i][1], (a.shape[1], a.shape[0]), flags=cv2.WARP_INVERSE_MAP)
            assert err[m > 0.99].mean() < 5.0, (i, err[m > 0.99].mean())
