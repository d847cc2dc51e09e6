"""Rebuild the checkpoints the course ships in data/checkpoints/ (full Fashion-MNIST, seeded).

For each name in `dlcourse.checkpoints.REGISTRY` it trains `train_recipe(name)` on the full data
(found by `dlcourse.data.load_fashion_mnist`, e.g. Debian's /usr/share/datasets/fashion-mnist) and
writes `<name>.pt` (weights + metadata), `<name>.sha256` (sha256sum format) and `<name>.log` (the
exact command, versions, measured training time and test accuracy).
`RECIPES` adds checkpoints built by their own code: `scenes_maskrcnn`, lesson 12's Mask R-CNN
(`dlcourse.detectors.train_scenes_detector`, scored by its box mAP on `detectors.benchmark_scenes()`).

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
    parser.add_argument("--only", action="append", choices=sorted(checkpoints.REGISTRY) + sorted(RECIPES),
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


def build_scenes_maskrcnn(name: str, seed: int, device: str | None, command: str) -> None:
    """Train lesson 12's Mask R-CNN (dlcourse.detectors.RECIPE) and write its .pt, .sha256 and .log."""
    from dlcourse import detectors
    from dlcourse.serialize import save_checkpoint

    print(f"training {name}: Mask R-CNN from scratch on Fashion-MNIST scenes, {detectors.RECIPE}", flush=True)
    load_before = os.getloadavg()[0]
    model, facts = detectors.train_scenes_detector(fast=False, seed=seed, device=device)
    if facts["train_images"] < 60000:
        sys.exit(f"{name} was trained on scenes of only {facts['train_images']} articles: the full "
                 "Fashion-MNIST was not found (fast mode on?); run with DLCOURSE_FAST=0")
    device_name = str(device or config.get_device())
    cpu = platform.processor() or platform.machine()
    where = f"{device_name} ({cpu}, {torch.get_num_threads()} thread(s))"
    date = f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}"
    path = detectors.shipped_path()
    with _interrupts_held_back() as caught:  # the .pt, .sha256 and .log change together or not at all
        sha = save_checkpoint(path, model, name=name, **facts, device=where, date=date,
                              torch_version=str(torch.__version__))  # writes the .sha256 sidecar too
        log = [
            f"# {name}: Mask R-CNN (torchvision) on dlcourse.detectors.scenes_backbone, from scratch",
            f"command: DLCOURSE_FAST={os.environ.get('DLCOURSE_FAST', 'unset')} {command}",
            f"date: {date}",
            f"versions: python {platform.python_version()}, torch {torch.__version__}",
            f"device: {where}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}",
            f"data: {facts['train_scenes']} training scenes of {facts['train_images']} training articles; "
            f"benchmark: detectors.benchmark_scenes() ({facts['benchmark_scenes']} test scenes, seed 12)",
            f"recipe: {detectors.RECIPE}, SGD Nesterov momentum 0.9, weight decay 1e-4, linear warm-up "
            f"then cosine, horizontal flips, seed {facts['seed']}",
            f"loss (mean of every 250 steps): {facts['loss_curve']}",
            f"measured training time: {facts['train_seconds']:.0f} s wall, "
            f"{facts['train_cpu_seconds']:.0f} s CPU "
            f"(machine load average {load_before:.1f} before / {os.getloadavg()[0]:.1f} after, on "
            f"{os.cpu_count()} cores)",
            f"measured box mAP on the benchmark: mAP@0.5 {facts['map50']:.4f}, mAP@[.5:.95] "
            f"{facts['map']:.4f}, mAP@0.75 {facts['map75']:.4f}",
            f"parameters: {sum(p.numel() for p in model.parameters())}, file size: "
            f"{path.stat().st_size} bytes",
            f"sha256: {sha}",
        ]
        write_atomic(path.with_suffix(".log"), lambda f: f.write(("\n".join(log) + "\n").encode()))
    print("\n".join(log), flush=True)
    if detectors.SHIPPED_SHA256 != sha:
        print(f"-> update SHIPPED_SHA256 in lib/dlcourse/detectors.py to {sha}")
    if caught:
        sys.exit(INTERRUPTED)


