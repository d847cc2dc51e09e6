"""dlcourse.viz.segmentation: each plot returns its Axes, passes the figure lint, and refuses bad input."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from dlcourse.viz import segmentation as sviz  # noqa: E402
from dlcourse.viz.lint import figure_problems  # noqa: E402


def test_plot_iou_draws_one_bar_per_class_and_model():
    ious = {"a": torch.rand(11), "b": torch.rand(11)}
    ious["b"][3] = float("nan")  # an absent class draws no bar (height 0)
    ax = sviz.plot_iou(ious)
    assert len(ax.patches) == 22
    assert [t.get_text() for t in ax.get_legend().get_texts()][0].startswith("a (mean")
    assert figure_problems(ax.figure) == []
    plt.close("all")
    with pytest.raises(ValueError, match="one per class"):
        sviz.plot_iou({"a": torch.rand(5)})
    with pytest.raises(ValueError, match="empty"):
        sviz.plot_iou({})


def test_plot_errors_marks_the_wrong_pixels():
    y = torch.zeros(8, 8, dtype=torch.long)
    y_hat = y.clone()
    y_hat[:2] = 3  # 16 of 64 pixels wrong
    ax = sviz.plot_errors(y_hat, y, torch.rand(1, 8, 8))
    rgb = ax.images[0].get_array()
    assert (rgb[:2, :, 0] > 0.8).all() and (rgb[2:, :, 0] <= 0.7).all()
    assert "25.0%" in ax.get_legend().get_texts()[0].get_text()
    assert figure_problems(ax.figure) == []
    plt.close("all")
    with pytest.raises(ValueError, match="one scene"):
        sviz.plot_errors(torch.zeros(2, 8, 8), torch.zeros(2, 8, 8))


def test_plot_tradeoff_labels_points_and_axes():
    ax = sviz.plot_tradeoff({"FCN": 132.0, "U-Net": 325.0}, {"FCN": 0.4, "U-Net": 0.6})
    assert len(ax.collections) == 2 and ax.get_xlabel() and ax.get_ylabel()
    assert figure_problems(ax.figure) == []
    plt.close("all")
    with pytest.raises(ValueError, match="same models"):
        sviz.plot_tradeoff({"FCN": 1.0}, {"U-Net": 0.5})
