"""dlcourse.summary: counts vs formulas and torch, receptive fields vs gradients, paper FLOPs."""

import matplotlib
import pytest
import torch
import torchvision.models as tvm
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from dlcourse.models import classic, mini, resnet
from dlcourse.shapes import conv_output_size
from dlcourse.summary import summary
from dlcourse.viz import architectures as arch_viz

matplotlib.use("Agg")


# ------------------------------------------------------------------- counts, shapes, multiply-adds
def test_lenet_rows_against_hand_formulas():
    info = summary(classic.lenet5(), (1, 32, 32))
    conv1, conv2, fc1 = info.row("conv1"), info.row("conv2"), info.row("fc1")
    assert conv1.output_shape == (1, 6, 28, 28) and conv1.params == 150 + 6
    assert conv1.macs == 28 * 28 * 6 * 5 * 5  # one multiply-add per weight per output position
    assert conv2.macs == 10 * 10 * 16 * 5 * 5 * 6
    assert fc1.macs == 400 * 120 and fc1.params == 48120
    assert conv1.memory == 6 * 28 * 28 * 4  # float32 bytes
    assert sum(r.params for r in info.layers) == info.total_params == 61706
    assert info.total_flops == 2 * info.total_macs


@pytest.mark.parametrize("seed", range(3))
def test_random_convs_macs_and_shapes_against_torch(seed):
    g = torch.Generator().manual_seed(seed)
    k, s, p, groups = (int(torch.randint(lo, hi, (1,), generator=g)) for lo, hi in
                       ((1, 6), (1, 4), (0, 3), (1, 3)))
    conv = nn.Conv2d(4, 6, k, stride=s, padding=p, groups=groups)
    X = torch.randn(1, 4, 19, 23)
    row = summary(conv, (4, 19, 23)).layers[0]
    assert row.output_shape == tuple(conv(X).shape)  # oracle: torch itself
    h, w = row.output_shape[2:]
    assert (h, w) == tuple(conv_output_size(n, k, p, s, strict=False) for n in (19, 23))
    assert row.macs == h * w * 6 * k * k * 4 // groups
    with FlopCounterMode(display=False) as flops:
        conv(X)
    assert 2 * row.macs == flops.get_total_flops()


def test_in_place_and_shared_modules():
    relu = nn.ReLU(inplace=True)
    lin = nn.Linear(8, 8)
    model = nn.Sequential(lin, relu, lin, nn.ReLU())  # lin called twice
    info = summary(model, (1, 1, 8))
    assert [r.params for r in info.layers] == [72, 0, 0, 0]  # shared weights counted once
    assert [r.memory for r in info.layers] == [32, 0, 32, 32]  # in-place ReLU allocates nothing
    assert info.total_macs == 2 * 64


