"""Choosing the Keras backend: a short, cached throughput probe per backend.

On a CPU the faster backend depends on the model: dense networks train 2-4x
faster on JAX, small CNNs about 3x faster on TensorFlow. `choose_backend`
trains the hypermodel's default model for a few hundred steps on random data
of the right shape in one subprocess per backend (a backend is fixed per
process), and picks the faster one. Results are cached per machine,
hypermodel, input shape and batch size in `~/.cache/tunekit/backends.json`
(or `$TUNEKIT_CACHE_DIR`).

This module imports no Keras: it must run before the backend is chosen.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tunekit import _io
from tunekit.cluster import apply_process_limits, limits_env, worker_cores

__all__ = ["BACKENDS", "choose_backend", "enable_jax_compilation_cache", "probe"]

BACKENDS = ("tensorflow", "jax")
_PROBE_STEPS = 200
_WARMUP_STEPS = 30


def _cache_root() -> Path:
    return Path(os.environ.get("TUNEKIT_CACHE_DIR") or Path.home() / ".cache" / "tunekit")


def _cache_path() -> Path:
    return _cache_root() / "backends.json"


def enable_jax_compilation_cache() -> None:
    """Turns on JAX's persistent compilation cache, unless the user configured one.

    Every trial builds a new model, and JAX compiles its train and eval steps
    again (about 0.4 s each on this 2-core CPU, several per trial). Hyperband
    continuations, retries, the final retrain and resumed runs rebuild the
    same architectures: with the cache they skip compilation.
    """
    import jax

    if os.environ.get("JAX_COMPILATION_CACHE_DIR") or jax.config.jax_compilation_cache_dir:
        return
    jax.config.update("jax_compilation_cache_dir", str(_cache_root() / "jax"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def _machine() -> str:
    return f"{platform.node()}|{platform.machine()}|{os.cpu_count()}cpu|{platform.python_version()}"


def probe(backend: str, hypermodel: str, input_shape: Sequence[int], num_classes: int,
          batch_size: int, *, timeout: float = 120.0, steps_per_execution: int = 1,
          processes: int = 1, min_seconds: float = 0.0) -> float:
    """Training samples per second of the hypermodel's default model on `backend`.

    Runs in a subprocess with `KERAS_BACKEND=backend`. With `processes=N`, N
    subprocesses train at once, each pinned to its share of the cores with
    its thread pools sized to match (as `--workers N` runs them), and the sum
    of their speeds is returned. Returns 0.0 if the backend cannot run here
    (for example, JAX is not installed). Parallel processes start timing
    together (after a barrier) and train for at least `min_seconds`.
    """
    args = [sys.executable, "-m", "tunekit.backends", hypermodel, json.dumps(list(input_shape)),
            str(num_classes), str(batch_size), str(steps_per_execution)]
    cores = worker_cores(processes)
    barrier = tempfile.mkdtemp(prefix="tunekit-probe-")
    if processes > 1:
        min_seconds = max(min_seconds, 3.0)
    procs = []
    for i in range(processes):
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
               "TUNEKIT_PROBE_BARRIER": f"{barrier}:{processes}",
               "TUNEKIT_PROBE_SECONDS": str(min_seconds)}
        if processes > 1:
            env.update(limits_env(cores[i], backend))
        procs.append(subprocess.Popen(
            args, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True))
    total = 0.0
    try:
        for proc in procs:
            try:
                out, _ = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                return 0.0
            lines = [line for line in out.splitlines()
                     if line.startswith("samples_per_second=")]
            if proc.returncode != 0 or not lines:
                return 0.0
            total += float(lines[-1].split("=", 1)[1])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        shutil.rmtree(barrier, ignore_errors=True)
    return total


def choose_backend(hypermodel: str, input_shape: Sequence[int], num_classes: int,
                   batch_size: int, *, processes: int = 1, refresh: bool = False,
                   write=print) -> dict[str, Any]:
    """Picks the faster backend for this hypermodel on this machine.

    Args:
        hypermodel: The `--hypermodel` spec (`mnist-dense`, `toonvision-cnn` or
            `package.module:attribute`).
        input_shape: Shape of one sample.
        num_classes: Number of classes.
        batch_size: Training batch size.
        processes: Worker processes that will train at once (`--workers`):
            each backend is measured that way, pinned like the workers, and
            the total speed compared. JAX already uses every core in one
            process, TensorFlow gains more from parallel processes.
        refresh: Probe again even if a cached result exists.
        write: Where to print the outcome.

    Returns:
        `{"backend": ..., "samples_per_second": {backend: value}, "cached": bool,
        "seconds": probe time}`.
    """
    key = f"{_machine()}|{hypermodel}|{list(input_shape)}|{num_classes}|{batch_size}"
    if processes > 1:
        key += f"|x{processes}"
    path = _cache_path()
    cache: dict[str, Any] = {}
    if path.exists():
        try:
            cache = _io.read_json(path, what="backend cache")
        except (_io.StateFileError, OSError):
            cache = {}
    if key in cache and not refresh:
        choice = {**cache[key], "cached": True}
    else:
        start = time.perf_counter()
        speeds = {b: probe(b, hypermodel, input_shape, num_classes, batch_size,
                           processes=processes) for b in BACKENDS}
        best = max(speeds, key=lambda b: speeds[b])
        if speeds[best] <= 0:
            best = "tensorflow"
        choice = {"backend": best, "samples_per_second": speeds,
                  "seconds": round(time.perf_counter() - start, 1)}
        cache[key] = choice
        try:
            _io.write_json(path, cache)
        except OSError:
            pass  # a read-only home: probe again next time
        choice = {**choice, "cached": False}
    speeds_text = ", ".join(f"{b} {v:,.0f}" if v else f"{b} failed"
                            for b, v in choice["samples_per_second"].items())
    across = f" in {processes} workers" if processes > 1 else ""
    write(f"Backend: {choice['backend']} (training samples/s{across}: {speeds_text}"
          f"{'; cached' if choice['cached'] else ''})")
    return choice


def _measure(hypermodel: str, input_shape: list[int], num_classes: int, batch_size: int,
             steps_per_execution: int = 1) -> float:
    import keras_tuner as kt
    import numpy as np
    from keras_tuner.src.engine import hypermodel as hm_module

    from tunekit.hypermodel_specs import resolve_hypermodel
    from tunekit.data import Dataset

    rng = np.random.default_rng(0)
    n = batch_size * (_PROBE_STEPS + _WARMUP_STEPS)
    x = rng.random((n, *input_shape), dtype=np.float32)
    y = rng.integers(0, num_classes, n)
    data = Dataset(x_train=x[:batch_size], y_train=y[:batch_size],
                   x_val=x[:num_classes], y_val=np.arange(num_classes),
                   x_test=x[:num_classes], y_test=np.arange(num_classes),
                   class_names=[str(i) for i in range(num_classes)],
                   input_shape=tuple(input_shape), num_classes=num_classes, name="probe")
    model = resolve_hypermodel(hypermodel)(data)
    model = hm_module.get_hypermodel(model).build(kt.HyperParameters())
    model.steps_per_execution = steps_per_execution  # read when fit builds its train step
    warm = batch_size * _WARMUP_STEPS
    model.fit(x[:warm], y[:warm], batch_size=batch_size, epochs=1, verbose=0)
    _wait_for_peers()
    min_seconds = float(os.environ.get("TUNEKIT_PROBE_SECONDS") or 0)
    samples, start = 0, time.perf_counter()
    while True:  # at least one pass of _PROBE_STEPS, and at least min_seconds
        model.fit(x[warm:], y[warm:], batch_size=batch_size, epochs=1, verbose=0)
        samples += n - warm
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return samples / elapsed


def _wait_for_peers(timeout: float = 120.0) -> None:
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
    spec, shape, classes, batch = sys.argv[1:5]
    spe = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    speed = _measure(spec, json.loads(shape), int(classes), int(batch), spe)
    print(f"samples_per_second={speed:.1f}")
