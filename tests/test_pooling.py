"""Tests for dlcourse.pooling: max/avg/L2 pooling vs torch (forward, gradients), routing, errors."""

import pytest
import torch
import torch.nn.functional as F

from dlcourse import pooling

WORKED = torch.tensor([[1.0, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]])[None, None]
# (B, C, H, W, kernel, stride, padding)
SETTINGS = [(2, 3, 8, 8, 2, None, 0), (1, 2, 9, 7, 3, 2, 1), (2, 1, 6, 10, 3, 1, 0),
            (1, 4, 7, 7, 2, 3, 1)]
TORCH = {
    "max": lambda x, k, s, p: F.max_pool2d(x, k, s, p),
    "avg": lambda x, k, s, p: F.avg_pool2d(x, k, s, p),
    "l2": lambda x, k, s, p: F.lp_pool2d(x, 2, k, s),
}


def test_lecture_worked_4x4_example():
    assert pooling.pool2d(WORKED, 2, mode="max")[0, 0].tolist() == [[6, 8], [3, 4]]
    assert pooling.pool2d(WORKED, 2, mode="avg")[0, 0].tolist() == [[3.25, 5.25], [2, 2]]
    l2 = pooling.pool2d(WORKED, 2, mode="l2")[0, 0]
    assert torch.allclose(l2[0, 0], torch.tensor(63.0).sqrt())  # 1 + 1 + 25 + 36


@pytest.mark.parametrize("mode", ["max", "avg", "l2"])
@pytest.mark.parametrize("setting", SETTINGS)
def test_pool2d_forward_and_gradients_match_torch(mode, setting):
    b, c, h, w, k, s, p = setting
    if mode == "l2" and p:
        pytest.skip("F.lp_pool2d has no padding")
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(b, c, h, w, generator=gen, dtype=torch.float64, requires_grad=True)
    y, y_ref = pooling.pool2d(x, k, s, p, mode=mode), TORCH[mode](x, k, s, p)
    assert y.shape == y_ref.shape
    assert torch.allclose(y, y_ref, atol=1e-10)
    g = torch.randn_like(y_ref)
    got, = torch.autograd.grad(y, x, g)
    want, = torch.autograd.grad(y_ref, x, g)
    assert torch.allclose(got, want, atol=1e-10)


@pytest.mark.parametrize("k, s", [(2, 2), (3, 2), (2, 1)])
def test_max_pool_explicit_backward_routes_gradient_to_the_max(k, s):
    x = torch.randn(2, 3, 7, 8, dtype=torch.float64, requires_grad=True)
    y, idx = pooling.max_pool2d_with_indices(x, k, s)
    y_ref, idx_ref = F.max_pool2d(x, k, s, return_indices=True)
    assert torch.equal(y, y_ref) and torch.equal(idx, idx_ref)
    g = torch.randn_like(y)
    want, = torch.autograd.grad(y_ref, x, g)
    got = pooling.max_pool2d_backward(g, idx, x.shape)
    assert torch.allclose(got, want)
    if k == s:  # non-overlapping windows: exactly one input per window receives gradient
        assert (got != 0).sum() == y.numel()


def test_worked_example_gradient_lands_on_the_winners():
    _, idx = pooling.max_pool2d_with_indices(WORKED, 2)
    grad = pooling.max_pool2d_backward(torch.ones(1, 1, 2, 2), idx, WORKED.shape)[0, 0]
    winners = {tuple(ij) for ij in grad.nonzero().tolist()}
    assert winners == {(1, 1), (1, 3), (2, 0), (3, 3)}  # where 6, 8, 3 and 4 sit


def test_avg_pool_explicit_backward_spreads_evenly():
    x = torch.randn(1, 2, 6, 6, requires_grad=True)
    y = F.avg_pool2d(x, 3, 2)
    g = torch.randn_like(y)
    want, = torch.autograd.grad(y, x, g)
    assert torch.allclose(pooling.avg_pool2d_backward(g, x.shape, 3, 2), want, atol=1e-6)


def test_pooling_has_no_parameters_and_keeps_depth():
    x = torch.randn(2, 5, 8, 8)
    for mode in pooling.MODES:
        assert pooling.pool2d(x, 2, mode=mode).shape == (2, 5, 4, 4)
    assert sum(p.numel() for p in torch.nn.MaxPool2d(2).parameters()) == 0


def test_global_average_pooling_matches_adaptive_pool():
    x = torch.randn(3, 4, 5, 7)
    assert torch.allclose(pooling.global_avg_pool(x), F.adaptive_avg_pool2d(x, 1).flatten(1))
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        pooling.global_avg_pool(x[0])


def test_max_pool_by_reshape():
    x = torch.randn(2, 3, 6, 8)
    assert torch.equal(pooling.max_pool_by_reshape(x), F.max_pool2d(x, 2))
    with pytest.raises(ValueError, match="even"):
        pooling.max_pool_by_reshape(torch.randn(1, 1, 5, 4))


