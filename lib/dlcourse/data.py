"""Data for the course: Fashion-MNIST found offline, toy data sets, and two batch loaders.

`load_fashion_mnist` looks for the full data set in order: `root=` / $DLCOURSE_DATA, `data/fashion-mnist`
in the repo, Debian's `/usr/share/datasets/fashion-mnist` (package dataset-fashion-mnist), then
torchvision's download if you allow it. Where none is there it falls back to the subset bundled in
`data/fashion-mnist-subset` (10k train / 2k test, stratified) and says so. Fast mode always uses the
bundled subset so that its results are the same on every machine.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from dlcourse import config
from dlcourse.toy import logic_gate, make_blobs, make_moons, make_spirals  # noqa: F401  (re-exported)

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
FASHION_MEAN, FASHION_STD = 0.2860, 0.3530  # of the 60k training images, pixel values in [0, 1]
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
SUBSET_DIR = config.DATA_DIR / "fashion-mnist-subset"
FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
# SHA-256 of the *decompressed* official files: recompressed copies (e.g. Debian's) still match.
FULL_SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
FIX = ("delete the file and get it again (Debian: `apt-get install --reinstall dataset-fashion-mnist`; "
       "the bundled subset: `git checkout data/`), or set DLCOURSE_DATA to a folder with good copies")


class DataError(RuntimeError):
    """A data file is missing, truncated or corrupt; the message names the file and the fix."""


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


# ---------------------------------------------------------------------------------------------------
# Fashion-MNIST
# ---------------------------------------------------------------------------------------------------

def load_fashion_mnist(split: str, root: str | Path | None = None, *, download: bool | None = None,
                       verbose: bool = True) -> ImageSet:
    """Load the Fashion-MNIST split "train" (60k) or "test" (10k), or the bundled subset as a fallback.

    Args:
        split: "train" or "test".
        root: a folder with the four official files (`.gz` or uncompressed); default $DLCOURSE_DATA.
        download: allow torchvision's download (10 s timeout) when no copy is found; default
            $DLCOURSE_DOWNLOAD. Never needed: the bundled subset is the last resort.
        verbose: print which source was used.
    """
    if split not in FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    root = root if root is not None else os.environ.get("DLCOURSE_DATA")
    if root is not None:  # an explicit request: no silent fallback
        found = _find_files(Path(root), split)
        if found is None:
            raise DataError(f"no Fashion-MNIST {split} files in {root}: expected "
                            f"{FILES[split][0]}[.gz] and {FILES[split][1]}[.gz]")
        return _announce(_read_split(found, split, str(root), FULL_SHA256), verbose)
    if config.fast():  # the same data on every machine, so that fast runs repeat exactly
        return _announce(load_bundled_subset(split), verbose)
    for folder in (config.DATA_DIR / "fashion-mnist", DEBIAN_DIR):
        found = _find_files(folder, split)
        if found is not None:
            return _announce(_read_split(found, split, str(folder), FULL_SHA256), verbose)
    if download if download is not None else config._env_flag("DLCOURSE_DOWNLOAD"):
        folder = _try_download(config.DATA_DIR)
        if folder is not None:
            return _announce(_read_split(_find_files(folder, split), split, "download", FULL_SHA256),
                             verbose)
    return _announce(load_bundled_subset(split), verbose)


def load_bundled_subset(split: str) -> ImageSet:
    """The stratified subset shipped in `data/` (10k train / 2k test), checksummed."""
    if split not in FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    sums = _read_sums(SUBSET_DIR / "SHA256SUMS")
    found = _find_files(SUBSET_DIR, split)
    if found is None:
        raise DataError(f"the bundled subset is missing from {SUBSET_DIR}; restore it with "
                        "`git checkout data/` or rebuild it with `python scripts/make_subset.py`")
    for path in found:
        _verify(path, sums.get(path.name), hashlib.sha256(path.read_bytes()).hexdigest())
    return _read_split(found, split, "bundled subset (data/fashion-mnist-subset)", None)


def _announce(dataset: ImageSet, verbose: bool) -> ImageSet:
    if verbose:
        print(f"Fashion-MNIST: {len(dataset)} images from {dataset.source}")
    return dataset


def _find_files(folder: Path, split: str) -> list[Path] | None:
    paths = []
    for stem in FILES[split]:
        candidates = [folder / f"{stem}.gz", folder / stem, folder / "FashionMNIST" / "raw" / stem]
        hit = next((p for p in candidates if p.is_file()), None)
        if hit is None:
            return None
        paths.append(hit)
    return paths


def _read_split(paths: list[Path], split: str, source: str, content_sums: dict | None) -> ImageSet:
    images, labels = (_read_idx(p, content_sums) for p in paths)
    if len(images) != len(labels):
        raise DataError(f"{paths[0].name} has {len(images)} images but {paths[1].name} has "
                        f"{len(labels)} labels; {FIX}")
    return ImageSet(torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64)),
                    source=source)


def _read_idx(path: Path, content_sums: dict | None) -> np.ndarray:
    """Parse an IDX file (the MNIST format: magic, dims, then uint8 data), verifying its checksum."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise DataError(f"{path} is corrupt or truncated ({err}); {FIX}") from err
    if content_sums is not None:
        stem = path.name.removesuffix(".gz")
        _verify(path, content_sums.get(stem), hashlib.sha256(raw).hexdigest())
    if len(raw) < 8 or raw[2] != 0x08:
        raise DataError(f"{path} is not an IDX file of uint8 data; {FIX}")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise DataError(f"{path} is truncated: header says {dims}, found {data.size} values; {FIX}")
    return data.reshape(dims).copy()


def _verify(path: Path, expected: str | None, actual: str) -> None:
    if expected is not None and expected != actual:
        raise DataError(f"checksum mismatch for {path}: expected SHA-256 {expected[:16]}..., got "
                        f"{actual[:16]}...; the file is corrupt or not the official one; {FIX}")


def _read_sums(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise DataError(f"{path} is missing; restore it with `git checkout data/`")
    pairs = (line.split() for line in path.read_text().splitlines() if line.strip())
    return {name.lstrip("*"): digest for digest, name in pairs}


def _try_download(folder: Path, timeout: float = 10.0) -> Path | None:
    """torchvision's download with a short socket timeout; None (and a message) when offline."""
    from torchvision.datasets import FashionMNIST

    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        FashionMNIST(str(folder), download=True)
        return folder / "FashionMNIST" / "raw"
    except Exception as err:  # offline, proxy, DNS: all mean "use the subset"
        print(f"download failed ({type(err).__name__}: {err}); using the bundled subset")
        return None
    finally:
        socket.setdefaulttimeout(old)


# ---------------------------------------------------------------------------------------------------
# Loaders: the whole set on the device (fast), or torch's DataLoader (general)
# ---------------------------------------------------------------------------------------------------

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
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if not 0 <= self.rank < self.world_size:  # lesson 14 (DDP)
            raise ValueError(f"need 0 <= rank < world_size, got {self.rank} and {self.world_size}")
        self.device = torch.device(self.device) if self.device is not None else config.get_device()
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


class _EpochSampler(torch.utils.data.Sampler):
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
    sampler = _EpochSampler(len(dataset), seed) if shuffle else None
    return torch.utils.data.DataLoader(_NormalizedImages(dataset, transform), batch_size=batch_size,
                                       sampler=sampler, drop_last=drop_last,
                                       num_workers=num_workers)
