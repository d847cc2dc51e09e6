"""Deep networks with a `residual` switch: CIFAR-style CNNs, deep MLPs and the blocks beyond ResNet.

Every model here can be built with and without skip connections so that a lesson can change one
thing (the skip) and measure what it does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


def drop_path(x: torch.Tensor, p: float, training: bool, mode: str = "row") -> torch.Tensor:
    """Zero whole residual branches with probability `p` and rescale the survivors by 1/(1-p).

    Same semantics as `torchvision.ops.stochastic_depth`: "row" drops per sample, "batch" drops the
    branch for the whole mini-batch (as in Huang et al. 2016). Identity at test time.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"drop probability must be in [0, 1], got {p}")
    if mode not in ("row", "batch"):
        raise ValueError(f"mode must be 'row' or 'batch', got {mode!r}")
    if not training or p == 0.0:
        return x
    survival = 1.0 - p
    size = [x.shape[0]] + [1] * (x.ndim - 1) if mode == "row" else [1] * x.ndim
    noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival)
    if survival > 0.0:
        noise.div_(survival)  # keep E[output] equal to the branch, so test time needs no rescale
    return x * noise


class ShortcutA(nn.Module):
    """Parameter-free shortcut (He et al. 2016, option A): subsample, then zero-pad the channels."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.stride, self.extra = stride, out_channels - in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]  # (B, C_in, H/s, W/s)
        return F.pad(x, (0, 0, 0, 0, 0, self.extra))  # (B, C_out, H/s, W/s), new channels are 0


class BasicBlock(nn.Module):
    """Two 3x3 convs; with `residual=True` the input is added back before the last ReLU."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        residual: bool = True,
        drop_prob: float = 0.0,
        batch_norm: bool = True,
    ):
        super().__init__()
        norm = nn.BatchNorm2d if batch_norm else (lambda c: nn.Identity())
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=not batch_norm)
        self.bn1 = norm(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=not batch_norm)
        self.bn2 = norm(out_channels)
        self.shortcut = ShortcutA(in_channels, out_channels, stride)  # also used by lesion studies
        self.residual, self.drop_prob = residual, drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))  # (B, C_out, H/s, W/s)
        out = self.bn2(self.conv2(out))
        if self.residual:
            out = drop_path(out, self.drop_prob, self.training, mode="batch") + self.shortcut(x)
        return F.relu(out)


class CifarNet(nn.Module):
    """Stem conv, three stages of `BasicBlock`s (widths w, 2w, 4w), global pool, linear head."""

    def __init__(
        self,
        blocks_per_stage: int,
        residual: bool = True,
        stochastic_depth: float = 0.0,
        num_classes: int = 10,
        in_channels: int = 1,
        width: int = 16,
        batch_norm: bool = True,
        stem_stride: int = 1,
    ):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, stem_stride, 1, bias=not batch_norm),
            nn.BatchNorm2d(width) if batch_norm else nn.Identity(),
            nn.ReLU(),
        )
        num_blocks = 3 * blocks_per_stage
        blocks, channels = [], width
        for i in range(num_blocks):
            stage = i // blocks_per_stage
            out_channels = width * 2**stage
            stride = 2 if (stage > 0 and i % blocks_per_stage == 0) else 1
            # linear decay rule (Huang et al. 2016): block l of L is dropped with prob l/L * p_L
            drop = stochastic_depth * (i + 1) / num_blocks
            blocks.append(BasicBlock(channels, out_channels, stride, residual, drop, batch_norm))
            channels = out_channels
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(channels, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):  # He init, as in torchvision's ResNets
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)  # (B, w, H/s, W/s), s = stem_stride
        x = self.blocks(x)  # (B, 4w, H/4s, W/4s)
        x = x.mean(dim=(2, 3))  # (B, 4w) global average pool
        return self.head(x)  # (B, num_classes)


