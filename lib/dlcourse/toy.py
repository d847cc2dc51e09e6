"""Toy data sets for the early lessons: logic gates and 2-D point clouds, float32 tensors, seeded.

Also available as `dlcourse.data.logic_gate`, `dlcourse.data.make_moons`, ...
"""

from __future__ import annotations

import torch

GATES = {"and": lambda a, b: a & b, "or": lambda a, b: a | b, "xor": lambda a, b: a ^ b,
         "nand": lambda a, b: 1 - (a & b), "nor": lambda a, b: 1 - (a | b)}


def logic_gate(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Truth table of a gate: "and", "or", "xor", "nand", "nor" (2 inputs), "not" (1), "majority" (3)."""
    name = name.lower()
    if name == "not":
        X = torch.tensor([[0.0], [1.0]])
        return X, 1 - X[:, 0]
    if name == "majority":
        X = torch.tensor([[a, b, c] for a in (0, 1) for b in (0, 1) for c in (0, 1)], dtype=torch.float32)
        return X, (X.sum(1) >= 2).float()
    if name not in GATES:
        raise ValueError(f"unknown gate {name!r}; choose one of {sorted([*GATES, 'not', 'majority'])}")
    X = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]])
    return X.float(), GATES[name](X[:, 0], X[:, 1]).float()


def make_blobs(n: int, centers: int = 2, std: float = 0.6, seed: int = 0):
    """n points in 2-D around `centers` Gaussian centres on a circle of radius 2; labels 0..centers-1."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % centers
    angle = 2 * torch.pi * y / centers
    X = 2 * torch.stack([angle.cos(), angle.sin()], 1) + std * torch.randn(n, 2, generator=g)
    return X, y


def make_moons(n: int, noise: float = 0.1, seed: int = 0):
    """Two interleaving half circles (not linearly separable); labels 0/1, centred on the origin.

    Class 0 is the upper arc (cos t, sin t); class 1 the lower arc (1 - cos t, 0.5 - sin t), whose
    tips reach up into the opening of the first (as sklearn.datasets.make_moons draws them).
    """
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    t = torch.rand(n, generator=g) * torch.pi
    sign = 1 - 2 * y  # +1 for class 0, -1 for class 1
    X = torch.stack([sign * t.cos() + y - 0.5, sign * t.sin() + 0.5 * y - 0.25], 1)
    return X + noise * torch.randn(n, 2, generator=g), y


def make_spirals(n: int, classes: int = 2, noise: float = 0.2, seed: int = 0):
    """`classes` interleaved spiral arms in 2-D (the classic hard toy problem); labels 0..classes-1."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    r = torch.rand(n, generator=g)
    theta = 4 * r + 2 * torch.pi * y / classes + noise * torch.randn(n, generator=g)
    return torch.stack([r * theta.sin(), r * theta.cos()], 1) * 2, y
