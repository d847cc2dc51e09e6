"""Build the bundled Fashion-MNIST subset in data/fashion-mnist-subset from the full data set.

    python scripts/make_subset.py [--root /usr/share/datasets/fashion-mnist] [--train 10000] [--test 2000]

The subset is stratified (every class in proportion) and seeded, written as the official gzipped IDX
files with a SHA256SUMS file that `sha256sum -c` and `dlcourse.data` both check.
"""

import argparse
import gzip
import hashlib
from pathlib import Path

from dlcourse import data


def write_idx(path: Path, array) -> None:
    """Write a uint8 array as a gzipped IDX file (magic 0x0000 08 ndim, big-endian dims, data)."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    # mtime=0 makes the gzip bytes, and so the checksum, reproducible
    path.write_bytes(gzip.compress(header + array.tobytes(), compresslevel=9, mtime=0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(data.DEBIAN_DIR), help="folder with the full data set")
    parser.add_argument("--train", type=int, default=10_000)
    parser.add_argument("--test", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    out = data.SUBSET_DIR
    out.mkdir(parents=True, exist_ok=True)
    lines = []
    for split, n in (("train", args.train), ("test", args.test)):
        subset = data.load_fashion_mnist(split, root=args.root).subset(n, seed=args.seed)
        for stem, array in zip(data.FILES[split], (subset.X.numpy(), subset.y.byte().numpy())):
            path = out / f"{stem}.gz"
            write_idx(path, array)
            lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}")
    (out / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
