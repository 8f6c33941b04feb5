"""Process limits for child processes (CPU cores, thread pools); memory a trial leaves.

Used by the local workers of a distributed run (`tunekit.distribute`) and by
the backend probe (`tunekit.backends`), which times backends the way workers
will run them. This module imports no Keras and no gRPC.
"""

from __future__ import annotations

import os

__all__ = [
    "apply_process_limits",
    "limits_env",
    "release_trial_memory",
    "thread_env",
    "worker_cores",
]


def worker_cores(workers: int) -> list[list[int]]:
    """The CPU cores each of `workers` local processes is pinned to: an equal share."""
    cpus = sorted(os.sched_getaffinity(0))
    per = max(1, len(cpus) // workers)
    return [[cpus[(i * per + j) % len(cpus)] for j in range(per)] for i in range(workers)]


def thread_env(threads: int, backend: str | None) -> dict[str, str]:
    """Environment variables that size a worker's thread pools to `threads` cores."""
    env = {
        "TUNEKIT_WORKER_THREADS": str(threads),
        "OMP_NUM_THREADS": str(threads),
        "TF_NUM_INTRAOP_THREADS": str(threads),
        "TF_NUM_INTEROP_THREADS": "1",
    }
    if backend == "jax" and threads == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        env["XLA_FLAGS"] = (
            flags + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        ).strip()
    return env


def limits_env(
    cores: list[int], threads_backend: str | None, *, die_with_parent: bool = False
) -> dict[str, str]:
    """Variables that pin a child process to `cores` with thread pools to match.

    The child applies them itself (`apply_process_limits`) before loading
    TensorFlow or JAX: no `preexec_fn`, which is unsafe in a process running
    gRPC threads.
    """
    env = thread_env(len(cores), threads_backend)
    env["TUNEKIT_CORES"] = ",".join(map(str, cores))
    if die_with_parent:
        env["TUNEKIT_PARENT_PID"] = str(os.getpid())
    return env


def apply_process_limits() -> None:
    """Pins this process to `$TUNEKIT_CORES`; with `$TUNEKIT_PARENT_PID`, dies with it (Linux)."""
    cores = os.environ.get("TUNEKIT_CORES")
    if cores:
        os.sched_setaffinity(0, [int(c) for c in cores.split(",")])
    parent = os.environ.get("TUNEKIT_PARENT_PID")
    if parent:
        import ctypes
        import signal

        try:
            ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            return
        if os.getppid() != int(parent):  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)


def release_trial_memory(backend: str) -> None:
    """Gives back the memory a finished trial's model leaves behind in this process.

    On JAX, `jax.clear_caches()` drops the compiled programs of the trial's
    model, which JAX keeps for the life of the process (each trial's model
    is new, so the next trial compiles its own anyway; JAX's persistent
    compilation cache on disk is kept). On glibc (Linux), `malloc_trim(0)`
    returns freed heap pages to the system instead of keeping them in the
    allocator's arenas. Both together took a bare Keras loop on JAX from
    +14.9 MiB to +0.4 MiB of resident memory per fit
    (`benchmarks/results/memory_bare_loop_jax.json`). Elsewhere (no glibc)
    the trim is skipped.

    Args:
        backend: `keras.backend.backend()` of this process.
    """
    if backend == "jax":
        import jax

        jax.clear_caches()
    import ctypes

    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass
