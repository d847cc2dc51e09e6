"""Fashion-MNIST scenes: a detection and segmentation data set built from real images, offline.

Each scene is a black canvas (default 96x96) holding 1..`max_objects` Fashion-MNIST articles, each
resized to a random square of `scale` pixels (default 20..48) and pasted at a random place inside the
canvas, in order: later articles lie on top and may hide parts of earlier ones. An article's shape is
its foreground (pixels brighter than `threshold`), not its 28x28 square. What every scene provides:

    image     tv_tensors.Image (1, H, W) float32 in [0, 1], not normalized; a network usually wants
              (image - MEAN) / STD (the statistics of default scenes), or leave it to the model:
              torchvision's detectors normalize inside (pass image_mean=[MEAN], image_std=[STD]).
    boxes     tv_tensors.BoundingBoxes (N, 4) XYXY in pixel edges: x2 = last column + 1, so that
              x2 - x1 is the width in pixels (torchvision.ops.masks_to_boxes gives last column).
    labels    int64 (N,) in 1..10 = Fashion-MNIST class + 1 (detection convention: 0 = background).
    masks     tv_tensors.Mask (N, H, W) uint8: the pixels where instance n is visible.
    semantic  tv_tensors.Mask (H, W) int64 in 0..10: 0 background, else the visible article's label.
    image_id  int: the scene's index.

Instance and semantic masks come from one map of "which article owns this pixel", so they always
agree. An article left with fewer than `min_area` visible pixels is dropped (the top one never is)
and its few pixels are erased from the image, so image, masks and boxes tell the same story. Scene i
depends only on (seed, i, the images), never on the order of access or the process, so DataLoader
workers and reruns see the same data. Pass the train images for training scenes and the test images
for test scenes: `FashionScenes("test", ...)` only ever uses test articles. Articles too faint to
reach 1.5 * min_area foreground pixels at the smallest scale are never drawn.

v2 flips and translations keep boxes tight; rotations, shears, scaling and crops move a box by its
corners and clamp it to the canvas, leaving it loose around its mask: end such a pipeline with
`fit_boxes`, which refits boxes to the masks and drops instances with no pixel left.

    train_set = FashionScenes("train", 2000, seed=0, transforms=v2.RandomHorizontalFlip())
    image, target = train_set[0]
    loader = DataLoader(train_set, batch_size=8, shuffle=True, collate_fn=collate)  # detection
    X, semantic = stack(FashionScenes("test", 500))    # segmentation: (N, 1, H, W), (N, H, W)
"""

from __future__ import annotations

import zlib
from functools import cache

import numpy as np
import torch
from torchvision import tv_tensors

from dlcourse.data import FASHION_CLASSES, ImageSet, load_fashion_mnist

MEAN, STD = 0.097, 0.241  # pixel statistics of default scenes (96 px, 1..5 articles of 20..48 px)
NUM_CLASSES = 11  # background + the 10 Fashion-MNIST classes, for both detection and segmentation
CLASSES = ("background",) + FASHION_CLASSES  # CLASSES[label] names a box label or semantic value


