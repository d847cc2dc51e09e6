"""Functions that tests/test_distributed.py runs in 2 processes (torch.multiprocessing spawn, gloo, CPU).

Each worker gets its rank first (what `start_processes` passes), sets the variables torchrun would set,
and writes what it saw to `out/rank<r>.pt` for the test process to compare.
"""

import contextlib
import io
import os
import time

import torch
from torch import nn


def set_torchrun_env(rank: int, world_size: int, port: int, timeout: float) -> None:
    """The environment torchrun gives each process, and a short collective timeout for the tests."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), DLCOURSE_DDP_TIMEOUT=str(timeout),
                      DLCOURSE_PROGRESS="lines")
    torch.set_num_threads(1)


def image_set(n: int = 256, seed: int = 0):
    """Four classes, each with a bright quadrant: learnable in one epoch (as in test_train.py)."""
    from dlcourse import data

    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 4
    X = torch.randint(0, 60, (n, 28, 28), dtype=torch.uint8, generator=g)
    for c in range(4):
        r, q = divmod(c, 2)
        X[y == c, r * 14:(r + 1) * 14, q * 14:(q + 1) * 14] += 150
    return data.ImageSet(X, y, classes=tuple("abcd"))


def small_model(seed: int = 0) -> nn.Module:
    """A CNN without BatchNorm (DDP keeps BatchNorm statistics per rank): conv, ReLU, pool, linear."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(),
                         nn.Linear(64, 4))


def train_one_epoch(batch_size: int, shard_val: bool = False):
    """fit for one epoch on the image set: (model, history); sharded by the running group, if any."""
    from dlcourse import data, distributed, train

    ds = image_set()
    train_loader = distributed.shard(data.TensorLoader(ds, batch_size=batch_size, device="cpu", seed=0))
    val_loader = data.TensorLoader(ds, batch_size=64, shuffle=False, drop_last=False, device="cpu")
    if shard_val:
        val_loader = distributed.shard(val_loader)
    model = small_model()
    history = train.fit(model, train_loader, val_loader, num_epochs=1, lr=0.05, device="cpu")
    return model, history


def fit_and_save(rank: int, world_size: int, port: int, out: str, batch_size: int) -> None:
    """Train one epoch data-parallel, save through distributed.save_checkpoint, record what happened."""
    set_torchrun_env(rank, world_size, port, timeout=60)
    from dlcourse import distributed, serialize

    saves = []
    original = serialize.save_checkpoint

    def counting_save(*args, **kwargs):
        saves.append(str(args[0]))
        return original(*args, **kwargs)

    serialize.save_checkpoint = counting_save
    printed = io.StringIO()
    with distributed.process_group(), contextlib.redirect_stdout(printed):
        model, history = train_one_epoch(batch_size)
        _, sharded_val = train_one_epoch(batch_size, shard_val=True)
        distributed.print0("done")
        sha = distributed.save_checkpoint(os.path.join(out, "model.pt"), model, epoch=1)
        exists_after_barrier = os.path.exists(os.path.join(out, "model.pt"))
    torch.save(dict(state=model.state_dict(), rows=history.rows, sharded_val_rows=sharded_val.rows,
                    printed=printed.getvalue(), saves=saves, sha=sha, exists=exists_after_barrier),
               os.path.join(out, f"rank{rank}.pt"))


def raise_on_rank_1(rank: int, world_size: int, port: int, out: str) -> None:
    """Rank 1 raises in the middle of its first epoch; rank 0 goes on into the next all-reduce."""
    set_torchrun_env(rank, world_size, port, timeout=60)
    from dlcourse import callbacks, data, distributed, train

    class Boom(callbacks.Callback):
        def on_batch_end(self, state):
            if rank == 1 and state.step == 2:
                raise ValueError("rank 1 broke on purpose at step 2")

    with distributed.process_group():
        loader = distributed.shard(data.TensorLoader(image_set(), batch_size=16, device="cpu"))
        train.fit(small_model(), loader, num_epochs=3, lr=0.05, callbacks=[Boom()], progress=False,
                  device="cpu")


def stall_on_rank_1(rank: int, world_size: int, port: int, out: str) -> None:
    """Rank 1 never reaches the all-reduce (it sleeps); rank 0's wait must end after the timeout."""
    set_torchrun_env(rank, world_size, port, timeout=3)
    from dlcourse import distributed

    with distributed.process_group():
        if rank == 1:
            time.sleep(120)
        distributed.all_reduce_sums(1.0)
