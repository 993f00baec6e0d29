"""A supervised reference for the CelebA boundary experiment: a small CNN trained *with the labels* on
the same training faces, scored by the same held-out balanced accuracy.

The latent and PCA columns of :mod:`latentedit.eval.bench.celeba_boundaries` are linear probes of features
learned (or computed) without labels. This column says what the labelled faces themselves support at
this resolution and data size, so a target such as "Smiling ≥ 0.92" can be read against what
supervision on the same 8,000 faces reaches, not only against published classifiers trained on
160,000 faces at higher resolution.

One network predicts every attribute at once (a multi-label head; each attribute's loss is weighted
by its training class balance, and rows whose label is missing are masked out). The decision is
``logit > 0``, which that weighting makes a balanced-accuracy decision.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.metrics import balanced_accuracy_score
from tqdm.auto import tqdm


def _network(n_out: int):
    def block(cin: int, cout: int) -> nn.Module:
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                             nn.ReLU(inplace=True), nn.MaxPool2d(2))

    return nn.Sequential(block(3, 32), block(32, 64), block(64, 128), block(128, 128),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(128, n_out))


def supervised_cnn_bacc(images: np.ndarray, labels: np.ndarray, train: np.ndarray, val: np.ndarray,
                        epochs: int = 15, batch: int = 64, lr: float = 2e-3, seed: int = 0,
                        progress: bool = True) -> list[float]:
    """Train a small CNN on ``images[train]`` for every column of ``labels`` and return each column's
    held-out balanced accuracy on ``images[val]``.

    Args:
        images: ``N×3×S×S`` float pixels in ``[0, 1]`` (or ``N×(3·S·S)`` rows, reshaped square).
        labels: ``N×A`` boolean-like labels; NaN marks a missing label (masked out of loss and score).
        train, val: index arrays of the split (the same split as the linear probes).
        epochs: passes over the training faces (one-cycle cosine learning rate, horizontal flips).
    """
    x = torch.as_tensor(np.asarray(images, np.float32))
    if x.dim() == 2:
        size = int(round((x.shape[1] / 3) ** 0.5))
        x = x.view(-1, 3, size, size)
    x = x * 2 - 1
    y = torch.as_tensor(np.asarray(labels, np.float32))
    known = torch.isfinite(y)
    y = torch.nan_to_num(y, nan=0.0)
    pos = (y[train] * known[train]).sum(0)
    neg = known[train].sum(0) - pos
    pos_weight = (neg / pos.clamp_min(1)).clamp(0.05, 20.0)

    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = _network(y.shape[1])
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-3)
    steps = epochs * ((len(train) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(steps, 1))
    tr = torch.as_tensor(np.asarray(train, np.int64))
    it = range(epochs)
    if progress:
        it = tqdm(it, desc="supervised CNN reference", unit="epoch")
    for _ in it:
        net.train()
        order = tr[torch.randperm(len(tr), generator=gen)]
        for i in range(0, len(order), batch):
            b = order[i:i + batch]
            xb = x[b]
            flip = torch.rand(len(b), generator=gen) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            loss = F.binary_cross_entropy_with_logits(net(xb), y[b], pos_weight=pos_weight, reduction="none")
            loss = (loss * known[b]).sum() / known[b].sum().clamp_min(1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    net.eval()
    va = torch.as_tensor(np.asarray(val, np.int64))
    with torch.inference_mode():
        logits = torch.cat([net(x[va[i:i + 256]]) for i in range(0, len(va), 256)])
    out = []
    for j in range(y.shape[1]):
        k = known[va, j]
        truth = y[va, j][k].numpy() > 0.5
        out.append(float(balanced_accuracy_score(truth, logits[k, j].numpy() > 0))
                   if k.any() and 0 < truth.mean() < 1 else float("nan"))
    return out
