"""Fit calls Keras or tunekit refuses fail their trial, and the stop after failures in a row.

Found by probes: a hypermodel's own `fit` passing `sample_weight=` beside the run's
`class_weight`, a misspelt keyword or `validation_split` stopped the whole search at the
first such trial (exit 2, "every trial would fail the same way", its trial.json left
RUNNING), also when the call depended on a hyperparameter and earlier trials had
completed; plain KerasTuner fails those trials only. And the stop's advice switched on
the error's type, wrong both ways (a random ValueError, a deterministic RuntimeError).
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
from tunekit.steps.trial_failures import advice, rerun_note, same_error


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


def _statuses(run, phase="coarse"):
    oracle = run._tuner(phase).oracle
    return [oracle.trials[i].status for i in sorted(oracle.trials, key=int)]


def _trial_files(run, phase="coarse"):
    return sorted((run.run_dir / phase).glob("trial_*/trial.json"))


def test_sample_weight_beside_class_weight_in_every_trial_stops_with_its_fix(tmp_path):
    """The probe's case, every trial weighing its samples. Before, the first trial stopped
    the whole search (a fatal error, its trial.json left RUNNING), saying "every trial
    would fail", which is false when the call depends on the trial's hyperparameters.
    Refused in the default configuration's trial, it stops the search there (exit 2), as
    tunekit's other refusals of the default configuration do."""
    import json

    Batches.count = 0
    run = CoarseToFine(
        WeighsSamples(),
        _data(),
        directory=tmp_path,
        project_name="swcw",
        class_weight="balanced",
        callbacks=[Batches()],
        max_consecutive_failed_trials=2,
        **TINY,
    )
    with pytest.raises(tunekit.SearchInputError) as info:
        run.run()
    run.close()
    message = str(info.value)
    assert "That trial is the space's default configuration" in message, message
    assert "WeighsSamples.fit passes sample_weight= to model.fit" in message, message
    assert "the run's class weights" in message and "kwargs['class_weight']" in message
    assert "You cannot `class_weight` and `sample_weight` at the same time" in message
    assert "cw = kwargs.pop('class_weight')" in message and "leave class_weight= unset" in message
    assert "whatever" not in message and "rerunning resumes" not in message
    assert _statuses(run) == ["FAILED"]
    files = _trial_files(run)
    assert [json.loads(f.read_text())["status"] for f in files] == ["FAILED"]
    assert Batches.count == 0  # before any training


class DropsWeights(kt.HyperModel):
    """Probe A's hypermodel: its own `fit` passes the callbacks, not the class weights (or
    its own), so every trial and the retrain trained unweighted while the report listed the
    run's weights (exit 0)."""

    def __init__(self, class_weight=None):
        super().__init__()
        self.class_weight = class_weight

    def build(self, hp):
        return _build(hp)

    def fit(self, hp, model, x, y, validation_data=None, callbacks=None, **kwargs):
        kwargs.pop("class_weight", None)
        if self.class_weight is not None:
            kwargs["class_weight"] = self.class_weight
        return model.fit(x, y, validation_data=validation_data, callbacks=callbacks, **kwargs)


def _weighted(tmp_path, hypermodel, project_name, **kwargs):
    """A tiny run of `hypermodel` with balanced class weights."""
    return CoarseToFine(
        hypermodel,
        _data(),
        directory=tmp_path,
        project_name=project_name,
        class_weight="balanced",
        **kwargs,
        **TINY,
    )


@pytest.mark.parametrize(
    ("own", "said"),
    [(None, "calls model.fit without class_weight="), ({0: 1.0, 1: 9.0}, "{0: 1.0, 1: 9.0}")],
    ids=["dropped", "its-own"],
)
def test_a_fit_that_drops_the_runs_class_weights_stops_before_training(tmp_path, own, said):
    """Refused in the default configuration's trial (exit 2), before any batch trains, with
    the ways to pass them on."""
    Batches.count = 0
    run = _weighted(tmp_path, DropsWeights(own), "drops", callbacks=[Batches()])
    with pytest.raises(tunekit.SearchInputError) as info:
        run.run()
    run.close()
    message = str(info.value)
    assert "DropsWeights.fit calls model.fit " in message and said in message, message
    assert "but the run weighs the classes" in message, message
    assert "class_weight=kwargs['class_weight']" in message and "sample_weight=" in message
    assert Batches.count == 0


