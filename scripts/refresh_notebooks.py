"""Execute lesson notebooks in fast mode and store only the outputs that nbval checks.

    python scripts/refresh_notebooks.py notebooks/05_convolution.ipynb [...]
    python scripts/refresh_notebooks.py --from-py draft.py notebooks/05_convolution.ipynb
    python scripts/refresh_notebooks.py --strip-only notebooks/*.ipynb

Cells that start with `# NBVAL_CHECK_OUTPUT` keep their output and execution count (nbval compares
them; `keep_output` metadata makes nbstripout keep them too). Every other cell is stripped, so
committed notebooks carry only deterministic facts. `--from-py` first converts a jupytext py:percent
draft into the notebook.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat

MARK = "NBVAL_CHECK_OUTPUT"
# what JupyterLab writes on open: anything else marks every notebook modified as soon as it opens
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def is_marked(cell) -> bool:
    """A code cell whose stored output is a checked fact."""
    return cell.cell_type == "code" and MARK in cell.source


def strip(nb) -> None:
    """Keep outputs (and counts) of marked cells only; drop run-specific metadata."""
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        if is_marked(cell):
            cell.metadata["keep_output"] = True
        else:
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("keep_output", None)
    nb.metadata.pop("widgets", None)
    nb.metadata.pop("papermill", None)
    nb.metadata["kernelspec"] = KERNELSPEC


def execute(nb, cwd: Path, timeout: int = 600) -> float:
    """Run the notebook top to bottom in fast mode; returns seconds."""
    from nbclient import NotebookClient

    os.environ.update(DLCOURSE_FAST="1", DLCOURSE_PROGRESS="lines", MPLBACKEND="Agg",
                      DLCOURSE_LINT_FIGURES="1")
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return time.perf_counter() - start


def from_py(draft: Path, target: Path) -> None:
    """Convert a jupytext py:percent draft to `target` (.ipynb)."""
    import jupytext

    nb = jupytext.read(draft, fmt="py:percent")
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = KERNELSPEC
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.write(nb, target)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--from-py", type=Path, help="a py:percent draft to convert first")
    parser.add_argument("--strip-only", action="store_true", help="strip without executing")
    args = parser.parse_args()
    if args.from_py:
        if len(args.notebooks) != 1:
            parser.error("--from-py takes exactly one target notebook")
        from_py(args.from_py, args.notebooks[0])
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=4)
        if not args.strip_only:
            seconds = execute(nb, path.parent)
            print(f"{path}: executed in fast mode in {seconds:.1f} s")
        strip(nb)
        nbformat.validate(nb)
        nbformat.write(nb, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
