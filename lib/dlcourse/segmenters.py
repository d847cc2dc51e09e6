"""Training and evaluating segmenters on the Fashion-MNIST scenes, and the segmenters the course ships.

A segmenter is a classifier of pixels, so `dlcourse.train.fit` trains it unchanged: `per_pixel(model)`
presents the (B, K, H, W) scores as (B*H*W, K) rows and `SceneLoader` yields the matching (B*H*W,)
labels; fit's loss is then the mean cross-entropy per pixel and its accuracy the pixel accuracy.

    X, semantic = scenes.stack(scenes.FashionScenes("train", 2000))   # (N, 1, 96, 96) in [0, 1], (N, 96, 96)
    model = models.segmentation.unet()
    train.fit(per_pixel(model), SceneLoader(X, semantic, flip=True), num_epochs=5, lr=3e-3, optimizer="adamw")
    cm = confusion(model, X_test, semantic_test)            # then dlcourse.metrics.mean_iou(cm)

Every function here takes images as `scenes.stack` gives them (in [0, 1]) and normalizes them itself.
`REGISTRY` lists the shipped checkpoints (data/checkpoints/scenes_*.pt, trained by
`scripts/train_checkpoints.py --segmenters` with `train_segmenter`); `load_segmenter` loads them.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from dlcourse import config, metrics, scenes
from dlcourse.models import segmentation as seg_models
from dlcourse.serialize import load_checkpoint, recorded_sha256, sha256_file

MASKRCNN = "scenes_maskrcnn"  # lesson 12's shipped Mask R-CNN (dlcourse.detectors.load_scenes_detector)


def normalize(X: torch.Tensor) -> torch.Tensor:
    """Scene images in [0, 1] -> standardized with the scenes' pixel statistics."""
    return (X - scenes.MEAN) / scenes.STD


def _check_pair(X: torch.Tensor, semantic: torch.Tensor) -> None:
    if X.ndim != 4 or X.shape[1] != 1 or semantic.shape != (X.shape[0], *X.shape[2:]):
        raise ValueError(f"need images X (N, 1, H, W) and label maps (N, H, W) of the same N, H, W, got "
                         f"{tuple(X.shape)} and {tuple(semantic.shape)}; scenes.stack(dataset) gives both")
    if semantic.is_floating_point():
        raise ValueError("label maps must hold integer class values (0 = background), got floats")


class SceneLoader:
    """Batches (X (B, 1, H, W) normalized, y (B*H*W,) pixel labels) from scenes held on the device.

    flip=True mirrors a random half of each batch, images and label maps together.
    """

    def __init__(self, X: torch.Tensor, semantic: torch.Tensor, batch_size: int = 32, shuffle: bool = True,
                 flip: bool = False, drop_last: bool | None = None, device=None, seed: int = 0):
        _check_pair(X, semantic)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.device = torch.device(device) if device is not None else config.get_device()
        self.X, self.y = normalize(X.float()).to(self.device), semantic.long().to(self.device)
        self.batch_size, self.shuffle, self.flip = batch_size, shuffle, flip
        self.drop_last = shuffle if drop_last is None else drop_last  # static shapes while training
        self.generator = torch.Generator(device=self.device).manual_seed(seed)

    def __len__(self) -> int:
        n, b = len(self.X), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self):
        n = len(self.X)
        order = (torch.randperm(n, generator=self.generator, device=self.device) if self.shuffle
                 else torch.arange(n, device=self.device))
        for i in range(len(self)):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            X, y = self.X[idx], self.y[idx]  # (B, 1, H, W), (B, H, W)
            if self.flip:
                flip = torch.rand(len(idx), generator=self.generator, device=self.device) < 0.5
                X = torch.where(flip[:, None, None, None], X.flip(-1), X)
                y = torch.where(flip[:, None, None], y.flip(-1), y)
            yield X, y.reshape(-1)  # one label per pixel, in the order PerPixel gives the scores


