"""Exercise checks for notebook 08 (ResNet theory: why residual networks work).

Every name in __all__ becomes `dlcourse.check.<name>`; each passes quietly or raises AssertionError
with a hint that guides without giving the answer.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dlcourse import probes
from dlcourse.check._common import array, call, module, number, require, whole_number
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


def weighted_layer_counter(fn: Callable[[nn.Module], int]) -> None:
    """Exercise 1: fn(model) counts the Conv2d and Linear layers (the 'depth' of He et al.)."""
    for depth in (8, 20, 44):
        for residual in (True, False):
            model = deep.plain_or_resnet(depth, residual=residual, width=2)
            got = whole_number(call(fn, model, name="num_weighted_layers"), "the returned count")
            require(got == depth, f"plain_or_resnet({depth}, residual={residual}) has {depth} weighted "
                    f"layers, your function says {got}. Count modules that are nn.Conv2d or nn.Linear "
                    "(model.modules() visits all).")
    small = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.BatchNorm1d(3))
    require(whole_number(call(fn, small, name="num_weighted_layers"), "the returned count") == 1,
            "ReLU and BatchNorm have no weight matrix: do not count them.")


def skip_gradient_products(plain: object, residual: object) -> None:
    """Exercise 2: the two chain-rule products for 20 layers whose branch derivative is 0.1 each."""
    p, r = number(plain, "plain"), number(residual, "residual")
    require(math.isclose(p, 0.1**20, rel_tol=1e-6),
            "plain: the chain rule multiplies one factor per layer; here every factor is 0.1.")
    require(math.isclose(r, 1.1**20, rel_tol=1e-6),
            "residual: each block h + f(h) has derivative 1 + f'(h); multiply 20 of those.")


def autocorrelation_function(fn: Callable[[np.ndarray, int], np.ndarray]) -> None:
    """Exercise 3: fn(g, max_lag) against `dlcourse.probes.autocorrelation` on random sequences."""
    rng = np.random.default_rng(0)
    for g in (rng.normal(size=200), rng.normal(size=300).cumsum(), np.sin(np.arange(100) / 5.0)):
        got = array(call(fn, g.copy(), 5, name="my_autocorrelation"), "the returned autocorrelation")
        want = probes.autocorrelation(g, 5)
        require(got.shape == want.shape, f"return max_lag + 1 = 6 values (lags 0..5), got shape {got.shape}.")
        require(abs(got[0] - 1) < 1e-6, "lag 0 should be exactly 1: divide by the variance.")
        require(np.allclose(got, want, atol=1e-6),
                "subtract the mean first, then for each lag k sum g[i] * g[i + k] and divide by "
                "N times the variance (N at every lag, not N - k).")


def resnet110_path_fraction(fraction: object) -> None:
    """Exercise 4: the share of ResNet-110's 2**54 paths that pass 19 to 35 residual branches."""
    got = number(fraction, "fraction")
    counts = probes.path_length_counts(54)
    want = sum(counts[19:36]) / 2**54
    require(0 <= got <= 1, f"a fraction of paths lies in [0, 1], got {got:.4g}.")
    require(abs(got - want) < 1e-4, "add the binomial counts C(54, k) for k = 19..35 (both ends "
            "included) and divide by the number of paths, 2**54.")


