"""Exercise checks for notebook 03 (backpropagation).

Every name in __all__ becomes `dlcourse.check.<name>`; each passes quietly or raises AssertionError
with a hint that guides without giving the answer.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from dlcourse import autograd, scratch
from dlcourse.check._common import array, call, require

__all__ = ["sigmoid_backward", "softmax_l2_gradient"]


def sigmoid_backward(fn: Callable) -> None:
    """Exercise 1: fn(a, grad_out) -> grad_in for a = sigmoid(z), elementwise, against torch."""
    z = torch.linspace(-4, 4, 17, dtype=torch.float64, requires_grad=True)
    grad_out = torch.linspace(1, -1, 17, dtype=torch.float64)
    torch.sigmoid(z).backward(grad_out)
    a = scratch.sigmoid(z.detach().numpy())
    out = array(call(fn, a, grad_out.numpy(), name="sigmoid_backward"), "the returned gradient")
    require(out.shape == a.shape, f"return one gradient per element: shape {a.shape}, got {out.shape}.")
    require(np.allclose(out, z.grad.numpy(), atol=1e-8),
            "multiply the incoming gradient by the local derivative sigma'(z), written with a only.")


def _worked_gradient() -> np.ndarray:
    """dL/dW of the lesson's worked example, by the course's own scalar autograd."""
    W = [[autograd.Value(w) for w in row] for row in scratch.WORKED_W]
    z = [sum((w * x for w, x in zip(row, scratch.WORKED_X, strict=True)), autograd.Value(0.0)) for row in W]
    p = autograd.softmax(z)
    loss = sum(((pk - tk) ** 2 for pk, tk in zip(p, scratch.WORKED_T, strict=True)), autograd.Value(0.0))
    (loss * 0.5).backward()
    return np.array([[w.grad for w in row] for row in W])


def softmax_l2_gradient(dW: object) -> None:
    """Exercise 2: the full 2x3 gradient dL/dW of the worked softmax + L2 example."""
    dW = array(dW, "dL_dW")
    ref = _worked_gradient()
    require(dW.shape == ref.shape, f"dL/dW has the shape of W, {ref.shape}; got {dW.shape}.")
    per_input = dW / np.array(scratch.WORKED_X)  # an outer product delta x^T has equal columns here
    require(np.allclose(per_input, per_input[:, :1], rtol=1e-6),
            "each row of dL/dW is delta_k times the same input x: build it as an outer product.")
    require(np.allclose(dW, ref, rtol=1e-6, atol=1e-12),
            "delta = dL/dz needs the softmax Jacobian: dp_j/dz_k = p_j (1[j=k] - p_k).")
