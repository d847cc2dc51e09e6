"""Segmentation networks for the 96x96 Fashion-MNIST scenes: FCN, U-Net and a stacked hourglass.

All three map a batch of images (B, 1, H, W) to per-pixel class scores (B, num_classes, H, W) for any
H, W divisible by 2**depth (16 for the defaults; the scenes are 96x96). They go down to a coarse map
that sees whole articles, then back up to full resolution, and differ in how they come back up:

    FCN        1x1 "score" convs, learned 2x transposed convs, skips added from earlier stages,
               then one fixed 8x bilinear upsampling (Long, Shelhamer & Darrell 2015)
    U-Net      a decoder as deep as the encoder; each level concatenates the encoder's features of
               the same size (Ronneberger, Fischer & Brox 2015)
    Hourglass  residual modules at every scale; skips added, nearest-neighbour upsampling
               (Newell, Yang & Deng 2016)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["FCN", "UNet", "Hourglass", "Residual", "bilinear_kernel", "fcn", "unet", "hourglass"]


def conv_bn_relu(in_channels: int, out_channels: int) -> list[nn.Module]:
    """3x3 conv (padding 1: the size stays), BatchNorm, ReLU."""
    return [nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]


def double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    """Two 3x3 conv-BN-ReLU layers: one level of a VGG-style encoder or of U-Net's decoder."""
    return nn.Sequential(*conv_bn_relu(in_channels, out_channels), *conv_bn_relu(out_channels, out_channels))


def bilinear_kernel(channels: int, factor: int) -> torch.Tensor:
    """Weights (C, C, 2f - f % 2, same) that make ConvTranspose2d(stride=f) a bilinear upsampler per
    channel (FCN's initialization of its upsampling layers)."""
    size = 2 * factor - factor % 2
    center = (size - 1) / 2 if size % 2 else factor - 0.5
    taps = 1 - (torch.arange(size, dtype=torch.float32) - center).abs() / factor  # (size,)
    weight = torch.zeros(channels, channels, size, size)
    weight[range(channels), range(channels)] = taps[:, None] * taps[None, :]
    return weight


def _check_size(x: torch.Tensor, multiple: int, name: str) -> None:
    if x.ndim != 4 or x.shape[-1] % multiple or x.shape[-2] % multiple:
        raise ValueError(f"{name} needs (B, C, H, W) images with H and W divisible by {multiple} "
                         f"(it halves them that often), got {tuple(x.shape)}; pad or crop, e.g. to 96x96")


class FCN(nn.Module):
    """Fully convolutional network: a classifier's conv layers, scored per pixel and upsampled.

    skips="8s" adds the scores of the stride-16 and stride-8 stages before upsampling (FCN-8s),
    "16s" only stride 16, "32s" none: the coarse map is upsampled 32x in one go.
    """

    def __init__(self, num_classes: int = 11, in_channels: int = 1, width: int = 16, skips: str = "8s"):
        super().__init__()
        if skips not in ("8s", "16s", "32s"):
            raise ValueError(f"skips must be '8s', '16s' or '32s' (FCN-8s/16s/32s), got {skips!r}")
        w, k = width, num_classes
        self.skips = skips
        self.stage1 = nn.Sequential(double_conv(in_channels, w), nn.MaxPool2d(2))  # stride 2
        self.stage2 = nn.Sequential(double_conv(w, 2 * w), nn.MaxPool2d(2))  # stride 4
        self.stage3 = nn.Sequential(double_conv(2 * w, 4 * w), nn.MaxPool2d(2))  # stride 8
        self.stage4 = nn.Sequential(double_conv(4 * w, 8 * w), nn.MaxPool2d(2))  # stride 16
        self.stage5 = nn.Sequential(double_conv(8 * w, 8 * w), nn.MaxPool2d(2))  # stride 32
        # the classifier's fully connected layers, rewritten as convolutions ("fc6", "fc7")
        self.head = nn.Sequential(*conv_bn_relu(8 * w, 16 * w), nn.Conv2d(16 * w, 16 * w, 1),
                                  nn.ReLU(inplace=True), nn.Conv2d(16 * w, k, 1))
        self.score4 = nn.Conv2d(8 * w, k, 1)  # class scores from the stride-16 features
        self.score3 = nn.Conv2d(4 * w, k, 1)  # and from the stride-8 features
        self.up2a = nn.ConvTranspose2d(k, k, 4, stride=2, padding=1, bias=False)  # learned 2x
        self.up2b = nn.ConvTranspose2d(k, k, 4, stride=2, padding=1, bias=False)
        for up in (self.up2a, self.up2b):
            up.weight.data.copy_(bilinear_kernel(k, 2))  # start as bilinear, as the paper does
        for score in (self.score4, self.score3):
            nn.init.zeros_(score.weight)  # skips start silent, so training starts from FCN-32s
            nn.init.zeros_(score.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_size(x, 32, "FCN")
        size = x.shape[-2:]
        f3 = self.stage3(self.stage2(self.stage1(x)))  # (B, 4w, H/8, W/8)
        f4 = self.stage4(f3)  # (B, 8w, H/16, W/16)
        score = self.head(self.stage5(f4))  # (B, K, H/32, W/32)
        if self.skips == "32s":
            return F.interpolate(score, size=size, mode="bilinear", align_corners=False)
        score = self.up2a(score) + self.score4(f4)  # (B, K, H/16, W/16)
        if self.skips == "16s":
            return F.interpolate(score, size=size, mode="bilinear", align_corners=False)
        score = self.up2b(score) + self.score3(f3)  # (B, K, H/8, W/8)
        return F.interpolate(score, size=size, mode="bilinear", align_corners=False)  # (B, K, H, W)


class UNet(nn.Module):
    """U-Net: an encoder of double convs and max pools, and a mirror-image decoder that upsamples
    with 2x2 transposed convs and concatenates the encoder's features of the same size.

    Padded 3x3 convs keep the sizes, so no cropping is needed (the paper's unpadded convs shrink
    each map and crop the skip to fit).
    """

    def __init__(self, num_classes: int = 11, in_channels: int = 1, width: int = 16, depth: int = 3):
        super().__init__()
        if depth < 1:
            raise ValueError(f"depth (the number of 2x downsamplings) must be >= 1, got {depth}")
        widths = [width * 2**i for i in range(depth + 1)]  # w, 2w, 4w, ... (the bottleneck last)
        self.depth = depth
        self.down = nn.ModuleList([double_conv(in_channels, widths[0])] +
                                  [double_conv(widths[i], widths[i + 1]) for i in range(depth)])
        self.up = nn.ModuleList([nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2)
                                 for i in reversed(range(depth))])
        self.decode = nn.ModuleList([double_conv(2 * widths[i], widths[i]) for i in reversed(range(depth))])
        self.classify = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_size(x, 2**self.depth, "UNet")
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))  # (B, w * 2**i, H / 2**i, W / 2**i)
            skips.append(x)
        skips.pop()  # the bottleneck is not a skip
        for up, decode in zip(self.up, self.decode):
            x = up(x)  # (B, c, 2h, 2w): twice the size, half the channels
            x = decode(torch.cat([skips.pop(), x], dim=1))  # (B, c, 2h, 2w) after the concatenation
        return self.classify(x)  # (B, K, H, W)


