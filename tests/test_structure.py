"""The package's imports go one way: no module imports, even lazily, a module that imports it back.

The loop (`train`) depends on its callbacks, the lr range test and the plots never the reverse;
`transfer` builds on `checkpoints`, not the other way round.
"""

import ast
import functools
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "lib" / "dlcourse"


def module_name(path: Path) -> str:
    parts = path.relative_to(LIB.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def import_graph() -> dict[str, set[str]]:
    """Every `dlcourse` import in every module (top level or inside functions) -> the module it names."""
    modules = {module_name(p): p for p in LIB.rglob("*.py")}
    graph = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dlcourse"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    graph[name].add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                graph[name].update(a.name for a in node.names if a.name.startswith("dlcourse"))
        graph[name].discard(name)
    return graph


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_no_import_cycles():
    graph = import_graph()
    cycles = sorted(f"{a} <-> {b}" for a in graph for b in graph[a]
                    if "dlcourse" not in (a, b) and a in reachable(graph, b))
    assert cycles == []


@pytest.mark.parametrize("module, forbidden", [
    ("dlcourse.callbacks", "dlcourse.train"),
    ("dlcourse.lr_finder", "dlcourse.train"),
    ("dlcourse.evaluation", "dlcourse.train"),
    ("dlcourse.history", "dlcourse.train"),
    ("dlcourse.viz", "dlcourse.train"),
    ("dlcourse.viz.architectures", "dlcourse.train"),
    ("dlcourse.checkpoints", "dlcourse.transfer"),
    ("dlcourse.serialize", "dlcourse.checkpoints"),
])
def test_lower_layers_never_reach_higher_ones(module, forbidden):
    assert forbidden not in reachable(import_graph(), module)


def test_no_module_uses_another_modules_private_names():
    offenders = []
    for path in LIB.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dlcourse"):
                offenders += [f"{module_name(path)}: {node.module}.{a.name}" for a in node.names
                              if a.name.startswith("_") and not a.name.startswith("__")]
    allowed = {"dlcourse.check."}  # the exercise checks share their own `check._common`
    assert [o for o in offenders if not any(o.startswith(a) for a in allowed)] == []


LOOP_AND_CORE = ["train", "callbacks", "lr_finder", "history", "evaluation", "optim", "serialize",
                 "checkpoints", "transfer", "data", "imageset", "loaders", "config", "shapes", "summary",
                 "receptive", "conv", "pooling", "autograd"]


@pytest.mark.parametrize("name", LOOP_AND_CORE)
def test_modules_stay_readable_in_one_sitting(name):
    assert len((LIB / f"{name}.py").read_text().splitlines()) <= 350


def test_public_api_still_reachable_through_train_and_data():
    from dlcourse import checkpoints, data, train, transfer

    for name in ("fit", "evaluate", "predict", "lr_find", "LRFinderResult", "History", "save_checkpoint",
                 "load_checkpoint", "CheckpointError", "make_optimizer", "make_schedule",
                 "NonFiniteLossError"):
        assert hasattr(train, name), name
    for name in ("ImageSet", "TensorLoader", "make_dataloader", "normalize", "stratified_indices",
                 "load_fashion_mnist", "load_bundled_subset", "class_split", "FASHION_CLASSES",
                 "logic_gate", "make_blobs", "epoch_permutation"):
        assert hasattr(data, name), name
    assert transfer.class_split is data.class_split and checkpoints.load_checkpoint is train.load_checkpoint
