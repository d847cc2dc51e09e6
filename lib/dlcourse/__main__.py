"""Command line: `python -m dlcourse bench` (tutorial loop vs fit), `info`, `train-ddp` (under torchrun)."""

from __future__ import annotations

import sys


def info() -> None:
    """Print the environment the course sees: versions, device, fast mode, data source."""
    import torch
    import torchvision

    from dlcourse import config, data

    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}")
    print(f"device: {config.get_device()}, fast mode: {config.fast()}")
    print(f"test data: {data.load_fashion_mnist('test', verbose=False).source}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:
        from dlcourse.bench import main as bench

        bench(argv[1:])
        return 0
    if argv[:1] == ["info"]:
        info()
        return 0
    if argv[:1] == ["train-ddp"]:  # torchrun --standalone --nproc_per_node=2 -m dlcourse train-ddp ...
        from dlcourse.train_ddp import main as train_ddp

        return train_ddp(argv[1:])
    print("usage: python -m dlcourse {bench,info,train-ddp} [options]   (bench --help, train-ddp --help)")
    return 2


if __name__ == "__main__":
    sys.exit(main())
