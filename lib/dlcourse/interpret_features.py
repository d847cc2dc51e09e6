"""What do the units respond to? Top activating patches with receptive-field boxes, feature spaces.

    top_patches(model, X, "block2.5", channel)   the 9 image patches that excite a unit most
                                                 (Zeiler & Fergus 2014, arXiv:1311.2901)
    receptive_box(model, "block2.5", i, j)       the input pixels unit (i, j) of a layer can see
    gradient_footprint(model, X, layer, ...)     the pixels its gradient actually reaches (a check)
    embed(model, X)                              penultimate-layer features (the last Linear's input)
    nearest_neighbours / neighbour_agreement     neighbours in feature space vs pixel space
    pca_2d / tsne_2d                             a 2-D map of a feature space

The boxes use `dlcourse.shapes.receptive_field`, which reads Conv/Pool layers in module order: it is
right for sequential networks like the course's CNNs, not for networks with branches or skips.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from dlcourse import shapes
from dlcourse.interpret import check_images, get_layer, inspecting


# ---------------------------------------------------------------- receptive fields as boxes
def receptive_box(model: nn.Module, layer: str, i: int, j: int) -> tuple[int, int, int, int]:
    """(top, left, bottom, right), inclusive and possibly outside the image, of the input pixels
    that unit (i, j) of `layer`'s output depends on. Sequential models only (see the module doc).

    `shapes.receptive_field` gives the size and jump after each Conv/Pool layer; the centre of unit 0
    moves by ((span - 1)/2 - padding) * jump at each layer, where span is the kernel's extent.
    """
    rows = _rows_up_to(model, layer)
    centre, jump, size = 0.0, 1, 1  # the input itself: each pixel sees itself
    for row in rows:
        span = shapes.effective_kernel_size(row.kernel, row.dilation)
        centre += ((span - 1) / 2 - row.padding) * jump
        jump, size = row.jump, row.size
    top = centre + i * jump - (size - 1) / 2
    left = centre + j * jump - (size - 1) / 2
    return int(top), int(left), int(top) + size - 1, int(left) + size - 1


def _rows_up_to(model: nn.Module, layer: str) -> list[shapes.RFLayer]:
    """shapes.receptive_field rows of the Conv/Pool layers that come before `layer` (itself included)."""
    get_layer(model, layer)  # a clear error for unknown names
    names = [name for name, _ in model.named_modules()]
    rows = shapes.receptive_field(model)
    position = names.index(layer)
    inside = [r for r in rows if names.index(r.name) <= position or r.name.startswith(layer + ".")]
    return inside


def gradient_footprint(model: nn.Module, X: torch.Tensor, layer: str, channel: int, i: int,
                       j: int) -> torch.Tensor:
    """(H, W) bool: input pixels where d(unit)/dx is non-zero for any image of X.

    A measured receptive field: every True pixel must lie inside receptive_box(model, layer, i, j).
    """
    X = check_images(X).detach().requires_grad_(True)
    kept: dict[str, torch.Tensor] = {}

    def keep(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        kept["A"] = output

    with torch.enable_grad(), inspecting(model) as handles:
        handles.append(get_layer(model, layer).register_forward_hook(keep))
        model(X)
        (grad,) = torch.autograd.grad(kept["A"][:, channel, i, j].sum(), X)
    return (grad != 0).any(0).any(0)


def box_of(mask: torch.Tensor) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the True pixels of an (H, W) mask."""
    rows, cols = torch.nonzero(mask, as_tuple=True)
    if len(rows) == 0:
        raise ValueError("the mask has no True pixel, so it has no bounding box")
    return int(rows.min()), int(cols.min()), int(rows.max()), int(cols.max())


# ---------------------------------------------------------------- top-9 patches (Zeiler & Fergus)
@dataclass
class TopPatches:
    """The k images whose strongest response in one channel of a layer is largest, and where."""

    layer: str
    channel: int
    index: torch.Tensor  # (k,) which images of X
    value: torch.Tensor  # (k,) the unit's activation
    position: torch.Tensor  # (k, 2) (i, j) of the unit in the layer's output
    box: list[tuple[int, int, int, int]]  # its receptive field in the image (top, left, bottom, right)
    patches: torch.Tensor  # (k, C, size, size) the image inside each box (outside: `fill`)


