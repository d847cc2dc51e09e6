"""The lecture's CCP network: the lecture's widths by default, growing widths and BatchNorm on request."""

import pytest
import torch
from torch import nn

from dlcourse.models.lecture import CCP, LECTURE_WIDTHS, ClassificationModel, first_cnn
from dlcourse.summary import summary

GROWING = ((8, 8), (16, 16), (32, 32))  # what lesson 06 trains


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_ccp_without_batch_norm_is_the_lectures_block():
    block = CCP(3, 64, 64)
    assert [name for name, _ in block.named_children()] == ["conv1", "relu1", "conv2", "relu2", "pool"]
    assert block.conv1.bias is not None
    X = torch.randn(2, 3, 8, 8)
    expected = nn.functional.max_pool2d(block.conv2(block.conv1(X).relu()).relu(), 2)
    torch.testing.assert_close(block(X), expected)


def test_ccp_with_batch_norm_normalizes_before_each_relu():
    block = CCP(1, 4, 6, batch_norm=True)
    assert [name for name, _ in block.named_children()] == [
        "conv1", "bn1", "relu1", "conv2", "bn2", "relu2", "pool"]
    assert block.conv1.bias is None and block.conv2.bias is None  # BatchNorm's shift replaces them
    torch.manual_seed(0)
    X = torch.randn(8, 1, 10, 10)
    h = block.conv1(X)
    h = ((h - h.mean((0, 2, 3), keepdim=True)) / (h.var((0, 2, 3), unbiased=False, keepdim=True)
                                                   + 1e-5).sqrt()).relu()
    h = block.conv2(h)
    h = ((h - h.mean((0, 2, 3), keepdim=True)) / (h.var((0, 2, 3), unbiased=False, keepdim=True)
                                                   + 1e-5).sqrt()).relu()
    torch.testing.assert_close(block.train()(X), nn.functional.max_pool2d(h, 2), atol=1e-5, rtol=1e-4)


def test_first_cnn_with_growing_widths_counts_and_shapes():
    model = first_cnn(widths=GROWING, batch_norm=True)
    assert model.fc.in_features == 32 * 3 * 3
    assert model.eval()(torch.randn(3, 1, 28, 28)).shape == (3, 10)
    # convs without bias: 9*(1*8 + 8*8 + 8*16 + 16*16 + 16*32 + 32*32); 2 per BN channel; fc 288*10+10
    convs = 9 * (8 + 64 + 128 + 256 + 512 + 1024)
    assert count(model) == convs + 2 * 2 * (8 + 16 + 32) + 2890 == 21_042
    info = summary(model, (1, 28, 28))
    # multiply-adds by hand: 28x28, 14x14, 7x7 maps; plus the fc
    macs = 9 * (784 * (8 + 64) + 196 * (128 + 256) + 49 * (512 + 1024)) + 2880
    assert info.total_macs == macs
    lecture = summary(first_cnn(), (1, 28, 28)).total_macs
    assert lecture > 15 * macs  # the lecture's 64-wide first block does nearly all the work


def test_default_widths_are_the_lectures():
    model = ClassificationModel(10)
    assert [(m.conv1.out_channels, m.conv2.out_channels)
            for m in (model.layer1, model.layer2, model.layer3)] == list(LECTURE_WIDTHS)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())


@pytest.mark.parametrize("widths", [((8, 8), (16, 16)), ((8,), (16, 16), (32, 32))])
def test_bad_widths_say_what_is_expected(widths):
    with pytest.raises(ValueError, match="three .conv1, conv2. channel pairs"):
        first_cnn(widths=widths)
