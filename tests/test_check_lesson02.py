"""Lesson 02's checks: the notebook's solutions pass, realistic mistakes fail with a hint."""

import numpy as np
import pytest
import torch

from dlcourse.check import lesson02

W1 = np.array([[20.0, 20.0], [-20.0, -20.0]])  # the notebook's solution: AND, NOR
b1 = np.array([-30.0, 10.0])
W2, b2 = np.array([[20.0, 20.0]]), np.array([-10.0])  # OR of the two


def test_xnor_network():
    lesson02.xnor_network(W1, b1, W2, b2)
    lesson02.xnor_network(torch.tensor(W1), b1.tolist(), W2, b2)
    with pytest.raises(AssertionError, match="agree"):
        lesson02.xnor_network(W1, b1, -W2, -b2)  # XOR, not XNOR
    with pytest.raises(AssertionError, match="scale the weights"):
        lesson02.xnor_network(W1 / 5, b1 / 5, W2 / 5, b2 / 5)
    with pytest.raises(AssertionError, match=r"\(hidden, 2\)"):
        lesson02.xnor_network([[1.0, 1.0, 1.0]], [0.0], [[1.0]], [0.0])
    with pytest.raises(AssertionError, match=r"\(1, hidden\)"):
        lesson02.xnor_network(W1, b1, W2[0], b2)


def test_mlp_param_count():
    sizes = [784, 256, 128, 10]
    n_params = sum(n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))
    lesson02.mlp_param_count(n_params)
    lesson02.mlp_param_count(np.int64(n_params))
    lesson02.mlp_param_count(torch.tensor(n_params))
    with pytest.raises(AssertionError, match="bias"):
        lesson02.mlp_param_count(784 * 256 + 256 * 128 + 128 * 10)
    with pytest.raises(AssertionError, match="count"):
        lesson02.mlp_param_count(784 * 256 + 256 + 256 * 128 + 128)  # forgot the last layer
    with pytest.raises(AssertionError, match="whole number"):
        lesson02.mlp_param_count(n_params + 0.5)
