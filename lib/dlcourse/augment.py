"""Data augmentation for one model: transforms v2 pipelines, per-image augmentation, test-time views.

Images inside the course loaders are normalized float batches `(B, 1, 28, 28)`; the transforms here
work on `[0, 1]` images, so `augment_batch` un-normalizes, transforms each image with its own random
draw, and normalizes again. `shift` and `view_probs` work on normalized batches directly: they measure
how a model copes with mirrored or moved images, and average views at test time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.transforms import v2

KINDS = ("none", "flip", "crop", "scale_crop", "jitter", "all")


def make_transform(kind: str, size: int = 28, max_scale: float = 1.3) -> v2.Transform:
    """Return a named training pipeline for one `(C, H, W)` image in [0, 1].

    Args:
        kind: "none", "flip" (horizontal), "crop" (pad 3 then random crop = small shifts),
            "scale_crop" (the ResNet recipe: resize the short side to a random L in
            [size, max_scale * size], then take a random size x size patch), "jitter"
            (brightness and contrast), or "all" (flip + scale_crop + jitter).
        size: output side in pixels.
        max_scale: largest zoom of the scale_crop recipe (ResNet used 480 / 224 = 2.1 on ImageNet;
            28-pixel clothes lose too much beyond ~1.3).
    """
    flip = v2.RandomHorizontalFlip(p=0.5)
    # ResNet (He et al., 2016, sec. 3.4): random short side L, then a random crop
    scale_crop = v2.Compose([v2.RandomResize(size, int(round(max_scale * size)) + 1),
                             v2.RandomCrop(size)])
    jitter = v2.ColorJitter(brightness=0.4, contrast=0.4)
    pipelines = {
        "none": v2.Identity(),
        "flip": flip,
        "crop": v2.RandomCrop(size, padding=3),
        "scale_crop": scale_crop,
        "jitter": jitter,
        "all": v2.Compose([flip, scale_crop, jitter]),
    }
    if kind not in pipelines:
        raise ValueError(f"unknown augmentation kind {kind!r}; expected one of {KINDS}")
    return pipelines[kind]


def augment_batch(X: torch.Tensor, transform: v2.Transform, mean: float = 0.0,
                  std: float = 1.0) -> torch.Tensor:
    """Apply `transform` to each image of a normalized batch `(B, C, H, W)`, one random draw each."""
    if X.ndim != 4:
        raise ValueError(f"expected a batch of shape (B, C, H, W), got {tuple(X.shape)}; "
                         "add a batch axis with X[None] for a single image")
    X01 = (X * std + mean).clamp(0, 1)  # back to pixel intensities in [0, 1]
    # a v2 transform on a 4-D tensor would share one draw across the batch, so loop
    out = torch.stack([transform(x) for x in X01])
    return (out.clamp(0, 1) - mean) / std


class AugmentedLoader:
    """Wrap a loader of normalized `(X, y)` batches and augment every training batch on the fly."""

    def __init__(self, loader: Iterable, transform: v2.Transform, mean: float | None = None,
                 std: float | None = None) -> None:
        dataset = getattr(loader, "dataset", None)  # an ImageSet knows its normalization
        self.mean = mean if mean is not None else getattr(dataset, "mean", 0.0)
        self.std = std if std is not None else getattr(dataset, "std", 1.0)
        self.loader, self.transform = loader, transform

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for X, y in self.loader:
            yield augment_batch(X, self.transform, self.mean, self.std), y

    def __len__(self) -> int:
        return len(self.loader)

    def __getattr__(self, name: str):
        # batch_size, dataset, ... come from the wrapped loader
        return getattr(self.__dict__["loader"], name)


def augmentation_grid(x: torch.Tensor, transform: v2.Transform, n: int = 8,
                      seed: int = 0) -> torch.Tensor:
    """Return `n` augmented copies `(n, C, H, W)` of one `[0, 1]` image `(C, H, W)`, seeded."""
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        return torch.stack([transform(x) for _ in range(n)]).clamp(0, 1)
    finally:
        torch.random.set_rng_state(state)  # leave the caller's random stream untouched


# test-time augmentation ---------------------------------------------------------------------------

def ten_crop(X: torch.Tensor, size: int) -> torch.Tensor:
    """Corner and centre crops plus their mirror images: `(B, C, H, W)` -> `(10, B, C, size, size)`.

    The order matches `torchvision.transforms.v2.TenCrop`: top-left, top-right, bottom-left,
    bottom-right, centre, then the same five of the horizontally flipped image.
    """
    H, W = X.shape[-2:]
    if size > min(H, W):
        raise ValueError(f"crop size {size} is larger than the image ({H}x{W}); "
                         "resize the image up first or ask for a smaller crop")
    top, left = int(round((H - size) / 2.0)), int(round((W - size) / 2.0))
    offsets = [(0, 0), (0, W - size), (H - size, 0), (H - size, W - size), (top, left)]
    crops = [img[..., i:i + size, j:j + size] for img in (X, X.flip(-1)) for i, j in offsets]
    return torch.stack(crops)


def multi_crop_views(X: torch.Tensor, scales: Sequence[int] = (28, 32), size: int = 28,
                     flips: bool = True) -> torch.Tensor:
    """All test-time views of a batch `(B, C, H, W)` -> `(V, B, C, size, size)`.

    Each scale resizes the image to `scale x scale` and takes the ten crops (or, when the scale
    equals the crop size, the image itself and its mirror); `flips=False` drops the mirrors.
    """
    views = []
    for scale in scales:
        Xs = X if scale == X.shape[-1] else F.interpolate(X, size=(scale, scale),
                                                         mode="bilinear", align_corners=False)
        crops = Xs[None] if scale == size else ten_crop(Xs, size)[:5]
        views.append(crops)
        if flips:
            views.append(crops.flip(-1))
    return torch.cat(views)


@torch.no_grad()
def tta_probs(model: nn.Module, X: torch.Tensor, scales: Sequence[int] = (28, 32),
              size: int = 28, flips: bool = True) -> torch.Tensor:
    """Class probabilities `(B, K)` averaged over the multi-crop views of `X`."""
    model.eval()
    views = multi_crop_views(X, scales, size, flips)  # (V, B, C, size, size)
    # one forward pass per view: V small batches run faster than one V-times-larger batch
    return torch.stack([model(view).softmax(-1) for view in views]).mean(0)  # (B, K)


@torch.no_grad()
def evaluate_tta(model: nn.Module, loader: Iterable, scales: Sequence[int] = (28, 32),
                 size: int = 28, flips: bool = True) -> float:
    """Accuracy of `model` on `loader` when each image is classified from its averaged views."""
    device = next(model.parameters()).device
    correct, total = 0, 0
    for X, y in loader:
        probs = tta_probs(model, X.to(device), scales, size, flips)
        correct += (probs.argmax(-1).cpu() == y.cpu()).sum().item()
        total += len(y)
    return correct / total


# views of a normalized batch: robustness and test-time averaging ----------------------------------

def shift(X: torch.Tensor, dx: int, dy: int = 0) -> torch.Tensor:
    """Move every image of a batch `(B, C, H, W)` right by `dx` and down by `dy` pixels.

    Pixels that come in from the border take each image's smallest value, the black background
    of a normalized Fashion-MNIST image (`TensorLoader(augment="flip_translate")` fills the same).
    """
    if X.ndim != 4:
        raise ValueError(f"expected a batch of shape (B, C, H, W), got {tuple(X.shape)}")
    H, W = X.shape[-2:]
    if abs(dx) >= W or abs(dy) >= H:
        raise ValueError(f"a shift of ({dx}, {dy}) pixels moves a {H}x{W} image out of the frame")
    out = X.amin(dim=(1, 2, 3), keepdim=True).expand_as(X).clone()  # (B, C, H, W) background
    out[..., max(dy, 0):H + min(dy, 0), max(dx, 0):W + min(dx, 0)] = \
        X[..., max(-dy, 0):H - max(dy, 0), max(-dx, 0):W - max(dx, 0)]
    return out


def mirror(X: torch.Tensor) -> torch.Tensor:
    """The horizontal mirror image of every image of a batch `(B, C, H, W)`."""
    return X.flip(-1)


@torch.no_grad()
def view_probs(model: nn.Module, loader: Iterable,
               views: Mapping[str, Callable[[torch.Tensor], torch.Tensor] | None]
               ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Class probabilities of `model` on each view of an unshuffled loader's images, in one pass.

    `views` maps a name to a function of a normalized batch (None: the images as they are), e.g.
    `{"original": None, "mirrored": mirror}`. Returns `({name: (N, K) probs}, (N,) labels)`, on
    the CPU; averaging the probabilities of several views is test-time augmentation.
    """
    model.eval()
    device = next(model.parameters()).device
    probs: dict[str, list[torch.Tensor]] = {name: [] for name in views}
    labels = []
    for X, y in loader:
        X = X.to(device)
        for name, fn in views.items():
            probs[name].append(model(X if fn is None else fn(X)).softmax(-1).cpu())
        labels.append(y.cpu())
    return {name: torch.cat(p) for name, p in probs.items()}, torch.cat(labels)
