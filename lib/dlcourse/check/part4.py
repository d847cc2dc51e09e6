"""Exercise checks for notebook 08 (why residual networks work).

Every name in __all__ becomes `dlcourse.check.<name>`; each passes quietly or raises AssertionError
with a hint that guides without giving the answer.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from dlcourse import probes
from dlcourse.models import deep

__all__ = [
    "weighted_layer_counter",
    "skip_gradient_products",
    "autocorrelation_function",
    "resnet110_path_fraction",
    "heun_integrator",
    "stochastic_depth_expected_blocks",
    "densenet_transition",
]


def _require(ok: bool, hint: str) -> None:
    """Raise AssertionError(hint) unless ok."""
    if not ok:
        raise AssertionError(hint)


def _number(x: object, name: str) -> float:
    _require(
        x is not None and x is not Ellipsis,
        f"{name} is still empty: replace the `...` with your computation.",
    )
    try:
        return float(x)
    except (TypeError, ValueError) as err:
        raise AssertionError(f"{name} should be a number, got {type(x).__name__}.") from err


def weighted_layer_counter(fn: Callable[[nn.Module], int]) -> None:
    """Check fn(model) counts the Conv2d and Linear layers (the 'depth' of He et al.)."""
    for depth in (8, 20, 44):
        for residual in (True, False):
            got = fn(deep.plain_or_resnet(depth, residual=residual, width=2))
            _require(
                got == depth,
                f"plain_or_resnet({depth}, residual={residual}) has {depth} "
                f"weighted layers, your function says {got}. Count modules "
                "that are nn.Conv2d or nn.Linear (model.modules() visits all).",
            )
    _require(
        fn(nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.BatchNorm1d(3))) == 1,
        "ReLU and BatchNorm have no weight matrix: do not count them.",
    )


def skip_gradient_products(plain: float, residual: float) -> None:
    """Check the two chain-rule products for 20 layers whose branch derivative is 0.1 each."""
    p, r = _number(plain, "plain"), _number(residual, "residual")
    _require(
        math.isclose(p, 0.1**20, rel_tol=1e-6),
        "plain: the chain rule multiplies one factor per layer; here every factor is 0.1.",
    )
    _require(
        math.isclose(r, 1.1**20, rel_tol=1e-6),
        "residual: each block h + f(h) has derivative 1 + f'(h); multiply 20 of those.",
    )


def autocorrelation_function(fn: Callable[[np.ndarray, int], np.ndarray]) -> None:
    """Check fn(g, max_lag) against `dlcourse.probes.autocorrelation` on random sequences."""
    rng = np.random.default_rng(0)
    for g in (rng.normal(size=200), rng.normal(size=300).cumsum(), np.sin(np.arange(100) / 5.0)):
        got = np.asarray(fn(g.copy(), 5), dtype=float)
        want = probes.autocorrelation(g, 5)
        _require(
            got.shape == want.shape,
            f"return max_lag + 1 = 6 values (lags 0..5), got shape {got.shape}.",
        )
        _require(abs(got[0] - 1) < 1e-6, "lag 0 should be exactly 1: divide by the variance.")
        _require(
            np.allclose(got, want, atol=1e-6),
            "subtract the mean first, then for each lag k sum g[i] * g[i + k] and divide by "
            "N times the variance (N at every lag, not N - k).",
        )


def resnet110_path_fraction(fraction: float) -> None:
    """Check the share of ResNet-110's 2**54 paths that pass 19 to 35 residual branches."""
    got = _number(fraction, "fraction")
    counts = probes.path_length_counts(54)
    want = sum(counts[19:36]) / 2**54
    _require(0 <= got <= 1, f"a fraction of paths lies in [0, 1], got {got:.4g}.")
    _require(
        abs(got - want) < 1e-4,
        "add the binomial counts C(54, k) for k = 19..35 (both ends "
        "included) and divide by the number of paths, 2**54.",
    )


def heun_integrator(fn: Callable[..., torch.Tensor]) -> None:
    """Check fn(field, y0, t_end, num_steps) is Heun's method: a trajectory with error ~ h**2."""
    A = torch.tensor([[-0.1, -1.0], [1.0, -0.1]], dtype=torch.float64)
    y0 = torch.tensor([1.0, 0.0], dtype=torch.float64)
    traj = fn(lambda y: A @ y, y0, 2.0, 10)
    _require(
        isinstance(traj, torch.Tensor) and traj.shape == (11, 2),
        "return the whole trajectory like probes.euler_flow: a (num_steps + 1, 2) tensor "
        "that starts with y0.",
    )
    _require(torch.allclose(traj[0], y0), "the first row of the trajectory should be y0.")
    exact = probes.linear_flow(A, y0, torch.tensor([2.0], dtype=torch.float64))[0]
    errors = [(fn(lambda y: A @ y, y0, 2.0, n)[-1] - exact).norm().item() for n in (20, 40)]
    euler = (probes.euler_flow(lambda y: A @ y, y0, 2.0, 20)[-1] - exact).norm().item()
    _require(
        errors[0] < euler / 5,
        "Heun should be far more accurate than Euler with the same "
        "steps: average the slopes at y and at the Euler guess "
        "y + h G(y).",
    )
    _require(
        errors[1] / errors[0] < 0.3,
        "halving h should cut the error about 4 times (second "
        "order); check that you use both slopes with weight 1/2.",
    )


def stochastic_depth_expected_blocks(value: float) -> None:
    """Check the expected number of active blocks of a 54-block net with p_L = 0.5 (linear rule)."""
    got = _number(value, "expected_blocks")
    want = sum(1 - 0.5 * (i + 1) / 54 for i in range(54))
    _require(got < 54, "some blocks are dropped, so fewer than 54 are active on average.")
    _require(
        abs(got - want) < 1e-6,
        "block l (l = 1..54) survives with probability "
        "1 - (l / 54) * 0.5; the expectation adds them up.",
    )


def densenet_transition(fn: Callable[[int], nn.Module]) -> None:
    """Check fn(in_channels) halves the channels and the resolution like a DenseNet transition."""
    module = fn(64)
    _require(isinstance(module, nn.Module), f"return an nn.Module, got {type(module).__name__}.")
    y = module.eval()(torch.randn(2, 64, 16, 16))
    _require(
        y.shape == (2, 32, 8, 8),
        f"(2, 64, 16, 16) should become (2, 32, 8, 8), got "
        f"{tuple(y.shape)}: a 1x1 conv to in_channels // 2, then "
        "2x2 average pooling.",
    )
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    _require(
        len(convs) == 1 and convs[0].kernel_size == (1, 1),
        "use a single 1x1 convolution: it mixes channels without touching space.",
    )
