"""`ImageSet`: images and labels held as uint8 tensors, with stratified subsets, class splits and
normalization. Also available as `dlcourse.data.ImageSet`, `dlcourse.data.normalize`, ...
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
FASHION_MEAN, FASHION_STD = 0.2860, 0.3530  # of the 60k training images, pixel values in [0, 1]


@dataclass
class ImageSet:
    """Images as uint8 (N, H, W) or (N, C, H, W), labels int64 (N,), class names and where they came from."""

    X: torch.Tensor
    y: torch.Tensor
    classes: tuple[str, ...] = FASHION_CLASSES
    source: str = "memory"
    mean: float | tuple[float, ...] = FASHION_MEAN
    std: float | tuple[float, ...] = FASHION_STD

    def __post_init__(self) -> None:
        if self.X.dtype != torch.uint8 or self.X.ndim not in (3, 4):
            raise ValueError(f"X must be uint8 (N, H, W) or (N, C, H, W), got {self.X.dtype} "
                             f"{tuple(self.X.shape)}; convert with (X * 255).round().to(torch.uint8)")
        if self.y.ndim != 1 or len(self.y) != len(self.X):
            raise ValueError(f"y must be (N,) = ({len(self.X)},) labels, got {tuple(self.y.shape)}")
        self.y = self.y.long()

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        return (f"ImageSet({len(self)} images {tuple(self.X.shape[1:])}, {len(self.classes)} classes, "
                f"source={self.source})")

    def subset(self, n: int, seed: int = 0) -> ImageSet:
        """A stratified, seeded subset of n examples (the same share of every class)."""
        if not 0 < n <= len(self):
            raise ValueError(f"subset size must be in 1..{len(self)}, got {n}")
        idx = stratified_indices(self.y, n, seed)
        return ImageSet(self.X[idx], self.y[idx], self.classes, self.source, self.mean, self.std)

    def normalized(self, idx: torch.Tensor | slice = slice(None)) -> torch.Tensor:
        """Float images (N, C, H, W), standardized with the set's mean and std."""
        return normalize(self.X[idx], self.mean, self.std)


def stratified_indices(y: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """Indices of n examples with every class represented in proportion, drawn with a seed (sorted)."""
    g = torch.Generator().manual_seed(seed)
    classes, counts = torch.unique(y, return_counts=True)
    quota = torch.floor(counts.double() * n / len(y)).long()
    rest = n - int(quota.sum())
    quota[torch.argsort(-counts, stable=True)[:rest]] += 1  # hand the remainder to the largest classes
    picks = []
    for c, k in zip(classes.tolist(), quota.tolist()):
        members = torch.nonzero(y == c).flatten()
        picks.append(members[torch.randperm(len(members), generator=g)[:k]])
    return torch.cat(picks).sort().values


def normalize(X: torch.Tensor, mean: float | tuple = FASHION_MEAN, std: float | tuple = FASHION_STD):
    """uint8 (N, H, W) or (N, C, H, W) -> float32 (N, C, H, W) with (x/255 - mean) / std."""
    X = X.unsqueeze(1) if X.ndim == 3 else X
    mean = torch.as_tensor(mean, dtype=torch.float32, device=X.device).reshape(1, -1, 1, 1)
    std = torch.as_tensor(std, dtype=torch.float32, device=X.device).reshape(1, -1, 1, 1)
    return (X.float() / 255 - mean) / std


def class_split(dataset: ImageSet, classes: Sequence[int]) -> ImageSet:
    """Keep only the examples of `classes` and relabel them 0..len(classes)-1 in the given order."""
    classes = [int(c) for c in classes]
    known = set(range(len(dataset.classes)))
    if not classes or not set(classes) <= known:
        raise ValueError(f"classes must be a non-empty list of labels in 0..{len(known) - 1}, "
                         f"got {classes}")
    lookup = torch.full((len(dataset.classes),), -1, dtype=torch.long)
    lookup[torch.tensor(classes)] = torch.arange(len(classes))
    keep = lookup[dataset.y] >= 0
    names = tuple(dataset.classes[c] for c in classes)
    return ImageSet(dataset.X[keep], lookup[dataset.y[keep]], names, dataset.source,
                    dataset.mean, dataset.std)
