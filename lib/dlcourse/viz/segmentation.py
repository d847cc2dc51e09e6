"""Plots for segmentation: per-class IoU of several models, where a model is wrong, accuracy vs cost.

Each takes `ax=None` (a new figure) and returns the Axes. Label maps themselves are drawn by
`dlcourse.viz.scenes.plot_semantic` (class colours with a legend).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.patches import Patch

from dlcourse.scenes import CLASSES
from dlcourse.viz import get_axes
from dlcourse.viz.scenes import gray_rgb


def plot_iou(ious: Mapping[str, torch.Tensor], classes: Sequence[str] = CLASSES, ax: Axes | None = None,
             title: str | None = "IoU per class") -> Axes:
    """Grouped bars: the IoU of every class (x) for every model (one colour each, in the legend).

    ious: {model name: (K,) IoUs}, e.g. `metrics.iou_per_class(cm)`; NaN (class absent) draws no bar.
    """
    if not ious:
        raise ValueError("ious is empty: pass {model name: metrics.iou_per_class(cm)}")
    values = {name: torch.as_tensor(v, dtype=torch.float64).cpu().numpy() for name, v in ious.items()}
    k = len(classes)
    for name, v in values.items():
        if v.shape != (k,):
            raise ValueError(f"IoUs of {name!r} have shape {v.shape}, expected ({k},): one per class")
    ax = get_axes(ax, (min(12, 1 + 0.8 * k), 3.5))
    width = 0.8 / len(values)
    x = np.arange(k)
    for i, (name, v) in enumerate(values.items()):
        ax.bar(x + (i - (len(values) - 1) / 2) * width, np.nan_to_num(v, nan=0.0), width,
               label=f"{name} (mean {np.nanmean(v):.3f})")
    ax.set_xticks(x, classes, rotation=40, ha="right", fontsize=8)
    ax.set(xlabel="class", ylabel="IoU", ylim=(0, 1))
    ax.legend(fontsize=8, loc="lower right")
    if title:
        ax.set_title(title)
    return ax


def plot_errors(y_hat, y, image=None, ax: Axes | None = None, title: str | None = None) -> Axes:
    """The pixels a model gets wrong, in red over the image (or black), for one (H, W) label map."""
    y_hat, y = (torch.as_tensor(t).detach().cpu().long().squeeze() for t in (y_hat, y))
    if y_hat.shape != y.shape or y.ndim != 2:
        raise ValueError(f"y_hat and y must be one (H, W) label map each, got {tuple(y_hat.shape)} and "
                         f"{tuple(y.shape)}; pick one scene, e.g. y_hat[0], y[0]")
    rgb = gray_rgb(image) * 0.7 if image is not None else np.zeros((*y.shape, 3))
    wrong = (y_hat != y).numpy()
    rgb[wrong] = (0.9, 0.1, 0.1)
    ax = get_axes(ax, (4, 4))
    ax.imshow(rgb, interpolation="nearest")
    ax.legend(handles=[Patch(color=(0.9, 0.1, 0.1), label=f"wrong ({wrong.mean():.1%} of pixels)")],
              fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.01))
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def plot_tradeoff(costs: Mapping[str, float], scores: Mapping[str, float], ax: Axes | None = None,
                  xlabel: str = "multiply-adds per 96x96 image (millions)", ylabel: str = "test mean IoU",
                  title: str | None = None) -> Axes:
    """One point per model: cost (x) against score (y), each point labelled with the model's name."""
    if set(costs) != set(scores) or not costs:
        raise ValueError(f"costs and scores must name the same models, got {sorted(costs)} and "
                         f"{sorted(scores)}")
    ax = get_axes(ax, (5, 3.5))
    for i, name in enumerate(costs):
        ax.scatter(costs[name], scores[name], s=60, color=f"C{i}", label=name)
        ax.annotate(name, (costs[name], scores[name]), textcoords="offset points", xytext=(6, 4), fontsize=9)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.legend(fontsize=8, loc="lower right")
    if title:
        ax.set_title(title)
    return ax
