"""Shared helpers for the benchmark scripts: machine facts, result files, the retrain."""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
# As the tests: $TUNEKIT_MNIST_PATH, else the shared copy next to the repository (read by
# load_mnist here and by the command-line runs the scripts start).
_SHARED_MNIST = RESULTS.parent.parent.parent / "shared" / "data" / "mnist.npz"
if not os.environ.get("TUNEKIT_MNIST_PATH") and _SHARED_MNIST.is_file():
    os.environ["TUNEKIT_MNIST_PATH"] = str(_SHARED_MNIST)


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    from importlib.metadata import version

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "backend": os.environ.get("KERAS_BACKEND", "tensorflow"),
    }
    for name in ("tunekit", "keras", "keras-tuner", "tensorflow", "jax"):
        try:
            info[name] = version(name)
        except Exception:  # noqa: BLE001 (not installed)
            info[name] = None
    try:
        with open("/proc/meminfo") as f:
            info["memory_kib"] = int(f.readline().split()[1])
    except OSError:
        pass
    return info


def load_data() -> Any:
    """Full MNIST; `TUNEKIT_BENCH_SMOKE=1` takes a small slice to smoke-test a script."""
    from tunekit import load_mnist

    data = load_mnist()
    if os.environ.get("TUNEKIT_BENCH_SMOKE"):
        data = data.subset(num_train=2000, num_val=500, num_test=500)
    return data


def save(name: str, payload: dict[str, Any]) -> Path:
    """Writes `benchmarks/results/<name>.json` with the machine facts added."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    if os.environ.get("TUNEKIT_BENCH_SMOKE"):
        name = f"smoke_{name}"
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **payload}, indent=2) + "\n")
    return path


def spread(values: list[float]) -> str:
    """`median [min, max]` of a list of numbers."""
    return f"{statistics.median(values):.4f} [{min(values):.4f}, {max(values):.4f}]"


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def configured(hypermodel: Any, values: dict[str, Any]) -> Any:
    """The hypermodel's full space (declared by one build) with `values` set."""
    import keras_tuner as kt

    hp = kt.HyperParameters()
    hypermodel.build(hp)
    hp.values.update(values)
    return hp


def retrain_and_test(
    hypermodel: Any,
    hp: Any,
    data: Any,
    *,
    epochs: int,
    seed: int,
    schedule: str = "cosine",
    batch_size: int = 128,
) -> dict[str, Any]:
    """Builds `hp`'s model, trains it from scratch on train+validation as the workflow's
    retrain does (`tunekit.retraining`'s `schedule`), and scores it once on the test set."""
    import time

    import keras

    from tunekit.fitting import fit_hypermodel
    from tunekit.retraining import schedule_callbacks

    keras.utils.set_random_seed(seed)
    keras.backend.clear_session()
    model = hypermodel.build(hp)
    x, y = data.train_and_validation()
    start = time.perf_counter()
    fit_hypermodel(
        hypermodel,
        hp,
        model,
        x,
        y,
        epochs=epochs,
        batch_size=batch_size,
        verbose=0,
        callbacks=schedule_callbacks(schedule, epochs),
    )
    seconds = time.perf_counter() - start
    accuracy = model.evaluate(data.x_test, data.y_test, verbose=0, return_dict=True)["accuracy"]
    return {
        "test_accuracy": float(accuracy),
        "num_params": int(model.count_params()),
        "seconds": round(seconds, 1),
    }
