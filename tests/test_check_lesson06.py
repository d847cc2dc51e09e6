"""Lesson 06's checks: the notebook's solutions pass, realistic mistakes fail with a hint."""

import numpy as np
import pytest
import torch

from dlcourse import pooling
from dlcourse.check import lesson06


def test_lecture_flatten_size():
    lesson06.lecture_flatten_size(8 * 28 * 28)  # the notebook's solution
    lesson06.lecture_flatten_size(np.int64(6272))  # issue 11: rejected before
    lesson06.lecture_flatten_size(torch.tensor(6272))
    lesson06.lecture_flatten_size(6272.0)
    with pytest.raises(AssertionError, match="lecture's comment"):
        lesson06.lecture_flatten_size(288)
    with pytest.raises(AssertionError, match="halves"):
        lesson06.lecture_flatten_size(8 * 56 * 56)  # two pools instead of three
    with pytest.raises(AssertionError, match="halves"):
        lesson06.lecture_flatten_size(3 * 28 * 28)  # the input's channels
    with pytest.raises(AssertionError, match="should be a number"):
        lesson06.lecture_flatten_size("6272")


def my_max_pool(x):
    """The notebook's solution."""
    b, c, h, w = x.shape
    return x.reshape(b, c, h // 2, 2, w // 2, 2).amax(dim=(3, 5))


def test_max_pool_reshape():
    lesson06.max_pool_reshape(my_max_pool)
    lesson06.max_pool_reshape(pooling.max_pool_by_reshape)
    with pytest.raises(AssertionError, match="should be"):
        lesson06.max_pool_reshape(lambda x: x)
    with pytest.raises(AssertionError, match="values differ"):
        lesson06.max_pool_reshape(lambda x: torch.nn.functional.avg_pool2d(x, 2))
    with pytest.raises(AssertionError, match="values differ"):  # a plain reshape mixes rows and columns
        lesson06.max_pool_reshape(
            lambda x: x.reshape(*x.shape[:2], x.shape[2] // 2, x.shape[3] // 2, 4).amax(-1))
