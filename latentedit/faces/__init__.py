"""Real-face pipeline: detection, 68 landmarks, alignment, landmark scores, identity, extraction.

dlib is imported on first use (:func:`latentedit.faces.models.dlib_module`); cv2 and numpy at the top.
"""
from .align import AlignedFace, align_face, alignment_affine, canonical_landmarks, invert_affine, \
    similarity_transform, transform_points
from .detect import DETECTORS, Detection, detect_faces, fit_landmarks, landmark_box, refine_landmarks
from .extract import ExtractSummary, SkippedInput, extract
from .identity import SAME_PERSON_THRESHOLD, compute_descriptor, compute_descriptors, identity_distance, same_person
from .models import get_model, model_path, models_dir
from .scores import MEASURED_ATTRIBUTES, landmark_features, landmark_scores, landmark_scores_batch

__all__ = [
    "AlignedFace", "align_face", "alignment_affine", "canonical_landmarks", "invert_affine", "similarity_transform",
    "transform_points", "DETECTORS", "Detection", "detect_faces", "fit_landmarks", "landmark_box", "refine_landmarks", "ExtractSummary",
    "SkippedInput", "extract", "SAME_PERSON_THRESHOLD", "compute_descriptor", "compute_descriptors",
    "identity_distance", "same_person", "get_model", "model_path", "models_dir", "MEASURED_ATTRIBUTES",
    "landmark_features", "landmark_scores", "landmark_scores_batch",
]