def test_a_fit_that_folds_the_runs_class_weights_into_sample_weights_trains(tmp_path):
    """The fold the sample-weight refusal suggests (`_fold`) is taken: sample weights in
    the call are the run's weights folded in, which cannot be checked."""

    def folds(model, x, y, kwargs):
        cw = kwargs.pop("class_weight")
        weights = np.array([cw.get(int(c), 1.0) for c in np.asarray(y)], dtype="float32")
        return model.fit(x, y, sample_weight=weights, **kwargs)

    def streams(model, x, y, kwargs):  # the weights as a tf.data pipeline's third part
        import tensorflow as tf

        cw = kwargs.pop("class_weight")
        weights = np.array([cw.get(int(c), 1.0) for c in np.asarray(y)], dtype="float32")
        kwargs.pop("batch_size", None)
        return model.fit(tf.data.Dataset.from_tensor_slices((x, y, weights)).batch(16), **kwargs)

    for name, fit in (("folds", folds), ("streams", streams)):
        folded = _weighted(tmp_path, FitCalls(fit), name)
        folded.ensure("coarse")
        assert _statuses(folded) == ["COMPLETED"] * 3
        folded.close()


class SomeTrialsRefused(kt.HyperModel):
    """A `fit` whose `model.fit` call Keras or tunekit refuses in its second trial only (as
    under an `hp.Boolean` that trial drew True); the other trials train."""

    def __init__(self, bad_call):
        super().__init__()
        self.bad_call, self.calls = bad_call, 0

    def build(self, hp):
        return _build(hp)

    def fit(self, hp, model, x, y, **kwargs):
        self.calls += 1
        if self.calls == 2:
            return self.bad_call(model, x, y, kwargs)
        return model.fit(x, y, **kwargs)


def _holdout(model, x, y, kwargs):
    kwargs.pop("validation_data", None)
    return model.fit(x, y, validation_split=0.2, **kwargs)


@pytest.mark.parametrize(
    "bad_call, run_kwargs, said",
    [
        (
            lambda model, x, y, kw: model.fit(x, y, shufle=False, **kw),
            {},
            ["got an unexpected keyword argument 'shufle'", "Change that call in"],
        ),
        (
            lambda model, x, y, kw: model.fit(x, y, sample_weight=np.ones(len(y)), **kw),
            {"class_weight": "balanced"},
            ["passes sample_weight= to model.fit", "cw = kwargs.pop('class_weight')"],
        ),
        (_holdout, {}, ["passes validation_split=0.2", "remove `validation_split`"]),
        (
            lambda model, x, y, kw: model.fit(
                x, y, **{k: v for k, v in kw.items() if k != "class_weight"}
            ),
            {"class_weight": "balanced"},
            ["calls model.fit without class_weight=", "fold them into sample_weight="],
        ),
    ],
    ids=[
        "misspelt-keyword",
        "sample-weight-beside-class-weight",
        "validation-split",
        "class-weight-dropped",
    ],
)
def test_a_refused_fit_call_fails_its_trial_only_and_the_search_goes_on(
    tmp_path, bad_call, run_kwargs, said
):
    """Before, the first such trial stopped the whole search (exit 2) with "every trial would
    fail the same way", its trial.json RUNNING; plain KerasTuner fails that trial only."""
    import json

    from tunekit.progress import failure_reason

    hypermodel = SomeTrialsRefused(bad_call)
    run = CoarseToFine(
        hypermodel, _data(), directory=tmp_path, project_name="some", **TINY, **run_kwargs
    )
    run.ensure("coarse")
    assert _statuses(run) == ["COMPLETED", "FAILED", "COMPLETED"]
    statuses = [json.loads(f.read_text())["status"] for f in _trial_files(run)]
    assert statuses == ["COMPLETED", "FAILED", "COMPLETED"]
    error = failure_reason(run._tuner("coarse").oracle.trials["1"])
    assert error.startswith("tunekit.fitting.HyperModelFitError: SomeTrialsRefused.fit"), error
    assert all(part in error for part in said), error
    assert "whatever" not in error and "every trial would fail" not in error
    run.close()


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
def test_arguments_keras_refuses_are_said_before_training(call, fit_kwargs, said):
    """Before the fit_refusals change, each was a plain ValueError / TypeError."""
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
        (
            ["RuntimeError: wrong rank", "RuntimeError: wrong rank", "RuntimeError: wrong rank"],
            True,
        ),
        (["mylib.ShardError: no answer", "mylib.ShardError: no answer"], True),
        (["ValueError: no room for units=8", "ValueError: no room for units=12"], False),
        (["ValueError: bad argument"], False),  # one trial tells nothing
        (["ValueError: bad argument", "TypeError: bad argument"], False),
    ],
    ids=["value", "runtime", "own-class", "differing", "one", "two-types"],
)
def test_the_same_error_in_every_failed_trial_whatever_its_type(lines, same):
    assert same_error(_failed(*lines)) == (lines[0] if same else None)


