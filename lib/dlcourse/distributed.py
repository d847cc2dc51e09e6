"""Data-parallel training under torchrun: the process group, data shards, all-reduced sums, rank 0 output.

    torchrun --standalone --nproc_per_node=2 scripts/train_ddp.py      # 2 processes on this machine

torchrun starts N copies of a script and puts RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT in
each one's environment. `init()` (or `with process_group():`) reads them and joins the group: NCCL between
GPUs (rank r uses GPU `LOCAL_RANK`), gloo between CPU processes. `dlcourse.train.fit` then sees the group:
it wraps the model in DistributedDataParallel (every backward pass all-reduces the gradients, so every
replica takes the same step), adds its epoch sums up over the ranks, and prints only on rank 0. Each rank
must train on its own part of every batch: `shard(train_loader)`.

Every message between processes is a torch.distributed collective; none waits forever: the group's
timeout ($DLCOURSE_DDP_TIMEOUT, default 300 s) bounds each one, and a rank that raises ends the whole job
(torchrun stops the other ranks and prints the failing rank's traceback).
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, SequentialSampler

TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


class DistributedError(RuntimeError):
    """A collective failed or timed out: another rank stopped, is stuck, or the launch is misconfigured."""


# ---------------------------------------------------------------------------------------------------
# The process group
# ---------------------------------------------------------------------------------------------------

def timeout_seconds() -> float:
    """How long a collective may wait for the other ranks: $DLCOURSE_DDP_TIMEOUT, default 300 s."""
    raw = os.environ.get("DLCOURSE_DDP_TIMEOUT", "300").strip()
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise ValueError(f"DLCOURSE_DDP_TIMEOUT={raw!r} must be a positive number of seconds, e.g. 300")
    return value


def launched() -> bool:
    """Whether this process was started by torchrun (or another launcher that sets RANK and WORLD_SIZE)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def init(backend: str | None = None, timeout: float | None = None) -> bool:
    """Join the process group torchrun describes; returns False (doing nothing) when not under torchrun.

    Args:
        backend: "nccl" (GPUs) or "gloo" (CPUs); default NCCL where CUDA is present, else gloo.
        timeout: seconds any collective may wait for the others; default `timeout_seconds()`.
    """
    if dist.is_initialized():
        return True
    if not launched():
        return False
    missing = [name for name in TORCHRUN_ENV if name not in os.environ]
    if missing:
        raise DistributedError(f"RANK and WORLD_SIZE are set but {', '.join(missing)} are not: start the "
                               "script with torchrun (e.g. torchrun --standalone --nproc_per_node=2 ...)")
    backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
    device_id = None
    if backend == "nccl":
        local = int(os.environ["LOCAL_RANK"])
        if local >= torch.cuda.device_count():
            raise DistributedError(f"LOCAL_RANK {local} needs GPU {local}, but this node has "
                                   f"{torch.cuda.device_count()}: use --nproc_per_node <= the number of GPUs")
        torch.cuda.set_device(local)  # from here on "cuda" means this rank's own GPU
        device_id = torch.device("cuda", local)
    seconds = timeout if timeout is not None else timeout_seconds()
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=seconds), device_id=device_id)
    return True


def cleanup() -> None:
    """Leave the process group (after the last collective); a no-op without one."""
    if dist.is_initialized():
        dist.destroy_process_group()


@contextmanager
def process_group(backend: str | None = None, timeout: float | None = None) -> Iterator[bool]:
    """`with process_group():` around a script's work: init, then cleanup; a rank that fails says so.

    Yields whether a group was joined. On an exception the rank prints one line naming itself and the error
    to stderr and re-raises: torchrun then stops the other ranks (their collectives would only wait).
    """
    joined = init(backend, timeout)
    try:
        yield joined
    except BaseException as err:
        if joined:
            print(f"dlcourse.distributed: rank {rank()} of {world_size()} failed with "
                  f"{type(err).__name__}: {err}", file=sys.stderr, flush=True)
        raise  # no cleanup: destroying a group whose peers are gone can block; the process exits
    cleanup()


def is_initialized() -> bool:
    """Whether a process group is running in this process."""
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process's rank, 0 .. world_size - 1 (0 without a group)."""
    return dist.get_rank() if is_initialized() else 0


def world_size() -> int:
    """The number of processes training together (1 without a group)."""
    return dist.get_world_size() if is_initialized() else 1


def local_rank() -> int:
    """This process's index on its own node (which GPU it uses); 0 without torchrun."""
    return int(os.environ.get("LOCAL_RANK", 0))


def is_main() -> bool:
    """True on rank 0 (and in a single process): the one rank that prints, saves and reports."""
    return rank() == 0


def device() -> torch.device:
    """This rank's device: its own GPU (cuda:LOCAL_RANK) where CUDA is present, else the CPU."""
    return torch.device("cuda", local_rank()) if torch.cuda.is_available() else torch.device("cpu")


# ---------------------------------------------------------------------------------------------------
# Model, data and metrics
# ---------------------------------------------------------------------------------------------------

def wrap(model: nn.Module, device: torch.device | None = None) -> nn.Module:
    """The model in DistributedDataParallel when a group is running (it must already be on `device`);
    otherwise the model itself. DDP copies rank 0's weights to every rank, then all-reduces gradients."""
    if not is_initialized():
        return model
    device = torch.device(device) if device is not None else next(model.parameters()).device
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return nn.parallel.DistributedDataParallel(model, device_ids=[index])
    return nn.parallel.DistributedDataParallel(model)


