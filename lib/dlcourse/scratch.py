"""Neural networks from scratch in numpy: activations, the perceptron, an MLP with hand backprop.

Shapes follow the notebooks: X is (N, D) with one example per row, a layer's W is (out, in) and
its b is (out,), so a layer computes Z = X @ W.T + b. Everything is float64 so that numerical
gradient checks reach relative errors near 1e-9.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

Array = np.ndarray
Params = list[tuple[Array, Array]]  # [(W (out, in), b (out,)), ...] one pair per layer

# --- activation functions and their derivatives ------------------------------------------------


def step(x: Array) -> Array:
    """Heaviside threshold: 1 where x > 0 else 0 (its derivative is 0 wherever it exists)."""
    return (np.asarray(x) > 0).astype(float)


def sigmoid(x: Array) -> Array:
    """Logistic 1 / (1 + e^-x), written with tanh so large |x| never overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=float)))


def relu(x: Array) -> Array:
    """max(0, x)."""
    return np.maximum(0.0, x)


def leaky_relu(x: Array, slope: float = 0.1) -> Array:
    """max(slope * x, x): a small gradient for x < 0 so units never die completely."""
    return np.maximum(slope * np.asarray(x, dtype=float), x)


def gelu(x: Array) -> Array:
    """x * Phi(x), Phi the standard normal CDF (Hendrycks & Gimpel 2016, arXiv:1606.08415)."""
    x = np.asarray(x, dtype=float)
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def maxout(x: Array, w: tuple[float, float] = (1.0, -0.5), b: tuple[float, float] = (0.0, 0.5)) -> Array:
    """max(w1 x + b1, w2 x + b2) on a scalar input: a learned piecewise-linear activation."""
    x = np.asarray(x, dtype=float)
    return np.maximum(w[0] * x + b[0], w[1] * x + b[1])


ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "step": step,
    "sigmoid": sigmoid,
    "tanh": np.tanh,
    "relu": relu,
    "leaky_relu": leaky_relu,
    "maxout": maxout,
    "gelu": gelu,
}


def derivative(name: str, x: Array) -> Array:
    """Analytic derivative of activation `name` at x (one-sided where it has a kink)."""
    x = np.asarray(x, dtype=float)
    if name == "step":
        return np.zeros_like(x)
    if name == "sigmoid":
        s = sigmoid(x)
        return s * (1.0 - s)
    if name == "tanh":
        return 1.0 - np.tanh(x) ** 2
    if name == "relu":
        return (x > 0).astype(float)
    if name == "leaky_relu":
        return np.where(x > 0, 1.0, 0.1)
    if name == "maxout":
        return np.where(1.0 * x + 0.0 >= -0.5 * x + 0.5, 1.0, -0.5)
    if name == "gelu":
        cdf = 0.5 * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))
        pdf = np.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)
        return cdf + x * pdf  # product rule on x * Phi(x)
    raise KeyError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}.")


def activation(name: str) -> Callable[[Array], Array]:
    """Look up an activation function by name, with a helpful error for typos."""
    if name not in ACTIVATIONS:
        raise KeyError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}.")
    return ACTIVATIONS[name]


def neuron(x: Array, w: Array, b: float, act: str = "sigmoid") -> Array:
    """One neuron o = s(sum_i w_i x_i + b) for x of shape (N, D) or (D,)."""
    return activation(act)(np.asarray(x, dtype=float) @ np.asarray(w, dtype=float) + b)


# --- the Rosenblatt perceptron -----------------------------------------------------------------


def perceptron_predict(w: Array, b: float, X: Array) -> Array:
    """Perceptron output in {0, 1}: step(X @ w + b), X (N, D)."""
    return step(np.asarray(X, dtype=float) @ np.asarray(w, dtype=float) + b)


def perceptron_step(w: Array, b: float, x: Array, y: float, lr: float = 1.0) -> tuple[Array, float]:
    """One Rosenblatt update on example (x, y), y in {0, 1}: w += lr (y - y_hat) x."""
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    if x.shape != w.shape:
        raise ValueError(f"x has shape {x.shape} but w has shape {w.shape}; pass one example (D,).")
    error = float(y) - float(perceptron_predict(w, b, x[None])[0])  # -1, 0 or +1
    return w + lr * error * x, b + lr * error


