"""The backend probe's child process: `python -m tunekit.backend_probe SPEC SHAPE CLASSES BATCH`.

`tunekit.backends.probe` starts one such process per backend (and per
parallel worker), with `KERAS_BACKEND` set, and reads the
`samples_per_second=...` line it prints. This module runs with Keras loaded,
after the backend is fixed; `tunekit.backends` runs before and imports no
Keras. Parallel probes meet at a barrier folder (`TUNEKIT_PROBE_BARRIER`,
`folder:parties`) so they time together, each for at least
`TUNEKIT_PROBE_SECONDS`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tunekit import _native_logs
from tunekit.processes import apply_process_limits

__all__ = ["PROBE_STEPS", "WARMUP_STEPS", "measure", "probe_inputs"]

PROBE_STEPS = 200
WARMUP_STEPS = 30


def measure(
    hypermodel: str,
    input_shape: list[int],
    num_classes: int,
    batch_size: int,
    steps_per_execution: int = 1,
) -> float:
    """Samples per second of the hypermodel's default model, trained on random data.

    `WARMUP_STEPS` batches are trained first (compilation) and not timed; then
    passes of `PROBE_STEPS` batches are timed until `TUNEKIT_PROBE_SECONDS`
    passed (at least one pass), after the peers of a parallel probe arrived.
    """
    import keras_tuner as kt
    import numpy as np

    from tunekit._kerastuner import get_hypermodel
    from tunekit.data import Dataset
    from tunekit.hypermodel_specs import resolve_hypermodel

    rng = np.random.default_rng(0)
    n = batch_size * (PROBE_STEPS + WARMUP_STEPS)
    # Three splits of other samples: splits sharing samples are refused (a leaked score).
    train, val, test = rng.random((3, num_classes, *input_shape), dtype=np.float32)
    labels = np.arange(num_classes)
    data = Dataset(
        x_train=train,
        y_train=labels,
        x_val=val,
        y_val=labels,
        x_test=test,
        y_test=labels,
        class_names=[str(i) for i in range(num_classes)],
        input_shape=tuple(input_shape),
        num_classes=num_classes,
        name="probe",
    )
    model = resolve_hypermodel(hypermodel)(data)
    model = get_hypermodel(model).build(kt.HyperParameters())
    model.steps_per_execution = steps_per_execution  # read when fit builds its train step
    x = probe_inputs(model, input_shape, n, rng)
    y = rng.integers(0, num_classes, n)
    warm = batch_size * WARMUP_STEPS
    head, tail = split_inputs(x, warm)
    model.fit(head, y[:warm], batch_size=batch_size, epochs=1, verbose=0)
    wait_for_peers()
    min_seconds = float(os.environ.get("TUNEKIT_PROBE_SECONDS") or 0)
    samples, start = 0, time.perf_counter()
    while True:  # at least one pass of PROBE_STEPS, and at least min_seconds
        model.fit(tail, y[warm:], batch_size=batch_size, epochs=1, verbose=0)
        samples += n - warm
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return samples / elapsed


def probe_inputs(model: Any, input_shape: Sequence[int], n: int, rng: Any) -> Any:
    """Random training inputs: one array of `input_shape` (a model built on its first
    batch, a subclassed or a one-input model), or, for a functional model with several
    inputs, the same structure (dict or list) of arrays of each input's shape and dtype.
    """
    import keras
    import numpy as np

    try:
        structure = model.input  # a functional model's declared inputs
    except (AttributeError, ValueError):  # never called: built on its first batch
        structure = None
    if not isinstance(structure, (dict, list, tuple)):
        return rng.random((n, *input_shape), dtype=np.float32)

    def make(spec: Any) -> np.ndarray:
        shape = (n, *(1 if d is None else d for d in spec.shape[1:]))
        if "int" in str(spec.dtype):  # token ids, category codes
            return rng.integers(0, 2, shape).astype(spec.dtype)
        return rng.random(shape).astype(spec.dtype)

    return keras.tree.map_structure(make, structure)


def split_inputs(x: Any, at: int) -> tuple[Any, Any]:
    """`(x[:at], x[at:])` of an array or of each array of a dict or list."""
    if isinstance(x, dict):
        return {k: v[:at] for k, v in x.items()}, {k: v[at:] for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [v[:at] for v in x], [v[at:] for v in x]
    return x[:at], x[at:]


def wait_for_peers(timeout: float = 120.0) -> None:
    """Parallel probes start timing together: each announces itself, then waits for all."""
    spec = os.environ.get("TUNEKIT_PROBE_BARRIER")
    if not spec:
        return
    folder, _, parties = spec.rpartition(":")
    Path(folder, str(os.getpid())).touch()
    deadline = time.monotonic() + timeout
    while len(os.listdir(folder)) < int(parties) and time.monotonic() < deadline:
        time.sleep(0.01)


if __name__ == "__main__":
    apply_process_limits()
    _native_logs.quiet_environment()
    spec, shape, classes, batch = sys.argv[1:5]
    spe = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    speed = measure(spec, json.loads(shape), int(classes), int(batch), spe)
    print(f"samples_per_second={speed:.1f}")
