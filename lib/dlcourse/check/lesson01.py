"""Exercise checks for notebook 01 (the neuron and the perceptron).

Every name in __all__ becomes `dlcourse.check.<name>`; each passes quietly or raises AssertionError
with a hint that guides without giving the answer.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dlcourse import scratch
from dlcourse.check._common import array, call, number, require

__all__ = ["perceptron_step", "nand_perceptron"]

GATE_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)


def perceptron_step(fn: Callable) -> None:
    """Exercise 1: fn(w, b, x, y, lr) -> (w, b) is the Rosenblatt update, on random examples."""
    rng = np.random.default_rng(0)
    for _ in range(20):
        w, b = rng.normal(size=3), float(rng.normal())
        x, y, lr = rng.integers(0, 2, 3).astype(float), float(rng.integers(0, 2)), 0.5
        out = call(fn, w.copy(), b, x.copy(), y, lr, name="my_perceptron_step")
        require(isinstance(out, (tuple, list)) and len(out) == 2, "return a pair (new_w, new_b).")
        new_w, new_b = array(out[0], "new_w"), number(out[1], "new_b")
        w_ref, b_ref = scratch.perceptron_step(w, b, x, y, lr)
        y_hat = scratch.perceptron_predict(w, b, x[None])[0]
        if y_hat == y:
            require(np.allclose(new_w, w) and np.isclose(new_b, b),
                    "when the prediction is already right the weights must not change.")
        require(new_w.shape == w.shape and np.allclose(new_w, w_ref),
                "the weight change should be lr * (y - y_hat) * x, with y_hat = step(w . x + b).")
        require(np.isclose(new_b, b_ref), "the bias moves like a weight whose input is always 1.")


def nand_perceptron(w: object, b: object) -> None:
    """Exercise 2: a perceptron with weights w and bias b computes NAND on {0,1}^2."""
    w, b = array(w, "w_nand"), number(b, "b_nand")
    require(w.shape == (2,), f"w_nand needs one weight per input: shape (2,), got {w.shape}.")
    y_hat = scratch.perceptron_predict(w, b, GATE_X)
    target = np.array([1.0, 1.0, 1.0, 0.0])
    wrong = [tuple(int(v) for v in x) for x, p, t in zip(GATE_X, y_hat, target, strict=True) if p != t]
    require(not wrong, f"wrong output for inputs {wrong}. NAND is 0 only when both inputs are 1: "
            "start from AND and flip the sign of everything.")
