"""Figure lint: every chart says what its axes are and has readable legends.

`figure_problems(fig)` lists what a reader would stumble on: an Axes without an x or y label (image
panels and Axes with the axis turned off are exempt, and so is an axis shared with a labelled one), a
legend entry that is empty or a raw parameter name ("1.weight"), or legend text under 6 points.
With $DLCOURSE_LINT_FIGURES=1 (`make test` sets it), `dlcourse.setup` makes `plt.show()` raise on them.
"""

from __future__ import annotations

import re

import matplotlib.pyplot as plt

RAW_NAME = re.compile(r"^([\w]+\.)*\d+\.(weight|bias)$")  # "1.weight", "layers.3.bias"
MIN_FONT_PT = 6


def figure_problems(fig) -> list[str]:
    """What is unlabelled or unreadable in `fig`, one line per problem (empty when it is fine)."""
    problems = []
    for i, ax in enumerate(fig.axes):
        name = f"Axes {i}" + (f" ({ax.get_title()!r})" if ax.get_title() else "")
        if not ax.get_visible() or not ax.axison or ax.images or hasattr(ax, "_colorbar"):
            continue
        for axis in ("x", "y"):
            if not _labelled(ax, axis):
                problems.append(f"{name}: no {axis} label (ax.set_{axis}label(...))")
        legend = ax.get_legend()
        for text in legend.get_texts() if legend is not None else ():
            label = text.get_text()
            if not label.strip() or RAW_NAME.match(label):
                problems.append(f"{name}: legend entry {label!r} is not readable; name what it shows")
            if text.get_fontsize() < MIN_FONT_PT:
                problems.append(f"{name}: legend text of {text.get_fontsize():.0f} pt is too small")
    return problems


def _labelled(ax, axis: str) -> bool:
    if getattr(ax, f"get_{axis}label")():
        return True
    shared = ax.get_shared_x_axes() if axis == "x" else ax.get_shared_y_axes()
    return any(getattr(other, f"get_{axis}label")() for other in shared.get_siblings(ax) if other is not ax)


def install_figure_lint() -> None:
    """Make `plt.show()` check every open figure first and raise `AssertionError` listing problems."""
    if getattr(plt.show, "_dlcourse_lint", False):
        return
    show = plt.show

    def checked_show(*args, **kwargs):
        problems = [f"figure {num}: {p}" for num in plt.get_fignums()
                    for p in figure_problems(plt.figure(num))]
        if problems:
            plt.close("all")
            raise AssertionError("figures a reader cannot read:\n  " + "\n  ".join(problems))
        result = show(*args, **kwargs)
        if plt.get_backend().lower() == "agg":  # nothing displays them: free them as inline would
            plt.close("all")
        return result

    checked_show._dlcourse_lint = True
    plt.show = checked_show
