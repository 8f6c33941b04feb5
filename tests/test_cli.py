"""The command line: `python -m tunekit.coarse_to_fine`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tunekit.coarse_to_fine import main

TINY = [
    "--finalists",
    "0",
    "--no-baseline",
    "--coarse-trials",
    "3",
    "--coarse-epochs",
    "1",
    "--max-epochs",
    "2",
    "--factor",
    "2",
    "--top",
    "2",
    "--final-epochs",
    "1",
]


def _tiny(**overrides: str) -> list[str]:
    """TINY with some of its values replaced (`top="1"`): an option given twice exits 2."""
    args = list(TINY)
    for name, value in overrides.items():
        args[args.index(f"--{name.replace('_', '-')}") + 1] = value
    return args


def _run(args, cwd, timeout=300):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, "-m", "tunekit.coarse_to_fine", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_help_runs_as_a_module(tmp_path):
    proc = _run(["--help"], cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    for flag in (
        "--hypermodel",
        "--data",
        "--coarse-trials",
        "--fine-tuner",
        "--top",
        "--final-epochs",
        "--final-schedule",
        "--quick",
        "--overwrite",
        "--seed",
    ):
        assert flag in proc.stdout
    assert "found in sys.modules" not in proc.stderr


# The JAX run is `slow` here because `.ci/run` runs it on its own with Keras on JAX (`-m ""`).
@pytest.mark.parametrize("backend", ["tensorflow", pytest.param("jax", marks=pytest.mark.slow)])
def test_user_build_function_end_to_end_as_a_subprocess(tmp_path, small_npz, backend):
    (tmp_path / "my_models.py").write_text(
        textwrap.dedent("""
        import keras

        def build(hp):
            model = keras.Sequential([
                keras.Input((28, 28)), keras.layers.Flatten(),
                keras.layers.Dense(hp.Int("units", 16, 128, step=16), activation="relu"),
                keras.layers.Dense(10, activation="softmax"),
            ])
            model.compile(optimizer=keras.optimizers.Adam(
                              hp.Float("lr", 1e-3, 1e-2, sampling="log")),
                          loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            return model
    """)
    )
    args = [
        "--hypermodel",
        "my_models:build",
        "--data",
        str(small_npz),
        "--directory",
        "runs",
        *TINY,
        "--backend",
        backend,
    ]
    schedule = "constant" if backend == "jax" else "cosine"
    if backend == "jax":
        args += ["--final-schedule", "constant"]
    proc = _run(args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "[coarse] trial 3/3" in proc.stdout and "== Summary ==" in proc.stdout
    run_dir = tmp_path / "runs" / f"my_models-build-{Path(small_npz).stem}"
    report = json.loads((run_dir / "report.json").read_text())
    # The summary (every trial learns in one epoch at these learning rates; trials at
    # chance would keep the whole space): the narrowing table is printed once (when
    # made), then counted; the choice says why without repeating the trial; the whole
    # command's time is given.
    summary = proc.stdout.split("== Summary ==")[1].splitlines()
    assert proc.stdout.count("before") >= 1 and sum("->" in line for line in summary) == 1
    assert any(re.match(r"Narrowing: \d of 2 hyperparameters narrowed", line) for line in summary)
    best = report["best"]
    (chosen,) = [line for line in summary if line.startswith("Chosen: ")]
    # numbered as its progress line was (`[fine] trial 2/3 (id 1): ...`)
    (line,) = re.findall(
        rf"\[{best['phase']}\] trial (\d+)/\d+ \(id {best['trial_id']}\)", proc.stdout
    )
    assert chosen.startswith(f"Chosen: {best['phase']} trial {line} (id {best['trial_id']}): ")
    assert (
        f"**Chosen:** {best['phase']} trial {line} (id {best['trial_id']})"
        in (run_dir / "report.md").read_text()
    )
    # not "trial 3 (best trial 3 ...)": the reason names only the other phase's trial
    assert not re.search(rf"{best['phase']} trial \d* ?\(id {best['trial_id']}\)", best["reason"])
    assert best["reason"].startswith("val_accuracy=")
    (time_line,) = [line for line in summary if line.startswith("Time: ")]
    total = float(re.search(r"this command (\d+)s in all", time_line).group(1))
    assert total >= sum(report["timings"].values()) - 1
    assert report["backend"] == backend
    # The process's XLA flags, for the record (tunekit leaves XLA's defaults alone).
    assert report["xla_flags"] == (os.environ.get("XLA_FLAGS") or None)
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
    accuracy = model.evaluate(data["x_test"] / 255.0, data["y_test"], verbose=0, return_dict=True)[
        "accuracy"
    ]
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


def _runs_inside_image_folder(tmp_path: Path) -> list[str]:
    """`--data .` from inside an image folder with the default `--directory runs`: the run's
    plots became images of a class 'runs' on the next run (with --overwrite, exit 0)."""
    from PIL import Image

    for name in ("a", "b"):
        (tmp_path / "images" / name).mkdir(parents=True)
        for i in range(3):
            Image.new("L", (8, 8), 40 * i).save(tmp_path / "images" / name / f"{i}.png")
    return ["--data", str(tmp_path / "images"), "--directory", str(tmp_path / "images" / "runs")]


def _tab_separated_file(tmp_path: Path) -> list[str]:
    """A .tsv was read as a broken .npz ("its content is not a NumPy archive")."""
    (tmp_path / "iris.tsv").write_text("a\tb\tspecies\n1.0\t2.0\tx\n")
    return ["--data", str(tmp_path / "iris.tsv")]


def _gzipped_csv(tmp_path: Path) -> list[str]:
    """With --target, a .csv.gz was told --target applies only to a CSV."""
    import gzip

    with gzip.open(tmp_path / "iris.csv.gz", "wt") as handle:
        handle.write("a,b,species\n1.0,2.0,x\n")
    return ["--data", str(tmp_path / "iris.csv.gz"), "--target", "species"]


def _cnn_on_a_csv(tmp_path: Path) -> list[str]:
    """The refusal named Python classes (MnistDenseHyperModel) to a command-line user."""
    rows = [f"{i % 7}.5,{i % 3}.0,{'ab'[i % 2]}" for i in range(40)]
    (tmp_path / "rows.csv").write_text("a,b,kind\n" + "\n".join(rows) + "\n")
    return [
        "--data",
        str(tmp_path / "rows.csv"),
        "--target",
        "kind",
        "--hypermodel",
        "toonvision-cnn",
    ]


def _one_number_per_sample(tmp_path: Path) -> list[str]:
    """An .npz of x (n,) failed in the hypermodel: "input_shape ... Received: input_shape=()"."""
    y = np.arange(60) % 2
    x = np.linspace(0, 1, 60)
    np.savez(tmp_path / "flat.npz", x_train=x[:40], y_train=y[:40], x_test=x[40:], y_test=y[40:])
    return ["--data", str(tmp_path / "flat.npz")]


def _file_as_directory(tmp_path: Path) -> list[str]:
    (tmp_path / "a_file").write_text("x")
    return ["--directory", str(tmp_path / "a_file")]


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda p: ["--coarse-trials", "0"], "argument --coarse-trials: must be an int >= 3"),
        (lambda p: ["--max-epochs", "-2"], "argument --max-epochs: must be an int >= 1"),
        (lambda p: ["--top", "1.5"], "int >= 1 (a count) or a float in (0, 1] (a fraction)"),
        (lambda p: ["--top", "0"], "int >= 1 (a count) or a float in (0, 1] (a fraction)"),
        (lambda p: ["--fine-tuner", "grid"], "invalid choice"),
        (
            lambda p: ["--hypermodel", "resnet"],
            "is not one of ['mnist-dense', 'dense', 'toonvision-cnn']",
        ),
        (
            lambda p: ["--hypermodel", "mnist_dense"],
            "nor of the form package.module:attribute. Did you mean 'mnist-dense'?",
        ),
        (lambda p: ["--hypermodel", "no_such_module:build"], "cannot import 'no_such_module'"),
        (lambda p: ["--hypermodel", "os:no_such_attribute"], "has no 'no_such_attribute'"),
        (lambda p: ["--hypermodel", "os:sep"], "not a keras_tuner.HyperModel"),
        (lambda p: ["--data", str(p / "missing.npz")], "does not exist"),
        (_npz_missing_keys, "y_train"),
        (_one_class_folder, "at least 2 class"),
        (_file_as_directory, "is a file, not a folder"),
        (_runs_inside_image_folder, "is inside the image folder --data"),
        (_cnn_on_a_csv, "shape (2,), not (height, width) or (height, width, channels): for "),
        (_one_number_per_sample, "one number per sample (x of shape (n,))"),
        (_tab_separated_file, "is text (columns separated by tabs), not a .npz archive"),
        (_gzipped_csv, "is gzip-compressed text, not a .npz archive; tunekit reads tables"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, make_args, message):
    args = make_args(tmp_path) + ["--backend", "tensorflow"]
    if "--directory" not in args:
        args += ["--directory", str(tmp_path / "runs")]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1, err
    assert not (tmp_path / "runs").exists()


def _csv(tmp_path: Path, header: str, rows: list[str], target: str) -> list[str]:
    (tmp_path / "t.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    return ["--data", str(tmp_path / "t.csv"), "--target", target]


def _image_folder(tmp_path: Path, stray: dict[str, bytes]) -> list[str]:
    from PIL import Image

    for name in ("a", "b"):
        (tmp_path / "images" / name).mkdir(parents=True)
        for i in range(8):
            Image.new("L", (8, 8), 30 * i).save(tmp_path / "images" / name / f"{i}.png")
    for relative, content in stray.items():
        (tmp_path / "images" / relative).write_bytes(content)
    return ["--data", str(tmp_path / "images")]


@pytest.mark.parametrize(
    "make_args, said",
    [
        pytest.param(  # the CLI spelling, not only Python's task='classification'
            lambda p: _csv(p, "x,quality", [f"{i},{3 + i % 6}" for i in range(30)], "quality"),
            ["pass --task classification to take each value", "or --task regression if"],
            id="whole_number_target",
        ),
        pytest.param(  # was read as two columns, 'a' and 'a.1' (exit 0)
            lambda p: _csv(p, "a,b,a", [f"{i},{i},{i % 2}" for i in range(30)], "a"),
            ["its header names a column more than once: 'a' and 'a' (columns 1, 3)"],
            id="repeated_column_name",
        ),
        pytest.param(  # the Python advice was said as "load_csv(path, --target ['a, 'b'])"
            lambda p: _csv(p, "a,b,c", [f"{i},{i},{i % 2}" for i in range(30)], "b,c"),
            ["pass a list from Python: load_csv(path, ['b', 'c']) (the command line's --target"],
            id="several_targets",
        ),
        pytest.param(  # left out of the data (exit 0)
            lambda p: _image_folder(p, {"a/scan.tif": b"II*", "b/photo.WEBP": b"RIFF"}),
            ["2 image(s) in", "a format Keras cannot decode", "'a/scan.tif', 'b/photo.WEBP'"],
            id="images_keras_cannot_decode",
        ),
        pytest.param(  # left out of the data (exit 0)
            lambda p: _image_folder(p, {"loose.png": b"", "README.txt": b"ignored"}),
            ["1 image(s) directly in", "in no class subfolder", ": 'loose.png'. Move each"],
            id="image_in_no_class",
        ),
        pytest.param(  # a PNG without a suffix was left out of the data (exit 0)
            lambda p: _image_folder(p, {"b/scan": b"\x89PNG\r\n\x1a\n" + bytes(24)}),
            ["1 image(s) in", "'b/scan' (a PNG: name it .png)", "move them out"],
            id="image_without_a_suffix",
        ),
        pytest.param(  # said "(8 missing)", not that the cells hold the text 'NA'
            lambda p: _csv(
                p, "x,depth", [f"{i},{'NA' if i % 4 else i}" for i in range(30)], "depth"
            ),
            ["column(s) 'depth' (22 missing: cells holding the text 'NA') have missing values"],
            id="na_text_in_a_numeric_target",
        ),
        pytest.param(  # a depth-1 tree on 'id' alone scored 1.0 (exit 0)
            lambda p: _csv(
                p, "id,x,t", [f"{(7 * i) % 30},{i % 5},{i % 2}" for i in range(30)], "t"
            ),
            ["column 'id' looks like a row identifier", "drop(columns=['id'])"],
            id="id_column",
        ),
        pytest.param(  # its first row was read as names: "a column named more than once"
            lambda p: _csv(p, "0,1,0", [f"{i % 3},{i},{i % 2}" for i in range(30)], "label"),
            ["its first row looks like data", "(then --target c2 if the last column is"],
            id="no_header_row",
        ),
    ],
)
def test_data_a_loader_would_change_exits_2_saying_it_in_flags(tmp_path, capsys, make_args, said):
    args = make_args(tmp_path) + ["--backend", "tensorflow", "--directory", str(tmp_path / "runs")]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for text in said:
        assert text in err, err
    assert "task=" not in err and "target=" not in err, err
    assert not (tmp_path / "runs").exists()


def test_hypermodel_class_needing_arguments_exits_2_saying_to_expose_an_instance(
    tmp_path, capsys, monkeypatch, small_npz
):
    (tmp_path / "needs_args.py").write_text(
        textwrap.dedent(
            """
            import keras_tuner as kt

            class Wide(kt.HyperModel):
                def __init__(self, width, depth):
                    super().__init__()
                    self.width, self.depth = width, depth
            """
        )
    )
    monkeypatch.chdir(tmp_path)  # the CLI imports the module from the current folder
    args = ["--hypermodel", "needs_args:Wide", "--data", str(small_npz)]
    args += ["--directory", str(tmp_path / "runs"), "--backend", "tensorflow", *TINY]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert (
        "cannot create Wide with input_shape=, num_classes= nor with input_shape= nor with no "
        "argument"
    ) in err
    assert "missing 2 required positional arguments: 'width' and 'depth'" in err
    assert "`hypermodel = Wide(...)`" in err
    assert "--hypermodel needs_args:hypermodel" in err
    assert not (tmp_path / "runs").exists()


def test_a_hypermodel_module_that_raises_on_import_exits_2_naming_it(
    tmp_path, capsys, monkeypatch, small_npz
):
    """Before: a traceback and exit 1 (any error but an ImportError)."""
    (tmp_path / "raises_on_import.py").write_text(
        'SETTINGS = {}\nUNITS = SETTINGS["units"]\n\n\ndef build(hp):\n    return None\n'
    )
    monkeypatch.chdir(tmp_path)
    args = ["--hypermodel", "raises_on_import:build", "--data", str(small_npz)]
    args += ["--directory", str(tmp_path / "runs"), "--backend", "tensorflow", *TINY]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "importing 'raises_on_import' raised KeyError: 'units'" in err
    assert "raises_on_import.py, line 2)" in err
    assert not (tmp_path / "runs").exists()


def test_a_hypermodel_class_taking_only_input_shape_is_built_with_it(tmp_path, monkeypatch):
    from tunekit.data import Dataset
    from tunekit.hypermodel_specs import resolve_hypermodel

    (tmp_path / "only_shape.py").write_text(
        textwrap.dedent(
            """
            import keras_tuner as kt

            class OnlyInputShape(kt.HyperModel):
                def __init__(self, input_shape):
                    super().__init__()
                    self.input_shape = input_shape
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    data = Dataset.from_arrays(np.zeros((60, 5), "float32"), np.arange(60) % 2)
    assert resolve_hypermodel("only_shape:OnlyInputShape")(data).input_shape == (5,)


@pytest.mark.long
def test_objective_the_model_never_reports_exits_2_naming_reported_metrics(
    tmp_path, capsys, small_npz
):
    args = [
        "--data",
        str(small_npz),
        "--directory",
        str(tmp_path),
        "--objective",
        "val_acuracy:max",  # a typo
        "--backend",
        "tensorflow",
        *TINY,
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    # Before any trial, from the default configuration's model evaluated on two samples
    # (before, the first trial trained and then was refused; earlier still, 3 trials
    # trained, then TrialsFailedError and exit 1).
    said = "error: The objective 'val_acuracy' is not among the metrics the model reports"
    assert said in err
    assert "['accuracy', 'loss', 'val_accuracy', 'val_loss']" in err
    assert "Did you mean 'val_accuracy'?" in err
    assert "compile the model with the metric you mean" in err
    assert not list(tmp_path.rglob("trial.json"))  # no trial ran
    assert not list(tmp_path.rglob("manifest.json"))  # nor was a run folder written
    assert "named by a hyperparameter's value" not in err
    # The corrected command runs in the same folder (once refused as "another
    # configuration", and `tunekit ls` called it interrupted).
    fixed = [*args[: args.index("--objective")], *args[args.index("--objective") + 2 :]]
    assert main(fixed) == 0, capsys.readouterr().err


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("VAL_ACCURACY", "val_accuracy"),
        ("Val_accuracy", "val_accuracy"),
        ("validation_accuracy", "val_accuracy"),
        ("val-accuracy", "val_accuracy"),
        ("val.accuracy", "val_accuracy"),  # probe J: a trial trained before its refusal
        ("VAL_LOSS", "val_loss"),
    ],
)
def test_an_objective_spelt_in_another_case_or_with_dashes_exits_2_before_training(
    tmp_path, capsys, small_npz, typed, meant
):
    """Probe I: only names written `val_...` were checked before training; `VAL_ACCURACY`
    trained a trial, then stopped with exit 2 and left a failed run folder behind."""
    direction = "min" if meant == "val_loss" else "max"
    args = ["--data", str(small_npz), "--directory", str(tmp_path), "--objective"]
    args += [f"{typed}:{direction}", "--backend", "tensorflow", *TINY]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"error: The objective {typed!r} is not among the metrics the model reports" in err
    assert f"Did you mean {meant!r}?" in err
    assert not list(tmp_path.rglob("trial.json")) and not list(tmp_path.rglob("manifest.json"))


