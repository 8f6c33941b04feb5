"""How fast can one training epoch be on this machine: the floor under the default run.

Issue 18's item 4 asks for the default command in half the old version's wall
time. The default run is almost all training epochs, so this script measures
how close an epoch already is to what the machine can do, and whether a
cheaper arithmetic would make it faster:

- `matmul_gflops`: a 2048x2048 matrix product in float32 and in bfloat16 on
  the backend (jitted / `tf.function`), the machine's practical peak (on CPUs
  with AMX, bfloat16 products can be several times faster);
- for the default run's winner (`MnistDenseHyperModel`, 480-352-224 relu,
  dropout 0.15, 627,434 parameters), under a Keras dtype policy
  (`float32` or `mixed_bfloat16`) and a batch size: one warm-up epoch (the
  compile), then `--epochs` timed epochs of 49,920 MNIST images (`epoch_s`,
  `samples_per_s`), the arithmetic rate they reach (`model_gflops`: 6 floating
  point operations per weight per sample, forward and backward, the usual
  estimate, Kaplan et al. 2020, "Scaling laws for neural language models",
  section 2.1) and the validation accuracy after those epochs.

Each setting runs in a fresh process; the settings are alternated over
`--repeats`. Usage: `python -m benchmarks.epoch_speed [--repeats 2]
[--epochs 3] [--setting BACKEND:POLICY:BATCH ...] [--name epoch_speed]`.
Writes `benchmarks/results/<name>.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from benchmarks._common import markdown_table, save

SETTINGS = [
    "jax:float32:128",
    "jax:mixed_bfloat16:128",
    "tensorflow:float32:128",
    "tensorflow:mixed_bfloat16:128",
    "jax:float32:512",
    "tensorflow:mixed_bfloat16:512",
]
WINNER = {"units_0": 480, "num_extra_layers": 2, "units_1": 352, "units_2": 224, "dropout": 0.15}


def matmul_gflops(backend: str, n: int = 2048, repeats: int = 10) -> dict[str, float]:
    """GFLOP/s of an n x n matrix product, float32 and bfloat16, on `backend`."""
    rates = {}
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        for name, dtype in (("float32", jnp.float32), ("bfloat16", jnp.bfloat16)):
            a = jnp.ones((n, n), dtype)
            product = jax.jit(lambda x, y: x @ y)
            product(a, a).block_until_ready()
            start = time.perf_counter()
            for _ in range(repeats):
                product(a, a).block_until_ready()
            rates[name] = 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9
    else:
        import tensorflow as tf

        for name, dtype in (("float32", tf.float32), ("bfloat16", tf.bfloat16)):
            a = tf.ones((n, n), dtype)
            product = tf.function(lambda x, y: tf.matmul(x, y))
            product(a, a).numpy()
            start = time.perf_counter()
            for _ in range(repeats):
                product(a, a).numpy()
            rates[name] = 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9
    return {name: round(rate, 1) for name, rate in rates.items()}


def child(policy: str, batch_size: int, epochs: int) -> None:
    """Measures one setting in this process (KERAS_BACKEND already set); prints a JSON line."""
    import keras

    from benchmarks._common import configured, load_data
    from hypermodels import MnistDenseHyperModel

    row: dict[str, Any] = {"matmul_gflops": matmul_gflops(keras.backend.backend())}
    keras.mixed_precision.set_global_policy(policy)
    data = load_data()
    n = len(data.x_train) // 128 * 128
    x, y = data.x_train[:n], data.y_train[:n]
    hypermodel = MnistDenseHyperModel()
    hp = configured(hypermodel, WINNER)
    keras.utils.set_random_seed(0)
    model = hypermodel.build(hp)
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
    row["first_epoch_s"] = time.perf_counter() - start
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
        seconds.append(time.perf_counter() - start)
    row["epoch_s"] = seconds
    row["samples_per_s"] = n / statistics.median(seconds)
    row["num_params"] = int(model.count_params())
    row["model_gflops"] = 6 * row["num_params"] * row["samples_per_s"] / 1e9
    row["val_accuracy"] = float(model.evaluate(data.x_val, data.y_val, verbose=0)[1])
    print("ROW " + json.dumps(row), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--setting", action="append", metavar="BACKEND:POLICY:BATCH")
    parser.add_argument("--name", default="epoch_speed")
    parser.add_argument("--child", nargs=2, metavar=("POLICY", "BATCH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.epochs)
        return
    settings = args.setting or SETTINGS
    runs: list[dict[str, Any]] = []
    for repeat in range(args.repeats):
        for setting in settings if repeat % 2 == 0 else settings[::-1]:
            backend, policy, batch = setting.split(":")
            env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
            command = [sys.executable, "-m", "benchmarks.epoch_speed", "--epochs", str(args.epochs)]
            done = subprocess.run(
                [*command, "--child", policy, batch],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode:
                sys.exit(f"{setting}: exit {done.returncode}\n{done.stderr[-3000:]}")
            line = next(x for x in done.stdout.splitlines() if x.startswith("ROW "))
            runs.append({"setting": setting, "repeat": repeat, **json.loads(line[4:])})
            print(runs[-1], flush=True)
    rows = []
    for setting in settings:
        mine = [r for r in runs if r["setting"] == setting]
        epoch = statistics.median(s for r in mine for s in r["epoch_s"])
        rows.append(
            [
                *setting.split(":"),
                f"{epoch:.2f}",
                f"{statistics.median(r['samples_per_s'] for r in mine):,.0f}",
                f"{statistics.median(r['model_gflops'] for r in mine):.0f}",
                " / ".join(f"{r['matmul_gflops']['float32']:.0f}" for r in mine),
                " / ".join(f"{r['matmul_gflops']['bfloat16']:.0f}" for r in mine),
                " / ".join(f"{r['val_accuracy']:.4f}" for r in mine),
            ]
        )
    header = ["backend", "policy", "batch", "epoch s (median)", "samples/s", "model GFLOP/s"]
    header += ["matmul f32 GFLOP/s", "matmul bf16 GFLOP/s", "val accuracy"]
    table = markdown_table(header, rows)
    print(table)
    path = save(
        args.name,
        {
            "command": "python -m benchmarks.epoch_speed " + " ".join(sys.argv[1:]),
            "model": WINNER,
            "epochs": args.epochs,
            "runs": runs,
            "table": table,
        },
    )
    print(f"Wrote {path}")


if __name__ == "__main__":
    main()
