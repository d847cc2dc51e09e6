"""Receptive fields measured with gradients: the oracle for `summary`, `shapes.receptive_field` and
`dlcourse.receptive`. Not a test file; the tests import it."""

import contextlib

import torch
import torch.nn.functional as F
from torch import nn


@contextlib.contextmanager
def max_pools_as_average_pools():
    """Max pooling sends the gradient to one pixel per window; average pooling of the same geometry
    reaches all of them. Patches the functional forms, so nn.MaxPool2d and F.max_pool2d both change
    (and the adaptive ones)."""
    original = F.max_pool2d, F.adaptive_max_pool2d

    def adaptive_avg(input, output_size, return_indices=False):
        assert not return_indices
        return F.adaptive_avg_pool2d(input, output_size)

    def avg(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
            return_indices=False):
        assert dilation in (1, (1, 1)) and not return_indices
        return F.avg_pool2d(input, kernel_size, stride, padding, ceil_mode)

    F.max_pool2d, F.adaptive_max_pool2d = avg, adaptive_avg
    try:
        yield
    finally:
        F.max_pool2d, F.adaptive_max_pool2d = original


def measured_receptive_field(model: nn.Module, size: int, in_channels: int | None = None,
                             window: int = 0) -> tuple[int, int]:
    """Widest extent (rows, cols) of input pixels with a non-zero gradient, over the output units
    within `window` of the centre (after upsampling, neighbouring units see different amounts).

    All channels of a unit are summed: after a concatenation (Inception, DenseNet, U-Net) channels
    differ in receptive field, and the analytic value is that of the whole unit.
    """
    in_channels = in_channels or model_in_channels(model)
    model = model.double().eval()
    with torch.no_grad():  # all-positive weights and input: no ReLU is off, nothing cancels
        for p in model.parameters():
            p.abs_().add_(0.01)
    X = torch.ones(1, in_channels, size, size, dtype=torch.double, requires_grad=True)
    with max_pools_as_average_pools():
        out = model(X)
    h0, w0 = out.shape[2] // 2, out.shape[3] // 2
    best = (0, 0)
    rows = range(max(h0 - window, 0), min(h0 + window + 1, out.shape[2]))
    cols = range(max(w0 - window, 0), min(w0 + window + 1, out.shape[3]))
    for h in rows:
        for w in cols:
            (grad,) = torch.autograd.grad(out[0, :, h, w].sum(), X, retain_graph=True)
            g = grad[0].abs().sum(0)
            ys, xs = g.sum(1).nonzero(), g.sum(0).nonzero()
            extent = (int(ys.max() - ys.min() + 1), int(xs.max() - xs.min() + 1))
            best = (max(best[0], extent[0]), max(best[1], extent[1]))
    return best


def model_in_channels(model: nn.Module) -> int:
    return next(m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))).in_channels
