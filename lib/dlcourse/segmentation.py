"""Upsampling inside a network: unpooling, transposed convolution as a matrix, learned upsamplers.

    nearest_unpool(x, 2)        each value copied over its 2x2 block
    bed_of_nails_unpool(x, 2)   each value in the block's top-left corner, zeros elsewhere
    max_unpool(x, switches)     each value where the matching max pool found its maximum (its "switch")
    average_unpool(x, 2)        each value spread evenly over its block (value / 4)

Max and average unpooling are the transposes of max and average pooling: they send a value back along
the path the pooling took, exactly as the pooling's backward pass sends a gradient. Transposed
convolution is the same idea for convolution: `conv_matrix` builds the matrix C of a small convolution,
so that `C @ x.flatten()` is `conv2d(x)` and `C.T @ y.flatten()` is `conv_transpose2d(y)`.

The networks (FCN, U-Net, hourglass) are in `dlcourse.models.segmentation`; training, evaluation and the
shipped segmenters in `dlcourse.segmenters`; the metrics in `dlcourse.metrics`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dlcourse.shapes import conv_output_size

MAX_MATRIX_ENTRIES = 10_000_000  # conv_matrix is for small, printable cases (10M floats = 40 MB)


def _check_maps(x: torch.Tensor, name: str) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} takes feature maps (B, C, H, W), got {got}; add dimensions with "
                         "x[None, None] for one (H, W) map")


def _check_scale(scale: int) -> None:
    if not isinstance(scale, int) or isinstance(scale, bool) or scale < 1:
        raise ValueError(f"scale must be a whole number >= 1 (2 undoes a 2x2 pooling), got {scale!r}")


def nearest_unpool(x: torch.Tensor, scale: int = 2) -> torch.Tensor:
    """Nearest-neighbour unpooling: every value fills its whole scale x scale block. (B, C, sH, sW)."""
    _check_maps(x, "nearest_unpool")
    _check_scale(scale)
    return x.repeat_interleave(scale, dim=2).repeat_interleave(scale, dim=3)


def bed_of_nails_unpool(x: torch.Tensor, scale: int = 2) -> torch.Tensor:
    """"Bed of nails" unpooling: every value in the top-left corner of its block, zeros elsewhere."""
    _check_maps(x, "bed_of_nails_unpool")
    _check_scale(scale)
    B, C, H, W = x.shape
    out = x.new_zeros(B, C, H * scale, W * scale)
    out[:, :, ::scale, ::scale] = x
    return out


def average_unpool(x: torch.Tensor, scale: int = 2) -> torch.Tensor:
    """Average unpooling: every value spread evenly over its block (value / scale**2 per pixel).

    The transpose of `F.avg_pool2d(kernel_size=scale)`: what its backward pass does to a gradient.
    Nearest-neighbour unpooling is scale**2 times this, so that average pooling undoes it exactly.
    """
    _check_maps(x, "average_unpool")
    _check_scale(scale)
    return nearest_unpool(x, scale) / scale**2


def max_unpool(x: torch.Tensor, switches: torch.Tensor, kernel_size: int = 2, stride: int | None = None,
               padding: int = 0, output_size: tuple[int, int] | None = None) -> torch.Tensor:
    """Max unpooling: every value goes back where the matching max pool found its maximum.

    Args:
        x: (B, C, h, w) values, e.g. the pooled map or a decoder's features of that size.
        switches: (B, C, h, w) flat positions in the (H, W) input plane, as returned by
            `F.max_pool2d(..., return_indices=True)` or `nn.MaxPool2d(return_indices=True)`.
        kernel_size, stride, padding: those of the max pool (stride defaults to kernel_size).
        output_size: (H, W) of the pooled input, if the pooling dropped a border (odd sizes).
    Returns:
        (B, C, H, W): zeros except at the switches. Same as `nn.MaxUnpool2d`.
    """
    _check_maps(x, "max_unpool")
    if not isinstance(switches, torch.Tensor) or switches.shape != x.shape or switches.is_floating_point():
        raise ValueError(f"switches must be the integer indices of the max pool that made x, shaped "
                         f"like x {tuple(x.shape)}; get them with F.max_pool2d(..., return_indices=True)")
    stride = kernel_size if stride is None else stride
    B, C, h, w = x.shape
    if output_size is None:
        output_size = tuple((n - 1) * stride - 2 * padding + kernel_size for n in (h, w))  # torch's default
    H, W = (int(s) for s in output_size[-2:])
    if switches.numel() and (switches.min() < 0 or switches.max() >= H * W):
        raise ValueError(f"a switch points outside the {H}x{W} output (largest {int(switches.max())}); "
                         "pass the pooled input's size as output_size=(H, W)")
    out = x.new_zeros(B, C, H * W)
    out.scatter_(2, switches.flatten(2), x.flatten(2))  # (B, C, H*W): each value at its switch
    return out.view(B, C, H, W)


def conv_matrix(weight: torch.Tensor, input_size: int | tuple[int, int], stride: int = 1,
                padding: int = 0) -> torch.Tensor:
    """The matrix C of a 2-D convolution (cross-correlation, as conv2d): `C @ x.flatten()` equals
    `F.conv2d(x, weight, stride=stride, padding=padding).flatten()` for one example x (C_in, H, W).

    Args:
        weight: (kH, kW) for one channel, or (C_out, C_in, kH, kW).
        input_size: H (square) or (H, W).
    Returns:
        C of shape (C_out * oH * oW, C_in * H * W): row r holds the weights output r applies to every
        input pixel (zeros where the kernel does not reach). Its transpose is the transposed
        convolution: `C.T @ y.flatten()` equals `F.conv_transpose2d(y, weight, stride, padding,
        output_padding)` with the output_padding that restores H and W.
    """
    w = torch.as_tensor(weight)
    w = w[None, None] if w.ndim == 2 else w
    if w.ndim != 4:
        raise ValueError(f"weight must be (kH, kW) or (C_out, C_in, kH, kW), got {tuple(w.shape)}")
    H, W = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
    c_out, c_in, kh, kw = w.shape
    oh = conv_output_size(H, kh, padding, stride, strict=False)
    ow = conv_output_size(W, kw, padding, stride, strict=False)
    if c_out * oh * ow * c_in * H * W > MAX_MATRIX_ENTRIES:
        raise ValueError(f"the matrix would have {c_out * oh * ow:,} x {c_in * H * W:,} entries: "
                         "conv_matrix is for small cases (e.g. a 4x4 input); use F.conv2d for real ones")
    C = w.new_zeros(c_out, oh, ow, c_in, H, W)
    for i in range(oh):
        for j in range(ow):
            for a in range(kh):
                for b in range(kw):
                    r, c = i * stride - padding + a, j * stride - padding + b  # input pixel of tap (a, b)
                    if 0 <= r < H and 0 <= c < W:
                        C[:, i, j, :, r, c] = w[:, :, a, b]
    return C.reshape(c_out * oh * ow, c_in * H * W)


def upsampler(kind: str = "transposed", width: int = 16) -> nn.Sequential:
    """A small learned 2x upsampler for one-channel images, for the checkerboard comparison.

    Both kinds extract `width` features at the low resolution (3x3 conv + ReLU), then upsample:
        "transposed": ConvTranspose2d(kernel 3, stride 2): the kernel size is not divisible by the
                      stride, so output pixels get 1, 2 or 4 contributions: a checkerboard pattern;
        "resize":     nearest-neighbour 2x, then a 3x3 conv: every output gets the same number of
                      contributions (Odena, Dumoulin & Olah, "Deconvolution and Checkerboard
                      Artifacts", Distill 2016).
    The two have the same number of parameters.
    """
    if kind not in ("transposed", "resize"):
        raise ValueError(f"kind must be 'transposed' or 'resize', got {kind!r}")
    features = [nn.Conv2d(1, width, 3, padding=1), nn.ReLU()]  # (B, width, h, w)
    if kind == "transposed":
        up = [nn.ConvTranspose2d(width, 1, 3, stride=2, padding=1, output_padding=1)]  # (B, 1, 2h, 2w)
    else:
        up = [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(width, 1, 3, padding=1)]
    return nn.Sequential(*features, *up)


@torch.no_grad()
def checkerboard_strength(model: nn.Module, value: float = 0.0, size: int = 16, border: int = 4) -> float:
    """How strongly `model` paints a period-2 pattern onto a flat (constant) image.

    Feeds a (1, 1, size, size) image of `value`, drops `border` pixels on each side of the output, and
    returns (largest - smallest) mean of the four 2x2 phases, divided by the mean |output|. A flat
    input deserves a flat output: 0 means no checkerboard.
    """
    if size < 4 or border < 0 or 2 * size - 2 * border < 4:
        raise ValueError(f"need size >= 4 and an interior of at least 4x4 output pixels, got size={size}, "
                         f"border={border}")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    y = model(torch.full((1, 1, size, size), float(value), device=device)).cpu().double()
    model.train(was_training)
    y = y[..., border:y.shape[-2] - border, border:y.shape[-1] - border]
    phases = torch.stack([y[..., a::2, b::2].mean() for a in range(2) for b in range(2)])
    return float((phases.max() - phases.min()) / y.abs().mean().clamp_min(1e-12))


def boundary_mask(semantic: torch.Tensor, width: int = 1) -> torch.Tensor:
    """Pixels within `width` pixels (a (2w+1)^2 window) of a change of label, as a bool map of the same
    shape as `semantic` ((H, W) or (N, H, W)); the canvas edge is not a boundary."""
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a whole number of pixels >= 1, got {width!r}")
    if semantic.ndim not in (2, 3) or semantic.is_floating_point():
        raise ValueError(f"semantic must be integer label maps (H, W) or (N, H, W), got {semantic.dtype} "
                         f"{tuple(semantic.shape)}")
    labels = semantic.reshape(-1, 1, *semantic.shape[-2:]).double()  # (N, 1, H, W)
    window = dict(kernel_size=2 * width + 1, stride=1, padding=width)  # pads with -inf: edges ignored
    highest, lowest = F.max_pool2d(labels, **window), -F.max_pool2d(-labels, **window)
    return (highest != lowest).reshape(semantic.shape)


def instances_to_semantic(target: dict, size: tuple[int, int], score_threshold: float = 0.5,
                          mask_threshold: float = 0.5) -> torch.Tensor:
    """One semantic map (H, W) int64 from instance masks: a scene's target or Mask R-CNN's output.

    target: "labels" (N,) and "masks" (N, H, W) 0/1, or (N, 1, H, W) probabilities; with "scores"
    (a detector's output) instances under `score_threshold` are dropped and the most confident one
    wins where masks overlap; without, later instances lie on top (the scenes' order).
    """
    labels = torch.as_tensor(target["labels"]).detach().cpu().long()
    masks = torch.as_tensor(target["masks"]).detach().cpu()
    H, W = size
    if masks.ndim == 4:
        masks = masks[:, 0]
    if masks.shape != (len(labels), H, W):
        raise ValueError(f"masks must be (N, H, W) or (N, 1, H, W) with N = {len(labels)} labels and "
                         f"(H, W) = {(H, W)}, got {tuple(torch.as_tensor(target['masks']).shape)}")
    masks = masks > mask_threshold if masks.is_floating_point() else masks.bool()
    order = torch.arange(len(labels))
    if "scores" in target:
        scores = torch.as_tensor(target["scores"]).detach().cpu().float()
        keep = torch.nonzero(scores >= score_threshold).flatten()
        order = keep[scores[keep].argsort()]  # least confident first, so the most confident is on top
    semantic = torch.zeros(H, W, dtype=torch.int64)
    for k in order.tolist():
        semantic[masks[k]] = labels[k]
    return semantic
