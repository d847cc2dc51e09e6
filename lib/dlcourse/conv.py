"""Convolution from scratch: 1-D/2-D convolution vs correlation, conv2d three ways, kernels."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from dlcourse.shapes import conv_output_size

IntPair = int | tuple[int, int]

# Classic image-processing kernels, as cross-correlation weights (what deep learning libraries use)
KERNELS: dict[str, list[list[float]]] = {
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "box_blur": [[1 / 9] * 3] * 3,  # unweighted average of the 3x3 neighbourhood
    "gaussian_blur": [[1 / 16, 2 / 16, 1 / 16], [2 / 16, 4 / 16, 2 / 16], [1 / 16, 2 / 16, 1 / 16]],
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],  # centre minus its 4 neighbours, plus itself
    "intensified_sharpen": [[-1, -1, -1], [-1, 9, -1], [-1, -1, -1]],
    "sobel_x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],  # responds to vertical edges (left to right)
    "sobel_y": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],  # responds to horizontal edges
    "edge": [[-1, 1]],  # the simplest edge detector: difference of two neighbours
    "laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "emboss": [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
}


def get_kernel(name: str) -> Tensor:
    """A preset kernel from KERNELS as a float32 tensor (kH, kW)."""
    if name not in KERNELS:
        raise ValueError(f"unknown kernel {name!r}; choose one of {sorted(KERNELS)}")
    return torch.tensor(KERNELS[name], dtype=torch.float32)


# ---------------------------------------------------------------- 1-D and 2-D single-channel
def correlate1d(x: Tensor, w: Tensor) -> Tensor:
    """Valid cross-correlation s(t) = sum_a x(t+a) w(a): the kernel slides without flipping."""
    x, w = torch.as_tensor(x), torch.as_tensor(w)
    if x.dim() != 1 or w.dim() != 1:
        raise ValueError(f"correlate1d wants a 1-D signal and kernel, got shapes {tuple(x.shape)}, "
                         f"{tuple(w.shape)}")
    n = conv_output_size(len(x), len(w), strict=False)
    return torch.stack([(x[t:t + len(w)] * w).sum() for t in range(n)])


def convolve1d(x: Tensor, w: Tensor) -> Tensor:
    """Valid convolution s(t) = sum_a x(a) w(t-a): cross-correlation with the kernel flipped."""
    return correlate1d(x, torch.as_tensor(w).flip(0))


def correlate2d(image: Tensor, kernel: Tensor) -> Tensor:
    """Valid 2-D cross-correlation of an (H, W) image with a (kH, kW) kernel, as nn.Conv2d does."""
    image, kernel = torch.as_tensor(image), torch.as_tensor(kernel)
    if image.dim() != 2 or kernel.dim() != 2:
        raise ValueError(f"correlate2d wants an (H, W) image and a (kH, kW) kernel, got shapes "
                         f"{tuple(image.shape)} and {tuple(kernel.shape)}")
    kernel = kernel.to(image.dtype if image.is_floating_point() else torch.float32)
    return conv2d_naive(image[None, None].to(kernel.dtype), kernel[None, None])[0, 0]


def convolve2d(image: Tensor, kernel: Tensor) -> Tensor:
    """Valid 2-D convolution in the maths sense: flip the kernel in both axes, then correlate."""
    return correlate2d(image, torch.as_tensor(kernel).flip(0, 1))


# ---------------------------------------------------------------- batched conv2d, three ways
def _pair(v: IntPair, name: str, low: int = 1) -> tuple[int, int]:
    """(h, w) from a whole number or a pair of them (each >= low), refusing anything else."""
    pair = (v, v) if isinstance(v, int) else tuple(v) if isinstance(v, (tuple, list)) else ()
    if len(pair) != 2 or not all(isinstance(p, int) and not isinstance(p, bool) and p >= low
                                 for p in pair):
        raise ValueError(f"{name} must be a whole number >= {low} or a pair of them, like 2 or "
                         f"(2, 1); got {v!r}")
    return pair


def _conv_setup(x: Tensor, weight: Tensor, bias: Tensor | None, stride: IntPair, padding: IntPair,
                dilation: IntPair) -> tuple[tuple[int, int], ...]:
    """Validate conv2d arguments; return stride, padding, dilation pairs and the output (OH, OW)."""
    if x.dim() != 4:
        raise ValueError(f"x must be (B, C, H, W), got shape {tuple(x.shape)}; add a batch axis "
                         "with x[None] or a channel axis with x[:, None]")
    if weight.dim() != 4:
        raise ValueError(f"weight must be (C_out, C_in, kH, kW), got shape {tuple(weight.shape)}")
    if x.shape[1] != weight.shape[1]:
        raise ValueError(f"x has {x.shape[1]} channels but weight expects {weight.shape[1]}: "
                         "weight.shape[1] must equal x.shape[1]")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"bias must have shape ({weight.shape[0]},), one per output channel, got "
                         f"{tuple(bias.shape)}")
    s, p, d = _pair(stride, "stride"), _pair(padding, "padding", 0), _pair(dilation, "dilation")
    out = tuple(conv_output_size(x.shape[2 + i], weight.shape[2 + i], p[i], s[i], d[i],
                                 strict=False) for i in range(2))
    return s, p, d, out


def conv2d_naive(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntPair = 1,
                 padding: IntPair = 0, dilation: IntPair = 1) -> Tensor:
    """conv2d as two loops over output positions, each a dot product of a patch with every filter.

    x (B, C, H, W), weight (C_out, C, kH, kW) -> (B, C_out, OH, OW). Autograd differentiates it.
    """
    (sh, sw), (ph, pw), (dh, dw), (oh, ow) = _conv_setup(x, weight, bias, stride, padding, dilation)
    kh, kw = weight.shape[2:]
    xp = F.pad(x, (pw, pw, ph, ph))  # zero padding on all four sides
    rows = []
    for i in range(oh):
        cols = []
        for j in range(ow):
            rs = slice(i * sh, i * sh + dh * (kh - 1) + 1, dh)  # rows under the dilated kernel
            cs = slice(j * sw, j * sw + dw * (kw - 1) + 1, dw)
            patch = xp[:, :, rs, cs]  # (B, C, kH, kW)
            cols.append(torch.einsum("bckl,ockl->bo", patch, weight))  # (B, C_out)
        rows.append(torch.stack(cols, dim=-1))  # (B, C_out, OW)
    out = torch.stack(rows, dim=-2)  # (B, C_out, OH, OW)
    return out if bias is None else out + bias[None, :, None, None]


def conv2d_naive_backward(x: Tensor, weight: Tensor, grad_out: Tensor, stride: IntPair = 1,
                          padding: IntPair = 0,
                          dilation: IntPair = 1) -> tuple[Tensor, Tensor, Tensor]:
    """Explicit backward of conv2d by the same loops: each output's gradient flows to its patch.

    Returns (grad_x, grad_weight, grad_bias) for loss gradient grad_out (B, C_out, OH, OW).
    """
    (sh, sw), (ph, pw), (dh, dw), (oh, ow) = _conv_setup(x, weight, None, stride, padding, dilation)
    if tuple(grad_out.shape) != (x.shape[0], weight.shape[0], oh, ow):
        want = (x.shape[0], weight.shape[0], oh, ow)
        raise ValueError(f"grad_out must have the output's shape {want}, got "
                         f"{tuple(grad_out.shape)}")
    kh, kw = weight.shape[2:]
    xp = F.pad(x, (pw, pw, ph, ph))
    grad_xp, grad_w = torch.zeros_like(xp), torch.zeros_like(weight)
    for i in range(oh):
        for j in range(ow):
            rs = slice(i * sh, i * sh + dh * (kh - 1) + 1, dh)
            cs = slice(j * sw, j * sw + dw * (kw - 1) + 1, dw)
            g = grad_out[:, :, i, j]  # (B, C_out)
            grad_w += torch.einsum("bo,bckl->ockl", g, xp[:, :, rs, cs])
            grad_xp[:, :, rs, cs] += torch.einsum("bo,ockl->bckl", g, weight)
    grad_x = grad_xp[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]]  # drop the padding's gradient
    return grad_x, grad_w, grad_out.sum(dim=(0, 2, 3))


def im2col(x: Tensor, kernel_size: IntPair, stride: IntPair = 1, padding: IntPair = 0,
           dilation: IntPair = 1) -> Tensor:
    """Unfold every receptive-field patch into a column: (B, C, H, W) -> (B, C*kH*kW, OH*OW).

    Same layout as torch.nn.functional.unfold; one slice per kernel tap instead of one per output.
    """
    kh, kw = _pair(kernel_size, "kernel_size")
    channels = x.shape[1] if x.dim() == 4 else 1  # a bad x is reported by _conv_setup
    (sh, sw), (ph, pw), (dh, dw), (oh, ow) = _conv_setup(
        x, x.new_empty(1, channels, kh, kw), None, stride, padding, dilation)
    xp = F.pad(x, (pw, pw, ph, ph))
    b, c = x.shape[:2]
    taps = [xp[:, :, ki * dh:ki * dh + sh * (oh - 1) + 1:sh, kj * dw:kj * dw + sw * (ow - 1) + 1:sw]
            for ki in range(kh) for kj in range(kw)]  # kH*kW tensors (B, C, OH, OW)
    cols = torch.stack(taps, dim=2)  # (B, C, kH*kW, OH, OW)
    return cols.reshape(b, c * kh * kw, oh * ow)


def col2im(cols: Tensor, input_size: tuple[int, int], kernel_size: IntPair, stride: IntPair = 1,
           padding: IntPair = 0, dilation: IntPair = 1) -> Tensor:
    """Inverse scatter of im2col, summing overlaps: (B, C*kH*kW, L) -> (B, C, H, W), as F.fold."""
    kh, kw = _pair(kernel_size, "kernel_size")
    sh, sw = _pair(stride, "stride")
    ph, pw = _pair(padding, "padding", 0)
    dh, dw = _pair(dilation, "dilation")
    h, w = input_size
    oh, ow = (conv_output_size(n, k, p, s, d, strict=False)
              for n, k, p, s, d in ((h, kh, ph, sh, dh), (w, kw, pw, sw, dw)))
    b, ckk, length = cols.shape
    if ckk % (kh * kw) or length != oh * ow:
        raise ValueError(f"cols of shape {tuple(cols.shape)} do not match a {kh}x{kw} kernel over "
                         f"a {h}x{w} input ({oh}x{ow} = {oh * ow} positions)")
    c = ckk // (kh * kw)
    cols = cols.reshape(b, c, kh, kw, oh, ow)
    xp = cols.new_zeros(b, c, h + 2 * ph, w + 2 * pw)
    for ki in range(kh):
        for kj in range(kw):
            xp[:, :, ki * dh:ki * dh + sh * (oh - 1) + 1:sh,
               kj * dw:kj * dw + sw * (ow - 1) + 1:sw] += cols[:, :, ki, kj]
    return xp[:, :, ph:ph + h, pw:pw + w]


class Im2colConv2d(torch.autograd.Function):
    """conv2d as one matrix multiply over im2col columns, with a hand-written backward pass."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None, stride: IntPair,
                padding: IntPair, dilation: IntPair) -> Tensor:
        """Y = W_flat @ cols: (C_out, C*kH*kW) @ (B, C*kH*kW, L) -> (B, C_out, OH, OW)."""
        _, _, _, (oh, ow) = _conv_setup(x, weight, bias, stride, padding, dilation)
        cols = im2col(x, weight.shape[2:], stride, padding, dilation)
        out = weight.reshape(weight.shape[0], -1) @ cols  # (B, C_out, L)
        if bias is not None:
            out = out + bias[None, :, None]
        ctx.save_for_backward(x, weight, cols)
        ctx.conf = (stride, padding, dilation, bias is not None)
        return out.reshape(x.shape[0], weight.shape[0], oh, ow)

    @staticmethod
    def backward(ctx, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        """dW = sum_b g cols^T, dcols = W^T g scattered back by col2im, db = sum of g."""
        x, weight, cols = ctx.saved_tensors
        stride, padding, dilation, has_bias = ctx.conf
        g = grad_out.reshape(grad_out.shape[0], grad_out.shape[1], -1)  # (B, C_out, L)
        w_flat = weight.reshape(weight.shape[0], -1)
        grad_w = torch.einsum("bol,bkl->ok", g, cols).reshape(weight.shape)
        grad_cols = w_flat.t() @ g  # (B, C*kH*kW, L)
        grad_x = col2im(grad_cols, x.shape[2:], weight.shape[2:], stride, padding, dilation)
        grad_b = g.sum(dim=(0, 2)) if has_bias else None
        return grad_x, grad_w, grad_b, None, None, None


def conv2d_im2col(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntPair = 1,
                  padding: IntPair = 0, dilation: IntPair = 1) -> Tensor:
    """conv2d by im2col + matmul, differentiable through Im2colConv2d's explicit backward."""
    return Im2colConv2d.apply(x, weight, bias, stride, padding, dilation)


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntPair = 1,
           padding: IntPair = 0, dilation: IntPair = 1, method: str = "im2col",
           strict: bool = False) -> Tensor:
    """2-D convolution (cross-correlation) by method "naive", "im2col" or "torch" (F.conv2d).

    strict=True also refuses strides that do not tile the padded input exactly (7x7, F=3, S=3).
    """
    s, p, d, _ = _conv_setup(x, weight, bias, stride, padding, dilation)
    if strict:
        for i in range(2):
            conv_output_size(x.shape[2 + i], weight.shape[2 + i], p[i], s[i], d[i], strict=True)
    methods = {"naive": conv2d_naive, "im2col": conv2d_im2col, "torch": F.conv2d}
    if method not in methods:
        raise ValueError(f"method must be one of {sorted(methods)}, got {method!r}")
    return methods[method](x, weight, bias, s, p, d)


