"""Lesson 04's checks: the notebook's solutions pass, realistic mistakes fail with a hint."""

import numpy as np
import pytest
import torch

from dlcourse.check import lesson04


def test_sigmoid_chain_bound():
    lesson04.sigmoid_chain_bound((1.0 * 0.25) ** 10)  # the notebook's solution
    lesson04.sigmoid_chain_bound(torch.tensor(0.25) ** 10)
    with pytest.raises(AssertionError, match="one layer"):
        lesson04.sigmoid_chain_bound(0.25)
    with pytest.raises(AssertionError, match="max sigma"):
        lesson04.sigmoid_chain_bound(0.5**10)
    with pytest.raises(AssertionError, match="max sigma"):
        lesson04.sigmoid_chain_bound(1.0)
    with pytest.raises(AssertionError, match="should be a number"):
        lesson04.sigmoid_chain_bound("1e-6")


def glorot_std(fan_in: int, fan_out: int) -> float:
    """The notebook's solution."""
    return (2.0 / (fan_in + fan_out)) ** 0.5


def test_glorot_std():
    lesson04.glorot_std(glorot_std)
    lesson04.glorot_std(lambda fan_in, fan_out: torch.sqrt(torch.tensor(2.0 / (fan_in + fan_out))))
    lesson04.glorot_std(lambda fan_in, fan_out: np.sqrt(2.0 / (fan_in + fan_out)))
    with pytest.raises(AssertionError, match="variance"):
        lesson04.glorot_std(lambda fan_in, fan_out: 2.0 / (fan_in + fan_out))
    with pytest.raises(AssertionError, match="He"):
        lesson04.glorot_std(lambda fan_in, fan_out: (2.0 / fan_in) ** 0.5)
    with pytest.raises(AssertionError, match="Glorot keeps"):
        lesson04.glorot_std(lambda fan_in, fan_out: (1.0 / fan_in) ** 0.5)
    with pytest.raises(AssertionError, match="Glorot keeps"):
        lesson04.glorot_std(lambda fan_in, fan_out: (6.0 / (fan_in + fan_out)) ** 0.5)  # uniform's bound
    with pytest.raises(AssertionError, match="should be a number"):
        lesson04.glorot_std(lambda fan_in, fan_out: "0.1")
