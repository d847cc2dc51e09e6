"""Tests for dlcourse.probes (against autograd, numpy and scipy oracles)."""

import itertools
import math

import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

from dlcourse import probes
from dlcourse.models.deep import deep_mlp, plain_or_resnet

SWEEP = torch.linspace(-2, 2, 256).reshape(-1, 1)  # (N, 1) finely swept 1-D inputs


def test_layer_grad_norms_match_autograd():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    X, y = torch.randn(8, 3), torch.tensor([0, 1] * 4)
    loss = nn.functional.cross_entropy(model(X), y)
    oracle = [
        g.norm().item() for g in torch.autograd.grad(loss, [model[0].weight, model[2].weight])
    ]
    norms = probes.layer_grad_norms(model, X, y)
    assert list(norms) == ["0", "2"]  # forward order, named like the modules
    assert list(norms.values()) == pytest.approx(oracle, rel=1e-6)
    assert all(p.grad is None for p in model.parameters())  # gradients cleared afterwards


def test_gradients_vanish_in_deep_sigmoid_nets_but_not_with_skips():
    torch.manual_seed(0)
    X, y = torch.randn(64, 20), torch.randint(0, 10, (64,))
    kw = dict(width=32, in_features=20, out_features=10)
    sigmoid = list(probes.layer_grad_norms(deep_mlp(20, activation="sigmoid", **kw), X, y).values())
    residual = list(probes.layer_grad_norms(deep_mlp(20, residual=True, **kw), X, y).values())
    assert sigmoid[0] < 1e-8 * sigmoid[-1]  # 0.25 per layer at best: 20 layers, ~1e-12
    assert residual[0] > 1e-2 * residual[-1]


def test_layer_grad_norms_needs_weights():
    with pytest.raises(ValueError, match="no nn.Linear"):
        probes.layer_grad_norms(nn.ReLU(), torch.randn(2, 3), torch.tensor([0, 1]))


def test_calibrate_batchnorm_uses_the_batch_statistics():
    torch.manual_seed(0)
    model = deep_mlp(3, width=16, batch_norm=True)
    X = torch.randn(512, 1) * 3 + 1
    train_out = model.train()(X)
    probes.calibrate_batchnorm(model, X)
    assert not model.training
    # eval mode now normalizes with the same numbers (up to the unbiased N/(N-1) variance)
    torch.testing.assert_close(model(X), train_out, rtol=1e-2, atol=1e-2)


def test_input_gradients_match_jacobian_and_finite_differences():
    torch.manual_seed(0)
    model = deep_mlp(4, width=32, activation="tanh").eval()
    grads = probes.input_gradients(model, SWEEP)
    jacobian = torch.autograd.functional.jacobian(lambda x: model(x).squeeze(1), SWEEP)
    torch.testing.assert_close(grads, jacobian.squeeze(2).diagonal())  # (N, N, 1) -> (N,)
    torch.testing.assert_close(
        probes.finite_difference_gradients(model, SWEEP), grads, rtol=1e-4, atol=1e-5
    )


def test_finite_differences_need_a_tiny_step_on_shattered_relu_nets():
    torch.manual_seed(0)
    model = probes.calibrate_batchnorm(deep_mlp(24, 200, batch_norm=True, init="he"), SWEEP)
    grads = probes.input_gradients(model, SWEEP)

    def agree(eps):  # fraction of points where FD and autograd agree to 0.1%
        fd = probes.finite_difference_gradients(model, SWEEP, eps=eps)
        return ((fd - grads).abs() <= 1e-3 * grads.abs() + 1e-6).float().mean().item()

    assert agree(1e-7) > 0.9  # default step: only points straddling a kink differ
    assert agree(1e-3) < 0.1  # a coarse step averages over many kinks: the gradient is shattered


def test_input_gradients_bad_inputs():
    with pytest.raises(ValueError, match="shape \\(N, 1\\)"):
        probes.input_gradients(deep_mlp(1), torch.randn(5))
    with pytest.raises(ValueError, match="one output"):
        probes.input_gradients(deep_mlp(1, out_features=2), SWEEP)


def test_autocorrelation_matches_numpy_correlate():
    rng = np.random.default_rng(0)
    g = rng.normal(size=300).cumsum()
    centered = g - g.mean()
    full = np.correlate(centered, centered, mode="full")[len(g) - 1 :]  # lags 0, 1, ...
    oracle = full[:11] / len(g) / centered.var()
    np.testing.assert_allclose(probes.autocorrelation(g, 10), oracle, rtol=1e-10)


