"""Metrics of the course's vision tasks, each tested against an independent implementation.

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

import numpy as np
import torch

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
