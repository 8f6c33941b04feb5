"""Parallel and distributed tuning on KerasTuner's chief/worker engine, on loopback.

Every test runs real processes: a chief and workers of
`python -m tunekit.coarse_to_fine`, talking KerasTuner's gRPC protocol on
127.0.0.1, with a tiny budget. Faults are injected with `TUNEKIT_FAULT`
(`TUNEKIT_FAULT_ONCE` makes each fire in one process only).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tunekit.distribute.cluster import PortInUseError, check_port_free, cluster_from, split_tuner_id
from tunekit.errors import UsageError

TINY = [
    "--finalists",
    "0",
    "--no-baseline",
    "--coarse-trials",
    "6",
    "--coarse-epochs",
    "1",
    "--top",
    "3",
    "--final-epochs",
    "1",
    "--backend",
    "tensorflow",
]


def _env(**extra):
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("KERASTUNER_", "TUNEKIT_FAULT"))
    }
    env.update(TF_CPP_MIN_LOG_LEVEL="3", **extra)
    return env


def _start(args, cwd, **env):
    return subprocess.Popen(
        [sys.executable, "-m", "tunekit.coarse_to_fine", *args],
        cwd=cwd,
        env=_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc, timeout=240):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def _free_port() -> int:
    return check_port_free("127.0.0.1", 0)


def _trials(project: Path) -> dict[str, dict]:
    return {
        p.parent.name.removeprefix("trial_"): json.loads(p.read_text())
        for p in project.glob("trial_*/trial.json")
    }


def _wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _assert_each_trial_ran_once(run_dir: Path, phase: str, expected: int) -> dict[str, dict]:
    """The phase's oracle ended every trial exactly once and agrees with trials.csv."""
    oracle = json.loads((run_dir / phase / "oracle.json").read_text())
    trials = _trials(run_dir / phase)
    assert len(trials) == expected
    assert sorted(oracle["end_order"]) == sorted(trials)  # each ended once, none missing
    assert oracle["ongoing_trials"] == {}
    frame = pd.read_csv(run_dir / "trials.csv", dtype={"trial_id": str})
    rows = frame[frame.phase == phase]
    assert rows.trial_id.is_unique and sorted(rows.trial_id) == sorted(trials)
    for trial_id, trial in trials.items():
        assert rows[rows.trial_id == trial_id].iloc[0].status == trial["status"]
    return trials


# -- roles, no processes -----------------------------------------------------------------


def test_roles_from_kerastuner_variables_and_workers_flag():
    assert cluster_from({}).role == "single"
    local = cluster_from({}, workers=2)
    assert (local.role, local.ip, local.workers) == ("chief", "127.0.0.1", 2)
    env = {
        "KERASTUNER_TUNER_ID": "chief",
        "KERASTUNER_ORACLE_IP": "10.0.0.5",
        "KERASTUNER_ORACLE_PORT": "8000",
    }
    chief = cluster_from(env, workers=0)
    assert (chief.role, chief.address, chief.workers, chief.connect_ip) == (
        "chief",
        "10.0.0.5:8000",
        0,
        "10.0.0.5",
    )
    worker = cluster_from({**env, "KERASTUNER_TUNER_ID": "tuner3"})
    assert (worker.role, worker.tuner_id, worker.address) == ("worker", "tuner3", "10.0.0.5:8000")
    assert split_tuner_id("tuner3@fine") == ("tuner3", "fine")