def test_autocorrelation_white_noise_and_smooth_signal():
    rng = np.random.default_rng(1)
    noise = probes.autocorrelation(rng.normal(size=4096), 5)
    smooth = probes.autocorrelation(np.sin(np.linspace(0, 3, 4096)), 5)
    assert noise[0] == pytest.approx(1.0) and np.abs(noise[1:]).max() < 0.1
    assert smooth.min() > 0.99


def test_autocorrelation_bad_inputs():
    with pytest.raises(ValueError, match="max_lag"):
        probes.autocorrelation(np.ones(5) + np.arange(5), 5)
    with pytest.raises(ValueError, match="constant"):
        probes.autocorrelation(np.ones(5), 2)


def test_shattered_gradients_seeded():
    # Balduzzi et al. 2017, fig. 1: shallow smooth, deep plain white noise, residual in between
    lag1 = {}
    for name, kw in {
        "shallow": dict(depth=0),
        "plain": dict(depth=24),
        "residual": dict(depth=24, residual=True),
    }.items():
        torch.manual_seed(0)
        model = probes.calibrate_batchnorm(
            deep_mlp(width=200, batch_norm=True, init="he", **kw), SWEEP
        )
        lag1[name] = probes.autocorrelation(probes.input_gradients(model, SWEEP), 1)[1]
    assert lag1["shallow"] > 0.9 and abs(lag1["plain"]) < 0.25 and lag1["residual"] > 0.6


def test_lesion_swaps_in_the_shortcut_and_restores():
    torch.manual_seed(0)
    model = deep_mlp(4, width=8, residual=True).eval()
    X = torch.randn(5, 1)
    before = model(X)
    zeroed = deep_mlp(4, width=8, residual=True).eval()
    zeroed.load_state_dict(model.state_dict())
    nn.init.zeros_(zeroed.blocks[2].linear.weight), nn.init.zeros_(zeroed.blocks[2].linear.bias)
    with probes.lesion(model.blocks, 2):
        torch.testing.assert_close(model(X), zeroed(X))  # deleting = branch contributes nothing
    torch.testing.assert_close(model(X), before)
    with pytest.raises(IndexError, match="out of range"):
        with probes.lesion(model.blocks, 4):
            pass


def test_lesion_study_scores_every_block():
    torch.manual_seed(0)
    model = plain_or_resnet(14, width=4).train()
    X = torch.randn(4, 1, 28, 28)
    full = model.eval()(X)
    scores = probes.lesion_study(model.train(), lambda m: (m(X) - full).abs().mean().item())
    assert len(scores) == 6 and all(s > 0 for s in scores)
    assert model.training  # mode restored
    torch.testing.assert_close(model.eval()(X), full)  # every block back in place
    with pytest.raises(ValueError, match="blocks="):
        probes.lesion_study(nn.Linear(2, 2), lambda m: 0.0)


@pytest.mark.parametrize("n", [0, 1, 4, 9])
def test_path_length_counts_enumerate_all_paths(n):
    # a path either takes block j's residual branch or its skip: count branches per path
    lengths = [sum(p) for p in itertools.product([0, 1], repeat=n)]
    assert probes.path_length_counts(n) == [lengths.count(k) for k in range(n + 1)]
    assert sum(probes.path_length_counts(n)) == 2**n


@pytest.mark.parametrize("n", [1, 2, 4, 7])
def test_expansion_terms_count_paths_from_f1(n):
    # terms of dy/df1 = paths from f1 through any subset of blocks 2..n, grouped by the last one
    groups = [0] * n
    for subset in itertools.product([0, 1], repeat=n - 1):
        last = max([j + 2 for j, used in enumerate(subset) if used], default=1)
        groups[last - 1] += 1
    assert probes.expansion_terms(n) == groups
    assert probes.expansion_terms(4) == [1, 1, 2, 4]  # I, df2/df1, two terms, four terms
    with pytest.raises(ValueError, match=">= 1"):
        probes.expansion_terms(0)


def test_euler_flow_is_repeated_residual_steps_and_converges():
    A = torch.tensor([[-0.1, -1.0], [1.0, -0.1]], dtype=torch.float64)  # damped rotation
    y0 = torch.tensor([1.0, 0.0], dtype=torch.float64)
    traj = probes.euler_flow(lambda y: A @ y, y0, t_end=3.0, num_steps=30)
    assert traj.shape == (31, 2)
    step = torch.eye(2, dtype=torch.float64) + 0.1 * A
    torch.testing.assert_close(traj[-1], torch.linalg.matrix_power(step, 30) @ y0)
    exact = probes.linear_flow(A, y0, torch.tensor([3.0], dtype=torch.float64))[0]
    errors = [
        (probes.euler_flow(lambda y: A @ y, y0, 3.0, n)[-1] - exact).norm().item()
        for n in (100, 200, 400)
    ]
    assert errors[1] / errors[0] == pytest.approx(0.5, abs=0.05)  # first order: error ~ h
    assert errors[2] / errors[1] == pytest.approx(0.5, abs=0.05)
    with pytest.raises(ValueError, match="num_steps"):
        probes.euler_flow(lambda y: y, y0, 1.0, 0)


