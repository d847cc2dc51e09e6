"""Part-1 widgets and plots, driven without a browser: set .value, read what update() drew."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dlcourse import scratch  # noqa: E402
from dlcourse.viz import neuron as nviz  # noqa: E402
from dlcourse.widgets.neuron import activation_explorer, neuron_explorer, neuron_threshold  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_neuron_threshold_values():
    assert neuron_threshold(2.0, -3.0) == pytest.approx(1.5)
    assert neuron_threshold(-1.0, 2.0) == pytest.approx(2.0)
    assert neuron_threshold(0.0, 1.0) is None


def test_activation_explorer_redraws_on_change():
    ex = activation_explorer("relu")
    assert [line.get_label() for line in ex.ax.get_lines()][:2] == ["relu", "relu'"]
    ex.name.value = "tanh"  # observe() calls update
    labels = [line.get_label() for line in ex.ax.get_lines()]
    assert "tanh" in labels and "tanh'" in labels and "relu" not in labels
    ex.show_derivative.value = False
    assert "tanh'" not in [line.get_label() for line in ex.ax.get_lines()]
    # the solid curve is the activation itself
    x, y = ex.ax.get_lines()[0].get_data()
    np.testing.assert_allclose(y, np.tanh(x))


def test_neuron_explorer_moves_the_threshold():
    ex = neuron_explorer(w=1.0, b=0.0, act="step")
    assert ex.threshold.value == "threshold x = 0.00"
    ex.b.value = 2.0
    assert ex.threshold.value == "threshold x = -2.00"
    ex.w.value = 4.0
    assert ex.threshold.value == "threshold x = -0.50"
    xs = [line.get_xdata()[0] for line in ex.ax.get_lines() if line.get_linestyle() == ":"]
    assert xs == [pytest.approx(-0.5)]
    ex.w.value = 0.0
    assert ex.threshold.value.startswith("no threshold")


def test_explorers_reject_unknown_activation():
    with pytest.raises(KeyError, match="choose one of"):
        activation_explorer("sigmod")
    with pytest.raises(KeyError, match="choose one of"):
        neuron_explorer(act="swish")


def test_plots_return_axes_and_accept_given_axes():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([0, 0, 0, 1])
    _, ax = plt.subplots()
    assert nviz.plot_perceptron_boundary(X, y, np.array([1.0, 1.0]), -1.5, ax=ax) is ax
    result = scratch.train_perceptron(X, y.astype(float))
    axes = nviz.plot_perceptron_history(X, y, result.snapshots, max_panels=3)
    assert len(axes) == min(3, len(result.snapshots))
    H = np.random.default_rng(0).normal(size=(20, 5))  # 5 features -> projected to 2
    ax = nviz.plot_hidden_representation(H, np.arange(20) % 2)
    assert ax.collections[0].get_offsets().shape[1] == 2
    ax = nviz.plot_weight_histograms({"L1": np.zeros(10), "L2": np.ones(10)})
    assert len(ax.patches) == 2


def test_plot_bad_inputs_say_what_was_expected():
    with pytest.raises(ValueError, match="2-D inputs"):
        nviz.plot_perceptron_boundary(np.zeros((4, 3)), np.zeros(4), np.zeros(3), 0.0)
    with pytest.raises(ValueError, match=r"\(N, features\)"):
        nviz.plot_hidden_representation(np.zeros(5), np.zeros(5))


def test_part1_plots_label_their_axes_for_the_figure_lint():
    from dlcourse.viz.lint import figure_problems

    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([0, 1, 1, 0])
    fig, axes = plt.subplots(1, 3)
    nviz.plot_activation("tanh", ax=axes[0])
    nviz.plot_hidden_representation(X, y, ax=axes[1], names=("$x_1$", "$x_2$"))
    nviz.plot_perceptron_boundary(X, y, np.array([1.0, 1.0]), -0.5, ax=axes[2], legend=True)
    assert figure_problems(fig) == []
    assert axes[1].get_xlabel() == "$x_1$" and axes[2].get_legend() is not None
    axes = nviz.plot_perceptron_history(X, y, [(np.zeros(2), 0.0)] * 3, max_panels=3)
    assert figure_problems(axes[0].figure) == []
    assert axes[0].get_ylabel() and not axes[1].get_ylabel()  # shared y axis, labelled once
    assert nviz.plot_hidden_representation(np.random.default_rng(0).normal(size=(9, 4)),
                                           np.arange(9) % 2).get_xlabel() == "PC 1"


def test_threshold_legend_writes_the_sign_of_the_bias():
    ax = nviz.plot_neuron_threshold(2.0, -3.0)
    assert ax.get_lines()[0].get_label() == "sigmoid(2.0 x - 3.0)"
