"""Failures that every trial would meet the same way: said at the first trial, or said so.

Found by a probe: a hypermodel's own `fit` passing `sample_weight=` to `model.fit`,
in a run with `class_weight="balanced"`, failed 3 trials with Keras's "You cannot
`class_weight` and `sample_weight` at the same time", then stopped with
`TrialsFailedError` saying "rerunning resumes the search", which fails the same way.
See `tunekit.fit_refusals` and `tunekit.steps.trial_failures`.
"""

from __future__ import annotations

import keras
import keras_tuner as kt
import numpy as np
import pytest
from keras_tuner.engine import trial as trial_module

import tunekit
from tunekit import CoarseToFine
from tunekit.data import Dataset
from tunekit.fitting import HyperModelFitError, fit_hypermodel
from tunekit.steps.trial_failures import same_code_error


def _build(hp):
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(hp.Int("units", 4, 16, step=4), activation="relu"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"], run_eagerly=True)
    return model


class Batches(keras.callbacks.Callback):
    """Counts the training batches of every fit it is given to."""

    count = 0

    def on_train_batch_end(self, batch, logs=None):
        Batches.count += 1


class WeighsSamples(kt.HyperModel):
    """The probe's hypermodel: its own `fit` weighs the samples of class 0 by 5."""

    def build(self, hp):
        return _build(hp)

    def fit(self, hp, model, x, y, **kwargs):
        weights = np.where(np.asarray(y) == 0, 5.0, 1.0).astype("float32")
        return model.fit(x, y, sample_weight=weights, **kwargs)


class FitCalls(kt.HyperModel):
    """A `fit` whose `model.fit` call is `call(model, x, y, kwargs)`."""

    def __init__(self, call):
        super().__init__()
        self.call = call

    def build(self, hp):
        return _build(hp)

    def fit(self, hp, model, x, y, **kwargs):
        return self.call(model, x, y, kwargs)


def _data(n=60):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 8)).astype("float32")
    return Dataset.from_arrays(x, (np.arange(n) % 3 == 0).astype(int), seed=0)


TINY = dict(coarse_trials=3, coarse_epochs=1, seed=0, verbose=0, finalists=0, baseline=False)


def test_sample_weight_in_an_own_fit_with_class_weight_stops_at_the_first_trial(tmp_path):
    """The probe's case: before, 3 trials failed and the stop said to rerun."""
    Batches.count = 0
    run = CoarseToFine(
        WeighsSamples(),
        _data(),
        directory=tmp_path,
        project_name="swcw",
        class_weight="balanced",
        callbacks=[Batches()],
        **TINY,
    )
    with pytest.raises(HyperModelFitError) as info:
        run.run()
    run.close()
    message = str(info.value)
    assert isinstance(info.value, kt.errors.FatalError)  # the command line exits with 2
    assert "WeighsSamples.fit passes sample_weight= to model.fit" in message, message
    assert "the run's class weights" in message and "kwargs['class_weight']" in message
    assert "You cannot `class_weight` and `sample_weight` at the same time" in message
    assert "cw = kwargs.pop('class_weight')" in message and "leave class_weight= unset" in message
    assert "rerunning resumes" not in message
    assert len(run._tuner("coarse").oracle.trials) == 1  # the first trial stopped the search
    assert Batches.count == 0  # before any training


def _generator(x, y):
    def batches():
        for start in range(0, len(x), 16):
            yield x[start : start + 16], y[start : start + 16]

    return batches()


