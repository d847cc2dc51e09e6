"""Running a model over data without training it: `evaluate`, `predict`, and the helpers they share.

The training loop (`dlcourse.train`), its callbacks (EMA evaluates its averaged copy), the lr range
test and the plots all build on this module; it imports none of them.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, IterableDataset, SequentialSampler

from dlcourse import distributed  # lesson 14: DDP under torchrun
from dlcourse.config import resolve_device


def as_batches(data, name: str = "data"):
    """A loader as is; a tuple `(X, y)` of tensors as a list of one full batch (for toy problems)."""
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], torch.Tensor):
        X, y = data
        if len(X) == 0:
            raise ValueError(f"{name} (X, y) holds no examples: X has shape {tuple(X.shape)}; pass "
                             "at least one example")
        if not isinstance(y, torch.Tensor) or len(y) != len(X):
            got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
            raise ValueError(f"{name} (X, y) needs one label per example: X has {len(X)} rows, y is "
                             f"{got}; pass y as a tensor of shape ({len(X)},)")
        return [data]  # a full batch: one gradient-descent step per epoch
    return data


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (the CPU for a model without parameters)."""
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def autocast(device: torch.device, enabled: bool):
    """bf16 autocast on `device` when enabled, else a context that does nothing."""
    return torch.autocast(device.type, dtype=torch.bfloat16) if enabled else nullcontext()


def count_correct(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Number of correct predictions: argmax for class scores, sign for one logit per example."""
    if y_hat.ndim == 2 and y_hat.shape[1] > 1:
        return (y_hat.argmax(1) == y).sum()
    return ((y_hat.reshape(y.shape) > 0) == (y > 0.5)).sum()


def check_labels(y_hat: torch.Tensor, y: torch.Tensor, loss_fn: nn.Module | None = None) -> None:
    """Raise a ValueError naming the labels outside the model's classes 0..K-1 (K = y_hat.shape[1])."""
    if y.dtype.is_floating_point or y_hat.ndim != 2 or y_hat.shape[1] < 2:
        return  # one logit per example or float targets: nothing to index
    k = y_hat.shape[1]
    bad = (y < 0) | (y >= k)
    ignore = getattr(loss_fn, "ignore_index", None)
    if ignore is not None:
        bad &= y != ignore
    if bool(bad.any()):
        labels = torch.unique(y[bad]).tolist()
        raise ValueError(
            f"labels must be class indices 0..{k - 1}: the model outputs {k} class scores, but "
            f"{int(bad.sum())} labels are outside that range (values {labels[:8]}). Build the model "
            f"with num_classes={max(int(y.max()) + 1, k)}, or relabel the data to 0..{k - 1} "
            "(e.g. `dlcourse.transfer.class_split`)")


def forward_loss(model: nn.Module, X: torch.Tensor, y: torch.Tensor, loss_fn: nn.Module):
    """(y_hat, loss); a label outside the model's classes is reported by `check_labels`."""
    y_hat = model(X)
    try:
        return y_hat, loss_fn(y_hat, y)
    except (IndexError, RuntimeError):
        check_labels(y_hat, y, loss_fn)  # raises the clear message when the labels are the cause
        raise


@torch.no_grad()
def evaluate(model: nn.Module, data, loss_fn: nn.Module | None = None,
             device: torch.device | str | None = None, amp: bool = False) -> tuple[float, float]:
    """Mean loss and accuracy of `model` on `data` (loader or `(X, y)`), in eval mode, no gradients."""
    device = resolve_device(device) if device is not None else model_device(model)
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    was_training = model.training
    model.eval()  # dropout off, BatchNorm uses its running statistics
    total_loss, correct, count = torch.zeros((), device=device), torch.zeros((), device=device), 0
    try:
        for X, y in as_batches(data, "the evaluation data"):
            X, y = X.to(device, non_blocking=True), y.to(device, non_blocking=True)
            with autocast(device, amp):
                y_hat, loss = forward_loss(model, X, y, loss_fn)
                total_loss += loss.float() * len(y)
            correct += count_correct(y_hat, y)
            count += len(y)
    finally:
        model.train(was_training)
    if distributed.is_sharded(data):  # lesson 14: a sharded validation set, summed over the ranks
        total_loss, correct, count = distributed.all_reduce_sums(total_loss, correct, count)
    if count == 0:
        raise ValueError("the evaluation data yields no examples: a loader with drop_last=True and "
                         "a data set smaller than batch_size gives no batches; use drop_last=False "
                         "(or pass val_data=None to train without validation)")
    return total_loss.item() / count, correct.item() / count


def check_ordered(data) -> None:
    """Raise unless `data` yields its examples in stored order (no shuffling, no random sampler)."""
    fix = ("predict needs the examples in their stored order, so that row i of the result belongs "
           "to example i: pass a loader made with shuffle=False")
    if getattr(data, "shuffle", False):
        raise ValueError(f"this loader shuffles; {fix}")
    if isinstance(data, DataLoader) and not isinstance(data.dataset, IterableDataset):
        sampler, batches = data.sampler, data.batch_sampler
        in_order = isinstance(sampler, SequentialSampler) and (
            batches is None or (type(batches) is BatchSampler and batches.sampler is sampler))
        if not in_order:
            used = type(sampler if not isinstance(sampler, SequentialSampler) else batches).__name__
            raise ValueError(f"this DataLoader draws its examples with {used}, not in order; {fix}")


@torch.no_grad()
def predict(model: nn.Module, data) -> torch.Tensor:
    """Model outputs (e.g. logits (N, num_classes)) for every example of an unshuffled loader, on CPU."""
    check_ordered(data)
    device = model_device(model)
    was_training = model.training
    model.eval()
    try:
        outputs = [model(X.to(device)).float().cpu() for X, _ in as_batches(data, "data")]
    finally:
        model.train(was_training)
    if not outputs:
        raise ValueError("predict got no batches: use a loader with drop_last=False")
    return torch.cat(outputs)
