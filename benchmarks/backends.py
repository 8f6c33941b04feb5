"""Training throughput of each hypermodel's default model on each Keras backend.

Each measurement is `tunekit.backends.probe`: a fresh subprocess per backend,
30 warm-up steps, then 200 timed training steps on random data of MNIST's
shape. Backends are measured one after the other in one invocation, so the
ratios are side by side.

Usage: `python -m benchmarks.backends [--repeats 3]`
Writes `benchmarks/results/backends.json` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics

from benchmarks._common import markdown_table, save
from tunekit.backends import BACKENDS, probe

CASES = [("mnist-dense", 32), ("mnist-dense", 128), ("mnist-dense", 512), ("toonvision-cnn", 64),
         ("toonvision-cnn", 128)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results = []
    for hypermodel, batch_size in CASES:
        speeds = {b: [] for b in BACKENDS}
        for _ in range(args.repeats):
            for backend in BACKENDS:
                speeds[backend].append(probe(backend, hypermodel, (28, 28), 10, batch_size))
        results.append({"hypermodel": hypermodel, "batch_size": batch_size,
                        "samples_per_second": speeds})
    rows = []
    for r in results:
        med = {b: statistics.median(v) for b, v in r["samples_per_second"].items()}
        rows.append([r["hypermodel"], r["batch_size"], f"{med['tensorflow']:,.0f}",
                     f"{med['jax']:,.0f}", f"{med['jax'] / med['tensorflow']:.2f}"])
    table = markdown_table(["hypermodel (default model, 28x28 input)", "batch",
                            "TensorFlow samples/s", "JAX samples/s", "JAX / TF"], rows)
    save("backends", {"repeats": args.repeats, "results": results, "table": table})
    print(table)


if __name__ == "__main__":
    main()
