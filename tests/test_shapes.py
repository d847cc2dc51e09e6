"""Tests for dlcourse.shapes and dlcourse.models.lecture: sizes vs torch, clear errors."""

import pytest
import torch
import torchvision.models as tvm
from rf_oracle import measured_receptive_field
from torch import nn

from dlcourse import shapes
from dlcourse.models import resnet
from dlcourse.models.lecture import CCP, ClassificationModel, ccp_flatten_size, first_cnn


@pytest.mark.parametrize("S, expected", [(1, 5), (2, 3)])
def test_lecture_7x7_examples(S, expected):
    assert shapes.conv_output_size(7, 3, 0, S) == expected


def test_stride_that_does_not_fit_raises_with_the_fraction_and_a_fix():
    with pytest.raises(ValueError, match=r"2\.33") as info:
        shapes.conv_output_size(7, 3, 0, 3)
    assert "P=1" in str(info.value)  # (7 + 2 - 3) / 3 + 1 = 3 fits
    assert shapes.conv_output_size(7, 3, 0, 3, strict=False) == 2  # torch's floor


def test_kernel_larger_than_input_raises():
    with pytest.raises(ValueError, match="larger than the padded input"):
        shapes.conv_output_size(4, 5, 0, 1)
    with pytest.raises(ValueError, match="dilation"):
        shapes.conv_output_size(4, 3, 0, 1, D=2)  # a dilated 3x3 spans 5


@pytest.mark.parametrize("bad", [dict(N=0), dict(F=-1), dict(S=0), dict(P=-1), dict(N=2.5)])
def test_bad_arguments_are_named(bad):
    args = dict(N=7, F=3, P=0, S=1) | bad
    with pytest.raises(ValueError, match=next(iter(bad))):
        shapes.conv_output_size(**args)


def test_lecture_padding_and_volume_examples():
    assert [shapes.same_padding(F) for F in (3, 5, 7)] == [1, 2, 3]
    assert shapes.conv_output_size(7, 3, 1, 1) == 7
    assert shapes.conv_output_size(32, 5, 2, 1) == 32  # 32x32x3, ten 5x5 filters -> 32x32x10
    assert shapes.conv_output_size(227, 11, 0, 4) == 55  # AlexNet conv1
    with pytest.raises(ValueError, match="odd"):
        shapes.same_padding(4)


def test_output_size_matches_torch_on_random_settings():
    gen = torch.Generator().manual_seed(0)
    for _ in range(40):
        N, F, P, S, D = (int(torch.randint(lo, hi, (1,), generator=gen)) for lo, hi in
                         ((5, 20), (1, 5), (0, 3), (1, 4), (1, 3)))
        if N + 2 * P < D * (F - 1) + 1:
            continue
        out = nn.Conv1d(1, 1, F, S, P, D)(torch.zeros(1, 1, N)).shape[-1]
        assert shapes.conv_output_size(N, F, P, S, D, strict=False) == out


def test_receptive_field_of_stacked_3x3_convs_is_7():
    rows = shapes.receptive_field([(3, 1), (3, 1), (3, 1)])
    assert [r.size for r in rows] == [3, 5, 7]
    assert [r.jump for r in rows] == [1, 1, 1]


def test_receptive_field_of_conv_then_pool_is_P_plus_K_minus_1():
    for K in (3, 5):
        for P in (2, 3):
            assert shapes.receptive_field([(K, 1), (P, P)])[-1].size == P + K - 1


def test_receptive_field_from_a_module_with_stride_dilation_and_output_sizes():
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.MaxPool2d(2), nn.ReLU(),
                          nn.Conv2d(4, 4, 3, stride=2, dilation=2, padding=2))
    rows = shapes.receptive_field(model, input_size=28)
    assert [(r.size, r.jump, r.out_size) for r in rows] == [(3, 1, 28), (4, 2, 14), (12, 4, 7)]
    assert model(torch.zeros(1, 1, 28, 28)).shape[-1] == rows[-1].out_size
    table = shapes.format_receptive_field(rows)
    assert table.splitlines()[-1].split()[-3:] == ["12", "4", "7"]


def test_receptive_field_rejects_bad_specs():
    with pytest.raises(ValueError, match="kernel, stride"):
        shapes.receptive_field(["conv3"])
    with pytest.raises(ValueError, match="no Conv or Pool"):
        shapes.receptive_field(nn.Sequential(nn.ReLU()))


