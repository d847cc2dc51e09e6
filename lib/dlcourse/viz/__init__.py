"""Plots every lesson needs. Each takes `ax=None` (a new figure) and returns the Axes; none calls show().

Topic-specific plots live beside this file (`dlcourse.viz.neuron`, `dlcourse.viz.conv`, ...).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch


def get_axes(ax=None, figsize: tuple[float, float] = (5, 3.5)):
    """The given Axes, or the Axes of a new figure of `figsize` (inches): every plot's first line."""
    return ax if ax is not None else plt.subplots(figsize=figsize)[1]


def show_images(X: torch.Tensor, y=None, y_hat=None, classes=None, ncols: int = 8, ax=None,
                cmap: str = "gray"):
    """A grid of images with their labels (and predictions: red where wrong) drawn on one Axes.

    X: (N, H, W) or (N, C, H, W), uint8 or float (each image rescaled to [0, 1] for display).
    """
    X = torch.as_tensor(X).detach().cpu().float()
    X = X.unsqueeze(1) if X.ndim == 3 else X
    if X.ndim != 4:
        raise ValueError(f"X must be (N, H, W) or (N, C, H, W), got shape {tuple(X.shape)}")
    n, c, h, w = X.shape
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    lo = X.amin(dim=(1, 2, 3), keepdim=True)
    hi = X.amax(dim=(1, 2, 3), keepdim=True)
    X = (X - lo) / (hi - lo).clamp_min(1e-8)
    pad = 2
    text_h = h // 2 if y is not None else 0
    grid = np.ones((nrows * (h + pad + text_h), ncols * (w + pad), 3))
    for i in range(n):
        r, col = divmod(i, ncols)
        img = X[i].permute(1, 2, 0).numpy()
        img = np.repeat(img, 3, axis=2) if c == 1 else img[..., :3]
        top = r * (h + pad + text_h)
        grid[top:top + h, col * (w + pad):col * (w + pad) + w] = img
    ax = get_axes(ax, figsize=(1.1 * ncols, 1.3 * nrows))
    ax.imshow(grid if c != 1 or cmap == "gray" else grid[..., 0], cmap=None if c != 1 else cmap)
    for i in range(n if y is not None else 0):
        r, col = divmod(i, ncols)
        name = _name(y[i], classes)
        label = name if y_hat is None else f"{_name(y_hat[i], classes)}\n({name})"
        wrong = y_hat is not None and int(y_hat[i]) != int(y[i])
        ax.text(col * (w + pad) + w / 2, r * (h + pad + text_h) + h + 1, label, ha="center",
                va="top", fontsize=7, color="C3" if wrong else "black")
    ax.set_axis_off()
    return ax


def _name(label, classes) -> str:
    label = int(label)
    return classes[label] if classes is not None else str(label)


def plot_history(history, ax=None):
    """Training curves: loss (and accuracy, if `ax` is a pair of Axes) per epoch, train vs validation."""
    if ax is None:
        ax = plt.subplots(1, 2, figsize=(9, 3))[1]
    loss_ax, acc_ax = (ax[0], ax[1]) if np.ndim(ax) else (ax, None)
    epochs = history.epoch
    for split, style in (("train", "-o"), ("val", "--o")):
        if f"{split}_loss" in history.columns:
            loss_ax.plot(epochs, getattr(history, f"{split}_loss"), style, ms=3, label=split)
            if acc_ax is not None:
                acc_ax.plot(epochs, getattr(history, f"{split}_acc"), style, ms=3, label=split)
    loss_ax.set(xlabel="epoch", ylabel="loss", title="loss")
    loss_ax.legend()
    if acc_ax is not None:
        acc_ax.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
        acc_ax.legend()
    return ax


def plot_grad_norms(norms: dict, ax=None, log: bool = True):
    """Gradient norm per layer (layer 1 = input side), one line per labelled network, log y-axis.

    `norms` maps a label to a list of per-layer norms, e.g. from `dlcourse.callbacks.GradNormLogger`
    or `dlcourse.probes.layer_grad_norms`.
    """
    ax = get_axes(ax, (5.0, 3.2))
    for label, values in norms.items():
        ax.plot(np.arange(1, len(values) + 1), list(values), marker="o", ms=3, label=label)
    if log:
        ax.set_yscale("log")
    ax.set(xlabel="layer (1 = closest to the input)", ylabel="||dL/dW||",
           title="gradient norm per layer")
    ax.legend(fontsize=8)
    return ax