@pytest.mark.parametrize(
    "env, kwargs, message",
    [
        ({"KERASTUNER_ORACLE_IP": "127.0.0.1"}, {}, "KERASTUNER_TUNER_ID, KERASTUNER_ORACLE_PORT"),
        (
            {
                "KERASTUNER_TUNER_ID": "t",
                "KERASTUNER_ORACLE_IP": "h",
                "KERASTUNER_ORACLE_PORT": "x",
            },
            {},
            "port number",
        ),
        (
            {
                "KERASTUNER_TUNER_ID": "a@b",
                "KERASTUNER_ORACLE_IP": "h",
                "KERASTUNER_ORACLE_PORT": "1",
            },
            {},
            "must not contain '@'",
        ),
        ({}, {"workers": 0}, "KERASTUNER_TUNER_ID=chief"),
    ],
)
def test_inconsistent_settings_are_named(env, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cluster_from(env, **kwargs)


@pytest.mark.parametrize(
    "flags, named",
    [
        (
            ["--workers", "1", "--port", "5555", "--chief-timeout", "3", "--worker-timeout", "3"],
            "--port 5555, --chief-timeout 3 and --worker-timeout 3 only apply to a "
            "distributed run, and this is a one-process run",
        ),
        (["--chief-timeout", "0.5"], "--chief-timeout 0.5 only applies to a distributed run"),
        (["--worker-timeout", "300"], "--worker-timeout 300 only applies"),  # the default, typed
        (["--port", "5555"], "--port 5555 only applies"),
    ],
)
def test_a_distributed_flag_on_a_one_process_run_exits_2_before_any_work(
    tmp_path, capsys, flags, named
):
    """Before, a one-process run took --port and the timeouts, ignored them and exited 0."""
    from tunekit.coarse_to_fine import main

    runs = tmp_path / "runs"
    code = main(["--data", str(tmp_path / "absent.npz"), "--directory", str(runs), *flags])
    err = capsys.readouterr().err
    assert code == 2 and named in err, err
    assert "Drop " in err and "--workers N (N > 1) or --trials-per-process N" in err
    assert "absent.npz" not in err  # refused before the data is even looked at
    assert not runs.exists()


def test_the_distributed_flags_left_out_or_where_a_chief_reads_them_are_taken():
    assert cluster_from({}, workers=1).role == "single"  # defaults: not refused
    assert cluster_from({}, workers=1, port=None, chief_timeout=None).chief_timeout == 120
    chief = cluster_from({}, workers=2, port=5555, chief_timeout=3, worker_timeout=4)
    assert (chief.role, chief.port, chief.chief_timeout, chief.worker_timeout) == (
        "chief",
        5555,
        3,
        4,
    )
    recycled = cluster_from({}, workers=1, port=5555, trials_per_process=5)
    assert (recycled.role, recycled.port) == ("chief", 5555)
    env = {"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": "8000"}
    # One command on every machine: a worker takes the chief's flags and the chief the
    # workers' (a local worker reruns its chief's command, --trials-per-process included).
    worker = cluster_from(
        {**env, "KERASTUNER_TUNER_ID": "tuner0"}, worker_timeout=9, trials_per_process=5
    )
    assert (worker.role, worker.chief_timeout) == ("worker", 120)
    assert cluster_from({**env, "KERASTUNER_TUNER_ID": "chief"}, chief_timeout=9).role == "chief"
    assert cluster_from({**env, "KERASTUNER_TUNER_ID": "chief"}, workers=2, trials_per_process=5)


def test_trials_per_process_on_a_chief_without_local_workers_is_refused():
    """Before, `--workers 0 --trials-per-process 5` on a chief replaced no process, silently."""
    env = {
        "KERASTUNER_TUNER_ID": "chief",
        "KERASTUNER_ORACLE_IP": "127.0.0.1",
        "KERASTUNER_ORACLE_PORT": "8000",
    }
    with pytest.raises(UsageError, match=r"--trials-per-process 5 replaces the chief's local"):
        cluster_from(env, workers=0, trials_per_process=5)


def test_chief_refuses_a_taken_port_naming_it(tmp_path, small_npz):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"127.0.0.1:{port}"):
            check_port_free("127.0.0.1", port)
        start = time.monotonic()
        code, out, err = _finish(
            _start(
                ["--data", str(small_npz), "--workers", "2", "--port", str(port), *TINY], tmp_path
            ),
            timeout=60,
        )
    assert code == 2
    assert f"127.0.0.1:{port}" in err and "--port" in err
    assert time.monotonic() - start < 30  # refused before any data or Keras work
    assert not (tmp_path / "runs").exists()


# -- one machine: --workers 2 ----------------------------------------------------------------


