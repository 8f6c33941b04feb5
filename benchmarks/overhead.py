"""What does tunekit cost? Its coarse phase against plain KerasTuner, side by side.

1. tunekit's coarse phase (`CoarseToFine.coarse()`: RandomSearch with trial
   seeding, NaN watch, parameter counting, TensorBoard scalars and HParams)
   against the identical plain `keras_tuner.RandomSearch` (same hypermodel,
   seed, trials, epochs, batch size), with and without a TensorBoard
   callback, interleaved in one process, `--repeats` times.
2. Per-epoch time inside a tunekit trial against a bare `model.fit` of the
   same model (the hypermodel's defaults) on the same data: the median of
   epochs 2-3 of each (the first epoch includes tracing in both).

Usage: `KERAS_BACKEND=tensorflow python -m benchmarks.overhead [--trials 6] [--epochs 1]`
Writes `benchmarks/results/overhead_<backend>.json` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import keras
import keras_tuner as kt

from benchmarks._common import load_data, markdown_table, save
from hypermodels import MnistDenseHyperModel
from tunekit import CoarseToFine
from tunekit.tuners import kerastuner_seed, make_tuner


def _plain(
    data, directory: Path, trials: int, epochs: int, batch_size: int, seed: int, tensorboard: bool
) -> float:
    start = time.perf_counter()
    tuner = kt.RandomSearch(
        MnistDenseHyperModel(),
        objective="val_accuracy",
        max_trials=trials,
        seed=kerastuner_seed(seed),
        directory=str(directory),
        project_name="plain",
        overwrite=True,
    )
    callbacks = (
        [keras.callbacks.TensorBoard(str(directory / "tb"), write_graph=False)]
        if tensorboard
        else []
    )
    tuner.search(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=epochs,
        batch_size=batch_size,
        callbacks=callbacks,
        verbose=0,
    )
    return time.perf_counter() - start


def _tunekit(data, directory: Path, trials: int, epochs: int, batch_size: int, seed: int):
    start = time.perf_counter()
    run = CoarseToFine(
        MnistDenseHyperModel(),
        data,
        directory=directory,
        project_name="tk",
        coarse_trials=trials,
        coarse_epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        overwrite=True,
        verbose=0,
    )
    tuner = run.coarse()
    seconds = time.perf_counter() - start
    run.close()
    per_epoch = [
        t.metrics.get_last_value("seconds") / t.metrics.get_last_value("epochs")
        for t in tuner.oracle.trials.values()
    ]
    return seconds, per_epoch


class _EpochTimer(keras.callbacks.Callback):
    """Records epoch durations in a class-level list (KerasTuner deep-copies callbacks)."""

    durations: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        _EpochTimer.durations.append(time.perf_counter() - self._start)


def _bare_epoch(data, epochs: int, batch_size: int) -> float:
    """Median epoch of a bare fit, first epoch (tracing) excluded."""
    model = MnistDenseHyperModel().build(kt.HyperParameters())
    _EpochTimer.durations = []
    model.fit(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=epochs,
        batch_size=batch_size,
        verbose=0,
        callbacks=[_EpochTimer()],
    )
    return statistics.median(_EpochTimer.durations[1:])


def _default_trial_epoch(data, directory: Path, epochs: int, batch_size: int) -> float:
    """Median epoch inside a tunekit trial of the default configuration, first excluded."""
    hp = kt.HyperParameters()
    MnistDenseHyperModel().build(hp)
    space = kt.HyperParameters()
    for name, value in hp.values.items():
        space.Fixed(name, value)
    tuner = make_tuner(
        "random",
        MnistDenseHyperModel(),
        objective="val_accuracy",
        directory=str(directory),
        project_name="default",
        max_trials=1,
        seed=0,
        hyperparameters=space,
        tune_new_entries=False,
        overwrite=True,
    )
    _EpochTimer.durations = []
    tuner.search(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=epochs,
        batch_size=batch_size,
        verbose=0,
        callbacks=[
            keras.callbacks.TensorBoard(str(directory / "tbd"), write_graph=False),
            _EpochTimer(),
        ],
    )
    return statistics.median(_EpochTimer.durations[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=6)
    args = parser.parse_args()
    data = load_data()
    work = Path(tempfile.mkdtemp(prefix="tunekit-overhead-"))
    times = {"tunekit": [], "plain": [], "plain+tensorboard": []}
    per_epoch_trials: list[float] = []
    _bare_epoch(data, 2, args.batch_size)  # warm-up: first-use compilation, caches
    arms = list(times)
    for repeat in range(args.repeats):
        # Rotate the order so that no arm always runs first (or last) in a repeat.
        for arm in arms[repeat % len(arms) :] + arms[: repeat % len(arms)]:
            if arm == "tunekit":
                seconds, per_epoch = _tunekit(
                    data, work / "tk", args.trials, args.epochs, args.batch_size, 0
                )
                per_epoch_trials += per_epoch
            else:
                seconds = _plain(
                    data,
                    work / arm,
                    args.trials,
                    args.epochs,
                    args.batch_size,
                    0,
                    tensorboard=arm == "plain+tensorboard",
                )
            times[arm].append(seconds)
    bare, in_trial = [], []
    for _ in range(args.repeats):
        bare.append(_bare_epoch(data, 3, args.batch_size))
        in_trial.append(_default_trial_epoch(data, work / "d", 3, args.batch_size))
    shutil.rmtree(work, ignore_errors=True)
    median = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "budget": {
            "trials": args.trials,
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "repeats": args.repeats,
            "data": data.summary(),
        },
        "seconds": times,
        "ratio_tunekit_vs_plain": median["tunekit"] / median["plain"],
        "ratio_tunekit_vs_plain_tensorboard": median["tunekit"] / median["plain+tensorboard"],
        "epoch_seconds_bare_fit": bare,
        "epoch_seconds_in_tunekit_trial": in_trial,
        "ratio_trial_epoch_vs_bare": statistics.median(in_trial) / statistics.median(bare),
    }
    path = save(f"overhead_{keras.backend.backend()}", result)
    print(
        markdown_table(
            ["measure", "median seconds", "ratio"],
            [
                ["plain KerasTuner RandomSearch", f"{median['plain']:.1f}", "1.00"],
                [
                    "plain KerasTuner + TensorBoard callback",
                    f"{median['plain+tensorboard']:.1f}",
                    f"{median['plain+tensorboard'] / median['plain']:.3f}",
                ],
                [
                    "tunekit coarse phase",
                    f"{median['tunekit']:.1f}",
                    f"{result['ratio_tunekit_vs_plain']:.3f}",
                ],
                ["bare model.fit, per epoch", f"{statistics.median(bare):.2f}", "1.00"],
                [
                    "tunekit trial, per epoch",
                    f"{statistics.median(in_trial):.2f}",
                    f"{result['ratio_trial_epoch_vs_bare']:.3f}",
                ],
            ],
        )
    )
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
