"""Does memory grow trial over trial? Resident memory after each of 30 trials.

KerasTuner users report RAM creeping up across trials. This runs tunekit's
coarse phase (RandomSearch with the dense MNIST hypermodel) for `--trials`
trials on MNIST and records the process's resident set size (VmRSS) after
every trial.

Usage: `KERAS_BACKEND=tensorflow python -m benchmarks.memory [--trials 30]`
Writes `benchmarks/results/memory_<backend>.json` and prints a summary.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import keras
import numpy as np

from benchmarks._common import load_data, save
from hypermodels import MnistDenseHyperModel
from tunekit import CoarseToFine


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--num-train", type=int, default=10_000)
    args = parser.parse_args()
    data = load_data().subset(num_train=args.num_train)
    work = Path(tempfile.mkdtemp(prefix="tunekit-memory-"))
    rss: list[float] = []
    run = CoarseToFine(
        MnistDenseHyperModel(),
        data,
        directory=work,
        project_name="memory",
        coarse_trials=args.trials,
        coarse_epochs=1,
        seed=0,
        verbose=0,
    )
    tuner = run._tuner("coarse")
    tuner.tunekit_listeners = (lambda tuner, trial: rss.append(_rss_mib()),)
    tuner.search(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=1,
        batch_size=128,
        callbacks=[keras.callbacks.TensorBoard(str(work / "tb"), write_graph=False)],
        verbose=0,
    )
    run.close()
    shutil.rmtree(work, ignore_errors=True)
    later = np.array(rss[5:])
    slope = float(np.polyfit(np.arange(len(later)), later, 1)[0]) if len(later) > 2 else 0.0
    summary = {
        "trials": args.trials,
        "data": data.summary(),
        "rss_mib": rss,
        "first": rss[0],
        "last": rss[-1],
        "max": max(rss),
        "slope_mib_per_trial_after_5": slope,
    }
    save(f"memory_{keras.backend.backend()}", summary)
    print(
        f"RSS after trial 1: {rss[0]:.0f} MiB, after trial {len(rss)}: {rss[-1]:.0f} MiB, "
        f"max {max(rss):.0f} MiB; slope after trial 5: {slope:+.2f} MiB/trial"
    )


if __name__ == "__main__":
    main()