def heun_integrator(fn: Callable[..., torch.Tensor]) -> None:
    """Exercise 5: fn(field, y0, t_end, num_steps) is Heun's method: a trajectory with error ~ h**2."""
    A = torch.tensor([[-0.1, -1.0], [1.0, -0.1]], dtype=torch.float64)
    y0 = torch.tensor([1.0, 0.0], dtype=torch.float64)
    traj = call(fn, lambda y: A @ y, y0, 2.0, 10, name="heun_flow")
    require(isinstance(traj, torch.Tensor) and traj.shape == (11, 2),
            "return the whole trajectory like probes.euler_flow: a (num_steps + 1, 2) tensor that "
            "starts with y0.")
    require(torch.allclose(traj[0], y0), "the first row of the trajectory should be y0.")
    exact = probes.linear_flow(A, y0, torch.tensor([2.0], dtype=torch.float64))[0]
    errors = [(call(fn, lambda y: A @ y, y0, 2.0, n, name="heun_flow")[-1] - exact).norm().item()
              for n in (20, 40)]
    euler = (probes.euler_flow(lambda y: A @ y, y0, 2.0, 20)[-1] - exact).norm().item()
    require(errors[0] < euler / 5, "Heun should be far more accurate than Euler with the same steps: "
            "average the slopes at y and at the Euler guess y + h G(y).")
    require(errors[1] / errors[0] < 0.3, "halving h should cut the error about 4 times (second order); "
            "check that you use both slopes with weight 1/2.")


def stochastic_depth_expected_blocks(value: object) -> None:
    """Exercise 6: the expected number of active blocks of a 54-block net, p_L = 0.5 (linear rule)."""
    got = number(value, "expected_blocks")
    want = sum(1 - 0.5 * (i + 1) / 54 for i in range(54))
    require(got < 54, "some blocks are dropped, so fewer than 54 are active on average.")
    require(abs(got - want) < 1e-6, "block l (l = 1..54) survives with probability 1 - (l / 54) * 0.5; "
            "the expectation adds them up.")


def _randomize_batchnorm(model: nn.Module, gen: torch.Generator) -> None:
    """Give every BatchNorm non-trivial statistics and affine parameters, so that leaving it out shows."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen))
            m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            if m.affine:
                m.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
                m.bias.data.copy_(torch.randn(n, generator=gen))


@torch.no_grad()
def densenet_transition(fn: Callable[[int], nn.Module]) -> None:
    """Exercise 7: fn(in_channels) is DenseNet's transition: BN, ReLU, 1x1 conv to half, 2x2 avg pool."""
    probe = copy.deepcopy(module(call(fn, 64, name="transition"), "transition(64)"))
    gen = torch.Generator().manual_seed(0)
    _randomize_batchnorm(probe, gen)
    probe.eval()
    for side in (16, 12):
        x = torch.randn(2, 64, side, side, generator=gen)
        y = probe(x)
        require(isinstance(y, torch.Tensor) and y.shape == (2, 32, side // 2, side // 2),
                f"(2, 64, {side}, {side}) should become (2, 32, {side // 2}, {side // 2}), got "
                f"{tuple(getattr(y, 'shape', ()))}: halve the channels with a 1x1 conv and the "
                "resolution with 2x2 average pooling.")
    convs = [m for m in probe.modules() if isinstance(m, nn.Conv2d)]
    require(len(convs) == 1 and convs[0].kernel_size == (1, 1),
            "use a single 1x1 convolution: it mixes channels without touching space.")
    require(convs[0].stride == (1, 1) and convs[0].padding in ((0, 0), "valid"),
            "the 1x1 convolution keeps the resolution (stride 1, no padding); the 2x2 average pooling "
            "after it is what halves it, so that no input pixel is skipped.")
    norms = [m for m in probe.modules() if isinstance(m, nn.BatchNorm2d)]
    require(len(norms) == 1 and norms[0].num_features == 64,
            "start with BatchNorm2d(in_channels) and a ReLU: DenseNet's layers are pre-activation "
            "(BN, ReLU, conv).")
    x = torch.randn(2, 64, 16, 16, generator=gen)
    y, h = probe(x), convs[0](F.relu(norms[0](x)))
    require(not torch.allclose(y, F.max_pool2d(h, 2), atol=1e-5),
            "that is max pooling: DenseNet's transition averages each 2x2 window.")
    require(torch.allclose(y, F.avg_pool2d(h, 2), atol=1e-5),
            "the order is BatchNorm, ReLU, the 1x1 conv, then 2x2 average pooling with stride 2.")
