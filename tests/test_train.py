"""dlcourse.train: the loop, its robustness, checkpoints, callbacks and the lr range test (CPU)."""

import os

import pytest
import torch
from torch import nn

from dlcourse import callbacks, config, data, train
from dlcourse.models import MLP, fast_net


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


def test_non_finite_loss_names_epoch_and_step():
    X, y = blobs_loader()
    model = MLP(2, [16], 3)
    with pytest.raises(train.NonFiniteLossError, match=r"epoch \d+, step \d+ .*lr=.*grad_clip"):
        train.fit(model, (X * 1e30, y), num_epochs=5, lr=1e10, schedule=None, progress=False)


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


def test_keyboard_interrupt_returns_history_and_keeps_best_weights(capsys):
    config.set_seed(0)
    X, y = blobs_loader()
    model = MLP(2, [16], 3)
    history = train.fit(model, (X, y), (X, y), num_epochs=10, lr=0.1, progress=False,
                        callbacks=[Sabotage(), Interrupt(at_epoch=4)])
    assert len(history) == 3 and "interrupted in epoch 4" in capsys.readouterr().out
    assert train.evaluate(model, (X, y))[1] == pytest.approx(max(history.val_acc[:2]))


def test_checkpoint_round_trip_is_atomic(tmp_path):
    model = fast_net("tiny")
    path = tmp_path / "ckpt" / "model.pt"
    digest = train.save_checkpoint(path, model, epoch=3, note="test")
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]  # no temp file left behind
    other = fast_net("tiny")
    meta = train.load_checkpoint(path, other, sha256=digest)
    assert meta == {"epoch": 3, "note": "test"}
    for a, b in zip(model.state_dict().values(), other.state_dict().values()):
        assert torch.equal(a, b)


def test_interrupted_save_leaves_old_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    train.save_checkpoint(path, MLP(2, [3], 2))
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        train.save_checkpoint(path, MLP(2, [3], 2))
    assert path.read_bytes() == before and len(list(tmp_path.iterdir())) == 1


def test_wrong_shape_checkpoint_says_which_keys_differ(tmp_path):
    path = tmp_path / "m.pt"
    train.save_checkpoint(path, MLP(4, [8], 3))
    with pytest.raises(train.CheckpointError, match=r"1.weight: checkpoint \(8, 4\) vs model \(16, 4\)"):
        train.load_checkpoint(path, MLP(4, [16], 3))
    differ = r"missing in checkpoint: 5.weight, 5.bias \| different shapes: 3.weight"
    with pytest.raises(train.CheckpointError, match=differ):
        train.load_checkpoint(path, MLP(4, [8, 8], 3))


def test_tampered_or_corrupt_or_missing_checkpoint(tmp_path):
    path = tmp_path / "m.pt"
    digest = train.save_checkpoint(path, MLP(4, [8], 3))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(train.CheckpointError, match="does not match its SHA-256"):
        train.load_checkpoint(path, MLP(4, [8], 3), sha256=digest)
    with pytest.raises(train.CheckpointError, match="not a readable checkpoint"):
        train.load_checkpoint(path, MLP(4, [8], 3))
    with pytest.raises(train.CheckpointError, match="no checkpoint at .*train the model first"):
        train.load_checkpoint(tmp_path / "absent.pt")


def test_ema_weights_lag_behind_raw_weights():
    config.set_seed(0)
    X, y = blobs_loader()
    model = MLP(2, [16], 3)
    ema = callbacks.EMA(decay=0.9)
    history = train.fit(model, (X, y), (X, y), num_epochs=30, lr=0.1, progress=False,
                        callbacks=[ema])
    raw = torch.cat([p.flatten() for p in model.parameters()])
    avg = torch.cat([p.flatten() for p in ema.model.module.parameters()])
    assert not torch.allclose(raw, avg)
    # after 30 steps with decay 0.9 the average is close to, but not equal to, the recent weights
    assert (raw - avg).norm() < 0.5 * raw.norm()
    assert "ema_val_acc" in history.columns and history.ema_val_acc[-1] >= 0.9


def test_fit_ema_argument_adds_the_callback():
    X, y = blobs_loader()
    history = train.fit(MLP(2, [8], 3), (X, y), (X, y), num_epochs=2, lr=0.1, ema=0.99,
                        progress=False)
    assert "ema_val_acc" in history.columns


