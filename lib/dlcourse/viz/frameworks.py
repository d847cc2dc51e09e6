"""Plots for lesson 14 (frameworks and scale): a captured graph, the roofline, where a step's time goes.
ax=None in, Axes out."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.patches import FancyBboxPatch

from dlcourse.frameworks import graph_nodes
from dlcourse.viz import get_axes

COLOURS = {"placeholder": "#dbe9f6", "parameter": "#fde9c9", "call_function": "#d9f0d3",
           "call_module": "#d9f0d3", "call_method": "#d9f0d3", "get_attr": "#fde9c9", "output": "#eeeeee"}


def plot_graph(graph: torch.fx.Graph, ax: Axes | None = None, title: str | None = None,
               parameters: tuple[str, ...] = ()) -> Axes:
    """Draw an FX graph top-down: one box per node, arrows from inputs; `parameters` (placeholder names
    of weights, e.g. from an ExportedProgram's signature) sit to the right of the node that uses them."""
    rows = graph_nodes(graph)
    ax = get_axes(ax, (5, 0.75 * len(rows)))
    position, level, side = {}, 0, {}
    users = {r["name"]: [u["name"] for u in rows if r["name"] in u["inputs"]] for r in rows}
    for r in rows:  # the data path runs down the middle column
        if r["name"] not in parameters:
            position[r["name"]] = (0.0, -level)
            level += 1
    for r in rows:  # each weight beside its first user, several side by side
        if r["name"] in parameters:
            user = (users[r["name"]] or [rows[-1]["name"]])[0]
            k = side[user] = side.get(user, 0) + 1
            position[r["name"]] = (0.9 + 0.95 * (k - 1), position[user][1] + 0.35)
    for r in rows:
        x1, y1 = position[r["name"]]
        for name in r["inputs"]:
            x0, y0 = position[name]
            ax.annotate("", xy=(x1, y1 + 0.2), xytext=(x0, y0 - 0.2),
                        arrowprops=dict(arrowstyle="->", color="0.4", lw=1))
    for r in rows:
        x, y = position[r["name"]]
        kind = "parameter" if r["name"] in parameters else r["op"]
        text = r["name"] if r["op"] in ("placeholder", "get_attr", "output") else f"{r['target']}"
        width = 0.8 if kind == "parameter" else 1.5
        ax.add_patch(FancyBboxPatch((x - width / 2, y - 0.2), width, 0.4, boxstyle="round,pad=0.02",
                                    facecolor=COLOURS.get(kind, "white"), edgecolor="0.3"))
        ax.text(x, y, text, ha="center", va="center", fontsize=8, color="black")
    xs = [p[0] for p in position.values()]
    ax.set_xlim(min(xs) - 1.0, max(xs) + 0.6)
    ax.set_ylim(-level + 0.4, 0.8)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_roofline(measured: dict[str, list[dict]], peak: float, bandwidth: float, ax: Axes | None = None,
                  title: str | None = None, roof_label: str = "roofline") -> Axes:
    """Measured FLOP/s against arithmetic intensity (log-log), under the roof min(peak, I x bandwidth).

    measured: label -> rows of `dlcourse.perf.measure_*` (each with intensity and flop_per_s).
    """
    ax = get_axes(ax, (6, 4))
    intensities = [r["intensity"] for rows in measured.values() for r in rows]
    lo, hi = min(intensities + [peak / bandwidth]) / 3, max(intensities + [peak / bandwidth]) * 3
    grid = np.geomspace(lo, hi, 200)
    ax.loglog(grid, np.minimum(peak, grid * bandwidth), color="black", lw=1.5, label=roof_label)
    ax.axvline(peak / bandwidth, color="0.6", ls=":", lw=1)
    ax.text(peak / bandwidth, peak * 1.15, f"ridge {peak / bandwidth:.0f} FLOP/B", fontsize=8,
            ha="center", color="0.3")
    for (label, rows), marker in zip(measured.items(), "osd^v<>"):
        x = [r["intensity"] for r in rows]
        y = [r["flop_per_s"] for r in rows]
        ax.loglog(x, y, marker=marker, ls="-", lw=0.8, label=label)
        for r, xi, yi in zip(rows, x, y):
            ax.annotate(str(r["size"]), (xi, yi), textcoords="offset points", xytext=(4, -9), fontsize=7,
                        color="0.25")
    ax.set_xlabel("arithmetic intensity (FLOP per byte moved)")
    ax.set_ylabel("FLOP/s")
    ax.legend(fontsize=8, loc="lower right")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_top_ops(ops: list[dict], ax: Axes | None = None, title: str | None = None) -> Axes:
    """Horizontal bars: the share of a profiled step's self CPU time per operator (`frameworks.top_ops`)."""
    ax = get_axes(ax, (6, 0.35 * len(ops) + 1))
    names = [o["name"] for o in ops][::-1]
    shares = [100 * o["share"] for o in ops][::-1]
    ax.barh(names, shares, color="tab:blue")
    for i, s in enumerate(shares):
        ax.text(s + 0.5, i, f"{s:.0f}%", va="center", fontsize=8)
    ax.set_xlabel("share of the step's CPU time (%)")
    ax.set_ylabel("operator")
    ax.tick_params(axis="y", labelsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_bars(values: dict[str, float], ax: Axes | None = None, xlabel: str = "seconds",
              ylabel: str = "", title: str | None = None, fmt: str = "{:.3g}") -> Axes:
    """Labelled horizontal bars, e.g. seconds per epoch of two loaders."""
    ax = get_axes(ax, (6, 0.5 * len(values) + 1))
    names, heights = list(values)[::-1], list(values.values())[::-1]
    bars = ax.barh(names, heights, color=plt.cm.tab10(np.arange(len(names)) % 10))
    for bar, v in zip(bars, heights):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, " " + fmt.format(v), va="center",
                fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    return ax