def test_trace_shapes_lists_every_layer_and_restores_mode():
    model = first_cnn(num_classes=10, in_channels=1, input_size=28)
    model.train()
    lines = []
    rows = shapes.trace_shapes(model, (1, 28, 28), print_fn=lines.append)
    assert model.training
    by_name = {name: shape for name, _, shape, _ in rows}
    assert by_name["layer1.pool"] == (1, 64, 14, 14)
    assert by_name["layer3.pool"] == (1, 8, 3, 3)
    assert by_name["fc"] == (1, 10)
    assert sum(n for *_, n in rows) == sum(p.numel() for p in model.parameters())
    assert len(lines) == len(rows) + 2  # header and input lines


def test_trace_shapes_reports_the_lecture_flatten_size_bug():
    model = ClassificationModel(num_classes=10)  # nn.Linear(8 * 6 * 6, ...) as in the lecture
    lines = []
    with pytest.raises(ValueError, match="expects 288 input features .* has 6272") as info:
        shapes.trace_shapes(model, (3, 224, 224), print_fn=lines.append)
    assert "in_features=6272" in str(info.value)
    assert "(1, 8, 28, 28)" in lines[-1]  # the last traced layer before fc
    fixed = ClassificationModel(10, flatten_size=ccp_flatten_size(224))
    assert fixed(torch.zeros(2, 3, 224, 224)).shape == (2, 10)


def test_trace_shapes_bad_input_size():
    with pytest.raises(ValueError, match=r"\(C, H, W\) or \(B, C, H, W\)"):
        shapes.trace_shapes(nn.Conv2d(1, 1, 3), (0, 5, 5), print_fn=None)


def test_ccp_block_matches_lecture_shapes_and_parameter_counts():
    block = CCP(3, 64, 64)
    assert block(torch.zeros(2, 3, 32, 32)).shape == (2, 64, 16, 16)
    assert sum(p.numel() for p in block.conv1.parameters()) == 64 * (3 * 3 * 3 + 1)
    assert ccp_flatten_size(224) == 8 * 28 * 28
    assert ccp_flatten_size(28) == 8 * 3 * 3  # 28 -> 14 -> 7 -> 3 (MaxPool2d floors)


def test_first_cnn_golden_output():
    torch.manual_seed(0)
    model = first_cnn()
    torch.manual_seed(1)
    y_hat = model(torch.randn(2, 1, 28, 28))
    assert y_hat.shape == (2, 10)
    # 640 + 36,928 + 18,464 + 4,624 + 2,320 + 1,160 conv weights and biases, 730 in fc (72 -> 10)
    assert sum(p.numel() for p in model.parameters()) == 64_866
    golden = torch.tensor([0.042288, -0.005386, -0.041301, 0.072313])
    assert torch.allclose(y_hat[0, :4], golden, atol=1e-5)


