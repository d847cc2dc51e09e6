"""Explorers for convolution, pooling and receptive fields: plain functions, thin ipywidgets."""

from __future__ import annotations

import re

import ipywidgets as w
import matplotlib.pyplot as plt
import torch

from dlcourse import conv, pooling, shapes
from dlcourse.viz import conv as vconv
from dlcourse.widgets.layout import ExplorerBox, control_row, figure_png


def _show(box: ExplorerBox, out: w.Output, text: str | None = None, fig=None) -> None:
    """Replace what `out` shows by `text` and/or the figure `fig` (then closed); copies follow."""
    box.set_picture(out, None if fig is None else figure_png(fig), text)


# the lecture's pooling example
WORKED_4X4 = torch.tensor([[1.0, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]])


# ---------------------------------------------------------------- plain logic (unit-tested)
def load_image(name: str, size: int = 64) -> torch.Tensor:
    """An (H, W) image by name: "grace_hopper" (a photo) or a synthetic conv.make_pattern name."""
    if name == "grace_hopper":
        return conv.sample_image(size)
    return conv.make_pattern(name, size)


def parse_kernel(text: str) -> torch.Tensor:
    """Parse custom weights: rows split by ';' or newlines, numbers by spaces or commas."""
    rows = [r for r in re.split(r"[;\n]", text.strip()) if r.strip()]
    if not rows:
        raise ValueError("no weights given: type rows like '1 0 -1; 2 0 -2; 1 0 -1'")
    try:
        values = [[float(v) for v in re.split(r"[,\s]+", r.strip())] for r in rows]
    except ValueError as err:
        raise ValueError(f"could not read a number in {text!r} ({err}); use digits, '.', '-' and "
                         "separate numbers by spaces or commas") from None
    widths = {len(r) for r in values}
    if len(widths) != 1:
        raise ValueError(f"rows have different lengths {[len(r) for r in values]}: every row of "
                         "the kernel needs the same number of weights")
    return torch.tensor(values)


def output_size_formula(N: int, F: int, P: int, S: int, D: int = 1) -> tuple[str, bool]:
    """The formula (N - F_eff + 2P)/S + 1 written out with numbers, and whether the stride fits."""
    span = shapes.effective_kernel_size(F, D)
    value = (N - span + 2 * P) / S + 1
    kernel = f"{F}" if D == 1 else f"{span} (F={F}, dilation {D})"
    text = f"({N} - {kernel} + 2*{P})/{S} + 1 = {value:.4g}"
    if value < 1:
        return text + ": the kernel is larger than the padded input", False
    if value != int(value):
        return text + f": doesn't fit (torch floors it to {int(value)})", False
    return text, True


def explore_conv(image: torch.Tensor, kernel: torch.Tensor, stride: int = 1, padding: int = 0,
                 dilation: int = 1) -> dict:
    """Filter an (H, W) image; return output, the output-size formula and whether it fits."""
    (h, w), (kh, kw) = image.shape, kernel.shape
    rows_text, fits_h = output_size_formula(h, kh, padding, stride, dilation)
    cols_text, fits_w = output_size_formula(w, kw, padding, stride, dilation)
    try:
        output = conv.filter_image(image, kernel, stride=stride, padding=padding, dilation=dilation)
    except ValueError:
        output = None  # kernel larger than the padded input
    formula = rows_text if rows_text == cols_text else f"rows {rows_text}; columns {cols_text}"
    return dict(output=output, formula=formula, fits=fits_h and fits_w,
                out_shape=None if output is None else tuple(output.shape))


def explore_pool(x: torch.Tensor, kernel_size: int = 2, stride: int = 2, mode: str = "max") -> dict:
    """Pool an (H, W) map; return output, formula and, for max, the (row, col) of every winner."""
    formula, fits = output_size_formula(x.shape[0], kernel_size, 0, stride)
    if x.shape[0] < kernel_size or x.shape[1] < kernel_size:
        return dict(output=None, winners=[], formula=formula, fits=False)
    output = pooling.pool2d(x[None, None], kernel_size, stride, mode=mode)[0, 0]
    winners = []
    if mode == "max":
        _, idx = pooling.max_pool2d_with_indices(x[None, None], kernel_size, stride)
        winners = sorted({divmod(int(i), x.shape[1]) for i in idx.flatten()})
    return dict(output=output, winners=winners, formula=formula, fits=fits)


