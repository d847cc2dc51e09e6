"""The course's one training loop: `fit`, `evaluate`, `predict`, `lr_find`, and checkpoints.

The loop body is forward, loss, backward, step. Everything else is either a switch that only matters on
a GPU (bf16 autocast, channels_last, torch.compile) or a small callback (see `dlcourse.callbacks`).
Metrics are summed on the device and read once per epoch, so the GPU never waits for Python.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch
from torch import nn

from dlcourse.callbacks import EMA, BestWeights, Callback, TrainState
from dlcourse.config import get_device
from dlcourse.lr_finder import LRFinderResult, lr_find  # noqa: F401  (part of this module's API)
from dlcourse.progress import Progress as _Progress
from dlcourse.serialize import CheckpointError, load_checkpoint, save_checkpoint  # noqa: F401


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the message names the epoch, the step and likely causes."""


@dataclass
class History:
    """Per-epoch metrics: `rows` of dicts (epoch, train_loss, train_acc, val_loss, val_acc, lr, seconds)."""

    rows: list[dict] = field(default_factory=list)
    compile_seconds: float = 0.0  # the first (compiling) step, left out of the epoch times

    def __getattr__(self, name: str) -> list:
        if name.startswith("_") or name == "rows":
            raise AttributeError(name)
        if not self.rows or name not in self.rows[-1]:
            raise AttributeError(f"History has no column {name!r}; columns: {self.columns}")
        return [row.get(name) for row in self.rows]

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def columns(self) -> list[str]:
        return list(self.rows[-1]) if self.rows else []

    @property
    def best(self) -> dict:
        """The row with the highest val_acc (or, without validation, the lowest train_loss)."""
        if not self.rows:
            raise ValueError("the history is empty: fit has not finished an epoch")
        if "val_acc" in self.rows[0]:
            return max(self.rows, key=lambda r: r["val_acc"])
        return min(self.rows, key=lambda r: r["train_loss"])

    def plot(self, ax=None):
        """Loss and accuracy curves (see `dlcourse.viz.plot_history`)."""
        from dlcourse.viz import plot_history

        return plot_history(self, ax=ax)

    def __repr__(self) -> str:
        if not self.rows:
            return "History(empty)"
        cols = [c for c in self.columns if c != "epoch"]
        lines = ["epoch " + " ".join(f"{c:>10}" for c in cols)]
        for r in self.rows:
            lines.append(f"{r['epoch']:>5} " + " ".join(_cell(r.get(c)) for c in cols))
        return "\n".join(lines)


