"""The checkpoints the course ships: a registry, checksum-verified loading, and their training recipes.

Each entry of `REGISTRY` names a file in `data/checkpoints/`, its SHA-256 and the model factory that
rebuilds the network. `load_pretrained(name)` refuses a file whose checksum differs (a truncated or
tampered download), loads tensors only (`weights_only=True`, so a file cannot run code), and, when the
file is absent, trains a quick stand-in with a message. `scripts/train_checkpoints.py` rebuilds the
real ones with `train_recipe(name, fast=False)` and logs the exact command.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from dlcourse import config, data, train
from dlcourse.serialize import ChecksumError, load_checkpoint, recorded_sha256, save_checkpoint, sha256_file

CHECKPOINT_DIR = config.CHECKPOINT_DIR


def course_cnn(num_classes: int = 10, width: int = 16) -> nn.Sequential:
    """Small VGG-style CNN for 28x28 images: two conv-conv-pool blocks, then a linear head.

    VGG's stacked 3x3 convs (Simonyan & Zisserman 2015, arXiv:1409.1556) with BatchNorm after each
    (Ioffe & Szegedy 2015, arXiv:1502.03167). The named blocks `block1`, `block2`, `head` are what
    transfer learning freezes or replaces; `head[-1]` is the final `nn.Linear`.
    """
    def conv_bn(c_in: int, c_out: int) -> list[nn.Module]:
        return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]

    w1, w2 = width, 2 * width
    return nn.Sequential(OrderedDict(
        block1=nn.Sequential(*conv_bn(1, w1), *conv_bn(w1, w1), nn.MaxPool2d(2)),  # (B, w1, 14, 14)
        block2=nn.Sequential(*conv_bn(w1, w2), *conv_bn(w2, w2), nn.MaxPool2d(2)),  # (B, w2, 7, 7)
        head=nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(w2 * 7 * 7, num_classes)),
    ))


@dataclass(frozen=True)
class CheckpointSpec:
    """One shipped checkpoint: its file, checksum, how to rebuild the model, and how it was trained."""

    name: str
    sha256: str
    factory: Callable[..., nn.Module]
    kwargs: dict = field(default_factory=dict)
    classes: tuple[int, ...] = tuple(range(10))  # the Fashion-MNIST labels it was trained on
    num_epochs: int = 8
    augment: str = "flip_translate"  # the training loader's on-device augmentation
    description: str = ""

    @property
    def path(self) -> Path:
        """Where the weights live: data/checkpoints/<name>.pt."""
        return CHECKPOINT_DIR / f"{self.name}.pt"


REGISTRY: dict[str, CheckpointSpec] = {
    spec.name: spec for spec in (
        CheckpointSpec(
            "fmnist_cnn",
            sha256="ed26d6ec8a0eedc1d5de9aed68a6b3473ff920a82e263acd8d7f38a57285faf2",
            factory=course_cnn, kwargs={"num_classes": 10},
            num_epochs=10, augment="flip",
            description="course_cnn trained on all 60k Fashion-MNIST images, 10 classes"),
        CheckpointSpec(
            "fmnist_source_0to4",
            sha256="3bdd5271307d4c6c76122a3a65c96319126494412b030be4e74cad2536affe98",
            factory=course_cnn, kwargs={"num_classes": 5}, classes=(0, 1, 2, 3, 4), num_epochs=3,
            description="transfer source: course_cnn trained on Fashion-MNIST classes 0-4 only"),
    )
}


def get_spec(name: str) -> CheckpointSpec:
    """The registry entry for `name`, or a KeyError that lists the known names."""
    if name not in REGISTRY:
        raise KeyError(f"no shipped checkpoint called {name!r}; known: {sorted(REGISTRY)}")
    return REGISTRY[name]


def expected_sha256(name: str) -> str:
    """The recorded checksum: the registry's, else the `<name>.sha256` file beside the weights."""
    spec = get_spec(name)
    return recorded_sha256(spec.path, spec.sha256, f"python scripts/train_checkpoints.py --only {name}")


