"""A fit on train+validation that fails is explained only by what the run checked.

Found by a new user: a hypermodel whose `fit` raised on a seeded random draw (NumPy,
seeded by tunekit before each fit) passed every trial and failed the retrain, and the
error said "A fit that works in the search but not here depends on the training split
itself: per-sample arrays of its length taken from outside ...": a cause nothing had
shown, and a fix that fixed nothing. Every fit on train+validation now says what trained
before it and how it differs (`tunekit.fit_inputs.TrainedBefore`), and names a cause
only where the evidence shows one: Keras's cardinality error with the training split's
length among its sizes, an error naming that length, or fits that differ in one thing
(a final seed: the seed; the baseline: the hyperparameters).
"""

from __future__ import annotations

import types

import keras
import keras_tuner as kt
import numpy as np
import pytest

from tunekit import CoarseToFine
from tunekit.data import Dataset
from tunekit.fit_inputs import TrainedBefore
from tunekit.fitting import HyperModelFitError, fit_hypermodel
from tunekit.steps.final_fit_facts import baseline_facts, seed_facts

SPLIT = "depends on the training split"  # the old message's unchecked claim
NOT_FOUND = "tunekit found nothing that shows which difference made it fail. It was raised "
FIX = (
    "Fix that fit and run again: its code is then new, so the run starts over "
    "(overwrite=True, or a new project_name= to keep this run's searches)."
)


def _regression(hp):
    model = keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(hp.Int("units", 2, 6, step=2)),
            keras.layers.Dense(1),
        ]
    )
    model.compile("adam", "mse")
    return model


class Raises(kt.HyperModel):
    """A `fit` that raises `error` (made from the `x` it receives) before it trains."""

    def __init__(self, error):
        super().__init__()
        self.error = error

    def build(self, hp):
        return _regression(hp)

    def fit(self, hp, model, x, y, **kwargs):
        raise self.error(x)


class Weighs(kt.HyperModel):
    """A `fit` that passes model.fit a `sample_weight` of `n` samples, made elsewhere."""

    def __init__(self, n):
        super().__init__()
        self.weights = np.ones(n, "float32")

    def build(self, hp):
        return _regression(hp)

    def fit(self, hp, model, x, y, **kwargs):
        return model.fit(x, y, sample_weight=self.weights, **kwargs)


def _message(hypermodel, before=None):
    x, y = np.zeros((380, 5), "float32"), np.zeros(380, "float32")
    hp = kt.HyperParameters()
    with pytest.raises(HyperModelFitError) as raised:
        fit_hypermodel(
            hypermodel,
            hp,
            hypermodel.build(hp),
            x,
            y,
            epochs=1,
            verbose=0,
            final="the retrain",
            before=before,
        )
    return str(raised.value)


BEFORE = TrainedBefore(
    said="Trial 01 trained on the training split (300 samples).", train_samples=300
)


def test_an_error_not_about_the_data_blames_no_split():
    message = _message(Raises(lambda x: RuntimeError("unlucky draw")), BEFORE)
    line = Raises.fit.__code__.co_firstlineno + 1  # where it raises, in this file
    assert message == (
        "Raises.fit failed when the retrain called it on train+validation (380 samples): "
        f"RuntimeError: unlucky draw. {BEFORE.said} {NOT_FOUND}at {__file__}, line {line}, "
        f"in fit: raise self.error(x). {FIX}"
    )
    bare = _message(Raises(lambda x: RuntimeError("unlucky draw")))  # nothing known before
    assert SPLIT not in bare and "training split" not in bare
    assert f"The search ran this fit on other data. {NOT_FOUND}" in bare


def test_a_validation_metric_read_where_there_is_no_validation_data_is_said():
    """Found by a probe: a fit returning `{"val_accuracy": h.history["val_accuracy"][-1]}`
    failed the retrain with `KeyError: 'val_accuracy'` and "tunekit found nothing"."""
    message = _message(Raises(lambda x: KeyError("val_accuracy")), BEFORE)
    assert (
        "'val_accuracy' is a validation metric: this fit gets no validation data, so Keras "
        "logs none. Read it only when validation_data is given"
    ) in message
    assert NOT_FOUND not in message
    assert NOT_FOUND in _message(Raises(lambda x: KeyError("accuracy")), BEFORE)


