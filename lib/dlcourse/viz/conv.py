"""Plots for convolution and pooling: number grids, kernels, filters, maps, receptive fields."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from dlcourse.viz import get_axes

FIGSIZE = (4, 4)  # inches, when no Axes is given


def _np(x: torch.Tensor | np.ndarray) -> np.ndarray:
    return x.detach().cpu().float().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, float)


def text_color(image, value: float) -> str:
    """"white" or "black": whichever reads better on the cell colour of `value` in `image` (imshow)."""
    r, g, b, _ = image.cmap(image.norm(value))
    return "white" if 0.299 * r + 0.587 * g + 0.114 * b < 0.5 else "black"  # perceived brightness


def plot_image(image: torch.Tensor, ax: Axes | None = None, title: str | None = None,
               cmap: str = "gray", symmetric: bool = False) -> Axes:
    """Show an (H, W) map or a (3, H, W) RGB image; symmetric=True centres the colormap on 0."""
    ax = get_axes(ax, FIGSIZE)
    img = _np(image)
    if img.ndim == 3:
        ax.imshow(np.clip(img.transpose(1, 2, 0), 0, 1))
    else:
        vmax = np.abs(img).max() or 1.0
        kwargs = dict(vmin=-vmax, vmax=vmax, cmap="RdBu_r") if symmetric else dict(cmap=cmap)
        ax.imshow(img, **kwargs)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


def plot_grid_values(values: torch.Tensor, ax: Axes | None = None, title: str | None = None,
                     highlight: Sequence[tuple[int, int]] = (), fmt: str = "{:g}",
                     cmap: str = "Blues") -> Axes:
    """Draw a small (H, W) matrix as a grid of numbered cells; `highlight` outlines cells in red."""
    ax = get_axes(ax, FIGSIZE)
    v = _np(values)
    im = ax.imshow(v, cmap=cmap, vmin=min(v.min(), 0), vmax=max(v.max(), 1e-9) * 1.6)
    for (i, j), value in np.ndenumerate(v):
        ax.text(j, i, fmt.format(round(float(value), 3)), ha="center", va="center", fontsize=10,
                color=text_color(im, value))
    for i, j in highlight:
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", lw=2.5))
    ax.set_xticks(np.arange(v.shape[1] + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(v.shape[0] + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="black", linewidth=0.5)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    if title:
        ax.set_title(title)
    return ax


def plot_kernel(kernel: torch.Tensor, ax: Axes | None = None, title: str | None = None) -> Axes:
    """A (kH, kW) kernel as a grid with its weights written in (positive red, negative blue)."""
    ax = get_axes(ax, FIGSIZE)
    k = _np(kernel)
    vmax = np.abs(k).max() or 1.0
    im = ax.imshow(k, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
    for (i, j), value in np.ndenumerate(k):
        ax.text(j, i, f"{value:.2g}", ha="center", va="center", fontsize=9, color=text_color(im, value))
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


def montage(maps: torch.Tensor, ncols: int = 8, pad: int = 1) -> torch.Tensor:
    """Tile maps (N, H, W) into one (rows*(H+pad), ncols*(W+pad)) image, each scaled to [0, 1]."""
    maps = maps.detach().cpu().float()
    if maps.dim() != 3:
        raise ValueError(f"montage wants (N, H, W) maps, got shape {tuple(maps.shape)}")
    n, h, w = maps.shape
    lo = maps.flatten(1).min(1).values[:, None, None]
    hi = maps.flatten(1).max(1).values[:, None, None]
    maps = (maps - lo) / (hi - lo).clamp_min(1e-8)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    grid = torch.full((nrows * (h + pad) - pad, ncols * (w + pad) - pad), float("nan"))
    for i in range(n):
        r, c = divmod(i, ncols)
        grid[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = maps[i]
    return grid


def plot_feature_maps(maps: torch.Tensor, ax: Axes | None = None, ncols: int = 8,
                      title: str | None = None, cmap: str = "viridis") -> Axes:
    """Feature maps (C, H, W) of one image, each scaled on its own, tiled on one Axes."""
    ax = get_axes(ax, FIGSIZE)
    ax.imshow(montage(maps, ncols).numpy(), cmap=cmap)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def plot_filters(weight: torch.Tensor, ax: Axes | None = None, ncols: int = 8,
                 title: str | None = None) -> Axes:
    """First-layer filters (C_out, C_in, kH, kW): channel 0 of each filter, tiled, in gray."""
    if weight.dim() != 4:
        raise ValueError(f"weight must be (C_out, C_in, kH, kW), got shape {tuple(weight.shape)}")
    ax = get_axes(ax, FIGSIZE)
    ax.imshow(montage(weight[:, 0], ncols).numpy(), cmap="gray")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def plot_receptive_field(rows: Sequence, ax: Axes | None = None) -> Axes:
    """Receptive field size after each layer (bars), with the jump written above each bar."""
    ax = get_axes(ax, FIGSIZE)
    names = [r.name for r in rows]
    sizes = [r.size for r in rows]
    bars = ax.bar(range(len(rows)), sizes, color="tab:blue")
    for bar, r in zip(bars, rows, strict=True):
        ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), f"{r.size} (jump {r.jump})",
                ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(rows)), names, rotation=30, ha="right")
    ax.set_ylabel("receptive field (input pixels)")
    return ax


def outline_window(ax: Axes, top: int, left: int, height: int, width: int,
                   color: str = "red") -> Axes:
    """Draw a rectangle around pixels [top, top+height) x [left, left+width) of an imshow plot."""
    ax.add_patch(Rectangle((left - 0.5, top - 0.5), width, height, fill=False, edgecolor=color,
                           linewidth=2))
    return ax
