"""28x28 "mini" versions of each landmark CNN, small enough to train on a CPU in seconds.

Each keeps the design idea of its full-size ancestor (LeNet's tanh + average pooling, AlexNet's big
first kernel, overlapping pools, LRN, grouped convs and dropout FCs, ZFNet's smaller first
kernel and wider middle, VGG's 3x3-only stacks, GoogLeNet's Inception modules and global average pooling,
ResNet's residual stages, DenseNet's concatenating blocks) at 1-6 M multiply-adds per image.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from dlcourse.models.classic import Inception, LeNet5, conv_relu, init_weights, make_vgg_layers, response_norm
from dlcourse.models.resnet import BasicBlock, DenseBlock, Transition

__all__ = ["mini_lenet", "mini_alexnet", "mini_zfnet", "mini_vgg", "mini_googlenet",
           "mini_resnet", "mini_densenet", "MiniGoogLeNet", "MiniResNet", "MINI_MODELS",
           "MINI_FULL_RUN"]


def _classifier(in_features: int, hidden: int, num_classes: int, dropout: float) -> nn.Sequential:
    """AlexNet/VGG-style head: flatten, then two dropout + FC + ReLU layers, then the output FC."""
    return nn.Sequential(
        nn.Flatten(), nn.Dropout(dropout), nn.Linear(in_features, hidden), nn.ReLU(inplace=True),
        nn.Dropout(dropout), nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
        nn.Linear(hidden, num_classes),
    )


def mini_lenet(num_classes: int = 10) -> nn.Module:
    """LeNet-5 (LeCun et al. 1998) itself: padding 2 turns 28x28 into the paper's 32x32 geometry."""
    return LeNet5(num_classes=num_classes, padding=2)


def mini_alexnet(num_classes: int = 10, dropout: float = 0.5) -> nn.Sequential:
    """Mini AlexNet (Krizhevsky et al. 2012): 5x5 first conv, 3x3/2 pools, LRN, 2 groups, FCs."""
    model = nn.Sequential(
        *conv_relu(1, 16, 5, padding=2), nn.MaxPool2d(3, 2), response_norm(),  # 28 -> 13
        *conv_relu(16, 32, 5, padding=2, groups=2), nn.MaxPool2d(3, 2), response_norm(),  # 13 -> 6
        *conv_relu(32, 48, 3, padding=1),
        *conv_relu(48, 48, 3, padding=1, groups=2),
        *conv_relu(48, 32, 3, padding=1, groups=2), nn.MaxPool2d(3, 2),  # 6 -> 2
        _classifier(32 * 2 * 2, 256, num_classes, dropout),
    )
    return init_weights(model, num_classes)


def mini_zfnet(num_classes: int = 10, dropout: float = 0.5) -> nn.Sequential:
    """Mini ZFNet (Zeiler & Fergus 2013): smaller 3x3 first conv, strided conv2, wider conv3-5."""
    model = nn.Sequential(
        *conv_relu(1, 16, 3, padding=1), nn.MaxPool2d(3, 2, padding=1), response_norm(),  # 28 -> 14
        *conv_relu(16, 32, 5, stride=2, padding=2),  # 14 -> 7
        nn.MaxPool2d(3, 2, padding=1), response_norm(),  # 7 -> 4
        *conv_relu(32, 48, 3, padding=1),
        *conv_relu(48, 96, 3, padding=1),
        *conv_relu(96, 48, 3, padding=1), nn.MaxPool2d(3, 2),  # 4 -> 1
        _classifier(48, 256, num_classes, dropout),
    )
    return init_weights(model, num_classes)


def mini_vgg(num_classes: int = 10, batch_norm: bool = True, dropout: float = 0.5) -> nn.Sequential:
    """Mini VGG (Simonyan & Zisserman 2014): only 3x3 convs, 2-3 per stage, width doubling.

    BatchNorm (on by default) lets this plain 10-layer stack train in a few hundred steps.
    """
    features = make_vgg_layers([8, 8, "M", 16, 16, "M", 32, 32, 32, "M"], in_channels=1,
                               batch_norm=batch_norm)  # 28 -> 14 -> 7 -> 3
    model = nn.Sequential(features, _classifier(32 * 3 * 3, 128, num_classes, dropout))
    return init_weights(model, num_classes)


