"""Tests for dlcourse.checkpoints: the shipped files, checksum refusal, weights_only, the fallback."""

import dataclasses

import pytest
import torch
from torch import nn

from dlcourse import checkpoints, data, train, transfer
from dlcourse.serialize import sha256_file


class Evil:
    """Stands for any object a pickle could smuggle in (its reduce could run code)."""


@pytest.fixture
def scratch_registry(tmp_path, monkeypatch):
    """An isolated registry entry "toy" whose file lives in tmp_path (the shipped files stay put)."""
    monkeypatch.setattr(checkpoints, "CHECKPOINT_DIR", tmp_path)
    spec = checkpoints.CheckpointSpec("toy", sha256="", factory=checkpoints.course_cnn,
                                      kwargs={"num_classes": 3}, description="a toy")
    monkeypatch.setitem(checkpoints.REGISTRY, "toy", spec)
    return spec


def test_course_cnn_shapes_and_size():
    model = checkpoints.course_cnn(num_classes=10, width=16)
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert sum(p.numel() for p in model.parameters()) == 32154
    assert [name for name, _ in model.named_children()] == ["block1", "block2", "head"]


@pytest.mark.parametrize("name", sorted(checkpoints.REGISTRY))
def test_shipped_files_match_the_registry(name):
    spec = checkpoints.get_spec(name)
    assert spec.path.exists(), f"run scripts/train_checkpoints.py --only {name}"
    assert spec.path.stat().st_size < 3_000_000  # "a few MB" at most
    actual = sha256_file(spec.path)
    assert spec.sha256 == actual  # pinned in code, not only beside the file
    assert spec.path.with_suffix(".sha256").read_text().split() == [actual, spec.path.name]
    log = spec.path.with_suffix(".log").read_text()
    assert "command: " in log and "scripts/train_checkpoints.py" in log
    assert "measured test accuracy" in log and "measured training time" in log


@pytest.mark.parametrize("name,classes,min_acc", [
    ("fmnist_cnn", tuple(range(10)), 0.90), ("fmnist_source_0to4", (0, 1, 2, 3, 4), 0.88)])
def test_pretrained_models_are_accurate_on_the_bundled_test_subset(name, classes, min_acc):
    model = checkpoints.load_pretrained(name)
    assert not model.training
    test_set = transfer.class_split(data.load_bundled_subset("test"), classes)
    loader = data.TensorLoader(test_set, batch_size=500, shuffle=False, drop_last=False,
                               device="cpu")
    _, acc = train.evaluate(model, loader)
    assert acc >= min_acc
    assert checkpoints.load_meta(name)["test_acc"] >= min_acc  # measured on the full 10k test set


def test_tampered_file_is_refused_with_a_clear_error(tmp_path):
    spec = checkpoints.get_spec("fmnist_source_0to4")
    raw = bytearray(spec.path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # flip one byte inside the weights
    bad = tmp_path / spec.path.name
    bad.write_bytes(bytes(raw))
    with pytest.raises(checkpoints.ChecksumError, match="refusing to load.*corrupt or was modified"):
        checkpoints.load_pretrained("fmnist_source_0to4", path=bad)


def test_round_trip_through_the_sidecar_checksum(scratch_registry):
    torch.manual_seed(0)
    model = checkpoints.course_cnn(num_classes=3).eval()
    sha = checkpoints.save_pretrained("toy", model, test_acc=0.5)
    scratch_registry.path.with_suffix(".sha256").write_text(f"{sha}  toy.pt\n")
    loaded = checkpoints.load_pretrained("toy")
    X = torch.randn(4, 1, 28, 28)
    torch.testing.assert_close(loaded(X), model(X))
    assert checkpoints.load_meta("toy") == {"name": "toy", "test_acc": 0.5}


def test_weights_only_refuses_pickled_code_even_with_a_matching_checksum(scratch_registry, monkeypatch):
    # a file whose checksum is "right" (recorded by an attacker) but holds an arbitrary object
    torch.save({"state_dict": {}, "meta": Evil()},
               scratch_registry.path)
    sha = sha256_file(scratch_registry.path)
    monkeypatch.setitem(checkpoints.REGISTRY, "toy", dataclasses.replace(scratch_registry, sha256=sha))
    with pytest.raises(train.CheckpointError, match="not a readable checkpoint.*[Ww]eights only load"):
        checkpoints.load_pretrained("toy")


def test_missing_file_trains_a_stand_in_with_a_message(scratch_registry, monkeypatch, capsys):
    stub = nn.Linear(2, 2).train()
    monkeypatch.setattr(checkpoints, "train_recipe", lambda name, fast: (stub, {}))
    model = checkpoints.load_pretrained("toy", fast=True)
    assert model is stub and not model.training
    assert "toy.pt not found: training 'toy' now" in capsys.readouterr().out
    with pytest.raises(FileNotFoundError, match="train_checkpoints.py --only toy"):
        checkpoints.load_pretrained("toy", train_if_missing=False)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(KeyError, match="fmnist_cnn"):
        checkpoints.load_pretrained("resnet50")


def test_no_recorded_checksum_is_an_error(scratch_registry):
    checkpoints.save_pretrained("toy", checkpoints.course_cnn(num_classes=3))
    scratch_registry.path.with_suffix(".sha256").unlink()  # neither the registry nor a sidecar
    with pytest.raises(checkpoints.ChecksumError, match="no recorded SHA-256"):
        checkpoints.load_pretrained("toy")
