"""Shape arithmetic for convolutional networks: output sizes, receptive fields, a shape tracer."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from dlcourse.receptive import PIXELS, ReceptiveFieldMode


def effective_kernel_size(F: int, D: int = 1) -> int:
    """Size spanned by an F-tap kernel with dilation D: D*(F-1) + 1 (3 taps at D=2 span 5)."""
    _check_positive(F=F, D=D)
    return D * (F - 1) + 1


def conv_output_size(N: int, F: int, P: int = 0, S: int = 1, D: int = 1,
                     strict: bool = True, ceil_mode: bool = False) -> int:
    """Output length (N - D*(F-1) - 1 + 2P)/S + 1 of a convolution or pooling window along one axis.

    Args:
        N: input size, F: kernel size, P: zero padding on each side, S: stride, D: dilation.
        strict: raise if the stride does not tile the padded input exactly (7x7, F=3, S=3 -> 2.33);
            with strict=False the result is floored, as torch does.
        ceil_mode: round up instead, as pooling with `ceil_mode=True` does (GoogLeNet: 55 -> 28 with a
            3x3 stride-2 pool), keeping only windows that start inside the input or left padding.
    """
    _check_positive(N=N, F=F, S=S, D=D)
    if not isinstance(P, int) or P < 0:
        raise ValueError(f"padding P must be a non-negative int, got {P!r}")
    span = effective_kernel_size(F, D)
    room = N + 2 * P - span  # how far the window can slide, in pixels
    if room < 0:
        raise ValueError(
            f"the kernel (F={F}, dilation {D}, spanning {span} pixels) is larger than the padded "
            f"input N + 2P = {N + 2 * P}: use a smaller kernel or dilation, or pad by at least "
            f"{(span - N + 1) // 2}"
        )
    if strict and room % S:
        fits = [p for p in range(P, P + S) if (N + 2 * p - span) % S == 0]
        hint = f"use padding P={fits[0]}" if fits else "change the stride"
        raise ValueError(
            f"stride does not fit: (N - F + 2P)/S + 1 = ({N} - {span} + {2 * P})/{S} + 1 = "
            f"{room / S + 1:.2f} is not an integer, so a {F}x{F} filter cannot tile a {N}x{N} "
            f"input with stride {S}; {hint}, or pick a stride that divides {room}"
        )
    if ceil_mode:
        out = -(-room // S) + 1
        return out - 1 if (out - 1) * S >= N + P else out  # the last window must start inside
    return room // S + 1


def same_padding(F: int, D: int = 1) -> int:
    """Zero padding that keeps the size at stride 1: (F-1)/2 for odd F (D*(F-1)/2 when dilated)."""
    span = effective_kernel_size(F, D)
    if span % 2 == 0:
        raise ValueError(f"a kernel spanning {span} pixels has no centre, so no symmetric padding "
                         "preserves the size; use an odd kernel size")
    return (span - 1) // 2


@dataclass
class RFLayer:
    """One row of a receptive-field table: the layer's window and what one output unit sees."""

    name: str
    kernel: int
    stride: int
    dilation: int
    padding: int
    size: int  # receptive field in input pixels, along one axis
    jump: int | float  # distance in input pixels between neighbouring output units (< 1 after upsampling)
    out_size: int | None = None  # spatial size of the output, if an input size was given
    ceil_mode: bool = False  # a pooling window that rounds its output size up


_READ_IN_ORDER = (nn.Conv1d, nn.Conv2d, nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d,
                  nn.LPPool1d, nn.LPPool2d)
_SPATIAL = ("Conv", "Pool", "Upsample", "Fold", "Unfold", "PixelShuffle", "PixelUnshuffle", "Pad")