def plain_or_resnet(
    depth: int = 20,
    residual: bool = True,
    stochastic_depth: float = 0.0,
    num_classes: int = 10,
    in_channels: int = 1,
    width: int = 16,
    *,
    batch_norm: bool = True,
    stem_stride: int = 1,
) -> CifarNet:
    """CIFAR-style plain or residual CNN of depth 6n+2 (He et al. 2016, arXiv:1512.03385, 4.2).

    Args:
        depth: number of weighted layers, 6n+2 (8, 14, 20, 32, 44, 56, 110, ...).
        residual: add the identity shortcut around each pair of convs (False gives the plain net
            with exactly the same parameters).
        stochastic_depth: drop probability of the last block (Huang et al. 2016, arXiv:1603.09382);
            earlier blocks get linearly smaller ones. Residual nets only.
        num_classes, in_channels, width: head size, input channels, channels of the first stage.
        batch_norm: put BatchNorm after every conv.
        stem_stride: stride of the stem conv. 1 as in the paper; 2 halves the resolution every
            block works at and so cuts the compute about 4x (a CPU-sized run).
    """
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(
            f"depth must be 6n+2 with n >= 1 (8, 14, 20, 32, 44, 56, ...), got {depth}"
        )
    if not 0.0 <= stochastic_depth < 1.0:
        raise ValueError(
            f"stochastic_depth is a drop probability in [0, 1), got {stochastic_depth}"
        )
    if stochastic_depth > 0 and not residual:
        raise ValueError(
            "stochastic_depth needs residual=True: dropping a plain block cuts the net"
        )
    if stem_stride not in (1, 2):
        raise ValueError(f"stem_stride must be 1 (as in the paper) or 2 (4x cheaper), got {stem_stride}")
    return CifarNet(
        (depth - 2) // 6, residual, stochastic_depth, num_classes, in_channels, width, batch_norm,
        stem_stride,
    )


class MLPBlock(nn.Module):
    """Linear -> (BatchNorm) -> activation, optionally as a residual branch h + scale * f(h)."""

    def __init__(
        self,
        width: int,
        activation: str = "relu",
        residual: bool = False,
        batch_norm: bool = False,
        residual_scale: float = 1.0,
    ):
        super().__init__()
        self.linear = nn.Linear(width, width)
        self.norm = nn.BatchNorm1d(width) if batch_norm else nn.Identity()
        self.act = ACTIVATIONS[activation]()
        self.residual, self.residual_scale = residual, residual_scale
        self.shortcut = nn.Identity()  # what a lesion study puts in the block's place

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        out = self.act(self.norm(self.linear(h)))  # (B, width)
        if self.residual:
            out = h + self.residual_scale * out
        return out


