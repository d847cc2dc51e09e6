"""LeNet-5, AlexNet, ZFNet, VGG, GoogLeNet: lecture arithmetic, torchvision counts, checks."""

import matplotlib
import pytest
import torch
import torchvision.models as tvm
from torch import nn

from dlcourse.models import classic
from dlcourse.summary import summary
from dlcourse.viz import architectures as arch_viz

matplotlib.use("Agg")


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def weights(module: nn.Module) -> int:
    return module.weight.numel()


def sides(model: nn.Module, input_size, kinds=("Conv2d", "MaxPool2d")) -> list[tuple[int, ...]]:
    """Output (C, H, W) of each conv/pool, from a forward pass on the meta device (no compute)."""
    return [row.output_shape[1:] for row in summary(model, input_size).layers if row.kind in kinds]


# ---------------------------------------------------------------------------------------- LeNet-5
def test_lenet_parameter_arithmetic_from_the_lecture():
    model = classic.lenet5()
    # without biases (the slides' conv numbers) and with biases (the slides' FC numbers)
    assert [weights(m) for m in (model.conv1, model.conv2)] == [5 * 5 * 6, 5 * 5 * 6 * 16]
    assert [weights(m) for m in (model.conv1, model.conv2)] == [150, 2400]
    assert [count(m) for m in (model.conv1, model.conv2)] == [156, 2416]
    assert [count(m) for m in (model.fc1, model.fc2, model.fc3)] == [48120, 10164, 850]
    assert count(model) == 61706
    assert count(classic.lenet5(bias=False)) == 150 + 2400 + 48000 + 10080 + 840


def test_lenet_shapes_32_and_padded_28():
    assert sides(classic.lenet5(), (1, 32, 32), ("Conv2d", "AvgPool2d")) == [
        (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5)]
    model = classic.lenet5(padding=2)
    assert model(torch.randn(3, 1, 28, 28)).shape == (3, 10)


# ---------------------------------------------------------------------------------------- AlexNet
def test_alexnet_paper_shapes_and_counts():
    with torch.device("meta"):
        model = classic.alexnet()
        grouped = classic.alexnet(groups=2)
    assert [s[1] for s in sides(model, (3, 227, 227))] == [55, 27, 27, 13, 13, 13, 13, 6]
    assert weights(model.features[0]) == 11 * 11 * 3 * 96 == 34848
    assert count(model) == 62_378_344
    # the 2-GPU split halves the weights of conv2, conv4 and conv5
    saved = (5 * 5 * 96 * 256 + 3 * 3 * 384 * 384 + 3 * 3 * 384 * 256) // 2
    assert count(model) - count(grouped) == saved
    assert count(grouped) == 60_965_224


def test_alexnet_unpadded_variant_and_the_27_55m_of_the_lecture():
    with torch.device("meta"):
        model = classic.alexnet(variant="unpadded")
    assert [s[1] for s in sides(model, (3, 227, 227))] == [55, 27, 23, 11, 9, 7, 5, 2]
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    exact = [weights(m) for m in layers]
    assert exact == [34848, 614400, 884736, 1327104, 884736, 4194304, 16777216, 4096000]
    assert sum(exact) == 28_813_344
    # the slide adds rounded values (34K, 0.6M, 0.8M, 1.327M, 0.8M, 4M, 16M, 4M)
    rounded = [0.034, 0.6, 0.8, 1.327, 0.8, 4, 16, 4]
    assert sum(rounded) == pytest.approx(27.55, abs=0.02)


def test_alexnet_forward_and_bad_variant():
    model = classic.alexnet(num_classes=7, variant="unpadded", groups=2).eval()
    assert model(torch.randn(1, 3, 227, 227)).shape == (1, 7)
    with pytest.raises(ValueError, match="'paper' or 'unpadded'"):
        classic.alexnet(variant="small")


@pytest.mark.parametrize("variant", ["paper", "unpadded"])
def test_alexnet_at_224_pixels_says_use_227(variant):
    with torch.device("meta"):
        model = classic.alexnet(variant=variant)
        assert model(torch.zeros(1, 3, 227, 227)).shape == (1, 1000)
        with pytest.raises(ValueError, match=r"expects 227x227 images, got 224x224.*54\.25.*Resize\(227\)"):
            model(torch.zeros(1, 3, 224, 224))


def test_zfnet_shapes_and_widths():
    with torch.device("meta"):
        model = classic.zfnet()
    shapes = sides(model, (3, 224, 224))
    assert [s[1] for s in shapes] == [110, 55, 26, 13, 13, 13, 13, 6]
    assert [s[0] for s in shapes] == [96, 96, 256, 256, 512, 1024, 512, 512]


# -------------------------------------------------------------------------------------------- VGG
@pytest.mark.parametrize("depth", [11, 13, 16, 19])
@pytest.mark.parametrize("batch_norm", [False, True])
def test_vgg_parameter_counts_equal_torchvision(depth, batch_norm):
    name = f"vgg{depth}" + ("_bn" if batch_norm else "")
    with torch.device("meta"):
        assert count(classic.vgg(depth, batch_norm=batch_norm)) == count(getattr(tvm, name)())


