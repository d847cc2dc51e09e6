"""Measure matmul, conv and add throughput on a GPU and store it for lesson 14 (data/results/throughput/).

    python scripts/measure_devices.py                 # the first CUDA GPU (refuses to run without one)
    python scripts/measure_devices.py --device cpu    # this CPU, one thread (for comparison)

Writes data/results/throughput/<device name>.json: the device's name, the date, torch's version and, for
each size, FLOPs, bytes moved, seconds per call (CUDA events on a GPU) and FLOP/s. The lesson shows the
stored GPU runs beside its own CPU measurements, also where no GPU is present. Commit the file.
"""

from __future__ import annotations

import argparse
import sys

import torch

from dlcourse import perf

GPU_SIZES = dict(sizes=[64, 128, 256, 512, 1024, 2048, 4096, 8192], channels=[16, 32, 64, 128, 256, 512],
                 add_sizes=[2**12, 2**16, 2**20, 2**24, 2**27])
CPU_SIZES = dict(sizes=[16, 32, 64, 128, 256, 512, 1024], channels=[4, 8, 16, 32, 64, 128],
                 add_sizes=[2**12, 2**16, 2**20, 2**24])


def main(argv: list[str] | None = None) -> int:
    """Measure the chosen device and write its JSON; print where it went."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:1, ... or cpu")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA GPU here: run this on a machine with one (or pass --device cpu)", file=sys.stderr)
        return 2
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32 here; bf16 is measured apart
    result = perf.measure_device(device, **(GPU_SIZES if device.type == "cuda" else CPU_SIZES))
    best = max(result["matmul_bf16"] + result["matmul_fp32"], key=lambda r: r["flop_per_s"])
    print(f"{result['device']}: best matmul {best['flop_per_s'] / 1e12:.2f} TFLOP/s (n = {best['size']})")
    print(f"written: {perf.save_measurement(result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
