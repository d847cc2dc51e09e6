"""Receptive fields traced through a real forward pass: exact for any graph of convs, pools,
shortcuts, concatenations, transposed convs and upsampling (used by `dlcourse.summary`).

Along each spatial axis, output unit o of a tensor depends on the input pixels lo(o)..hi(o). Those
maps are periodic: lo(o + P) = lo(o) + Q, so one period of P values describes every unit, also
beyond the borders (the field is not clipped by the image, as if the input were endless). The
receptive field is the widest hi - lo + 1; the jump Q / P is the distance in input pixels between
neighbouring units (below 1 after upsampling). Each op maps the spans of its inputs to its output's:
a window op takes the union over its taps, an addition or concatenation the union over its inputs.
A tensor's field is that of all its channels together, so an op that picks channels back out
(`x[:, :4]`, `pixel_shuffle` after `pixel_unshuffle`) keeps that union: an upper bound there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction
from math import floor, gcd, lcm

import torch
from torch.overrides import TorchFunctionMode


@dataclass(frozen=True)
class Span:
    """Input pixels [lo(o), hi(o)] that unit o sees along one axis; x(o + period) = x(o) + shift."""

    lo: tuple[int | None, ...]  # one period; None for a unit that sees no input at all
    hi: tuple[int | None, ...]
    shift: int

    @property
    def period(self) -> int:
        return len(self.lo)

    def at(self, o: int) -> tuple[int, int] | None:
        """(lo, hi) of unit o (any integer, negative too), or None if it sees nothing."""
        q, r = divmod(o, self.period)
        lo, hi = self.lo[r], self.hi[r]
        return None if lo is None else (lo + q * self.shift, hi + q * self.shift)

    @property
    def size(self) -> int:
        """The receptive field: the widest span of input pixels any unit sees."""
        return max(h - lo + 1 for lo, h in zip(self.lo, self.hi) if lo is not None)

    @property
    def jump(self) -> Fraction:
        """Input pixels between neighbouring units, on average (exact)."""
        return Fraction(self.shift, self.period)

    def gather(self, period: int, shift: int, sources: Callable[[int], Iterable[int]]) -> Span:
        """A new span of `period` units in which unit o sees the union of units `sources(o)`."""
        lo, hi = [], []
        for o in range(period):
            seen = [s for s in map(self.at, sources(o)) if s is not None]
            lo.append(min(s[0] for s in seen) if seen else None)
            hi.append(max(s[1] for s in seen) if seen else None)
        if all(v is None for v in lo):
            raise ValueError("no output unit sees any input")
        return Span(tuple(lo), tuple(hi), shift)


PIXELS = Span((0,), (0,), 1)  # the input itself: unit o sees pixel o


def window(span: Span, k: int, s: int, d: int = 1, p: int = 0) -> Span:
    """Convolution or pooling: unit o sees the inputs o*s - p + t*d for taps t = 0..k-1."""
    period = span.period // gcd(span.period, s)
    return span.gather(period, span.shift * period * s // span.period,
                       lambda o: [o * s - p + t * d for t in range(k)])


def transposed(span: Span, k: int, s: int, d: int = 1, p: int = 0) -> Span:
    """Transposed convolution: input i reaches outputs i*s - p + t*d, so o sees i = (o + p - t*d)/s."""
    return span.gather(span.period * s, span.shift,
                       lambda o: [(o + p - t * d) // s for t in range(k) if (o + p - t * d) % s == 0])


def resample(span: Span, ratio: Fraction, taps: Callable[[int], Iterable[int]]) -> Span:
    """A resampling whose unit o + a sees the units of o shifted by b, where ratio = b / a (in / out)."""
    a, b = ratio.denominator, ratio.numerator
    m = span.period // gcd(span.period, b)
    return span.gather(a * m, span.shift * b * m // span.period, taps)


def interpolate(span: Span, size_in: int, size_out: int, mode: str, align_corners: bool) -> Span:
    """F.interpolate / nn.Upsample along one axis: which input units each output unit mixes."""
    ratio = Fraction(size_in - 1, size_out - 1) if align_corners else Fraction(size_in, size_out)
    if mode == "nearest":
        return resample(span, ratio, lambda o: [floor(o * ratio)])
    if mode == "nearest-exact":
        return resample(span, ratio, lambda o: [floor((o + Fraction(1, 2)) * ratio)])
    if mode == "area":  # adaptive average pooling
        return resample(span, ratio, lambda o: range(floor(o * ratio), -floor(-(o + 1) * ratio)))
    reach = {"linear": (0, 1), "bilinear": (0, 1), "trilinear": (0, 1), "bicubic": (-1, 2)}
    if mode not in reach:
        raise ValueError(f"no receptive-field rule for interpolate mode {mode!r}")
    low, high = reach[mode]

    def taps(o: int) -> range:
        src = o * ratio if align_corners else (o + Fraction(1, 2)) * ratio - Fraction(1, 2)
        base = floor(src)
        return range(base, base + 1) if src == base else range(base + low, base + high + 1)

    return resample(span, ratio, taps)


def union(spans: list[Span], size: int | None = None) -> Span:
    """The span of a tensor made from several (an addition, a concatenation): the union per unit.

    Inputs on different grids (an `align_corners=True` upsampling beside a skip) share no period;
    then the union is taken over the `size` positions of the actual map, treated as one period.
    """
    if len(spans) == 1:
        return spans[0]
    if len({s.jump for s in spans}) == 1:
        period = lcm(*(s.period for s in spans))
        shift = int(spans[0].jump * period)
    elif size:
        period, shift = size, round(max(s.jump for s in spans) * size)
    else:
        raise ValueError("inputs on different grids")
    lo, hi = [], []
    for o in range(period):
        seen = [s for s in (span.at(o) for span in spans) if s is not None]
        lo.append(min(s[0] for s in seen) if seen else None)
        hi.append(max(s[1] for s in seen) if seen else None)
    return Span(tuple(lo), tuple(hi), shift)


# ------------------------------------------------------------------ tracing a forward pass
Spans = tuple[Span, Span] | None  # (height, width); None: each unit sees the whole input
_MISSING = object()
_WHOLE = {"linear", "bilinear", "matmul", "mm", "addmm", "bmm", "einsum"}  # mix every position
_REDUCE = {"mean", "sum", "amax", "amin", "max", "min", "softmax", "log_softmax", "logsumexp", "std",
           "var", "prod"}  # mix the positions only when they reduce over a spatial axis


class ReceptiveFieldMode(TorchFunctionMode):
    """Tags every tensor made during a forward pass with its (height, width) spans.

    Tag the input with `(PIXELS, PIXELS)`; weights and constants stay untagged. Ops that mix every
    position (linear layers, means over space) give None, "the whole input"; (global) adaptive
    pooling gives the hull of the units it averages; an op without a
    rule keeps the union of its inputs' spans (activations, normalization, additions, concatenation).
    """

    def __init__(self) -> None:
        super().__init__()
        self.spans: dict[int, tuple[torch.Tensor, Spans]] = {}

    def tag(self, t: torch.Tensor, spans: Spans) -> None:
        """Remember the spans of t; keep t alive so that its id is not reused."""
        self.spans[id(t)] = (t, spans)

    def lookup(self, t: object, default=None):
        """The spans of a tagged tensor, or `default` if t was never tagged."""
        hit = self.spans.get(id(t)) if isinstance(t, torch.Tensor) else None
        return default if hit is None or hit[0] is not t else hit[1]

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        flat = [a for a in args if not isinstance(a, (list, tuple))]
        flat += [t for a in args if isinstance(a, (list, tuple)) for t in a] + list(kwargs.values())
        tagged = [(t, self.lookup(t, _MISSING)) for t in flat]
        tagged = [(t, tag) for t, tag in tagged if tag is not _MISSING]
        if not tagged:
            return out
        tags, spans = [tag for _, tag in tagged], None
        if all(tag is not None for tag in tags):
            try:
                x = tagged[0][0]
                sizes = (x.shape[-2], x.shape[-1]) if x.ndim >= 3 else (None, None)
                joined = tuple(union([t[i] for t in tags], sizes[i]) for i in range(2))
                first = out[0] if isinstance(out, (tuple, list)) else out
                spans = update(getattr(func, "__name__", ""), args, kwargs, joined, first)
            except (TypeError, ValueError, IndexError, KeyError, AttributeError, ZeroDivisionError):
                spans = None  # an op we cannot read: say "the whole input" rather than guess
        for o in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(o, torch.Tensor):
                self.tag(o, spans)
        return out


def _pair(v) -> tuple[int, int]:
    v = tuple(v) if isinstance(v, (tuple, list, torch.Size)) else (v, v)
    return int(v[0]), int(v[-1])


def _arg(args: tuple, kwargs: dict, i: int, name: str, default):
    """Argument `name` of a functional call, passed by position i or by keyword."""
    if name in kwargs:
        return kwargs[name]
    return args[i] if len(args) > i else default


def update(name: str, args: tuple, kwargs: dict, spans: tuple[Span, Span], out) -> Spans:
    """The spans of the output of op `name`, given the (joined) spans of its inputs."""
    if name in _WHOLE:
        return None
    if name in _REDUCE:
        return _reduce(args, kwargs, spans)
    if name.startswith("conv") and name[-2:] in ("1d", "2d"):
        weight = args[1] if len(args) > 1 else kwargs["weight"]
        k, s = _pair(weight.shape[2:]), _pair(_arg(args, kwargs, 3, "stride", 1))
        if name.startswith("conv_transpose"):
            p, d = _pair(_arg(args, kwargs, 4, "padding", 0)), _pair(_arg(args, kwargs, 7, "dilation", 1))
            return tuple(transposed(spans[i], k[i], s[i], d[i], p[i]) for i in range(2))
        d, p = _pair(_arg(args, kwargs, 5, "dilation", 1)), _arg(args, kwargs, 4, "padding", 0)
        if isinstance(p, str):  # "valid": none; "same": torch pads d*(k-1) in all, the smaller half first
            p = (0, 0) if p == "valid" else tuple(d[i] * (k[i] - 1) // 2 for i in range(2))
        p = _pair(p)
        return tuple(window(spans[i], k[i], s[i], d[i], p[i]) for i in range(2))
    if "pool" in name and "adaptive" not in name:
        lp = name.startswith("lp_pool")  # lp_pool2d(input, norm_type, kernel_size, stride, ceil_mode)
        k = _pair(_arg(args, kwargs, 2 if lp else 1, "kernel_size", 1))
        s = _pair(_arg(args, kwargs, 3 if lp else 2, "stride", None) or k)  # stride defaults to kernel
        p = (0, 0) if lp else _pair(_arg(args, kwargs, 3, "padding", 0))
        d = _pair(_arg(args, kwargs, 4, "dilation", 1)) if "max" in name else (1, 1)
        return tuple(window(spans[i], k[i], s[i], d[i], p[i]) for i in range(2))
    x = args[0]
    if "adaptive" in name or name == "interpolate":
        sizes = [(x.shape[-2 + i], out.shape[-2 + i]) for i in range(2)]
        if "adaptive" in name:  # global pooling too: its unit sees the hull of the whole map
            mode, corners = "area", False
        else:
            mode = _arg(args, kwargs, 3, "mode", "nearest")
            corners = _arg(args, kwargs, 4, "align_corners", None)
            if _arg(args, kwargs, 6, "antialias", False):
                raise ValueError("no receptive-field rule for antialiased interpolation")
        return tuple(interpolate(spans[i], *sizes[i], mode, bool(corners)) for i in range(2))
    if name in ("pixel_shuffle", "pixel_unshuffle"):
        r = int(_arg(args, kwargs, 1, "upscale_factor" if name == "pixel_shuffle" else "downscale_factor", 1))
        if name == "pixel_unshuffle":
            return tuple(window(sp, r, r) for sp in spans)
        return tuple(resample(sp, Fraction(1, r), lambda o: [o // r]) for sp in spans)
    if name == "pad":
        pad = list(_arg(args, kwargs, 1, "pad", ())) + [0, 0, 0, 0]
        return window(spans[0], 1, 1, 1, pad[2]), window(spans[1], 1, 1, 1, pad[0])
    if name == "__getitem__":
        return _index(x, args[1], spans)
    return spans


def _reduce(args: tuple, kwargs: dict, spans: tuple[Span, Span]) -> Spans:
    """A reduction mixes all positions if it runs over a spatial axis (or over everything)."""
    x, dim = args[0], _arg(args, kwargs, 1, "dim", None)
    if isinstance(dim, torch.Tensor):  # torch.max(a, b): elementwise
        return spans
    if dim is None or x.ndim < 3:
        return None
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    return None if any(d % x.ndim >= x.ndim - 2 for d in dims) else spans


def _index(x: torch.Tensor, idx, spans: tuple[Span, Span]) -> Spans:
    """x[idx]: slices of the spatial axes crop (and stride) them; other indexing keeps the spans."""
    idx = idx if isinstance(idx, tuple) else (idx,)
    if any(i is None or isinstance(i, bool) for i in idx) or sum(i is Ellipsis for i in idx) > 1:
        return spans
    if Ellipsis in idx:
        at = idx.index(Ellipsis)
        idx = idx[:at] + (slice(None),) * (x.ndim - len(idx) + 1) + idx[at + 1:]
    idx = idx + (slice(None),) * (x.ndim - len(idx))
    if len(idx) != x.ndim or x.ndim < 3:
        return spans
    new = []
    for i, span in zip(idx[-2:], spans):
        if not isinstance(i, slice):
            return None  # a spatial axis picked by number or by a tensor: not a map any more
        start, _, step = i.indices(x.shape[-2 + len(new)])
        new.append(window(span, 1, step, 1, -start))
    return tuple(new)