BOTH_WAYS = [
    "If every configuration meets that error (neither chance nor some values cause it), "
    "rerunning or allowing more failures fails the same way: fix what it names",
    "If only some values cause it, allowing more failures in a row "
    "(max_consecutive_failed_trials=, which a rerun may change) lets the others complete.",
    "If it is transient (a file or a server that did not answer, out of memory), rerun",
]
# What a rerun does in a phase with a completed trial (`rerun_note`; its seed unused).
RESUMES = rerun_note(None, "coarse", restarts=False)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "line",
    [
        "ValueError: transient: shard server did not answer",  # random, ~60% of trials
        "RuntimeError: deterministic bug in my fit: tensor has wrong rank",
        "mylib.ShardError: no answer",
        "tensorflow.python.framework.errors_impl.ResourceExhaustedError: OOM when allocating",
    ],
    ids=["random-value-error", "deterministic-runtime-error", "own-class", "tf-oom"],
)
def test_the_advice_on_one_repeated_error_holds_whether_it_is_chance_or_not(line):
    """Before, the advice switched on the error's type: a random ValueError got "fails the
    same way", a deterministic RuntimeError "rerunning resumes"; tunekit cannot know."""
    said = advice(_failed(line, line, line), RESUMES)
    assert all(part in said for part in BOTH_WAYS), said


def test_the_advice_on_refused_fit_calls_is_their_fix():
    line = "tunekit.fitting.HyperModelFitError: M.fit passes validation_split=0.2 to model.fit"
    said = advice(_failed(line, line), RESUMES)
    assert "Fix the hypermodel's fit as the error says" in said and "chance" in said, said
    assert "rerunning resumes" not in said


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
    "error",
    [
        ValueError("transient: shard server did not answer"),
        RuntimeError("deterministic bug in my fit: tensor has wrong rank"),
        MemoryError("out of memory"),
    ],
    ids=["value-error", "runtime-error", "memory"],
)
def test_the_stop_after_one_repeated_error_quotes_it_and_says_both_ways(tmp_path, error):
    """Before, a deterministic RuntimeError (every trial) was told "rerunning resumes the
    search", and a ValueError that a flaky server raises "fails the same way"."""
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
    assert "each with the same error" in message
    assert f"with {type(error).__name__}: {error}" in message
    assert all(part in message for part in BOTH_WAYS), message
    # no trial completed: a rerun starts the phase again, with the same trials and seeds
    assert "rerun as it is: the coarse search starts again from its first trial" in message
    assert "the same hyperparameters and the same seeds" in message
    assert info.value.restarts


@pytest.mark.long
def test_a_whole_run_with_a_refused_fit_call_in_some_trials_finishes(tmp_path):
    """The probe's `TypoSome`: before, the run stopped (exit 2) at its second trial, after
    one had completed, saying every trial would fail."""
    run = CoarseToFine(
        SomeTrialsRefused(lambda model, x, y, kw: model.fit(x, y, shufle=False, **kw)),
        _data(),
        directory=tmp_path,
        project_name="whole",
        fine_tuner="bayesian",
        fine_trials=2,
        **{**TINY, "coarse_trials": 4},  # the narrowing needs 3 completed
    )
    result = run.run()
    run.close()
    assert result.best_hyperparameters is not None
    table = tunekit.trials_dataframe(run.run_dir)
    errors = [e for e in table["error"] if isinstance(e, str) and e]
    assert len(errors) == 1 and "unexpected keyword argument 'shufle'" in errors[0], errors


def test_a_search_stopped_at_once_leaves_no_trial_running(tmp_path):
    """A `FatalError` (here `SearchInputError`: a returned dict without the objective, which
    KerasTuner's own check stops on) stops the search at its trial; before, that trial's
    `trial.json` stayed RUNNING."""
    import json

    run = CoarseToFine(
        FitCalls(lambda model, x, y, kw: {"my_score": model.fit(x, y, **kw).history["loss"][-1]}),
        _data(),
        directory=tmp_path,
        project_name="fatal",
        objective="val_accuracy:max",
        **TINY,
    )
    with pytest.raises(tunekit.SearchInputError):
        run.run()
    run.close()
    statuses = [json.loads(f.read_text())["status"] for f in _trial_files(run)]
    assert statuses == ["FAILED"], statuses
    assert not run._tuner("coarse").oracle.ongoing_trials
