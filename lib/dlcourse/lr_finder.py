"""The learning-rate range test (Smith 2017, arXiv:1506.01186): raise lr exponentially, watch the loss."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

from torch import nn

from dlcourse.evaluation import as_batches, model_device
from dlcourse.optim import check_lr, make_optimizer


@dataclass
class LRFinderResult:
    """Learning rates tried, the smoothed loss at each, and a suggested lr (a tenth of the best)."""

    lrs: list[float]
    losses: list[float]
    suggestion: float

    def plot(self, ax=None):
        """Smoothed loss against learning rate (log scale), the suggestion marked."""
        import matplotlib.pyplot as plt

        ax = ax or plt.subplots(figsize=(5, 3))[1]
        ax.plot(self.lrs, self.losses)
        ax.axvline(self.suggestion, color="C3", ls="--", label=f"suggested lr {self.suggestion:.2g}")
        ax.set(xscale="log", xlabel="learning rate", ylabel="loss (smoothed)", title="LR range test")
        ax.legend()
        return ax


def lr_find(model: nn.Module, data, *, start_lr: float = 1e-6, end_lr: float = 10.0,
            num_steps: int = 100, optimizer: str = "sgd", loss_fn: nn.Module | None = None,
            smoothing: float = 0.9) -> LRFinderResult:
    """Train for `num_steps` batches with lr rising from start_lr to end_lr; the model is restored after.

    Stops early once the smoothed loss exceeds 4x its minimum. Suggests one tenth of the lr with the
    lowest smoothed loss: still on the steep, stable part of the curve.
    """
    start_lr, end_lr = check_lr(start_lr, "start_lr"), check_lr(end_lr, "end_lr")
    if not start_lr < end_lr:
        raise ValueError(f"need 0 < start_lr < end_lr, got {start_lr}, {end_lr}")
    saved = copy.deepcopy(model.state_dict())
    device = model_device(model)
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    opt = make_optimizer(model, optimizer, start_lr)
    factor = (end_lr / start_lr) ** (1 / max(num_steps - 1, 1))
    was_training = model.training
    model.train()
    try:
        lrs, losses = _sweep(model, as_batches(data, "data"), opt, loss_fn, device, start_lr, factor,
                             num_steps, smoothing)
    finally:  # also after Ctrl-C: the model leaves the test as it came in
        model.load_state_dict(saved)
        model.train(was_training)
    if not losses:
        raise RuntimeError("the loss diverged at once: lower start_lr")
    return LRFinderResult(lrs, losses, lrs[losses.index(min(losses))] / 10)


def _sweep(model, batches, opt, loss_fn, device, start_lr, factor, num_steps, smoothing):
    """The range test's steps: (lrs, smoothed losses) up to divergence or num_steps."""
    lrs, losses, avg, best = [], [], 0.0, math.inf
    step = 0
    while step < num_steps:
        before = step
        for X, y in batches:
            lr = start_lr * factor**step
            for group in opt.param_groups:
                group["lr"] = lr
            loss = loss_fn(model(X.to(device)), y.to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            avg = smoothing * avg + (1 - smoothing) * loss.item()
            smoothed = avg / (1 - smoothing ** (step + 1))  # bias correction of the running mean
            step += 1
            if not math.isfinite(smoothed) or smoothed > 4 * best or step >= num_steps:
                step = num_steps
                break
            lrs.append(lr)
            losses.append(smoothed)
            best = min(best, smoothed)
        if step == before:
            raise ValueError("the data yields no batches: use drop_last=False or a smaller batch_size")
    return lrs, losses
