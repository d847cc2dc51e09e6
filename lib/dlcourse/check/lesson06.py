"""Exercise checks for notebook 06 (pooling and a first CNN).

Every name in __all__ becomes `dlcourse.check.<name>`; each passes quietly or raises AssertionError
with a hint that guides without giving the answer.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from dlcourse.check._common import call, require, tensor, whole_number

__all__ = ["lecture_flatten_size", "max_pool_reshape"]


def lecture_flatten_size(n: object) -> None:
    """Exercise 1: the flatten size of the lecture's ClassificationModel for a 3x224x224 input."""
    n = whole_number(n, "flatten_size")
    require(n != 8 * 6 * 6, "8*6*6 is the lecture's comment, the claim we are testing: trace the "
            "shapes with dlcourse.shapes.trace_shapes(model, (3, 224, 224)).")
    require(n == 8 * (224 // 8) ** 2, "the convolutions keep the size (padding 1) and each of the 3 max "
            "pools halves it: channels of the last block x height x width.")


def max_pool_reshape(fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """Exercise 2: fn(x (B, C, H, W)) -> 2x2 stride-2 max pooling, against F.max_pool2d."""
    gen = torch.Generator().manual_seed(0)
    for shape in [(1, 1, 4, 4), (2, 3, 6, 8), (3, 2, 2, 10)]:
        x = torch.randn(shape, generator=gen)
        got = tensor(call(fn, x.clone(), name="my_max_pool"), "the pooled output")
        want = F.max_pool2d(x, 2).double()
        require(tuple(got.shape) == tuple(want.shape), f"for input {shape} the output should be "
                f"{tuple(want.shape)}, got {tuple(got.shape)}: each 2x2 block gives one number.")
        require(torch.allclose(got, want), f"values differ from F.max_pool2d for input {shape}: after "
                "splitting H into (H/2, 2) and W into (W/2, 2), take the max over both 2-axes.")