def test_lr_find_suggests_a_sensible_range():
    ds = image_set(256)
    loader = data.TensorLoader(ds, batch_size=16, device="cpu")
    model = tiny_cnn()
    before = [p.clone() for p in model.parameters()]
    result = train.lr_find(model, loader, num_steps=80)
    assert 1e-4 <= result.suggestion <= 1.0
    assert min(result.losses) < result.losses[0]
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # restored


def test_early_stopping_and_checkpoint_callbacks(tmp_path):
    X, y = blobs_loader()
    stopper = callbacks.EarlyStopping(patience=1, monitor="val_loss")
    saver = callbacks.Checkpoint(tmp_path / "best.pt")
    history = train.fit(MLP(2, [8], 3), (X, y), (X, y), num_epochs=20, lr=1e-9, schedule=None,
                        progress=False, callbacks=[stopper, saver])
    assert len(history) < 20 and (tmp_path / "best.pt").exists()


def test_grad_norm_logger_records_every_weight_layer():
    X, y = blobs_loader()
    logger = callbacks.GradNormLogger()
    train.fit(MLP(2, [8, 8], 3), (X, y), num_epochs=3, lr=0.1, progress=False, callbacks=[logger])
    assert sorted(logger.norms) == ["1.weight", "3.weight", "5.weight"]
    assert all(len(v) == 3 and min(v) > 0 for v in logger.norms.values())


def test_predict_keeps_order_and_refuses_shuffled_loaders():
    ds = image_set(40)
    model = tiny_cnn()
    ordered = data.TensorLoader(ds, batch_size=16, shuffle=False, drop_last=False, device="cpu")
    logits = train.predict(model, ordered)
    assert logits.shape == (40, 4)
    assert torch.allclose(logits[:5], model.eval()(ds.normalized(slice(0, 5))), atol=1e-6)
    with pytest.raises(ValueError, match="shuffle=False"):
        train.predict(model, data.TensorLoader(ds, batch_size=16, device="cpu"))


def test_fit_rejects_bad_arguments():
    X, y = blobs_loader()
    with pytest.raises(ValueError, match="num_epochs >= 1 and lr > 0"):
        train.fit(MLP(2, [4], 3), (X, y), num_epochs=0, lr=0.1)
    with pytest.raises(ValueError, match="optimizer must be 'sgd', 'adam' or 'adamw'"):
        train.fit(MLP(2, [4], 3), (X, y), num_epochs=1, lr=0.1, optimizer="lbfgs")
    with pytest.raises(ValueError, match="yields no batches"):
        train.fit(MLP(784, [4], 4), data.TensorLoader(image_set(8), batch_size=16, device="cpu"),
                  num_epochs=1, lr=0.1)
    with pytest.raises(ValueError, match="schedule must be"):
        train.fit(MLP(2, [4], 3), (X, y), num_epochs=1, lr=0.1, schedule="step")


def test_progress_lines_print_one_line_per_epoch(capsys, monkeypatch):
    monkeypatch.setenv("DLCOURSE_PROGRESS", "lines")
    X, y = blobs_loader()
    train.fit(MLP(2, [4], 3), (X, y), num_epochs=2, lr=0.1)
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in out] == [["epoch", "1/2"], ["epoch", "2/2"]]


def test_history_repr_and_plot():
    X, y = blobs_loader()
    history = train.fit(MLP(2, [4], 3), (X, y), (X, y), num_epochs=2, lr=0.1, progress=False)
    assert repr(history).splitlines()[0].split()[:3] == ["epoch", "train_loss", "train_acc"]
    axes = history.plot()
    assert axes[0].get_ylabel() == "loss" and len(axes[1].lines) == 2
    with pytest.raises(AttributeError, match="no column 'val_f1'"):
        history.val_f1
    assert os.environ.get("MPLBACKEND", "Agg")


def test_live_plot_redraws_one_figure(monkeypatch):
    shown = []

    class Handle:
        def update(self, fig):
            shown.append(("update", len(fig.axes)))

    def fake_display(fig, display_id):
        shown.append(("display", len(fig.axes)))
        return Handle()

    import IPython.display

    monkeypatch.setattr(IPython.display, "display", fake_display)
    X, y = blobs_loader()
    train.fit(MLP(2, [4], 3), (X, y), (X, y), num_epochs=3, lr=0.1, progress=False,
              callbacks=[callbacks.LivePlot()])
    assert shown == [("display", 2), ("update", 2), ("update", 2)]


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
