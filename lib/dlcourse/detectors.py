"""Detectors for Fashion-MNIST scenes, from scratch: a small backbone, Faster and Mask R-CNN, training.

    model = detectors.mask_rcnn()                       # torchvision's Mask R-CNN on a small backbone
    history = detectors.train_detector(model, train_loader, num_steps=200, lr=0.02)
    outputs = detectors.detect(model, images)           # eval-mode outputs, one dict per image
    scores = detectors.evaluate_detector(model, detectors.benchmark_scenes())   # COCO-style mAP
    model = detectors.load_scenes_detector()            # the shipped, checksum-verified Mask R-CNN

No pretrained weights anywhere: every network here starts from random numbers. The detectors keep
the canvas at its size (min_size = max_size = 96: no resizing) and normalize it themselves with
`scenes.MEAN`/`scenes.STD`, so they take the scenes' images in [0, 1] as they come.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torchvision.models.detection import FasterRCNN, MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.ops import MultiScaleRoIAlign

from dlcourse import config, scenes
from dlcourse.metrics import DetectionScores, mean_average_precision

CANVAS = 96  # scene side in pixels: the detectors neither shrink nor enlarge it
ANCHOR_SIZES = (16, 32, 48)  # pixels: square-root of the anchor area, for the 20-48 px articles
ASPECT_RATIOS = (0.5, 1.0, 2.0)  # height / width: wide bags and shoes, square tops, tall trousers
STRIDE = 8  # pixels of canvas per cell of the backbone's feature map (96 -> 12x12)
SHIPPED = "scenes_maskrcnn"  # data/checkpoints/<SHIPPED>.pt, built by scripts/train_checkpoints.py
SHIPPED_SHA256 = "d762719ad6dd572264eb94c0b0b157bf9423eaf05544e90603f1d42ea3e23e72"  # = the .sha256 sidecar


def _conv_bn(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


def scenes_backbone(width: int = 32) -> nn.Sequential:
    """A small VGG-style backbone for 96x96 scenes: three stride-2 stages, (B, 1, 96, 96) ->
    (B, 2 * width, 12, 12); receptive field 43 px, about the largest article.

    3x3 conv-BN-ReLU pairs as in VGG (Simonyan & Zisserman 2015, arXiv:1409.1556); torchvision's
    detectors read its `out_channels`.
    """
    w = width
    model = nn.Sequential(OrderedDict(
        stage1=nn.Sequential(*_conv_bn(1, w // 2, 2), *_conv_bn(w // 2, w)),  # (B, w, 48, 48)
        stage2=nn.Sequential(*_conv_bn(w, w, 2), *_conv_bn(w, 2 * w)),  # (B, 2w, 24, 24)
        stage3=nn.Sequential(*_conv_bn(2 * w, 2 * w, 2), *_conv_bn(2 * w, 2 * w)),  # (B, 2w, 12, 12)
    ))
    model.out_channels = 2 * w
    return model


def anchor_generator(sizes=ANCHOR_SIZES, aspect_ratios=ASPECT_RATIOS) -> AnchorGenerator:
    """torchvision's AnchorGenerator for one feature map: len(sizes) * len(ratios) anchors per cell."""
    return AnchorGenerator((tuple(sizes),), (tuple(aspect_ratios),))


def _detector_kwargs(width: int, representation: int) -> dict:
    """What Faster and Mask R-CNN share: canvas size, normalization, anchors, box head, sampling."""
    channels = 2 * width
    return dict(
        min_size=CANVAS, max_size=CANVAS, image_mean=[scenes.MEAN], image_std=[scenes.STD],
        rpn_anchor_generator=anchor_generator(),
        box_roi_pool=MultiScaleRoIAlign(["0"], output_size=7, sampling_ratio=2),
        box_head=TwoMLPHead(channels * 7 * 7, representation),
        box_predictor=FastRCNNPredictor(representation, scenes.NUM_CLASSES),
        # a scene holds at most 5 articles: far fewer proposals and samples than COCO's defaults
        rpn_pre_nms_top_n_train=300, rpn_post_nms_top_n_train=150,
        rpn_pre_nms_top_n_test=300, rpn_post_nms_top_n_test=100,
        rpn_batch_size_per_image=128, box_batch_size_per_image=64, box_detections_per_img=20)


def faster_rcnn(width: int = 32, representation: int = 128) -> FasterRCNN:
    """Faster R-CNN (Ren et al. 2015, arXiv:1506.01497) for the scenes: RPN + RoIAlign + box head on
    `scenes_backbone(width)`, 11 classes (background + 10), randomly initialized."""
    return FasterRCNN(scenes_backbone(width), num_classes=None, **_detector_kwargs(width, representation))


