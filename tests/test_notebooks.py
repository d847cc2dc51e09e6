"""The notebook conventions every lesson follows (CONTRIBUTING.md), checked on the committed files."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MAX_CODE_LINES = 30


def cells(path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        src = cell["source"]
        cell["text"] = "".join(src) if isinstance(src, list) else src
    return nb["cells"]


def code(path):
    return [c for c in cells(path) if c["cell_type"] == "code"]


def marked(cell):
    return "NBVAL_CHECK_OUTPUT" in cell["text"]


def test_there_are_lessons():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "00_welcome.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_title_and_learning_goals(path):
    first = cells(path)[0]
    assert first["cell_type"] == "markdown" and first["text"].startswith("# ")
    assert "## Learning goals" in first["text"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cell_then_setup(path):
    cs = code(path)
    params = [i for i, c in enumerate(cs) if "parameters" in c["metadata"].get("tags", [])]
    assert len(params) == 1, "exactly one code cell tagged 'parameters'"
    assert re.search(r"^FAST = None", cs[params[0]]["text"], re.M)
    assert re.search(r"^SEED = 0", cs[params[0]]["text"], re.M)
    assert "FAST, device = dlcourse.setup(FAST, SEED)" in cs[params[0] + 1]["text"], \
        "the next cell resolves the mode, seeds and prints which mode runs and why"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_kernelspec_is_what_jupyterlab_keeps(path):
    # "Python 3" would be rewritten on open, marking the notebook modified before the student types
    assert json.loads(path.read_text())["metadata"]["kernelspec"] == {
        "display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_only_marked_cells_keep_outputs(path):
    for c in code(path):
        if marked(c):
            assert c["outputs"] and c["execution_count"], f"marked cell without output:\n{c['text']}"
        else:
            assert not c["outputs"] and c["execution_count"] is None, \
                f"unmarked cell with stored output (run scripts/refresh_notebooks.py):\n{c['text']}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_cells_are_short_and_open_with_a_comment(path):
    for c in code(path):
        lines = c["text"].strip().splitlines()
        assert lines and lines[0].startswith("#"), f"code cell without a comment heading:\n{c['text']}"
        body = [line for line in lines if not line.startswith("### ")]
        assert len(body) <= MAX_CODE_LINES, f"{len(body)}-line cell:\n{c['text']}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_figures_are_shown_in_the_cell_that_draws_them(path):
    # plt.show() is where `make test` lints every figure (labels, legends: dlcourse.viz.lint)
    for c in code(path):
        if re.search(r"plt\.(subplots|figure)\(", c["text"]):
            assert "plt.show()" in c["text"], f"a figure that is never shown:\n{c['text']}"


def is_answer(cell):
    return cell["cell_type"] == "code" and "### BEGIN SOLUTION" in cell["text"]


def is_check(cell):
    return cell["cell_type"] == "code" and "dlcourse.check." in cell["text"] and not is_answer(cell)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_summary_then_exercises_of_task_answer_and_check(path):
    cs = cells(path)
    md = [c["text"] for c in cs if c["cell_type"] == "markdown"]
    assert any(t.lstrip().startswith("## Summary") for t in md)
    start = next((i for i, c in enumerate(cs) if c["cell_type"] == "markdown"
                  and c["text"].lstrip().startswith("## Exercises")), None)
    assert start is not None, "an '## Exercises' section"
    assert "collapsed" in cs[start]["text"], "the Exercises intro says the solutions are collapsed"
    answers = [i for i, c in enumerate(cs) if is_answer(c)]
    assert answers, "at least one exercise with an answer cell"
    for i in answers:
        cell = cs[i]
        assert i > start, "exercises come after the lesson, so a student copy runs up to them"
        assert cs[i - 1]["cell_type"] == "markdown", f"no task text before:\n{cell['text']}"
        assert cell["metadata"].get("jupyter", {}).get("source_hidden") is True, \
            f"the solution must open collapsed (jupyter.source_hidden):\n{cell['text']}"
        assert "### END SOLUTION" in cell["text"]
        assert "dlcourse.check." not in cell["text"], f"the check needs its own cell:\n{cell['text']}"
        assert i + 1 < len(cs) and is_check(cs[i + 1]), f"no check cell right after:\n{cell['text']}"
    for i, c in enumerate(cs[start:], start):
        if c["cell_type"] == "code":
            assert is_answer(c) or (is_check(c) and is_answer(cs[i - 1])), \
                f"after '## Exercises' only answer cells and their checks:\n{c['text']}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_reports_its_numbers_beside_the_reference(path):
    assert any(f'dlcourse.report("{path.name[:2]}"' in c["text"] for c in code(path))


def test_readme_course_map_lists_every_notebook():
    readme = (ROOT / "README.md").read_text()
    for path in NOTEBOOKS:
        assert f"notebooks/{path.name}" in readme, f"{path.name} missing from the README course map"
