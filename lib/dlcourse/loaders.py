"""Two batch loaders over an `ImageSet`: the whole set on the device (`TensorLoader`, fast) or torch's
`DataLoader` (`make_dataloader`, general). Also available as `dlcourse.data.TensorLoader`, ...

Both yield (X float32 (B, C, H, W) normalized with the set's mean and std, y int64 (B,)); for a seed
they shuffle the same way, so they give the same batches.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from dlcourse import config
from dlcourse.imageset import ImageSet, normalize


def epoch_permutation(n: int, generator: torch.Generator) -> torch.Tensor:
    """The shuffled order of one epoch, drawn on the generator's device; on the CPU both loaders draw
    it the same way, so they agree for a seed."""
    return torch.randperm(n, generator=generator, device=generator.device)


@dataclass
class TensorLoader:
    """Batches from a data set held whole on the device: uint8 once, `randperm` slicing, static shapes.

    Augmentation ("flip", "flip_translate") runs on the device: random horizontal flips and shifts of
    up to `max_shift` pixels with zero fill. Under DDP `rank`/`world_size` keep this rank's slice of each
    epoch (`dlcourse.distributed.shard` sets them); `batch_size` is then per rank.
    """

    dataset: ImageSet
    batch_size: int = 256
    shuffle: bool = True
    drop_last: bool = True
    augment: str | None = None
    device: torch.device | str | None = None
    seed: int = 0
    max_shift: int = 2
    rank: int = 0  # lesson 14 (DDP): this rank's slice of every epoch's order, see distributed.shard
    world_size: int = 1
    generator: torch.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.augment not in (None, "flip", "flip_translate"):
            raise ValueError(f"augment must be None, 'flip' or 'flip_translate', got {self.augment!r}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a whole number >= 1, got {self.batch_size!r}")
        if not 0 <= self.rank < self.world_size:  # lesson 14 (DDP)
            raise ValueError(f"need 0 <= rank < world_size, got {self.rank} and {self.world_size}")
        self.device = config.resolve_device(self.device)
        # random numbers are drawn on the device, so shuffling and augmenting never wait on the host
        self.generator = torch.Generator(device=self.device).manual_seed(self.seed)
        self.X = self.dataset.X.to(self.device)  # uint8: 4x smaller than float32 on the device
        self.y = self.dataset.y.to(self.device)

    def __len__(self) -> int:
        n, b = len(self.dataset) // self.world_size, self.batch_size  # examples of this rank
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.dataset)
        order = epoch_permutation(n, self.generator) if self.shuffle else torch.arange(n, device=self.device)
        # lesson 14 (DDP): every rank drew the same order; rank r keeps positions r, r+W, ... (equal lengths)
        order = order[self.rank::self.world_size][:n // self.world_size]
        for i in range(len(self)):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            X = normalize(self.X[idx], self.dataset.mean, self.dataset.std)  # (B, C, H, W)
            if self.augment is not None:
                X = self._augment(X)
            yield X, self.y[idx]

    def _augment(self, X: torch.Tensor) -> torch.Tensor:
        B, C, H, W = X.shape
        flip = torch.rand(B, generator=self.generator, device=X.device) < 0.5
        X = torch.where(flip[:, None, None, None], X.flip(-1), X)
        if self.augment == "flip_translate":
            s = self.max_shift
            shift = torch.randint(0, 2 * s + 1, (2, B), generator=self.generator, device=X.device)
            padded = F.pad(X, (s, s, s, s), value=float(X.min()))  # fill with the background value
            rows = (shift[0][:, None] + torch.arange(H, device=X.device))[:, :, None]  # (B, H, 1)
            cols = (shift[1][:, None] + torch.arange(W, device=X.device))[:, None, :]  # (B, 1, W)
            batch = torch.arange(B, device=X.device)[:, None, None]
            X = padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)  # (B, C, H, W)
        return X.contiguous()


class _NormalizedImages(torch.utils.data.Dataset):
    def __init__(self, dataset: ImageSet, transform=None):
        self.dataset, self.transform = dataset, transform

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int):
        X = self.dataset.normalized(slice(i, i + 1))[0]  # (C, H, W)
        return (self.transform(X) if self.transform else X), self.dataset.y[i]


class EpochSampler(torch.utils.data.Sampler):
    """A new seeded shuffle every epoch, drawn like `TensorLoader`'s (so both give the same batches)."""

    def __init__(self, n: int, seed: int):
        self.n, self.generator = n, torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        return iter(epoch_permutation(self.n, self.generator).tolist())


def make_dataloader(dataset: ImageSet, batch_size: int = 64, shuffle: bool = True,
                    drop_last: bool = False, seed: int = 0, transform=None,
                    num_workers: int = 0) -> torch.utils.data.DataLoader:
    """The ordinary `torch.utils.data.DataLoader` path (per-sample `__getitem__`, then collation).

    With the same seed it yields the same batches as `TensorLoader` (without augmentation).
    `transform` is applied per image, e.g. a torchvision.transforms.v2 pipeline.
    """
    sampler = EpochSampler(len(dataset), seed) if shuffle else None
    return torch.utils.data.DataLoader(_NormalizedImages(dataset, transform), batch_size=batch_size,
                                       sampler=sampler, drop_last=drop_last,
                                       num_workers=num_workers)
