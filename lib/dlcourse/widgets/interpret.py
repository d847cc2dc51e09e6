"""An explorer for lesson 11: pick an image, a class and a method; see what the network looked at.

A thin shell over `dlcourse.viz.interpret.plot_explanation` (which calls `dlcourse.interpret`): the
controls only choose its arguments. `snapshot()` draws the current state as an ordinary figure, so
a notebook exported to HTML (or reopened without a kernel) still shows something.
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as w
import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes
from torch import nn

from dlcourse import interpret
from dlcourse.viz import interpret as vinterpret
from dlcourse.viz.conv import plot_image
from dlcourse.widgets.layout import ExplorerBox, control_row, figure_png

PREDICTED = -1  # the class dropdown's "the network's own answer"


class InterpretExplorer:
    """Image slider, class dropdown (its prediction or any class), method dropdown -> the map."""

    def __init__(self, model: nn.Module, X: torch.Tensor, y: torch.Tensor, classes: Sequence[str],
                 method: str = "guided Grad-CAM") -> None:
        self.model, self.X, self.y, self.classes = model, interpret.check_images(X), y, list(classes)
        self.image = w.IntSlider(value=0, min=0, max=len(X) - 1, description="image")
        options = [("its prediction", PREDICTED)] + [(name, c) for c, name in enumerate(classes)]
        self.target = w.Dropdown(options=options, value=PREDICTED, description="class")
        self.method = w.Dropdown(options=list(interpret.METHODS), value=method, description="method")
        self.out = w.Output()
        for control in (self.image, self.target, self.method):
            control.observe(self.update, names="value")
        # lesson 11 shows `snapshot()` under the explorer itself, so the box adds no copy of its own
        self.widget = ExplorerBox([control_row([self.image, self.target, self.method]), self.out],
                                  static_copy=False)
        self.result: dict = {}
        self.update()

    def state(self) -> dict:
        """The current choice: image index, the image (1, C, H, W), the class to explain, the method."""
        i = self.image.value
        x = self.X[i:i + 1]
        with torch.no_grad(), interpret.inspecting(self.model):
            probs = self.model(x).softmax(1)[0]
        target = int(probs.argmax()) if self.target.value == PREDICTED else self.target.value
        return dict(index=i, x=x, label=int(self.y[i]), target=target, method=self.method.value,
                    probs=probs)

    def draw(self, axes: Sequence[Axes]) -> Sequence[Axes]:
        """Draw the image and the method's map for the current state on two Axes."""
        s = self.state()
        name = self.classes[s["target"]]
        plot_image(s["x"][0, 0], axes[0], title=f"{self.classes[s['label']]} (image {s['index']})\n"
                   f"p({name}) = {s['probs'][s['target']]:.2f}")
        vinterpret.plot_explanation(self.model, s["x"], s["target"], s["method"], axes[1], self.classes)
        return axes

    def update(self, change: object = None) -> dict:
        """Recompute from the controls and redraw into the widget's output; returns the state."""
        self.result = self.state()
        fig, axes = plt.subplots(1, 2, figsize=(7, 3.2), layout="constrained")
        self.draw(axes)
        self.widget.set_picture(self.out, figure_png(fig))
        return self.result

    def snapshot(self) -> Sequence[Axes]:
        """The current state as a new figure (call plt.show() after it): what an export keeps."""
        fig, axes = plt.subplots(1, 2, figsize=(7, 3.6), layout="constrained")
        fig.suptitle("the explorer's current state", fontsize=9)
        return self.draw(axes)


def interpret_explorer(model: nn.Module, X: torch.Tensor, y: torch.Tensor, classes: Sequence[str],
                       method: str = "guided Grad-CAM") -> InterpretExplorer:
    """Build the explorer; show it with `display(explorer.widget)`."""
    return InterpretExplorer(model, X, y, classes, method)