class PerPixel(nn.Module):
    """A segmenter seen as a classifier of pixels: scores (B, K, H, W) -> (B*H*W, K), one row a pixel."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        scores = self.model(X)  # (B, K, H, W)
        return scores.permute(0, 2, 3, 1).reshape(-1, scores.shape[1])  # (B*H*W, K)


def per_pixel(model: nn.Module) -> PerPixel:
    """Wrap a segmenter for `train.fit` (it shares the segmenter's parameters: training one trains both)."""
    return PerPixel(model)


@torch.no_grad()
def predict(model: nn.Module, X: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """Label maps (N, H, W) int64 on the CPU: the argmax of `model`'s scores for images X in [0, 1]."""
    if X.ndim != 4:
        raise ValueError(f"X must be images (N, C, H, W) in [0, 1], got {tuple(X.shape)}")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    maps = [model(normalize(X[i:i + batch_size].float()).to(device)).argmax(1).cpu()
            for i in range(0, len(X), batch_size)]
    model.train(was_training)
    return torch.cat(maps)


def confusion(model: nn.Module, X: torch.Tensor, semantic: torch.Tensor,
              num_classes: int = scenes.NUM_CLASSES, batch_size: int = 64) -> torch.Tensor:
    """The pixel confusion matrix (num_classes, num_classes) of `model` on images X and label maps."""
    _check_pair(X, semantic)
    return metrics.confusion_matrix(predict(model, X, batch_size), semantic, num_classes)


@dataclass(frozen=True)
class SegmenterSpec:
    """One shipped segmenter: its checkpoint, the factory that rebuilds it, and its checksum."""

    name: str
    sha256: str
    factory: Callable[..., nn.Module]
    kwargs: dict = field(default_factory=dict)
    description: str = ""

    @property
    def path(self):
        """data/checkpoints/<name>.pt"""
        return config.CHECKPOINT_DIR / f"{self.name}.pt"


REGISTRY: dict[str, SegmenterSpec] = {spec.name: spec for spec in (
    SegmenterSpec("scenes_fcn", "", seg_models.fcn, {"width": 16, "skips": "8s"},
                  "FCN-8s, width 16, trained on Fashion-MNIST scenes"),
    SegmenterSpec("scenes_unet", "", seg_models.unet, {"width": 16, "depth": 3},
                  "U-Net, width 16, depth 3, trained on Fashion-MNIST scenes"),
    SegmenterSpec("scenes_hourglass", "", seg_models.hourglass, {"width": 32, "depth": 3},
                  "one-stack hourglass, width 32, depth 3, trained on Fashion-MNIST scenes"),
)}

# How the shipped segmenters were trained (full) and the notebook's fast stand-in.
RECIPE = dict(num_train=1600, num_test=500, num_epochs=3, batch_size=16, lr=3e-3, weight_decay=1e-4)
FAST_RECIPE = dict(num_train=128, num_test=200, num_epochs=2, batch_size=32, lr=3e-3, weight_decay=1e-4)


def get_spec(name: str) -> SegmenterSpec:
    """The registry entry for `name`, or a KeyError listing the known ones."""
    if name not in REGISTRY:
        raise KeyError(f"no shipped segmenter called {name!r}; known: {sorted(REGISTRY)}")
    return REGISTRY[name]


def train_segmenter(name: str, fast: bool = False, seed: int = 0, device=None, progress: bool = False
                    ) -> tuple[nn.Module, dict]:
    """Train segmenter `name` with the course's recipe (AdamW, one-cycle, flips); return it and its facts.

    Full: RECIPE on scenes of the full Fashion-MNIST (train articles for training, test articles for
    the test scenes); fast: FAST_RECIPE on the bundled subset (a quick stand-in, not the real one).
    """
    spec, r = get_spec(name), FAST_RECIPE if fast else RECIPE
    config.set_seed(seed)
    device = torch.device(device) if device is not None else config.get_device()
    train_scenes = scenes.FashionScenes("train", r["num_train"], seed=seed)  # full set unless fast mode
    X, semantic = scenes.stack(train_scenes)
    X_test, semantic_test = scenes.stack(scenes.FashionScenes("test", r["num_test"], seed=seed))
    loader = SceneLoader(X, semantic, r["batch_size"], flip=True, device=device, seed=seed)
    model = spec.factory(**spec.kwargs).to(device)
    from dlcourse import train  # train imports heavy optional parts; keep this module light

    wall, cpu = time.perf_counter(), time.process_time()
    history = train.fit(per_pixel(model), loader, num_epochs=r["num_epochs"], lr=r["lr"], optimizer="adamw",
                        weight_decay=r["weight_decay"], progress=progress, device=device)
    if history.interrupted:  # fit returns on Ctrl-C; a part-trained segmenter must not be saved
        raise KeyboardInterrupt(f"training {name} was interrupted after {len(history)} epoch(s)")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    cm = confusion(model, X_test, semantic_test)
    facts = dict(train_seconds=round(wall, 1), cpu_seconds=round(cpu, 1), threads=torch.get_num_threads(),
                 device=str(device), date=datetime.date.today().isoformat(), num_train=r["num_train"],
                 num_test=r["num_test"], num_epochs=r["num_epochs"], seed=seed,
                 articles=train_scenes.images.source, final_train_loss=float(history.train_loss[-1]),
                 test_pixel_acc=float(metrics.pixel_accuracy(cm)), test_miou=float(metrics.mean_iou(cm)))
    return model.cpu().eval(), facts


def load_segmenter(name: str, train_if_missing: bool = True) -> tuple[nn.Module, dict]:
    """Shipped segmenter `name` in eval mode (checksum verified, tensors only) and the facts stored with
    it (training seconds, test mIoU, recipe, device, date). When the file is absent it trains a fast
    stand-in and says so (its facts are the stand-in's)."""
    spec = get_spec(name)
    if not spec.path.exists():
        if not train_if_missing:
            raise FileNotFoundError(f"{spec.path} is missing; run `python scripts/train_checkpoints.py "
                                    f"--segmenters --only {name}`")
        print(f"{spec.path.name} not found: training a quick stand-in for {name!r} instead (fast recipe, "
              "far from the shipped model). Run scripts/train_checkpoints.py --segmenters to rebuild it.")
        return train_segmenter(name, fast=True)
    model = spec.factory(**spec.kwargs)
    facts = load_checkpoint(spec.path, model, sha256=expected_sha256(name))
    return model.eval(), facts


def expected_sha256(name: str) -> str:
    """The recorded SHA-256: the registry's, else the `<name>.sha256` file beside the weights."""
    spec = get_spec(name)
    rebuild = f"python scripts/train_checkpoints.py --segmenters --only {name}"
    return recorded_sha256(spec.path, spec.sha256, rebuild)


def verify(name: str) -> str:
    """Check shipped segmenter `name` against its recorded SHA-256; return the checksum."""
    actual = sha256_file(get_spec(name).path)
    if actual != expected_sha256(name):
        raise ValueError(f"{name}: SHA-256 {actual[:16]}... differs from the recorded one; restore the file "
                         "with git checkout or rebuild it: scripts/train_checkpoints.py --segmenters")
    return actual


def load_maskrcnn() -> nn.Module | None:
    """Lesson 12's shipped Mask R-CNN for the scenes (eval mode, checksum verified), or None with a
    message when lesson 12's `dlcourse.detectors` or its checkpoint data/checkpoints/scenes_maskrcnn.pt
    is absent. It takes scene images (1, H, W) in [0, 1] and returns torchvision's output dicts."""
    try:
        from dlcourse import detectors
    except ImportError:
        detectors = None
    if detectors is None or not detectors.shipped_path().exists():
        print(f"Mask R-CNN checkpoint {MASKRCNN!r} not found (lesson 12 trains and ships it as "
              f"data/checkpoints/{MASKRCNN}.pt): skipping its instance masks; the rest of the lesson runs.")
        return None
    return detectors.load_scenes_detector()
