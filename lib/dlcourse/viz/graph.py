"""Draw the computational graph of a scalar `dlcourse.autograd.Value` with matplotlib boxes and arrows.

    L.backward()
    viz.graph.plot_graph(L)            # one box per node: name, op, data, grad; arrows input -> output

No graphviz needed. Leaves sit on the left, the output on the right; every arrow carries the local
derivative d(output)/d(input) of its operation, so a node's gradient is the sum, over its outgoing
arrows, of (local derivative x gradient of the node the arrow points to).
"""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.patches import FancyBboxPatch

from dlcourse.autograd import Value, topological_order
from dlcourse.viz import get_axes

GAP = 1.6  # layout units between two columns; a box is 1 unit wide


def local_derivative(node: Value, i: int) -> float:
    """d(node)/d(input i) of the operation that made `node` (i indexes `node.parents`)."""
    op, parents = node.op, node.parents
    x = parents[i].data
    if op == "+":
        return 1.0
    if op == "-":
        return 1.0 if i == 0 else -1.0
    if op == "*":
        return parents[1 - i].data
    if op.startswith("**"):
        k = float(op[2:])
        return k * x ** (k - 1)
    unary = {"exp": node.data, "log": 1.0 / x if x else float("inf"), "tanh": 1.0 - node.data**2,
             "sigmoid": node.data * (1.0 - node.data), "relu": 1.0 if x > 0 else 0.0, "neg": -1.0}
    if op not in unary:
        raise ValueError(f"no local derivative known for op {op!r}; known: +, -, *, **k, "
                         + ", ".join(unary))
    return unary[op]


def graph_edges(root: Value) -> list[tuple[Value, Value, float]]:
    """Every edge (input, output, d output / d input) of the graph that ends in `root`."""
    return [(p, n, local_derivative(n, i)) for n in topological_order(root)
            for i, p in enumerate(n.parents)]


def node_names(root: Value) -> dict[int, str]:
    """id(node) -> its label, its value for an unnamed constant leaf, or n<i> (as `graph_table`)."""
    order = topological_order(root)
    return {id(n): n.label or (f"{n.data:g}" if not n.parents else f"n{i}") for i, n in enumerate(order)}


def _layout(root: Value) -> dict[int, tuple[float, float]]:
    """(x, y) per node: x = longest path from the leaves (leaves just left of their first use),
    y = leaves stacked in depth-first order from the output, inner nodes at their inputs' mean."""
    order = topological_order(root)
    level: dict[int, int] = {}
    for n in order:
        if n.parents:
            level[id(n)] = 1 + max(level.get(id(p), 0) for p in n.parents)
    for n in reversed(order):  # a leaf sits one column left of the earliest node that uses it
        for p in n.parents:
            if not p.parents:
                level[id(p)] = min(level.get(id(p), level[id(n)] - 1), level[id(n)] - 1)
    if not root.parents:
        level[id(root)] = 0
    y: dict[int, float] = {}
    slot = 0

    def place(n: Value) -> float:
        nonlocal slot
        if id(n) in y:
            return y[id(n)]
        if not n.parents:
            y[id(n)] = float(slot)
            slot += 1
        else:
            ys = [place(p) for p in n.parents]
            y[id(n)] = sum(ys) / len(ys)
        return y[id(n)]

    place(root)
    return {id(n): (GAP * level[id(n)], -y[id(n)]) for n in order}


def plot_graph(root: Value, ax: Axes | None = None, show_grad: bool = True,
               edge_labels: bool = True) -> Axes:
    """Boxes (name, op, data, grad) and arrows input -> output labelled with local derivatives."""
    if not isinstance(root, Value):
        raise TypeError(f"plot_graph draws a dlcourse.autograd.Value graph, got {type(root).__name__}")
    pos, names = _layout(root), node_names(root)
    width = max(x for x, _ in pos.values()) + 1
    nrows = max(-y for _, y in pos.values()) + 1
    ax = get_axes(ax, (max(6.0, 1.25 * width), max(2.5, 0.9 * nrows)))
    w, h = 1.0, 0.8  # box size in layout units
    for p, n, local in graph_edges(root):
        (x0, y0), (x1, y1) = pos[id(p)], pos[id(n)]
        ax.annotate("", xy=(x1 - w / 2, y1), xytext=(x0 + w / 2, y0),
                    arrowprops=dict(arrowstyle="->", color="0.35", lw=1.0, shrinkA=0, shrinkB=0))
        if edge_labels:
            ax.text((x0 + x1) / 2, (y0 + y1) / 2, f"{local:+.3g}", fontsize=7, color="tab:blue",
                    ha="center", va="center", bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none"))
    for n in topological_order(root):
        x, y = pos[id(n)]
        leaf = not n.parents
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02",
                                    fc="#eef3fb" if leaf else "#fdf1e4", ec="0.3", lw=0.8))
        lines = [names[id(n)] if leaf else f"{names[id(n)]} = {n.op}", f"data {n.data:+.4g}"]
        if show_grad:
            lines.append(f"grad {n.grad:+.4g}")
        ax.text(x, y, "\n".join(lines), ha="center", va="center", fontsize=7.5)
    ax.set(xlim=(-w / 2 - 0.1, width - w / 2 + 0.1), ylim=(-nrows + 0.45, 0.55))
    ax.set_axis_off()
    return ax
