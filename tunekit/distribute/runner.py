"""How a search phase runs: here, or through a chief that hands trials to workers.

The workflow calls one small interface, `PhaseRunner`, to run each phase's
search, and never knows which it got:

- `LocalRunner` calls the tuner's own `search` in this process;
- `ChiefRunner` serves the tuner's oracle with KerasTuner's gRPC engine
  (`tunekit.distribute.chief.OracleServer`) and, if asked, starts and watches
  local worker processes (`tunekit.distribute.supervisor.LocalWorkers`) until
  the phase's last trial has ended.

This module imports no gRPC: the chief's modules load when a chief starts.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tunekit.trial_names import trial_record

if TYPE_CHECKING:
    import keras_tuner as kt

    from tunekit.distribute.chief import OracleServer
    from tunekit.distribute.cluster import Cluster
    from tunekit.distribute.supervisor import HeldTrial, LocalWorkers

__all__ = ["ChiefRunner", "LocalRunner", "PhaseRunner", "TrialListener"]

_logger = logging.getLogger(__name__)

# Called with (tuner, trial) after each trial of a phase ends.
TrialListener = Callable[[Any, Any], None]


class PhaseRunner(Protocol):
    """Runs the trials of one search phase; the workflow's only view of distribution."""

    def run_phase(
        self,
        phase: str,
        tuner: kt.Tuner,
        search: Callable[[], None],
        listeners: Sequence[TrialListener],
    ) -> None:
        """Runs `phase`'s trials until its oracle has none left.

        Args:
            phase: `"coarse"` or `"fine"`.
            tuner: The phase's tuner (its oracle decides the trials).
            search: Runs the search in this process (`tuner.search(...)`).
            listeners: Called with `(tuner, trial)` after each trial ends.
        """
        ...

    def facts(self) -> dict[str, Any] | None:
        """How the trials were run, for `report.json`: `None` for one process."""
        ...

    def space_grew(self, phase: str, before: Sequence[str] = ()) -> dict[str, list[str]]:
        """`{"space_grew": names}` for the manifest: the names `phase`'s space gained
        while other trials ran (`before`: an earlier session's), or `{}` for none."""
        ...

    def close(self, wait: float = 0.0) -> None:
        """Releases what the runner holds (a port, worker processes) after `wait` s."""
        ...


class LocalRunner:
    """Runs every trial in this process, with `tuner.search`."""

    def run_phase(
        self,
        phase: str,
        tuner: kt.Tuner,
        search: Callable[[], None],
        listeners: Sequence[TrialListener],
    ) -> None:
        """Runs `search()`; the tuner tells its listeners of each trial's end itself.

        (tunekit's tuners take their listeners as a constructor argument,
        `tunekit.tuners.make_tuner(..., listeners=...)`: the search step
        builds each phase's tuner with one that calls `listeners`.)
        """
        search()

    def facts(self) -> dict[str, Any] | None:
        """Always `None`: one process ran the trials."""
        return None

    def space_grew(self, phase: str, before: Sequence[str] = ()) -> dict[str, list[str]]:
        """An earlier (parallel) session's names, if any: one process draws each trial
        after the one before it has ended."""
        return {"space_grew": list(before)} if before else {}

    def close(self, wait: float = 0.0) -> None:
        """Nothing to release."""


