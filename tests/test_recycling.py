"""`trials_per_process`: local worker processes replaced by fresh ones every N trials.

A long search in one process keeps what Keras, TensorFlow and JAX gather trial
after trial (`benchmarks/memory.py`); with `trials_per_process=N` a local
worker exits after N trials (status `EXIT_RECYCLE`) and its supervisor starts a
fresh process under the same id, which gets the trial it was handed back from
KerasTuner's oracle. The fast tests check each part without Keras; the slow
one runs the command line end to end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from keras_tuner.engine import hyperparameters as hp_module
from keras_tuner.engine import trial as trial_module

from tunekit._kerastuner import oracle_client
from tunekit.coarse_to_fine import main
from tunekit.distribute.cluster import EXIT_RECYCLE, RECYCLE_ENV, Cluster, cluster_from
from tunekit.distribute.supervisor import LocalWorkers
from tunekit.distribute.worker import ChiefConnection, RecycleProcess, _RelayingClient

RUNNING = trial_module.TrialStatus.RUNNING
STOPPED = trial_module.TrialStatus.STOPPED
IDLE = trial_module.TrialStatus.IDLE


def test_trials_per_process_makes_a_one_worker_chief_of_workers_1() -> None:
    assert cluster_from({}, workers=1).role == "single"
    chief = cluster_from({}, workers=1, trials_per_process=5)
    assert (chief.role, chief.workers, chief.ip) == ("chief", 1, "127.0.0.1")
    assert cluster_from({}, workers=3, trials_per_process=5).workers == 3
    worker_env = {
        "KERASTUNER_TUNER_ID": "local0",
        "KERASTUNER_ORACLE_IP": "127.0.0.1",
        "KERASTUNER_ORACLE_PORT": "9000",
    }
    assert cluster_from(worker_env, workers=1, trials_per_process=5).role == "worker"


def _client(limit: int | None, done: int, monkeypatch: Any, status: str) -> _RelayingClient:
    """A worker's KerasTuner client whose chief answers `status` (no gRPC)."""
    trial = trial_module.Trial(hp_module.HyperParameters(), trial_id="7", status=status)
    monkeypatch.setattr(oracle_client.OracleClient, "create_trial", lambda self, tuner_id: trial)
    connection = ChiefConnection.__new__(ChiefConnection)
    connection.cluster = Cluster(role="worker", tuner_id="local0")
    connection.trials_per_process = limit
    connection.trials_done = done
    connection.trial = None
    client = _RelayingClient.__new__(_RelayingClient)
    client._connection = connection
    client._phase = "coarse"
    return client


@pytest.mark.parametrize(
    "limit, done, status, recycles",
    [
        (None, 50, RUNNING, False),  # off: one process runs every trial
        (2, 1, RUNNING, False),  # under the limit
        (2, 2, RUNNING, True),  # at the limit: the trial goes to a fresh process
        (2, 3, RUNNING, True),
        (2, 2, STOPPED, False),  # the phase is over: no process started for nothing
        (2, 2, IDLE, False),  # the chief is busy: ask again
    ],
)
def test_a_worker_hands_the_trial_after_its_limit_to_a_fresh_process(
    monkeypatch: Any, limit: int | None, done: int, status: str, recycles: bool
) -> None:
    client = _client(limit, done, monkeypatch, status)
    if recycles:
        with pytest.raises(RecycleProcess, match=r"coarse trial \(id 7\) goes to a fresh process"):
            client.create_trial("local0@coarse")
        assert client._connection.trial is None  # not this process's trial any more
    else:
        assert client.create_trial("local0@coarse").status == status


def test_the_supervisor_replaces_a_recycled_worker_without_counting_a_restart(
    tmp_path: Path,
) -> None:
    # A stand-in worker: the first process exits EXIT_RECYCLE, the next one 0 (done).
    script = (
        "import os, pathlib, sys\n"
        f"log = pathlib.Path({str(tmp_path / 'pids')!r})\n"
        "with log.open('a') as f:\n"
        f'    f.write(f"{{os.getpid()}} {{os.environ.get({RECYCLE_ENV!r})}}\\n")\n'
        f"sys.exit(0 if len(log.read_text().splitlines()) > 1 else {EXIT_RECYCLE})\n"
    )
    cluster = Cluster(role="chief", tuner_id="chief", workers=1)
    workers = LocalWorkers(
        cluster, ["-c", script], tmp_path, trials_per_process=3, write=lambda text: None
    ).start()
    for _ in range(200):
        workers.check()
        if "local0" in workers.finished:
            break
        workers.procs["local0"].wait(10)
    assert workers.finished == {"local0"}
    assert workers.recycles == {"local0": 1} and workers.restarts == {}
    lines = [line.split() for line in (tmp_path / "pids").read_text().splitlines()]
    assert len(lines) == 2 and lines[0][0] != lines[1][0]  # two processes
    assert [limit for _, limit in lines] == ["3", "3"]  # each told its trials per process


def test_a_recycled_exit_status_without_the_setting_is_a_crash(tmp_path: Path) -> None:
    cluster = Cluster(role="chief", tuner_id="chief", workers=1)
    workers = LocalWorkers(
        cluster, ["-c", f"raise SystemExit({EXIT_RECYCLE})"], tmp_path, write=lambda text: None
    ).start()
    workers.procs["local0"].wait(30)
    workers.check()
    assert workers.restarts == {"local0": 1} and workers.recycles == {}
    workers.stop(timeout=0)


@pytest.mark.parametrize("value", ["0", "-3", "1.5", "two"])
def test_a_bad_trials_per_process_exits_2_naming_the_flag(
    tmp_path: Path, capsys: Any, value: str
) -> None:
    assert main(["--trials-per-process", value, "--directory", str(tmp_path / "runs")]) == 2
    assert "argument --trials-per-process: must be an int >= 1" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow  # 1-4 min of real processes (a chief and 3 worker processes in turn)
def test_a_run_with_trials_per_process_2_recycles_and_keeps_every_trial(
    tmp_path: Path, small_npz: Path
) -> None:
    args = ["--data", str(small_npz), "--trials-per-process", "2", "--finalists", "0"]
    args += ["--no-baseline", "--coarse-trials", "3", "--coarse-epochs", "1"]
    args += ["--fine-tuner", "bayesian", "--fine-trials", "2", "--max-epochs", "1"]
    args += ["--final-epochs", "1", "--backend", "tensorflow"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KERASTUNER_", "TUNEKIT_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "tunekit.coarse_to_fine", *args],
        cwd=tmp_path,
        env={**env, "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = tmp_path / "runs" / f"mnist-dense-{small_npz.stem}"
    for phase, expected in (("coarse", 3), ("fine", 2)):
        oracle = json.loads((run_dir / phase / "oracle.json").read_text())
        assert len(oracle["end_order"]) == len(set(oracle["end_order"])) == expected
        assert oracle["ongoing_trials"] == {}
    report = json.loads((run_dir / "report.json").read_text())
    facts = report["distributed"]
    assert facts["local_workers"] == 1 and facts["trials_per_process"] == 2
    # 5 trials, 2 per process: the 3rd and 5th went to fresh processes.
    assert facts["recycles"] == {"local0": 2} and facts["restarts"] == {}
    log = (run_dir / "workers" / "local0.log").read_text()
    assert log.count("joined the chief") == 3
    assert "Test: accuracy" in proc.stdout
