"""Regularizing the weights: an L1 penalty that reaches exact zeros, sparsity, and dropout written out.

Regularization matters when a model has few examples to learn from: `small_split` takes a small
training set and keeps every image it leaves out for measuring, so that differences of a point or
two between configurations are far larger than the measurement noise.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from dlcourse.callbacks import Callback
from dlcourse.data import ImageSet, stratified_indices


def penalized_weights(model: nn.Module) -> list[nn.Parameter]:
    """The parameters a weight penalty acts on: conv and linear weights (not biases, not norms)."""
    return [p for p in model.parameters() if p.ndim > 1]


def weight_vector(model: nn.Module) -> np.ndarray:
    """All penalized weights of `model` as one flat float array (for histograms)."""
    return torch.cat([p.detach().flatten().cpu() for p in penalized_weights(model)]).numpy()


def sparsity(model: nn.Module, tol: float = 0.0) -> float:
    """Fraction of penalized weights with magnitude at most `tol` (default 0: exactly zero)."""
    if tol < 0:
        raise ValueError(f"tol is a magnitude and must be >= 0, got {tol}")
    w = np.abs(weight_vector(model))
    return float((w <= tol).mean())


def small_split(train_set: ImageSet, test_set: ImageSet, n: int,
                seed: int = 0) -> tuple[ImageSet, ImageSet]:
    """A small training set and the unseen images: `(n stratified images, the rest + test_set)`.

    The training images are `train_set.subset(n, seed)`; the unseen set holds every other training
    image followed by the whole test set, none of which the model ever trains on.
    """
    if not 0 < n < len(train_set):
        raise ValueError(f"n must be in 1..{len(train_set) - 1} to leave unseen training images, "
                         f"got {n}")
    if train_set.X.shape[1:] != test_set.X.shape[1:] or train_set.classes != test_set.classes:
        raise ValueError("train_set and test_set must hold the same kind of images and classes, got "
                         f"{tuple(train_set.X.shape[1:])} {len(train_set.classes)} classes and "
                         f"{tuple(test_set.X.shape[1:])} {len(test_set.classes)} classes")
    idx = stratified_indices(train_set.y, n, seed)
    unused = torch.ones(len(train_set), dtype=torch.bool)
    unused[idx] = False
    small = ImageSet(train_set.X[idx], train_set.y[idx], train_set.classes, train_set.source,
                     train_set.mean, train_set.std)
    unseen = ImageSet(torch.cat([train_set.X[unused], test_set.X]),
                      torch.cat([train_set.y[unused], test_set.y]), train_set.classes,
                      f"{train_set.source} (unused) + {test_set.source}", train_set.mean,
                      train_set.std)
    return small, unseen


class L1Penalty(Callback):
    """Callback: an L1 penalty `lam * sum|w|` applied as a proximal step after each optimizer step.

    Soft-thresholding `w <- sign(w) * max(|w| - lr * lam, 0)` is the exact step for the L1 term
    (a plain subgradient would make weights oscillate around 0 instead of reaching it), so the
    weights it kills are exactly zero and the histogram shows the sparsity.
    """

    def __init__(self, lam: float) -> None:
        if lam < 0:
            raise ValueError(f"L1 strength lam must be >= 0, got {lam}")
        self.lam = lam

    @torch.no_grad()
    def shrink(self, model: nn.Module, lr: float) -> None:
        """Soft-threshold every penalized weight of `model` by `lr * lam`."""
        for w in penalized_weights(model):
            w.copy_(w.sign() * (w.abs() - lr * self.lam).clamp(min=0))

    def on_batch_end(self, state) -> None:
        """Shrink the weights with the learning rate the optimizer just used."""
        self.shrink(state.model, state.optimizer.param_groups[0]["lr"])


def dropout(x: torch.Tensor, p: float, training: bool = True, inverted: bool = True,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Drop each unit with probability `p`; the inverted form rescales at train time, not test time.

    Inverted: train `x * mask / (1 - p)`, test `x`. Classic (Srivastava et al., 2014): train
    `x * mask`, test `x * (1 - p)`. Both keep the expected activation the same in both phases.
    """
    if not 0 <= p < 1:
        raise ValueError(f"dropout probability p must be in [0, 1), got {p}")
    if not training:
        return x if inverted else x * (1 - p)
    mask = (torch.rand(x.shape, generator=generator, device=x.device) >= p).to(x.dtype)
    return x * mask / (1 - p) if inverted else x * mask
