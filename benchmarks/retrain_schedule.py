"""Does the final retrain gain from a cosine learning rate, and by how much?

The final retrain (`tunekit.retraining`) anneals the tuned learning rate along
a half cosine by default. This compares it with a constant rate on fixed
configurations of the dense MNIST hypermodel: each is built from the
hypermodel, trained from scratch on MNIST train+validation (60k) with each
schedule, same seed, and evaluated once on the test set.

Usage: `KERAS_BACKEND=jax python -m benchmarks.retrain_schedule [--seeds 2]`
Writes `benchmarks/results/retrain_schedule.json` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics

from benchmarks._common import configured, markdown_table, retrain_and_test, save
from hypermodels import MnistDenseHyperModel
from tunekit import load_mnist
from tunekit.retraining import SCHEDULES

BATCH_SIZE = 128
CONFIGS = {
    "defaults (256)": ({}, 20),
    "512, dropout 0.2": ({"units_0": 512}, 20),
    "512-512, dropout 0.3": (
        {"units_0": 512, "num_extra_layers": 1, "units_1": 512, "dropout": 0.3},
        20,
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    data = load_mnist()
    results = []
    for name, (values, epochs) in CONFIGS.items():
        for seed in range(args.seeds):
            for schedule in SCHEDULES:
                hypermodel = MnistDenseHyperModel()
                run = retrain_and_test(
                    hypermodel,
                    configured(hypermodel, values),
                    data,
                    epochs=epochs,
                    seed=seed,
                    schedule=schedule,
                    batch_size=BATCH_SIZE,
                )
                results.append(
                    {
                        "config": name,
                        "values": values,
                        "epochs": epochs,
                        "seed": seed,
                        "schedule": schedule,
                        "test_accuracy": run["test_accuracy"],
                        "seconds": run["seconds"],
                    }
                )
                print(results[-1], flush=True)
    rows = []
    for name, (_, epochs) in CONFIGS.items():
        acc = {
            s: [r["test_accuracy"] for r in results if r["config"] == name and r["schedule"] == s]
            for s in SCHEDULES
        }
        gain = [c - k for c, k in zip(acc["cosine"], acc["constant"])]
        rows.append(
            [
                name,
                epochs,
                f"{statistics.mean(acc['constant']):.4f}",
                f"{statistics.mean(acc['cosine']):.4f}",
                f"{statistics.mean(gain) * 100:+.2f} pt ({sum(g > 0 for g in gain)}/"
                f"{len(gain)} seeds better)",
            ]
        )
    table = markdown_table(
        [
            "configuration",
            "epochs",
            "constant, test (mean)",
            "cosine, test (mean)",
            "cosine - constant",
        ],
        rows,
    )
    print(table)
    save(
        "retrain_schedule",
        {
            "batch_size": BATCH_SIZE,
            "seeds": args.seeds,
            "data": "MNIST train+validation 60k -> test 10k",
            "results": results,
            "table": table,
        },
    )


if __name__ == "__main__":
    main()