class Residual(nn.Module):
    """The hourglass paper's residual module: BN-ReLU-conv 1x1 (c/2), 3x3 (c/2), 1x1 (c), plus x."""

    def __init__(self, channels: int):
        super().__init__()
        half = channels // 2
        self.branch = nn.Sequential(
            nn.BatchNorm2d(channels), nn.ReLU(), nn.Conv2d(channels, half, 1, bias=False),
            nn.BatchNorm2d(half), nn.ReLU(), nn.Conv2d(half, half, 3, padding=1, bias=False),
            nn.BatchNorm2d(half), nn.ReLU(), nn.Conv2d(half, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.branch(x)


class HourglassBlock(nn.Module):
    """One hourglass, defined recursively: upper branch at this scale, lower branch at half scale."""

    def __init__(self, channels: int, depth: int):
        super().__init__()
        self.upper = Residual(channels)
        self.down = Residual(channels)
        self.inner = HourglassBlock(channels, depth - 1) if depth > 1 else Residual(channels)
        self.after = Residual(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        upper = self.upper(x)  # (B, c, h, w): details at this scale
        lower = self.after(self.inner(self.down(F.max_pool2d(x, 2))))  # (B, c, h/2, w/2)
        return upper + F.interpolate(lower, scale_factor=2, mode="nearest")  # added, not concatenated


class Hourglass(nn.Module):
    """A stacked hourglass network with one stack, for per-pixel labels instead of keypoints.

    As in the paper, a strided stem halves the resolution first and the hourglass works at H/2
    (the paper: 256 -> 64 px); its scores are upsampled bilinearly to the input size.
    """

    def __init__(self, num_classes: int = 11, in_channels: int = 1, width: int = 32, depth: int = 3):
        super().__init__()
        if depth < 1:
            raise ValueError(f"depth (the number of 2x downsamplings inside) must be >= 1, got {depth}")
        self.depth = depth
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 5, stride=2, padding=2, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU(inplace=True), Residual(width))
        self.hourglass = HourglassBlock(width, depth)
        self.head = nn.Sequential(Residual(width), nn.BatchNorm2d(width), nn.ReLU(),
                                  nn.Conv2d(width, num_classes, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_size(x, 2 ** (self.depth + 1), "Hourglass")
        size = x.shape[-2:]
        score = self.head(self.hourglass(self.stem(x)))  # (B, K, H/2, W/2)
        return F.interpolate(score, size=size, mode="bilinear", align_corners=False)  # (B, K, H, W)


def fcn(num_classes: int = 11, width: int = 16, skips: str = "8s", in_channels: int = 1) -> FCN:
    """FCN-8s (or 16s, 32s) of Long, Shelhamer & Darrell, "Fully Convolutional Networks for Semantic
    Segmentation", CVPR 2015 (arXiv:1411.4038), on a small VGG-style backbone."""
    return FCN(num_classes, in_channels, width, skips)


def unet(num_classes: int = 11, width: int = 16, depth: int = 3, in_channels: int = 1) -> UNet:
    """U-Net of Ronneberger, Fischer & Brox, "U-Net: Convolutional Networks for Biomedical Image
    Segmentation", MICCAI 2015 (arXiv:1505.04597), with padded convs and `depth` poolings."""
    return UNet(num_classes, in_channels, width, depth)


def hourglass(num_classes: int = 11, width: int = 32, depth: int = 3, in_channels: int = 1) -> Hourglass:
    """One stack of the hourglass network of Newell, Yang & Deng, "Stacked Hourglass Networks for
    Human Pose Estimation", ECCV 2016 (arXiv:1603.06937)."""
    return Hourglass(num_classes, in_channels, width, depth)
