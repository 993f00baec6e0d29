"""``BoundaryFitter``: a scikit-learn-style estimator for linear attribute boundaries in latent space.

Methods:

* ``"svm"`` — InterFaceGAN's recipe: a linear SVM (``LinearSVC``) on the top / bottom ``ratio`` of a
  continuous score (or on all binary labels).
* ``"ridge"`` — closed-form regularised least squares on the scores (or on 0/1 labels); for a score
  that is linear in the code plus noise this is the efficient estimator of the direction, and it
  costs one ``D×D`` solve.
* ``"logistic"`` — logistic regression on binary labels (continuous scores are split at the
  training median).
* ``"mean"`` — the generative direction: the covariance of the codes with the score (for binary
  labels, the difference of the class means). Discriminative normals (ridge/logistic/svm) weight
  low-variance code directions heavily (they are ``Σ⁻¹·cov``), and a decoder barely responds to
  those; on a non-isotropic latent (an autoencoder's, unlike a GAN's N(0, I)) this direction is
  the one along which the codes of faces actually change with the attribute, so edits along it
  move the attribute. Compare both with ``latentedit bench quality`` (edit success).
* ``"auto"`` — ridge for continuous scores, logistic for binary labels.

Every method holds out a seeded validation split and reports balanced accuracy and ROC AUC on it.
For continuous scores the held-out labels are ``score > threshold_`` with ``threshold_`` the
training median, and the prediction is the sign of ``z·normal_ + intercept_``.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.svm import LinearSVC

from ..errors import LatentEditError
from .boundary import Boundary
from .projection import project_orthogonal

METHODS = ("auto", "svm", "ridge", "logistic", "mean")


def _to_numpy(x, what: str, ndim: int, dtype=np.float64) -> np.ndarray:
    arr = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
    arr = np.asarray(arr, dtype=dtype)
    if arr.ndim != ndim:
        raise LatentEditError(f"{what}: expected {ndim}-D data, got shape {arr.shape}")
    return arr


def is_binary(y: np.ndarray) -> bool:
    """Whether finite labels take exactly two distinct values (e.g. CelebA 0/1 or ±1)."""
    values = np.unique(y[np.isfinite(y)])
    return values.size == 2


class BoundaryFitter:
    """Fit a unit normal ``n`` and intercept ``b`` so that ``z·n + b > 0`` predicts the attribute.

    Args:
        method: ``"auto"``, ``"svm"``, ``"ridge"`` or ``"logistic"`` (see the module docstring).
        ratio: for ``"svm"`` on continuous scores, the fraction of training codes taken from each
            end of the score range (InterFaceGAN uses 0.02); ignored otherwise.
        val_fraction: fraction of the (non-NaN) codes held out for validation.
        C: inverse regularisation strength for ``"svm"`` and ``"logistic"``.
        ridge_lambda: ridge penalty, relative to the mean per-dimension variance times ``n``.
        max_train: optional cap on training codes for ``"svm"`` (a seeded subsample), as SVMs scale
            super-linearly; None keeps them all.
        random_state: seed for the split and subsampling.

    Attributes (after ``fit``):
        normal_: float32 unit vector ``(D,)``. intercept_: float. method_: the method used.
        binary_: whether labels were binary. threshold_: the score threshold (continuous) or the
        positive label value (binary). val_accuracy_: held-out balanced accuracy. val_auc_:
        held-out ROC AUC. n_train_, n_val_: codes used. n_positive_, n_negative_: class counts over
        all used codes. std_: std of ``z·normal_`` over all used codes. fit_seconds_: wall time.
    """

    def __init__(self, method: str = "auto", ratio: float = 0.02, val_fraction: float = 0.2,
                 C: float = 1.0, ridge_lambda: float = 1e-3, max_train: int | None = None,
                 random_state: int | None = 0) -> None:
        self.method = method
        self.ratio = ratio
        self.val_fraction = val_fraction
        self.C = C
        self.ridge_lambda = ridge_lambda
        self.max_train = max_train
        self.random_state = random_state

    def get_params(self, deep: bool = True) -> dict:
        """The constructor parameters (scikit-learn convention)."""
        return {k: getattr(self, k) for k in ("method", "ratio", "val_fraction", "C", "ridge_lambda",
                                                "max_train", "random_state")}

    def set_params(self, **params) -> "BoundaryFitter":
        """Set constructor parameters (scikit-learn convention)."""
        for k, v in params.items():
            if k not in self.get_params():
                raise ValueError(f"unknown parameter {k!r}")
            setattr(self, k, v)
        return self

    # -- fitting --------------------------------------------------------------------------------
    def fit(self, z, y, hold=None) -> "BoundaryFitter":
        """Fit the boundary.

        Args:
            z: latent codes ``N×D`` (numpy array or tensor).
            y: ``N`` labels: continuous scores or binary labels; NaN entries are dropped.
            hold: optional normals (``k×D`` or a list of ``(D,)``) to condition on: the fitted normal
                is made orthogonal to all of them (:func:`~latentedit.latent.project_orthogonal`),
                the intercept is re-chosen on the training codes and every score is measured for
                the conditioned direction (the unconditioned ones are kept in
                ``unconditioned_normal_`` / ``unconditioned_val_accuracy_``).

        Returns:
            self.

        Raises:
            LatentEditError: for bad shapes, an unknown method, too few labelled codes, a single
                class, or non-finite codes.
        """
        t0 = time.perf_counter()
        if self.method not in METHODS:
            raise LatentEditError(f"unknown boundary method {self.method!r}; expected one of {', '.join(METHODS)}")
        if not 0.0 < self.val_fraction < 1.0:
            raise LatentEditError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        if self.method == "svm" and not 0.0 < self.ratio <= 0.5:
            raise LatentEditError(f"ratio must be in (0, 0.5], got {self.ratio}")
        z = _to_numpy(z, "codes z", 2, np.float32)  # float32 halves the memory traffic of every pass
        y = _to_numpy(y, "labels y", 1)
        if z.shape[0] != y.shape[0]:
            raise LatentEditError(f"{z.shape[0]} codes but {y.shape[0]} labels")
        keep = np.isfinite(y)
        z, y = z[keep], y[keep]
        if not np.all(np.isfinite(z)):
            raise LatentEditError("codes z contain NaN or infinity")
        if z.shape[0] < 10:
            raise LatentEditError(f"only {z.shape[0]} labelled codes (after dropping NaN); need at least 10")
        binary = is_binary(y)
        if not binary and np.unique(y).size < 2:
            raise LatentEditError("every label has the same value; there is no boundary to fit")
        method = self.method
        if method == "auto":
            method = "logistic" if binary else "ridge"

        rng = np.random.default_rng(self.random_state)
        perm = rng.permutation(z.shape[0])
        n_val = max(2, int(round(z.shape[0] * self.val_fraction)))
        val_idx, train_idx = perm[:n_val], perm[n_val:]
        z_tr, y_tr, z_va, y_va = z[train_idx], y[train_idx], z[val_idx], y[val_idx]

        if binary:
            self.threshold_ = float(np.max(np.unique(y)))  # the positive label value
            lab_tr, lab_va, lab_all = y_tr == self.threshold_, y_va == self.threshold_, y == self.threshold_
        else:
            self.threshold_ = float(np.median(y_tr))
            lab_tr, lab_va, lab_all = y_tr > self.threshold_, y_va > self.threshold_, y > self.threshold_
        if lab_tr.all() or not lab_tr.any():
            raise LatentEditError("the training split holds a single class; need both positive and negative codes")

        if method == "ridge":
            w, b = self._fit_ridge(z_tr, y_tr.astype(np.float64) if not binary else lab_tr.astype(np.float64),
                                   lab_tr if binary else None)
            if not binary:
                b = b - self.threshold_
            else:
                b = b - 0.5
        elif method == "logistic":
            w, b = self._fit_logistic(z_tr, lab_tr)
        elif method == "mean":
            w, b = self._fit_mean(z_tr, y_tr, lab_tr, binary)
        else:
            w, b, z_tr = self._fit_svm(z_tr, y_tr, lab_tr, binary, rng)
        norm = float(np.linalg.norm(w))
        if not math.isfinite(norm) or norm == 0.0:
            raise LatentEditError(f"{method} fit produced a degenerate normal (norm {norm})")

        self.normal_ = (w / norm).astype(np.float32)
        self.intercept_ = float(b / norm)
        if hold is not None and len(hold):
            self.unconditioned_normal_ = self.normal_
            self.unconditioned_val_accuracy_, _ = self._validate(z_va, lab_va)
            self.normal_ = project_orthogonal(self.normal_, list(np.asarray(hold, dtype=np.float64).reshape(-1, z.shape[1])))
            # the old intercept belonged to the old direction: put the threshold midway between the
            # class means of the new projection (equal priors, like the balanced class weights)
            proj = z_tr @ self.normal_
            self.intercept_ = -0.5 * float(proj[lab_tr].mean() + proj[~lab_tr].mean())
        self.method_ = method
        self.binary_ = binary
        self.n_train_ = int(z_tr.shape[0])
        self.n_val_ = int(z_va.shape[0])
        self.n_positive_ = int(lab_all.sum())
        self.n_negative_ = int((~lab_all).sum())
        self.std_ = float(np.std(z @ self.normal_))
        self.val_accuracy_, self.val_auc_ = self._validate(z_va, lab_va)
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def _fit_ridge(self, z, target, labels):
        # The D×D normal equations are formed in float32 with BLAS (the cost: one N×D×D matmul)
        # and solved in float64 by Cholesky; centred standard-scale codes keep float32 accurate.
        zt = torch.from_numpy(np.ascontiguousarray(z))
        if labels is None:  # plain least squares
            w_s = np.full(z.shape[0], 1.0 / z.shape[0])
        else:  # balance the classes so the boundary is not pulled towards the majority
            pos = labels.mean()
            w_s = np.where(labels, 0.5 / pos, 0.5 / (1.0 - pos)) / z.shape[0]
        sw = torch.from_numpy(w_s.astype(np.float32))
        mu_z = sw @ zt                                                   # (D,)
        mu_t = float(w_s @ target)
        zc = zt - mu_z
        tc = torch.from_numpy((target - mu_t).astype(np.float32))
        zw = zc * sw[:, None] if labels is not None else zc / z.shape[0]
        gram = (zw.T @ zc).double()                                      # (D, D) weighted covariance
        rhs = (zw.T @ tc).double()                                       # (D,)
        lam = self.ridge_lambda * float(torch.trace(gram)) / gram.shape[0]
        gram.diagonal().add_(lam)
        # torch's LAPACK, not scipy's: mixing two BLAS thread pools on a busy machine costs seconds.
        chol = torch.linalg.cholesky(gram)
        w = torch.cholesky_solve(rhs[:, None], chol)[:, 0].numpy()
        return w, float(mu_t - mu_z.double().numpy() @ w)

    @staticmethod
    def _fit_mean(z, y, labels, binary):
        if binary:
            w = z[labels].mean(0) - z[~labels].mean(0)
        else:
            w = (z - z.mean(0)).T @ (y - y.mean()) / z.shape[0]    # cov(z, y), (D,)
        proj = z @ w
        return w, -0.5 * float(proj[labels].mean() + proj[~labels].mean())

    def _fit_logistic(self, z, labels):
        clf = LogisticRegression(C=self.C, class_weight="balanced", max_iter=1000)
        clf.fit(z, labels)
        return clf.coef_[0].astype(np.float64), float(clf.intercept_[0])

    def _fit_svm(self, z, y, labels, binary, rng):
        if not binary:  # InterFaceGAN: train on the clearest examples at both ends of the score
            k = max(1, int(round(z.shape[0] * self.ratio)))
            order = np.argsort(y, kind="stable")
            sel = np.concatenate([order[:k], order[-k:]])
            z, labels = z[sel], labels[sel]
        if self.max_train is not None and z.shape[0] > self.max_train:
            sub = rng.choice(z.shape[0], size=self.max_train, replace=False)
            z, labels = z[sub], labels[sub]
        clf = LinearSVC(C=self.C, class_weight="balanced", dual="auto", max_iter=5000,
                        random_state=self.random_state)
        clf.fit(z, labels)
        return clf.coef_[0].astype(np.float64), float(clf.intercept_[0]), z

    def _validate(self, z_va, lab_va) -> tuple[float, float]:
        if lab_va.all() or not lab_va.any():
            return float("nan"), float("nan")
        margin = self.decision_function(z_va)
        return (float(balanced_accuracy_score(lab_va, margin > 0)), float(roc_auc_score(lab_va, margin)))

    # -- use ------------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "normal_"):
            raise LatentEditError("this BoundaryFitter is not fitted yet; call fit(z, y) first")

    def decision_function(self, z) -> np.ndarray:
        """Signed distance ``z·normal_ + intercept_`` of each code to the boundary (in latent units)."""
        self._check_fitted()
        z = _to_numpy(z, "codes z", 2, np.float32)
        return (z @ self.normal_).astype(np.float64) + self.intercept_

    def predict(self, z) -> np.ndarray:
        """Boolean prediction ``decision_function(z) > 0``."""
        return self.decision_function(z) > 0

    def to_boundary(self, attribute: str, model_id: str, conditioned_on=(), meta: dict | None = None):
        """Package the fitted direction as a :class:`~latentedit.latent.boundary.Boundary`.

        Args:
            attribute: the attribute name. model_id: the id of the model whose codes were fitted.
            conditioned_on: attributes the normal was made orthogonal to (the caller projects it).
            meta: extra JSON-serialisable metadata stored with the boundary.
        """
        self._check_fitted()
        return Boundary(attribute=attribute, normal=self.normal_.copy(), intercept=self.intercept_,
                        model_id=model_id, method=self.method_, conditioned_on=list(conditioned_on),
                        val_accuracy=self.val_accuracy_, val_auc=self.val_auc_, n_train=self.n_train_,
                        n_val=self.n_val_, n_positive=self.n_positive_, n_negative=self.n_negative_,
                        std=self.std_, binary=self.binary_, threshold=self.threshold_, meta=dict(meta or {}))
