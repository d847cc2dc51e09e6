"""Tests for dlcourse.transfer: task splits, digits, freezing, heads, ensembles, snapshots."""

import math

import pytest
import torch
from torch import nn
from torchvision.ops import FrozenBatchNorm2d

from dlcourse import data, train, transfer
from dlcourse.checkpoints import course_cnn


def _toy_set(n: int = 100, num_classes: int = 10) -> data.ImageSet:
    g = torch.Generator().manual_seed(0)
    X = torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=g)
    return data.ImageSet(X, torch.arange(n) % num_classes)


def test_class_split_relabels_in_the_given_order():
    ds = _toy_set()
    part = transfer.class_split(ds, [7, 5])
    assert len(part) == 20 and part.y.tolist().count(0) == 10
    assert part.classes == (data.FASHION_CLASSES[7], data.FASHION_CLASSES[5])
    assert torch.equal(part.X[part.y == 0], ds.X[ds.y == 7])
    with pytest.raises(ValueError, match="labels in 0..9"):
        transfer.class_split(ds, [3, 10])


def test_per_class_takes_exactly_n_of_each_and_is_seeded():
    ds = _toy_set()
    a, b = transfer.per_class(ds, 4, seed=1), transfer.per_class(ds, 4, seed=1)
    assert torch.bincount(a.y).tolist() == [4] * 10 and torch.equal(a.X, b.X)
    with pytest.raises(ValueError, match="at most 10"):
        transfer.per_class(ds, 11)


def test_digits_are_28x28_centred_and_split_disjointly():
    train_set, test_set = transfer.load_digits_28("train"), transfer.load_digits_28("test")
    assert train_set.X.shape[1:] == (28, 28) and train_set.X.dtype == torch.uint8
    assert len(train_set) + len(test_set) == 1797  # every sklearn digit used once
    assert torch.bincount(test_set.y).tolist() == [70] * 10
    assert torch.bincount(train_set.y).min() >= 100  # room for 100 per class
    assert train_set.X[:, :4].max() == 0 and train_set.X[:, :, -4:].max() == 0  # MNIST-like border
    with pytest.raises(ValueError, match="'train' or 'test'"):
        transfer.load_digits_28("val")


def test_freeze_head_only_trains_the_linear_layer():
    model = course_cnn(num_classes=5)
    transfer.freeze(model, ["block1", "block2"])
    assert transfer.count_trainable(model) == 32 * 49 * 5 + 5
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.block1.modules())
    with pytest.raises(KeyError, match="block3"):
        transfer.freeze(model, ["block3"])


def test_frozen_features_do_not_move_in_train_mode():
    torch.manual_seed(0)
    model = course_cnn(num_classes=5)
    X = torch.randn(16, 1, 28, 28)
    with torch.no_grad():  # give BatchNorm non-trivial running statistics first
        model.train()(X * 3 + 1)
    model.eval()
    with torch.no_grad():
        before = model.block2(model.block1(X))
    transfer.freeze(model, ["block1", "block2"]).train()
    with torch.no_grad():
        after = model.block2(model.block1(X))  # train mode, yet the statistics are the stored ones
    torch.testing.assert_close(after, before)
    weights = model.block1[0].weight.clone()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    nn.functional.cross_entropy(model(X), torch.zeros(16, dtype=torch.long)).backward()
    opt.step()
    assert torch.equal(model.block1[0].weight, weights)


def test_unfreeze_and_new_head():
    model = transfer.freeze(course_cnn(num_classes=5), ["block1"])
    transfer.unfreeze(model)
    assert transfer.count_trainable(model) == sum(p.numel() for p in model.parameters())
    transfer.new_head(model, 3)
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 3)
    assert isinstance(model.block1[1], FrozenBatchNorm2d)  # statistics stay frozen
    with pytest.raises(TypeError, match="nn.Linear"):
        transfer.new_head(_no_linear_head(), 2)


def _no_linear_head() -> nn.Module:
    model = nn.Module()
    model.head = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
    return model


@pytest.mark.parametrize("strategy,trainable", [
    ("scratch", None), ("linear_probe", 32 * 49 * 5 + 5),
    ("finetune_top", None), ("finetune_all", None)])
def test_transfer_model_strategies(strategy, trainable):
    model = transfer.transfer_model(strategy, num_classes=5)
    total = sum(p.numel() for p in model.parameters())
    counts = {"scratch": total, "finetune_all": total,
              "finetune_top": total - sum(p.numel() for p in model.block1.parameters())}
    assert transfer.count_trainable(model) == (trainable or counts[strategy])
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 5)
    with pytest.raises(ValueError, match="expected one of"):
        transfer.transfer_model("distill", 5)


