"""Plots for part 1: activations with derivatives, a neuron's threshold, perceptron boundaries,
hidden representations and weight histograms. Every function takes ax=None, returns Axes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from dlcourse import scratch
from dlcourse.viz import get_axes

FIGSIZE = (4.0, 3.0)  # inches, when no Axes is given
CLASS_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red")


def plot_activation(
    name: str,
    derivative: bool = True,
    x_range: tuple[float, float] = (-4, 4),
    ax: Axes | None = None,
) -> Axes:
    """Draw activation `name` (solid) and its derivative (dashed) over x_range."""
    ax = get_axes(ax, FIGSIZE)
    x = np.linspace(*x_range, 401)
    ax.plot(x, scratch.activation(name)(x), label=name)
    if derivative:
        ax.plot(x, scratch.derivative(name, x), "--", label=f"{name}'")
    ax.axhline(0, color="0.8", lw=0.8, zorder=0)
    ax.axvline(0, color="0.8", lw=0.8, zorder=0)
    ax.set(title=name, xlabel="x", ylabel="s(x), s'(x)" if derivative else "s(x)")
    ax.legend(loc="upper left", fontsize=8)
    return ax


def plot_neuron_threshold(
    w: float,
    b: float,
    act: str = "sigmoid",
    x_range: tuple[float, float] = (-5, 5),
    ax: Axes | None = None,
) -> Axes:
    """Output o = s(w x + b) of a 1-input neuron, with its threshold x = -b / w marked."""
    ax = get_axes(ax, FIGSIZE)
    x = np.linspace(*x_range, 401)
    sign = "-" if b < 0 else "+"
    ax.plot(x, scratch.activation(act)(w * x + b), label=f"{act}({w:.1f} x {sign} {abs(b):.1f})")
    if w != 0:
        t = -b / w + 0.0  # + 0.0 turns -0.0 into 0.0
        ax.axvline(t, color="tab:red", ls=":", label=f"threshold x = {t:.2f}")
    ax.set(xlim=x_range, xlabel="x", ylabel="o", title="one neuron")
    ax.legend(loc="upper left", fontsize=8)
    return ax


def plot_perceptron_boundary(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    b: float,
    ax: Axes | None = None,
    title: str | None = None,
    legend: bool = False,
) -> Axes:
    """2-D points coloured by class and the perceptron's line w . x + b = 0 (shaded side = 1)."""
    ax = get_axes(ax, (3.0, 3.0))
    X, y = np.asarray(X, dtype=float), np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_perceptron_boundary draws 2-D inputs; X has shape {X.shape}.")
    lo, hi = X.min(axis=0) - 0.5, X.max(axis=0) + 0.5
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], 200), np.linspace(lo[1], hi[1], 200))
    side = scratch.perceptron_predict(w, b, np.c_[g0.ravel(), g1.ravel()]).reshape(g0.shape)
    ax.contourf(g0, g1, side, levels=[-0.5, 0.5, 1.5], colors=["white", "tab:orange"], alpha=0.2)
    for label in np.unique(y):
        pts = X[y == label]
        ax.scatter(
            pts[:, 0],
            pts[:, 1],
            s=60,
            color=CLASS_COLORS[int(label) % 4],
            edgecolor="k",
            label=f"y={int(label)}",
        )
    if np.any(w != 0):
        ax.contour(g0, g1, g0 * w[0] + g1 * w[1] + b, levels=[0.0], colors="k")
    ax.set(
        xlim=(lo[0], hi[0]),
        ylim=(lo[1], hi[1]),
        xlabel="$x_1$",
        ylabel="$x_2$",
        title=title or f"w=({w[0]:.1f}, {w[1]:.1f}), b={b:.1f}",
    )
    if legend:  # the empty middle of the unit square is the one place that hides no point
        ax.legend(loc="center", fontsize=7, framealpha=0.9, handletextpad=0.2, borderpad=0.3)
    return ax


def plot_perceptron_history(
    X: np.ndarray,
    y: np.ndarray,
    snapshots: Sequence[tuple],
    max_panels: int = 6,
    axes: Sequence[Axes] | None = None,
) -> Sequence[Axes]:
    """One boundary panel per epoch snapshot (evenly thinned to max_panels); returns the Axes."""
    idx = np.unique(np.linspace(0, len(snapshots) - 1, min(max_panels, len(snapshots))).round().astype(int))
    if axes is None:
        _, axes = plt.subplots(1, len(idx), figsize=(2.6 * len(idx), 2.8), squeeze=False,
                               sharey=True, constrained_layout=True)
        axes = axes[0]
    for k, (ax, i) in enumerate(zip(axes, idx, strict=False)):
        w, b = snapshots[i]
        plot_perceptron_boundary(X, y, w, b, ax=ax, title=f"epoch {i}", legend=k == 0)
        if k and ax.get_shared_y_axes().joined(ax, axes[0]):
            ax.set_ylabel("")  # the shared y axis is labelled once, on the first panel
    return axes


def plot_hidden_representation(
    H: np.ndarray,
    y: np.ndarray,
    ax: Axes | None = None,
    title: str = "hidden representation",
    names: tuple[str, str] | None = None,
) -> Axes:
    """Scatter of a representation H (N, k) coloured by y; k > 2 is projected on its top 2 PCs.

    `names` labels the two axes (default: "$h_1$", "$h_2$", or "PC 1", "PC 2" after projection).
    """
    ax = get_axes(ax, (3.2, 3.0))
    H = np.asarray(H, dtype=float)
    if H.ndim != 2:
        raise ValueError(f"H must be (N, features), got shape {H.shape}.")
    if names is None:
        names = ("PC 1", "PC 2") if H.shape[1] > 2 else ("$h_1$", "$h_2$")
    if H.shape[1] > 2:
        Hc = H - H.mean(axis=0)
        _, _, Vt = np.linalg.svd(Hc, full_matrices=False)
        H = Hc @ Vt[:2].T  # (N, 2) principal-component coordinates
    elif H.shape[1] == 1:
        H = np.c_[H, np.zeros(len(H))]
    size = 60 if len(H) <= 20 else 12  # big markers for truth tables, small for data sets
    for label in np.unique(y):
        pts = H[np.asarray(y) == label]
        ax.scatter(pts[:, 0], pts[:, 1], s=size, color=CLASS_COLORS[int(label) % 4], label=f"y={int(label)}")
    ax.set(title=title, xlabel=names[0], ylabel=names[1])
    ax.legend(fontsize=8)
    return ax


def plot_weight_histograms(weights: Mapping[str, np.ndarray], bins: int = 60, ax: Axes | None = None) -> Axes:
    """Overlaid histograms of flattened weights, e.g. {"L1": w1, "L2": w2}, log y-axis."""
    ax = get_axes(ax, (5.0, 3.2))
    for label, w in weights.items():
        ax.hist(np.asarray(w).ravel(), bins=bins, histtype="step", lw=1.5, label=label)
    ax.set_yscale("log")
    ax.set(xlabel="weight value", ylabel="count", title="weight distribution")
    ax.legend(fontsize=8)
    return ax
