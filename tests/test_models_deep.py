"""Tests for dlcourse.models.deep: shapes, parameter counts, the skip switch, stochastic depth."""

import pytest
import torch
import torchvision
from torch import nn

from dlcourse.models.deep import (
    BasicBlock,
    BottleneckBlock,
    DenseBlock,
    Hourglass,
    ShortcutA,
    count_params,
    deep_mlp,
    drop_path,
    plain_or_resnet,
    tiny_unet,
)


@pytest.mark.parametrize("depth", [8, 20, 56])
@pytest.mark.parametrize("residual", [True, False])
def test_plain_or_resnet_shapes_and_block_count(depth, residual):
    model = plain_or_resnet(depth, residual=residual, width=4)
    # depth 6n+2 = stem conv + 3 stages x n blocks x 2 convs + linear head
    assert len(model.blocks) == 3 * (depth - 2) // 6
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) + 1 == depth
    assert model(torch.randn(3, 1, 28, 28)).shape == (3, 10)


def test_resnet20_matches_paper_parameter_count_and_plain_twin():
    # He et al. 2016 table 6: ResNet-20 has 0.27M parameters; option-A shortcuts add none
    resnet, plain = (
        plain_or_resnet(20, residual=True, in_channels=3),
        plain_or_resnet(20, False, in_channels=3),
    )
    assert count_params(resnet) == count_params(plain) == 269_722
    assert count_params(plain_or_resnet(56, in_channels=3)) == 853_018  # paper: 0.85M


def test_stage_widths_and_resolution():
    model = plain_or_resnet(14, width=8, num_classes=3, in_channels=2)
    X = torch.randn(2, 2, 28, 28)
    assert model.blocks(model.stem(X)).shape == (2, 32, 7, 7)  # (B, 4w, H/4, W/4)
    assert model(X).shape == (2, 3)


def test_stem_stride_halves_the_resolution_and_quarters_the_cost():
    dense, strided = plain_or_resnet(14, width=8), plain_or_resnet(14, width=8, stem_stride=2)
    assert count_params(dense) == count_params(strided)  # same weights, applied at fewer positions
    X = torch.randn(2, 1, 28, 28)
    assert strided.blocks(strided.stem(X)).shape == (2, 32, 4, 4)  # 28 -> 14 -> 7 -> 4
    assert strided(X).shape == (2, 10)
    # multiply-adds of all convs, counted with hooks: the blocks' share drops about 4x
    def conv_macs(model):
        macs = []
        hooks = [m.register_forward_hook(lambda m, i, out: macs.append(out[0].numel() * m.weight[0].numel()))
                 for m in model.modules() if isinstance(m, nn.Conv2d)]
        model(X[:1])
        for h in hooks:
            h.remove()
        return sum(macs)
    assert 3.5 < conv_macs(dense) / conv_macs(strided) < 4.5


def test_bad_stem_stride_says_what_is_expected():
    with pytest.raises(ValueError, match="stem_stride must be 1"):
        plain_or_resnet(8, stem_stride=3)


@pytest.mark.parametrize("depth", [7, 9, 2, 21])
def test_bad_depth_says_what_is_expected(depth):
    with pytest.raises(ValueError, match="6n\\+2"):
        plain_or_resnet(depth)


def test_stochastic_depth_needs_a_residual_net_and_a_probability():
    with pytest.raises(ValueError, match="residual=True"):
        plain_or_resnet(20, residual=False, stochastic_depth=0.5)
    with pytest.raises(ValueError, match="drop probability"):
        plain_or_resnet(20, stochastic_depth=1.0)


def test_stochastic_depth_linear_decay_rule():
    model = plain_or_resnet(20, stochastic_depth=0.5)
    drops = [b.drop_prob for b in model.blocks]
    assert drops == pytest.approx([0.5 * (i + 1) / 9 for i in range(9)])


@pytest.mark.parametrize("mode", ["row", "batch"])
def test_drop_path_matches_torchvision(mode):
    x = torch.randn(16, 3, 4, 4)
    torch.manual_seed(1)
    ours = drop_path(x, 0.3, training=True, mode=mode)
    torch.manual_seed(1)
    oracle = torchvision.ops.stochastic_depth(x, 0.3, mode=mode, training=True)
    torch.testing.assert_close(ours, oracle)
    assert drop_path(x, 0.3, training=False, mode=mode) is x


def test_drop_path_bad_inputs():
    with pytest.raises(ValueError, match="\\[0, 1\\]"):
        drop_path(torch.ones(2, 2), 1.5, True)
    with pytest.raises(ValueError, match="'row' or 'batch'"):
        drop_path(torch.ones(2, 2), 0.5, True, mode="col")


