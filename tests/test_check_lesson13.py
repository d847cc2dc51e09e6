"""Lesson 13's checks: the notebook's solutions pass, realistic mistakes fail with a hint."""

import numpy as np
import pytest
import torch
from torch import nn

from dlcourse.check import lesson13


def test_transposed_sizes():
    lesson13.transposed_sizes(24, 1)  # the notebook's solution
    lesson13.transposed_sizes(np.int64(24), torch.tensor(1))
    with pytest.raises(AssertionError, match="formula|N = 12"):
        lesson13.transposed_sizes(22, 1)  # forgot the kernel term
    with pytest.raises(AssertionError, match="N = 12"):
        lesson13.transposed_sizes(25, 1)
    with pytest.raises(AssertionError, match="smaller than the stride"):
        lesson13.transposed_sizes(24, 2)
    with pytest.raises(AssertionError, match="output_padding = 0 first"):
        lesson13.transposed_sizes(24, 0)
    with pytest.raises(AssertionError, match="not answered yet"):
        lesson13.transposed_sizes(None, 1)


def iou_from_confusion(cm):
    """The notebook's solution."""
    cm = torch.as_tensor(cm).double()
    tp = cm.diagonal()
    union = cm.sum(0) + cm.sum(1) - tp
    return torch.where(union > 0, tp / union, torch.full_like(tp, float("nan")))


def test_iou_from_confusion():
    lesson13.iou_from_confusion(iou_from_confusion)

    def recall(cm):  # divides by the row sum only
        cm = torch.as_tensor(cm).double()
        return cm.diagonal() / cm.sum(1)

    def no_minus(cm):  # the diagonal counted twice in the union
        cm = torch.as_tensor(cm).double()
        return cm.diagonal() / (cm.sum(0) + cm.sum(1)).clamp_min(1e-12)

    def zero_for_absent(cm):
        return torch.nan_to_num(iou_from_confusion(cm), nan=0.0)

    with pytest.raises(AssertionError, match="never true scores 0|union"):
        lesson13.iou_from_confusion(recall)
    with pytest.raises(AssertionError, match="union"):
        lesson13.iou_from_confusion(no_minus)
    with pytest.raises(AssertionError, match="NaN"):
        lesson13.iou_from_confusion(zero_for_absent)
    with pytest.raises(AssertionError, match="shape"):
        lesson13.iou_from_confusion(lambda cm: iou_from_confusion(cm)[:-1])

    def stub(cm):
        raise NotImplementedError

    with pytest.raises(AssertionError, match="not answered yet"):
        lesson13.iou_from_confusion(stub)


def conv_matrix_1d(w, n):
    """The notebook's solution."""
    k = len(w)
    C = torch.zeros(n - k + 1, n, dtype=torch.as_tensor(w).dtype)
    for i in range(n - k + 1):
        C[i, i:i + k] = torch.as_tensor(w)
    return C


def test_conv_matrix_1d():
    lesson13.conv_matrix_1d(conv_matrix_1d)
    lesson13.conv_matrix_1d(lambda w, n: conv_matrix_1d(w, n).numpy().tolist())  # lists are fine

    def flipped(w, n):
        return conv_matrix_1d(torch.as_tensor(w).flip(0), n)

    def square(w, n):
        C = torch.zeros(n, n, dtype=torch.float64)
        C[: n - len(w) + 1] = conv_matrix_1d(w, n)
        return C

    def shifted(w, n):
        return conv_matrix_1d(w, n).roll(1, dims=1)

    with pytest.raises(AssertionError, match="not flipped"):
        lesson13.conv_matrix_1d(flipped)
    with pytest.raises(AssertionError, match="one row per output"):
        lesson13.conv_matrix_1d(square)
    with pytest.raises(AssertionError, match="row i of C"):
        lesson13.conv_matrix_1d(shifted)
    with pytest.raises(AssertionError, match="returned None"):
        lesson13.conv_matrix_1d(lambda w, n: None)


def test_even_upsampler():
    lesson13.even_upsampler(nn.ConvTranspose2d(1, 1, kernel_size=4, stride=2, padding=1))  # the solution
    lesson13.even_upsampler(nn.ConvTranspose2d(1, 1, kernel_size=2, stride=2))
    lesson13.even_upsampler(nn.ConvTranspose2d(3, 2, kernel_size=6, stride=2, padding=2))
    with pytest.raises(AssertionError, match="multiple of the stride"):
        lesson13.even_upsampler(nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1, output_padding=1))
    with pytest.raises(AssertionError, match="not 48x48"):
        lesson13.even_upsampler(nn.ConvTranspose2d(1, 1, 4, stride=2))
    with pytest.raises(AssertionError, match="stride 2"):
        lesson13.even_upsampler(nn.ConvTranspose2d(1, 1, 2, stride=1))
    with pytest.raises(AssertionError, match="nn.ConvTranspose2d"):
        lesson13.even_upsampler(nn.Upsample(scale_factor=2))
    with pytest.raises(AssertionError, match="not answered yet"):
        lesson13.even_upsampler(None)
