"""Residual and dense networks: ResNet-18/34/50/101/152 and DenseNet-121.

Parameter for parameter the same as torchvision's `resnet*` and `densenet121` (the unit tests
assert it), written so each block reads like the figure in its paper.

Two ResNet variants: "v1.5" (the default, as torchvision builds it) subsamples in the 3x3 conv of a
bottleneck block; "v1" (the paper's) in its first 1x1. They have the same parameters; v1.5 costs
more multiply-adds per 224x224 image and is a bit more accurate: ResNet-50 4.09 G vs 3.86 G (the
paper quotes 3.8 G), ResNet-101 7.80 G vs 7.57 G (7.6 G), ResNet-152 11.51 G vs 11.28 G (11.3 G).
ResNet-18/34 (basic blocks only) are the same in both: 1.8 G and 3.6 G.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = [
    "conv3x3", "conv1x1", "BasicBlock", "Bottleneck", "ResNet", "RESNET_LAYERS", "resnet",
    "RESNET_VARIANTS", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "DenseLayer",
    "DenseBlock",
    "Transition", "DenseNet", "densenet121",
]


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding 1 and no bias (a BatchNorm follows)."""
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution without bias: mixes channels, changes depth, optionally subsamples."""
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)


def shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module | None:
    """Projection shortcut (1x1 conv + BN) when shape changes, else None for the identity."""
    if stride == 1 and in_channels == out_channels:
        return None
    return nn.Sequential(conv1x1(in_channels, out_channels, stride), nn.BatchNorm2d(out_channels))


class BasicBlock(nn.Module):
    """Two 3x3 convs plus the input: out = relu(F(x) + x) (ResNet-18/34)."""

    expansion = 1  # output depth = channels * expansion

    def __init__(self, in_channels: int, channels: int, stride: int = 1, **_) -> None:
        super().__init__()
        self.conv1 = conv3x3(in_channels, channels, stride)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(channels, channels)
        self.bn2 = nn.BatchNorm2d(channels)
        self.downsample = shortcut(in_channels, channels * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))  # (B, C, H/s, W/s)
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)  # the residual connection


class Bottleneck(nn.Module):
    """1x1 (reduce) - 3x3 - 1x1 (expand x4) plus the input (ResNet-50/101/152).

    stride_in_1x1=True subsamples in the first 1x1 as in the paper ("v1": 3.86 G multiply-adds for
    ResNet-50, quoted as 3.8 G); the default puts it in the 3x3 as torchvision does ("v1.5":
    4.09 G, a bit more accurate).
    """

    expansion = 4

    def __init__(self, in_channels: int, channels: int, stride: int = 1,
                 stride_in_1x1: bool = False) -> None:
        super().__init__()
        s1, s3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = conv1x1(in_channels, channels, s1)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = conv3x3(channels, channels, s3)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv3 = conv1x1(channels, channels * self.expansion)
        self.bn3 = nn.BatchNorm2d(channels * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = shortcut(in_channels, channels * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))  # (B, C, H, W): thin
        out = self.relu(self.bn2(self.conv2(out)))  # (B, C, H/s, W/s)
        out = self.bn3(self.conv3(out))  # (B, 4C, H/s, W/s): wide again
        return self.relu(out + identity)


# blocks per stage (conv2_x ... conv5_x) from Table 1 of the paper
RESNET_LAYERS: dict[int, tuple[type[nn.Module], tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}

# where a bottleneck block subsamples: v1 (He et al. 2015) in the first 1x1, v1.5 (torchvision) in
# the 3x3; the value is Bottleneck's stride_in_1x1
RESNET_VARIANTS: dict[str, bool] = {"v1": True, "v1.5": False}


class ResNet(nn.Module):
    """ResNet: stem, stages of residual blocks (depth doubles as size halves), GAP, one FC.

    variant: "v1.5" (default, torchvision's: bottlenecks subsample in their 3x3) or "v1" (the
    paper's: in their first 1x1). Basic blocks (ResNet-18/34) are the same in both.
    """

    def __init__(self, block: type[nn.Module], layers: tuple[int, ...], num_classes: int = 1000,
                 widths: tuple[int, ...] = (64, 128, 256, 512), in_channels: int = 3,
                 small_input: bool = False, variant: str = "v1.5") -> None:
        super().__init__()
        if variant not in RESNET_VARIANTS:
            raise ValueError(f"variant must be 'v1' (the paper's: stride in the first 1x1) or 'v1.5' "
                             f"(torchvision's: stride in the 3x3), got {variant!r}")
        self.variant = variant
        self.stride_in_1x1 = RESNET_VARIANTS[variant]
        if small_input:  # 28x28 / 32x32 images: a 3x3 stem that keeps the resolution
            self.conv1 = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
            self.maxpool = nn.Identity()
        else:  # ImageNet: 7x7/2 conv then 3x3/2 pool, 224 -> 56
            self.conv1 = nn.Conv2d(in_channels, widths[0], 7, stride=2, padding=3, bias=False)
            self.maxpool = nn.MaxPool2d(3, 2, padding=1)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.in_channels = widths[0]
        stages = [self._make_stage(block, w, n, 1 if i == 0 else 2)
                  for i, (w, n) in enumerate(zip(widths, layers))]
        self.layer1, self.layer2, self.layer3, self.layer4 = (stages + [nn.Identity()] * 4)[:4]
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(self.in_channels, num_classes)

    def _make_stage(self, block: type[nn.Module], channels: int, num_blocks: int,
                    stride: int) -> nn.Sequential:
        """One stage: the first block may subsample and widen, the rest keep the shape."""
        blocks = []
        for i in range(num_blocks):
            blocks.append(block(self.in_channels, channels, stride if i == 0 else 1,
                                stride_in_1x1=self.stride_in_1x1))
            self.in_channels = channels * block.expansion
        return nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # (B, 64, 56, 56) at 224
        x = self.layer1(x)  # (B, 64 * e, 56, 56)
        x = self.layer2(x)  # (B, 128 * e, 28, 28)
        x = self.layer3(x)  # (B, 256 * e, 14, 14)
        x = self.layer4(x)  # (B, 512 * e, 7, 7)
        x = torch.flatten(self.avgpool(x), 1)  # global average pooling
        return self.fc(x)


def resnet(depth: int = 18, num_classes: int = 1000, **kwargs) -> ResNet:
    """ResNet-`depth` from He et al., "Deep Residual Learning for Image Recognition" (2015).

    Args:
        depth: 18 or 34 (basic blocks), 50, 101 or 152 (bottleneck blocks).
        kwargs: go to `ResNet` (widths, in_channels, small_input, variant="v1.5" or "v1").
    """
    if depth not in RESNET_LAYERS:
        raise ValueError(f"ResNet depth must be one of {sorted(RESNET_LAYERS)}, got {depth}")
    block, layers = RESNET_LAYERS[depth]
    return ResNet(block, layers, num_classes=num_classes, **kwargs)


def resnet18(**kwargs) -> ResNet:
    """ResNet-18 (He et al. 2015): basic blocks [2, 2, 2, 2], 1.8 G multiply-adds at 224x224."""
    return resnet(18, **kwargs)


def resnet34(**kwargs) -> ResNet:
    """ResNet-34 (He et al. 2015): basic blocks [3, 4, 6, 3], 3.6 G multiply-adds at 224x224."""
    return resnet(34, **kwargs)


def resnet50(**kwargs) -> ResNet:
    """ResNet-50 (He et al. 2015): bottlenecks [3, 4, 6, 3].

    Multiply-adds at 224x224: 4.09 G as built by default (v1.5, torchvision's), 3.86 G with
    variant="v1" (the paper's, which quotes 3.8 G).
    """
    return resnet(50, **kwargs)


def resnet101(**kwargs) -> ResNet:
    """ResNet-101 (He et al. 2015): bottlenecks [3, 4, 23, 3].

    Multiply-adds at 224x224: 7.80 G (v1.5, the default), 7.57 G with variant="v1" (the paper's
    7.6 G).
    """
    return resnet(101, **kwargs)


def resnet152(**kwargs) -> ResNet:
    """ResNet-152 (He et al. 2015): bottlenecks [3, 8, 36, 3].

    Multiply-adds at 224x224: 11.51 G (v1.5, the default), 11.28 G with variant="v1" (the
    paper's 11.3 G).
    """
    return resnet(152, **kwargs)


# -------------------------------------------------------------------------------------- DenseNet
class DenseLayer(nn.Module):
    """BN-ReLU-1x1 conv (4k wide) - BN-ReLU-3x3 conv: adds k = growth_rate new feature maps."""

    def __init__(self, in_channels: int, growth_rate: int, bn_size: int = 4) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = conv1x1(in_channels, bn_size * growth_rate)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(bn_size * growth_rate, growth_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(self.relu1(self.norm1(x)))  # (B, 4k, H, W): the bottleneck
        return self.conv2(self.relu2(self.norm2(out)))  # (B, k, H, W)


class DenseBlock(nn.Module):
    """Each layer sees the concatenation of the block input and all earlier layers' outputs."""

    def __init__(self, num_layers: int, in_channels: int, growth_rate: int,
                 bn_size: int = 4) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            DenseLayer(in_channels + i * growth_rate, growth_rate, bn_size)
            for i in range(num_layers))
        self.out_channels = in_channels + num_layers * growth_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, dim=1)))  # (B, C + i*k, H, W) in
        return torch.cat(features, dim=1)  # (B, C + L*k, H, W)


