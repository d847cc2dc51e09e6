"""Tests for dlcourse.conv: conv2d three ways vs F.conv2d (forward, gradients), 1-D/2-D, kernels."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlcourse import conv

# (B, C_in, H, W, C_out, kH, kW, stride, padding, dilation): random shapes covering every option
SETTINGS = [
    (2, 3, 7, 7, 4, 3, 3, 1, 0, 1),
    (1, 1, 7, 7, 1, 3, 3, 2, 0, 1),
    (2, 2, 9, 8, 3, 3, 2, (2, 1), (1, 2), 1),
    (1, 3, 10, 9, 2, 3, 3, 1, 2, 2),
    (3, 1, 8, 11, 5, 5, 3, 3, 1, (1, 2)),
    (2, 4, 6, 6, 2, 1, 1, 1, 0, 1),  # a 1x1 convolution
]


def _random_case(setting, seed=0, dtype=torch.float64):
    b, c, h, w, o, kh, kw, *_ = setting
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(b, c, h, w, generator=gen, dtype=dtype, requires_grad=True)
    weight = torch.randn(o, c, kh, kw, generator=gen, dtype=dtype, requires_grad=True)
    bias = torch.randn(o, generator=gen, dtype=dtype, requires_grad=True)
    return x, weight, bias


@pytest.mark.parametrize("method", ["naive", "im2col"])
@pytest.mark.parametrize("setting", SETTINGS)
def test_conv2d_forward_and_gradients_match_torch(method, setting):
    stride, padding, dilation = setting[7:]
    x, weight, bias = _random_case(setting)
    y = conv.conv2d(x, weight, bias, stride, padding, dilation, method=method)
    y_ref = F.conv2d(x, weight, bias, stride, padding, dilation)
    assert y.shape == y_ref.shape
    assert torch.allclose(y, y_ref, atol=1e-10)
    g = torch.randn_like(y_ref)
    grads = torch.autograd.grad(y, (x, weight, bias), g)
    grads_ref = torch.autograd.grad(y_ref, (x, weight, bias), g)
    for got, want in zip(grads, grads_ref, strict=True):
        assert torch.allclose(got, want, atol=1e-10)


@pytest.mark.parametrize("setting", SETTINGS[:4])
def test_naive_explicit_backward_matches_autograd(setting):
    stride, padding, dilation = setting[7:]
    x, weight, bias = _random_case(setting, seed=1)
    y_ref = F.conv2d(x, weight, bias, stride, padding, dilation)
    g = torch.randn_like(y_ref)
    want = torch.autograd.grad(y_ref, (x, weight, bias), g)
    got = conv.conv2d_naive_backward(x.detach(), weight.detach(), g, stride, padding, dilation)
    for a, b in zip(got, want, strict=True):
        assert torch.allclose(a, b, atol=1e-10)


def test_im2col_backward_passes_gradcheck():
    x, weight, bias = _random_case((1, 2, 5, 6, 2, 3, 2, 2, 1, (1, 2)), seed=2)
    assert torch.autograd.gradcheck(lambda *t: conv.conv2d_im2col(*t, 2, 1, (1, 2)),
                                     (x, weight, bias))


def test_im2col_and_col2im_match_unfold_and_fold():
    x = torch.randn(2, 3, 9, 8)
    kw = dict(kernel_size=(3, 2), stride=(2, 1), padding=1, dilation=(1, 2))
    cols = conv.im2col(x, **kw)
    assert torch.allclose(cols, F.unfold(x, **kw))
    assert torch.allclose(conv.col2im(cols, (9, 8), **kw), F.fold(cols, (9, 8), **kw), atol=1e-6)


def test_conv2d_without_bias_and_torch_method():
    x, weight, _ = _random_case(SETTINGS[0])
    ref = F.conv2d(x, weight)
    for method in ("naive", "im2col", "torch"):
        assert torch.allclose(conv.conv2d(x, weight, method=method), ref, atol=1e-10)


def test_conv2d_errors_say_what_was_expected():
    x = torch.randn(1, 3, 7, 7)
    with pytest.raises(ValueError, match="3 channels but weight expects 1"):
        conv.conv2d(x, torch.randn(2, 1, 3, 3))
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        conv.conv2d(x[0], torch.randn(2, 3, 3, 3))
    with pytest.raises(ValueError, match="larger than the padded input"):
        conv.conv2d(x, torch.randn(2, 3, 9, 9), method="naive")
    with pytest.raises(ValueError, match="bias must have shape"):
        conv.conv2d(x, torch.randn(2, 3, 3, 3), torch.randn(3))
    with pytest.raises(ValueError, match="method must be"):
        conv.conv2d(x, torch.randn(2, 3, 3, 3), method="fft")
    with pytest.raises(ValueError, match=r"2\.33"):
        conv.conv2d(x, torch.randn(2, 3, 3, 3), stride=3, strict=True)
    assert conv.conv2d(x, torch.randn(2, 3, 3, 3), stride=3).shape == (1, 2, 2, 2)  # torch floors


def test_lecture_sobel_worked_example_gives_2():
    image = torch.tensor([[3.0, 2, 1], [1, 2, 3], [1, 1, 1]])
    assert conv.correlate2d(image, conv.get_kernel("sobel_x")).item() == 2.0
    assert conv.convolve2d(image, conv.get_kernel("sobel_x")).item() == -2.0  # flipped: sign flips


def test_1d_convolution_and_correlation_match_numpy():
    gen = np.random.default_rng(0)
    x, w = gen.normal(size=12), gen.normal(size=4)
    got_conv = conv.convolve1d(torch.tensor(x), torch.tensor(w)).numpy()
    got_corr = conv.correlate1d(torch.tensor(x), torch.tensor(w)).numpy()
    assert np.allclose(got_conv, np.convolve(x, w, mode="valid"))
    assert np.allclose(got_corr, np.correlate(x, w, mode="valid"))
    with pytest.raises(ValueError, match="1-D"):
        conv.correlate1d(torch.zeros(3, 3), torch.zeros(2))


def test_2d_convolution_is_correlation_with_a_flipped_kernel():
    image, kernel = torch.randn(6, 5), torch.randn(3, 2)
    want = F.conv2d(image[None, None], kernel.flip(0, 1)[None, None])[0, 0]
    assert torch.allclose(conv.convolve2d(image, kernel), want, atol=1e-6)
    impulse = conv.make_pattern("impulse", 7)
    assert torch.equal(conv.correlate2d(impulse, kernel)[1:4, 2:4], kernel.flip(0, 1))


def test_kernel_presets():
    for name in conv.KERNELS:
        k = conv.get_kernel(name)
        assert k.dtype == torch.float32 and k.dim() == 2
    for name in ("box_blur", "gaussian_blur", "sharpen", "intensified_sharpen", "identity"):
        assert abs(conv.get_kernel(name).sum().item() - 1.0) < 1e-6  # keep overall brightness
    for name in ("sobel_x", "sobel_y", "edge", "laplacian"):
        assert conv.get_kernel(name).sum().item() == 0.0  # flat regions give zero
    with pytest.raises(ValueError, match="choose one of"):
        conv.get_kernel("blurry")


def test_filter_image_same_padding_and_channels():
    image = conv.sample_image(32)
    assert image.shape == (32, 32) and 0 <= image.min() and image.max() <= 1
    assert conv.filter_image(image, conv.get_kernel("sobel_x")).shape == (32, 32)
    assert conv.filter_image(image, conv.get_kernel("identity")).allclose(image)
    assert conv.filter_image(image, torch.ones(1, 3)).shape == (32, 32)  # pads columns only
    rgb = conv.sample_image(16, gray=False)
    assert conv.filter_image(rgb, conv.get_kernel("box_blur"), stride=2).shape == (3, 8, 8)
    with pytest.raises(ValueError, match="unknown pattern"):
        conv.make_pattern("spiral")


def test_filter_image_with_dilation_keeps_the_size_and_matches_torch():
    image, kernel = conv.sample_image(20), torch.randn(3, 5)
    out = conv.filter_image(image, kernel, dilation=2)
    want = F.conv2d(image[None, None], kernel[None, None], padding=(2, 4), dilation=2)[0, 0]
    assert out.shape == (20, 20)
    torch.testing.assert_close(out, want)


def test_sample_image_grey_is_the_itu_601_luma_of_the_colour_image():
    rgb, grey = conv.sample_image(24, gray=False), conv.sample_image(24)
    assert rgb.shape == (3, 24, 24) and grey.shape == (24, 24)
    torch.testing.assert_close(grey, 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2])
    assert conv.sample_image(None).shape == (512, 512)


def test_translation_equivariance():
    image = torch.zeros(12, 12)
    image[3:6, 2:7] = torch.randn(3, 5)
    kernel = torch.randn(3, 3)
    shifted = torch.roll(image, shifts=(2, 3), dims=(0, 1))
    a = torch.roll(conv.correlate2d(image, kernel), shifts=(2, 3), dims=(0, 1))
    b = conv.correlate2d(shifted, kernel)
    assert torch.allclose(a, b, atol=1e-6)


def test_conv2d_golden_value():
    gen = torch.Generator().manual_seed(0)
    x, weight = torch.randn(1, 2, 5, 5, generator=gen), torch.randn(1, 2, 3, 3, generator=gen)
    y = conv.conv2d_naive(x, weight, stride=2, padding=1)
    assert y.shape == (1, 1, 3, 3)
    golden = torch.tensor([-2.928068, -0.648750, 3.909662])  # seeded values, computed once
    assert torch.allclose(y.flatten()[:3], golden, atol=1e-5)


@pytest.mark.parametrize("kwargs, match", [
    (dict(stride=1.5), "stride must be a whole number >= 1 or a pair of them, like 2 or \\(2, 1\\); got 1.5"),
    (dict(stride=(1, 2.0)), "stride must be"), (dict(stride=0), "stride must be"),
    (dict(padding=-1), "padding must be a whole number >= 0"), (dict(dilation=True), "dilation"),
    (dict(stride=(1, 1, 1)), "stride must be"), (dict(padding="same"), "padding must be"),
])
def test_conv_arguments_must_be_whole_numbers(kwargs, match):
    x, w = torch.randn(1, 1, 7, 7), torch.randn(1, 1, 3, 3)
    for method in ("naive", "im2col", "torch"):
        with pytest.raises(ValueError, match=match):
            conv.conv2d(x, w, method=method, **kwargs)
