"""dlcourse.summary: counts vs formulas and torch, receptive fields vs gradients, paper FLOPs."""

import matplotlib
import pytest
import torch
import torch.nn.functional as F
import torchvision.models as tvm
from rf_oracle import measured_receptive_field, model_in_channels
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from dlcourse.models import classic, deep, mini, resnet
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
    assert info.row("0").params == 72 and info.row("0") is info.layers[0]  # the first call
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
    kwargs = {"variant": "v1"} if name.startswith("resnet") else {}
    with torch.device("meta"):
        macs = summary(factory(**kwargs), (3, 224, 224)).total_macs
    assert macs / 1e9 == pytest.approx(PAPER_GFLOPS[name], rel=0.015 if "vgg" in name else 0.02)


def test_torchvision_resnet50_is_v1_5():
    with torch.device("meta"):
        ours = summary(resnet.resnet50(), (3, 224, 224)).total_macs
        theirs = summary(tvm.resnet50(), (3, 224, 224)).total_macs
    assert ours == theirs and round(ours / 1e9, 2) == 4.09  # stride in the 3x3 costs 0.23 G more


@pytest.mark.parametrize("size", [(28, 28), (1, 0, 28), 28, (1, 28.5, 28), (1, "28", 28), None,
                                  (1, 2, 3, 4, 5)])
def test_bad_input_size_says_what_to_pass(size):
    with pytest.raises(ValueError, match=r"input_size must be \(C, H, W\).*whole numbers >= 1"):
        summary(classic.lenet5(), size)


def test_bad_batch_size_and_numpy_sizes():
    import numpy as np

    with pytest.raises(ValueError, match="batch_size must be a whole number"):
        summary(classic.lenet5(), (1, 32, 32), batch_size=0)
    info = summary(classic.lenet5(), tuple(np.array([1, 32, 32])), batch_size=3)
    assert info.input_size == (3, 1, 32, 32) and info.layers[0].output_shape == (3, 6, 28, 28)


def test_frozen_parameters_count_in_total_but_not_trainable():
    model = classic.lenet5()
    for p in [*model.conv1.parameters(), model.fc1.weight]:
        p.requires_grad_(False)
    info = summary(model, (1, 32, 32))
    assert info.total_params == 61706 == sum(r.params for r in info.layers)
    assert info.trainable_params == 61706 - 156 - 48000
    assert "(trainable 13,550)" in str(info)


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


# ------------------------------------------------- pooling written as functions, adaptive, upsampling
class Functional(nn.Module):
    """Pooling called as functions, and adaptive pooling with even and uneven windows."""

    def __init__(self, adaptive: nn.Module):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 3, 3, padding=1), nn.Conv2d(3, 3, 3)
        self.adaptive, self.conv3 = adaptive, nn.Conv2d(3, 2, 2)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 3, 2, padding=1)
        x = F.avg_pool2d(self.conv2(x), 2)
        x = F.lp_pool2d(x, 2, 3, stride=1)  # norm 2, a 3x3 window
        return self.conv3(self.adaptive(x))


@pytest.mark.parametrize("adaptive", [nn.AdaptiveAvgPool2d(10), nn.AdaptiveMaxPool2d((5, 5)),
                                      nn.AdaptiveAvgPool2d(14), nn.Identity()])
def test_receptive_field_through_functional_and_adaptive_pooling(adaptive):
    torch.manual_seed(0)
    model = Functional(adaptive)
    size = 92  # the adaptive pool sees 20x20: 10 and 5 outputs pool evenly, 14 unevenly
    info = summary(model, (1, size, size))
    rf = info.output_rf
    assert measured_receptive_field(model, size, window=3) == rf
    assert info.row("adaptive").rf is not None


def test_global_pooling_spans_the_whole_map_and_a_linear_layer_everything():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 2))
    info = summary(model, (1, 9, 9))
    assert info.row("0").rf == (3, 3) and info.row("1").rf == (9, 9) == info.row("2").rf
    assert info.row("1").jump == (7, 7) and info.row("3").rf is None and info.output_rf is None


