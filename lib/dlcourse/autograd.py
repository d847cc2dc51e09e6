"""A tiny scalar autograd engine: each Value knows its data, its grad and the op that made it.

The computational graph is built as you compute: every operation returns a new `Value` that
remembers its inputs (`_prev`), the name of the operation (`op`) and a closure (`_backward`) that
pushes its own gradient to its inputs by the chain rule. `Value.backward()` visits the graph in
reverse topological order so each node's gradient is complete before it is passed on.
After micrograd (Karpathy, 2020), written for teaching; checked against torch.autograd in tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

Number = int | float


class Value:
    """A scalar node of the computational graph: data, grad, the op that made it, its inputs."""

    def __init__(self, data: Number, _prev: tuple[Value, ...] = (), op: str = "", label: str = ""):
        if isinstance(data, Value) or not isinstance(data, (int, float)):
            raise TypeError(
                f"Value(data) expects a python int or float, got {type(data).__name__}; "
                "for a numpy or torch scalar pass float(x)."
            )
        self.data = float(data)
        self.grad = 0.0  # dL/d(this node), filled in by backward()
        self._prev = _prev
        self._backward: Callable[[], None] = lambda: None
        self.op = op
        self.label = label

    def __repr__(self) -> str:
        name = f"{self.label}=" if self.label else ""
        return f"Value({name}{self.data:.4g}, grad={self.grad:.4g})"

    @property
    def parents(self) -> tuple[Value, ...]:
        """The inputs this node was computed from (empty for a leaf)."""
        return self._prev

    # --- binary ops -------------------------------------------------------------------------
    def __add__(self, other: Value | Number) -> Value:
        other = _as_value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward() -> None:
            # d(a+b)/da = d(a+b)/db = 1; `+=` because a node can feed several others
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other: Value | Number) -> Value:
        other = _as_value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward() -> None:
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, exponent: Number) -> Value:
        if isinstance(exponent, bool) or not isinstance(exponent, (int, float)):
            raise TypeError(
                "Value ** k supports a constant int/float exponent k only; for a ** b "
                "with b a Value write (b * a.log()).exp()."
            )
        if self.data == 0 and exponent < 0:
            raise ZeroDivisionError(
                f"0 ** {exponent:g} divides by zero; keep the base away from 0, e.g. "
                f"(x + 1e-8) ** {exponent:g}."
            )
        if self.data < 0 and exponent != int(exponent):
            raise ValueError(
                f"({self.data:g}) ** {exponent:g} is not a real number: a negative base needs a "
                "whole-number exponent."
            )
        out = Value(self.data**exponent, (self,), f"**{exponent:g}")

        def _backward() -> None:
            self.grad += _power_slope(self.data, exponent) * out.grad

        out._backward = _backward
        return out

    # --- unary ops --------------------------------------------------------------------------
    def _unary(self, data: float, op: str, local_grad: float) -> Value:
        """Make a one-input node whose local derivative d(out)/d(self) is `local_grad`."""
        out = Value(data, (self,), op)

        def _backward() -> None:
            self.grad += local_grad * out.grad

        out._backward = _backward
        return out

    def exp(self) -> Value:
        """e ** self."""
        e = math.exp(self.data)
        return self._unary(e, "exp", e)

    def log(self) -> Value:
        """Natural log; defined for data > 0 only."""
        if self.data <= 0:
            raise ValueError(
                f"log needs a positive input, got {self.data}; add a small epsilon "
                "or clamp the argument first."
            )
        return self._unary(math.log(self.data), "log", 1.0 / self.data)

    def tanh(self) -> Value:
        """Hyperbolic tangent; its derivative is 1 - tanh^2."""
        t = math.tanh(self.data)
        return self._unary(t, "tanh", 1.0 - t * t)

    def sigmoid(self) -> Value:
        """Logistic sigmoid 1 / (1 + e^-x); its derivative is s (1 - s), at most 1/4."""
        s = 0.5 * (1.0 + math.tanh(0.5 * self.data))  # overflow-free form of 1/(1+e^-x)
        return self._unary(s, "sigmoid", s * (1.0 - s))

    def relu(self) -> Value:
        """max(0, x); we take the derivative at 0 to be 0, like torch."""
        return self._unary(max(0.0, self.data), "relu", 1.0 if self.data > 0 else 0.0)

    # --- the backward pass ------------------------------------------------------------------
    def backward(self) -> None:
        """Fill in .grad of every node this one depends on: dself/dnode, by reverse topo order."""
        order = topological_order(self)
        for node in order:
            node.grad = 0.0  # a fresh pass: do not accumulate stale gradients
        self.grad = 1.0  # dL/dL
        for node in reversed(order):
            node._backward()

    # --- python sugar built from the ops above ----------------------------------------------
    def __neg__(self) -> Value:
        return self._unary(-self.data, "neg", -1.0)

    def __sub__(self, other: Value | Number) -> Value:
        other = _as_value(other)
        out = Value(self.data - other.data, (self, other), "-")

        def _backward() -> None:
            self.grad += out.grad
            other.grad -= out.grad  # d(a-b)/db = -1

        out._backward = _backward
        return out

    def __truediv__(self, other: Value | Number) -> Value:
        other = _as_value(other)
        if other.data == 0:
            raise ZeroDivisionError(
                f"division by zero: {self.data:g} / 0 (the denominator Value is 0); add a small "
                "epsilon to the denominator, e.g. a / (b + 1e-8)."
            )
        return self * other**-1

    def __radd__(self, other: Number) -> Value:
        return self + other

    def __rmul__(self, other: Number) -> Value:
        return self * other

    def __rsub__(self, other: Number) -> Value:
        return _as_value(other) - self

    def __rtruediv__(self, other: Number) -> Value:
        return _as_value(other) / self


def _power_slope(x: float, k: float) -> float:
    """d(x**k)/dx = k x**(k-1), with torch's values where that formula breaks down at x = 0."""
    if k == 0:
        return 0.0  # x**0 is the constant 1
    if x == 0 and k < 1:
        return math.inf  # e.g. sqrt(x) is vertical at 0
    return k * x ** (k - 1)


