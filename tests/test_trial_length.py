"""What a trial trained, whatever its fit returned: `epochs`, `best_step`, and the retrain.

A hypermodel whose `fit` trains with `model.fit` and returns one number (KerasTuner's
"custom objective in fit" guide) trained the epochs tunekit passed, but `trials.csv`
had `epochs` empty (a NumPy scalar) and `best_step` 0 (any number or dict), and the
final retrain was 1 epoch, "the trial's best epoch (its length is unknown)"
(a Hyperband continuation of epochs 1->3: 2).
"""

from __future__ import annotations

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd
import pytest

from tunekit import make_tuner
from tunekit.results import trials_dataframe
from tunekit.retraining import final_epochs_rule

_SCORED_AT_END = (
    "the length the trial trained: its fit returned one score, measured after its last epoch"
)
_UNKNOWN = (
    "the epochs the trial was given: its fit reported no epoch, so the length it trained is unknown"
)


def _column(frame, name):
    """A `trials.csv` column as a list, `None` where empty."""
    return [None if pd.isna(v) else v for v in frame[name]]


def _xy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 3)).astype("float32")
    return x, x.sum(axis=1).astype("float32")


class _OneNumber(kt.HyperModel):
    """Trains with `model.fit`, then returns the validation error as one number."""

    def __init__(self, kind: str = "float"):
        super().__init__()
        self.kind = kind

    def build(self, hp):
        hp.Int("units", 2, 8)
        model = keras.Sequential(
            [keras.Input((3,)), keras.layers.Dense(hp.get("units")), keras.layers.Dense(1)]
        )
        model.compile(optimizer="adam", loss="mse")
        return model

    def fit(self, hp, model, x, y, validation_data=None, **kwargs):
        model.fit(x, y, **kwargs)
        x_val, y_val = validation_data
        error = np.mean(np.abs(model.predict(x_val, verbose=0).ravel() - y_val))  # np.float32
        if self.kind == "float":
            return float(error)
        if self.kind == "dict":
            return {"val_error": float(error)}
        return error


class _OwnLoop(_OneNumber):
    """A training loop of its own that calls no epoch callback: its length is unknown."""

    def fit(self, hp, model, x, y, validation_data=None, **kwargs):
        model.train_on_batch(x, y)
        x_val, y_val = validation_data
        return float(np.mean(np.abs(model.predict(x_val, verbose=0).ravel() - y_val)))


def _search(tmp_path, hypermodel, kind="random", epochs=3, **settings):
    budget = {"max_epochs": epochs, "factor": 3} if kind == "hyperband" else {"max_trials": 2}
    tuner = make_tuner(
        kind,
        hypermodel,
        objective=kt.Objective("val_error", "min"),
        directory=str(tmp_path),
        project_name="coarse",  # a run folder's layout: trials_dataframe reads it
        seed=0,
        **budget,
        **settings,
    )
    x, y = _xy()
    tuner.search(x, y, validation_data=(x, y), epochs=epochs, batch_size=8, verbose=0)
    return tuner, trials_dataframe(tmp_path)


@pytest.mark.parametrize("kind", ["float", "numpy", "dict"])
def test_a_fit_returning_one_score_records_its_epochs_and_is_retrained_for_them(tmp_path, kind):
    tuner, frame = _search(tmp_path, _OneNumber(kind), epochs=3)
    assert list(frame["status"]) == ["COMPLETED"] * 2
    assert _column(frame, "epochs") == [3, 3]  # a NumPy scalar's trials recorded none
    assert _column(frame, "best_step") == [2, 2]  # measured after the last epoch, not at 0
    assert frame["seconds"].notna().all() and frame["num_params"].notna().all()
    for trial in tuner.oracle.get_best_trials(2):
        # Neither "the trial's best epoch (its length is unknown)" (1) nor, under the
        # constant schedule, the best epoch KerasTuner's step 0 gave (1), nor "still
        # improving" (max_epochs): the score is of the model after its 3 epochs.
        for schedule in ("cosine", "constant"):
            assert final_epochs_rule(trial, 20, schedule) == (3, _SCORED_AT_END)


def test_a_hyperband_continuation_returning_one_score_is_retrained_from_epoch_zero(tmp_path):
    tuner, frame = _search(tmp_path, _OneNumber("numpy"), kind="hyperband", epochs=3)
    trials = [t for t in tuner.oracle.trials.values() if t.status == "COMPLETED"]
    continued = [t for t in trials if t.hyperparameters.values["tuner/initial_epoch"] > 0]
    assert continued  # max_epochs=3, factor=3: trials of 1 epoch continued to 3
    for trial in trials:
        values = trial.hyperparameters.values
        ran = values["tuner/epochs"] - values["tuner/initial_epoch"]
        assert trial.metrics.get_last_value("epochs") == ran
        assert trial.best_step == ran - 1
        assert final_epochs_rule(trial, 3) == (values["tuner/epochs"], _SCORED_AT_END)
    assert frame["epochs"].notna().all() and (frame["epochs"] == frame["best_step"] + 1).all()


