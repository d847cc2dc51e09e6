"""scripts/make_assignments.py: nbgrader metadata derived from the exercise shape, and real round trips.

The unit tests build small notebooks in tmp folders. The round trips run the real nbgrader (0.9):
generate_assignment, then autograde of the released blank copy and of a copy with the solutions filled
in; the blank must score 0 and the solution full marks on every autograded cell. Everything runs in
tmp course folders with their own gradebooks and Jupyter/IPython folders (no personal config read).
"""

import importlib.util
import json
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _load_script():
    path = ROOT / "scripts" / "make_assignments.py"
    spec = importlib.util.spec_from_file_location("make_assignments", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


ma = _load_script()
HIDDEN = {"jupyter": {"source_hidden": True}}


def lesson(*exercises, intro=True):
    """A small lesson notebook: title, setup, parameters, one lesson cell, then `exercises`, each
    (task, answer source, check source[, answer metadata])."""
    cells = [new_markdown_cell("# 99 · A tiny lesson\n\n## Learning goals\n- grading"),
             new_code_cell("# setup: imports\nimport os\n\nimport dlcourse"),
             new_code_cell("# parameters\nFAST = None\nSEED = 0", metadata={"tags": ["parameters"]}),
             new_code_cell("# derived settings\nFAST, device = dlcourse.setup(FAST, SEED)"),
             new_code_cell("# the environment the grader gives the kernel\n"
                           "print(os.environ.get('DLCOURSE_FAST'), os.environ.get('DLCOURSE_PROGRESS'))")]
    if intro:
        cells.append(new_markdown_cell("## Summary\n- short\n\n## Exercises\nEach solution opens collapsed."))
    for task, answer, check, *meta in exercises:
        cells += [new_markdown_cell(task), new_code_cell(answer, metadata=meta[0] if meta else dict(HIDDEN)),
                  new_code_cell(check)]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python",
                                 "name": "python3"}
    return nb


NUMBER = ("1. How many parameters has an MLP 784 -> 256 -> 128 -> 10?",
          "# exercise 1: count parameters\nn_params = None\n### BEGIN SOLUTION\n"
          "sizes = [784, 256, 128, 10]\n"
          "n_params = sum(i * o + o for i, o in zip(sizes[:-1], sizes[1:]))\n### END SOLUTION",
          "# check exercise 1\ndlcourse.check.mlp_param_count(n_params)\n"
          "### BEGIN HIDDEN TESTS\nassert isinstance(n_params, int), 'an int, please'\n### END HIDDEN TESTS")
FUNCTION = ("2. Write glorot_std(fan_in, fan_out).",
            "# exercise 2: the Glorot scale\ndef glorot_std(fan_in, fan_out):\n"
            '    """Standard deviation of Glorot normal initialization."""\n'
            "    ### BEGIN SOLUTION\n    return (2.0 / (fan_in + fan_out)) ** 0.5\n    ### END SOLUTION",
            "# check exercise 2 (2 points)\ndlcourse.check.glorot_std(glorot_std)")


def nbgrader_meta(nb):
    return [c.metadata.get("nbgrader") for c in nb.cells]


# --- deriving the metadata ---------------------------------------------------------------------------


def test_answer_check_and_locked_cells():
    source = lesson(NUMBER, FUNCTION)
    nb, found = ma.to_nbgrader(source, "99_tiny.ipynb")
    assert [(e.number, e.answer, e.check, e.points) for e in found] == [(1, 7, 8, 1.0), (2, 10, 11, 2.0)]
    meta = nbgrader_meta(nb)
    assert meta[7] == dict(solution=True, grade=False, locked=False, grade_id="exercise1_answer",
                           schema_version=3)
    assert meta[8] == dict(solution=False, grade=True, locked=True, points=1.0, grade_id="exercise1_check",
                           schema_version=3)
    assert meta[11]["points"] == 2.0 and meta[11]["grade_id"] == "exercise2_check"
    locked = [m for i, m in enumerate(meta) if i not in (7, 8, 10, 11)]
    assert all(m["locked"] and not m["grade"] and not m["solution"] for m in locked)
    ids = [m["grade_id"] for m in meta]
    assert len(set(ids)) == len(ids) == len(nb.cells)
    assert ids[0] == "cell_000" and ids[9] == "cell_009"
    # the student copy shows the answer cell; the lesson itself keeps it collapsed
    assert all("jupyter" not in c.metadata for c in nb.cells)
    assert source.cells[7].metadata == HIDDEN and "nbgrader" not in source.cells[7].metadata
    assert nb.cells[2].metadata["tags"] == ["parameters"]  # other metadata is kept