@pytest.mark.slow  # 50-100 s of real processes killed and restarted
def test_two_local_workers_run_every_trial_once_despite_a_killed_worker(tmp_path, small_npz):
    once = tmp_path / "faults"
    once.mkdir()
    args = ["--data", str(small_npz), "--workers", "2", "--max-epochs", "2", "--factor", "2", *TINY]
    # One coarse trial fails on a worker; one worker is SIGKILLed as it starts a fine trial.
    code, out, err = _finish(
        _start(
            args,
            tmp_path,
            TUNEKIT_FAULT="coarse.trial_start:2:raise,fine.trial_start:2",
            TUNEKIT_FAULT_ONCE=str(once),
        )
    )
    assert code == 0, err[-3000:] + out[-3000:]
    run_dir = tmp_path / "runs" / f"mnist-dense-{Path(small_npz).stem}"

    coarse = _assert_each_trial_ran_once(run_dir, "coarse", 6)
    failed = [t for t in coarse.values() if t["status"] == "FAILED"]
    assert len(failed) == 1 and "injected fault" in failed[0]["message"]
    # The worker's error text reached the chief's output and trials.csv.
    assert "FAILED on worker local" in out and "injected fault" in out
    frame = pd.read_csv(run_dir / "trials.csv", dtype={"trial_id": str})
    assert frame.error.fillna("").str.contains("injected fault").sum() == 1

    # The killed worker was restarted under its id and got its trial back.
    assert "restarting it under the same id" in out
    import keras_tuner as kt
    from keras_tuner.src.engine import oracle as _  # noqa: F401 (KerasTuner loads cleanly)

    hyperband = kt.oracles.HyperbandOracle(objective="val_accuracy", max_epochs=2, factor=2)
    from tunekit.progress import planned_trials

    fine = _assert_each_trial_ran_once(run_dir, "fine", planned_trials(hyperband))
    assert all(t["status"] == "COMPLETED" for t in fine.values())
    narrowed = json.loads((run_dir / "narrowed_space.json").read_text())
    assert narrowed  # the fine trials' space is the narrowed one (checked below)
    from tunekit.narrowing import NarrowedSpace

    space = {
        hp.name: hp
        for hp in NarrowedSpace.from_json(
            (run_dir / "narrowed_space.json").read_text()
        ).hyperparameters.space
    }
    for trial in fine.values():
        values = trial["hyperparameters"]["values"]
        for name, hp in space.items():
            if name in values and values[name] is not None:
                config = hp.get_config()
                if "min_value" in config:
                    assert config["min_value"] - 1e-9 <= values[name] <= config["max_value"] + 1e-9
                elif "values" in config:
                    assert values[name] in config["values"]
                elif "value" in config:
                    assert values[name] == config["value"]

    # Retrained and evaluated once, on the chief; every worker finished.
    assert out.count("Retraining ") == 1 and "== Summary ==" in out
    assert (run_dir / "best_model.keras").is_file()
    for worker in ("local0", "local1"):
        log = (run_dir / "workers" / f"{worker}.log").read_text()
        assert "the chief has no more trials; done." in log
    # Each worker ran with its share of the cores.
    threads = max(1, len(os.sched_getaffinity(0)) // 2)
    assert out.count(f"{threads} threads, tensorflow)") >= 2

    # Rerun when finished: nothing to search, so no chief serves and no worker starts.
    logs = {p.name: p.read_text() for p in (run_dir / "workers").glob("*.log")}
    code, out, err = _finish(_start(args, tmp_path))
    assert code == 0 and "already finished" in out, err[-3000:] + out[-3000:]
    assert "Chief: serving" not in out and "joined" not in out
    assert {p.name: p.read_text() for p in (run_dir / "workers").glob("*.log")} == logs


# -- several machines: a chief and workers started separately ----------------------------


@pytest.mark.slow  # 50-100 s of real processes killed and restarted
def test_remote_workers_survive_a_killed_chief_and_a_lost_worker_then_resume(tmp_path, small_npz):
    port = _free_port()
    base = [
        "--data",
        str(small_npz),
        "--fine-tuner",
        "bayesian",
        "--fine-trials",
        "3",
        "--max-epochs",
        "1",
        *TINY,
    ]
    kt_env = dict(KERASTUNER_ORACLE_IP="127.0.0.1", KERASTUNER_ORACLE_PORT=str(port))
    chief_args = [*base, "--workers", "0", "--worker-timeout", "6"]
    worker_args = [*base, "--chief-timeout", "5"]
    run_dir = tmp_path / "runs" / f"mnist-dense-{Path(small_npz).stem}"

    def chief(**env):
        return _start(chief_args, tmp_path, KERASTUNER_TUNER_ID="chief", **kt_env, **env)

    def worker(name, *extra, **env):
        return _start([*worker_args, *extra], tmp_path, KERASTUNER_TUNER_ID=name, **kt_env, **env)

    def completed(phase):
        return sum(t["status"] == "COMPLETED" for t in _trials(run_dir / phase).values())

    # 1. A worker with other settings is refused, naming the difference.
    c = chief()
    bad = worker("tuner9", "--seed", "1")
    code, _, err = _finish(bad, timeout=120)
    assert code == 2 and "(--seed: not given (default 0) -> 1)" in err

    # 2. The chief is killed mid-coarse: both workers stop within their timeout, naming it.
    # (tuner1 runs with --overwrite throughout: a worker never deletes the project.)
    w0, w1 = worker("tuner0"), worker("tuner1", "--overwrite")
    _wait_for(lambda: completed("coarse") >= 1, 120, "a completed coarse trial")
    c.send_signal(signal.SIGKILL)
    c.wait()
    killed_at = time.monotonic()
    for w in (w0, w1):
        code, _, err = _finish(w, timeout=60)
        assert code == 1 and f"cannot reach the chief at 127.0.0.1:{port}" in err, err[-2000:]
    assert time.monotonic() - killed_at < 5 + 20  # chief timeout + heartbeat + slack
    before = {k: v for k, v in _trials(run_dir / "coarse").items() if v["status"] == "COMPLETED"}
    assert before

    # 3. Rerun; a worker dies holding a trial and never comes back: the chief ends the run
    # after --worker-timeout, naming the trial and the worker.
    c = chief()
    once = tmp_path / "once"
    once.mkdir()
    w0 = worker("tuner0", TUNEKIT_FAULT="coarse.trial_start:1", TUNEKIT_FAULT_ONCE=str(once))
    code, out, err = _finish(c, timeout=120)
    assert code == 1, err[-2000:]
    assert "held by worker tuner0" in err and "--worker-timeout" in err
    assert _finish(w0)[0] == -signal.SIGKILL

    # 4. Rerun everything: the run resumes and completes; nothing completed was redone.
    c, w0, w1 = chief(), worker("tuner0"), worker("tuner1", "--overwrite")
    code, out, err = _finish(c)
    assert code == 0, err[-3000:]
    assert _finish(w0)[0] == 0 and _finish(w1)[0] == 0
    coarse = _assert_each_trial_ran_once(run_dir, "coarse", 6)
    for trial_id, trial in before.items():
        assert coarse[trial_id] == trial  # untouched by the resume and by --overwrite
    _assert_each_trial_ran_once(run_dir, "fine", 3)
    assert (run_dir / "best_model.keras").is_file()


@pytest.mark.long
def test_two_local_workers_on_jax(tmp_path, small_npz):
    args = [
        "--data",
        str(small_npz),
        "--workers",
        "2",
        "--finalists",
        "0",
        "--no-baseline",
        "--coarse-trials",
        "3",
        "--coarse-epochs",
        "1",
        "--fine-tuner",
        "bayesian",
        "--fine-trials",
        "2",
        "--max-epochs",
        "1",
        "--final-epochs",
        "1",
        "--backend",
        "jax",
    ]
    code, out, err = _finish(_start(args, tmp_path))
    assert code == 0, err[-3000:]
    run_dir = tmp_path / "runs" / f"mnist-dense-{Path(small_npz).stem}"
    _assert_each_trial_ran_once(run_dir, "coarse", 3)
    _assert_each_trial_ran_once(run_dir, "fine", 2)
    report = json.loads((run_dir / "report.json").read_text())
    assert report["backend"] == "jax"
    assert report["distributed"]["local_workers"] == 2
    assert sorted(report["distributed"]["workers_seen"]) == ["local0", "local1"]
    threads = max(1, len(os.sched_getaffinity(0)) // 2)  # each worker's share of the cores
    assert out.count(f"{threads} threads, jax)") == 2


@pytest.mark.slow  # 50-100 s of real processes killed and restarted
def test_killed_chief_takes_its_local_workers_down_and_a_rerun_resumes(tmp_path, small_npz):
    args = [
        "--data",
        str(small_npz),
        "--workers",
        "2",
        "--fine-tuner",
        "bayesian",
        "--fine-trials",
        "2",
        "--max-epochs",
        "1",
        *TINY,
    ]
    run_dir = tmp_path / "runs" / f"mnist-dense-{Path(small_npz).stem}"
    chief = _start(args, tmp_path)
    _wait_for(
        lambda: sum(t["status"] == "COMPLETED" for t in _trials(run_dir / "coarse").values()) >= 1,
        120,
        "a completed coarse trial",
    )
    chief.send_signal(signal.SIGKILL)
    out, _ = chief.communicate(timeout=30)
    pids = [
        int(line.split("(pid ")[1].split(",")[0])
        for line in out.splitlines()
        if line.startswith("Started worker")
    ]
    assert len(pids) == 2

    def gone(pid):
        try:
            return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] == "Z"
        except (FileNotFoundError, IndexError):
            return True

    _wait_for(lambda: all(gone(pid) for pid in pids), 15, "the workers to stop with their chief")
    before = {k: v for k, v in _trials(run_dir / "coarse").items() if v["status"] == "COMPLETED"}

    code, out, err = _finish(_start(args, tmp_path))
    assert code == 0, err[-3000:]
    coarse = _assert_each_trial_ran_once(run_dir, "coarse", 6)
    assert all(coarse[k] == v for k, v in before.items())
    _assert_each_trial_ran_once(run_dir, "fine", 2)


# -- from Python: CoarseToFine(..., workers=N) ---------------------------------------------


def _build_in_main(hp):  # made to look as if defined in __main__ (a script or a notebook)
    raise AssertionError("never built: refused before any trial")


def _unreachable_cases(monkeypatch):
    import keras

    from hypermodels import MnistDenseHyperModel

    main = sys.modules["__main__"]
    _build_in_main.__module__ = "__main__"
    monkeypatch.setattr(main, "_build_in_main", _build_in_main, raising=False)

    def local_build(hp):
        raise AssertionError("never built")

    holder = MnistDenseHyperModel()
    holder.preprocess = _build_in_main  # an importable class holding a __main__ function
    return [
        ("hypermodel", _build_in_main, {}, "__main__._build_in_main"),
        ("hypermodel", local_build, {}, "cannot be pickled"),
        ("hypermodel", lambda hp: None, {}, "cannot be pickled"),
        ("hypermodel", holder, {}, "__main__._build_in_main"),
        (
            "callbacks",
            MnistDenseHyperModel(),
            {"callbacks": [keras.callbacks.LambdaCallback(on_epoch_end=lambda *a: None)]},
            "cannot be pickled",
        ),
    ]


def test_workers_refuse_what_a_worker_process_cannot_rebuild(tmp_path, digits_small, monkeypatch):
    """Before any trial and before anything is written: a UsageError naming workers=."""
    from tunekit import CoarseToFine, TunekitError

    for argument, hypermodel, extra, reason in _unreachable_cases(monkeypatch):
        with pytest.raises(TunekitError) as info:
            CoarseToFine(
                hypermodel,
                digits_small,
                directory=tmp_path,
                project_name="p",
                coarse_trials=3,
                workers=2,
                **extra,
            )
        message = str(info.value)
        assert isinstance(info.value, ValueError)
        assert message.startswith("workers=: ") and f"`{argument}`" in message, message
        assert reason in message and "workers=1" in message, message
        assert not (tmp_path / "p").exists()
    for bad in (0, -1, True, 2.0):
        with pytest.raises(ValueError, match=r"`workers` must be an int >= 1.*workers="):
            CoarseToFine(_dense(), digits_small, directory=tmp_path, workers=bad)


def _dense():  # noqa: N802 - a short alias for the table above
    from hypermodels import MnistDenseHyperModel

    return MnistDenseHyperModel()


def test_the_worker_spec_round_trips_data_and_hypermodel(tmp_path, digits_small):
    """What local workers rebuild the run from: same data fingerprint, same settings."""
    from hypermodels import MnistDenseHyperModel
    from tunekit import CoarseToFine
    from tunekit.distribute.launch import local_chief
    from tunekit.distribute.spec import load_spec

    run = CoarseToFine(
        MnistDenseHyperModel(name="dense64"),
        digits_small,
        directory=tmp_path,
        project_name="p",
        coarse_trials=3,
        seed=4,
        fine_tuner="bayesian",
        top=2,
        finalists=0,  # settings the chief's config records only when not the default
        baseline=False,
        final_seeds=2,
        workers=2,
    )
    runner = local_chief(run, 2, run._worker_objects)  # writes the spec, starts nothing
    assert runner.server is None and runner.worker_command[-1].endswith("spec.pkl")
    factory, kwargs = load_spec(runner.worker_command[-1])
    rebuilt = factory(**kwargs)
    assert factory is CoarseToFine and rebuilt.workers == 1
    assert rebuilt.config() == run.config()  # what the chief checks at a worker's hello
    assert rebuilt.run_dir.resolve() == run.run_dir.resolve()
    assert rebuilt.data.fingerprint() == digits_small.fingerprint()


@pytest.mark.parametrize("form", ["regression", "dict_inputs", "one_hot"])
def test_workers_from_python_take_regression_dict_and_one_hot_arrays(tmp_path, form):
    """Before, `workers=2` refused them ("takes classification arrays with one input so
    far"): the workers' data.npz kept neither the task nor a dict of arrays."""
    import keras

    from hypermodels import DenseHyperModel
    from tunekit import CoarseToFine
    from tunekit.data import Dataset
    from tunekit.distribute.launch import local_chief
    from tunekit.distribute.spec import load_spec

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4)).astype("float32")
    if form == "regression":
        data = Dataset.from_arrays(x, x[:, 0] * 2.0 + 0.5)
        hypermodel = DenseHyperModel((4,), num_outputs=1, task="regression")
    elif form == "dict_inputs":
        data = Dataset.from_arrays({"a": x, "b": x[:, :2]}, np.arange(60) % 2)
        hypermodel = DenseHyperModel((4,), num_classes=2)  # the spec, not a trial, is tested
    else:
        data = Dataset.from_arrays(x, keras.utils.to_categorical(np.arange(60) % 3))
        hypermodel = DenseHyperModel((4,), num_classes=3)
    run = CoarseToFine(
        hypermodel, data, directory=tmp_path, project_name="p", coarse_trials=3, workers=2
    )
    runner = local_chief(run, 2, run._worker_objects)  # writes the spec, starts nothing
    factory, kwargs = load_spec(runner.worker_command[-1])
    rebuilt = factory(**kwargs)
    assert rebuilt.config() == run.config()  # what the chief checks at a worker's hello
    assert rebuilt.data.fingerprint() == data.fingerprint()
    assert (rebuilt.data.task, rebuilt.data.label_mode) == (data.task, data.label_mode)


