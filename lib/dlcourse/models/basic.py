"""General-purpose models: an MLP, the tutorial 2-conv MNIST net, and the course's fast CNN."""

from __future__ import annotations

from torch import nn


class MLP(nn.Sequential):
    """A multi-layer perceptron: Flatten, then Linear + activation per hidden width, then Linear."""

    def __init__(self, in_features: int, hidden: list[int], out_features: int,
                 activation: type[nn.Module] = nn.ReLU, dropout: float = 0.0):
        layers: list[nn.Module] = [nn.Flatten()]
        widths = [in_features, *hidden]
        for fan_in, fan_out in zip(widths, widths[1:]):
            layers += [nn.Linear(fan_in, fan_out), activation()]
            if dropout:
                layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(widths[-1], out_features))
        super().__init__(*layers)


class TutorialNet(nn.Module):
    """The classic 2-conv MNIST network of PyTorch's examples (pytorch/examples mnist/main.py).

    conv 3x3 x32 -> conv 3x3 x64 -> max pool 2 -> dropout .25 -> FC 9216->128 -> dropout .5 -> FC 10.
    """

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, num_classes)
        self.drop1, self.drop2 = nn.Dropout(0.25), nn.Dropout(0.5)

    def forward(self, x):  # x: (B, 1, 28, 28)
        x = self.conv1(x).relu()  # (B, 32, 26, 26)
        x = self.conv2(x).relu()  # (B, 64, 24, 24)
        x = nn.functional.max_pool2d(x, 2)  # (B, 64, 12, 12)
        x = self.drop1(x).flatten(1)  # (B, 9216)
        x = self.drop2(self.fc1(x).relu())  # (B, 128)
        return self.fc2(x)  # (B, 10) logits


def conv_bn(c_in: int, c_out: int) -> nn.Sequential:
    """3x3 convolution (no bias: BatchNorm has one), BatchNorm, GELU."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                         nn.GELU())


class FastNet(nn.Module):
    """The course's fast Fashion-MNIST CNN, in the spirit of airbench (Jordan 2024, arXiv:2404.00498).

    Three stages of two conv-BN-GELU layers, max pooling between stages, global max pool, a linear head
    scaled down (logits * 1/8 keeps the initial loss near log 10).
    """

    def __init__(self, widths: tuple[int, int, int] = (64, 128, 256), num_classes: int = 10,
                 in_channels: int = 1):
        super().__init__()
        w1, w2, w3 = widths
        self.stage1 = nn.Sequential(conv_bn(in_channels, w1), conv_bn(w1, w1))
        self.stage2 = nn.Sequential(nn.MaxPool2d(2), conv_bn(w1, w2), conv_bn(w2, w2))
        self.stage3 = nn.Sequential(nn.MaxPool2d(2), conv_bn(w2, w3), conv_bn(w3, w3))
        self.head = nn.Linear(w3, num_classes, bias=False)

    def forward(self, x):  # x: (B, 1, 28, 28)
        x = self.stage1(x)  # (B, w1, 28, 28)
        x = self.stage2(x)  # (B, w2, 14, 14)
        x = self.stage3(x)  # (B, w3, 7, 7)
        x = x.amax(dim=(2, 3))  # (B, w3) global max pool
        return self.head(x) / 8  # (B, num_classes) logits


def fast_net(size: str = "base", num_classes: int = 10) -> FastNet:
    """FastNet in three sizes: "tiny" (16/32/64, for CPU fast mode), "base" (64/128/256), "wide"."""
    widths = {"tiny": (16, 32, 64), "base": (64, 128, 256), "wide": (96, 192, 384)}
    if size not in widths:
        raise ValueError(f"size must be one of {list(widths)}, got {size!r}")
    return FastNet(widths[size], num_classes)
