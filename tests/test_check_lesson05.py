"""Lesson 05's checks: the notebook's solutions pass, realistic mistakes fail with a hint."""

import pytest
import torch

from dlcourse import conv
from dlcourse.check import lesson05


def test_horizontal_edge_kernel():
    lesson05.horizontal_edge_kernel([[-1, -2, -1], [0, 0, 0], [1, 2, 1]])  # the notebook's solution
    lesson05.horizontal_edge_kernel(conv.get_kernel("sobel_y"))
    lesson05.horizontal_edge_kernel([[-1, -1, -1], [0, 0, 0], [1, 1, 1]])
    with pytest.raises(AssertionError, match="vertical edge"):
        lesson05.horizontal_edge_kernel(-conv.get_kernel("sobel_x") + conv.get_kernel("sobel_y"))
    with pytest.raises(AssertionError, match="add up to zero"):
        lesson05.horizontal_edge_kernel(conv.get_kernel("box_blur"))
    with pytest.raises(AssertionError, match="positive"):
        lesson05.horizontal_edge_kernel(-conv.get_kernel("sobel_y"))  # bright-to-dark
    with pytest.raises(AssertionError, match="3x3"):
        lesson05.horizontal_edge_kernel([[-1, 1]])


def my_conv_params(c_in, c_out, k, bias=True):
    """The notebook's solution."""
    return c_out * (c_in * k * k + (1 if bias else 0))


def test_conv_param_count():
    lesson05.conv_param_count(my_conv_params)
    lesson05.conv_param_count(lambda c_in, c_out, k, bias=True: torch.tensor(my_conv_params(c_in, c_out, k,
                                                                                        bias)))
    with pytest.raises(AssertionError, match="plus one bias"):
        lesson05.conv_param_count(lambda c_in, c_out, k, bias=True: c_out * c_in * k * k)
    with pytest.raises(AssertionError, match="plus one bias"):
        lesson05.conv_param_count(lambda c_in, c_out, k, bias=True: c_out * (c_in * k * k + 1))  # no bias=
    with pytest.raises(AssertionError, match="every input channel"):
        lesson05.conv_param_count(lambda c_in, c_out, k, bias=True: c_out * (k * k + bias))


def my_correlate(image, kernel):
    """The notebook's solution."""
    kh, kw = kernel.shape
    out = torch.zeros(image.shape[0] - kh + 1, image.shape[1] - kw + 1)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = (image[i:i + kh, j:j + kw] * kernel).sum()
    return out


def test_correlate_loops():
    lesson05.correlate_loops(my_correlate)
    lesson05.correlate_loops(conv.correlate2d)
    with pytest.raises(AssertionError, match="no kernel flip"):
        lesson05.correlate_loops(conv.convolve2d)
    with pytest.raises(AssertionError, match="only where it fits"):
        lesson05.correlate_loops(lambda image, kernel: torch.zeros(3, 3))
    def off_by_one(image, kernel):  # range(H - kH) instead of range(H - kH + 1)
        return my_correlate(image, kernel)[:-1, :-1]

    with pytest.raises(AssertionError, match="fits entirely"):
        lesson05.correlate_loops(off_by_one)
