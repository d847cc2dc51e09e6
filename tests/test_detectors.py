"""Tests for dlcourse.detectors: Faster/Mask R-CNN on the scenes, training, the shipped checkpoint."""

import shutil

import pytest
import torch

from dlcourse import detectors, scenes
from dlcourse.serialize import CheckpointError


@pytest.fixture(scope="module")
def batch():
    ds = scenes.FashionScenes("train", 2, seed=0)
    return scenes.collate([ds[0], ds[1]])


def test_backbone_is_stride_8():
    backbone = detectors.scenes_backbone(width=8)
    assert backbone.out_channels == 16
    assert backbone(torch.zeros(2, 1, 96, 96)).shape == (2, 16, 12, 12)


@pytest.mark.parametrize("factory,losses", [
    (detectors.faster_rcnn, {"loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg"}),
    (detectors.mask_rcnn, {"loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg",
                           "loss_mask"}),
])
def test_detectors_train_and_predict(factory, losses, batch):
    torch.manual_seed(0)
    model = factory(width=8, representation=32)
    images, targets = batch
    history = detectors.train_detector(model, [(images, targets)], num_steps=2, lr=0.01, warmup=1,
                                       device="cpu")
    assert set(history.losses) == losses and len(history) == 2
    assert all(v == v for v in history.total)  # finite, not NaN
    outputs = detectors.detect(model, images)
    assert len(outputs) == 2 and model.training  # detect restores the mode it found
    for out in outputs:
        assert out["boxes"].shape[1] == 4 and len(out["boxes"]) <= 20
        if factory is detectors.mask_rcnn:
            assert out["masks"].shape[1:] == (1, 96, 96)


def test_train_detector_checks_its_arguments(batch):
    with pytest.raises(ValueError, match="num_steps"):
        detectors.train_detector(detectors.faster_rcnn(width=8), [batch], num_steps=0)


def test_benchmark_is_fixed_and_from_the_test_subset():
    a, b = detectors.benchmark_scenes(), detectors.benchmark_scenes()
    assert len(a) == 200 and "subset" in a.images.source
    assert torch.equal(a[7][0], b[7][0]) and torch.equal(a[7][1]["boxes"], b[7][1]["boxes"])


@pytest.mark.skipif(not detectors.shipped_path().exists(), reason="no shipped checkpoint")
def test_shipped_detector_loads_verified_and_detects():
    model = detectors.load_scenes_detector()
    meta = detectors.load_scenes_detector_meta()
    assert not model.training and meta["benchmark_scenes"] == 200
    scores = detectors.evaluate_detector(model, detectors.benchmark_scenes(), num_scenes=40)
    assert scores.map50 > 0.5 and scores.map < scores.map50


def test_a_modified_checkpoint_is_refused(tmp_path):
    if not detectors.shipped_path().exists():
        pytest.skip("no shipped checkpoint")
    copy = tmp_path / "scenes_maskrcnn.pt"
    shutil.copy(detectors.shipped_path(), copy)
    with open(copy, "r+b") as f:
        f.seek(-10, 2)
        f.write(b"0123456789")
    with pytest.raises(CheckpointError, match="SHA-256"):
        detectors.load_scenes_detector(copy)
