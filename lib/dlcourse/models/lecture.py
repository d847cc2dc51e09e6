"""The lecture's first CNN: CCP blocks (CONV-RELU-CONV-RELU-POOL) under one linear classifier."""

from __future__ import annotations

import torch
from torch import nn

from dlcourse.shapes import conv_output_size


class CCP(nn.Module):
    """Conv -> ReLU -> Conv -> ReLU -> MaxPool: the CONV-RELU-POOL pattern with two convolutions."""

    def __init__(self, in_channels: int, out_channels1: int, out_channels2: int,
                 kernel_size: int = 3, pool_kernel: int = 2, stride: int = 1,
                 padding: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels1, kernel_size, stride, padding)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(out_channels1, out_channels2, kernel_size, stride, padding)
        self.relu2 = nn.ReLU()
        self.pool = nn.MaxPool2d(kernel_size=pool_kernel)  # halves H and W at the default 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu1(self.conv1(x))  # (B, C1, H, W) with padding 1 and stride 1
        x = self.relu2(self.conv2(x))  # (B, C2, H, W)
        x = self.pool(x)  # (B, C2, H/2, W/2)
        return x


class ClassificationModel(nn.Module):
    """Three CCP blocks (64-64, 32-16, 16-8 channels), flatten, one Linear layer, as in the lecture.

    The lecture sizes the classifier as nn.Linear(8 * 6 * 6, ...) "for 224x224 input"; that is the
    default flatten_size here on purpose, so that `trace_shapes` can show it is wrong (an exercise).
    Pass the right flatten_size, or use `first_cnn`, which computes it.
    """

    def __init__(self, num_classes: int, in_channels: int = 3,
                 flatten_size: int = 8 * 6 * 6) -> None:
        super().__init__()
        self.layer1 = CCP(in_channels=in_channels, out_channels1=64, out_channels2=64)
        self.layer2 = CCP(in_channels=64, out_channels1=32, out_channels2=16)
        self.layer3 = CCP(in_channels=16, out_channels1=16, out_channels2=8)
        self.fc = nn.Linear(flatten_size, num_classes)  # must equal 8 * H/8 * W/8

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer1(x)  # (B, 64, H/2, W/2)
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


def first_cnn(num_classes: int = 10, in_channels: int = 1,
              input_size: int = 28) -> ClassificationModel:
    """The lecture's ClassificationModel with the flatten size computed for the input.

    The CONV-RELU-POOL-FC pattern follows LeNet-5 (LeCun et al., 1998, "Gradient-based learning
    applied to document recognition"). For 28x28 Fashion-MNIST: 28 -> 14 -> 7 -> 3, so 8*3*3 = 72.
    """
    return ClassificationModel(num_classes, in_channels, ccp_flatten_size(input_size))
