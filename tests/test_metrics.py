"""Tests for dlcourse.metrics: COCO-style mAP against pycocotools on the same predictions."""

import contextlib
import io

import numpy as np
import pytest
import torch

from dlcourse import metrics

pycocotools = pytest.importorskip("pycocotools")
from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402


def coco_map(predictions, targets, num_classes=10):
    """(mAP@[.5:.95], mAP@0.5, mAP@0.75) from pycocotools for XYXY predictions and targets."""
    def xywh(b):
        x1, y1, x2, y2 = (float(v) for v in b)
        return [x1, y1, x2 - x1, y2 - y1]

    images, anns, dets = [], [], []
    for i, (p, t) in enumerate(zip(predictions, targets)):
        images.append({"id": i + 1, "width": 96, "height": 96})
        for b, label in zip(t["boxes"], t["labels"]):
            box = xywh(b)
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": int(label), "bbox": box,
                         "area": box[2] * box[3], "iscrowd": 0})
        for b, s, label in zip(p["boxes"], p["scores"], p["labels"]):
            dets.append({"image_id": i + 1, "category_id": int(label), "bbox": xywh(b), "score": float(s)})
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        gt = COCO()
        gt.dataset = {"images": images, "annotations": anns,
                      "categories": [{"id": k} for k in range(1, num_classes + 1)]}
        gt.createIndex()
        dt = gt.loadRes(dets) if dets else COCO()
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats[0], ev.stats[1], ev.stats[2]


def random_boxes(gen, n, size=96.0):
    xy = torch.rand(n, 2, generator=gen) * (size - 10)
    wh = torch.rand(n, 2, generator=gen) * 40 + 2
    return torch.cat([xy, (xy + wh).clamp(max=size)], 1)


def ordered(b):
    """Corners sorted so that x1 <= x2 and y1 <= y2 (jitter may swap them)."""
    return torch.cat([torch.minimum(b[:, :2], b[:, 2:]), torch.maximum(b[:, :2], b[:, 2:])], 1)