def _cell(value) -> str:
    return f"{value:>10.4g}" if isinstance(value, float) else f"{value!s:>10}"


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
        ema: decay of an exponential moving average of the weights (e.g. 0.999), logged as ema_val_acc.
        amp / channels_last: "auto" turns on bf16 autocast and channels_last memory on CUDA only.
        compile: wrap the model in `torch.compile`; its compile time is in `history.compile_seconds`.
        progress: tqdm bars (epoch and batch); plain lines when $DLCOURSE_PROGRESS=lines (CI, papermill).
    Returns:
        History of per-epoch metrics. On KeyboardInterrupt it returns the history so far and keeps the
        weights of the best epoch; a non-finite loss raises NonFiniteLossError naming epoch and step.
    """
    if num_epochs < 1 or lr <= 0:
        raise ValueError(f"need num_epochs >= 1 and lr > 0, got num_epochs={num_epochs}, lr={lr}")
    device = torch.device(device) if device is not None else get_device()
    train_data, val_data = _as_batches(train_data), _as_batches(val_data)
    if len(train_data) == 0:
        raise ValueError("train_data yields no batches: with drop_last=True a data set smaller than "
                         "batch_size gives none; use a smaller batch_size or drop_last=False")
    use_amp = (device.type == "cuda" and torch.cuda.is_bf16_supported()) if amp == "auto" else bool(amp)
    use_cl = device.type == "cuda" and _has_conv(model) if channels_last == "auto" else channels_last
    model.to(device, memory_format=torch.channels_last if use_cl else torch.preserve_format)
    opt = make_optimizer(model, optimizer, lr, weight_decay)
    sched = make_schedule(opt, schedule, lr, num_epochs * len(train_data))
    loss_fn = loss_fn or nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    forward = torch.compile(model) if compile else model
    best = BestWeights()
    callbacks = [best, *callbacks, *([EMA(ema)] if ema else [])]
    history = History()
    state = TrainState(model, opt, history, num_epochs, len(train_data), val_data=val_data)
    ctx = dict(device=device, amp=use_amp, channels_last=use_cl, grad_clip=grad_clip, sched=sched)
    _emit(callbacks, "on_fit_start", state)
    bars = _Progress(progress, num_epochs, len(train_data))
    try:
        for epoch in range(1, num_epochs + 1):
            state.epoch = epoch
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
        kept = "best epoch's weights kept" if best.restore(model) else "last weights kept"
        print(f"interrupted in epoch {state.epoch} (step {state.step}): returning the history of "
              f"{len(history)} finished epochs; {kept}")
    except NonFiniteLossError:
        best.restore(model)
        raise
    finally:
        bars.close()
    _emit(callbacks, "on_fit_end", state)
    return history


def _train_epoch(model, train_data, loss_fn, state: TrainState, callbacks, bars, ctx) -> tuple:
    """One pass over the training data; returns (mean loss, accuracy) read from the device once."""
    model.train()
    device = ctx["device"]
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device)
    count = 0
    for batch, (X, y) in enumerate(train_data):
        X, y = _to(X, device, ctx["channels_last"]), y.to(device, non_blocking=True)
        first = state.step == 0 and model is not state.model  # a compiled model compiles here
        tic = time.perf_counter()
        # forward
        with _autocast(device, ctx["amp"]):
            y_hat = model(X)
            loss = loss_fn(y_hat, y)
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
        _check_finite(state, batch, device)
        total_loss += state.loss.float() * len(y)
        correct += _correct(y_hat.detach(), y)
        count += len(y)
        _emit(callbacks, "on_batch_end", state)
        bars.batch_done()
    _check_finite(state, len(train_data) - 1, None, total=total_loss)
    return total_loss.item() / count, correct.item() / count


@torch.no_grad()
def evaluate(model: nn.Module, data, loss_fn: nn.Module | None = None,
             device: torch.device | str | None = None, amp: bool = False) -> tuple[float, float]:
    """Mean loss and accuracy of `model` on `data` (loader or `(X, y)`), in eval mode, no gradients."""
    device = torch.device(device) if device is not None else _model_device(model)
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    was_training = model.training
    model.eval()
    total_loss, correct, count = torch.zeros((), device=device), torch.zeros((), device=device), 0
    for X, y in _as_batches(data):
        X, y = X.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with _autocast(device, amp):
            y_hat = model(X)
            total_loss += loss_fn(y_hat, y).float() * len(y)
        correct += _correct(y_hat, y)
        count += len(y)
    model.train(was_training)
    return total_loss.item() / count, correct.item() / count


@torch.no_grad()
def predict(model: nn.Module, data) -> torch.Tensor:
    """Model outputs (e.g. logits (N, num_classes)) for every example of an unshuffled loader, on CPU."""
    if getattr(data, "shuffle", False) or isinstance(getattr(data, "sampler", None),
                                                      torch.utils.data.RandomSampler):
        raise ValueError("predict needs the examples in their stored order: pass a loader made with "
                         "shuffle=False, so that row i of the result belongs to example i")
    device = _model_device(model)
    was_training = model.training
    model.eval()
    outputs = [model(X.to(device)).float().cpu() for X, _ in _as_batches(data)]
    model.train(was_training)
    return torch.cat(outputs)


def make_optimizer(model: nn.Module, name: str, lr: float, weight_decay: float = 0.0):
    """"sgd" (Nesterov, momentum 0.9), "adam" or "adamw" over all of the model's parameters."""
    params = model.parameters()
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be 'sgd', 'adam' or 'adamw', got {name!r}")


def make_schedule(optimizer, name: str | None, lr: float, total_steps: int):
    """A per-step learning-rate schedule: "onecycle" (warm up 25%, then anneal), "cosine" or None."""
    if name is None:
        return None
    if name == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total_steps,
                                                   pct_start=0.25)
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    raise ValueError(f"schedule must be 'onecycle', 'cosine' or None, got {name!r}")


def _check_finite(state: TrainState, batch: int, device, total=None) -> None:
    # On the CPU checking every step is free; on a GPU it would sync, so there we check the epoch sum.
    value = state.loss if total is None else total
    if (total is None and device is not None and device.type != "cpu") or torch.isfinite(value):
        return
    lr = state.optimizer.param_groups[0]["lr"]
    where = f"step {state.step}" if total is None else "some step"
    raise NonFiniteLossError(
        f"the loss became {value.item()} at epoch {state.epoch}, {where} (batch {batch + 1} of "
        f"{state.steps_per_epoch}). Likely causes: a learning rate too high (lr={lr:.3g}: try "
        f"lr={lr / 10:.3g} or grad_clip=1.0), inputs that are not normalized, or a log/division by "
        "zero in a custom loss. The best weights so far were restored.")


def _correct(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Number of correct predictions: argmax for class scores, sign for one logit per example."""
    if y_hat.ndim == 2 and y_hat.shape[1] > 1:
        return (y_hat.argmax(1) == y).sum()
    return ((y_hat.reshape(y.shape) > 0) == (y > 0.5)).sum()


def _as_batches(data):
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], torch.Tensor):
        return [data]  # a full batch: one gradient-descent step per epoch
    return data


def _to(X: torch.Tensor, device, channels_last: bool) -> torch.Tensor:
    X = X.to(device, non_blocking=True)
    return X.contiguous(memory_format=torch.channels_last) if channels_last and X.ndim == 4 else X


def _autocast(device: torch.device, enabled: bool):
    return torch.autocast(device.type, dtype=torch.bfloat16) if enabled else nullcontext()


def _has_conv(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


def _model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _emit(callbacks: list[Callback], hook: str, state: TrainState) -> None:
    for cb in callbacks:
        getattr(cb, hook)(state)

