"""What a new user's `cv=` met: three faults around k-fold cross-validation.

- A hypermodel whose own `fit` passes `sample_weight=` an array of the training
  split's length (taken from outside the x and y it receives): with `cv=2` every
  fold's fit failed with Keras's bare "Data cardinality is ambiguous", and the
  search ended after 3 failed trials (`TrialsFailedError`) with advice about
  randomness; the retrain's diagnosis of the same array (`HyperModelFitError`,
  "the training split's length") was not given. Now each such fold fit fails its
  trial with that diagnosis (`HyperModelFitError`); as for any refusal, the
  space's default configuration failing stops the search at once
  (`SearchInputError`, exit 2), and a fit passing the array for some
  hyperparameter values only fails those trials alone, as without `cv`.
- A scikit-learn splitter (`StratifiedKFold(3)`, `ShuffleSplit(3)`,
  `GroupKFold(3)`) as `cv=` was refused with "`cv` must be an int >= 1" only:
  now the message says what cv=K does and that splitters and groups are not
  supported.
- `executions_per_trial`'s help said the score is the mean of each fit's best
  score also under `cv=K`, where it is the mean curve's value at its best epoch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import pytest
from sklearn.model_selection import GroupKFold, ShuffleSplit, StratifiedKFold

from tunekit import CoarseToFine
from tunekit.data import Dataset
from tunekit.errors import InvalidParameterError
from tunekit.fitting import HyperModelFitError, SearchInputError
from tunekit.params import PARAMETERS
from tunekit.tuners import make_tuner

SW = np.ones(120, "float32")  # one weight per training sample, taken from outside fit


class OutsideWeights(kt.HyperModel):
    def __init__(self) -> None:
        super().__init__()
        self.fits = 0

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        model = keras.Sequential(
            [
                keras.Input((5,)),
                keras.layers.Dense(hp.Int("units", 2, 6, step=2)),
                keras.layers.Dense(1),
            ]
        )
        model.compile("adam", "mse")
        return model

    def fit(self, hp: kt.HyperParameters, model: keras.Model, x: Any, y: Any, **kw: Any) -> Any:
        self.fits += 1
        return model.fit(x, y, sample_weight=SW, **kw)


def _data() -> Dataset:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5)).astype("float32")
    y = x @ rng.normal(size=5).astype("float32")
    return Dataset(x[:120], y[:120], x[120:160], y[120:160], x[160:], y[160:], task="regression")


def test_a_fold_fit_with_an_array_of_the_training_splits_length_stops_the_search_saying_why(
    tmp_path: Path,
) -> None:
    """Before: TrialsFailedError after 3 trials, quoting Keras's bare cardinality error."""
    hypermodel = OutsideWeights()
    run = CoarseToFine(
        hypermodel,
        _data(),
        directory=tmp_path,
        project_name="w",
        cv=2,
        fine_tuner="bayesian",
        fine_trials=1,
        coarse_trials=3,
        coarse_epochs=1,
        max_epochs=1,
        verbose=0,
        seed=0,
        finalists=0,
        baseline=False,
    )
    with pytest.raises(SearchInputError) as raised:
        run.run()
    run.close()
    message = str(raised.value)
    assert hypermodel.fits == 1  # the defaults' trial fails at its first fold: the run stops
    assert "OutsideWeights.fit failed in fold 1 of cv=2, on that fold's " in message
    assert "(80 samples of train+validation): ValueError: Data cardinality is ambiguous" in message
    assert "'sample_weight' sizes: 120" in message
    # the retrain's diagnosis (tunekit.fit_inputs), of the fold
    assert "one of them has 120 samples, the length of the training split the search " in message
    assert "has the training split's length, not this fit's" in message
    assert "sample_weight computed from y inside fit" in message
    assert "That trial is the space's default configuration" in message
    assert "3 trials in a row" not in message


class WeightedSometimes(OutsideWeights):
    """Passes the outside array only when `weighted` is drawn True."""

    def fit(self, hp: kt.HyperParameters, model: keras.Model, x: Any, y: Any, **kw: Any) -> Any:
        self.fits += 1
        weights = SW if hp.Boolean("weighted") else None
        return model.fit(x, y, sample_weight=weights, **kw)


def test_a_fold_fit_failing_for_some_values_fails_those_trials_only(tmp_path: Path) -> None:
    """A probe's case: the first fix stopped the whole search at the first weighted trial,
    saying "every configuration fails alike" after two configurations had completed."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(160, 5)).astype("float32")
    y = x.sum(axis=1)
    tuner = make_tuner(
        "random", WeightedSometimes(), objective="val_loss", directory=str(tmp_path),
        project_name="t", max_trials=6, seed=0, cv=2, max_consecutive_failed_trials=6,
    )  # fmt: skip
    tuner.search(x[:120], y[:120], validation_data=(x[120:], y[120:]), epochs=1, verbose=0)
    trials = list(tuner.oracle.trials.values())
    done = [t for t in trials if t.status == "COMPLETED"]
    failed = [t for t in trials if t.status == "FAILED"]
    assert done and failed
    assert all(not t.hyperparameters.get("weighted") for t in done)
    assert all(t.hyperparameters.get("weighted") for t in failed)
    for trial in failed:
        assert "fold 1 of cv=2" in trial.message and "120 samples" in trial.message
        assert "every configuration" not in trial.message


def test_the_fold_diagnosis_fails_the_trial_not_the_search() -> None:
    assert issubclass(HyperModelFitError, kt.errors.FailedTrialError)


@pytest.mark.parametrize("splitter", [StratifiedKFold(3), ShuffleSplit(3), GroupKFold(3)])
def test_a_scikit_learn_splitter_as_cv_is_refused_saying_what_cv_does(
    tmp_path: Path, splitter: Any
) -> None:
    """Before: only "`cv` must be an int >= 1. Received: cv=StratifiedKFold(...)"."""
    with pytest.raises(InvalidParameterError) as raised:
        CoarseToFine(OutsideWeights(), _data(), cv=splitter, directory=tmp_path)
    message = str(raised.value)
    assert message.startswith("`cv` must be an int >= 1. cv=K is the number of folds: ")
    assert message.endswith(f"Received: cv={splitter!r}.")
    assert (
        "StratifiedKFold(n_splits=K, shuffle=True, random_state=seed) for class labels" in message
    )
    assert "KFold(n_splits=K, shuffle=True, random_state=seed) otherwise" in message
    assert "seed being the run's seed" in message
    assert "splitter object (StratifiedKFold(3), ShuffleSplit(3), GroupKFold(3), ...)" in message
    assert "and groups are not supported: pass the number of folds, e.g. cv=3" in message
    assert not any(tmp_path.iterdir())
    with pytest.raises(ValueError, match=r"groups are not supported.* Received: cv="):
        make_tuner(
            "random", OutsideWeights(), objective="val_loss", directory=str(tmp_path),
            project_name="t", max_trials=1, cv=splitter,
        )  # fmt: skip


def test_executions_per_trial_says_how_the_score_is_made_with_and_without_cv() -> None:
    """Before: "the score is the mean of each fit's best score (KerasTuner's)", also
    under cv=K, whose score is the mean curve over folds and fits at its best epoch."""
    text = PARAMETERS["executions_per_trial"].help
    assert "The score is the mean of each fit's best score (KerasTuner's); with cv=K" in text
    assert "the score is the mean curve over the folds and fits at its best epoch" in text
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert "under `--cv K`, where each fold gets N fits, it is the mean curve over the" in readme
    assert "**grouped cross-validation**: `cv=` takes a number of folds only" in readme
