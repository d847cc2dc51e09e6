"""`History`: what `dlcourse.train.fit` returns, one row of metrics per finished epoch.

It lives apart from the loop so that callbacks (which read it) never import the loop itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class History:
    """Per-epoch metrics: `rows` of dicts (epoch, train_loss, train_acc, val_loss, val_acc, lr, seconds).

    `interrupted` is True when Ctrl-C (KeyboardInterrupt) ended `fit` early: the rows are the epochs
    that finished, and a script must not save or report the run as complete.
    """

    rows: list[dict] = field(default_factory=list)
    compile_seconds: float = 0.0  # the first (compiling) step, left out of the epoch times
    interrupted: bool = False

    def __getattr__(self, name: str) -> list:
        if name.startswith("_") or name == "rows":
            raise AttributeError(name)
        if not self.rows or name not in self.rows[-1]:
            raise AttributeError(f"History has no column {name!r}; columns: {self.columns}")
        return [row.get(name) for row in self.rows]

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def columns(self) -> list[str]:
        """The metric names of the last row, in order (empty before the first epoch)."""
        return list(self.rows[-1]) if self.rows else []

    @property
    def best(self) -> dict:
        """The row with the highest val_acc (or, without validation, the lowest train_loss)."""
        if not self.rows:
            raise ValueError("the history is empty: fit has not finished an epoch")
        if "val_acc" in self.rows[0]:
            return max(self.rows, key=lambda r: r["val_acc"])
        return min(self.rows, key=lambda r: r["train_loss"])

    def plot(self, ax=None):
        """Loss and accuracy curves (see `dlcourse.viz.plot_history`)."""
        from dlcourse.viz import plot_history

        return plot_history(self, ax=ax)

    def __repr__(self) -> str:
        if not self.rows:
            return "History(empty)"
        cols = [c for c in self.columns if c != "epoch"]
        lines = ["epoch " + " ".join(f"{c:>10}" for c in cols)]
        for r in self.rows:
            lines.append(f"{r['epoch']:>5} " + " ".join(_cell(r.get(c)) for c in cols))
        if self.interrupted:
            lines.append(f"(interrupted after {len(self.rows)} finished epochs)")
        return "\n".join(lines)


def _cell(value) -> str:
    return f"{value:>10.4g}" if isinstance(value, float) else f"{value!s:>10}"
