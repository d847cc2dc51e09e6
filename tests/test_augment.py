"""Tests for dlcourse.augment: v2 pipelines, test-time crops (torchvision oracle), L1, dropout."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.transforms import v2

from dlcourse import augment, data, regularize, train


def _image(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 28, 28, generator=g)  # (C, H, W) in [0, 1]


@pytest.mark.parametrize("kind", augment.KINDS)
def test_transform_keeps_shape_and_range(kind):
    torch.manual_seed(0)
    out = augment.make_transform(kind)(_image())
    assert out.shape == (1, 28, 28)
    assert out.min() >= 0 and out.max() <= 1


def test_unknown_kind_lists_the_choices():
    with pytest.raises(ValueError, match="expected one of"):
        augment.make_transform("mixup")


def test_flip_gives_the_image_or_its_mirror_and_both_occur():
    x = _image()
    outs = augment.augmentation_grid(x, augment.make_transform("flip"), n=16, seed=0)
    is_same = [torch.equal(o, x) for o in outs]
    is_mirror = [torch.equal(o, x.flip(-1)) for o in outs]
    assert all(a or b for a, b in zip(is_same, is_mirror))
    assert any(is_same) and any(is_mirror)


def test_grid_is_seeded_and_leaves_global_rng_alone():
    x, t = _image(), augment.make_transform("all")
    torch.manual_seed(5)
    before = torch.rand(1)
    torch.manual_seed(5)
    a = augment.augmentation_grid(x, t, n=4, seed=1)
    assert torch.equal(torch.rand(1), before)
    assert torch.equal(a, augment.augmentation_grid(x, t, n=4, seed=1))


def test_scale_crop_zooms_in_never_out():
    # a centred bright square can only grow (or shift) under "resize up, then crop"
    x = torch.zeros(1, 28, 28)
    x[:, 10:18, 10:18] = 1.0
    outs = augment.augmentation_grid(x, augment.make_transform("scale_crop"), n=20, seed=0)
    area = (outs > 0.5).flatten(1).sum(1).float()
    assert area.min() >= 60 and area.max() > 64  # 8x8 = 64 bright pixels before


def test_augment_batch_draws_per_image_and_round_trips_normalization():
    X01 = _image().expand(32, 1, 28, 28).clone()
    X = (X01 - 0.3) / 0.4
    torch.manual_seed(0)
    out = augment.augment_batch(X, augment.make_transform("flip"), mean=0.3, std=0.4)
    flipped = [not torch.allclose(o, X[0], atol=1e-6) for o in out]
    assert 0 < sum(flipped) < 32  # one coin per image, not one per batch
    same = augment.augment_batch(X, augment.make_transform("none"), mean=0.3, std=0.4)
    torch.testing.assert_close(same, X)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        augment.augment_batch(X[0], augment.make_transform("flip"))


def test_augmented_loader_reads_normalization_from_dataset():
    g = torch.Generator().manual_seed(0)
    ds = data.ImageSet(torch.randint(0, 256, (40, 28, 28), dtype=torch.uint8, generator=g),
                       torch.arange(40) % 10)
    base = data.TensorLoader(ds, batch_size=16, shuffle=False, drop_last=False, device="cpu")
    loader = augment.AugmentedLoader(base, augment.make_transform("none"))
    assert len(loader) == 3 and loader.batch_size == 16
    assert (loader.mean, loader.std) == (ds.mean, ds.std)
    for (Xa, ya), (Xb, yb) in zip(loader, base):
        torch.testing.assert_close(Xa, Xb, atol=1e-5, rtol=0)
        assert torch.equal(ya, yb)


@pytest.mark.parametrize("shape,size", [((2, 1, 32, 32), 28), ((3, 2, 31, 30), 24)])
def test_ten_crop_matches_torchvision(shape, size):
    X = torch.randn(*shape)
    ours = augment.ten_crop(X, size)
    theirs = torch.stack(v2.TenCrop(size)(X))
    assert ours.shape == (10, shape[0], shape[1], size, size)
    assert torch.equal(ours, theirs)


def test_ten_crop_refuses_a_crop_bigger_than_the_image():
    with pytest.raises(ValueError, match="larger than the image"):
        augment.ten_crop(torch.zeros(1, 1, 28, 28), 32)


def test_multi_crop_view_counts():
    X = torch.randn(4, 1, 28, 28)
    assert augment.multi_crop_views(X, scales=(28, 32)).shape == (12, 4, 1, 28, 28)
    assert augment.multi_crop_views(X, scales=(28, 32), flips=False).shape == (6, 4, 1, 28, 28)
    assert torch.equal(augment.multi_crop_views(X, scales=(28,), flips=False)[0], X)
    up = F.interpolate(X, size=(32, 32), mode="bilinear", align_corners=False)
    assert torch.equal(augment.multi_crop_views(X, scales=(32,))[4], up[..., 2:30, 2:30])


def test_tta_probs_average_the_views():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 5))
    X = torch.randn(3, 1, 28, 28)
    probs = augment.tta_probs(model, X, scales=(28, 32))
    views = augment.multi_crop_views(X, scales=(28, 32))
    with torch.no_grad():
        expected = torch.stack([model(v).softmax(-1) for v in views]).mean(0)
    torch.testing.assert_close(probs, expected)
    torch.testing.assert_close(probs.sum(-1), torch.ones(3))


def test_evaluate_tta_without_views_equals_plain_accuracy():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 3))
    X, y = torch.randn(50, 1, 28, 28), torch.randint(0, 3, (50,))
    loader = [(X[:25], y[:25]), (X[25:], y[25:])]
    _, acc = train.evaluate(model, loader)
    assert augment.evaluate_tta(model, loader, scales=(28,), flips=False) == pytest.approx(acc)


def test_part5_checks_accept_solutions_and_reject_mistakes():
    from dlcourse import check

    check.inverted_dropout(lambda x, p, training: regularize.dropout(x, p, training))
    check.soft_threshold(lambda w, t: w.sign() * (w.abs() - t).clamp(min=0))
    check.flip_tta(lambda model, X: augment.tta_probs(model, X, scales=(28,)))
    with pytest.raises(AssertionError, match="rescaled"):
        check.inverted_dropout(lambda x, p, training: regularize.dropout(x, p, training, inverted=False))
    with pytest.raises(AssertionError, match="overshoot"):
        check.soft_threshold(lambda w, t: w - t * w.sign())
    with pytest.raises(AssertionError, match="not the logits"):
        check.flip_tta(lambda model, X: (model(X) + model(X.flip(-1))).softmax(-1))


@pytest.mark.parametrize("dx,dy", [(2, 0), (0, -3), (-1, 2), (5, 5)])
def test_shift_matches_torchvision_affine_translation(dx, dy):
    from torchvision.transforms.v2 import functional as TF

    g = torch.Generator().manual_seed(0)
    X = torch.randn(3, 2, 28, 20, generator=g)
    expected = torch.stack([TF.affine(x, angle=0.0, translate=[dx, dy], scale=1.0, shear=[0.0, 0.0],
                                      fill=float(x.min())) for x in X])  # each image's background
    torch.testing.assert_close(augment.shift(X, dx, dy), expected)


def test_shift_fills_with_the_background_and_refuses_bad_input():
    X = torch.zeros(1, 1, 4, 4) - 1.0  # background -1
    X[0, 0, 1, 1] = 5.0
    out = augment.shift(X, 1, 2)
    assert out[0, 0, 3, 2] == 5.0 and (out == -1.0).sum() == 15
    assert torch.equal(augment.shift(X, 0, 0), X)
    with pytest.raises(ValueError, match="out of the frame"):
        augment.shift(X, 4, 0)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        augment.shift(X[0], 1, 0)


def test_view_probs_match_separate_forward_passes():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 4))
    X, y = torch.randn(30, 1, 28, 28), torch.randint(0, 4, (30,))
    loader = [(X[:16], y[:16]), (X[16:], y[16:])]
    views = {"original": None, "mirrored": augment.mirror,
             "shifted": lambda Z: augment.shift(Z, 2)}
    probs, labels = augment.view_probs(model, loader, views)
    assert torch.equal(labels, y) and list(probs) == list(views)
    with torch.no_grad():
        torch.testing.assert_close(probs["original"], model(X).softmax(-1))
        torch.testing.assert_close(probs["mirrored"], model(X.flip(-1)).softmax(-1))
        torch.testing.assert_close(probs["shifted"], model(augment.shift(X, 2)).softmax(-1))
    # averaging the original and mirrored views is the flip TTA of tta_probs
    torch.testing.assert_close((probs["original"] + probs["mirrored"]) / 2,
                               augment.tta_probs(model, X, scales=(28,)))
