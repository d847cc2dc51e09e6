"""dlcourse.train: the loop against oracles (evaluate, hand-computed steps), its robustness, bad
arguments, interrupts, predict and the lr range test (CPU). Callbacks: test_callbacks.py."""

import copy

import matplotlib.pyplot as plt
import pytest
import torch
from torch import nn

from dlcourse import callbacks, config, data, evaluation, history, train
from dlcourse.models import MLP


def blobs_loader(n=400, seed=0, batch_size=32):
    X, y = data.make_blobs(n, centers=3, seed=seed)
    return X, y


def image_set(n=96, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 4
    X = torch.randint(0, 60, (n, 28, 28), dtype=torch.uint8, generator=g)
    for c in range(4):  # a bright quadrant per class: learnable in a few steps
        r, q = divmod(c, 2)
        X[y == c, r * 14:(r + 1) * 14, q * 14:(q + 1) * 14] += 150
    return data.ImageSet(X, y, classes=tuple("abcd"))


def tiny_cnn(seed=0):
    config.set_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4),
                         nn.Flatten(), nn.Linear(64, 4))


def test_fit_learns_blobs_to_98_percent():
    config.set_seed(0)
    X, y = blobs_loader()
    model = MLP(2, [16], 3)
    history = train.fit(model, (X, y), (X, y), num_epochs=60, lr=0.1, progress=False)
    assert history.val_acc[-1] >= 0.98
    assert history.train_loss[-1] < history.train_loss[0] / 3
    assert history.columns == ["epoch", "train_loss", "train_acc", "lr", "val_loss", "val_acc",
                               "seconds"]
    assert history.best["val_acc"] == max(history.val_acc)


def test_fit_learns_images_with_tensor_loader():
    ds = image_set()
    loader = data.TensorLoader(ds, batch_size=16, device="cpu")
    model = tiny_cnn()
    history = train.fit(model, loader, loader, num_epochs=4, lr=0.05, progress=False)
    assert history.val_acc[-1] >= 0.9
    loss, acc = train.evaluate(model, data.TensorLoader(ds, 32, shuffle=False, drop_last=False,
                                                        device="cpu"))
    assert acc >= 0.9 and loss < 1.0


def run(loader_kind: str, seed: int = 0):
    ds = image_set()
    if loader_kind == "tensor":
        loader = data.TensorLoader(ds, batch_size=16, drop_last=False, seed=seed, device="cpu")
    else:
        loader = data.make_dataloader(ds, batch_size=16, seed=seed)
    model = tiny_cnn(seed)
    history = train.fit(model, loader, num_epochs=2, lr=0.05, progress=False)
    return history.train_loss, torch.cat([p.flatten() for p in model.parameters()])


def test_seeded_runs_are_bit_for_bit_repeatable():
    loss1, w1 = run("tensor")
    loss2, w2 = run("tensor")
    assert loss1 == loss2 and torch.equal(w1, w2)


def test_plain_dataloader_gives_the_same_result_as_tensor_loader():
    loss1, w1 = run("tensor", seed=5)
    loss2, w2 = run("torch", seed=5)
    assert loss1 == pytest.approx(loss2, rel=1e-6) and torch.allclose(w1, w2, atol=1e-6)


def test_progress_lines_print_one_line_per_epoch(capsys, monkeypatch):
    monkeypatch.setenv("DLCOURSE_PROGRESS", "lines")
    X, y = blobs_loader()
    train.fit(MLP(2, [4], 3), (X, y), num_epochs=2, lr=0.1)
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in out] == [["epoch", "1/2"], ["epoch", "2/2"]]


def test_bf16_autocast_and_grad_clip_run_on_cpu():
    config.set_seed(0)
    X, y = blobs_loader()
    history = train.fit(MLP(2, [16], 3), (X, y), (X, y), num_epochs=40, lr=0.1, amp=True,
                        grad_clip=1.0, progress=False)
    assert history.val_acc[-1] >= 0.95


def test_progress_bars_open_and_close(monkeypatch, capsys):
    monkeypatch.setenv("DLCOURSE_PROGRESS", "bars")
    X, y = blobs_loader()
    train.fit(MLP(2, [4], 3), (X, y), num_epochs=2, lr=0.1)
    err = capsys.readouterr().err  # tqdm draws on stderr outside a notebook
    assert "epochs: 100%" in err and "2/2" in err


