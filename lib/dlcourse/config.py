"""Course-wide settings: fast mode, paths, device choice, seeding and the headline-metric report."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[2]  # lib/dlcourse/config.py -> repo root
DATA_DIR = REPO_ROOT / "data"
CHECKPOINT_DIR = DATA_DIR / "checkpoints"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _env_flag(name: str, default: bool = False) -> bool:
    """Read a boolean environment variable, refusing values that are neither true nor false."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name}={raw!r} is not a boolean: use 1 or 0 (also true/false, yes/no, on/off)")


def fast(override: bool | None = None) -> bool:
    """Whether fast mode is on: the notebook's `FAST` parameter if given, else $DLCOURSE_FAST.

    Fast mode shrinks data and epochs so that a notebook runs on 2 CPU cores in well under a minute,
    deterministically; it is what CI runs. Full mode is meant for a GPU.
    """
    if override is not None:
        if not isinstance(override, bool):
            raise TypeError(f"FAST must be True, False or None (read $DLCOURSE_FAST), got {override!r}")
        return override
    return _env_flag("DLCOURSE_FAST")


def get_device() -> torch.device:
    """Pick the best available device: CUDA, then Apple MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and every CUDA device) so that runs repeat."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


def report(**metrics: float) -> dict:
    """Record a notebook's headline metrics (e.g. `report(test_acc=0.91)`) for `make course`.

    The course runner sets $DLCOURSE_REPORT to a JSON path beside the executed notebook; the metrics are
    merged into that file. Outside the runner nothing is written; the metrics are printed and returned.
    """
    if not metrics:
        raise ValueError("report() needs at least one metric, e.g. report(test_acc=0.91)")
    clean = {}
    for name, value in metrics.items():
        if isinstance(value, torch.Tensor):
            value = value.item()
        if not isinstance(value, (int, float, str)):
            raise TypeError(f"metric {name!r} must be a number or a string, got {type(value).__name__}")
        clean[name] = value
    path = os.environ.get("DLCOURSE_REPORT")
    if path:
        target = Path(path)
        old = json.loads(target.read_text()) if target.exists() else {}
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps({**old, **clean}, indent=2, sort_keys=True))
    print("report: " + ", ".join(f"{k}={_fmt(v)}" for k, v in clean.items()))
    return clean


def _fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
