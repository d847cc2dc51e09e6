"""Lesson 03's checks: the notebook's solutions pass, realistic mistakes fail with a hint."""

import numpy as np
import pytest
import torch

from dlcourse import scratch
from dlcourse.check import lesson03


def test_sigmoid_backward():
    lesson03.sigmoid_backward(lambda a, grad_out: grad_out * a * (1 - a))  # the notebook's solution
    lesson03.sigmoid_backward(lambda a, grad_out: torch.as_tensor(grad_out * a * (1 - a)))
    with pytest.raises(AssertionError, match="incoming gradient"):
        lesson03.sigmoid_backward(lambda a, g: a * (1 - a))
    with pytest.raises(AssertionError, match="incoming gradient"):
        lesson03.sigmoid_backward(lambda a, g: g * scratch.sigmoid(a) * (1 - scratch.sigmoid(a)))
    with pytest.raises(AssertionError, match="shape"):
        lesson03.sigmoid_backward(lambda a, g: (g * a * (1 - a)).sum())


def _worked_dW():
    """Reference via torch: softmax of W x, L = 0.5 ||p - t||^2."""
    W = torch.tensor(scratch.WORKED_W, dtype=torch.float64, requires_grad=True)
    p = torch.softmax(W @ torch.tensor(scratch.WORKED_X, dtype=torch.float64), dim=0)
    (0.5 * ((p - torch.tensor(scratch.WORKED_T, dtype=torch.float64)) ** 2).sum()).backward()
    return W.grad.numpy()


def test_softmax_l2_gradient():
    dW = _worked_dW()
    x = np.array(scratch.WORKED_X)
    delta = dW[:, 0] / x[0]
    lesson03.softmax_l2_gradient(np.outer(delta, x))  # the notebook's solution
    lesson03.softmax_l2_gradient(torch.tensor(dW))
    # a common mistake: forgetting the softmax Jacobian (delta = p - t)
    z = np.array(scratch.WORKED_W) @ x
    p = np.exp(z) / np.exp(z).sum()
    with pytest.raises(AssertionError, match="Jacobian"):
        lesson03.softmax_l2_gradient(np.outer(p - np.array(scratch.WORKED_T), x))
    with pytest.raises(AssertionError, match="outer product"):
        lesson03.softmax_l2_gradient(dW + np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]))
    with pytest.raises(AssertionError, match="shape"):
        lesson03.softmax_l2_gradient(dW[0])
    with pytest.raises(AssertionError, match="shape"):
        lesson03.softmax_l2_gradient(np.outer(x, delta))  # transposed


def test_softmax_l2_worked_value_golden():
    # the number notebook 03 prints for dL/dw1 (w1 = W[0][0]), and the check's own reference agrees
    assert _worked_dW()[0, 0] == pytest.approx(-0.0246195, abs=5e-7)
    np.testing.assert_allclose(lesson03._worked_gradient(), _worked_dW(), rtol=1e-9)
