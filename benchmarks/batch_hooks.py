"""What per-batch callbacks cost: plain `model.fit` against tunekit's trial callbacks.

The default dense hypermodel's default model on 10,000 MNIST training images
(batch size 128, `--epochs` epochs, validation on 2,000), fitted with each
set of callbacks in turn, `--repeats` times interleaved, in one process per
backend (a backend is fixed per process): no callback, `TrialFacts`,
`InterruptCheck`, the timing clock (`FitClock`), KerasTuner's best-epoch
checkpoint (`BestEpochWeights`), `TensorBoard` as the search uses it
(`EpochTensorBoard` where tunekit has it), and all of them as a trial has
them. Each fit's model is built fresh and warmed with one fit of one batch
first, so the numbers are steady-state epochs, not compiles.

Usage: `TUNEKIT_BENCH_LABEL=before python -m benchmarks.batch_hooks [--epochs 2]
[--repeats 2]`. Writes `benchmarks/results/batch_hooks[_<label>].json`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import markdown_table, save

VARIANTS = ("plain", "facts", "interrupt", "clock", "checkpoint", "tensorboard", "all")
NUM_TRAIN, NUM_VAL, BATCH = 10_000, 2_000, 128


def _callbacks(variant: str, folder: Path) -> tuple[list[Any], Any]:
    """The fit's callbacks for `variant` and the clock (or `None`)."""
    import keras
    import keras_tuner as kt

    from tunekit import timing
    from tunekit.tuners import callbacks as trial_callbacks
    from tunekit.tuners.callbacks import BestEpochWeights, InterruptCheck, TrialFacts

    # The search's TensorBoard: tunekit's per-epoch one where it exists (after the cuts).
    board = getattr(trial_callbacks, "EpochTensorBoard", keras.callbacks.TensorBoard)

    made: dict[str, Any] = {
        "facts": TrialFacts(),
        "interrupt": InterruptCheck(),
        "checkpoint": BestEpochWeights(
            kt.Objective("val_accuracy", "max"), str(folder / "ckpt.weights.h5")
        ),
        "tensorboard": board(log_dir=str(folder / f"tb{time.monotonic_ns()}"), write_graph=False),
    }
    if variant == "plain":
        return [], None
    if variant == "clock":
        clock = timing.FitClock()
        return clock.instrument([]), clock
    if variant == "all":
        clock = timing.FitClock()
        order = ("checkpoint", "tensorboard", "facts", "interrupt")
        return clock.instrument([made[k] for k in order]), clock
    return [made[variant]], None


def child(epochs: int, repeats: int) -> dict[str, Any]:
    """In a process with `KERAS_BACKEND` set: seconds per fit for each variant."""
    import keras
    import keras_tuner as kt

    from tunekit import load_mnist
    from tunekit._kerastuner import get_hypermodel
    from tunekit.hypermodel_specs import resolve_hypermodel

    data = load_mnist().subset(num_train=NUM_TRAIN, num_val=NUM_VAL, num_test=100)
    seconds: dict[str, list[float]] = {v: [] for v in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            for variant in VARIANTS:
                keras.utils.clear_session()
                keras.utils.set_random_seed(0)
                model = get_hypermodel(resolve_hypermodel("mnist-dense")(data)).build(
                    kt.HyperParameters()
                )
                validation = (data.x_val, data.y_val)
                # Warm-up: traces/compiles the train and test steps (not timed).
                model.fit(
                    data.x_train[:BATCH],
                    data.y_train[:BATCH],
                    batch_size=BATCH,
                    validation_data=(data.x_val[:BATCH], data.y_val[:BATCH]),
                    verbose=0,
                )
                callbacks, _ = _callbacks(variant, Path(tmp))
                start = time.perf_counter()
                model.fit(
                    data.x_train,
                    data.y_train,
                    batch_size=BATCH,
                    epochs=epochs,
                    validation_data=validation,
                    validation_batch_size=1000,
                    callbacks=callbacks,
                    verbose=0,
                )
                seconds[variant].append(time.perf_counter() - start)
    return {"seconds": seconds, "keras_backend": keras.backend.backend()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--backends", nargs="+", default=["jax", "tensorflow"])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print("RESULT=" + json.dumps(child(args.epochs, args.repeats)), flush=True)
        return
    results: dict[str, Any] = {}
    for backend in args.backends:
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
        cmd = [sys.executable, "-m", "benchmarks.batch_hooks", "--child"]
        cmd += ["--epochs", str(args.epochs), "--repeats", str(args.repeats)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT=")]
        if proc.returncode != 0 or not line:
            raise RuntimeError(f"{backend} failed:\n{proc.stderr[-3000:]}")
        results[backend] = json.loads(line[0][len("RESULT=") :])
        print(backend, json.dumps(results[backend]["seconds"]), flush=True)
    header = ["callbacks", *(f"{b} s (x plain)" for b in results)]
    rows = []
    for variant in VARIANTS:
        cells = [variant]
        for b in results:
            med = statistics.median(results[b]["seconds"][variant])
            plain = statistics.median(results[b]["seconds"]["plain"])
            cells.append(f"{med:.2f} ({med / plain:.2f})")
        rows.append(cells)
    table = markdown_table(header, rows)
    print(table)
    label = os.environ.get("TUNEKIT_BENCH_LABEL", "")
    path = save(
        f"batch_hooks_{label}" if label else "batch_hooks",
        {
            "command": f"python -m benchmarks.batch_hooks --epochs {args.epochs} "
            f"--repeats {args.repeats}",
            "data": f"MNIST {NUM_TRAIN} train / {NUM_VAL} val, batch {BATCH}",
            "label": label,
            "results": results,
            "table": table,
        },
    )
    print(f"Wrote {path}")


if __name__ == "__main__":
    main()
