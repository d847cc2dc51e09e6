"""dlcourse.distributed and fit under DDP: 2 CPU processes with gloo against 1 process with the global batch.

The multi-process tests start 2 ranks with torch.multiprocessing (spawn) or torchrun, as a user would;
each costs a few CPU seconds, mostly importing torch twice.
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import ddp_workers as workers
import pytest
import torch
import torch.multiprocessing as mp
from torch import nn

from dlcourse import data, distributed, serialize, train
from dlcourse.train_ddp import build_model

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(fn, *args, world_size: int = 2):
    """Run fn(rank, world_size, port, *args) in `world_size` spawned processes; seconds it took."""
    start = time.perf_counter()
    mp.start_processes(fn, args=(world_size, free_port(), *args), nprocs=world_size, start_method="spawn")
    return time.perf_counter() - start


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """One 2-rank run of fit_and_save (per-rank batch 16), read back: [rank0, rank1], the folder."""
    out = tmp_path_factory.mktemp("ddp")
    launch(workers.fit_and_save, str(out), 16)
    return [torch.load(out / f"rank{r}.pt", weights_only=False) for r in range(2)], out


def test_two_ranks_end_with_the_weights_of_one_process_with_the_global_batch(two_ranks):
    ranks, _ = two_ranks
    torch.set_num_threads(1)
    single, _ = workers.train_one_epoch(batch_size=32)  # one process, the global batch 2 x 16
    for r in ranks:
        diff = max((r["state"][k] - v).abs().max().item() for k, v in single.state_dict().items())
        assert diff < 1e-5, f"max weight difference {diff:.2e}"
    moved = max((v - workers.small_model().state_dict()[k]).abs().max().item()
                for k, v in single.state_dict().items())
    assert moved > 1e-2  # the epoch really trained: the agreement is not that of untouched weights


def test_metrics_are_all_reduced_and_equal_the_single_process_epoch(two_ranks):
    ranks, _ = two_ranks
    torch.set_num_threads(1)
    _, single = workers.train_one_epoch(batch_size=32)
    row0, row1, ref = ranks[0]["rows"][0], ranks[1]["rows"][0], single.rows[0]
    for key in ("train_loss", "train_acc", "val_loss", "val_acc"):
        assert row0[key] == row1[key], key  # every rank holds the same numbers
        assert row0[key] == pytest.approx(ref[key], rel=1e-5, abs=1e-6), key
    for key in ("val_loss", "val_acc"):  # a sharded validation set gives the same numbers as a whole one
        assert ranks[0]["sharded_val_rows"][0][key] == pytest.approx(ref[key], rel=1e-5), key


def test_only_rank_0_prints_and_saves(two_ranks):
    ranks, out = two_ranks
    assert "epoch 1/1" in ranks[0]["printed"] and "done" in ranks[0]["printed"]
    assert ranks[1]["printed"] == ""
    assert ranks[0]["saves"] == [str(out / "model.pt")] and ranks[1]["saves"] == []
    assert ranks[1]["exists"], "after save_checkpoint every rank can read the file (barrier)"
    assert ranks[0]["sha"] == serialize.sha256_file(out / "model.pt") and ranks[1]["sha"] is None
    model = workers.small_model(seed=1)
    serialize.load_checkpoint(out / "model.pt", model)
    assert all(torch.equal(v, ranks[0]["state"][k]) for k, v in model.state_dict().items())


def test_a_rank_that_raises_stops_the_job_with_its_error():
    start = time.perf_counter()
    with pytest.raises(mp.ProcessRaisedException) as err:
        launch(workers.raise_on_rank_1, "")
    assert "rank 1 broke on purpose at step 2" in str(err.value) and "Process 1" in str(err.value)
    assert time.perf_counter() - start < 120  # stopped, not left waiting in an all-reduce


def test_a_stuck_rank_ends_in_a_timeout_that_says_why():
    start = time.perf_counter()
    with pytest.raises(mp.ProcessRaisedException) as err:
        launch(workers.stall_on_rank_1, "")
    message = str(err.value)
    assert "DistributedError" in message and "rank 0 of 2" in message and "DLCOURSE_DDP_TIMEOUT" in message
    assert time.perf_counter() - start < 90  # the 3 s timeout, not rank 1's 120 s sleep


def test_train_ddp_script_under_torchrun(tmp_path):
    out = tmp_path / "model.pt"
    env = {**os.environ, "DLCOURSE_PROGRESS": "lines", "PYTHONPATH": str(ROOT / "lib")}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(ROOT / "scripts" / "train_ddp.py"), "--fast", "--train-size", "1024", "--epochs", "1",
           "--out", str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("2 process(es) (gloo, cpu)") == 1  # printed by rank 0 only
    assert proc.stdout.count("epoch 1/1") == 1 and "rank 0 saved" in proc.stdout
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["world_size"] == 2 and summary["global_batch"] == 128
    model = build_model("mlp")  # load_checkpoint checks the keys against the real model
    meta = serialize.load_checkpoint(out, model)
    assert meta["world_size"] == 2
    test_set = data.load_bundled_subset("test")
    _, acc = train.evaluate(model, data.TensorLoader(test_set, 1000, shuffle=False, drop_last=False,
                                                     device="cpu"))
    assert acc == pytest.approx(summary["test_acc"], abs=1e-6) and acc > 0.5


# --- one process: shards, helpers, errors ------------------------------------------------------------

def indexed_set(n: int) -> data.ImageSet:
    """Images whose top-left pixel is their index, so that a batch tells which examples it holds."""
    X = torch.zeros(n, 28, 28, dtype=torch.uint8)
    X[:, 0, 0] = torch.arange(n, dtype=torch.uint8)
    return data.ImageSet(X, torch.arange(n) % 10)


def ids(X: torch.Tensor) -> list[int]:
    return (X[:, 0, 0, 0] * data.FASHION_STD + data.FASHION_MEAN).mul(255).round().long().tolist()


def test_tensor_loader_shards_are_disjoint_slices_of_the_same_order():
    ds = indexed_set(103)  # odd: the shards leave out the 1 example that does not divide evenly
    whole = data.TensorLoader(ds, batch_size=10, device="cpu", seed=3, drop_last=False)
    parts = [distributed.shard(whole, r, 2) for r in range(2)]
    assert [len(p) for p in parts] == [6, 6] and all(p.world_size == 2 for p in parts)
    batches = [[ids(X) for X, _ in p] for p in parts]
    global_batches = [ids(X) for X, _ in data.TensorLoader(ds, batch_size=20, device="cpu", seed=3)]
    for i, together in enumerate(global_batches):  # batch i of the ranks = batch i of one process
        assert sorted(batches[0][i] + batches[1][i]) == sorted(together)
    seen = [k for part in batches for batch in part for k in batch]
    assert len(seen) == 102 and len(set(seen)) == 102  # disjoint, 51 per rank


def test_dataloader_shards_use_a_distributed_sampler_and_reshuffle_each_epoch():
    ds = workers.image_set(n=64)
    loader = data.make_dataloader(ds, batch_size=8, shuffle=True)
    parts = [distributed.shard(loader, r, 2, seed=0) for r in range(2)]
    assert all(distributed.is_sharded(p) for p in parts) and not distributed.is_sharded(loader)
    first = [torch.cat([y for _, y in p]) for p in parts]
    idx = [list(p.sampler) for p in parts]
    assert set(idx[0]).isdisjoint(idx[1]) and len(idx[0]) == len(idx[1]) == 32
    distributed.set_epoch(parts[0], 1)
    assert list(parts[0].sampler) != idx[0]  # a new epoch, a new order
    assert len(first[0]) == 32


def test_tensor_loader_rejects_a_rank_outside_the_world():
    ds = workers.image_set(n=16)
    with pytest.raises(ValueError, match="0 <= rank < world_size"):
        data.TensorLoader(ds, device="cpu", rank=2, world_size=2)
    with pytest.raises(ValueError, match="rank must be in 0..1"):
        distributed.shard(data.TensorLoader(ds, device="cpu"), 2, 2)
    with pytest.raises(TypeError, match="TensorLoader, a DataLoader"):
        distributed.shard([1, 2, 3], 0, 2)


def test_full_batch_tuples_are_sliced_like_loaders():
    X, y = torch.arange(10.0)[:, None], torch.arange(10)
    (X0, y0), (_, y1) = distributed.shard((X, y), 0, 3), distributed.shard((X, y), 1, 3)
    assert y0.tolist() == [0, 3, 6] and y1.tolist() == [1, 4, 7] and X0.shape == (3, 1)


def test_without_a_process_group_everything_is_single_process(monkeypatch):
    for name in distributed.TORCHRUN_ENV:
        monkeypatch.delenv(name, raising=False)
    assert distributed.init() is False and not distributed.is_initialized()
    assert (distributed.rank(), distributed.world_size(), distributed.is_main()) == (0, 1, True)
    model = nn.Linear(2, 2)
    assert distributed.wrap(model) is model and distributed.unwrap(model) is model
    loss, correct = torch.tensor(3.0), torch.tensor(2)
    assert distributed.all_reduce_sums(loss, correct, 5) == (loss, correct, 5)
    distributed.barrier()  # returns at once
    with distributed.process_group() as joined:
        assert joined is False


def test_unwrap_finds_the_module_inside_compile():
    model = nn.Linear(2, 2)
    assert distributed.unwrap(torch.compile(model)) is model


def test_a_half_configured_launch_says_to_use_torchrun(monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    with pytest.raises(distributed.DistributedError, match="torchrun"):
        distributed.init()


@pytest.mark.parametrize("raw", ["0", "-5", "soon"])
def test_timeout_must_be_positive_seconds(monkeypatch, raw):
    monkeypatch.setenv("DLCOURSE_DDP_TIMEOUT", raw)
    with pytest.raises(ValueError, match="DLCOURSE_DDP_TIMEOUT"):
        distributed.timeout_seconds()


def test_an_interrupted_run_saves_nothing_and_exits_non_zero(monkeypatch, tmp_path, capsys):
    from dlcourse import train_ddp
    from dlcourse.history import History

    for name in distributed.TORCHRUN_ENV:
        monkeypatch.delenv(name, raising=False)
    stopped = History()
    stopped.interrupted = True
    monkeypatch.setattr(train, "fit", lambda *args, **kwargs: stopped)
    out = tmp_path / "model.pt"
    code = train_ddp.main(["--fast", "--train-size", "256", "--epochs", "1", "--out", str(out)])
    assert code == 130 and not out.exists() and not out.with_suffix(".json").exists()
    assert "no checkpoint written" in capsys.readouterr().out