def mask_rcnn(width: int = 32, representation: int = 128, mask_channels: int = 32) -> MaskRCNN:
    """Mask R-CNN (He et al. 2017, arXiv:1703.06870) for the scenes: Faster R-CNN plus a small mask
    head (two 3x3 convs on 14x14 RoIAlign features, 28x28 mask per class), randomly initialized."""
    channels = 2 * width
    return MaskRCNN(
        scenes_backbone(width), num_classes=None, **_detector_kwargs(width, representation),
        mask_roi_pool=MultiScaleRoIAlign(["0"], output_size=14, sampling_ratio=2),
        mask_head=MaskRCNNHeads(channels, (mask_channels, mask_channels), 1),
        mask_predictor=MaskRCNNPredictor(mask_channels, mask_channels, scenes.NUM_CLASSES))


def _targets(targets: list[dict], device, masks: bool) -> list[dict]:
    keys = ("boxes", "labels", "masks") if masks else ("boxes", "labels")
    return [{k: t[k].to(device) for k in keys} for t in targets]


@dataclass
class DetectorHistory:
    """Per-step training losses of a detector: `losses[name]` lists one float per step."""

    losses: dict = field(default_factory=dict)
    seconds: float = 0.0  # wall-clock
    cpu_seconds: float = 0.0  # CPU time of this process (all threads): a loaded machine can't inflate it

    @property
    def total(self) -> list[float]:
        """The summed loss of every step."""
        return [sum(v) for v in zip(*self.losses.values())]

    def __len__(self) -> int:
        return len(self.total)


def _warmup_cosine(step: int, warmup: int, total: int) -> float:
    """The learning-rate factor: linear from 1/warmup to 1, then half a cosine down to 0."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / (total - warmup)))


def train_detector(model: nn.Module, train_loader, num_steps: int, lr: float = 0.02,
                   weight_decay: float = 1e-4, warmup: int = 100, device=None,
                   log_every: int = 0) -> DetectorHistory:
    """Train a torchvision-style detector for `num_steps` steps: SGD with Nesterov momentum 0.9,
    linear warm-up for `warmup` steps, then cosine decay to zero.

    The loop is `fit`'s (forward, loss, backward, step), but a detector takes (images, targets) and
    returns a dict of losses (RPN objectness and box, classifier, box regression, mask), which are
    summed. `train_loader` yields (list of images, list of targets), e.g. a DataLoader with
    `collate_fn=scenes.collate`; it is cycled if shorter than `num_steps`.
    """
    if num_steps < 1 or lr <= 0:
        raise ValueError(f"need num_steps >= 1 and lr > 0, got num_steps={num_steps}, lr={lr}")
    device = torch.device(device) if device is not None else config.get_device()
    model.to(device).train()
    masks = hasattr(model, "roi_heads") and model.roi_heads.has_mask()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True,
                          weight_decay=weight_decay)
    warmup = min(warmup, num_steps // 2)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _warmup_cosine(s, warmup, num_steps))
    history, start, cpu_start, step = DetectorHistory(), time.perf_counter(), time.process_time(), 0
    while step < num_steps:
        for images, targets in train_loader:
            # forward
            losses = model([x.to(device) for x in images], _targets(targets, device, masks))
            loss = sum(losses.values())
            if not torch.isfinite(loss):
                raise FloatingPointError(f"the loss became {loss.item()} at step {step} "
                                         f"({ {k: round(v.item(), 3) for k, v in losses.items()} }): "
                                         f"lower lr={lr} or lengthen the warm-up")
            # backward and update
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            for k, v in losses.items():
                history.losses.setdefault(k, []).append(v.item())
            step += 1
            if log_every and (step % log_every == 0 or step == num_steps):
                print(f"step {step}/{num_steps}  loss {loss.item():.3f}  lr {sched.get_last_lr()[0]:.4f}  "
                      f"{time.perf_counter() - start:.0f} s", flush=True)
            if step == num_steps:
                break
    history.seconds = time.perf_counter() - start
    history.cpu_seconds = time.process_time() - cpu_start
    return history


@torch.no_grad()
def detect(model: nn.Module, images: list, batch_size: int = 32) -> list[dict]:
    """Eval-mode outputs of a detector for a list of (1, H, W) images, on the CPU: one dict per image
    with "boxes" (N, 4) XYXY, "labels", "scores" and, for Mask R-CNN, "masks" (N, 1, H, W)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    outputs = []
    for i in range(0, len(images), batch_size):
        batch = [torch.as_tensor(x).to(device) for x in images[i:i + batch_size]]
        outputs += [{k: v.cpu() for k, v in out.items()} for out in model(batch)]
    model.train(was_training)
    return outputs