@pytest.mark.parametrize("settings", [{"executions_per_trial": 2}, {"cv": 2}])
def test_several_executions_or_folds_of_one_score_record_their_epochs(tmp_path, settings):
    tuner, frame = _search(tmp_path, _OneNumber("numpy"), epochs=2, **settings)
    assert _column(frame, "epochs") == [2, 2]
    assert _column(frame, "best_step") == [1, 1]
    trial = tuner.oracle.get_best_trials(1)[0]
    assert final_epochs_rule(trial, 20, "constant") == (2, _SCORED_AT_END)


def test_a_loop_that_reports_no_epoch_has_an_unknown_length_and_gets_the_epochs_given(
    tmp_path,
):
    """The `epochs` tunekit passed prove nothing about a loop that never reported one:
    `epochs` stays empty (before: 0, read as "still improving", so max_epochs), and the
    retrain gets the epochs the trial was given, saying why."""
    tuner, frame = _search(tmp_path, _OwnLoop(), epochs=2)
    assert frame["epochs"].isna().all()
    assert list(frame["epochs_given"]) == [2.0, 2.0]
    assert frame["best_step"].isna().all()  # no epoch to point at
    trial = tuner.oracle.get_best_trials(1)[0]
    for schedule in ("cosine", "constant"):
        assert final_epochs_rule(trial, 20, schedule) == (2, _UNKNOWN)


def test_the_step_of_a_result_scored_at_the_end():
    from tunekit.trial_length import result_step

    assert result_step({"val_error": 0.3, "epochs": 4.0, "scored_at_end": 1.0}, 0) == 3
    # A History's step (its curve's best epoch) is KerasTuner's.
    assert result_step({"val_error": 0.3, "epochs": 4.0}, 1) == 1
    # Executions that returned a History and a number: not all scored at the end.
    assert result_step({"val_error": 0.3, "epochs": 4.0, "scored_at_end": 0.5}, 1) == 1
    # Executions of 3 and 4 epochs: KerasTuner's mean of 2 and 3, cut to an int.
    assert result_step({"epochs": 3.5, "scored_at_end": 1.0}, 0) == 2
    assert result_step({"epochs_given": 4.0, "scored_at_end": 1.0}, 0) == 0  # unknown


@pytest.mark.long
@pytest.mark.parametrize("fine_tuner", ["bayesian", "hyperband"])
def test_a_run_whose_fit_returns_one_number_retrains_for_the_length_trained(tmp_path, fine_tuner):
    """The whole path: trials.csv, the retrain's length and report.md's words."""
    from sklearn.datasets import load_diabetes

    from tunekit import CoarseToFine
    from tunekit.data import Dataset

    x, y = load_diabetes(return_X_y=True)
    data = Dataset.from_arrays(
        x.astype("float32"), (y / 100).astype("float32"), task="regression", seed=0
    )

    class Diabetes(_OneNumber):
        def build(self, hp):
            model = keras.Sequential(
                [
                    keras.Input((10,)),
                    keras.layers.Dense(hp.Int("units", 4, 16, step=4), activation="relu"),
                    keras.layers.Dense(1),
                ]
            )
            model.compile(optimizer="adam", loss="mse")
            return model

    budget = {"fine_trials": 2} if fine_tuner == "bayesian" else {}
    run = CoarseToFine(
        Diabetes("numpy"),
        data,
        directory=tmp_path,
        project_name="run",
        objective="val_error:min",
        coarse_trials=3,
        coarse_epochs=2,
        fine_tuner=fine_tuner,
        max_epochs=3,
        baseline=False,
        seed=0,
        verbose=0,
        **budget,
    )
    result = run.run()
    frame = trials_dataframe(tmp_path / "run")
    done = frame[frame["status"] == "COMPLETED"]
    assert done["epochs"].notna().all()  # a NumPy scalar's trials recorded none
    assert (done["epochs"] == done["best_step"] + 1).all()
    assert (done[done["phase"] == "coarse"]["epochs"] == 2).all()
    chosen = frame.set_index("trial").loc[f"{result.best_phase}/{result.best_trial_id}"]
    length = int(chosen["initial_epoch"] + chosen["epochs"])
    report = (tmp_path / "run" / "report.md").read_text()
    assert result.final_epochs == length
    assert f"retrained {length} epoch" in report
    assert _SCORED_AT_END in report
    assert "length is unknown" not in report
