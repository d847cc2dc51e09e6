"""Exercise checks for notebook 13 (segmentation: unpooling, transposed convolution, FCN, U-Net, hourglass).

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

from dlcourse import metrics
from dlcourse.check._common import array, call, module, require, whole_number
from dlcourse.segmentation import checkerboard_strength

__all__ = ["transposed_sizes", "iou_from_confusion", "conv_matrix_1d", "even_upsampler"]


def transposed_sizes(size_k4: object, output_padding_k3: object) -> None:
    """Exercise 1: a 12x12 map through ConvTranspose2d(k=4, s=2, p=1), and the output_padding that makes
    ConvTranspose2d(k=3, s=2, p=1) give 24x24 from 12x12."""
    size = whole_number(size_k4, "size_k4")
    require(size == 24, f"size_k4 = {size} is not what the layer gives: use (N - 1)*S - 2P + (F - 1) + "
            "output_padding + 1 with N = 12, F = 4, P = 1, S = 2 and no output_padding.")
    op = whole_number(output_padding_k3, "output_padding_k3")
    require(0 <= op < 2, f"output_padding must be 0 or more and smaller than the stride (2), got {op}.")
    require(op == 1, "work out the k=3 layer's size with output_padding = 0 first; output_padding adds what "
            "is missing to reach 24 on one side.")


def _random_confusions() -> list[np.ndarray]:
    rng = np.random.default_rng(13)
    mats = []
    for k, absent in ((4, ()), (6, (2,)), (11, (0, 5, 9))):
        cm = rng.integers(0, 50, (k, k)) + np.diag(rng.integers(50, 200, k))
        for c in absent:  # the class is in neither the truth (row) nor the prediction (column)
            cm[c, :] = 0
            cm[:, c] = 0
        mats.append(cm)
    only_predicted = np.array([[5, 2, 1], [0, 7, 0], [0, 0, 0]])  # class 2 predicted, never true: IoU 0
    return [*mats, only_predicted]


def iou_from_confusion(fn: Callable) -> None:
    """Exercise 2: fn(cm) -> the IoU of every class, NaN for a class absent from truth and prediction."""
    for cm in _random_confusions():
        got = array(call(fn, torch.from_numpy(cm.copy()), name="iou_from_confusion"), "the returned IoUs")
        want = metrics.iou_per_class(torch.from_numpy(cm)).numpy()
        require(got.shape == want.shape, f"return one IoU per class: shape ({len(cm)},), got {got.shape}.")
        absent = np.isnan(want)
        require(not np.isnan(got[~absent]).any(), "only a class that appears nowhere (its row and column "
                "are all zero) has no IoU; a class that is predicted but never true scores 0.")
        require(np.allclose(got[~absent], want[~absent], atol=1e-6),
                "IoU = intersection / union: the intersection is the diagonal entry; the union is the "
                "class's row sum plus its column sum, minus the diagonal (counted twice).")
        require(np.isnan(got[absent]).all(), "a class with no pixel in the truth or the predictions has "
                "IoU 0/0: return NaN for it (not 0), so the mean can leave it out.")


def conv_matrix_1d(fn: Callable) -> None:
    """Exercise 3: fn(w, n) -> the (n - k + 1, n) matrix C of conv1d with kernel w (no padding, stride 1)."""
    torch.manual_seed(13)
    for k, n in ((3, 6), (2, 5), (4, 9)):
        w = torch.randn(k, dtype=torch.float64)
        C = array(call(fn, w.clone(), n, name="conv_matrix_1d"), "the returned matrix")
        require(C.shape == (n - k + 1, n), f"for a kernel of {k} taps on {n} inputs C has one row per output "
                f"and one column per input: ({n - k + 1}, {n}), got {C.shape}.")
        x = torch.randn(n, dtype=torch.float64)
        want = F.conv1d(x[None, None], w[None, None])[0, 0].numpy()
        flipped = F.conv1d(x[None, None], w.flip(0)[None, None])[0, 0].numpy()
        got = C @ x.numpy()
        require(not (np.allclose(got, flipped) and not np.allclose(got, want)),
                "conv1d computes cross-correlation: row i holds w[0], w[1], ... in order, not flipped.")
        require(np.allclose(got, want, atol=1e-8), "row i of C holds the kernel's taps in the columns of "
                "the inputs that output i reads (i, i+1, ...), and zeros elsewhere.")
        y = torch.randn(n - k + 1, dtype=torch.float64)
        require(np.allclose(C.T @ y.numpy(), F.conv_transpose1d(y[None, None], w[None, None])[0, 0].numpy()),
                "C.T should be conv_transpose1d; build C from the kernel's taps only.")


def even_upsampler(layer: object) -> None:
    """Exercise 4: a stride-2 ConvTranspose2d that maps 24x24 to 48x48 and paints no checkerboard."""
    layer = module(layer, "even_up", "Build it with nn.ConvTranspose2d(1, 1, kernel_size=..., stride=2, "
                   "padding=...).")
    require(isinstance(layer, nn.ConvTranspose2d), f"even_up should be an nn.ConvTranspose2d, got "
            f"{type(layer).__name__}.")
    require(tuple(layer.stride) == (2, 2), f"the exercise asks for stride 2, got {tuple(layer.stride)}.")
    with torch.no_grad():
        out = layer(torch.zeros(1, layer.in_channels, 24, 24))
    require(tuple(out.shape[-2:]) == (48, 48), f"a 24x24 map becomes {tuple(out.shape[-2:])}, not 48x48: "
            "check the output-size formula (padding crops, output_padding adds).")
    probe = copy.deepcopy(layer)
    with torch.no_grad():
        probe.weight.fill_(1.0)  # every contribution counts 1: unequal counts show as a checkerboard
        if probe.bias is not None:
            probe.bias.zero_()
    wrapped = nn.Sequential(nn.Conv2d(1, layer.in_channels, 1, bias=False), probe)  # one input channel
    nn.init.ones_(wrapped[0].weight)
    strength = checkerboard_strength(wrapped, value=1.0, size=24)
    require(math.isclose(strength, 0.0, abs_tol=1e-6), "some output pixels still get more contributions "
            "than others: the kernel overlaps evenly only when its size is a multiple of the stride.")
