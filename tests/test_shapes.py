"""Tests for dlcourse.shapes and dlcourse.models.lecture: sizes vs torch, clear errors."""

import pytest
import torch
from torch import nn

from dlcourse import shapes
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
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
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
