"""Peak resident memory of a small search on an image folder: streamed from disk vs in memory.

Generates folders of 600x200 (height x width) RGB PNGs in 4 classes (200 and
2,000 images by default), then, each in a fresh subprocess, runs a small
KerasTuner search (tunekit's `make_tuner`, random, `--trials` trials x
`--epochs` epochs, batch `--batch-size`) of the ToonVision hypermodel
(`hypermodels/cnn.py`) at its native 600x200x3, followed by a retrain of the
best hyperparameters on train+validation and one test evaluation, and
records the process's peak resident set size (`resource.getrusage`,
`ru_maxrss`):

- `stream`: `tunekit.image_streams.image_folder_stream` (decoded, resized and
  batched on the fly; `cache="auto"` keeps decoded images in memory only
  within its 256 MiB budget); the retrain runs on the `concatenate` of the
  train and validation streams.
- `in_memory`: today's `tunekit.load_image_directory` (one float32 array),
  for comparison, on the smallest folder only.

- `cli` (`--cli`): the same folders through the command line,
  `python -m tunekit.coarse_to_fine --hypermodel toonvision-cnn --data FOLDER`
  (the folder streamed at its native size), with the smallest budget it
  accepts: 3 coarse trials, 1 Bayesian fine trial, 1 epoch each, a 1-epoch
  retrain and the test evaluation; peak RSS of that process. Written to
  `benchmarks/results/memory_images_cli.json`.

Targets (issue 16): the 2,000-image stream peaks at <= 3 GB and within 15% of
the 200-image stream.

Usage: `KERAS_BACKEND=tensorflow python -m benchmarks.memory_images
[--sizes 200 2000] [--steps-per-epoch N]`. Writes
`benchmarks/results/memory_images.json`. Run it alone on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import save

HEIGHT, WIDTH = 600, 200
CLASSES = ("cog", "toon", "unknown", "zz")


def make_folder(root: Path, num_images: int, seed: int = 0) -> Path:
    """Writes `num_images` 600x200 RGB PNGs, spread over 4 class subfolders."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 120, HEIGHT, dtype=np.float32)[:, None, None]
    for i in range(num_images):
        label = i % len(CLASSES)
        folder = root / CLASSES[label]
        folder.mkdir(parents=True, exist_ok=True)
        base = np.array([60 * label, 200 - 40 * label, 90], np.float32)
        noise = rng.integers(-20, 21, (HEIGHT // 8, WIDTH // 8, 3)).repeat(8, 0).repeat(8, 1)
        pixels = np.clip(base + ramp + noise, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:05d}.png", compress_level=1)
    return root


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_one(mode: str, folder: str, args: argparse.Namespace) -> dict[str, Any]:
    """One search + retrain + test evaluation, in this (fresh) process."""
    import keras
    import keras_tuner as kt

    import tunekit
    from hypermodels import ToonVisionCNNHyperModel
    from tunekit.image_streams import image_folder_stream

    start = time.perf_counter()
    base = _peak_rss_mib()
    fit: dict[str, Any] = {"batch_size": args.batch_size}
    if args.steps_per_epoch:
        fit["steps_per_epoch"] = args.steps_per_epoch
    if mode == "stream":
        stream = image_folder_stream(folder, (HEIGHT, WIDTH), batch_size=args.batch_size, seed=0)
        train, val = stream.dataset("train"), stream.dataset("val")
        retrain, test = stream.dataset("train", "val"), stream.dataset("test")
        shape, classes, extra = stream.input_shape, stream.num_classes, {"cached": stream.cached}
        counts = {s: len(stream.files[s]) for s in stream.files}
        fit.pop("batch_size")  # the stream is batched
    else:
        data = tunekit.load_image_directory(folder, (HEIGHT, WIDTH), seed=0)
        train, val = (data.x_train, data.y_train), (data.x_val, data.y_val)
        shape, classes, extra = data.input_shape, data.num_classes, {}
        counts = {"train": len(data.y_train), "val": len(data.y_val), "test": len(data.y_test)}
    hypermodel = ToonVisionCNNHyperModel(shape, classes, rescale=False)
    tuner = tunekit.make_tuner(
        "random",
        hypermodel,
        objective="val_loss",
        directory=tempfile.mkdtemp(prefix="tunekit-memimg-"),
        project_name="memory_images",
        max_trials=args.trials,
        seed=0,
    )
    if mode == "stream":
        tuner.search(train, validation_data=val, epochs=args.epochs, verbose=0, **fit)
    else:
        tuner.search(*train, validation_data=val, epochs=args.epochs, verbose=0, **fit)
    after_search = _peak_rss_mib()
    best: kt.HyperParameters = tuner.get_best_hyperparameters(1)[0]
    model = hypermodel.build(best)
    if mode == "stream":
        model.fit(retrain, epochs=args.epochs, verbose=0, **fit)
        scores = model.evaluate(test, verbose=0, return_dict=True)
    else:
        import numpy as np

        # What the workflow does today: train and validation concatenated again.
        x = np.concatenate([data.x_train, data.x_val])
        y = np.concatenate([data.y_train, data.y_val])
        model.fit(x, y, epochs=args.epochs, verbose=0, **fit)
        scores = model.evaluate(
            data.x_test, data.y_test, verbose=0, return_dict=True, batch_size=args.batch_size
        )
    trials = [t.status for t in tuner.oracle.trials.values()]
    return {
        "mode": mode,
        "backend": keras.backend.backend(),
        "images": counts,
        **extra,
        "trials": trials,
        "test_loss": round(float(scores["loss"]), 4),
        "peak_rss_mib": round(_peak_rss_mib(), 1),
        "peak_rss_mib_after_search": round(after_search, 1),
        "rss_mib_after_imports": round(base, 1),
        "seconds": round(time.perf_counter() - start, 1),
    }


def measure(mode: str, folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Runs `run_one` in a fresh subprocess and returns its result."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.memory_images",
        "--child",
        mode,
        str(folder),
        "--trials",
        str(args.trials),
        "--epochs",
        str(args.epochs),
        "--batch-size",
        str(args.batch_size),
        "--steps-per-epoch",
        str(args.steps_per_epoch or 0),
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{mode} on {folder} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_cli(folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Runs the command line on `folder` (smallest budget) in a fresh process; its peak RSS."""
    command = [
        *(sys.executable, "-m", "tunekit.coarse_to_fine", "--hypermodel", "toonvision-cnn"),
        *("--data", str(folder), "--backend", "tensorflow", "--batch-size", str(args.batch_size)),
        *("--coarse-trials", "3", "--coarse-epochs", "1", "--fine-tuner", "bayesian"),
        *("--fine-trials", "1", "--max-epochs", "1", "--final-epochs", "1", "--quiet"),
        *("--directory", str(folder.parent / "runs"), "--overwrite"),
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)  # this child's own peak, not the max so far
        if os.waitstatus_to_exitcode(status) != 0:
            stderr.seek(0)
            raise RuntimeError(f"the CLI on {folder} failed:\n{stderr.read().decode()[-3000:]}")
    peak = usage.ru_maxrss
    return {
        "mode": "cli",
        "backend": "tensorflow",
        "peak_rss_mib": round(peak / 1024, 1),
        "seconds": round(time.perf_counter() - start, 1),
    }


def main_cli(args: argparse.Namespace) -> None:
    """`--cli`: each size through the command line, one fresh process each."""
    work = Path(tempfile.mkdtemp(prefix="tunekit-memory-images-cli-"))
    runs = []
    try:
        for size in sorted(args.sizes):
            folder = make_folder(work / f"images_{size}", size)
            runs.append({"num_images": size, **measure_cli(folder, args)})
            print(json.dumps(runs[-1]), flush=True)
            shutil.rmtree(work / f"images_{size}", ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    peaks = {r["num_images"]: r["peak_rss_mib"] for r in runs}
    small, large = peaks[min(peaks)], peaks[max(peaks)]
    summary = {
        "settings": {
            "image": [HEIGHT, WIDTH, 3],
            "classes": len(CLASSES),
            "command": "python -m tunekit.coarse_to_fine --hypermodel toonvision-cnn --data "
            "FOLDER --backend tensorflow --batch-size B --coarse-trials 3 --coarse-epochs 1 "
            "--fine-tuner bayesian --fine-trials 1 --max-epochs 1 --final-epochs 1",
            "batch_size": args.batch_size,
            "measure": "peak RSS (ru_maxrss) of the CLI process: 4 trials, retrain, test",
        },
        "runs": runs,
        "targets": {
            "largest_peak_mib": large,
            "largest_peak_le_3gb": large <= 3 * 1024,
            "growth_vs_smallest": round(large / small - 1, 3),
            "within_15_percent": large <= small * 1.15,
        },
    }
    path = save("memory_images_cli", summary)
    print(f"wrote {path}: {json.dumps(summary['targets'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 2000])
    parser.add_argument("--trials", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument(
        "--steps-per-epoch",
        type=int,
        default=0,
        help="cap on training steps per epoch (0: whole epochs)",
    )
    parser.add_argument(
        "--no-in-memory", action="store_true", help="skip the in-memory comparison run"
    )
    parser.add_argument(
        "--cli", action="store_true", help="measure through the command line instead"
    )
    parser.add_argument("--child", nargs=2, metavar=("MODE", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child[0], args.child[1], args)))
        return
    if args.cli:
        main_cli(args)
        return
    work = Path(tempfile.mkdtemp(prefix="tunekit-memory-images-"))
    runs = []
    try:
        for size in sorted(args.sizes):
            folder = make_folder(work / f"images_{size}", size)
            runs.append({"num_images": size, **measure("stream", folder, args)})
            print(json.dumps(runs[-1]), flush=True)
            if size == min(args.sizes) and not args.no_in_memory:
                runs.append({"num_images": size, **measure("in_memory", folder, args)})
                print(json.dumps(runs[-1]), flush=True)
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    streams = {r["num_images"]: r["peak_rss_mib"] for r in runs if r["mode"] == "stream"}
    small, large = streams[min(streams)], streams[max(streams)]
    summary = {
        "settings": {
            "image": [HEIGHT, WIDTH, 3],
            "classes": len(CLASSES),
            "trials": args.trials,
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "steps_per_epoch": args.steps_per_epoch or None,
            "hypermodel": "ToonVisionCNNHyperModel(rescale=False)",
            "measure": "peak RSS (getrusage ru_maxrss) of a fresh process: search, "
            "retrain on train+val, test evaluation",
        },
        "runs": runs,
        "targets": {
            "largest_peak_mib": large,
            "largest_peak_le_3gb": large <= 3 * 1024,
            "growth_vs_smallest": round(large / small - 1, 3),
            "within_15_percent": large <= small * 1.15,
        },
    }
    path = save("memory_images", summary)
    print(f"wrote {path}: {json.dumps(summary['targets'])}")


if __name__ == "__main__":
    main()
