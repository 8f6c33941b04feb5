"""A trial tunekit refuses for its own configuration fails; the search goes on.

Before, each of these refusals was a `SearchInputError` (a KerasTuner `FatalError`):
the first trial whose values made a wrong model, reported no objective, reported it as
a vector or returned a wrong number stopped the whole search, where plain KerasTuner
trains every configuration (and fails only a trial whose build or fit raises). Each
hypermodel here is wrong for some values only: the search now completes, those trials
are FAILED with the refusal as their error, the others are scored.
"""

from __future__ import annotations

import keras
import keras_tuner as kt
import numpy as np
import pytest

from tunekit.errors import ModelCheckError
from tunekit.progress import failure_reason
from tunekit.trial_refusals import TrialRefusedError
from tunekit.tuners import make_tuner


def _data(n=64, features=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, features), dtype=np.float32)
    y = (x[:, 0] > 0.5).astype("int64")
    return x[:48], y[:48], x[48:], y[48:]


def _model(metrics, units=4, features=6):
    model = keras.Sequential(
        [
            keras.Input((features,)),
            keras.layers.Dense(units, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=metrics, run_eagerly=True)
    return model


def _search(tuner):
    x, y, x_val, y_val = _data()
    tuner.search(x, y, validation_data=(x_val, y_val), epochs=1, batch_size=16, verbose=0)
    return tuner


def _grid(build, tmp_path, objective, **kwargs):
    return make_tuner(
        "grid", build, objective=objective, directory=tmp_path, project_name="p", seed=0, **kwargs
    )


def _by(tuner, name):
    """`{value of hp `name`: [trials]}`."""
    found: dict = {}
    for trial in tuner.oracle.trials.values():
        found.setdefault(trial.hyperparameters[name], []).append(trial)
    return found


def _assert_split(tuner, name, bad, said):
    """The trials of `name == bad` FAILED with `said`; the others COMPLETED, scored."""
    by = _by(tuner, name)
    assert bad in by and len(by) > 1, by
    for value, trials in by.items():
        for trial in trials:
            if value == bad:
                assert trial.status == "FAILED", (value, trial.status)
                reason = failure_reason(trial)
                assert reason.startswith("tunekit.trial_refusals.TrialRefusedError: ") or (
                    reason.startswith("TrialRefusedError: ")
                ), reason
                assert said in reason, reason
            else:
                assert trial.status == "COMPLETED", (value, trial.message)
                assert trial.score is not None and np.isfinite(trial.score)
    best = tuner.get_best_hyperparameters()[0]
    assert best[name] != bad


def test_a_trial_whose_model_does_not_report_the_objective_fails_and_the_search_goes_on(
    tmp_path,
):
    """A metric named by the trial's values (`AUC(name=...)`): only some models log
    `val_auc`. Before, the first of them stopped the search (`SearchInputError`)."""

    def build(hp):
        name = hp.Choice("metric", ["auc", "area"])
        hp.Choice("units", [2, 4])
        return _model([keras.metrics.AUC(name=name)], units=hp["units"])

    tuner = _search(_grid(build, tmp_path, "val_auc:max"))
    assert len(tuner.oracle.trials) == 4
    _assert_split(tuner, "metric", "area", "The objective 'val_auc' is not among the metrics")


def test_a_trial_whose_objective_is_a_vector_fails_and_the_search_goes_on(tmp_path):
    """`Precision(thresholds=[0.3, 0.5])` in some trials only: a vector `val_precision`,
    which KerasTuner would record as the mean. Before: the whole search stopped."""

    def build(hp):
        vector = hp.Boolean("vector")
        hp.Choice("units", [2, 4])
        thresholds = [0.3, 0.5] if vector else None
        return _model([keras.metrics.Precision(thresholds=thresholds)], units=hp["units"])

    tuner = _search(_grid(build, tmp_path, "val_precision:max"))
    assert len(tuner.oracle.trials) == 4
    _assert_split(tuner, "vector", True, "names a metric with 2 values per epoch")


class _ReturnsANumberSometimes(kt.HyperModel):
    """KerasTuner's "return a single float to minimize", for some values only."""

    def build(self, hp):
        hp.Boolean("number")
        return _model(["accuracy"], units=hp.Choice("units", [2, 4]))

    def fit(self, hp, model, x, y, validation_data=None, **kwargs):
        history = model.fit(x, y, validation_data=validation_data, **kwargs)
        if hp["number"]:
            return 1.0 - history.history["val_accuracy"][-1]  # an error rate
        return history


def test_one_number_under_a_default_objective_fails_only_the_trials_that_return_it(tmp_path):
    """Before, the first trial returning one number under tunekit's default objective
    stopped the search; the trials returning their History are tuned now."""
    tuner = _grid(_ReturnsANumberSometimes(), tmp_path, "val_accuracy", objective_defaulted=True)
    _search(tuner)
    assert len(tuner.oracle.trials) == 4
    _assert_split(tuner, "number", True, "The hypermodel's fit returned one number")


class _ReturnsACountSometimes(kt.HyperModel):
    """Returns the count of validation errors as `val_accuracy`, for some values only."""

    def build(self, hp):
        hp.Boolean("count")
        return _model(["accuracy"], units=hp.Choice("units", [2, 4]))

    def fit(self, hp, model, x, y, validation_data=None, **kwargs):
        history = model.fit(x, y, validation_data=validation_data, **kwargs)
        if hp["count"]:
            x_val, y_val = validation_data
            wrong = (model.predict(x_val, verbose=0)[:, 0] > 0.5) != y_val
            return {"val_accuracy": float(np.sum(wrong)) + 2.0}
        return history


def test_a_returned_number_keras_disagrees_with_fails_only_its_trials(tmp_path):
    """Before, the first trial returning a count of errors as `val_accuracy` (Keras logged
    the accuracy in the same fit) stopped the search."""
    tuner = _search(_grid(_ReturnsACountSometimes(), tmp_path, "val_accuracy:max"))
    assert len(tuner.oracle.trials) == 4
    _assert_split(tuner, "count", True, "but Keras logged val_accuracy")


def test_a_model_check_refusal_fails_only_the_trials_whose_model_it_refuses(tmp_path):
    """A `model_check` (the run's per-trial model checks) that refuses some models only:
    a `ModelCheckError` fails that trial, before it trains; the others are scored."""

    def build(hp):
        hp.Choice("units", [2, 4])
        return _model(["accuracy"], units=hp.Choice("width", [3, 5]))

    def model_check(model, what):
        if model.layers[0].units == 5:
            raise ModelCheckError(f"{what} has 5 units, which this check refuses.")

    tuner = _grid(build, tmp_path, "val_accuracy:max", model_check=model_check)
    _search(tuner)
    assert len(tuner.oracle.trials) == 4
    _assert_split(tuner, "width", 5, "'width': 5}) builds a model that has 5 units")
    failed = [t for t in tuner.oracle.trials.values() if t.status == "FAILED"]
    for trial in failed:  # each names its own values; refused before training
        assert f"{{'units': {trial.hyperparameters['units']}, 'width': 5}}" in trial.message
        assert "epochs" not in trial.metrics.metrics


def test_a_refusal_of_the_default_configuration_stops_the_search_at_once(tmp_path):
    """An objective no configuration reports (a typo), met in the default configuration's
    trial: the search stops there (`SearchInputError`: exit 2 on the command line), where
    before it trained `max_consecutive_failed_trials` trials and stopped with a
    `RuntimeError` (exit 1). The message names the trial's values."""
    from tunekit.fitting import SearchInputError

    def build(hp):
        return _model(["accuracy"], units=hp.Choice("units", [2, 3, 4, 5]))

    tuner = _grid(build, tmp_path, "val_acuracy:max", max_consecutive_failed_trials=3)
    with pytest.raises(SearchInputError) as info:
        _search(tuner)
    message = str(info.value)
    assert message.startswith("Trial id 0000, with the values {'units': 2}: The objective ")
    assert "'val_acuracy' is not among the metrics" in message
    assert "Did you mean 'val_accuracy'?" in message
    assert "the space's default configuration" in message
    assert [t.status for t in tuner.oracle.trials.values()] == ["FAILED"]


def test_a_refusal_of_every_configuration_stops_after_the_failures_in_a_row(tmp_path):
    """Without the stop on the defaults (a narrowed fine space), a fault of every
    configuration fails every trial; KerasTuner's stop after
    `max_consecutive_failed_trials` quotes the refusal."""

    def build(hp):
        return _model(["accuracy"], units=hp.Choice("units", [2, 3, 4, 5]))

    tuner = _grid(
        build,
        tmp_path,
        "val_acuracy:max",
        max_consecutive_failed_trials=3,
        stop_on_default_refusal=False,
    )
    with pytest.raises(RuntimeError) as info:  # KerasTuner's stop (`TrialsFailedError` in a run)
        _search(tuner)
    message = str(info.value)
    assert "Number of consecutive failures exceeded the limit of 3" in message
    assert "TrialRefusedError: Trial id 0002, with the values {'units': 4}: The objective" in (
        message
    )
    assert [t.status for t in tuner.oracle.trials.values()] == ["FAILED"] * 3


def test_a_refusal_of_some_trials_names_their_values_and_no_advice_for_all(tmp_path):
    """A metric named by a hyperparameter (`name=hp.Choice("mname", ["accuracy", "acc"])`):
    the `acc` trials fail. Before, their error said "Did you mean 'val_acc'? Choose one of
    those as `objective`", which fails the other half; now it names the trial's values
    and asks for one name in every configuration."""

    def build(hp):
        name = hp.Choice("mname", ["accuracy", "acc"])
        hp.Choice("units", [2, 4])
        return _model([keras.metrics.BinaryAccuracy(name=name)], units=hp["units"])

    tuner = _search(_grid(build, tmp_path, "val_accuracy:max"))
    _assert_split(tuner, "mname", "acc", "is not among the metrics this trial's model reports")
    for trial in _by(tuner, "mname")["acc"]:
        reason = failure_reason(trial)
        values = {"mname": "acc", "units": trial.hyperparameters["units"]}
        assert f"Trial id {trial.trial_id}, with the values {values}: " in reason, reason
        assert "Choose one of those" not in reason
        assert "Did you mean" not in reason  # 'val_acc' is reported by half the trials only
        assert "a metric every trial reports" in reason
        assert "one name in every configuration" in reason


def test_a_metric_named_by_a_choice_is_said_so_even_before_any_trial_reports_it(tmp_path):
    """Probe C: the objective named after a choice's other value (`val_acc`, the default
    `accuracy` first) was met with "compile it with the metric you mean", and the
    hyperparameter's part unsaid; an objective no choice names is not said to be one."""

    def build(hp):
        name = hp.Choice("mname", ["accuracy", "acc"])
        return _model([keras.metrics.BinaryAccuracy(name=name)], units=2)

    from tunekit.fitting import SearchInputError

    with pytest.raises(SearchInputError) as info:  # the default configuration's trial
        _search(_grid(build, tmp_path / "named", "val_acc:max"))
    first = str(info.value)
    assert "'val_acc' is not among the metrics" in first, first
    assert "one name in every configuration" in first, first
    assert "compile it with the metric" not in first
    with pytest.raises(SearchInputError) as info:
        _search(_grid(build, tmp_path / "other", "val_auc:max"))
    first = str(info.value)
    assert "compile it with the metric you mean" in first, first
    assert "one name in every configuration" not in first


def test_a_model_check_of_one_trial_says_this_trial_not_every_trial():
    """The model checks' texts were written for the default configuration ("every trial
    would fail"); for one trial's model (a tuned `loss_weights`, a tuned vector metric)
    they say what fails: this trial."""
    from tunekit.errors import ModelCheckError
    from tunekit.steps.compile_checks import check_loss_weights
    from tunekit.steps.vector_objectives import check_scalar_objective

    what = "`hypermodel` (built with the values of trial id 2, {'w': 'acc'}) builds a model that"
    model = _model(["accuracy"])
    model.compile(optimizer="adam", loss="binary_crossentropy", loss_weights=["accuracy"])
    with pytest.raises(ModelCheckError) as info:
        check_loss_weights(model, what)
    assert "and this trial would fail" in str(info.value)
    assert "every trial" not in str(info.value)
    with pytest.raises(ModelCheckError) as info:
        check_loss_weights(model, "The model")  # the default configuration's: all fail
    assert "and every trial would fail" in str(info.value)
    vector = [keras.metrics.Precision(thresholds=[0.3, 0.5])]
    with pytest.raises(ModelCheckError, match="this trial would fail after training"):
        check_scalar_objective("val_precision", vector, what)


def test_too_few_completed_trials_quote_the_failed_trials_errors(tmp_path):
    """Refused trials leave too few completed ones for the narrowing: the error quotes
    their errors, most frequent first, with counts. Before, it said only "fix what made
    them fail" (with --quiet the user saw no reason)."""
    from types import SimpleNamespace

    from tunekit.errors import TooFewTrialsError
    from tunekit.steps.narrow import NarrowStep

    def build(hp):
        name = hp.Choice("metric", ["auc", "area", "roc"])
        hp.Choice("units", [2, 4])
        return _model([keras.metrics.AUC(name=name)], units=hp["units"])

    tuner = _search(_grid(build, tmp_path, "val_auc:max", max_consecutive_failed_trials=5))
    assert len(tuner.oracle.trials) == 6
    ctx = SimpleNamespace(data=None, coarse_trials=6)
    with pytest.raises(TooFewTrialsError) as info:
        NarrowStep().narrow(ctx, tuner.oracle)
    message = str(info.value)
    assert message.startswith("Only 2 of the 6 coarse trials completed with a finite score; ")
    area = "The objective 'val_auc' is not among the metrics this trial's model reports: "
    # each refusal once, with its count (the values it names differ between trials)
    said = '2 trials with errors like "tunekit.trial_refusals.TrialRefusedError: Trial id '
    assert message.startswith(said, message.index("; the failed ones: ") + 19), message
    assert message.count(said) == 2 and message.count(area) == 2
    assert "'metric': 'area'" in message and "'metric': 'roc'" in message


def test_failure_counts_puts_the_most_frequent_error_first():
    from types import SimpleNamespace

    from tunekit.steps.trial_failures import failure_counts

    def failed(error):
        return SimpleNamespace(status="FAILED", message=f"Traceback ...\n{error}\n")

    trials = [failed("KeyError: 'a'"), *[failed("ValueError: b")] * 3, failed("OSError: c")]
    trials.append(SimpleNamespace(status="COMPLETED", message=None))
    assert failure_counts(trials, shown=2) == (
        '3 trials with "ValueError: b"; 1 trial with "KeyError: \'a\'"; 1 more with another error'
    )
    assert failure_counts(trials[-1:]) == ""
    trials.append(failed("TypeError: d"))
    assert failure_counts(trials, shown=2).endswith("; 2 more with 2 other errors")


def test_the_refusal_is_a_failed_trial_error_and_a_tunekit_error():
    from keras_tuner import errors as kt_errors

    import tunekit

    assert tunekit.TrialRefusedError is TrialRefusedError
    assert issubclass(TrialRefusedError, kt_errors.FailedTrialError)
    assert not issubclass(TrialRefusedError, kt_errors.FatalError)
    assert issubclass(TrialRefusedError, (tunekit.TunekitError, ValueError))


def test_a_wrong_number_after_one_scored_under_its_name_stops_the_search():
    """The check allows a tolerance, so a wrong number near Keras's (an error rate near
    0.5 filed as an accuracy) passes. Once one disagrees, every later number under that
    name fails its trial; and if one under it was already scored, the search stops."""
    from keras_tuner import errors as kt_errors

    from tunekit.tuners.returned import check_returned

    seen: dict = {}
    logged = {"val_accuracy": [0.5]}
    check_returned({"val_accuracy": 0.52}, "val_accuracy", logged, seen=seen)  # within it
    with pytest.raises(kt_errors.FatalError, match="earlier trial was scored") as info:
        check_returned({"val_accuracy": 0.9}, "val_accuracy", {"val_accuracy": [0.1]}, seen=seen)
    assert "but Keras logged val_accuracy 0.1" in str(info.value)
    fresh: dict = {}
    with pytest.raises(TrialRefusedError, match="but Keras logged"):
        check_returned({"val_accuracy": 0.9}, "val_accuracy", {"val_accuracy": [0.1]}, seen=fresh)
    trusted = "no number it returns is trusted.*but Keras logged"
    with pytest.raises(TrialRefusedError, match=trusted):
        check_returned({"val_accuracy": 0.5}, "val_accuracy", logged, seen=fresh)
    check_returned({"val_error": 0.5}, "val_error", {}, seen=fresh)  # a name of its own
