"""Claims as checks: a sentence of a lesson that states a measured outcome is backed by `expect`.

    dlcourse.expect(plain_err[20] > plain_err[8], "the deeper plain net trains worse",
                    plain20_train_err=plain_err[20], plain8_train_err=plain_err[8])

Run right after the measurement, `expect` prints the claim with the numbers that support it, or stops
the notebook (and so nbval and CI) with the claim's words when the run contradicts it.
`scripts/claims_matrix.py` runs every lesson over seeds and thread counts and tabulates each claim.
"""

from __future__ import annotations

import json
import os

import torch


class ClaimError(AssertionError):
    """A run contradicted a claim that the lesson's text makes."""


def expect(condition, claim: str, **measured) -> None:
    """Check that `condition` holds for the claim `claim`; print it with the `measured` numbers, or fail.

    `condition` is a bool (or a one-element tensor / numpy bool). With $DLCOURSE_CLAIMS_LOG set, each
    call appends one JSON line (claim, ok, measured) to that file.
    """
    if not isinstance(claim, str) or not claim.strip():
        raise TypeError("expect needs the claim's words as a non-empty string")
    ok = _as_bool(condition, claim)
    numbers = ", ".join(f"{k}={_fmt(v)}" for k, v in measured.items())
    _log(claim, ok, measured)
    if not ok:
        raise ClaimError(f"this run contradicts the lesson's claim {claim!r}"
                         + (f" (measured {numbers})" if numbers else "")
                         + ". The text above is wrong for these settings: report it, with your SEED and "
                           "fast/full mode, or try the full run.")
    print(f"claim holds: {claim}" + (f" ({numbers})" if numbers else ""))


def _as_bool(condition, claim: str) -> bool:
    if isinstance(condition, torch.Tensor):
        if condition.numel() != 1:
            raise TypeError(f"expect({claim!r}): the condition must be one truth value, got a tensor of "
                            f"shape {tuple(condition.shape)}; reduce it with .all() or .any()")
        return bool(condition.item())
    if hasattr(condition, "dtype") and getattr(condition, "shape", ()) == ():  # numpy bool_
        return bool(condition)
    if not isinstance(condition, bool):
        raise TypeError(f"expect({claim!r}): the condition must be True or False, got "
                        f"{type(condition).__name__}; compare the measurements, e.g. a > b")
    return condition


def _fmt(value) -> str:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _log(claim: str, ok: bool, measured: dict) -> None:
    path = os.environ.get("DLCOURSE_CLAIMS_LOG")
    if not path:
        return
    row = {"claim": claim, "ok": ok, "measured": {k: _fmt(v) for k, v in measured.items()}}
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")
