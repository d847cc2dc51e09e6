"""Student assignments that a real nbgrader grades, derived from notebooks/ every time.

    python scripts/make_assignments.py                     # every lesson, one assignment per lesson
    python scripts/make_assignments.py --lessons 01 03     # only these lessons
    python scripts/make_assignments.py --group course      # the chosen lessons as one assignment
    python scripts/make_assignments.py --round-trip        # then autograde a blank and a solved copy

Writes an nbgrader course folder (default build/classroom/): `nbgrader_config.py` and
`source/<assignment>/<lesson>.ipynb`, then runs the real `nbgrader generate_assignment` into
`release/<assignment>/`. Nothing is kept by hand: all of nbgrader's cell metadata comes from the
exercise shape of CONTRIBUTING.md. An answer cell (`### BEGIN SOLUTION` ... `### END SOLUTION`) becomes
a solution cell, its check cell (right after it) an autograded test cell worth 1 point (or N with
`# check exercise 3 (N points)`), every other cell is locked read-only, grade ids are `exerciseN_answer`,
`exerciseN_check` and `cell_NNN`, and `jupyter.source_hidden` is dropped so that the student sees the
answer cell. A check cell may carry `### BEGIN HIDDEN TESTS` ... `### END HIDDEN TESTS` parts: nbgrader
removes them from the student copy and runs them when grading. The folder's gradebook, submissions and
grades are kept; source/, release/ and nbgrader_config.py are rewritten.

`--round-trip` proves the grading: it autogrades the released blank copy and a copy with the solutions
filled in (two students, in parallel, each in a copy of the course folder with its own gradebook), then
prints points, scores and seconds per lesson. tests/test_assignments.py runs the same round trip.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
DEFAULT_OUT = ROOT / "build" / "classroom"
CELL_TIMEOUT_S = 300  # fast mode runs a whole lesson in well under a minute on one CPU core
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
CHECK_CALL = "dlcourse.check."
EXERCISE_RE = re.compile(r"^#\s*exercise\s+(\d+)", re.IGNORECASE | re.MULTILINE)
POINTS_RE = re.compile(r"^#\s*check exercise\b[^\n]*\((\d+(?:\.\d+)?)\s*points?\)",
                       re.IGNORECASE | re.MULTILINE)

CONFIG = '''\
"""nbgrader settings of the dlcourse classroom, written by scripts/make_assignments.py.

