"""`summary(model, input_size)`: a per-layer table of shapes, parameters, multiply-adds, memory, RF.

Multiply-adds come from `torch.utils.flop_counter.FlopCounterMode` (which counts 2 FLOPs per
multiply-add of convolutions and matrix products), not from hand formulas. Receptive field size and
jump are traced through every torch function the forward pass calls (`dlcourse.receptive`), so
branches (Inception), shortcuts (ResNet), concatenations (DenseNet), transposed convolutions and
upsampling (U-Net, hourglass) are handled: a unit's field is the union over every path into it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from dlcourse.receptive import PIXELS, ReceptiveFieldMode
from dlcourse.shapes import whole_sizes

__all__ = ["LayerInfo", "ModelSummary", "summary"]

Pair = tuple[int, int]  # (height, width); a jump is a float below 1 after upsampling
_NO_MEMORY = (nn.Flatten, nn.Unflatten, nn.Identity)  # views: they allocate no new activations


@dataclass
class LayerInfo:
    """One called leaf module: its output and costs (receptive field None = the whole input)."""

    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int
    macs: int
    memory: int  # bytes of the output activation (0 for in-place ops and views)
    rf: Pair | None
    jump: Pair | None


@dataclass
class ModelSummary:
    """The result of `summary`: the rows plus totals; print it for the table."""

    input_size: tuple[int, ...]
    layers: list[LayerInfo] = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0
    total_macs: int = 0
    input_memory: int = 0
    output_rf: Pair | None = None  # receptive field of the model's output (max over channels)
    output_jump: Pair | None = None
    output_shape: tuple[int, ...] | None = None  # of the model's (first) output tensor

    @property
    def total_memory(self) -> int:
        """Bytes of all activations of one forward pass, input included."""
        return self.input_memory + sum(layer.memory for layer in self.layers)

    @property
    def total_flops(self) -> int:
        """FLOPs as FlopCounterMode counts them: 2 per multiply-add."""
        return 2 * self.total_macs

    def row(self, name: str) -> LayerInfo:
        """The (first) row of the layer called `name`, e.g. "features.0"."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no layer named {name!r}; names look like {self.layers[0].name!r}")

    def to_dicts(self) -> list[dict]:
        """The rows as a list of plain dicts (for pandas or json)."""
        return [dict(vars(layer)) for layer in self.layers]

    def table(self, kinds: tuple[str, ...] | None = None) -> str:
        """The printable table; kinds=("Conv2d", "Linear") keeps only those rows."""
        head = f"{'layer':<28}{'type':<18}{'output shape':<20}{'params':>12}{'mult-adds':>15}"
        head += f"{'memory':>11}{'RF':>9}{'jump':>6}"
        lines = [head, "-" * len(head)]
        for layer in self.layers:
            if kinds is not None and layer.kind not in kinds:
                continue
            shape = "x".join(str(s) for s in layer.output_shape[1:])
            lines.append(f"{layer.name[-27:]:<28}{layer.kind[:17]:<18}{shape:<20}"
                         f"{layer.params:>12,}{layer.macs:>15,}{_bytes(layer.memory):>11}"
                         f"{_pair(layer.rf, 'all'):>9}{_pair(layer.jump, '-'):>6}")
        lines.append("-" * len(head))
        lines.append(f"total params {self.total_params:,} (trainable {self.trainable_params:,}), "
                     f"mult-adds {self.total_macs:,} ({self.total_macs / 1e9:.2f} G), "
                     f"activations {_bytes(self.total_memory)} (input {_bytes(self.input_memory)})")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    __repr__ = __str__


def _pair(p: Pair | None, none: str) -> str:
    """'7' for a square pair, '1x7' otherwise."""
    if p is None:
        return none
    return str(p[0]) if p[0] == p[1] else f"{p[0]}x{p[1]}"


def _bytes(n: int) -> str:
    """Human-readable bytes with binary prefixes (1 KiB = 1024 B)."""
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def _rf_and_jump(spans) -> tuple[Pair | None, tuple | None]:
    """(height, width) receptive field and jump; a jump below 1 (after upsampling) as a float."""
    if spans is None:
        return None, None
    jumps = tuple(int(s.jump) if s.jump.denominator == 1 else float(s.jump) for s in spans)
    return (spans[0].size, spans[1].size), jumps


@torch.no_grad()
def summary(model: nn.Module, input_size: tuple[int, ...], batch_size: int = 1,
            dtype: torch.dtype | None = None) -> ModelSummary:
    """Run one forward pass on a zero input and tabulate every called leaf module.

    Args:
        model: any nn.Module taking one tensor; put it on the "meta" device to count huge models
            without memory or compute (build it under `with torch.device("meta"):`).
        input_size: (C, H, W) of one example (a leading batch dim is also accepted).
        batch_size: examples per forward; memory and mult-adds scale with it.
        dtype: of the zero input; default the dtype of the model's first parameter (or float32).
    Returns:
        A ModelSummary: `.layers` (LayerInfo rows), totals, and a table when printed.
    """
    input_size = whole_sizes(input_size, "input_size", "(C, H, W) of one example (or (B, C, H, W))",
                             (3, 4))
    (batch_size,) = whole_sizes((batch_size,), "batch_size", "a whole number >= 1", (1,))
    shape = input_size if len(input_size) == 4 else (batch_size, *input_size)
    param = next(iter(model.parameters()), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = dtype or (param.dtype if param is not None else torch.float32)
    x = torch.zeros(shape, dtype=dtype, device=device)
    result = ModelSummary(input_size=shape, input_memory=x.numel() * x.element_size())
    result.total_params = sum(p.numel() for p in model.parameters())
    result.trainable_params = sum(p.numel() for p in model.parameters() if p.requires_grad)

    flops, rf_mode = FlopCounterMode(display=False), ReceptiveFieldMode()
    names = {m: n for n, m in model.named_modules()}
    seen: set[nn.Module] = set()  # a module called twice counts its parameters once
    start: dict[nn.Module, int] = {}

    def pre_hook(module: nn.Module, inputs: tuple) -> None:
        start[module] = flops.get_total_flops()

    def post_hook(module: nn.Module, inputs: tuple, output: object) -> None:
        out = output[0] if isinstance(output, (tuple, list)) else output
        if not isinstance(out, torch.Tensor):
            return
        params = 0 if module in seen else sum(p.numel() for p in module.parameters(recurse=False))
        seen.add(module)
        in_place = any(out is i for i in inputs) or isinstance(module, _NO_MEMORY)
        tag = _rf_and_jump(rf_mode.lookup(out))
        result.layers.append(LayerInfo(
            name=names[module], kind=type(module).__name__, output_shape=tuple(out.shape),
            params=params, macs=(flops.get_total_flops() - start[module]) // 2,
            memory=0 if in_place else out.numel() * out.element_size(), rf=tag[0], jump=tag[1]))

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [h for m in leaves for h in (m.register_forward_pre_hook(pre_hook),
                                           m.register_forward_hook(post_hook))]
    was_training = model.training
    model.eval()  # no dropout, BN uses running stats, GoogLeNet skips its auxiliary heads
    try:
        with flops, rf_mode:
            rf_mode.tag(x, (PIXELS, PIXELS))
            out = model(x)
        out = out[0] if isinstance(out, (tuple, list)) else out
        result.output_rf, result.output_jump = _rf_and_jump(rf_mode.lookup(out))
        result.output_shape = tuple(out.shape) if isinstance(out, torch.Tensor) else None
        result.total_macs = flops.get_total_flops() // 2
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return result