# --------------------------------------------------------------------------- oracles for the loop
def test_full_batch_train_loss_is_the_loss_before_the_step():
    """With (X, y) every epoch is one step: its train loss is evaluate() on the weights before it."""
    config.set_seed(0)
    X, y = blobs_loader()
    model = MLP(2, [16], 3)
    before = [train.evaluate(model, (X, y))]
    losses = []

    class Record(callbacks.Callback):
        def on_epoch_end(self, state):
            losses.append(train.evaluate(state.model, (X, y)))

    history = train.fit(model, (X, y), num_epochs=3, lr=0.1, progress=False, callbacks=[Record()])
    expected = before + losses[:-1]
    assert history.train_loss == pytest.approx([loss for loss, _ in expected], rel=1e-6)
    assert history.train_acc == pytest.approx([acc for _, acc in expected])


def test_train_loss_is_the_example_weighted_mean_over_uneven_batches():
    """lr ~ 0: the epoch's train loss and accuracy equal evaluate() on the same 50 examples in batches
    of 16, 16, 16 and 2 (a plain mean over batches would weigh the last 2 examples 8x too much)."""
    ds = image_set(50)
    loader = data.TensorLoader(ds, batch_size=16, shuffle=True, drop_last=False, device="cpu")
    model = tiny_cnn()
    loss, acc = train.evaluate(model, loader)
    history = train.fit(model, loader, num_epochs=1, lr=1e-30, schedule=None, progress=False)
    assert history.train_loss[0] == pytest.approx(loss, rel=1e-5)
    assert history.train_acc[0] == pytest.approx(acc)


class Noisy(nn.Module):
    """Dropout and BatchNorm: outputs differ between train and eval mode."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.5),
                                 nn.Linear(32, 3))

    def forward(self, X):
        return self.net(X)


def test_evaluate_runs_dropout_and_batchnorm_in_eval_mode():
    config.set_seed(0)
    X, y = blobs_loader()
    model = Noisy()
    with torch.no_grad():  # give BatchNorm running statistics that differ from the batch's
        model.net[1].running_mean.fill_(0.3)
        model.net[1].running_var.fill_(2.0)
    stats = model.net[1].running_mean.clone()
    model.eval()
    with torch.no_grad():
        y_hat = model(X)
    oracle = (nn.functional.cross_entropy(y_hat, y).item(), (y_hat.argmax(1) == y).float().mean().item())
    model.train()
    loader = [(X[:150], y[:150]), (X[150:], y[150:])]
    assert train.evaluate(model, loader) == pytest.approx(oracle, rel=1e-6)
    assert train.evaluate(model, (X, y)) == pytest.approx(oracle, rel=1e-6)
    assert model.training and torch.equal(model.net[1].running_mean, stats)  # mode back, stats kept
    logits = train.predict(model, loader)
    torch.testing.assert_close(logits, y_hat)
    assert model.training


def test_fit_trains_in_train_mode_and_validates_in_eval_mode():
    config.set_seed(0)
    X, y = blobs_loader()
    model = Noisy().eval()  # handed over in eval mode: fit must switch to train mode itself
    stats = model.net[1].running_mean.clone()
    history = train.fit(model, (X, y), (X[:100], y[:100]), num_epochs=2, lr=0.05, progress=False)
    assert not torch.equal(model.net[1].running_mean, stats)  # BatchNorm saw training batches
    assert (history.val_loss[-1], history.val_acc[-1]) == pytest.approx(
        train.evaluate(model, (X[:100], y[:100])), rel=1e-6)
    assert model.training  # fit leaves the model ready to train on


@pytest.mark.parametrize("schedule", [None, "onecycle", "cosine"])
def test_fit_equals_a_plain_torch_loop(schedule):
    """Oracle: the same steps written out with torch.optim (zero_grad, backward, clip, step, schedule)."""
    X, y = blobs_loader()
    batches = [(X[:160], y[:160]), (X[160:320], y[160:320]), (X[320:], y[320:])]
    config.set_seed(0)
    model = MLP(2, [8], 3)
    reference = copy.deepcopy(model)
    hist = train.fit(model, batches, num_epochs=3, lr=0.2, schedule=schedule, grad_clip=2.0,
                     weight_decay=1e-3, label_smoothing=0.1, progress=False)
    opt = torch.optim.SGD(reference.parameters(), lr=0.2, momentum=0.9, nesterov=True, weight_decay=1e-3)
    sched = train.make_schedule(opt, schedule, 0.2, 9)
    lrs, losses = [], []
    for _ in range(3):
        total = 0.0
        for Xb, yb in batches:
            loss = nn.functional.cross_entropy(reference(Xb), yb, label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(reference.parameters(), 2.0)
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            if sched is not None:
                sched.step()
            total += loss.item() * len(yb)
        losses.append(total / len(X))
    for a, b in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert hist.train_loss == pytest.approx(losses, rel=1e-5)
    assert hist.lr == pytest.approx(lrs[2::3], rel=1e-6)  # the lr of each epoch's last step


def test_one_sgd_step_and_gradient_clipping_against_a_hand_computed_update():
    """Nesterov SGD's first step is w - lr (1 + momentum) g; with grad_clip the norm of g is clipped."""
    X, y = blobs_loader()
    for clip in (None, 1e-3):
        config.set_seed(0)
        model = MLP(2, [8], 3)
        w0 = [p.detach().clone() for p in model.parameters()]
        nn.functional.cross_entropy(model(X), y).backward()
        g = [p.grad.clone() for p in model.parameters()]
        model.zero_grad()
        norm = torch.cat([t.flatten() for t in g]).norm()
        scale = 1.0 if clip is None else min(1.0, clip / (norm.item() + 1e-6))
        train.fit(model, (X, y), num_epochs=1, lr=0.1, schedule=None, grad_clip=clip, progress=False)
        for p, w, gi in zip(model.parameters(), w0, g):
            torch.testing.assert_close(p.detach(), w - 0.1 * 1.9 * scale * gi, rtol=1e-5, atol=1e-7)


