"""With several workers trials end out of order: a message of `tunekit.distribute` names a
trial as `tunekit.trial_names` does, never by a number its progress line does not have.

Before, the supervisor's restart and `WorkerCrashError`, the chief's failed-trial line,
its silent-worker error and space-growth warning, and a worker's messages named a trial
by its KerasTuner id as if it were the progress line's number (`coarse trial 2` for id
2, whose line was `[coarse] trial 6/6 (id 2)`, while `trial 2/6` was id 1). A trial
not ended yet has no number: it is named by id (`coarse trial (id 2)`).

The chief's oracle is a real KerasTuner one; no model trains and no port is bound.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import keras
import keras_tuner as kt
import pytest
from keras_tuner.engine import trial as trial_module

from tunekit.distribute.chief import OracleServer, _PhaseServicer
from tunekit.distribute.cluster import Cluster
from tunekit.distribute.runner import ChiefRunner
from tunekit.distribute.supervisor import MAX_RESTARTS, LocalWorkers
from tunekit.distribute.worker import ChiefConnection
from tunekit.errors import WorkerCrashError, WorkerLostError
from tunekit.trial_names import progress_number, trial_name

_KILLED = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"


def _build(hp: kt.HyperParameters) -> keras.Model:
    hp.Int("units", 8, 64, step=8)
    return keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])


def _out_of_order(tmp_path: Path) -> kt.RandomSearch:
    """A chief's coarse oracle: ids 0, 1, 2 handed to local0, local2, local1; 1 then 0
    ended (their lines `trial 1/..` and `trial 2/..`); local1 still runs id 2."""
    tuner = kt.RandomSearch(
        _build, objective="val_loss", max_trials=6, directory=str(tmp_path), project_name="coarse"
    )
    tuner.save()
    trials = [tuner.oracle.create_trial(f"{w}@coarse") for w in ("local0", "local2", "local1")]
    assert [t.trial_id for t in trials] == ["0", "1", "2"]
    for trial in (trials[1], trials[0]):
        tuner.oracle.update_trial(trial.trial_id, {"val_loss": 1.0})
        trial.status = trial_module.TrialStatus.COMPLETED
        tuner.oracle.end_trial(trial)
    assert tuner.oracle.end_order == ["1", "0"]
    return tuner


def test_a_running_trial_has_no_progress_number_when_trials_end_out_of_order(
    tmp_path: Path,
) -> None:
    oracle = _out_of_order(tmp_path).oracle
    assert progress_number(oracle, "0", ended_only=True) == 2
    assert progress_number(oracle, "2", ended_only=True) is None
    assert progress_number(oracle, "2") == 3  # one process: the next line's number
    assert trial_name("coarse", oracle, "2", ended_only=True) == "coarse trial (id 2)"
    assert trial_name("coarse", oracle, "1", ended_only=True) == "coarse trial 1 (id 1)"


def test_a_worker_killed_on_a_trial_started_out_of_order_is_named_by_its_id(
    tmp_path: Path,
) -> None:
    """The probe's case: local1 killed running id 2 while ids 1 and 0 had ended."""
    tuner = _out_of_order(tmp_path)
    units = tuner.oracle.trials["2"].hyperparameters.values["units"]
    cluster = Cluster(role="chief", tuner_id="chief", workers=2)
    chief = ChiefRunner(cluster, {})
    chief.server = SimpleNamespace(tuner=tuner, phase="coarse", lock=threading.RLock())
    lines: list[str] = []
    workers = LocalWorkers(
        cluster, ["-c", _KILLED], tmp_path / "logs", write=lines.append, held=chief.held_trial
    )
    workers.log_dir.mkdir()
    workers._spawn("local1")  # local0 is not needed here
    with pytest.raises(WorkerCrashError) as raised:
        for _ in range(MAX_RESTARTS + 1):
            workers.procs["local1"].wait(30)
            workers.check()
    restarts = [line for line in lines if "restarting it" in line]
    assert len(restarts) == MAX_RESTARTS
    for line in restarts:
        assert f"while running coarse trial (id 2) with units={units};" in line, line
        assert line.endswith("KerasTuner hands coarse trial (id 2) back to it."), line
    message = str(raised.value)
    record = tmp_path / "coarse" / "trial_2" / "trial.json"
    assert "local1 exited with status -9 while running coarse trial (id 2) with units=" in message
    assert f"It died running coarse trial (id 2) all {MAX_RESTARTS + 1} times" in message
    assert f"a rerun of this command runs coarse trial (id 2) again (its record {record}" in message
    for said in (*restarts, message):  # no number that is not its line's
        assert "coarse trial 2" not in said and "coarse trial 3" not in said, said