Re-run `make assignments` (or the script) instead of editing this file: it is rewritten every time.
"""

import os

c = get_config()  # noqa: F821 (nbgrader provides it)
root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.root = root
c.CourseDirectory.course_id = "dlcourse"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(root, "gradebook.db")

# Autograding runs every notebook top to bottom. In fast mode (the bundled small data set, one CPU
# thread) a whole lesson takes well under a minute, so {timeout} s per cell leaves room for a slow
# machine; nbgrader's default of 30 s would kill training cells and produce no grade.
c.Execute.timeout = {timeout}

# The kernels that nbgrader starts inherit this environment: fast mode, and training progress as
# plain printed lines, so that feedback notebooks carry no frozen progress-bar widgets. Set these
# variables before running nbgrader to override them (e.g. DLCOURSE_FAST=0 on a GPU machine, with a
# larger Execute.timeout).
os.environ.setdefault("DLCOURSE_FAST", "1")
os.environ.setdefault("DLCOURSE_PROGRESS", "lines")
'''


class ShapeError(ValueError):
    """A lesson's exercises are not in the shape that nbgrader's metadata is derived from."""


@dataclass
class Exercise:
    """One exercise: its number and the indices of its answer and check cells."""

    number: int
    answer: int
    check: int
    points: float = 1.0


def lesson_notebooks(lessons: list[str] | None = None, folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """The lesson notebooks `NN_*.ipynb` in `folder`, all or those numbered in `lessons` ("1" or "01")."""
    paths = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if lessons:
        wanted = {f"{int(n):02d}" for n in lessons}
        unknown = wanted - {p.name[:2] for p in paths}
        if unknown:
            raise SystemExit(f"no lesson {', '.join(sorted(unknown))} in {folder}; there are "
                             f"{', '.join(p.name[:2] for p in paths)}")
        paths = [p for p in paths if p.name[:2] in wanted]
    return paths


def _markers_paired(source: str, begin: str, end: str) -> bool:
    depth = 0
    for line in source.splitlines():
        depth += (begin in line) - (end in line)
        if depth not in (0, 1):
            return False
    return depth == 0


def find_exercises(nb: nbformat.NotebookNode, name: str = "notebook") -> list[Exercise]:
    """The exercises of a lesson, or ShapeError saying which cell breaks the shape and how to fix it."""
    found: list[Exercise] = []
    cells = nb.cells
    for i, cell in enumerate(cells):
        src, where = cell.source, f"{name} cell {i}"
        solution = BEGIN in src or END in src
        hidden = BEGIN_HIDDEN in src or END_HIDDEN in src
        if cell.cell_type != "code":
            if solution or hidden:
                raise ShapeError(f"{where} ({cell.cell_type}) holds solution or hidden-test markers: only "
                                 "code answer cells carry ### BEGIN SOLUTION (CONTRIBUTING.md, Exercises)")
            continue
        if not solution:
            continue
        if not _markers_paired(src, BEGIN, END):
            raise ShapeError(f"{where}: each ### BEGIN SOLUTION needs one ### END SOLUTION after it")
        if CHECK_CALL in src or hidden:
            raise ShapeError(f"{where}: the check is inside the answer cell; move the dlcourse.check call "
                             "to its own cell right after the answer cell (CONTRIBUTING.md, Exercises)")
        after = cells[i + 1] if i + 1 < len(cells) else None
        if (after is None or after.cell_type != "code" or CHECK_CALL not in after.source
                or BEGIN in after.source):
            raise ShapeError(f"{where}: no check cell right after this answer cell; add a code cell "
                             "'# check exercise N' with one dlcourse.check.<name>(...) call")
        match = EXERCISE_RE.search(src)
        number = int(match.group(1)) if match else len(found) + 1
        if number in {e.number for e in found}:
            raise ShapeError(f"{where}: two exercises are numbered {number}; number them 1, 2, 3, ...")
        points = POINTS_RE.search(after.source)
        found.append(Exercise(number, i, i + 1, float(points.group(1)) if points else 1.0))
    checks = {e.check for e in found}
    for i, cell in enumerate(cells):
        if BEGIN_HIDDEN in cell.source or END_HIDDEN in cell.source:
            if i not in checks:
                raise ShapeError(f"{name} cell {i}: ### BEGIN HIDDEN TESTS belongs in a check cell, the "
                                 "cell right after an answer cell")
            if not _markers_paired(cell.source, BEGIN_HIDDEN, END_HIDDEN):
                raise ShapeError(f"{name} cell {i}: each ### BEGIN HIDDEN TESTS needs one "
                                 "### END HIDDEN TESTS after it")
    return found


def to_nbgrader(nb: nbformat.NotebookNode, name: str = "notebook"
                ) -> tuple[nbformat.NotebookNode, list[Exercise]]:
    """A copy of `nb` with nbgrader's metadata on every cell, derived from its exercises."""
    found = find_exercises(nb, name)
    nb = copy.deepcopy(nb)
    answers, checks = {e.answer: e for e in found}, {e.check: e for e in found}
    for i, cell in enumerate(nb.cells):
        meta = cell.metadata
        for key in ("nbgrader", "editable", "deletable"):  # never kept by hand: derived below
            meta.pop(key, None)
        jupyter = meta.get("jupyter", {})
        jupyter.pop("source_hidden", None)  # collapsed for self-study; the student copy shows it
        if "jupyter" in meta and not jupyter:
            del meta["jupyter"]
        if i in answers:
            grader = dict(solution=True, grade=False, locked=False,
                          grade_id=f"exercise{answers[i].number}_answer")
        elif i in checks:
            grader = dict(solution=False, grade=True, locked=True, points=checks[i].points,
                          grade_id=f"exercise{checks[i].number}_check")
        else:
            grader = dict(solution=False, grade=False, locked=True, grade_id=f"cell_{i:03d}")
        meta["nbgrader"] = {**grader, "schema_version": 3}
    return nb, found


def write_course(out: Path, notebooks: list[Path], group: str | None = None,
                 timeout: int = CELL_TIMEOUT_S) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Write nbgrader_config.py and source/; returns ({assignment: [notebook names]}, {notebook: error})."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "nbgrader_config.py").write_text(CONFIG.format(timeout=timeout))
    assignments: dict[str, list[tuple[str, nbformat.NotebookNode]]] = {}
    errors: dict[str, str] = {}
    for path in notebooks:
        try:
            converted, _ = to_nbgrader(nbformat.read(path, as_version=4), path.name)
        except ShapeError as err:
            errors[path.name] = str(err)
            continue
        assignments.setdefault(group or f"lesson{path.name[:2]}", []).append((path.name, converted))
    for assignment, items in assignments.items():
        folder = out / "source" / assignment
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for filename, converted in items:
            nbformat.write(converted, folder / filename)
    return {a: [f for f, _ in items] for a, items in assignments.items()}, errors