def test_linear_flow_matches_scipy_expm():
    A = torch.tensor([[0.0, -2.0], [0.5, -0.3]], dtype=torch.float64)
    y0 = torch.tensor([0.3, -1.0], dtype=torch.float64)
    ts = torch.tensor([0.0, 0.5, 2.0], dtype=torch.float64)
    oracle = np.stack([scipy.linalg.expm(t * A.numpy()) @ y0.numpy() for t in ts.numpy()])
    np.testing.assert_allclose(probes.linear_flow(A, y0, ts).numpy(), oracle, rtol=1e-10)


def test_activation_stats_match_hooks_and_batchnorm_keeps_scale():
    torch.manual_seed(0)
    X = torch.randn(256, 10)
    plain = deep_mlp(10, width=64, in_features=10)
    normed = deep_mlp(10, width=64, in_features=10, batch_norm=True)
    stats = probes.activation_stats(plain, X)
    h = plain.inp(X)
    for i, block in enumerate(plain.blocks):
        h = block(h)
        assert stats["mean"][i] == pytest.approx(h.mean().item(), rel=1e-5)
        assert stats["std"][i] == pytest.approx(h.std().item(), rel=1e-5)
    relu_std = math.sqrt(0.5 - 1 / (2 * math.pi))  # std of ReLU(z), z ~ N(0, 1)
    assert probes.activation_stats(normed, X)["std"] == pytest.approx([relu_std] * 10, abs=0.03)
    with pytest.raises(ValueError, match="modules="):
        probes.activation_stats(nn.Linear(10, 2), X)


# --- viz.resnet: every plot returns its Axes with one artist per series -----------------------


def test_resnet_plots_return_axes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dlcourse.viz import resnet as rviz

    ax = rviz.plot_degradation(
        {(8, True): [0.5, 0.3], (8, False): [0.5, 0.4], (20, True): [0.4, 0.2]}
    )
    assert len(ax.lines) == 3 and ax.lines[1].get_linestyle() == "-"  # sorted: (8, False) dashed
    assert ax.lines[0].get_linestyle() == "--"
    assert len(rviz.plot_input_gradient(SWEEP, SWEEP).lines) == 1
    assert len(rviz.plot_autocorrelation({"a": [1, 0.5]}).lines) == 2  # the curve + the zero line
    assert len(rviz.plot_path_lengths(probes.path_length_counts(4)).patches) == 5
    assert len(rviz.plot_lesion({"a": [0.9, 0.8]}, {"a": 0.95}).lines) == 2
    assert len(rviz.plot_trajectories({"a": torch.zeros(5, 2)}).lines) == 1
    stats = {"a": {"std": [1, 2], "mean": [0, 0]}}
    assert len(rviz.plot_activation_stats(stats).lines) == 1
    plt.close("all")


def test_layer_signal_norms_match_autograd_on_the_layer_outputs():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    X, y = torch.randn(7, 2, 3), torch.tensor([0, 1, 2, 0, 1, 2, 0])
    h = model[1](model[0](X))
    out = model[3](model[2](h))
    d_h, d_out = torch.autograd.grad(nn.functional.cross_entropy(out, y), [h, out])
    signals = probes.layer_signal_norms(model, X, y)
    assert list(signals) == ["1", "3"]
    assert signals["1"] == pytest.approx((X.flatten(1).norm().item(), d_h.norm().item()), rel=1e-6)
    assert signals["3"] == pytest.approx((model[2](h).norm().item(), d_out.norm().item()), rel=1e-6)
    # a Linear weight gradient is delta^T a: its norm is at most ||delta|| ||a||
    grads = probes.layer_grad_norms(model, X, y)
    assert all(grads[k] <= a * d * (1 + 1e-6) for k, (a, d) in signals.items())
    assert all(p.grad is None for p in model.parameters())
    assert not model[1]._forward_hooks  # hooks removed afterwards


def test_layer_signal_norms_needs_layers():
    with pytest.raises(ValueError, match="no nn.Linear"):
        probes.layer_signal_norms(nn.Sequential(nn.ReLU()), torch.randn(2, 3), torch.tensor([0, 1]))
