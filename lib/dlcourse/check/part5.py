"""Exercise checks for part 5 (regularization, augmentation, transfer learning, ensembles).

Each check runs the student's function on fresh random inputs and either returns quietly or raises
`AssertionError` with a hint that points at the idea, not at the answer.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

__all__ = ["inverted_dropout", "soft_threshold", "flip_tta", "freeze_all_but_head",
           "ensemble_average", "ema_update"]


def _close(actual, expected, hint: str, atol: float = 1e-5) -> None:
    if not isinstance(actual, torch.Tensor):
        raise AssertionError(f"expected a torch.Tensor, got {type(actual).__name__}. {hint}")
    if actual.shape != expected.shape:
        raise AssertionError(f"expected shape {tuple(expected.shape)}, got {tuple(actual.shape)}. "
                             f"{hint}")
    if not torch.allclose(actual.float(), expected.float(), atol=atol):
        raise AssertionError(hint)


def inverted_dropout(fn: Callable) -> None:
    """Check `fn(x, p, training)`: inverted dropout (drop with prob p, rescale survivors at train)."""
    torch.manual_seed(0)
    x = torch.rand(200, 500) + 0.5  # strictly positive, so a zero means "dropped"
    for p in (0.2, 0.5):
        out = fn(x.clone(), p, True)
        if not isinstance(out, torch.Tensor) or out.shape != x.shape:
            raise AssertionError("return a tensor of the input's shape (B, D)")
        dropped = (out == 0).float().mean().item()
        if abs(dropped - p) > 0.02:
            raise AssertionError(f"with p={p} about {p:.0%} of the units should be zero, got "
                                 f"{dropped:.1%}: p is the probability of dropping a unit")
        kept = out != 0
        _close(out[kept], x[kept] / (1 - p),
               "the survivors must be rescaled during training so that the expected activation "
               "does not change; what factor keeps E[output] = x?")
    _close(fn(x.clone(), 0.5, False), x,
           "at test time inverted dropout must leave the activations unchanged")


def soft_threshold(fn: Callable) -> None:
    """Check `fn(w, t)`: the L1 proximal step, shrinking every weight towards 0 by t, never past it."""
    torch.manual_seed(1)
    w = torch.randn(50, 40)
    for t in (0.0, 0.3, 1.0):
        expected = w.sign() * (w.abs() - t).clamp(min=0)
        _close(fn(w.clone(), t), expected,
               f"with t={t}: weights with |w| <= t become exactly 0 and the others move t closer "
               "to 0 (keep their sign); does your version overshoot past zero?")


def flip_tta(fn: Callable) -> None:
    """Check `fn(model, X)`: class probabilities averaged over the image and its mirror image."""
    torch.manual_seed(2)
    model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10)).eval()
    X = torch.randn(6, 1, 28, 28)
    with torch.no_grad():
        expected = (model(X).softmax(-1) + model(X.flip(-1)).softmax(-1)) / 2
        actual = fn(model, X)
    _close(actual, expected,
           "average the softmax probabilities (not the logits) of X and of X flipped along the "
           "width axis (the last one); each row should sum to 1")


def freeze_all_but_head(fn: Callable) -> None:
    """Check `fn(model)`: only the parameters of `model.head` stay trainable."""
    from dlcourse.checkpoints import course_cnn

    model = course_cnn(num_classes=5)
    out = fn(model)
    model = out if isinstance(out, nn.Module) else model
    wrong = [name for name, p in model.named_parameters()
             if p.requires_grad != name.startswith("head.")]
    if wrong:
        raise AssertionError(f"{len(wrong)} parameter tensors have the wrong requires_grad, e.g. "
                             f"{wrong[0]!r}: a linear probe trains the head and nothing else")


def ensemble_average(fn: Callable) -> None:
    """Check `fn(logits_list)`: the mean of the members' softmax probabilities, shape (N, K)."""
    torch.manual_seed(3)
    logits = [torch.randn(8, 5) * 3 for _ in range(4)]
    expected = torch.stack([z.softmax(-1) for z in logits]).mean(0)
    _close(fn([z.clone() for z in logits]), expected,
           "turn each member's logits into probabilities first, then average over the members; "
           "the result has one row per example and each row sums to 1")


def ema_update(fn: Callable) -> None:
    """Check `fn(avg, new, decay)`: one Polyak/EMA step, returning the new average tensor."""
    torch.manual_seed(4)
    avg, new = torch.randn(30), torch.randn(30)
    for decay in (0.9, 0.99):
        expected = decay * avg + (1 - decay) * new
        _close(fn(avg.clone(), new.clone(), decay), expected,
               f"with decay={decay} the average should move only a small step towards the new "
               "weights: which of the two gets the weight `decay`?")
