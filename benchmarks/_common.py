"""Shared helpers for the benchmark scripts: machine facts and result files."""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


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


def load_data():
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
