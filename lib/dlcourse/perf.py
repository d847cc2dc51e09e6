"""How fast the hardware runs what a framework asks of it: timing, throughput, roofline, stored GPU runs.

Timing on a shared CPU: wall-clock time counts the moments other programs hold the core, so on the CPU
`seconds_per_call` uses the calling thread's CPU clock (`time.thread_time`) on one thread: the work our
code did, whatever else runs. On a GPU it uses CUDA events (the kernels' own time, queued asynchronously).

The roofline model (Williams, Waterman and Patterson 2009): a kernel that does F floating-point operations
while moving B bytes to and from memory has arithmetic intensity I = F / B; the fastest it can run is
min(peak FLOP/s, I x memory bandwidth). Below the ridge point peak / bandwidth it waits on memory.
"""

from __future__ import annotations

import datetime
import json
import re
import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn.functional as F

from dlcourse.config import RESULTS_DIR

THROUGHPUT_DIR = RESULTS_DIR / "throughput"  # one JSON per device: scripts/measure_devices.py
# Datasheet peaks (dense, no sparsity) in FLOP/s and bytes/s: NVIDIA H100/H200/A100 datasheets.
DATASHEET = {
    "H100 SXM": dict(fp32=67e12, tf32=494e12, bf16=989e12, bandwidth=3.35e12),
    "H100 PCIe": dict(fp32=51e12, tf32=378e12, bf16=756e12, bandwidth=2.0e12),
    "H200 SXM": dict(fp32=67e12, tf32=494e12, bf16=989e12, bandwidth=4.8e12),
    "A100 SXM 80GB": dict(fp32=19.5e12, tf32=156e12, bf16=312e12, bandwidth=2.04e12),
}


@contextmanager
def one_thread() -> Iterator[None]:
    """Run the block with one intra-op CPU thread, then restore the previous count."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def seconds_per_call(fn: Callable[[], object], device: torch.device | str = "cpu", repeat: int = 5,
                     min_seconds: float = 0.02) -> float:
    """The best of `repeat` timings of fn(), each averaged over enough calls to last >= min_seconds.

    CPU: the thread's CPU time with one thread (robust on a busy machine). CUDA: CUDA events.
    """
    device = torch.device(device)
    if device.type == "cuda":
        return _cuda_seconds(fn, repeat, min_seconds)
    with one_thread():
        fn()  # warm-up: allocations, lazy initialization, caches
        start = time.thread_time()
        fn()
        once = time.thread_time() - start
        number = max(1, int(min_seconds / max(once, 1e-6)))
        best = float("inf")
        for _ in range(repeat):
            start = time.thread_time()
            for _ in range(number):
                fn()
            best = min(best, (time.thread_time() - start) / number)
    return best


def _cuda_seconds(fn, repeat: int, min_seconds: float) -> float:
    fn()
    torch.cuda.synchronize()
    begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    begin.record()
    fn()
    end.record()
    torch.cuda.synchronize()
    number = max(1, int(min_seconds / max(begin.elapsed_time(end) / 1e3, 1e-6)))
    best = float("inf")
    for _ in range(repeat):
        begin.record()
        for _ in range(number):
            fn()
        end.record()
        torch.cuda.synchronize()
        best = min(best, begin.elapsed_time(end) / 1e3 / number)
    return best


def cpu_seconds_with_children() -> float:
    """CPU seconds this process and its finished child processes (e.g. a C++ compiler) have used."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


# ---------------------------------------------------------------------------------------------------
# FLOPs, bytes and measured throughput
# ---------------------------------------------------------------------------------------------------

def matmul_cost(n: int, bytes_per_element: int = 4) -> tuple[int, int]:
    """(FLOPs, bytes) of C = A @ B for n x n matrices: n^3 multiply-adds, three matrices moved once."""
    return 2 * n**3, 3 * n * n * bytes_per_element


def conv_cost(batch: int, channels: int, size: int, kernel: int = 3,
              bytes_per_element: int = 4) -> tuple[int, int]:
    """(FLOPs, bytes) of a same-padded conv, `channels` in and out, on (batch, channels, size, size)."""
    flops = 2 * batch * channels * size * size * channels * kernel * kernel
    elements = 2 * batch * channels * size * size + channels * channels * kernel * kernel
    return flops, elements * bytes_per_element


