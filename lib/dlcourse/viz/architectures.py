"""Plots for the architecture lesson: ILSVRC timeline, layer costs, receptive fields, trade-offs.

Each takes `ax=None` (a new figure) and returns the Axes; none calls show().
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dlcourse.viz import get_axes

FIGSIZE = (7, 3.5)  # inches, when no Axes is given

__all__ = ["ILSVRC_TOP5", "HUMAN_TOP5", "LABELS", "plot_ilsvrc", "plot_layer_costs",
           "plot_receptive_field", "plot_tradeoff"]

# what a results key means, for axis labels and titles (other keys are shown as they are)
LABELS: dict[str, str] = {
    "macs": "multiply-adds per image",
    "params": "parameters",
    "test_acc": "test accuracy",
    "seconds": "training time (s)",
}

# ILSVRC classification winners (and VGG, 2014's runner-up): (year, entry, top-5 error in %)
ILSVRC_TOP5: list[tuple[int, str, float]] = [
    (2010, "NEC-UIUC", 28.2),
    (2011, "XRCE", 25.8),
    (2012, "AlexNet", 16.4),
    (2013, "ZFNet", 11.7),
    (2014, "VGG", 7.3),
    (2014, "GoogLeNet", 6.7),
    (2015, "ResNet", 3.57),
    (2016, "Trimps-Soushen", 2.99),
    (2017, "SENet", 2.25),
]
HUMAN_TOP5 = 5.1  # Karpathy's own top-5 error on 1500 test images (2014)


def plot_ilsvrc(results: Sequence[tuple[int, str, float]] = ILSVRC_TOP5, human: float = HUMAN_TOP5,
                ax=None):
    """Bar chart of ILSVRC top-5 error by year and entry, with the human error as a line."""
    ax = get_axes(ax, FIGSIZE)
    labels = [f"{year}\n{_wrap(name)}" for year, name, _ in results]
    errors = [err for *_, err in results]
    deep = ["C0" if year >= 2012 else "C7" for year, *_ in results]  # CNNs from 2012 on
    bars = ax.bar(range(len(results)), errors, color=deep)
    ax.bar_label(bars, fmt="%.1f", fontsize=8)
    ax.axhline(human, color="C3", ls="--", lw=1)
    ax.text(len(results) - 0.5, human + 0.4, f"human ~{human}", color="C3", ha="right", fontsize=8)
    ax.set_xticks(range(len(results)), labels, fontsize=7)
    ax.set(xlabel="year and entry (grey: before CNNs)", ylabel="top-5 error (%)",
           title="ImageNet (ILSVRC) classification")
    return ax


def _wrap(name: str, width: int = 10) -> str:
    """A long hyphenated name on two lines ("Trimps-\\nSoushen"), so that tick labels stay apart."""
    return name.replace("-", "-\n", 1) if len(name) > width else name


def plot_layer_costs(summary, kinds: tuple[str, ...] = ("Conv2d", "Linear", "MaxPool2d"), ax=None):
    """Per-layer parameters and activation values (log scale) from a `dlcourse.summary` result.

    For VGG-16 it shows the classic split: memory is spent early, parameters late.
    """
    rows = [layer for layer in summary.layers if layer.kind in kinds]
    if not rows:
        raise ValueError(f"no layers of kinds {kinds} in this summary; pass kinds=(...) to choose")
    ax = get_axes(ax, figsize=(9, 3.5))
    x = np.arange(len(rows))
    values = [int(np.prod(layer.output_shape[1:])) for layer in rows]  # activations per image
    params = [layer.params or np.nan for layer in rows]  # no bar for parameter-free layers
    ax.bar(x - 0.2, params, 0.4, label="parameters")
    ax.bar(x + 0.2, values, 0.4, label="activation values")
    ax.set_yscale("log")
    ax.set_xticks(x, [f"{layer.name} ({layer.kind[:4]})" for layer in rows], rotation=75,
                  fontsize=7)
    ax.set(xlabel="layer (type)", ylabel="count (log scale)",
           title="where the parameters and the memory go")
    ax.legend(fontsize=8)
    return ax


def plot_receptive_field(summary, ax=None):
    """Receptive-field size (height) and jump of every layer that has one, in forward order."""
    rows = [layer for layer in summary.layers if layer.rf is not None]
    if not rows:
        raise ValueError("no layer in this summary has a finite receptive field (no convolutions?)")
    ax = get_axes(ax, FIGSIZE)
    x = np.arange(len(rows))
    ax.step(x, [layer.rf[0] for layer in rows], where="post", label="receptive field (pixels)")
    ax.step(x, [layer.jump[0] for layer in rows], where="post", label="jump (input pixels/step)")
    ax.axhline(summary.input_size[-2], color="gray", ls=":", lw=1, label="input size")
    ax.set_yscale("log", base=2)
    ax.set(xlabel="layer (forward order)", ylabel="pixels", title="receptive field growth")
    ax.legend(fontsize=8)
    return ax


def plot_tradeoff(results: Sequence[dict], x: str = "macs", y: str = "test_acc",
                  size: str | None = "params", label: str = "name", reference: Sequence[dict] = (),
                  reference_label: str = "full run", ax=None):
    """Scatter of results (dicts, e.g. one per trained model): y against x (log), area ~ size.

    `reference` (dicts with the same `label`, x and y keys, e.g. a full run's) is drawn as hollow
    markers in each result's colour, joined to it by a thin line; `reference_label` names it in the
    legend. Axis labels say what the keys mean (`LABELS`).
    """
    if not results:
        raise ValueError("results is empty: pass dicts like {'name': ..., 'macs': ..., ...}")
    missing = {x, y, label, *([size] if size else [])} - set(results[0])
    if missing:
        raise KeyError(f"results need keys {sorted(missing)}; they have {sorted(results[0])}")
    for r in reference:
        if {x, y, label} - set(r):
            raise KeyError(f"reference entries need keys {sorted({x, y, label})}; got {sorted(r)}")
    ax = get_axes(ax, figsize=(6, 4))
    xs = np.array([r[x] for r in results], dtype=float)
    ys = np.array([r[y] for r in results], dtype=float)
    if size:
        s = np.array([r[size] for r in results], dtype=float)
        area = 30 + 600 * s / s.max()
    else:
        area = np.full(len(results), 60.0)
    colors = [f"C{i % 10}" for i in range(len(results))]
    ax.scatter(xs, ys, s=area, alpha=0.6, c=colors)
    for xi, yi, r in zip(xs, ys, results):
        ax.annotate(str(r[label]), (xi, yi), textcoords="offset points", xytext=(5, 5), fontsize=8)
    if reference:
        ref = {r[label]: r for r in reference}
        for xi, yi, r, color, a in zip(xs, ys, results, colors, area):
            if r[label] in ref:
                rx, ry = float(ref[r[label]][x]), float(ref[r[label]][y])
                ax.plot([xi, rx], [yi, ry], color=color, lw=0.8, alpha=0.5)
                ax.scatter([rx], [ry], s=a, facecolors="none", edgecolors=color, linewidths=1.5)
        ax.scatter([], [], s=60, c="gray", alpha=0.6, label="this run")  # legend entries only
        ax.scatter([], [], s=60, facecolors="none", edgecolors="gray", label=reference_label)
        ax.legend(fontsize=8, loc="best")
    ax.set_xscale("log")
    ax.margins(x=0.12)  # room for the names of the outermost points
    name = LABELS.get
    title = f"{name(y, y)} vs {name(x, x)}" + (f"\n(marker area ~ {name(size, size)})" if size else "")
    ax.set(xlabel=f"{name(x, x)} (log scale)", ylabel=name(y, y), title=title)
    return ax
