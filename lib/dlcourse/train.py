"""The course's one training loop: `fit`, plus `evaluate`, `predict`, `lr_find` and checkpoints.

The loop body is forward, loss, backward, step. Everything else is either a switch that only matters on
a GPU (bf16 autocast, channels_last, torch.compile) or a small callback (see `dlcourse.callbacks`).
Metrics are summed on the device and read once per epoch, so the GPU never waits for Python.
Imports go one way: this module uses `callbacks`, `history`, `evaluation`, `optim`, `lr_finder` and
`serialize`, and none of them imports it; `History`, `evaluate`, `predict`, `make_optimizer`,
`make_schedule`, `lr_find`, `save_checkpoint` and `load_checkpoint` are re-exported here.
"""

from __future__ import annotations

import math
import operator
import os
import time

import torch
from torch import nn

from dlcourse import distributed  # lesson 14: DDP under torchrun
from dlcourse.callbacks import EMA, BestWeights, Callback, TrainState
from dlcourse.config import resolve_device
from dlcourse.evaluation import (  # noqa: F401  (evaluate, predict: part of this module's API)
    as_batches,
    autocast,
    check_labels,
    count_correct,
    evaluate,
    forward_loss,
    predict,
)
from dlcourse.history import History
from dlcourse.lr_finder import LRFinderResult, lr_find  # noqa: F401
from dlcourse.optim import check_lr, make_optimizer, make_schedule
from dlcourse.serialize import CheckpointError, load_checkpoint, save_checkpoint  # noqa: F401


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the message names the epoch, the step and likely causes."""


def fit(model: nn.Module, train_data, val_data=None, *, num_epochs: int, lr: float,
        optimizer: str = "sgd", schedule: str | None = "onecycle", label_smoothing: float = 0.0,
        weight_decay: float = 0.0, grad_clip: float | None = None, ema: float | None = None,
        amp: bool | str = "auto", channels_last: bool | str = "auto", compile: bool = False,
        callbacks=(), progress: bool = True, loss_fn: nn.Module | None = None,
        device: torch.device | str | None = None) -> History:
    """Train `model` on `train_data` for `num_epochs`, evaluating on `val_data` after every epoch.

    Args:
        train_data / val_data: a `dlcourse.data.TensorLoader`, a `torch.utils.data.DataLoader`, or a
            tuple `(X, y)` of tensors used as one full batch (for toy problems).
        optimizer: "sgd" (Nesterov momentum 0.9), "adam" or "adamw"; schedule: "onecycle", "cosine"
            or None (constant lr). label_smoothing and loss_fn set the loss (default cross-entropy).
        grad_clip: largest gradient norm allowed (a number > 0, e.g. 1.0), or None for no clipping.
        ema: decay of an exponential moving average of the weights (e.g. 0.999), logged as ema_val_acc.
        amp / channels_last: "auto" turns on bf16 autocast and channels_last memory on CUDA only.
        compile: wrap the model in `torch.compile`; its compile time is in `history.compile_seconds`.
        progress: tqdm bars (epoch and batch); plain lines when $DLCOURSE_PROGRESS=lines (CI, papermill).
        device: where to train; default the best there is (`dlcourse.config.get_device`).
    Returns:
        History of per-epoch metrics. Ctrl-C (KeyboardInterrupt) does not raise: `fit` returns the
        history of the finished epochs with `history.interrupted = True` and keeps the weights of the
        best epoch. A script must check `history.interrupted` and then neither save nor report the
        run as done (exit non-zero instead). A non-finite loss raises NonFiniteLossError naming the
        epoch, the step, the likely cause and what happened to the weights.

    Under torchrun (after `dlcourse.distributed.init()`) fit trains data-parallel (lesson 14): the model
    runs in DistributedDataParallel, `train_data` should be `distributed.shard(loader)` (global batch =
    world_size x batch_size; lr belongs to it), epoch sums are all-reduced and only rank 0 shows progress.
    See `dlcourse.distributed` for checkpoints (rank 0) and BatchNorm (per rank).
    """
    _check_arguments(num_epochs, lr, grad_clip, weight_decay, label_smoothing)
    device = resolve_device(device)
    train_data, val_data = as_batches(train_data, "train_data"), as_batches(val_data, "val_data")
    if len(train_data) == 0:
        raise ValueError("train_data yields no batches: with drop_last=True a data set smaller than "
                         "batch_size gives none; use a smaller batch_size or drop_last=False")
    if val_data is not None and hasattr(val_data, "__len__") and len(val_data) == 0:
        raise ValueError("val_data yields no batches: use drop_last=False for the validation loader "
                         "(or pass val_data=None to train without validation)")
    use_amp = (device.type == "cuda" and torch.cuda.is_bf16_supported()) if amp == "auto" else bool(amp)
    use_cl = device.type == "cuda" and _has_conv(model) if channels_last == "auto" else channels_last
    model.to(device, memory_format=torch.channels_last if use_cl else torch.preserve_format)
    opt = make_optimizer(model, optimizer, lr, weight_decay)
    sched = make_schedule(opt, schedule, lr, num_epochs * len(train_data))
    loss_fn = loss_fn or nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    ddp = distributed.wrap(model, device)  # lesson 14: DDP when a process group runs, else the model
    forward = torch.compile(ddp) if compile else ddp
    progress = progress and distributed.is_main()  # lesson 14: one progress display, rank 0's
    best = BestWeights()
    callbacks = [best, *callbacks, *([EMA(ema)] if ema else [])]
    history = History()
    state = TrainState(model, opt, history, num_epochs, len(train_data), val_data=val_data)
    ctx = dict(device=device, amp=use_amp, channels_last=use_cl, grad_clip=grad_clip, sched=sched,
               compiled=compile)
    _emit(callbacks, "on_fit_start", state)
    bars = _Progress(progress, num_epochs, len(train_data))
    try:
        for epoch in range(1, num_epochs + 1):
            state.epoch = epoch
            distributed.set_epoch(train_data, epoch)  # lesson 14: reshuffle a DistributedSampler
            start = time.perf_counter()
            train_loss, train_acc = _train_epoch(forward, train_data, loss_fn, state, callbacks, bars,
                                                 ctx)
            row = dict(epoch=epoch, train_loss=train_loss, train_acc=train_acc,
                       lr=state.lr)
            if val_data is not None:
                row["val_loss"], row["val_acc"] = evaluate(forward, val_data, loss_fn, device, use_amp)
            row["seconds"] = time.perf_counter() - start - (history.compile_seconds if epoch == 1 else 0)
            history.rows.append(row)
            _emit(callbacks, "on_epoch_end", state)
            bars.epoch_done(row)
            if state.stop:
                print(f"stopped after epoch {epoch}: {state.stop_reason}")
                break
    except KeyboardInterrupt:
        history.interrupted = True
        print(f"interrupted in epoch {state.epoch} (step {state.step}): returning the history of "
              f"{len(history)} finished epochs (history.interrupted is True). "
              f"{_weights_note(model, best)}")
    except NonFiniteLossError as err:
        err.args = (f"{err.args[0]} {_weights_note(model, best)}",)
        raise
    finally:
        bars.close()
    _emit(callbacks, "on_fit_end", state)
    return history


def _check_arguments(num_epochs, lr, grad_clip, weight_decay, label_smoothing) -> None:
    """Refuse settings that would fail later with a raw error, or train silently wrong."""
    try:
        whole = operator.index(num_epochs) if not isinstance(num_epochs, bool) else None
    except TypeError:
        whole = None
    if whole is None or whole < 1:
        raise ValueError(f"num_epochs must be a whole number >= 1, got {num_epochs!r}")
    check_lr(lr)
    if grad_clip is not None and not (_is_number(grad_clip) and grad_clip > 0):
        raise ValueError(f"grad_clip is the largest gradient norm allowed: a number > 0 such as 1.0, "
                         f"or None for no clipping; got {grad_clip!r}")
    if not (_is_number(weight_decay) and weight_decay >= 0):
        raise ValueError(f"weight_decay must be a number >= 0 such as 5e-4, got {weight_decay!r}")
    if not (_is_number(label_smoothing) and 0 <= label_smoothing < 1):
        raise ValueError(f"label_smoothing must be in [0, 1), e.g. 0.1, got {label_smoothing!r}")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _weights_note(model: nn.Module, best: BestWeights) -> str:
    """Restore the best epoch's weights if there are any, and say truthfully what the model holds."""
    if best.restore(model):
        return f"The weights of the best epoch ({best.epoch}, val_acc {best.best:.4f}) were restored."
    if all(bool(torch.isfinite(p).all()) for p in model.parameters()):
        return ("The model keeps its last finite weights (no epoch had finished with validation data, so "
                "there were no best weights to restore).")
    return ("No best weights could be restored (no epoch had finished with validation data) and the "
            "weights are now NaN or infinite: rebuild the model (or load a checkpoint) before "
            "training again.")


