"""Lesson 01's checks: the notebook's solutions pass, realistic mistakes fail with a hint."""

import numpy as np
import pytest
import torch

from dlcourse import scratch
from dlcourse.check import lesson01


def my_perceptron_step(w, b, x, y, lr=1.0):
    """The notebook's solution."""
    y_hat = float(w @ x + b > 0)
    return w + lr * (y - y_hat) * x, b + lr * (y - y_hat)


def test_perceptron_step():
    lesson01.perceptron_step(my_perceptron_step)
    lesson01.perceptron_step(scratch.perceptron_step)
    lesson01.perceptron_step(lambda w, b, x, y, lr: list(my_perceptron_step(w, b, x, y, lr)))

    def no_bias(w, b, x, y, lr):
        return my_perceptron_step(w, b, x, y, lr)[0], b

    def wrong_sign(w, b, x, y, lr):
        y_hat = float(w @ x + b > 0)
        return w - lr * (y - y_hat) * x, b - lr * (y - y_hat)

    def always_update(w, b, x, y, lr):  # forgets that a right prediction changes nothing
        return w + lr * y * x, b + lr * y

    with pytest.raises(AssertionError, match="bias"):
        lesson01.perceptron_step(no_bias)
    with pytest.raises(AssertionError, match="must not change|lr \\* \\(y - y_hat\\)"):
        lesson01.perceptron_step(wrong_sign)
    with pytest.raises(AssertionError, match="already right"):
        lesson01.perceptron_step(always_update)
    with pytest.raises(AssertionError, match="pair"):
        lesson01.perceptron_step(lambda w, b, x, y, lr: w)
    with pytest.raises(AssertionError, match="returned None"):
        lesson01.perceptron_step(lambda w, b, x, y, lr: None)


def test_nand_perceptron():
    lesson01.nand_perceptron(np.array([-1.0, -1.0]), 1.5)  # the notebook's solution
    lesson01.nand_perceptron(torch.tensor([-2.0, -2.0]), torch.tensor(3.0))
    lesson01.nand_perceptron([-1, -1], np.float32(1.5))
    with pytest.raises(AssertionError, match="wrong output"):
        lesson01.nand_perceptron([1.0, 1.0], -1.5)  # that is AND
    with pytest.raises(AssertionError, match="wrong output"):
        lesson01.nand_perceptron([-1.0, -1.0], 0.5)  # NOR
    with pytest.raises(AssertionError, match="shape"):
        lesson01.nand_perceptron([1.0, 1.0, 1.0], 0.0)
    with pytest.raises(AssertionError, match="numbers"):
        lesson01.nand_perceptron("ab", 0.0)


def test_nand_untouched_answer_cell_is_not_answered():
    # the example: `w_nand, b_nand = None, None` used to answer "got shape ()"
    with pytest.raises(AssertionError, match="w_nand is not answered yet"):
        lesson01.nand_perceptron(None, None)
