"""What every exercise check shares: "not answered yet", numbers of any type, hints without answers.

A check is a grader too (nbgrader autogrades the check cells), so it must tell an untouched answer
cell from a wrong answer: `None`, `...`, or a function that still raises NotImplementedError (what
nbgrader's student copy holds) gives NOT_ANSWERED, never a confusing "got shape ()". A check must
also stay silent when it passes and never write to stderr: nbgrader gives 0 points to a cell with
stderr output.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from functools import lru_cache

import numpy as np
import torch
from torch import nn

NOT_ANSWERED = "not answered yet: write your answer in the cell above, run it, then run this check again"


def require(ok: bool, hint: str) -> None:
    """Raise AssertionError(hint) unless ok. Hints guide; they never contain the expected answer."""
    if not ok:
        raise AssertionError(hint)


def answered(value: object, name: str = "your answer") -> object:
    """`value` itself, or AssertionError(NOT_ANSWERED) for None and `...` placeholders."""
    if value is None or value is Ellipsis:
        raise AssertionError(f"{name} is {NOT_ANSWERED}")
    return value


def number(value: object, name: str = "your answer") -> float:
    """A Python float from any numeric type (int, float, numpy or one-element torch); else a hint."""
    answered(value, name)
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise AssertionError(f"{name} should be one number, got a tensor of shape {tuple(value.shape)}")
        value = value.item()
    elif isinstance(value, np.ndarray) and value.size == 1:
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.generic)):
        raise AssertionError(f"{name} should be a number, got {type(value).__name__}: {value!r:.60}")
    return float(value)


def whole_number(value: object, name: str = "your answer") -> int:
    """An int from any numeric type holding a whole number (6272, 6272.0, np.int64, a torch scalar)."""
    x = number(value, name)
    if not math.isfinite(x) or x != int(x):
        raise AssertionError(f"{name} should be a whole number (a count), got {x:g}")
    return int(x)


def array(value: object, name: str = "your answer") -> np.ndarray:
    """A float64 numpy array from a list, numpy array or tensor; else a hint."""
    answered(value, name)
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError) as err:
        raise AssertionError(f"{name} should be numbers (a list, numpy array or tensor), got "
                             f"{type(value).__name__}") from err


def tensor(value: object, name: str = "your answer") -> torch.Tensor:
    """A float64 tensor from a nested list, numpy array or tensor; else a hint."""
    return torch.from_numpy(array(value, name))


def module(value: object, name: str = "your model", hint: str = "") -> nn.Module:
    """`value` if it is a torch.nn.Module; anything else gets a hint (plus `hint`, if given)."""
    answered(value, name)
    if not isinstance(value, nn.Module):
        got = type(value).__name__
        raise AssertionError(f"{name} should be a torch.nn.Module, got {got}. {hint}".strip())
    return value


def call(fn: Callable, *args, name: str = "your function", returns: bool = True, **kwargs):
    """Call the student's function; an untouched stub (NotImplementedError) says NOT_ANSWERED.

    With `returns`, a function that returns None (a forgotten `return`) gets a hint too.
    """
    if not callable(answered(fn, name)):
        raise AssertionError(f"{name} should be a function, got {type(fn).__name__}")
    try:
        out = fn(*args, **kwargs)
    except NotImplementedError:
        raise AssertionError(f"{name} is {NOT_ANSWERED}") from None
    if returns and out is None:
        raise AssertionError(f"{name} returned None: end it with `return ...`")
    return out


def tensor_close(actual: object, expected: torch.Tensor, hint: str, atol: float = 1e-5) -> None:
    """Pass if `actual` is a tensor of `expected`'s shape and values; otherwise raise with the hint."""
    if not isinstance(actual, torch.Tensor):
        raise AssertionError(f"expected a torch.Tensor, got {type(actual).__name__}. {hint}")
    if actual.shape != expected.shape:
        raise AssertionError(f"expected shape {tuple(expected.shape)}, got {tuple(actual.shape)}. {hint}")
    if not torch.allclose(actual.detach().double(), expected.double(), atol=atol):
        raise AssertionError(hint)


def close(answer: object, expected: float, name: str = "your answer", rel: float = 1e-3,
          hint: str = "") -> None:
    """Pass if `answer` (any numeric type) is within `rel` (relative) of `expected`; else say which way."""
    got = number(answer, name)
    if not math.isclose(got, float(expected), rel_tol=rel, abs_tol=1e-12):
        direction = "too large" if got > float(expected) else "too small"
        raise AssertionError(f"{name} = {got:.6g} is {direction}. {hint}".strip())


@lru_cache(maxsize=1)
def _test_images() -> tuple[torch.Tensor, torch.Tensor]:
    from dlcourse import data  # the check package stays importable without loading data

    test_set = data.load_bundled_subset("test")
    return data.normalize(test_set.X), test_set.y


@torch.no_grad()
def measure(model: nn.Module, batch_size: int = 500) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of a Fashion-MNIST classifier on the bundled 2,000 test images.

    The check measures the model itself, so a typed-in number or the training accuracy cannot pass.
    A network that has learned nothing scores a loss near ln(10) = 2.30 and an accuracy near 0.10.
    """
    X, y = _test_images()
    params = next(model.parameters(), None)
    device = params.device if params is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    try:
        total_loss, correct = 0.0, 0
        for i in range(0, len(y), batch_size):
            logits, target = model(X[i:i + batch_size].to(device)), y[i:i + batch_size]
            require(isinstance(logits, torch.Tensor) and logits.shape == (len(target), 10),
                    "the model should map a batch of (B, 1, 28, 28) images to logits of shape (B, 10)")
            logits = logits.float().cpu()
            total_loss += torch.nn.functional.cross_entropy(logits, target, reduction="sum").item()
            correct += (logits.argmax(1) == target).sum().item()
    finally:
        model.train(was_training)
    return total_loss / len(y), correct / len(y)