class DeepMLP(nn.Module):
    """Input layer, `depth` hidden `MLPBlock`s of equal width, linear output layer."""

    def __init__(
        self,
        in_features: int,
        width: int,
        depth: int,
        out_features: int,
        activation: str,
        residual: bool,
        batch_norm: bool,
        residual_scale: float,
    ):
        super().__init__()
        self.inp = nn.Sequential(nn.Linear(in_features, width), ACTIVATIONS[activation]())
        self.blocks = nn.Sequential(
            *[
                MLPBlock(width, activation, residual, batch_norm, residual_scale)
                for _ in range(depth)
            ]
        )
        self.out = nn.Linear(width, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inp(x)  # (B, width)
        h = self.blocks(h)  # (B, width)
        return self.out(h)  # (B, out_features)


def deep_mlp(
    depth: int,
    width: int = 64,
    residual: bool = False,
    activation: str = "relu",
    in_features: int = 1,
    out_features: int = 1,
    *,
    batch_norm: bool = False,
    init: str = "default",
    residual_scale: float = 1.0,
) -> DeepMLP:
    """Deep fully connected net with an optional identity skip around every hidden layer.

    Used for the vanishing-gradient and shattered-gradient experiments (Balduzzi et al. 2017,
    "The shattered gradients problem", arXiv:1702.08591).

    Args:
        depth: number of hidden blocks (the net has depth + 2 linear layers).
        width: units per hidden layer.
        residual: h_{l+1} = h_l + residual_scale * f(h_l) instead of f(h_l).
        activation: "relu", "sigmoid" or "tanh".
        batch_norm: BatchNorm1d before every hidden activation.
        init: "default" (PyTorch's uniform init) or "he" (Kaiming normal weights, default biases).
        residual_scale: multiplier on the residual branch (1/sqrt(depth) bounds the variance).
    """
    if depth < 0:
        raise ValueError(f"depth counts hidden blocks and must be >= 0, got {depth}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    if init not in ("default", "he"):
        raise ValueError(f"init must be 'default' or 'he', got {init!r}")
    model = DeepMLP(
        in_features, width, depth, out_features, activation, residual, batch_norm, residual_scale
    )
    if init == "he":
        for m in model.modules():
            if isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    return model


class BottleneckBlock(nn.Module):
    """1x1 reduce -> 3x3 -> 1x1 expand, plus identity (He et al. 2016): cheap at high width."""

    def __init__(self, channels: int, bottleneck_channels: int):
        super().__init__()
        self.reduce = nn.Conv2d(channels, bottleneck_channels, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(bottleneck_channels)
        self.conv = nn.Conv2d(bottleneck_channels, bottleneck_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(bottleneck_channels)
        self.expand = nn.Conv2d(bottleneck_channels, channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.reduce(x)))  # (B, C/4, H, W)
        out = F.relu(self.bn2(self.conv(out)))  # (B, C/4, H, W)
        out = self.bn3(self.expand(out))  # (B, C, H, W)
        return F.relu(out + x)


class DenseBlock(nn.Module):
    """DenseNet block (Huang et al. 2017, arXiv:1608.06993): each layer sees all earlier maps."""

    def __init__(self, in_channels: int, growth_rate: int, num_layers: int):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.Sequential(
                nn.BatchNorm2d(in_channels + i * growth_rate),
                nn.ReLU(),
                nn.Conv2d(in_channels + i * growth_rate, growth_rate, 3, 1, 1, bias=False),
            )
            for i in range(num_layers)
        )
        self.out_channels = in_channels + num_layers * growth_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.layers:  # concatenate, never add: (B, C_in + i*k, H, W) grows by k
            features.append(layer(torch.cat(features, dim=1)))
        return torch.cat(features, dim=1)  # (B, C_in + L*k, H, W)


def conv_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    """3x3 conv (same padding) -> BatchNorm -> ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
    )


class UNetBlock(nn.Module):
    """One U-Net level (Ronneberger et al. 2015, arXiv:1505.04597): the skip concatenates the
    encoder's full-resolution maps onto the upsampled decoder maps."""

    def __init__(
        self,
        in_channels: int,
        channels: int,
        inner: nn.Module | None = None,
        inner_channels: int | None = None,
    ):
        super().__init__()
        self.encode = conv_bn_relu(in_channels, channels)
        self.inner = inner if inner is not None else conv_bn_relu(channels, channels)
        inner_out = inner_channels if inner_channels is not None else channels
        self.up = nn.ConvTranspose2d(inner_out, channels, 2, stride=2)
        self.decode = conv_bn_relu(2 * channels, channels)
        self.out_channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.encode(x)  # (B, C, H, W)
        low = self.inner(F.max_pool2d(skip, 2))  # (B, C_inner, H/2, W/2)
        up = self.up(low)  # (B, C, H, W)
        return self.decode(torch.cat([skip, up], dim=1))  # (B, 2C, H, W) -> (B, C, H, W)


class TinyUNet(nn.Module):
    """Nested `UNetBlock`s (widths double per level) followed by a 1x1 output conv."""

    def __init__(self, in_channels: int, out_channels: int, width: int, levels: int):
        super().__init__()
        inner, inner_channels = None, None
        for level in reversed(range(levels)):
            c_in = in_channels if level == 0 else width * 2 ** (level - 1)
            inner = UNetBlock(c_in, width * 2**level, inner, inner_channels)
            inner_channels = width * 2**level
        self.unet, self.head, self.factor = inner, nn.Conv2d(width, out_channels, 1), 2**levels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2] % self.factor or x.shape[-1] % self.factor:
            raise ValueError(
                f"H and W must be divisible by {self.factor} (2**levels), got "
                f"{tuple(x.shape[-2:])}; pad or crop the input"
            )
        return self.head(self.unet(x))  # (B, C_in, H, W) -> (B, width, H, W) -> (B, C_out, H, W)


def tiny_unet(
    in_channels: int = 1, out_channels: int = 1, width: int = 8, levels: int = 2
) -> TinyUNet:
    """Small U-Net for shape experiments (Ronneberger et al. 2015, "U-Net", arXiv:1505.04597)."""
    if levels < 1:
        raise ValueError(f"levels must be >= 1, got {levels}")
    return TinyUNet(in_channels, out_channels, width, levels)


class Hourglass(nn.Module):
    """Recursive hourglass (Newell et al. 2016, arXiv:1603.06937): pool down `depth` times, come
    back up, and add a same-resolution skip branch at every level."""

    def __init__(self, depth: int, channels: int):
        super().__init__()
        if depth < 1:
            raise ValueError(f"hourglass depth must be >= 1, got {depth}")
        self.skip = BottleneckBlock(channels, max(channels // 4, 1))
        self.down = BottleneckBlock(channels, max(channels // 4, 1))
        self.inner = (
            Hourglass(depth - 1, channels)
            if depth > 1
            else BottleneckBlock(channels, max(channels // 4, 1))
        )
        self.up = BottleneckBlock(channels, max(channels // 4, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.skip(x)  # (B, C, H, W) stays at full resolution
        low = self.down(F.max_pool2d(x, 2))  # (B, C, H/2, W/2)
        low = self.up(self.inner(low))  # (B, C, H/2, W/2)
        return skip + F.interpolate(low, scale_factor=2, mode="nearest")  # (B, C, H, W)


def count_params(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
