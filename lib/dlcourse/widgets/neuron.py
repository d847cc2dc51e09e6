"""Widgets for part 1: an activation-function explorer and a one-neuron w/b threshold explorer.

Each widget is a thin shell: controls whose changes call `update()`, which redraws through a
plain function of `dlcourse.viz.neuron`. Tests set `.value` on a control and read the result,
no browser needed. Display one in a notebook by leaving it as the last expression of a cell.
"""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import display
from matplotlib.axes import Axes

from dlcourse import scratch
from dlcourse.viz import neuron as nviz
from dlcourse.widgets.layout import ExplorerBox, control_row, figure_png


def neuron_threshold(w: float, b: float) -> float | None:
    """Input x at which w x + b crosses 0 (where a step neuron switches on); None if w == 0."""
    return None if w == 0 else -b / w + 0.0  # + 0.0 turns -0.0 into 0.0


class _Explorer:
    """Shared plumbing: one figure drawn into an Output, redrawn whenever a control changes."""

    def _setup(self, controls: list[widgets.Widget], figsize: tuple[float, float]) -> None:
        self.fig, self.ax = plt.subplots(figsize=figsize)
        plt.close(self.fig)  # keep the inline backend from drawing it a second time
        self.out = widgets.Output()
        for control in controls:
            if not isinstance(control, widgets.Label):  # a label is output: observing it redraws twice
                control.observe(self.update, names="value")
        self.ui = ExplorerBox([control_row(controls), self.out])
        self.update()

    def _show(self) -> None:
        """Put the redrawn figure into the Output area and the static copies under the explorer."""
        self.ui.set_picture(self.out, figure_png(self.fig))

    def update(self, change: dict | None = None) -> Axes:
        """Redraw from the current control values; returns the Axes drawn on."""
        raise NotImplementedError

    def _ipython_display_(self) -> None:
        display(self.ui)


class ActivationExplorer(_Explorer):
    """Pick an activation from a dropdown and toggle its derivative."""

    def __init__(self, name: str = "sigmoid"):
        scratch.activation(name)  # fail early on a typo, with the list of choices
        self.name = widgets.Dropdown(
            options=sorted(scratch.ACTIVATIONS), value=name, description="activation"
        )
        self.show_derivative = widgets.Checkbox(value=True, description="derivative")
        self._setup([self.name, self.show_derivative], (4.5, 3.0))

    def update(self, change: dict | None = None) -> Axes:
        """Redraw the chosen activation (and derivative if ticked)."""
        self.ax.clear()
        nviz.plot_activation(self.name.value, derivative=self.show_derivative.value, ax=self.ax)
        self._show()
        return self.ax


class NeuronExplorer(_Explorer):
    """Sliders for a 1-input neuron's w and b: watch the threshold x = -b / w move."""

    def __init__(self, w: float = 1.0, b: float = 0.0, act: str = "step"):
        scratch.activation(act)
        self.w = widgets.FloatSlider(value=w, min=-5, max=5, step=0.1, description="w")
        self.b = widgets.FloatSlider(value=b, min=-5, max=5, step=0.1, description="b")
        self.act = widgets.Dropdown(options=sorted(scratch.ACTIVATIONS), value=act, description="s")
        self.threshold = widgets.Label()
        self._setup([self.w, self.b, self.act, self.threshold], (5.0, 3.0))

    def update(self, change: dict | None = None) -> Axes:
        """Redraw o = s(w x + b) and refresh the threshold label."""
        t = neuron_threshold(self.w.value, self.b.value)
        self.threshold.value = "no threshold (w = 0)" if t is None else f"threshold x = {t:.2f}"
        self.ax.clear()
        nviz.plot_neuron_threshold(self.w.value, self.b.value, self.act.value, ax=self.ax)
        self._show()
        return self.ax


def activation_explorer(name: str = "sigmoid") -> ActivationExplorer:
    """Build the activation explorer (dropdown + derivative checkbox)."""
    return ActivationExplorer(name)


def neuron_explorer(w: float = 1.0, b: float = 0.0, act: str = "step") -> NeuronExplorer:
    """Build the w/b threshold explorer for one neuron."""
    return NeuronExplorer(w, b, act)