class UpDown(nn.Module):
    """A tiny U-Net: two poolings down, a transposed conv and an interpolation up, a skip concat."""

    def __init__(self, up: str, k: int = 2):
        super().__init__()
        self.enc1, self.enc2 = nn.Conv2d(1, 4, 3, padding=1), nn.Conv2d(4, 8, 3, padding=1)
        self.mid = nn.Conv2d(8, 8, 3, padding=1)
        p = (k - 1) // 2
        if up == "transpose":
            self.up = nn.ConvTranspose2d(8, 8, k, stride=2, padding=p, output_padding=2 - k + 2 * p)
        elif up == "corners":
            self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
        else:
            self.up = nn.Upsample(scale_factor=2, mode=up)
        self.dec = nn.Conv2d(12, 4, 3, padding=1)

    def forward(self, x):
        a = torch.relu(self.enc1(x))  # (B, 4, H, W)
        b = torch.relu(self.enc2(F.max_pool2d(a, 2)))  # (B, 8, H/2, W/2)
        c = torch.relu(self.mid(F.max_pool2d(b, 2)))  # (B, 8, H/4, W/4)
        u = F.interpolate(self.up(c), scale_factor=2, mode="nearest")  # (B, 8, H, W)
        return self.dec(torch.cat([a, u], 1))


@pytest.mark.parametrize("up, k", [("transpose", 2), ("transpose", 3), ("transpose", 4),
                                   ("nearest", 0), ("bilinear", 0), ("bicubic", 0), ("corners", 0)])
def test_receptive_field_through_upsampling_matches_gradients(up, k):
    torch.manual_seed(0)
    model = UpDown(up, k)
    info = summary(model, (1, 64, 64))
    assert info.row("mid").jump == (4, 4)
    if up == "corners":  # align_corners=True stretches 16 units over 32: (16 - 1) / (32 - 1) each
        assert info.row("up").jump == (4 * 15 / 31,) * 2
    else:
        assert info.row("up").jump == (2, 2) and info.row("dec").jump == (1, 1)
    assert measured_receptive_field(model, 64, window=2) == info.output_rf


@pytest.mark.parametrize("k, p", [(3, 1), (4, 1), (5, 2), (2, 0), (3, 0)])
def test_transposed_conv_phase_against_a_skip(k, p):
    """Down by 2, up again with a transposed conv, plus the input: the union depends on where the
    transposed conv puts its outputs (its padding), not only on how many it covers."""

    class Skip(nn.Module):
        def __init__(self):
            super().__init__()
            self.down = nn.Conv2d(1, 2, 3, stride=2, padding=1)
            self.up = nn.ConvTranspose2d(2, 1, k, stride=2, padding=p, output_padding=(2 - k + 2 * p) % 2)

        def forward(self, x):
            up = self.up(self.down(x))
            return up[..., : x.shape[-2], : x.shape[-1]] + x[..., : up.shape[-2], : up.shape[-1]]

    torch.manual_seed(0)
    info = summary(Skip(), (1, 24, 24))
    assert info.output_jump == (1, 1)
    assert measured_receptive_field(Skip(), 24, window=2) == info.output_rf


def test_upsampling_beyond_the_input_gives_fractional_jumps():
    torch.manual_seed(0)
    model = nn.Sequential(nn.ConvTranspose2d(1, 2, 3, stride=2), nn.Conv2d(2, 2, 3),
                          nn.Upsample(scale_factor=2), nn.Conv2d(2, 2, 4), nn.Conv2d(2, 2, 3, stride=2),
                          nn.MaxPool2d(2), nn.Conv2d(2, 2, 2))
    info = summary(model, (1, 16, 16))
    assert [r.jump[0] for r in info.layers] == [0.5, 0.5, 0.25, 0.25, 0.5, 1, 1]
    assert [r.rf[0] for r in info.layers] == [2, 3, 3, 4, 4, 4, 5]
    assert measured_receptive_field(model, 24, window=3) == info.output_rf
    assert "0.5" in info.table()


def test_tiny_unet_and_hourglass_of_the_course():
    torch.manual_seed(0)
    for model, size in ((deep.tiny_unet(width=2, levels=2), 32), (deep.Hourglass(2, 4), 32)):
        info = summary(model, (model_in_channels(model), size, size))
        assert info.output_jump == (1, 1)
        assert measured_receptive_field(model, 2 * max(info.output_rf) + 8, window=2) == info.output_rf


