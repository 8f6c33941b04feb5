"""A worker's line to the chief: hello, heartbeat, failed-trial messages.

KerasTuner's `OracleClient` carries the trials; `ChiefConnection` adds what a
worker needs to behave well around it:

- `hello()` waits (at most `chief_timeout`) for the chief, and is refused when
  this worker's run settings differ from the chief's;
- a heartbeat thread: a worker that cannot reach the chief for
  `chief_timeout` seconds prints the chief's address and exits with status 1,
  even in the middle of a trial (KerasTuner's own client would wait an hour
  per call); KerasTuner's per-call timeout is lowered to the same bound;
- `client(tuner, phase)`: KerasTuner's client, which also sends a failed
  trial's error text to the chief before ending the trial;
- `trials_per_process`: once this process has ended that many trials, the
  next trial the chief hands out raises `RecycleProcess` instead of running;
  the trial stays this worker id's (KerasTuner hands a tuner id its unfinished
  trial again), so the fresh process its supervisor starts runs it. A phase's
  end (STOPPED) or a wait (IDLE) passes through: no process is started for
  nothing at the end of a run.

A worker's message names a trial as `tunekit.trial_names` does, by id: its progress
number is the trial's place among the phase's ended trials, which only the chief
knows (`coarse trial (id 7)`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import grpc
from keras_tuner.engine import trial as trial_module

from tunekit._kerastuner import oracle_client
from tunekit.distribute.cluster import SERVICE, Cluster, decode, encode, phase_tuner_id
from tunekit.distribute.protos import quiet_condition_protos
from tunekit.distribute.refusal import from_answer
from tunekit.errors import ChiefUnreachableError, WorkerRefusedError
from tunekit.trial_names import trial_name

__all__ = ["ChiefConnection", "ChiefUnreachableError", "RecycleProcess", "WorkerRefusedError"]

_logger = logging.getLogger(__name__)

EXIT_CHIEF_LOST = 1


class RecycleProcess(Exception):  # noqa: N818 (a signal to exit, not an error)
    """This worker has run its `trials_per_process` trials: exit, a fresh process goes on."""


class _RelayingClient(oracle_client.OracleClient):
    """KerasTuner's client; a failed trial's message reaches the chief first."""

    def __init__(self, oracle: Any, connection: ChiefConnection, phase: str) -> None:
        super().__init__(oracle)
        self._connection = connection
        self._phase = phase

    def create_trial(self, tuner_id: str) -> Any:
        trial = super().create_trial(tuner_id)
        connection = self._connection
        limit = connection.trials_per_process
        if (
            limit is not None
            and connection.trials_done >= limit
            and trial.status == trial_module.TrialStatus.RUNNING
        ):
            raise RecycleProcess(
                f"{connection.trials_done} trials run in this process (trials_per_process="
                f"{limit}); its {trial_name(self._phase, None, trial.trial_id)} goes to a "
                "fresh process"
            )
        connection.trial = trial.trial_id or None
        connection.trial_phase = self._phase
        return trial

    def end_trial(self, trial: Any) -> Any:
        if trial.message:
            self._connection.report(self._phase, trial.trial_id, trial.message)
        super().end_trial(trial)
        self._connection.trial = None
        self._connection.trials_done += 1


class ChiefConnection:
    """See the module docstring.

    Args:
        cluster: This worker's `Cluster` (chief address, its id, timeouts).
        config: The run's settings, checked by the chief.
        trials_per_process: Trials this process runs before it hands the next
            one to a fresh process (`RecycleProcess`); `None`: no limit.
        write: Where messages go. Defaults to the `tunekit.distribute.worker` logger
            (WARNING; the command line prints those on stderr).
        argv: This worker's command line, sent with its settings (None from Python).
    """

    def __init__(
        self,
        cluster: Cluster,
        config: dict[str, Any],
        *,
        trials_per_process: int | None = None,
        write: Callable[[str], None] | None = None,
        argv: list[str] | None = None,
    ) -> None:
        quiet_condition_protos()
        self.cluster = cluster
        self.config = config
        self.argv = argv
        self.trials_per_process = trials_per_process
        self.trials_done = 0
        self.write = write or _logger.warning
        self.trial: str | None = None  # the id of the trial this process runs
        self.trial_phase = ""  # its phase
        self._channel = grpc.insecure_channel(cluster.address)
        self._calls = {
            name: self._channel.unary_unary(
                f"/{SERVICE}/{name}", request_serializer=encode, response_deserializer=decode
            )
            for name in ("Hello", "Heartbeat", "TrialMessage")
        }
        self._stop = threading.Event()
        # KerasTuner's client waits up to an hour per call; bound it like the heartbeat.
        oracle_client.TIMEOUT = max(1, int(cluster.chief_timeout))

    def _call(
        self, name: str, message: dict[str, Any], *, timeout: float, wait: bool = False
    ) -> dict[str, Any]:
        return self._calls[name](message, timeout=timeout, wait_for_ready=wait)

    def hello(self) -> dict[str, Any]:
        """Waits for the chief and registers; raises if refused or unreachable."""
        try:
            answer = self._call(
                "Hello",
                {
                    "worker": self.cluster.tuner_id,
                    "config": self.config,
                    "argv": self.argv,
                    "pid": os.getpid(),
                    "threads": os.environ.get(
                        "TUNEKIT_WORKER_THREADS", len(os.sched_getaffinity(0))
                    ),
                    "backend": os.environ.get("KERAS_BACKEND"),
                },
                timeout=self.cluster.chief_timeout,
                wait=True,
            )
        except grpc.RpcError as e:
            raise ChiefUnreachableError(self.lost_message(e)) from None
        if "error" in answer:
            raise from_answer(answer)  # with its changes: said by the options typed
        return answer

    def lost_message(self, error: Any = None, *, waited: bool = True) -> str:
        """What a worker says when it gives up on the chief."""
        detail = f" ({error.code().name})" if isinstance(error, grpc.RpcError) else ""
        waited_text = f" for {self.cluster.chief_timeout:.0f} s" if waited else ""
        named = trial_name(self.trial_phase, None, self.trial) if self.trial else ""
        trial = f" while running {named}" if named else ""
        return (
            f"worker {self.cluster.tuner_id}: cannot reach the chief at "
            f"{self.cluster.address}{detail}{waited_text}{trial}; stopping. Nothing "
            "completed is lost: restart the chief, then this worker with the same "
            "command, and the run resumes."
        )

    def start_heartbeat(self, interval: float = 2.0) -> None:
        """Starts the thread that stops this process when the chief is gone."""
        interval = min(interval, self.cluster.chief_timeout / 4)

        def beat() -> None:
            last_ok = time.monotonic()
            while not self._stop.wait(interval):
                try:
                    self._call(
                        "Heartbeat",
                        {"worker": self.cluster.tuner_id, "trial": self.trial},
                        timeout=interval * 2,
                    )
                    last_ok = time.monotonic()
                except grpc.RpcError as e:
                    if time.monotonic() - last_ok > self.cluster.chief_timeout:
                        self.write(self.lost_message(e))
                        os._exit(EXIT_CHIEF_LOST)  # the main thread may be deep in a fit

        threading.Thread(target=beat, name="tunekit-heartbeat", daemon=True).start()

    def report(self, phase: str, trial_id: str, message: str) -> None:
        try:
            self._call(
                "TrialMessage",
                {
                    "worker": self.cluster.tuner_id,
                    "phase": phase,
                    "trial_id": trial_id,
                    "message": message,
                },
                timeout=self.cluster.chief_timeout,
                wait=True,
            )
        except grpc.RpcError:
            pass  # the trial's end, sent next, reports the lost chief
        self.write(
            f"worker {self.cluster.tuner_id}: {trial_name(phase, None, trial_id)} failed: "
            f"{message.strip().splitlines()[-1]}"
        )

    def client(self, tuner: Any, phase: str) -> None:
        """Points a worker tuner at the chief for `phase` (in place)."""
        tuner.oracle = _RelayingClient(getattr(tuner.oracle, "_oracle", tuner.oracle), self, phase)
        tuner.tuner_id = phase_tuner_id(self.cluster.tuner_id, phase)

    def close(self) -> None:
        self._stop.set()
        self._channel.close()
