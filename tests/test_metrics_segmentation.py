"""dlcourse.metrics, segmentation section: against torchmetrics and a direct numpy count on random maps."""

import math

import numpy as np
import pytest
import torch
from torchmetrics.functional.classification import (
    multiclass_accuracy,
    multiclass_confusion_matrix,
    multiclass_jaccard_index,
)

from dlcourse import metrics


def random_maps(seed, num_classes=11, shape=(4, 24, 24), missing=(), bias=0.6):
    """Label maps and predictions that agree on about `bias` of the pixels; `missing` classes appear in
    neither (predicted labels that would be missing are redrawn)."""
    g = torch.Generator().manual_seed(seed)
    allowed = torch.tensor([c for c in range(num_classes) if c not in missing])
    y = allowed[torch.randint(len(allowed), shape, generator=g)]
    y_hat = allowed[torch.randint(len(allowed), shape, generator=g)]
    keep = torch.rand(shape, generator=g) < bias
    return torch.where(keep, y, y_hat), y


def numpy_iou(y_hat, y, num_classes):
    """IoU per class counted directly with numpy sets of pixels (NaN when a class is nowhere)."""
    y_hat, y = np.asarray(y_hat).ravel(), np.asarray(y).ravel()
    out = []
    for c in range(num_classes):
        inter = np.sum((y_hat == c) & (y == c))
        union = np.sum((y_hat == c) | (y == c))
        out.append(inter / union if union else math.nan)
    return np.array(out)


@pytest.mark.parametrize("seed", range(5))
def test_confusion_matrix_matches_torchmetrics_and_numpy(seed):
    y_hat, y = random_maps(seed)
    cm = metrics.confusion_matrix(y_hat, y, 11)
    assert cm.dtype == torch.int64 and cm.shape == (11, 11) and cm.sum() == y.numel()
    torch.testing.assert_close(cm, multiclass_confusion_matrix(y_hat, y, 11))
    counted = np.zeros((11, 11), int)
    np.add.at(counted, (y.numpy().ravel(), y_hat.numpy().ravel()), 1)  # row = truth, column = prediction
    np.testing.assert_array_equal(cm.numpy(), counted)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("missing", [(), (3,), (0, 7, 10)])
def test_iou_and_mean_iou_match_torchmetrics_and_numpy(seed, missing):
    y_hat, y = random_maps(seed, missing=missing)
    cm = metrics.confusion_matrix(y_hat, y, 11)
    iou = metrics.iou_per_class(cm)
    np.testing.assert_allclose(iou.numpy(), numpy_iou(y_hat, y, 11), rtol=1e-12)  # NaN where equal NaN
    want = multiclass_jaccard_index(y_hat, y, 11, average=None, zero_division=float("nan")).double()
    torch.testing.assert_close(iou, want, equal_nan=True, rtol=1e-6, atol=1e-6)
    assert all(math.isnan(iou[c]) for c in missing)
    macro = multiclass_jaccard_index(y_hat, y, 11, average="macro").item()  # leaves absent classes out
    assert metrics.mean_iou(cm) == pytest.approx(macro, abs=1e-6)
    assert metrics.mean_iou(cm) == pytest.approx(np.nanmean(numpy_iou(y_hat, y, 11)), abs=1e-12)
    micro = multiclass_accuracy(y_hat, y, 11, average="micro").item()
    assert metrics.pixel_accuracy(cm) == pytest.approx(micro, abs=1e-6)
    assert metrics.pixel_accuracy(cm) == pytest.approx((y_hat == y).double().mean().item(), abs=1e-12)


def test_a_class_only_predicted_scores_zero_and_counts():
    y = torch.tensor([0, 0, 1, 1])
    y_hat = torch.tensor([0, 2, 1, 1])  # class 2 predicted but absent from the labels: IoU 0, kept
    iou = metrics.iou_per_class(metrics.confusion_matrix(y_hat, y, 4))
    np.testing.assert_allclose(iou.numpy()[:3], [0.5, 1.0, 0.0])
    assert math.isnan(iou[3])  # class 3 nowhere: left out
    assert metrics.mean_iou(metrics.confusion_matrix(y_hat, y, 4)) == pytest.approx(0.5)


def test_golden_values():
    y = torch.tensor([[0, 0, 1], [1, 2, 2]])
    y_hat = torch.tensor([[0, 1, 1], [1, 2, 0]])
    cm = metrics.confusion_matrix(y_hat, y, 3)
    assert cm.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert metrics.pixel_accuracy(cm) == pytest.approx(4 / 6)
    np.testing.assert_allclose(metrics.iou_per_class(cm).numpy(), [1 / 3, 2 / 3, 1 / 2])
    assert metrics.mean_iou(cm) == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)


def test_matrices_of_batches_add_up():
    y_hat, y = random_maps(7, shape=(6, 16, 16))
    whole = metrics.confusion_matrix(y_hat, y, 11)
    parts = sum(metrics.confusion_matrix(y_hat[i:i + 2], y[i:i + 2], 11) for i in range(0, 6, 2))
    torch.testing.assert_close(whole, parts)


def test_ignore_index_matches_torchmetrics():
    y_hat, y = random_maps(3, num_classes=5)
    y = y.clone()
    y[:, :4] = 255  # unlabelled rows
    cm = metrics.confusion_matrix(y_hat, y, 5, ignore_index=255)
    torch.testing.assert_close(cm, multiclass_confusion_matrix(y_hat, y, 5, ignore_index=255))
    assert cm.sum() == (y != 255).sum()


def test_numpy_inputs_and_any_shape():
    y_hat, y = random_maps(1)
    cm = metrics.confusion_matrix(y_hat.numpy(), y.numpy().astype(np.int32), 11)
    torch.testing.assert_close(cm, metrics.confusion_matrix(y_hat.flatten(), y.flatten(), 11))


def test_bad_inputs_say_what_to_do():
    y = torch.zeros(2, 4, 4, dtype=torch.long)
    with pytest.raises(ValueError, match="argmax"):
        metrics.confusion_matrix(torch.zeros(2, 3, 4, 4), y, 3)  # scores, not labels
    with pytest.raises(ValueError, match="same shape"):
        metrics.confusion_matrix(y[0], y, 3)
    with pytest.raises(ValueError, match="outside 0..2"):
        metrics.confusion_matrix(y + 3, y, 3)
    with pytest.raises(ValueError, match="positive int"):
        metrics.confusion_matrix(y, y, 0)
    with pytest.raises(ValueError, match="square"):
        metrics.mean_iou(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="empty"):
        metrics.pixel_accuracy(torch.zeros(3, 3))