class Crops(nn.Module):
    """Branches whose outputs line up only through their offsets: a crop, a pad, 'same' padding,
    pixel (un)shuffling, reductions over channels."""

    def __init__(self):
        super().__init__()
        self.valid, self.same = nn.Conv2d(1, 2, 5), nn.Conv2d(1, 3, 4, padding="same")
        self.down, self.up = nn.Conv2d(12, 4, 3, padding=1), nn.Conv2d(2, 4, 3, padding=1)

    def forward(self, x):
        a = torch.cat([x[..., 2:-2, 2:-2], self.valid(x)], 1)  # crop: U-Net's skip
        b = F.pad(a, (1, 3, 3, 1)) + self.same(x)  # back to full size, shifted unevenly
        c = F.pixel_unshuffle(b, 2)  # (B, 12, H/2, W/2)
        d = F.pixel_shuffle(self.down(c), 2)  # (B, 1, H, W)
        return self.up(torch.cat([d, b.mean(1, keepdim=True)], 1))


def test_picking_channels_back_out_keeps_the_union_an_upper_bound():
    """A tensor's field is that of all its channels: x[:, 4:] of a pixel_unshuffle keeps it."""

    class Pick(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 5, padding=2)

        def forward(self, x):
            both = F.pixel_unshuffle(torch.cat([self.conv(x), x], 1), 2)  # 4 channels of each
            return F.pixel_shuffle(both[:, 4:], 2)  # x again, pixel for pixel

    torch.manual_seed(0)
    info = summary(Pick(), (1, 16, 16))
    assert info.output_rf == (6, 6) and measured_receptive_field(Pick(), 16, window=2) == (1, 1)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_receptive_field_through_crops_pads_and_pixel_shuffles_matches_gradients():
    torch.manual_seed(0)
    model = Crops()
    info = summary(model, (1, 32, 32))
    assert info.row("down").jump == (2, 2) and info.output_jump == (1, 1)
    assert measured_receptive_field(model, 48, window=2) == info.output_rf


def test_reductions_over_space_see_everything_and_over_channels_nothing_more():
    model = nn.Sequential(nn.Conv2d(1, 4, 3))
    x = torch.zeros(1, 1, 8, 8)
    for reduce, rf in ((lambda t: t.mean(1), (3, 3)), (lambda t: t.amax(dim=(2, 3)), None),
                       (lambda t: t.sum(), None), (lambda t: t.softmax(1), (3, 3)),
                       (lambda t: torch.max(t, t * 2), (3, 3))):
        class Head(nn.Module):
            def forward(self, t, reduce=reduce):
                return reduce(model(t))

        info = summary(Head(), tuple(x.shape[1:]))
        assert info.output_rf == rf


def test_dilated_max_pooling_and_its_jump():
    info = summary(nn.Sequential(nn.MaxPool2d(3, 2, dilation=2), nn.Conv2d(1, 1, 2)), (1, 20, 20))
    assert [r.rf for r in info.layers] == [(5, 5), (7, 7)] and info.layers[1].jump == (2, 2)


def test_table_columns_and_totals_for_a_known_model():
    info = summary(nn.Sequential(nn.Conv2d(1, 2, (3, 1)), nn.Conv2d(2, 2, 2, stride=2)), (1, 9, 9))
    head, _, first, second, _, total = str(info).splitlines()
    assert first.split() == ["0", "Conv2d", "2x7x9", "8", "378", "504", "B", "3x1", "1"]
    assert second.split() == ["1", "Conv2d", "2x3x4", "18", "192", "96", "B", "4x2", "2"]
    assert total == ("total params 26 (trainable 26), mult-adds 570 (0.00 G), activations 924 B "
                     "(input 324 B)")
    assert info.row("1").macs == 192 and info.to_dicts()[1]["rf"] == (4, 2)
    assert str(info) == repr(info)
    wide = summary(nn.Conv2d(1, 300, 1), (1, 32, 32))
    assert wide.total_memory == 4 * 32 * 32 * 301 and "1.2 MiB (input 4.0 KiB)" in wide.table()


def test_summary_runs_in_eval_mode_and_leaves_the_model_as_it_was():
    with torch.device("meta"):
        model = classic.googlenet()
    model.train()
    info = summary(model, (3, 224, 224))
    assert not any(r.name.startswith("aux") for r in info.layers)  # eval mode skips the aux heads
    assert model.training
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