def random_case(seed, num_images=12, num_classes=4, ties=False):
    """Ground truth, and detections that are jittered copies (hits) plus random boxes (misses)."""
    gen = torch.Generator().manual_seed(seed)
    predictions, targets = [], []
    for _ in range(num_images):
        m = int(torch.randint(0, 6, (1,), generator=gen))
        gt = random_boxes(gen, m)
        gt_labels = torch.randint(1, num_classes + 1, (m,), generator=gen)
        hits = ordered(gt + torch.randn(m, 4, generator=gen) * 3)
        k = int(torch.randint(0, 8, (1,), generator=gen))
        boxes = torch.cat([hits, hits[: m // 2] + 1.0, random_boxes(gen, k)])
        labels = torch.cat([gt_labels, gt_labels[: m // 2],
                            torch.randint(1, num_classes + 1, (k,), generator=gen)])
        scores = torch.rand(len(boxes), generator=gen)
        if ties:
            scores = (scores * 4).round() / 4  # many equal scores: the order must follow pycocotools
        predictions.append({"boxes": boxes, "scores": scores, "labels": labels})
        targets.append({"boxes": gt, "labels": gt_labels})
    return predictions, targets


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("ties", [False, True])
def test_map_equals_pycocotools_on_random_predictions(seed, ties):
    predictions, targets = random_case(seed, ties=ties)
    ours = metrics.mean_average_precision(predictions, targets)
    theirs = coco_map(predictions, targets)
    assert ours.map == pytest.approx(theirs[0], abs=1e-6)
    assert ours.map50 == pytest.approx(theirs[1], abs=1e-6)
    assert ours.map75 == pytest.approx(theirs[2], abs=1e-6)


def test_map_equals_pycocotools_with_many_detections_per_image():
    # more than 100 detections of one class in an image: both keep the best 100 per image and class
    gen = torch.Generator().manual_seed(7)
    gt = random_boxes(gen, 5)
    boxes = torch.cat([ordered(gt + torch.randn(5, 4, generator=gen)), random_boxes(gen, 150)])
    scores = torch.rand(len(boxes), generator=gen)
    predictions = [{"boxes": boxes, "scores": scores, "labels": torch.ones(len(boxes), dtype=torch.long)}]
    targets = [{"boxes": gt, "labels": torch.ones(5, dtype=torch.long)}]
    ours = metrics.mean_average_precision(predictions, targets)
    theirs = coco_map(predictions, targets, num_classes=1)
    assert (ours.map, ours.map50) == pytest.approx(theirs[:2], abs=1e-6)


def test_perfect_detections_score_one_and_missing_class_scores_zero():
    gen = torch.Generator().manual_seed(0)
    gt = random_boxes(gen, 4)
    targets = [{"boxes": gt, "labels": torch.tensor([1, 1, 2, 3])}]
    perfect = [{"boxes": gt, "scores": torch.ones(4), "labels": torch.tensor([1, 1, 2, 3])}]
    result = metrics.mean_average_precision(perfect, targets)
    assert result.map == pytest.approx(1.0) and result.map50 == pytest.approx(1.0)
    # class 3 never detected: its AP is 0, so the mean over the 3 classes is 2/3
    partial = [{"boxes": gt[:3], "scores": torch.ones(3), "labels": torch.tensor([1, 1, 2])}]
    result = metrics.mean_average_precision(partial, targets)
    assert result.per_class == {1: pytest.approx(1.0), 2: pytest.approx(1.0), 3: 0.0}
    assert result.map50 == pytest.approx(2 / 3)


def test_duplicates_are_false_positives():
    box = torch.tensor([[10.0, 10, 40, 40]])
    targets = [{"boxes": box, "labels": torch.tensor([1])}]
    # the first detection takes the box, the second (a duplicate) is a false positive
    twice = [{"boxes": torch.cat([box, box]), "scores": torch.tensor([0.9, 0.8]),
              "labels": torch.tensor([1, 1])}]
    recall, precision, _ = metrics.precision_recall(twice, targets, label=1)
    assert recall.tolist() == [1.0, 1.0] and precision.tolist() == [1.0, 0.5]
    # a false positive after full recall costs nothing
    assert metrics.mean_average_precision(twice, targets).map50 == pytest.approx(1.0)


def test_match_detections_is_greedy_in_score_order():
    ious = np.array([[0.6, 0.9], [0.95, 0.0]])  # detection 0 (best score) takes gt 1, its best
    assert metrics.match_detections(ious, [0.5]).tolist() == [[True, True]]
    assert metrics.match_detections(ious, [0.92]).tolist() == [[False, True]]


def test_thresholds_are_cocos():
    assert len(metrics.IOU_THRESHOLDS) == 10 and metrics.IOU_THRESHOLDS[0] == 0.5
    assert len(metrics.RECALL_THRESHOLDS) == 101


def test_bad_inputs_say_what_is_expected():
    t = [{"boxes": torch.zeros(1, 4), "labels": torch.tensor([1])}]
    with pytest.raises(ValueError, match="one prediction per image"):
        metrics.mean_average_precision([], t)
    with pytest.raises(KeyError, match="scores"):
        metrics.mean_average_precision([{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0)}], t)
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        metrics.mean_average_precision([{"boxes": torch.zeros(2), "scores": torch.zeros(2),
                                         "labels": torch.zeros(2)}], t)
    with pytest.raises(ValueError, match="x2 >= x1"):
        metrics.mean_average_precision([{"boxes": torch.tensor([[5.0, 5, 1, 9]]), "scores": torch.ones(1),
                                         "labels": torch.ones(1)}], t)
    with pytest.raises(ValueError, match="no ground-truth"):
        metrics.mean_average_precision([{"boxes": torch.zeros(0, 4), "scores": torch.zeros(0),
                                         "labels": torch.zeros(0)}],
                                       [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0)}])


def test_map_equals_pycocotools_on_the_shipped_detector():
    from dlcourse import detectors

    if not detectors.shipped_path().exists():
        pytest.skip("no shipped checkpoint")
    bench = detectors.benchmark_scenes(40)
    images, targets = zip(*(bench[i] for i in range(len(bench))))
    predictions = detectors.detect(detectors.load_scenes_detector(), list(images))
    ours = metrics.mean_average_precision(predictions, list(targets))
    theirs = coco_map(predictions, targets)
    assert (ours.map, ours.map50, ours.map75) == pytest.approx(theirs, abs=1e-6)
    assert 0 < ours.map < ours.map50 <= 1
