"""dlcourse.segmenters: the scene loader, the per-pixel view fit trains, evaluation, shipped checkpoints."""

import pytest
import torch
from torch import nn

from dlcourse import config, metrics, scenes, segmenters, train
from dlcourse.data import load_bundled_subset
from dlcourse.models import segmentation as seg_models


@pytest.fixture(scope="module")
def small():
    return scenes.stack(scenes.FashionScenes(load_bundled_subset("test"), 12, seed=5))


def test_scene_loader_batches_and_normalizes(small):
    X, semantic = small
    loader = segmenters.SceneLoader(X, semantic, batch_size=5, shuffle=False, device="cpu")
    batches = list(loader)
    assert len(loader) == len(batches) == 3  # no shuffling: the last, short batch is kept
    Xb, yb = batches[0]
    assert Xb.shape == (5, 1, 96, 96) and yb.shape == (5 * 96 * 96,) and yb.dtype == torch.int64
    torch.testing.assert_close(Xb, (X[:5] - scenes.MEAN) / scenes.STD)
    torch.testing.assert_close(yb, semantic[:5].reshape(-1))
    assert len(segmenters.SceneLoader(X, semantic, batch_size=5, device="cpu")) == 2  # shuffled: drop_last


def test_scene_loader_flips_images_and_labels_together(small):
    X, semantic = small
    loader = segmenters.SceneLoader(X, semantic, batch_size=12, shuffle=False, flip=True, device="cpu",
                                    seed=1)
    Xb, yb = next(iter(loader))
    yb = yb.view(12, 96, 96)
    flipped = [not torch.equal(yb[i], semantic[i]) for i in range(12)]
    assert 0 < sum(flipped) < 12
    for i, f in enumerate(flipped):
        want_X, want_y = (X[i].flip(-1), semantic[i].flip(-1)) if f else (X[i], semantic[i])
        torch.testing.assert_close(Xb[i], (want_X - scenes.MEAN) / scenes.STD)
        torch.testing.assert_close(yb[i], want_y)


def test_scene_loader_bad_inputs(small):
    X, semantic = small
    with pytest.raises(ValueError, match="scenes.stack"):
        segmenters.SceneLoader(X[:, 0], semantic)
    with pytest.raises(ValueError, match="integer class values"):
        segmenters.SceneLoader(X, semantic.float())
    with pytest.raises(ValueError, match="batch_size"):
        segmenters.SceneLoader(X, semantic, batch_size=0)


def test_per_pixel_rows_are_pixels_in_the_loaders_order():
    model = nn.Conv2d(1, 4, 3, padding=1)
    X = torch.randn(2, 1, 5, 6)
    rows = segmenters.per_pixel(model)(X)
    scores = model(X)
    assert rows.shape == (2 * 5 * 6, 4)
    b, h, w = 1, 3, 2
    torch.testing.assert_close(rows[b * 30 + h * 6 + w], scores[b, :, h, w])
    assert list(segmenters.per_pixel(model).parameters())[0] is model.weight  # shared, not copied


def test_fit_trains_a_segmenter_and_confusion_agrees_with_predict(small):
    X, semantic = small
    X, semantic = X[:, :, :32, :32].contiguous(), semantic[:, :32, :32].contiguous()
    torch.manual_seed(0)
    model = seg_models.unet(width=4, depth=2)
    loader = segmenters.SceneLoader(X, semantic, batch_size=4, device="cpu")
    history = train.fit(segmenters.per_pixel(model), loader, num_epochs=8, lr=1e-2, optimizer="adamw",
                        progress=False, device="cpu")
    assert history.train_loss[-1] < 0.7 * history.train_loss[0]
    y_hat = segmenters.predict(model, X, batch_size=5)
    assert y_hat.shape == semantic.shape and y_hat.dtype == torch.int64
    cm = segmenters.confusion(model, X, semantic, batch_size=5)
    torch.testing.assert_close(cm, metrics.confusion_matrix(y_hat, semantic, 11))
    _, acc = train.evaluate(segmenters.per_pixel(model), segmenters.SceneLoader(X, semantic, shuffle=False,
                                                                                 device="cpu"))
    assert acc == pytest.approx(metrics.pixel_accuracy(cm), abs=1e-6)  # fit's accuracy is pixel accuracy


@pytest.mark.parametrize("name", sorted(segmenters.REGISTRY))
def test_shipped_segmenters_load_verified_and_segment(name, small):
    spec = segmenters.get_spec(name)
    if not spec.path.exists():
        pytest.skip(f"{spec.path.name} not built (scripts/train_checkpoints.py --segmenters)")
    segmenters.verify(name)
    model, facts = segmenters.load_segmenter(name, train_if_missing=False)
    assert not model.training
    assert facts["num_train"] >= 1000 and 0 < facts["test_miou"] <= 1
    X, semantic = small
    cm = segmenters.confusion(model, X, semantic)
    background_only = metrics.mean_iou(metrics.confusion_matrix(torch.zeros_like(semantic), semantic, 11))
    assert metrics.mean_iou(cm) > background_only + 0.1  # short recipe: 0.19-0.35 on the full test set


def test_missing_or_altered_checkpoints(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "CHECKPOINT_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="train_checkpoints.py --segmenters"):
        segmenters.load_segmenter("scenes_unet", train_if_missing=False)
    with pytest.raises(KeyError, match="known"):
        segmenters.get_spec("scenes_segformer")
    path = tmp_path / "scenes_unet.pt"
    path.write_bytes(b"not a checkpoint")
    (tmp_path / "scenes_unet.sha256").write_text("0" * 64 + "  scenes_unet.pt\n")
    with pytest.raises(ValueError, match="SHA-256"):  # differs from the registry's or the sidecar's
        segmenters.verify("scenes_unet")
    with pytest.raises(Exception, match="SHA-256"):
        segmenters.load_segmenter("scenes_unet", train_if_missing=False)


def test_load_maskrcnn_skips_with_a_message_when_absent(monkeypatch, tmp_path, capsys):
    from dlcourse import detectors

    monkeypatch.setattr(detectors, "shipped_path", lambda: tmp_path / "scenes_maskrcnn.pt")
    assert segmenters.load_maskrcnn() is None
    assert "skipping" in capsys.readouterr().out


def test_load_maskrcnn_gives_lesson_12s_detector():
    from dlcourse import detectors

    if not detectors.shipped_path().exists():
        pytest.skip("lesson 12's checkpoint is not installed")
    model = segmenters.load_maskrcnn()
    assert not model.training
    with torch.no_grad():
        (out,) = model([torch.zeros(1, 96, 96)])
    assert set(out) >= {"boxes", "labels", "scores", "masks"} and out["masks"].shape[-2:] == (96, 96)
