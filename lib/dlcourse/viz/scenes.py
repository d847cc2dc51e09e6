"""Plots for Fashion-MNIST scenes: boxes, labels and instance masks, or a semantic map.

Both take `ax=None` (a new figure) and return the Axes. Each class keeps one colour (matplotlib's
tab10, class 1 = "T-shirt/top" = the first) in boxes, masks and semantic maps alike.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.patches import Patch, Rectangle

from dlcourse.scenes import CLASSES
from dlcourse.viz import get_axes

FIGSIZE = (4, 4)  # inches, when no Axes is given
COLORS = plt.get_cmap("tab10").colors  # COLORS[label - 1] is the colour of class `label` (1..10)


def gray_rgb(image) -> np.ndarray:
    """(1, H, W) or (H, W) image in [0, 1] -> (H, W, 3) float RGB."""
    img = torch.as_tensor(image).detach().cpu().float().squeeze()
    if img.ndim != 2:
        raise ValueError(f"image must be (1, H, W) or (H, W), got {tuple(torch.as_tensor(image).shape)}")
    return np.repeat(img.clamp(0, 1).numpy()[..., None], 3, axis=2)


def plot_scene(image, target: dict | None = None, ax: Axes | None = None, masks: bool = True,
               score_threshold: float = 0.5, classes=CLASSES, title: str | None = None) -> Axes:
    """A scene with its instance masks, boxes and labels: ground truth or a detector's predictions.

    target: a scene's target, or a torchvision detector's output ("boxes", "labels", optional
    "scores" (shown, and boxes under `score_threshold` hidden), optional "masks" (N, H, W) or
    Mask R-CNN's probabilities (N, 1, H, W), shown where > 0.5).
    """
    rgb = gray_rgb(image)
    ax = get_axes(ax, FIGSIZE)
    target = target or {}
    boxes = torch.as_tensor(target.get("boxes", torch.zeros(0, 4))).detach().cpu().float()
    labels = torch.as_tensor(target.get("labels", torch.zeros(0))).detach().cpu().long()
    scores = target.get("scores")
    keep = torch.ones(len(boxes), dtype=torch.bool) if scores is None else \
        torch.as_tensor(scores).detach().cpu() >= score_threshold
    if masks and "masks" in target:
        m = torch.as_tensor(target["masks"]).detach().cpu()
        m = (m > 0.5 if m.is_floating_point() else m.bool()).reshape(len(m), *rgb.shape[:2])[keep]
        for mask, label in zip(m.numpy(), labels[keep].tolist()):
            rgb[mask] = 0.5 * rgb[mask] + 0.5 * np.array(COLORS[(label - 1) % 10])
    ax.imshow(rgb, interpolation="nearest")
    for k in torch.nonzero(keep).flatten().tolist():
        x1, y1, x2, y2 = boxes[k].tolist()
        label = int(labels[k])
        color = COLORS[(label - 1) % 10]
        # pixel i covers [i - 0.5, i + 0.5] on the image axes; boxes are in pixel edges
        ax.add_patch(Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, lw=1.5, ec=color))
        text = classes[label] if label < len(classes) else str(label)
        text += f" {float(scores[k]):.2f}" if scores is not None else ""
        ax.text(x1 - 0.5, y1 - 1, text, color="white", fontsize=7, va="bottom",
                bbox=dict(facecolor=color, edgecolor="none", pad=1, alpha=0.8))
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def plot_semantic(semantic, image=None, ax: Axes | None = None, classes=CLASSES,
                  alpha: float = 0.6, title: str | None = None) -> Axes:
    """A semantic map (H, W) of values 0..10 (0 = background) in class colours, over the image if
    given, with a legend of the classes present (e.g. truth beside `model(X).argmax(1)`)."""
    semantic = torch.as_tensor(semantic).detach().cpu().long().squeeze()
    if semantic.ndim != 2:
        raise ValueError(f"semantic must be one (H, W) map of class values, got "
                         f"{tuple(semantic.shape)}; pick one scene, e.g. semantic[0]")
    rgb = gray_rgb(image) if image is not None else np.zeros((*semantic.shape, 3))
    sem = semantic.numpy()
    present = [int(c) for c in np.unique(sem) if c > 0]
    for c in present:
        rgb[sem == c] = (1 - alpha) * rgb[sem == c] + alpha * np.array(COLORS[(c - 1) % 10])
    ax = get_axes(ax, FIGSIZE)
    ax.imshow(rgb, interpolation="nearest")
    if present:
        handles = [Patch(color=COLORS[(c - 1) % 10], label=classes[c] if c < len(classes) else str(c))
                   for c in present]
        ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax
