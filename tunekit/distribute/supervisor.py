"""Local worker processes for `--workers N`: started, limited, watched, restarted.

Each worker is `python -m tunekit.coarse_to_fine` with the chief's options (or,
for `CoarseToFine(..., workers=N)`, `python -m tunekit.distribute.worker_main`
with the run's saved spec) and KerasTuner's variables
(`KERASTUNER_TUNER_ID=local<i>`, the chief's address).
It gets its share of the CPU: pinned to `cores / N` cores
(`sched_setaffinity`), with TensorFlow's, XLA's and OpenMP's thread pools
sized to match, so N workers do not oversubscribe the machine. Its output
goes to `<run>/workers/<id>.log`. It dies with the chief (Linux
`PR_SET_PDEATHSIG`).

A worker that dies before the run is done (killed, crashed) is started again
under the same id, and KerasTuner hands its unfinished trial back to it; each
restart, and the error that ends the run after `MAX_RESTARTS`, names that trial
(phase, id, hyperparameter values: `HeldTrial`), which a rerun runs again. A held
trial has not ended, and with several workers trials end out of order, so it is
named by id, without a progress number (`coarse trial (id 2)`, `tunekit.trial_names`). A
worker that exits with status 2 (refused settings, or a refusal of the run's input in a
trial, e.g. an objective its fit never reports) is not restarted: the run stops.

This module imports no Keras.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tunekit.distribute.cluster import (
    ENV_VARS,
    EXIT_RECYCLE,
    RECYCLE_ENV,
    Cluster,
    limits_env,
    worker_cores,
)
from tunekit.errors import WorkerCrashError, WorkerStoppedError
from tunekit.trial_names import trial_name

__all__ = ["HeldTrial", "LocalWorkers", "WorkerCrashError"]

_logger = logging.getLogger(__name__)

MAX_RESTARTS = 3


@dataclass(frozen=True)
class HeldTrial:
    """The trial a worker was running, as the chief's oracle holds it for that worker.

    Attributes:
        phase: `"coarse"` or `"fine"`.
        trial_id: KerasTuner's trial id (`"1"`, `"0003"`).
        values: Its active hyperparameter values, as text (`"units=64, lr=0.001"`).
        record: Its `trial.json` in the chief's run folder (status RUNNING).
    """

    phase: str
    trial_id: str
    values: str
    record: str

    @property
    def name(self) -> str:
        """`"coarse trial (id 2)"`: running, it has no progress number yet (its line's
        number is its place among the phase's ended trials, which end out of order)."""
        return trial_name(self.phase, None, self.trial_id)

    def __str__(self) -> str:
        return f"{self.name} with {self.values or 'no hyperparameters'}"


class LocalWorkers:
    """Starts and supervises the chief's local workers.

    Args:
        cluster: The chief's `Cluster` (`workers`, address).
        command: The arguments after `python` that start one worker, e.g.
            `["-m", "tunekit.coarse_to_fine", *options]`.
        log_dir: Folder for `<id>.log`.
        backend: The Keras backend the chief chose, forced on the workers
            (`KERAS_BACKEND`).
        env: Extra environment variables of every worker.
        trials_per_process: Trials each worker process runs before a fresh one
            replaces it; `None` (default): a process runs until the search ends.
        write: Where status lines go. Defaults to the `tunekit.distribute.supervisor`
            logger (INFO).
        held: The trial a worker id holds in the chief's oracle (`None`: none), named
            when the worker dies; `None` (default): not known.
    """

    def __init__(
        self,
        cluster: Cluster,
        command: Sequence[str],
        log_dir: Path,
        *,
        backend: str | None = None,
        env: dict[str, str] | None = None,
        trials_per_process: int | None = None,
        write: Callable[[str], None] | None = None,
        held: Callable[[str], HeldTrial | None] | None = None,
    ) -> None:
        self.cluster = cluster
        self.held = held
        self.died_running: dict[str, list[HeldTrial | None]] = {}  # per death, in order
        self.trials_per_process = trials_per_process
        self.command = list(command)
        self.env = dict(env or {})
        self.log_dir = Path(log_dir)
        self.backend = backend
        self.write = write or _logger.info
        self.procs: dict[str, subprocess.Popen] = {}
        self.restarts: dict[str, int] = {}
        self.recycles: dict[str, int] = {}
        self.finished: set[str] = set()
        self.cores = {
            f"local{i}": cores for i, cores in enumerate(worker_cores(max(1, cluster.workers)))
        }

    def owns(self, worker: str) -> bool:
        """Whether `worker` is one of this supervisor's local workers."""
        return worker in self.procs

    def log_path(self, worker: str) -> Path:
        """The worker's log file, `<log_dir>/<id>.log` (appended by each of its processes)."""
        return self.log_dir / f"{worker}.log"

    def start(self) -> LocalWorkers:
        """Starts every local worker; returns `self`."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for worker in self.cores:
            self._spawn(worker)
        return self

    def _spawn(self, worker: str, *, say: bool = True) -> subprocess.Popen:
        env = {k: v for k, v in os.environ.items() if k not in (*ENV_VARS, RECYCLE_ENV)}
        env.update(self.env)
        if self.trials_per_process is not None:
            env[RECYCLE_ENV] = str(self.trials_per_process)
        if self.backend:
            env["KERAS_BACKEND"] = self.backend
        env.update(limits_env(self.cores[worker], self.backend, die_with_parent=True))
        env.update(
            KERASTUNER_TUNER_ID=worker,
            KERASTUNER_ORACLE_IP=self.cluster.connect_ip,
            KERASTUNER_ORACLE_PORT=str(self.cluster.port),
            PYTHONUNBUFFERED="1",
        )
        with open(self.log_path(worker), "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, *self.command],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.procs[worker] = proc
        if say:
            self.write(
                f"Started worker {worker} (pid {proc.pid}, cores "
                f"{','.join(map(str, self.cores[worker]))}, log {self.log_path(worker)})."
            )
        return proc

    def _tail(self, worker: str, lines: int = 8) -> str:
        try:
            text = self.log_path(worker).read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return "\n".join("    " + line for line in text[-lines:])

    def check(self) -> None:
        """Restarts dead workers; raises when one cannot be kept running."""
        for worker, proc in list(self.procs.items()):
            code = proc.poll()
            if code is None or worker in self.finished:
                continue
            if code == 0:
                self.finished.add(worker)
                continue
            if code == EXIT_RECYCLE and self.trials_per_process is not None:
                self.recycles[worker] = self.recycles.get(worker, 0) + 1
                proc = self._spawn(worker, say=False)
                _logger.debug(
                    "Worker %s ran its %d trials; fresh process %d.",
                    worker,
                    self.trials_per_process,
                    proc.pid,
                )
                continue
            if code == 2:  # every process would stop the same way: not restarted
                raise WorkerStoppedError(
                    f"worker {worker} stopped on the run's settings or input (exit 2); its "
                    f"log {self.log_path(worker)} ends with:\n{self._tail(worker)}"
                )
            self.restart(worker, f"exited with status {code}")

    def restart(self, worker: str, reason: str) -> None:
        """Kills (if need be) and restarts `worker`, naming the trial it was running.

        Raises:
            WorkerCrashError: Its `MAX_RESTARTS` restarts are used up; names the
                trial it was running at each death, which a rerun runs again.
        """
        held = self.held(worker) if self.held is not None else None
        self.died_running.setdefault(worker, []).append(held)
        running = f" while running {held}" if held else ""
        count = self.restarts.get(worker, 0) + 1
        if count > MAX_RESTARTS:
            raise WorkerCrashError(
                f"worker {worker} {reason}{running}, after {MAX_RESTARTS} restarts; giving "
                f"up.{self._crash_history(worker)} Its log {self.log_path(worker)} ends "
                f"with:\n{self._tail(worker)}\nCompleted trials are saved: fix the cause and "
                "rerun the same command to resume."
            )
        self.restarts[worker] = count
        proc = self.procs[worker]
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if self.held is None:
            back = "its unfinished trial is handed back"
        elif held is None:
            back = "it held no trial"
        else:
            back = f"KerasTuner hands {held.name} back to it"
        self.write(
            f"Worker {worker} {reason}{running}; restarting it under the same id "
            f"(restart {count}/{MAX_RESTARTS}); {back}."
        )
        self._spawn(worker)

    def _crash_history(self, worker: str) -> str:
        """What `worker` was running at each death, for `WorkerCrashError`."""
        deaths = self.died_running.get(worker, [])
        trials = {str(h): h for h in deaths if h is not None}
        if not trials:
            return ""
        last = deaths[-1]
        if last is not None and len(trials) == 1 and None not in deaths:
            said = f" It died running {last.name} all {len(deaths)} times"
        else:
            named = "; ".join(str(h) if h else "no trial" for h in deaths)
            said = f" At its {len(deaths)} deaths it was running, in order: {named}"
        if last is None:  # its last death held no trial: nothing is handed back
            return said + "."
        return (
            f"{said}: KerasTuner hands a dead worker's trial back, and a rerun of this "
            f"command runs {last.name} again (its record "
            f"{last.record} stays RUNNING). Fix what kills a process on those values "
            "(memory, or a native crash in the model's code) before rerunning."
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Waits up to `timeout` s for workers to finish, then terminates the rest."""
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
