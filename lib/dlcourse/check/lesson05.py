"""Exercise checks for notebook 05 (convolution).

Every name in __all__ becomes `dlcourse.check.<name>`; each passes quietly or raises AssertionError
with a hint that guides without giving the answer.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from dlcourse.check._common import call, require, tensor, whole_number

__all__ = ["horizontal_edge_kernel", "conv_param_count", "correlate_loops"]


def horizontal_edge_kernel(kernel: object) -> None:
    """Exercise 1: a 3x3 kernel that fires on dark-above/bright-below edges, not flat or vertical ones."""
    k = tensor(kernel, "my_kernel")
    require(k.shape == (3, 3), f"the kernel should be 3x3, got shape {tuple(k.shape)}.")
    flat = torch.ones(1, 1, 6, 6, dtype=torch.float64)
    step_down = torch.zeros(1, 1, 6, 6, dtype=torch.float64)
    step_down[..., 3:, :] = 1.0  # dark top half, bright bottom half
    step_right = step_down.transpose(-1, -2)  # dark left, bright right
    respond = lambda img: F.conv2d(img, k[None, None])  # noqa: E731 - cross-correlation, as nn.Conv2d
    require(respond(flat).abs().max() < 1e-9, "a flat region should give 0: make the weights add up to zero.")
    require(respond(step_right).abs().max() < 1e-9,
            "a vertical edge should give 0: every column of weights should have the same sum.")
    require(respond(step_down).max() > 1e-6,
            "the dark-to-bright edge going down should give a positive response: put negative "
            "weights in the top row and positive weights in the bottom row.")


def conv_param_count(fn: Callable[..., int]) -> None:
    """Exercise 2: fn(c_in, c_out, k, bias=True) against the parameter count of nn.Conv2d."""
    cases = [(3, 10, 5, True), (1, 6, 5, True), (64, 32, 1, True), (3, 96, 11, False), (16, 8, 3, True)]
    for c_in, c_out, k, bias in cases:
        got = whole_number(call(fn, c_in, c_out, k, bias=bias, name="my_conv_params"),
                           f"my_conv_params({c_in}, {c_out}, {k}, bias={bias})")
        want = sum(p.numel() for p in nn.Conv2d(c_in, c_out, k, bias=bias).parameters())
        require(got == want, f"my_conv_params({c_in}, {c_out}, {k}, bias={bias}) returned {got}: each of "
                "the c_out filters has a k x k weight for every input channel, plus one bias if used.")


def correlate_loops(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """Exercise 3: fn(image (H, W), kernel (kH, kW)) -> valid cross-correlation, against F.conv2d."""
    sobel = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    worked = torch.tensor([[3.0, 2, 1], [1, 2, 3], [1, 1, 1]])
    out = tensor(call(fn, worked, sobel, name="my_correlate"), "the returned output")
    require(out.shape == (1, 1), f"a 3x3 kernel on a 3x3 image leaves one output (1, 1), got "
            f"{tuple(out.shape)}: slide the kernel only where it fits entirely.")
    require(abs(out.item() - 2.0) < 1e-5, "the lecture's worked example gives 2, you got "
            f"{out.item():g}: multiply each weight by the pixel under it (no kernel flip) and add.")
    gen = torch.Generator().manual_seed(0)
    for h, w, kh, kw in [(5, 7, 3, 3), (6, 4, 2, 3), (4, 4, 1, 1)]:
        image, kernel = torch.randn(h, w, generator=gen), torch.randn(kh, kw, generator=gen)
        want = F.conv2d(image[None, None], kernel[None, None])[0, 0].double()
        got = tensor(call(fn, image, kernel, name="my_correlate"), "the returned output")
        require(got.shape == want.shape, f"a {kh}x{kw} kernel on a {h}x{w} image should give "
                f"{tuple(want.shape)} outputs, got {tuple(got.shape)}: (N - F) + 1 along each axis.")
        require(torch.allclose(got, want, atol=1e-4), f"values differ from F.conv2d on a random {h}x{w} "
                "image: output[i, j] sums image[i + m, j + n] * kernel[m, n].")