def test_an_error_naming_the_training_splits_length_says_so():
    def out_of_bounds(x):
        return IndexError("index 300 is out of bounds for axis 0 with size 300.")

    message = _message(Raises(out_of_bounds), BEFORE)
    assert (
        "The error names 300, the length of the training split the search ran this fit on, "
        "and not 380, this fit's: likely something of the training split's length"
    ) in message
    assert NOT_FOUND not in message
    # Unknown length of the training split (a stream, folds): nothing claimed.
    assert NOT_FOUND in _message(Raises(out_of_bounds), TrainedBefore(said="S."))
    # An error that names this fit's own length too is not about the split's.
    both = _message(Raises(lambda x: ValueError(f"300 of {len(x)} rows")), BEFORE)
    assert NOT_FOUND in both


def test_a_cardinality_error_names_the_training_split_only_when_its_sizes_do():
    split = _message(Weighs(300), BEFORE)
    assert "ValueError: Data cardinality is ambiguous" in split
    assert (
        "one of them has 300 samples, the length of the training split the search ran this "
        "fit on: an array your fit takes from outside the x and y it receives"
    ) in split
    other = _message(Weighs(17), BEFORE)
    assert "one of them has" not in other and "training split's length" not in other
    assert (
        "Keras found arrays of different lengths in that fit's model.fit call: tunekit passed "
        "it x and y of 380 samples, so an array your fit passes to model.fit"
    ) in other
    assert "sample_weight computed from y inside fit" in other


def _ctx(hypermodel):
    """The run's parts the facts read: a Dataset of 300 training and 80 validation samples."""
    x = np.random.default_rng(0).normal(size=(400, 5)).astype("float32")
    y = x[:, 0]
    data = Dataset(x[:300], y[:300], x[300:380], y[300:380], x[380:], y[380:], task="regression")
    return types.SimpleNamespace(data=data, cv=1, seed=0, hypermodel=hypermodel)


def test_a_final_seed_and_the_baseline_name_the_one_difference_from_the_retrain():
    hypermodel = Raises(lambda x: RuntimeError("unlucky draw"))
    seed = _message(hypermodel, seed_facts(_ctx(hypermodel), 4, 3))
    assert (
        "RuntimeError: unlucky draw. The retrain of this configuration trained before it on "
        "the same data for 4 epochs with seed 0; this fit, on train+validation (380 samples) "
        "with seed 3, without validation_data, for 4 epochs, differs from it in its seed. So "
        "its failure most likely depends on the seed: on a random draw"
    ) in seed
    baseline = _message(hypermodel, baseline_facts(_ctx(hypermodel), 4, 0))
    assert (
        "differs from it in its hyperparameters: the hypermodel's default configuration. So "
        "its failure most likely depends on those values, or on state kept"
    ) in baseline
    assert SPLIT not in seed + baseline


class SeededDraw(kt.HyperModel):
    """A `fit` that raises when NumPy (seeded by tunekit before each fit) draws `unlucky`:
    under seed 0 (the retrain's), not under the trials' seeds."""

    def __init__(self, unlucky):
        super().__init__()
        self.unlucky = unlucky

    def build(self, hp):
        return _regression(hp)

    def fit(self, hp, model, x, y, **kwargs):
        if np.random.randint(2**31) == self.unlucky:
            raise RuntimeError("unlucky draw")
        return model.fit(x, y, **kwargs)


@pytest.mark.long
def test_a_retrain_failing_on_a_seeded_draw_says_what_is_known(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(460, 5)).astype("float32")
    y = x @ rng.normal(size=5).astype("float32")
    data = Dataset(x[:300], y[:300], x[300:380], y[300:380], x[380:], y[380:], task="regression")
    keras.utils.set_random_seed(0)  # the retrain's seeding: its fit's first NumPy draw
    run = CoarseToFine(
        SeededDraw(np.random.randint(2**31)),
        data,
        directory=tmp_path,
        coarse_trials=3,
        coarse_epochs=1,
        max_epochs=2,
        factor=2,
        final_epochs=2,
        verbose=0,
        seed=0,
        finalists=0,
        baseline=False,
    )
    with pytest.raises(HyperModelFitError) as raised:
        run.run()
    run.close()
    message = str(raised.value)
    assert message.startswith(
        "SeededDraw.fit failed when the retrain called it on train+validation (380 samples): "
        "RuntimeError: unlucky draw. The search's "
    )
    assert (
        "of this configuration trained on the training split (300 samples), with validation "
        "data and a seed of its own, up to epoch "
    ) in message
    assert (
        "; this fit trains on train+validation (380 samples) with seed 0, without "
        "validation_data, for 2 epochs, as again on a rerun of the same command. "
        f"{NOT_FOUND}at {__file__}, line {SeededDraw.fit.__code__.co_firstlineno + 2}, in "
        f'fit: raise RuntimeError("unlucky draw"). {FIX}'
    ) in message
    assert SPLIT not in message