def benchmark_scenes(num_scenes: int = 200) -> scenes.FashionScenes:
    """The fixed test scenes on which the course measures detectors: the bundled test subset's
    articles (never seen in training), seed 12, the same on every machine and in every mode."""
    from dlcourse.data import load_bundled_subset

    return scenes.FashionScenes(load_bundled_subset("test"), num_scenes, seed=12)


def evaluate_detector(model: nn.Module, dataset, num_scenes: int | None = None) -> DetectionScores:
    """COCO-style box mAP (`metrics.mean_average_precision`) of `model` on the first `num_scenes`
    scenes of `dataset` (all by default)."""
    n = len(dataset) if num_scenes is None else min(num_scenes, len(dataset))
    images, targets = zip(*(dataset[i] for i in range(n)))
    return mean_average_precision(detect(model, list(images)), list(targets))


# --- the shipped checkpoint -----------------------------------------------------------------------


def shipped_path() -> Path:
    """data/checkpoints/scenes_maskrcnn.pt."""
    return config.CHECKPOINT_DIR / f"{SHIPPED}.pt"


def load_scenes_detector(path: str | Path | None = None) -> MaskRCNN:
    """The shipped Mask R-CNN for the scenes, checksum verified, weights only, in eval mode on the CPU.

    Its metadata (`load_scenes_detector_meta()`) holds how it was trained and its benchmark mAP.
    """
    from dlcourse.serialize import load_checkpoint

    path = Path(path) if path is not None else shipped_path()
    model = mask_rcnn(**RECIPE["model"])
    load_checkpoint(path, model, sha256=_expected_sha256())
    return model.eval()


def load_scenes_detector_meta(path: str | Path | None = None) -> dict:
    """What the shipped checkpoint records: mAPs on `benchmark_scenes()`, device, date, seconds."""
    from dlcourse.serialize import load_checkpoint

    path = Path(path) if path is not None else shipped_path()
    return load_checkpoint(path, sha256=_expected_sha256())


def _expected_sha256() -> str:
    """The recorded SHA-256 of the shipped checkpoint (SHIPPED_SHA256, else its sidecar)."""
    from dlcourse.serialize import recorded_sha256

    rebuild = f"python scripts/train_checkpoints.py --only {SHIPPED}"
    return recorded_sha256(shipped_path(), SHIPPED_SHA256, rebuild)


# how the shipped checkpoint is trained (scripts/train_checkpoints.py --only scenes_maskrcnn); 1200
# steps fit a shared 2-core CPU in well under an hour (a GPU would afford more, but none was at hand)
RECIPE = dict(model=dict(width=32, representation=128, mask_channels=32), num_scenes=40000,
              num_steps=1200, batch_size=8, lr=0.02, warmup=100)


def train_scenes_detector(fast: bool = False, seed: int = 0, device=None,
                          log_every: int = 100) -> tuple[MaskRCNN, dict]:
    """Train the shipped Mask R-CNN from scratch (full mode: `RECIPE` on the full training images);
    return the model on the CPU and its measured facts, mAPs on `benchmark_scenes()` included.

    Fast mode (a stand-in, not the real one): the bundled subset and 50 steps.
    """
    from torch.utils.data import DataLoader
    from torchvision.transforms import v2

    config.set_seed(seed)
    r = RECIPE
    device = torch.device(device) if device is not None else config.get_device()
    train_set = scenes.FashionScenes("train", 2000 if fast else r["num_scenes"], seed=seed,
                                     transforms=v2.RandomHorizontalFlip())
    loader = DataLoader(train_set, batch_size=r["batch_size"], shuffle=True, collate_fn=scenes.collate,
                        generator=torch.Generator().manual_seed(seed))
    model = mask_rcnn(**r["model"])
    history = train_detector(model, loader, num_steps=50 if fast else r["num_steps"], lr=r["lr"],
                             warmup=r["warmup"], device=device, log_every=log_every)
    model.cpu().eval()
    scores = evaluate_detector(model, benchmark_scenes())
    curve = history.total
    facts = dict(map=round(scores.map, 4), map50=round(scores.map50, 4), map75=round(scores.map75, 4),
                 train_seconds=round(history.seconds, 1), train_cpu_seconds=round(history.cpu_seconds, 1),
                 num_steps=len(history),
                 train_scenes=len(train_set), train_images=len(train_set.images),
                 benchmark_scenes=len(benchmark_scenes()), seed=seed,
                 first_loss=round(sum(curve[:50]) / len(curve[:50]), 4),
                 final_loss=round(sum(curve[-50:]) / len(curve[-50:]), 4),
                 loss_curve=" ".join(f"{sum(curve[i:i + 250]) / len(curve[i:i + 250]):.3f}"
                                     for i in range(0, len(curve), 250)))  # mean of every 250 steps
    return model, facts