class FashionScenes(torch.utils.data.Dataset):
    """Scenes of overlapping Fashion-MNIST articles with boxes, instance and semantic masks.

    Args:
        images: "train" or "test" (loaded with `data.load_fashion_mnist`: the bundled subset in fast
            mode, the full set otherwise), or an `ImageSet` of grayscale uint8 articles.
        num_scenes: how many scenes the data set holds (they are made on demand, not stored).
        size: canvas side in pixels (e.g. 64, 96, 128).
        max_objects: each scene draws 1..max_objects articles, uniformly.
        seed: picks the scenes; the same seed and images give the same scenes everywhere.
        transforms: called as `transforms(image, target)`, e.g. a `torchvision.transforms.v2` pipeline;
            geometric v2 transforms move the image, boxes and masks together.
        scale: (smallest, largest) article side in pixels, both included.
        min_area: articles with fewer visible pixels are dropped (never the top one).
        threshold: intensity in (0, 1) above which a resized article pixel is foreground.
    """

    def __init__(self, images: str | ImageSet = "train", num_scenes: int = 1000, size: int = 96,
                 max_objects: int = 5, seed: int = 0, transforms=None, *,
                 scale: tuple[int, int] = (20, 48), min_area: int = 20, threshold: float = 0.1):
        _check_args(num_scenes, size, max_objects, seed, scale, min_area, threshold)
        images = load_fashion_mnist(images) if isinstance(images, str) and images in ("train", "test") \
            else images
        if not isinstance(images, ImageSet):
            raise TypeError(f"images must be 'train', 'test' or a data.ImageSet, got {images!r}; e.g. "
                            "FashionScenes('train', 1000) or FashionScenes(data.load_fashion_mnist('test'))")
        X = images.X[:, 0] if images.X.ndim == 4 and images.X.shape[1] == 1 else images.X
        if X.ndim != 3:
            raise ValueError(f"articles must be grayscale (N, H, W) or (N, 1, H, W), got "
                             f"{tuple(images.X.shape)}; convert colour images to one channel first")
        self.images, self.num_scenes, self.size, self.max_objects = images, num_scenes, size, max_objects
        self.seed, self.transforms, self.scale = seed, transforms, tuple(scale)
        self.min_area, self.threshold = min_area, threshold
        self._X = X.contiguous().numpy()  # uint8 (N, h, w), shared with the ImageSet
        self._y = images.y.numpy()
        # Only articles large enough to stay over min_area at the smallest scale take part.
        foreground = (self._X > threshold * 255).reshape(len(X), -1).sum(1)
        self._pool = np.flatnonzero(foreground * (scale[0] ** 2 / X[0].numel()) >= 1.5 * min_area)
        if len(self._pool) == 0:
            raise ValueError(f"no article has enough foreground for min_area={min_area} at scale "
                             f"{scale[0]}; lower min_area or threshold, or raise the smallest scale")
        self._salt = zlib.crc32(self._X)  # train and test scenes differ even with the same seed

    def __len__(self) -> int:
        return self.num_scenes

    def __repr__(self) -> str:
        return (f"FashionScenes({self.num_scenes} scenes {self.size}x{self.size}, 1..{self.max_objects} "
                f"articles of {self.scale[0]}..{self.scale[1]} px, seed={self.seed}, "
                f"articles from {self.images.source})")

    def __getitem__(self, i: int):
        """Scene i as (image, target); see the module docstring for what they hold."""
        image, owner, labels = self.render(i)
        ids = np.arange(1, len(labels) + 1)
        masks = torch.from_numpy(owner[None] == ids[:, None, None]).to(torch.uint8)  # (N, H, W)
        lut = torch.from_numpy(np.concatenate([[0], labels]))  # owner id -> label
        target = {
            "boxes": tv_tensors.BoundingBoxes(masks_to_boxes(masks), format="XYXY",
                                              canvas_size=(self.size, self.size)),
            "labels": lut[1:].clone(),
            "masks": tv_tensors.Mask(masks),
            "semantic": tv_tensors.Mask(lut[torch.from_numpy(owner).long()]),  # (H, W)
            "image_id": int(i),
        }
        image = tv_tensors.Image(torch.from_numpy(image)[None])  # (1, H, W)
        return self.transforms(image, target) if self.transforms is not None else (image, target)

    def render(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scene i as numpy arrays: image float32 (H, W) in [0, 1], owner int64 (H, W) with 0 for
        background and n for the pixels of instance n (1-based, bottom to top), labels int64 (N,)."""
        if not -self.num_scenes <= i < self.num_scenes:
            raise IndexError(f"scene index {i} is out of range for {self.num_scenes} scenes")
        i = int(i) % self.num_scenes
        rng = np.random.default_rng([self.seed, self._salt, i])  # one stream per scene
        n = int(rng.integers(1, self.max_objects + 1))
        picks = self._pool[rng.integers(0, len(self._pool), n)]
        sides = rng.integers(self.scale[0], self.scale[1] + 1, n)
        tops, lefts = (rng.integers(0, self.size - sides + 1) for _ in range(2))
        image = np.zeros((self.size, self.size), np.float32)
        owner = np.zeros((self.size, self.size), np.int64)
        for k in range(n):
            s, t, left = sides[k], tops[k], lefts[k]
            R = _resize_matrix(s, self._X.shape[1])
            patch = R @ self._X[picks[k]] @ _resize_matrix(s, self._X.shape[2]).T  # (s, s)
            fg = patch > self.threshold * 255
            image[t:t + s, left:left + s][fg] = patch[fg] / 255
            owner[t:t + s, left:left + s][fg] = k + 1
        area = np.bincount(owner.ravel(), minlength=n + 1)
        keep = area[1:] >= self.min_area
        keep[-1] = area[-1] > 0  # the top article is never hidden: keep it
        if not keep.all():
            renumber = np.zeros(n + 1, np.int64)
            renumber[1:][keep] = np.arange(1, keep.sum() + 1)
            owner = renumber[owner]
            image[owner == 0] = 0  # erase what is left of dropped articles
        return image, owner, (self._y[picks[keep]] + 1).astype(np.int64)


@cache
def _resize_matrix(out_size: int, in_size: int) -> np.ndarray:
    """(out, in) bilinear weights, as F.interpolate(mode="bilinear", align_corners=False)."""
    src = np.clip((np.arange(out_size) + 0.5) * in_size / out_size - 0.5, 0, in_size - 1)
    lo = np.floor(src).astype(int)
    hi, w = np.minimum(lo + 1, in_size - 1), (src - lo).astype(np.float32)
    R = np.zeros((out_size, in_size), np.float32)
    np.add.at(R, (np.arange(out_size), lo), 1 - w)
    np.add.at(R, (np.arange(out_size), hi), w)
    return R


def _check_args(num_scenes, size, max_objects, seed, scale, min_area, threshold) -> None:
    for name, value, least in (("num_scenes", num_scenes, 1), ("size", size, 1), ("seed", seed, 0),
                               ("max_objects", max_objects, 1), ("min_area", min_area, 1)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < least:
            raise ValueError(f"{name} must be a whole number >= {least}, got {value!r}")
    if len(scale) != 2 or not 1 <= scale[0] <= scale[1] <= size:
        raise ValueError(f"scale must be (smallest, largest) article sides with 1 <= smallest <= "
                         f"largest <= size={size}, got {scale!r}; e.g. scale=(16, 32) for size=64")
    if not 0 < threshold < 1:
        raise ValueError(f"threshold is an intensity in (0, 1), got {threshold!r}; e.g. 0.1")


def masks_to_boxes(masks: torch.Tensor) -> torch.Tensor:
    """Tight XYXY boxes (N, 4) float32 around (N, H, W) masks, in pixel edges (x2 = last column + 1);
    an empty mask gets the empty box (0, 0, 0, 0)."""
    if masks.ndim != 3:
        raise ValueError(f"masks must be (N, H, W), got {tuple(masks.shape)}")
    rows, cols = masks.bool().any(2), masks.bool().any(1)  # (N, H), (N, W)
    boxes = torch.zeros(len(masks), 4)
    for k, line in ((0, cols), (1, rows)):
        n = line.shape[1]
        boxes[:, k] = line.float().argmax(1)  # first pixel
        boxes[:, k + 2] = n - line.flip(1).float().argmax(1)  # one past the last pixel
    return boxes * masks.flatten(1).bool().any(1, keepdim=True)


def fit_boxes(image, target: dict) -> tuple:
    """Refit the boxes tightly around the masks and drop instances left with no pixel.

    Geometric transforms move boxes by their corners, so after a rotation or shear a box is loose
    around its mask; put this last in a v2 pipeline: `v2.Compose([v2.RandomAffine(30), fit_boxes])`.
    """
    keep = target["masks"].flatten(1).bool().any(1)  # (uint8 .any() would give uint8)
    target = dict(target)
    target["masks"] = tv_tensors.wrap(target["masks"][keep], like=target["masks"])
    target["labels"] = target["labels"][keep]
    boxes = target["boxes"]
    target["boxes"] = tv_tensors.wrap(masks_to_boxes(target["masks"]), like=boxes)
    return image, target


def collate(batch: list) -> tuple[list, list]:
    """A DataLoader `collate_fn` for detection: (list of images, list of targets), as torchvision's
    detectors take them (scenes may hold different numbers of objects, so targets cannot stack)."""
    images, targets = zip(*batch)
    return list(images), list(targets)


def stack(dataset: FashionScenes) -> tuple[torch.Tensor, torch.Tensor]:
    """All scenes as tensors for segmentation: X float32 (N, 1, H, W) in [0, 1] and semantic int64
    (N, H, W) in 0..10. Renders without `dataset.transforms`: augment batches yourself."""
    if not isinstance(dataset, FashionScenes):
        raise TypeError(f"stack needs a FashionScenes, got {type(dataset).__name__}")
    H = dataset.size
    X = torch.empty(len(dataset), 1, H, H)
    semantic = torch.empty(len(dataset), H, H, dtype=torch.int64)
    for i in range(len(dataset)):
        image, owner, labels = dataset.render(i)
        X[i, 0] = torch.from_numpy(image)
        semantic[i] = torch.from_numpy(np.concatenate([[0], labels])[owner])
    return X, semantic