# ---------------------------------------------------------------- images to filter
def filter_image(image: Tensor, kernel: Tensor, stride: int = 1, padding: IntPair | str = "same",
                 dilation: int = 1) -> Tensor:
    """Cross-correlate each channel of an (H, W) or (C, H, W) image with one (kH, kW) kernel.

    padding="same" pads by (span-1)//2 so that stride 1 keeps the size (odd kernels).
    """
    image, kernel = torch.as_tensor(image, dtype=torch.float32), torch.as_tensor(kernel).float()
    if image.dim() not in (2, 3) or kernel.dim() != 2:
        raise ValueError(f"filter_image wants an (H, W) or (C, H, W) image and a (kH, kW) kernel, "
                         f"got {tuple(image.shape)} and {tuple(kernel.shape)}")
    if padding == "same":  # per axis, so that a 1x3 kernel pads only the columns
        padding = tuple(dilation * (k - 1) // 2 for k in kernel.shape)
    x = image[None, None] if image.dim() == 2 else image[:, None]  # channels as a batch
    out = conv2d(x, kernel[None, None], stride=stride, padding=padding, dilation=dilation,
                 method="torch")
    return out[0, 0] if image.dim() == 2 else out[:, 0]


def sample_image(size: int | None = 128, gray: bool = True) -> Tensor:
    """Grace Hopper's portrait shipped with matplotlib, as floats in [0, 1]: (H, W) or (3, H, W).

    size: resize to size x size (None keeps the 512x512 crop). Works offline: no download.
    """
    import matplotlib.cbook as cbook
    import matplotlib.image as mpimg

    path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    img = torch.from_numpy(mpimg.imread(path).copy())  # (600, 512, 3) uint8
    img = img.permute(2, 0, 1).float()[:, 20:532] / 255.0  # square crop, face centred (3, 512, 512)
    if size is not None:
        img = F.interpolate(img[None], size=(size, size), mode="bilinear", antialias=True,
                            align_corners=False)[0].clamp(0, 1)
    if gray:
        img = (0.299 * img[0] + 0.587 * img[1] + 0.114 * img[2])  # ITU-R 601 luma
    return img


def make_pattern(name: str = "square", size: int = 16) -> Tensor:
    """Synthetic (size, size) images: "square", "impulse", "stripes", "checkerboard" or "ramp"."""
    img = torch.zeros(size, size)
    q = size // 4
    if name == "square":
        img[q:size - q, q:size - q] = 1.0
    elif name == "impulse":
        img[size // 2, size // 2] = 1.0  # correlating an impulse draws the flipped kernel
    elif name == "stripes":
        img[:, ::4] = 1.0
        img[:, 1::4] = 1.0
    elif name == "checkerboard":
        idx = torch.arange(size) // max(q, 1)
        img = ((idx[:, None] + idx[None, :]) % 2).float()
    elif name == "ramp":
        img = torch.linspace(0, 1, size).repeat(size, 1)
    else:
        raise ValueError(f"unknown pattern {name!r}; choose square, impulse, stripes, checkerboard "
                         "or ramp")
    return img
