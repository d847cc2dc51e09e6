"""dlcourse.segmentation (unpooling, the convolution matrix, upsamplers) and
shapes.conv_transpose_output_size, against torch's own layers on random inputs, plus shapes and bad inputs."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlcourse import scenes, segmentation, shapes
from dlcourse.data import load_bundled_subset

# ---------------------------------------------------------------------------------------------------
# unpooling
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [1, 2, 3])
def test_nearest_unpool_is_nearest_interpolation(scale):
    x = torch.randn(2, 3, 5, 4)
    out = segmentation.nearest_unpool(x, scale)
    torch.testing.assert_close(out, F.interpolate(x, scale_factor=scale, mode="nearest"))
    torch.testing.assert_close(F.avg_pool2d(out, scale), x)  # average pooling undoes it


def test_bed_of_nails_keeps_values_in_the_corners():
    x = torch.randn(2, 3, 4, 5)
    out = segmentation.bed_of_nails_unpool(x, 2)
    assert out.shape == (2, 3, 8, 10)
    torch.testing.assert_close(out[..., ::2, ::2], x)
    assert out.count_nonzero() == x.count_nonzero()
    assert segmentation.bed_of_nails_unpool(torch.ones(1, 1, 2, 2), 2)[0, 0].tolist() == [
        [1, 0, 1, 0], [0, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]


@pytest.mark.parametrize("scale", [2, 3])
def test_average_unpool_is_the_transpose_of_average_pooling(scale):
    x = torch.randn(2, 3, 6 * scale, 3 * scale, dtype=torch.float64, requires_grad=True)
    g = torch.randn(2, 3, 6, 3, dtype=torch.float64)
    (grad,) = torch.autograd.grad(F.avg_pool2d(x, scale), x, g)  # the backward pass of average pooling
    torch.testing.assert_close(segmentation.average_unpool(g, scale), grad)


@pytest.mark.parametrize("kernel, stride, padding, size", [
    (2, 2, 0, (8, 8)), (2, 2, 0, (9, 7)), (3, 2, 1, (9, 10)), (3, 3, 0, (9, 12)), (3, 1, 1, (5, 6))])
def test_max_unpool_matches_nn_max_unpool2d(kernel, stride, padding, size):
    torch.manual_seed(sum(size))
    x = torch.randn(2, 3, *size)
    pooled, switches = F.max_pool2d(x, kernel, stride, padding, return_indices=True)
    got = segmentation.max_unpool(pooled, switches, kernel, stride, padding, output_size=size)
    want = nn.MaxUnpool2d(kernel, stride, padding)(pooled, switches, output_size=size)
    torch.testing.assert_close(got, want)
    assert got.shape == x.shape


def test_max_unpool_default_size_and_values_at_the_switches():
    x = torch.randn(1, 2, 8, 8)
    pooled, switches = F.max_pool2d(x, 2, return_indices=True)
    out = segmentation.max_unpool(pooled, switches)
    assert out.shape == (1, 2, 8, 8)
    assert (out != 0).sum() == pooled.numel()
    torch.testing.assert_close(out[out != 0], x[out != 0])  # each value back where it came from


def test_max_unpool_is_the_transpose_of_max_pooling():
    x = torch.randn(2, 3, 8, 6, dtype=torch.float64, requires_grad=True)
    pooled, switches = F.max_pool2d(x, 2, return_indices=True)
    g = torch.randn_like(pooled)
    (grad,) = torch.autograd.grad(pooled, x, g)  # the backward pass routes g through the switches
    torch.testing.assert_close(segmentation.max_unpool(g, switches), grad)


def test_unpooling_bad_inputs():
    x = torch.randn(1, 1, 4, 4)
    pooled, switches = F.max_pool2d(x, 2, return_indices=True)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        segmentation.nearest_unpool(torch.randn(4, 4))
    with pytest.raises(ValueError, match="whole number"):
        segmentation.bed_of_nails_unpool(x, 0)
    with pytest.raises(ValueError, match="return_indices"):
        segmentation.max_unpool(pooled, switches.float())
    with pytest.raises(ValueError, match="shaped like x"):
        segmentation.max_unpool(pooled, switches[..., :1])
    with pytest.raises(ValueError, match="output_size"):
        segmentation.max_unpool(pooled, switches + 100)


# ---------------------------------------------------------------------------------------------------
# convolution as a matrix, transposed convolution
# ---------------------------------------------------------------------------------------------------

CONFIGS = [  # (c_out, c_in, kernel, input (H, W), stride, padding)
    (1, 1, (3, 3), (4, 4), 1, 0), (1, 1, (3, 3), (5, 5), 2, 1), (2, 3, (3, 2), (6, 5), 1, 1),
    (3, 2, (3, 3), (7, 6), 2, 0), (2, 2, (4, 4), (8, 8), 2, 1), (1, 2, (2, 3), (5, 7), 3, 2)]


@pytest.mark.parametrize("c_out, c_in, kernel, size, stride, padding", CONFIGS)
def test_conv_matrix_times_x_is_conv2d(c_out, c_in, kernel, size, stride, padding):
    torch.manual_seed(c_out * 10 + c_in)
    weight = torch.randn(c_out, c_in, *kernel, dtype=torch.float64)
    x = torch.randn(c_in, *size, dtype=torch.float64)
    C = segmentation.conv_matrix(weight, size, stride, padding)
    y = F.conv2d(x[None], weight, stride=stride, padding=padding)[0]
    assert C.shape == (y.numel(), x.numel())
    torch.testing.assert_close(C @ x.flatten(), y.flatten())


@pytest.mark.parametrize("c_out, c_in, kernel, size, stride, padding", CONFIGS)
def test_conv_matrix_transposed_is_conv_transpose2d(c_out, c_in, kernel, size, stride, padding):
    torch.manual_seed(c_out * 10 + c_in + 1)
    weight = torch.randn(c_out, c_in, *kernel, dtype=torch.float64)
    C = segmentation.conv_matrix(weight, size, stride, padding)
    oh, ow = (shapes.conv_output_size(n, k, padding, stride, strict=False) for n, k in zip(size, kernel))
    y = torch.randn(c_out, oh, ow, dtype=torch.float64)
    # output_padding restores the sizes a strided convolution floored away
    extra = [(n + 2 * padding - k) % stride for n, k in zip(size, kernel)]
    want = F.conv_transpose2d(y[None], weight, stride=stride, padding=padding, output_padding=extra)[0]
    assert want.shape == (c_in, *size)
    torch.testing.assert_close(C.T @ y.flatten(), want.flatten())
    layer = nn.ConvTranspose2d(c_out, c_in, kernel, stride, padding, output_padding=extra, bias=False)
    layer = layer.double()
    layer.weight.data.copy_(weight)  # ConvTranspose2d stores (C_in of the conv, C_out of the conv, kH, kW)
    torch.testing.assert_close(layer(y[None])[0].flatten(), C.T @ y.flatten())


def test_conv_matrix_golden_3x3_on_4x4():
    C = segmentation.conv_matrix(torch.arange(1.0, 10).reshape(3, 3), 4)
    assert C.shape == (4, 16)
    assert C[0].tolist() == [1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0, 0, 0, 0]
    assert C[3].tolist() == [0, 0, 0, 0, 0, 1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9]
    assert (C != 0).sum(1).tolist() == [9, 9, 9, 9]  # every output sees 9 pixels...
    assert (C != 0).sum(0).tolist() == [1, 2, 2, 1, 2, 4, 4, 2, 2, 4, 4, 2, 1, 2, 2, 1]  # ...unevenly


def test_conv_matrix_bad_inputs():
    with pytest.raises(ValueError, match=r"\(kH, kW\)"):
        segmentation.conv_matrix(torch.randn(2, 3, 3), 4)
    with pytest.raises(ValueError, match="small cases"):
        segmentation.conv_matrix(torch.randn(8, 8, 3, 3), 64)
    with pytest.raises(ValueError, match="larger than the padded input"):
        segmentation.conv_matrix(torch.randn(5, 5), 3)


def test_conv_transpose_output_size_matches_real_layers():
    checked = 0
    grid = itertools.product([1, 4, 7], [1, 2, 3, 4], [0, 1, 2], [1, 2, 3], [0, 1, 2], [1, 2])
    for N, F_, P, S, op, D in grid:
        try:
            layer = nn.ConvTranspose2d(1, 1, F_, S, P, output_padding=op, dilation=D)
            want = layer(torch.zeros(1, 1, N, N)).shape[-1]
            if want < 1:
                raise RuntimeError("an empty output: torch returns it, we refuse it")
        except RuntimeError:  # torch refuses: so must we
            with pytest.raises(ValueError):
                shapes.conv_transpose_output_size(N, F_, P, S, op, D)
            continue
        assert shapes.conv_transpose_output_size(N, F_, P, S, op, D) == want, (N, F_, P, S, op, D)
        if op == 0:  # the convolution with the same settings maps the result back to N
            assert shapes.conv_output_size(want, F_, P, S, D, strict=False) == N
        checked += 1
    assert checked > 150


def test_conv_transpose_output_size_worked_examples_and_errors():
    assert shapes.conv_transpose_output_size(4, 3, 1, 2) == 7
    assert shapes.conv_transpose_output_size(4, 3, 1, 2, output_padding=1) == 8
    assert shapes.conv_transpose_output_size(48, 2, 0, 2) == 96  # U-Net's 2x2 up-convolution
    assert shapes.conv_transpose_output_size(3, 3, 0, 1, D=2) == 7
    with pytest.raises(ValueError, match="smaller than the stride"):
        shapes.conv_transpose_output_size(4, 3, 1, 2, output_padding=2)
    with pytest.raises(ValueError, match="non-negative"):
        shapes.conv_transpose_output_size(4, 3, -1, 2)
    with pytest.raises(ValueError, match="crops everything"):
        shapes.conv_transpose_output_size(1, 1, 1, 1)
    with pytest.raises(ValueError, match="positive int"):
        shapes.conv_transpose_output_size(0, 3)


# ---------------------------------------------------------------------------------------------------
# learned upsamplers and checkerboards
# ---------------------------------------------------------------------------------------------------


def test_upsamplers_double_the_size_with_the_same_parameters():
    x = torch.randn(3, 1, 14, 14)
    models = {kind: segmentation.upsampler(kind, width=8) for kind in ("transposed", "resize")}
    for model in models.values():
        assert model(x).shape == (3, 1, 28, 28)
    counts = {kind: sum(p.numel() for p in m.parameters()) for kind, m in models.items()}
    assert counts["transposed"] == counts["resize"] == 8 * 9 + 8 + 8 * 9 + 1
    with pytest.raises(ValueError, match="'transposed' or 'resize'"):
        segmentation.upsampler("bilinear")


def test_checkerboard_strength_known_cases():
    ones = nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1, output_padding=1, bias=False)
    nn.init.ones_(ones.weight)  # contributions per output pixel: 1, 2, 2, 4 by phase
    assert segmentation.checkerboard_strength(ones, value=1.0) == pytest.approx(3 / 2.25)
    even = nn.ConvTranspose2d(1, 1, 4, stride=2, padding=1, bias=False)
    nn.init.ones_(even.weight)  # kernel divisible by the stride: every pixel gets 4
    assert segmentation.checkerboard_strength(even, value=1.0) < 1e-12
    torch.manual_seed(0)
    resize = segmentation.upsampler("resize")
    assert segmentation.checkerboard_strength(resize, value=1.0) < 1e-6
    assert segmentation.checkerboard_strength(segmentation.upsampler("transposed"), value=1.0) > 1e-2
    with pytest.raises(ValueError, match="interior"):
        segmentation.checkerboard_strength(resize, size=4, border=4)


# ---------------------------------------------------------------------------------------------------
# instances -> semantic map
# ---------------------------------------------------------------------------------------------------


def test_instances_to_semantic_rebuilds_the_scenes_semantic_maps():
    dataset = scenes.FashionScenes(load_bundled_subset("test"), 20, seed=3)
    for i in range(len(dataset)):
        _, target = dataset[i]
        got = segmentation.instances_to_semantic(target, (96, 96))
        torch.testing.assert_close(got, target["semantic"].as_subclass(torch.Tensor))


def test_instances_to_semantic_with_scores_most_confident_on_top():
    masks = torch.zeros(3, 1, 4, 4)
    masks[0, 0, :2] = 0.9  # label 2, score 0.6: top half
    masks[1, 0, 1:3] = 0.8  # label 5, score 0.9: overlaps row 1 and wins there
    masks[2, 0] = 1.0  # label 7, score 0.3: below the threshold, dropped
    output = {"labels": torch.tensor([2, 5, 7]), "scores": torch.tensor([0.6, 0.9, 0.3]), "masks": masks}
    got = segmentation.instances_to_semantic(output, (4, 4))
    assert got[:, 0].tolist() == [2, 5, 5, 0]
    assert segmentation.instances_to_semantic(output, (4, 4), score_threshold=0.2)[3, 0] == 7
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        segmentation.instances_to_semantic(output, (5, 5))


def test_boundary_mask_marks_pixels_near_a_label_change():
    semantic = torch.zeros(6, 6, dtype=torch.long)
    semantic[2:4, 2:4] = 3
    inner = segmentation.boundary_mask(semantic, width=1)
    want = torch.zeros(6, 6, dtype=torch.bool)
    want[1:5, 1:5] = True  # the square and its 1-pixel ring (3x3 window)
    torch.testing.assert_close(inner, want)
    assert not segmentation.boundary_mask(torch.full((5, 5), 4)).any()  # no change, no boundary
    assert segmentation.boundary_mask(torch.stack([semantic, semantic]), width=2).shape == (2, 6, 6)
    with pytest.raises(ValueError, match="integer label maps"):
        segmentation.boundary_mask(semantic.float())
