"""Detail mode moves SynthFaces landmarks the way the ground truth does (synthfaces64, its landmark head)."""
from __future__ import annotations

import numpy as np

from latentedit.edit import Editor, Recipe
from latentedit.eval.bench.realedit_measure import landmark_feature
from latentedit.eval.bench.realedit_synth import BASE_EXPRESSION, SYNTH_SIZE, synth_face
from latentedit.faces import fit_landmarks, landmark_box, refine_landmarks
from latentedit.synth import identity_params, render


def test_a_detail_smile_lifts_the_mouth_corners_like_the_true_smile():
    editor = Editor.from_pretrained("synthfaces64", device="cpu")
    edit, truth = [], []
    for i in range(2):
        ident = identity_params(2024, i)
        neutral = render(ident, BASE_EXPRESSION, SYNTH_SIZE, masks=False)
        smiling = render(ident, BASE_EXPRESSION.__class__(**{**BASE_EXPRESSION.__dict__, "smile": 0.6}),
                         SYNTH_SIZE, masks=False)
        face = synth_face(editor, neutral.image, neutral.landmarks, f"id{i}")
        out = editor.apply(face, Recipe(edits={"smile": 2.0})).image
        box = landmark_box(neutral.landmarks)

        def corners(image):
            lm = refine_landmarks(image, fit_landmarks(image, box).landmarks)
            return landmark_feature("smile", lm)

        base = corners(neutral.image)
        edit.append(corners(out) - base)
        truth.append(landmark_feature("smile", smiling.landmarks) - landmark_feature("smile", neutral.landmarks))
        assert np.any(out != neutral.image)
    assert np.mean(truth) > 0
    assert np.mean(edit) > 0.25 * np.mean(truth), (edit, truth)   # the same direction, a real share of it
