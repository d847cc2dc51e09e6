"""The classic ImageNet-era CNNs, written to read top-down like their papers.

LeNet-5, AlexNet (paper, 2-GPU split and the unpadded lecture variant), ZFNet, VGG-11/13/16/19 and
GoogLeNet with its Inception module. VGG matches torchvision's parameter for parameter.
"""

from __future__ import annotations

from collections import namedtuple

import torch
from torch import nn

__all__ = [
    "init_weights", "response_norm", "conv_relu", "LeNet5", "lenet5", "AlexNet", "alexnet", "ZFNet",
    "zfnet", "VGG", "VGG_CONFIGS", "make_vgg_layers", "vgg", "vgg11", "vgg13", "vgg16", "vgg19",
    "Inception", "InceptionAux", "GoogLeNet", "googlenet", "GoogLeNetOutputs", "GOOGLENET_WIDTHS",
]


def init_weights(model: nn.Module, num_classes: int) -> nn.Module:
    """He (Kaiming) normal init for convs and hidden FCs, N(0, 0.01) for output FCs, zero biases.

    PyTorch's default init shrinks the signal at every ReLU layer, so pre-BatchNorm stacks
    (AlexNet, ZFNet, VGG, GoogLeNet) barely move in their first few hundred steps without it.
    """
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            if isinstance(m, nn.Linear) and m.out_features == num_classes:
                nn.init.normal_(m.weight, 0.0, 0.01)  # small logits: start near uniform
            else:
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model


def response_norm() -> nn.LocalResponseNorm:
    """AlexNet's local response normalization: each value divided by its 5 channel neighbours'."""
    return nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)


def conv_relu(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
              padding: int = 0, groups: int = 1) -> list[nn.Module]:
    """A biased convolution followed by an in-place ReLU, the pre-BatchNorm building block."""
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, groups=groups)
    return [conv, nn.ReLU(inplace=True)]


