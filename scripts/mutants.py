"""Plant realistic bugs in the library one at a time and check that the unit tests catch every one.

    python scripts/mutants.py                      # every mutant in scripts/mutants_list.py
    python scripts/mutants.py --module pooling     # one module's
    python scripts/mutants.py --list               # what would be planted, run nothing
    python scripts/mutants.py -j 2                 # two at a time (the machine has 2 cores)

A mutant is (module, file under lib/dlcourse, original snippet, mutated snippet, tests): a flipped
sign, an off-by-one, a skipped check, a missing transpose or `model.eval()`. The original snippet
must occur exactly once in its file. The tool copies lib/ to a temporary folder, writes the mutated
file there and runs `pytest -x -q` on the mutant's tests (the module's test files, narrowed with
`-k` where that is enough) with the copy first on the import path. A run that fails, or one that
hangs past --timeout, "kills" the mutant; a mutant that passes every test survives. Each run is
forked from a parent that has already imported torch, so it pays only for its own tests. The tool
prints one line per mutant, a table (module, mutants, killed) and the CPU time, and exits 1 if any
mutant survived or any snippet no longer matches the code (update the list when the code changes).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {"DLCOURSE_FAST": "1", "DLCOURSE_PROGRESS": "lines", "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", action="append", help="only this module's mutants (repeatable)")
    parser.add_argument("--only", action="append", help="only the mutant with this name (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("-j", "--jobs", type=int, default=1, help="mutants run at once (default 1)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds before a run counts as hung")
    parser.add_argument("--logs", type=Path, default=None, help="keep each run's pytest output here")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the first run, of every selected test file on the unmutated library")
    return parser.parse_args(argv)


def check_snippets(mutants: list) -> list[str]:
    """Problems with the list: a snippet that is missing, or found more than once, in its file."""
    problems = []
    for m in mutants:
        count = (ROOT / "lib" / "dlcourse" / m.file).read_text().count(m.old)
        if count != 1:
            problems.append(f"{m.name}: the original snippet occurs {count} times in {m.file}")
    return problems


def start(m, lib: Path, logs: Path):
    """Plant mutant m in the copy at `lib` and start its tests; returns a child pid (or a Popen)."""
    target = lib / "dlcourse" / m.file
    target.write_text((ROOT / "lib" / "dlcourse" / m.file).read_text().replace(m.old, m.new, 1))
    log = logs / f"{m.name}.log"
    args = ["-x", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", *m.tests, *(["-k", m.k] if m.k else [])]
    if not hasattr(os, "fork"):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(lib), os.environ.get("PYTHONPATH", "")])}
        with open(log, "w") as out:
            return subprocess.Popen([sys.executable, "-m", "pytest", *args], cwd=ROOT, env=env,
                                    stdout=out, stderr=subprocess.STDOUT)
    pid = os.fork()
    if pid == 0:  # the child imports dlcourse afresh, from the mutated copy
        code = 3
        try:
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            sys.path.insert(0, str(lib))
            import pytest

            code = int(pytest.main(args))
        finally:
            os._exit(code)
    return pid


def poll(run, deadline: float) -> tuple[str, float] | None:
    """None while the run goes on; else its outcome ("killed", "survived", "hung") and CPU seconds."""
    if isinstance(run, int):
        pid, status, usage = os.wait4(run, os.WNOHANG)
        if not pid and time.monotonic() < deadline:
            return None
        if not pid:
            os.kill(run, signal.SIGKILL)
            _, status, usage = os.wait4(run, 0)
            return "hung", usage.ru_utime + usage.ru_stime
        code, cpu = os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime
    else:
        code, cpu = run.poll(), float("nan")
        if code is None and time.monotonic() < deadline:
            return None
        if code is None:
            run.kill()
            run.wait()
            return "hung", cpu
    # 0: every test passed. Anything else (failures, or an import error) means the bug was caught.
    return ("survived" if code == 0 else "killed"), cpu


def poll_until_done(run, timeout: float) -> tuple[str, float]:
    deadline = time.monotonic() + timeout
    while (done := poll(run, deadline)) is None:
        time.sleep(0.05)
    return done


def preload() -> None:
    """Import the heavy third-party modules (and pytest's plugins) once, before any run is forked."""
    import importlib
    import importlib.metadata

    for name in ("numpy", "torch", "torchvision", "torchvision.ops", "torch.utils.flop_counter",
                 "matplotlib.pyplot", "pytest", "tqdm.auto", "IPython.display"):
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    for entry in importlib.metadata.entry_points(group="pytest11"):
        with contextlib.suppress(Exception):
            entry.load()


def main(argv: list[str] | None = None) -> int:
    """Run the selected mutants; print each outcome, the per-module table and the CPU time."""
    sys.path.insert(0, str(Path(__file__).parent))
    from mutants_list import MUTANTS, Mutant

    args = parse_args(argv)
    mutants = [m for m in MUTANTS if (not args.module or m.module in args.module)
               and (not args.only or m.name in args.only)]
    problems = check_snippets(mutants)
    for p in problems:
        print(f"STALE {p}")
    if args.list or problems:
        for m in mutants:
            print(f"{m.name:<44} {m.file:<18} {' '.join(m.tests)}{' -k ' + m.k if m.k else ''}")
        return 1 if problems else 0
    for key, value in ENV.items():
        os.environ.setdefault(key, value)
    os.chdir(ROOT)
    preload()

    with tempfile.TemporaryDirectory() as tmp:
        slots = []  # one copy of lib/ per job: a run must see no other run's mutation
        for i in range(max(args.jobs, 1)):
            slots.append(Path(tmp) / f"slot{i}" / "lib")
            shutil.copytree(ROOT / "lib", slots[-1], ignore=shutil.ignore_patterns("__pycache__"))
            (slots[-1].parent / "data").symlink_to(ROOT / "data")  # config.REPO_ROOT of the copy
        logs = args.logs or Path(tmp) / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        if not args.no_baseline:  # a run that fails without a mutation would "kill" every mutant
            files = sorted({t for m in mutants for t in m.tests})
            baseline = Mutant("baseline", "baseline", mutants[0].file, "", "", tuple(files))
            outcome, seconds = poll_until_done(start(baseline, slots[0], logs), args.timeout * 10)
            print(f"baseline: the unmutated library {'passes' if outcome == 'survived' else 'FAILS'} "
                  f"{len(files)} test files ({seconds:.0f} s CPU)", flush=True)
            if outcome != "survived":
                print(f"fix the tests first; see {logs / 'baseline.log'}")
                return 2
        results, running, pending = {}, {}, list(mutants)
        before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
        while pending or running:
            free = [s for s in slots if s not in {slot for slot, _, _ in running.values()}]
            while pending and free:
                m, slot = pending.pop(0), free.pop(0)
                running[m] = (slot, start(m, slot, logs), time.monotonic() + args.timeout)
            for m, (slot, run, deadline) in list(running.items()):
                done = poll(run, deadline)
                if done is None:
                    continue
                del running[m]
                (slot / "dlcourse" / m.file).write_text((ROOT / "lib" / "dlcourse" / m.file).read_text())
                results[m] = done
                print(f"{done[0]:<9} {m.name:<44} {done[1]:6.1f} s CPU", flush=True)
            time.sleep(0.05)
        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = used.ru_utime + used.ru_stime - before.ru_utime - before.ru_stime
    table = Counter(m.module for m in mutants)
    killed = Counter(m.module for m in mutants if results[m][0] != "survived")
    print(f"\n{'module':<12}{'mutants':>8}{'killed':>8}")
    for module in sorted(table):
        print(f"{module:<12}{table[module]:>8}{killed[module]:>8}")
    print(f"{'total':<12}{sum(table.values()):>8}{sum(killed.values()):>8}")
    print(f"CPU {cpu:.0f} s (user + system of the test runs), wall {time.monotonic() - started:.0f} s")
    survivors = [m.name for m in mutants if results[m][0] == "survived"]
    if survivors:
        print("survivors: " + ", ".join(survivors))
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
