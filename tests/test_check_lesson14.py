"""Tests for dlcourse.check.lesson14: the solutions pass, realistic wrong answers fail with a hint."""

import pytest
import torch
import torch.nn.functional as F

from dlcourse.check import lesson14
from dlcourse.check._common import NOT_ANSWERED


def test_checks_are_exported_by_name():
    import dlcourse.check

    for name in lesson14.__all__:
        assert getattr(dlcourse.check, name) is getattr(lesson14, name)


def stub(*args):
    raise NotImplementedError


# ---------------------------------------------------------------- exercise 1: intensity
def test_matmul_intensity():
    lesson14.matmul_intensity(lambda n, b=4: (2 * n**3) / (3 * n * n * b))
    lesson14.matmul_intensity(lambda n, b=4: torch.tensor(2 * n / (3 * b)))  # any numeric type
    with pytest.raises(AssertionError, match="2 FLOPs"):
        lesson14.matmul_intensity(lambda n, b=4: n**3 / (3 * n * n * b))
    with pytest.raises(AssertionError, match="three matrices"):
        lesson14.matmul_intensity(lambda n, b=4: 2 * n**3 / (2 * n * n * b))
    with pytest.raises(AssertionError, match="bytes, not numbers"):
        lesson14.matmul_intensity(lambda n, b=4: 2 * n**3 / (3 * n * n))
    with pytest.raises(AssertionError, match="is wrong"):
        lesson14.matmul_intensity(lambda n, b=4: n / 3)
    with pytest.raises(AssertionError, match=NOT_ANSWERED):
        lesson14.matmul_intensity(stub)
    with pytest.raises(AssertionError, match=NOT_ANSWERED):
        lesson14.matmul_intensity(None)


# ---------------------------------------------------------------- exercise 2: graph rewrite
def relu_to_gelu(gm):
    for node in gm.graph.nodes:
        if (node.op == "call_method" and node.target == "relu") or (
                node.op == "call_function" and node.target in (torch.relu, F.relu)):
            node.op, node.target, node.kwargs = "call_function", F.gelu, {}
    gm.recompile()
    return gm


def methods_only(gm):
    for node in gm.graph.nodes:
        if node.op == "call_method" and node.target == "relu":
            node.op, node.target = "call_function", F.gelu
    gm.recompile()
    return gm


def no_recompile(gm):
    for node in gm.graph.nodes:
        if node.target in ("relu", torch.relu, F.relu):
            node.op, node.target = "call_function", F.gelu
    return gm


def test_relu_to_gelu():
    lesson14.relu_to_gelu(relu_to_gelu)
    with pytest.raises(AssertionError, match="ReLU node"):
        lesson14.relu_to_gelu(methods_only)
    with pytest.raises(AssertionError, match="recompile"):
        lesson14.relu_to_gelu(no_recompile)
    with pytest.raises(AssertionError, match="return the GraphModule"):
        lesson14.relu_to_gelu(lambda gm: gm.graph)
    with pytest.raises(AssertionError, match="returned None"):
        lesson14.relu_to_gelu(lambda gm: None)
    with pytest.raises(AssertionError, match=NOT_ANSWERED):
        lesson14.relu_to_gelu(stub)


# ---------------------------------------------------------------- exercise 3: shards
def test_shard_order():
    lesson14.shard_order(lambda order, r, w: order[r::w][:len(order) // w])
    with pytest.raises(AssertionError, match="first global batch"):  # contiguous blocks
        lesson14.shard_order(lambda order, r, w: order[r * (len(order) // w):(r + 1) * (len(order) // w)])
    with pytest.raises(AssertionError, match="drop the examples"):  # uneven shards
        lesson14.shard_order(lambda order, r, w: order[r::w])
    with pytest.raises(AssertionError, match="overlap"):
        lesson14.shard_order(lambda order, r, w: order[:len(order) // w])
    with pytest.raises(AssertionError, match="should return a tensor"):
        lesson14.shard_order(lambda order, r, w: order[r::w].tolist())
    with pytest.raises(AssertionError, match=NOT_ANSWERED):
        lesson14.shard_order(stub)


# ---------------------------------------------------------------- exercise 4: all-reduce by hand
def data_parallel_grads(model, X, y, world_size):
    params = list(model.parameters())
    per_rank = [torch.autograd.grad(F.cross_entropy(model(X[r::world_size]), y[r::world_size]), params)
                for r in range(world_size)]
    return [torch.stack(g).mean(0) for g in zip(*per_rank)]


def summed(model, X, y, world_size):
    return [g * world_size for g in data_parallel_grads(model, X, y, world_size)]


def first_rank_only(model, X, y, world_size):
    return list(torch.autograd.grad(F.cross_entropy(model(X[::world_size]), y[::world_size]),
                                    list(model.parameters())))


def test_data_parallel_grads():
    lesson14.data_parallel_grads(data_parallel_grads)
    lesson14.data_parallel_grads(lambda *a: tuple(data_parallel_grads(*a)))  # a tuple is fine too
    with pytest.raises(AssertionError, match="too large"):
        lesson14.data_parallel_grads(summed)
    with pytest.raises(AssertionError, match="yours differ"):
        lesson14.data_parallel_grads(first_rank_only)
    with pytest.raises(AssertionError, match="one gradient per parameter"):
        lesson14.data_parallel_grads(lambda *a: data_parallel_grads(*a)[:2])
    with pytest.raises(AssertionError, match=NOT_ANSWERED):
        lesson14.data_parallel_grads(stub)
