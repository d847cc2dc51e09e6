"""Lesson 07's plots: readable axes (the figure lint), human labels, the full-run overlay."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from dlcourse.models import classic, mini, resnet  # noqa: E402
from dlcourse.summary import summary  # noqa: E402
from dlcourse.viz import architectures as arch_viz  # noqa: E402
from dlcourse.viz.lint import figure_problems  # noqa: E402

RESULTS = [dict(name="a", macs=1e6, params=1e4, test_acc=0.80, seconds=2.0),
           dict(name="b", macs=4e6, params=5e4, test_acc=0.85, seconds=5.0)]


def teardown_function():
    plt.close("all")


def test_every_architecture_plot_passes_the_figure_lint():
    with torch.device("meta"):
        vgg = summary(classic.vgg16(), (3, 224, 224))
        res = summary(resnet.resnet18(), (3, 224, 224))
    for ax in (arch_viz.plot_ilsvrc(), arch_viz.plot_layer_costs(vgg),
               arch_viz.plot_receptive_field(res), arch_viz.plot_tradeoff(RESULTS),
               arch_viz.plot_tradeoff(RESULTS, reference=RESULTS)):
        assert figure_problems(ax.figure) == []


def test_tradeoff_axes_say_what_they_show():
    ax = arch_viz.plot_tradeoff(RESULTS, x="macs", y="test_acc", size="params")
    assert ax.get_xlabel() == "multiply-adds per image (log scale)"
    assert ax.get_ylabel() == "test accuracy"
    assert "macs" not in ax.get_title() and "test_acc" not in ax.get_title()
    assert arch_viz.plot_tradeoff(RESULTS, x="seconds").get_xlabel() == "training time (s) (log scale)"
    other = [dict(r, steps=100) for r in RESULTS]  # a key without a label is shown as it is
    assert arch_viz.plot_tradeoff(other, x="steps").get_xlabel() == "steps (log scale)"


def test_tradeoff_draws_the_reference_hollow_and_names_it():
    full = [dict(name="a", macs=1e6, test_acc=0.9), dict(name="b", macs=4e6, test_acc=0.92)]
    ax = arch_viz.plot_tradeoff(RESULTS, reference=full, reference_label="full run (CPU)")
    hollow = [c for c in ax.collections if len(c.get_offsets()) and not len(c.get_facecolor())]
    assert sorted(tuple(c.get_offsets()[0]) for c in hollow) == [(1e6, 0.9), (4e6, 0.92)]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["this run", "full run (CPU)"]
    assert len(ax.lines) == 2  # each run joined to its reference
    with pytest.raises(KeyError, match="reference entries need keys"):
        arch_viz.plot_tradeoff(RESULTS, reference=[dict(name="a", macs=1)])


def test_recorded_full_run_covers_every_mini_model():
    assert set(mini.MINI_FULL_RUN["test_acc"]) == set(mini.MINI_MODELS)
    assert set(mini.MINI_FULL_RUN["seconds"]) == set(mini.MINI_MODELS)
    assert {"device", "date"} <= set(mini.MINI_FULL_RUN)
