"""A lesson's headline numbers: `report` them, and see them beside the full-run reference.

`make course FULL=1` (scripts/run_course.py --full) stores each lesson's full-mode numbers, with the
device, date, seconds and commit of that run, in `data/results/<lesson>.json`. A student's run, fast
or full, prints its own numbers beside them: "your run: ...; full run on <device>: ...".
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from dlcourse.config import RESULTS_DIR, RUN


def reference(lesson: str) -> dict | None:
    """The stored full-run reference of `lesson` ("06" or "06_pooling_and_a_first_cnn"), or None."""
    if not isinstance(lesson, str) or not lesson:
        raise TypeError(f"lesson must be a notebook name or its number, e.g. '06', got {lesson!r}")
    matches = sorted(RESULTS_DIR.glob(f"{lesson}*.json"))
    if len(matches) > 1:
        raise ValueError(f"{lesson!r} matches several references: {[m.name for m in matches]}; "
                         "give more of the notebook's name")
    if not matches:
        return None
    try:
        return json.loads(matches[0].read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{matches[0]} is not valid JSON ({err}); rebuild it with "
                         f"`make course FULL=1` or restore it with git checkout") from err


def report(lesson: str, **metrics: float | str) -> None:
    """Print a lesson's headline numbers beside its full-run reference, and record them for the runner.

    `report("06", test_acc=0.87)`. The course runner sets $DLCOURSE_REPORT to a JSON path beside the
    executed notebook and the metrics are merged into it; outside the runner nothing is written.
    """
    if not metrics:
        raise ValueError("report() needs at least one metric, e.g. report('06', test_acc=0.91)")
    clean = {name: _number(name, value) for name, value in metrics.items()}
    path = os.environ.get("DLCOURSE_REPORT")
    if path:
        target = Path(path)
        old = json.loads(target.read_text()) if target.exists() else {}
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps({**old, **clean}, indent=2, sort_keys=True))
    print(format_report(clean, reference(lesson)))


def format_report(metrics: dict, ref: dict | None) -> str:
    """The table `report` prints: metric, your run, the full run (or why there is none)."""
    mode = ("fast" if RUN["fast"] else "full") + f" mode, {RUN['device']}" if RUN else "this run"
    where = (f"full run on {ref['device']}, {ref['date']}, {ref['seconds']:.0f} s" if ref else
             "full run: no reference recorded yet (make course FULL=1 writes it)")
    width = max(len(k) for k in metrics)
    lines = [f"{'':<{width}}  {'your run (' + mode + ')':>28}  {where}"]
    for name, value in metrics.items():
        theirs = (ref or {}).get("metrics", {}).get(name)
        lines.append(f"{name:<{width}}  {_fmt(value):>28}  {_fmt(theirs) if theirs is not None else '-'}")
    return "\n".join(lines)


def _number(name: str, value) -> float | int | str:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise TypeError(f"metric {name!r} must be one number, got a tensor of shape "
                            f"{tuple(value.shape)}")
        value = value.item()
    if hasattr(value, "item") and not isinstance(value, (int, float, str)):  # numpy scalars
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(f"metric {name!r} must be a number or a string, got {type(value).__name__}")
    return value


def _fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
