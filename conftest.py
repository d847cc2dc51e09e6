"""pytest set-up shared by the unit tests and the notebooks (nbval).

Notebooks run in fast mode with plain-line progress; nbval compares only cells marked
`# NBVAL_CHECK_OUTPUT` (--nbval-lax), ignoring stderr and widget/HTML outputs. After the run a table
gives each notebook's seconds, and a notebook over its time budget fails the session.
"""

import os
from collections import defaultdict

os.environ.setdefault("DLCOURSE_FAST", "1")
os.environ.setdefault("DLCOURSE_PROGRESS", "lines")
os.environ.setdefault("MPLBACKEND", "Agg")

NOTEBOOK_BUDGET_S = float(os.environ.get("DLCOURSE_NOTEBOOK_BUDGET", 90))  # fast mode, 2 busy cores
_seconds: dict[str, float] = defaultdict(float)


def pytest_collectstart(collector):
    if str(getattr(collector, "path", "")).endswith(".ipynb"):
        collector.skip_compare += ("stderr", "text/html", "application/javascript",
                                   "application/vnd.jupyter.widget-view+json")


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _seconds[path] += report.duration


def _over_budget() -> list[str]:
    return [nb for nb, s in _seconds.items() if s > NOTEBOOK_BUDGET_S]


def pytest_terminal_summary(terminalreporter):
    if not _seconds:
        return
    terminalreporter.section(f"notebook run times, fast mode (budget {NOTEBOOK_BUDGET_S:.0f} s each)")
    for nb, seconds in sorted(_seconds.items()):
        flag = "  OVER BUDGET" if seconds > NOTEBOOK_BUDGET_S else ""
        terminalreporter.write_line(f"{seconds:7.1f} s  {nb}{flag}")


def pytest_sessionfinish(session, exitstatus):
    if _over_budget() and exitstatus == 0:
        session.exitstatus = 1


def pytest_runtest_setup(item):
    # `dlcourse.setup` records the run's mode for later calls; each unit test starts without one
    if not str(item.path).endswith(".ipynb"):
        from dlcourse import config

        config.RUN.clear()