# ----------------------------------------------------------------------------------------- LeNet
class LeNet5(nn.Module):
    """LeNet-5: conv(6@5x5) - pool - conv(16@5x5) - pool - FC 120 - FC 84 - FC 10, 32x32 input."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, padding: int = 0,
                 activation: str = "tanh", bias: bool = True) -> None:
        super().__init__()
        act = {"tanh": nn.Tanh, "relu": nn.ReLU}[activation]
        # padding=2 lets a 28x28 image play the role of the paper's 32x32 input
        self.conv1 = nn.Conv2d(in_channels, 6, 5, padding=padding, bias=bias)  # 32 -> 28
        self.act1 = act()
        self.pool1 = nn.AvgPool2d(2)  # the paper's "subsampling" S2: 28 -> 14
        self.conv2 = nn.Conv2d(6, 16, 5, bias=bias)  # 14 -> 10
        self.act2 = act()
        self.pool2 = nn.AvgPool2d(2)  # 10 -> 5
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(16 * 5 * 5, 120, bias=bias)
        self.act3 = act()
        self.fc2 = nn.Linear(120, 84, bias=bias)
        self.act4 = act()
        self.fc3 = nn.Linear(84, num_classes, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.act1(self.conv1(x)))  # (B, 6, 14, 14)
        x = self.pool2(self.act2(self.conv2(x)))  # (B, 16, 5, 5)
        x = self.flatten(x)  # (B, 400)
        x = self.act3(self.fc1(x))  # (B, 120)
        x = self.act4(self.fc2(x))  # (B, 84)
        return self.fc3(x)  # (B, num_classes)


def lenet5(num_classes: int = 10, **kwargs) -> LeNet5:
    """LeNet-5 from LeCun et al., "Gradient-Based Learning Applied to Document Recognition" (1998).

    Simplified as in the lectures: C3 connects to all six maps (the paper wires a sparse table) and
    the output layer is a linear layer instead of RBF units. kwargs go to `LeNet5`.
    """
    return LeNet5(num_classes=num_classes, **kwargs)


# -------------------------------------------------------------------------------- AlexNet and ZFNet
class AlexNet(nn.Module):
    """AlexNet: five convolutions (with LRN and max-pooling) then three fully connected layers."""

    def __init__(self, num_classes: int = 1000, variant: str = "paper", groups: int = 1,
                 lrn: bool = True, dropout: float = 0.5) -> None:
        super().__init__()
        if variant not in ("paper", "unpadded"):
            raise ValueError(f"variant must be 'paper' or 'unpadded', got {variant!r}")
        p5, p3 = (2, 1) if variant == "paper" else (0, 0)  # the unpadded variant shrinks every map
        norm = response_norm if lrn else nn.Identity
        # groups=2 reproduces the 2-GPU split: conv2, conv4, conv5 only see their own GPU's half
        self.features = nn.Sequential(
            *conv_relu(3, 96, 11, stride=4), nn.MaxPool2d(3, 2), norm(),  # 227 -> 55 -> 27
            *conv_relu(96, 256, 5, padding=p5, groups=groups), nn.MaxPool2d(3, 2), norm(),
            *conv_relu(256, 384, 3, padding=p3),
            *conv_relu(384, 384, 3, padding=p3, groups=groups),
            *conv_relu(384, 256, 3, padding=p3, groups=groups), nn.MaxPool2d(3, 2),
        )
        side = 6 if variant == "paper" else 2  # final map on a 227x227 input: 6x6 or 2x2
        self.variant, self.side = variant, side
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(256 * side * side, 4096), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )
        init_weights(self, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_in = x.shape[-2:]
        x = self.features(x)  # (B, 256, 6, 6) for the paper variant on 227x227
        if tuple(x.shape[-2:]) != (self.side, self.side):
            raise ValueError(
                f"AlexNet (variant={self.variant!r}) expects 227x227 images, got {x_in[0]}x{x_in[1]}: "
                f"its feature map is {x.shape[-2]}x{x.shape[-1]}, not {self.side}x{self.side}. The "
                "paper's '224' does not fit conv1 (11x11, stride 4: (224 - 11)/4 + 1 = 54.25); resize "
                "or pad the images to 227x227 (e.g. torchvision.transforms.Resize(227))")
        x = torch.flatten(x, 1)
        return self.classifier(x)


def alexnet(num_classes: int = 1000, variant: str = "paper", groups: int = 1, **kwargs) -> AlexNet:
    """AlexNet from Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep CNNs" (2012).

    Args:
        variant: "paper" (227x227 input, 6x6x256 before the FCs) or "unpadded" (no padding in any
            conv, 2x2x256 before the FCs: the lecture variant whose rounded count is "27.55M").
        groups: 2 splits conv2/4/5 into two halves as the two GPUs did (60.97M instead of 62.38M).
    """
    return AlexNet(num_classes=num_classes, variant=variant, groups=groups, **kwargs)


class ZFNet(nn.Module):
    """ZFNet: AlexNet with a 7x7/2 first layer and 512/1024/512 filters in conv3-5."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *conv_relu(3, 96, 7, stride=2, padding=1),  # 224 -> 110
            nn.MaxPool2d(3, 2, padding=1),  # -> 55
            response_norm(),
            *conv_relu(96, 256, 5, stride=2), nn.MaxPool2d(3, 2, padding=1),  # 55 -> 26 -> 13
            response_norm(),
            *conv_relu(256, 512, 3, padding=1),
            *conv_relu(512, 1024, 3, padding=1),
            *conv_relu(1024, 512, 3, padding=1), nn.MaxPool2d(3, 2),  # 13 -> 6
        )
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(512 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )
        init_weights(self, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # (B, 512, 6, 6) on 224x224
        x = torch.flatten(x, 1)
        return self.classifier(x)


def zfnet(num_classes: int = 1000, **kwargs) -> ZFNet:
    """ZFNet from Zeiler & Fergus, "Visualizing and Understanding Convolutional Networks" (2013).

    Uses the 512/1024/512 filter counts of the ILSVRC'13 entry as taught in cs231n.
    """
    return ZFNet(num_classes=num_classes, **kwargs)


# ------------------------------------------------------------------------------------------- VGG
# numbers are 3x3 conv widths, "M" a 2x2/2 max-pool; configurations A, B, D, E of the paper
VGG_CONFIGS: dict[int, list[int | str]] = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
         512, 512, 512, 512, "M"],
}


