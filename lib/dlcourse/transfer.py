"""Transfer learning and ensembles: source/target splits, freezing, new heads, averaged models.

Tasks are real: the source is Fashion-MNIST classes 0-4 (tops, trousers, pullovers, dresses, coats),
the near target classes 5-9 (sandals, shirts, sneakers, bags, boots), and the far target
scikit-learn's bundled handwritten digits, upscaled to 28x28 like MNIST. This module builds on
`dlcourse.checkpoints` (the pretrained sources); `checkpoints` does not import it.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Sequence

import torch
from torch import nn
from torchvision.ops import FrozenBatchNorm2d

from dlcourse import checkpoints
from dlcourse.callbacks import Callback
from dlcourse.data import ImageSet, class_split  # noqa: F401  (class_split: part of this module's API)

STRATEGIES = ("scratch", "linear_probe", "finetune_top", "finetune_all")


# data ---------------------------------------------------------------------------------------------

def per_class(dataset: ImageSet, n: int, seed: int = 0) -> ImageSet:
    """Exactly `n` randomly chosen examples of every class (seeded), in stored order."""
    idx = _per_class_indices(dataset.y, len(dataset.classes), n, seed, dataset.classes)
    return ImageSet(dataset.X[idx], dataset.y[idx], dataset.classes, dataset.source,
                    dataset.mean, dataset.std)


def _per_class_indices(y: torch.Tensor, num_classes: int, n: int, seed: int,
                       names: Sequence[str]) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    picks = []
    for c in range(num_classes):
        members = torch.nonzero(y == c).flatten()
        if len(members) < n:
            raise ValueError(f"class {c} ({names[c]}) has only {len(members)} examples, "
                             f"asked for {n} per class; ask for at most {len(members)}")
        picks.append(members[torch.randperm(len(members), generator=g)[:n]])
    return torch.cat(picks).sort().values


def load_digits_28(split: str, test_per_class: int = 70, seed: int = 0) -> ImageSet:
    """scikit-learn's 1797 handwritten digits (8x8, offline), upscaled to 20x20 and padded to 28x28.

    Like MNIST, the digit sits in the centre 20x20 box. The split is stratified and seeded:
    `test_per_class` images of each digit for "test", the rest (at least 100 per digit) for "train".
    Normalization uses Fashion-MNIST's mean and std, the input convention of the pretrained models.
    """
    from sklearn.datasets import load_digits

    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    bunch = load_digits()
    X = torch.tensor(bunch.images, dtype=torch.float32)[:, None] / 16  # (1797, 1, 8, 8) in [0, 1]
    X = nn.functional.interpolate(X, size=(20, 20), mode="bilinear", align_corners=False)
    X = nn.functional.pad(X, (4, 4, 4, 4))  # (1797, 1, 28, 28)
    X = (X.clamp(0, 1)[:, 0] * 255).round().to(torch.uint8)
    y = torch.tensor(bunch.target, dtype=torch.long)
    names = tuple(str(d) for d in range(10))
    in_test = torch.zeros(len(y), dtype=torch.bool)
    in_test[_per_class_indices(y, 10, test_per_class, seed, names)] = True
    keep = in_test if split == "test" else ~in_test
    return ImageSet(X[keep], y[keep], names, "sklearn digits (28x28)")


# freezing and heads -------------------------------------------------------------------------------

def count_trainable(model: nn.Module) -> int:
    """Number of parameters that the optimizer will update (requires_grad=True)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def freeze(model: nn.Module, names: Iterable[str]) -> nn.Module:
    """Stop training the named top-level children of `model` (e.g. "block1"); returns `model`.

    Their BatchNorm layers become `FrozenBatchNorm2d` (the torchvision detection recipe): `fit` puts
    the model in train mode, where an ordinary BatchNorm would keep re-estimating its statistics
    from the small target batches and shift the frozen features under the new head.
    """
    children = dict(model.named_children())
    for name in names:
        if name not in children:
            raise KeyError(f"{type(model).__name__} has no child {name!r}; it has {list(children)}")
        _freeze_module(children[name])
    return model


def _freeze_module(module: nn.Module) -> None:
    for p in module.parameters():
        p.requires_grad_(False)
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            frozen = FrozenBatchNorm2d(child.num_features, child.eps).to(child.weight.device)
            for key in ("weight", "bias", "running_mean", "running_var"):
                getattr(frozen, key).copy_(getattr(child, key).detach())
            setattr(module, name, frozen)
        else:
            _freeze_module(child)


def unfreeze(model: nn.Module) -> nn.Module:
    """Make every parameter trainable again (frozen BatchNorm statistics stay fixed)."""
    for p in model.parameters():
        p.requires_grad_(True)
    return model