# ----------------------------------------------------------------------------- ceil_mode
def test_ceil_mode_output_sizes_match_torch_pooling():
    gen = torch.Generator().manual_seed(1)
    for _ in range(80):
        N, F, S = (int(torch.randint(lo, hi, (1,), generator=gen)) for lo, hi in ((3, 30), (1, 6), (1, 5)))
        P = int(torch.randint(0, F // 2 + 1, (1,), generator=gen))
        if N + 2 * P < F:
            continue
        out = nn.MaxPool1d(F, S, P, ceil_mode=True)(torch.zeros(1, 1, N)).shape[-1]
        assert shapes.conv_output_size(N, F, P, S, strict=False, ceil_mode=True) == out, (N, F, P, S)
        floor = nn.MaxPool1d(F, S, P)(torch.zeros(1, 1, N)).shape[-1]
        assert shapes.conv_output_size(N, F, P, S, strict=False) == floor


def test_googlenet_stem_sizes_with_ceil_mode():
    assert shapes.conv_output_size(56, 3, 0, 2, strict=False, ceil_mode=True) == 28
    assert shapes.conv_output_size(56, 3, 0, 2, strict=False) == 27  # what the stem got before
    stem = nn.Sequential(nn.Conv2d(3, 8, 7, 2, 3), nn.MaxPool2d(3, 2, ceil_mode=True),
                         nn.Conv2d(8, 8, 3, padding=1), nn.MaxPool2d(3, 2, ceil_mode=True))
    rows = shapes.receptive_field(stem, input_size=224)
    assert [r.out_size for r in rows] == [112, 56, 56, 28] == [
        stem[: i + 1](torch.zeros(1, 3, 224, 224)).shape[-1] for i in range(4)]
    assert [r.ceil_mode for r in rows] == [False, True, False, True]


# ---------------------------------------------------------------- receptive fields of real graphs
def test_branching_modules_are_traced_not_read_in_order():
    rows = shapes.receptive_field(tvm.resnet18(), input_size=224)  # in registration order: 1891
    by_name = {r.name: r for r in rows}
    assert by_name["layer4.1.conv2"].size == 435 and by_name["layer4.1.conv2"].jump == 32
    assert by_name["layer4.0.downsample.0"].size < by_name["layer4.0.conv2"].size  # a shortcut
    assert "output" not in by_name  # the logits see everything: no spatial field
    trunk = nn.Sequential(*list(tvm.resnet18().children())[:-2])  # a Sequential of blocks
    assert shapes.receptive_field(trunk, (3, 224, 224))[-1].size == 435
    with torch.device("meta"):
        deep_trunk = nn.Sequential(*list(tvm.resnet50().children())[:-2])
    last = shapes.receptive_field(deep_trunk, input_size=224)[-1]
    assert (last.name, last.size, last.jump, last.out_size) == ("output", 427, 32, 7)


@pytest.mark.parametrize("depth, expected", [(18, 435), (50, 427)])
def test_resnet_receptive_fields_match_gradient_measurements(depth, expected):
    torch.manual_seed(0)
    model = resnet.resnet(depth, widths=(2, 4, 4, 8))  # narrow: the geometry is what counts
    trunk = nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool, model.layer1,
                          model.layer2, model.layer3, model.layer4)
    analytic = shapes.receptive_field(trunk, input_size=64)[-1].size
    assert analytic == expected == measured_receptive_field(trunk, 2 * expected + 40)[0]


def test_modules_that_cannot_be_read_in_order_need_an_input_size():
    class Down(nn.Module):  # a custom leaf whose forward pools: invisible to an in-order reading
        def forward(self, x):
            return torch.nn.functional.max_pool2d(x, 2)

    for model in (tvm.resnet18(), nn.Sequential(nn.Conv2d(1, 1, 3), Down(), nn.Conv2d(1, 1, 3)),
                  nn.Sequential(nn.Conv2d(1, 1, 3), nn.Upsample(scale_factor=2)),
                  nn.Sequential(nn.Conv2d(1, 1, 3), nn.AdaptiveAvgPool2d(4), nn.Conv2d(1, 1, 3))):
        with pytest.raises(ValueError, match="not a plain nn.Sequential.*input_size"):
            shapes.receptive_field(model)
    traced = shapes.receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3), Down(), nn.Conv2d(1, 1, 3)), 20)
    assert [(r.name, r.size, r.jump) for r in traced] == [("0", 3, 1), ("2", 8, 2), ("output", 8, 2)]
    up = shapes.receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3), nn.Upsample(scale_factor=2),
                                              nn.Conv2d(1, 1, 3)), (1, 16, 16))
    assert [(r.size, r.jump, r.out_size) for r in up] == [(3, 1, 14), (4, 0.5, 26), (4, 0.5, 26)]


@pytest.mark.parametrize("layer, match", [
    ((3, -1), "stride must be a whole number >= 1, got -1"),
    ((3, 1.5), "stride must be a whole number >= 1, got 1.5"),
    (("3", 1), "kernel must be a whole number >= 1, got '3'"),
    ((0, 1), "kernel must be a whole number >= 1, got 0"),
    ((3, 1, 1, -1), "padding must be a whole number >= 0"),
    ((3, 1, True), "dilation must be a whole number"),
    ({"stride": 2}, "needs a 'kernel' entry"),
])
def test_receptive_field_refuses_layers_that_are_not_whole_numbers(layer, match):
    with pytest.raises(ValueError, match=match):
        shapes.receptive_field([(3, 1), layer])


@pytest.mark.parametrize("size", [(1, 27.5, 27.5), (1, 28, "28"), (1, 0, 28), 28, (28,)])
def test_trace_shapes_refuses_sizes_it_would_have_to_round(size):
    with pytest.raises(ValueError, match="input_size must be .*whole numbers >= 1"):
        shapes.trace_shapes(nn.Conv2d(1, 1, 3), size, print_fn=None)


def test_trace_shapes_accepts_numpy_and_torch_integers():
    import numpy as np

    model = nn.Sequential(nn.Conv2d(1, 2, 3))
    rows = shapes.trace_shapes(model, (np.int64(1), torch.tensor(9), 9), print_fn=None)
    assert rows == [("0", "Conv2d", (1, 2, 7, 7), 20)]


def test_formulas_against_hand_values():
    assert [shapes.effective_kernel_size(3, d) for d in (1, 2, 3)] == [3, 5, 7]
    assert shapes.same_padding(3, 2) == 2 and shapes.same_padding(5) == 2
    table = shapes.format_receptive_field(shapes.receptive_field([(3, 2, 1, 1, "c1"), (2, 2)]))
    assert table.splitlines() == ["layer        kernel stride  dil   RF  jump",
                                  "c1                3      2    1    3     2",
                                  "layer2            2      2    1    5     4"]