def test_count_correct_for_class_scores_and_single_logits():
    scores = torch.tensor([[0.1, 0.9], [2.0, -1.0], [0.3, 0.2]])
    assert evaluation.count_correct(scores, torch.tensor([1, 1, 0])).item() == 2
    logits = torch.tensor([-1.0, 0.2, 3.0, -0.1])
    assert evaluation.count_correct(logits, torch.tensor([0.0, 1.0, 0.0, 1.0])).item() == 2
    assert evaluation.count_correct(logits[:, None], torch.tensor([0, 1, 1, 0])).item() == 4


@pytest.mark.parametrize("name, kind", [("sgd", torch.optim.SGD), ("adam", torch.optim.Adam),
                                        ("adamw", torch.optim.AdamW)])
def test_make_optimizer_settings(name, kind):
    opt = train.make_optimizer(MLP(2, [4], 3), name, 0.05, weight_decay=1e-3)
    group = opt.param_groups[0]
    assert isinstance(opt, kind) and group["lr"] == 0.05 and group["weight_decay"] == 1e-3
    if name == "sgd":
        assert group["momentum"] == 0.9 and group["nesterov"]
    assert sum(len(g["params"]) for g in opt.param_groups) == 4  # every parameter


def test_make_schedule_shapes():
    def lrs(name):
        opt = train.make_optimizer(MLP(2, [4], 3), "sgd", 1.0)
        sched = train.make_schedule(opt, name, 1.0, 100)
        out = []
        for _ in range(100):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return out

    onecycle, cosine = lrs("onecycle"), lrs("cosine")
    assert onecycle.index(max(onecycle)) == 24 and max(onecycle) == pytest.approx(1.0)  # 25% warm-up
    assert onecycle[0] == pytest.approx(0.04) and onecycle[-1] < 1e-3
    assert cosine[0] == 1.0 and cosine[50] == pytest.approx(0.5) and cosine[-1] < 1e-3
    assert train.make_schedule(train.make_optimizer(MLP(2, [4], 3), "sgd", 1.0), None, 1.0, 10) is None


@pytest.mark.parametrize("num_epochs", range(1, 9))
def test_onecycle_works_for_short_full_batch_runs(num_epochs):
    """torch's one-cycle divides by zero for 4 steps with a 25% warm-up; short runs must still train."""
    X, y = blobs_loader()
    hist = train.fit(MLP(2, [8], 3), (X, y), num_epochs=num_epochs, lr=0.1, progress=False)
    assert len(hist) == num_epochs and all(0 < lr <= 0.1 + 1e-12 for lr in hist.lr)