def _train_epoch(model, train_data, loss_fn, state: TrainState, callbacks, bars, ctx) -> tuple:
    """One pass over the training data; returns (mean loss, accuracy) read from the device once."""
    model.train()
    device = ctx["device"]
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device)
    count = 0
    for batch, (X, y) in enumerate(train_data):
        X, y = _to(X, device, ctx["channels_last"]), y.to(device, non_blocking=True)
        first = state.step == 0 and ctx["compiled"]  # a compiled model compiles here
        tic = time.perf_counter()
        # forward
        with autocast(device, ctx["amp"]):
            y_hat, loss = forward_loss(model, X, y, loss_fn)
        if state.step == 0:
            check_labels(y_hat, y, loss_fn)  # once per run: a GPU reports bad labels only as an assert
        if device.type == "cpu" and not torch.isfinite(loss):  # free on the CPU: stop before the step
            raise _non_finite(state, loss, batch, X, y, loss_fn)
        # backward
        state.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        _emit(callbacks, "on_after_backward", state)
        if ctx["grad_clip"] is not None:
            nn.utils.clip_grad_norm_(state.model.parameters(), ctx["grad_clip"])
        # update
        state.lr = state.optimizer.param_groups[0]["lr"]
        state.optimizer.step()
        if ctx["sched"] is not None:
            ctx["sched"].step()
        if first:
            _sync(device)
            state.history.compile_seconds = time.perf_counter() - tic
        state.step += 1
        state.loss = loss.detach()
        total_loss += state.loss.float() * len(y)
        correct += count_correct(y_hat.detach(), y)
        count += len(y)
        _emit(callbacks, "on_batch_end", state)
        bars.batch_done()
    # lesson 14: under DDP add up every rank's sums, so each rank reports the whole epoch
    total_loss, correct, count = distributed.all_reduce_sums(total_loss, correct, count)
    if not torch.isfinite(total_loss):  # on a GPU the per-step check would sync: once per epoch here
        raise _non_finite(state, total_loss)
    return total_loss.item() / count, correct.item() / count


