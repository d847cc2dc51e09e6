"""dlcourse.models.segmentation: output shapes, parameter counts, the pieces each paper describes."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlcourse.models import segmentation as seg

FACTORIES = {"fcn": seg.fcn, "unet": seg.unet, "hourglass": seg.hourglass}


@pytest.mark.parametrize("name", FACTORIES)
@pytest.mark.parametrize("size", [(96, 96), (64, 128)])
def test_scores_per_pixel_at_the_input_size(name, size):
    model = FACTORIES[name](num_classes=11).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 1, *size))
    assert out.shape == (2, 11, *size)


@pytest.mark.parametrize("name, golden", [("fcn", 959_185), ("unet", 482_619), ("hourglass", 166_155)])
def test_parameter_counts_of_the_shipped_sizes(name, golden):
    kwargs = {"fcn": {"width": 16}, "unet": {"width": 16, "depth": 3}, "hourglass": {"width": 64, "depth": 3}}
    model = FACTORIES[name](**kwargs[name])
    assert sum(p.numel() for p in model.parameters()) == golden


@pytest.mark.parametrize("name, multiple", [("fcn", 32), ("unet", 8), ("hourglass", 16)])
def test_sizes_that_do_not_halve_evenly_are_refused(name, multiple):
    model = FACTORIES[name]()
    with pytest.raises(ValueError, match=f"divisible by {multiple}"):
        model(torch.randn(1, 1, 96 + multiple // 2, 96))


def test_bilinear_kernel_makes_a_transposed_conv_a_bilinear_upsampler():
    x = torch.randn(1, 3, 6, 7, dtype=torch.float64)
    for factor in (2, 3, 4):
        size = 2 * factor - factor % 2
        padding = (size - factor + 1) // 2
        up = nn.ConvTranspose2d(3, 3, size, stride=factor, padding=padding, bias=False).double()
        up.weight.data.copy_(seg.bilinear_kernel(3, factor))
        got = up(x)
        want = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
        assert got.shape == want.shape
        b = factor  # away from the border, where bilinear interpolation clamps and the conv zero-pads
        torch.testing.assert_close(got[..., b:-b, b:-b], want[..., b:-b, b:-b])


def test_fcn_skips_start_silent_and_variants_differ():
    torch.manual_seed(0)
    model = seg.fcn(skips="8s")
    assert model.score3.weight.abs().sum() == 0 and model.score4.weight.abs().sum() == 0
    assert {name for name, _ in seg.fcn(skips="32s").named_children()} >= {"stage5", "head", "score4"}
    with pytest.raises(ValueError, match="'8s', '16s' or '32s'"):
        seg.fcn(skips="4s")


def test_unet_concatenates_encoder_features():
    model = seg.unet(width=4, depth=2)
    assert [m.in_channels for m in model.up] == [16, 8]
    assert [block[0].in_channels for block in model.decode] == [16, 8]  # 2 x the up-convolution's output
    with pytest.raises(ValueError, match="depth"):
        seg.unet(depth=0)


def test_hourglass_is_recursive_and_adds_its_skips():
    model = seg.hourglass(width=8, depth=3)
    levels, block = 0, model.hourglass
    while isinstance(block, seg.HourglassBlock):
        levels, block = levels + 1, block.inner
    assert levels == 3 and isinstance(block, seg.Residual)
    res = seg.Residual(8)
    nn.init.zeros_(res.branch[-1].weight)
    nn.init.zeros_(res.branch[-1].bias)
    x = torch.randn(2, 8, 4, 4)
    torch.testing.assert_close(res(x), x)  # a residual module with a silent branch is the identity