def verify(name: str, path: str | Path | None = None) -> str:
    """Check the file of checkpoint `name` against its recorded SHA-256; return the checksum."""
    path = Path(path) if path is not None else get_spec(name).path
    expected, actual = expected_sha256(name), sha256_file(path)
    if actual != expected:
        raise ChecksumError(
            f"refusing to load {path}: its SHA-256 is {actual[:16]}..., but the course recorded "
            f"{expected[:16]}... for {name!r}. The file is corrupt or was modified. Restore it with "
            f"`git checkout {path.name}` (in data/checkpoints) or rebuild it with "
            f"`python scripts/train_checkpoints.py --only {name}`.")
    return actual


def build(name: str) -> nn.Module:
    """A freshly initialized model with the architecture of checkpoint `name`."""
    spec = get_spec(name)
    return spec.factory(**spec.kwargs)


def save_pretrained(name: str, model: nn.Module, path: str | Path | None = None,
                    **meta: float | int | str) -> str:
    """Save `model`'s weights (and plain metadata) for checkpoint `name`; return the file's SHA-256."""
    path = Path(path) if path is not None else get_spec(name).path
    return save_checkpoint(path, model, name=name, **meta)


def load_pretrained(name: str, path: str | Path | None = None, train_if_missing: bool = True,
                    fast: bool | None = None) -> nn.Module:
    """Load shipped checkpoint `name` (checksum verified, tensors only) in eval mode.

    Args:
        name: a key of `REGISTRY`.
        path: another copy of the file; its checksum must still match the registry.
        train_if_missing: when the file is absent, train a stand-in with `train_recipe` (says so).
        fast: passed to `train_recipe` for the stand-in; default `config.fast()`.
    """
    spec = get_spec(name)
    path = Path(path) if path is not None else spec.path
    if not path.exists():
        if not train_if_missing:
            raise FileNotFoundError(f"{path} is missing; run `python scripts/train_checkpoints.py "
                                    f"--only {name}` or pass train_if_missing=True")
        print(f"{path.name} not found: training {name!r} now instead ({spec.description}). "
              "Run scripts/train_checkpoints.py once to keep the result.")
        model, _ = train_recipe(name, fast=config.fast(fast))
        return model.eval()
    model = spec.factory(**spec.kwargs)
    # the registry's checksum, not only the sidecar's; tensors only (weights_only=True): no code runs
    load_checkpoint(path, model, sha256=verify(name, path))
    return model.eval()


def load_meta(name: str) -> dict:
    """The metadata stored with checkpoint `name` (test accuracy, epochs, training time...)."""
    path = get_spec(name).path
    return load_checkpoint(path, sha256=verify(name, path))


def train_recipe(name: str, fast: bool = False, seed: int = 0,
                 device: torch.device | str | None = None) -> tuple[nn.Module, dict]:
    """Train checkpoint `name` the way the course did; return the model and its measured facts.

    Full mode uses every training image of the checkpoint's classes (60k for all ten) and the
    registry's epochs; fast mode uses the bundled subset and 1 epoch (a stand-in, not the real one).
    A run interrupted with Ctrl-C raises KeyboardInterrupt: an unfinished recipe is not the recipe.
    """
    spec = get_spec(name)
    config.set_seed(seed)
    device = torch.device(device) if device is not None else config.get_device()
    train_set = data.class_split(data.load_fashion_mnist("train", verbose=False), spec.classes)
    test_set = data.class_split(data.load_fashion_mnist("test", verbose=False), spec.classes)
    num_epochs = 1 if fast else spec.num_epochs
    train_loader = data.TensorLoader(train_set, batch_size=128, shuffle=True, drop_last=True,
                                     augment=spec.augment, device=device, seed=seed)
    test_loader = data.TensorLoader(test_set, batch_size=1000, shuffle=False, drop_last=False,
                                    device=device)
    model = spec.factory(**spec.kwargs).to(device)
    start = time.perf_counter()
    history = train.fit(model, train_loader, test_loader, num_epochs=num_epochs, lr=0.1,
                        optimizer="sgd", schedule="onecycle", weight_decay=5e-4)
    if history.interrupted:
        raise KeyboardInterrupt(f"training {name!r} was interrupted after {len(history)} of "
                                f"{num_epochs} epochs")
    seconds = time.perf_counter() - start
    _, acc = train.evaluate(model, test_loader)
    facts = {"test_acc": float(acc), "train_seconds": round(seconds, 1), "num_epochs": len(history),
             "train_size": len(train_set), "test_size": len(test_set), "seed": seed}
    return model.cpu().eval(), facts
