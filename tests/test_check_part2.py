"""Tests for dlcourse.check.part2: right answers pass quietly, wrong ones raise a hint."""

import pytest
import torch

from dlcourse import conv, pooling
from dlcourse.check import part2


def test_checks_are_exported_by_name():
    import dlcourse.check

    for name in part2.__all__:
        assert getattr(dlcourse.check, name) is getattr(part2, name)


def test_horizontal_edge_kernel():
    assert part2.horizontal_edge_kernel(conv.get_kernel("sobel_y")) is None
    assert part2.horizontal_edge_kernel([[-1, -1, -1], [0, 0, 0], [1, 1, 1]]) is None
    with pytest.raises(AssertionError, match="vertical edge"):
        part2.horizontal_edge_kernel(-conv.get_kernel("sobel_x") + conv.get_kernel("sobel_y"))
    with pytest.raises(AssertionError, match="add up to zero"):
        part2.horizontal_edge_kernel(conv.get_kernel("box_blur"))
    with pytest.raises(AssertionError, match="positive"):
        part2.horizontal_edge_kernel(-conv.get_kernel("sobel_y"))
    with pytest.raises(AssertionError, match="3x3"):
        part2.horizontal_edge_kernel([[-1, 1]])


def test_conv_param_count():
    part2.conv_param_count(lambda c_in, c_out, k, bias=True: c_out * (c_in * k * k + bias))
    with pytest.raises(AssertionError, match="plus one bias"):
        part2.conv_param_count(lambda c_in, c_out, k, bias=True: c_out * c_in * k * k)


def test_correlate_loops():
    part2.correlate_loops(conv.correlate2d)
    with pytest.raises(AssertionError, match="no kernel flip"):
        part2.correlate_loops(conv.convolve2d)
    with pytest.raises(AssertionError, match="only where it fits"):
        part2.correlate_loops(lambda image, kernel: torch.zeros(3, 3))


def test_lecture_flatten_size():
    part2.lecture_flatten_size(6272)
    with pytest.raises(AssertionError, match="lecture's comment"):
        part2.lecture_flatten_size(288)
    with pytest.raises(AssertionError, match="halves"):
        part2.lecture_flatten_size(8 * 56 * 56)
    with pytest.raises(AssertionError, match="int"):
        part2.lecture_flatten_size("6272")


def test_max_pool_reshape():
    part2.max_pool_reshape(pooling.max_pool_by_reshape)
    with pytest.raises(AssertionError, match="should be"):
        part2.max_pool_reshape(lambda x: x)
    with pytest.raises(AssertionError, match="values differ"):
        part2.max_pool_reshape(lambda x: torch.nn.functional.avg_pool2d(x, 2))
