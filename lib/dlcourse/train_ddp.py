"""Train Fashion-MNIST data-parallel with torchrun: `python -m dlcourse train-ddp` / `scripts/train_ddp.py`.

One machine, N processes (N GPUs, or N CPU processes with gloo):

    torchrun --standalone --nproc_per_node=2 scripts/train_ddp.py --epochs 2
    torchrun --standalone --nproc_per_node=2 -m dlcourse train-ddp --epochs 2      # the same

Two machines with 8 GPUs each (run on both; node 0's address is the rendezvous point, port open on it):

    torchrun --nnodes=2 --nproc_per_node=8 --node-rank=0 --rdzv-backend=c10d \\
             --rdzv-endpoint=10.0.0.1:29500 --rdzv-id=fmnist scripts/train_ddp.py     # on 10.0.0.1
    torchrun --nnodes=2 --nproc_per_node=8 --node-rank=1 --rdzv-backend=c10d \\
             --rdzv-endpoint=10.0.0.1:29500 --rdzv-id=fmnist scripts/train_ddp.py     # on the other

Without torchrun it trains in one process (the same code, world size 1). Every rank trains on its shard
of each epoch; rank 0 alone prints, writes the checkpoint (`--out`, default build/ddp/model.pt) and a
JSON summary beside it (history, world size, global batch, test accuracy, seconds).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch import nn
from torch.distributed.elastic.multiprocessing.errors import record

from dlcourse import config, data, distributed, train
from dlcourse.models import MLP, fast_net

DEFAULT_OUT = config.REPO_ROOT / "build" / "ddp" / "model.pt"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; --batch-size is per rank, --lr belongs to the global batch."""
    parser = argparse.ArgumentParser(prog="train_ddp", description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--fast", dest="fast", action="store_true", default=None,
                      help="the bundled 10k/2k subset (default without a GPU)")
    mode.add_argument("--full", dest="fast", action="store_false", help="all 60k/10k images")
    parser.add_argument("--model", choices=["mlp", "fastnet"], default=None,
                        help="mlp (784-256-10, default on CPUs) or fastnet (FastNet-base, default on GPUs)")
    parser.add_argument("--epochs", type=int, default=None, help="default 2 (fast) or 8 (full)")
    parser.add_argument("--batch-size", type=int, default=None, help="per rank; default 64 (mlp) or 256")
    parser.add_argument("--lr", type=float, default=None, help="peak of the one-cycle schedule")
    parser.add_argument("--train-size", type=int, default=None, help="use a stratified subset of n images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads per process")
    parser.add_argument("--backend", choices=["nccl", "gloo"], default=None, help="default: nccl on GPUs")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="checkpoint path (rank 0 writes it)")
    args = parser.parse_args(argv)
    args.fast = config.fast() if args.fast is None else args.fast
    args.model = args.model or ("fastnet" if torch.cuda.is_available() else "mlp")
    args.epochs = args.epochs or (2 if args.fast else 8)
    args.batch_size = args.batch_size or (64 if args.model == "mlp" else 256)
    args.lr = args.lr or (0.1 if args.model == "mlp" else 0.4)
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
        parser.error("--epochs and --batch-size must be >= 1 and --lr > 0")
    return args


def build_model(name: str) -> nn.Module:
    """The network to train: an MLP without BatchNorm (exactly data-parallel on CPUs) or FastNet-base."""
    if name == "mlp":
        return MLP(28 * 28, [256], 10)
    model = fast_net("base")
    if distributed.world_size() > 1 and torch.cuda.is_available():
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)  # BatchNorm over the global batch (GPU only)
    return model


def run(args: argparse.Namespace) -> dict | None:
    """Train on this rank's shard; rank 0 saves the checkpoint and the summary. Returns the summary, or
    None when the run was interrupted (Ctrl-C): then nothing is saved."""
    if args.threads:
        torch.set_num_threads(args.threads)
    config.RUN["fast"] = args.fast  # load_fashion_mnist follows it: the bundled subset in fast mode
    config.set_seed(args.seed)  # the same initial weights everywhere (DDP also copies rank 0's)
    device = distributed.device()
    train_set = data.load_fashion_mnist("train", verbose=distributed.is_main())
    test_set = data.load_fashion_mnist("test", verbose=distributed.is_main())
    if args.train_size:
        train_set = train_set.subset(args.train_size, seed=args.seed)
    gpu = device.type == "cuda"
    augment = "flip_translate" if args.model == "fastnet" else None
    train_loader = distributed.shard(data.TensorLoader(train_set, batch_size=args.batch_size, augment=augment,
                                                       device=device, seed=args.seed))
    test_loader = data.TensorLoader(test_set, batch_size=1000, shuffle=False, drop_last=False, device=device)
    world = distributed.world_size()
    backend = torch.distributed.get_backend() if distributed.is_initialized() else "none"
    distributed.print0(f"{world} process(es) ({backend}, {device.type}); per-rank batch {args.batch_size}, "
                       f"global batch {world * args.batch_size}; {len(train_set)} training images, "
                       f"{len(train_loader)} steps per epoch")
    model = build_model(args.model).to(device)
    start = time.perf_counter()
    history = train.fit(model, train_loader, test_loader, num_epochs=args.epochs, lr=args.lr,
                        weight_decay=5e-4, label_smoothing=0.1 if args.model == "fastnet" else 0.0,
                        device=device)
    seconds = time.perf_counter() - start
    if history.interrupted:  # an unfinished run is not saved or reported as done
        distributed.print0(f"interrupted after {len(history)} epoch(s): no checkpoint written")
        return None
    test_acc = history.val_acc[-1]
    sha = distributed.save_checkpoint(args.out, model, model_name=args.model, world_size=world,
                                      global_batch=world * args.batch_size, epochs=args.epochs,
                                      test_acc=test_acc, seed=args.seed)
    images = args.epochs * len(train_loader) * args.batch_size * world
    summary = dict(world_size=world, backend=backend, device=torch.cuda.get_device_name() if gpu else "cpu",
                   model=args.model, fast=args.fast, epochs=args.epochs, batch_size=args.batch_size,
                   global_batch=world * args.batch_size, lr=args.lr, train_images=len(train_set),
                   test_acc=test_acc, seconds=seconds, images_per_second=images / seconds,
                   history=history.rows, checkpoint=str(args.out), sha256=sha)
    if distributed.is_main():
        args.out.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
        print(f"test accuracy {test_acc:.4f} after {args.epochs} epochs; {seconds:.1f} s of training, "
              f"{images / seconds:.0f} images/s over all ranks")
        print(f"rank 0 saved {args.out} (SHA-256 {sha[:16]}...) and {args.out.with_suffix('.json').name}")
    return summary


@record  # under torchrun: a failing rank's traceback goes into torchrun's error summary
def main(argv: list[str] | None = None) -> int:
    """Parse the options, join the process group (under torchrun), train, leave the group."""
    args = parse_args(argv)
    with distributed.process_group(args.backend):
        summary = run(args)
    return 0 if summary is not None else 130  # 130: the shell's code for a run stopped by Ctrl-C
