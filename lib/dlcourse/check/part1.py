"""Exercise checks for notebooks 01-04: each passes quietly or raises AssertionError with a hint.

Every public function here becomes `dlcourse.check.<name>`. Only modules are imported, so no
helper leaks into that namespace.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from dlcourse import autograd, scratch

_GATE_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)


def _require(ok: bool, hint: str) -> None:
    """Raise AssertionError(hint) unless ok; the hint guides without giving the answer."""
    if not ok:
        raise AssertionError(hint)


def _as_float_array(x: object, name: str) -> np.ndarray:
    try:
        return np.asarray(x, dtype=float)
    except (TypeError, ValueError) as err:
        raise AssertionError(
            f"{name} should be numbers (a list or numpy array), got {type(x).__name__}."
        ) from err


# --- 01 the neuron and the perceptron ----------------------------------------------------------


def perceptron_step(fn: Callable) -> None:
    """Check a student's fn(w, b, x, y, lr) -> (w, b) against the Rosenblatt update."""
    rng = np.random.default_rng(0)
    for _ in range(20):
        w, b = rng.normal(size=3), float(rng.normal())
        x, y, lr = rng.integers(0, 2, 3).astype(float), float(rng.integers(0, 2)), 0.5
        out = fn(w.copy(), b, x.copy(), y, lr)
        _require(isinstance(out, tuple) and len(out) == 2, "return a pair (new_w, new_b).")
        w_ref, b_ref = scratch.perceptron_step(w, b, x, y, lr)
        y_hat = scratch.perceptron_predict(w, b, x[None])[0]
        if y_hat == y:
            _require(
                np.allclose(out[0], w) and np.isclose(out[1], b),
                "when the prediction is already right the weights must not change.",
            )
        _require(
            np.allclose(out[0], w_ref),
            "the weight change should be lr * (y - y_hat) * x, with y_hat = step(w . x + b).",
        )
        _require(np.isclose(out[1], b_ref), "the bias moves like a weight whose input is always 1.")


def nand_perceptron(w: object, b: float) -> None:
    """Check that a perceptron with weights w and bias b computes NAND on {0,1}^2."""
    w = _as_float_array(w, "w")
    _require(w.shape == (2,), f"w needs one weight per input: shape (2,), got {w.shape}.")
    y_hat = scratch.perceptron_predict(w, float(b), _GATE_X)
    target = np.array([1.0, 1.0, 1.0, 0.0])
    wrong = [tuple(int(v) for v in x) for x, p, t in zip(_GATE_X, y_hat, target, strict=True) if p != t]
    _require(
        not wrong,
        f"wrong output for inputs {wrong}. NAND is 0 only when both inputs are 1: "
        "start from AND and flip the sign of everything.",
    )


# --- 02 multi-layer networks -------------------------------------------------------------------


def xnor_network(W1: object, b1: object, W2: object, b2: object) -> None:
    """Check a hand-set sigmoid network sigma(W2 sigma(W1 x + b1) + b2) that computes XNOR."""
    W1, b1 = _as_float_array(W1, "W1"), _as_float_array(b1, "b1")
    W2, b2 = _as_float_array(W2, "W2"), _as_float_array(b2, "b2")
    _require(
        W1.ndim == 2 and W1.shape[1] == 2 and b1.shape == (W1.shape[0],),
        f"W1 should be (hidden, 2) and b1 (hidden,); got {W1.shape} and {b1.shape}.",
    )
    _require(
        W2.shape == (1, W1.shape[0]) and b2.shape == (1,),
        f"W2 should be (1, hidden) and b2 (1,); got {W2.shape} and {b2.shape}.",
    )
    H = scratch.sigmoid(_GATE_X @ W1.T + b1)
    y_hat = scratch.sigmoid(H @ W2.T + b2)[:, 0]
    target = np.array([1.0, 0.0, 0.0, 1.0])
    _require(
        np.all(np.round(y_hat) == target),
        "XNOR is 1 when the inputs agree: try an AND unit and a NOR unit, joined by an OR.",
    )
    _require(
        np.abs(y_hat - target).max() < 0.1,
        "the truth table is right but outputs are far from 0/1: scale the weights up.",
    )


