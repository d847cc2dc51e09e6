"""How `train.fit` shows its progress: live bars, one printed line per epoch, or nothing.

Chosen by the environment variable DLCOURSE_PROGRESS (see the README):

    bars   live bars (epochs, and the batches of the running epoch) in Jupyter or a terminal, and
           one line of metrics per epoch printed under them; the default
    lines  only the line per epoch (CI, papermill, nbgrader, log files)
    off    nothing

The metrics have a line of their own rather than riding on the bar, so the bar keeps its width in a
narrow window and the numbers are never cut off; the batches bar is removed at the end of `fit`,
also after an interrupted epoch, so nothing stale stays on screen.
"""

from __future__ import annotations

import os

MODES = {
    "bars": "live progress bars plus one line of metrics per epoch (the default)",
    "lines": "one printed line of metrics per epoch (CI, papermill, log files)",
    "off": "no progress output at all",
}
LINE_WIDTH = 64  # the metric lines under notebook bars: fit a 1024 px window with the file browser open
WRAP_INDENT = 4
BAR_MIN_WIDTH = "120px"  # a notebook bar never shrinks below this; its counts wrap under it instead


def progress_mode(enabled: bool = True) -> str:
    """The mode `fit` uses: $DLCOURSE_PROGRESS (default "bars"), or "off" when `enabled` is False.

    A value that is not one of MODES raises ValueError naming the choices, even when disabled, so a
    typo in the environment is found the first time anything trains.
    """
    raw = os.environ.get("DLCOURSE_PROGRESS", "")
    mode = raw.strip().lower() or "bars"
    if mode not in MODES:
        choices = "; ".join(f"'{name}': {what}" for name, what in MODES.items())
        raise ValueError(
            f"DLCOURSE_PROGRESS={raw!r} is not a progress mode. Choose one of {choices}. Set it "
            "before Python starts (`export DLCOURSE_PROGRESS=lines`) or in the notebook before "
            "training (`os.environ['DLCOURSE_PROGRESS'] = 'lines'`); unset it for the default bars.")
    return mode if enabled else "off"


def format_epoch(row: dict, num_epochs: int, width: int | None = None) -> str:
    """One epoch's metrics as a line: 'epoch 2/5  train_loss 0.4321  train_acc 0.8765  ...'.

    With `width`, the line is broken between metrics (never inside a name or number) into lines of
    at most `width` characters, the later ones indented: a notebook wraps long output anywhere.
    """
    items = [f"epoch {row['epoch']}/{num_epochs}"]
    items += [f"{k} {v:.4f}" for k, v in row.items() if isinstance(v, float)]
    if width is None:
        return "  ".join(items)
    lines = [items[0]]
    for item in items[1:]:
        if len(lines[-1]) + 2 + len(item) <= width:
            lines[-1] += "  " + item
        else:
            lines.append(" " * WRAP_INDENT + item)
    return "\n".join(lines)


class Progress:
    """The progress display of one `fit` call: `batch_done()`, `epoch_done(row)`, then `close()`."""

    def __init__(self, enabled: bool, num_epochs: int, steps: int):
        self.mode, self.num_epochs, self.steps = progress_mode(enabled), num_epochs, steps
        self.epochs = self.batches = None
        if self.mode == "bars":
            self.epochs = _bar(total=num_epochs, desc="epochs", unit="epoch", leave=True)
            self.batches = _bar(total=steps, desc="batches", unit="batch", leave=False)

    def batch_done(self) -> None:
        """Advance the batches bar; a full bar starts again at 0 (the next epoch's first batch)."""
        if self.batches is None:
            return
        if self.batches.n >= self.batches.total:
            self.batches.reset()
        self.batches.update()

    def epoch_done(self, row: dict) -> None:
        """Advance the epochs bar and print the epoch's metrics on a line of their own."""
        if self.mode == "off":
            return
        line = format_epoch(row, self.num_epochs)
        if self.epochs is None:
            print(line, flush=True)
            return
        self.epochs.update()
        if hasattr(self.epochs, "container"):  # a notebook: break the line between metrics
            line = format_epoch(row, self.num_epochs, LINE_WIDTH)
        self.epochs.write(line)  # tqdm.write: above a terminal's bars; under a notebook's bars

    def close(self) -> None:
        """Close the bars: the epochs bar stays (green, or red if interrupted); the batches bar goes."""
        if self.batches is not None:
            _discard(self.batches)
        if self.epochs is not None:
            self.epochs.close()
        self.batches = self.epochs = None


def _bar(**kwargs):
    """A tqdm.auto bar; in a notebook a full-width one whose counts wrap rather than squeeze the bar."""
    from tqdm.auto import tqdm
    from tqdm.notebook import tqdm_notebook

    if not issubclass(tqdm, tqdm_notebook):
        return tqdm(**kwargs)  # a terminal: tqdm fits the line to the terminal's width itself
    bar = tqdm(**kwargs)
    if hasattr(bar, "container"):  # tqdm's ncols="100%" would do this, but breaks its text version
        _label, progress, _counts = bar.container.children
        bar.container.layout = dict(width="100%", display="inline-flex", flex_flow="row wrap")
        progress.layout.flex = "2"
        progress.layout.min_width = BAR_MIN_WIDTH
    return bar


def _discard(bar) -> None:
    """Close a leave=False bar so that nothing of it stays on screen.

    tqdm's notebook bar only hides itself when it is complete; one that was reset for the next epoch,
    or stopped by an interrupt, would stay as a red 'batches 0%' bar, so its widget is closed here.
    """
    container = getattr(bar, "container", None)
    if container is not None:
        container.layout.display = "none"
    bar.close()
    if container is not None:
        for widget in (*container.children, container):  # their models too: nothing left to leak
            widget.close()