def _row(op: str, size: int, flops: int, nbytes: int, seconds: float) -> dict:
    return dict(op=op, size=size, flops=flops, bytes=nbytes, seconds=seconds,
                flop_per_s=flops / seconds, intensity=flops / nbytes)


def measure_matmul(sizes: list[int], device: torch.device | str = "cpu",
                   dtype: torch.dtype = torch.float32) -> list[dict]:
    """Measured FLOP/s of n x n matrix products for each n in `sizes`."""
    rows = []
    for n in sizes:
        A, B = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
        flops, nbytes = matmul_cost(n, A.element_size())
        rows.append(_row("matmul", n, flops, nbytes, seconds_per_call(lambda A=A, B=B: A @ B, device)))
    return rows


def measure_conv(channels: list[int], device: torch.device | str = "cpu", batch: int = 32, size: int = 28,
                 dtype: torch.dtype = torch.float32) -> list[dict]:
    """Measured FLOP/s of a 3x3 convolution with C channels in and out on (batch, C, size, size)."""
    rows = []
    for c in channels:
        X = torch.randn(batch, c, size, size, device=device, dtype=dtype)
        W = torch.randn(c, c, 3, 3, device=device, dtype=dtype)
        flops, nbytes = conv_cost(batch, c, size, 3, X.element_size())
        rows.append(_row("conv", c, flops, nbytes, seconds_per_call(
            lambda X=X, W=W: F.conv2d(X, W, padding=1), device)))
    return rows


def measure_add(sizes: list[int], device: torch.device | str = "cpu",
                dtype: torch.dtype = torch.float32) -> list[dict]:
    """Measured FLOP/s of adding two vectors of n elements: 1 FLOP per 3 elements moved."""
    rows = []
    for n in sizes:
        a, b, out = (torch.randn(n, device=device, dtype=dtype) for _ in range(3))
        rows.append(_row("add", n, n, 3 * n * a.element_size(),
                         seconds_per_call(lambda a=a, b=b, out=out: torch.add(a, b, out=out), device)))
    return rows


def roofline(intensity: float, peak: float, bandwidth: float) -> float:
    """The attainable FLOP/s at `intensity` (FLOP/byte): min(peak, intensity x bandwidth)."""
    return min(peak, intensity * bandwidth)


# ---------------------------------------------------------------------------------------------------
# Stored measurements (a GPU run, shown where there is no GPU)
# ---------------------------------------------------------------------------------------------------

def device_label(device: torch.device | str) -> str:
    """"NVIDIA H100 80GB HBM3" or "CPU (<model name>), one thread": where a number was measured."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpuinfo = Path("/proc/cpuinfo")
    names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
             if line.startswith("model name")] if cpuinfo.exists() else []
    return f"CPU ({names[0] if names else 'unknown model'}), one thread"


def measure_device(device: torch.device | str, sizes: list[int], channels: list[int],
                   add_sizes: list[int]) -> dict:
    """Matmul (fp32 and bf16), conv and add throughput on `device`, with its name, date and torch."""
    device = torch.device(device)
    return dict(device=device_label(device), kind=device.type, date=datetime.date.today().isoformat(),
                torch=torch.__version__, matmul_fp32=measure_matmul(sizes, device),
                matmul_bf16=measure_matmul(sizes, device, torch.bfloat16),
                conv_fp32=measure_conv(channels, device), add_fp32=measure_add(add_sizes, device))


def save_measurement(result: dict, folder: Path = THROUGHPUT_DIR) -> Path:
    """Write a `measure_device` result to folder/<device>.json (one file per device, replaced)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (re.sub(r"[^a-z0-9]+", "_", result["device"].lower()).strip("_") + ".json")
    path.write_text(json.dumps(result, indent=1) + "\n")
    return path


def stored_measurements(kind: str = "cuda", folder: Path = THROUGHPUT_DIR) -> list[dict]:
    """The stored measurements of devices of `kind` ("cuda" or "cpu"), oldest file name first."""
    if not folder.is_dir():
        return []
    found = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    return [r for r in found if r.get("kind") == kind]
