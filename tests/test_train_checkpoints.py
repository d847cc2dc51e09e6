"""scripts/train_checkpoints.py and checkpoints.train_recipe: Ctrl-C or SIGTERM saves nothing and
exits non-zero; a finished run writes its .pt, .sha256 and .log together, readable by everyone."""

import importlib.util
import os
import signal
import stat
from pathlib import Path

import pytest
import torch
from torch import nn

from dlcourse import checkpoints, data, serialize

ROOT = Path(__file__).resolve().parents[1]
OLD = {".pt": b"old weights", ".sha256": b"old checksum\n", ".log": b"old log: 3 epochs\n"}


def load_script():
    path = ROOT / "scripts" / "train_checkpoints.py"
    spec = importlib.util.spec_from_file_location("train_checkpoints", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Tiny(nn.Module):
    """A linear classifier that can stop the run at its `at`-th forward pass."""

    calls, at, how = 0, None, None

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, num_classes))

    def forward(self, x):
        Tiny.calls += 1
        if Tiny.calls == Tiny.at:
            if Tiny.how == "sigterm":
                os.kill(os.getpid(), signal.SIGTERM)  # `kill <pid>`: the handler raises here
            else:
                raise KeyboardInterrupt  # Ctrl-C
        return self.net(x)


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """Checkpoint "toy" trained on 20,480 synthetic images (enough to count as the full set)."""
    monkeypatch.setattr(checkpoints, "CHECKPOINT_DIR", tmp_path)
    spec = checkpoints.CheckpointSpec("toy", sha256="", factory=Tiny, num_epochs=1, augment="flip",
                                      description="a toy")
    monkeypatch.setitem(checkpoints.REGISTRY, "toy", spec)
    g = torch.Generator().manual_seed(0)
    sets = {split: data.ImageSet(torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=g),
                                 torch.arange(n) % 10) for split, n in (("train", 20_480), ("test", 500))}
    monkeypatch.setattr(data, "load_fashion_mnist", lambda split, verbose=True: sets[split])
    for suffix, content in OLD.items():
        spec.path.with_suffix(suffix).write_bytes(content)
    Tiny.calls, Tiny.at, Tiny.how = 0, None, None
    handler = signal.getsignal(signal.SIGTERM)
    yield spec
    signal.signal(signal.SIGTERM, handler)


def contents(spec):
    return {suffix: spec.path.with_suffix(suffix).read_bytes() for suffix in OLD}


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_an_interrupted_run_saves_nothing_and_exits_non_zero(toy, how, capsys):
    Tiny.at, Tiny.how = 5, how
    with pytest.raises(SystemExit) as exit_:
        load_script().main(["--only", "toy"])
    assert exit_.value.code == 130
    assert contents(toy) == OLD  # the shipped files are untouched
    assert sorted(p.name for p in toy.path.parent.iterdir()) == ["toy.log", "toy.pt", "toy.sha256"]
    assert "nothing was saved for it" in capsys.readouterr().err


def test_train_recipe_raises_when_interrupted(toy):
    Tiny.at = 3
    with pytest.raises(KeyboardInterrupt, match="'toy' was interrupted after 0 of 1 epochs"):
        checkpoints.train_recipe("toy")


def test_a_finished_run_writes_three_consistent_files_with_normal_permissions(toy):
    old_umask = os.umask(0o022)
    try:
        load_script().main(["--only", "toy"])
    finally:
        os.umask(old_umask)
    sha = serialize.sha256_file(toy.path)
    assert toy.path.with_suffix(".sha256").read_text() == f"{sha}  toy.pt\n"
    log = toy.path.with_suffix(".log").read_text()
    assert f"sha256: {sha}" in log and "1 epochs" in log and "20480 training" in log
    for suffix in OLD:
        assert stat.S_IMODE(toy.path.with_suffix(suffix).stat().st_mode) == 0o644
    meta = serialize.load_checkpoint(toy.path, Tiny())  # verified against the new sidecar
    assert meta["num_epochs"] == 1 and meta["train_size"] == 20480


def test_ctrl_c_while_saving_waits_until_all_three_files_are_written(toy, monkeypatch, capsys):
    real = checkpoints.save_pretrained

    def interrupted_save(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # arrives between the files
        return real(*args, **kwargs)

    monkeypatch.setattr(checkpoints, "save_pretrained", interrupted_save)
    with pytest.raises(SystemExit) as exit_:
        load_script().main(["--only", "toy"])
    assert exit_.value.code == 130 and "was saved completely" in capsys.readouterr().err
    new = contents(toy)
    assert all(new[s] != OLD[s] for s in OLD)
    serialize.load_checkpoint(toy.path, Tiny())  # .pt and .sha256 belong together
