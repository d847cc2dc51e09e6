"""Checkpoints: written atomically, read with `weights_only=True`, checked against a SHA-256 and the model."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from pathlib import Path

import torch
from torch import nn


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt, tampered with, or does not fit the model."""


class ChecksumError(CheckpointError):
    """A checkpoint's bytes do not match the SHA-256 the course recorded for it, or none is recorded."""


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def checksum_path(path: str | Path) -> Path:
    """The sidecar beside a checkpoint that holds its SHA-256: model.pt -> model.sha256."""
    return Path(path).with_suffix(".sha256")


def recorded_sha256(path: str | Path, registered: str = "", rebuild: str = "") -> str:
    """The SHA-256 recorded for shipped file `path`: `registered` when given, else its `.sha256` sidecar.

    `rebuild` is the command that recreates the file; the error for a missing record names it.
    """
    if registered:
        return registered
    sidecar = checksum_path(path)
    if not sidecar.exists():
        how = f", or rebuild it with `{rebuild}`" if rebuild else ""
        raise ChecksumError(f"no recorded SHA-256 for {Path(path).name} ({sidecar} is missing): restore "
                            f"data/checkpoints with git{how}")
    return sidecar.read_text().split()[0]


def save_checkpoint(path: str | Path, model: nn.Module, **meta) -> str:
    """Save `model.state_dict()` and `meta` (numbers, strings) to `path` atomically; return its SHA-256.

    The file is written to a temporary name in the same folder and renamed, so an interrupted save never
    leaves a half-written checkpoint behind (nor, at the next save, a stray temporary file). Its
    SHA-256 goes to the sidecar `checksum_path(path)` (sha256sum format), which `load_checkpoint`
    verifies. New files get the usual permissions (0666 minus the umask); a replaced file keeps its own.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    # plain types only: weights_only loading refuses anything else (even torch.__version__, a str subclass)
    meta = {k: v if type(v) in (int, float, bool, str) else str(v) for k, v in meta.items()}
    _remove_stale_temporaries(path)
    write_atomic(path, lambda f: torch.save({"state_dict": state, "meta": meta}, f))
    digest = sha256_file(path)
    sidecar = checksum_path(path)
    _remove_stale_temporaries(sidecar)
    write_atomic(sidecar, lambda f: f.write(f"{digest}  {path.name}\n".encode()))
    return digest


def write_atomic(path: str | Path, write) -> None:
    """Call `write(file)` on a temporary file beside `path`, then rename it to `path` (atomic).

    On any error or interrupt the temporary file is removed and an existing `path` is left untouched.
    """
    path = Path(path)
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)  # mkstemp creates 0600, readable by the owner only
        os.replace(tmp, path)  # atomic on POSIX and Windows
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it: put it straight back
    os.umask(mask)
    return mask


def _remove_stale_temporaries(path: Path) -> None:
    """Delete temporary files of `path` whose writer is gone (a save killed before it could clean up)."""
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        pid = tmp.name[len(path.name) + 2:].split(".")[0]
        if pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid)):
            continue  # another process is writing this file right now
        tmp.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


def load_checkpoint(path: str | Path, model: nn.Module | None = None,
                    sha256: str | None = None, *, verify: bool = True) -> dict:
    """Load a checkpoint (weights only) into `model` and return its metadata.

    Args:
        path: a file written by `save_checkpoint`.
        model: the model to fill; its keys and shapes must match (the error lists every difference).
        sha256: the expected checksum; default the one in the sidecar `checksum_path(path)`. A file
            that differs is refused before it is unpickled.
        verify: False loads without any checksum (only for a file you trust that has no sidecar).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}: train the model first (or run "
                              "`python scripts/train_checkpoints.py` for the course's checkpoints)")
    _check_readable(path)
    if sha256 is None and verify:
        sha256 = _read_checksum(path)
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


def _check_readable(path: Path) -> None:
    try:
        with open(path, "rb"):
            pass
    except OSError as err:
        raise CheckpointError(f"cannot read {path}: {err.strerror or err}. The file is there but this "
                              "user may not open it: fix its permissions (e.g. `chmod u+r`) or its "
                              "owner; it is not necessarily corrupt") from err


def _read_checksum(path: Path) -> str:
    """The SHA-256 recorded in the sidecar of `path`, or a CheckpointError saying how to proceed."""
    sidecar = checksum_path(path)
    if not sidecar.is_file():
        raise CheckpointError(f"{path} has no checksum file {sidecar.name} beside it, so it cannot be "
                              "verified: save it with `save_checkpoint` (which writes one), pass "
                              "sha256=..., or pass verify=False to load a file you trust unverified")
    fields = sidecar.read_text(errors="replace").split()
    digest = fields[0].lower() if fields else ""
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise CheckpointError(f"{sidecar} does not hold a SHA-256 (expected '<64 hex digits>  "
                              f"{path.name}'); restore it, or save the checkpoint again")
    return digest


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
