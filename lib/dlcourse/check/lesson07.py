"""Exercise checks for notebook 07 (CNN architectures: LeNet-5 to DenseNet).

Every name in __all__ becomes `dlcourse.check.<name>`; each passes quietly or raises AssertionError
with a hint that guides without giving the answer.
"""

from __future__ import annotations

from torch import nn

from dlcourse.check._common import measure, module, require, whole_number

__all__ = ["zfnet_arithmetic", "vgg16_receptive_field", "budget_network"]

# A network that has learned nothing has a test loss near ln(10) = 2.30 (never below 2.2 in 160 random
# initializations of four designs); the reference solution after fast mode's 32 steps is at 1.73-1.81.
TRAINED_LOSS = 2.0
TRAINED_ACC = 0.6  # or this accuracy, whatever the loss (an over-confident but good model)


def _side(size: int, k: int, s: int, p: int) -> int:
    """floor((size + 2p - k) / s) + 1."""
    return (size + 2 * p - k) // s + 1


def zfnet_arithmetic(conv1_side: object, conv1_params: object, pool1_side: object, conv2_side: object,
                     conv2_params: object) -> None:
    """Exercise 1: ZFNet on 224x224x3: conv1 96@7x7/2 pad 1, pool 3x3/2 pad 1, conv2 256@5x5/2."""
    answers = dict(conv1_side=conv1_side, conv1_params=conv1_params, pool1_side=pool1_side,
                   conv2_side=conv2_side, conv2_params=conv2_params)
    answers = {name: whole_number(value, name) for name, value in answers.items()}
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
        require(value == expected[name], f"{name} = {value} is not right: {hints[name]}")


def vgg16_receptive_field(rf: object) -> None:
    """Exercise 2: the receptive field (pixels) of one unit after VGG-16's last 3x3 conv (conv5_3)."""
    rf = whole_number(rf, "rf")
    r, j = 1, 1
    for block, convs in enumerate((2, 2, 3, 3, 3)):
        r += convs * 2 * j  # each 3x3/1 conv adds (3 - 1) * jump
        if block < 4:  # the pool after conv5_3 is not counted
            r, j = r + j, j * 2  # 2x2/2 pool adds (2 - 1) * jump and doubles the jump
    require(rf == r, f"rf = {rf} is not right: walk the layers with r += (k - 1) * jump and "
            "jump *= stride, from r = jump = 1; the 5th pool comes after conv5_3")


def budget_network(model: object, budget: int = 20_000) -> None:
    """Exercise 3: a trained CNN for 1x28x28 images with 10 logits and at most `budget` parameters."""
    model = module(model, "model", hint="Build the network as an nn.Sequential or nn.Module.")
    count = sum(p.numel() for p in model.parameters())
    require(count <= budget, f"the model has {count:,} parameters, over the budget of {budget:,}: the big "
            "fully connected layers are usually where they hide (try global average pooling)")
    require(any(isinstance(m, nn.Conv2d) for m in model.modules()),
            "the model has no nn.Conv2d: this exercise asks for a CNN")
    loss, acc = measure(model)
    require(loss < TRAINED_LOSS or acc >= TRAINED_ACC,
            f"on the test images the model's loss is {loss:.2f} (accuracy {acc:.1%}): close to ln(10) = "
            "2.30, what a network that has learned nothing gets. Train it with train.fit (as the mini "
            "models above), then check it")
