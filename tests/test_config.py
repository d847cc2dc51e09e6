"""dlcourse.config: fast mode switch, device, seeding, report."""

import json
import random

import numpy as np
import pytest
import torch

from dlcourse import config


@pytest.mark.parametrize("raw, expected", [("1", True), ("true", True), ("ON", True), ("0", False),
                                           ("no", False), ("", False)])
def test_fast_reads_env(monkeypatch, raw, expected):
    monkeypatch.setenv("DLCOURSE_FAST", raw)
    assert config.fast() is expected


def test_fast_unset_means_full_mode(monkeypatch):
    monkeypatch.delenv("DLCOURSE_FAST", raising=False)
    assert config.fast() is False


def test_fast_parameter_overrides_env(monkeypatch):
    monkeypatch.setenv("DLCOURSE_FAST", "1")
    assert config.fast(False) is False
    monkeypatch.setenv("DLCOURSE_FAST", "0")
    assert config.fast(True) is True


def test_fast_rejects_garbage(monkeypatch):
    monkeypatch.setenv("DLCOURSE_FAST", "maybe")
    with pytest.raises(ValueError, match="DLCOURSE_FAST='maybe' is not a boolean"):
        config.fast()
    with pytest.raises(TypeError, match="FAST must be True, False or None"):
        config.fast("yes")


def test_get_device_is_cpu_without_accelerator(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert config.get_device() == torch.device("cpu")


def test_get_device_prefers_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert config.get_device() == torch.device("cuda")


def test_set_seed_repeats_every_rng():
    def draw():
        return random.random(), np.random.rand(), torch.rand(1).item()

    config.set_seed(3)
    first = draw()
    config.set_seed(3)
    assert draw() == first
    with pytest.raises(ValueError, match="non-negative int"):
        config.set_seed(-1)


def test_report_writes_json_and_merges(tmp_path, monkeypatch, capsys):
    target = tmp_path / "nb.metrics.json"
    monkeypatch.setenv("DLCOURSE_REPORT", str(target))
    config.report(test_acc=0.9)
    config.report(params=120, test_acc=torch.tensor(0.925))
    assert json.loads(target.read_text()) == {"test_acc": pytest.approx(0.925), "params": 120}
    assert "test_acc=0.925" in capsys.readouterr().out


def test_report_without_runner_writes_nothing(monkeypatch, tmp_path):
    monkeypatch.delenv("DLCOURSE_REPORT", raising=False)
    monkeypatch.chdir(tmp_path)
    assert config.report(acc=1.0) == {"acc": 1.0}
    assert list(tmp_path.iterdir()) == []


def test_report_rejects_bad_input():
    with pytest.raises(ValueError, match="at least one metric"):
        config.report()
    with pytest.raises(TypeError, match="must be a number"):
        config.report(acc=[0.9])
