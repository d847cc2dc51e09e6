"""The command-line pieces: the bench's table, the course runner's table, `python -m dlcourse`."""

import importlib.util
from pathlib import Path

import torch

from dlcourse import bench, data
from dlcourse.__main__ import main

ROOT = Path(__file__).resolve().parents[1]


def load_script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_time_to_target_and_table():
    slow = bench.Run("tutorial", accs=[0.90, 0.925, 0.931], times=[10.0, 20.0, 30.0], images=3000,
                     train_seconds=30.0)
    fast = bench.Run("fit", accs=[0.921, 0.935, 0.946], times=[1.0, 2.0, 3.0], images=3000,
                     train_seconds=3.0, compile_seconds=4.2)
    assert slow.time_to(0.93) == 30.0 and fast.time_to(0.93) == 2.0 and slow.time_to(0.945) is None
    table = bench.format_results([slow, fast])
    assert "speed-up to 93.0%: 15.0x" in table and "speed-up to 92.0%: 20.0x" in table
    assert "torch.compile time (excluded above): 4.2 s" in table


def test_bench_runs_both_ways_on_a_tiny_set():
    ds = data.ImageSet(torch.randint(0, 255, (520, 28, 28), dtype=torch.uint8),
                      torch.arange(520) % 10)
    device = torch.device("cpu")
    runs = [bench.tutorial_loop(ds, ds, 1, device), bench.fast_recipe(ds, ds, 1, device, "tiny", False)]
    assert all(len(r.accs) == 1 and r.images > 0 and r.train_seconds > 0 for r in runs)


def test_course_table_lists_status_time_and_metric():
    runner = load_script("run_course")
    rows = [dict(notebook="00_welcome", mode="fast", status="ok", seconds=12.34,
                 metrics={"test_acc": 0.8123}),
            dict(notebook="05_convolution", mode="fast", status="FAILED: CellExecutionError: boom",
                 seconds=3.0, metrics={})]
    table = runner.format_table(rows).splitlines()
    assert table[1].split() == ["00_welcome", "fast", "ok", "12.3", "test_acc=0.8123"]
    assert table[2].split()[:3] == ["05_convolution", "fast", "FAILED"]
    assert table[-1] == "05_convolution: FAILED: CellExecutionError: boom"


def test_refresh_strips_unmarked_outputs_only():
    import nbformat

    refresh = load_script("refresh_notebooks")
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(1)", execution_count=1,
                                  outputs=[nbformat.v4.new_output("stream", text="1\n")]),
        nbformat.v4.new_code_cell("# plot\nprint(2)", execution_count=2,
                                  outputs=[nbformat.v4.new_output("stream", text="2\n")])])
    refresh.strip(nb)
    kept, stripped = nb.cells
    assert kept.outputs and kept.execution_count == 1 and kept.metadata["keep_output"]
    assert stripped.outputs == [] and stripped.execution_count is None


def test_module_entry_point(capsys):
    assert main(["info"]) == 0
    assert "device:" in capsys.readouterr().out
    assert main(["nonsense"]) == 2
