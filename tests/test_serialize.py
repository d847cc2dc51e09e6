"""dlcourse.serialize: atomic saves with normal permissions, checksums verified by default,
clear errors for missing, corrupt, unreadable or mismatched checkpoints, no stray temporary files."""

import builtins
import os
import stat
from pathlib import Path

import pytest
import torch

from dlcourse import serialize, train
from dlcourse.models import MLP, fast_net


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_round_trip_writes_a_sidecar_checksum(tmp_path):
    model = fast_net("tiny")
    path = tmp_path / "ckpt" / "model.pt"
    digest = train.save_checkpoint(path, model, epoch=3, note="test")
    assert files(path.parent) == ["model.pt", "model.sha256"]  # no temporary file left behind
    assert digest == serialize.sha256_file(path)
    assert (path.parent / "model.sha256").read_text() == f"{digest}  model.pt\n"  # sha256sum format
    other = fast_net("tiny")
    assert train.load_checkpoint(path, other) == {"epoch": 3, "note": "test"}
    assert train.load_checkpoint(path, other, sha256=digest) == {"epoch": 3, "note": "test"}
    for a, b in zip(model.state_dict().values(), other.state_dict().values()):
        assert torch.equal(a, b)


def test_metadata_is_stored_as_plain_types(tmp_path):
    import numpy as np

    path = tmp_path / "m.pt"
    train.save_checkpoint(path, MLP(2, [3], 2), version=torch.__version__, acc=np.float32(0.5), n=3)
    meta = train.load_checkpoint(path)  # weights_only loading would refuse a str subclass
    assert meta == {"version": str(torch.__version__), "acc": "0.5", "n": 3}
    assert type(meta["version"]) is str


def test_sha256_file_matches_hashlib(tmp_path):
    import hashlib

    path = tmp_path / "blob"
    path.write_bytes(os.urandom(3 << 20))  # more than one 1 MiB chunk
    assert serialize.sha256_file(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_new_files_get_normal_permissions_and_replaced_ones_keep_theirs(tmp_path, umask_022):
    path = tmp_path / "model.pt"
    train.save_checkpoint(path, MLP(2, [3], 2))
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not mkstemp's 0600
    assert stat.S_IMODE(serialize.checksum_path(path).stat().st_mode) == 0o644
    path.chmod(0o640)
    train.save_checkpoint(path, MLP(2, [3], 2))
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_a_flipped_byte_is_refused_by_default(tmp_path):
    path = tmp_path / "m.pt"
    train.save_checkpoint(path, MLP(4, [8], 3))
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(train.CheckpointError, match="does not match its SHA-256"):
        train.load_checkpoint(path, MLP(4, [8], 3))  # no sha256= given: the sidecar is checked


def test_no_sidecar_is_refused_unless_verification_is_turned_off(tmp_path):
    path = tmp_path / "m.pt"
    model = MLP(4, [8], 3)
    train.save_checkpoint(path, model, epoch=1)
    serialize.checksum_path(path).unlink()
    with pytest.raises(train.CheckpointError, match="no checksum file m.sha256.*verify=False"):
        train.load_checkpoint(path, MLP(4, [8], 3))
    assert train.load_checkpoint(path, MLP(4, [8], 3), verify=False) == {"epoch": 1}
    serialize.checksum_path(path).write_text("not a checksum\n")
    with pytest.raises(train.CheckpointError, match="does not hold a SHA-256"):
        train.load_checkpoint(path)


def test_wrong_shape_checkpoint_says_which_keys_differ(tmp_path):
    path = tmp_path / "m.pt"
    train.save_checkpoint(path, MLP(4, [8], 3))
    with pytest.raises(train.CheckpointError, match=r"1.weight: checkpoint \(8, 4\) vs model \(16, 4\)"):
        train.load_checkpoint(path, MLP(4, [16], 3))
    differ = r"missing in checkpoint: 5.weight, 5.bias \| different shapes: 3.weight"
    with pytest.raises(train.CheckpointError, match=differ):
        train.load_checkpoint(path, MLP(4, [8, 8], 3))
    bigger = MLP(4, [8], 3)
    bigger.extra = torch.nn.Linear(1, 1)
    train.save_checkpoint(path, bigger)
    with pytest.raises(train.CheckpointError, match=r"not in model: extra.weight, extra.bias\."):
        train.load_checkpoint(path, MLP(4, [8], 3))


def test_tampered_or_corrupt_or_missing_checkpoint(tmp_path):
    path = tmp_path / "m.pt"
    digest = train.save_checkpoint(path, MLP(4, [8], 3))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(train.CheckpointError, match="does not match its SHA-256"):
        train.load_checkpoint(path, MLP(4, [8], 3), sha256=digest)
    with pytest.raises(train.CheckpointError, match="not a readable checkpoint"):
        train.load_checkpoint(path, MLP(4, [8], 3), verify=False)
    with pytest.raises(train.CheckpointError, match="no checkpoint at .*train the model first"):
        train.load_checkpoint(tmp_path / "absent.pt")


def test_an_unreadable_file_is_not_called_corrupt(tmp_path, monkeypatch):
    path = tmp_path / "m.pt"
    train.save_checkpoint(path, MLP(4, [8], 3))
    real_open = builtins.open

    def denied(file, *args, **kwargs):
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", denied)
    with pytest.raises(train.CheckpointError, match="cannot read .*Permission denied.*permissions") as err:
        train.load_checkpoint(path, MLP(4, [8], 3))
    assert "corrupt" not in str(err.value).replace("not necessarily corrupt", "")


def test_interrupted_save_leaves_old_checkpoint_intact_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    train.save_checkpoint(path, MLP(2, [3], 2))
    before = path.read_bytes(), serialize.checksum_path(path).read_bytes()

    def crash(obj, f, *args, **kwargs):  # Ctrl-C half-way through writing
        if isinstance(f, (str, os.PathLike)):
            Path(f).write_bytes(b"half a checkpoint")
        else:
            f.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        train.save_checkpoint(path, MLP(2, [3], 2))
    assert (path.read_bytes(), serialize.checksum_path(path).read_bytes()) == before
    assert files(tmp_path) == ["model.pt", "model.sha256"]
    assert train.load_checkpoint(path, MLP(2, [3], 2)) == {}


def test_temporary_files_of_dead_saves_are_removed_at_the_next_save(tmp_path):
    dead = tmp_path / ".model.pt.999999999.abc.tmp"  # no process has this id: a killed save
    mine = tmp_path / f".model.pt.{os.getpid()}.xyz.tmp"
    old_style = tmp_path / ".model.pt.k3j4h5.tmp"  # mkstemp's name before the pid was added
    alive = tmp_path / ".model.pt.1.def.tmp"  # pid 1 always runs: someone else is saving
    other = tmp_path / ".other.pt.999999999.abc.tmp"  # another checkpoint's: not ours to touch
    for f in (dead, mine, old_style, alive, other):
        f.write_bytes(b"partial")
    train.save_checkpoint(tmp_path / "model.pt", MLP(2, [3], 2))
    assert files(tmp_path) == sorted([alive.name, other.name, "model.pt", "model.sha256"])


def test_write_atomic_replaces_whole_files_only(tmp_path):
    path = tmp_path / "notes.txt"
    serialize.write_atomic(path, lambda f: f.write(b"first"))
    with pytest.raises(RuntimeError):
        serialize.write_atomic(path, lambda f: (f.write(b"half"), (_ for _ in ()).throw(RuntimeError)))
    assert path.read_bytes() == b"first" and files(tmp_path) == ["notes.txt"]
