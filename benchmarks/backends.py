"""Training throughput of each hypermodel's default model on each Keras backend.

Each measurement is `tunekit.backends.probe`: a fresh subprocess per backend,
30 warm-up steps, then 200 timed training steps on random data of MNIST's
shape. Backends are measured one after the other in one invocation, so the
ratios are side by side.

Then, for the parallel table, the same probe in 1 process against 2 processes
training at once, each pinned to one core with single-threaded pools (as
`--workers 2` runs them), with `steps_per_execution` 1 and 16. Each process
times at least 3 s of training, and parallel processes start timing together.

Usage: `python -m benchmarks.backends [--repeats 3] [--no-parallel]`
Writes `benchmarks/results/backends.json` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics

from benchmarks._common import markdown_table, save
from tunekit.backends import BACKENDS, probe

CASES = [
    ("mnist-dense", 32),
    ("mnist-dense", 128),
    ("mnist-dense", 512),
    ("toonvision-cnn", 64),
    ("toonvision-cnn", 128),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--no-parallel",
        dest="parallel",
        action="store_false",
        help="skip the 1-vs-2-workers and steps_per_execution table",
    )
    args = parser.parse_args()
    results = []
    for hypermodel, batch_size in CASES:
        speeds = {b: [] for b in BACKENDS}
        for _ in range(args.repeats):
            for backend in BACKENDS:
                speeds[backend].append(probe(backend, hypermodel, (28, 28), 10, batch_size))
        results.append(
            {"hypermodel": hypermodel, "batch_size": batch_size, "samples_per_second": speeds}
        )
    rows = []
    for r in results:
        med = {b: statistics.median(v) for b, v in r["samples_per_second"].items()}
        rows.append(
            [
                r["hypermodel"],
                r["batch_size"],
                f"{med['tensorflow']:,.0f}",
                f"{med['jax']:,.0f}",
                f"{med['jax'] / med['tensorflow']:.2f}",
            ]
        )
    table = markdown_table(
        [
            "hypermodel (default model, 28x28 input)",
            "batch",
            "TensorFlow samples/s",
            "JAX samples/s",
            "JAX / TF",
        ],
        rows,
    )
    parallel = _parallel(args.repeats) if args.parallel else None
    save(
        "backends",
        {"repeats": args.repeats, "results": results, "table": table, **(parallel or {})},
    )
    print(table)
    if parallel:
        print(parallel["parallel_table"])


PARALLEL_CASES = [
    ("mnist-dense", 128, 1),
    ("toonvision-cnn", 64, 1),
    ("toonvision-cnn", 64, 16),
    ("mnist-dense", 128, 16),
]


def _parallel(repeats: int) -> dict:
    """Total samples/s of 1 process vs 2 pinned single-core processes, and steps_per_execution."""
    results = []
    for hypermodel, batch_size, spe in PARALLEL_CASES:
        speeds = {f"{b}-x{n}": [] for b in BACKENDS for n in (1, 2)}
        for _ in range(repeats):
            for backend in BACKENDS:
                for n in (1, 2):
                    speeds[f"{backend}-x{n}"].append(
                        probe(
                            backend,
                            hypermodel,
                            (28, 28),
                            10,
                            batch_size,
                            steps_per_execution=spe,
                            processes=n,
                            min_seconds=3.0,
                        )
                    )
        results.append(
            {
                "hypermodel": hypermodel,
                "batch_size": batch_size,
                "steps_per_execution": spe,
                "samples_per_second": speeds,
            }
        )
    rows = []
    for r in results:
        med = {k: statistics.median(v) for k, v in r["samples_per_second"].items()}
        row = [r["hypermodel"], r["batch_size"], r["steps_per_execution"]]
        for backend in BACKENDS:
            one, two = med[f"{backend}-x1"], med[f"{backend}-x2"]
            row += [f"{one:,.0f}", f"{two:,.0f}", f"{two / one:.2f}" if one else "-"]
        rows.append(row)
    headers = ["hypermodel", "batch", "steps_per_execution"]
    for backend in BACKENDS:
        headers += [f"{backend} 1 process", f"{backend} 2 workers", "2 / 1"]
    return {"parallel": results, "parallel_table": markdown_table(headers, rows)}


if __name__ == "__main__":
    main()