def confusion_matrix(y, y_hat, num_classes: int) -> torch.Tensor:
    """Counts (num_classes, num_classes): row = true class, column = predicted class."""
    y, y_hat = torch.as_tensor(y).long().cpu(), torch.as_tensor(y_hat).long().cpu()
    if y.shape != y_hat.shape:
        raise ValueError(f"y and y_hat must have the same shape, got {tuple(y.shape)} and "
                         f"{tuple(y_hat.shape)}; pass class indices, e.g. logits.argmax(1)")
    return torch.bincount(y * num_classes + y_hat, minlength=num_classes**2).reshape(num_classes, -1)


def plot_confusion_matrix(y, y_hat, classes, normalize: bool = True, ax=None):
    """Confusion matrix as a heat map: rows are true classes, columns predictions; diagonal = correct."""
    cm = confusion_matrix(y, y_hat, len(classes)).float()
    if normalize:
        cm = cm / cm.sum(1, keepdim=True).clamp_min(1)
    ax = get_axes(ax, figsize=(6, 5))
    im = ax.imshow(cm.numpy(), cmap="Blues")
    ax.figure.colorbar(im, ax=ax, fraction=0.046)
    ticks = range(len(classes))
    ax.set_xticks(ticks, classes, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(ticks, classes, fontsize=8)
    for i in ticks:
        for j in ticks:
            value = cm[i, j].item()
            ax.text(j, i, f"{value:.2f}" if normalize else int(value), ha="center", va="center",
                    fontsize=6, color="white" if value > cm.max().item() / 2 else "black")
    ax.set(xlabel="predicted", ylabel="true", title="confusion matrix")
    return ax


def top_losses(logits: torch.Tensor, y: torch.Tensor, k: int = 8) -> torch.Tensor:
    """Indices of the k examples with the highest cross-entropy: the most confidently wrong first."""
    losses = torch.nn.functional.cross_entropy(logits.float(), y.long(), reduction="none")
    return losses.topk(min(k, len(losses))).indices


def plot_top_losses(model, dataset, k: int = 8, ax=None):
    """The k test images the model gets most confidently wrong, with prediction and (true label)."""
    from dlcourse.evaluation import predict  # not dlcourse.train: plots never import the loop
    from dlcourse.loaders import TensorLoader

    device = next(model.parameters()).device
    logits = predict(model, TensorLoader(dataset, 1024, shuffle=False, drop_last=False, device=device))
    idx = top_losses(logits, dataset.y, k)
    return show_images(dataset.X[idx], dataset.y[idx], logits[idx].argmax(1), dataset.classes,
                       ncols=min(k, 8), ax=ax)


def plot_decision_boundary(predict_fn, X: torch.Tensor, y: torch.Tensor, ax=None,
                           resolution: int = 200, margin: float = 0.5, colorbar: str | None = None):
    """Shade the plane by `predict_fn` (maps (M, 2) points to class indices or P(class 1)); scatter X.

    `colorbar`: a label, e.g. "P(y = 1)", to add a colour bar that says what the shading means.
    """
    X, y = torch.as_tensor(X).float(), torch.as_tensor(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must be (N, 2) points in the plane, got {tuple(X.shape)}")
    lo, hi = X.min(0).values - margin, X.max(0).values + margin
    xs = torch.linspace(lo[0].item(), hi[0].item(), resolution)
    ys = torch.linspace(lo[1].item(), hi[1].item(), resolution)
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")
    with torch.no_grad():
        z = torch.as_tensor(predict_fn(torch.stack([gx.flatten(), gy.flatten()], 1))).float()
    ax = get_axes(ax, figsize=(4, 4))
    shading = ax.contourf(gx.numpy(), gy.numpy(), z.reshape(gx.shape).numpy(), levels=20, cmap="RdBu",
                          alpha=0.4)
    ax.scatter(X[:, 0].numpy(), X[:, 1].numpy(), c=y.numpy(), cmap="RdBu", edgecolors="k", s=25)
    if colorbar is not None:
        ax.figure.colorbar(shading, ax=ax, label=colorbar)
    ax.set(xlabel="$x_1$", ylabel="$x_2$")
    return ax