class MiniGoogLeNet(nn.Module):
    """Mini GoogLeNet (Szegedy et al. 2014): a stem, three Inception modules, GAP, one FC."""

    def __init__(self, num_classes: int = 10, dropout: float = 0.2) -> None:
        super().__init__()
        self.stem = nn.Sequential(*conv_relu(1, 16, 3, padding=1), nn.MaxPool2d(3, 2, padding=1))
        self.inception_a = Inception(16, 16, 16, 24, 4, 8, 8)  # 56 channels out
        self.pool = nn.MaxPool2d(3, 2, padding=1)  # 14 -> 7
        self.inception_b = Inception(56, 24, 24, 32, 4, 12, 12)  # 80
        self.inception_c = Inception(80, 32, 32, 48, 8, 16, 16)  # 112
        self.avgpool = nn.AdaptiveAvgPool2d(1)  # global average pooling, no big FC layers
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(112, num_classes)
        init_weights(self, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)  # (B, 16, 14, 14)
        x = self.pool(self.inception_a(x))  # (B, 56, 7, 7)
        x = self.inception_c(self.inception_b(x))  # (B, 112, 7, 7)
        x = torch.flatten(self.avgpool(x), 1)  # (B, 112)
        return self.fc(self.dropout(x))


def mini_googlenet(num_classes: int = 10) -> MiniGoogLeNet:
    """Mini GoogLeNet (Szegedy et al., "Going Deeper with Convolutions", 2014)."""
    return MiniGoogLeNet(num_classes)


class MiniResNet(nn.Module):
    """Mini ResNet (He et al. 2015): conv stem + pool, three stages of basic blocks, GAP, FC."""

    def __init__(self, num_classes: int = 10, widths: tuple[int, int, int] = (16, 32, 64),
                 blocks: int = 1) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, widths[0], 3, padding=1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True),
                                  nn.MaxPool2d(2))  # 28 -> 14, like ImageNet's 224 -> 56
        self.layer1 = self._stage(widths[0], widths[0], blocks, stride=1)  # 14x14
        self.layer2 = self._stage(widths[0], widths[1], blocks, stride=2)  # 7x7
        self.layer3 = self._stage(widths[1], widths[2], blocks, stride=2)  # 4x4
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[2], num_classes)

    @staticmethod
    def _stage(in_channels: int, channels: int, blocks: int, stride: int) -> nn.Sequential:
        """First block subsamples and widens (projection shortcut), the rest keep the shape."""
        return nn.Sequential(*[BasicBlock(in_channels if i == 0 else channels, channels,
                                          stride if i == 0 else 1) for i in range(blocks)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)  # (B, 16, 14, 14)
        x = self.layer3(self.layer2(self.layer1(x)))  # (B, 64, 4, 4)
        x = torch.flatten(self.avgpool(x), 1)  # (B, 64)
        return self.fc(x)


def mini_resnet(num_classes: int = 10, blocks: int = 1) -> MiniResNet:
    """Mini ResNet (He et al., "Deep Residual Learning for Image Recognition", 2015).

    blocks=1 gives 8 weighted layers ("ResNet-8"); each extra block per stage adds 6.
    """
    return MiniResNet(num_classes, blocks=blocks)


def mini_densenet(num_classes: int = 10, growth_rate: int = 8) -> nn.Sequential:
    """Mini DenseNet (Huang et al., "Densely Connected Convolutional Networks", 2017).

    Three dense blocks of 4 layers (growth rate k=8, bottleneck 2k), compression 0.5.
    """
    layers: list[nn.Module] = [nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.AvgPool2d(2)]
    channels = 16  # after the stem: 14x14
    for i in range(3):
        block = DenseBlock(4, channels, growth_rate, bn_size=2)
        layers.append(block)
        channels = block.out_channels
        if i < 2:  # 14 -> 7 -> 3
            layers.append(Transition(channels, channels // 2))
            channels //= 2
    layers += [nn.BatchNorm2d(channels), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1),
               nn.Flatten(), nn.Linear(channels, num_classes)]
    return nn.Sequential(*layers)


# in historical order; each factory takes num_classes and returns a fresh 28x28x1 -> 10 model
MINI_MODELS: dict[str, Callable[..., nn.Module]] = {
    "LeNet-5": mini_lenet,
    "AlexNet": mini_alexnet,
    "ZFNet": mini_zfnet,
    "VGG": mini_vgg,
    "GoogLeNet": mini_googlenet,
    "ResNet": mini_resnet,
    "DenseNet": mini_densenet,
}

# Lesson 07's full mode as it ran on a CPU: 10 epochs on all 60,000 training images, batch 128, Adam
# 3e-3 with one-cycle, tested on all 10,000 (a record of that run, shown beside fast runs until a
# full run of the notebook stores its reference in data/results/)
MINI_FULL_RUN: dict = {
    "device": "CPU, 2 cores",
    "date": "2026-11-22",
    "torch": "2.14.1",
    "test_acc": {"LeNet-5": 0.897, "AlexNet": 0.906, "ZFNet": 0.909, "VGG": 0.915,
                 "GoogLeNet": 0.907, "ResNet": 0.925, "DenseNet": 0.920},
    "seconds": {"LeNet-5": 92, "AlexNet": 300, "ZFNet": 269, "VGG": 224, "GoogLeNet": 433,
                "ResNet": 267, "DenseNet": 455},
}
