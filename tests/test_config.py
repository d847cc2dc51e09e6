"""dlcourse.config: fast/full/auto mode, setup, device, seeding and thread pinning."""

import random

import numpy as np
import pytest
import torch

from dlcourse import config


@pytest.mark.parametrize("raw, expected", [("1", True), ("true", True), ("ON", True), ("0", False),
                                           ("no", False)])
def test_fast_reads_env(monkeypatch, raw, expected):
    monkeypatch.setenv("DLCOURSE_FAST", raw)
    assert config.fast() is expected


@pytest.mark.parametrize("raw", [None, "", "auto", " AUTO "])
@pytest.mark.parametrize("cuda", [True, False])
def test_auto_mode_is_full_on_a_gpu_and_fast_elsewhere(monkeypatch, raw, cuda):
    if raw is None:
        monkeypatch.delenv("DLCOURSE_FAST", raising=False)
    else:
        monkeypatch.setenv("DLCOURSE_FAST", raw)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert config.fast() is (not cuda)


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


def test_setup_prints_mode_why_and_how_to_switch(monkeypatch, capsys):
    monkeypatch.delenv("DLCOURSE_FAST", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    FAST, device = config.setup(None, 3)
    line = capsys.readouterr().out
    assert FAST is True and device.type in ("cpu", "mps")
    assert "fast mode (auto: no CUDA GPU here)" in line and "FAST = False" in line and "seed 3" in line
    assert config.fast() is True, "later calls (data, models) follow the notebook's setup"
    config.setup(False, 0)
    assert "full mode (FAST = False in the parameters cell)" in capsys.readouterr().out
    assert config.fast() is False


def test_setup_pins_threads_in_fast_mode(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("DLCOURSE_THREADS", "2")
        config.setup(True, 0)
        assert torch.get_num_threads() == 2 and config.RUN["threads"] == 2
        monkeypatch.delenv("DLCOURSE_THREADS")
        config.setup(True, 0)
        assert torch.get_num_threads() == 1
        monkeypatch.setenv("DLCOURSE_THREADS", "two")
        with pytest.raises(ValueError, match="DLCOURSE_THREADS='two' must be a whole number"):
            config.setup(True, 0)
    finally:
        torch.set_num_threads(before)


def test_same_seed_same_numbers_whatever_the_thread_count(monkeypatch):
    # fast mode pins the threads, so a reduction-heavy computation repeats bit for bit
    results = []
    before = torch.get_num_threads()
    try:
        for omp in ("1", "2"):
            torch.set_num_threads(int(omp))  # what OMP_NUM_THREADS would have set
            config.setup(True, 0)
            x = torch.randn(64, 3, 28, 28)
            conv = torch.nn.Conv2d(3, 16, 3)
            results.append((conv(x).sum(), (x.flatten(1) @ x.flatten(1).T).sum()))
    finally:
        torch.set_num_threads(before)
    assert all(torch.equal(a, b) for a, b in zip(*results))


def test_resolve_device_refuses_what_this_machine_lacks(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert config.resolve_device(None) == torch.device("cpu") == config.resolve_device("cpu")
    assert config.resolve_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(ValueError, match="device='cuda' but this machine has no usable CUDA GPU"):
        config.resolve_device("cuda")
    with pytest.raises(ValueError, match="device='mps' but Apple's MPS is not available"):
        config.resolve_device("mps")
    with pytest.raises(ValueError, match="device must be 'cpu', 'cuda'"):
        config.resolve_device("gpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert config.resolve_device("cuda") == torch.device("cuda")
    with pytest.raises(ValueError, match="has only 1 CUDA GPU"):
        config.resolve_device("cuda:1")
