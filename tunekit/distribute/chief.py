"""The chief of a distributed run: KerasTuner's oracle service, one phase at a time.

`OracleServer` serves KerasTuner's own gRPC `Oracle` service (its
`OracleServicer`, so KerasTuner's unmodified `OracleClient` on every worker
talks to it) for the coarse phase, then for the fine phase, on one port. Next
to it, on the same port, a small `tunekit.Cluster` service carries what
KerasTuner's messages cannot:

- `Hello`: a worker's run settings, refused when they differ from the chief's;
- `Heartbeat`: liveness both ways (a silent worker holding a trial is
  restarted, or ends the run; a worker that cannot reach the chief stops);
- `TrialMessage`: the error text of a trial that failed on a worker
  (KerasTuner's gRPC `Trial` has no field for it), kept in the chief's
  `trial.json` and printed.

Used by `CoarseToFine` on the chief (see `tunekit.workflow`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent import futures
from typing import Any

import grpc
from keras_tuner.engine import hyperparameters as hp_module
from keras_tuner.engine import trial as trial_module

from tunekit import interrupts
from tunekit._kerastuner import oracle_chief, protos
from tunekit.distribute.cluster import (
    PHASES,
    SERVICE,
    Cluster,
    PortInUseError,
    check_port_free,
    decode,
    encode,
    split_tuner_id,
)
from tunekit.distribute.protos import quiet_condition_protos
from tunekit.distribute.refusal import answer, refusal, said
from tunekit.distribute.space_growth import drawn_beside_others, grown_names
from tunekit.errors import WorkerLostError
from tunekit.progress import failure_reason
from tunekit.report_top import space_grew_note
from tunekit.trial_names import trial_name
from tunekit.tuners import end_failed_search

__all__ = ["OracleServer", "WorkerLostError"]

_logger = logging.getLogger(__name__)

_POLL = 0.2
_IDLE_WAIT = 0.3  # a worker asking too early waits this long before asking again


def _empty_trial(status: str) -> trial_module.Trial:
    return trial_module.Trial(
        hyperparameters=hp_module.HyperParameters(), trial_id="", status=status
    )


def _order(phase: str | None) -> int:
    return -1 if phase is None else (PHASES.index(phase) if phase in PHASES else len(PHASES))


class _PhaseServicer(oracle_chief.OracleServicer):
    """KerasTuner's servicer, routed by phase, with tunekit's bookkeeping."""

    def __init__(self, server: OracleServer) -> None:
        super().__init__(oracle=None)
        self.server = server

    # KerasTuner's Oracle service ------------------------------------------------

    def CreateTrial(self, request: Any, context: Any) -> Any:
        server = self.server
        worker, phase = split_tuner_id(request.tuner_id)
        server.touch(worker, context)
        if phase not in PHASES:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"tuner id {request.tuner_id!r}: tunekit workers ask as "
                "'<worker>@coarse' or '<worker>@fine'; start workers with "
                "python -m tunekit.coarse_to_fine",
            )
        with server.lock:
            current, oracle = server.phase, self.oracle
            if _order(phase) < _order(current):  # that phase is over: move on
                trial = _empty_trial(trial_module.TrialStatus.STOPPED)
            elif _order(phase) > _order(current) or oracle is None:
                trial = None
            else:
                trial = oracle.create_trial(request.tuner_id)
                if trial.status == trial_module.TrialStatus.STOPPED:
                    self.stop_triggered = True
                elif trial.status == trial_module.TrialStatus.RUNNING:
                    server.handed_out(worker, trial, oracle)
        if trial is None or trial.status == trial_module.TrialStatus.IDLE:
            time.sleep(_IDLE_WAIT)  # KerasTuner's worker loop asks again at once
            trial = trial or _empty_trial(trial_module.TrialStatus.IDLE)
        return protos.get_service().CreateTrialResponse(trial=trial.to_proto())

    def UpdateTrial(self, request: Any, context: Any) -> Any:
        with self.server.lock:
            self._check_running(request.trial_id, context)
            trial = self.oracle.update_trial(request.trial_id, request.metrics, step=request.step)
            return protos.get_service().UpdateTrialResponse(trial=trial.to_proto())

    def EndTrial(self, request: Any, context: Any) -> Any:
        server = self.server
        trial = trial_module.Trial.from_proto(request.trial)
        with server.lock:
            self._check_running(trial.trial_id, context)
            trial.message = server.messages.pop((server.phase, trial.trial_id), None)
            known = {hp.name for hp in self.oracle.hyperparameters.space}
            try:
                self.oracle.end_trial(trial)
                # KerasTuner saved the oracle before dropping the trial from the ongoing
                # ones (its tuner saves again afterwards): without this a reload retries it.
                self.oracle.save()
            except RuntimeError as e:  # KerasTuner's consecutive-failure stop, or its bookkeeping
                end_failed_search(self.oracle, trial, e)
                server.fatal = e
            server.trial_ended(self.oracle.trials[trial.trial_id])
            server.space_grew(self.oracle, known)
        return protos.get_service().EndTrialResponse()

    def GetTrial(self, request: Any, context: Any) -> Any:
        with self.server.lock:
            return super().GetTrial(request, context)

    def GetBestTrials(self, request: Any, context: Any) -> Any:
        with self.server.lock:
            return super().GetBestTrials(request, context)

    def GetSpace(self, request: Any, context: Any) -> Any:
        with self.server.lock:
            if self.oracle is None:
                context.abort(grpc.StatusCode.UNAVAILABLE, "no phase is running yet")
            return super().GetSpace(request, context)

    def UpdateSpace(self, request: Any, context: Any) -> Any:
        # The chief owns the space (the fine phase's is the narrowed one): ignored.
        return protos.get_service().UpdateSpaceResponse()

    def _check_running(self, trial_id: str, context: Any) -> None:
        oracle = self.oracle
        if oracle is None or trial_id not in {t.trial_id for t in oracle.ongoing_trials.values()}:
            context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"trial (id {trial_id}) is not running in the chief's {self.server.phase} phase",
            )


class OracleServer:
    """Serves each phase's oracle to workers; see the module docstring.

    Args:
        cluster: The chief's `Cluster` (address, timeouts).
        config: The run's settings (`CoarseToFine.config()`); a worker whose
            settings differ is refused, with the differences named.
        write: Where progress lines go. Defaults to the `tunekit.distribute.chief`
            logger (INFO).
    """

    def __init__(
        self,
        cluster: Cluster,
        config: dict[str, Any],
        *,
        write: Callable[[str], None] | None = None,
    ) -> None:
        quiet_condition_protos()
        self.cluster = cluster
        self.config = config
        self.write = write or _logger.info
        self.lock = threading.RLock()
        self.phase: str | None = None
        self.tuner = None
        self.listeners: Sequence[Callable] = ()
        self.messages: dict[tuple[str | None, str], str] = {}
        self.workers: dict[str, dict[str, Any]] = {}
        self.held: dict[str, tuple[str, float]] = {}  # trial id -> (worker, since)
        self.fatal: BaseException | None = None
        self.grown: dict[str, list[str]] = {}  # phase -> names its space gained mid-search
        self.beside: dict[str, list[str]] = {}  # phase -> trials drawn while an earlier ran
        self.command_line = False  # a run started on the command line: warnings name flags
        self.argv: list[str] | None = None  # its command line: a refusal names its options
        self.port = cluster.port
        self._servicer = _PhaseServicer(self)
        self._grpc: grpc.Server | None = None

    @property
    def address(self) -> str:
        return f"{self.cluster.ip}:{self.port}"

    def start(self) -> OracleServer:
        """Binds the port (refusing a taken one, by name) and starts serving."""
        self.port = check_port_free(self.cluster.ip, self.cluster.port)
        # No SO_REUSEPORT: a second chief on the same port must fail, not share it.
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=16), options=[("grpc.so_reuseport", 0)]
        )
        protos.get_service_grpc().add_OracleServicer_to_server(self._servicer, server)
        server.add_generic_rpc_handlers(
            [
                grpc.method_handlers_generic_handler(
                    SERVICE,
                    {
                        name: grpc.unary_unary_rpc_method_handler(
                            method, request_deserializer=decode, response_serializer=encode
                        )
                        for name, method in (
                            ("Hello", self._hello),
                            ("Heartbeat", self._heartbeat),
                            ("TrialMessage", self._trial_message),
                        )
                    },
                )
            ]
        )
        try:
            bound = server.add_insecure_port(self.address)
        except RuntimeError:
            bound = 0
        if not bound:
            raise PortInUseError(
                f"The chief cannot listen on {self.address}: choose another "
                "port with --port / KERASTUNER_ORACLE_PORT."
            )
        server.start()
        self._grpc = server
        return self

    def stop(self, grace: float = 1.0) -> None:
        if self._grpc is not None:
            self._grpc.stop(grace).wait()
            self._grpc = None

    # -- tunekit.Cluster calls --------------------------------------------------------

    def _hello(self, request: dict[str, Any], context: Any) -> dict[str, Any]:
        refused = refusal(self.config, request.get("config", {}), self.argv)
        worker = request.get("worker", "?")
        if refused is not None:  # said by the options typed on the command line
            argv = request.get("argv")
            text = said(refused, argv if isinstance(argv, list) else None)
            self.write(
                f"Refused worker {worker} ({context.peer()}): "
                + (text if self.command_line else str(refused))
            )
            return answer(refused)
        again = worker in self.workers
        self.touch(worker, context)
        text = (
            f"Worker {worker} joined from {context.peer()} "
            f"(pid {request.get('pid')}, {request.get('threads', '?')} threads, "
            f"{request.get('backend')})."
        )
        # A worker's later processes (restarted, recycled) rejoin quietly: its supervisor,
        # or its own log, says why.
        if again:
            _logger.debug(text)
        else:
            self.write(text)
        return {"phase": self.phase}

    def _heartbeat(self, request: dict[str, Any], context: Any) -> dict[str, Any]:
        self.touch(request.get("worker", "?"), context)
        return {"phase": self.phase}

    def _trial_message(self, request: dict[str, Any], context: Any) -> dict[str, Any]:
        with self.lock:
            self.messages[(request.get("phase"), request["trial_id"])] = request["message"]
        return {}

    # -- bookkeeping (called with the lock held or from one thread) --------------------

    def touch(self, worker: str, context: Any) -> None:
        with self.lock:
            self.workers.setdefault(worker, {})["seen"] = time.monotonic()
            self.workers[worker]["peer"] = context.peer()

    def handed_out(self, worker: str, trial: trial_module.Trial, oracle: Any = None) -> None:
        self.held[trial.trial_id] = (worker, time.monotonic())
        if oracle is not None and drawn_beside_others(oracle, trial.trial_id):
            self.beside.setdefault(str(self.phase), []).append(trial.trial_id)

    def space_grew(self, oracle: Any, known: set[str]) -> None:
        """Warns (once per name) when the trial that ended declared names that trials
        handed out while an earlier one ran were drawn without; `grown[phase]` keeps them."""
        new = grown_names(oracle, known, self.grown.get(str(self.phase), []))
        later = self.beside.get(str(self.phase), [])
        if new and later:
            self.grown[str(self.phase)] = [*self.grown.get(str(self.phase), []), *new]
            named = [trial_name(str(self.phase), oracle, t, ended_only=True) for t in later]
            note = space_grew_note(str(self.phase), new, named, command_line=self.command_line)
            _logger.warning(note)

    def trial_name(self, trial_id: str) -> str:
        """The phase's trial as `tunekit.trial_names` names it; trials end out of order here,
        so one still running has no progress number: `coarse trial (id 2, <its trial.json>)`."""
        tuner, phase = self.tuner, str(self.phase)
        oracle, where = getattr(tuner, "oracle", None), getattr(tuner, "project_dir", None)
        return trial_name(phase, oracle, trial_id, where, ended_only=True)

    def trial_ended(self, trial: trial_module.Trial) -> None:
        worker, _ = self.held.pop(trial.trial_id, ("?", 0.0))
        for listener in self.listeners:
            listener(self.tuner, trial)
        last = failure_reason(trial)
        if trial.status != trial_module.TrialStatus.COMPLETED and last:
            self.write(
                f"[{self.phase}] {self.trial_name(trial.trial_id)} {trial.status} on worker "
                f"{worker}: {last} (full text in trial.json, `error` in trials.csv)"
            )

    # -- phases -------------------------------------------------------------------------

    def serve_phase(
        self,
        phase: str,
        tuner: Any,
        *,
        listeners: Sequence[Callable[..., Any]] = (),
        supervisor: Any = None,
    ) -> None:
        """Serves `tuner`'s oracle until the phase's last trial has ended.

        Raises:
            WorkerLostError: A remote worker holding a trial went silent.
            RuntimeError: KerasTuner stopped the search (consecutive failures),
                or the local workers could not be kept running.
        """
        oracle = tuner.oracle
        oracle.verbose = 0
        with self.lock:
            self.phase, self.tuner, self.listeners = phase, tuner, tuple(listeners)
            self._servicer.oracle = oracle
            self._servicer.stop_triggered = False
            self.held = {
                t.trial_id: (split_tuner_id(tid)[0], time.monotonic())
                for tid, t in oracle.ongoing_trials.items()
            }
            self.phase_start = time.monotonic()
        waiting_said = False
        while True:
            with self.lock:
                if self.fatal is not None:
                    raise self.fatal
                if self._servicer.stop_triggered and not oracle.ongoing_trials:
                    return
            if supervisor is not None:
                supervisor.check()
            elif not waiting_said and not self.workers:
                self.write(f"[{phase}] waiting for workers on {self.address}")
                waiting_said = True
            self._check_silent(phase, supervisor)
            interrupts.check()
            time.sleep(_POLL)

    def finish(self) -> None:
        """Ends the last phase: every later request is told to stop."""
        with self.lock:
            self.phase, self._servicer.oracle = "done", None

    def _check_silent(self, phase: str, supervisor: Any) -> None:
        now = time.monotonic()
        timeout = self.cluster.worker_timeout
        with self.lock:
            stuck = []
            for trial_id, (worker, since) in self.held.items():
                seen = self.workers.get(worker, {}).get("seen", since)
                if now - max(seen, since) > timeout:
                    stuck.append((trial_id, worker, self.workers.get(worker, {}).get("peer")))
        for trial_id, worker, peer in stuck:
            if supervisor is not None and supervisor.owns(worker):
                # The supervisor names the trial it holds (`LocalWorkers.held`).
                supervisor.restart(worker, f"was silent for {timeout:.0f} s")
                with self.lock:
                    self.workers.setdefault(worker, {})["seen"] = time.monotonic()
                continue
            raise WorkerLostError(
                f"{self.trial_name(trial_id)} is held by worker {worker} "
                f"({peer or 'never seen'}), "
                f"which has not been heard from for more than {timeout:.0f} s "
                "(--worker-timeout). Nothing completed is lost: restart that worker with "
                f"KERASTUNER_TUNER_ID={worker} and rerun this command; the trial is handed out "
                "again."
            )