def test_vgg16_memory_column_of_the_lecture():
    with torch.device("meta"):
        info = summary(classic.vgg16(), (3, 224, 224))
    convs = [r for r in info.layers if r.kind == "Conv2d"]
    values = [r.memory // 4 for r in convs]
    assert values[:4] == [224 * 224 * 64] * 2 + [112 * 112 * 128] * 2
    total_values = info.total_memory // 4
    assert total_values == pytest.approx(15.2e6, rel=0.01)  # ~61 MB/image forward in float32
    assert info.total_params == 138_357_544


PAPER_GFLOPS = {  # He et al. 2015 (Table 1) and the VGG numbers quoted there: multiply-adds
    "resnet18": 1.8, "resnet34": 3.6, "resnet50": 3.8, "resnet101": 7.6, "resnet152": 11.3,
    "vgg16": 15.3, "vgg19": 19.6,
}


@pytest.mark.parametrize("name", list(PAPER_GFLOPS))
def test_multiply_adds_match_the_resnet_paper(name):
    factory = getattr(resnet, name, None) or getattr(classic, name)
    kwargs = {"stride_in_1x1": True} if name.startswith("resnet") else {}
    with torch.device("meta"):
        macs = summary(factory(**kwargs), (3, 224, 224)).total_macs
    assert macs / 1e9 == pytest.approx(PAPER_GFLOPS[name], rel=0.015 if "vgg" in name else 0.02)


def test_torchvision_resnet50_is_v1_5():
    with torch.device("meta"):
        ours = summary(resnet.resnet50(), (3, 224, 224)).total_macs
        theirs = summary(tvm.resnet50(), (3, 224, 224)).total_macs
    assert ours == theirs and round(ours / 1e9, 2) == 4.09  # stride in the 3x3 costs 0.23 G more


def test_bad_input_size_says_what_to_pass():
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        summary(classic.lenet5(), (28, 28))
    with pytest.raises(ValueError, match="positive"):
        summary(classic.lenet5(), (1, 0, 28))


def test_table_and_dicts():
    info = summary(mini.mini_resnet(), (1, 28, 28))
    text = str(info)
    assert "mult-adds" in text.splitlines()[0] and "total params 77,754" in text
    assert len(info.to_dicts()) == len(info.layers)
    convs_only = info.table(kinds=("Conv2d",))
    assert "Conv2d" in convs_only and "BatchNorm2d" not in convs_only
    with pytest.raises(KeyError, match="no layer named"):
        info.row("conv99")


# ------------------------------------------------------------------------------- receptive fields
def _max_to_avg(model: nn.Module) -> nn.Module:
    """Max-pools route gradient to one pixel; average pools of the same geometry reach them all."""
    for name, child in model.named_children():
        if isinstance(child, nn.MaxPool2d):
            setattr(model, name, nn.AvgPool2d(child.kernel_size, child.stride, child.padding,
                                              ceil_mode=child.ceil_mode))
        else:
            _max_to_avg(child)
    return model


def measured_receptive_field(model: nn.Module, size: int) -> tuple[int, int]:
    """Extent (rows, cols) of input pixels with non-zero gradient for the centre output position.

    All channels are summed: after a concatenation (Inception, DenseNet) the channels differ
    in receptive field, and the analytic value is the largest.
    """
    model = _max_to_avg(model).double().eval()
    with torch.no_grad():  # all-positive weights and input: no ReLU is off, nothing cancels
        for p in model.parameters():
            p.abs_().add_(0.01)
    X = torch.ones(1, model_in_channels(model), size, size, dtype=torch.double, requires_grad=True)
    out = model(X)
    out[0, :, out.shape[2] // 2, out.shape[3] // 2].sum().backward()
    rows = X.grad[0].abs().sum(0).sum(1).nonzero()
    cols = X.grad[0].abs().sum(0).sum(0).nonzero()
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def model_in_channels(model: nn.Module) -> int:
    return next(m for m in model.modules() if isinstance(m, nn.Conv2d)).in_channels


def trunk(name: str) -> nn.Module:
    """The convolutional part (up to the last spatial map) of each mini model, plus test stacks."""
    m = mini.MINI_MODELS[name]() if name in mini.MINI_MODELS else None
    if name in ("AlexNet", "ZFNet", "VGG"):
        return nn.Sequential(*list(m)[:-1])
    if name == "GoogLeNet":
        return nn.Sequential(m.stem, m.inception_a, m.pool, m.inception_b, m.inception_c)
    if name == "ResNet":
        return nn.Sequential(m.stem, m.layer1, m.layer2, m.layer3)
    if name == "DenseNet":
        return nn.Sequential(*list(m)[:-3])
    if name == "LeNet-5":
        return nn.Sequential(m.conv1, m.act1, m.pool1, m.conv2, m.act2, m.pool2)
    return nn.Sequential(  # dilation, asymmetric kernels and strides
        nn.Conv2d(2, 4, (3, 5), stride=(1, 2), dilation=2), nn.ReLU(),
        nn.MaxPool2d(3, 2, padding=1), nn.Conv2d(4, 4, 1, stride=2), nn.Conv2d(4, 3, 3))


@pytest.mark.parametrize("name", [*mini.MINI_MODELS, "stack"])
def test_receptive_field_matches_gradient_measurement(name):
    torch.manual_seed(0)
    model = trunk(name)
    info = summary(model, (model_in_channels(model), 28, 28))
    rf = info.output_rf  # of the model's output: after the last concatenation or addition
    size = 2 * max(rf) + 24  # big enough that the centre unit's field is not clipped
    assert measured_receptive_field(model, size) == rf


def test_receptive_field_of_classic_networks():
    with torch.device("meta"):
        vgg = summary(classic.vgg16(), (3, 224, 224))
        res = summary(resnet.resnet18(), (3, 224, 224))
    assert vgg.row("features.28").rf == (196, 196) and vgg.row("features.30").jump == (32, 32)
    assert res.row("layer4.1.conv2").rf == (435, 435)
    assert vgg.row("classifier.0").rf is None  # a fully connected layer sees everything


def test_summary_plots_return_axes():
    import matplotlib.pyplot as plt

    info = summary(classic.lenet5(), (1, 32, 32))
    assert arch_viz.plot_receptive_field(info).get_yscale() == "log"
    assert len(arch_viz.plot_layer_costs(info, kinds=("Conv2d", "Linear")).patches) == 2 * 5
    with pytest.raises(ValueError, match="kinds"):
        arch_viz.plot_layer_costs(info, kinds=("Conv3d",))
    plt.close("all")
