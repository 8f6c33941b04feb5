"""Empty splits refused before anything is written, and the rerun of a run whose every
trial failed. Each case is a fault found by trying tunekit as a new user: before, a
Dataset with no test sample trained every step and crashed at the evaluation; one with
no validation sample failed its first trial with a bare ZeroDivisionError; an `.npz`
with an empty split said "cannot reshape array of size 0"; and the corrected rerun of a
run whose trials had all failed was refused ("rerun with --overwrite")."""

from __future__ import annotations

import textwrap

import keras
import keras_tuner as kt
import numpy as np
import pytest

from hypermodels import DenseHyperModel
from tunekit import CoarseToFine
from tunekit.coarse_to_fine import main
from tunekit.data import Dataset, load_npz
from tunekit.errors import DataError, RunConfigError


def _digits():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return (x[:300] / 16).astype("float32"), y[:300] % 3


@pytest.mark.parametrize(
    "fractions, cv, message",
    [
        (dict(test_fraction=0.0), 1, r"empty test split .*scores the final model once on it"),
        (dict(validation_fraction=0.0), 1, r"empty validation split .*pass cv=K"),
        (dict(test_fraction=0.0), 3, r"empty test split"),
    ],
    ids=["no_test", "no_validation", "no_test_with_cv"],
)
def test_a_run_refuses_an_empty_split_it_needs_before_anything(tmp_path, fractions, cv, message):
    x, y = _digits()
    data = Dataset.from_arrays(x, y, **fractions)
    extra = {"cv": cv, "fine_tuner": "bayesian"} if cv > 1 else {}
    with pytest.raises(DataError, match=message):
        CoarseToFine(DenseHyperModel((64,), num_classes=3), data, directory=tmp_path, **extra)
    assert not any(tmp_path.iterdir())


def test_cross_validation_needs_no_validation_split(tmp_path):
    x, y = _digits()
    data = Dataset.from_arrays(x, y, validation_fraction=0.0)
    run = CoarseToFine(
        DenseHyperModel((64,), num_classes=3),
        data,
        directory=tmp_path,
        cv=3,
        fine_tuner="bayesian",
    )
    assert run.cv == 3  # accepted: trials are scored on folds of train+validation


@pytest.mark.parametrize("empty", ["test", "val"])
def test_an_npz_with_an_empty_split_names_it(tmp_path, empty):
    x, y = _digits()
    arrays = dict(x_train=x[:200], y_train=y[:200], x_test=x[200:], y_test=y[200:])
    if empty == "test":
        arrays.update(x_test=x[:0], y_test=y[:0])
    else:
        arrays.update(x_val=x[:0], y_val=y[:0])
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(DataError, match=rf"x_{empty}, y_{empty} have no samples"):
        load_npz(tmp_path / "d.npz")


_SWITCHED = """
    import os

    import keras

    def build(hp):  # NaN weights (every trial FAILED) while TUNEKIT_TEST_BROKEN is set
        broken = os.environ.get("TUNEKIT_TEST_BROKEN") == "1"
        init = keras.initializers.Constant(float("nan")) if broken else "glorot_uniform"
        model = keras.Sequential([
            keras.Input((8, 8)), keras.layers.Flatten(),
            keras.layers.Dense(hp.Int("units", 4, 8), activation="relu"),
            keras.layers.Dense(3, activation="softmax", kernel_initializer=init)])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return model
"""