def test_metadata_is_derived_again_not_kept():
    source = lesson(NUMBER)
    source.cells[7].metadata.update(jupyter={"source_hidden": True, "outputs_hidden": True}, editable=False,
                                    nbgrader={"grade": True, "solution": False, "locked": True,
                                              "grade_id": "stale", "points": 9, "schema_version": 3})
    source.cells[3].metadata["nbgrader"] = {"grade_id": "exercise1_check"}  # a stale clash
    nb, _ = ma.to_nbgrader(source)
    assert nb.cells[7].metadata["nbgrader"]["grade_id"] == "exercise1_answer"
    assert nb.cells[7].metadata["jupyter"] == {"outputs_hidden": True}
    assert "editable" not in nb.cells[7].metadata
    assert nb.cells[3].metadata["nbgrader"]["grade_id"] == "cell_003"


def test_exercises_are_numbered_from_their_heading_or_in_order():
    unnumbered = ("A task.", "# my answer\nx = None\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION",
                  "# check it\ndlcourse.check.close(x, 1)")
    nb, found = ma.to_nbgrader(lesson(unnumbered, unnumbered))
    assert [e.number for e in found] == [1, 2]
    assert nb.cells[10].metadata["nbgrader"]["grade_id"] == "exercise2_answer"


@pytest.mark.parametrize("cells,message", [
    # the old shape of lessons 00, 08-10: the check after END SOLUTION, in the answer cell
    ([("T.", "# exercise 1\nx = None\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n"
       "dlcourse.check.close(x, 1)", "# check exercise 1\ndlcourse.check.close(x, 1)")],
     "the check is inside the answer cell"),
    ([("T.", "# exercise 1\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION", "# look\nprint(x)")],
     "no check cell right after"),
    ([("T.", "# exercise 1\n### BEGIN SOLUTION\nx = 1", "# check\ndlcourse.check.close(x, 1)")],
     "needs one ### END SOLUTION"),
    ([NUMBER, NUMBER], "two exercises are numbered 1"),
    ([("T.", "# exercise 1\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n### BEGIN HIDDEN TESTS\nassert x\n"
       "### END HIDDEN TESTS", "# check\ndlcourse.check.close(x, 1)")], "inside the answer cell"),
    ([("T.", "# exercise 1\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION",
       "# check\ndlcourse.check.close(x, 1)\n### BEGIN HIDDEN TESTS\nassert x")], "needs one ### END HIDDEN"),
])
def test_shape_errors_name_the_cell_and_the_fix(cells, message):
    with pytest.raises(ma.ShapeError, match=message) as err:
        ma.to_nbgrader(lesson(*cells), "08_x.ipynb")
    assert re.search(r"^08_x.ipynb cell \d+", str(err.value))


def test_markers_outside_exercises_are_refused():
    nb = lesson(NUMBER)
    nb.cells.insert(4, new_markdown_cell("Write it:\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION"))
    with pytest.raises(ma.ShapeError, match="cell 4 \\(markdown\\)"):
        ma.to_nbgrader(nb, "nb")
    nb = lesson(NUMBER)
    nb.cells.insert(4, new_code_cell("# lesson\n### BEGIN HIDDEN TESTS\nassert True\n### END HIDDEN TESTS"))
    with pytest.raises(ma.ShapeError, match="cell 4: ### BEGIN HIDDEN TESTS belongs in a check cell"):
        ma.to_nbgrader(nb, "nb")
    nb = lesson(NUMBER)
    nb.cells.append(new_code_cell("# exercise 9\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION"))
    with pytest.raises(ma.ShapeError, match="no check cell right after"):  # the last cell
        ma.to_nbgrader(nb, "nb")


def test_lesson_selection(tmp_path):
    for name in ("00_a.ipynb", "01_b.ipynb", "03_c.ipynb", "notes.ipynb"):
        (tmp_path / name).write_text("{}")
    assert [p.name for p in ma.lesson_notebooks(None, tmp_path)] == ["00_a.ipynb", "01_b.ipynb", "03_c.ipynb"]
    assert [p.name for p in ma.lesson_notebooks(["3", "01"], tmp_path)] == ["01_b.ipynb", "03_c.ipynb"]
    with pytest.raises(SystemExit, match="no lesson 07 .* there are 00, 01, 03"):
        ma.lesson_notebooks(["07"], tmp_path)


def _write(folder, name, nb):
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / name)
    return folder / name


