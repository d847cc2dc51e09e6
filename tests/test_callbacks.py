"""dlcourse.callbacks against hand-computed oracles: EMA, early stopping, checkpoints, gradient norms,
best weights, live plots; and the errors they give when fit is called without what they need."""

import copy
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from dlcourse import callbacks, config, data, history, serialize, train
from dlcourse.models import MLP


def blobs():
    return data.make_blobs(300, centers=3, seed=0)


def fake_state(model=None, **kwargs):
    """A TrainState stand-in: what the hooks read, without running fit."""
    return SimpleNamespace(model=model, history=history.History(), epoch=0, stop=False, stop_reason="",
                           val_data=kwargs.pop("val_data", None), **kwargs)


def feed(cb, state, rows):
    """Call on_epoch_end once per row, as fit does; return the epoch after which it asked to stop."""
    for epoch, row in enumerate(rows, 1):
        state.epoch = epoch
        state.history.rows.append(dict(epoch=epoch, **row))
        cb.on_epoch_end(state)
        if state.stop:
            return epoch
    return None


class Recorder(callbacks.Callback):
    """The weights after every optimizer step."""

    def __init__(self):
        self.weights = []

    def on_batch_end(self, state):
        self.weights.append([p.detach().clone() for p in state.model.parameters()])


def test_ema_equals_a_hand_computed_exponential_average():
    config.set_seed(0)
    X, y = blobs()
    model = MLP(2, [8], 3)
    ema, rec = callbacks.EMA(decay=0.8), Recorder()
    hist = train.fit(model, (X, y), (X, y), num_epochs=6, lr=0.1, progress=False, callbacks=[rec, ema])
    average = rec.weights[0]  # the first update copies the weights, then w_ema <- d w_ema + (1-d) w
    for w in rec.weights[1:]:
        average = [0.8 * a + 0.2 * b for a, b in zip(average, w)]
    for got, want in zip(ema.model.module.parameters(), average):
        torch.testing.assert_close(got.detach(), want, rtol=1e-5, atol=1e-6)
    assert hist.ema_val_acc[-1] == pytest.approx(train.evaluate(ema.model.module, (X, y))[1])
    assert hist.ema_val_loss[-1] == pytest.approx(train.evaluate(ema.model.module, (X, y))[0], rel=1e-6)
    with pytest.raises(ValueError, match=r"EMA decay must be in \(0, 1\)"):
        callbacks.EMA(1.0)


def test_fit_ema_argument_adds_the_callback():
    X, y = blobs()
    hist = train.fit(MLP(2, [8], 3), (X, y), (X, y), num_epochs=2, lr=0.1, ema=0.99, progress=False)
    assert "ema_val_acc" in hist.columns and "ema_val_acc" not in train.fit(
        MLP(2, [8], 3), (X, y), (X, y), num_epochs=1, lr=0.1, progress=False).columns


@pytest.mark.parametrize("monitor, values, patience, min_delta, stops_after", [
    ("val_loss", [1.0, 0.9, 0.95, 0.93, 0.96], 2, 0.0, 4),
    ("val_loss", [1.0, 0.9, 0.95, 0.85, 0.96, 0.97], 2, 0.0, 6),
    ("val_loss", [1.0, 0.9, 0.89, 0.88], 2, 0.05, 4),  # improvements smaller than min_delta don't count
    ("val_acc", [0.5, 0.6, 0.6, 0.7], 1, 0.0, 3),      # equal is not better
    ("val_acc", [0.5, 0.6, 0.7, 0.8], 1, 0.0, None),
    ("train_loss", [3.0, 2.0, 2.5], 1, 0.0, 3),
])
def test_early_stopping_against_the_rule(monitor, values, patience, min_delta, stops_after):
    cb = callbacks.EarlyStopping(patience=patience, monitor=monitor, min_delta=min_delta)
    state = fake_state(val_data=[])
    cb.on_fit_start(state)
    assert feed(cb, state, [{monitor: v} for v in values]) == stops_after
    if stops_after:
        assert state.stop_reason == f"early stopping: {monitor} flat for {patience} epochs"


def test_early_stopping_needs_validation_data_and_sane_settings():
    X, y = blobs()
    with pytest.raises(ValueError, match=r"EarlyStopping\(monitor='val_loss'\) needs validation data"):
        train.fit(MLP(2, [4], 3), (X, y), num_epochs=2, lr=0.1, progress=False,
                  callbacks=[callbacks.EarlyStopping()])
    hist = train.fit(MLP(2, [4], 3), (X, y), num_epochs=3, lr=1e-9, schedule=None, progress=False,
                     callbacks=[callbacks.EarlyStopping(1, monitor="train_loss", min_delta=1.0)])
    assert len(hist) == 2  # train_loss never improves by 1.0: stops after patience + 1 epochs
    for bad in (dict(patience=0), dict(patience=1.5), dict(min_delta=-0.1), dict(monitor="loss")):
        with pytest.raises(ValueError):
            callbacks.EarlyStopping(**bad)


