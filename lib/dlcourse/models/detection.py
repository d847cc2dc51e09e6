"""Detection's first steps as models: one object (class + box heads), R-CNN and Fast R-CNN.

    model = Localizer(size=64)                 # classification + localization of one object
    losses = model(images, targets)            # training: {"loss_classifier", "loss_box_reg"}
    outputs = model(images)                    # eval: one detection per image, as torchvision's detectors
    crops = region_samples(train_scenes, ...)  # R-CNN's training set: warped regions, 0 = background
    scores = rcnn_scores(classifier, image, proposals)        # warp every proposal, run the whole CNN
    scores = fast_rcnn_scores(classifier, image, proposals)   # run the CNN once, pool each proposal

The localizer speaks torchvision's detector protocol, so `detectors.train_detector`, `detectors.detect`
and `metrics.mean_average_precision` work on it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import roi_pool

from dlcourse import data, scenes
from dlcourse.detection import as_boxes, box_iou, warp_regions


def _conv_bn(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


def localization_loss(class_logits: torch.Tensor, boxes: torch.Tensor, labels: torch.Tensor,
                      target_boxes: torch.Tensor, size: int, box_weight: float = 5.0) -> dict:
    """The multitask loss of classification + localization: cross-entropy of the class plus
    `box_weight` times the L1 distance of the box corners, measured in canvas sides (0..1)."""
    return {"loss_classifier": F.cross_entropy(class_logits, labels),
            "loss_box_reg": box_weight * F.l1_loss(boxes / size, target_boxes / size)}


class Localizer(nn.Module):
    """Classification + localization: one conv body, two heads (Sermanet et al. 2014, OverFeat,
    arXiv:1312.6229, regress a box beside the class).

    body: three stride-2 conv stages, (B, 1, S, S) -> (B, 2w, S/8, S/8), flattened (the box head
    needs to know *where*, which global pooling would forget); class head: 10 logits; box head: 4
    numbers squashed into the canvas, x1 y1 x2 y2 in pixels. Labels are scenes' 1..10.
    """

    def __init__(self, size: int = 64, width: int = 8, hidden: int = 128, num_classes: int = 10,
                 box_weight: float = 5.0):
        super().__init__()
        if size % 8:
            raise ValueError(f"size must be a multiple of 8 (three stride-2 stages), got {size}")
        self.size, self.box_weight = size, box_weight
        w = width
        self.body = nn.Sequential(*_conv_bn(1, w, 2), *_conv_bn(w, w), *_conv_bn(w, 2 * w, 2),
                                  *_conv_bn(2 * w, 2 * w), *_conv_bn(2 * w, 2 * w, 2), nn.Flatten(),
                                  nn.Linear(2 * w * (size // 8) ** 2, hidden), nn.ReLU(inplace=True))
        self.class_head = nn.Linear(hidden, num_classes)
        self.box_head = nn.Linear(hidden, 4)

    def heads(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 1, S, S) images in [0, 1] -> class logits (B, 10) and boxes (B, 4) in pixels."""
        h = self.body((X - scenes.MEAN) / scenes.STD)  # (B, hidden)
        cx, cy, w, h_ = torch.sigmoid(self.box_head(h)).unbind(1)  # centre and size, in canvas sides
        boxes = torch.stack([cx - w / 2, cy - h_ / 2, cx + w / 2, cy + h_ / 2], 1).clamp(0, 1)
        return self.class_head(h), boxes * self.size

    def forward(self, images, targets: list[dict] | None = None):
        """Training (with targets): the loss dict. Eval: [{"boxes" (1, 4), "labels" (1,), "scores" (1,)}]."""
        X = torch.stack(list(images)) if not isinstance(images, torch.Tensor) else images
        class_logits, boxes = self.heads(X)
        if self.training:
            if targets is None:
                raise ValueError("in training mode the localizer needs targets (boxes and labels); "
                                 "call model.eval() to predict")
            labels = torch.cat([t["labels"][:1] for t in targets]) - 1  # scenes count classes 1..10
            target_boxes = torch.cat([as_boxes(t["boxes"])[:1] for t in targets])
            return localization_loss(class_logits, boxes, labels, target_boxes, self.size, self.box_weight)
        probs = class_logits.softmax(1)
        scores, labels = probs.max(1)
        return [{"boxes": b[None], "labels": (c + 1)[None], "scores": s[None]}
                for b, c, s in zip(boxes, labels, scores)]


# --- R-CNN and Fast R-CNN ------------------------------------------------------------------------

CROP = 28  # R-CNN warps every region to CROP x CROP pixels: the size of a Fashion-MNIST article


@dataclass
class RegionSamples:
    """R-CNN's training set: `crops` (an ImageSet of 28x28 warped regions, label 0 = background) and,
    for each crop, its `boxes` (N, 4) and the index of its `scene` (N,), for Fast R-CNN."""

    crops: data.ImageSet
    boxes: torch.Tensor
    scene: torch.Tensor

    def __len__(self) -> int:
        return len(self.crops)


