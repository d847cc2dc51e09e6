"""Exercise checks for notebooks 05-06 (convolution, pooling, a first CNN).

Every name in __all__ becomes `dlcourse.check.<name>`; each passes quietly or raises AssertionError
with a hint that guides without giving the answer.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["horizontal_edge_kernel", "conv_param_count", "correlate_loops", "lecture_flatten_size",
           "max_pool_reshape"]


def _require(ok: bool, hint: str) -> None:
    """Raise AssertionError(hint) unless ok."""
    if not ok:
        raise AssertionError(hint)


def _tensor(x: object, name: str) -> torch.Tensor:
    try:
        return torch.as_tensor(x, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError) as err:
        raise AssertionError(f"{name} should be numbers (a nested list or a tensor), got "
                             f"{type(x).__name__}.") from err


# --- 05 convolution -------------------------------------------------------------------------------


def horizontal_edge_kernel(kernel: object) -> None:
    """Check a 3x3 kernel that fires on dark-above/bright-below edges, not flat or vertical ones."""
    k = _tensor(kernel, "kernel")
    _require(k.shape == (3, 3), f"the kernel should be 3x3, got shape {tuple(k.shape)}.")
    flat = torch.ones(1, 1, 6, 6, dtype=torch.float64)
    step_down = torch.zeros(1, 1, 6, 6, dtype=torch.float64)
    step_down[..., 3:, :] = 1.0  # dark top half, bright bottom half
    step_right = step_down.transpose(-1, -2)  # dark left, bright right
    respond = lambda img: F.conv2d(img, k[None, None])  # noqa: E731 - cross-correlation, as nn.Conv2d
    _require(respond(flat).abs().max() < 1e-9,
             "a flat region should give 0: make the weights add up to zero.")
    _require(respond(step_right).abs().max() < 1e-9,
             "a vertical edge should give 0: every column of weights should have the same sum.")
    _require(respond(step_down).max() > 1e-6,
             "the dark-to-bright edge going down should give a positive response: put negative "
             "weights in the top row and positive weights in the bottom row.")


def conv_param_count(fn: Callable[..., int]) -> None:
    """Check fn(c_in, c_out, k, bias=True) against the parameter count of nn.Conv2d."""
    cases = [(3, 10, 5, True), (1, 6, 5, True), (64, 32, 1, True), (3, 96, 11, False),
             (16, 8, 3, True)]
    for c_in, c_out, k, bias in cases:
        got = fn(c_in, c_out, k, bias=bias)
        want = sum(p.numel() for p in nn.Conv2d(c_in, c_out, k, bias=bias).parameters())
        _require(got == want, f"fn({c_in}, {c_out}, {k}, bias={bias}) returned {got}: each of the "
                 "c_out filters has a k x k weight for every input channel, plus one bias if used.")


def correlate_loops(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """Check fn(image (H, W), kernel (kH, kW)) -> valid cross-correlation, against F.conv2d."""
    sobel = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    worked = torch.tensor([[3.0, 2, 1], [1, 2, 3], [1, 1, 1]])
    out = torch.as_tensor(fn(worked, sobel), dtype=torch.float32)
    _require(out.shape == (1, 1), f"a 3x3 kernel on a 3x3 image leaves one output (1, 1), got "
             f"{tuple(out.shape)}: slide the kernel only where it fits entirely.")
    _require(abs(out.item() - 2.0) < 1e-5, "the lecture's worked example gives 2, you got "
             f"{out.item()}: multiply each weight by the pixel under it (no kernel flip) and add.")
    gen = torch.Generator().manual_seed(0)
    for h, w, kh, kw in [(5, 7, 3, 3), (6, 4, 2, 3), (4, 4, 1, 1)]:
        image, kernel = torch.randn(h, w, generator=gen), torch.randn(kh, kw, generator=gen)
        want = F.conv2d(image[None, None], kernel[None, None])[0, 0]
        got = torch.as_tensor(fn(image, kernel), dtype=torch.float32)
        _require(got.shape == want.shape, f"a {kh}x{kw} kernel on a {h}x{w} image should give "
                 f"{tuple(want.shape)} outputs, got {tuple(got.shape)}: (N - F) + 1 along each "
                 "axis.")
        _require(torch.allclose(got, want, atol=1e-4), f"values differ from F.conv2d on a random "
                 f"{h}x{w} image: output[i, j] sums image[i + m, j + n] * kernel[m, n].")


# --- 06 pooling and a first CNN -------------------------------------------------------------------


def lecture_flatten_size(n: int) -> None:
    """Check the flatten size of the lecture's ClassificationModel for a 3x224x224 input."""
    _require(isinstance(n, int), f"give the number of features as an int, got {type(n).__name__}.")
    _require(n != 8 * 6 * 6, "8*6*6 is the lecture's comment, the claim we are testing: trace the "
             "shapes with dlcourse.shapes.trace_shapes(model, (3, 224, 224)).")
    _require(n == 8 * (224 // 8) ** 2, "the convolutions keep the size (padding 1) and each of "
             "the 3 max pools halves it: channels of the last block x height x width.")


def max_pool_reshape(fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """Check fn(x (B, C, H, W)) -> 2x2 stride-2 max pooling, against F.max_pool2d."""
    gen = torch.Generator().manual_seed(0)
    for shape in [(1, 1, 4, 4), (2, 3, 6, 8), (3, 2, 2, 10)]:
        x = torch.randn(shape, generator=gen)
        got, want = fn(x), F.max_pool2d(x, 2)
        _require(tuple(got.shape) == tuple(want.shape), f"for input {shape} the output should be "
                 f"{tuple(want.shape)}, got {tuple(got.shape)}: each 2x2 block gives one number.")
        _require(torch.allclose(got, want), f"values differ from F.max_pool2d for input {shape}: "
                 "after splitting H into (H/2, 2) and W into (W/2, 2), take the max over both "
                 "2-axes.")
