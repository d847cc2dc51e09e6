"""Part-1 exercise checks: the reference solution passes, typical mistakes fail with a hint."""

import numpy as np
import pytest
import torch

from dlcourse import scratch
from dlcourse.check import part1


def _fails(check, *args, match):
    with pytest.raises(AssertionError, match=match):
        check(*args)


def test_perceptron_step():
    part1.perceptron_step(scratch.perceptron_step)

    def no_bias(w, b, x, y, lr):
        return scratch.perceptron_step(w, b, x, y, lr)[0], b

    def wrong_sign(w, b, x, y, lr):
        y_hat = scratch.perceptron_predict(w, b, x[None])[0]
        return w - lr * (y - y_hat) * x, b - lr * (y - y_hat)

    _fails(part1.perceptron_step, no_bias, match="bias")
    _fails(part1.perceptron_step, wrong_sign, match="lr \\* \\(y - y_hat\\)")
    _fails(part1.perceptron_step, lambda w, b, x, y, lr: w, match="pair")


def test_nand_perceptron():
    part1.nand_perceptron([-1.0, -1.0], 1.5)
    _fails(part1.nand_perceptron, [1.0, 1.0], -1.5, match="wrong output")  # that is AND
    _fails(part1.nand_perceptron, [1.0, 1.0, 1.0], 0.0, match="shape")
    _fails(part1.nand_perceptron, "ab", 0.0, match="numbers")


def test_xnor_network():
    W1 = [[20.0, 20.0], [-20.0, -20.0]]  # AND, NOR
    b1 = [-30.0, 10.0]
    part1.xnor_network(W1, b1, [[20.0, 20.0]], [-10.0])  # OR of the two
    _fails(part1.xnor_network, W1, b1, [[-20.0, -20.0]], [10.0], match="agree")
    _fails(
        part1.xnor_network,
        [[4.0, 4.0], [-4.0, -4.0]],
        [-6.0, 2.0],
        [[4.0, 4.0]],
        [-2.0],
        match="scale the weights",
    )
    _fails(part1.xnor_network, [[1.0, 1.0, 1.0]], [0.0], [[1.0]], [0.0], match=r"\(hidden, 2\)")


def test_mlp_param_count():
    part1.mlp_param_count(235146)
    _fails(part1.mlp_param_count, 784 * 256 + 256 * 128 + 128 * 10, match="bias")
    _fails(part1.mlp_param_count, 1000, match="count")


def test_sigmoid_backward():
    part1.sigmoid_backward(lambda a, g: g * a * (1 - a))
    _fails(part1.sigmoid_backward, lambda a, g: a * (1 - a), match="incoming gradient")
    _fails(part1.sigmoid_backward, lambda a, g: (g * a * (1 - a)).sum(), match="shape")


def _worked_dW():
    """Reference via torch: softmax of W x, L = 0.5 ||p - t||^2."""
    W = torch.tensor(scratch.WORKED_W, dtype=torch.float64, requires_grad=True)
    p = torch.softmax(W @ torch.tensor(scratch.WORKED_X, dtype=torch.float64), dim=0)
    (0.5 * ((p - torch.tensor(scratch.WORKED_T, dtype=torch.float64)) ** 2).sum()).backward()
    return W.grad.numpy()


def test_softmax_l2_gradient():
    dW = _worked_dW()
    part1.softmax_l2_gradient(dW)
    x = np.array(scratch.WORKED_X)
    # a common mistake: forgetting the softmax Jacobian (delta = p - t)
    W = np.array(scratch.WORKED_W)
    z = W @ x
    p = np.exp(z) / np.exp(z).sum()
    _fails(part1.softmax_l2_gradient, np.outer(p - np.array(scratch.WORKED_T), x), match="Jacobian")
    _fails(
        part1.softmax_l2_gradient,
        dW + np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]),
        match="outer product",
    )
    _fails(part1.softmax_l2_gradient, dW[0], match="shape")


def test_softmax_l2_worked_value_golden():
    # the number notebook 03 prints for dL/dw1 (w1 = W[0][0])
    assert _worked_dW()[0, 0] == pytest.approx(-0.0246195, abs=5e-7)


def test_glorot_std():
    part1.glorot_std(lambda fan_in, fan_out: (2.0 / (fan_in + fan_out)) ** 0.5)
    _fails(part1.glorot_std, lambda fan_in, fan_out: 2.0 / (fan_in + fan_out), match="variance")
    _fails(part1.glorot_std, lambda fan_in, fan_out: (2.0 / fan_in) ** 0.5, match="He")
    _fails(part1.glorot_std, lambda fan_in, fan_out: (1.0 / fan_in) ** 0.5, match="Glorot keeps")
    _fails(part1.glorot_std, lambda fan_in, fan_out: "0.1", match="one number")


def test_sigmoid_chain_bound():
    part1.sigmoid_chain_bound(0.25**10)
    _fails(part1.sigmoid_chain_bound, 0.25, match="one layer")
    _fails(part1.sigmoid_chain_bound, 0.5**10, match="max sigma")
    _fails(part1.sigmoid_chain_bound, "1e-6", match="single number")