@pytest.mark.long
def test_the_corrected_rerun_of_a_run_whose_every_trial_failed_starts_over(
    tmp_path, capsys, monkeypatch
):
    (tmp_path / "switched.py").write_text(textwrap.dedent(_SWITCHED))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    rng = np.random.default_rng(0)
    y = np.arange(90) % 3
    x = rng.integers(0, 60, (90, 8, 8)).astype(np.uint8)
    x[np.arange(90), (y * 8) // 3] = 250
    np.savez("d.npz", x_train=x[:60], y_train=y[:60], x_test=x[60:], y_test=y[60:])
    args = ["--hypermodel", "switched:build", "--data", "d.npz", "--directory", "runs"]
    args += ["--backend", "tensorflow", "--coarse-trials", "3", "--coarse-epochs", "1"]
    args += ["--max-epochs", "2", "--factor", "2", "--final-epochs", "1", "--no-baseline"]
    monkeypatch.setenv("TUNEKIT_TEST_BROKEN", "1")
    assert main(args) == 1
    assert "failed" in capsys.readouterr().err
    monkeypatch.setenv("TUNEKIT_TEST_BROKEN", "0")  # the user fixes the model
    assert main(args) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    # the fix changed the model it builds (its initializer): said, and started over
    assert (
        "was started with another configuration (the default model differs in layer 3, "
        "Dense(units=3, activation='softmax'): kernel_initializer: 'Constant' -> "
        "'GlorotUniform'), but" in out
    ), out  # the initializer's class, not each of its settings (nor "(none)", "nan")
    assert "but has no finished step and no completed trial: starting it over" in out, out


#: What `_Ranged` reads from outside itself, as a build reads a file: its range's top.
_OUTSIDE = {"top": 8}


class _Ranged(kt.HyperModel):
    """Its range comes from outside the hypermodel (`_OUTSIDE`, as a file the build reads):
    neither its values (`tunekit.hypermodel_state`: a private `self._range` is refused
    there, by name) nor its default model (the range's low end) see it change."""

    def build(self, hp):
        model = keras.Sequential(
            [
                keras.Input((64,)),
                keras.layers.Dense(hp.Int("units", 4, _OUTSIDE["top"], step=4), activation="relu"),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model


@pytest.mark.long
def test_a_rerun_after_the_search_space_changed_is_refused_naming_the_change(tmp_path, monkeypatch):
    """Before, it resumed with the space KerasTuner had saved (the new range ignored) while
    the baseline and the retrain were built from the new code."""
    data = Dataset.from_arrays(*_digits())
    options = dict(directory=tmp_path, project_name="r", coarse_trials=3, coarse_epochs=1)
    first = CoarseToFine(_Ranged(), data, verbose=0, **options)
    first.coarse()
    first.close()
    monkeypatch.setitem(_OUTSIDE, "top", 64)
    with pytest.raises(RunConfigError, match=r"units: Int \[4, 8\] step 4 -> Int \[4, 64\]"):
        CoarseToFine(_Ranged(), data, verbose=0, **options).open()
    monkeypatch.setitem(_OUTSIDE, "top", 8)
    same = CoarseToFine(_Ranged(), data, verbose=0, **options)
    same.open()  # the unchanged code resumes
    same.close()


def test_too_few_completed_coarse_trials_say_what_works_in_python_and_cli_words(tmp_path):
    """Before: "Run more trials in the coarse search" and "resume with: <the same command>";
    the rerun failed the same way and --coarse-trials 5 was refused as another run."""
    from tunekit.errors import TooFewTrialsError

    def build(hp):  # only the defaults train: every other configuration fails
        units = hp.Int("units", 8, 64, step=8, default=32)
        if units != 32:
            raise ValueError(f"no room for units={units}")
        model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(units, "relu")])
        model.add(keras.layers.Dense(3, activation="softmax"))
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    x, y = _digits()
    data = Dataset.from_arrays(x[:240, :8], y[:240] % 3)
    run = CoarseToFine(build, data, directory=tmp_path, coarse_trials=3, coarse_epochs=1, verbose=0)
    with pytest.raises(TooFewTrialsError) as caught:
        run.run()
    run.close()
    message = str(caught.value)
    assert message.startswith("Only 1 of the 3 coarse trials completed with a finite score")
    assert "start the run over with overwrite=True" in message
    from tunekit.cli_parser import cli_message

    assert "start the run over with --overwrite" in cli_message(caught.value)
