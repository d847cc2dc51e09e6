"""Exercise checks for lesson 14 (how a framework works, and how training scales).

Each check calls the student's function on its own inputs, compares with a reference computed here or
in `dlcourse.perf`, and passes quietly or raises AssertionError with a hint (never the answer). An
untouched stub says "not answered yet" (check._common).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from dlcourse import perf
from dlcourse.check._common import call, number, require

__all__ = ["matmul_intensity", "relu_to_gelu", "shard_order", "data_parallel_grads"]


def matmul_intensity(fn: Callable) -> None:
    """Check `fn(n, bytes_per_element)`: FLOPs per byte of an n x n matrix product."""
    for n, size in [(16, 4), (256, 4), (1000, 2), (3, 8)]:
        got = number(call(fn, n, size, name="matmul_intensity"), f"matmul_intensity({n}, {size})")
        flops, nbytes = perf.matmul_cost(n, size)
        if math.isclose(got, flops / nbytes, rel_tol=1e-6):
            continue
        require(not math.isclose(got, n**3 / nbytes, rel_tol=1e-6),
                "count a multiply-add as 2 FLOPs (one multiplication, one addition)")
        require(not math.isclose(got, flops / (2 * n * n * size), rel_tol=1e-6),
                "the result C must be written to memory too: three matrices move, not two")
        require(not math.isclose(got, flops / (3 * n * n), rel_tol=1e-6),
                "bytes, not numbers: multiply the number of elements moved by bytes_per_element")
        require(False, f"matmul_intensity({n}, {size}) = {got:.4g} is wrong: divide the FLOPs of the "
                "product by the bytes of the three n x n matrices")


class _Net(nn.Module):
    """ReLUs written three ways: as a method, as torch.relu and as F.relu."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.a, self.b, self.c = nn.Linear(6, 8), nn.Linear(8, 8), nn.Linear(8, 3)

    def forward(self, x):
        x = self.a(x).relu()
        x = torch.relu(self.b(x))
        return F.relu(self.c(x)) - x.sum(1, keepdim=True)


def _gelu_reference(net: _Net, x: torch.Tensor) -> torch.Tensor:
    x = F.gelu(net.a(x))
    x = F.gelu(net.b(x))
    return F.gelu(net.c(x)) - x.sum(1, keepdim=True)


def relu_to_gelu(fn: Callable) -> None:
    """Check `fn(graph_module)`: every ReLU of a traced module becomes F.gelu."""
    net = _Net()
    x = torch.randn(5, 6, generator=torch.Generator().manual_seed(1))
    traced = torch.fx.symbolic_trace(net)
    out = call(fn, traced, name="relu_to_gelu")
    require(isinstance(out, torch.fx.GraphModule), "return the GraphModule you changed (after "
            f"graph_module.recompile()), got {type(out).__name__}")
    with torch.no_grad():
        got, expected, unchanged = out(x), _gelu_reference(net, x), net(x)
    if torch.allclose(got, expected, atol=1e-6):
        return
    require(not torch.allclose(got, unchanged, atol=1e-6),
            "the module computes what it did before: change the nodes, then call "
            "graph_module.recompile() so that its code is regenerated from the graph")
    ops = [(n.op, n.target) for n in out.graph.nodes]
    left = [t for op, t in ops if t in ("relu", torch.relu, F.relu)]
    require(not left, f"{len(left)} ReLU node(s) are left: a ReLU appears as a call_method 'relu', "
            "a call_function torch.relu and a call_function F.relu")
    require(False, "the output differs from the same module with GELUs: replace each ReLU node's "
            "target by F.gelu (a call_function) and keep its input")


def _reference_shard(order: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    return order[rank::world_size][:len(order) // world_size]


def shard_order(fn: Callable) -> None:
    """Check `fn(order, rank, world_size)`: this rank's positions, as TensorLoader shards an epoch."""
    for n, world, seed in [(16, 2, 0), (103, 4, 1), (10, 3, 2)]:
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        parts = []
        for rank in range(world):
            got = call(fn, order.clone(), rank, world, name="my_shard")
            require(isinstance(got, torch.Tensor),
                    f"my_shard should return a tensor, got {type(got).__name__}")
            parts.append(got)
        everything = torch.cat(parts).tolist()
        require(len(set(everything)) == len(everything), "the shards overlap: an example would be "
                "seen by two ranks in the same epoch")
        require(len({len(p) for p in parts}) == 1, f"with {n} examples and {world} ranks the shards "
                f"have lengths {[len(p) for p in parts]}: every rank must run the same number of steps "
                "(its collectives must pair up), so drop the examples that do not divide evenly")
        require(len(parts[0]) == n // world, f"each rank should keep {n} // {world} examples")
        if all(torch.equal(p, _reference_shard(order, r, world)) for r, p in enumerate(parts)):
            continue
        require(False, "the shards are disjoint and equal, but the first batch of the ranks together "
                "is not the first global batch: take positions so that each rank gets a share of "
                "every stretch of the order (every world_size-th position, starting at its rank)")


def data_parallel_grads(fn: Callable) -> None:
    """Check `fn(model, X, y, world_size)`: gradients averaged over equal shards of the batch."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3))
    X, y = torch.randn(12, 5), torch.randint(0, 3, (12,))
    params = list(model.parameters())
    full = torch.autograd.grad(F.cross_entropy(model(X), y), params)
    for world in (2, 3):
        got = call(fn, model, X, y, world, name="data_parallel_grads")
        got = list(got) if isinstance(got, (list, tuple)) else got
        require(isinstance(got, list) and len(got) == len(params),
                f"return one gradient per parameter ({len(params)} tensors, in model.parameters() "
                "order)")
        require(all(isinstance(g, torch.Tensor) and g.shape == p.shape for g, p in zip(got, params)),
                "each gradient should have the shape of its parameter")
        if all(torch.allclose(g, f, atol=1e-6) for g, f in zip(got, full)):
            continue
        require(not all(torch.allclose(g, world * f, atol=1e-6) for g, f in zip(got, full)),
                f"your gradients are {world}x too large: all-reduce sums the ranks' gradients, and DDP "
                "then divides by the number of ranks")
        require(False, "with equal shards the average of the ranks' gradients equals the gradient "
                "of the mean loss over the whole batch; yours differ. Each rank's loss is the mean "
                "cross-entropy over its own rows")
