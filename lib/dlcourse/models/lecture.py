"""The lecture's first CNN: CCP blocks (CONV-RELU-CONV-RELU-POOL) under one linear classifier."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from dlcourse.shapes import conv_output_size

# the lecture's channels per CCP block (conv1, conv2): wide first, narrow last
LECTURE_WIDTHS: tuple[tuple[int, int], ...] = ((64, 64), (32, 16), (16, 8))


class CCP(nn.Sequential):
    """Conv -> ReLU -> Conv -> ReLU -> MaxPool: the CONV-RELU-POOL pattern with two convolutions.

    With batch_norm=True each convolution is followed by BatchNorm (Ioffe & Szegedy 2015) before its
    ReLU, and has no bias of its own (BatchNorm's shift replaces it).
    """

    def __init__(self, in_channels: int, out_channels1: int, out_channels2: int,
                 kernel_size: int = 3, pool_kernel: int = 2, stride: int = 1,
                 padding: int = 1, batch_norm: bool = False) -> None:
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        pairs = [(in_channels, out_channels1), (out_channels1, out_channels2)]
        for i, (c_in, c_out) in enumerate(pairs, start=1):
            # (B, c_out, H, W) with padding 1 and stride 1
            layers[f"conv{i}"] = nn.Conv2d(c_in, c_out, kernel_size, stride, padding,
                                           bias=not batch_norm)
            if batch_norm:
                layers[f"bn{i}"] = nn.BatchNorm2d(c_out)
            layers[f"relu{i}"] = nn.ReLU()
        layers["pool"] = nn.MaxPool2d(kernel_size=pool_kernel)  # (B, C2, H/2, W/2) at the default 2
        super().__init__(layers)


class ClassificationModel(nn.Module):
    """Three CCP blocks (64-64, 32-16, 16-8 channels), flatten, one Linear layer, as in the lecture.

    The lecture sizes the classifier as nn.Linear(8 * 6 * 6, ...) "for 224x224 input"; that is the
    default flatten_size here on purpose, so that `trace_shapes` can show it is wrong (an exercise).
    Pass the right flatten_size, or use `first_cnn`, which computes it. `widths` sets the channels
    of the three blocks, `batch_norm` adds BatchNorm after every convolution.
    """

    def __init__(self, num_classes: int, in_channels: int = 3, flatten_size: int = 8 * 6 * 6,
                 widths: tuple[tuple[int, int], ...] = LECTURE_WIDTHS,
                 batch_norm: bool = False) -> None:
        super().__init__()
        if len(widths) != 3 or any(len(pair) != 2 for pair in widths):
            raise ValueError(f"widths must be three (conv1, conv2) channel pairs, one per CCP block, "
                             f"e.g. {LECTURE_WIDTHS}; got {widths!r}")
        (a1, a2), (b1, b2), (c1, c2) = widths
        self.layer1 = CCP(in_channels, a1, a2, batch_norm=batch_norm)
        self.layer2 = CCP(a2, b1, b2, batch_norm=batch_norm)
        self.layer3 = CCP(b2, c1, c2, batch_norm=batch_norm)
        self.fc = nn.Linear(flatten_size, num_classes)  # must equal c2 * H/8 * W/8

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer1(x)  # (B, 64, H/2, W/2) with the lecture's widths
        x = self.layer2(x)  # (B, 16, H/4, W/4)
        x = self.layer3(x)  # (B, 8, H/8, W/8)
        x = x.view(x.size(0), -1)  # (B, 8 * H/8 * W/8)
        x = self.fc(x)  # (B, num_classes)
        return x


def ccp_flatten_size(input_size: int, num_blocks: int = 3, channels: int = 8, pool: int = 2) -> int:
    """Features after `num_blocks` size-keeping CCP blocks on a square input: channels * side^2."""
    side = input_size
    for _ in range(num_blocks):
        side = conv_output_size(side, pool, 0, pool, strict=False)  # MaxPool2d floors odd sizes
    return channels * side * side


def first_cnn(num_classes: int = 10, in_channels: int = 1, input_size: int = 28,
              widths: tuple[tuple[int, int], ...] = LECTURE_WIDTHS,
              batch_norm: bool = False) -> ClassificationModel:
    """The lecture's ClassificationModel with the flatten size computed for the input.

    The CONV-RELU-POOL-FC pattern follows LeNet-5 (LeCun et al., 1998, "Gradient-based learning
    applied to document recognition"). For 28x28 Fashion-MNIST: 28 -> 14 -> 7 -> 3, so 8*3*3 = 72
    with the lecture's widths. Lesson 06 trains `widths=((8, 8), (16, 16), (32, 32))` with
    `batch_norm=True`: the width grows as the maps shrink, as in VGG.
    """
    flatten_size = ccp_flatten_size(input_size, channels=widths[-1][-1])
    return ClassificationModel(num_classes, in_channels, flatten_size, widths, batch_norm)
