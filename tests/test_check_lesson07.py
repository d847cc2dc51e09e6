"""Lesson 07's checks: the notebook's solutions pass, realistic mistakes fail with a hint."""

import numpy as np
import pytest
import torch
from torch import nn

from dlcourse import data, train
from dlcourse.check import lesson07
from dlcourse.models import classic


def test_zfnet_arithmetic():
    conv1_side = (224 + 2 * 1 - 7) // 2 + 1  # the notebook's solution
    conv1_params = 7 * 7 * 3 * 96 + 96
    pool1_side = (conv1_side + 2 * 1 - 3) // 2 + 1
    conv2_side = (pool1_side - 5) // 2 + 1
    conv2_params = 5 * 5 * 96 * 256 + 256
    lesson07.zfnet_arithmetic(conv1_side, conv1_params, pool1_side, conv2_side, conv2_params)
    lesson07.zfnet_arithmetic(110.0, np.int64(14208), torch.tensor(55), 26, 614656)
    with pytest.raises(AssertionError, match="conv1_params") as err:
        lesson07.zfnet_arithmetic(110, 14112, 55, 26, 614656)  # forgot the biases
    assert "14208" not in str(err.value)  # a hint, not the answer
    with pytest.raises(AssertionError, match="conv1_side"):
        lesson07.zfnet_arithmetic(109, 14208, 55, 26, 614656)  # forgot the padding
    with pytest.raises(AssertionError, match="conv2_params"):
        lesson07.zfnet_arithmetic(110, 14208, 55, 26, 5 * 5 * 3 * 256 + 256)  # as deep as the image
    with pytest.raises(AssertionError, match="conv1_side is not answered yet"):
        lesson07.zfnet_arithmetic(..., 14208, 55, 26, 614656)


def test_vgg16_receptive_field():
    rf, jump = 1, 1  # the notebook's solution
    for block, num_convs in enumerate((2, 2, 3, 3, 3)):
        rf += num_convs * (3 - 1) * jump
        if block < 4:
            rf, jump = rf + (2 - 1) * jump, jump * 2
    lesson07.vgg16_receptive_field(rf)
    with pytest.raises(AssertionError, match="jump"):
        lesson07.vgg16_receptive_field(212)  # the fifth pool counted too
    with pytest.raises(AssertionError, match="jump"):
        lesson07.vgg16_receptive_field(1 + 13 * 2)  # jumps never grow


def budget_solution():
    return nn.Sequential(  # the notebook's solution
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),  # 14x14
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),  # 7x7
        nn.Conv2d(32, 48, 3, padding=1), nn.BatchNorm2d(48), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(48, 10))


@pytest.fixture(scope="module")
def train_loader():
    """The notebook's fast mode: 1,024 training images, batch 32, one epoch."""
    train_set = data.load_bundled_subset("train").subset(1024, seed=0)
    return data.TensorLoader(train_set, batch_size=32, shuffle=True, device="cpu", seed=0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_budget_network_the_notebooks_solution_passes(train_loader, seed):
    torch.manual_seed(seed)
    model = budget_solution()
    train.fit(model, train_loader, num_epochs=1, lr=3e-3, optimizer="adam", progress=False)
    lesson07.budget_network(model, budget=20_000)


def test_budget_network_refuses_an_untrained_net():
    for seed in range(3):  # issue 11: an untrained net passed
        torch.manual_seed(seed)
        with pytest.raises(AssertionError, match="learned nothing"):
            lesson07.budget_network(budget_solution(), budget=20_000)


def test_budget_network_other_mistakes():
    with pytest.raises(AssertionError, match="over the budget"):
        lesson07.budget_network(classic.lenet5(padding=2), budget=20_000)
    with pytest.raises(AssertionError, match="no nn.Conv2d"):
        lesson07.budget_network(nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), budget=10_000)
    with pytest.raises(AssertionError, match=r"logits of shape \(B, 10\)"):
        lesson07.budget_network(nn.Sequential(nn.Conv2d(1, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten()))
    with pytest.raises(AssertionError, match=r"logits of shape \(B, 10\)"):
        lesson07.budget_network(nn.Sequential(nn.Conv2d(1, 10, 28), nn.Flatten(1, 2)))
    with pytest.raises(AssertionError, match="nn.Module, got float"):
        lesson07.budget_network(0.91)
