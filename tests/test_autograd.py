"""The scalar autograd engine against torch.autograd (the oracle), plus graph order and errors."""

import math
import random

import pytest
import torch

from dlcourse.autograd import Value, graph_table, softmax, topological_order


def _expression(a, b, c, lib):
    """The same expression built from Values (lib='mg') or torch tensors (lib='pt')."""
    if lib == "mg":
        tanh, sig, relu, exp, log = Value.tanh, Value.sigmoid, Value.relu, Value.exp, Value.log
    else:
        tanh, sig, relu, exp, log = torch.tanh, torch.sigmoid, torch.relu, torch.exp, torch.log
    d = a * b + c**2 - a / (b + 3.0)
    e = tanh(d) * sig(a - c) + relu(b * c) + relu(-d)
    f = exp(0.3 * e) + log(a * a + 1.0) - 2.0 / (1.0 + c * c)
    return f * d + e + (-a) ** 3  # a and d are reused: gradients must accumulate


@pytest.mark.parametrize("seed", range(5))
def test_forward_and_backward_match_torch(seed):
    rng = random.Random(seed)
    xs = [rng.uniform(-2, 2) for _ in range(3)]
    mg = [Value(x) for x in xs]
    out_mg = _expression(*mg, "mg")
    out_mg.backward()
    pt = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    out_pt = _expression(*pt, "pt")
    out_pt.backward()
    assert out_mg.data == pytest.approx(out_pt.item(), rel=1e-12, abs=1e-12)
    for v, t in zip(mg, pt, strict=True):
        assert v.grad == pytest.approx(t.grad.item(), rel=1e-10, abs=1e-12)


def test_softmax_matches_torch_and_grads_flow():
    logits = [Value(x) for x in (0.3, -1.2, 2.0)]
    probs = softmax(logits)
    loss = (probs[1] - 1.0) ** 2 + probs[0] ** 2 + probs[2] ** 2
    loss.backward()
    z = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64, requires_grad=True)
    p = torch.softmax(z, dim=0)
    ((p - torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)) ** 2).sum().backward()
    assert [q.data for q in probs] == pytest.approx(p.tolist(), rel=1e-12)
    assert [v.grad for v in logits] == pytest.approx(z.grad.tolist(), rel=1e-10)
    assert sum(q.data for q in probs) == pytest.approx(1.0)


def test_topological_order_puts_inputs_first_and_visits_each_node_once():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = a * b
    d = c + a  # a is used twice
    order = topological_order(d)
    assert len(order) == len({id(n) for n in order}) == 4
    position = {id(n): i for i, n in enumerate(order)}
    for node in order:
        assert all(position[id(p)] < position[id(node)] for p in node.parents)
    assert order[-1] is d


def test_deep_chain_needs_no_recursion():
    x = Value(0.5)
    y = x
    for _ in range(5000):  # deeper than python's default recursion limit of 1000
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad == pytest.approx(1.0)


def test_backward_twice_gives_the_same_grads():
    x = Value(1.5)
    y = (x * x).tanh()
    y.backward()
    first = x.grad
    y.backward()
    assert x.grad == pytest.approx(first)
    assert first == pytest.approx(2 * 1.5 * (1 - math.tanh(2.25) ** 2))


def test_ops_record_how_each_node_was_made():
    a, b = Value(1.0), Value(2.0)
    assert (a + b).op == "+" and (a * b).op == "*" and a.sigmoid().op == "sigmoid"
    assert (a**2).op == "**2" and a.op == ""
    lines = graph_table(a * b + a)
    assert len(lines) == 4 and "leaf" in lines[0]


def test_bad_inputs_raise_helpful_errors():
    with pytest.raises(TypeError, match="float"):
        Value("3")
    with pytest.raises(TypeError, match="Value or float"):
        Value(1.0) + [1.0]
    with pytest.raises(TypeError, match="constant"):
        Value(2.0) ** Value(3.0)
    with pytest.raises(ValueError, match="positive"):
        Value(-1.0).log()
    with pytest.raises(ValueError, match="at least one"):
        softmax([])


@pytest.mark.parametrize("exponent", [0, 0.5, 1, 1.5, 2, 3])
def test_powers_at_zero_match_torch(exponent):
    x = Value(0.0)
    y = x**exponent
    y.backward()
    t = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    (t**exponent).backward()
    assert y.data == (t**exponent).item() and x.grad == t.grad.item()  # 0**0 -> 0, **0.5 -> inf


def test_relu_slope_at_zero_is_zero_like_torch():
    x = Value(0.0)
    x.relu().backward()
    t = torch.tensor(0.0, requires_grad=True)
    torch.relu(t).backward()
    assert x.grad == t.grad.item() == 0.0


def test_division_by_zero_and_undefined_powers_say_so():
    with pytest.raises(ZeroDivisionError, match="division by zero: 1 / 0 .*epsilon"):
        Value(1.0) / Value(0.0)
    with pytest.raises(ZeroDivisionError, match="division by zero"):
        2.0 / Value(0.0)
    with pytest.raises(ZeroDivisionError, match=r"0 \*\* -1 divides by zero"):
        Value(0.0) ** -1
    with pytest.raises(ValueError, match="not a real number"):
        Value(-4.0) ** 0.5
    assert (Value(-2.0) ** 3).data == -8.0
    with pytest.raises(TypeError, match="constant"):
        Value(2.0) ** True


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "rsub", "rdiv", "neg", "pow"])
def test_each_binary_and_unary_op_against_torch(op):
    ops = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
           "div": lambda a, b: a / b, "rsub": lambda a, b: 2.5 - b * a, "rdiv": lambda a, b: 3.0 / b + a,
           "neg": lambda a, b: -a * b, "pow": lambda a, b: (a * b) ** 3}
    mg = [Value(1.3), Value(-0.7)]
    out = ops[op](*mg)
    out.backward()
    pt = [torch.tensor(v.data, dtype=torch.float64, requires_grad=True) for v in mg]
    ref = ops[op](*pt)
    ref.backward()
    assert out.data == pytest.approx(ref.item(), rel=1e-12)
    assert [v.grad for v in mg] == pytest.approx([t.grad.item() for t in pt], rel=1e-12)


def test_graph_table_lists_values_and_grads():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = a * b
    c.label = "c"
    c.backward()
    lines = graph_table(c)
    assert sorted(lines[:2]) == ["     a = leaf               data=+2.0000 grad=-3.0000",
                                 "     b = leaf               data=-3.0000 grad=+2.0000"]
    assert lines[2] == "     c = *(a, b)            data=-6.0000 grad=+1.0000"
    d = c * c + 1.0  # an unnamed constant is named by its value, unnamed results n<i>
    d.backward()
    last = graph_table(d)[-1].split()
    assert last[:2] == ["n5", "="] and last[2].startswith("+(n") and last[3] == "1)"
    assert "data=+37.0000" in graph_table(d)[-1]
