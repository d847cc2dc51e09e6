"""Exercise checks for lesson 12 (object detection): IoU, anchors, NMS, average precision.

Every name in __all__ becomes `dlcourse.check.<name>`; each passes quietly or raises AssertionError
with a hint that guides without giving the answer.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torchvision

from dlcourse.check._common import call, number, require
from dlcourse.metrics import _interpolated_precision

__all__ = ["box_iou_pair", "anchor_count", "nms_greedy", "interpolated_ap"]


def _random_boxes(gen: torch.Generator, n: int) -> torch.Tensor:
    xy = torch.rand(n, 2, generator=gen) * 50
    wh = torch.rand(n, 2, generator=gen) * 30 + 1
    return torch.cat([xy, xy + wh], 1)


def box_iou_pair(fn: Callable) -> None:
    """Check fn(box_a, box_b) -> IoU of two XYXY boxes (4-element tensors), against torchvision."""
    a, b = torch.tensor([10.0, 10, 50, 50]), torch.tensor([30.0, 30, 70, 70])
    got = number(call(fn, a, b, name="my_iou"), "my_iou(a, b)")
    require(abs(got - 400 / 2800) < 1e-5,
            f"my_iou on (10, 10, 50, 50) and (30, 30, 70, 70) gave {got:.4f}: the overlap is a 20x20 "
            "square; divide its area by the area of the union, which counts the overlap once.")
    far = number(call(fn, a, torch.tensor([60.0, 60, 80, 80]), name="my_iou"), "my_iou(a, far)")
    require(abs(far) < 1e-6, f"boxes that do not overlap should give 0, got {far:.4f}: clamp the "
            "width and height of the intersection at zero before multiplying them.")
    gen = torch.Generator().manual_seed(12)
    a, b = _random_boxes(gen, 20), _random_boxes(gen, 20)
    want = torchvision.ops.box_iou(a, b).diagonal()
    for i in range(20):
        got = number(call(fn, a[i], b[i], name="my_iou"), "my_iou")
        require(abs(got - want[i].item()) < 1e-4,
                f"my_iou({a[i].tolist()}, {b[i].tolist()}) gave {got:.4f}, torchvision "
                f"{want[i].item():.4f}: check which corners the intersection takes (max of the "
                "top-left corners, min of the bottom-right ones).")


def anchor_count(value: object) -> None:
    """Check the number of anchors of a 1024x640 image, stride 16, 5 sizes x 3 aspect ratios."""
    got = number(value, "num_anchors")
    cells = (1024 // 16) * (640 // 16)
    require(got != cells, "that is the number of feature-map cells: every cell holds several anchors.")
    require(got != cells * 5 and got != cells * 3, "each cell holds one anchor per size *and* aspect "
            "ratio: every combination of the two.")
    require(got == cells * 15, f"{got:.0f} is not it: first find the feature map's height and width "
            "(the image divided by the stride), then multiply by the anchors per cell.")


def nms_greedy(fn: Callable) -> None:
    """Check fn(boxes (N, 4), scores (N,), iou_threshold) -> kept indices, against torchvision.ops.nms."""
    boxes = torch.tensor([[0.0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]])
    keep = torch.as_tensor(call(fn, boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5, name="my_nms"))
    require(keep.ndim == 1, f"my_nms should return a 1-D tensor of indices, got shape {tuple(keep.shape)}")
    require(keep.tolist() == [0, 2], f"two nearly equal boxes and a distant one: you kept {keep.tolist()}; "
            "the lower-scoring twin overlaps the best box with IoU above 0.5 and must go.")
    gen = torch.Generator().manual_seed(12)
    for threshold in (0.3, 0.5, 0.7):
        boxes = _random_boxes(gen, 60)
        scores = (torch.rand(60, generator=gen) * 5).round() / 5  # ties
        keep = torch.as_tensor(call(fn, boxes, scores, threshold, name="my_nms")).long()
        want = torchvision.ops.nms(boxes, scores, threshold)
        require(set(keep.tolist()) == set(want.tolist()),
                f"at IoU threshold {threshold} you kept {len(keep)} boxes, torchvision {len(want)}: "
                "visit boxes from the best score down, and compare each one only with boxes you kept.")
        require(keep.tolist() == want.tolist(), "the right boxes, in the wrong order: return them "
                "best score first (torch.sort(..., stable=True) keeps equal scores in index order).")


def interpolated_ap(fn: Callable) -> None:
    """Check fn(tp (D,) bools in score order, num_gt) -> COCO's 101-point interpolated AP."""
    def reference(tp: np.ndarray, num_gt: int) -> float:
        return float(_interpolated_precision(tp, num_gt).mean())

    got = number(call(fn, np.array([True, True]), 2, name="my_ap"), "my_ap")
    require(abs(got - 1) < 1e-6, f"two hits for two objects should give AP 1, got {got:.4f}.")
    got = number(call(fn, np.array([True, False]), 2, name="my_ap"), "my_ap")
    require(abs(got - 51 / 101) < 1e-6, f"one hit then a miss, for two objects, gave {got:.4f}: recall "
            "levels the detector never reaches count as precision 0, and the others are all averaged.")
    got = number(call(fn, np.array([False, True]), 1, name="my_ap"), "my_ap")
    require(abs(got - 0.5) < 1e-6, f"a miss then a hit for one object gave {got:.4f}: the precision "
            "at a recall level is the best precision at that recall *or beyond*, so the early miss must "
            "not pull any level down to 0.")
    rng = np.random.default_rng(12)
    for _ in range(10):
        tp = rng.random(30) < 0.5
        num_gt = int(tp.sum()) + int(rng.integers(0, 5))
        got = number(call(fn, tp, num_gt, name="my_ap"), "my_ap")
        require(abs(got - reference(tp, num_gt)) < 1e-6,
                f"your AP {got:.4f} differs from COCO's {reference(tp, num_gt):.4f}: interpolate (at each "
                "recall level take the best precision at that recall or beyond) before averaging.")