def test_course_folder_per_lesson_or_grouped(tmp_path):
    good, bad = lesson(NUMBER), lesson(NUMBER)
    bad.cells[7].source += "\ndlcourse.check.mlp_param_count(n_params)"
    paths = [_write(tmp_path / "nb", "01_a.ipynb", good), _write(tmp_path / "nb", "02_b.ipynb", bad),
             _write(tmp_path / "nb", "03_c.ipynb", good)]
    out = tmp_path / "classroom"
    assignments, errors = ma.write_course(out, paths)
    assert assignments == {"lesson01": ["01_a.ipynb"], "lesson03": ["03_c.ipynb"]}
    assert list(errors) == ["02_b.ipynb"] and "inside the answer cell" in errors["02_b.ipynb"]
    assert (out / "source" / "lesson03" / "03_c.ipynb").exists()
    written = nbformat.read(out / "source" / "lesson01" / "01_a.ipynb", as_version=4)
    assert written.cells[8].metadata["nbgrader"]["grade"] is True
    (out / "gradebook.db").write_text("grades")  # an instructor's gradebook and submissions stay
    (out / "source" / "group" / "old.ipynb").parent.mkdir(parents=True)
    (out / "source" / "group" / "old.ipynb").write_text("{}")
    assignments, _ = ma.write_course(out, [paths[0], paths[2]], group="group")
    assert assignments == {"group": ["01_a.ipynb", "03_c.ipynb"]}
    assert sorted(p.name for p in (out / "source" / "group").iterdir()) == ["01_a.ipynb", "03_c.ipynb"]
    assert (out / "gradebook.db").read_text() == "grades"


