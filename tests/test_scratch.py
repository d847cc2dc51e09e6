"""numpy building blocks against torch: activations, the perceptron, the XOR net, hand backprop."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlcourse import scratch

GATES = {  # inputs (N, 2) and 0/1 targets; written out so the tests do not depend on data.py
    "and": [0, 0, 0, 1],
    "or": [0, 1, 1, 1],
    "xor": [0, 1, 1, 0],
}
X2 = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
X3 = np.array([[i >> 2 & 1, i >> 1 & 1, i & 1] for i in range(8)], dtype=float)

TORCH_ACTS = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": lambda t: F.leaky_relu(t, 0.1),
    "gelu": F.gelu,
    "maxout": lambda t: torch.maximum(t, -0.5 * t + 0.5),
}


@pytest.mark.parametrize("name", sorted(TORCH_ACTS))
def test_activation_and_derivative_match_torch(name):
    x = np.random.default_rng(0).uniform(-4, 4, 200)
    t = torch.tensor(x, requires_grad=True)
    y = TORCH_ACTS[name](t)
    y.sum().backward()
    np.testing.assert_allclose(scratch.activation(name)(x), y.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(scratch.derivative(name, x), t.grad.numpy(), atol=1e-12)


def test_step_and_sigmoid_facts():
    np.testing.assert_array_equal(scratch.step(np.array([-1.0, 0.0, 2.0])), [0.0, 0.0, 1.0])
    assert scratch.derivative("sigmoid", np.linspace(-5, 5, 1001)).max() == pytest.approx(0.25)
    assert np.isfinite(scratch.sigmoid(np.array([-1e4, 1e4]))).all()  # no overflow warning path


def test_unknown_activation_names_the_choices():
    with pytest.raises(KeyError, match="sigmoid"):
        scratch.activation("sigmod")
    with pytest.raises(KeyError, match="choose one of"):
        scratch.derivative("swish", np.zeros(2))


def test_perceptron_step_golden():
    w, b = scratch.perceptron_step(np.array([0.0, 0.0]), 0.0, np.array([1.0, 1.0]), 1.0, lr=0.5)
    np.testing.assert_array_equal(w, [0.5, 0.5])
    assert b == 0.5
    # a correct prediction leaves the weights alone
    w2, b2 = scratch.perceptron_step(w, b, np.array([1.0, 1.0]), 1.0)
    np.testing.assert_array_equal(w2, w)
    assert b2 == b
    with pytest.raises(ValueError, match="one example"):
        scratch.perceptron_step(np.zeros(2), 0.0, np.zeros((4, 2)), 1.0)


@pytest.mark.parametrize("gate", ["and", "or"])
def test_perceptron_learns_linearly_separable_gates(gate):
    y = np.array(GATES[gate], dtype=float)
    result = scratch.train_perceptron(X2, y, num_epochs=50, seed=0)
    assert result.converged
    np.testing.assert_array_equal(scratch.perceptron_predict(result.w, result.b, X2), y)
    assert len(result.snapshots) == len(result.errors) + 1


def test_perceptron_learns_not_and_majority():
    res_not = scratch.train_perceptron(np.array([[0.0], [1.0]]), np.array([1.0, 0.0]))
    assert res_not.converged
    y_maj = (X3.sum(axis=1) >= 2).astype(float)
    res_maj = scratch.train_perceptron(X3, y_maj, num_epochs=100)
    assert res_maj.converged


def test_perceptron_never_converges_on_xor():
    result = scratch.train_perceptron(X2, np.array(GATES["xor"], dtype=float), num_epochs=200)
    assert not result.converged
    assert min(result.errors) >= 1  # no line separates XOR


def test_perceptron_rejects_bad_targets_and_shapes():
    with pytest.raises(ValueError, match="0 or 1"):
        scratch.train_perceptron(X2, np.array([-1.0, 1.0, 1.0, -1.0]))
    with pytest.raises(ValueError, match=r"X \(N, D\)"):
        scratch.train_perceptron(X2[:, 0], np.zeros(4))


def test_hand_set_xor_network_truth_table():
    H, y_hat = scratch.xor_network(X2)
    np.testing.assert_array_equal(np.round(y_hat), GATES["xor"])
    np.testing.assert_array_equal(np.round(H[:, 0]), [1, 1, 1, 0])  # NAND
    np.testing.assert_array_equal(np.round(H[:, 1]), [0, 1, 1, 1])  # OR
    assert np.abs(y_hat - np.array(GATES["xor"])).max() < 1e-4


def _torch_grads(params, X, y, output):
    """Oracle: the same MLP and loss in torch, differentiated by autograd."""
    ts = [(torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)) for W, b in params]
    a = torch.tensor(X)
    for i, (W, b) in enumerate(ts):
        z = a @ W.T + b
        a = z if (i == len(ts) - 1 and output == "identity") else torch.sigmoid(z)
    target = torch.tensor(y).reshape(a.shape)
    if output == "sigmoid":
        loss = F.binary_cross_entropy(a, target, reduction="sum") / len(a)
    else:
        loss = 0.5 * ((a - target) ** 2).sum() / len(a)
    loss.backward()
    return loss.item(), [(W.grad.numpy(), b.grad.numpy()) for W, b in ts]


@pytest.mark.parametrize("output,sizes", [("sigmoid", [3, 5, 4, 1]), ("identity", [2, 8, 3])])
def test_mlp_backward_matches_torch(output, sizes):
    rng = np.random.default_rng(1)
    params = scratch.init_mlp(sizes, seed=1)
    X = rng.normal(size=(6, sizes[0]))
    y = (
        rng.integers(0, 2, (6, sizes[-1])).astype(float)
        if output == "sigmoid"
        else rng.normal(size=(6, sizes[-1]))
    )
    y_hat, acts = scratch.mlp_forward(params, X, output)
    assert y_hat.shape == (6, sizes[-1]) and len(acts) == len(sizes)
    loss_pt, grads_pt = _torch_grads(params, X, y, output)
    assert scratch.mlp_loss(y_hat, y, output) == pytest.approx(loss_pt, rel=1e-10)
    for (dW, db), (gW, gb) in zip(scratch.mlp_backward(params, acts, y), grads_pt, strict=True):
        np.testing.assert_allclose(dW, gW, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(db, gb, rtol=1e-9, atol=1e-12)


def test_gradient_check_passes_and_catches_a_wrong_gradient():
    params = scratch.init_mlp([2, 3, 1], seed=0)
    X, y = X2, np.array(GATES["xor"], dtype=float)
    assert scratch.gradient_check(params, X, y) < 1e-7
    _, acts = scratch.mlp_forward(params, X)
    good = scratch.mlp_backward(params, acts, y)[0][0]
    bad = good * 1.1  # a 10% mistake must be visible
    assert scratch.relative_error(good, bad) > 1e-2


def test_numerical_gradient_of_a_quadratic_and_restores_input():
    x = np.array([1.0, -2.0, 0.5])
    g = scratch.numerical_gradient(lambda: float((x**2).sum()), x)
    np.testing.assert_allclose(g, 2 * x, atol=1e-8)
    np.testing.assert_array_equal(x, [1.0, -2.0, 0.5])


def test_training_xor_with_hand_backprop_golden():
    params = scratch.init_mlp([2, 4, 1], seed=0)
    y = np.array(GATES["xor"], dtype=float)
    for _ in range(3000):
        y_hat, acts = scratch.mlp_forward(params, X2)
        params = scratch.sgd_update(params, scratch.mlp_backward(params, acts, y), lr=2.0)
    np.testing.assert_array_equal(np.round(scratch.mlp_forward(params, X2)[0][:, 0]), y)


def test_init_mlp_shapes_and_bad_sizes():
    params = scratch.init_mlp([4, 7, 2])
    assert [(W.shape, b.shape) for W, b in params] == [((7, 4), (7,)), ((2, 7), (2,))]
    with pytest.raises(ValueError, match="positive widths"):
        scratch.init_mlp([4])
    with pytest.raises(ValueError, match="identity"):
        scratch.mlp_forward(params, np.zeros((1, 4)), output="softmax")
