"""Execute every lesson headless with papermill, render each to HTML, and print a results table.

    python scripts/run_course.py            # fast mode without a GPU, full mode where CUDA is present
    python scripts/run_course.py --full     # full mode anyway (slow on a CPU)
    python scripts/run_course.py 05 06      # only the notebooks whose names start with these
    python scripts/run_course.py --seed 1   # another seed (the notebooks' SEED parameter)

Executed notebooks, their HTML (figures included: the kernel draws with the inline backend) and each
notebook's headline metrics (`dlcourse.report(...)`, a JSON beside the notebook) are written to build/.
A full-mode run that succeeds also stores the lesson's full-run reference, with device, date, seconds
and commit, in data/results/<notebook>.json; every student's run prints its numbers beside it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS, BUILD, RESULTS = ROOT / "notebooks", ROOT / "build", ROOT / "data" / "results"
INLINE = "module://matplotlib_inline.backend_inline"  # figures become PNG outputs, so the HTML has them


def run_one(nb: Path, fast: bool, timeout: int, seed: int = 0) -> dict:
    """Execute one notebook into build/ and render it; returns a row of the results table."""
    import nbformat
    import papermill as pm
    from nbconvert import HTMLExporter

    out, metrics_path = BUILD / nb.name, BUILD / f"{nb.stem}.metrics.json"
    metrics_path.unlink(missing_ok=True)
    os.environ.update(DLCOURSE_REPORT=str(metrics_path), DLCOURSE_PROGRESS="lines",
                      MPLBACKEND=INLINE, DLCOURSE_FAST="1" if fast else "0")
    start, status = time.perf_counter(), "ok"
    try:
        pm.execute_notebook(str(nb), str(out), parameters={"FAST": fast, "SEED": seed}, cwd=str(NOTEBOOKS),
                            kernel_name="python3", progress_bar=False, execution_timeout=timeout)
    except Exception as err:  # PapermillExecutionError names the failing cell; the notebook is saved
        status = f"FAILED: {type(err).__name__}: {str(err).strip().splitlines()[-1][:80]}"
    seconds = time.perf_counter() - start
    if out.exists():
        html, _ = HTMLExporter().from_notebook_node(nbformat.read(out, as_version=4))
        out.with_suffix(".html").write_text(add_network_note(html))
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    return dict(notebook=nb.stem, mode="fast" if fast else "full", status=status, seconds=seconds,
                seed=seed, metrics=metrics)


NETWORK_NOTE = (
    '<div id="dlcourse-network-note" style="border:1px solid #c60;background:#fff4e5;padding:6px 10px;'
    'margin:8px;font:14px sans-serif">This page loads MathJax (the formulas) and the widget renderer '
    "(the interactive explorers) from a CDN, so it needs a network: offline, formulas stay as raw TeX "
    "and each explorer shows only the static picture saved under it.</div>\n"
    "<script>window.addEventListener('load', function () {  // MathJax loaded: the note is not needed\n"
    "  if (window.MathJax && window.MathJax.Hub) {\n"
    "    document.getElementById('dlcourse-network-note').style.display = 'none'; } });</script>\n")


def add_network_note(html: str) -> str:
    """Open the exported page with a note that its math needs a network; hidden once MathJax loads.

    nbconvert loads MathJax from a CDN and there is no local copy to embed, so an offline reader sees
    the note (and raw TeX) instead of being left to wonder.
    """
    head, sep, rest = html.partition("<body")
    if not sep:
        raise ValueError("the exported HTML has no <body> tag to put the network note into")
    tag, close, body = rest.partition(">")
    return head + sep + tag + close + "\n" + NETWORK_NOTE + body


def write_reference(row: dict) -> Path:
    """Store a successful full run's numbers as the lesson's reference in data/results/."""
    import torch

    RESULTS.mkdir(parents=True, exist_ok=True)
    ref = dict(lesson=row["notebook"], mode=row["mode"], device=device_name(),
               date=datetime.date.today().isoformat(), seconds=round(row["seconds"], 1), seed=row["seed"],
               commit=commit(), torch=torch.__version__, metrics=row["metrics"])
    path = RESULTS / f"{row['notebook']}.json"
    path.write_text(json.dumps(ref, indent=2) + "\n")
    return path


def device_name() -> str:
    """"NVIDIA H100 80GB HBM3" or "CPU (<model>, 16 threads)": where a reference was measured."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        model = names[0] if names else model
    return f"CPU ({model}, {torch.get_num_threads()} threads)"


def commit() -> str:
    """The commit the run used, with "+dirty" if the working tree had changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def format_table(rows: list[dict]) -> str:
    """The results as a fixed-width table: notebook, mode, status, seconds, headline metrics."""
    lines = [f"{'notebook':<40} {'mode':<5} {'status':<8} {'seconds':>8}  headline metric"]
    for r in rows:
        metric = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in r["metrics"].items()) or "-"
        status = r["status"] if r["status"] == "ok" else "FAILED"
        lines.append(f"{r['notebook']:<40} {r['mode']:<5} {status:<8} {r['seconds']:>8.1f}  {metric}")
    for r in rows:
        if r["status"] != "ok":
            lines.append(f"{r['notebook']}: {r['status']}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="prefixes of the notebooks to run (default: all)")
    parser.add_argument("--full", action="store_true", help="full mode even without a GPU")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    parser.add_argument("--seed", type=int, default=0, help="the notebooks' SEED parameter")
    parser.add_argument("--no-reference", action="store_true",
                        help="in full mode, do not write data/results/<notebook>.json")
    args = parser.parse_args()

    import torch

    fast = not (args.full or torch.cuda.is_available())
    BUILD.mkdir(exist_ok=True)
    notebooks = sorted(p for p in NOTEBOOKS.glob("[0-9]*.ipynb")
                       if not args.only or p.name.startswith(tuple(args.only)))
    rows = []
    for nb in notebooks:
        rows.append(run_one(nb, fast, args.timeout, args.seed))
        print(f"{rows[-1]['status']:<6} {nb.name} ({rows[-1]['seconds']:.1f} s)", flush=True)
        if not fast and rows[-1]["status"] == "ok" and not args.no_reference:
            print(f"       reference written: {write_reference(rows[-1]).relative_to(ROOT)}")
    table = format_table(rows)
    (BUILD / "results.txt").write_text(table + "\n")
    print("\n" + table)
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
