"""What XLA's CPU optimisation level costs and saves per trial on JAX.

Every trial builds a new model, and on JAX each new shape compiles: the
variables' initialisers at build, the train step at the first batch, the
test step at the first validation. XLA's `--xla_backend_optimization_level`
(in `XLA_FLAGS`, read once when JAX starts) trades compile time against the
speed of the compiled code. This script measures both sides for the built-in
hypermodels' models, each setting in a fresh process (no persistent
compilation cache), the settings alternated over `--repeats`:

- `build`: `hypermodel.build(hp)` (initialisers, compile of the optimizer);
- `first_step`: `fit` on one batch (the train step's compile and one step);
- `train`: `fit` over the training samples for `--epochs` epochs (compiled);
- `first_validation` / `validation`: `evaluate` on the validation split, the
  first call (with the test step's compile) and a second one;
- `val_accuracy`: after the training, to see that the numbers stay the same;
- `build_compiles` / `first_step_compiles` and their `_compile_s`: how many
  programs XLA compiled in the build and the first step, and their seconds
  (JAX's `backend_compile_duration` events).

Usage: `python -m benchmarks.xla_flags [--repeats 2] [--name xla_flags]
[--setting NAME=FLAGS ...] [--hypermodels dense cnn]`. `--setting` replaces the
two default settings (`default`, `level1`) with the ones given (`default=` for
no flags), e.g. `--setting default= --setting xnnpack=--xla_cpu_use_xnnpack=true`.
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

SETTINGS = {"default": "", "level1": "--xla_backend_optimization_level=1"}

# A one-layer dense net, the default command's usual winners' shape, a small tanh net; the
# CNN's article shape and a two-convolution, batch-normalised variant. None has the
# hypermodel's default shapes: the build that declares the space has compiled those.
MODELS: list[dict[str, Any]] = [
    {"hypermodel": "dense", "values": {"units_0": 160}},
    {
        "hypermodel": "dense",
        "values": {"units_0": 480, "num_extra_layers": 2, "units_1": 224, "units_2": 224},
    },
    {
        "hypermodel": "dense",
        "values": {"units_0": 96, "num_extra_layers": 1, "units_1": 64, "activation": "tanh"},
    },
    {"hypermodel": "cnn", "values": {"filters_1": 12, "filters_2": 20}},
    {
        "hypermodel": "cnn",
        "values": {"batch_norm": True, "convs_1": 2, "convs_2": 2, "filters_1": 24},
    },
]


def child(epochs: int, num_train: dict[str, int], kinds: list[str]) -> None:
    """Measures every model in this process (XLA_FLAGS already set) and prints JSON lines."""
    import keras
    from jax import monitoring

    from benchmarks._common import configured, load_data
    from hypermodels import MnistDenseHyperModel, ToonVisionCNNHyperModel

    compiles: list[float] = []  # XLA's own compile seconds, one entry per compiled program
    monitoring.register_event_duration_secs_listener(
        lambda event, seconds, **_: (
            compiles.append(seconds) if event.endswith("backend_compile_duration") else None
        )
    )
    data = load_data()
    for spec in (spec for spec in MODELS if spec["hypermodel"] in kinds):
        hypermodel = (
            MnistDenseHyperModel()
            if spec["hypermodel"] == "dense"
            else ToonVisionCNNHyperModel((28, 28), 10, augment=False, rescale=False)
        )
        hp = configured(hypermodel, spec["values"])
        n = num_train[spec["hypermodel"]] // 128 * 128
        x, y = data.x_train[:n], data.y_train[:n]
        keras.utils.set_random_seed(0)
        keras.backend.clear_session()
        row: dict[str, Any] = {"model": spec}
        compiles.clear()
        start = time.perf_counter()
        model = hypermodel.build(hp)
        row["build"] = time.perf_counter() - start
        row["build_compiles"], row["build_compile_s"] = len(compiles), sum(compiles)
        compiles.clear()
        start = time.perf_counter()
        model.fit(x[:128], y[:128], batch_size=128, epochs=1, verbose=0)
        row["first_step"] = time.perf_counter() - start
        row["first_step_compiles"], row["first_step_compile_s"] = len(compiles), sum(compiles)
        start = time.perf_counter()
        model.fit(x, y, batch_size=128, epochs=epochs, verbose=0)
        row["train"] = time.perf_counter() - start
        for key in ("first_validation", "validation"):
            start = time.perf_counter()
            _, accuracy = model.evaluate(data.x_val, data.y_val, batch_size=500, verbose=0)
            row[key] = time.perf_counter() - start
        row["val_accuracy"] = float(accuracy)
        row["samples"] = n * epochs
        row["num_params"] = model.count_params()
        print("ROW " + json.dumps(row), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--dense-train", type=int, default=50_000)
    parser.add_argument("--cnn-train", type=int, default=12_800)
    parser.add_argument("--name", default="xla_flags")
    parser.add_argument("--setting", action="append", metavar="NAME=FLAGS", default=None)
    parser.add_argument("--hypermodels", nargs="+", choices=["dense", "cnn"], default=None)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = {"dense": args.dense_train, "cnn": args.cnn_train}
    kinds = args.hypermodels or ["dense", "cnn"]
    if args.child:
        child(args.epochs, sizes, kinds)
        return
    settings = dict(s.split("=", 1) for s in args.setting) if args.setting else SETTINGS
    runs: list[dict[str, Any]] = []
    for repeat in range(args.repeats):
        order = list(settings) if repeat % 2 == 0 else list(settings)[::-1]
        for setting in order:
            env = {**os.environ, "KERAS_BACKEND": "jax", "XLA_FLAGS": settings[setting]}
            env.pop("JAX_COMPILATION_CACHE_DIR", None)
            command = [sys.executable, "-m", "benchmarks.xla_flags", "--child"]
            command += ["--epochs", str(args.epochs)]
            command += ["--dense-train", str(args.dense_train), "--cnn-train", str(args.cnn_train)]
            command += ["--hypermodels", *kinds]
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            if done.returncode:
                sys.exit(f"{setting}: exit {done.returncode}\n{done.stderr[-3000:]}")
            for line in done.stdout.splitlines():
                if line.startswith("ROW "):
                    runs.append({"setting": setting, "repeat": repeat, **json.loads(line[4:])})
                    print(runs[-1], flush=True)
    parts = ("build", "first_step", "train", "first_validation", "validation")
    rows = []
    for index, spec in enumerate(MODELS):
        if spec["hypermodel"] not in kinds:
            continue
        for setting in settings:
            mine = [r for r in runs if r["setting"] == setting and r["model"] == spec]
            med = {p: statistics.median(r[p] for r in mine) for p in parts}
            rows.append(
                [
                    index,
                    spec["hypermodel"],
                    mine[0]["num_params"],
                    setting,
                    *(f"{med[p]:.2f}" for p in parts),
                    " / ".join(f"{r['val_accuracy']:.4f}" for r in mine),
                ]
            )
    table = markdown_table(["#", "hypermodel", "params", "setting", *parts, "val accuracy"], rows)
    print(table)
    path = save(
        args.name,
        {
            "command": "python -m benchmarks.xla_flags " + " ".join(sys.argv[1:]),
            "settings": settings,
            "models": MODELS,
            "epochs": args.epochs,
            "train_samples": sizes,
            "runs": runs,
            "table_seconds_median": table,
        },
    )
    print(f"Wrote {path}")


if __name__ == "__main__":
    main()