@torch.no_grad()
def top_patches(model: nn.Module, X: torch.Tensor, layer: str, channel: int, k: int = 9,
                batch_size: int = 500, fill: float | None = None) -> TopPatches:
    """The k image patches of X that excite unit `channel` of `layer` most (one per image).

    Each image counts once, at its strongest position in the channel's map; the patch is that unit's
    receptive field, cut from the image. Parts of the box outside the image get `fill` (default: the
    smallest value of X, the blank background after normalization).
    """
    X = check_images(X)
    best_value, best_flat = [], []
    kept: dict[str, torch.Tensor] = {}
    with inspecting(model) as handles:
        handles.append(get_layer(model, layer).register_forward_hook(
            lambda m, inputs, output: kept.update(A=output)))
        for start in range(0, len(X), batch_size):
            model(X[start:start + batch_size])
            A = kept["A"]
            if A.ndim != 4 or not 0 <= channel < A.shape[1]:
                raise ValueError(f"layer {layer!r} has output {tuple(A.shape)}: give a conv layer's "
                                 f"name and a channel in 0..{A.shape[1] - 1 if A.ndim == 4 else '?'}")
            value, flat = A[:, channel].flatten(1).max(1)  # strongest position per image
            best_value.append(value)
            best_flat.append(flat)
    value, flat = torch.cat(best_value), torch.cat(best_flat)
    if not 1 <= k <= len(X):
        raise ValueError(f"k must be in 1..{len(X)}, got {k}")
    value, index = value.topk(k)
    width = A.shape[3]
    position = torch.stack([flat[index] // width, flat[index] % width], 1)
    box = [receptive_box(model, layer, int(i), int(j)) for i, j in position]
    fill = float(X.min()) if fill is None else fill
    patches = torch.stack([crop(X[n], b, fill) for n, b in zip(index.tolist(), box)])
    return TopPatches(layer, channel, index, value, position, box, patches)


def crop(image: torch.Tensor, box: tuple[int, int, int, int], fill: float = 0.0) -> torch.Tensor:
    """The part of image (C, H, W) inside box (top, left, bottom, right); outside the image: fill."""
    top, left, bottom, right = box
    c, h, w = image.shape
    out = torch.full((c, bottom - top + 1, right - left + 1), fill, dtype=image.dtype)
    t, l, b, r = max(top, 0), max(left, 0), min(bottom, h - 1), min(right, w - 1)
    out[:, t - top:b - top + 1, l - left:r - left + 1] = image[:, t:b + 1, l:r + 1].cpu()
    return out


# ---------------------------------------------------------------- feature spaces
@torch.no_grad()
def embed(model: nn.Module, X: torch.Tensor, layer: str | None = None,
          batch_size: int = 500) -> torch.Tensor:
    """Features (N, D) of X: the input of `layer` (default: the last nn.Linear, i.e. the penultimate
    layer's output), flattened, recorded by a forward pre-hook."""
    X = check_images(X)
    if layer is None:
        linears = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
        if not linears:
            raise ValueError("the model has no nn.Linear layer: name the layer to embed with, layer=")
        layer = linears[-1]
    chunks = []
    with inspecting(model) as handles:
        handles.append(get_layer(model, layer).register_forward_pre_hook(
            lambda m, inputs: chunks.append(inputs[0].flatten(1).cpu())))
        for start in range(0, len(X), batch_size):
            model(X[start:start + batch_size])
    return torch.cat(chunks)


def nearest_neighbours(queries: torch.Tensor, bank: torch.Tensor, k: int = 5,
                       exclude_self: bool = False) -> torch.Tensor:
    """(Q, k) indices into `bank` of the k rows closest to each query (Euclidean distance).

    exclude_self=True when the queries are the bank itself (row q is not its own neighbour).
    """
    queries, bank = queries.flatten(1).float(), bank.flatten(1).float()
    if queries.shape[1] != bank.shape[1]:
        raise ValueError(f"queries have {queries.shape[1]} features but the bank has {bank.shape[1]}")
    distance = torch.cdist(queries, bank)  # (Q, N)
    if exclude_self:
        distance.fill_diagonal_(float("inf"))
    return distance.topk(k, dim=1, largest=False).indices


def neighbour_agreement(features: torch.Tensor, y: torch.Tensor, k: int = 5) -> float:
    """Fraction of each example's k nearest neighbours (among the others) that share its label."""
    idx = nearest_neighbours(features, features, k, exclude_self=True)
    return (y[idx] == y[:, None]).float().mean().item()


def pca_2d(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Project (N, D) features onto their 2 principal directions: ((N, 2) points, share of variance)."""
    centred = features.flatten(1).float() - features.flatten(1).float().mean(0)
    _, s, Vh = torch.linalg.svd(centred, full_matrices=False)
    explained = s[:2] ** 2 / (s ** 2).sum()
    return centred @ Vh[:2].T, explained


def tsne_2d(features: torch.Tensor, seed: int = 0, perplexity: float = 30.0) -> torch.Tensor:
    """A t-SNE map (N, 2) of the features (scikit-learn; van der Maaten & Hinton 2008), seeded."""
    from sklearn.manifold import TSNE

    points = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed)
    return torch.as_tensor(points.fit_transform(features.flatten(1).double().numpy())).float()
