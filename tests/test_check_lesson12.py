"""Tests for dlcourse.check.lesson12: right answers pass quietly, wrong ones raise a hint."""

import numpy as np
import pytest
import torch
import torchvision

from dlcourse import detection, metrics
from dlcourse.check import lesson12


def test_checks_are_exported_by_name():
    import dlcourse.check

    for name in lesson12.__all__:
        assert getattr(dlcourse.check, name) is getattr(lesson12, name)


def iou(a, b):
    w = (torch.minimum(a[2], b[2]) - torch.maximum(a[0], b[0])).clamp(min=0)
    h = (torch.minimum(a[3], b[3]) - torch.maximum(a[1], b[1])).clamp(min=0)
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_box_iou_pair():
    lesson12.box_iou_pair(iou)
    lesson12.box_iou_pair(lambda a, b: detection.box_iou(a[None], b[None])[0, 0])  # any numeric type
    lesson12.box_iou_pair(lambda a, b: float(torchvision.ops.box_iou(a[None], b[None])))
    with pytest.raises(AssertionError, match="counts the overlap once"):  # union without - inter
        lesson12.box_iou_pair(lambda a, b: iou(a, b) / (1 + iou(a, b)))
    def no_clamp(a, b):  # separated boxes get a "negative x negative" overlap
        w = torch.minimum(a[2], b[2]) - torch.maximum(a[0], b[0])
        h = torch.minimum(a[3], b[3]) - torch.maximum(a[1], b[1])
        return w * h / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h)

    with pytest.raises(AssertionError, match="clamp"):
        lesson12.box_iou_pair(no_clamp)
    with pytest.raises(AssertionError, match="not answered yet"):
        lesson12.box_iou_pair(None)

    def stub(a, b):
        raise NotImplementedError

    with pytest.raises(AssertionError, match="not answered yet"):
        lesson12.box_iou_pair(stub)


def test_anchor_count():
    lesson12.anchor_count(64 * 40 * 15)
    lesson12.anchor_count(np.int64(38400))
    lesson12.anchor_count(torch.tensor(38400))
    with pytest.raises(AssertionError, match="cells"):
        lesson12.anchor_count(64 * 40)
    with pytest.raises(AssertionError, match="combination"):
        lesson12.anchor_count(64 * 40 * 5)
    with pytest.raises(AssertionError, match="stride"):
        lesson12.anchor_count(1024 * 640 * 15)
    with pytest.raises(AssertionError, match="not answered yet"):
        lesson12.anchor_count(None)


def test_nms_greedy():
    lesson12.nms_greedy(detection.nms)
    lesson12.nms_greedy(torchvision.ops.nms)
    with pytest.raises(AssertionError, match="must go"):  # keeps everything
        lesson12.nms_greedy(lambda boxes, scores, t: torch.arange(len(boxes)))
    with pytest.raises(AssertionError, match="wrong order"):
        lesson12.nms_greedy(lambda boxes, scores, t: detection.nms(boxes, scores, t).sort().values)
    with pytest.raises(AssertionError, match="only with boxes you kept"):  # suppressed boxes suppress
        def sloppy(boxes, scores, t):
            order = scores.argsort(descending=True, stable=True)
            iou = detection.box_iou(boxes[order], boxes[order])
            keep = [i for i in range(len(order)) if not (iou[i, :i] > t).any()]
            return order[keep]
        lesson12.nms_greedy(sloppy)


def test_interpolated_ap():
    lesson12.interpolated_ap(lambda tp, n: metrics._interpolated_precision(np.asarray(tp), n).mean())

    def uninterpolated(tp, num_gt):
        tps = np.cumsum(tp)
        recall, precision = tps / num_gt, tps / np.arange(1, len(tp) + 1)
        idx = np.searchsorted(recall, metrics.RECALL_THRESHOLDS, side="left")
        return np.where(idx < len(tp), precision[np.minimum(idx, len(tp) - 1)], 0).mean()

    with pytest.raises(AssertionError, match="or beyond"):
        lesson12.interpolated_ap(uninterpolated)
    with pytest.raises(AssertionError, match="never reaches"):  # mean precision over the hits only
        lesson12.interpolated_ap(
            lambda tp, n: (np.cumsum(tp) / np.arange(1, len(tp) + 1))[np.asarray(tp)].mean())
    with pytest.raises(AssertionError, match="not answered yet"):
        lesson12.interpolated_ap(...)
