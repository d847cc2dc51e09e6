"""Checkpoints: written atomically, read with `weights_only=True`, checked against a SHA-256 and the model."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import torch
from torch import nn


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt, tampered with, or does not fit the model."""


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_checkpoint(path: str | Path, model: nn.Module, **meta) -> str:
    """Save `model.state_dict()` and `meta` (numbers, strings) to `path` atomically; return its SHA-256.

    The file is written to a temporary name in the same folder and renamed, so an interrupted save never
    leaves a half-written checkpoint behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    # plain types only: weights_only loading refuses anything else (even torch.__version__, a str subclass)
    meta = {k: v if type(v) in (int, float, bool, str) else str(v) for k, v in meta.items()}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save({"state_dict": state, "meta": meta}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic on POSIX and Windows
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return sha256_file(path)


def load_checkpoint(path: str | Path, model: nn.Module | None = None,
                    sha256: str | None = None) -> dict:
    """Load a checkpoint (weights only) into `model` and return its metadata.

    Args:
        path: a file written by `save_checkpoint`.
        model: the model to fill; its keys and shapes must match (the error lists every difference).
        sha256: the expected checksum; a file that differs is refused before it is unpickled.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}: train the model first (or run "
                              "`python scripts/train_checkpoints.py` for the course's checkpoints)")
    if sha256 is not None and sha256_file(path) != sha256:
        raise CheckpointError(f"{path} does not match its SHA-256 (expected {sha256[:16]}...): the file "
                              "is corrupt or was changed; restore it with `git checkout data/` or "
                              "rebuild it with `python scripts/train_checkpoints.py`")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        state, meta = blob["state_dict"], blob.get("meta", {})
    except Exception as err:
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(err).__name__}: {err}); "
                              "delete it and save or train again") from err
    if model is not None:
        _check_fits(state, model, path)
        model.load_state_dict(state)
    return meta


def _check_fits(state: dict, model: nn.Module, path: Path) -> None:
    """Raise a CheckpointError listing missing, unexpected and differently shaped keys."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(v.shape)}"
              for k, v in own.items() if k in state and state[k].shape != v.shape]
    if missing or unexpected or shapes:
        parts = [f"missing in checkpoint: {', '.join(missing[:8])}" if missing else "",
                 f"not in model: {', '.join(unexpected[:8])}" if unexpected else "",
                 "different shapes: " + "; ".join(shapes[:8]) if shapes else ""]
        raise CheckpointError(f"{path} was saved from a model of another shape. "
                              + " | ".join(p for p in parts if p)
                              + ". Build the model with the settings used when saving it.")
