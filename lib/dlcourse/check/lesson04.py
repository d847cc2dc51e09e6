"""Exercise checks for notebook 04 (training deep networks).

Every name in __all__ becomes `dlcourse.check.<name>`; each passes quietly or raises AssertionError
with a hint that guides without giving the answer.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from dlcourse.check._common import call, number, require

__all__ = ["sigmoid_chain_bound", "glorot_std"]


def sigmoid_chain_bound(value: object) -> None:
    """Exercise 1: the largest factor 10 sigmoid layers with |w| <= 1 can multiply a gradient by."""
    value = number(value, "bound")
    expected = 0.25**10
    require(not math.isclose(value, 0.25, rel_tol=1e-6), "that is one layer; there are 10 of them.")
    require(math.isclose(value, expected, rel_tol=1e-6),
            "each layer contributes at most |w| * max sigma'(z); what is max sigma'?")


def glorot_std(fn: Callable) -> None:
    """Exercise 2: fn(fan_in, fan_out) -> the std of Glorot (Xavier) normal initialization."""
    for fan_in, fan_out in [(784, 256), (256, 256), (100, 10)]:
        out = number(call(fn, fan_in, fan_out, name="glorot_std"), "the returned std")
        expected = math.sqrt(2.0 / (fan_in + fan_out))
        require(not math.isclose(out, expected**2, rel_tol=1e-6),
                "that is the variance; the std is its square root.")
        require(not math.isclose(out, math.sqrt(2.0 / fan_in), rel_tol=1e-6),
                "that is He (Kaiming) init for ReLU; Glorot averages fan_in and fan_out.")
        require(math.isclose(out, expected, rel_tol=1e-6),
                "Glorot keeps Var(w) * (fan_in + fan_out) / 2 = 1, so activations and gradients "
                "keep their scale in both directions.")
