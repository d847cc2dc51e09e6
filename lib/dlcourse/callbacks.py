"""Small tweaks to the training loop. Each hook gets the loop's explicit `TrainState`.

Hooks, in the order `fit` calls them: `on_fit_start`, then per batch `on_after_backward` (gradients
exist, before clipping and the optimizer step) and `on_batch_end`, then `on_epoch_end` (the epoch's row
is in `state.history`), and `on_fit_end`. Set `state.stop = True` to end training after this epoch.
The loop (`dlcourse.train`) imports this module; this module never imports the loop.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from dlcourse.evaluation import evaluate
from dlcourse.history import History
from dlcourse.serialize import save_checkpoint


@dataclass
class TrainState:
    """What a callback may read (and, for `stop`, write) while `fit` runs."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    history: History
    num_epochs: int
    steps_per_epoch: int
    epoch: int = 0  # 1-based while training
    step: int = 0  # optimizer steps so far, over all epochs
    loss: torch.Tensor | None = None  # the last batch's loss, on the device (.item() syncs)
    lr: float = 0.0  # the learning rate of the last step
    stop: bool = False
    stop_reason: str = ""
    val_data: object = None


class Callback:
    """Base class: override the hooks you need; each receives the `TrainState`."""

    def on_fit_start(self, state: TrainState) -> None: ...
    def on_after_backward(self, state: TrainState) -> None: ...
    def on_batch_end(self, state: TrainState) -> None: ...
    def on_epoch_end(self, state: TrainState) -> None: ...
    def on_fit_end(self, state: TrainState) -> None: ...


class EarlyStopping(Callback):
    """Stop when `monitor` ("val_loss" or "val_acc") has not improved by `min_delta` for `patience` epochs."""

    def __init__(self, patience: int = 3, monitor: str = "val_loss", min_delta: float = 0.0):
        if monitor not in ("val_loss", "val_acc", "train_loss"):
            raise ValueError(f"monitor must be 'val_loss', 'val_acc' or 'train_loss', got {monitor!r}")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"patience must be a whole number of epochs >= 1, got {patience!r}")
        if not min_delta >= 0:
            raise ValueError(f"min_delta must be >= 0 (the smallest change that counts), got {min_delta}")
        self.patience, self.monitor, self.min_delta = patience, monitor, min_delta
        self.sign = 1.0 if monitor.endswith("acc") else -1.0  # higher is better for accuracy
        self.best, self.waited = float("-inf"), 0

    def on_fit_start(self, state: TrainState) -> None:
        if self.monitor.startswith("val") and state.val_data is None:
            raise ValueError(f"EarlyStopping(monitor={self.monitor!r}) needs validation data: pass "
                             "val_data to fit, or use EarlyStopping(monitor='train_loss')")
        self.best, self.waited = float("-inf"), 0

    def on_epoch_end(self, state: TrainState) -> None:
        value = self.sign * state.history.rows[-1][self.monitor]
        if value > self.best + self.min_delta:
            self.best, self.waited = value, 0
            return
        self.waited += 1
        if self.waited >= self.patience:
            state.stop = True
            state.stop_reason = f"early stopping: {self.monitor} flat for {self.patience} epochs"


class Checkpoint(Callback):
    """Save the model (atomically) whenever `val_acc` improves, or every epoch if `every_epoch`."""

    def __init__(self, path: str | Path, every_epoch: bool = False):
        self.path, self.every_epoch, self.best = Path(path), every_epoch, float("-inf")

    def on_epoch_end(self, state: TrainState) -> None:
        row = state.history.rows[-1]
        score = row.get("val_acc", -row["train_loss"])
        if self.every_epoch or score > self.best:
            self.best = max(self.best, score)
            save_checkpoint(self.path, state.model, epoch=row["epoch"], score=score)


class EMA(Callback):
    """Polyak averaging: keep `decay`-weighted running weights, w_ema <- decay w_ema + (1-decay) w.

    The averaged copy is `self.model`; with validation data its accuracy is logged as `ema_val_acc`.
    """

    def __init__(self, decay: float = 0.999):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), e.g. 0.999, got {decay}")
        self.decay, self.model = decay, None

    def on_fit_start(self, state: TrainState) -> None:
        fn = torch.optim.swa_utils.get_ema_multi_avg_fn(self.decay)
        self.model = torch.optim.swa_utils.AveragedModel(state.model, multi_avg_fn=fn, use_buffers=True)

    def on_batch_end(self, state: TrainState) -> None:
        self.model.update_parameters(state.model)

    def on_epoch_end(self, state: TrainState) -> None:
        if state.val_data is not None:
            loss, acc = evaluate(self.model.module, state.val_data)
            state.history.rows[-1].update(ema_val_loss=loss, ema_val_acc=acc)


class GradNormLogger(Callback):
    """Record the gradient norm of every weight tensor (per layer) every `every` steps.

    `self.norms` maps a parameter name (e.g. "layers.0.weight") to a list of floats. Reading the norms
    syncs with the GPU, so keep `every` large for speed runs.
    """

    def __init__(self, every: int = 1):
        self.every, self.norms, self.steps = every, {}, []

    def on_after_backward(self, state: TrainState) -> None:
        if state.step % self.every:
            return
        self.steps.append(state.step)
        for name, p in state.model.named_parameters():
            if p.grad is not None and p.ndim > 1:  # weights only: biases and norms say little
                self.norms.setdefault(name, []).append(p.grad.norm().item())


class LivePlot(Callback):
    """Redraw the loss and accuracy curves after every epoch in the notebook (one figure, updated)."""

    def __init__(self):
        self.handle = None

    def on_epoch_end(self, state: TrainState) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import display

        fig, axes = plt.subplots(1, 2, figsize=(9, 3))
        state.history.plot(ax=axes)
        if self.handle is None:
            self.handle = display(fig, display_id=True)
        else:
            self.handle.update(fig)
        plt.close(fig)


@dataclass
class BestWeights(Callback):
    """Keep a copy of the weights with the best `val_acc` (used by `fit` to recover after a stop)."""

    best: float = float("-inf")
    epoch: int = 0  # the epoch whose weights are kept (0: none yet)
    state_dict: dict | None = field(default=None, repr=False)

    def on_epoch_end(self, state: TrainState) -> None:
        score = state.history.rows[-1].get("val_acc")
        if score is not None and score > self.best:
            self.best, self.epoch = score, state.epoch
            self.state_dict = copy.deepcopy(state.model.state_dict())

    def restore(self, model: nn.Module) -> bool:
        """Load the best weights into `model`; False if there were none (no validation data yet)."""
        if self.state_dict is None:
            return False
        model.load_state_dict(self.state_dict)
        return True