def test_errors_for_shapes_that_do_not_fit():
    with pytest.raises(ValueError, match="mode must be"):
        pooling.pool2d(WORKED, 2, mode="median")
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        pooling.pool2d(WORKED[0, 0], 2)
    with pytest.raises(ValueError, match="larger than the padded input"):
        pooling.pool2d(WORKED, 5)
    with pytest.raises(ValueError, match="stride does not fit"):
        pooling.pool2d(torch.zeros(1, 1, 5, 5), 2, strict=True)
    with pytest.raises(ValueError, match="half the window"):
        pooling.pool2d(WORKED, 2, padding=2)
    with pytest.raises(ValueError, match="same shape"):
        pooling.max_pool2d_backward(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 3, 3).long(),
                                    (1, 1, 4, 4))


def test_max_pooling_is_more_shift_invariant_than_the_input():
    gen = torch.Generator().manual_seed(0)
    x = F.relu(torch.randn(1, 8, 16, 16, generator=gen))
    x_shift = pooling.shift(x, dx=1)
    assert torch.equal(pooling.shift(x, 2, -3)[..., 2:, :-3], x[..., :-2, 3:])
    before = pooling.fraction_unchanged(x, x_shift)
    after = pooling.fraction_unchanged(pooling.pool2d(x, 2), pooling.pool2d(x_shift, 2))
    assert after > before
    assert round(after, 4) == round(pooling.fraction_unchanged(F.max_pool2d(x, 2),
                                                               F.max_pool2d(x_shift, 2)), 4)


def test_max_pool_gives_a_tie_to_one_input_like_torch():
    x = torch.zeros(1, 1, 2, 2, requires_grad=True)
    (grad,) = torch.autograd.grad(pooling.pool2d(x, 2).sum(), x)
    (want,) = torch.autograd.grad(F.max_pool2d(x, 2).sum(), x)
    assert torch.equal(grad, want) and grad.sum() == 1 and grad.max() == 1  # not 0.25 each
    gen = torch.Generator().manual_seed(0)
    for k, s, p in ((2, 2, 0), (3, 2, 1), (3, 1, 0)):
        x = torch.randint(0, 3, (2, 2, 7, 7), generator=gen).double().requires_grad_()  # many ties
        g = torch.randn(F.max_pool2d(x, k, s, p).shape, generator=gen, dtype=torch.double)
        (ours,) = torch.autograd.grad(pooling.pool2d(x, k, s, p), x, g)
        (theirs,) = torch.autograd.grad(F.max_pool2d(x, k, s, p), x, g)
        assert torch.equal(ours != 0, theirs != 0)  # the same winners...
        torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-12)  # ...summed in another order
        if p == 0:
            _, idx = pooling.max_pool2d_with_indices(x.detach(), k, s)
            torch.testing.assert_close(pooling.max_pool2d_backward(g, idx, x.shape), theirs)


@pytest.mark.parametrize("k, s", [(2, None), (3, 2), (2, 1), (3, 3)])
def test_avg_pool_backward_matches_autograd_for_every_geometry(k, s):
    x = torch.randn(2, 3, 7, 8, dtype=torch.float64, requires_grad=True)
    y = F.avg_pool2d(x, k, s)
    g = torch.randn_like(y)
    (want,) = torch.autograd.grad(y, x, g)
    torch.testing.assert_close(pooling.avg_pool2d_backward(g, x.shape, k, s), want)


def test_avg_pool_backward_refuses_a_grad_out_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"grad_out must have the pooled output's shape \(1, 1, 2, 2\)"):
        pooling.avg_pool2d_backward(torch.ones(1, 1, 3, 3), (1, 1, 4, 4), 2)
    with pytest.raises(ValueError, match=r"\(1, 2, 3, 3\).*got \(1, 1, 3, 3\)"):
        pooling.avg_pool2d_backward(torch.ones(1, 1, 3, 3), (1, 2, 7, 7), 3, 2)
    with pytest.raises(ValueError, match=r"input_shape must be \(B, C, H, W\)"):
        pooling.avg_pool2d_backward(torch.ones(2, 2), (4, 4), 2)


@pytest.mark.parametrize("kwargs, match", [(dict(kernel_size=2.0), "kernel_size must be a whole number"),
                                           (dict(kernel_size=2, stride=0), "stride must be"),
                                           (dict(kernel_size=3, padding=-1), "padding must be")])
def test_pool_arguments_must_be_whole_numbers(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pooling.pool2d(WORKED, **kwargs)


def test_shift_and_fraction_unchanged_against_direct_counts():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert pooling.shift(x, 1, 0)[0, 0].tolist() == [[0, 0, 0, 0], [0, 1, 2, 3], [4, 5, 6, 7],
                                                    [8, 9, 10, 11]]
    assert pooling.shift(x, 0, -1)[0, 0, 0].tolist() == [1, 2, 3, 0]
    a, b = torch.zeros(10), torch.zeros(10)
    b[:3] = 1
    assert pooling.fraction_unchanged(a, b) == pytest.approx(0.7)
    with pytest.raises(ValueError, match="shapes differ"):
        pooling.fraction_unchanged(a, b[:5])