# ------------------------------------------------------------------------- bad arguments and data
def test_fit_rejects_bad_arguments(monkeypatch):
    X, y = blobs_loader()

    def fit(**kwargs):
        train.fit(MLP(2, [4], 3), (X, y), **({"num_epochs": 1, "lr": 0.1} | kwargs))

    for bad in (0, 2.5, "3", True):
        with pytest.raises(ValueError, match="num_epochs must be a whole number >= 1"):
            fit(num_epochs=bad)
    for bad in (float("nan"), float("inf"), 0.0, -0.1):
        with pytest.raises(ValueError, match="lr must be a finite number > 0"):
            fit(lr=bad)
    with pytest.raises(TypeError, match="lr must be a number such as 0.1, got str '0.1'"):
        fit(lr="0.1")
    for bad in (-1.0, 0.0, float("nan"), "1"):
        with pytest.raises(ValueError, match="grad_clip is the largest gradient norm"):
            fit(grad_clip=bad)
    with pytest.raises(ValueError, match="weight_decay must be a number >= 0"):
        fit(weight_decay=-5e-4)
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\)"):
        fit(label_smoothing=1.0)
    with pytest.raises(ValueError, match="optimizer must be 'sgd', 'adam' or 'adamw'"):
        fit(optimizer="lbfgs")
    with pytest.raises(ValueError, match="schedule must be"):
        fit(schedule="step")
    with pytest.raises(ValueError, match="yields no batches"):
        train.fit(MLP(784, [4], 4), data.TensorLoader(image_set(8), batch_size=16, device="cpu"),
                  num_epochs=1, lr=0.1)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="device='cuda' but this machine has no usable CUDA GPU"):
        fit(device="cuda")


def test_a_negative_grad_clip_would_train_backwards():
    """Why grad_clip must be > 0: clip_grad_norm_ with max_norm -1 flips the gradient's sign."""
    config.set_seed(0)
    model = MLP(2, [8], 3)
    X, y = blobs_loader()
    nn.functional.cross_entropy(model(X), y).backward()
    g = model[1].weight.grad.clone()
    nn.utils.clip_grad_norm_(model.parameters(), -1.0)
    assert (model[1].weight.grad * g).sum() < 0


def test_empty_data_and_labels_outside_the_classes_are_named():
    X, y = blobs_loader()
    model = MLP(2, [4], 3)
    with pytest.raises(ValueError, match=r"train_data \(X, y\) holds no examples"):
        train.fit(model, (X[:0], y[:0]), num_epochs=1, lr=0.1)
    with pytest.raises(ValueError, match=r"one label per example: X has 400 rows"):
        train.fit(model, (X, y[:10]), num_epochs=1, lr=0.1)
    with pytest.raises(ValueError, match="val_data yields no batches"):
        train.fit(model, (X, y), data.TensorLoader(image_set(8), batch_size=16, device="cpu"),
                  num_epochs=1, lr=0.1)
    with pytest.raises(ValueError, match="the evaluation data yields no examples"):
        train.evaluate(model, [])
    bad = y.clone()
    bad[:5] = 8
    with pytest.raises(ValueError, match=r"0..2: the model outputs 3 class scores, but 5 labels .*\[8\].*"
                                         r"num_classes=9"):
        train.fit(model, (X, bad), num_epochs=1, lr=0.1, progress=False)
    loader = [(X[:200], y[:200]), (X[200:], bad[200:] * 0 + 8)]  # only a later batch is wrong
    with pytest.raises(ValueError, match="labels must be class indices 0..2"):
        train.fit(model, loader, num_epochs=1, lr=0.1, progress=False)
    with pytest.raises(ValueError, match="labels must be class indices 0..2"):
        train.evaluate(model, (X, bad))
    with pytest.raises(ValueError, match=r"values \[3\].*num_classes=4"):  # one past the last class
        train.fit(model, (X, torch.where(y == 2, 3, y)), num_epochs=1, lr=0.1, progress=False)


def test_all_labels_ignored_is_not_blamed_on_the_learning_rate():
    X, y = blobs_loader()
    ignored = torch.full_like(y, -100)
    with pytest.raises(train.NonFiniteLossError, match="ignore_index=-100") as err:
        train.fit(MLP(2, [4], 3), (X, ignored), num_epochs=1, lr=0.1, progress=False)
    assert "learning rate" not in str(err.value)
    Xn = X.clone()
    Xn[3, 1] = float("nan")
    with pytest.raises(train.NonFiniteLossError, match="inputs X of this batch contain NaN"):
        train.fit(MLP(2, [4], 3), (Xn, y), num_epochs=1, lr=0.1, progress=False)


