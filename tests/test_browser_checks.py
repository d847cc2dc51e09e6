"""scripts/browser_test.py's judgement of a page, on made-up pages (the browser run itself is
`make browser-test`): each defect the issue found must be reported, a good page must pass."""

import importlib.util
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location(
    "browser_test", Path(__file__).resolve().parents[1] / "scripts" / "browser_test.py")
bt = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bt)

GOOD_EXPLORER = dict(controls=[dict(width=300, overflow=-20, text="w")], cut=[], copy_hidden=True)
GOOD_PAGE = dict(text="epoch 1/2  train_loss 0.5", explorers=[GOOD_EXPLORER],
                 bars=[dict(width=400, label="epochs: 100% 2/2")])


def page(**changes):
    return {**GOOD_PAGE, **changes}


def test_a_good_page_passes():
    assert bt.check_page(GOOD_PAGE, expected=1, trains=True) == []


@pytest.mark.parametrize("bad, words", [
    (page(text="Error displaying widget: model not found"), "Error displaying widget"),
    (page(text="interactive(children=(IntSlider(value=1),))"), "interactive(children="),
    (page(explorers=[]), "0 explorers rendered, expected 1"),
    (page(bars=[dict(width=0, label="epochs: 100% 2/2")]), "is 0 px wide"),
    (page(bars=[*GOOD_PAGE["bars"], dict(width=300, label="batches: 0% 0/23")]), "stale batches bar"),
    (page(bars=[]), "no epochs progress bar"),
    (page(explorers=[{**GOOD_EXPLORER, "controls": [dict(width=24, overflow=0, text="w")]}]),
     "is 24 px wide"),
    (page(explorers=[{**GOOD_EXPLORER, "controls": [dict(width=300, overflow=80, text="weights")]}]),
     "sticks out 80 px"),
    (page(explorers=[{**GOOD_EXPLORER, "cut": ["threshold"]}]), "'threshold' is cut off"),
    (page(explorers=[{**GOOD_EXPLORER, "copy_hidden": False}]), "static copy"),
])
def test_each_defect_is_reported(bad, words):
    problems = bt.check_page(bad, expected=1, trains=True)
    assert len(problems) == 1 and words in problems[0]


def test_missing_chromium_is_a_skip_with_a_reason(monkeypatch, capsys):
    monkeypatch.setattr(bt.shutil, "which", lambda name: None)
    assert "apt-get install chromium chromium-driver" in bt.find_browser()
    assert bt.main([]) == 0
    assert capsys.readouterr().out.startswith("SKIPPED the browser test: chromium")