def region_samples(dataset, num_scenes: int, per_scene: int = 16, seed: int = 0,
                   positive_iou: float = 0.5, negative_iou: float = 0.3) -> RegionSamples:
    """Regions of the first `num_scenes` scenes, warped to 28x28 and labelled as R-CNN labels proposals.

    Per scene: every ground-truth box jittered twice (mostly positives) and `per_scene` random boxes
    (mostly background). A region overlapping an article with IoU >= positive_iou takes its label
    (1..10); one below negative_iou with every article is background (0); those in between are left out.
    """
    gen = torch.Generator().manual_seed(seed)
    crops, labels, kept, index = [], [], [], []
    for i in range(num_scenes):
        image, target = dataset[i]
        gt = as_boxes(target["boxes"])
        wh = (gt[:, 2:] - gt[:, :2]).repeat(2, 2)  # (2M, 4): each box twice, jittered by 10% of its size
        jittered = gt.repeat(2, 1) + torch.randn(len(wh), 4, generator=gen) * 0.1 * wh
        xy = torch.rand(per_scene, 2, generator=gen) * dataset.size * 0.8
        side = torch.rand(per_scene, 2, generator=gen) * 40 + 8
        boxes = torch.cat([jittered, torch.cat([xy, xy + side], 1)]).clamp(0, dataset.size)
        boxes = boxes[(boxes[:, 2] - boxes[:, 0] >= 4) & (boxes[:, 3] - boxes[:, 1] >= 4)]
        best, which = box_iou(boxes, gt).max(1)
        use = (best >= positive_iou) | (best < negative_iou)
        crops.append(warp_regions(image, boxes[use], CROP))
        labels.append(torch.where(best >= positive_iou, target["labels"][which], 0)[use])
        kept.append(boxes[use])
        index.append(torch.full((int(use.sum()),), i))
    X = (torch.cat(crops).clamp(0, 1) * 255).round().to(torch.uint8)  # (N, 1, 28, 28)
    crops = data.ImageSet(X, torch.cat(labels), classes=scenes.CLASSES, source="scene regions")
    return RegionSamples(crops, torch.cat(kept), torch.cat(index))


def _normalize(X: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1] -> standardized as `data.TensorLoader` feeds `region_samples` in training."""
    return (X - data.FASHION_MEAN) / data.FASHION_STD


@torch.no_grad()
def rcnn_scores(classifier: nn.Module, image: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """R-CNN (Girshick et al. 2014, arXiv:1311.2524): warp each region to 28x28 and run the whole
    classifier on every crop. (N, 11) class probabilities, column 0 = background."""
    device = next(classifier.parameters()).device
    crops = warp_regions(image.cpu(), boxes, CROP).to(device)  # (N, 1, 28, 28)
    return classifier(_normalize(crops)).softmax(1).cpu()


@torch.no_grad()
def fast_rcnn_scores(classifier: nn.Module, image: torch.Tensor, boxes: torch.Tensor,
                     head: nn.Module | None = None) -> torch.Tensor:
    """Fast R-CNN (Girshick 2015, arXiv:1504.08083): run the convolutional blocks of a `course_cnn`
    classifier once on the whole image, max-pool each region's part of the feature map to 7x7
    (`roi_pool`), and run only the head (`classifier.head`, or `head`) per region. (N, 11) class
    probabilities."""
    device = next(classifier.parameters()).device
    features = _shared_features(classifier, image[None].to(device))  # (1, C, H/4, W/4): once per image
    rois = torch.cat([torch.zeros(len(boxes), 1), as_boxes(boxes)], 1).to(device)  # (N, 5): image 0
    pooled = roi_pool(features, rois, output_size=(7, 7), spatial_scale=0.25)  # (N, C, 7, 7)
    return (head if head is not None else classifier.head)(pooled).softmax(1).cpu()


def _shared_features(classifier: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The convolutional blocks of a `course_cnn` on whole scenes: (B, 1, H, W) -> (B, C, H/4, W/4)."""
    return classifier.block2(classifier.block1(_normalize(images)))


@torch.no_grad()
def pooled_features(classifier: nn.Module, dataset, samples: RegionSamples) -> torch.Tensor:
    """Fast R-CNN's view of R-CNN's training regions: each region max-pooled to 7x7 from the shared
    feature map of its scene, (N, C, 7, 7); train a head on them to use it with `fast_rcnn_scores`."""
    device = next(classifier.parameters()).device
    images = torch.stack([dataset[i][0] for i in range(int(samples.scene.max()) + 1)]).to(device)
    features = _shared_features(classifier, images)  # (S, C, H/4, W/4): once per scene
    rois = torch.cat([samples.scene[:, None].float(), samples.boxes], 1).to(device)  # (N, 5)
    return roi_pool(features, rois, output_size=(7, 7), spatial_scale=0.25)


def detections_from_scores(boxes: torch.Tensor, probs: torch.Tensor, score_threshold: float = 0.5,
                           iou_threshold: float = 0.3) -> dict:
    """Regions classified as an article (best non-background probability >= score_threshold), then
    per-class NMS: {"boxes", "labels", "scores"} like a detector's output."""
    from dlcourse.detection import batched_nms

    scores, labels = probs[:, 1:].max(1)
    labels = labels + 1
    keep = torch.nonzero(scores >= score_threshold).flatten()
    keep = keep[batched_nms(boxes[keep], scores[keep], labels[keep], iou_threshold)]
    return {"boxes": as_boxes(boxes)[keep], "labels": labels[keep], "scores": scores[keep]}
