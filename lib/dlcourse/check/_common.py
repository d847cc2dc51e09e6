"""What every exercise check shares: "not answered yet", numbers of any type, hints without answers.

A check is a grader too (nbgrader autogrades the check cells), so it must tell an untouched answer
cell from a wrong answer: `None`, `...`, or a function that still raises NotImplementedError (what
nbgrader's student copy holds) gives NOT_ANSWERED, never a confusing "got shape ()".
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import numpy as np
import torch

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
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.generic)):
        raise AssertionError(f"{name} should be a number, got {type(value).__name__}: {value!r:.60}")
    return float(value)


def call(fn: Callable, *args, name: str = "your function"):
    """Call the student's function; an untouched stub (NotImplementedError) says NOT_ANSWERED."""
    if not callable(answered(fn, name)):
        raise AssertionError(f"{name} should be a function, got {type(fn).__name__}")
    try:
        return fn(*args)
    except NotImplementedError:
        raise AssertionError(f"{name} is {NOT_ANSWERED}") from None