def _spec_from_module(module: nn.Module) -> tuple[int, int, int, int, bool] | None:
    """(kernel, stride, dilation, padding, ceil_mode) of a conv or pooling module, along the first axis."""
    if isinstance(module, (*_READ_IN_ORDER, nn.ConvTranspose1d, nn.ConvTranspose2d)):
        def first(v: int | Sequence[int]) -> int:
            return v if isinstance(v, int) else v[0]
        k = first(module.kernel_size)
        s = first(module.stride) if module.stride is not None else k
        d = first(getattr(module, "dilation", 1))
        p = getattr(module, "padding", 0)
        p = 0 if isinstance(p, str) else first(p)
        return k, s, d, p, bool(getattr(module, "ceil_mode", False))
    return None


def _is_chain(module: nn.Module) -> bool:
    """True if `module` is an nn.Sequential (nested or not) of torch layers that read in order.

    Anything else may branch (shortcuts, Inception) or change the geometry in ways the in-order
    recurrence does not model (transposed convs, upsampling, adaptive pooling, custom layers).
    """
    if not isinstance(module, nn.Sequential):
        return False
    for m in module.modules():
        if isinstance(m, nn.Sequential) or isinstance(m, _READ_IN_ORDER):
            continue
        if list(m.children()) or not type(m).__module__.startswith("torch.nn"):
            return False  # a container with its own forward, or a custom layer
        if any(word in type(m).__name__ for word in _SPATIAL):
            return False  # a spatial torch layer this recurrence does not model
    return True


def _checked_layer(i: int, layer) -> tuple[str, int, int, int, int]:
    """(name, kernel, stride, dilation, padding) from a tuple or dict, refusing non-integers."""
    if isinstance(layer, dict):
        if "kernel" not in layer:
            raise ValueError(f"layer {i} is {layer!r}: a dict needs a 'kernel' entry")
        layer = (layer["kernel"], layer.get("stride", 1), layer.get("dilation", 1),
                 layer.get("padding", 0), layer.get("name", f"layer{i + 1}"))
    if not isinstance(layer, (tuple, list)) or not 1 <= len(layer) <= 5:
        raise ValueError(f"layer {i} is {layer!r}: give (kernel, stride[, dilation[, padding"
                         "[, name]]]), a dict with 'kernel', or an nn.Module")
    defaults = (None, 1, 1, 0, f"layer{i + 1}")  # kernel is required
    k, s, d, p, name = (*layer, *defaults[len(layer):])
    for what, v, low in (("kernel", k, 1), ("stride", s, 1), ("dilation", d, 1), ("padding", p, 0)):
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ValueError(f"layer {i} ({name}): {what} must be a whole number >= {low}, got {v!r}")
    return str(name), k, s, d, p


def receptive_field(layers: nn.Module | Sequence,
                    input_size: int | Sequence[int] | None = None) -> list[RFLayer]:
    """Receptive field size and jump after each conv/pool layer of a network.

    Args:
        layers: (kernel, stride[, dilation[, padding[, name]]]) tuples or dicts, read in order; or an
            nn.Module. A plain nn.Sequential of torch layers is read in order; any other module (ResNet
            shortcuts, Inception branches, upsampling) is traced through a real forward pass, like
            `dlcourse.summary`, and needs `input_size`.
        input_size: input side length (or (C, H, W) for a traced module), to also report each layer's
            output size.
    Recurrence: size += (D*(F-1)) * jump; jump *= S. Three 3x3 convs at stride 1 see 7x7. In a traced
    module each row is the field of that layer's output, through every path that feeds it; a last row
    "output" gives the module's output (after additions and concatenations) unless it sees the whole
    input (after a linear layer). Only conv and pooling layers with a kernel get rows.
    """
    if isinstance(layers, nn.Module) and not _is_chain(layers):
        if input_size is None:
            raise ValueError(
                f"{type(layers).__name__} is not a plain nn.Sequential: its forward may branch "
                "(shortcuts, Inception) or upsample, so its layers cannot be read in order. Pass "
                "input_size=(C, H, W) (or a side length) to trace the real forward pass, or use "
                "dlcourse.summary(model, (C, H, W))")
        return _traced_receptive_field(layers, input_size)
    if isinstance(layers, nn.Module):
        specs = [(name, *_spec_from_module(m)) for name, m in layers.named_modules()
                 if _spec_from_module(m) is not None]
        if not specs:
            raise ValueError(f"{type(layers).__name__} holds no Conv or Pool layers to trace")
    else:
        specs = [(*_checked_layer(i, layer), False) for i, layer in enumerate(layers)]
    n = None if input_size is None else _side(input_size)
    rows, size, jump = [], 1, 1
    for name, k, s, d, p, ceil in specs:
        size += (effective_kernel_size(k, d) - 1) * jump
        jump *= s
        if n is not None:
            n = conv_output_size(n, k, p, s, d, strict=False, ceil_mode=ceil)
        rows.append(RFLayer(name, k, s, d, p, size, jump, n, ceil))
    return rows


