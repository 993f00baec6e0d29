"""Conditional editing: make an edit direction orthogonal to the directions held fixed.

InterFaceGAN conditions one boundary on another by removing its component along the other
normal. With several conditions the components must be removed along the *span* of all of
them (the normals are generally not orthogonal to each other, so subtracting each projection in
turn is wrong); an orthonormal basis of that span comes from a pivoted QR decomposition.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.linalg import qr

from ..errors import LatentEditError

#: A direction whose residual norm falls below this fraction of its own norm is treated as lying
#: in the span of the conditions (there is nothing left to edit along).
SPAN_TOLERANCE = 1e-6


def _as_vector(v, what: str) -> np.ndarray:
    arr = v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim != 1:
        raise LatentEditError(f"{what}: expected a 1-D vector, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise LatentEditError(f"{what}: contains NaN or infinity")
    return arr


def span_basis(others: Sequence, dim: int) -> np.ndarray:
    """An orthonormal basis of the span of ``others``.

    Args:
        others: vectors of length ``dim`` (arrays, tensors or lists), or a ``k×dim`` array.
        dim: the latent dimension every vector must have.

    Returns:
        ``dim×r`` float64 array with orthonormal columns, ``r`` = rank of ``others`` (0 columns
        when ``others`` is empty or all zero).

    Raises:
        LatentEditError: if a vector has the wrong length or is not finite.
    """
    vecs = [_as_vector(o, f"condition {i}") for i, o in enumerate(others)]
    for i, v in enumerate(vecs):
        if v.shape[0] != dim:
            raise LatentEditError(f"condition {i} has dimension {v.shape[0]}, but the edited normal has {dim}")
    if not vecs:
        return np.zeros((dim, 0))

    a = np.stack(vecs, axis=1)                               # (D, k)
    q, r, _ = qr(a, mode="economic", pivoting=True)          # |diag r| is non-increasing
    diag = np.abs(np.diag(r))
    if diag.size == 0 or diag[0] == 0.0:
        return np.zeros((dim, 0))
    rank = int(np.sum(diag > diag[0] * 1e-10))
    return q[:, :rank]


def project_orthogonal(normal, others: Sequence = ()) -> np.ndarray:
    """Remove from ``normal`` its component in the span of ``others`` and renormalise.

    Moving a code along the result leaves its projection onto every vector in ``others``
    unchanged, so the attributes those normals predict are held fixed (to first order).

    Args:
        normal: the edit direction, shape ``(D,)`` (need not be unit length).
        others: any number of directions to hold fixed, each ``(D,)``; may be linearly dependent.

    Returns:
        float32 unit vector of shape ``(D,)`` orthogonal to every vector in ``others``.

    Raises:
        LatentEditError: if shapes disagree, values are not finite, ``normal`` is zero, or
            ``normal`` lies (numerically) in the span of ``others``.
    """
    n = _as_vector(normal, "normal")
    norm = np.linalg.norm(n)
    if norm == 0.0:
        raise LatentEditError("normal is the zero vector")
    n = n / norm
    if isinstance(others, np.ndarray) and others.ndim == 2:
        others = list(others)
    q = span_basis(list(others), n.shape[0])
    residual = n - q @ (q.T @ n)
    # One re-orthogonalisation pass keeps the result orthogonal to machine precision
    # (classical Gram-Schmidt loses orthogonality when n is nearly in the span).
    residual = residual - q @ (q.T @ residual)
    rnorm = np.linalg.norm(residual)
    if rnorm < SPAN_TOLERANCE:
        raise LatentEditError(
            f"the direction lies in the span of the {len(others)} held direction(s) "
            f"(residual norm {rnorm:.2e}); nothing is left to edit once they are held fixed")
    return (residual / rnorm).astype(np.float32)
