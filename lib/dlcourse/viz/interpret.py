"""Plots for lesson 11 (what a CNN learned): attribution maps, top patches with their receptive fields,
neighbours, 2-D feature maps, class visualizations and adversarial accuracy. ax=None in, Axes out."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from dlcourse import interpret
from dlcourse.viz import get_axes, show_images

FIGSIZE = (3.6, 3.2)  # inches, when no Axes is given


def _np(x: torch.Tensor | np.ndarray) -> np.ndarray:
    x = x.detach().cpu().float().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, float)
    return x[0] if x.ndim == 3 and x.shape[0] == 1 else x  # (1, H, W) -> (H, W)


def plot_attribution(image: torch.Tensor, attribution: torch.Tensor, ax: Axes | None = None,
                     title: str | None = None, overlay: bool = True, colorbar: bool = True) -> Axes:
    """A map (H, W) over its image (H, W): signed maps in red/blue around 0, others in 'inferno'.

    overlay=True draws the image in grey underneath and the map half-transparent on top.
    """
    ax = get_axes(ax, FIGSIZE)
    a = _np(attribution)
    if a.ndim != 2:
        raise ValueError(f"attribution must be one map (H, W), got shape {a.shape}; reduce the "
                         "channels first, e.g. attribution.abs().amax(0)")
    if overlay:
        ax.imshow(_np(image), cmap="gray")
    signed = a.min() < 0 < a.max()
    vmax = float(np.abs(a).max()) or 1.0
    style = dict(cmap="RdBu_r", vmin=-vmax, vmax=vmax) if signed else dict(cmap="inferno", vmin=0,
                                                                           vmax=vmax)
    im = ax.imshow(a, alpha=0.6 if overlay else 1.0, **style)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def plot_explanation(model: torch.nn.Module, x: torch.Tensor, target: int | None, method: str,
                     ax: Axes | None = None, classes: Sequence[str] | None = None) -> Axes:
    """Compute interpret.explain(model, x, target, method) for one image x (1, C, H, W) and draw it."""
    target = int(interpret.targets(model, x, target)[0])
    attribution = interpret.explain(model, x, target, method)[0]
    name = classes[target] if classes is not None else str(target)
    return plot_attribution(x[0], attribution, ax, title=f"{method}\nfor class {name}",
                            overlay=method in ("Grad-CAM", "occlusion"))


def plot_patches(patches: torch.Tensor, ax: Axes | None = None, values: torch.Tensor | None = None,
                 ncols: int = 3, title: str | None = None) -> Axes:
    """Image patches (K, C, h, w) tiled on one Axes, all on one grey scale, with their activations."""
    ax = get_axes(ax, FIGSIZE)
    p = patches.detach().cpu().float()[:, 0]
    k, h, w = p.shape
    nrows = -(-k // ncols)
    grid = np.full((nrows * (h + 1) - 1, ncols * (w + 1) - 1), np.nan)
    for n in range(k):
        r, c = divmod(n, ncols)
        grid[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = p[n].numpy()
        if values is not None:
            ax.text(c * (w + 1), r * (h + 1) + 1, f"{float(values[n]):.1f}", color="yellow",
                    fontsize=7, va="center", bbox=dict(facecolor="black", alpha=0.6, pad=0.5, lw=0))
    ax.imshow(grid, cmap="gray", vmin=float(p.min()), vmax=float(p.max()))
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def plot_receptive_boxes(image: torch.Tensor, boxes: Sequence[tuple[int, int, int, int]],
                         ax: Axes | None = None, title: str | None = None,
                         footprint: torch.Tensor | None = None) -> Axes:
    """An image (H, W) with receptive-field boxes (top, left, bottom, right) drawn in yellow.

    `footprint`, an (H, W) bool mask (e.g. interpret_features.gradient_footprint), is tinted red.
    """
    ax = get_axes(ax, FIGSIZE)
    img = _np(image)
    ax.imshow(img, cmap="gray")
    if footprint is not None:
        tint = np.zeros((*img.shape, 4))
        tint[..., 0], tint[..., 3] = 1.0, 0.45 * _np(footprint)
        ax.imshow(tint)
    for top, left, bottom, right in boxes:
        ax.add_patch(Rectangle((left - 0.5, top - 0.5), right - left + 1, bottom - top + 1,
                               fill=False, edgecolor="yellow", linewidth=1.5))
    ax.set_xlim(-0.5, img.shape[1] - 0.5)
    ax.set_ylim(img.shape[0] - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def plot_neighbours(images: torch.Tensor, queries: Sequence[int], neighbours: torch.Tensor,
                    y: torch.Tensor, classes: Sequence[str], ax: Axes | None = None,
                    title: str | None = None) -> Axes:
    """One row per query: the query image, then its neighbours (indices (Q, k) into images)."""
    neighbours = torch.as_tensor(neighbours)
    rows = torch.cat([torch.as_tensor(list(queries))[:, None], neighbours], 1)  # (Q, 1 + k)
    idx = rows.flatten()
    ax = show_images(images[idx], y[idx], classes=classes, ncols=rows.shape[1], ax=ax)
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def plot_projection(points: torch.Tensor, y: torch.Tensor, classes: Sequence[str],
                    ax: Axes | None = None, title: str | None = None,
                    axis_names: tuple[str, str] = ("component 1", "component 2")) -> Axes:
    """A 2-D embedding (N, 2) as a scatter plot, one colour per class, with a legend of class names."""
    ax = get_axes(ax, (5, 4))
    p = _np(points)
    for c, name in enumerate(classes):
        keep = (torch.as_tensor(y) == c).numpy()
        ax.scatter(p[keep, 0], p[keep, 1], s=6, color=plt.cm.tab10(c % 10), label=name)
    ax.set(xlabel=axis_names[0], ylabel=axis_names[1])
    ax.legend(fontsize=7, markerscale=2, loc="best", ncols=2)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_class_scores(history: Sequence[torch.Tensor], classes: Sequence[str],
                      ax: Axes | None = None) -> Axes:
    """Class visualization progress: each image's own class score, and its best other score, per step."""
    ax = get_axes(ax, (5, 3))
    logits = torch.stack(list(history))  # (steps, K, num_classes)
    own = logits.diagonal(dim1=1, dim2=2)  # (steps, K): image k's score for class k
    others = logits.clone()
    others.diagonal(dim1=1, dim2=2).fill_(-float("inf"))
    ax.plot(own.mean(1).numpy(), label="its own class (mean over images)")
    ax.plot(others.amax(2).mean(1).numpy(), "--", label="best other class (mean)")
    ax.set(xlabel="gradient ascent step", ylabel="class score (logit)")
    ax.legend(fontsize=8)
    return ax


def plot_accuracy_vs_epsilon(epsilons: Sequence[float], accuracy: Sequence[float],
                             ax: Axes | None = None, label: str = "FGSM") -> Axes:
    """Test accuracy against the FGSM step size epsilon (pixel units), with 1/255 marked."""
    ax = get_axes(ax, (5, 3))
    ax.plot(list(epsilons), _np(torch.as_tensor(list(accuracy))), "-o", ms=4, label=label)
    ax.axvline(1 / 255, color="0.6", lw=0.8, ls=":", label="one grey level (1/255)")
    ax.set(xlabel="epsilon (fraction of black-to-white)", ylabel="test accuracy", ylim=(0, 1))
    ax.legend(fontsize=8)
    return ax
