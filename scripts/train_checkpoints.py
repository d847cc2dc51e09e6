"""Rebuild the checkpoints the course ships in data/checkpoints/ (full Fashion-MNIST, seeded).

For each name in `dlcourse.checkpoints.REGISTRY` it trains `train_recipe(name)` on the full data
(found by `dlcourse.data.load_fashion_mnist`, e.g. Debian's /usr/share/datasets/fashion-mnist) and
writes `<name>.pt` (weights + metadata), `<name>.sha256` (sha256sum format) and `<name>.log` (the
exact command, versions, measured training time and test accuracy).

    OMP_NUM_THREADS=2 python scripts/train_checkpoints.py              # all of them, a few min each
    OMP_NUM_THREADS=2 python scripts/train_checkpoints.py --only fmnist_source_0to4

Afterwards copy the printed SHA-256 into REGISTRY, so that `load_pretrained` accepts the new file.
Ctrl-C (or SIGTERM) stops the run without saving anything: the files already in data/checkpoints stay
as they were and the script exits with status 130. The three files of a finished run are written
atomically, with Ctrl-C held back until all three are in place.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import shlex
import signal
import sys

import torch

from dlcourse import checkpoints, config
from dlcourse.serialize import write_atomic

INTERRUPTED = 130  # the shell's status for a run stopped by Ctrl-C (128 + SIGINT)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options: which checkpoints, the seed, the device."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(checkpoints.REGISTRY),
                        help="train only this checkpoint (repeatable); default: all")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="cpu, cuda, ...; default: the best there is")
    return parser.parse_args(argv)


def build_one(name: str, seed: int, device: str | None, command: str) -> None:
    """Train one checkpoint and write its .pt, .sha256 and .log files."""
    spec = checkpoints.get_spec(name)
    print(f"training {name}: {spec.description}", flush=True)
    load_before = os.getloadavg()[0]  # other jobs on the machine slow the measured time
    model, facts = checkpoints.train_recipe(name, fast=False, seed=seed, device=device)
    if facts["train_size"] < 20000:
        sys.exit(f"{name} was trained on only {facts['train_size']} images: the full Fashion-MNIST "
                 "was not found (fast mode on, or no copy); unset DLCOURSE_FAST or set DLCOURSE_DATA")
    with _interrupts_held_back() as caught:  # the .pt, .sha256 and .log change together or not at all
        sha = checkpoints.save_pretrained(name, model, **facts, torch_version=str(torch.__version__))
        _write_log(spec, facts, sha, model, device, command, load_before)
    if spec.sha256 != sha:
        print(f"-> update REGISTRY[{name!r}].sha256 in lib/dlcourse/checkpoints.py to {sha}")
    if caught:
        print(f"interrupted: {name} was saved completely; stopping before the next checkpoint",
              file=sys.stderr, flush=True)
        sys.exit(INTERRUPTED)


def _write_log(spec, facts: dict, sha: str, model, device: str | None, command: str,
               load_before: float) -> None:
    """Write <name>.log: the command, versions, device, data, recipe and measured results."""
    name = spec.name
    device_name = str(device or config.get_device())
    log = [
        f"# {name}: {spec.description}",
        f"command: {command}",
        f"date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}",
        f"versions: python {platform.python_version()}, torch {torch.__version__}",
        f"device: {device_name} ({platform.processor() or platform.machine()}), "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
        f"torch threads={torch.get_num_threads()}",
        f"data: {facts['train_size']} training / {facts['test_size']} test images, "
        f"classes {list(spec.classes)}",
        f"recipe: {spec.factory.__name__}({spec.kwargs}), {facts['num_epochs']} epochs, SGD "
        f"Nesterov lr 0.1 onecycle, weight decay 5e-4, batch 128, augment {spec.augment}, "
        f"seed {facts['seed']}",
        f"measured training time: {facts['train_seconds']:.0f} s (machine load average "
        f"{load_before:.1f} before / {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores)",
        f"measured test accuracy: {facts['test_acc']:.4f}",
        f"parameters: {sum(p.numel() for p in model.parameters())}, "
        f"file size: {spec.path.stat().st_size} bytes",
        f"sha256: {sha}",
    ]
    write_atomic(spec.path.with_suffix(".log"), lambda f: f.write(("\n".join(log) + "\n").encode()))
    print("\n".join(log), flush=True)


@contextlib.contextmanager
def _interrupts_held_back():
    """Hold Ctrl-C and SIGTERM back until the block is done; yields the list of signals caught."""
    caught = []
    previous = {sig: signal.signal(sig, lambda number, frame: caught.append(number))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield caught
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _sigterm_as_interrupt(number, frame) -> None:
    raise KeyboardInterrupt  # `kill <pid>` stops the run like Ctrl-C: nothing half-saved


def main(argv: list[str] | None = None) -> None:
    """Train the requested checkpoints one after the other."""
    args = parse_args(argv)
    threads = os.environ.get("OMP_NUM_THREADS")
    command = " ".join(([f"OMP_NUM_THREADS={threads}"] if threads else [])
                       + ["python", "scripts/train_checkpoints.py"]
                       + [shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])])
    signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    for name in args.only or sorted(checkpoints.REGISTRY):
        try:
            build_one(name, args.seed, args.device, command)
        except KeyboardInterrupt:
            print(f"interrupted while training {name}: nothing was saved for it (its files in "
                  f"{checkpoints.CHECKPOINT_DIR} are unchanged); run the same command again",
                  file=sys.stderr, flush=True)
            sys.exit(INTERRUPTED)


if __name__ == "__main__":
    main()