RECIPES = {"scenes_maskrcnn": build_scenes_maskrcnn}  # checkpoints trained outside checkpoints.REGISTRY


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
    if "--segmenters" in (argv if argv is not None else sys.argv[1:]):
        return build_segmenters(argv)  # lesson 13: their own registry and recipe (see below)
    args = parse_args(argv)
    threads = os.environ.get("OMP_NUM_THREADS")
    command = " ".join(([f"OMP_NUM_THREADS={threads}"] if threads else [])
                       + ["python", "scripts/train_checkpoints.py"]
                       + [shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])])
    signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    for name in args.only or sorted(checkpoints.REGISTRY) + sorted(RECIPES):
        try:
            RECIPES.get(name, build_one)(name, args.seed, args.device, command)
        except KeyboardInterrupt:
            print(f"interrupted while training {name}: nothing was saved for it (its files in "
                  f"{checkpoints.CHECKPOINT_DIR} are unchanged); run the same command again",
                  file=sys.stderr, flush=True)
            sys.exit(INTERRUPTED)


# ---------------------------------------------------------------------------------------------------
# Lesson 13: the segmenters (dlcourse.segmenters.REGISTRY), trained on Fashion-MNIST scenes
#     DLCOURSE_FAST=0 OMP_NUM_THREADS=2 python scripts/train_checkpoints.py --segmenters [--only scenes_unet]
# ---------------------------------------------------------------------------------------------------


def build_segmenters(argv: list[str] | None = None) -> None:
    """Train segmenters with `segmenters.train_segmenter`; write .pt, .sha256 and .log for each."""
    from dlcourse import segmenters
    from dlcourse.serialize import save_checkpoint

    argv = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--segmenters"]
    parser = argparse.ArgumentParser(description="train the lesson-13 segmenters")
    parser.add_argument("--only", action="append", choices=sorted(segmenters.REGISTRY))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None)
    args = parser.parse_args(argv)
    threads = os.environ.get("OMP_NUM_THREADS")
    command = " ".join(([f"OMP_NUM_THREADS={threads}"] if threads else [])
                       + ["python", "scripts/train_checkpoints.py", "--segmenters"] + argv)
    for name in args.only or sorted(segmenters.REGISTRY):
        spec = segmenters.get_spec(name)
        print(f"training {name}: {spec.description}", flush=True)
        load_before = os.getloadavg()[0]
        try:
            model, facts = segmenters.train_segmenter(name, fast=False, seed=args.seed, device=args.device,
                                                      progress=True)
        except KeyboardInterrupt:
            print(f"interrupted while training {name}: nothing was saved for it", file=sys.stderr, flush=True)
            sys.exit(INTERRUPTED)
        if "subset" in facts["articles"]:
            sys.exit(f"{name} was trained on scenes of the bundled subset, not the full Fashion-MNIST: set "
                     "DLCOURSE_FAST=0 (auto mode is fast without a GPU) and check DLCOURSE_DATA")
        sha = save_checkpoint(spec.path, model, name=name, **facts, torch_version=str(torch.__version__))
        spec.path.with_suffix(".sha256").write_text(f"{sha}  {spec.path.name}\n")
        log = [
            f"# {name}: {spec.description}",
            f"command: {command}",
            f"date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}",
            f"versions: python {platform.python_version()}, torch {torch.__version__}",
            f"device: {facts['device']} ({platform.processor() or platform.machine()}), "
            f"OMP_NUM_THREADS={threads or 'unset'}, torch threads={facts['threads']}",
            f"data: {facts['num_train']} training scenes (train articles, {facts['articles']}), "
            f"{facts['num_test']} test scenes (test articles), 96x96, 1-5 articles, seed {facts['seed']}",
            f"recipe: {spec.factory.__name__}({spec.kwargs}), segmenters.RECIPE {segmenters.RECIPE}, AdamW, "
            "one-cycle, random horizontal flips, per-pixel cross-entropy",
            f"measured training time: {facts['train_seconds']:.0f} s wall, {facts['cpu_seconds']:.0f} s CPU "
            f"(load average {load_before:.1f} before / {os.getloadavg()[0]:.1f} after, "
            f"{os.cpu_count()} cores)",
            f"measured on the test scenes: pixel accuracy {facts['test_pixel_acc']:.4f}, "
            f"mean IoU {facts['test_miou']:.4f}",
            f"parameters: {sum(p.numel() for p in model.parameters())}, "
            f"file size: {spec.path.stat().st_size} bytes",
            f"sha256: {sha}",
        ]
        spec.path.with_suffix(".log").write_text("\n".join(log) + "\n")
        print("\n".join(log), flush=True)


if __name__ == "__main__":
    main()
