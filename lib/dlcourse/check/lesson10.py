"""Exercise checks for notebook 10 (transfer learning and model ensembles).

Every name in __all__ becomes `dlcourse.check.<name>`; each runs the student's function on fresh
random inputs and passes quietly or raises AssertionError with a hint that points at the idea, not at
the answer.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from dlcourse.check._common import call, tensor_close

__all__ = ["freeze_all_but_head", "ensemble_average", "ema_update"]


def freeze_all_but_head(fn: Callable) -> None:
    """Exercise 1: after fn(model), only the parameters of `model.head` stay trainable."""
    from dlcourse.checkpoints import course_cnn  # only when checked: checkpoints imports train

    model = course_cnn(num_classes=5)
    out = call(fn, model, name="freeze_all_but_head", returns=False)
    model = out if isinstance(out, nn.Module) else model
    wrong = [name for name, p in model.named_parameters() if p.requires_grad != name.startswith("head.")]
    if wrong:
        raise AssertionError(f"{len(wrong)} parameter tensors have the wrong requires_grad, e.g. "
                             f"{wrong[0]!r}: a linear probe trains the head and nothing else")


def ensemble_average(fn: Callable) -> None:
    """Exercise 2: fn(logits_list) -> the mean of the members' softmax probabilities, shape (N, K)."""
    torch.manual_seed(3)
    logits = [torch.randn(8, 5) * 3 for _ in range(4)]
    expected = torch.stack([z.softmax(-1) for z in logits]).mean(0)
    tensor_close(call(fn, [z.clone() for z in logits], name="ensemble_average"), expected,
                 "turn each member's logits into probabilities first, then average over the members; "
                 "the result has one row per example and each row sums to 1")


def ema_update(fn: Callable) -> None:
    """Exercise 3: fn(avg, new, decay) is one Polyak/EMA step, returning the new average tensor."""
    torch.manual_seed(4)
    avg, new = torch.randn(30), torch.randn(30)
    for decay in (0.9, 0.99):
        expected = decay * avg + (1 - decay) * new
        tensor_close(call(fn, avg.clone(), new.clone(), decay, name="ema_update"), expected,
                     f"with decay={decay} the average should move only a small step towards the new "
                     "weights: which of the two gets the weight `decay`?")