@pytest.mark.slow
def test_workers_from_python_run_every_trial_on_two_local_workers(tmp_path, digits_small):
    from hypermodels import MnistDenseHyperModel
    from tunekit import CoarseToFine

    run = CoarseToFine(
        MnistDenseHyperModel(),
        digits_small,
        directory=tmp_path,
        project_name="p",
        coarse_trials=3,
        coarse_epochs=1,
        fine_tuner="bayesian",
        fine_trials=2,
        max_epochs=1,
        final_epochs=1,
        workers=2,
    )
    result = run.run()
    run_dir = tmp_path / "p"
    report = json.loads((run_dir / "report.json").read_text())
    assert report["distributed"]["local_workers"] == 2
    assert report["distributed"]["workers_seen"] == ["local0", "local1"]
    for phase, expected in (("coarse", 3), ("fine", 2)):
        oracle = json.loads((run_dir / phase / "oracle.json").read_text())
        trials = _trials(run_dir / phase)
        assert len(trials) == expected and sorted(oracle["end_order"]) == sorted(trials)
    for worker in ("local0", "local1"):
        log = (run_dir / "workers" / f"{worker}.log").read_text()
        assert "the chief has no more trials; done." in log, log[-2000:]
    assert 0.0 <= result.test_metrics["accuracy"] <= 1.0
    # The HParams table has each worker's trial with its score as trials.csv has it (the
    # workers write their sessions; the score is the chief's).
    from hparams_dashboard import dashboard

    from tunekit.results import trials_dataframe

    columns, shown = dashboard(run_dir / "tensorboard")
    assert columns[0] == "score"
    table = trials_dataframe(run_dir).set_index("trial")
    assert set(shown) == set(table.index)
    for trial, row in table.iterrows():
        assert shown[trial]["score"] == float(np.float32(row.score)), trial
    # The workers are gone and the port is closed once run() returns.
    assert run.runner.facts() is None


