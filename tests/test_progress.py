"""fit's progress display without a browser: modes, the metric line, bars that keep their width and
a batches bar that leaves nothing behind (its widget is closed, also after an interrupted epoch)."""

import pytest
import tqdm.auto
from torch.utils.data import DataLoader, TensorDataset
from tqdm.notebook import tqdm_notebook

from dlcourse import data, progress
from dlcourse.callbacks import Callback
from dlcourse.models import MLP
from dlcourse.train import fit

ROW = dict(epoch=2, train_loss=0.43214, train_acc=0.87654, lr=0.01, val_acc=0.8075, seconds=1.5)


@pytest.mark.parametrize("raw, mode", [("", "bars"), ("bars", "bars"), (" LINES ", "lines"),
                                       ("off", "off")])
def test_progress_mode_reads_the_environment(monkeypatch, raw, mode):
    monkeypatch.setenv("DLCOURSE_PROGRESS", raw)
    assert progress.progress_mode() == mode
    assert progress.progress_mode(enabled=False) == "off"


def test_unknown_progress_mode_names_the_choices(monkeypatch):
    monkeypatch.setenv("DLCOURSE_PROGRESS", "line")
    with pytest.raises(ValueError, match="'line' is not a progress mode.*'bars'.*'lines'.*'off'"):
        progress.progress_mode(enabled=False)  # a typo is reported even where progress is off


def test_format_epoch_prints_every_float_whole():
    line = progress.format_epoch(ROW, num_epochs=5)
    assert line == ("epoch 2/5  train_loss 0.4321  train_acc 0.8765  lr 0.0100  val_acc 0.8075  "
                    "seconds 1.5000")


def test_format_epoch_breaks_only_between_metrics():
    text = progress.format_epoch(ROW, num_epochs=5, width=40)
    lines = text.splitlines()
    assert lines == ["epoch 2/5  train_loss 0.4321", "    train_acc 0.8765  lr 0.0100",
                     "    val_acc 0.8075  seconds 1.5000"]
    assert " ".join(text.split()) == " ".join(progress.format_epoch(ROW, 5).split())
    assert progress.format_epoch(ROW, 5, width=10).splitlines()[1] == "    train_loss 0.4321"


def test_lines_mode_prints_one_line_per_epoch_and_off_prints_nothing(monkeypatch, capsys):
    monkeypatch.setenv("DLCOURSE_PROGRESS", "lines")
    bars = progress.Progress(True, num_epochs=3, steps=4)
    for epoch in (1, 2):
        for _ in range(4):
            bars.batch_done()
        bars.epoch_done({**ROW, "epoch": epoch})
    bars.close()
    assert [line[:9] for line in capsys.readouterr().out.splitlines()] == ["epoch 1/3", "epoch 2/3"]
    quiet = progress.Progress(False, num_epochs=3, steps=4)
    quiet.batch_done(), quiet.epoch_done(ROW), quiet.close()
    assert capsys.readouterr() == ("", "")


def test_terminal_bars_count_batches_per_epoch_and_print_metrics(monkeypatch, capsys):
    monkeypatch.setenv("DLCOURSE_PROGRESS", "bars")
    bars = progress.Progress(True, num_epochs=2, steps=3)
    counts = []
    for epoch in (1, 2):
        for _ in range(3):
            bars.batch_done()
            counts.append(bars.batches.n)
        bars.epoch_done({**ROW, "epoch": epoch})
    assert counts == [1, 2, 3, 1, 2, 3]  # the next epoch's first batch restarts the bar
    assert bars.epochs.n == 2
    bars.close()
    assert bars.epochs is None and bars.batches is None
    captured = capsys.readouterr()
    assert "epoch 2/2  train_loss 0.4321" in captured.out + captured.err


@pytest.fixture
def notebook_bars(monkeypatch):
    """Make tqdm.auto hand out the notebook (ipywidgets) bar, as it does in JupyterLab."""
    monkeypatch.setenv("DLCOURSE_PROGRESS", "bars")
    monkeypatch.setattr(tqdm.auto, "tqdm", tqdm_notebook)


def test_notebook_bar_keeps_its_width_and_wraps_its_counts(notebook_bars):
    bar = progress._bar(total=5, desc="epochs", unit="epoch", leave=True)
    label, bar_widget, counts = bar.container.children
    assert bar.container.layout.flex_flow == "row wrap" and bar.container.layout.width == "100%"
    assert bar_widget.layout.min_width == progress.BAR_MIN_WIDTH and bar_widget.layout.flex == "2"
    bar.close()


@pytest.mark.parametrize("finished_batches", [3, 1])  # a whole epoch, and one interrupted mid-way
def test_notebook_batches_bar_leaves_nothing_and_epochs_bar_stays(notebook_bars, capsys,
                                                                   finished_batches):
    bars = progress.Progress(True, num_epochs=2, steps=3)
    epochs, batches = bars.epochs.container, bars.batches.container
    for _ in range(finished_batches):
        bars.batch_done()
    if finished_batches == 3:
        bars.epoch_done(ROW)
        printed = capsys.readouterr().out
        assert "epoch 2/2  train_loss 0.4321  train_acc 0.8765  lr 0.0100\n    val_acc" in printed
    bars.close()
    assert batches.layout.display == "none" and batches.comm is None  # hidden and its view gone
    assert epochs.layout.display != "none" and epochs.comm is not None
    assert all(child.comm is None for child in batches.children)


def test_fit_closes_its_bars_when_interrupted(notebook_bars, monkeypatch, capsys):
    made = []
    real_bar = progress._bar
    monkeypatch.setattr(progress, "_bar", lambda **kw: made.append(real_bar(**kw)) or made[-1])
    X, y = data.make_blobs(64, centers=3, seed=0)

    class Interrupt(Callback):
        def on_after_backward(self, state):
            if state.step == 2:
                raise KeyboardInterrupt

    loader = DataLoader(TensorDataset(X, y), batch_size=16)
    history = fit(MLP(2, [4], 3), loader, num_epochs=3, lr=0.1, callbacks=[Interrupt()])
    assert len(history) == 0
    epochs, batches = made
    assert batches.container.layout.display == "none" and batches.container.comm is None
    assert epochs.container.comm is not None and epochs.n == 0
