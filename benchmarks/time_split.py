"""Where a run's time goes, before and after the cuts, side by side in one run.

Runs the command line (`python -m tunekit.coarse_to_fine`, full MNIST, one
backend) with two versions of tunekit, one after the other (`--repeats` times,
alternating), each in its own process so the process start and the probe
count: "before" is the commit `--before` (the time split without the cuts,
exported with `git archive` into a temporary folder), "after" is this working
tree. Each run's `report.json["time_split"]` gives the split per step; the
payload keeps them all and prints a Markdown table of the medians.

Usage: `python -m benchmarks.time_split --backend jax [--before REV] [--repeats 1]
[--name NAME] [-- extra CLI flags]`; the default budget is `--quick` on full MNIST.
Writes `benchmarks/results/time_split_<backend>[_<NAME>].json`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import markdown_table, save
from tunekit.timing import PARTS

ROOT = Path(__file__).resolve().parents[1]
#: The commit that added the time split, before the cuts it pointed at.
BEFORE = "da5c7a3"
BUDGET = ["--quick", "--seed", "0"]


def _export(rev: str, folder: Path) -> Path:
    """The tree of commit `rev` in `folder` (read-only use of the repository)."""
    archive = folder / "before.tar"
    with open(archive, "wb") as f:
        subprocess.run(["git", "archive", rev], cwd=ROOT, stdout=f, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(folder / "before", filter="data")
    return folder / "before"


def _run(code: Path, backend: str, directory: Path, flags: list[str]) -> dict[str, Any]:
    args = [sys.executable, "-m", "tunekit.coarse_to_fine", "--backend", backend]
    args += ["--directory", str(directory), "--project-name", "run", "--quiet", *flags]
    env = {**os.environ, "PYTHONPATH": str(code), "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=code, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    report = json.loads((directory / "run" / "report.json").read_text())
    return {
        "wall_seconds": round(wall, 2),
        "test_accuracy": report["test_metrics"].get("accuracy"),
        "time_split": report["time_split"],
    }


def _totals(split: dict[str, Any]) -> dict[str, float]:
    """Each part summed over the steps."""
    return {p: sum(s[p] for s in split["steps"].values()) for p in PARTS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("jax", "tensorflow"), required=True)
    parser.add_argument("--before", default=BEFORE, help="commit of the 'before' version")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--name", default="", help="suffix of the results file's name")
    parser.add_argument("flags", nargs="*", help="CLI flags (default: --quick --seed 0)")
    args = parser.parse_args()
    flags = args.flags or BUDGET
    runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        code = {"before": _export(args.before, folder), "after": ROOT}
        for i in range(args.repeats):
            for variant in ("before", "after"):
                result = _run(code[variant], args.backend, folder / f"{variant}{i}", flags)
                runs[variant].append(result)
                split = result["time_split"]
                print(
                    f"{variant} {i}: wall {result['wall_seconds']} s, outside training "
                    f"{split['outside_training']:.1%}",
                    flush=True,
                )
    header = ["part", "before s", "after s"]
    median = {
        v: {p: statistics.median(_totals(r["time_split"])[p] for r in rs) for p in PARTS}
        for v, rs in runs.items()
    }
    rows = [[p, f"{median['before'][p]:.1f}", f"{median['after'][p]:.1f}"] for p in PARTS]
    walls = {v: statistics.median(r["time_split"]["wall"] for r in rs) for v, rs in runs.items()}
    outside = {
        v: statistics.median(r["time_split"]["outside_training"] for r in rs)
        for v, rs in runs.items()
    }
    rows.append(["wall (report)", f"{walls['before']:.1f}", f"{walls['after']:.1f}"])
    rows.append(["outside training", f"{outside['before']:.1%}", f"{outside['after']:.1%}"])
    table = markdown_table(header, rows)
    print(table)
    suffix = f"_{args.name}" if args.name else ""
    path = save(
        f"time_split_{args.backend}{suffix}",
        {
            "command": "python -m benchmarks.time_split --backend "
            f"{args.backend} --before {args.before} --repeats {args.repeats}"
            + (f" --name {args.name}" if args.name else "")
            + " -- "
            + " ".join(flags),
            "budget": {
                "flags": flags,
                "data": "MNIST (full): 50000 train / 10000 val / 10000 test",
            },
            "before": args.before,
            "runs": runs,
            "median_parts": median,
            "median_wall": walls,
            "median_outside_training": outside,
            "table": table,
        },
    )
    print(f"Wrote {path}")


if __name__ == "__main__":
    main()