def test_command_line_workers_get_the_chiefs_backend_once(tmp_path, digits_small):
    """A worker log's resume command read `--backend jax --backend jax`; an abbreviated
    `--back jax` is replaced too (a second --backend is refused as given twice)."""
    from hypermodels import MnistDenseHyperModel
    from tunekit import CoarseToFine
    from tunekit.distribute.cluster import Cluster
    from tunekit.distribute.launch import cli_chief

    run = CoarseToFine(MnistDenseHyperModel(), digits_small, directory=tmp_path, workers=2)
    cluster = Cluster(role="chief", tuner_id="chief", ip="127.0.0.1", port=0, workers=2)
    for given in (
        ["--backend", "auto"],
        ["--backend=jax"],
        ["--back", "jax"],
        ["--backe=tensorflow"],
        [],
    ):
        argv = ["--data", "d.npz", *given, "--overwrite", "--seed", "3"]
        command = cli_chief(run, cluster, argv, "jax", quiet=True).worker_command
        assert command == ["-m", "tunekit.coarse_to_fine", "--data", "d.npz", "--seed", "3"] + [
            "--backend",
            "jax",
        ]


_ONE_NUMBER_FIT = """
import keras
import keras_tuner as kt


class ErrorFit(kt.HyperModel):
    def build(self, hp):
        model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten()])
        model.add(keras.layers.Dense(hp.Int("units", 4, 16, step=4), activation="relu"))
        model.add(keras.layers.Dense(10, activation="softmax"))
        model.compile("adam", "sparse_categorical_crossentropy")
        return model

    def fit(self, hp, model, *args, **kwargs):
        model.fit(*args, **kwargs)
        return 0.25  # one number: an error, or a score?
"""


@pytest.mark.slow  # two worker processes start (TensorFlow's import each)
def test_a_worker_stopped_by_the_runs_input_is_not_restarted_and_the_run_exits_2(
    tmp_path, small_npz
):
    """Before, a worker stopped by a refusal of the input (here: a fit's one number under
    the default objective) exited 1 and was restarted 3 times (about 65 s), then the run
    ended with "WorkerCrashError ... giving up" and a resume command."""
    (tmp_path / "onenumber.py").write_text(_ONE_NUMBER_FIT)
    args = ["--hypermodel", "onenumber:ErrorFit", "--data", str(small_npz), "--workers", "2"]
    args += ["--coarse-trials", "3", "--coarse-epochs", "1", "--max-epochs", "2"]
    code, out, err = _finish(_start(args, tmp_path))  # the module is found from cwd
    assert code == 2, err[-3000:]
    assert "stopped on the run's settings or input (exit 2)" in err
    assert "returned one number (0.25)" in err
    assert "restarting it" not in out + err
