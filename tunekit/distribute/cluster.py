"""Who this process is in a distributed run, and the wire format chief and workers share.

tunekit distributes trials with KerasTuner's own engine: the chief serves the
oracle over gRPC and workers started with `KERASTUNER_TUNER_ID`,
`KERASTUNER_ORACLE_IP` and `KERASTUNER_ORACLE_PORT` ask it for trials. A
process is one of:

- `single`: no KerasTuner variables, `--workers 1` and no `--trials-per-process`:
  today's one-process run;
- `chief`: `KERASTUNER_TUNER_ID` contains `chief`, or `--workers N` (N > 1, or N = 1
  with `--trials-per-process`) without the variables (then on 127.0.0.1, a free port,
  N local workers);
- `worker`: any other `KERASTUNER_TUNER_ID`.

Workers ask for trials with the tuner id `<worker>@<phase>`, so a request
always says which phase it belongs to: a coarse request after the coarse
phase ended gets STOPPED, a fine request before the fine phase started gets
IDLE (KerasTuner's worker loop then asks again). A restarted worker reuses its
id and gets its unfinished trial back (KerasTuner's own rule).

This module imports no Keras and no gRPC.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tunekit.errors import PortInUseError, UsageError
from tunekit.processes import apply_process_limits, limits_env, thread_env, worker_cores

__all__ = [
    "Cluster",
    "PHASES",
    "PortInUseError",
    "check_port_free",
    "cluster_from",
    "apply_process_limits",
    "decode",
    "encode",
    "limits_env",
    "phase_tuner_id",
    "split_tuner_id",
    "thread_env",
    "worker_cores",
]

PHASES = ("coarse", "fine")
ENV_VARS = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")
# tunekit's own calls, served beside KerasTuner's Oracle service on the chief's port.
SERVICE = "tunekit.Cluster"
# A local worker that has run its `trials_per_process` trials exits with this status
# (EX_TEMPFAIL), and its supervisor starts a fresh process under the same id.
EXIT_RECYCLE = 75
# How a supervisor tells a local worker its `trials_per_process` (unset: no limit).
RECYCLE_ENV = "TUNEKIT_TRIALS_PER_PROCESS"
DEFAULT_CHIEF_TIMEOUT = 120.0
DEFAULT_WORKER_TIMEOUT = 300.0


@dataclass(frozen=True)
class Cluster:
    """This process's role in a (possibly distributed) run.

    Attributes:
        role: `"single"`, `"chief"` or `"worker"`.
        tuner_id: The worker id (`KERASTUNER_TUNER_ID`); `"chief"` on the chief.
        ip: Address the chief binds (chief) or connects to (worker).
        port: The chief's port; 0 asks the chief to pick a free one.
        workers: Local worker processes the chief starts and supervises.
        chief_timeout: Seconds a worker goes on without reaching the chief
            before it stops.
        worker_timeout: Seconds the chief waits for a silent worker holding a
            trial: a local worker is restarted, a remote one ends the run.
    """

    role: str = "single"
    tuner_id: str = "tuner0"
    ip: str = "127.0.0.1"
    port: int = 0
    workers: int = 1
    chief_timeout: float = DEFAULT_CHIEF_TIMEOUT
    worker_timeout: float = DEFAULT_WORKER_TIMEOUT

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"

    @property
    def connect_ip(self) -> str:
        """Where local workers reach a chief bound to `ip`."""
        return "127.0.0.1" if self.ip in ("0.0.0.0", "", "::", "[::]") else self.ip


def cluster_from(
    env: Mapping[str, str],
    *,
    workers: int = 1,
    port: int | None = None,
    chief_timeout: float | None = None,
    worker_timeout: float | None = None,
    trials_per_process: int | None = None,
) -> Cluster:
    """Works out this process's role from KerasTuner's variables and `--workers`.

    With `trials_per_process` set and no KerasTuner variables, even
    `workers=1` makes this process a chief: its one local worker runs the
    trials and is replaced by a fresh process every `trials_per_process`
    trials (the chief builds no model).

    Args:
        env: The environment (KerasTuner's variables).
        workers: `--workers` (default 1).
        port, chief_timeout, worker_timeout, trials_per_process: The flags as
            given; `None`: not given (the timeouts then default to 120 s and 300 s).

    Raises:
        ValueError: On inconsistent variables or flags, saying what to set; also
            (`UsageError`) a flag of a distributed run given where it cannot apply:
            `--port` or a timeout on a one-process run, `--trials-per-process` on a
            chief with `--workers 0` (no local worker to replace).
    """
    if workers < 0:
        raise ValueError(f"--workers must be >= 0. Received: {workers}.")
    given = _given_flags(
        port=port,
        chief_timeout=chief_timeout,
        worker_timeout=worker_timeout,
        trials_per_process=trials_per_process,
    )
    timeouts: dict[str, Any] = dict(
        chief_timeout=DEFAULT_CHIEF_TIMEOUT if chief_timeout is None else chief_timeout,
        worker_timeout=DEFAULT_WORKER_TIMEOUT if worker_timeout is None else worker_timeout,
    )
    present = [k for k in ENV_VARS if env.get(k)]
    if not present:
        if workers == 0:
            raise ValueError(
                "--workers 0 means a chief that only serves remote workers: set "
                "KERASTUNER_TUNER_ID=chief, KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT "
                "(see the README's 'Several machines')."
            )
        if workers == 1 and trials_per_process is None:
            if given:  # nothing would read them: refused, not ignored
                raise UsageError(
                    f"{_listed(given)} only {'apply' if len(given) > 1 else 'applies'} to a "
                    "distributed run, and this is a one-process run (--workers 1, no "
                    "--trials-per-process, no KERASTUNER_TUNER_ID): no chief listens on a "
                    "port and no worker is waited for. Drop "
                    f"{'them' if len(given) > 1 else 'it'}, or pass --workers N (N > 1) or "
                    "--trials-per-process N to run the trials in worker processes."
                )
            return Cluster(workers=1, **timeouts)
        return Cluster(
            role="chief",
            tuner_id="chief",
            ip="127.0.0.1",
            port=port or 0,
            workers=workers,
            **timeouts,
        )
    missing = [k for k in ENV_VARS if not env.get(k)]
    if missing:
        raise ValueError(
            f"Distributed tuning needs all of {', '.join(ENV_VARS)}; {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not set (set: {', '.join(present)})."
        )
    raw_port = env["KERASTUNER_ORACLE_PORT"]
    if not raw_port.isdigit() or not 0 < int(raw_port) < 65536:
        raise ValueError(
            f"KERASTUNER_ORACLE_PORT must be a port number in 1-65535. Received: {raw_port!r}."
        )
    env_port = int(raw_port)
    if port is not None and port != env_port:
        raise ValueError(
            f"--port {port} contradicts KERASTUNER_ORACLE_PORT={env_port}: drop one of them."
        )
    tuner_id = env["KERASTUNER_TUNER_ID"]
    ip = env["KERASTUNER_ORACLE_IP"]
    if "chief" in tuner_id:  # KerasTuner's own test (`dist_utils.is_chief_oracle`)
        if workers == 0 and trials_per_process is not None:
            raise UsageError(
                f"--trials-per-process {trials_per_process} replaces the chief's local "
                "worker processes, and --workers 0 starts none (a remote worker runs in the "
                "process you started, never replaced). Drop --trials-per-process, or pass "
                "--workers N to start N local workers besides the remote ones."
            )
        return Cluster(
            role="chief", tuner_id="chief", ip=ip, port=env_port, workers=workers, **timeouts
        )
    if "@" in tuner_id or "/" in tuner_id:
        raise ValueError(
            f"KERASTUNER_TUNER_ID must not contain '@' or '/' (tunekit appends "
            f"'@<phase>'). Received: {tuner_id!r}."
        )
    return Cluster(role="worker", tuner_id=tuner_id, ip=ip, port=env_port, workers=0, **timeouts)


def _given_flags(**values: Any) -> list[str]:
    """`--port 5555`, `--chief-timeout 3`: the flags given (not `None`), as typed."""
    return [
        f"--{name.replace('_', '-')} {value:g}"
        for name, value in values.items()
        if value is not None
    ]


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def check_port_free(ip: str, port: int) -> int:
    """Binds `ip:port` once to prove it is free; returns the port (a free one for 0).

    Raises:
        PortInUseError: Naming the port, when another process holds it.
    """
    family = socket.AF_INET6 if ":" in ip.strip("[]") else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # Like gRPC (minus SO_REUSEPORT): a killed chief's lingering connections do not
        # block its restart, a listening process does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((ip.strip("[]"), port))
        except OSError as e:
            raise PortInUseError(
                f"The chief cannot listen on {ip}:{port}: {e.strerror or e}. Another process "
                "holds that port (a previous chief still running?): stop it, or choose another "
                "port with --port / KERASTUNER_ORACLE_PORT."
            ) from None
        return sock.getsockname()[1]


def phase_tuner_id(worker: str, phase: str) -> str:
    return f"{worker}@{phase}"


def split_tuner_id(tuner_id: str) -> tuple[str, str | None]:
    """`"tuner0@fine"` -> `("tuner0", "fine")`; a plain KerasTuner id has no phase."""
    worker, sep, phase = tuner_id.rpartition("@")
    return (worker, phase) if sep else (tuner_id, None)


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, sort_keys=True, default=str).encode()


def decode(data: bytes) -> dict[str, Any]:
    return json.loads(data.decode() or "{}")