def test_vgg_same_function_as_torchvision():
    with torch.device("meta"):  # same layer names and shapes everywhere
        ours, theirs = classic.vgg16().state_dict(), tvm.vgg16().state_dict()
    assert [(k, v.shape) for k, v in ours.items()] == [(k, v.shape) for k, v in theirs.items()]
    torch.manual_seed(0)
    features = classic.make_vgg_layers(classic.VGG_CONFIGS[11], batch_norm=True).eval()
    reference = tvm.vgg.make_layers(tvm.vgg.cfgs["A"], batch_norm=True).eval()
    features.load_state_dict(reference.state_dict())
    X = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(features(X), reference(X))


def test_vgg16_table_of_the_lecture():
    with torch.device("meta"):
        model = classic.vgg16()
    convs = [weights(m) for m in model.features if isinstance(m, nn.Conv2d)]
    assert convs == [1728, 36864, 73728, 147456, 294912, 589824, 589824, 1179648] + [2359296] * 5
    fcs = [weights(m) for m in model.classifier if isinstance(m, nn.Linear)]
    assert fcs == [7 * 7 * 512 * 4096, 4096 * 4096, 4096 * 1000] == [102760448, 16777216, 4096000]
    assert count(model) == 138_357_544
    values = [int(torch.tensor(s).prod()) for s in sides(model, (3, 224, 224), ("Conv2d",))]
    assert values[:2] == [224 * 224 * 64] * 2 == [3211264] * 2


def test_three_3x3_convs_see_7x7_with_fewer_weights():
    C = 64
    stack = nn.Sequential(*[nn.Conv2d(C, C, 3, padding=1, bias=False) for _ in range(3)])
    single = nn.Conv2d(C, C, 7, padding=3, bias=False)
    assert summary(stack, (C, 32, 32)).layers[-1].rf == summary(single, (C, 32, 32)).layers[-1].rf
    assert summary(single, (C, 32, 32)).layers[-1].rf == (7, 7)
    assert (count(stack), count(single)) == (27 * C * C, 49 * C * C)


def test_vgg_rejects_unknown_depth():
    with pytest.raises(ValueError, match=r"\[11, 13, 16, 19\]"):
        classic.vgg(12)


# -------------------------------------------------------------------------------------- GoogLeNet
def test_inception_bottlenecks_save_about_60_percent():
    # the lecture's module: 28x28x256 in, 1x1 128, 3x3 192, 5x5 96 (+ 64-wide 1x1 reductions)
    naive = classic.Inception(256, 128, 0, 192, 0, 96, 0, reduce=False)
    reduced = classic.Inception(256, 128, 64, 192, 64, 96, 64)
    with torch.device("meta"):
        naive_macs = summary(naive.to("meta"), (256, 28, 28)).total_macs
        reduced_macs = summary(reduced.to("meta"), (256, 28, 28)).total_macs
    assert naive_macs == 28 * 28 * 256 * (128 + 192 * 9 + 96 * 25) == 854_196_224
    assert reduced_macs == 28 * 28 * (256 * (128 + 64 + 64 + 64) + 64 * (192 * 9 + 96 * 25))
    # 854M -> 271M: the slides' "~60%" quotes 358M for the reduced module; the sum is 271M
    assert 1 - reduced_macs / naive_macs == pytest.approx(0.68, abs=0.01)
    assert (naive.out_channels, reduced.out_channels) == (672, 480)


def test_googlenet_counts_and_auxiliary_heads():
    with torch.device("meta"):
        model = classic.googlenet()
        plain = classic.googlenet(aux_logits=False)
    assert count(plain) == 6_998_552  # "~5-7M": no fully connected layers but the last
    aux = [128 * c + 128 + 2048 * 1024 + 1024 + 1024 * 1000 + 1000 for c in (512, 528)]
    assert count(model) - count(plain) == sum(aux)  # the heads' FCs: nearly as many as the net
    out = model.train()(torch.randn(2, 3, 224, 224, device="meta"))
    assert [tuple(t.shape) for t in out] == [(2, 1000)] * 3
    assert model.eval()(torch.randn(2, 3, 224, 224, device="meta")).shape == (2, 1000)


# ----------------------------------------------------------------------------- exercises and plots
def test_architecture_plots_return_axes():
    import matplotlib.pyplot as plt

    ax = arch_viz.plot_ilsvrc()
    assert len(ax.patches) == len(arch_viz.ILSVRC_TOP5)
    results = [dict(name="a", macs=1e6, params=1e4, test_acc=0.8),
               dict(name="b", macs=4e6, params=5e4, test_acc=0.85)]
    assert arch_viz.plot_tradeoff(results).get_xscale() == "log"
    with pytest.raises(KeyError, match="test_acc"):
        arch_viz.plot_tradeoff([dict(name="a", macs=1, params=1)])
    plt.close("all")
