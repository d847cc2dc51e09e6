"""`summary(model, input_size)`: a per-layer table of shapes, parameters, multiply-adds, memory, RF.

Multiply-adds come from `torch.utils.flop_counter.FlopCounterMode` (which counts 2 FLOPs per
multiply-add of convolutions and matrix products), not from hand formulas. Receptive field size and
jump are propagated analytically through every torch function the forward pass calls, so branches
(Inception), shortcuts (ResNet) and concatenations (DenseNet) are handled: a tensor built from
several inputs gets the largest of their receptive fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["LayerInfo", "ModelSummary", "summary"]

Pair = tuple[int, int]
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


def _as_pair(v: int | tuple | list) -> Pair:
    """Broadcast an int argument (kernel, stride, dilation) to (height, width)."""
    v = tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    return (int(v[0]), int(v[-1]))


def _arg(args: tuple, kwargs: dict, i: int, name: str, default):
    """Argument `name` of a functional call, passed by position i or by keyword."""
    if name in kwargs:
        return kwargs[name]
    return args[i] if len(args) > i else default


class _ReceptiveFieldMode(TorchFunctionMode):
    """Tags every tensor produced during forward with its receptive field (size, jump).

    RF recurrences, per spatial dimension: r_out = r_in + (k_eff - 1) * j_in, j_out = j_in * s,
    with k_eff = dilation * (k - 1) + 1. Ops that mix the whole map (linear, global pooling,
    means) give None, "the whole input". Any other op keeps the largest RF of its inputs.
    """

    def __init__(self) -> None:
        super().__init__()
        self.rf: dict[int, tuple[torch.Tensor, Pair | None, Pair | None]] = {}

    def tag(self, t: torch.Tensor, r: Pair | None, j: Pair | None) -> None:
        """Remember (r, j) for t; keep t alive so its id is not reused."""
        self.rf[id(t)] = (t, r, j)

    def lookup(self, t: object) -> tuple[Pair | None, Pair | None] | None:
        """(r, j) for a tagged tensor, or None if t was never tagged (weights, constants)."""
        hit = self.rf.get(id(t)) if isinstance(t, torch.Tensor) else None
        return None if hit is None or hit[0] is not t else (hit[1], hit[2])

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        flat = [a for a in args if not isinstance(a, (list, tuple))]
        flat += [t for a in args if isinstance(a, (list, tuple)) for t in a] + list(kwargs.values())
        tags = [tag for tag in map(self.lookup, flat) if tag is not None]
        if not tags:
            return out
        if any(r is None for r, _ in tags):  # already covers everything
            r, j = None, None
        else:
            r = (max(t[0][0] for t in tags), max(t[0][1] for t in tags))
            j = (max(t[1][0] for t in tags), max(t[1][1] for t in tags))
            try:
                r, j = self._update(getattr(func, "__name__", ""), args, kwargs, r, j)
            except (TypeError, ValueError, IndexError, KeyError):  # an op we cannot read: unknown
                r, j = None, None
        for o in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(o, torch.Tensor):
                self.tag(o, r, j)
        return out

    @staticmethod
    def _update(name: str, args: tuple, kwargs: dict, r: Pair, j: Pair
                ) -> tuple[Pair | None, Pair | None]:
        """Apply the RF recurrence of op `name` to an input RF (r, j)."""
        if name.startswith("conv") and name[-2:] in ("1d", "2d") and not name.startswith("conv_t"):
            k = tuple(args[1].shape[2:]) if len(args) > 1 else tuple(kwargs["weight"].shape[2:])
            s, d = _arg(args, kwargs, 3, "stride", 1), _arg(args, kwargs, 5, "dilation", 1)
        elif "pool" in name and "adaptive" not in name:
            i = 2 if name.startswith("lp_pool") else 1  # lp_pool2d(input, norm_type, kernel, ...)
            k = _arg(args, kwargs, i, "kernel_size", 1)
            s = _arg(args, kwargs, i + 1, "stride", None) or k  # stride defaults to the kernel
            d = _arg(args, kwargs, 4, "dilation", 1) if "max" in name else 1
        elif "adaptive" in name:
            x, size = args[0], _arg(args, kwargs, 1, "output_size", 1)
            hw = (x.shape[-2], x.shape[-1])
            size = tuple(size) if isinstance(size, (tuple, list)) else (size, size)
            size = tuple(h if o is None else o for h, o in zip(hw, size))  # None: keep that side
            if hw == size:  # nothing to pool
                return r, j
            if any(h % o for h, o in zip(hw, size)):  # uneven windows: treat as global
                return None, None
            k = s = tuple(h // o for h, o in zip(hw, size))
            d = 1
        elif name in ("linear", "matmul", "mm", "addmm", "bmm", "mean", "sum", "amax"):
            return None, None
        else:
            return r, j
        k, s, d = _as_pair(k), _as_pair(s), _as_pair(d)
        r = tuple(r[i] + (d[i] * (k[i] - 1)) * j[i] for i in range(2))
        j = tuple(j[i] * s[i] for i in range(2))
        return r, j


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
    if len(input_size) not in (3, 4) or any(int(s) <= 0 for s in input_size):
        raise ValueError(f"input_size must be (C, H, W) of positive ints like (3, 224, 224), "
                         f"got {tuple(input_size)}")
    shape = tuple(input_size) if len(input_size) == 4 else (batch_size, *input_size)
    param = next(iter(model.parameters()), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = dtype or (param.dtype if param is not None else torch.float32)
    x = torch.zeros(shape, dtype=dtype, device=device)
    result = ModelSummary(input_size=shape, input_memory=x.numel() * x.element_size())
    result.total_params = sum(p.numel() for p in model.parameters())
    result.trainable_params = sum(p.numel() for p in model.parameters() if p.requires_grad)

    flops, rf_mode = FlopCounterMode(display=False), _ReceptiveFieldMode()
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
        tag = rf_mode.lookup(out) or (None, None)
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
            rf_mode.tag(x, (1, 1), (1, 1))
            out = model(x)
        out = out[0] if isinstance(out, (tuple, list)) else out
        result.output_rf, result.output_jump = rf_mode.lookup(out) or (None, None)
        result.total_macs = flops.get_total_flops() // 2
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return result
