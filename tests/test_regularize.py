"""dlcourse.regularize: the L1 proximal step, sparsity, and dropout against torch's."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlcourse import regularize, train


def test_l1_shrink_is_soft_thresholding_of_weights_only():
    torch.manual_seed(0)
    model = nn.Linear(6, 4)
    w, b = model.weight.detach().clone(), model.bias.detach().clone()
    regularize.L1Penalty(lam=0.5).shrink(model, lr=0.2)  # threshold 0.1
    expected = w.sign() * (w.abs() - 0.1).clamp(min=0)
    torch.testing.assert_close(model.weight.detach(), expected)
    assert torch.equal(model.bias.detach(), b)
    with pytest.raises(ValueError, match=">= 0"):
        regularize.L1Penalty(-1.0)


def test_l1_through_fit_zeroes_the_useless_inputs():
    # 2 of 20 inputs decide the class: L1 should kill (exactly zero) most of the other weights
    g = torch.Generator().manual_seed(0)
    X = torch.randn(512, 20, generator=g)
    y = (X[:, 0] + X[:, 1] > 0).long()
    zeros = {}
    for lam in (0.0, 0.2):
        torch.manual_seed(0)
        model = nn.Linear(20, 2)
        train.fit(model, (X, y), num_epochs=100, lr=0.1, schedule=None, progress=False,
                  device="cpu", callbacks=[regularize.L1Penalty(lam)])
        zeros[lam] = (model.weight[:, 2:] == 0).float().mean().item()
        assert regularize.sparsity(model) >= zeros[lam] * 36 / 40 - 1e-9
        assert model.weight[:, :2].abs().min() > 1.0  # the two useful inputs keep big weights
    assert zeros[0.0] == 0.0 and zeros[0.2] == 1.0


def test_weight_vector_skips_biases_and_norms():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))
    assert regularize.weight_vector(model).shape == (4 * 9 + 4 * 2,)


def test_inverted_dropout_statistics_match_torch():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(400, 500, generator=g) + 0.5
    out = regularize.dropout(x, 0.3, training=True, generator=g)
    torch.manual_seed(0)
    ref = F.dropout(x, 0.3, training=True)
    kept = out != 0
    assert abs((~kept).float().mean().item() - 0.3) < 0.01
    assert abs((ref == 0).float().mean().item() - 0.3) < 0.01
    torch.testing.assert_close(out[kept], x[kept] / 0.7)  # torch scales survivors the same way
    torch.testing.assert_close(ref[ref != 0], x[ref != 0] / 0.7)
    assert abs(out.mean().item() - x.mean().item()) < 0.01
    assert torch.equal(regularize.dropout(x, 0.3, training=False), x)


def test_classic_dropout_rescales_at_test_time():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(300, 300, generator=g) + 0.5
    out = regularize.dropout(x, 0.5, training=True, inverted=False, generator=g)
    kept = out != 0
    assert torch.equal(out[kept], x[kept])
    test_out = regularize.dropout(x, 0.5, training=False, inverted=False)
    torch.testing.assert_close(test_out, x * 0.5)
    assert abs(out.mean().item() - test_out.mean().item()) < 0.01
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        regularize.dropout(x, 1.0)


def test_sparsity_counts_exact_zeros_by_default():
    model = nn.Linear(4, 2)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[0.0, 1e-4, -0.5, 0.0], [2.0, 0.0, -1e-3, 0.3]]))
    assert regularize.sparsity(model) == pytest.approx(3 / 8)
    assert regularize.sparsity(model, tol=1e-3) == pytest.approx(5 / 8)
    with pytest.raises(ValueError, match=">= 0"):
        regularize.sparsity(model, tol=-1.0)


def test_small_split_is_the_subset_and_everything_else():
    from dlcourse import data

    g = torch.Generator().manual_seed(0)
    X = torch.randint(0, 256, (200, 28, 28), dtype=torch.uint8, generator=g)
    X[:, 0, 0] = torch.arange(200, dtype=torch.uint8)  # a unique id in every image
    train_set = data.ImageSet(X, torch.arange(200) % 10)
    test_set = data.ImageSet(X[:30].clone(), torch.arange(30) % 10)
    small, unseen = regularize.small_split(train_set, test_set, 50, seed=3)
    reference = train_set.subset(50, seed=3)
    assert torch.equal(small.X, reference.X) and torch.equal(small.y, reference.y)
    assert len(unseen) == 150 + 30
    ids_small = set(small.X[:, 0, 0].tolist())
    ids_unseen = set(unseen.X[:150, 0, 0].tolist())
    assert not ids_small & ids_unseen and ids_small | ids_unseen == set(range(200))
    assert torch.equal(unseen.X[150:], test_set.X) and torch.equal(unseen.y[150:], test_set.y)
    with pytest.raises(ValueError, match="leave unseen"):
        regularize.small_split(train_set, test_set, 200)
    with pytest.raises(ValueError, match="same kind"):
        regularize.small_split(train_set, data.ImageSet(X[:5, :20], torch.zeros(5)), 50)