def parse_layers(text: str) -> list[tuple[int, int, int, int, str]]:
    """Parse a stack like "conv3, conv3 s2, pool2, conv3 d2" into receptive_field() tuples.

    Each item: conv<k> or pool<k>, then optional s<stride>, d<dilation>, p<padding>. Pools default
    to stride = kernel, convs to stride 1 and 'same' padding.
    """
    layers = []
    for i, item in enumerate(t.strip() for t in text.split(",") if t.strip()):
        m = re.fullmatch(r"(conv|pool)(\d+)((?:\s+[sdp]\d+)*)", item.lower())
        if not m:
            raise ValueError(f"cannot read layer {i + 1} {item!r}: write e.g. 'conv3', 'conv5 s2', "
                             "'conv3 d2', 'pool2' or 'pool3 s2'")
        kind, k = m.group(1), int(m.group(2))
        opts = {o[0]: int(o[1:]) for o in m.group(3).split()}
        s = opts.get("s", k if kind == "pool" else 1)
        d = opts.get("d", 1)
        p = opts.get("p", 0 if kind == "pool" else (d * (k - 1)) // 2)
        layers.append((k, s, d, p, f"{kind}{i + 1}"))
    if not layers:
        raise ValueError("no layers given: write e.g. 'conv3, conv3, pool2'")
    return layers


def explore_receptive_field(text: str, input_size: int = 32) -> dict:
    """Receptive-field rows and their text table for a layer stack written as in parse_layers."""
    rows = shapes.receptive_field(parse_layers(text), input_size)
    return dict(rows=rows, table=shapes.format_receptive_field(rows))


# ---------------------------------------------------------------- thin UIs
class ConvExplorer:
    """Image, kernel preset or custom weights, stride, padding, dilation -> output and formula."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        images = ["grace_hopper", "square", "impulse", "checkerboard", "stripes", "ramp"]
        self.image = w.Dropdown(options=images, value="grace_hopper", description="image")
        self.kernel = w.Dropdown(options=[*conv.KERNELS, "custom"], value="sobel_x",
                                 description="kernel")
        self.custom = w.Text(value="1 0 -1; 2 0 -2; 1 0 -1", description="weights")
        self.stride = w.IntSlider(value=1, min=1, max=4, description="stride")
        self.padding = w.IntSlider(value=1, min=0, max=4, description="padding")
        self.dilation = w.IntSlider(value=1, min=1, max=4, description="dilation")
        self.out = w.Output()
        controls = [self.image, self.kernel, self.custom, self.stride, self.padding, self.dilation]
        for c in controls:
            c.observe(self.update, names="value")
        self.widget = ExplorerBox([control_row(controls[:3]), control_row(controls[3:]), self.out])
        self.result: dict = {}
        self.update()

    def update(self, change: object = None) -> dict:
        """Recompute from the current widget values and redraw; returns the result dict."""
        try:
            kernel = (parse_kernel(self.custom.value) if self.kernel.value == "custom"
                      else conv.get_kernel(self.kernel.value))
            image = load_image(self.image.value, self.size)
            self.result = explore_conv(image, kernel, self.stride.value, self.padding.value,
                                       self.dilation.value)
            self.result.update(image=image, kernel=kernel, error=None)
        except ValueError as err:
            self.result = dict(error=str(err), output=None)
        self._draw()
        return self.result

    def _draw(self) -> None:
        r = self.result
        if r.get("error"):
            _show(self.widget, self.out, text=r["error"])
            return
        fig, axes = plt.subplots(1, 3, figsize=(10, 3.6))
        vconv.plot_image(r["image"], axes[0], title=f"input {tuple(r['image'].shape)}")
        vconv.plot_kernel(r["kernel"], axes[1], title="kernel")
        if r["output"] is not None:
            vconv.plot_image(r["output"], axes[2], title=f"output {r['out_shape']}")
        fig.suptitle(r["formula"])
        _show(self.widget, self.out, fig=fig)


class PoolExplorer:
    """Max / average / L2 pooling of the lecture's 4x4 example or an image, with the max winners."""

    def __init__(self) -> None:
        self.source = w.Dropdown(options=["worked 4x4", "random 6x6", "grace_hopper"],
                                 value="worked 4x4", description="input")
        self.mode = w.Dropdown(options=list(pooling.MODES), value="max", description="mode")
        self.kernel_size = w.IntSlider(value=2, min=1, max=4, description="kernel")
        self.stride = w.IntSlider(value=2, min=1, max=4, description="stride")
        self.out = w.Output()
        controls = [self.source, self.mode, self.kernel_size, self.stride]
        for c in controls:
            c.observe(self.update, names="value")
        self.widget = ExplorerBox([control_row(controls[:2]), control_row(controls[2:]), self.out])
        self.result: dict = {}
        self.update()

    def _input(self) -> torch.Tensor:
        if self.source.value == "worked 4x4":
            return WORKED_4X4.clone()
        if self.source.value == "random 6x6":
            return torch.randint(0, 10, (6, 6), generator=torch.Generator().manual_seed(0)).float()
        return conv.sample_image(64)

    def update(self, change: object = None) -> dict:
        """Recompute from the current widget values and redraw; returns the result dict."""
        x = self._input()
        self.result = explore_pool(x, self.kernel_size.value, self.stride.value, self.mode.value)
        self.result["input"] = x
        self._draw()
        return self.result

    def _draw(self) -> None:
        r, small = self.result, self.result["input"].shape[0] <= 8
        fig, axes = plt.subplots(1, 2, figsize=(8, 3.6))
        if small:
            vconv.plot_grid_values(r["input"], axes[0], "input (red: max)", r["winners"])
        else:
            vconv.plot_image(r["input"], axes[0], "input")
        if r["output"] is not None and small:
            vconv.plot_grid_values(r["output"], axes[1], f"{self.mode.value} pool")
        elif r["output"] is not None:
            vconv.plot_image(r["output"], axes[1], f"{self.mode.value} pool "
                             f"{tuple(r['output'].shape)}")
        fig.suptitle(r["formula"])
        _show(self.widget, self.out, fig=fig)


class ReceptiveFieldExplorer:
    """Type a conv/pool stack; see each layer's receptive field, jump and output size."""

    def __init__(self, text: str = "conv3, conv3, pool2, conv3, conv3, pool2") -> None:
        self.layers = w.Text(value=text, description="layers")
        self.input_size = w.IntSlider(value=32, min=8, max=224, description="input")
        self.out = w.Output()
        for c in (self.layers, self.input_size):
            c.observe(self.update, names="value")
        self.widget = ExplorerBox([control_row([self.layers]), control_row([self.input_size]),
                                   self.out])
        self.layers.layout.width = "min(100%, 480px)"  # room for a long stack, but no wider than the page
        self.result: dict = {}
        self.update()

    def update(self, change: object = None) -> dict:
        """Recompute from the current widget values and redraw; returns the result dict."""
        try:
            self.result = explore_receptive_field(self.layers.value, self.input_size.value)
            self.result["error"] = None
        except ValueError as err:
            self.result = dict(error=str(err), rows=[], table="")
        fig = None
        if self.result["rows"]:
            fig, ax = plt.subplots(figsize=(6, 3))
            vconv.plot_receptive_field(self.result["rows"], ax)
        _show(self.widget, self.out, text=self.result["error"] or self.result["table"], fig=fig)
        return self.result


def conv_explorer(size: int = 64) -> ConvExplorer:
    """Build a convolution explorer; display it with `display(explorer.widget)`."""
    return ConvExplorer(size)


def pooling_explorer() -> PoolExplorer:
    """Build a pooling explorer; display it with `display(explorer.widget)`."""
    return PoolExplorer()


def receptive_field_explorer(
        text: str = "conv3, conv3, pool2, conv3, conv3, pool2") -> ReceptiveFieldExplorer:
    """Build a receptive-field explorer; display it with `display(explorer.widget)`."""
    return ReceptiveFieldExplorer(text)