# ----------------------------------------------------------------------- NaN losses and interrupts
def test_non_finite_loss_names_epoch_and_step_and_stops_before_the_step():
    X, y = blobs_loader()
    model = MLP(2, [16], 3)
    with pytest.raises(train.NonFiniteLossError, match=r"epoch \d+, step \d+ .*lr=.*grad_clip") as err:
        train.fit(model, (X * 1e30, y), num_epochs=5, lr=1e10, schedule=None, progress=False)
    finite = all(bool(torch.isfinite(p).all()) for p in model.parameters())
    assert "were restored" not in str(err.value)
    assert ("keeps its last finite weights" in str(err.value)) == finite


def test_nan_without_validation_does_not_claim_restored_weights():
    X, y = blobs_loader()
    model = MLP(2, [4], 3)
    with torch.no_grad():
        model[1].weight[0, 0] = float("nan")
    with pytest.raises(train.NonFiniteLossError) as err:
        train.fit(model, (X, y), num_epochs=2, lr=0.1, progress=False)
    message = str(err.value)
    assert "restored" not in message.replace("could be restored", "")
    assert "No best weights could be restored" in message and "rebuild the model" in message


class Poison(callbacks.Callback):
    """Make the weights NaN after epoch `at`, as a diverging run would."""

    def __init__(self, at):
        self.at = at

    def on_epoch_end(self, state):
        if state.epoch == self.at:
            with torch.no_grad():
                for p in state.model.parameters():
                    p.fill_(float("nan"))


def test_nan_after_a_validated_epoch_restores_that_epoch():
    config.set_seed(0)
    X, y = blobs_loader()
    model = MLP(2, [16], 3)
    snapshot = {}

    class Keep(callbacks.Callback):
        def on_epoch_end(self, state):
            if state.epoch == 2:
                snapshot.update({k: v.clone() for k, v in state.model.state_dict().items()})

    with pytest.raises(train.NonFiniteLossError, match=r"best epoch \(2, val_acc"):
        train.fit(model, (X, y), (X, y), num_epochs=5, lr=0.1, progress=False,
                  callbacks=[Keep(), Poison(at=2)])
    for k, v in model.state_dict().items():
        assert torch.equal(v, snapshot[k])


class Interrupt(callbacks.Callback):
    def __init__(self, at_epoch):
        self.at_epoch = at_epoch

    def on_batch_end(self, state):
        if state.epoch == self.at_epoch:
            raise KeyboardInterrupt


class Sabotage(callbacks.Callback):
    """Ruin the weights after epoch 2, so that the best epoch is an earlier one."""

    def on_epoch_end(self, state):
        if state.epoch == 2:
            with torch.no_grad():
                for p in state.model.parameters():
                    p.zero_()


def test_keyboard_interrupt_returns_history_marked_interrupted_and_keeps_best_weights(capsys):
    config.set_seed(0)
    X, y = blobs_loader()
    model = MLP(2, [16], 3)
    history = train.fit(model, (X, y), (X, y), num_epochs=10, lr=0.1, progress=False,
                        callbacks=[Sabotage(), Interrupt(at_epoch=4)])
    out = capsys.readouterr().out
    assert len(history) == 3 and history.interrupted
    assert "interrupted in epoch 4" in out and "history.interrupted is True" in out
    assert "(interrupted after 3 finished epochs)" in repr(history)
    assert train.evaluate(model, (X, y))[1] == pytest.approx(max(history.val_acc[:2]))
    finished = train.fit(MLP(2, [4], 3), (X, y), num_epochs=2, lr=0.1, progress=False)
    assert not finished.interrupted and "interrupted" not in repr(finished)


# ---------------------------------------------------------------------------------------- predict
def test_predict_keeps_order_and_refuses_shuffled_loaders():
    ds = image_set(40)
    model = tiny_cnn()
    expected = model.eval()(ds.normalized()).detach()
    for ordered in (data.TensorLoader(ds, batch_size=16, shuffle=False, drop_last=False, device="cpu"),
                    data.make_dataloader(ds, batch_size=16, shuffle=False),
                    [(ds.normalized(slice(0, 25)), ds.y[:25]), (ds.normalized(slice(25, 40)), ds.y[25:])]):
        torch.testing.assert_close(train.predict(model, ordered), expected, atol=1e-6, rtol=1e-5)
    shuffled = [data.TensorLoader(ds, batch_size=16, device="cpu"),
                data.make_dataloader(ds, batch_size=16, shuffle=True),  # the course's own sampler
                torch.utils.data.DataLoader(ds.normalized(), batch_size=8, shuffle=True),
                torch.utils.data.DataLoader(ds.normalized(), batch_sampler=[[1, 0], [2, 3]])]
    for loader in shuffled:
        with pytest.raises(ValueError, match="shuffle=False"):
            train.predict(model, loader)