def _as_value(x: Value | Number) -> Value:
    """Wrap a python number as a constant leaf; reject anything else with a hint."""
    if isinstance(x, Value):
        return x
    if isinstance(x, (int, float)):
        return Value(x)
    raise TypeError(f"cannot combine a Value with {type(x).__name__}; use Value or float(x).")


def topological_order(root: Value) -> list[Value]:
    """All nodes `root` depends on, each listed after its inputs (iterative DFS, no recursion)."""
    order: list[Value] = []
    visited: set[int] = set()
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        stack.extend((p, False) for p in node._prev if id(p) not in visited)
    return order


def softmax(logits: Iterable[Value | Number]) -> list[Value]:
    """Softmax of a list of scalars, shifted by the max for stability (the shift has zero grad)."""
    logits = [_as_value(z) for z in logits]
    if not logits:
        raise ValueError("softmax needs at least one logit.")
    shift = max(z.data for z in logits)
    exps = [(z - shift).exp() for z in logits]
    total = sum(exps[1:], exps[0])
    return [e / total for e in exps]


def graph_table(root: Value) -> list[str]:
    """One line per node in topological order: label/op, data and grad (for printing a graph)."""
    order = topological_order(root)
    # unnamed leaves are constants such as the 1.0 in (o - 1.0): name them by their value
    names = {id(n): n.label or (f"{n.data:g}" if not n._prev else f"n{i}") for i, n in enumerate(order)}
    lines = []
    for n in order:
        inputs = ", ".join(names[id(p)] for p in n._prev)
        made = f"{n.op}({inputs})" if n.op else "leaf"
        lines.append(f"{names[id(n)]:>6} = {made:<18} data={n.data:+.4f} grad={n.grad:+.4f}")
    return lines
