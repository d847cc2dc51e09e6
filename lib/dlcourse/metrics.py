"""Evaluation metrics for the vision lessons.

Detection (lesson 12): COCO-style average precision, the numbers detection papers report.
`mean_average_precision(predictions, targets)` gives mAP@0.5 and mAP@[.5:.95]; it follows
pycocotools' COCOeval step for step (greedy matching in score order, 101-point interpolated
precision, per class then averaged) and agrees with it to 1e-6 (tests/test_metrics.py).

Segmentation (lesson 13): everything comes from one pixel confusion matrix, summed over a whole test
set (not averaged per image), as PASCAL VOC and Cityscapes score:

    cm = confusion_matrix(y_hat, y, num_classes=11)    # cm[true, predicted] = number of pixels
    pixel_accuracy(cm)    # correct pixels / all pixels: flattered by a large background
    iou_per_class(cm)     # TP / (TP + FP + FN) per class: NaN for a class in neither truth nor prediction
    mean_iou(cm)          # the mean over the classes that are not NaN

A class that appears nowhere, neither in the labels nor in the predictions, has no IoU (0/0) and is left
out of the mean; a class that is predicted but absent from the labels scores 0 and counts. This is the
standard (torchmetrics' MulticlassJaccardIndex with average="macro" does the same).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

# ---------------------------------------------------------------------------------------------------
# Detection: COCO-style average precision
# ---------------------------------------------------------------------------------------------------

# as pycocotools builds them (np.arange would drift by rounding): 0.50, 0.55, ..., 0.95 and 0, 0.01, .., 1
IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1)
RECALL_THRESHOLDS = np.linspace(0.0, 1.0, int(np.round(1.0 / 0.01)) + 1)


@dataclass
class DetectionScores:
    """COCO-style average precision of a detector over a set of images.

    map: mAP@[.5:.95], the mean over classes of AP averaged over the IoU thresholds 0.50..0.95.
    map50 / map75: mAP at IoU 0.5 (PASCAL VOC's metric) and at 0.75.
    per_class: {label: AP@[.5:.95]} for every class that has ground truth.
    per_class50: {label: AP@0.5}.
    """

    map: float
    map50: float
    map75: float
    per_class: dict
    per_class50: dict

    def __repr__(self) -> str:
        return f"DetectionScores(mAP@[.5:.95]={self.map:.4f}, mAP@0.5={self.map50:.4f}, " \
               f"mAP@0.75={self.map75:.4f}, {len(self.per_class)} classes)"


def _as_numpy(value, name: str, shape_tail: tuple = ()) -> np.ndarray:
    array = torch.as_tensor(value).detach().cpu().double().numpy() if not isinstance(value, np.ndarray) \
        else value.astype(np.float64)
    if array.ndim != 1 + len(shape_tail) or array.shape[1:] != shape_tail:
        want = "(N, 4) XYXY boxes" if shape_tail else "(N,) values"
        raise ValueError(f"{name} must be {want}, got shape {array.shape}")
    if shape_tail and ((array[:, 2] < array[:, 0]) | (array[:, 3] < array[:, 1])).any():
        raise ValueError(f"{name} must be XYXY with x2 >= x1 and y2 >= y1; convert (x, y, w, h) boxes "
                         "with torchvision.ops.box_convert(boxes, 'xywh', 'xyxy')")
    return array


def _check_inputs(predictions, targets) -> tuple[list, list]:
    if len(predictions) != len(targets):
        raise ValueError(f"one prediction per image is needed: got {len(predictions)} predictions for "
                         f"{len(targets)} targets (an image with no detections gets empty tensors)")
    preds, gts = [], []
    for i, (p, t) in enumerate(zip(predictions, targets)):
        for d, keys, what in ((p, ("boxes", "scores", "labels"), "prediction"),
                              (t, ("boxes", "labels"), "target")):
            missing = [k for k in keys if k not in d]
            if missing:
                raise KeyError(f"{what} {i} has no {missing}: a {what} is a dict with keys {keys}, "
                               "as torchvision's detectors return and FashionScenes gives")
        boxes = _as_numpy(p["boxes"], f"predictions[{i}]['boxes']", (4,))
        scores = _as_numpy(p["scores"], f"predictions[{i}]['scores']")
        labels = _as_numpy(p["labels"], f"predictions[{i}]['labels']").astype(np.int64)
        if not len(boxes) == len(scores) == len(labels):
            raise ValueError(f"predictions[{i}] has {len(boxes)} boxes, {len(scores)} scores and "
                             f"{len(labels)} labels: one of each per detection")
        gt_boxes = _as_numpy(t["boxes"], f"targets[{i}]['boxes']", (4,))
        gt_labels = _as_numpy(t["labels"], f"targets[{i}]['labels']").astype(np.int64)
        if len(gt_boxes) != len(gt_labels):
            raise ValueError(f"targets[{i}] has {len(gt_boxes)} boxes but {len(gt_labels)} labels")
        preds.append((boxes, scores, labels))
        gts.append((gt_boxes, gt_labels))
    return preds, gts


def _iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(D, G) IoU of XYXY boxes in float64, computed as pycocotools does (no overlap -> 0)."""
    w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.where((w > 0) & (h > 0), w * h, 0.0)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(inter > 0, inter / union, 0.0)


def match_detections(ious: np.ndarray, thresholds=IOU_THRESHOLDS) -> np.ndarray:
    """Greedy COCO matching: (T, D) bool, True where detection d (in score order) is a true positive.

    Each detection, best score first, takes the unmatched ground-truth box it overlaps most, if that
    IoU reaches the threshold; a ground-truth box is matched at most once (duplicates are false
    positives). `ious` is (D, G) with rows in score order.
    """
    D, G = ious.shape
    tp = np.zeros((len(thresholds), D), bool)
    for ti, t in enumerate(thresholds):
        taken = np.zeros(G, bool)
        for d in range(D):
            ok = ~taken & (ious[d] >= min(t, 1 - 1e-10))
            if ok.any():
                best = np.where(ok, ious[d], -1.0)
                g = G - 1 - int(np.argmax(best[::-1]))  # the last of equal best IoUs, as pycocotools
                taken[g], tp[ti, d] = True, True
    return tp


def _interpolated_precision(tp: np.ndarray, num_gt: int) -> np.ndarray:
    """101-point interpolated precision from true-positive flags in score order (one class)."""
    tp_sum = np.cumsum(tp).astype(float)
    fp_sum = np.cumsum(~tp).astype(float)
    recall = tp_sum / num_gt
    precision = tp_sum / (tp_sum + fp_sum + np.spacing(1))
    precision = np.maximum.accumulate(precision[::-1])[::-1]  # the envelope: best precision to the right
    idx = np.searchsorted(recall, RECALL_THRESHOLDS, side="left")
    out = np.zeros(len(RECALL_THRESHOLDS))
    valid = idx < len(precision)  # recall levels never reached count as precision 0
    out[valid] = precision[idx[valid]]
    return out


def _class_results(preds, gts, label: int, max_dets: int,
                   thresholds=IOU_THRESHOLDS) -> tuple[np.ndarray, np.ndarray, int]:
    """Scores and (T, D) true-positive flags of every detection of one class, and its number of
    ground-truth boxes; detections ordered as pycocotools orders them."""
    scores, flags, num_gt = [], [], 0
    for (boxes, s, labels), (gt_boxes, gt_labels) in zip(preds, gts):
        gt = gt_boxes[gt_labels == label]
        num_gt += len(gt)
        mine = np.flatnonzero(labels == label)
        order = mine[np.argsort(-s[mine], kind="mergesort")][:max_dets]
        if len(order) == 0:
            continue
        scores.append(s[order])
        flags.append(match_detections(_iou_matrix(boxes[order], gt), thresholds))
    if not scores:
        return np.zeros(0), np.zeros((len(thresholds), 0), bool), num_gt
    scores = np.concatenate(scores)
    order = np.argsort(-scores, kind="mergesort")
    return scores[order], np.concatenate(flags, axis=1)[:, order], num_gt


def mean_average_precision(predictions: list[dict], targets: list[dict],
                           max_dets: int = 100) -> DetectionScores:
    """COCO-style mAP@[.5:.95], mAP@0.5 and mAP@0.75 of a detector's predictions.

    Args:
        predictions: one dict per image with "boxes" (N, 4) XYXY, "scores" (N,), "labels" (N,), as a
            torchvision detector returns in eval mode (extra keys such as "masks" are ignored).
        targets: one dict per image, same order, with "boxes" (M, 4) XYXY and "labels" (M,).
        max_dets: detections kept per image and class, best scores first (COCO: 100).
    Per class: detections of all images ranked by score are matched greedily to ground truth
    (`match_detections`), precision is interpolated at 101 recall levels and averaged; classes
    without ground truth are left out of the mean, classes never detected count as 0.
    """
    preds, gts = _check_inputs(predictions, targets)
    labels = sorted({int(v) for _, gl in gts for v in gl})
    if not labels:
        raise ValueError("the targets hold no ground-truth box at all: average precision is undefined")
    ap = {}  # label -> (T,) AP at each IoU threshold
    for label in labels:
        _, tp, num_gt = _class_results(preds, gts, label, max_dets)
        ap[label] = np.array([_interpolated_precision(tp[t], num_gt).mean() for t in range(len(tp))])
    table = np.stack([ap[k] for k in labels])  # (K, T)
    i50, i75 = 0, int(np.argmin(np.abs(IOU_THRESHOLDS - 0.75)))
    return DetectionScores(map=float(table.mean()), map50=float(table[:, i50].mean()),
                           map75=float(table[:, i75].mean()),
                           per_class={k: float(ap[k].mean()) for k in labels},
                           per_class50={k: float(ap[k][i50]) for k in labels})


def precision_recall(predictions: list[dict], targets: list[dict], label: int,
                     iou_threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One class's precision-recall curve: (recall, precision, interpolated precision at the 101
    recall levels `RECALL_THRESHOLDS`), detections ranked by score over all images."""
    preds, gts = _check_inputs(predictions, targets)
    _, tp, num_gt = _class_results(preds, gts, label, 100, [iou_threshold])
    if num_gt == 0:
        raise ValueError(f"class {label} has no ground-truth box in these targets: no recall to measure")
    tp_sum = np.cumsum(tp[0])
    recall = tp_sum / num_gt
    precision = tp_sum / np.arange(1, len(tp_sum) + 1)
    return recall, precision, _interpolated_precision(tp[0], num_gt)


# ---------------------------------------------------------------------------------------------------
# Segmentation: confusion matrix, pixel accuracy, per-class IoU, mean IoU
# ---------------------------------------------------------------------------------------------------


def _labels(values, name: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(values) if not isinstance(values, torch.Tensor) else values)
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise ValueError(f"{name} must hold integer class labels, got {t.dtype}; for scores (N, K, H, W) "
                         "take scores.argmax(1) first")
    return t.detach().cpu().long()


def confusion_matrix(y_hat, y, num_classes: int, ignore_index: int | None = None) -> torch.Tensor:
    """Pixel counts (num_classes, num_classes) int64: row = true class, column = predicted class.

    Args:
        y_hat: predicted labels, any shape (e.g. (N, H, W) label maps), tensor or numpy.
        y: true labels of the same shape.
        num_classes: K; labels must lie in 0..K-1.
        ignore_index: a value of y whose pixels are not counted (e.g. 255 for "unlabelled").
    Matrices of several batches add up: sum them, then compute the metrics once.
    """
    y_hat, y = _labels(y_hat, "y_hat"), _labels(y, "y")
    if y_hat.shape != y.shape:
        raise ValueError(f"y_hat {tuple(y_hat.shape)} and y {tuple(y.shape)} must have the same shape; "
                         "predict labels with scores.argmax(1) for scores (N, K, H, W)")
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    y_hat, y = y_hat.flatten(), y.flatten()
    if ignore_index is not None:
        keep = y != ignore_index
        y_hat, y = y_hat[keep], y[keep]
    for name, t in (("y_hat", y_hat), ("y", y)):
        if t.numel() and (t.min() < 0 or t.max() >= num_classes):
            raise ValueError(f"{name} holds labels outside 0..{num_classes - 1} (found {int(t.min())}.."
                             f"{int(t.max())}); set num_classes, or ignore_index for unlabelled pixels")
    return torch.bincount(y * num_classes + y_hat, minlength=num_classes**2).reshape(num_classes, num_classes)


def _check_cm(cm) -> torch.Tensor:
    cm = torch.as_tensor(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"expected a square confusion matrix (K, K), got shape {tuple(cm.shape)}; build "
                         "it with confusion_matrix(y_hat, y, num_classes)")
    if cm.sum() == 0:
        raise ValueError("the confusion matrix is empty (no pixels counted): nothing to score")
    return cm.double()


def pixel_accuracy(cm) -> float:
    """Share of pixels whose predicted class is the true one: trace / total."""
    cm = _check_cm(cm)
    return float(cm.trace() / cm.sum())


def iou_per_class(cm) -> torch.Tensor:
    """Intersection over union of every class, (K,) float64: TP / (TP + FP + FN).

    TP = cm[c, c], FN = the rest of row c (pixels of c predicted as something else), FP = the rest of
    column c (other pixels predicted as c). NaN where TP + FP + FN = 0: the class is absent from both.
    """
    cm = _check_cm(cm)
    tp = cm.diagonal()
    union = cm.sum(0) + cm.sum(1) - tp  # TP + FP + FN
    return torch.where(union > 0, tp / union.clamp_min(1), torch.full_like(tp, float("nan")))


def mean_iou(cm) -> float:
    """Mean IoU over the classes present in the labels or the predictions (NaN ones left out)."""
    return float(iou_per_class(cm).nanmean())