def nbgrader(args: list[str], course: Path, env: dict | None = None, echo: bool = False
             ) -> list[tuple[float, str]]:
    """Run `nbgrader ARGS` in the course folder; returns its log lines with arrival times."""
    proc = subprocess.Popen([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:
        lines.append((time.monotonic(), line.rstrip()))
        if echo:
            print(line, end="", flush=True)
    if proc.wait():
        log = "\n".join(text for _, text in lines[-40:])
        raise RuntimeError(f"nbgrader {' '.join(args)} failed (exit {proc.returncode}) in {course}:\n{log}")
    return lines


def isolated_env(home: Path) -> dict:
    """This environment with Jupyter's and IPython's user folders in `home` (no personal config read),
    this checkout's lib/ first on the path, and no DLCOURSE_* mode settings (nbgrader_config.py's
    defaults apply, as for an instructor); this interpreter's scripts first on PATH."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DLCOURSE_FAST", "DLCOURSE_PROGRESS", "DLCOURSE_LINT_FIGURES", "DLCOURSE_THREADS")}
    for var, sub in [("JUPYTER_CONFIG_DIR", "jupyter/config"), ("JUPYTER_DATA_DIR", "jupyter/data"),
                     ("JUPYTER_RUNTIME_DIR", "jupyter/runtime"), ("IPYTHONDIR", "ipython")]:
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(home / sub)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "lib"), *filter(None, [env.get("PYTHONPATH")])])
    # nbgrader runs console scripts (`alembic`) by name: find this interpreter's, activated or not
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), *filter(None, [env.get("PATH")])])
    return env


@dataclass
class Graded:
    """One student's grades for one notebook: {grade_id: (score, max_score)}, autograde seconds, and the
    errors of lesson cells (a student copy must run top to bottom; only exercises may fail)."""

    scores: dict[str, tuple[float, float]] = field(default_factory=dict)
    seconds: float = 0.0
    lesson_errors: list[str] = field(default_factory=list)  # errors outside the exercises, and timeouts

    @property
    def score(self) -> float:
        return sum(s for s, _ in self.scores.values())

    @property
    def points(self) -> float:
        return sum(m for _, m in self.scores.values())


def solved_copy(released: Path, source: Path) -> nbformat.NotebookNode:
    """The released notebook with every answer cell filled in from the source (what a student writes)."""
    nb = nbformat.read(released, as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nbformat.read(source, as_version=4).cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = answers[cell.metadata["nbgrader"]["grade_id"]]
    return nb


def grade(course: Path, assignment: str, student: str, submission: dict[str, nbformat.NotebookNode],
          workdir: Path, env: dict | None = None, feedback: bool = True) -> tuple[dict[str, Graded], Path]:
    """Autograde one student's notebooks {filename: notebook} in a copy of the course folder (its own
    gradebook, so that students can be graded in parallel); returns the grades and that folder."""
    from nbgrader.api import Gradebook

    folder = workdir / student
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(course, folder, ignore=shutil.ignore_patterns("submitted", "autograded", "feedback"))
    target = folder / "submitted" / student / assignment
    target.mkdir(parents=True)
    for filename, nb in submission.items():
        nbformat.write(nb, target / filename)
    lines = nbgrader(["autograde", assignment, "--force", f"--student={student}"], folder, env)
    if feedback:
        nbgrader(["generate_feedback", assignment, "--force", f"--student={student}"], folder, env)
    graded: dict[str, Graded] = {}
    starts = [(t, Path(text.split("Autograding ", 1)[1]).stem) for t, text in lines if "Autograding " in text]
    ends = [t for t, text in lines if "Sanitizing " in text][1:] + [lines[-1][0]]
    for (start, notebook), end in zip(starts, ends):
        graded[notebook] = Graded(seconds=end - start)
    for path in sorted((folder / "autograded" / student / assignment).glob("*.ipynb")):
        errors = lesson_errors(nbformat.read(path, as_version=4))
        graded.setdefault(path.stem, Graded()).lesson_errors = errors
    with Gradebook(f"sqlite:///{folder / 'gradebook.db'}") as gb:
        for nb in gb.find_submission(assignment, student).notebooks:
            graded.setdefault(nb.name, Graded()).scores = {g.name: (g.score, g.max_score) for g in nb.grades}
    return graded, folder


def lesson_errors(nb: nbformat.NotebookNode) -> list[str]:
    """'grade_id: ename: evalue' for every error outside the answer and check cells, and every timeout."""
    found = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        exercise = meta.get("solution") or meta.get("grade")
        for out in cell.get("outputs", []):
            if out.output_type == "error" and (not exercise or out.ename == "CellTimeoutError"):
                found.append(f"{meta.get('grade_id', '?')}: {out.ename}: {out.evalue}"[:300])
    return found


def submissions(course: Path, assignment: str) -> dict[str, dict[str, nbformat.NotebookNode]]:
    """The round trip's two students: the released blank copy, and the same with the answers filled in."""
    released, source = course / "release" / assignment, course / "source" / assignment
    paths = sorted(released.glob("*.ipynb"))
    return {"blank": {p.name: nbformat.read(p, as_version=4) for p in paths},
            "solution": {p.name: solved_copy(p, source / p.name) for p in paths}}


@dataclass
class RoundTrip:
    """The round trip of one assignment: grades per student and notebook, and what it cost."""

    grades: dict[str, dict[str, Graded]]
    folders: dict[str, Path]
    wall_s: float
    cpu_s: float

    def table(self) -> str:
        rows = [f"{'notebook':<44}{'points':>7}{'blank':>7}{'solution':>9}   autograde s (blank/solution)"]
        for notebook in sorted(self.grades["solution"]):
            blank, solution = self.grades["blank"][notebook], self.grades["solution"][notebook]
            rows.append(f"{notebook:<44}{solution.points:>7g}{blank.score:>7g}{solution.score:>9g}   "
                        f"{blank.seconds:6.1f} / {solution.seconds:.1f}")
            for student, graded in [("blank", blank), ("solved", solution)]:
                rows += [f"    {student} copy, {error}" for error in graded.lesson_errors]
        rows.append(f"round trip: {self.wall_s:.0f} s wall, {self.cpu_s:.0f} s CPU (both submissions, "
                    "kernels included)")
        return "\n".join(rows)


def round_trip(course: Path, assignment: str, workdir: Path, env: dict | None = None,
               parallel: bool = True, feedback: bool = True) -> RoundTrip:
    """Autograde the released blank copy and a solved copy of `assignment`, in parallel if asked."""
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    with ThreadPoolExecutor(max_workers=2 if parallel else 1) as pool:
        jobs = {student: pool.submit(grade, course, assignment, student, notebooks, workdir, env, feedback)
                for student, notebooks in submissions(course, assignment).items()}
        results = {student: job.result() for student, job in jobs.items()}
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return RoundTrip({s: r[0] for s, r in results.items()}, {s: r[1] for s, r in results.items()},
                     time.perf_counter() - start, cpu)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lessons", nargs="+", metavar="NN", help="lesson numbers (default: all)")
    parser.add_argument("--group", metavar="NAME", help="put the lessons in one assignment called NAME "
                        "(default: one assignment per lesson, lessonNN)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the course folder (%(default)s)")
    parser.add_argument("--timeout", type=int, default=CELL_TIMEOUT_S, help="autograding seconds per cell")
    parser.add_argument("--round-trip", action="store_true", help="then autograde a blank and a solved "
                        "copy of each assignment (in OUT-roundtrip/) and print the scores")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    assignments, errors = write_course(out, lesson_notebooks(args.lessons), args.group, args.timeout)
    for assignment, names in assignments.items():
        nbgrader(["generate_assignment", assignment, "--force"], out)
        print(f"{assignment}: {', '.join(names)} -> {out / 'release' / assignment}")
    for name, error in errors.items():
        print(f"skipped {name}: {error}", file=sys.stderr)
    for assignment in assignments if args.round_trip else ():
        workdir = out.parent / f"{out.name}-roundtrip" / assignment
        result = round_trip(out, assignment, workdir, isolated_env(workdir / "home"))
        print(f"\n{assignment}, graded in {workdir}:\n{result.table()}")
    return 1 if errors or not assignments else 0


if __name__ == "__main__":
    sys.exit(main())
