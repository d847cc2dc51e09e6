"""Tests for dlcourse.widgets.conv (explorer logic, no browser) and dlcourse.viz.conv plots."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from dlcourse import conv, shapes  # noqa: E402
from dlcourse.viz import conv as vconv  # noqa: E402
from dlcourse.widgets import conv as wconv  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_parse_kernel_reads_rows_and_rejects_bad_text():
    assert torch.equal(wconv.parse_kernel("1 0 -1; 2, 0, -2\n1 0 -1"), -conv.get_kernel("sobel_x"))
    with pytest.raises(ValueError, match="same number"):
        wconv.parse_kernel("1 2; 3")
    with pytest.raises(ValueError, match="could not read"):
        wconv.parse_kernel("1 x")
    with pytest.raises(ValueError, match="no weights"):
        wconv.parse_kernel("  ")


def test_output_size_formula_text():
    assert wconv.output_size_formula(7, 3, 0, 2) == ("(7 - 3 + 2*0)/2 + 1 = 3", True)
    text, fits = wconv.output_size_formula(7, 3, 0, 3)
    assert not fits and "2.333" in text and "doesn't fit" in text
    text, fits = wconv.output_size_formula(4, 3, 0, 1, D=2)
    assert not fits and "larger" in text


def test_explore_conv_matches_conv_output_size():
    image = wconv.load_image("square", 16)
    r = wconv.explore_conv(image, conv.get_kernel("gaussian_blur"), stride=2, padding=1, dilation=2)
    n = shapes.conv_output_size(16, 3, 1, 2, 2, strict=False)
    assert r["out_shape"] == (n, n) and not r["fits"]
    r = wconv.explore_conv(image, torch.ones(9, 9), dilation=2)
    assert r["output"] is None and not r["fits"]


def test_conv_explorer_reacts_to_widget_values():
    explorer = wconv.conv_explorer(size=16)
    assert explorer.result["out_shape"] == (16, 16)  # sobel_x, padding 1 keeps the size
    explorer.image.value = "impulse"
    explorer.kernel.value = "custom"
    explorer.custom.value = "1 2 3; 4 5 6; 7 8 9"
    out = explorer.result["output"]
    assert torch.equal(out[7:10, 7:10], torch.arange(9.0, 0, -1).reshape(3, 3))  # flipped kernel
    explorer.padding.value = 0
    explorer.stride.value = 2
    assert explorer.result["out_shape"] == (7, 7)
    assert "doesn't fit" in explorer.result["formula"]
    explorer.custom.value = "1 2; 3"
    assert "same number" in explorer.result["error"]


def test_explore_pool_worked_example_and_winners():
    r = wconv.explore_pool(wconv.WORKED_4X4, 2, 2, "max")
    assert r["output"].tolist() == [[6, 8], [3, 4]]
    assert r["winners"] == [(1, 1), (1, 3), (2, 0), (3, 3)]
    r = wconv.explore_pool(wconv.WORKED_4X4, 2, 2, "avg")
    assert r["output"].tolist() == [[3.25, 5.25], [2, 2]] and r["winners"] == []
    assert wconv.explore_pool(wconv.WORKED_4X4, 5, 1)["output"] is None


def test_pool_explorer_reacts_to_widget_values():
    explorer = wconv.pooling_explorer()
    assert explorer.result["output"].tolist() == [[6, 8], [3, 4]]
    explorer.mode.value = "avg"
    assert explorer.result["output"].tolist() == [[3.25, 5.25], [2, 2]]
    explorer.source.value = "random 6x6"
    explorer.kernel_size.value = 3
    explorer.stride.value = 3
    assert explorer.result["output"].shape == (2, 2)
    explorer.source.value = "grace_hopper"
    assert explorer.result["output"].shape == (21, 21) and not explorer.result["fits"]


def test_parse_layers_and_receptive_field_explorer():
    assert wconv.parse_layers("conv3, pool2, conv5 s2 d2 p1") == [
        (3, 1, 1, 1, "conv1"), (2, 2, 1, 0, "pool2"), (5, 2, 2, 1, "conv3")]
    with pytest.raises(ValueError, match="cannot read layer 2"):
        wconv.parse_layers("conv3, fc10")
    explorer = wconv.receptive_field_explorer("conv3, conv3, conv3")
    assert [r.size for r in explorer.result["rows"]] == [3, 5, 7]
    explorer.layers.value = "conv3, pool2"
    explorer.input_size.value = 28
    assert [(r.size, r.out_size) for r in explorer.result["rows"]] == [(3, 28), (4, 14)]
    explorer.layers.value = "conv3, linear"
    assert "cannot read" in explorer.result["error"] and explorer.result["rows"] == []


def test_viz_functions_return_axes():
    image = conv.sample_image(16)
    assert vconv.plot_image(image, title="x").get_title() == "x"
    colour = vconv.plot_image(conv.sample_image(16, gray=False))
    assert colour.images[0].get_array().shape == (16, 16, 3)
    ax = vconv.plot_grid_values(wconv.WORKED_4X4, highlight=[(1, 1)])
    assert len(ax.patches) == 1 and len(ax.texts) == 16
    assert len(vconv.plot_kernel(conv.get_kernel("emboss")).texts) == 9
    maps = vconv.plot_feature_maps(torch.randn(6, 5, 5), ncols=4)
    assert maps.images[0].get_array().shape == vconv.montage(torch.randn(6, 5, 5), 4).shape
    filters = vconv.plot_filters(torch.randn(8, 1, 3, 3))
    assert len(filters.images) == 1 and filters.images[0].get_array().size >= 8 * 9
    rows = shapes.receptive_field([(3, 1), (2, 2)])
    assert len(vconv.plot_receptive_field(rows).patches) == 2
    with pytest.raises(ValueError, match=r"\(C_out, C_in, kH, kW\)"):
        vconv.plot_filters(torch.randn(8, 3, 3))


def test_montage_layout():
    grid = vconv.montage(torch.arange(6 * 4.0).reshape(6, 2, 2), ncols=4, pad=1)
    assert grid.shape == (5, 11)  # 2 rows of 2+1, 4 columns of 2+1, minus the trailing pad
    assert grid[0, 0] == 0.0 and grid[1, 1] == 1.0  # each map scaled to [0, 1]
    assert torch.isnan(grid[3, 6])  # empty slot after the 6th map


def test_kernel_numbers_are_white_on_dark_cells_and_black_on_light_ones():
    ax = vconv.plot_kernel(torch.tensor([[-2.0, 0.0, 2.0], [0.1, 0.0, -0.1], [1.0, 1.0, 1.0]]))
    colors = [t.get_color() for t in ax.texts]
    assert colors[0] == colors[2] == "white"  # the extremes of the colour map are dark
    assert colors[1] == colors[3] == colors[4] == "black"  # near zero: white cells
    ax = vconv.plot_kernel(torch.full((3, 3), 1 / 9))  # one value: all cells at the dark end
    assert {t.get_color() for t in ax.texts} == {"white"}
    ax = vconv.plot_grid_values(torch.tensor([[0.0, 1.0]]))
    assert [t.get_color() for t in ax.texts] == ["black", "white"]  # Blues: 0 pale, the max mid-blue