def _side(input_size: int | Sequence[int]) -> int:
    if isinstance(input_size, (tuple, list)):
        input_size = input_size[-1]
    _check_positive(input_size=input_size)
    return input_size


def _traced_receptive_field(model: nn.Module, input_size: int | Sequence[int]) -> list[RFLayer]:
    """Rows for every called conv/pool leaf, from a forward pass traced by `dlcourse.receptive`."""
    if isinstance(input_size, (tuple, list)):
        shape = whole_sizes(input_size, "input_size", "(C, H, W) or a side length", (3,))
    else:
        first = next((m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))),
                     None)
        if first is None:
            raise ValueError(f"pass input_size=(C, H, W): {type(model).__name__} has no Conv2d to "
                             "read the number of input channels from")
        shape = (first.in_channels, _side(input_size), _side(input_size))
    mode, rows = ReceptiveFieldMode(), []
    names = {m: n for n, m in model.named_modules()}

    def record(module: nn.Module, inputs: tuple, output) -> None:
        spans = mode.lookup(output[0] if isinstance(output, (tuple, list)) else output)
        if spans is not None:  # None: global pooling, the whole input
            spec = _spec_from_module(module)
            rows.append(RFLayer(names[module], *spec[:4], spans[0].size, _number(spans[0].jump),
                                output.shape[-2], spec[4]))

    handles = [m.register_forward_hook(record) for m in model.modules() if _spec_from_module(m)]
    param = next(model.parameters(), None)
    x = torch.zeros((1, *shape), device=param.device if param is not None else "cpu",
                    dtype=param.dtype if param is not None else torch.float32)
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad(), mode:
            mode.tag(x, (PIXELS, PIXELS))
            out = model(x)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    out = out[0] if isinstance(out, (tuple, list)) else out
    spans = mode.lookup(out)
    if spans is not None and out.ndim >= 3:
        rows.append(RFLayer("output", 1, 1, 1, 0, spans[0].size, _number(spans[0].jump),
                            out.shape[-2]))
    if not rows:
        raise ValueError(f"{type(model).__name__} holds no Conv or Pool layers to trace")
    return rows


def _number(x):
    """A Fraction as an int where whole, else a float (a jump of 0.5 after 2x upsampling)."""
    return int(x) if x.denominator == 1 else float(x)


def format_receptive_field(rows: Sequence[RFLayer]) -> str:
    """A fixed-width text table of receptive_field() rows."""
    sized = any(r.out_size is not None for r in rows)  # show the output column only if known
    lines = [f"{'layer':<12}{'kernel':>7}{'stride':>7}{'dil':>5}{'RF':>5}{'jump':>6}"
             + (f"{'out':>6}" if sized else "")]
    for r in rows:
        out = f"{r.out_size if r.out_size is not None else '':>6}" if sized else ""
        lines.append(f"{r.name:<12}{r.kernel:>7}{r.stride:>7}{r.dilation:>5}{r.size:>5}"
                     f"{r.jump:>6}{out}")
    return "\n".join(lines)