def test_config_sets_a_timeout_and_fast_mode_without_overriding(tmp_path, monkeypatch):
    from traitlets.config import Config

    ma.write_course(tmp_path, [], timeout=123)
    text = (tmp_path / "nbgrader_config.py").read_text()
    cases = [({}, ("1", "lines")), ({"DLCOURSE_FAST": "0", "DLCOURSE_PROGRESS": "off"}, ("0", "off"))]
    c = Config()
    for env, expected in cases:
        monkeypatch.delenv("DLCOURSE_FAST", raising=False)
        monkeypatch.delenv("DLCOURSE_PROGRESS", raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        exec(compile(text, str(tmp_path / "nbgrader_config.py"), "exec"),
             {"get_config": lambda: c, "__file__": str(tmp_path / "nbgrader_config.py")})  # noqa: B023
        assert (os.environ["DLCOURSE_FAST"], os.environ["DLCOURSE_PROGRESS"]) == expected
    assert c.Execute.timeout == 123
    assert c.CourseDirectory.root == str(tmp_path)
    assert c.CourseDirectory.db_url == f"sqlite:///{tmp_path / 'gradebook.db'}"


def test_isolated_env_reads_no_personal_config(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCOURSE_FAST", "0")
    env = ma.isolated_env(tmp_path)
    for var in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        assert Path(env[var]).is_dir() and Path(env[var]).is_relative_to(tmp_path)
    assert "DLCOURSE_FAST" not in env
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(ROOT / "lib")


# --- the real nbgrader, on a small lesson -----------------------------------------------------------

TRAIN = ("3. Train a tiny model.",
         "# exercise 3: train\nfrom dlcourse import train, data\nfrom torch import nn\nhistory = None\n"
         "### BEGIN SOLUTION\nX, y = data.make_blobs(64, centers=2, seed=0)\n"
         "history = train.fit(nn.Linear(2, 2), (X, y.long()), num_epochs=2, lr=0.1)\n### END SOLUTION",
         "# check exercise 3\nassert history is not None, 'not answered yet'\n"
         "dlcourse.check.close(len(history.rows), 2, 'epochs')")


@pytest.fixture(scope="module")
def tiny_course(tmp_path_factory):
    """A generated course: the tiny lesson as assignment 'tiny', released by the real nbgrader."""
    tmp = tmp_path_factory.mktemp("tiny")
    path = _write(tmp / "notebooks", "99_tiny.ipynb", lesson(NUMBER, FUNCTION, TRAIN))
    out = tmp / "classroom"
    assert ma.write_course(out, [path], group="tiny") == ({"tiny": ["99_tiny.ipynb"]}, {})
    env = ma.isolated_env(tmp / "home")
    ma.nbgrader(["generate_assignment", "tiny", "--force"], out, env)
    return out, env, tmp


def test_release_hides_solutions_and_hidden_tests_and_locks_lesson_cells(tiny_course):
    out, _, _ = tiny_course
    released = nbformat.read(out / "release" / "tiny" / "99_tiny.ipynb", as_version=4)
    source = nbformat.read(out / "source" / "tiny" / "99_tiny.ipynb", as_version=4)
    answer, check = released.cells[7], released.cells[8]
    assert "sizes = [784" not in answer.source and "raise NotImplementedError()" in answer.source
    assert answer.source.startswith("# exercise 1: count parameters\nn_params = None")
    assert "jupyter" not in answer.metadata and answer.metadata.get("editable", True)
    assert "HIDDEN" not in check.source and "assert isinstance" not in check.source
    assert "dlcourse.check.mlp_param_count(n_params)" in check.source
    assert "HIDDEN TESTS" in source.cells[8].source
    func = released.cells[10].source
    assert '"""Standard deviation' in func and "return (2.0" not in func
    assert "    raise NotImplementedError()" in func
    for i, cell in enumerate(released.cells):
        if i not in (7, 10, 13):
            assert cell.metadata["editable"] is False and cell.metadata["deletable"] is False, i


def test_tiny_round_trip_blank_zero_solution_full(tiny_course):
    out, env, tmp = tiny_course
    result = ma.round_trip(out, "tiny", tmp / "graded", env)
    print(result.table())
    blank, solution = result.grades["blank"]["99_tiny"], result.grades["solution"]["99_tiny"]
    assert solution.scores == {"exercise1_check": (1.0, 1.0), "exercise2_check": (2.0, 2.0),
                               "exercise3_check": (1.0, 1.0)}
    assert blank.scores == {"exercise1_check": (0.0, 1.0), "exercise2_check": (0.0, 2.0),
                            "exercise3_check": (0.0, 1.0)}
    graded = json.loads((result.folders["blank"] / "autograded/blank/tiny/99_tiny.ipynb").read_text())
    errors = [o["evalue"] for c in graded["cells"] for o in c.get("outputs", [])
              if o["output_type"] == "error"]
    assert "n_params is not answered yet: write your answer in the cell above" in " ".join(errors)
    assert "glorot_std is not answered yet" in " ".join(errors)
    solved = json.loads((result.folders["solution"] / "autograded" / "solution" / "tiny" / "99_tiny.ipynb")
                        .read_text())
    env_line = "".join(solved["cells"][4]["outputs"][0]["text"])
    assert env_line.strip() == "1 lines"  # fast mode and plain progress, from nbgrader_config.py
    fit_outputs = solved["cells"][13]["outputs"]
    assert "epoch 2/2" in "".join("".join(o.get("text", "")) for o in fit_outputs)
    assert not [o for o in fit_outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    for student in ("blank", "solution"):
        assert (result.folders[student] / "feedback" / student / "tiny" / "99_tiny.html").exists()
        assert result.grades[student]["99_tiny"].lesson_errors == []


def test_hidden_tests_are_graded_and_locked_cells_restored(tiny_course):
    out, env, tmp = tiny_course
    released = nbformat.read(out / "release" / "tiny" / "99_tiny.ipynb", as_version=4)
    released.cells[7].source = "n_params = 235146.0"  # passes the visible check, not the hidden test
    released.cells[10].source = "def glorot_std(fan_in, fan_out):\n    return 0.0"
    released.cells[11].source = "# check exercise 2 (2 points)\npass"  # a student edits a locked cell
    grades, _ = ma.grade(out, "tiny", "tricky", {"99_tiny.ipynb": released}, tmp / "graded", env,
                         feedback=False)
    assert grades["99_tiny"].scores["exercise1_check"] == (0.0, 1.0)
    assert grades["99_tiny"].scores["exercise2_check"] == (0.0, 2.0)


# --- every lesson, round trip ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def classroom(tmp_path_factory, request):
    """All lessons as one assignment, generated and autograded twice (blank, solution) in parallel."""
    tmp = tmp_path_factory.mktemp("classroom")
    out = tmp / "classroom"
    assignments, errors = ma.write_course(out, NOTEBOOKS, group="course")
    env = ma.isolated_env(tmp / "home")
    result = None
    if assignments:
        ma.nbgrader(["generate_assignment", "course", "--force"], out, env)
        result = ma.round_trip(out, "course", tmp / "graded", env, feedback=False)  # the tiny test has it
        report = result.table() + "".join(f"\nnot in the exercise shape: {e}" for e in errors.values())
        print(report)
        (ROOT / "build").mkdir(exist_ok=True)
        (ROOT / "build" / "assignments-round-trip.txt").write_text(report + "\n")
        reporter = request.config.pluginmanager.getplugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("\n" + report)
    return result, errors


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_lesson_round_trip_blank_scores_zero_and_solution_full_marks(path, classroom):
    result, errors = classroom
    if path.name in errors:
        pytest.fail(f"make_assignments cannot derive nbgrader metadata: {errors[path.name]}")
    blank, solution = result.grades["blank"][path.stem], result.grades["solution"][path.stem]
    assert solution.points > 0, "no autograded exercise"
    assert set(blank.scores) == set(solution.scores)
    assert {k: s for k, (s, _) in blank.scores.items() if s != 0} == {}, "the blank copy earned points"
    assert {k: (s, m) for k, (s, m) in solution.scores.items() if s != m} == {}, "the solution lost points"
    # the student copy runs top to bottom: only the exercises' own cells may fail
    assert blank.lesson_errors == [] and solution.lesson_errors == []
