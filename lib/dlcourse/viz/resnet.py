"""Plots for the residual-network lesson. Each takes `ax=None` and returns the Axes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from matplotlib.ticker import MaxNLocator

from dlcourse.viz import get_axes


def plot_degradation(curves: Mapping[tuple[int, bool], Sequence[float]], ylabel: str = "error", ax=None):
    """Error per epoch for each (depth, residual) run: one color per depth, plain dashed.

    Args:
        curves: {(depth, residual): [error after epoch 1, 2, ...]}.
    """
    ax = get_axes(ax)
    depths = sorted({depth for depth, _ in curves})
    for (depth, residual), values in sorted(curves.items()):
        epochs = np.arange(1, len(values) + 1)
        ax.plot(
            epochs,
            values,
            color=f"C{depths.index(depth)}",
            ls="-" if residual else "--",
            marker="o",
            ms=3,
            label=f"{'ResNet' if residual else 'plain'}-{depth}",
        )
    ax.set(xlabel="epoch", ylabel=ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    ax.legend(fontsize=8)
    return ax


def plot_input_gradient(
    x: torch.Tensor | np.ndarray, grads: torch.Tensor | np.ndarray, title: str = "", ax=None
):
    """dy/dx along a 1-D input sweep (Balduzzi et al. 2017, fig. 1)."""
    ax = get_axes(ax, figsize=(4, 3))
    ax.plot(np.asarray(x).ravel(), np.asarray(grads).ravel(), lw=0.8)
    ax.set(xlabel="input x", ylabel="dy/dx", title=title)
    return ax


def plot_autocorrelation(acs: Mapping[str, Sequence[float]], ax=None):
    """Autocorrelation of the input gradient vs distance (in sweep steps), one line per net."""
    ax = get_axes(ax)
    for name, values in acs.items():
        ax.plot(np.arange(len(values)), list(values), marker="o", ms=3, label=name)
    ax.axhline(0, color="gray", lw=0.5)
    ax.set(xlabel="lag (sweep steps)", ylabel="autocorrelation", ylim=(-0.3, 1.05))
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))  # outside: never over a curve
    return ax


def plot_path_lengths(counts: Sequence[int], ax=None):
    """Bar chart of how many paths pass k residual branches (the binomial distribution)."""
    ax = get_axes(ax)
    counts = np.asarray(counts, dtype=float)
    ax.bar(np.arange(len(counts)), counts / counts.sum(), color="C0")
    ax.set(
        xlabel="path length k (residual branches passed)",
        ylabel="fraction of paths",
        title=f"{len(counts) - 1} blocks: {int(counts.sum()):.3g} paths",
    )
    return ax


def plot_lesion(
    scores: Mapping[str, Sequence[float]],
    baselines: Mapping[str, float] | None = None,
    chance: float | None = None,
    blocks_per_stage: int | None = None,
    ax=None,
):
    """Test accuracy after deleting each block in turn (Veit et al. 2016, fig. 3), block 1 first.

    Args:
        scores: {net name: [accuracy with block 1 deleted, block 2 deleted, ...]}.
        baselines: {net name: accuracy of the intact net}, drawn as dotted lines of the same color.
        chance: accuracy of guessing (0.1 for ten classes), drawn as a gray dashed line.
        blocks_per_stage: draws thin vertical lines between the stages.
    """
    ax = get_axes(ax, figsize=(6, 3.5))
    for i, (name, values) in enumerate(scores.items()):
        blocks = np.arange(1, len(values) + 1)
        ax.plot(blocks, list(values), color=f"C{i}", marker="o", ms=4, label=f"{name}, one block deleted")
        if baselines is not None and name in baselines:
            ax.axhline(baselines[name], color=f"C{i}", ls=":", lw=1.5, label=f"{name}, intact")
    if chance is not None:
        ax.axhline(chance, color="gray", ls="--", lw=1, label="chance")
    if blocks_per_stage:
        num_blocks = max(len(values) for values in scores.values())
        for boundary in range(blocks_per_stage, num_blocks, blocks_per_stage):
            ax.axvline(boundary + 0.5, color="gray", lw=0.5)
    ax.set(xlabel="deleted block (1 = nearest the input)", ylabel="test accuracy", ylim=(0, 1))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))  # outside: never over a curve
    return ax


def plot_trajectories(trajectories: Mapping[str, torch.Tensor | np.ndarray], ax=None):
    """2-D trajectories (T, 2), e.g. Euler steps with different step sizes vs the exact flow."""
    ax = get_axes(ax, figsize=(4.5, 4.5))
    for name, traj in trajectories.items():
        traj = np.asarray(traj)
        marker = "o" if len(traj) <= 40 else None  # show the individual steps when there are few
        ax.plot(traj[:, 0], traj[:, 1], marker=marker, ms=3, label=name)
    ax.set(xlabel="$y_1$", ylabel="$y_2$", aspect="equal")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))  # outside: never over a curve
    return ax


def plot_activation_stats(stats: Mapping[str, Mapping[str, Sequence[float]]], key: str = "std", ax=None):
    """One statistic ("std" or "mean") of each block's output vs depth, one line per net."""
    ax = get_axes(ax)
    for name, values in stats.items():
        ax.plot(np.arange(1, len(values[key]) + 1), list(values[key]), marker="o", ms=3, label=name)
    ax.set(xlabel="block", ylabel=f"activation {key}")
    ax.legend(fontsize=8)
    return ax
