"""A local worker that dies on one trial every time: the restarts and the final error name it.

The chief's oracle is a real KerasTuner one (its trial held for the worker's id, its
`trial.json`, its reload); the worker is a stand-in process that SIGKILLs itself, so no
model trains. `test_distributed.py` has the same with real workers (marked `long`).
"""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from types import SimpleNamespace

import keras
import keras_tuner as kt
import pytest

from tunekit.distribute.cluster import Cluster
from tunekit.distribute.runner import ChiefRunner
from tunekit.distribute.supervisor import MAX_RESTARTS, HeldTrial, LocalWorkers
from tunekit.errors import WorkerCrashError

_KILLED = f"import os, signal; os.kill(os.getpid(), signal.{signal.SIGKILL.name})"


def _build(hp: kt.HyperParameters) -> keras.Model:
    hp.Int("units", 8, 64, step=8)
    hp.Choice("activation", ["relu", "tanh"])
    hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")
    return keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])


def _tuner(directory: Path) -> kt.RandomSearch:
    return kt.RandomSearch(
        _build, objective="val_loss", max_trials=4, directory=str(directory), project_name="coarse"
    )


def test_a_worker_killed_on_one_trial_each_time_is_given_up_naming_that_trial(
    tmp_path: Path,
) -> None:
    """Before, the restarts and `WorkerCrashError` named only the worker and its exit status:
    not the trial handed back on each restart, which a rerun runs again."""
    tuner = _tuner(tmp_path)
    tuner.save()  # as the chief does before any trial (tunekit's `on_search_begin`)
    trial = tuner.oracle.create_trial("local0@coarse")  # handed to the worker, RUNNING
    values = trial.hyperparameters.values
    cluster = Cluster(role="chief", tuner_id="chief", workers=1)
    chief = ChiefRunner(cluster, {})
    chief.server = SimpleNamespace(tuner=tuner, phase="coarse", lock=threading.RLock())
    lines: list[str] = []
    workers = LocalWorkers(
        cluster, ["-c", _KILLED], tmp_path / "logs", write=lines.append, held=chief.held_trial
    ).start()
    with pytest.raises(WorkerCrashError) as raised:
        for _ in range(MAX_RESTARTS + 1):
            workers.procs["local0"].wait(30)
            workers.check()
    named = f"coarse trial (id {trial.trial_id}) with units={values['units']}, "
    named += f"activation={values['activation']!r}, learning_rate="
    restarts = [line for line in lines if "restarting it" in line]
    assert len(restarts) == MAX_RESTARTS
    for line in restarts:
        assert f"exited with status -9 while running {named}" in line, line
        assert f"KerasTuner hands coarse trial (id {trial.trial_id}) back to it" in line
    message = str(raised.value)
    record = tmp_path / "coarse" / f"trial_{trial.trial_id}" / "trial.json"
    assert f"worker local0 exited with status -9 while running {named}" in message
    tid = trial.trial_id  # running: no progress number yet (`tunekit.trial_names`)
    assert f"It died running coarse trial (id {tid}) all {MAX_RESTARTS + 1} times" in message
    assert f"a rerun of this command runs coarse trial (id {tid}) again" in message
    assert f"its record {record} stays RUNNING" in message
    assert json.loads(record.read_text())["status"] == "RUNNING"
    # What the message promises: the chief's rerun reloads the oracle and hands it out again.
    again = _tuner(tmp_path).oracle.create_trial("local0@coarse")
    assert (again.trial_id, again.hyperparameters.values) == (trial.trial_id, values)


def test_a_worker_that_died_holding_no_trial_is_said_so(tmp_path: Path) -> None:
    chief = ChiefRunner(Cluster(role="chief", tuner_id="chief", workers=1), {})
    chief.server = SimpleNamespace(tuner=_tuner(tmp_path), phase="coarse", lock=threading.RLock())
    lines: list[str] = []
    cluster = Cluster(role="chief", tuner_id="chief", workers=1)
    workers = LocalWorkers(
        cluster, ["-c", _KILLED], tmp_path / "logs", write=lines.append, held=chief.held_trial
    ).start()
    workers.procs["local0"].wait(30)
    workers.check()
    workers.stop(timeout=0)
    assert any(line.endswith("(restart 1/3); it held no trial.") for line in lines), lines