@dataclass
class PerceptronResult:
    """Weights after training plus one (w, b) snapshot and the error count per epoch."""

    w: Array
    b: float
    snapshots: list[tuple[Array, float]] = field(default_factory=list)
    errors: list[int] = field(default_factory=list)

    @property
    def converged(self) -> bool:
        """True when the last epoch made no mistake."""
        return bool(self.errors) and self.errors[-1] == 0


def train_perceptron(
    X: Array,
    y: Array,
    num_epochs: int = 20,
    lr: float = 1.0,
    seed: int | None = 0,
    init_scale: float = 0.0,
) -> PerceptronResult:
    """Run the perceptron rule epoch by epoch (shuffled if seed is not None); stop when clean.

    init_scale 0 starts from w = 0, b = 0 (Rosenblatt); a small value such as 0.1 starts from
    random weights, which keeps the learned line off the grid points of a truth table.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    if X.ndim != 2 or y.shape != (len(X),):
        raise ValueError(f"expected X (N, D) and y (N,), got {X.shape} and {y.shape}.")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("perceptron targets must be 0 or 1; map -1 labels with (y + 1) / 2.")
    rng = np.random.default_rng(seed)
    w, b = init_scale * rng.normal(size=X.shape[1]), float(init_scale * rng.normal())
    result = PerceptronResult(w, b, snapshots=[(w.copy(), b)])
    for _ in range(num_epochs):
        order = rng.permutation(len(X)) if seed is not None else np.arange(len(X))
        for i in order:
            w, b = perceptron_step(w, b, X[i], y[i], lr)
        result.snapshots.append((w.copy(), b))
        result.errors.append(int((perceptron_predict(w, b, X) != y).sum()))
        if result.errors[-1] == 0:
            break
    result.w, result.b = w, b
    return result


# --- the hand-set XOR network ------------------------------------------------------------------

# XOR = AND(NAND(x1, x2), OR(x1, x2)); weights of +-20 make each sigmoid almost a step.
XOR_HIDDEN_W = np.array([[-20.0, -20.0], [20.0, 20.0]])  # rows: NAND unit, OR unit
XOR_HIDDEN_B = np.array([30.0, -10.0])
XOR_OUT_W = np.array([[20.0, 20.0]])  # AND of the two hidden units
XOR_OUT_B = np.array([-30.0])


def xor_network(X: Array) -> tuple[Array, Array]:
    """Hidden activations (N, 2) and output (N,) of the hand-set sigmoid XOR network."""
    H = sigmoid(np.asarray(X, dtype=float) @ XOR_HIDDEN_W.T + XOR_HIDDEN_B)
    y_hat = sigmoid(H @ XOR_OUT_W.T + XOR_OUT_B)[:, 0]
    return H, y_hat


# --- the worked example of notebook 03: softmax outputs, L2 loss --------------------------------

# one example (x1, x2, x3, y) = (0.1, 0.15, 0.2, 1): class 1 of 2, so the one-hot target is (1, 0)
WORKED_X = (0.1, 0.15, 0.2)
WORKED_Y = 1
WORKED_T = (1.0, 0.0)
# W[k][i] joins input x_(i+1) to output unit k+1; w1 = W[0][0] is the weight the question asks about
WORKED_W = ((0.2, -0.1, 0.4), (0.5, 0.3, -0.2))


# --- a numpy MLP with hand-written backprop ----------------------------------------------------


def init_mlp(sizes: list[int], seed: int = 0, scale: float | None = None) -> Params:
    """Random layers for widths `sizes` (e.g. [2, 4, 1]); scale None means 1/sqrt(fan_in)."""
    if len(sizes) < 2 or any(int(s) < 1 for s in sizes):
        raise ValueError(f"sizes must list >= 2 positive widths like [2, 4, 1], got {sizes}.")
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        std = 1.0 / math.sqrt(fan_in) if scale is None else scale
        params.append((rng.normal(0.0, std, (fan_out, fan_in)), np.zeros(fan_out)))
    return params


def mlp_forward(params: Params, X: Array, output: str = "sigmoid") -> tuple[Array, list[Array]]:
    """Sigmoid hidden layers then `output` ("sigmoid" or "identity"); returns y_hat, activations."""
    if output not in ("sigmoid", "identity"):
        raise ValueError(f"output must be 'sigmoid' (with BCE) or 'identity' (with MSE), got {output!r}.")
    a = np.asarray(X, dtype=float)
    activations = [a]  # a^(0) = X, a^(1), ..., a^(L) = y_hat, each (N, width)
    for i, (W, b) in enumerate(params):
        z = a @ W.T + b
        last = i == len(params) - 1
        a = z if (last and output == "identity") else sigmoid(z)
        activations.append(a)
    return a, activations


def mlp_loss(y_hat: Array, y: Array, output: str = "sigmoid") -> float:
    """Mean binary cross-entropy (sigmoid output) or mean 0.5 squared error (identity output)."""
    y = np.asarray(y, dtype=float).reshape(y_hat.shape)
    if output == "sigmoid":
        p = np.clip(y_hat, 1e-12, 1 - 1e-12)
        return float(-np.mean(np.sum(y * np.log(p) + (1 - y) * np.log(1 - p), axis=1)))
    return float(0.5 * np.mean(np.sum((y_hat - y) ** 2, axis=1)))


def mlp_backward(params: Params, activations: list[Array], y: Array) -> Params:
    """Gradients [(dW, db), ...] of mlp_loss by the chain rule: dW sums outer products delta a^T."""
    y_hat = activations[-1]
    y = np.asarray(y, dtype=float).reshape(y_hat.shape)
    # both pairings (sigmoid + BCE, identity + MSE) give the same output error: y_hat - y
    delta = (y_hat - y) / len(y_hat)  # (N, out), the mean over examples
    grads: Params = []
    for i in range(len(params) - 1, -1, -1):
        a_prev = activations[i]
        grads.append((delta.T @ a_prev, delta.sum(axis=0)))  # sum over examples of delta x^T
        if i > 0:
            W = params[i][0]
            delta = (delta @ W) * a_prev * (1.0 - a_prev)  # sigma'(z) = a (1 - a)
    return grads[::-1]


def sgd_update(params: Params, grads: Params, lr: float) -> Params:
    """Plain gradient descent: theta <- theta - lr * dJ/dtheta for every W and b."""
    return [(W - lr * dW, b - lr * db) for (W, b), (dW, db) in zip(params, grads, strict=True)]


# --- numerical gradient checking ---------------------------------------------------------------


def numerical_gradient(f: Callable[[], float], x: Array, eps: float = 1e-5) -> Array:
    """Central differences (f(x+eps) - f(x-eps)) / 2eps, perturbing array `x` in place."""
    grad = np.zeros_like(x, dtype=float)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        f_plus = f()
        x[i] = old - eps
        f_minus = f()
        x[i] = old  # restore before moving on
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def relative_error(a: Array, b: Array) -> float:
    """||a - b|| / (||a|| + ||b||): below ~1e-7 (float64) means the analytic gradient is right."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare gradients of shapes {a.shape} and {b.shape}.")
    # norms, not elementwise ratios: an entry that is ~0 in both would divide noise by noise
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-12))


def gradient_check(params: Params, X: Array, y: Array, output: str = "sigmoid", eps: float = 1e-5) -> float:
    """Largest relative error between mlp_backward and central differences over all parameters."""
    _, acts = mlp_forward(params, X, output)
    grads = mlp_backward(params, acts, y)

    def loss() -> float:
        return mlp_loss(mlp_forward(params, X, output)[0], y, output)

    errors = []
    for (W, b), (dW, db) in zip(params, grads, strict=True):
        errors.append(relative_error(dW, numerical_gradient(loss, W, eps)))
        errors.append(relative_error(db, numerical_gradient(loss, b, eps)))
    return max(errors)
