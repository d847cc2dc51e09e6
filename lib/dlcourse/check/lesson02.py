"""Exercise checks for notebook 02 (multi-layer networks).

Every name in __all__ becomes `dlcourse.check.<name>`; each passes quietly or raises AssertionError
with a hint that guides without giving the answer.
"""

from __future__ import annotations

import numpy as np

from dlcourse import scratch
from dlcourse.check._common import array, require, whole_number

__all__ = ["xnor_network", "mlp_param_count"]

GATE_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)


def xnor_network(W1: object, b1: object, W2: object, b2: object) -> None:
    """Exercise 1: a hand-set sigmoid network sigma(W2 sigma(W1 x + b1) + b2) computes XNOR."""
    W1, b1 = array(W1, "W1_xnor"), array(b1, "b1_xnor")
    W2, b2 = array(W2, "W2_xnor"), array(b2, "b2_xnor")
    require(W1.ndim == 2 and W1.shape[1] == 2 and b1.shape == (W1.shape[0],),
            f"W1 should be (hidden, 2) and b1 (hidden,); got {W1.shape} and {b1.shape}.")
    require(W2.shape == (1, W1.shape[0]) and b2.shape == (1,),
            f"W2 should be (1, hidden) and b2 (1,); got {W2.shape} and {b2.shape}.")
    H = scratch.sigmoid(GATE_X @ W1.T + b1)
    y_hat = scratch.sigmoid(H @ W2.T + b2)[:, 0]
    target = np.array([1.0, 0.0, 0.0, 1.0])
    require(np.all(np.round(y_hat) == target),
            "XNOR is 1 when the inputs agree: try an AND unit and a NOR unit, joined by an OR.")
    require(np.abs(y_hat - target).max() < 0.1,
            "the truth table is right but outputs are far from 0/1: scale the weights up.")


def mlp_param_count(n: object) -> None:
    """Exercise 2: the parameter count of an MLP 784 -> 256 -> 128 -> 10."""
    n = whole_number(n, "n_params")
    sizes = [784, 256, 128, 10]
    expected = sum(i * o + o for i, o in zip(sizes[:-1], sizes[1:], strict=True))
    weights_only = sum(i * o for i, o in zip(sizes[:-1], sizes[1:], strict=True))
    require(n != weights_only, "close: each layer also has one bias per output unit.")
    require(n == expected, "count, for each of the 3 layers, (inputs x outputs) weights + outputs biases.")