def test_a_worker_that_died_on_several_trials_names_each_in_order(tmp_path: Path) -> None:
    held = [None, *[HeldTrial("fine", f"000{i}", f"units={i}", "t.json") for i in (1, 2, 2)]]
    workers = LocalWorkers(
        Cluster(role="chief", tuner_id="chief", workers=1),
        ["-c", _KILLED],
        tmp_path,
        write=lambda text: None,
        held=lambda worker: held.pop(0),  # what it ran at each death, in turn
    ).start()
    with pytest.raises(WorkerCrashError) as raised:
        for _ in range(MAX_RESTARTS + 1):
            workers.procs["local0"].wait(30)
            workers.check()
    assert (
        "At its 4 deaths it was running, in order: no trial; fine trial (id 0001) with "
        "units=1; fine trial (id 0002) with units=2; fine trial (id 0002) with units=2: "
        "KerasTuner hands a dead worker's trial back, and a rerun of this command runs "
        "fine trial (id 0002) again"
    ) in str(raised.value)


_DOOMED = '''
import os
import signal

import keras
import keras_tuner


class Doomed(keras_tuner.HyperModel):
    """Its default configuration (doomed='yes', the first coarse trial) kills its worker."""

    def build(self, hp):
        units = hp.Int("units", 8, 32, step=8)
        hp.Choice("doomed", ["yes", "no"])
        model = keras.Sequential(
            [
                keras.Input((28, 28)),
                keras.layers.Flatten(),
                keras.layers.Dense(units, activation="relu"),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    def fit(self, hp, model, *args, **kwargs):
        worker = os.environ.get("KERASTUNER_TUNER_ID", "")
        if hp.get("doomed") == "yes" and worker.startswith("local"):
            os.kill(os.getpid(), signal.SIGKILL)
        return model.fit(*args, **kwargs)
'''


@pytest.mark.long  # a chief and 4 worker processes in turn (TensorFlow's import each)
def test_a_run_whose_worker_dies_on_one_trial_names_it_with_its_values(
    tmp_path: Path, small_npz: Path
) -> None:
    import subprocess
    import sys

    (tmp_path / "doomed.py").write_text(_DOOMED)
    args = ["--hypermodel", "doomed:Doomed", "--data", str(small_npz), "--workers", "1"]
    args += ["--trials-per-process", "50", "--coarse-trials", "3", "--coarse-epochs", "1"]
    args += ["--fine-tuner", "bayesian", "--fine-trials", "1", "--max-epochs", "1"]
    args += ["--final-epochs", "1", "--no-baseline", "--backend", "tensorflow"]
    args += ["--progress", "plain", "--project-name", "doomed"]
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("KERASTUNER_")}
    done = subprocess.run(
        [sys.executable, "-m", "tunekit.coarse_to_fine", *args],
        cwd=tmp_path,  # the hypermodel's module is found from there
        env={**env, "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=420,
    )
    out, err = done.stdout, done.stderr
    assert done.returncode == 1, err[-3000:]
    record = json.loads(
        (tmp_path / "runs" / "doomed" / "coarse" / "trial_0" / "trial.json").read_text()
    )
    assert record["status"] == "RUNNING"
    units = record["hyperparameters"]["values"]["units"]
    named = f"coarse trial (id 0) with units={units}, doomed='yes'"
    assert out.count(f"exited with status -9 while running {named}") == MAX_RESTARTS, out[-3000:]
    assert "KerasTuner hands coarse trial (id 0) back to it" in out
    assert f"WorkerCrashError: worker local0 exited with status -9 while running {named}" in err
    assert "It died running coarse trial (id 0) all 4 times" in err
    assert "a rerun of this command runs coarse trial (id 0) again" in err


def test_a_worker_does_not_score_a_trial_that_failed() -> None:
    """Probe D: with `--workers 2`, every trial whose build raised crashed its worker with
    "ValueError: Unknown metric: val_accuracy" (the worker scored the failed trial for the
    TensorBoard HParams table, which KerasTuner's `end_trial` does only for a COMPLETED
    one: a build's `ValueError` leaves it INVALID), and the next trial was left RUNNING."""

    from tunekit.tuners.base import TunekitTuner

    hp = kt.HyperParameters()
    hp.Int("units", 8, 64, default=16)

    class Oracle:
        def score_trial(self, trial):
            raise ValueError("Unknown metric: val_accuracy")  # as KerasTuner's, unmeasured

    class Worker:
        oracle = type("Client", (), {"_oracle": Oracle()})()

    for status in (kt.engine.trial.TrialStatus.INVALID, kt.engine.trial.TrialStatus.FAILED):
        running = kt.engine.trial.Trial(hp.copy(), trial_id="1", status="RUNNING")
        ended = kt.engine.trial.Trial(hp.copy(), trial_id="1", status=status)
        results = TunekitTuner._ended_results(Worker(), ended, running)  # type: ignore[arg-type]
        assert results.score is None and results.metrics == {}
    with pytest.raises(ValueError, match="Unknown metric"):  # a completed one is scored
        ended = kt.engine.trial.Trial(hp.copy(), trial_id="1", status="COMPLETED")
        TunekitTuner._ended_results(Worker(), ended, running)  # type: ignore[arg-type]
