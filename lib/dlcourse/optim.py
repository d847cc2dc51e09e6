"""Optimizers and learning-rate schedules by name, shared by `fit` and the lr range test."""

from __future__ import annotations

import math

import torch
from torch import nn


def check_lr(lr, name: str = "lr") -> float:
    """`lr` as a float, or a ValueError unless it is a finite number > 0."""
    if isinstance(lr, bool) or not isinstance(lr, (int, float)):
        raise TypeError(f"{name} must be a number such as 0.1, got {type(lr).__name__} {lr!r}")
    if not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"{name} must be a finite number > 0 such as 0.1, got {lr}")
    return float(lr)


def make_optimizer(model: nn.Module, name: str, lr: float, weight_decay: float = 0.0):
    """"sgd" (Nesterov, momentum 0.9), "adam" or "adamw" over all of the model's parameters."""
    lr = check_lr(lr)
    params = model.parameters()
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be 'sgd', 'adam' or 'adamw', got {name!r}")


def make_schedule(optimizer, name: str | None, lr: float, total_steps: int):
    """A per-step learning-rate schedule: "onecycle" (warm up 25%, then anneal), "cosine" or None.

    A run of fewer than 8 steps warms up for 2 steps (torch's one-cycle divides by zero at 4 steps
    with a 25% warm-up), and one of 1 or 2 steps keeps the lr constant.
    """
    if name is None:
        return None
    if name == "onecycle":
        if total_steps < 3:
            return None
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total_steps,
                                                   pct_start=max(0.25, 2 / total_steps))
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    raise ValueError(f"schedule must be 'onecycle', 'cosine' or None, got {name!r}")
