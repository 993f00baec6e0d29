"""The ``Editor``: find faces, shift their latent codes along attribute boundaries, decode with any
identity's decoder and merge the result back into the photo. Used by the CLI, the app and demos.

Pipeline of one face (contracts as in ``docs/ARCHITECTURE.md``)::

    image uint8 H×W×3 -> detect + align (affine source->crop) -> crop uint8 S×S×3
      -> to_model [-1, 1] -> encode -> z (D,) -> z' = z + Σ alpha_k · std_k · n_k' -> decode(identity) rgb [-1, 1]
      -> from_model uint8 -> region blend with the unedited decode -> paste_back(colour, mask, feather)
      -> uint8 H×W×3

Alignment, resizing and the uint8 <-> [-1, 1] conversions are the preprocessing contract's
(:mod:`latentedit.preprocess`), the same code ``extract`` and training use: a photo gives the Editor
byte-identical crops to the ones ``extract`` writes for the same framing.
"""
from __future__ import annotations

import os
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import torch

from .._io import read_image
from ..devices import check_device
from ..errors import LatentEditError, NoFaceError
from ..faces import canonical_landmarks, detect_faces, refine_landmarks
from ..framing import read_template
from ..latent.boundary import BoundaryMismatchError, load_boundaries
from ..media import VIDEO_EXTENSIONS as VIDEO_SUFFIXES  # noqa: F401  (the one list: latentedit.media)
from ..merge.paste import PastePlan
from ..models import load_model as _load, resolve_model_dir
from ..preprocess import align, from_model, rescale_landmarks, resize, to_model, transform_points
from ._images import _as_image, alignment_template  # noqa: F401  (alignment_template: public via latentedit.edit)
from ..latent.landmark_head import LandmarkHead
from .batch import iter_edit
from .detail import GEOMETRIES, merge_or_fall_back
from .recipe import Recipe
from .region import blend_region, region_weights
from .results import EditResult, Face  # noqa: F401  (public here and via latentedit.edit)


def resolve_device(device=None):
    """``device`` as a torch device; None picks CUDA when available, else CPU.

    Raises:
        LatentEditError: an unknown device name or one this machine lacks (see
            :func:`latentedit.devices.check_device`).
    """
    return check_device(device)


def load_model(model_dir: str | os.PathLike, device=None):
    """Load a pretrained model folder, or a training run folder (its ``model/`` subfolder).

    Args:
        model_dir: the folder.
        device: torch device; None = CUDA when available, else CPU.

    Raises:
        ModelFormatError: if the folder holds no valid model.
    """
    return _load(model_dir, device=resolve_device(device)).eval()


def model_folder(model_dir: str | os.PathLike) -> Path:
    """The folder holding ``config.json`` (``model_dir`` or its ``model/`` subfolder).

    Raises:
        ModelFormatError: if neither holds a model.
    """
    return Path(resolve_model_dir(model_dir))


