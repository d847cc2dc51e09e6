"""dlcourse.frameworks, perf and viz.frameworks (lesson 14) against torch and direct counts."""

import json

import matplotlib.pyplot as plt
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlcourse import frameworks, perf
from dlcourse.viz import frameworks as fviz


def two_layer() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 3))


def test_backward_nodes_walk_the_autograd_graph_from_the_output():
    w = torch.randn(3, requires_grad=True)
    names = frameworks.backward_nodes((w * 2).exp().sum())
    assert names == ["SumBackward0", "ExpBackward0", "MulBackward0", "AccumulateGrad"]
    x = torch.ones(4, requires_grad=True)
    y = x
    for _ in range(5):
        y = y / 2
    assert frameworks.backward_nodes(y.sum()).count("DivBackward0") == 5
    with pytest.raises(ValueError, match="requires_grad"):
        frameworks.backward_nodes(torch.ones(2).sum())


def test_graph_nodes_and_format_match_torch_fx():
    traced = torch.fx.symbolic_trace(two_layer())
    rows = frameworks.graph_nodes(traced.graph)
    assert [r["op"] for r in rows] == [n.op for n in traced.graph.nodes]
    assert [r["op"] for r in rows] == ["placeholder", "call_module", "call_module", "call_module", "output"]
    assert rows[2]["inputs"] == [rows[1]["name"]]
    text = frameworks.format_graph(traced.graph).splitlines()
    assert len(text) == 5 and text[0].endswith("input") and text[-1].startswith("output")


def test_compile_timed_returns_the_compiled_function_or_says_why_not():
    def failing_backend(gm, example_inputs):
        raise RuntimeError("no compiler here")

    fn = lambda x: (x * 2).relu()  # noqa: E731
    x = torch.randn(8)
    compiled, seconds, why = frameworks.compile_timed(fn, x, backend="eager")  # no C++ compiler needed
    assert compiled is not None and why == "" and seconds >= 0
    assert torch.equal(compiled(x), fn(x))
    compiled, seconds, why = frameworks.compile_timed(fn, x, backend=failing_backend)
    assert compiled is None and "no compiler here" in why and seconds >= 0


def step_and_profile():
    model = two_layer()
    X, y = torch.randn(32, 6), torch.randint(0, 3, (32,))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def step():
        with torch.profiler.record_function("forward"):
            loss = F.cross_entropy(model(X), y)
        with torch.profiler.record_function("backward"):
            opt.zero_grad()
            loss.backward()
        with torch.profiler.record_function("optimizer"):
            opt.step()

    return frameworks.profile_steps(step, steps=2)


def test_profile_phases_and_top_ops():
    prof = step_and_profile()
    phases = frameworks.phase_seconds(prof)
    assert set(phases) == {"forward", "backward", "optimizer"} and all(v > 0 for v in phases.values())
    ops = frameworks.top_ops(prof, k=100)
    assert sum(o["share"] for o in ops) == pytest.approx(1.0)
    assert [o["seconds"] for o in ops] == sorted((o["seconds"] for o in ops), reverse=True)
    assert not {"forward", "backward", "optimizer"} & {o["name"] for o in ops}
    assert any(o["name"] == "aten::addmm" and o["calls"] == 4 for o in ops)  # 2 layers x 2 steps
    with pytest.raises(ValueError, match="record_function"):
        frameworks.phase_seconds(prof, phases=("forward", "data"))


def test_costs_are_direct_counts():
    assert perf.matmul_cost(4) == (2 * 4**3, 3 * 16 * 4)
    assert perf.matmul_cost(4, 2) == (128, 96)
    # conv: every output value is C_in x 3 x 3 multiply-adds; input, output and weights moved once
    flops, nbytes = perf.conv_cost(batch=2, channels=3, size=5)
    assert flops == 2 * (2 * 3 * 5 * 5) * (3 * 3 * 3)
    assert nbytes == 4 * (2 * 2 * 3 * 5 * 5 + 3 * 3 * 3 * 3)
    assert perf.roofline(1.0, peak=100.0, bandwidth=10.0) == 10.0
    assert perf.roofline(50.0, peak=100.0, bandwidth=10.0) == 100.0


def test_measurements_have_consistent_rows_and_are_stored_by_device(tmp_path):
    rows = perf.measure_matmul([8, 32])
    assert [r["size"] for r in rows] == [8, 32]
    for r in rows:
        assert r["flop_per_s"] == pytest.approx(r["flops"] / r["seconds"]) and r["seconds"] > 0
        assert r["intensity"] == pytest.approx(2 * r["size"] / 12)
    fake = dict(device="NVIDIA Test GPU 80GB", kind="cuda", date="2026-01-01", matmul_fp32=rows)
    path = perf.save_measurement(fake, tmp_path)
    assert path.name == "nvidia_test_gpu_80gb.json" and json.loads(path.read_text()) == fake
    perf.save_measurement({**fake, "device": "CPU (x)", "kind": "cpu"}, tmp_path)
    assert perf.stored_measurements("cuda", tmp_path) == [fake]
    assert perf.stored_measurements("cuda", tmp_path / "none") == []


def test_seconds_per_call_restores_the_thread_count():
    before = torch.get_num_threads()
    assert perf.seconds_per_call(lambda: torch.ones(10).sum(), min_seconds=0.001) > 0
    assert torch.get_num_threads() == before


def test_plots_label_their_axes():
    traced = torch.fx.symbolic_trace(two_layer())
    ax = fviz.plot_graph(traced.graph, title="fx")
    assert len(ax.patches) == 5 and not ax.axison
    rows = perf.measure_add([1024])
    ax = fviz.plot_roofline({"add": rows}, peak=1e10, bandwidth=1e9)
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_xscale() == "log"
    ax = fviz.plot_top_ops([dict(name="aten::mm", share=0.6), dict(name="aten::add", share=0.4)])
    assert ax.get_ylabel() == "operator" and len(ax.patches) == 2
    ax = fviz.plot_bars({"a": 1.0, "b": 2.0}, ylabel="loader")
    assert [p.get_width() for p in ax.patches] == [2.0, 1.0]
    plt.close("all")
