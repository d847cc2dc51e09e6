"""Data for the course: Fashion-MNIST found offline, toy data sets, and two batch loaders.

`load_fashion_mnist` looks for the full data set in order: `root=`, $DLCOURSE_DATA, `data/fashion-mnist`
in the repo, Debian's `/usr/share/datasets/fashion-mnist` (package dataset-fashion-mnist), then
torchvision's download if you allow it. Where none is there it falls back to the subset bundled in
`data/fashion-mnist-subset` (10k train / 2k test, stratified) and says so. Fast mode always uses the
bundled subset (whatever $DLCOURSE_DATA says), so that its results are the same on every machine;
only an explicit `root=` argument overrides it. Every file is checked against a recorded SHA-256.
`ImageSet` (`dlcourse.imageset`), the loaders (`dlcourse.loaders`) and the toy sets (`dlcourse.toy`)
are re-exported here.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import socket
import zlib
from pathlib import Path

import numpy as np
import torch

from dlcourse import config
from dlcourse.imageset import (  # noqa: F401  (re-exported)
    FASHION_CLASSES,
    FASHION_MEAN,
    FASHION_STD,
    ImageSet,
    class_split,
    normalize,
    stratified_indices,
)
from dlcourse.loaders import EpochSampler, TensorLoader, epoch_permutation, make_dataloader  # noqa: F401
from dlcourse.toy import logic_gate, make_blobs, make_moons, make_spirals  # noqa: F401  (re-exported)

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
RESTORE = "restore it with `git checkout data/` or rebuild it with `python scripts/make_subset.py`"


class DataError(RuntimeError):
    """A data file is missing, truncated or corrupt; the message names the file and the fix."""


# ---------------------------------------------------------------------------------------------------
# Fashion-MNIST
# ---------------------------------------------------------------------------------------------------

def load_fashion_mnist(split: str, root: str | Path | None = None, *, download: bool | None = None,
                       verbose: bool = True) -> ImageSet:
    """Load the Fashion-MNIST split "train" (60k) or "test" (10k), or the bundled subset as a fallback.

    Args:
        split: "train" or "test".
        root: a folder with the four official files (`.gz` or uncompressed); used even in fast mode.
            Default: $DLCOURSE_DATA in full mode (fast mode always uses the bundled subset; an empty
            $DLCOURSE_DATA counts as unset).
        download: allow torchvision's download (10 s timeout) when no copy is found; default
            $DLCOURSE_DOWNLOAD. Never needed: the bundled subset is the last resort.
        verbose: print which source was used.
    """
    if split not in FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    env_root = os.environ.get("DLCOURSE_DATA", "").strip() or None
    if root is None and config.fast():  # the same data on every machine, so that fast runs repeat
        if env_root is not None and verbose:
            print(f"fast mode: DLCOURSE_DATA={env_root} is not used (fast runs use the bundled "
                  "subset); set DLCOURSE_FAST=0 (or FAST = False) for the full data")
        return _announce(load_bundled_subset(split), verbose)
    root = root if root is not None else env_root
    if root is not None:  # an explicit request: no silent fallback
        found = _find_files(Path(root), split)
        if found is None:
            raise DataError(f"no Fashion-MNIST {split} files in {root}: expected "
                            f"{FILES[split][0]}[.gz] and {FILES[split][1]}[.gz]")
        return _announce(_read_split(found, split, str(root), FULL_SHA256), verbose)
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
    """The stratified subset shipped in `data/` (10k train / 2k test), each file checked against
    `SHA256SUMS`: a file missing from it, or not compressed as shipped, is refused."""
    if split not in FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    sums = _read_sums(SUBSET_DIR / "SHA256SUMS")
    found = []
    for stem in FILES[split]:
        path = SUBSET_DIR / f"{stem}.gz"
        if not path.is_file():
            plain = " (an uncompressed copy is there: the checksums are of the shipped .gz files)" \
                if (SUBSET_DIR / stem).exists() else ""
            raise DataError(f"the bundled subset file {path} is missing{plain}; {RESTORE}")
        if path.name not in sums:
            raise DataError(f"{path.name} is not listed in {SUBSET_DIR / 'SHA256SUMS'}, so it cannot "
                            f"be verified; {RESTORE}")
        _verify(path, sums[path.name], hashlib.sha256(_read_bytes(path)).hexdigest())
        found.append(path)
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


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:  # permission denied, a folder, an I/O error: not a corrupt file
        raise DataError(f"cannot read {path}: {err.strerror or err}. Fix the file's permissions "
                        "(e.g. `chmod a+r`) or point DLCOURSE_DATA at a readable copy") from err


def _read_idx(path: Path, content_sums: dict | None) -> np.ndarray:
    """Parse an IDX file (the MNIST format: magic, dims, then uint8 data), verifying its checksum."""
    raw = _read_bytes(path)
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:  # BadGzipFile is an OSError
            raise DataError(f"{path} is corrupt or truncated (gzip: {err}); {FIX}") from err
    if content_sums is not None:
        stem = path.name.removesuffix(".gz")
        if stem not in content_sums:
            raise DataError(f"no recorded SHA-256 for {path.name}, so it cannot be verified: "
                            f"expected one of {sorted(content_sums)}")
        _verify(path, content_sums[stem], hashlib.sha256(raw).hexdigest())
    if len(raw) < 8 or raw[2] != 0x08:
        raise DataError(f"{path} is not an IDX file of uint8 data; {FIX}")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise DataError(f"{path} is truncated: header says {dims}, found {data.size} values; {FIX}")
    return data.reshape(dims).copy()


def _verify(path: Path, expected: str, actual: str) -> None:
    if expected != actual:
        raise DataError(f"checksum mismatch for {path}: expected SHA-256 {expected[:16]}..., got "
                        f"{actual[:16]}...; the file is corrupt or not the official one; {FIX}")


def _read_sums(path: Path) -> dict[str, str]:
    """Parse a `sha256sum` file (`<64 hex digits>  <name>` per line), refusing anything else."""
    if not path.is_file():
        raise DataError(f"{path} is missing; {RESTORE}")
    sums = {}
    for number, line in enumerate(_read_bytes(path).decode(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        digest = parts[0].lower()
        if len(parts) != 2 or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise DataError(f"line {number} of {path} is {line!r}, not '<64 hex digits>  <file "
                            f"name>'; {RESTORE}")
        sums[parts[1].lstrip("*")] = digest
    if not sums:
        raise DataError(f"{path} lists no files, so nothing can be verified; {RESTORE}")
    return sums


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