def test_stochastic_depth_is_random_in_training_and_exact_at_test():
    torch.manual_seed(0)
    model = plain_or_resnet(14, stochastic_depth=0.5, width=4)
    reference = plain_or_resnet(14, stochastic_depth=0.0, width=4)
    reference.load_state_dict(model.state_dict())
    X = torch.randn(4, 1, 28, 28)
    model.eval(), reference.eval()
    torch.testing.assert_close(model(X), reference(X))  # test time: every block, no rescale
    model.train()
    outs = [model(X) for _ in range(6)]
    assert any(not torch.allclose(outs[0], o) for o in outs[1:])


def test_skip_switch_with_zero_branch():
    # with a zero residual branch the residual block passes ReLU(x), the plain block passes 0
    x = torch.randn(2, 4, 6, 6)
    for residual, expected in [(True, torch.relu(x)), (False, torch.zeros_like(x))]:
        block = BasicBlock(4, 4, residual=residual).eval()
        nn.init.zeros_(block.conv1.weight), nn.init.zeros_(block.conv2.weight)
        torch.testing.assert_close(block(x), expected)


def test_shortcut_a_subsamples_and_zero_pads():
    x = torch.randn(2, 3, 8, 8)
    out = ShortcutA(3, 5, stride=2)(x)
    assert out.shape == (2, 5, 4, 4)
    torch.testing.assert_close(out[:, :3], x[:, :, ::2, ::2])
    assert out[:, 3:].abs().sum() == 0


def test_seeded_golden_output():
    torch.manual_seed(0)
    model = plain_or_resnet(8, width=4).eval()
    torch.manual_seed(1)
    y_hat = model(torch.randn(2, 1, 28, 28))
    assert y_hat.sum().item() == pytest.approx(GOLDEN_RESNET8_SUM, abs=1e-3)


GOLDEN_RESNET8_SUM = -1.73339  # torch 2.x CPU, float32


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("residual", [True, False])
def test_deep_mlp_shapes(activation, residual):
    model = deep_mlp(
        5,
        width=16,
        residual=residual,
        activation=activation,
        in_features=3,
        out_features=2,
        batch_norm=True,
    )
    assert sum(isinstance(m, nn.Linear) for m in model.modules()) == 5 + 2
    assert model(torch.randn(7, 3)).shape == (7, 2)


def test_deep_mlp_residual_block_is_identity_with_zero_branch():
    model = deep_mlp(3, width=8, residual=True)
    h = torch.randn(4, 8)
    block = model.blocks[0]
    nn.init.zeros_(block.linear.weight), nn.init.zeros_(block.linear.bias)
    torch.testing.assert_close(block(h), h)  # relu(0) = 0: h + 0


def test_deep_mlp_he_init_variance():
    torch.manual_seed(0)
    model = deep_mlp(2, width=512, init="he")
    w = model.blocks[0].linear.weight
    assert w.var().item() == pytest.approx(2 / 512, rel=0.05)


def test_deep_mlp_bad_inputs():
    with pytest.raises(ValueError, match="activation must be one of"):
        deep_mlp(3, activation="gelu")
    with pytest.raises(ValueError, match="init must be"):
        deep_mlp(3, init="xavier")
    with pytest.raises(ValueError, match=">= 0"):
        deep_mlp(-1)


def test_bottleneck_is_cheaper_than_basic_block():
    # He et al. 2016 fig. 5: a 256-d bottleneck costs about as much as a 64-d basic block
    bottleneck_convs = 256 * 64 + 9 * 64 * 64 + 64 * 256
    assert count_params(BottleneckBlock(256, 64)) == bottleneck_convs + 2 * (64 + 64 + 256)
    assert count_params(BasicBlock(256, 256)) == 2 * 9 * 256 * 256 + 4 * 256
    x = torch.randn(2, 32, 8, 8)
    assert BottleneckBlock(32, 8)(x).shape == x.shape


def test_dense_block_concatenates():
    block = DenseBlock(4, growth_rate=3, num_layers=5)
    x = torch.randn(2, 4, 8, 8)
    out = block(x)
    assert out.shape == (2, 4 + 5 * 3, 8, 8) and block.out_channels == 19
    torch.testing.assert_close(out[:, :4], x)  # the input is carried through untouched
    assert block.layers[4][2].in_channels == 4 + 4 * 3  # the last layer sees every earlier map


@pytest.mark.parametrize("levels", [1, 2, 3])
def test_tiny_unet_shapes(levels):
    model = tiny_unet(1, 2, width=4, levels=levels)
    assert model(torch.randn(2, 1, 32, 24)).shape == (2, 2, 32, 24)


def test_tiny_unet_bad_inputs():
    with pytest.raises(ValueError, match="divisible by 4"):
        tiny_unet(levels=2)(torch.randn(1, 1, 30, 28))
    with pytest.raises(ValueError, match="levels"):
        tiny_unet(levels=0)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_hourglass_shapes(depth):
    x = torch.randn(2, 8, 16, 16)
    assert Hourglass(depth, 8)(x).shape == x.shape
    with pytest.raises(ValueError, match=">= 1"):
        Hourglass(0, 8)