def trace_shapes(model: nn.Module, input_size: Sequence[int],
                 print_fn: Callable[[str], None] | None = print,
                 ) -> list[tuple[str, str, tuple, int]]:
    """Run a dummy batch through `model` and print each leaf layer's output shape and parameters.

    Args:
        model: any nn.Module; its training mode is restored afterwards.
        input_size: (C, H, W) or (B, C, H, W).
        print_fn: where lines go (None: silent).
    Returns (name, layer type, output shape, parameter count) rows. If a Linear layer receives the
    wrong number of features, the rows traced so far are printed and a ValueError says the fix.
    """
    size = whole_sizes(input_size, "input_size", "(C, H, W) or (B, C, H, W)", (2, 3, 4))
    if len(size) == 3:
        size = (1, *size)
    rows: list[tuple[str, str, tuple, int]] = []
    emit = print_fn or (lambda line: None)
    emit(f"{'layer':<22}{'type':<12}{'output shape':<22}{'params':>9}")
    emit(f"{'input':<22}{'':<12}{str(size):<22}{'':>9}")

    def record(name: str) -> Callable:
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            shape = tuple(output.shape) if isinstance(output, torch.Tensor) else ()
            n = sum(p.numel() for p in module.parameters(recurse=False))
            rows.append((name, type(module).__name__, shape, n))
            emit(f"{name:<22}{type(module).__name__:<12}{str(shape):<22}{n:>9,}")
        return hook

    def check_linear(name: str) -> Callable:
        def pre_hook(module: nn.Linear, inputs: tuple) -> None:
            got = inputs[0].shape[-1]
            if got != module.in_features:
                raise ValueError(
                    f"layer '{name}' (Linear) expects {module.in_features} input features but the "
                    f"flattened feature map has {got}: set in_features={got}")
        return pre_hook

    handles = []
    for name, module in model.named_modules():
        if name and not any(True for _ in module.children()):
            handles.append(module.register_forward_hook(record(name)))
            if isinstance(module, nn.Linear):
                handles.append(module.register_forward_pre_hook(check_linear(name)))
    was_training = model.training
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(size, device=device))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return rows


def whole_sizes(sizes, name: str, form: str, lengths: tuple[int, ...]) -> tuple[int, ...]:
    """`sizes` as a tuple of positive ints, or a ValueError that shows the expected form.

    Integer types of numpy and torch are accepted; 27.5, "28" or 0 are not (no silent truncation).
    """
    try:
        values = tuple(operator.index(v) for v in sizes if not isinstance(v, bool))
        ok = len(values) == len(tuple(sizes)) and len(values) in lengths and all(v >= 1 for v in values)
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"{name} must be {form}: whole numbers >= 1 like (1, 28, 28), got {sizes!r}")
    return values


def _check_positive(**values: int) -> None:
    """Raise a ValueError naming the first argument that is not a positive int."""
    for name, v in values.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")


def conv_transpose_output_size(N: int, F: int, P: int = 0, S: int = 1, output_padding: int = 0,
                               D: int = 1) -> int:
    """Output length (N - 1)*S - 2P + D*(F - 1) + output_padding + 1 of a transposed convolution.

    The inverse of `conv_output_size`: a convolution with (F, P, S, D) maps this size back to N.
    Several sizes map to the same N when S > 1 (the convolution floors), so `output_padding` (less
    than S or D, as torch requires) picks which one, e.g. 7 or 8 from N=4, F=3, P=1, S=2.
    """
    _check_positive(N=N, F=F, S=S, D=D)
    for name, v in (("padding P", P), ("output_padding", output_padding)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise ValueError(f"{name} must be a non-negative int, got {v!r}")
    if output_padding >= max(S, D):  # it only chooses among the sizes a strided conv maps to one N
        raise ValueError(f"output_padding={output_padding} must be smaller than the stride S={S} or the "
                         f"dilation D={D}: it picks one of the {max(S, D)} sizes that map to the same N")
    if (out := (N - 1) * S - 2 * P + D * (F - 1) + output_padding + 1) < 1:
        raise ValueError(f"padding P={P} crops everything: (N-1)*S - 2P + D*(F-1) + output_padding + 1 = "
                         f"{out}; at most P= {((N - 1) * S + D * (F - 1) + output_padding) // 2}")
    return out