def test_ensemble_of_copies_equals_member_and_averaging_helps_on_a_toy():
    torch.manual_seed(0)
    y = torch.arange(6) % 3
    # three members, each wrong on a different pair of examples; their average is right everywhere
    probs = torch.full((3, 6, 3), 0.1)
    probs[:, torch.arange(6), y] = 0.8
    for m in range(3):
        wrong = [2 * m, 2 * m + 1]
        probs[m, wrong] = 0.1
        probs[m, wrong, (y[wrong] + 1) % 3] = 0.8
    report = transfer.ensemble_report(probs, y)
    assert report == {"mean_single": pytest.approx(4 / 6), "best_single": pytest.approx(4 / 6),
                      "ensemble": 1.0}
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 4))
    loader = [(torch.randn(5, 1, 28, 28), torch.arange(5) % 4)] * 2
    stacked, labels = transfer.stacked_probs([model, model], loader)
    assert stacked.shape == (2, 10, 4) and labels.shape == (10,)
    assert torch.equal(stacked[0], stacked[1])
    with pytest.raises(ValueError, match=r"\(N, K\)"):
        transfer.accuracy(stacked, labels)


def test_snapshot_lr_is_a_restarting_cosine():
    cb = transfer.SnapshotEnsemble(num_cycles=2, lr=0.4)
    assert cb.lr_at(0, 100) == pytest.approx(0.4)
    assert cb.lr_at(25, 100) == pytest.approx(0.2)
    assert cb.lr_at(50, 100) == pytest.approx(0.4)  # restart
    assert cb.lr_at(49, 100) == pytest.approx(0.2 * (1 + math.cos(math.pi * 49 / 50)))
    with pytest.raises(ValueError, match="num_cycles >= 1"):
        transfer.SnapshotEnsemble(0, 0.1)


def test_snapshots_from_one_fit_are_distinct_models():
    torch.manual_seed(0)
    X, y = torch.randn(64, 1, 28, 28), torch.randint(0, 3, (64,))
    loader = [(X[:32], y[:32]), (X[32:], y[32:])]  # 2 steps per epoch
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 3))
    cb = transfer.SnapshotEnsemble(num_cycles=3, lr=0.05)
    history = train.fit(model, loader, num_epochs=3, lr=0.05, schedule=None, callbacks=[cb],
                        progress=False, device="cpu")
    assert len(cb.snapshots) == 3
    assert not torch.equal(cb.snapshots[0][1].weight, cb.snapshots[1][1].weight)
    assert torch.equal(cb.snapshots[-1][1].weight, model[1].weight)
    assert cb.snapshot_steps == [2, 4, 6]
    # the last step of every 2-step cycle ran at half the peak, then the next cycle restarts
    assert [row["lr"] for row in history.rows] == pytest.approx([0.025] * 3)


def test_part5_checks_accept_solutions_and_reject_mistakes():
    from dlcourse import check

    check.freeze_all_but_head(lambda model: transfer.freeze(model, ["block1", "block2"]))
    check.ensemble_average(lambda zs: torch.stack([z.softmax(-1) for z in zs]).mean(0))
    check.ema_update(lambda avg, new, decay: decay * avg + (1 - decay) * new)
    with pytest.raises(AssertionError, match="head and nothing else"):
        check.freeze_all_but_head(lambda model: transfer.freeze(model, ["block1"]))
    with pytest.raises(AssertionError, match="probabilities first"):
        check.ensemble_average(lambda zs: torch.stack(zs).mean(0).softmax(-1))
    with pytest.raises(AssertionError, match="small step"):
        check.ema_update(lambda avg, new, decay: (1 - decay) * avg + decay * new)


def test_disagreement_is_the_pairwise_rate_of_different_predictions():
    import itertools

    g = torch.Generator().manual_seed(0)
    probs = torch.rand(4, 300, 5, generator=g)
    labels = probs.argmax(-1)
    pairs = list(itertools.permutations(range(4), 2))
    expected = sum((labels[a] != labels[b]).float().mean().item() for a, b in pairs) / len(pairs)
    assert transfer.disagreement(probs) == pytest.approx(expected)
    assert transfer.disagreement(probs[[0, 0, 0]]) == 0.0
    with pytest.raises(ValueError, match="at least 2 members"):
        transfer.disagreement(probs[:1])


def test_snapshot_warmup_ramps_the_first_cycle_only():
    cb = transfer.SnapshotEnsemble(num_cycles=2, lr=0.5, warmup=0.2)  # cycles of 50, ramp of 10
    assert cb.lr_at(0, 100) == pytest.approx(0.5 / 25)
    assert cb.lr_at(5, 100) == pytest.approx(0.02 + 0.48 * 0.5)
    assert cb.lr_at(10, 100) == pytest.approx(0.5)  # peak at the end of the ramp
    assert cb.lr_at(30, 100) == pytest.approx(0.25)  # halfway through the remaining 40 steps
    assert cb.lr_at(50, 100) == pytest.approx(0.5)  # the second cycle restarts at the peak
    plain = transfer.SnapshotEnsemble(num_cycles=2, lr=0.5)
    assert all(cb.lr_at(t, 100) == pytest.approx(plain.lr_at(t, 100)) for t in range(50, 100))
    with pytest.raises(ValueError, match="warmup"):
        transfer.SnapshotEnsemble(2, 0.1, warmup=1.0)
