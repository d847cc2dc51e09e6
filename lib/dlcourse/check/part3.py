"""Exercise checks for the architecture lesson (07_cnn_architectures)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["zfnet_arithmetic", "vgg16_receptive_field", "budget_network"]


def _given(value: object, name: str) -> None:
    """Fail with a clear message when an answer is still the `...` placeholder."""
    if value is None or value is Ellipsis:
        raise AssertionError(f"{name} is still empty: replace the `...` with your computation")


def _side(size: int, k: int, s: int, p: int) -> int:
    """floor((size + 2p - k) / s) + 1."""
    return (size + 2 * p - k) // s + 1


def zfnet_arithmetic(conv1_side: int, conv1_params: int, pool1_side: int, conv2_side: int,
                     conv2_params: int) -> None:
    """ZFNet on 224x224x3: conv1 96@7x7/2 pad 1, pool 3x3/2 pad 1, conv2 256@5x5/2 (biases in)."""
    answers = dict(conv1_side=conv1_side, conv1_params=conv1_params, pool1_side=pool1_side,
                   conv2_side=conv2_side, conv2_params=conv2_params)
    for name, value in answers.items():
        _given(value, name)
    c1 = _side(224, 7, 2, 1)
    p1 = _side(c1, 3, 2, 1)
    expected = dict(conv1_side=c1, conv1_params=7 * 7 * 3 * 96 + 96, pool1_side=p1,
                    conv2_side=_side(p1, 5, 2, 0), conv2_params=5 * 5 * 96 * 256 + 256)
    hints = dict(
        conv1_side="use floor((N + 2P - F) / S) + 1 with N=224, F=7, S=2, P=1",
        conv1_params="each of the 96 filters spans all 3 input channels, plus one bias each",
        pool1_side="the pool sees conv1's output, with F=3, S=2, P=1",
        conv2_side="conv2 has no padding and stride 2 on pool1's output",
        conv2_params="a 5x5 filter of conv2 is as deep as conv1 has filters; 256 biases",
    )
    for name, value in answers.items():
        if int(value) != expected[name]:
            raise AssertionError(f"{name} = {value} is not right: {hints[name]}")


def vgg16_receptive_field(rf: int) -> None:
    """The receptive field (pixels) of one unit after VGG-16's last 3x3 conv (conv5_3)."""
    _given(rf, "rf")
    r, j = 1, 1
    for block, convs in enumerate((2, 2, 3, 3, 3)):
        r += convs * 2 * j  # each 3x3/1 conv adds (3 - 1) * jump
        if block < 4:  # the pool after conv5_3 is not counted
            r, j = r + j, j * 2  # 2x2/2 pool adds (2 - 1) * jump and doubles the jump
    if int(rf) != r:
        raise AssertionError(f"rf = {rf} is not right: walk the layers with r += (k - 1) * jump "
                             "and jump *= stride, from r = jump = 1; the 5th pool comes after conv5_3")


def budget_network(model: nn.Module, budget: int = 20_000) -> None:
    """A model for 1x28x28 images with 10 logits and at most `budget` parameters."""
    _given(model, "model")
    if not isinstance(model, nn.Module):
        raise AssertionError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    count = sum(p.numel() for p in model.parameters())
    if count > budget:
        raise AssertionError(f"the model has {count:,} parameters, over the budget of {budget:,}: "
                             "the big fully connected layers are usually where they hide "
                             "(try global average pooling)")
    if not any(isinstance(m, nn.Conv2d) for m in model.modules()):
        raise AssertionError("the model has no nn.Conv2d: this exercise asks for a CNN")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = model(torch.zeros(2, 1, 28, 28, device=device))
    model.train(was_training)
    if tuple(out.shape) != (2, 10):
        raise AssertionError(f"a batch of 2 images should give logits of shape (2, 10), got "
                             f"{tuple(out.shape)}: check the last layer and the flatten")
