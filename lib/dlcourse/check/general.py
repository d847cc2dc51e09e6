"""Checks shared by every lesson."""

from __future__ import annotations

import math


def close(answer: float, expected: float, name: str = "your answer", rel: float = 1e-3,
          hint: str = "") -> None:
    """Pass if `answer` is within `rel` (relative) of `expected`; otherwise raise with the hint."""
    if answer is None or answer is Ellipsis:
        raise AssertionError(f"{name} is still empty: replace the `...` with your computation")
    if not math.isclose(float(answer), float(expected), rel_tol=rel, abs_tol=1e-12):
        direction = "too large" if float(answer) > float(expected) else "too small"
        raise AssertionError(f"{name} = {float(answer):.6g} is {direction}. {hint}".strip())


def first_model_accuracy(acc: float) -> None:
    """The welcome notebook's exercise: a wider model should still beat 70% test accuracy."""
    if acc is None or acc is Ellipsis:
        raise AssertionError("acc is still empty: evaluate your model and assign its test accuracy")
    if not 0.70 <= acc <= 1.0:
        raise AssertionError(f"test accuracy {acc:.3f} is below 0.70: did the model train? Check that "
                             "you passed the new model to fit and that lr is not 0")