def test_changed_configuration_is_refused_with_exit_2(tmp_path, capsys, small_npz):
    base = [
        "--data",
        str(small_npz),
        "--directory",
        str(tmp_path),
        "--backend",
        "tensorflow",
        *_tiny(top="1"),
    ]
    # A manifest from an earlier run with another budget, with a finished step (a run
    # with nothing finished starts over instead):
    from tunekit.coarse_to_fine import (
        _load_data,
        _workflow_kwargs,
        build_parser,
        resolve_hypermodel,
    )
    from tunekit.manifest import RunManifest
    from tunekit.workflow import CoarseToFine

    args = build_parser().parse_args(base)
    data = _load_data(args)
    run = CoarseToFine(resolve_hypermodel(args.hypermodel)(data), data, **_workflow_kwargs(args))
    config = {**run.config(), "coarse_trials": 7}
    manifest = RunManifest.open(run.run_dir, config)
    manifest.mark("coarse", "done")
    manifest.mark("narrow", "done")  # (before it, a budget may change: the search goes on)
    manifest.release()
    assert main(base) == 2
    assert "--coarse-trials: 7 -> 3" in capsys.readouterr().err


# --------------------------------------------------------------------------- data from the file


def _shapes_npz(path: Path, num_classes: int, per_class: int = 40) -> Path:
    """uint8 8x8 images whose class is the bright row band: easy, any number of classes."""
    rng = np.random.default_rng(0)

    def split(n):
        y = np.arange(n) % num_classes
        x = rng.integers(0, 60, (n, 8, 8)).astype(np.uint8)
        for i, label in enumerate(y):
            x[i, (label * 8) // num_classes] = 250
        return x, y

    (x, y), (x_test, y_test) = split(num_classes * per_class), split(num_classes * 10)
    np.savez(path, x_train=x, y_train=y, x_test=x_test, y_test=y_test)
    return path


def _read_report(run_dir: Path) -> dict:
    return json.loads((run_dir / "report.json").read_text())


@pytest.mark.long
def test_binary_sigmoid_model_report_matches_sklearn(tmp_path, capsys, monkeypatch):
    (tmp_path / "binary_models.py").write_text(
        textwrap.dedent("""
        import keras

        def build(hp):
            model = keras.Sequential([
                keras.Input((8, 8)), keras.layers.Flatten(),
                keras.layers.Dense(hp.Int("units", 8, 32, step=8), activation="relu"),
                keras.layers.Dense(1, activation="sigmoid"),
            ])
            model.compile(optimizer=keras.optimizers.Adam(hp.Choice("lr", [1e-2, 3e-3])),
                          loss="binary_crossentropy", metrics=["accuracy"])
            return model
    """)
    )
    data = _shapes_npz(tmp_path / "two.npz", num_classes=2)
    args = [
        "--hypermodel",
        "binary_models:build",
        "--data",
        str(data),
        "--directory",
        str(tmp_path / "runs"),
        "--backend",
        "tensorflow",
        "--batch-size",
        "32",
        *TINY,
    ]
    monkeypatch.chdir(tmp_path)  # the CLI imports the module from the current folder
    assert main(args) == 0, capsys.readouterr().err
    run_dir = tmp_path / "runs" / "binary_models-build-two"
    import keras
    from sklearn.metrics import confusion_matrix

    model = keras.models.load_model(run_dir / "best_model.keras", safe_mode=True)
    test = np.load(data)
    probability = model.predict(test["x_test"] / np.float32(255), verbose=0)[:, 0]
    expected = confusion_matrix(test["y_test"], (probability > 0.5).astype(int))
    counts = np.array(_read_report(run_dir)["confusion_matrix"]["counts"])
    np.testing.assert_array_equal(counts, expected)
    assert counts[:, 1].sum() > 0  # argmax over (n, 1) predicted class 0 for every sample


# --------------------------------------------------------------------------- model vs data

_WRONG_WIDTH = """
    import keras

    def dense5(hp):
        model = keras.Sequential([keras.Input((8, 8)), keras.layers.Flatten(),
                                  keras.layers.Dense(hp.Int("units", 8, 16, step=8)),
                                  keras.layers.Dense(5, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return model

    def lazy_one_unit(hp):  # no Input: Keras builds it on its first batch
        model = keras.Sequential([keras.layers.Flatten(),
                                  keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        return model

    def wrong_input(hp):  # 64 features declared; the samples are 8x8 images
        model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return model

    def uncompiled(hp):
        return keras.Sequential([keras.Input((8, 8)), keras.layers.Flatten(),
                                 keras.layers.Dense(10, activation="softmax")])

    def default_raises(hp):  # KerasTuner declares the space by building the defaults
        if hp.Int("units", 8, 16, step=8) == 8:
            raise ValueError("8 units cannot be built")
        return dense5(hp)

    def logit_accuracy(hp):  # one logit, and Keras's accuracy thresholds it at 0.5
        model = keras.Sequential([keras.Input((8, 8)), keras.layers.Flatten(),
                                  keras.layers.Dense(1)])
        model.compile(optimizer="adam",
                      loss=keras.losses.BinaryCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        return model
"""


@pytest.mark.parametrize(
    "attribute, classes, message",
    [
        ("dense5", 10, "outputs 5 units per sample but the data has 10 classes"),
        ("lazy_one_unit", 3, "outputs 1 unit per sample but the data has 3 classes"),
        (
            "wrong_input",
            10,
            "takes inputs of shape (64,) (its Input), but each sample of x_train has shape (8, 8)",
        ),
        ("uncompiled", 10, "is not compiled. Call model.compile("),
        (
            "default_raises",
            10,
            "build raised ValueError: 8 units cannot be built (at wrong_models.py:",
        ),
        ("logit_accuracy", 2, "its metric 'accuracy' thresholds the output at 0.5"),
    ],
)
def test_model_output_that_does_not_fit_the_classes_exits_2_before_training(
    tmp_path, capsys, monkeypatch, attribute, classes, message
):
    (tmp_path / "wrong_models.py").write_text(textwrap.dedent(_WRONG_WIDTH))
    monkeypatch.chdir(tmp_path)
    # a validation split of 2 or more (a sixth of the training set; 1 sample is refused)
    per_class = 4 if classes > 2 else 6
    data = _shapes_npz(tmp_path / "data.npz", num_classes=classes, per_class=per_class)
    args = [
        "--hypermodel",
        f"wrong_models:{attribute}",
        "--data",
        str(data),
        "--directory",
        str(tmp_path / "runs"),
        "--backend",
        "tensorflow",
        *TINY,
    ]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    # Besides the error, only the warning that these few samples' random validation split
    # lacks classes (said before any check of the model).
    lines = [line for line in err.splitlines() if not line.startswith("The validation split")]
    assert message in err and len(lines) == 1, err
    assert not (tmp_path / "runs").exists()  # nothing trained, no run folder


_NAN_MODEL = """
    import keras

    def nan_weights(hp):  # every trial's loss is NaN at its first batch
        model = keras.Sequential([
            keras.Input((8, 8)), keras.layers.Flatten(),
            keras.layers.Dense(hp.Int("units", 4, 8), activation="relu"),
            keras.layers.Dense(3, activation="softmax",
                               kernel_initializer=keras.initializers.Constant(float("nan")))])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return model
"""


def test_a_phase_whose_every_trial_failed_says_what_a_rerun_does(tmp_path, capsys, monkeypatch):
    """Before, the message said "rerun with --overwrite" and the next line "resume with"
    a command that reloads the same failed trials and fails again."""
    (tmp_path / "nan_models.py").write_text(textwrap.dedent(_NAN_MODEL))
    monkeypatch.chdir(tmp_path)
    data = _shapes_npz(tmp_path / "data.npz", num_classes=3, per_class=8)
    args = ["--hypermodel", "nan_models:nan_weights", "--data", str(data)]
    args += ["--directory", str(tmp_path / "runs"), "--backend", "tensorflow", *TINY]
    args += ["--max-consecutive-failed-trials", "5"]  # KerasTuner's limit would stop at 3
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "No coarse trial completed with a finite val_accuracy (3 ran" in err, err
    assert "(a changed hypermodel starts over: pass --overwrite)" in err, err
    assert "rerun as it is: the coarse search starts again from its first trial" in err, err
    assert "start over with another seed (--seed 1 with --overwrite)" in err, err
    assert "resume with" not in err.lower(), err


_BREAKS_PAST_DEFAULTS = """
    import keras

    def build(hp):  # the defaults build; every other configuration raises
        units = hp.Int("units", 4, 64, default=4)
        if units != 4:
            raise ValueError(f"no room for units={units}")
        model = keras.Sequential([keras.Input((8, 8)), keras.layers.Flatten(),
                                  keras.layers.Dense(3, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return model
"""


def test_failed_trials_in_a_row_name_the_error_and_the_flag_and_offer_the_resume(
    tmp_path, capsys, monkeypatch
):
    """Before: `error: the run failed: RuntimeError: Number of consecutive failures
    exceeded the limit of 2.` and a traceback, after one traceback per failed trial."""
    (tmp_path / "breaks.py").write_text(textwrap.dedent(_BREAKS_PAST_DEFAULTS))
    monkeypatch.chdir(tmp_path)
    data = _shapes_npz(tmp_path / "data.npz", num_classes=3, per_class=8)
    args = ["--hypermodel", "breaks:build", "--data", str(data)]
    # Trials left in the budget (5 coarse trials, the 2nd and 3rd failing): a rerun allowing
    # more failures runs new ones (with the budget used, no resume is offered: test_stop_advice).
    tiny = [*TINY]
    tiny[tiny.index("--coarse-trials") + 1] = "5"
    args += ["--directory", str(tmp_path / "runs"), "--backend", "tensorflow", *tiny]
    args += ["--max-consecutive-failed-trials", "2"]
    assert main(args) == 1
    captured = capsys.readouterr()
    err = captured.err
    assert "TrialsFailedError: The coarse search stopped: 2 trials in a row failed" in err, err
    assert "(--max-consecutive-failed-trials 2)" in err and "with ValueError: no room" in err
    assert "max_consecutive_failed_trials=" not in err  # the flag, not the keyword
    resume = err[err.index("To allow more failures in a row, resume with:") :].splitlines()[1]
    assert resume.endswith("--max-consecutive-failed-trials 4"), resume
    assert resume.count("--max-consecutive-failed-trials") == 1, resume
    assert "FAILED (ValueError: no room for units=" in captured.out


def test_model_output_that_does_not_fit_exits_2_under_jax(tmp_path):
    (tmp_path / "wrong_models.py").write_text(textwrap.dedent(_WRONG_WIDTH))
    data = _shapes_npz(tmp_path / "data.npz", num_classes=10, per_class=4)
    proc = _run(
        [
            "--hypermodel",
            "wrong_models:dense5",
            "--data",
            str(data),
            "--directory",
            "runs",
            "--backend",
            "jax",
            *TINY,
        ],
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "outputs 5 units per sample but the data has 10 classes" in proc.stderr
    assert not (tmp_path / "runs").exists()


# --------------------------------------------------------------------------- corrupt files


def _truncated(path: Path) -> None:
    np.savez(
        path,
        x_train=np.zeros((50, 4)),
        y_train=np.arange(50) % 2,
        x_test=np.zeros((5, 4)),
        y_test=np.arange(5) % 2,
    )
    path.write_bytes(path.read_bytes()[:300])


def _png(path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (4, 4)).save(path, format="PNG")


def _object_array(path: Path) -> None:
    np.savez(
        path,
        x_train=np.array([[1], "a", None], dtype=object),
        y_train=[0, 1, 0],
        x_test=np.zeros((1, 1)),
        y_test=[0],
    )


@pytest.mark.parametrize(
    "write, reason",
    [
        (_truncated, "truncated or damaged"),
        # Text named .npz: said to be text, with how to save a .csv (no archive to check).
        (lambda p: p.write_text("x_train,y_train\n1,2\n"), "is text, not a .npz archive;"),
        (_png, "not a NumPy archive (it starts with b'\\x89PNG"),
        (lambda p: p.write_bytes(b""), "the file is empty"),
        (lambda p: p.write_bytes(np.zeros(3).tobytes()), "not a NumPy archive"),
        (lambda p: np.save(open(p, "wb"), np.zeros(3)), "single (3,) array (.npy)"),
        # said with the fix: save it as numbers (was "cannot be read", no fix)
        (_object_array, ": array 'x_train' is an object array (dtype=object"),
        (
            lambda p: np.savez(
                p, x_train=np.array(["a", "b"]), y_train=[0, 1], x_test=np.zeros(1), y_test=[0]
            ),
            "array 'x_train' has dtype <U1",
        ),
        (lambda p: np.savez(p, x_train=np.zeros((3, 2))), "missing key(s) ['y_train', 'x_test'"),
    ],
    ids=["truncated", "text", "png", "empty", "raw_bytes", "npy", "object", "strings", "keys"],
)
def test_invalid_npz_exits_2_naming_the_file(tmp_path, capsys, write, reason):
    path = tmp_path / "data.npz"
    write(path)
    args = ["--data", str(path), "--directory", str(tmp_path / "runs"), "--backend", "tensorflow"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    said = "is text" if reason.startswith("is text") else "is not a valid .npz file: "
    said = "" if reason.startswith(":") else f" {said}"
    assert f"error: {str(path)!r}{said}" in err.replace("--data ", "") and reason in err, err
    if reason.startswith(":"):
        assert "np.asarray(x_train, dtype=np.float32)" in err
    assert not (tmp_path / "runs").exists()


def test_quick_has_its_own_default_project_name():
    from tunekit.coarse_to_fine import _workflow_kwargs, build_parser

    def project(*argv):
        return _workflow_kwargs(build_parser().parse_args(list(argv)))["project_name"]

    assert project() == "mnist-dense"
    assert project("--quick") == "mnist-dense-quick"
    assert project("--quick", "--hypermodel", "my_models:build") == "my_models-build-quick"
    assert project("--quick", "--project-name", "look") == "look"
    # Other data gets its own folder too (it was refused as "another configuration").
    assert project("--data", "x/rivers.npz") == "mnist-dense-rivers"
    assert project("--quick", "--data", "x/rivers.npz") == "mnist-dense-rivers-quick"


@pytest.mark.parametrize(
    "objective",
    [
        ["--direction", "min"],  # the default val_accuracy
        ["--objective", "val_loss:max"],
        ["--objective", "val_accuracy:"],
        ["--objective", "val_x:max", "--direction", "min"],
        ["--objective", "val_x:up"],
    ],
)
def test_objective_of_unknown_direction_exits_2_before_probe_or_data(
    tmp_path, capsys, monkeypatch, objective
):
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


_THRESHOLDS = """
    import keras

    def build(hp):
        model = keras.Sequential([keras.Input((4,)),
                                  keras.layers.Dense(hp.Int("units", 2, 4), activation="relu"),
                                  keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=[
            keras.metrics.Precision(thresholds=[0.3, 0.5]),
            keras.metrics.Recall(thresholds=[0.2, 0.6], name="rec")])
        return model
"""


@pytest.mark.parametrize(
    "objective, said",
    [  # the retry probe's: the direction question came first, then (':max') this refusal
        ("val_precision/1", "metrics=[keras.metrics.Precision(thresholds=0.5, name="),
        ("val_rec", "objective 'val_rec_at_0_2:max' or 'val_rec_at_0_6:max'"),
        ("val_custom_score", "tunekit does not know whether 'val_custom_score'"),
        ("val_cosine_similarity", "(or --direction max)"),
        ("val_not_accuracy", "'val_not_accuracy:max' or"),  # a metric of the user's own
        ("val_delta_loss", "'val_delta_loss:min'"),  # was 'min'
        # a typo of a known metric: its name first (':max' trained a trial to find it)
        ("val_aucc", "error: Did you mean 'val_auc'? `--objective`='val_aucc': tunekit does"),
    ],
)
def test_an_objective_of_unknown_direction_is_asked_after_the_vector_metric_check(
    tmp_path, capsys, monkeypatch, objective, said
):
    """One error, exit 2, before the search: a vector metric's refusal (whose advice runs
    as written) before the question of the direction, which it would refuse the same."""
    (tmp_path / "thr_models.py").write_text(textwrap.dedent(_THRESHOLDS))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    # (no column a copy of y: that is warned of, a second line)
    rows = [f"{i % 7},{i % 3},{i % 5},{i % 4},{i % 2}" for i in range(40)]
    args = ["--hypermodel", "thr_models:build", *_csv(tmp_path, "a,b,c,d,y", rows, "y")]
    args += ["--directory", str(tmp_path / "runs"), "--backend", "tensorflow", *TINY]
    assert main([*args, "--objective", objective]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and said in err, err
    assert ("vector" in err) is ("/" in objective or objective == "val_rec")
    assert ("Did you mean" in err) is (objective == "val_aucc")
    assert not (tmp_path / "runs" / "thr_models-build").exists()


@pytest.mark.parametrize(
    "objective, said",
    [
        (["--objective", "val_f1_score"], "Objective: val_f1_score (max: higher is better)"),
        (["--objective", "val_loss"], "Objective: val_loss (min: lower is better)"),
        (
            ["--objective", "val_custom", "--direction", "max"],
            "Objective: val_custom (max: higher is better)",
        ),
        (["--objective", "val_custom:min"], "Objective: val_custom (min: lower is better)"),
    ],
)
def test_direction_used_is_the_first_line_of_output(tmp_path, capsys, objective, said):
    missing = ["--data", str(tmp_path / "missing.npz"), "--backend", "tensorflow"]
    assert main([*objective, *missing]) == 2  # stops at the data, after saying the objective
    assert capsys.readouterr().out.splitlines()[0] == said


@pytest.mark.parametrize("backend", ["jax", "tensorflow"])
def test_reprobe_with_an_explicit_backend_exits_2_before_data(
    tmp_path, capsys, monkeypatch, backend
):
    import tunekit.coarse_to_fine as cli

    def no_data(*args, **kwargs):
        raise AssertionError("data loaded before --reprobe was checked")

    monkeypatch.setattr(cli, "_load_data", no_data)
    code = main(["--backend", backend, "--reprobe", "--directory", str(tmp_path / "runs")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "--reprobe" in err and f"--backend {backend}" in err
    assert not (tmp_path / "runs").exists()


def test_resume_command_drops_overwrite_and_reprobe():
    from tunekit.coarse_to_fine import resume_command

    argv = ["--reprobe", "--overwrite", "--seed", "3", "--directory", "my runs"]
    assert resume_command(argv) == (
        "python -m tunekit.coarse_to_fine --seed 3 --directory 'my runs'"
    )
    # The program as the user typed it.
    assert resume_command(argv, "tunekit run") == "tunekit run --seed 3 --directory 'my runs'"


def test_project_name_help_gives_the_default_that_is_used(tmp_path: Path, monkeypatch) -> None:
    from tunekit.cli_parser import build_parser
    from tunekit.coarse_to_fine import _default_project_name

    parser = build_parser("tunekit run")
    (action,) = [a for a in parser._actions if "--project-name" in a.option_strings]
    example = action.help.rsplit("e.g. ", 1)[1].rstrip(".")
    (tmp_path / "rivers").mkdir()
    cases = {
        "mnist-dense-rivers-quick": ["--data", "rivers.npz", "--quick"],
        "mnist-dense-rivers": ["--data", str(tmp_path / "rivers")],  # a folder: its name
        "toonvision-cnn": ["--hypermodel", "toonvision-cnn"],
    }
    for expected, argv in cases.items():
        assert _default_project_name(parser.parse_args(argv)) == expected
    assert example == "mnist-dense-rivers-quick"
    # `--data .` from inside a folder: its name (it was "mnist-dense-", one run folder for
    # every folder, whose second was refused as the first's files changed).
    (tmp_path / "rivers" / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "rivers")
    for data in (".", "./", "sub/.."):
        assert _default_project_name(parser.parse_args(["--data", data])) == "mnist-dense-rivers"


def test_the_resume_command_names_the_interpreter_when_python_on_path_is_another(
    monkeypatch, tmp_path
):
    """Run as `/some/env/bin/python -m tunekit.coarse_to_fine`, the resume and reproduce
    commands said `python -m ...`: maybe another environment, without tunekit."""
    import shlex
    import shutil

    from tunekit.reproduce import typed_program

    monkeypatch.setattr(shutil, "which", lambda name: sys.executable)
    assert typed_program() == "python -m tunekit.coarse_to_fine"
    other = tmp_path / "python"
    other.write_text("")
    monkeypatch.setattr(shutil, "which", lambda name: str(other))
    assert typed_program() == f"{shlex.quote(sys.executable)} -m tunekit.coarse_to_fine"
    assert typed_program("python -m tunekit") == f"{shlex.quote(sys.executable)} -m tunekit"
    monkeypatch.setattr(shutil, "which", lambda name: None)  # no python on PATH at all
    assert typed_program("tunekit run") == "tunekit run"


def test_the_datas_warnings_are_one_line_each_with_the_command_lines_remedies(
    tmp_path, capsys, caplog
):
    """Found by a helper: a 12-row CSV's stratified-split warning came as Python's warning
    (file, line and source line), twice, advising `x_test=` and `validation_fraction=`,
    which the command line does not have."""
    import logging
    import warnings

    from tunekit.cli_data import load_data
    from tunekit.cli_parser import build_parser

    rows = [f"{i}.5,{i % 4}.0,{'abc'[i % 3]}" for i in range(12)]
    (tmp_path / "tiny.csv").write_text("a,b,kind\n" + "\n".join(rows) + "\n")
    args = build_parser().parse_args(["--data", str(tmp_path / "tiny.csv"), "--target", "kind"])
    caplog.set_level(logging.WARNING, logger="tunekit")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no Python warning reaches the user
        load_data(args)
    said = [r.getMessage() for r in caplog.records if "stratified split" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("[data] The stratified split puts")
    assert "give a test set (an .npz with x_test / y_test)" in said[0]
    assert "x_test=" not in said[0] and "validation_fraction" not in said[0]


def test_quick_samples_a_class_sorted_npz_by_class_the_same_whatever_seed(tmp_path, monkeypatch):
    """Found by a new user: `--quick` kept the first samples of each split, so an .npz
    saved class by class got a validation split of one class (validation accuracy 1.0,
    test accuracy 0.33, exit 0). Its sample is stratified, seeded with 0 whatever --seed
    (the same data, so the same fingerprint: a rerun resumes); the test split is whole."""
    from tunekit import cli_data
    from tunekit.cli_parser import build_parser

    rng = np.random.default_rng(0)
    arrays = {}
    for split in ("train", "val", "test"):
        y = np.repeat(np.arange(3), 60)
        arrays[f"x_{split}"] = rng.normal(size=(180, 4)).astype("float32") + y[:, None]
        arrays[f"y_{split}"] = y
    np.savez(tmp_path / "sorted.npz", **arrays)
    monkeypatch.setattr(cli_data, "QUICK_DATA", dict(num_train=30, num_val=12))

    def quick(*flags: str):
        args = build_parser().parse_args(["--data", str(tmp_path / "sorted.npz"), *flags])
        return cli_data.load_data(args)

    data = quick("--quick")
    assert np.bincount(data.y_train).tolist() == [10, 10, 10]
    assert np.bincount(data.y_val).tolist() == [4, 4, 4]
    np.testing.assert_array_equal(data.y_test, arrays["y_test"])
    assert quick("--quick", "--seed", "7").fingerprint() == data.fingerprint()
    assert len(quick().y_train) == 180  # without --quick: every sample