@pytest.mark.parametrize(
    "call, fit_kwargs, said",
    [
        (  # a misspelt keyword: Python's TypeError from fit()
            lambda model, x, y, kw: model.fit(x, y, sample_weigth=np.ones(len(y)), **kw),
            {},
            "got an unexpected keyword argument 'sample_weigth'",
        ),
        (  # class_weight for a generator: Keras's data adapter
            lambda model, x, y, kw: model.fit(_generator(x, y), **kw),
            {"class_weight": {0: 1.0, 1: 2.0}},
            "Argument `class_weight` is not supported for Python generator inputs",
        ),
        (  # both weights, set by the fit itself
            lambda model, x, y, kw: model.fit(
                x, y, sample_weight=np.ones(len(y)), class_weight={0: 1.0, 1: 2.0}, **kw
            ),
            {},
            "passes both class_weight= and sample_weight= to model.fit",
        ),
    ],
    ids=["misspelt-keyword", "class-weight-for-a-generator", "both-weights-its-own"],
)
def test_arguments_keras_refuses_stop_the_search_before_training(call, fit_kwargs, said):
    """Before, each was a plain ValueError / TypeError: one failed trial of many alike."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 8)).astype("float32"), np.arange(32) % 2
    hypermodel, hp, batches = FitCalls(call), kt.HyperParameters(), Batches()
    Batches.count = 0
    with pytest.raises(HyperModelFitError, match="Keras") as info:
        fit_hypermodel(
            hypermodel,
            hp,
            hypermodel.build(hp),
            x,
            y,
            epochs=1,
            batch_size=16,
            callbacks=[batches],
            verbose=0,
            **fit_kwargs,
        )
    assert said in str(info.value) and "FitCalls.fit" in str(info.value), str(info.value)
    assert Batches.count == 0
    if fit_kwargs:  # the run's class weights: the message says how to fold them
        assert "kwargs['class_weight']" in str(info.value)


def test_other_errors_of_model_fit_still_fail_only_their_trial():
    """A model that cannot take the data (a shape) may fail one configuration only."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 5)).astype("float32"), np.arange(32) % 2
    hypermodel, hp = FitCalls(lambda model, x, y, kw: model.fit(x, y, **kw)), kt.HyperParameters()
    with pytest.raises(ValueError) as info:
        fit_hypermodel(hypermodel, hp, hypermodel.build(hp), x, y, epochs=1, verbose=0)
    assert not isinstance(info.value, tunekit.TunekitError), info.value


# -- the stop after failed trials in a row: its advice -----------------------------------


def _failed(*lines):
    trials = []
    for i, line in enumerate(lines):
        trial = trial_module.Trial(kt.HyperParameters(), trial_id=str(i), status="FAILED")
        trial.message = f'Traceback (most recent call last):\n  File "fit.py", line 3\n{line}\n'
        trials.append(trial)
    return trials


@pytest.mark.parametrize(
    "lines, same",
    [
        (["ValueError: bad argument", "ValueError: bad argument"], True),
        (["TypeError: f() takes 2", "TypeError: f() takes 2", "TypeError: f() takes 2"], True),
        (["KeyError: 'label'", "KeyError: 'label'"], True),
        (["ValueError: no room for units=8", "ValueError: no room for units=12"], False),
        (["ValueError: bad argument"], False),  # one trial tells nothing
        (["ValueError: bad argument", "TypeError: bad argument"], False),
        (
            [
                "tensorflow.python.framework.errors_impl.ResourceExhaustedError: OOM when "
                "allocating tensor with shape[1024,1024]"
            ]
            * 2,
            False,
        ),
        (["MemoryError: out of memory"] * 2, False),
    ],
    ids=["value", "type", "key", "differing", "one", "two-types", "tf-oom", "memory"],
)
def test_a_stop_is_deterministic_when_every_failed_trial_raised_one_code_error(lines, same):
    assert same_code_error(_failed(*lines)) == (lines[0] if same else None)


class AlwaysFails(kt.HyperModel):
    """A `fit` that raises `error` in every trial."""

    def __init__(self, error):
        super().__init__()
        self.error = error

    def build(self, hp):
        return _build(hp)

    def fit(self, hp, model, *args, **kwargs):
        raise self.error


@pytest.mark.parametrize(
    "error, deterministic",
    [(ValueError("the fit is broken"), True), (MemoryError("out of memory"), False)],
    ids=["same-value-error", "memory"],
)
def test_the_stop_says_rerunning_resumes_only_for_failures_a_rerun_may_not_meet(
    tmp_path, error, deterministic
):
    """Before, every stop said "rerunning resumes the search" as the fix, also when every
    trial raised the same ValueError of the hypermodel's code, which a rerun raises again."""
    run = CoarseToFine(
        AlwaysFails(error),
        _data(),
        directory=tmp_path,
        project_name="fails",
        max_consecutive_failed_trials=2,
        **TINY,
    )
    with pytest.raises(tunekit.TrialsFailedError) as info:
        run.run()
    run.close()
    message = str(info.value)
    assert "The coarse search stopped: 2 trials in a row failed" in message, message
    assert f"with {type(error).__name__}: {error}" in message
    if deterministic:
        assert "each with the same error" in message
        assert "rerunning as it is, or allowing more failures, fails the same way" in message
        assert "Fix what the error names" in message and "then rerun" in message
        assert "rerunning resumes" not in message
    else:
        assert "rerunning resumes the search" in message
        assert "allow more failures in a row" in message
