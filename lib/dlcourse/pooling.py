"""Pooling from scratch: max, average and L2 pooling with loops, gradient routing, global."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from dlcourse.shapes import conv_output_size

MODES = ("max", "avg", "l2")


def _pool_setup(x: Tensor, kernel_size: int, stride: int | None, padding: int,
                strict: bool) -> tuple[int, int, int]:
    """Validate pooling arguments; return (stride, OH, OW)."""
    if x.dim() != 4:
        raise ValueError(f"x must be (B, C, H, W), got shape {tuple(x.shape)}; for one (H, W) map "
                         "use x[None, None]")
    stride = kernel_size if stride is None else stride  # non-overlapping windows by default
    for name, v, low in (("kernel_size", kernel_size, 1), ("stride", stride, 1), ("padding", padding, 0)):
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ValueError(f"{name} must be a whole number >= {low}, got {v!r}")
    if padding > kernel_size // 2:
        raise ValueError(f"padding {padding} is more than half the window {kernel_size}: some "
                         "windows would hold only padding; use padding <= kernel_size // 2")
    oh, ow = (conv_output_size(n, kernel_size, padding, stride, strict=strict) for n in x.shape[2:])
    return stride, oh, ow


def pool2d(x: Tensor, kernel_size: int = 2, stride: int | None = None, padding: int = 0,
           mode: str = "max", strict: bool = False) -> Tensor:
    """Pool each channel independently over kernel_size x kernel_size windows, with loops.

    x (B, C, H, W) -> (B, C, OH, OW). mode: "max", "avg" (zero padding counted, as torch does) or
    "l2" (sqrt of the sum of squares, like F.lp_pool2d(norm_type=2)). No parameters to learn.
    Differentiable through autograd; strict=True refuses windows that do not tile the input.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    s, oh, ow = _pool_setup(x, kernel_size, stride, padding, strict)
    fill = float("-inf") if mode == "max" else 0.0  # padding never wins a max
    xp = F.pad(x, (padding,) * 4, value=fill)
    k = kernel_size
    rows = []
    for i in range(oh):
        cols = []
        for j in range(ow):
            window = xp[:, :, i * s:i * s + k, j * s:j * s + k].flatten(2)  # (B, C, k*k)
            if mode == "max":  # max, not amax: the gradient goes to one winner per window, as in torch
                cols.append(window.max(dim=-1).values)
            elif mode == "avg":
                cols.append(window.mean(dim=-1))
            else:
                cols.append(window.pow(2).sum(dim=-1).sqrt())
        rows.append(torch.stack(cols, dim=-1))  # (B, C, OW)
    return torch.stack(rows, dim=-2)  # (B, C, OH, OW)


def max_pool2d_with_indices(x: Tensor, kernel_size: int = 2,
                            stride: int | None = None) -> tuple[Tensor, Tensor]:
    """Max pooling that also returns, per output, the flat index (h*W + w) of the winning input."""
    s, oh, ow = _pool_setup(x, kernel_size, stride, 0, strict=False)
    k, width = kernel_size, x.shape[3]
    out = x.new_empty(x.shape[0], x.shape[1], oh, ow)
    idx = torch.empty(out.shape, dtype=torch.long, device=x.device)
    for i in range(oh):
        for j in range(ow):
            window = x[:, :, i * s:i * s + k, j * s:j * s + k].flatten(2)  # (B, C, k*k)
            val, arg = window.max(dim=-1)  # first maximum wins ties
            out[:, :, i, j] = val
            idx[:, :, i, j] = (i * s + arg // k) * width + (j * s + arg % k)
    return out, idx


def max_pool2d_backward(grad_out: Tensor, indices: Tensor,
                        input_shape: tuple[int, ...]) -> Tensor:
    """Route each output gradient to the input that was the max; every other input gets zero.

    Overlapping windows that share a winner add their gradients.
    """
    if grad_out.shape != indices.shape:
        raise ValueError(f"grad_out {tuple(grad_out.shape)} and indices {tuple(indices.shape)} "
                         "must have the same shape (that of the pooled output)")
    b, c, h, w = input_shape
    grad_x = grad_out.new_zeros(b, c, h * w)
    grad_x.scatter_add_(2, indices.flatten(2), grad_out.flatten(2))
    return grad_x.reshape(b, c, h, w)


def avg_pool2d_backward(grad_out: Tensor, input_shape: tuple[int, ...], kernel_size: int = 2,
                        stride: int | None = None) -> Tensor:
    """Spread each output gradient evenly (1/k^2) over its window."""
    if len(input_shape) != 4:
        raise ValueError(f"input_shape must be (B, C, H, W), got {tuple(input_shape)}")
    x = grad_out.new_empty(()).expand(*input_shape)  # the shape only, no memory
    s, oh, ow = _pool_setup(x, kernel_size, stride, 0, strict=False)
    want = (*input_shape[:2], oh, ow)
    if tuple(grad_out.shape) != want:
        raise ValueError(f"grad_out must have the pooled output's shape {want} (input {tuple(input_shape)}, "
                         f"{kernel_size}x{kernel_size} windows, stride {s}), got {tuple(grad_out.shape)}")
    k = kernel_size
    grad_x = grad_out.new_zeros(input_shape)
    for i in range(grad_out.shape[2]):
        for j in range(grad_out.shape[3]):
            share = grad_out[:, :, i:i + 1, j:j + 1] / k**2  # each of the k*k inputs gets 1/k^2
            grad_x[:, :, i * s:i * s + k, j * s:j * s + k] += share
    return grad_x


def global_avg_pool(x: Tensor) -> Tensor:
    """Average each feature map to one number: (B, C, H, W) -> (B, C), whatever H and W."""
    if x.dim() != 4:
        raise ValueError(f"x must be (B, C, H, W), got shape {tuple(x.shape)}")
    return x.mean(dim=(2, 3))


def max_pool_by_reshape(x: Tensor) -> Tensor:
    """2x2 stride-2 max pooling without loops: split H and W into (H/2, 2) and take the max."""
    b, c, h, w = x.shape
    if h % 2 or w % 2:
        raise ValueError(f"height and width must be even for 2x2 pooling, got {h}x{w}; crop or pad")
    return x.reshape(b, c, h // 2, 2, w // 2, 2).amax(dim=(3, 5))


def shift(x: Tensor, dy: int = 0, dx: int = 0) -> Tensor:
    """Translate (..., H, W) maps by (dy, dx) pixels, filling the uncovered border with zeros."""
    out = torch.zeros_like(x)
    h, w = x.shape[-2:]
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[..., yd, xd] = x[..., ys, xs]
    return out


def fraction_unchanged(a: Tensor, b: Tensor, atol: float = 1e-6) -> float:
    """Share of entries equal (within atol) in two same-shape tensors: a measure of invariance."""
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    return (a - b).abs().le(atol).float().mean().item()
