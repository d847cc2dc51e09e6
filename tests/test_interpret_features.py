"""Tests for dlcourse.interpret_features: receptive-field boxes against gradient-measured fields, top
patches against a direct search, neighbours and PCA against scikit-learn."""

import numpy as np
import pytest
import torch
from torch import nn

from dlcourse import interpret_features as features
from dlcourse import shapes
from dlcourse.checkpoints import course_cnn


def linear_stack(padding: int = 1) -> nn.Module:
    """Convs and average pools with positive weights and no ReLU: every pixel of the receptive field
    reaches the unit with a non-zero gradient, so the measured field is the whole box."""
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=padding), nn.AvgPool2d(2),
                          nn.Conv2d(2, 2, 5, padding=2 * padding), nn.Conv2d(2, 2, 3, stride=2),
                          nn.AvgPool2d(2, stride=1))
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.uniform_(m.weight, 0.1, 1.0)
    return model.eval()


def clip(box, h, w):
    top, left, bottom, right = box
    return max(top, 0), max(left, 0), min(bottom, h - 1), min(right, w - 1)


@pytest.mark.parametrize("padding", [0, 1])
@pytest.mark.parametrize("layer", ["1", "2", "3", "4"])
def test_receptive_box_equals_the_gradient_measured_field(padding, layer):
    model, size = linear_stack(padding), 40
    X = torch.rand(1, 1, size, size) + 0.5
    with torch.no_grad():
        out = model[:int(layer) + 1](X)
    h, w = out.shape[2:]
    for i, j in [(0, 0), (h // 2, w // 3), (h - 1, w - 1)]:
        measured = features.box_of(features.gradient_footprint(model, X, layer, 1, i, j))
        assert measured == clip(features.receptive_box(model, layer, i, j), size, size), (i, j)


def test_box_size_agrees_with_shapes_and_summary_for_course_cnn():
    model = course_cnn().eval()
    rf = {r.name: r.size for r in shapes.receptive_field(model)}
    for layer, last_rf in [("block1.2", "block1.0"), ("block1.6", "block1.6"), ("block2.5", "block2.3"),
                           ("block2", "block2.6")]:
        top, left, bottom, right = features.receptive_box(model, layer, 3, 4)
        assert bottom - top + 1 == right - left + 1 == rf[last_rf]
    assert features.receptive_box(model, "block2.5", 3, 7) == (0, 8, 13, 21)
    assert features.receptive_box(model, "block1.0", 0, 0) == (-1, -1, 1, 1)


def test_gradient_of_a_relu_network_stays_inside_the_box():
    torch.manual_seed(0)
    model = course_cnn().eval()
    X = torch.randn(16, 1, 28, 28)
    for layer, (i, j) in [("block2.5", (3, 7)), ("block1.6", (0, 13)), ("block2.6", (6, 0))]:
        footprint = features.gradient_footprint(model, X, layer, 2, i, j)
        top, left, bottom, right = clip(features.receptive_box(model, layer, i, j), 28, 28)
        inside = torch.zeros_like(footprint)
        inside[top:bottom + 1, left:right + 1] = True
        assert footprint.any() and not (footprint & ~inside).any(), layer


def test_top_patches_against_a_direct_search():
    torch.manual_seed(1)
    model = course_cnn().eval()
    X = torch.randn(40, 1, 28, 28)
    top = features.top_patches(model, X, "block2.5", channel=3, k=5, batch_size=16)
    with torch.no_grad():
        maps = model.block2[:6](model.block1(X))[:, 3]  # (40, 14, 14)
    best = maps.flatten(1).max(1).values
    torch.testing.assert_close(top.value, best.topk(5).values)
    assert torch.equal(top.index, best.topk(5).indices)
    for n, (i, j) in zip(top.index, top.position):
        assert maps[n, i, j] == best[n]
    assert top.patches.shape == (5, 1, 14, 14)
    top_row, left, bottom, right = top.box[0]
    image, fill = X[top.index[0], 0], float(X.min())
    for r in range(14):
        for c in range(14):
            y, x = top_row + r, left + c
            expected = image[y, x] if 0 <= y < 28 and 0 <= x < 28 else fill
            assert top.patches[0, 0, r, c] == expected


def test_top_patches_errors():
    model, X = course_cnn().eval(), torch.randn(4, 1, 28, 28)
    with pytest.raises(ValueError, match="channel in 0..31"):
        features.top_patches(model, X, "block2.5", channel=32)
    with pytest.raises(ValueError, match="conv layer"):
        features.top_patches(model, X, "head.2", channel=0)
    with pytest.raises(ValueError, match="k must be"):
        features.top_patches(model, X, "block2.5", channel=0, k=5)
    with pytest.raises(KeyError, match="layers are"):
        features.receptive_box(model, "block3", 0, 0)


def test_crop_fills_outside_the_image():
    image = torch.arange(16.0).view(1, 4, 4)
    patch = features.crop(image, (-1, 2, 1, 4), fill=-5.0)
    assert torch.equal(patch[0], torch.tensor([[-5.0, -5, -5], [2, 3, -5], [6, 7, -5]]))


def test_embed_is_the_input_of_the_last_linear_layer():
    torch.manual_seed(2)
    model, X = course_cnn().eval(), torch.randn(7, 1, 28, 28)
    with torch.no_grad():
        expected = model.block2(model.block1(X)).flatten(1)
    torch.testing.assert_close(features.embed(model, X, batch_size=3), expected)
    assert features.embed(model, X, layer="block2.0").shape == (7, 16 * 14 * 14)
    with pytest.raises(ValueError, match="no nn.Linear"):
        features.embed(model.block1, X)


def test_nearest_neighbours_and_agreement_against_sklearn():
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(0)
    bank, queries = rng.normal(size=(60, 5)), rng.normal(size=(4, 5))
    ours = features.nearest_neighbours(torch.tensor(queries), torch.tensor(bank), k=3)
    theirs = NearestNeighbors(n_neighbors=3).fit(bank).kneighbors(queries, return_distance=False)
    assert np.array_equal(ours.numpy(), theirs)
    y = torch.tensor(rng.integers(0, 3, 60))
    idx = NearestNeighbors(n_neighbors=4).fit(bank).kneighbors(bank, return_distance=False)[:, 1:]
    expected = (y.numpy()[idx] == y.numpy()[:, None]).mean()
    assert features.neighbour_agreement(torch.tensor(bank), y, k=3) == pytest.approx(expected, abs=1e-6)
    with pytest.raises(ValueError, match="features"):
        features.nearest_neighbours(torch.zeros(2, 3), torch.zeros(5, 4))


def test_pca_against_sklearn_and_tsne_shape():
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(1)
    data = rng.normal(size=(80, 6)) @ rng.normal(size=(6, 6))
    points, explained = features.pca_2d(torch.tensor(data))
    pca = PCA(2).fit(data)
    theirs = pca.transform(data)
    signs = np.sign((points.numpy() * theirs).sum(0))  # components are defined up to sign
    np.testing.assert_allclose(points.numpy() * signs, theirs, atol=1e-4)  # float32
    np.testing.assert_allclose(explained.numpy(), pca.explained_variance_ratio_, atol=1e-6)
    tsne = features.tsne_2d(torch.tensor(data[:40]), seed=0, perplexity=10)
    assert tsne.shape == (40, 2)
    torch.testing.assert_close(tsne, features.tsne_2d(torch.tensor(data[:40]), seed=0, perplexity=10))
