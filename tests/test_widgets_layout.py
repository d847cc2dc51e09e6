"""What every explorer shares, without a browser: control rows that wrap, and the static copy of the
picture that a saved notebook keeps (it follows the controls). The real browser: scripts/browser_test.py."""

import importlib.util
from pathlib import Path

import ipywidgets as w
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from dlcourse.widgets import layout  # noqa: E402
from dlcourse.widgets.conv import conv_explorer, pooling_explorer, receptive_field_explorer  # noqa: E402
from dlcourse.widgets.neuron import activation_explorer, neuron_explorer  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


class FakeHandle:
    """Stands in for IPython's DisplayHandle: records each update of a displayed copy."""

    def __init__(self, bundle):
        self.bundles = [bundle]

    def update(self, bundle, raw):
        assert raw
        self.bundles.append(bundle)


@pytest.fixture
def kernel(monkeypatch):
    """Pretend to run in IPython: collect what `display` shows."""
    shown = []

    def fake_display(bundle, raw=False, display_id=None):
        assert raw
        shown.append(bundle)
        return FakeHandle(bundle) if display_id else None

    monkeypatch.setattr(layout, "get_ipython", lambda: object())
    monkeypatch.setattr(layout, "display", fake_display)
    return shown


def test_control_row_wraps_and_keeps_labels_whole():
    slider, label = w.IntSlider(description="threshold"), w.Label("threshold x = -0.50")
    row = layout.control_row([slider, label])
    assert row.layout.flex_flow == "row wrap"
    assert slider.style.description_width == "initial" and slider.layout.flex == "0 0 auto"
    assert slider.layout.width == layout.CONTROL_WIDTH
    assert label.layout.min_width == layout.LABEL_MIN_WIDTH


@pytest.mark.parametrize("make, move", [
    (lambda: neuron_explorer(w=2.0, b=-1.0), lambda ex: setattr(ex.w, "value", 3.0)),
    (lambda: activation_explorer("relu"), lambda ex: setattr(ex.name, "value", "tanh")),
    (lambda: conv_explorer(size=32), lambda ex: setattr(ex.stride, "value", 2)),
    (pooling_explorer, lambda ex: setattr(ex.kernel_size, "value", 3)),
    (receptive_field_explorer, lambda ex: setattr(ex.layers, "value", "conv5, pool2")),
])
def test_every_explorer_draws_a_png_that_follows_its_controls(make, move):
    ex = make()
    box = getattr(ex, "widget", None) or ex.ui
    assert isinstance(box, layout.ExplorerBox) and layout.EXPLORER_CLASS in box._dom_classes
    before = box.png
    assert before.startswith(PNG_MAGIC)
    assert box.children[-2].outputs[-1]["data"]["image/png"]  # the Output shows the same picture
    move(ex)
    assert box.png.startswith(PNG_MAGIC) and box.png != before


def test_displayed_explorer_leaves_a_static_copy_that_follows_it(kernel):
    ex = neuron_explorer(w=2.0, b=-1.0)
    ex.ui._ipython_display_()  # what `display(explorer)` ends up calling
    widget_bundle, copy_bundle = kernel
    assert "application/vnd.jupyter.widget-view+json" in widget_bundle
    assert copy_bundle["text/plain"] == layout.COPY_NOTE
    first = copy_bundle["image/png"]
    ex.b.value = 1.5
    handle = ex.ui._copies[0]
    assert len(handle.bundles) == 2 and handle.bundles[-1]["image/png"] != first
    assert handle.bundles[-1]["image/png"] == ex.ui.children[-2].outputs[0]["data"]["image/png"]


def test_explorer_error_text_replaces_the_picture_and_its_copy(kernel):
    ex = receptive_field_explorer()
    ex.widget._ipython_display_()
    ex.layers.value = "conv3, blur5"
    assert ex.widget.png is None
    assert ex.widget.children[-2].outputs[0]["text"].startswith("cannot read layer 2")
    assert "no picture" in ex.widget._copies[0].bundles[-1]["text/plain"]


def test_box_without_static_copy_shows_only_the_widget(kernel):
    box = layout.ExplorerBox([w.Output()], static_copy=False)
    box._ipython_display_()
    assert len(kernel) == 1 and box._copies == []


def test_hiding_style_sits_inside_the_live_widget_only():
    box = layout.ExplorerBox([w.Output()])
    style = box.children[-1]
    assert isinstance(style, w.HTML) and style.layout.display == "none"
    assert f":has(.{layout.EXPLORER_CLASS}) + .jp-OutputArea-child" in style.value


def test_exported_html_says_its_math_needs_a_network():
    path = Path(__file__).resolve().parents[1] / "scripts" / "run_course.py"
    spec = importlib.util.spec_from_file_location("run_course", path)
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    html = runner.add_network_note('<html><head></head><body class="x">\n<p>$$a^2$$</p></body></html>')
    assert html.index('<body class="x">') < html.index("needs a network") < html.index("$$a^2$$")
    assert "MathJax.Hub" in html  # the note hides itself where MathJax did load
    with pytest.raises(ValueError, match="no <body>"):
        runner.add_network_note("<p>no body</p>")
