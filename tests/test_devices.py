"""The device paths of `fit`, the on-device loader and checkpoints, on every device this machine has.

On a CPU-only machine (CI) every test runs on "cpu"; where CUDA exists each also runs on "cuda"
(`make test-gpu` runs just this file). The bf16/channels_last/compile paths are forced on, so the CPU
run exercises the same code as the GPU one.
"""
import shutil

import pytest
import torch
from torch import nn

from dlcourse import data, serialize, train

DEVICES = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    return torch.device(request.param)


def blobs(n: int = 512, seed: int = 0) -> data.ImageSet:
    """Two classes of 1x8x8 uint8 images a small CNN separates in a few epochs."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    X = torch.randint(0, 60, (n, 1, 8, 8), generator=g, dtype=torch.uint8)
    X[y == 1, :, 2:6, 2:6] += 150  # class 1: a bright square in the middle
    return data.ImageSet(X, y, mean=0.3, std=0.3, classes=["plain", "square"])


def small_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))


def test_fit_with_bf16_autocast_and_channels_last_learns(device):
    loader = data.TensorLoader(blobs(), batch_size=64, device=device, seed=0)
    model = small_cnn()
    history = train.fit(model, loader, loader, num_epochs=4, lr=0.1, amp=True, channels_last=True,
                        progress=False, device=device)
    assert history.rows[-1]["train_loss"] < history.rows[0]["train_loss"]
    assert history.rows[-1]["val_acc"] >= 0.9
    weight = model[0].weight
    assert weight.device.type == device.type and weight.dtype == torch.float32  # autocast keeps fp32 weights
    assert weight.is_contiguous(memory_format=torch.channels_last)
    assert all(torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.skipif(shutil.which("cc") is None and not torch.cuda.is_available(),
                    reason="torch.compile on the CPU needs a C compiler")
def test_fit_with_torch_compile_learns_and_times_the_compile_apart(device):
    loader = data.TensorLoader(blobs(), batch_size=64, device=device, seed=0)
    model = small_cnn()
    history = train.fit(model, loader, loader, num_epochs=2, lr=0.1, compile=True, progress=False,
                        device=device)
    assert history.compile_seconds > 0
    assert history.rows[-1]["train_loss"] < history.rows[0]["train_loss"]
    assert history.rows[-1]["val_acc"] >= 0.8


@pytest.mark.parametrize("augment", [None, "flip", "flip_translate"])
def test_on_device_loader_shuffles_each_epoch_and_augments_on_the_device(device, augment):
    images = blobs(128)
    loader = data.TensorLoader(images, batch_size=32, device=device, augment=augment, seed=3)
    epochs = [[(X, y) for X, y in loader] for _ in range(2)]
    for batches in epochs:
        X, y = torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])
        assert X.device.type == device.type and X.dtype == torch.float32 and X.shape == (128, 1, 8, 8)
        assert sorted(y.tolist()) == sorted(images.y.tolist())  # each image once per epoch
    orders = [torch.cat([b[1] for b in batches]) for batches in epochs]
    first = [torch.cat([b[0] for b in batches]) for batches in epochs]
    assert not torch.equal(first[0], first[1]) or not torch.equal(orders[0], orders[1])  # a new order
    again = data.TensorLoader(images, batch_size=32, device=device, augment=augment, seed=3)
    X0, _ = next(iter(again))
    assert torch.equal(X0.cpu(), epochs[0][0][0].cpu())  # same seed, same batches


def test_checkpoint_saved_on_the_device_loads_on_the_cpu(device, tmp_path):
    model = small_cnn().to(device, memory_format=torch.channels_last)
    digest = serialize.save_checkpoint(tmp_path / "m.pt", model, epochs=1)
    fresh = small_cnn()
    for p in fresh.parameters():
        nn.init.zeros_(p)
    meta = serialize.load_checkpoint(tmp_path / "m.pt", fresh)
    assert meta["epochs"] == 1 and len(digest) == 64
    for (name, a), b in zip(model.state_dict().items(), fresh.state_dict().values()):
        assert b.device.type == "cpu" and torch.equal(a.cpu(), b), name