def make_vgg_layers(config: list[int | str], in_channels: int = 3,
                    batch_norm: bool = False) -> nn.Sequential:
    """Stack 3x3/1 pad-1 convs (+BN) + ReLU and 2x2 max-pools from a VGG config list."""
    layers: list[nn.Module] = []
    for v in config:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
            continue
        conv = nn.Conv2d(in_channels, int(v), 3, padding=1)
        norm = [nn.BatchNorm2d(int(v))] if batch_norm else []
        layers += [conv, *norm, nn.ReLU(inplace=True)]
        in_channels = int(v)
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """VGG: a stack of 3x3 convolutions and max-pools, then FC 4096 - 4096 - num_classes."""

    def __init__(self, features: nn.Sequential, num_classes: int = 1000,
                 dropout: float = 0.5) -> None:
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))  # a no-op at 224x224; lets other sizes through
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(4096, num_classes),
        )
        init_weights(self, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # (B, 512, 7, 7) at 224x224
        x = self.avgpool(x)
        x = torch.flatten(x, 1)  # (B, 25088)
        return self.classifier(x)


def vgg(depth: int = 16, num_classes: int = 1000, batch_norm: bool = False, **kwargs) -> VGG:
    """VGG-`depth` from Simonyan & Zisserman, "Very Deep Convolutional Networks" (2014/2015).

    Args:
        depth: 11, 13, 16 or 19 weight layers (configurations A, B, D, E).
        batch_norm: add BatchNorm after each conv (the later "vgg16_bn" variants).
    """
    if depth not in VGG_CONFIGS:
        raise ValueError(f"VGG depth must be one of {sorted(VGG_CONFIGS)}, got {depth}")
    features = make_vgg_layers(VGG_CONFIGS[depth], batch_norm=batch_norm)
    return VGG(features, num_classes=num_classes, **kwargs)


def vgg11(**kwargs) -> VGG:
    """VGG-11 (configuration A), Simonyan & Zisserman 2014."""
    return vgg(11, **kwargs)


def vgg13(**kwargs) -> VGG:
    """VGG-13 (configuration B), Simonyan & Zisserman 2014."""
    return vgg(13, **kwargs)


def vgg16(**kwargs) -> VGG:
    """VGG-16 (configuration D), Simonyan & Zisserman 2014."""
    return vgg(16, **kwargs)


def vgg19(**kwargs) -> VGG:
    """VGG-19 (configuration E), Simonyan & Zisserman 2014."""
    return vgg(19, **kwargs)


# ------------------------------------------------------------------------------------- GoogLeNet
class Inception(nn.Module):
    """Inception module: 1x1, 3x3, 5x5 convs and a 3x3 max-pool side by side, concatenated.

    With reduce=False it is the "naive" module (no 1x1 bottlenecks, the pool branch passes all
    input channels through); the reduce widths and pool_proj are then ignored.
    """

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int,
                 ch5x5: int, pool_proj: int, reduce: bool = True) -> None:
        super().__init__()
        self.branch1 = nn.Sequential(*conv_relu(in_channels, ch1x1, 1))
        if reduce:  # 1x1 bottlenecks shrink the depth before the expensive 3x3 and 5x5
            self.branch2 = nn.Sequential(*conv_relu(in_channels, ch3x3red, 1),
                                         *conv_relu(ch3x3red, ch3x3, 3, padding=1))
            self.branch3 = nn.Sequential(*conv_relu(in_channels, ch5x5red, 1),
                                         *conv_relu(ch5x5red, ch5x5, 5, padding=2))
            self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, padding=1),
                                         *conv_relu(in_channels, pool_proj, 1))
        else:
            self.branch2 = nn.Sequential(*conv_relu(in_channels, ch3x3, 3, padding=1))
            self.branch3 = nn.Sequential(*conv_relu(in_channels, ch5x5, 5, padding=2))
            self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, padding=1))
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + (pool_proj if reduce else in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1(x)  # (B, ch1x1, H, W)
        b2 = self.branch2(x)  # (B, ch3x3, H, W)
        b3 = self.branch3(x)  # (B, ch5x5, H, W)
        b4 = self.branch4(x)  # (B, pool_proj or in_channels, H, W)
        return torch.cat([b1, b2, b3, b4], dim=1)  # depth-wise concatenation


class InceptionAux(nn.Module):
    """GoogLeNet's auxiliary classifier: avgpool 5x5/3, 1x1 conv 128, FC 1024, dropout 0.7, FC."""

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d((4, 4))  # = avgpool 5x5/3 on the 14x14 maps
        self.conv = nn.Sequential(*conv_relu(in_channels, 128, 1))
        self.fc1 = nn.Linear(128 * 4 * 4, 1024)
        self.relu = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(0.7)
        self.fc2 = nn.Linear(1024, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(self.pool(x))  # (B, 128, 4, 4)
        x = self.relu(self.fc1(torch.flatten(x, 1)))  # (B, 1024)
        return self.fc2(self.dropout(x))


GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux1", "aux2"])

# (ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj) for 3a ... 5b, from Table 1 of the paper
GOOGLENET_WIDTHS = {
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64), "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128), "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}


class GoogLeNet(nn.Module):
    """GoogLeNet (Inception v1): a stem, nine Inception modules, global average pooling, one FC."""

    def __init__(self, num_classes: int = 1000, aux_logits: bool = True,
                 dropout: float = 0.4) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            *conv_relu(3, 64, 7, stride=2, padding=3), nn.MaxPool2d(3, 2, ceil_mode=True),
            response_norm(),
            *conv_relu(64, 64, 1), *conv_relu(64, 192, 3, padding=1), response_norm(),
            nn.MaxPool2d(3, 2, ceil_mode=True),  # 224 -> 112 -> 56 -> 28
        )
        w = GOOGLENET_WIDTHS
        self.inception3a = Inception(192, *w["3a"])  # 256 channels out
        self.inception3b = Inception(256, *w["3b"])  # 480
        self.pool3 = nn.MaxPool2d(3, 2, ceil_mode=True)  # 28 -> 14
        self.inception4a = Inception(480, *w["4a"])  # 512
        self.inception4b = Inception(512, *w["4b"])  # 512
        self.inception4c = Inception(512, *w["4c"])  # 512
        self.inception4d = Inception(512, *w["4d"])  # 528
        self.inception4e = Inception(528, *w["4e"])  # 832
        self.pool4 = nn.MaxPool2d(3, 2, ceil_mode=True)  # 14 -> 7
        self.inception5a = Inception(832, *w["5a"])  # 832
        self.inception5b = Inception(832, *w["5b"])  # 1024
        self.avgpool = nn.AdaptiveAvgPool2d(1)  # global average pooling replaces AlexNet's FCs
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(1024, num_classes)
        # extra losses on intermediate layers push gradient into the early modules (train only)
        self.aux1 = InceptionAux(512, num_classes) if aux_logits else None
        self.aux2 = InceptionAux(528, num_classes) if aux_logits else None
        init_weights(self, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor | GoogLeNetOutputs:
        x = self.stem(x)  # (B, 192, 28, 28)
        x = self.pool3(self.inception3b(self.inception3a(x)))  # (B, 480, 14, 14)
        x = self.inception4a(x)  # (B, 512, 14, 14)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))  # (B, 528, 14, 14)
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.pool4(self.inception4e(x))  # (B, 832, 7, 7)
        x = self.inception5b(self.inception5a(x))  # (B, 1024, 7, 7)
        x = torch.flatten(self.avgpool(x), 1)  # (B, 1024)
        logits = self.fc(self.dropout(x))
        if aux1 is None:
            return logits
        return GoogLeNetOutputs(logits, aux1, aux2)


def googlenet(num_classes: int = 1000, aux_logits: bool = True, **kwargs) -> GoogLeNet:
    """GoogLeNet from Szegedy et al., "Going Deeper with Convolutions" (2014).

    Follows Table 1 of the paper (biased convs, LRN, 5x5 branches); in training mode with
    aux_logits it returns GoogLeNetOutputs(logits, aux1, aux2), else the logits.
    """
    return GoogLeNet(num_classes=num_classes, aux_logits=aux_logits, **kwargs)
