"""Choosing the Keras backend: a short, cached throughput probe per backend.

On a CPU the faster backend depends on the model: dense networks train 2-4x
faster on JAX, small CNNs about 3x faster on TensorFlow. `choose_backend`
trains the hypermodel's default model for a few hundred steps on random data
of the right shape in one subprocess per backend (a backend is fixed per
process), and picks the faster one. Successful results are cached per
machine (name, CPU count, Python), hypermodel (and its source), data shape,
classes, batch size, worker processes and package versions in
`backends.json` under `$TUNEKIT_CACHE_DIR`, else `$XDG_CACHE_HOME/tunekit`,
else `~/.cache/tunekit`; a run that reuses one says so and from when
(`--reprobe` probes again). A failed probe is never cached, and its reason is
printed.

This module imports no Keras: it must run before the backend is chosen. The
probe's child process, which runs with Keras loaded, is `tunekit.backend_probe`.

It is over 400 lines because the probe, its cache and the choice share one
cache key and one failure path.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from tunekit import _io, _native_logs, interrupts
from tunekit.errors import raised_line
from tunekit.hypermodel_specs import BUILTIN_HYPERMODELS, module_file
from tunekit.processes import limits_env, worker_cores

__all__ = [
    "BACKENDS",
    "cache_key",
    "choose_backend",
    "enable_jax_compilation_cache",
    "probe",
    "probe_with_reason",
]

_logger = logging.getLogger(__name__)

BACKENDS = ("tensorflow", "jax")
_CACHE_FORMAT = 2  # entries keyed by a digest of `cache_key`; successes only


def _cache_root() -> Path:
    """`$TUNEKIT_CACHE_DIR`, else `$XDG_CACHE_HOME/tunekit`, else `~/.cache/tunekit`."""
    if os.environ.get("TUNEKIT_CACHE_DIR"):
        return Path(os.environ["TUNEKIT_CACHE_DIR"])
    xdg = os.environ.get("XDG_CACHE_HOME")
    # The XDG spec: a relative path is invalid and ignored.
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "tunekit"


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

    if os.environ.get("JAX_COMPILATION_CACHE_DIR") or getattr(
        jax.config, "jax_compilation_cache_dir", None
    ):
        return
    jax.config.update("jax_compilation_cache_dir", str(_cache_root() / "jax"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def _machine() -> str:
    return f"{platform.node()}|{platform.machine()}|{os.cpu_count()}cpu|{platform.python_version()}"


def _versions() -> dict[str, str | None]:
    """Installed versions of the packages a probe's speed depends on (`None`: not installed)."""
    found: dict[str, str | None] = {}
    for name in ("tunekit", "keras", "keras-tuner", "tensorflow", "jax", "jaxlib"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def cache_key(
    hypermodel: str,
    input_shape: Sequence[int],
    num_classes: int,
    batch_size: int,
    processes: int = 1,
) -> dict[str, Any]:
    """What a cached probe result is valid for.

    The machine, the hypermodel (its spec, and a digest of the source file of
    a `package.module:attribute` one, so an edited hypermodel is probed
    again), the data's shape, the batch size, the number of parallel
    processes and the versions of tunekit, Keras, KerasTuner, TensorFlow, JAX.
    """
    # A built-in lives in the `hypermodels` package: all of its files count.
    builtin = hypermodel in BUILTIN_HYPERMODELS
    path = module_file("hypermodels:_" if builtin else hypermodel)
    files = sorted(Path(path).parent.glob("*.py")) if path and builtin else [path] if path else []
    digest = None
    if files:
        sha = hashlib.sha256()
        try:
            for file in files:
                sha.update(Path(file).read_bytes())
            digest = sha.hexdigest()[:16]
        except OSError:
            pass
    return {
        "machine": _machine(),
        "hypermodel": hypermodel,
        "hypermodel_source": digest,
        "input_shape": [int(d) for d in input_shape],
        "num_classes": int(num_classes),
        "batch_size": int(batch_size),
        "processes": int(processes),
        "versions": _versions(),
    }


def _key_id(key: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]


def _failure_reason(stderr: str, returncode: int) -> str:
    """The line naming the exception a failed probe raised (`tunekit.errors.raised_line`)."""
    lines = [
        line for line in stderr.splitlines() if line.strip() and not _native_logs.is_noise(line)
    ]
    return raised_line("\n".join(lines)) or f"exit code {returncode}"


def probe(
    backend: str,
    hypermodel: str,
    input_shape: Sequence[int],
    num_classes: int,
    batch_size: int,
    *,
    timeout: float = 120.0,
    steps_per_execution: int = 1,
    processes: int = 1,
    min_seconds: float = 0.0,
) -> float:
    """Training samples per second of the hypermodel's default model on `backend`.

    Runs in a subprocess with `KERAS_BACKEND=backend`. With `processes=N`, N
    subprocesses train at once, each pinned to its share of the cores with
    its thread pools sized to match (as `--workers N` runs them), and the sum
    of their speeds is returned. Returns 0.0 if the backend cannot run here
    (for example, JAX is not installed; `probe_with_reason` says why).
    Parallel processes start timing together (after a barrier) and train for
    at least `min_seconds`.
    """
    return probe_with_reason(
        backend,
        hypermodel,
        input_shape,
        num_classes,
        batch_size,
        timeout=timeout,
        steps_per_execution=steps_per_execution,
        processes=processes,
        min_seconds=min_seconds,
    )[0]


def probe_with_reason(
    backend: str,
    hypermodel: str,
    input_shape: Sequence[int],
    num_classes: int,
    batch_size: int,
    *,
    timeout: float = 120.0,
    steps_per_execution: int = 1,
    processes: int = 1,
    min_seconds: float = 0.0,
) -> tuple[float, str | None]:
    """Like `probe`, and why it failed: `(samples_per_second, None)` or `(0.0, reason)`.

    The reason is the last line the probe wrote on stderr (the exception's
    last line), "not installed", or "timed out after N s".

    Raises:
        tunekit.interrupts.Interrupted: On Ctrl-C or SIGTERM while the command
            line waits (the probes are stopped).
    """
    if importlib.util.find_spec(backend) is None:
        return 0.0, f"{backend} is not installed"
    args = [
        sys.executable,
        "-m",
        "tunekit.backend_probe",
        hypermodel,
        json.dumps(list(input_shape)),
        str(num_classes),
        str(batch_size),
        str(steps_per_execution),
    ]
    cores = worker_cores(processes)
    barrier = tempfile.mkdtemp(prefix="tunekit-probe-")
    if processes > 1:
        min_seconds = max(min_seconds, 3.0)
    procs = []
    for i in range(processes):
        env = {
            **os.environ,
            "KERAS_BACKEND": backend,
            "TUNEKIT_PROBE_BARRIER": f"{barrier}:{processes}",
            "TUNEKIT_PROBE_SECONDS": str(min_seconds),
        }
        _native_logs.quiet_environment(env)
        if processes > 1:
            env.update(limits_env(cores[i], backend))
        procs.append(
            subprocess.Popen(
                args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
    total = 0.0
    deadline = time.monotonic() + timeout
    try:
        for proc in procs:
            while True:
                try:
                    out, err = proc.communicate(timeout=0.25)
                    break
                except subprocess.TimeoutExpired:
                    interrupts.check()
                    if time.monotonic() > deadline:
                        return 0.0, f"timed out after {timeout:.0f} s"
            lines = [line for line in out.splitlines() if line.startswith("samples_per_second=")]
            if proc.returncode != 0 or not lines:
                return 0.0, _failure_reason(err, proc.returncode)
            total += float(lines[-1].split("=", 1)[1])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        shutil.rmtree(barrier, ignore_errors=True)
    return total, None


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        cache = _io.read_json(path, what="backend cache")
    except (_io.StateFileError, OSError):
        return {}
    if not isinstance(cache, dict) or cache.get("format") != _CACHE_FORMAT:
        return {}  # an older tunekit's cache (which also kept failures): start afresh
    return cache


def choose_backend(
    hypermodel: str,
    input_shape: Sequence[int],
    num_classes: int,
    batch_size: int,
    *,
    processes: int = 1,
    refresh: bool = False,
    write: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Picks the faster backend for this hypermodel on this machine.

    Only successful probes are cached (in `backends.json` under
    `$TUNEKIT_CACHE_DIR`, else `$XDG_CACHE_HOME/tunekit`, else
    `~/.cache/tunekit`), keyed by `cache_key`: a probe that failed (the
    hypermodel did not import, a transient error) is run again next time, and
    its reason is printed. A reused probe is said so, with its date.

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
        write: Where the outcome goes (one line). Defaults to the
            `tunekit.backends` logger (INFO).

    Returns:
        `{"backend": ..., "samples_per_second": {backend: value}, "failures":
        {backend: reason}, "cached": bool, "probed_at": when the probe ran
        (ISO 8601 UTC; the cached probe's when cached), "seconds": probe time
        (of the cached probe when cached), "wall_seconds": this call's time}`; a backend
        whose probe failed has speed 0 and a reason. When every probe fails,
        the backend is TensorFlow.
    """
    begun = time.perf_counter()
    key = cache_key(hypermodel, input_shape, num_classes, batch_size, processes)
    key_id = _key_id(key)
    path = _cache_path()
    cache = _read_cache(path) if path.exists() else {}
    entry = cache.get("entries", {}).get(key_id)
    if (
        entry
        and not refresh
        and entry.get("key") == key
        and all(v > 0 for v in entry["samples_per_second"].values())
    ):
        choice = {
            "backend": entry["backend"],
            "samples_per_second": entry["samples_per_second"],
            "failures": {},
            "seconds": entry["seconds"],
            "cached": True,
            "probed_at": _iso(entry.get("time")),
        }
    else:
        start, probed_at = time.perf_counter(), time.time()
        speeds, failures = {}, {}
        for b in BACKENDS:
            speeds[b], reason = probe_with_reason(
                b, hypermodel, input_shape, num_classes, batch_size, processes=processes
            )
            interrupts.check()  # a Ctrl-C also reaches the probe itself, which then fails
            if reason:
                failures[b] = reason
        best = max(speeds, key=lambda b: speeds[b])
        if speeds[best] <= 0:
            best = "tensorflow"
        choice = {
            "backend": best,
            "samples_per_second": speeds,
            "failures": failures,
            "seconds": round(time.perf_counter() - start, 1),
            "cached": False,
            "probed_at": _iso(probed_at),
        }
        # Only successes are cached. A backend that is not installed is no failure:
        # its version (None) is part of the key, so installing it probes again.
        probed = [b for b in BACKENDS if key["versions"].get(b) is not None]
        if probed and all(speeds[b] > 0 for b in probed):
            entries = {
                **cache.get("entries", {}),
                key_id: {
                    "key": key,
                    "backend": best,
                    "samples_per_second": {b: speeds[b] for b in probed},
                    "seconds": choice["seconds"],
                    "time": round(probed_at),
                },
            }
            try:
                _io.write_json(path, {"format": _CACHE_FORMAT, "entries": entries})
            except OSError:
                pass  # a read-only home: probe again next time
    (write or _logger.info)(_describe(choice, processes))
    choice["wall_seconds"] = round(time.perf_counter() - begun, 3)  # this call's, cached or not
    return choice


def _iso(stamp: float | None) -> str | None:
    """A POSIX time as ISO 8601 UTC to the second (`None` stays `None`)."""
    if not isinstance(stamp, (int, float)):
        return None
    return datetime.fromtimestamp(stamp, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _describe(choice: dict[str, Any], processes: int) -> str:
    """The one line saying which backend, how fast each was, and why a probe failed."""
    speeds = {b: v for b, v in choice["samples_per_second"].items() if v > 0}
    across = f" in {processes} workers" if processes > 1 else ""
    parts = []
    if speeds:
        parts.append(
            f"training samples/s{across}: " + ", ".join(f"{b} {v:,.0f}" for b, v in speeds.items())
        )
    failures = choice.get("failures", {})
    if len(failures) > 1 and len(set(failures.values())) == 1 and not speeds:
        reason = next(iter(failures.values()))  # the model's error, not a backend's
        parts.append(f"every backend's probe raised the same error, the model's: {reason}")
    else:
        parts.extend(f"{b} probe failed: {reason}" for b, reason in failures.items())
    if choice["cached"]:
        when = choice.get("probed_at")
        since = f" from {when.replace('T', ' ')}" if when else ""
        parts.append(f"probe reused{since}; --reprobe probes again")
    elif choice.get("failures"):
        parts.append("not cached, probed again next run")
    fallback = "falling back to " if choice.get("failures") else ""
    return f"Backend: {fallback}{choice['backend']} ({'; '.join(parts)})"
