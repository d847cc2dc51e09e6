"""Probes that measure why residual networks train: gradients, paths, lesions, flows, statistics.

Every function takes a plain `nn.Module` (or a callable) and returns numbers; plotting lives in
`dlcourse.viz.resnet`.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import nn


def layer_grad_norms(
    model: nn.Module, X: torch.Tensor, y: torch.Tensor, loss_fn: Callable | None = None
) -> dict[str, float]:
    """L2 norm of dLoss/dW for every Linear/Conv weight, in forward (input -> output) order.

    Args:
        model: the network (left in the mode it is in; gradients are cleared afterwards).
        X, y: one batch; `loss_fn(model(X), y)` must be a scalar (default: cross-entropy).
    """
    loss_fn = loss_fn if loss_fn is not None else nn.functional.cross_entropy
    layers = [
        (name, m)
        for name, m in model.named_modules()
        if isinstance(m, nn.Linear | nn.Conv1d | nn.Conv2d)
    ]
    if not layers:
        raise ValueError("model has no nn.Linear or nn.Conv layers whose gradients could be probed")
    model.zero_grad(set_to_none=True)
    loss_fn(model(X), y).backward()
    norms = {name: float(m.weight.grad.norm()) for name, m in layers}
    model.zero_grad(set_to_none=True)
    return norms


def layer_signal_norms(
    model: nn.Module, X: torch.Tensor, y: torch.Tensor, loss_fn: Callable | None = None
) -> dict[str, tuple[float, float]]:
    """(||input||, ||dLoss/doutput||) of every Linear/Conv layer, in forward order, for one batch.

    A layer's weight gradient is built from these two: for a Linear layer dL/dW = delta^T a, with a
    the input it received (forward signal) and delta = dL/d(its output) (backward signal).
    """
    loss_fn = loss_fn if loss_fn is not None else nn.functional.cross_entropy
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear | nn.Conv1d | nn.Conv2d)]
    if not layers:
        raise ValueError("model has no nn.Linear or nn.Conv layers whose signals could be probed")
    inputs, outputs = {}, {}

    def keep(name):
        def hook(module, args, out):
            inputs[name] = float(args[0].detach().norm())
            out.register_hook(lambda g: outputs.__setitem__(name, float(g.norm())))
        return hook

    handles = [m.register_forward_hook(keep(n)) for n, m in layers]
    try:
        model.zero_grad(set_to_none=True)
        loss_fn(model(X), y).backward()
    finally:
        for h in handles:
            h.remove()
        model.zero_grad(set_to_none=True)
    return {n: (inputs[n], outputs[n]) for n, _ in layers}


@torch.no_grad()
def calibrate_batchnorm(model: nn.Module, X: torch.Tensor) -> nn.Module:
    """Set every BatchNorm's running statistics to those of batch `X`, then switch to eval mode.

    After this the net is a fixed per-sample function (no cross-talk between inputs through batch
    statistics), so its input gradient is well defined and can be checked by finite differences.
    """
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average: after one batch it equals that batch's stats
    model.train()
    model(X)
    return model.eval()


def input_gradients(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """dy/dx at every point of a 1-D sweep x (N, 1) for a scalar-output model: returns (N,).

    Samples are independent in eval mode, so the gradient of the summed output gives every
    per-sample derivative in one backward pass.
    """
    if x.ndim != 2 or x.shape[1] != 1:
        raise ValueError(
            f"expected a 1-D sweep of shape (N, 1), got {tuple(x.shape)}; use x.reshape(-1, 1)"
        )
    x = x.detach().clone().requires_grad_(True)
    y = model(x)  # (N, 1)
    if y.shape[1] != 1:
        raise ValueError(f"model must have one output, got {y.shape[1]}; select one with a wrapper")
    (grad,) = torch.autograd.grad(y.sum(), x)
    return grad.squeeze(1).detach()


@torch.no_grad()
def finite_difference_gradients(
    model: nn.Module, x: torch.Tensor, eps: float = 1e-7
) -> torch.Tensor:
    """Central differences (f(x+eps) - f(x-eps)) / (2 eps) in float64: checks `input_gradients`.

    eps is tiny on purpose: a deep ReLU net has kinks every ~1e-5 along the input, and a difference
    that straddles one measures the average of two slopes.
    """
    model64 = copy.deepcopy(model).double().eval()
    x64 = x.detach().double()
    return ((model64(x64 + eps) - model64(x64 - eps)) / (2 * eps)).squeeze(1).float()


def autocorrelation(g: torch.Tensor | np.ndarray, max_lag: int) -> np.ndarray:
    """Normalized autocorrelation of a sequence for lags 0..max_lag (lag 0 is 1).

    Close to 1 at small lags: nearby gradients agree. Near 0 for every lag > 0: white noise.
    """
    g = np.asarray(g, dtype=np.float64).ravel()
    if not 0 <= max_lag < len(g):
        raise ValueError(f"max_lag must be in [0, {len(g) - 1}] for a sequence of {len(g)}")
    g = g - g.mean()
    var = (g * g).mean()
    if var == 0:
        raise ValueError("sequence is constant: its autocorrelation is undefined")
    # divide by N at every lag (the standard, biased estimator): keeps |value| <= 1
    return np.array([(g[: len(g) - k] * g[k:]).sum() / (len(g) * var) for k in range(max_lag + 1)])


@contextlib.contextmanager
def lesion(blocks: nn.Sequential, index: int) -> Iterator[nn.Sequential]:
    """Temporarily replace `blocks[index]` by its shortcut (identity if it has none)."""
    if not -len(blocks) <= index < len(blocks):
        raise IndexError(f"block index {index} out of range for {len(blocks)} blocks")
    original = blocks[index]
    shortcut = getattr(original, "shortcut", None)
    blocks[index] = shortcut if shortcut is not None else nn.Identity()
    try:
        yield blocks
    finally:
        blocks[index] = original


def lesion_study(
    model: nn.Module, evaluate: Callable[[nn.Module], float], blocks: nn.Sequential | None = None
) -> list[float]:
    """Score of `model` with each block deleted in turn (Veit et al. 2016, arXiv:1605.06431).

    Args:
        model: a trained net.
        evaluate: maps the model to a score, e.g. `lambda m: train.evaluate(m, test_loader)[1]`.
        blocks: the removable blocks (default `model.blocks`).
    """
    blocks = blocks if blocks is not None else getattr(model, "blocks", None)
    if not isinstance(blocks, nn.Sequential):
        raise ValueError("pass blocks=<nn.Sequential of blocks>: model has no `.blocks` Sequential")
    was_training = model.training
    model.eval()
    scores = []
    for i in range(len(blocks)):
        with lesion(blocks, i):
            scores.append(float(evaluate(model)))
    model.train(was_training)
    return scores


def path_length_counts(num_blocks: int) -> list[int]:
    """How many of the 2**n input->output paths of an n-block residual net pass k residual
    branches, k = 0..n: the binomial coefficients C(n, k)."""
    if num_blocks < 0:
        raise ValueError(f"num_blocks must be >= 0, got {num_blocks}")
    return [math.comb(num_blocks, k) for k in range(num_blocks + 1)]


def expansion_terms(num_blocks: int) -> list[int]:
    """Terms of dy/df1 in an n-block residual net, grouped by the block j = 1..n they come from.

    Block 1 gives the identity I; block j >= 2 gives one term per subset of blocks 2..j-1 the
    path also passes, 2**(j-2) terms. They sum to 2**(n-1) (a plain net has a single term).
    """
    if num_blocks < 1:
        raise ValueError(f"num_blocks must be >= 1, got {num_blocks}")
    return [1] + [2 ** (j - 2) for j in range(2, num_blocks + 1)]


def euler_flow(
    field: Callable[[torch.Tensor], torch.Tensor], y0: torch.Tensor, t_end: float, num_steps: int
) -> torch.Tensor:
    """Integrate dY/dt = G(Y) from 0 to t_end with `num_steps` Euler steps Y <- Y + h G(Y).

    Each step is a residual block with step size h = t_end / num_steps. Returns the trajectory
    (num_steps + 1, *y0.shape).
    """
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    h = t_end / num_steps
    ys = [y0]
    for _ in range(num_steps):
        ys.append(ys[-1] + h * field(ys[-1]))
    return torch.stack(ys)


def linear_flow(A: torch.Tensor, y0: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
    """Exact solution Y(t) = expm(t A) Y0 of dY/dt = A Y at times ts: returns (len(ts), d)."""
    return torch.stack([torch.linalg.matrix_exp(t * A) @ y0 for t in ts])


@torch.no_grad()
def activation_stats(
    model: nn.Module, X: torch.Tensor, modules: Sequence[nn.Module] | None = None
) -> dict[str, np.ndarray]:
    """Mean and std of each module's output (default: each of `model.blocks`) on batch X."""
    modules = list(modules) if modules is not None else list(getattr(model, "blocks", []))
    if not modules:
        raise ValueError("no modules to probe: pass modules=[...] or give the model `.blocks`")
    outputs: list[torch.Tensor] = []
    handles = [m.register_forward_hook(lambda _m, _i, out: outputs.append(out)) for m in modules]
    try:
        model(X)
    finally:
        for h in handles:
            h.remove()
    return {
        "mean": np.array([float(o.mean()) for o in outputs]),
        "std": np.array([float(o.std()) for o in outputs]),
    }
