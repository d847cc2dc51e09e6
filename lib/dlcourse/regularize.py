"""Regularizing the weights: an L1 penalty that reaches exact zeros, sparsity, and dropout written out."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from dlcourse.callbacks import Callback


def penalized_weights(model: nn.Module) -> list[nn.Parameter]:
    """The parameters a weight penalty acts on: conv and linear weights (not biases, not norms)."""
    return [p for p in model.parameters() if p.ndim > 1]


def weight_vector(model: nn.Module) -> np.ndarray:
    """All penalized weights of `model` as one flat float array (for histograms)."""
    return torch.cat([p.detach().flatten().cpu() for p in penalized_weights(model)]).numpy()


def sparsity(model: nn.Module, tol: float = 1e-3) -> float:
    """Fraction of penalized weights whose magnitude is below `tol`."""
    w = np.abs(weight_vector(model))
    return float((w < tol).mean())


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