def unwrap(model: nn.Module) -> nn.Module:
    """The plain module inside a DDP and/or torch.compile wrapper (what to save or evaluate alone)."""
    while True:
        inner = getattr(model, "_orig_mod", None) or (
            model.module if isinstance(model, nn.parallel.DistributedDataParallel) else None)
        if inner is None:
            return model
        model = inner


def shard(data, rank_: int | None = None, world_size_: int | None = None, seed: int = 0):
    """This rank's part of a loader: every rank sees a disjoint, equally long slice of each epoch.

    A `dlcourse.data.TensorLoader` gets `rank`/`world_size` (the same seeded order on every rank, rank r
    takes positions r, r + W, r + 2W, ...: one global batch = the ranks' batches together). A
    `torch.utils.data.DataLoader` is rebuilt with a `DistributedSampler` (fit calls its `set_epoch`). A
    tuple `(X, y)` is sliced the same way. `batch_size` stays per rank: the global batch is W times it.
    """
    r = rank() if rank_ is None else rank_
    w = world_size() if world_size_ is None else world_size_
    if not 0 <= r < w:
        raise ValueError(f"rank must be in 0..{w - 1} for world_size {w}, got {r}")
    from dlcourse.loaders import TensorLoader  # loaders imports nothing from here: no cycle

    if isinstance(data, TensorLoader):
        return dataclasses.replace(data, rank=r, world_size=w)
    if isinstance(data, DataLoader):
        shuffle = not isinstance(data.sampler, SequentialSampler)
        sampler = DistributedSampler(data.dataset, num_replicas=w, rank=r, shuffle=shuffle, seed=seed,
                                     drop_last=True)  # equal shards: every rank runs the same steps
        return DataLoader(data.dataset, batch_size=data.batch_size, sampler=sampler,
                          num_workers=data.num_workers, collate_fn=data.collate_fn,
                          pin_memory=data.pin_memory, drop_last=data.drop_last)
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], torch.Tensor):
        n = len(data[0]) // w
        return data[0][r::w][:n], data[1][r::w][:n]
    raise TypeError(f"shard takes a TensorLoader, a DataLoader or a tuple (X, y), got {type(data).__name__}")


def is_sharded(data) -> bool:
    """Whether `data` yields only this rank's part (so sums over it must be all-reduced)."""
    if getattr(data, "world_size", 1) > 1:
        return True
    return isinstance(getattr(data, "sampler", None), DistributedSampler)


def set_epoch(data, epoch: int) -> None:
    """Tell a DistributedSampler which epoch starts, so that every epoch is shuffled anew (a no-op
    for other loaders: TensorLoader's generator moves on by itself)."""
    sampler = getattr(data, "sampler", None)
    if isinstance(sampler, DistributedSampler):
        sampler.set_epoch(epoch)


def all_reduce_sums(*values):
    """Each value (number or 0-d tensor) summed over all ranks, in one all-reduce; as given without a group.

    Tensors come back as float64 tensors on their own device, ints as ints, floats as floats.
    """
    if world_size() == 1:
        return values
    nccl = dist.get_backend() == "nccl"
    where = torch.device("cuda", torch.cuda.current_device()) if nccl else torch.device("cpu")
    flat = torch.stack([torch.as_tensor(v, dtype=torch.float64).to(where) if not isinstance(v, torch.Tensor)
                        else v.detach().to(where, torch.float64) for v in values])
    _collective(dist.all_reduce, flat)
    out = []
    for v, total in zip(values, flat):
        if isinstance(v, torch.Tensor):
            out.append(total.to(v.device))
        else:
            out.append(round(total.item()) if isinstance(v, int) else total.item())
    return tuple(out)


def barrier() -> None:
    """Wait until every rank gets here (bounded by the group's timeout)."""
    if world_size() == 1:
        return
    if dist.get_backend() == "nccl":
        _collective(dist.barrier, device_ids=[torch.cuda.current_device()])
    else:
        _collective(dist.barrier)


def print0(*args, **kwargs) -> None:
    """`print` on rank 0 only, so that N processes do not print everything N times."""
    if is_main():
        print(*args, **kwargs)


def save_checkpoint(path: str | Path, model: nn.Module, **meta) -> str | None:
    """Rank 0 saves the (unwrapped) model; every rank waits until the file exists. SHA-256 on rank 0."""
    from dlcourse.serialize import save_checkpoint as save

    sha = save(path, unwrap(model), **meta) if is_main() else None
    barrier()
    return sha


def _collective(op, *args, **kwargs):
    """Run a torch.distributed collective; a failure or timeout becomes a DistributedError that says why."""
    try:
        return op(*args, **kwargs)
    except RuntimeError as err:  # gloo: "Timed out ...", "Connection closed by peer"; NCCL: its watchdog
        raise DistributedError(
            f"rank {rank()} of {world_size()}: {op.__name__} did not complete ({str(err).strip()[:300]}). "
            "Another rank has most likely stopped (see its error) or is stuck; every rank must reach the "
            "same collectives in the same order, e.g. run the same number of batches. Each wait is bounded "
            f"by the group's timeout ($DLCOURSE_DDP_TIMEOUT, now {timeout_seconds():g} s).") from err
