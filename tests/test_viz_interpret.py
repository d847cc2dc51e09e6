"""Tests for dlcourse.viz.interpret (Axes out, figures that pass the lint) and the lesson-11 explorer."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from dlcourse import interpret  # noqa: E402
from dlcourse import interpret_features as features  # noqa: E402
from dlcourse.checkpoints import course_cnn  # noqa: E402
from dlcourse.data import FASHION_CLASSES  # noqa: E402
from dlcourse.viz import interpret as iviz  # noqa: E402
from dlcourse.viz.lint import figure_problems  # noqa: E402
from dlcourse.widgets import interpret as winterpret  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def model_and_data():
    torch.manual_seed(0)
    return course_cnn(width=4).eval(), torch.randn(12, 1, 28, 28), torch.arange(12) % 10


def lint_clean(ax):
    assert figure_problems(ax.figure) == []
    return ax


def test_plot_attribution_signed_and_unsigned(model_and_data):
    _, X, _ = model_and_data
    ax = lint_clean(iviz.plot_attribution(X[0, 0], torch.randn(28, 28), title="signed"))
    assert ax.images[-1].get_cmap().name == "RdBu_r" and len(ax.figure.axes) == 2  # + colour bar
    ax = lint_clean(iviz.plot_attribution(X[0], torch.rand(1, 28, 28), overlay=False))
    assert ax.images[-1].get_cmap().name == "inferno" and len(ax.images) == 1
    with pytest.raises(ValueError, match="one map"):
        iviz.plot_attribution(X[0, 0], torch.rand(3, 28, 28))


@pytest.mark.parametrize("method", list(interpret.METHODS))
def test_plot_explanation_for_every_method(model_and_data, method):
    model, X, _ = model_and_data
    ax = lint_clean(iviz.plot_explanation(model, X[:1], None, method, classes=FASHION_CLASSES))
    assert method in ax.get_title()


def test_patches_boxes_neighbours_and_projection(model_and_data):
    model, X, y = model_and_data
    top = features.top_patches(model, X, "block2.5", 1, k=9)
    lint_clean(iviz.plot_patches(top.patches, values=top.value, title="top 9"))
    ax = lint_clean(iviz.plot_receptive_boxes(X[0, 0], top.box[:2], footprint=torch.ones(28, 28) > 0))
    assert len(ax.patches) == 2
    images = (torch.rand(12, 28, 28) * 255).to(torch.uint8)
    lint_clean(iviz.plot_neighbours(images, [0, 1], torch.tensor([[2, 3], [4, 5]]), y, FASHION_CLASSES))
    ax = lint_clean(iviz.plot_projection(torch.randn(12, 2), y, FASHION_CLASSES))
    assert len(ax.get_legend().get_texts()) == 10


def test_class_scores_and_accuracy_plots():
    history = [torch.randn(10, 10) for _ in range(5)]
    ax = lint_clean(iviz.plot_class_scores(history, FASHION_CLASSES))
    assert len(ax.lines) == 2 and len(ax.lines[0].get_xdata()) == 5
    ax = lint_clean(iviz.plot_accuracy_vs_epsilon([0, 0.01, 0.1], torch.tensor([0.9, 0.5, 0.1])))
    assert list(ax.lines[0].get_ydata()) == pytest.approx([0.9, 0.5, 0.1])


def test_explorer_reacts_to_its_controls_and_leaves_a_snapshot(model_and_data):
    model, X, y = model_and_data
    explorer = winterpret.interpret_explorer(model, X, y, FASHION_CLASSES, method="saliency |dS/dx|")
    with torch.no_grad():
        predicted = model(X[:1]).argmax(1).item()
    assert explorer.result["target"] == predicted and explorer.result["index"] == 0
    explorer.image.value = 5
    explorer.target.value = 3
    explorer.method.value = "Grad-CAM"
    assert (explorer.result["index"], explorer.result["target"], explorer.result["label"]) == (5, 3, 5)
    assert explorer.result["method"] == "Grad-CAM"
    axes = explorer.snapshot()
    assert len(axes) == 2 and "Grad-CAM" in axes[1].get_title()
    assert figure_problems(axes[0].figure) == []
    assert all(len(m._forward_hooks) + len(m._backward_hooks) == 0 for m in model.modules())