def test_checkpoint_saves_the_best_epoch_only(tmp_path):
    model = MLP(2, [4], 3)
    path = tmp_path / "best.pt"
    cb = callbacks.Checkpoint(path)
    state = fake_state(model)
    saved = {}
    for epoch, acc in enumerate([0.5, 0.7, 0.6], 1):
        with torch.no_grad():
            model[1].weight.fill_(epoch)  # tell the epochs' weights apart
        state.history.rows.append(dict(epoch=epoch, train_loss=1.0, val_acc=acc))
        cb.on_epoch_end(state)
        saved[epoch] = serialize.load_checkpoint(path)
    assert [saved[e]["epoch"] for e in (1, 2, 3)] == [1, 2, 2]
    restored = MLP(2, [4], 3)
    assert serialize.load_checkpoint(path, restored) == {"epoch": 2, "score": 0.7}
    assert torch.all(restored[1].weight == 2)
    every = callbacks.Checkpoint(tmp_path / "every.pt", every_epoch=True)
    feed(every, fake_state(model), [dict(train_loss=0.5), dict(train_loss=0.9)])
    assert serialize.load_checkpoint(tmp_path / "every.pt") == {"epoch": 2, "score": -0.9}


def test_checkpoint_through_fit(tmp_path):
    X, y = blobs()
    hist = train.fit(MLP(2, [8], 3), (X, y), (X, y), num_epochs=4, lr=0.1, progress=False,
                     callbacks=[callbacks.Checkpoint(tmp_path / "best.pt")])
    meta = serialize.load_checkpoint(tmp_path / "best.pt")
    assert meta["score"] == max(hist.val_acc) and meta["epoch"] == hist.best["epoch"]


def test_grad_norm_logger_against_autograd():
    config.set_seed(0)
    X, y = blobs()
    model = MLP(2, [8, 8], 3)
    reference = copy.deepcopy(model)
    nn.functional.cross_entropy(reference(X), y).backward()
    logger = callbacks.GradNormLogger(every=2)
    train.fit(model, (X, y), num_epochs=5, lr=0.1, progress=False, callbacks=[logger])
    assert sorted(logger.norms) == ["1.weight", "3.weight", "5.weight"]
    assert logger.steps == [0, 2, 4] and all(len(v) == 3 for v in logger.norms.values())
    for name, p in reference.named_parameters():
        if p.ndim > 1:
            assert logger.norms[name][0] == pytest.approx(p.grad.norm().item(), rel=1e-6)


def test_best_weights_keeps_the_best_validated_epoch():
    model = nn.Linear(2, 2)
    best = callbacks.BestWeights()
    assert not best.restore(model)  # nothing kept yet
    state = fake_state(model)
    for epoch, acc in enumerate([0.4, 0.9, 0.7], 1):
        with torch.no_grad():
            model.weight.fill_(epoch)
        state.epoch = epoch
        state.history.rows.append(dict(epoch=epoch, train_loss=0.1, val_acc=acc))
        best.on_epoch_end(state)
    assert (best.epoch, best.best) == (2, 0.9)
    assert best.restore(model) and torch.all(model.weight == 2)
    no_val = callbacks.BestWeights()
    feed(no_val, fake_state(model), [dict(train_loss=0.1)])
    assert not no_val.restore(model)


def test_live_plot_redraws_one_figure(monkeypatch):
    shown = []

    class Handle:
        def update(self, fig):
            shown.append(("update", len(fig.axes), len(fig.axes[0].lines[0].get_xdata())))

    def fake_display(fig, display_id):
        shown.append(("display", len(fig.axes), len(fig.axes[0].lines[0].get_xdata())))
        return Handle()

    import IPython.display

    monkeypatch.setattr(IPython.display, "display", fake_display)
    X, y = blobs()
    train.fit(MLP(2, [4], 3), (X, y), (X, y), num_epochs=3, lr=0.1, progress=False,
              callbacks=[callbacks.LivePlot()])
    assert shown == [("display", 2, 1), ("update", 2, 2), ("update", 2, 3)]  # one point per epoch


def test_hooks_run_in_the_documented_order():
    calls = []

    class Spy(callbacks.Callback):
        def on_fit_start(self, state):
            calls.append("fit_start")

        def on_after_backward(self, state):
            calls.append(("backward", state.step, all(p.grad is not None
                                                       for p in state.model.parameters())))

        def on_batch_end(self, state):
            calls.append(("batch_end", state.step))

        def on_epoch_end(self, state):
            calls.append(("epoch_end", len(state.history)))

        def on_fit_end(self, state):
            calls.append("fit_end")

    X, y = blobs()
    train.fit(MLP(2, [4], 3), [(X[:150], y[:150]), (X[150:], y[150:])], num_epochs=1, lr=0.1,
              progress=False, callbacks=[Spy()])
    assert calls == ["fit_start", ("backward", 0, True), ("batch_end", 1), ("backward", 1, True),
                     ("batch_end", 2), ("epoch_end", 1), "fit_end"]