def mlp_param_count(n: int) -> None:
    """Check the parameter count of an MLP 784 -> 256 -> 128 -> 10."""
    sizes = [784, 256, 128, 10]
    expected = sum(i * o + o for i, o in zip(sizes[:-1], sizes[1:], strict=True))
    weights_only = sum(i * o for i, o in zip(sizes[:-1], sizes[1:], strict=True))
    _require(n != weights_only, "close: each layer also has one bias per output unit.")
    _require(
        n == expected,
        "count, for each of the 3 layers, (inputs x outputs) weights + outputs biases.",
    )


# --- 03 backpropagation ------------------------------------------------------------------------


def sigmoid_backward(fn: Callable) -> None:
    """Check fn(a, grad_out) -> grad_in for a = sigmoid(z), elementwise, against torch."""
    z = torch.linspace(-4, 4, 17, dtype=torch.float64, requires_grad=True)
    grad_out = torch.linspace(1, -1, 17, dtype=torch.float64)
    torch.sigmoid(z).backward(grad_out)
    a = scratch.sigmoid(z.detach().numpy())
    out = _as_float_array(fn(a, grad_out.numpy()), "the returned gradient")
    _require(out.shape == a.shape, f"return one gradient per element: shape {a.shape}, got {out.shape}.")
    _require(
        np.allclose(out, z.grad.numpy(), atol=1e-8),
        "multiply the incoming gradient by the local derivative sigma'(z), written with a only.",
    )


def softmax_l2_gradient(dW: object) -> None:
    """Check the full 2x3 gradient dL/dW of the worked softmax + L2 example."""
    dW = _as_float_array(dW, "dW")
    W = [[autograd.Value(w) for w in row] for row in scratch.WORKED_W]
    z = [sum((w * x for w, x in zip(row, scratch.WORKED_X, strict=True)), autograd.Value(0.0)) for row in W]
    p = autograd.softmax(z)
    t = scratch.WORKED_T
    loss = sum(((pk - tk) ** 2 for pk, tk in zip(p, t, strict=True)), autograd.Value(0.0)) * 0.5
    loss.backward()
    ref = np.array([[w.grad for w in row] for row in W])
    _require(dW.shape == ref.shape, f"dL/dW has the shape of W, {ref.shape}; got {dW.shape}.")
    per_input = dW / np.array(scratch.WORKED_X)  # an outer product delta x^T has equal columns here
    _require(
        np.allclose(per_input, per_input[:, :1], rtol=1e-6),
        "each row of dL/dW is delta_k times the same input x: build it as an outer product.",
    )
    _require(
        np.allclose(dW, ref, rtol=1e-6, atol=1e-12),
        "delta = dL/dz needs the softmax Jacobian: dp_j/dz_k = p_j (1[j=k] - p_k).",
    )


# --- 04 training deep networks -----------------------------------------------------------------


def glorot_std(fn: Callable) -> None:
    """Check fn(fan_in, fan_out) -> the std of Glorot (Xavier) normal initialization."""
    for fan_in, fan_out in [(784, 256), (256, 256), (100, 10)]:
        out = fn(fan_in, fan_out)
        _require(isinstance(out, (int, float)), "return one number, the standard deviation.")
        expected = math.sqrt(2.0 / (fan_in + fan_out))
        _require(
            not math.isclose(out, expected**2, rel_tol=1e-6),
            "that is the variance; the std is its square root.",
        )
        _require(
            not math.isclose(out, math.sqrt(2.0 / fan_in), rel_tol=1e-6),
            "that is He (Kaiming) init for ReLU; Glorot averages fan_in and fan_out.",
        )
        _require(
            math.isclose(out, expected, rel_tol=1e-6),
            "Glorot keeps Var(w) * (fan_in + fan_out) / 2 = 1, so activations and gradients "
            "keep their scale in both directions.",
        )


def sigmoid_chain_bound(value: float) -> None:
    """Check the largest factor 10 sigmoid layers with |w| <= 1 can multiply a gradient by."""
    _require(isinstance(value, (int, float)), "give a single number.")
    expected = 0.25**10
    _require(not math.isclose(value, 0.25, rel_tol=1e-6), "that is one layer; there are 10 of them.")
    _require(
        math.isclose(value, expected, rel_tol=1e-6),
        "each layer contributes at most |w| * max sigma'(z); what is max sigma'?",
    )
