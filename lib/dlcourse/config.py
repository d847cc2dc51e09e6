"""Course-wide settings: fast or full mode, paths, device choice, seeding and thread pinning."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[2]  # lib/dlcourse/config.py -> repo root
DATA_DIR = REPO_ROOT / "data"
CHECKPOINT_DIR = DATA_DIR / "checkpoints"
RESULTS_DIR = DATA_DIR / "results"  # full-run references, one JSON per lesson

RUN: dict = {}  # what the last `setup` chose (fast, seed, device, threads); `report` prints it

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _env_flag(name: str, default: bool = False) -> bool:
    """Read a boolean environment variable, refusing values that are neither true nor false."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name}={raw!r} is not a boolean: use 1 or 0 (also true/false, yes/no, on/off)")


def fast(override: bool | None = None) -> bool:
    """Whether fast mode is on: the notebook's `FAST` parameter if given, else $DLCOURSE_FAST, else auto.

    Auto (FAST = None and $DLCOURSE_FAST unset, empty or "auto") means full mode where a CUDA GPU is
    present and fast mode everywhere else, in JupyterLab, papermill and nbgrader alike. Fast mode
    shrinks data and epochs so that a notebook runs on 2 CPU cores in well under a minute; it is what
    CI runs. Full mode is meant for a GPU.
    """
    if override is None and "fast" in RUN:
        return RUN["fast"]  # what this notebook's `setup` chose, so that data and models agree with it
    return _resolve(override)[0]


def _resolve(override: bool | None) -> tuple[bool, str]:
    """(fast?, why) for `fast` and the line `setup` prints."""
    if override is not None:
        if not isinstance(override, bool):
            raise TypeError(f"FAST must be True, False or None (auto), got {override!r}")
        return override, f"FAST = {override} in the parameters cell"
    raw = os.environ.get("DLCOURSE_FAST", "").strip()
    if raw and raw.lower() != "auto":
        return _env_flag("DLCOURSE_FAST"), f"DLCOURSE_FAST={raw}"
    if torch.cuda.is_available():
        return False, "auto: a CUDA GPU is present"
    return True, "auto: no CUDA GPU here"


def fast_threads() -> int:
    """Intra-op threads in fast mode: $DLCOURSE_THREADS, else 1, so fast runs repeat bit for bit."""
    raw = os.environ.get("DLCOURSE_THREADS", "1").strip()
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"DLCOURSE_THREADS={raw!r} must be a whole number of threads >= 1, e.g. 2")
    return int(raw)


def setup(FAST: bool | None = None, SEED: int = 0) -> tuple[bool, torch.device]:
    """Resolve fast or full mode, seed everything and print one line saying so; returns (FAST, device).

    Fast mode pins torch to `fast_threads()` CPU threads (1 unless $DLCOURSE_THREADS says otherwise):
    reductions split over a different number of threads add up in another order, so this is what makes
    a fast run's numbers identical whatever OMP_NUM_THREADS is.
    """
    is_fast, why = _resolve(FAST)
    set_seed(SEED)
    device = get_device()
    if is_fast:
        torch.set_num_threads(fast_threads())
    RUN.update(fast=is_fast, seed=SEED, device=device.type, threads=torch.get_num_threads())
    if _env_flag("DLCOURSE_LINT_FIGURES"):
        from dlcourse.viz.lint import install_figure_lint

        install_figure_lint()
    switch = ("for the full run set FAST = False in the parameters cell (or DLCOURSE_FAST=0); "
              "it is meant for a GPU" if is_fast else
              "for a quick run set FAST = True in the parameters cell (or DLCOURSE_FAST=1)")
    n = RUN["threads"]
    threads = f", {n} thread{'s' if n > 1 else ''}" if device.type == "cpu" else ""
    print(f"{'fast' if is_fast else 'full'} mode ({why}); device {device.type}{threads}, seed {SEED}. "
          f"To switch: {switch}.")
    return is_fast, device


def get_device() -> torch.device:
    """Pick the best available device: CUDA, then Apple MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_device(device: torch.device | str | None = None) -> torch.device:
    """`device` as a torch.device (None: `get_device()`), refusing an accelerator this machine lacks."""
    if device is None:
        return get_device()
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:0', 'mps' or None (the best there is), "
                         f"got {device!r}") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={str(device)!r} but this machine has no usable CUDA GPU: use "
                         "device=None (the best there is) or device='cpu'")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device={str(device)!r} but this machine has only "
                         f"{torch.cuda.device_count()} CUDA GPU(s): use 'cuda:0' or device=None")
    mps = getattr(torch.backends, "mps", None)
    if device.type == "mps" and not (mps is not None and mps.is_available()):
        raise ValueError("device='mps' but Apple's MPS is not available here: use device=None (the "
                         "best there is) or device='cpu'")
    return device


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and every CUDA device) so that runs repeat."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
