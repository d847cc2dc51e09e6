"""dlcourse.viz: every plot takes ax=None, returns the Axes, and computes its numbers correctly."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from dlcourse import data, viz  # noqa: E402
from dlcourse.models import MLP  # noqa: E402


def test_confusion_matrix_against_a_hand_count():
    y = torch.tensor([0, 0, 1, 2, 2, 2])
    y_hat = torch.tensor([0, 1, 1, 2, 0, 2])
    assert viz.confusion_matrix(y, y_hat, 3).tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    with pytest.raises(ValueError, match="logits.argmax"):
        viz.confusion_matrix(y, torch.zeros(6, 3), 3)


def test_top_losses_are_the_confident_mistakes():
    logits = torch.tensor([[5.0, 0.0], [0.0, 5.0], [0.0, 0.1], [4.0, 0.0]])
    y = torch.tensor([0, 0, 0, 1])
    assert viz.top_losses(logits, y, k=2).tolist() == [1, 3]


@pytest.mark.parametrize("kind", ["images", "confusion", "boundary"])
def test_plots_draw_on_given_axes_and_return_them(kind):
    fig, ax = plt.subplots()
    if kind == "images":
        out = viz.show_images(torch.randint(0, 255, (6, 28, 28), dtype=torch.uint8),
                              torch.arange(6), torch.tensor([0, 1, 2, 0, 4, 5]), data.FASHION_CLASSES,
                              ncols=3, ax=ax)
        assert len(out.texts) == 6 and out.texts[3].get_color() == "C3"  # the one wrong prediction
    elif kind == "confusion":
        out = viz.plot_confusion_matrix(torch.arange(10), torch.arange(10), data.FASHION_CLASSES, ax=ax)
        assert out.get_xlabel() == "predicted"
    else:
        X, y = data.make_moons(50)
        out = viz.plot_decision_boundary(lambda P: (P[:, 0] > 0.5).float(), X, y, ax=ax)
    assert out is ax
    plt.close(fig)


def test_plots_make_their_own_axes():
    before = plt.get_fignums()
    ax = viz.show_images(torch.rand(3, 1, 8, 8))
    assert len(plt.get_fignums()) == len(before) + 1 and ax.figure.number not in before
    assert len(ax.images) == 1 and ax.images[0].get_array().shape[:2] == (8 + 2, 3 * (8 + 2))  # padded
    plt.close("all")


def test_show_images_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"X must be \(N, H, W\) or \(N, C, H, W\)"):
        viz.show_images(torch.rand(8, 8))


def test_plot_top_losses_on_a_model():
    ds = data.ImageSet(torch.randint(0, 255, (20, 28, 28), dtype=torch.uint8), torch.arange(20) % 10)
    ax = viz.plot_top_losses(MLP(784, [8], 10), ds, k=4)
    assert len(ax.texts) == 4
    plt.close("all")


def test_decision_boundary_rejects_non_2d_points():
    with pytest.raises(ValueError, match=r"X must be \(N, 2\)"):
        viz.plot_decision_boundary(lambda P: P[:, 0], torch.rand(5, 3), torch.zeros(5))


def test_plot_grad_norms_one_line_per_network_on_log_axes():
    ax = viz.plot_grad_norms({"sigmoid": [1e-4, 1e-2, 1.0], "relu": [0.5, 0.6, 0.7]})
    assert ax.get_yscale() == "log" and len(ax.get_lines()) == 2
    assert list(ax.get_lines()[0].get_xdata()) == [1, 2, 3]  # layer 1 is the input side
    assert viz.plot_grad_norms({"a": [1.0, 2.0]}, log=False).get_yscale() == "linear"
    plt.close("all")


def test_get_axes_reuses_or_makes_axes():
    fig, ax = plt.subplots()
    assert viz.get_axes(ax) is ax
    assert viz.get_axes(None, figsize=(3, 2)).figure.get_size_inches().tolist() == [3, 2]
    plt.close("all")


def test_decision_boundary_colorbar_says_what_the_shading_is():
    fig, ax = plt.subplots()
    X, y = data.make_moons(20)
    viz.plot_decision_boundary(lambda P: torch.sigmoid(P[:, 0]), X, y, ax=ax, colorbar="P(y = 1)")
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "P(y = 1)"
    plt.close(fig)