# ------------------------------------------------------------------------------------- lr finder
def test_lr_find_sweeps_geometrically_and_restores_the_model():
    ds = image_set(256)
    loader = data.TensorLoader(ds, batch_size=16, device="cpu")
    model = tiny_cnn().eval()
    before = [p.clone() for p in model.parameters()]
    result = train.lr_find(model, loader, start_lr=1e-5, end_lr=1.0, num_steps=80)
    assert 1e-4 <= result.suggestion <= 1.0
    assert result.suggestion == pytest.approx(result.lrs[result.losses.index(min(result.losses))] / 10)
    assert result.lrs[0] == pytest.approx(1e-5)
    ratios = [b / a for a, b in zip(result.lrs, result.lrs[1:])]
    assert ratios == pytest.approx([1e5 ** (1 / 79)] * len(ratios))
    assert min(result.losses) < result.losses[0]
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # restored
    assert not model.training
    with pytest.raises(ValueError, match="0 < start_lr < end_lr"):
        train.lr_find(model, loader, start_lr=1.0, end_lr=0.1)
    with pytest.raises(ValueError, match="yields no batches"):
        train.lr_find(model, [], num_steps=5)


def test_lr_find_smoothed_loss_is_the_bias_corrected_running_mean():
    """A constant loss stays constant after smoothing: the correction divides out the zero start."""
    model = nn.Sequential(nn.Linear(2, 3))
    loss_fn = lambda y_hat, y: (y_hat * 0).sum() + 1.5  # noqa: E731
    X, y = blobs_loader()
    result = train.lr_find(model, (X, y), num_steps=10, loss_fn=loss_fn)
    assert result.losses == pytest.approx([1.5] * len(result.losses))


def test_lr_find_stops_once_the_smoothed_loss_passes_four_times_its_minimum():
    calls = []

    def loss_fn(y_hat, y):  # 1.0 for five steps, then a blow-up
        calls.append(1)
        return (y_hat * 0).sum() + (1.0 if len(calls) <= 5 else 30.0)  # 4x is passed, 40x never

    X, y = blobs_loader()
    result = train.lr_find(nn.Linear(2, 3), (X, y), num_steps=50, loss_fn=loss_fn)
    assert len(calls) == 6 and len(result.losses) == 5


# ---------------------------------------------------------------------------------------- history
def test_history_columns_best_repr_and_plot():
    h = history.History([dict(epoch=e, train_loss=tl, train_acc=ta, val_loss=vl, val_acc=va)
                         for e, tl, ta, vl, va in ((1, 0.9, 0.4, 0.8, 0.5), (2, 0.4, 0.8, 0.5, 0.7),
                                                   (3, 0.3, 0.9, 0.6, 0.6))])
    assert h.columns == ["epoch", "train_loss", "train_acc", "val_loss", "val_acc"] and len(h) == 3
    assert h.val_acc == [0.5, 0.7, 0.6] and h.best["epoch"] == 2
    assert history.History([dict(epoch=1, train_loss=0.9), dict(epoch=2, train_loss=0.4),
                            dict(epoch=3, train_loss=0.6)]).best["epoch"] == 2
    with pytest.raises(AttributeError, match="no column 'val_f1'"):
        h.val_f1
    with pytest.raises(ValueError, match="history is empty"):
        history.History().best
    assert repr(h).splitlines()[2].split() == ["2", "0.4", "0.8", "0.5", "0.7"]
    assert repr(history.History()) == "History(empty)"
    axes = h.plot()
    assert axes[0].get_ylabel() == "loss" and len(axes[1].lines) == 2
    assert sorted(list(line.get_ydata()) for line in axes[1].lines) == [[0.4, 0.8, 0.9], [0.5, 0.7, 0.6]]
    assert train.History is history.History and evaluation.evaluate is train.evaluate
    plt.close("all")
