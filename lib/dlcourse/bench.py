"""Benchmark: a tutorial-style training loop against `dlcourse.train.fit`, in the same run.

    python -m dlcourse bench [--epochs-tutorial N] [--epochs-fit N] [--size base]

Both train on Fashion-MNIST (the full set where a GPU is present, the bundled subset on a CPU) and are
evaluated on the test set after every epoch. Times run from the start of training with the data already
loaded; the fast recipe's torch.compile time, if used, is reported apart. Not a test: numbers vary.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field

import torch
from torch import nn

from dlcourse import config, data, train
from dlcourse.models import TutorialNet, fast_net

TARGETS = (0.85, 0.88, 0.92, 0.93, 0.945)  # the first two for the CPU run on the small subset


# On a CPU the subset is small and the run short: smaller batches, no augmentation (measured best of
# a few settings on the 10k subset: 89% after 4 epochs, against 79% with the GPU recipe's settings).
CPU_RECIPE = dict(batch_size=128, augment=None, label_smoothing=0.0)


@dataclass
class Run:
    """One way of training: accuracy after each epoch and the wall time (s) at which it was reached."""

    name: str
    accs: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    images: int = 0
    train_seconds: float = 0.0
    peak_mb: float | None = None
    compile_seconds: float = 0.0

    def time_to(self, target: float) -> float | None:
        return next((t for a, t in zip(self.accs, self.times) if a >= target), None)


def tutorial_loop(train_set, test_set, num_epochs: int, device) -> Run:
    """PyTorch's MNIST example: DataLoader, batch 64, fp32, Adam lr 1e-3, the 2-conv network."""
    config.set_seed(0)
    model = TutorialNet().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    train_loader = data.make_dataloader(train_set, batch_size=64, shuffle=True)
    test_loader = data.make_dataloader(test_set, batch_size=1000, shuffle=False)
    run, start = Run("tutorial loop (DataLoader, bs 64, fp32, Adam)"), time.perf_counter()
    for _ in range(num_epochs):
        model.train()
        for X, y in train_loader:
            X, y = X.to(device), y.to(device)
            loss = nn.functional.cross_entropy(model(X), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            run.images += len(y)
        run.train_seconds = time.perf_counter() - start
        run.accs.append(train.evaluate(model, test_loader, device=device)[1])
        run.times.append(time.perf_counter() - start)
    return run


def fast_recipe(train_set, test_set, num_epochs: int, device, size: str, compile: bool,
                batch_size: int = 512, lr: float = 0.4, augment: str | None = "flip_translate",
                label_smoothing: float = 0.1) -> Run:
    """The course's recipe: data on the device, FastNet, SGD-Nesterov + one-cycle, bf16 and
    channels_last on CUDA, flips and 2-pixel shifts, label smoothing."""
    config.set_seed(0)
    model = fast_net(size)
    train_loader = data.TensorLoader(train_set, batch_size=batch_size, augment=augment, device=device)
    test_loader = data.TensorLoader(test_set, batch_size=2000, shuffle=False, drop_last=False,
                                    device=device)
    run = Run(f"dlcourse.train.fit (FastNet-{size}, bs {batch_size}, SGD lr {lr})")
    start = time.perf_counter()
    history = train.fit(model, train_loader, test_loader, num_epochs=num_epochs, lr=lr,
                        weight_decay=5e-4, label_smoothing=label_smoothing, compile=compile,
                        progress=False, device=device)
    run.compile_seconds = history.compile_seconds
    run.accs = history.val_acc
    elapsed = 0.0
    for seconds in history.seconds:  # epoch times already exclude compilation
        elapsed += seconds
        run.times.append(elapsed)
    run.train_seconds = time.perf_counter() - start - run.compile_seconds
    run.images = num_epochs * len(train_loader) * train_loader.batch_size
    return run


def peak_memory_mb(device) -> float | None:
    """Peak GPU memory allocated during the run (CUDA only: a process's CPU peak mixes both runs)."""
    return torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None


def format_results(runs: list[Run]) -> str:
    """A table: seconds to each target accuracy, final accuracy, images/s, peak memory; then ratios."""
    head = "".join(f"{'to ' + format(t, '.1%'):>10}" for t in TARGETS)
    lines = [f"{'':<52}{head}{'final':>9}{'img/s':>10}{'peak MB':>9}"]
    for r in runs:
        cells = "".join(f"{r.time_to(t):>9.1f}s" if r.time_to(t) else f"{'-':>10}" for t in TARGETS)
        rate = r.images / max(r.train_seconds, 1e-9)
        peak = f"{r.peak_mb:>9.0f}" if r.peak_mb is not None else f"{'-':>9}"
        lines.append(f"{r.name:<52}{cells}{r.accs[-1]:>9.4f}{rate:>10.0f}{peak}")
    base, ours = runs
    for t in TARGETS:
        if base.time_to(t) and ours.time_to(t):
            lines.append(f"speed-up to {t:.1%}: {base.time_to(t) / ours.time_to(t):.1f}x")
    if ours.compile_seconds:
        lines.append(f"torch.compile time (excluded above): {ours.compile_seconds:.1f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run both ways and print the table."""
    parser = argparse.ArgumentParser(prog="python -m dlcourse bench", description=__doc__)
    parser.add_argument("--epochs-tutorial", type=int, default=None)
    parser.add_argument("--epochs-fit", type=int, default=None)
    parser.add_argument("--size", default=None, choices=["tiny", "base", "wide"])
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args(argv)
    device = config.get_device()
    gpu = device.type == "cuda"
    if gpu:
        torch.backends.cudnn.benchmark = True  # static shapes: autotuning pays off (counted in time)
        train_set, test_set = data.load_fashion_mnist("train"), data.load_fashion_mnist("test")
    else:
        train_set, test_set = data.load_bundled_subset("train"), data.load_bundled_subset("test")
    name = torch.cuda.get_device_name() if gpu else "CPU"
    print(f"device: {name}; train {len(train_set)} / test {len(test_set)} images ({train_set.source})")
    runs = []
    for fn in (lambda: tutorial_loop(train_set, test_set, args.epochs_tutorial or (15 if gpu else 2),
                                     device),
               lambda: fast_recipe(train_set, test_set, args.epochs_fit or (12 if gpu else 4), device,
                                   args.size or ("base" if gpu else "tiny"), args.compile,
                                   **({} if gpu else CPU_RECIPE))):
        if gpu:
            torch.cuda.reset_peak_memory_stats()
        runs.append(fn())
        runs[-1].peak_mb = peak_memory_mb(device)
        print(f"done: {runs[-1].name}", flush=True)
    print(format_results(runs))
