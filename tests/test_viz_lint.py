"""dlcourse.viz.lint: figures must say what their axes are and have readable legends."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from dlcourse.viz.lint import figure_problems, install_figure_lint


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_a_labelled_line_plot_is_fine():
    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4], label="train loss")
    ax.set(xlabel="epoch", ylabel="loss")
    ax.legend()
    assert figure_problems(fig) == []


def test_missing_labels_are_named():
    fig, axes = plt.subplots(1, 2)
    axes[0].plot([1, 2])
    axes[0].set_title("curves")
    axes[1].plot([1, 2])
    axes[1].set_xlabel("step")
    problems = figure_problems(fig)
    assert problems == ["Axes 0 ('curves'): no x label (ax.set_xlabel(...))",
                        "Axes 0 ('curves'): no y label (ax.set_ylabel(...))",
                        "Axes 1: no y label (ax.set_ylabel(...))"]


def test_image_panels_hidden_axes_and_colorbars_are_exempt():
    fig, axes = plt.subplots(1, 3)
    im = axes[0].imshow(np.zeros((3, 3)))
    fig.colorbar(im, ax=axes[0])
    axes[1].plot([1, 2])
    axes[1].set_axis_off()
    axes[2].plot([0, 1])
    axes[2].set(xlabel="x", ylabel="y")
    assert figure_problems(fig) == []


def test_a_shared_axis_needs_its_label_once():
    fig, axes = plt.subplots(1, 2, sharey=True)
    for ax in axes:
        ax.plot([1, 2])
        ax.set_xlabel("epoch")
    axes[0].set_ylabel("accuracy")
    assert figure_problems(fig) == []


@pytest.mark.parametrize("label", ["1.weight", "layers.3.bias", "0.weight"])
def test_raw_parameter_names_in_legends_are_refused(label):
    fig, ax = plt.subplots()
    ax.plot([1, 2], label=label)
    ax.plot([2, 1], label="fine")
    ax.set(xlabel="x", ylabel="y")
    ax.legend()
    assert figure_problems(fig) == [f"Axes 0: legend entry {label!r} is not readable; name what it shows"]


def test_tiny_legend_text_is_refused():
    fig, ax = plt.subplots()
    ax.plot([1, 2], label="loss")
    ax.set(xlabel="x", ylabel="y")
    ax.legend(fontsize=4)
    assert figure_problems(fig) == ["Axes 0: legend text of 4 pt is too small"]


def test_installed_lint_makes_show_raise(monkeypatch):
    monkeypatch.setattr(plt, "show", lambda *a, **k: None)
    install_figure_lint()
    fig, ax = plt.subplots()
    ax.plot([1, 2])
    with pytest.raises(AssertionError, match="(?s)figures a reader cannot read:.*no x label"):
        plt.show()
    assert plt.get_fignums() == []
    fig, ax = plt.subplots()
    ax.set(xlabel="x", ylabel="y")
    plt.show()  # fine figures pass
