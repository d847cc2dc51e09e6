"""Exercise checks for notebook 09 (regularization and data augmentation).

Every name in __all__ becomes `dlcourse.check.<name>`; each runs the student's function on fresh
random inputs and passes quietly or raises AssertionError with a hint that points at the idea, not at
the answer.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from dlcourse.check._common import call, require, tensor_close

__all__ = ["inverted_dropout", "soft_threshold", "flip_tta"]


def inverted_dropout(fn: Callable) -> None:
    """Exercise 1: fn(x, p, training) is inverted dropout (drop with prob p, rescale survivors)."""
    torch.manual_seed(0)
    x = torch.rand(200, 500) + 0.5  # strictly positive, so a zero means "dropped"
    for p in (0.2, 0.5):
        out = call(fn, x.clone(), p, True, name="my_dropout")
        require(isinstance(out, torch.Tensor) and out.shape == x.shape,
                "return a tensor of the input's shape (B, D)")
        dropped = (out == 0).float().mean().item()
        require(abs(dropped - p) <= 0.02, f"with p={p} about {p:.0%} of the units should be zero, got "
                f"{dropped:.1%}: p is the probability of dropping a unit")
        kept = out != 0
        tensor_close(out[kept], x[kept] / (1 - p),
                     "the survivors must be rescaled during training so that the expected activation "
                     "does not change; what factor keeps E[output] = x?")
    tensor_close(call(fn, x.clone(), 0.5, False, name="my_dropout"), x,
                 "at test time inverted dropout must leave the activations unchanged")


def soft_threshold(fn: Callable) -> None:
    """Exercise 2: fn(w, t) is the L1 proximal step: shrink every weight towards 0 by t, never past it."""
    torch.manual_seed(1)
    w = torch.randn(50, 40)
    for t in (0.0, 0.3, 1.0):
        expected = w.sign() * (w.abs() - t).clamp(min=0)
        tensor_close(call(fn, w.clone(), t, name="soft_threshold"), expected,
                     f"with t={t}: weights with |w| <= t become exactly 0 and the others move t closer "
                     "to 0 (keep their sign); does your version overshoot past zero?")


def flip_tta(fn: Callable) -> None:
    """Exercise 3: fn(model, X) -> class probabilities averaged over the image and its mirror image."""
    torch.manual_seed(2)
    model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10)).eval()
    X = torch.randn(6, 1, 28, 28)
    with torch.no_grad():
        expected = (model(X).softmax(-1) + model(X.flip(-1)).softmax(-1)) / 2
        actual = call(fn, model, X.clone(), name="flip_tta")
    tensor_close(actual, expected,
                 "average the softmax probabilities (not the logits) of X and of X flipped along the "
                 "width axis (the last one); each row should sum to 1")
