"""What every explorer shares: controls that wrap on a narrow screen, and a picture that outlives it.

- `control_row` lays controls out in a row that wraps onto more lines when the notebook is narrow
  (1024 px with the file browser open), instead of squeezing sliders to a bare handle and cutting
  their labels.
- `ExplorerBox` is the explorer's VBox. Displayed, it also leaves a static copy of its current picture
  as an ordinary image output under it, kept up to date as the controls move. A saved notebook,
  reopened without its kernel ("model not found") or exported to HTML without a network, shows that
  picture; while the live widget renders, a style inside it hides the copy, so nobody sees it twice.
"""

from __future__ import annotations

import base64
import io

import ipywidgets as w
import matplotlib.pyplot as plt
from IPython import get_ipython
from IPython.display import display

EXPLORER_CLASS = "dlcourse-explorer"
CONTROL_WIDTH = "300px"  # ipywidgets' own default; a row wraps before a control gets narrower
LABEL_MIN_WIDTH = "11em"  # a text label ("threshold x = -0.50") keeps room for its whole text
# only present while the live widget renders: it hides the static copy displayed right after it
_HIDE_COPY = (f"<style>.jp-OutputArea-child:has(.{EXPLORER_CLASS}) + .jp-OutputArea-child,"
              f".output_area:has(.{EXPLORER_CLASS}) + .output_area {{display: none;}}</style>")
COPY_NOTE = ("A static picture of the explorer above, as it was when the notebook was saved: run the "
             "cell to use the explorer.")


def control_row(controls: list[w.Widget]) -> w.HBox:
    """A row of controls that wraps onto more lines rather than shrinking them; labels stay whole."""
    for control in controls:
        if isinstance(control, w.Label):
            control.layout.width, control.layout.min_width = "auto", LABEL_MIN_WIDTH
            continue
        control.layout.width = CONTROL_WIDTH
        control.layout.flex = "0 0 auto"  # never shrink below its width: wrap instead
        if "description_width" in control.style.keys:
            control.style.description_width = "initial"  # as wide as its description, never cut
    return w.HBox(controls, layout=w.Layout(flex_flow="row wrap", align_items="center",
                                            width="100%", grid_gap="0 12px"))


def figure_png(fig) -> bytes:
    """The figure as PNG bytes (at the figure's own dpi), then closed."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def png_output(png: bytes, text: str = "<explorer picture>") -> dict:
    """A display_data output (an nbformat dict) that shows the PNG, for an Output's `outputs`."""
    data = {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": text}
    return {"output_type": "display_data", "data": data, "metadata": {}}


class ExplorerBox(w.VBox):
    """An explorer's VBox that, displayed, leaves a static copy of its picture in the saved output."""

    def __init__(self, children: list[w.Widget], static_copy: bool = True, **kwargs) -> None:
        self.static_copy = static_copy  # False where the notebook draws its own (`snapshot()`)
        self._style = w.HTML(_HIDE_COPY, layout=w.Layout(display="none"))
        super().__init__([*children, self._style], **kwargs)
        self.add_class(EXPLORER_CLASS)
        self.png: bytes | None = None  # the current picture; tests read it without a browser
        self._copies: list = []  # DisplayHandles of the static copies shown so far

    def set_picture(self, out: w.Output, png: bytes | None, text: str | None = None) -> None:
        """Show `png` (and/or `text`) in the Output `out` and refresh every static copy of it.

        The Output's contents are replaced directly rather than captured with `with out:
        display(...)`: capturing makes headless runners (nbclient, papermill, nbgrader) mimic the
        Output widget from the client side, which can leave a cell waiting forever.
        """
        self.png = png
        outputs = []
        if text is not None:
            outputs.append({"output_type": "stream", "name": "stdout", "text": text + "\n"})
        if png is not None:
            outputs.append(png_output(png))
        out.outputs = tuple(outputs)
        for handle in self._copies:
            handle.update(self._copy_bundle(), raw=True)

    def _copy_bundle(self) -> dict:
        if self.png is None:
            return {"text/plain": COPY_NOTE + " (It has no picture now.)"}
        return png_output(self.png, COPY_NOTE)["data"]

    def _ipython_display_(self) -> None:
        display(self._repr_mimebundle_(), raw=True)
        if self.static_copy and get_ipython() is not None:
            self._copies.append(display(self._copy_bundle(), raw=True, display_id=True))
