"""Lesson 08's checks: the notebook's solutions pass, realistic mistakes fail with a hint."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from dlcourse import probes
from dlcourse.check import lesson08


def num_weighted_layers(model):
    """The notebook's solution."""
    return sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in model.modules())


def test_weighted_layer_counter():
    lesson08.weighted_layer_counter(num_weighted_layers)
    with pytest.raises(AssertionError, match="nn.Conv2d or nn.Linear"):
        lesson08.weighted_layer_counter(lambda m: sum(isinstance(x, nn.Conv2d) for x in m.modules()))
    with pytest.raises(AssertionError, match="nn.Conv2d or nn.Linear"):
        lesson08.weighted_layer_counter(lambda m: len(list(m.children())))
    with pytest.raises(AssertionError, match="no weight matrix"):
        lesson08.weighted_layer_counter(
            lambda m: num_weighted_layers(m) if len(list(m.modules())) > 4 else len(list(m.modules())) - 1)


def test_skip_gradient_products():
    lesson08.skip_gradient_products(0.1**20, (1 + 0.1) ** 20)  # the notebook's solution
    lesson08.skip_gradient_products(torch.tensor(0.1, dtype=torch.float64) ** 20, np.float64(1.1) ** 20)
    with pytest.raises(AssertionError, match="1 \\+ f'"):
        lesson08.skip_gradient_products(0.1**20, 0.1**20 + 1)
    with pytest.raises(AssertionError, match="one factor per layer"):
        lesson08.skip_gradient_products(0.1 * 20, 1.1**20)
    with pytest.raises(AssertionError, match="residual is not answered yet"):
        lesson08.skip_gradient_products(0.1**20, ...)


def my_autocorrelation(g, max_lag):
    """The notebook's solution."""
    g = g - g.mean()
    return np.array([(g[: len(g) - k] * g[k:]).sum() / (len(g) * g.var()) for k in range(max_lag + 1)])


def test_autocorrelation_function():
    lesson08.autocorrelation_function(my_autocorrelation)
    lesson08.autocorrelation_function(probes.autocorrelation)

    def per_lag_mean(g, max_lag):  # the unbiased-looking mistake: divide by N - k
        g = g - g.mean()
        return np.array([(g[: len(g) - k] * g[k:]).mean() / g.var() for k in range(max_lag + 1)])

    def no_mean(g, max_lag):
        return np.array([(g[: len(g) - k] * g[k:]).sum() / (len(g) * g.var()) for k in range(max_lag + 1)])

    with pytest.raises(AssertionError, match="not N - k"):
        lesson08.autocorrelation_function(per_lag_mean)
    with pytest.raises(AssertionError, match="lag 0|subtract the mean"):
        lesson08.autocorrelation_function(no_mean)
    with pytest.raises(AssertionError, match="max_lag \\+ 1"):
        lesson08.autocorrelation_function(lambda g, max_lag: my_autocorrelation(g, max_lag)[1:])


def test_resnet110_path_fraction():
    lesson08.resnet110_path_fraction(sum(math.comb(54, k) for k in range(19, 36)) / 2**54)
    with pytest.raises(AssertionError, match="both ends"):
        lesson08.resnet110_path_fraction(sum(math.comb(54, k) for k in range(19, 35)) / 2**54)
    with pytest.raises(AssertionError, match=r"\[0, 1\]"):
        lesson08.resnet110_path_fraction(sum(math.comb(54, k) for k in range(19, 36)))


def heun_flow(field, y0, t_end, num_steps):
    """The notebook's solution."""
    h, ys = t_end / num_steps, [y0]
    for _ in range(num_steps):
        guess = ys[-1] + h * field(ys[-1])
        ys.append(ys[-1] + h / 2 * (field(ys[-1]) + field(guess)))
    return torch.stack(ys)


def test_heun_integrator():
    lesson08.heun_integrator(heun_flow)
    with pytest.raises(AssertionError, match="more accurate than Euler"):
        lesson08.heun_integrator(probes.euler_flow)

    def last_only(field, y0, t_end, num_steps):
        return heun_flow(field, y0, t_end, num_steps)[-1]

    def guess_slope_only(field, y0, t_end, num_steps):  # steps with G(guess) alone: first order
        h, ys = t_end / num_steps, [y0]
        for _ in range(num_steps):
            ys.append(ys[-1] + h * field(ys[-1] + h * field(ys[-1])))
        return torch.stack(ys)

    with pytest.raises(AssertionError, match="whole trajectory"):
        lesson08.heun_integrator(last_only)
    with pytest.raises(AssertionError, match="Euler|second order"):
        lesson08.heun_integrator(guess_slope_only)


def test_stochastic_depth_expected_blocks():
    lesson08.stochastic_depth_expected_blocks(sum(1 - 0.5 * l / 54 for l in range(1, 55)))
    lesson08.stochastic_depth_expected_blocks(54 - 0.5 * 55 / 2)
    with pytest.raises(AssertionError, match="survives"):
        lesson08.stochastic_depth_expected_blocks(54 * 0.75)  # the mean drop, off by one block index
    with pytest.raises(AssertionError, match="fewer than 54"):
        lesson08.stochastic_depth_expected_blocks(54)


def transition(in_channels):
    """The notebook's solution."""
    return nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(),
                         nn.Conv2d(in_channels, in_channels // 2, 1, bias=False), nn.AvgPool2d(2))


def test_densenet_transition_solution_passes():
    lesson08.densenet_transition(transition)
    lesson08.densenet_transition(lambda c: nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(),
                                                         nn.Conv2d(c, c // 2, 1), nn.AvgPool2d(2, stride=2)))
    model = transition(64)
    lesson08.densenet_transition(lambda c: model)
    assert model.training and model[0].running_mean.abs().max() == 0  # the check works on a copy


@pytest.mark.parametrize("wrong,hint", [
    # issue 11: max pooling instead of average pooling passed
    (lambda c: nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(), nn.Conv2d(c, c // 2, 1), nn.MaxPool2d(2)),
     "that is max pooling"),
    # issue 11: a strided 1x1 conv without pooling passed
    (lambda c: nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(), nn.Conv2d(c, c // 2, 1, stride=2)), "stride 1"),
    (lambda c: nn.Conv2d(c, c // 2, 1), "average pooling"),
    (lambda c: nn.Sequential(nn.Conv2d(c, c // 2, 3, padding=1), nn.AvgPool2d(2)), "single 1x1"),
    (lambda c: nn.Sequential(nn.Conv2d(c, c // 2, 1), nn.AvgPool2d(2)), "BatchNorm2d\\(in_channels\\)"),
    (lambda c: nn.Sequential(nn.BatchNorm2d(c), nn.Conv2d(c, c // 2, 1), nn.AvgPool2d(2)), "the order"),
    (lambda c: nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(), nn.AvgPool2d(2), nn.Conv2d(c, c // 2, 1),
                             nn.ReLU()), "the order"),
    (lambda c: nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(), nn.Conv2d(c, c // 2, 1), nn.AvgPool2d(3, 2, 1)),
     "the order"),
    (lambda c: nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(), nn.Conv2d(c, c // 2, 1), nn.AdaptiveAvgPool2d(8)),
     "should become"),
    (lambda c: nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(), nn.Conv2d(c, c, 1), nn.AvgPool2d(2)),
     "should become"),
    (lambda c: None, "returned None"),
    (lambda c: 3, "nn.Module"),
])
def test_densenet_transition_wrong_answers_fail(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        lesson08.densenet_transition(wrong)