def _non_finite(state: TrainState, value: torch.Tensor, batch: int | None = None, X=None, y=None,
                loss_fn=None) -> NonFiniteLossError:
    """The error for a NaN or infinite loss: where it happened and the most likely cause."""
    lr = state.optimizer.param_groups[0]["lr"]
    where = (f"step {state.step + 1} (batch {batch + 1} of {state.steps_per_epoch})"
             if batch is not None else "some step of the epoch (checked once per epoch on a GPU)")
    ignore = getattr(loss_fn, "ignore_index", None)
    if X is not None and not bool(torch.isfinite(X).all()):
        cause = ("The inputs X of this batch contain NaN or infinite values: clean the data first "
                 "(e.g. find them with torch.isfinite(X)).")
    elif y is not None and ignore is not None and not y.dtype.is_floating_point and bool(
            (y == ignore).all()):
        cause = (f"Every label of this batch equals ignore_index={ignore}, so the loss averages over "
                 "no labels (0/0 = NaN): check the labels, or leave such batches out.")
    else:
        cause = (f"Likely causes: a learning rate too high (lr={lr:.3g}: try lr={lr / 10:.3g} or "
                 "grad_clip=1.0), inputs that are not normalized, or a log/division by zero in a "
                 "custom loss.")
    return NonFiniteLossError(f"the loss became {value.item()} at epoch {state.epoch}, {where}. "
                              f"{cause}")


def _to(X: torch.Tensor, device, channels_last: bool) -> torch.Tensor:
    X = X.to(device, non_blocking=True)
    return X.contiguous(memory_format=torch.channels_last) if channels_last and X.ndim == 4 else X


def _has_conv(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _emit(callbacks: list[Callback], hook: str, state: TrainState) -> None:
    for cb in callbacks:
        getattr(cb, hook)(state)


class _Progress:
    """tqdm.auto bars (widgets in JupyterLab), or one printed line per epoch, or nothing."""

    def __init__(self, enabled: bool, num_epochs: int, steps: int):
        mode = os.environ.get("DLCOURSE_PROGRESS", "bars") if enabled else "off"
        self.mode, self.num_epochs, self.steps = mode, num_epochs, steps
        self.epochs = self.batches = None
        if mode == "bars":
            from tqdm.auto import tqdm

            self.epochs = tqdm(total=num_epochs, desc="epochs", unit="epoch")
            self.batches = tqdm(total=steps, desc="batches", unit="batch", leave=False)

    def batch_done(self) -> None:
        if self.batches is not None:
            self.batches.update()

    def epoch_done(self, row: dict) -> None:
        text = "  ".join(f"{k} {v:.4f}" for k, v in row.items() if isinstance(v, float))
        if self.mode == "lines":
            print(f"epoch {row['epoch']}/{self.num_epochs}  {text}", flush=True)
        elif self.epochs is not None:
            self.epochs.set_postfix_str(text, refresh=False)
            self.epochs.update()
            self.batches.reset()

    def close(self) -> None:
        for bar in (self.batches, self.epochs):
            if bar is not None:
                bar.close()
