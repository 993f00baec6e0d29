"""SynthFaces rendered on the fly, with the same items as a FaceSet of the same seed.

``SynthDataset(identities=N, per_identity=M, size=S, seed=K)[n]`` is exactly the ``n``-th item of
``FaceSet(synth_faceset(..., identities=N, per_identity=M, size=S, seed=K))`` without writing a
file, so a training run can draw fresh synthetic faces in DataLoader workers instead of reading
PNGs. It is a plain map-style dataset (``__len__``/``__getitem__``); torch is imported on use.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from ..errors import LatentEditError
from .generate import expression_params, identity_label, identity_params
from .params import SYNTH_ATTRIBUTES, ExpressionParams, IdentityParams
from .render import MAX_SIZE, MIN_SIZE, RenderResult, render


class SynthDataset:
    """Map-style dataset of SynthFaces: item ``n`` is identity ``n // per_identity``, expression
    ``n % per_identity`` of dataset ``seed``.

    Args:
        identities: number of people (≥ 1).
        per_identity: images per person (≥ 1).
        size: crop side in pixels.
        seed: dataset seed (the same as ``latentedit synth --seed``).
        transform: optional callable applied to each item's float image tensor.

    Raises:
        LatentEditError: for bad counts, size or seed.
    """

    def __init__(self, identities: int, per_identity: int, size: int = 128, seed: int = 0,
                 transform: Callable | None = None) -> None:
        for name, v in (("identities", identities), ("per_identity", per_identity)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise LatentEditError(f"{name} must be a positive integer, got {v!r}")
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not MIN_SIZE <= size <= MAX_SIZE:
            raise LatentEditError(f"size must be an integer in [{MIN_SIZE}, {MAX_SIZE}], got {size!r}")
        self.n_identities, self.per_identity, self.size = int(identities), int(per_identity), int(size)
        self.seed = int(seed)
        identity_params(self.seed, 0)  # validates the seed
        self.transform = transform

    def __len__(self) -> int:
        return self.n_identities * self.per_identity

    def params(self, index: int) -> tuple[IdentityParams, ExpressionParams]:
        """The (identity, expression) parameters of item ``index``.

        Raises:
            IndexError: outside ``[-len, len)``.
        """
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for {n} SynthFaces")
        index %= n
        i, j = divmod(index, self.per_identity)
        return identity_params(self.seed, i), expression_params(self.seed, i, j)

    def render(self, index: int, masks: bool = False) -> RenderResult:
        """Render item ``index`` (image, landmarks, attributes; masks if asked)."""
        ident, expr = self.params(index)
        return render(ident, expr, self.size, masks=masks)

    def __getitem__(self, index: int) -> dict[str, Any]:
        res = self.render(index)
        tensor = torch.from_numpy(res.image).permute(2, 0, 1).float().div_(255.0)  # (3, S, S) in [0, 1]
        if self.transform is not None:
            tensor = self.transform(tensor)
        return {"image": tensor, "index": int(index) % len(self),
                "identity": identity_label((int(index) % len(self)) // self.per_identity),
                "attributes": dict(res.attributes)}

    @property
    def identities(self) -> list[str]:
        """Identity labels ``id000`` … in order."""
        return [identity_label(i) for i in range(self.n_identities)]

    @property
    def attribute_names(self) -> list[str]:
        """Sorted attribute names (all :data:`SYNTH_ATTRIBUTES`)."""
        return sorted(SYNTH_ATTRIBUTES)

    def __repr__(self) -> str:
        return (f"SynthDataset({self.n_identities} identities × {self.per_identity}, size={self.size}, "
                f"seed={self.seed})")
