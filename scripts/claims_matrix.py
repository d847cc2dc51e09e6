"""Run lessons in fast mode over seeds and thread counts and tabulate every claim they check.

    python scripts/claims_matrix.py                      # every lesson, SEED 0 1 2 x 1 and 2 threads
    python scripts/claims_matrix.py 06 08 --seeds 0 1 -j 2

Each run is papermill with `-p FAST True -p SEED s` and DLCOURSE_THREADS=t; `dlcourse.expect` appends
each claim it checks to a log ($DLCOURSE_CLAIMS_LOG). The table (build/claims_matrix.md) has one row
per claim and one column per (seed, threads): "ok", "FAIL" or "-" (not reached: the run stopped
earlier), then each run's status and seconds. Exit status 1 if any run failed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS, OUT = ROOT / "notebooks", ROOT / "build" / "claims"


def run(nb: Path, seed: int, threads: int) -> dict:
    """Execute one notebook in fast mode; returns status, seconds and the claims it checked."""
    OUT.mkdir(parents=True, exist_ok=True)
    tag = f"{nb.stem}.s{seed}.t{threads}"
    log = OUT / f"{tag}.claims.jsonl"
    log.unlink(missing_ok=True)
    env = {**os.environ, "DLCOURSE_FAST": "1", "DLCOURSE_THREADS": str(threads),
           "OMP_NUM_THREADS": str(threads), "DLCOURSE_PROGRESS": "lines", "MPLBACKEND": "Agg",
           "DLCOURSE_CLAIMS_LOG": str(log),
           "OMP_WAIT_POLICY": "PASSIVE"}  # spinning OpenMP threads crawl when jobs share cores
    cmd = [sys.executable, "-m", "papermill", str(nb), str(OUT / f"{tag}.ipynb"), "-p", "FAST", "True",
           "-p", "SEED", str(seed), "--cwd", str(NOTEBOOKS), "--no-progress-bar", "-k", "python3"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    claims = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    status = "ok" if proc.returncode == 0 else "FAILED: " + _last_error(proc.stderr)
    return dict(notebook=nb.stem, seed=seed, threads=threads, status=status, seconds=seconds,
                claims=claims)


def _last_error(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if "Error" in line]
    return (lines[-1] if lines else stderr.strip()[-200:])[:200]


def table(runs: list[dict], configs: list[tuple[int, int]]) -> str:
    """Markdown: a row per claim, a column per (seed, threads); then each run's status and seconds."""
    head = "| lesson | claim | " + " | ".join(f"s{s} t{t}" for s, t in configs) + " |"
    lines = [head, "|" + "---|" * (len(configs) + 2)]
    for nb in sorted({r["notebook"] for r in runs}):
        by_cfg = {(r["seed"], r["threads"]): r for r in runs if r["notebook"] == nb}
        claims = list(dict.fromkeys(c["claim"] for r in by_cfg.values() for c in r["claims"]))
        for claim in claims:
            cells = []
            for cfg in configs:
                found = [c for c in by_cfg[cfg]["claims"] if c["claim"] == claim] if cfg in by_cfg else []
                cells.append("-" if not found else "ok" if all(c["ok"] for c in found) else "FAIL")
            lines.append(f"| {nb[:2]} | {claim} | " + " | ".join(cells) + " |")
        cells = [f"{by_cfg[c]['seconds']:.0f} s" + ("" if by_cfg[c]["status"] == "ok" else " FAILED")
                 if c in by_cfg else "" for c in configs]
        lines.append(f"| {nb[:2]} | *run status, seconds* | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="prefixes of the notebooks to run (default: all)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("-j", "--jobs", type=int, default=1, help="notebooks run at the same time")
    args = parser.parse_args()
    notebooks = sorted(p for p in NOTEBOOKS.glob("[0-9]*.ipynb")
                       if not args.only or p.name.startswith(tuple(args.only)))
    configs = list(itertools.product(args.seeds, args.threads))
    jobs = [(nb, s, t) for nb in notebooks for s, t in configs]
    with ThreadPoolExecutor(args.jobs) as pool:
        runs = []
        for r in pool.map(lambda job: run(*job), jobs):
            runs.append(r)
            print(f"{r['status'][:60]:<8} {r['notebook']} seed {r['seed']} threads {r['threads']} "
                  f"({r['seconds']:.0f} s, {len(r['claims'])} claims)", flush=True)
    text = table(runs, configs)
    (OUT.parent / "claims_matrix.md").write_text(text + "\n")
    print("\n" + text)
    failed = [r for r in runs if r["status"] != "ok"]
    for r in failed:
        print(f"{r['notebook']} seed {r['seed']} threads {r['threads']}: {r['status']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
