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
def test_parameters_cell_then_derived_settings(path):
    cs = code(path)
    params = [i for i, c in enumerate(cs) if "parameters" in c["metadata"].get("tags", [])]
    assert len(params) == 1, "exactly one code cell tagged 'parameters'"
    assert re.search(r"^FAST = None", cs[params[0]]["text"], re.M)
    assert "fast(FAST)" in cs[params[0] + 1]["text"], "the next cell resolves FAST"


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
def test_summary_exercises_solutions_and_checks(path):
    md = "\n".join(c["text"] for c in cells(path) if c["cell_type"] == "markdown")
    assert "## Summary" in md and "## Exercises" in md
    source = [c["text"] for c in code(path)]
    solutions = [i for i, s in enumerate(source) if "### BEGIN SOLUTION" in s]
    assert solutions, "at least one exercise with a solution"
    for i in solutions:
        assert "### END SOLUTION" in source[i]
        after = source[i] + (source[i + 1] if i + 1 < len(source) else "")
        assert "dlcourse.check." in after, f"no dlcourse.check call after:\n{source[i]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_reports_a_headline_metric(path):
    assert any("dlcourse.report(" in c["text"] for c in code(path))


def test_readme_course_map_lists_every_notebook():
    readme = (ROOT / "README.md").read_text()
    for path in NOTEBOOKS:
        assert f"notebooks/{path.name}" in readme, f"{path.name} missing from the README course map"