class Editor:
    """Edit faces in photos, videos, aligned crops and FaceSets with one model and its boundaries.

    Args:
        model: a :class:`~latentedit.models.SwapAutoencoder`.
        boundaries: attribute → :class:`~latentedit.latent.Boundary` fitted on this model.
        device: torch device (None: the model's).
        default_identity: decoder used when a recipe names none and a face's own identity is not
            a decoder (None: ``"generic"`` if the model has it, else its first decoder).
        template: ``68×2`` landmarks (pixels of a crop at the model resolution) to align detected
            faces to, for a model trained on crops framed differently from the canonical
            :func:`~latentedit.faces.align.canonical_landmarks` (e.g. a CelebA import; see
            :func:`alignment_template`). None = the canonical framing.
        landmark_head: the model's :class:`~latentedit.latent.landmark_head.LandmarkHead` (detail
            mode's geometry); None = detail mode estimates the move by optical flow between decodes.

    Attributes:
        detail_geometry: detail mode's geometry estimator, one of
            :data:`latentedit.edit.detail.GEOMETRIES` (``auto``: the landmark head when there is one).

    Raises:
        BoundaryMismatchError: if a boundary belongs to another model.
    """

    def __init__(self, model, boundaries: dict | None = None, device=None,
                 default_identity: str | None = None, template: np.ndarray | None = None,
                 landmark_head: LandmarkHead | None = None) -> None:
        if device is not None:
            model = model.to(resolve_device(device))
        self.model = model.eval()
        self.device = next(model.parameters()).device
        mid, dim = str(model.model_id), int(model.config.latent_dim)
        # channels_last: measured 10-15% faster decodes on CPU (oneDNN) at 64-256 px; same weights
        self.model.to(memory_format=torch.channels_last)
        self.boundaries = dict(sorted((boundaries or {}).items()))
        for name, b in self.boundaries.items():
            if b.model_id != mid or b.latent_dim != dim:
                raise BoundaryMismatchError(
                    f"boundary {name!r} was fitted on model {b.model_id!r} (latent_dim {b.latent_dim}), but the "
                    f"loaded model is {mid!r} (latent_dim {dim}); refit it with `latentedit fit`")
        ids = list(model.identities)
        if default_identity is None:
            default_identity = "generic" if "generic" in ids else ids[0]
        if default_identity not in ids:
            raise LatentEditError(f"unknown default identity {default_identity!r}; decoders: {', '.join(ids)}")
        self.default_identity = default_identity
        if template is not None:
            template = np.asarray(template, dtype=np.float32)
            if template.shape != (68, 2) or not np.all(np.isfinite(template)):
                raise LatentEditError(f"template must be 68×2 finite landmarks, got shape {template.shape}")
        self.template = template
        if landmark_head is not None and (landmark_head.model_id != mid or landmark_head.latent_dim != dim):
            raise BoundaryMismatchError(f"the landmark head was fitted on model {landmark_head.model_id!r}, but the "
                                        f"loaded model is {mid!r}; refit it with `latentedit fit --landmark-head`")
        self.landmark_head = landmark_head
        self.detail_geometry = "auto"
        self._normals: dict[tuple, Any] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_pretrained(cls, model_dir: str | os.PathLike, boundaries=None, device=None) -> "Editor":
        """Load a model folder (or training run folder) and its boundaries.

        Args:
            model_dir: pretrained model folder, or a run folder with a ``model/`` subfolder.
            boundaries: None (``model_dir/boundaries`` when it exists, else none), a boundaries
                folder, or a dict attribute → Boundary.
            device: torch device; None = CUDA when available, else CPU.

        Raises:
            ModelFormatError: for a missing/invalid model or boundary file.
            BoundaryMismatchError: for boundaries fitted on another model.
        """
        model = load_model(model_dir, device)
        if boundaries is None:
            folder = model_folder(model_dir) / "boundaries"
            # load_model verified the whole folder against its manifest, boundaries/ included
            boundaries = load_boundaries(folder, model, verify=False) if folder.is_dir() else {}
        elif not isinstance(boundaries, dict):
            boundaries = load_boundaries(boundaries, model)
        # align photos the way the training crops were framed (alignment_template.json), if recorded
        folder = model_folder(model_dir)
        return cls(model, boundaries, template=read_template(folder, model.resolution),
                   landmark_head=LandmarkHead.load(folder, str(model.model_id)))

    # -- what the model offers ------------------------------------------------------------------
    @property
    def attributes(self) -> list[str]:
        """Attribute names with a loaded boundary (sorted)."""
        return list(self.boundaries)

    @property
    def identities(self) -> list[str]:
        """The model's decoder names."""
        return list(self.model.identities)

    @property
    def resolution(self) -> int:
        """Side of the aligned crops the model takes and produces."""
        return int(self.model.config.resolution)

    @property
    def alignment_target(self) -> np.ndarray:
        """The ``68×2`` landmarks (pixels of a crop at the model resolution) faces are aligned to:
        :attr:`template`, or the canonical framing ``extract`` writes when there is none. Pass it to
        :func:`latentedit.preprocess.align` to frame a face the way this Editor does."""
        if self.template is not None:
            return self.template

        return canonical_landmarks(self.resolution)

    # -- latent maths ---------------------------------------------------------------------------
    def _normal(self, name: str, hold: tuple[str, ...]):
        key = (name, hold)
        with self._lock:
            if key not in self._normals:
                b = self.boundaries[name]
                self._normals[key] = b.conditioned([self.boundaries[h] for h in hold]).normal
            return self._normals[key]

    def direction(self, recipe: Recipe):
        """The total code shift ``Σ alpha_k · std_k · n_k'`` of a recipe (float32 ``(D,)`` tensor).

        Raises:
            RecipeError: for unknown attributes; LatentEditError if an edit direction lies in the
                span of the held ones.
        """
        recipe.validate(self.attributes, self.identities)
        hold = tuple(sorted(recipe.hold))
        total = np.zeros(int(self.model.config.latent_dim), dtype=np.float64)
        for name, alpha in recipe.edits.items():
            if alpha != 0.0:
                total += alpha * self.boundaries[name].std * self._normal(name, hold).astype(np.float64)
        return torch.from_numpy(total.astype(np.float32)).to(self.device)

    def shift(self, z, recipe: Recipe):
        """Edited codes ``z + direction(recipe)`` (``z`` unchanged when every alpha is 0)."""
        if recipe.is_identity_edit:
            recipe.validate(self.attributes, self.identities)
            return z
        return z + self.direction(recipe)

    # -- model calls ----------------------------------------------------------------------------
    def encode_crops(self, crops: Sequence[np.ndarray], batch_size: int = 64):
        """Encode uint8 RGB ``S×S×3`` crops to a CPU float32 ``N×D`` tensor.

        Crops of another size are resized to the model resolution (:func:`latentedit.preprocess.resize`)
        and converted with :func:`latentedit.preprocess.to_model`.
        """
        s = self.resolution
        out = []
        with torch.inference_mode():
            for start in range(0, len(crops), batch_size):
                chunk = np.stack([c if c.shape[:2] == (s, s) else resize(c, s)
                                  for c in crops[start:start + batch_size]])
                out.append(self.model.encode(to_model(chunk, device=self.device)).float().cpu())
        return torch.cat(out) if out else torch.zeros((0, int(self.model.config.latent_dim)))

    def decode(self, z, identity: str):
        """Decode codes ``N×D`` as ``identity``: ``(rgb N×3×S×S in [-1, 1], mask N×1×S×S)`` on CPU."""
        with torch.inference_mode():
            rgb, mask = self.model.decode(z.to(self.device, torch.float32), identity)
        return rgb.float().cpu(), mask.float().cpu()

    # -- faces ----------------------------------------------------------------------------------
    def prepare_faces(self, image, aligned: bool = False, all_faces: bool = True, source: str | None = None,
                      detector: str = "hog", refine: bool = True) -> list[Face]:
        """Detect and align faces (without encoding them); see :meth:`find_faces`.

        ``refine`` averages each face's landmarks over mirrored and jittered predictor runs
        (:func:`latentedit.faces.refine_landmarks`, ~30 ms a face), as ``extract`` does by default, so
        that a photo framed like the training crops gives the same crop here as there.
        """
        label = source or (str(image) if isinstance(image, (str, os.PathLike)) else "image")
        if isinstance(image, (str, os.PathLike)):
            image = read_image(image)
        image = _as_image(image, label)
        s = self.resolution
        if aligned:
            h, w = image.shape[:2]
            if h != w:  # an aligned crop should be square; keep its centre rather than squash it
                k = min(h, w)
                image = image[(h - k) // 2:(h - k) // 2 + k, (w - k) // 2:(w - k) // 2 + k]
            return [Face(crop=resize(image, s), z=None, source=label)]

        dets = detect_faces(image, detector=detector)
        if not dets:
            raise NoFaceError(f"{label}: no face found")
        if not all_faces:
            dets = dets[:1]
        template = self.alignment_target
        out = []
        for det in dets:
            lms = refine_landmarks(image, det.landmarks) if refine else det.landmarks
            crop, affine = align(image, lms, template, s)
            out.append(Face(crop=crop, z=None, affine=affine, landmarks=transform_points(lms, affine), image=image,
                            box=tuple(float(v) for v in det.box), source=label))
        return out

    def find_faces(self, image, aligned: bool = False, all_faces: bool = True) -> list[Face]:
        """Detect, align (at the model resolution) and encode the faces of an image.

        Args:
            image: a path or a uint8 ``H×W×3`` RGB array.
            aligned: treat the input as an aligned face crop (centre-cropped to a square if needed,
                then resized to the model).
            all_faces: every face (largest first) or only the largest.

        Returns:
            list of :class:`Face`, largest first.

        Raises:
            ImageReadError: unreadable file. NoFaceError: no face found (naming the input).
        """
        faces = self.prepare_faces(image, aligned=aligned, all_faces=all_faces)
        z = self.encode_crops([f.crop for f in faces])
        for f, code in zip(faces, z):
            f.z = code
        return faces

    def faces_from_faceset(self, faceset, indices: Iterable[int] | None = None) -> list[Face]:
        """Faces of FaceSet records (aligned crops; landmarks scaled to the model resolution), not encoded."""
        out = []
        s = self.resolution
        for i in (range(len(faceset)) if indices is None else indices):
            rec = faceset.records[i]
            crop = faceset.read_image(i)
            lm = None if rec.landmarks is None else rescale_landmarks(rec.landmarks, rec.size, s)
            out.append(Face(crop=resize(crop, s), z=None, landmarks=lm, source=rec.image, identity=rec.identity))
        return out

    # -- editing --------------------------------------------------------------------------------
    def _identity_for(self, face: Face, recipe: Recipe) -> str:
        if recipe.identity is not None:
            return recipe.identity
        return self._own_identity(face)

    def _own_identity(self, face: Face) -> str:
        """The decoder that reconstructs ``face`` (its own identity's, else the default)."""
        if face.identity is not None and face.identity in self.model.identities:
            return face.identity
        return self.default_identity

    def _region_mask(self, face: Face, region: str) -> np.ndarray:
        key = ("region", region)
        if key not in face._cache:
            face._cache[key] = region_weights(face.landmarks, self.resolution, region)
        return face._cache[key]

    def render(self, faces: Sequence[Face], recipe: Recipe, batch_size: int = 64) -> list[tuple[np.ndarray, np.ndarray]]:
        """Decode the edited codes of encoded faces (batched, grouped by decoder).

        Returns:
            per face ``(uint8 S×S×3 edited face, float32 S×S paste mask)``; the mask is the region
            mask for a region edit, else the ``face`` region (landmark hull) mask.
        """
        recipe.validate(self.attributes, self.identities)
        delta = None if recipe.is_identity_edit else self.direction(recipe).cpu()
        groups: dict[str, list[int]] = {}
        for i, f in enumerate(faces):
            if f.z is None:
                raise LatentEditError(f"{f.source}: face is not encoded (use find_faces)")
            groups.setdefault(self._identity_for(f, recipe), []).append(i)
        out: list[Any] = [None] * len(faces)
        for ident, idx in groups.items():
            for start in range(0, len(idx), batch_size):
                chunk = idx[start:start + batch_size]
                z = torch.stack([faces[i].z.detach().cpu().float() for i in chunk])
                z_edit = z if delta is None else z + delta
                rgb, mask = self.decode(z_edit, ident)
                if recipe.region != "none":
                    base = self._base_decode([faces[i] for i in chunk], z, ident)
                    masks = np.stack([self._region_mask(faces[i], recipe.region) for i in chunk])
                    rgb = blend_region(base, rgb, torch.from_numpy(masks))
                    paste = list(masks)
                else:
                    # The face hull from the landmarks, not the decoder's learned mask: it is defined
                    # for every model (a briefly trained mask can be near 0.5 everywhere).
                    paste = [self._region_mask(faces[i], "face") for i in chunk]
                edited = from_model(rgb)  # (n, S, S, 3) uint8
                for j, i in enumerate(chunk):
                    out[i] = (edited[j], paste[j])
        return out

    def _base_decode(self, faces: list[Face], z, ident: str):
        """Unedited decodes, cached on each face (a region-mode slider move decodes once, not twice)."""
        key = ("base", ident)
        # an entry is (code, decode); it is stale if the face's code was changed since
        missing = [k for k, f in enumerate(faces) if key not in f._cache or not torch.equal(f._cache[key][0], z[k])]
        if missing:
            rgb, _ = self.decode(z[missing], ident)
            for k, r in zip(missing, rgb):
                faces[k]._cache[key] = (z[k].clone(), r)
        return torch.stack([f._cache[key][1] for f in faces])

    def merge(self, frame: np.ndarray, face: Face, edited: np.ndarray, mask: np.ndarray, recipe: Recipe) -> np.ndarray:
        """Bring an edit into ``frame``: detail mode warps the photo (:mod:`latentedit.edit.detail`),
        replace mode pastes the edited crop with the recipe's merge options.

        Raises:
            LatentEditError: when the merge fails (e.g. the mask is too small for colour statistics).
        """
        if self.detail_geometry not in GEOMETRIES:
            raise LatentEditError(f"detail_geometry must be one of {', '.join(GEOMETRIES)}, got {self.detail_geometry!r}")
        # a decoder of another identity is a face swap: new texture, which only replace mode can show
        swap = recipe.identity is not None and recipe.identity != self._own_identity(face)
        if recipe.merge.mode == "detail" and not swap:
            return merge_or_fall_back(self, frame, face, edited, mask, recipe, self._paste)
        return self._paste(frame, face, edited, mask, recipe)

    def _paste(self, frame: np.ndarray, face: Face, edited: np.ndarray, mask: np.ndarray, recipe: Recipe) -> np.ndarray:
        """Replace mode: paste the edited crop (colour transfer, mask, feather)."""
        m = recipe.merge
        try:
            # The frame side of the paste (masks, warps, colour statistics) is cached on the face:
            # a slider move only recolours, warps and blends the new decode.
            plan = face._cache.get("paste")
            if plan is None or not plan.matches(frame, face.affine, edited.shape[0], mask, m.erode, m.feather):
                plan = PastePlan(frame, face.affine, edited.shape[0], mask, m.erode, m.feather)
                face._cache["paste"] = plan
            return plan.paste(edited, color=m.color, blend=m.blend)
        except ValueError as exc:
            raise LatentEditError(f"{face.source}: merge failed: {exc}") from None

    def apply(self, face: Face, recipe: Recipe) -> EditResult:
        """Edit one prepared face: the fast path of a slider move (shift, decode, blend, merge).

        Raises:
            RecipeError: if the recipe does not fit the model.
        """
        (edited, mask), = self.render([face], recipe)
        if face.image is None or face.affine is None:
            return EditResult(face=edited, image=edited, source=face.source, recipe=recipe)
        return EditResult(face=edited, image=self.merge(face.image, face, edited, mask, recipe),
                          source=face.source, recipe=recipe)

    def iter_edit(self, inputs, recipe: Recipe, batch_size: int = 32, aligned: bool = False,
                  progress: bool = False, num_workers: int = 0) -> Iterator[EditResult]:
        """Like :meth:`edit`, yielding results input by input (memory stays bounded)."""
        yield from iter_edit(self, inputs, recipe, batch_size=batch_size, aligned=aligned, progress=progress,
                             num_workers=num_workers)

    def edit(self, inputs, recipe: Recipe, batch_size: int = 32, progress: bool = False,
             aligned: bool = False, num_workers: int = 0) -> list[EditResult]:
        """Edit photos, videos, aligned crops or FaceSets in batches.

        Args:
            inputs: one or a list of: image paths, video paths (mp4/mov/avi/...), uint8 arrays,
                :class:`Face` objects, FaceSets or FaceSet folders.
            recipe: the edit.
            batch_size: inputs prepared per DataLoader batch, and faces per encode/decode pass.
            progress: show a progress bar.
            aligned: treat image paths/arrays as aligned crops (no detection).
            num_workers: DataLoader workers for reading and detecting.

        Returns:
            one :class:`EditResult` per face (per frame for videos, one per failed input with
            ``error`` set), in input order.

        Raises:
            RecipeError: if the recipe does not fit the model (checked before any work).
        """
        return list(self.iter_edit(inputs, recipe, batch_size=batch_size, aligned=aligned, progress=progress,
                                   num_workers=num_workers))

    def swap(self, inputs, identity: str, recipe: Recipe | None = None, **kw) -> list[EditResult]:
        """Swap-then-edit: encode the inputs' faces, apply ``recipe``, decode as ``identity``, merge.

        Same arguments as :meth:`edit` (``**kw``), with the decoder forced to ``identity``.

        Raises:
            RecipeError: for an unknown identity (naming the model's decoders) or a bad recipe.
        """
        # merge() re-renders a face decoded as another identity whatever the recipe's mode
        return self.edit(inputs, replace(recipe or Recipe(), identity=identity), **kw)
