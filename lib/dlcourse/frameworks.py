"""What a framework does under `fit` (lesson 14): record graphs, walk them, capture them, profile them.

- `backward_nodes`: the autograd graph that eager PyTorch records during a forward pass (lesson 03's
  `Value._prev`, at the scale of whole tensors), listed from the output back to the leaves.
- `graph_nodes`: the nodes of a captured static graph (`torch.fx` or `torch.export`), as plain dicts.
- `compile_timed`: `torch.compile` plus the CPU seconds its first call costs (C++ compiler included), or
  why it cannot compile here.
- `profile_steps` / `top_ops`: torch.profiler over training steps, and where the time went.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from dlcourse import perf


def backward_nodes(output: torch.Tensor) -> list[str]:
    """The names of the autograd nodes behind `output`, breadth-first from it back to the leaves.

    "AccumulateGrad" nodes are where gradients land in a leaf tensor's `.grad` (the weights).
    """
    if output.grad_fn is None:
        raise ValueError("this tensor has no autograd graph: compute it from tensors with "
                         "requires_grad=True, outside torch.no_grad()")
    names, seen, queue = [], set(), [output.grad_fn]
    while queue:
        node = queue.pop(0)
        if node is None or node in seen:
            continue
        seen.add(node)
        names.append(type(node).__name__)
        queue.extend(next_node for next_node, _ in node.next_functions)
    return names


def graph_nodes(graph: torch.fx.Graph) -> list[dict]:
    """One dict per node of an FX graph: name, op (placeholder, call_function, ...), target, inputs."""
    rows = []
    for node in graph.nodes:
        target = node.target if isinstance(node.target, str) else getattr(node.target, "__name__",
                                                                          str(node.target))
        rows.append(dict(name=node.name, op=node.op, target=str(target),
                         inputs=[n.name for n in node.all_input_nodes]))
    return rows


def format_graph(graph: torch.fx.Graph) -> str:
    """A graph as one line per node: `name = target(inputs)`, in the order it runs."""
    lines = []
    for row in graph_nodes(graph):
        if row["op"] == "placeholder":
            lines.append(f"{row['name']:<12} input")
        elif row["op"] == "output":
            lines.append(f"{'output':<12} <- {', '.join(row['inputs'])}")
        else:
            lines.append(f"{row['name']:<12} = {row['target']}({', '.join(row['inputs'])})")
    return "\n".join(lines)


def compile_timed(fn: Callable, *example: torch.Tensor,
                  **options) -> tuple[Callable | None, float, str]:
    """`torch.compile(fn)`, the CPU seconds of its first call on `example` (compiler processes included),
    and ""; or (None, seconds, why) where this machine cannot compile (no C++ compiler, no backend).

    Inductor compiles in this process (one compile thread) so that the C++ compiler's time is counted; a
    second run of the notebook is faster where the compiled kernels are still in inductor's cache.
    """
    import torch._dynamo
    import torch._inductor.config as inductor_config

    inductor_config.compile_threads = 1
    compiled = torch.compile(fn, **options)
    start = perf.cpu_seconds_with_children()
    try:
        compiled(*example)
    except Exception as err:  # BackendCompilerFailed, InductorError, a missing compiler: say which
        torch._dynamo.reset()  # forget the failed attempt, so that eager calls stay eager
        message = " ".join(str(err).split())[:240]  # dynamo's messages span lines: the cause is on the 2nd
        return None, perf.cpu_seconds_with_children() - start, f"{type(err).__name__}: {message}"
    return compiled, perf.cpu_seconds_with_children() - start, ""


def profile_steps(step: Callable[[], object], steps: int = 3, warmup: int = 1):
    """torch.profiler (CPU activities) over `steps` calls of `step()` after `warmup` unprofiled ones."""
    from torch.profiler import ProfilerActivity, profile

    for _ in range(warmup):
        step()
    with perf.one_thread(), profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    return prof


def top_ops(prof, k: int = 8, exclude: tuple[str, ...] = ("forward", "backward", "optimizer")) -> list[dict]:
    """The k operators with the most self CPU time (their own, not their callees'), with shares.

    Returns dicts: name, calls, seconds, share (of all self time); labels from `record_function`
    (the names in `exclude`) are left out: they hold no time of their own.
    """
    events = [e for e in prof.key_averages() if e.key not in exclude]
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    events.sort(key=lambda e: e.self_cpu_time_total, reverse=True)
    return [dict(name=e.key, calls=e.count, seconds=e.self_cpu_time_total / 1e6,
                 share=e.self_cpu_time_total / total) for e in events[:k]]


def phase_seconds(prof, phases: tuple[str, ...] = ("forward", "backward", "optimizer")) -> dict:
    """Seconds spent inside each `record_function` label (callees included), summed over the steps."""
    found = {e.key: e.cpu_time_total / 1e6 for e in prof.key_averages() if e.key in phases}
    missing = [p for p in phases if p not in found]
    if missing:
        raise ValueError(f"no profiled region named {missing}: wrap those parts of the step in "
                         "torch.profiler.record_function(name)")
    return {p: found[p] for p in phases}


def loader_seconds(loader) -> float:
    """CPU seconds (this thread, one thread) to draw one epoch of batches from a loader."""
    with perf.one_thread():
        start = time.thread_time()
        for _ in loader:
            pass
        return time.thread_time() - start


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    """(fn(), CPU seconds of this thread with one thread): for one-off runs such as an epoch."""
    with perf.one_thread():
        start = time.thread_time()
        out = fn()
        return out, time.thread_time() - start