class ChiefRunner:
    """Serves each phase's oracle to workers; optionally starts local ones.

    Started on first use (`start()`), so a resumed run whose searches are done
    opens no port and starts no worker.

    Args:
        cluster: The chief's `Cluster` (address, timeouts, `workers`: the local
            workers to start).
        config: The run's settings (`CoarseToFine.config()`); a worker whose
            settings differ is refused.
        worker_command: The arguments after `python` that start one local
            worker (`["-m", "tunekit.coarse_to_fine", ...]`), or `None` for a
            chief that only serves remote workers.
        log_dir: Folder of the local workers' logs (`<id>.log`).
        backend: The Keras backend forced on local workers.
        env: Extra environment variables of local workers.
        trials_per_process: Trials each local worker process runs before a
            fresh process replaces it (`None`: no limit).
        write: Where status lines go. Defaults to this module's logger (INFO).
        command_line: Whether the run was started on the command line: its warnings
            name flags.
        argv: The chief's command line, by whose options a refused worker is told
            what differs (`tunekit.distribute.refusal`); `None` from Python.
    """

    def __init__(
        self,
        cluster: Cluster,
        config: dict[str, Any],
        *,
        worker_command: Sequence[str] | None = None,
        log_dir: Path | None = None,
        backend: str | None = None,
        env: dict[str, str] | None = None,
        trials_per_process: int | None = None,
        write: Callable[[str], None] | None = None,
        command_line: bool = False,
        argv: Sequence[str] | None = None,
    ) -> None:
        self.cluster = cluster
        self.argv = None if argv is None else list(argv)
        self.command_line = command_line  # a run started on the command line: flags
        self.trials_per_process = trials_per_process
        self.config = config
        self.worker_command = None if worker_command is None else list(worker_command)
        self.log_dir = log_dir
        self.backend = backend
        self.env = dict(env or {})
        self.write = write or _logger.info
        self.server: OracleServer | None = None
        self.supervisor: LocalWorkers | None = None

    @property
    def address(self) -> str:
        """`ip:port` the chief serves on (the port is known once started)."""
        return self.server.address if self.server is not None else self.cluster.address

    def start(self) -> ChiefRunner:
        """Serves the oracle on the cluster's port and starts the local workers (once)."""
        if self.server is not None:
            return self
        # gRPC's fork handlers only warn when the chief starts its workers (read at import).
        os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
        from tunekit.distribute.chief import OracleServer  # noqa: PLC0415 (gRPC)
        from tunekit.distribute.supervisor import LocalWorkers  # noqa: PLC0415

        self.server = OracleServer(self.cluster, self.config)
        self.server.command_line = self.command_line
        self.server.argv = self.argv
        self.server.start()
        self.write(
            f"Chief: serving KerasTuner's oracle on {self.server.address} (no "
            "authentication: keep it on a private network)."
        )
        if self.cluster.workers and self.worker_command is not None:
            import dataclasses  # noqa: PLC0415

            cluster = dataclasses.replace(self.cluster, port=self.server.port)
            self.supervisor = LocalWorkers(
                cluster,
                self.worker_command,
                Path(self.log_dir or "workers"),
                backend=self.backend,
                env=self.env,
                trials_per_process=self.trials_per_process,
                held=self.held_trial,
            ).start()
        return self

    def held_trial(self, worker: str) -> HeldTrial | None:
        """The trial the current phase's oracle holds for `worker` (RUNNING), or `None`.

        KerasTuner keeps it under the worker's tuner id (`ongoing_trials`) and hands
        it back to the next process asking with that id, or, after the chief's
        restart, to the first worker asking.
        """
        server = self.server
        if server is None or server.tuner is None:
            return None
        from tunekit.distribute.cluster import phase_tuner_id  # noqa: PLC0415
        from tunekit.distribute.supervisor import HeldTrial  # noqa: PLC0415
        from tunekit.results import format_value  # noqa: PLC0415 (pandas)
        from tunekit.trial_refusals import trial_values  # noqa: PLC0415 (Keras)

        with server.lock:
            phase, tuner = str(server.phase), server.tuner
            trial = tuner.oracle.ongoing_trials.get(phase_tuner_id(worker, phase))
            if trial is None:
                return None
            values = trial_values(trial.hyperparameters)
        text = ", ".join(
            f"{name}={value!r}" if isinstance(value, str) else f"{name}={format_value(value)}"
            for name, value in values.items()
        )
        record = str(trial_record(tuner.project_dir, trial.trial_id))
        return HeldTrial(phase, trial.trial_id, text, record)

    def run_phase(
        self,
        phase: str,
        tuner: kt.Tuner,
        search: Callable[[], None],
        listeners: Sequence[TrialListener],
    ) -> None:
        """Serves `tuner`'s oracle until workers have ended the phase's last trial."""
        server = self.start().server
        assert server is not None
        tuner.on_search_begin()  # what search() does first: saved before any trial
        server.serve_phase(phase, tuner, listeners=listeners, supervisor=self.supervisor)

    def facts(self) -> dict[str, Any] | None:
        """The chief's address, the workers seen, local workers, their restarts and recycles."""
        if self.server is None:
            return None
        supervisor = self.supervisor
        return {
            "chief": self.server.address,
            "workers_seen": sorted(self.server.workers),
            "local_workers": len(supervisor.procs) if supervisor else 0,
            "restarts": dict(supervisor.restarts) if supervisor else {},
            "trials_per_process": self.trials_per_process,
            "recycles": dict(supervisor.recycles) if supervisor else {},
        }

    def space_grew(self, phase: str, before: Sequence[str] = ()) -> dict[str, list[str]]:
        """The names `phase`'s space gained while other trials ran, with `before`'s."""
        grown = self.server.grown.get(phase, []) if self.server is not None else []
        names = sorted({*before, *grown})
        return {"space_grew": names} if names else {}

    def close(self, wait: float = 0.0) -> None:
        """Tells workers there is nothing left, stops local ones, closes the port.

        Args:
            wait: Seconds local workers get to leave on their own before they
                are terminated. Defaults to 0.
        """
        if self.server is not None:
            self.server.finish()
        if self.supervisor is not None:
            self.supervisor.stop(timeout=wait)
            self.supervisor = None
        if self.server is not None:
            self.server.stop()
            self.server = None
