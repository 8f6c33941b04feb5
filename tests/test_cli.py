"""The command line: `python -m tunekit.coarse_to_fine`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tunekit.coarse_to_fine import main

TINY = ["--coarse-trials", "3", "--coarse-epochs", "1", "--max-epochs", "2", "--factor", "2",
        "--top", "2", "--final-epochs", "1"]


def _run(args, cwd, timeout=300):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "tunekit.coarse_to_fine", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=timeout)


def test_help_runs_as_a_module(tmp_path):
    proc = _run(["--help"], cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    for flag in ("--hypermodel", "--data", "--coarse-trials", "--fine-tuner", "--top",
                 "--final-epochs", "--final-schedule", "--quick", "--overwrite", "--seed"):
        assert flag in proc.stdout
    assert "found in sys.modules" not in proc.stderr


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_user_build_function_end_to_end_as_a_subprocess(tmp_path, small_npz, backend):
    (tmp_path / "my_models.py").write_text(textwrap.dedent("""
        import keras

        def build(hp):
            model = keras.Sequential([
                keras.Input((28, 28)), keras.layers.Flatten(),
                keras.layers.Dense(hp.Int("units", 16, 128, step=16), activation="relu"),
                keras.layers.Dense(10, activation="softmax"),
            ])
            model.compile(optimizer=keras.optimizers.Adam(
                              hp.Float("lr", 1e-4, 1e-2, sampling="log")),
                          loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            return model
    """))
    args = ["--hypermodel", "my_models:build", "--data", str(small_npz),
            "--directory", "runs", *TINY, "--backend", backend]
    schedule = "constant" if backend == "jax" else "cosine"
    if backend == "jax":
        args += ["--final-schedule", "constant"]
    proc = _run(args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "[coarse] trial 3/3" in proc.stdout and "== Summary ==" in proc.stdout
    run_dir = tmp_path / "runs" / "my_models-build"
    report = json.loads((run_dir / "report.json").read_text())
    assert report["backend"] == backend
    assert report["config"]["hypermodel"]["class"] == "my_models.build"
    assert report["config"]["final_schedule"] == schedule
    assert 0 < report["test_metrics"]["accuracy"] <= 1
    frame = pd.read_csv(run_dir / "trials.csv")
    assert set(frame.phase) == {"coarse", "fine"}
    assert "hp_units" in frame
    # Saved under either backend, the model loads here (TensorFlow) and scores the same.
    import keras

    model = keras.models.load_model(run_dir / "best_model.keras", safe_mode=True)
    data = np.load(small_npz)
    accuracy = model.evaluate(data["x_test"] / 255.0, data["y_test"], verbose=0,
                              return_dict=True)["accuracy"]
    assert accuracy == pytest.approx(report["test_metrics"]["accuracy"], abs=2e-3)
    # HParams sessions are written by tunekit on both backends.
    assert list((run_dir / "tensorboard" / "coarse" / "0" / "execution0").glob("events.*"))
    if backend == "jax":
        return

    rerun = _run(args, cwd=tmp_path)  # resumes a finished run: no new trials
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "[coarse] trial" not in rerun.stdout
    assert pd.read_csv(run_dir / "trials.csv").equals(frame)


def _npz_missing_keys(tmp_path: Path) -> list[str]:
    path = tmp_path / "bad.npz"
    np.savez(path, x_train=np.zeros((10, 28, 28)))
    return ["--data", str(path)]


def _one_class_folder(tmp_path: Path) -> list[str]:
    (tmp_path / "images" / "only").mkdir(parents=True)
    return ["--data", str(tmp_path / "images")]


def _file_as_directory(tmp_path: Path) -> list[str]:
    (tmp_path / "a_file").write_text("x")
    return ["--directory", str(tmp_path / "a_file")]


@pytest.mark.parametrize("make_args, message", [
    (lambda p: ["--coarse-trials", "0"], "must be a positive integer"),
    (lambda p: ["--max-epochs", "-2"], "must be a positive integer"),
    (lambda p: ["--top", "1.5"], "fraction in (0, 1] or a positive count"),
    (lambda p: ["--top", "0"], "fraction in (0, 1] or a positive count"),
    (lambda p: ["--fine-tuner", "grid"], "invalid choice"),
    (lambda p: ["--hypermodel", "resnet"], "is not one of ['mnist-dense', 'toonvision-cnn']"),
    (lambda p: ["--hypermodel", "no_such_module:build"], "cannot import 'no_such_module'"),
    (lambda p: ["--hypermodel", "os:no_such_attribute"], "has no 'no_such_attribute'"),
    (lambda p: ["--hypermodel", "os:sep"], "not a keras_tuner.HyperModel"),
    (lambda p: ["--data", str(p / "missing.npz")], "does not exist"),
    (_npz_missing_keys, "y_train"),
    (_one_class_folder, "at least 2 class"),
    (_file_as_directory, "is a file, not a folder"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, make_args, message):
    args = make_args(tmp_path) + ["--backend", "tensorflow"]
    if "--directory" not in args:
        args += ["--directory", str(tmp_path / "runs")]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1, err
    assert not (tmp_path / "runs").exists()


def test_objective_the_model_never_reports_exits_2_naming_reported_metrics(tmp_path, capsys,
                                                                           small_npz):
    args = ["--data", str(small_npz), "--directory", str(tmp_path), "--objective", "val_auc",
            "--backend", "tensorflow", *TINY]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "val_auc" in err and "val_accuracy" in err


def test_changed_configuration_is_refused_with_exit_2(tmp_path, capsys, small_npz):
    base = ["--data", str(small_npz), "--directory", str(tmp_path), "--backend", "tensorflow",
            *TINY,
            "--coarse-trials", "3", "--top", "1"]
    # A manifest from an earlier run with another budget, without training anything:
    from tunekit.manifest import RunManifest

    from tunekit.coarse_to_fine import _load_data, _workflow_kwargs, build_parser, \
        resolve_hypermodel
    from tunekit.workflow import CoarseToFine

    args = build_parser().parse_args(base)
    data = _load_data(args)
    run = CoarseToFine(resolve_hypermodel(args.hypermodel)(data), data, **_workflow_kwargs(args))
    config = {**run.config(), "coarse_trials": 7}
    RunManifest.open(run.run_dir, config).release()
    assert main(base) == 2
    assert "coarse_trials: 7 -> 3" in capsys.readouterr().err


@pytest.mark.parametrize("objective", [["--objective", "val_custom_score"],
                                       ["--objective", "val_cosine_similarity"],
                                       ["--objective", "val_x:max", "--direction", "min"],
                                       ["--objective", "val_x:up"]])
def test_objective_of_unknown_direction_exits_2_before_probe_or_data(tmp_path, capsys,
                                                                       monkeypatch, objective):
    import tunekit.backends
    import tunekit.coarse_to_fine as cli

    def no_probe(*args, **kwargs):
        raise AssertionError("the backend probe ran before the objective was checked")

    monkeypatch.setattr(tunekit.backends, "choose_backend", no_probe)
    monkeypatch.setattr(cli, "_load_data", no_probe)
    assert main([*objective, "--directory", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--objective" in err, err
    assert "'max'" in err or ":max" in err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("objective, said", [
    (["--objective", "val_f1_score"], "Objective: val_f1_score (max: higher is better)"),
    (["--objective", "val_loss"], "Objective: val_loss (min: lower is better)"),
    (["--objective", "val_custom", "--direction", "max"],
     "Objective: val_custom (max: higher is better)"),
    (["--objective", "val_custom:min"], "Objective: val_custom (min: lower is better)"),
])
def test_direction_used_is_the_first_line_of_output(tmp_path, capsys, objective, said):
    missing = ["--data", str(tmp_path / "missing.npz"), "--backend", "tensorflow"]
    assert main([*objective, *missing]) == 2  # stops at the data, after saying the objective
    assert capsys.readouterr().out.splitlines()[0] == said