def new_head(model: nn.Module, num_classes: int) -> nn.Module:
    """Replace the final `nn.Linear` of `model.head` with a freshly initialized one for `num_classes`."""
    last = model.head[-1]
    if not isinstance(last, nn.Linear):
        raise TypeError(f"expected model.head[-1] to be nn.Linear, got {type(last).__name__}")
    model.head[-1] = nn.Linear(last.in_features, num_classes).to(last.weight.device)
    return model


def transfer_model(strategy: str, num_classes: int, source: str = "fmnist_source_0to4") -> nn.Module:
    """A model for the target task, prepared by one of the four strategies of the lecture.

    "scratch": random init; "linear_probe": pretrained features frozen, new linear head;
    "finetune_top": block1 frozen, block2 and a new head trained; "finetune_all": every layer
    trained, starting from the pretrained weights.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {STRATEGIES}")
    if strategy == "scratch":
        model = checkpoints.build(source)
        return new_head(model, num_classes)
    model = new_head(checkpoints.load_pretrained(source), num_classes).train()
    frozen = {"linear_probe": ("block1", "block2"), "finetune_top": ("block1",)}
    return freeze(model, frozen.get(strategy, ()))


# ensembles and averaged weights -------------------------------------------------------------------

@torch.no_grad()
def stacked_probs(models: Sequence[nn.Module], loader: Iterable) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax outputs of every model on an unshuffled loader: `(M, N, K)` probs and `(N,)` labels."""
    for m in models:
        m.eval()
    device = next(models[0].parameters()).device
    probs, labels = [], []
    for X, y in loader:
        X = X.to(device)
        probs.append(torch.stack([m(X).softmax(-1).cpu() for m in models]))  # (M, B, K)
        labels.append(y.cpu())
    return torch.cat(probs, dim=1), torch.cat(labels)


def accuracy(probs: torch.Tensor, y: torch.Tensor) -> float:
    """Top-1 accuracy of probabilities or logits `(N, K)` against labels `(N,)`."""
    if probs.ndim != 2 or len(probs) != len(y):
        raise ValueError(f"expected probs (N, K) and y (N,), got {tuple(probs.shape)} and "
                         f"{tuple(y.shape)}")
    return (probs.argmax(-1) == y).float().mean().item()


def ensemble_report(probs: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Accuracies of the single members (mean, best) and of their averaged probabilities."""
    singles = [accuracy(p, y) for p in probs]
    return {"mean_single": sum(singles) / len(singles), "best_single": max(singles),
            "ensemble": accuracy(probs.mean(0), y)}


class SnapshotEnsemble(Callback):
    """Snapshot ensembles (Huang et al. 2017, arXiv:1704.00109): M models from one training run.

    The learning rate follows `num_cycles` cosine cycles, each restarting at `lr`; at the end of
    every cycle (lr near 0, a local minimum) a copy of the model is kept in `self.snapshots`.
    Use with `fit(..., schedule=None, lr=lr)` so this callback alone sets the learning rate.
    """

    def __init__(self, num_cycles: int, lr: float) -> None:
        if num_cycles < 1 or lr <= 0:
            raise ValueError(f"need num_cycles >= 1 and lr > 0, got {num_cycles} and {lr}")
        self.num_cycles, self.lr = num_cycles, lr
        self.snapshots: list[nn.Module] = []
        self.snapshot_steps: list[int] = []  # optimizer steps done when each snapshot was kept

    def lr_at(self, step: int, total_steps: int) -> float:
        """Cosine-annealed learning rate at optimizer step `step` (0-based) of `total_steps`."""
        cycle_len = math.ceil(total_steps / self.num_cycles)
        t = (step % cycle_len) / cycle_len  # position inside the current cycle, in [0, 1)
        return 0.5 * self.lr * (1 + math.cos(math.pi * t))

    def on_fit_start(self, state) -> None:
        """Size the cycles from the run's total number of optimizer steps; start at the peak lr."""
        self.total = state.num_epochs * state.steps_per_epoch
        self.cycle_len = math.ceil(self.total / self.num_cycles)
        self.snapshots, self.snapshot_steps = [], []
        _set_lr(state.optimizer, self.lr_at(0, self.total))

    def on_batch_end(self, state) -> None:
        """Keep a snapshot at the end of a cycle, then set the next step's learning rate."""
        # state.step optimizer steps are done; keep a snapshot at every cycle's end
        if state.step % self.cycle_len == 0 or state.step == self.total:
            self.snapshots.append(copy.deepcopy(state.model).eval())
            self.snapshot_steps.append(state.step)
        _set_lr(state.optimizer, self.lr_at(state.step, self.total))


def _set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