class Transition(nn.Sequential):
    """Between dense blocks: BN-ReLU-1x1 conv (compress channels) then 2x2 average pooling."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(nn.BatchNorm2d(in_channels), nn.ReLU(inplace=True),
                         conv1x1(in_channels, out_channels), nn.AvgPool2d(2, 2))


class DenseNet(nn.Module):
    """DenseNet: stem, dense blocks joined by transitions, BN-ReLU, GAP, one FC."""

    def __init__(self, block_config: tuple[int, ...] = (6, 12, 24, 16), growth_rate: int = 32,
                 num_init_features: int = 64, bn_size: int = 4, compression: float = 0.5,
                 num_classes: int = 1000, in_channels: int = 3, small_input: bool = False) -> None:
        super().__init__()
        if small_input:  # 28x28 inputs: one 3x3 conv, no subsampling in the stem
            stem = [nn.Conv2d(in_channels, num_init_features, 3, padding=1, bias=False)]
        else:
            stem = [nn.Conv2d(in_channels, num_init_features, 7, 2, 3, bias=False),
                    nn.BatchNorm2d(num_init_features), nn.ReLU(inplace=True),
                    nn.MaxPool2d(3, 2, padding=1)]
        layers: list[nn.Module] = stem
        channels = num_init_features
        for i, num_layers in enumerate(block_config):
            block = DenseBlock(num_layers, channels, growth_rate, bn_size)
            layers.append(block)
            channels = block.out_channels
            if i < len(block_config) - 1:  # halve channels and resolution between blocks
                layers.append(Transition(channels, int(channels * compression)))
                channels = int(channels * compression)
        layers += [nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # (B, 1024, 7, 7) for DenseNet-121 at 224
        x = torch.flatten(self.avgpool(x), 1)
        return self.classifier(x)


def densenet121(num_classes: int = 1000, **kwargs) -> DenseNet:
    """DenseNet-121 from Huang et al., "Densely Connected Convolutional Networks" (2017).

    Growth rate k=32, blocks of (6, 12, 24, 16) layers, bottleneck 4k, compression 0.5.
    """
    return DenseNet((6, 12, 24, 16), growth_rate=32, num_init_features=64,
                    num_classes=num_classes, **kwargs)
