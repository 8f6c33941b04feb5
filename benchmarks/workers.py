"""Parallel trials on one machine: `--workers 2` against `--workers 1`, side by side.

Runs the default `python -m tunekit.coarse_to_fine` (or the given options) with
`--workers 1` and then `--workers 2`, for each `--backend`, one after the other
in one invocation, and records completed trials, wall time, trials per hour of
search (coarse + fine phases) and test accuracy.

Usage:
    python -m benchmarks.workers                                   # TensorFlow and JAX
    python -m benchmarks.workers --backend tensorflow -- --coarse-trials 12

Writes `benchmarks/results/workers.json` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchmarks._common import markdown_table, save
from benchmarks.headline import run_cli


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", nargs="+", default=["tensorflow", "jax"])
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--name", default="workers")
    parser.add_argument("options", nargs="*", help="extra CLI options (after --)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tunekit-workers-"))
    results: dict[str, dict] = {}
    for backend in args.backend:
        for workers in args.workers:
            key = f"{backend}-w{workers}"
            run = run_cli([*args.options, "--workers", str(workers)], backend, work, name=key)
            trials = sum(run["trials"].values())
            search = run["timings"]["coarse"] + run["timings"]["fine"]
            run.update(
                workers=workers,
                total_trials=trials,
                search_seconds=search,
                trials_per_hour=trials / search * 3600,
                trials_per_hour_wall=trials / run["wall_seconds"] * 3600,
            )
            results[key] = run
            print(
                f"{key}: {trials} trials, search {search:.0f} s, wall "
                f"{run['wall_seconds']:.0f} s, test {run['test_accuracy']:.4f}",
                flush=True,
            )
    rows = []
    for r in results.values():
        base = results.get(f"{r['backend']}-w{args.workers[0]}", r)
        rows.append(
            [
                r["backend"],
                r["workers"],
                r["total_trials"],
                f"{r['search_seconds']:.0f}",
                f"{r['wall_seconds']:.0f}",
                f"{r['trials_per_hour']:.0f}",
                f"{r['trials_per_hour'] / base['trials_per_hour']:.2f}x",
                f"{r['test_accuracy']:.4f}",
            ]
        )
    table = markdown_table(
        [
            "backend",
            "--workers",
            "trials",
            "search s",
            "wall s",
            "trials/hour (search)",
            "vs 1 worker",
            "test accuracy",
        ],
        rows,
    )
    save(args.name, {"options": args.options, "results": results, "table": table})
    print(table)


if __name__ == "__main__":
    main()
