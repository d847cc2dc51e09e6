"""dlcourse.viz.graph: the computational graph of a scalar Value, drawn with boxes and arrows."""

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

from dlcourse.autograd import Value, topological_order  # noqa: E402
from dlcourse.viz import graph as gviz  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def neuron():
    x1, x2 = Value(2.0, label="x1"), Value(-1.0, label="x2")
    w1, w2, b = Value(0.5, label="w1"), Value(-1.5, label="w2"), Value(0.1, label="b")
    o = (w1 * x1 + w2 * x2 + b).sigmoid()
    L = (o - 1.0) ** 2
    L.backward()
    return L, dict(x1=x1, x2=x2, w1=w1, w2=w2, b=b)


OPS = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "**3": lambda a: a**3, "exp": lambda a: a.exp(), "log": lambda a: a.log(),
    "tanh": lambda a: a.tanh(), "sigmoid": lambda a: a.sigmoid(), "relu": lambda a: a.relu(),
    "neg": lambda a: -a,
}


@pytest.mark.parametrize("op", OPS)
def test_local_derivatives_match_central_differences(op):
    f = OPS[op]
    inputs = [0.7, -0.4][: f.__code__.co_argcount]
    node = f(*[Value(v) for v in inputs])
    for i in range(len(inputs)):
        eps = 1e-6
        hi, lo = list(inputs), list(inputs)
        hi[i] += eps
        lo[i] -= eps
        numeric = (f(*[Value(v) for v in hi]).data - f(*[Value(v) for v in lo]).data) / (2 * eps)
        assert gviz.local_derivative(node, i) == pytest.approx(numeric, rel=1e-6, abs=1e-9)


def test_every_gradient_is_the_sum_over_outgoing_arrows():
    x = Value(0.3, label="x")
    L = x * x + (x * 2.0).tanh()  # x feeds three arrows: both factors of x*x, and x*2
    L.backward()
    total = {}
    for node_in, node_out, local in gviz.graph_edges(L):
        total[id(node_in)] = total.get(id(node_in), 0.0) + local * node_out.grad
    for n in topological_order(L):
        if n is not L:
            assert total[id(n)] == pytest.approx(n.grad, rel=1e-12)
    assert x.grad == pytest.approx(2 * 0.3 + 2 * (1 - math.tanh(0.6) ** 2))


def test_plot_has_one_box_per_node_and_one_arrow_per_edge():
    L, leaves = neuron()
    ax = gviz.plot_graph(L)
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    assert len(boxes) == len(topological_order(L)) == 13
    arrows = [t for t in ax.texts if getattr(t, "arrow_patch", None) is not None]
    assert len(arrows) == len(gviz.graph_edges(L)) == 12
    labels = " ".join(t.get_text() for t in ax.texts)
    assert "w1" in labels and f"grad {leaves['w1'].grad:+.4g}" in labels
    assert not ax.axison  # a diagram, exempt from the axis-label lint


def test_layout_puts_leaves_left_of_their_use_and_the_output_last():
    L, leaves = neuron()
    pos = gviz._layout(L)
    assert pos[id(L)][0] == max(x for x, _ in pos.values())
    for node_in, node_out, _ in gviz.graph_edges(L):
        assert pos[id(node_in)][0] < pos[id(node_out)][0]
    assert len({pos[id(v)] for v in leaves.values()}) == len(leaves)  # no two boxes on one spot


def test_names_follow_graph_table():
    L, _ = neuron()
    names = gviz.node_names(L)
    assert names[id(L)] == "n12" and "1" in names.values() and "w1" in names.values()


def test_bad_inputs_say_what_was_expected():
    with pytest.raises(TypeError, match="autograd.Value"):
        gviz.plot_graph(3.0)
    odd = Value(1.0, (Value(2.0),), "cosh")
    with pytest.raises(ValueError, match="no local derivative known for op 'cosh'"):
        gviz.local_derivative(odd, 0)
