"""dlcourse.results: report a lesson's numbers beside its full-run reference."""

import json

import numpy as np
import pytest
import torch

from dlcourse import config, results


@pytest.fixture
def refs(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "RESULTS_DIR", tmp_path)
    return tmp_path


def write_ref(folder, name="06_pooling", **metrics):
    ref = dict(lesson=name, mode="full", device="NVIDIA H100 80GB HBM3", date="2026-11-23",
               seconds=312.4, commit="abc", seed=0, torch="2.15.0", metrics=metrics)
    (folder / f"{name}.json").write_text(json.dumps(ref))
    return ref


def test_report_writes_json_and_merges(refs, tmp_path, monkeypatch, capsys):
    target = tmp_path / "build" / "nb.metrics.json"
    monkeypatch.setenv("DLCOURSE_REPORT", str(target))
    results.report("06", test_acc=0.9)
    results.report("06", params=120, test_acc=torch.tensor(0.925))
    assert json.loads(target.read_text()) == {"test_acc": pytest.approx(0.925), "params": 120}
    assert "0.925" in capsys.readouterr().out


def test_report_without_runner_writes_nothing(refs, monkeypatch, tmp_path):
    monkeypatch.delenv("DLCOURSE_REPORT", raising=False)
    monkeypatch.chdir(tmp_path)
    assert results.report("06", acc=np.float32(1.0)) is None  # a cell ending with it prints only the table
    assert list(tmp_path.iterdir()) == []


def test_report_shows_your_run_beside_the_full_run(refs, monkeypatch, capsys):
    write_ref(refs, test_acc=0.9134)
    monkeypatch.setitem(config.RUN, "fast", True)
    monkeypatch.setitem(config.RUN, "device", "cpu")
    results.report("06", test_acc=0.8612, model="LeNet")
    out = capsys.readouterr().out
    assert "your run (fast mode, cpu)" in out
    assert "full run on NVIDIA H100 80GB HBM3, 2026-11-23, 312 s" in out
    row = next(line for line in out.splitlines() if line.startswith("test_acc"))
    assert "0.8612" in row and "0.9134" in row
    assert next(line for line in out.splitlines() if line.startswith("model")).endswith("-")


def test_report_without_reference_says_so(refs, capsys):
    results.report("07", test_acc=0.5)
    assert "no reference recorded yet" in capsys.readouterr().out


def test_reference_lookup(refs):
    assert results.reference("06") is None
    ref = write_ref(refs, test_acc=0.9)
    assert results.reference("06") == ref == results.reference("06_pooling")
    write_ref(refs, name="06_other")
    with pytest.raises(ValueError, match="matches several references"):
        results.reference("06")
    (refs / "09_bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON.*make course FULL=1"):
        results.reference("09")
    with pytest.raises(TypeError, match="notebook name or its number"):
        results.reference(6)


def test_report_rejects_bad_input(refs):
    with pytest.raises(ValueError, match="at least one metric"):
        results.report("06")
    with pytest.raises(TypeError, match="must be a number"):
        results.report("06", acc=[0.9])
    with pytest.raises(TypeError, match="one number"):
        results.report("06", acc=torch.ones(3))
