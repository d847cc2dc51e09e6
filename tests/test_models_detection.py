"""Tests for dlcourse.models.detection: the localizer, R-CNN's regions, R-CNN and Fast R-CNN scores."""

import pytest
import torch

from dlcourse import detection, scenes
from dlcourse.checkpoints import course_cnn
from dlcourse.models import detection as mdet


@pytest.fixture(scope="module")
def single():
    ds = scenes.FashionScenes("test", 8, size=64, max_objects=1, seed=3)
    return [ds[i] for i in range(len(ds))]


def test_localizer_speaks_the_detector_protocol(single):
    torch.manual_seed(0)
    model = mdet.Localizer(size=64)
    images, targets = scenes.collate(single)
    losses = model(images, targets)
    assert set(losses) == {"loss_classifier", "loss_box_reg"}
    assert all(v.ndim == 0 and torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    assert model.box_head.weight.grad is not None and model.class_head.weight.grad is not None
    model.eval()
    outputs = model(images)
    assert len(outputs) == len(images)
    for out in outputs:
        assert out["boxes"].shape == (1, 4) and out["labels"].shape == (1,) and out["scores"].shape == (1,)
        assert 1 <= out["labels"].item() <= 10 and 0 < out["scores"].item() <= 1
        x1, y1, x2, y2 = out["boxes"][0].tolist()
        assert 0 <= x1 <= x2 <= 64 and 0 <= y1 <= y2 <= 64


def test_localizer_errors_teach():
    with pytest.raises(ValueError, match="multiple of 8"):
        mdet.Localizer(size=60)
    with pytest.raises(ValueError, match="targets"):
        mdet.Localizer(size=64).train()([torch.zeros(1, 64, 64)])


def test_localization_loss_worked_example():
    logits = torch.tensor([[0.0, 0.0]])  # two classes, equal: cross-entropy log 2
    boxes, target = torch.tensor([[0.0, 0, 10, 10]]), torch.tensor([[0.0, 0, 10, 20]])
    losses = mdet.localization_loss(logits, boxes, torch.tensor([1]), target, size=40, box_weight=2.0)
    assert losses["loss_classifier"].item() == pytest.approx(0.6931, abs=1e-4)
    assert losses["loss_box_reg"].item() == pytest.approx(2.0 * (10 / 40) / 4)  # one corner off by 10 px


def test_region_samples_are_labelled_like_rcnn():
    ds = scenes.FashionScenes("train", 6, seed=1)
    samples = mdet.region_samples(ds, 6, per_scene=10, seed=0)
    assert samples.crops.X.shape[1:] == (1, 28, 28) and samples.crops.X.dtype == torch.uint8
    assert len(samples) == len(samples.boxes) == len(samples.scene) == len(samples.crops.y)
    assert 0 < (samples.crops.y == 0).sum() < len(samples)  # both articles and background
    for box, label, i in zip(samples.boxes, samples.crops.y, samples.scene):
        _, target = ds[int(i)]
        best, which = detection.box_iou(box[None], target["boxes"])[0].max(0)
        if label == 0:
            assert best < 0.3
        else:
            assert best >= 0.5 and target["labels"][which] == label


def test_rcnn_warp_of_the_whole_image_is_the_classifier_itself():
    torch.manual_seed(0)
    classifier = course_cnn(num_classes=11, width=4).eval()
    image = torch.rand(1, 28, 28)
    probs = mdet.rcnn_scores(classifier, image, torch.tensor([[0.0, 0, 28, 28]]))
    with torch.no_grad():
        direct = classifier(mdet._normalize(image[None])).softmax(1)
    torch.testing.assert_close(probs, direct)


def test_rcnn_and_fast_rcnn_scores_and_detections():
    torch.manual_seed(0)
    classifier = course_cnn(num_classes=11, width=4).eval()
    image, target = scenes.FashionScenes("test", 2, seed=0)[0]
    boxes = detection.propose_regions(image)
    for fn in (mdet.rcnn_scores, mdet.fast_rcnn_scores):
        probs = fn(classifier, image, boxes)
        assert probs.shape == (len(boxes), 11)
        torch.testing.assert_close(probs.sum(1), torch.ones(len(boxes)))
    found = mdet.detections_from_scores(boxes, probs, score_threshold=0.0)
    assert set(found) == {"boxes", "labels", "scores"}
    assert (found["labels"] >= 1).all() and (found["scores"][:-1] >= found["scores"][1:]).all()
    features = mdet.pooled_features(classifier, scenes.FashionScenes("test", 2, seed=0),
                                    mdet.RegionSamples(None, boxes[:5], torch.zeros(5, dtype=torch.long)))
    assert features.shape == (5, 8, 7, 7)