def _server(tuner: Any, **cluster: Any) -> OracleServer:
    server = OracleServer(Cluster(role="chief", tuner_id="chief", **cluster), {})
    server.phase, server.tuner = "coarse", tuner
    return server


def test_the_chiefs_line_on_a_failed_trial_gives_its_progress_number_and_id(
    tmp_path: Path,
) -> None:
    tuner = _out_of_order(tmp_path)
    trial = tuner.oracle.trials["2"]
    trial.status = trial_module.TrialStatus.FAILED
    trial.message = "Traceback (most recent call last):\nValueError: injected fault"
    tuner.oracle.end_trial(trial)  # the third to end: its line is `trial 3/..`
    lines: list[str] = []
    server = _server(tuner)
    server.write = lines.append
    server.held = {"2": ("local1", 0.0)}
    server.trial_ended(tuner.oracle.trials["2"])
    record = tmp_path / "coarse" / "trial_2" / "trial.json"
    assert lines == [
        f"[coarse] coarse trial 3 (id 2, {record}) FAILED on worker local1: ValueError: "
        "injected fault (full text in trial.json, `error` in trials.csv)"
    ]


def test_a_silent_remote_worker_is_named_with_its_running_trial_by_id(tmp_path: Path) -> None:
    tuner = _out_of_order(tmp_path)
    server = _server(tuner, worker_timeout=1.0)
    server.held = {"2": ("remote7", 0.0)}
    with pytest.raises(WorkerLostError) as raised:
        server._check_silent("coarse", None)
    record = tmp_path / "coarse" / "trial_2" / "trial.json"
    assert str(raised.value).startswith(f"coarse trial (id 2, {record}) is held by worker remote7")


def test_a_trial_the_chief_does_not_run_is_named_by_id(tmp_path: Path) -> None:
    class Aborted(Exception):
        pass

    def abort(code: Any, text: str) -> None:
        raise Aborted(text)

    servicer = _PhaseServicer(_server(_out_of_order(tmp_path)))
    servicer.oracle = servicer.server.tuner.oracle
    with pytest.raises(Aborted, match=r"^trial \(id 1\) is not running in the chief's coarse"):
        servicer._check_running("1", SimpleNamespace(abort=abort))


def test_the_space_growth_warning_names_the_trials_drawn_beside_others(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tuner = _out_of_order(tmp_path)
    server = _server(tuner)
    server.beside = {"coarse": ["1", "2"]}  # id 1 ended first, id 2 still runs
    with caplog.at_level(logging.WARNING, logger="tunekit.distribute.chief"):
        server.space_grew(tuner.oracle, set())
    assert "; coarse trial 1 (id 1), coarse trial (id 2) drawn while an earlier" in caplog.text


def test_a_workers_messages_name_its_trial_by_id() -> None:
    connection = ChiefConnection.__new__(ChiefConnection)
    connection.cluster = Cluster(role="worker", tuner_id="local1", port=9000)
    connection.trial, connection.trial_phase = "0007", "fine"
    assert " while running fine trial (id 0007); stopping." in connection.lost_message()
    lines: list[str] = []
    connection.write = lines.append
    connection._call = lambda *args, **kwargs: {}
    connection.report("coarse", "2", "Traceback ...\nValueError: bad")
    assert lines == ["worker local1: coarse trial (id 2) failed: ValueError: bad"]
