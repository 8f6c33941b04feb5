"""A hypermodel's own `fit` that sets `batch_size`, `epochs`, `shuffle`, `callbacks`... itself.

KerasTuner's documented pattern, `model.fit(*args, batch_size=hp.Choice(...), **kwargs)`,
used to fail every trial ("got multiple values for keyword argument 'batch_size'")
because tunekit passes `batch_size` too. See `tunekit.fitting`.
"""

from __future__ import annotations

import json
import logging
import math

import keras
import keras_tuner as kt
import numpy as np
import pytest

import tunekit
from tunekit import CoarseToFine
from tunekit.data import Dataset
from tunekit.fitting import HyperModelFitError, fit_hypermodel
from tunekit.tuners import make_tuner

NUM_SAMPLES = 64


def _build(hp):
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(hp.Int("units", 4, 16, step=4), activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    # Eager: on a few dozen samples, tracing would cost more than training.
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"], run_eagerly=True)
    return model


class BatchSizeHyperModel(kt.HyperModel):
    """KerasTuner's documented pattern: `fit` tunes the batch size."""

    def build(self, hp):
        return _build(hp)

    def fit(self, hp, model, *args, **kwargs):
        return model.fit(*args, batch_size=hp.Choice("batch_size", [16, 32]), **kwargs)


class FixedFitHyperModel(kt.HyperModel):
    """A `fit` that sets the given `model.fit` keywords itself."""

    def __init__(self, **fit_kwargs):
        super().__init__()
        self.fit_kwargs = fit_kwargs

    def build(self, hp):
        return _build(hp)

    def fit(self, hp, model, *args, **kwargs):
        return model.fit(*args, **self.fit_kwargs, **kwargs)


class ScoresOnValidationData(kt.HyperModel):
    """KerasTuner's documented `fit` that returns its own score: `validation_data` required."""

    def __init__(self):
        super().__init__()
        self.validation_sizes: list[int] = []

    def build(self, hp):
        return _build(hp)

    def fit(self, hp, model, x, y, validation_data, **kwargs):
        model.fit(x, y, **kwargs)
        x_val, y_val = validation_data
        self.validation_sizes.append(len(x_val))
        predicted = model.predict(x_val, verbose=0).argmax(axis=1)
        return float(np.mean(predicted == np.asarray(y_val).reshape(-1)))


class ScoresOnOptionalValidationData(ScoresOnValidationData):
    """The same `fit` with `validation_data=None`: it still reads it."""

    def fit(self, hp, model, x, y, validation_data=None, **kwargs):
        return super().fit(hp, model, x, y, validation_data, **kwargs)


class StepsRecorder(keras.callbacks.Callback):
    """Records the steps per epoch and the epochs of every fit it is passed to."""

    def __init__(self):
        super().__init__()
        self.fits: list[tuple[int, int]] = []
        self.epochs_run = 0

    def on_train_begin(self, logs=None):
        self.fits.append((self.params["steps"], self.params["epochs"]))

    def on_epoch_end(self, epoch, logs=None):
        self.epochs_run += 1


TRIAL_FITS: list[tuple[int, int]] = []  # survives KerasTuner's per-trial copies of callbacks


class TrialStepsRecorder(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        TRIAL_FITS.append((self.params["steps"], self.params["epochs"]))


def _arrays(n=NUM_SAMPLES):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 8)).astype("float32"), rng.integers(0, 3, n)


def _fit(hypermodel, callbacks=(), **kwargs):
    x, y = _arrays()
    hp = kt.HyperParameters()
    model = hypermodel.build(hp)
    call = fit_hypermodel(
        hypermodel,
        hp,
        model,
        x,
        y,
        epochs=1,
        batch_size=64,
        callbacks=list(callbacks),
        verbose=0,
        **kwargs,
    )
    return call, model, hp


# -- fit_hypermodel, the one place tunekit calls a hypermodel's fit ----------------------


def test_the_documented_batch_size_pattern_trains_with_the_hp_value():
    recorder = StepsRecorder()
    call, model, hp = _fit(BatchSizeHyperModel(), [recorder])
    assert hp.values["batch_size"] == 16
    assert call.fit_kwargs["batch_size"] == 16 and call.set_by_hypermodel == ("batch_size",)
    assert recorder.fits == [(NUM_SAMPLES // 16, 1)]  # 4 steps of 16, not 1 of 64
    assert len(call.results.history["loss"]) == 1
    assert "fit" not in vars(model)  # model.fit is the class's again


class CountingHyperModel(kt.HyperModel):
    """Counts its `fit` calls: the documented keyword form, or through `kwargs`."""

    def __init__(self, through_kwargs):
        super().__init__()
        self.through_kwargs = through_kwargs
        self.calls = 0

    def build(self, hp):
        return _build(hp)

    def fit(self, hp, model, *args, **kwargs):
        self.calls += 1  # a side effect before model.fit
        if self.through_kwargs:
            kwargs["batch_size"] = hp.Choice("batch_size", [16, 32])
            return model.fit(*args, **kwargs)
        return model.fit(*args, batch_size=hp.Choice("batch_size", [16, 32]), **kwargs)


@pytest.mark.parametrize("through_kwargs, calls", [(False, 2), (True, 1)])
def test_a_fit_runs_again_per_clashing_keyword_and_once_when_it_sets_kwargs(through_kwargs, calls):
    """What the README says: the keyword form is retried once per keyword it sets (before
    any training), the `kwargs[...] =` form runs once; both train with the tuned value."""
    hypermodel = CountingHyperModel(through_kwargs)
    recorder = StepsRecorder()
    call, _, _ = _fit(hypermodel, [recorder])
    assert hypermodel.calls == calls
    assert call.fit_kwargs["batch_size"] == 16 and recorder.fits == [(NUM_SAMPLES // 16, 1)]


def test_a_fit_that_sets_epochs_and_shuffle_wins_and_the_rest_is_tunekits():
    recorder = StepsRecorder()
    call, _, _ = _fit(FixedFitHyperModel(epochs=3, shuffle=False), [recorder])
    assert call.fit_kwargs["epochs"] == 3 and call.fit_kwargs["shuffle"] is False
    assert call.fit_kwargs["batch_size"] == 64 and call.fit_kwargs["verbose"] == 0
    assert recorder.fits == [(1, 3)] and recorder.epochs_run == 3
    assert sorted(call.set_by_hypermodel) == ["epochs"]  # shuffle: tunekit never passes it


def test_callbacks_of_the_fit_are_added_after_tunekits():
    order = []

    class Mark(keras.callbacks.Callback):
        def __init__(self, name):
            super().__init__()
            self.name = name

        def on_train_begin(self, logs=None):
            order.append(self.name)

    hypermodel = FixedFitHyperModel(callbacks=[Mark("hypermodel's")])
    call, _, _ = _fit(hypermodel, [Mark("tunekit's")])
    assert order == ["tunekit's", "hypermodel's"]
    assert call.set_by_hypermodel == ("callbacks",)


def test_a_fit_with_its_own_training_loop_gets_every_keyword():
    seen = {}

    class OwnLoop(kt.HyperModel):
        def build(self, hp):
            return _build(hp)

        def fit(self, hp, model, x, y, callbacks=None, **kwargs):
            seen.update(kwargs, callbacks=callbacks)
            return {"accuracy": 0.5}

    call, _, _ = _fit(OwnLoop())
    assert call.results == {"accuracy": 0.5} and call.fit_kwargs == {}
    assert seen == {"epochs": 1, "batch_size": 64, "verbose": 0, "callbacks": []}


class PopsEpochs(kt.HyperModel):
    """Sets `epochs` through its kwargs: no "multiple values" TypeError to catch."""

    def build(self, hp):
        return _build(hp)

    def fit(self, hp, model, *args, **kwargs):
        kwargs.pop("epochs", None)
        return model.fit(*args, epochs=hp.Int("ep", 2, 3), **kwargs)


class SetsEpochs(kt.HyperModel):
    """Sets `epochs` in its kwargs to a fixed count, here the one tunekit passes (1)."""

    def build(self, hp):
        return _build(hp)

    def fit(self, hp, model, *args, **kwargs):
        kwargs["epochs"] = 1
        return model.fit(*args, **kwargs)


class PassesEpochsOn(kt.HyperModel):
    """Takes `epochs` out of its kwargs and passes the same object on: not a change."""

    def build(self, hp):
        return _build(hp)

    def fit(self, hp, model, *args, epochs, **kwargs):
        return model.fit(*args, epochs=epochs, **kwargs)


class DropsCallbacks(kt.HyperModel):
    def build(self, hp):
        return _build(hp)

    def fit(self, hp, model, x, y, **kwargs):
        return model.fit(x, y, epochs=1, callbacks=[keras.callbacks.TerminateOnNaN()])


@pytest.mark.parametrize(
    "hypermodel, refused, message",
    [
        (
            DropsCallbacks(),
            None,
            "without the callbacks tunekit passes it in `callbacks` (StepsRecorder)",
        ),
        (FixedFitHyperModel(validation_split=0.2), None, "validation_split=0.2"),
        (
            FixedFitHyperModel(epochs=3),
            {"epochs": "Hyperband's budget"},
            "FixedFitHyperModel.fit sets `epochs` itself, which tunekit cannot let it do here: "
            "Hyperband's budget",
        ),
        (
            PopsEpochs(),
            {"epochs": "Hyperband's budget"},
            "PopsEpochs.fit sets `epochs` itself before it reaches model.fit (1 -> 2), which "
            "tunekit cannot let it do here: Hyperband's budget",
        ),
        (
            SetsEpochs(),
            {"epochs": "Hyperband's budget"},
            "SetsEpochs.fit sets `epochs` itself before it reaches model.fit (to 1, the value "
            "tunekit passed to this fit; other trials and the retrain pass others), which "
            "tunekit cannot let it do here: Hyperband's budget",
        ),
    ],
    ids=[
        "drops-callbacks",
        "validation-split",
        "refused-keyword",
        "refused-keyword-via-kwargs",
        "refused-keyword-set-to-tunekits-value",
    ],
)
def test_a_fit_that_breaks_the_contract_is_refused_before_training(hypermodel, refused, message):
    recorder = StepsRecorder()
    with pytest.raises(HyperModelFitError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _fit(hypermodel, [recorder], refused=refused)
    assert recorder.fits == [] and recorder.epochs_run == 0
    # Fails its trial only (not retried): what a fit passes may depend on the trial's hps.
    assert issubclass(HyperModelFitError, kt.errors.FailedTrialError)
    assert not issubclass(HyperModelFitError, kt.errors.FatalError)


def test_a_refused_keyword_passed_on_unchanged_is_accepted():
    recorder = StepsRecorder()
    call, _, _ = _fit(PassesEpochsOn(), [recorder], refused={"epochs": "Hyperband's budget"})
    assert recorder.fits == [(1, 1)] and call.fit_kwargs["epochs"] == 1


def test_other_type_errors_of_the_fit_are_not_retried():
    calls = []

    class Broken(kt.HyperModel):
        def build(self, hp):
            return _build(hp)

        def fit(self, hp, model, *args, **kwargs):
            calls.append(1)
            raise TypeError("unsupported operand type(s)")

    with pytest.raises(TypeError, match="unsupported operand"):
        _fit(Broken())
    assert calls == [1]


# -- through KerasTuner's tuners ----------------------------------------------------------


@pytest.mark.parametrize(
    "kind, budget",
    [
        ("random", dict(max_trials=3)),
        pytest.param("hyperband", dict(max_epochs=2, factor=2), marks=pytest.mark.slow),
    ],
)
def test_tuners_complete_every_trial_with_the_tuned_batch_size(kind, budget, tmp_path):
    x, y = _arrays()
    TRIAL_FITS.clear()
    tuner = make_tuner(
        kind,
        BatchSizeHyperModel(),
        objective="val_accuracy",
        directory=str(tmp_path),
        project_name=kind,
        seed=0,
        **budget,
    )
    tuner.search(
        x,
        y,
        validation_data=(x, y),
        epochs=1,
        batch_size=64,
        callbacks=[TrialStepsRecorder()],
        verbose=0,
    )
    trials = list(tuner.oracle.trials.values())
    assert [t.status for t in trials] == ["COMPLETED"] * len(trials)
    batch_sizes = [t.hyperparameters.values["batch_size"] for t in trials]
    assert set(batch_sizes) == {16, 32}
    assert [steps for steps, _ in TRIAL_FITS] == [NUM_SAMPLES // b for b in batch_sizes]


def test_plain_kerastuner_runs_the_same_hypermodel(tmp_path):
    x, y = _arrays()
    tuner = kt.RandomSearch(
        BatchSizeHyperModel(),
        objective="val_accuracy",
        max_trials=2,
        directory=str(tmp_path),
        project_name="plain",
        seed=1,
    )
    tuner.search(x, y, validation_data=(x, y), epochs=1, verbose=0)  # no batch_size
    assert [t.status for t in tuner.oracle.trials.values()] == ["COMPLETED"] * 2


def test_hyperband_fails_each_trial_whose_fit_sets_epochs_before_training(tmp_path):
    from tunekit.progress import failure_reason

    x, y = _arrays()
    tuner = make_tuner(
        "hyperband",
        FixedFitHyperModel(epochs=3),
        objective="val_accuracy",
        directory=str(tmp_path),
        project_name="hb",
        max_epochs=2,
        factor=2,
    )
    # the first trial is the default configuration's: its refusal stops the search at once
    with pytest.raises(tunekit.SearchInputError, match="default configuration"):
        tuner.search(x, y, validation_data=(x, y), verbose=0)
    trials = list(tuner.oracle.trials.values())
    assert [t.status for t in trials] == ["FAILED"]
    assert all("Hyperband allocates each trial's epochs" in failure_reason(t) for t in trials)


# -- end to end: search and retrain --------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return Dataset.from_arrays(x[:300, :8] / 16.0, y[:300] % 3, seed=0)


TINY = dict(
    coarse_trials=3,
    coarse_epochs=1,
    max_epochs=2,
    top=1.0,
    seed=0,
    verbose=0,
    finalists=0,
    baseline=False,
)
# Each fine tuner's own budget: the other's is refused (it would be dropped).
BUDGET: dict[str, dict[str, int]] = {"hyperband": dict(factor=2), "bayesian": dict(fine_trials=2)}


@pytest.mark.parametrize(
    "fine_tuner", ["hyperband", pytest.param("bayesian", marks=pytest.mark.slow)]
)
def test_coarse_to_fine_tunes_and_retrains_with_the_tuned_batch_size(fine_tuner, digits, tmp_path):
    recorder = StepsRecorder()  # KerasTuner copies it per trial: this one sees the retrain
    run = CoarseToFine(
        BatchSizeHyperModel(),
        digits,
        directory=tmp_path,
        project_name="bs",
        fine_tuner=fine_tuner,
        callbacks=[recorder],
        **TINY,
        **BUDGET[fine_tuner],
    )
    run.retrain()  # coarse, narrow, fine, retrain (the test evaluation adds nothing here)
    run.close()
    best = json.loads((run.run_dir / "best_hyperparameters.json").read_text())
    for phase in ("coarse", "fine"):
        trials = list(run._tuner(phase).oracle.trials.values())
        assert trials and [t.status for t in trials] == ["COMPLETED"] * len(trials), phase
    if fine_tuner == "hyperband":  # continued trials still train from their initial epoch
        continued = [
            t.hyperparameters.values
            for t in run._tuner("fine").oracle.trials.values()
            if t.hyperparameters.values.get("tuner/trial_id") is not None
        ]
        assert continued and all(
            run._tuner("fine")
            .oracle.trials[v["tuner/trial_id"]]
            .hyperparameters.values["batch_size"]
            == v["batch_size"]
            for v in continued
        )
        for trial in run._tuner("fine").oracle.trials.values():
            values = trial.hyperparameters.values
            assert trial.metrics.get_last_value("epochs") == (
                values["tuner/epochs"] - values["tuner/initial_epoch"]
            )
    batch_size = best["values"]["batch_size"]
    num_train = len(digits.x_train) + len(digits.x_val)
    assert recorder.fits == [(math.ceil(num_train / batch_size), best["final_epochs"])]
    assert best["batch_size"] == batch_size == run.manifest.step("retrain")["batch_size"]


@pytest.mark.long
def test_a_fit_that_sets_epochs_decides_the_retrain_epochs(digits, tmp_path):
    recorder = StepsRecorder()
    run = CoarseToFine(
        FixedFitHyperModel(epochs=3, shuffle=False),
        digits,
        directory=tmp_path,
        project_name="epochs",
        fine_tuner="bayesian",
        callbacks=[recorder],
        **TINY,
        **BUDGET["bayesian"],
    )
    run.retrain()
    for phase in ("coarse", "fine"):
        trials = list(run._tuner(phase).oracle.trials.values())
        assert [t.metrics.get_last_value("epochs") for t in trials] == [3] * len(trials)
    retrain = run.manifest.step("retrain")
    assert retrain["final_epochs"] == 3 and recorder.epochs_run == 3
    assert retrain["epochs_rule"] == "set by the hypermodel's own fit"
    base = retrain["history"]["learning_rate"][0] / (0.5 * (1 + math.cos(math.pi * 0.5 / 3)))
    assert retrain["history"]["learning_rate"] == pytest.approx(  # cosine over the fit's 3
        [base * 0.5 * (1 + math.cos(math.pi * (e + 0.5) / 3)) for e in range(3)], rel=1e-5
    )
    assert retrain["batch_size"] == 128  # tunekit's: the fit sets none
    run.close()


def test_a_fit_that_requires_validation_data_gets_the_validation_split_in_the_final_fits(
    digits, tmp_path
):
    """Before, the search ran and the retrain then failed: "fit() missing 1 required
    positional argument: 'validation_data'" (plain KerasTuner tunes this `fit`)."""
    hypermodel = ScoresOnValidationData()
    run = CoarseToFine(
        hypermodel,
        digits,
        directory=tmp_path,
        project_name="val",
        objective="val_accuracy:max",  # what its one number is: the default would be refused
        **{**TINY, **BUDGET["hyperband"], "baseline": True},
    )
    result = run.run()
    run.close()
    assert run.manifest.is_done("baseline") and 0.0 <= result.test_metrics["accuracy"] <= 1.0
    # Every fit, trials and the retrain and baseline too, got the validation split.
    assert set(hypermodel.validation_sizes) == {len(digits.y_val)}
    assert len(hypermodel.validation_sizes) >= TINY["coarse_trials"] + 2


def test_a_fit_with_validation_data_none_gets_it_in_the_final_fits_too(digits, tmp_path):
    """Before, only a `fit` that required it got it: `validation_data=None` reached the
    retrain as None, and this `fit` crashed there ("cannot unpack non-iterable NoneType
    object") after the whole search. A `fit` of `**kwargs` only still gets none."""
    from tunekit.fitting import takes_validation_data
    from tunekit.steps.base import final_fit_options

    class OnlyKwargs(ScoresOnValidationData):
        def fit(self, hp, model, *args, **kwargs):
            return model.fit(*args, **kwargs)

    class ReadsKwargs(ScoresOnValidationData):  # before: a bare KeyError in the retrain
        def fit(self, hp, model, x, y, **kwargs):
            return super().fit(hp, model, x, y, kwargs["validation_data"])

    run = CoarseToFine(
        ScoresOnOptionalValidationData(),
        digits,
        directory=tmp_path,
        project_name="optional",
        objective="val_accuracy:max",
        **TINY,
    )
    options = final_fit_options(run)
    x_val, y_val = options["validation_data"]
    assert len(x_val) == len(y_val) == len(digits.y_val)
    assert len(digits.y_val) % options["validation_batch_size"] == 0  # no partial batch
    run.close()
    assert takes_validation_data(ScoresOnValidationData())
    assert not takes_validation_data(OnlyKwargs())  # it may test "validation_data" in kwargs
    assert not takes_validation_data(ReadsKwargs())  # ... so this one is told the fix:
    hypermodel = ReadsKwargs()
    hp = kt.HyperParameters()
    model = hypermodel.build(hp)
    with pytest.raises(HyperModelFitError, match=r"reads kwargs\['validation_data'\].*=None"):
        fit_hypermodel(hypermodel, hp, model, digits.x_train, digits.y_train, epochs=1, verbose=0)


def test_with_cv_and_no_validation_split_such_a_fit_gets_the_training_data_in_the_final_fits(
    tmp_path,
):
    """Before, the retrain passed it the empty validation split and crashed in predict."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    data = Dataset.from_arrays(x[:240, :8] / 16.0, y[:240] % 3, validation_fraction=0.0)
    hypermodel = ScoresOnValidationData()
    options = {**TINY, **BUDGET["bayesian"], "fine_tuner": "bayesian", "cv": 2, "baseline": False}
    options["objective"] = "val_accuracy:max"  # what its one number is
    result = CoarseToFine(hypermodel, data, directory=tmp_path, project_name="cv", **options).run()
    assert 0.0 <= result.test_metrics["accuracy"] <= 1.0
    assert hypermodel.validation_sizes[-1] == len(data.y_train_full)  # the retrain's


def test_the_retrain_and_baseline_lines_say_the_epochs_a_fit_that_sets_them_trained(
    digits, tmp_path, caplog
):
    """Before, the line said the planned count ("for 2 epochs": the trial's last epoch
    was its best, so `--max-epochs`) while the hypermodel's fit trained 1. The line says
    the count tunekit planned (a fit may call model.fit once per epoch) and the one its
    first model.fit received; the record says what it trained."""
    caplog.set_level(logging.INFO, logger="tunekit")
    options = {**TINY, **BUDGET["bayesian"], "verbose": 1, "baseline": True}
    run = CoarseToFine(
        FixedFitHyperModel(epochs=1, shuffle=False),
        digits,
        directory=tmp_path,
        project_name="said",
        fine_tuner="bayesian",
        **options,
    )
    run.run()
    assert run.manifest.step("retrain")["final_epochs"] == 1
    said = [r.getMessage() for r in caplog.records]
    retraining = [line for line in said if line.startswith("Retraining ")]
    own = (
        " That is the epochs=2 tunekit passes to the hypermodel's own fit; its first "
        "model.fit received epochs=1: the epochs trained are the fit's own."
    )
    assert len(retraining) == 1 and " for 2 epochs (" in retraining[0], said
    assert retraining[0].endswith(own)
    baseline = [line for line in said if line.startswith("Training the baseline")]
    assert len(baseline) == 1 and "train+validation for 1 epoch," in baseline[0], said
    assert own not in baseline[0]  # planned: the retrain's recorded count, 1


@pytest.mark.parametrize(
    "hypermodel",
    [FixedFitHyperModel(epochs=3), SetsEpochs()],
    ids=["keyword", "kwargs-equal-to-coarse-epochs"],
)
def test_a_fit_that_sets_epochs_fails_its_trials_before_training_when_hyperband_follows(
    hypermodel, digits, tmp_path
):
    # SetsEpochs sets 1, the coarse epochs: it was accepted until the first fine trial (2).
    _refused_before_training(hypermodel, digits, tmp_path, "fine_tuner='bayesian'")


@pytest.mark.parametrize("hypermodel", [BatchSizeHyperModel(), FixedFitHyperModel(batch_size=8)])
def test_a_fit_that_sets_batch_size_is_refused_when_batch_size_is_given_too(
    hypermodel, digits, tmp_path
):
    # Before, batch_size=64 was dropped in every trial and the retrain (the fit's 16 / 32
    # trained), while report.json's config and the reproduce line said 64.
    match = "batch_size=64 sets the batch size"
    _refused_before_training(hypermodel, digits, tmp_path, match, batch_size=64)


def _refused_before_training(hypermodel, data, tmp_path, match, **settings):
    """A Hyperband run of `hypermodel` stops at its default configuration's trial, refused
    (`match`) before `model.fit` trained."""
    TRIAL_FITS.clear()
    run = CoarseToFine(
        hypermodel,
        data,
        directory=tmp_path,
        project_name="refused",
        fine_tuner="hyperband",
        callbacks=[TrialStepsRecorder()],
        **TINY,
        **BUDGET["hyperband"],
        **settings,
    )
    with pytest.raises(tunekit.SearchInputError, match=match):
        run.run()  # refused in the default configuration's trial: the run stops there
    assert TRIAL_FITS == []  # before model.fit
    run.close()


class TunedEpochsHyperModel(kt.HyperModel):
    """`epochs=hp.Choice("epochs", [1, 3])`: its default draw equals tunekit's coarse epochs."""

    def build(self, hp):
        return _build(hp)

    def fit(self, hp, model, *args, **kwargs):
        kwargs.pop("epochs", None)
        return model.fit(*args, epochs=hp.Choice("epochs", [1, 3]), **kwargs)


def test_a_fit_that_tunes_epochs_is_refused_in_every_trial_even_when_it_draws_tunekits(
    digits, tmp_path
):
    # The first coarse trial is the defaults: epochs 1, the same as coarse_epochs=1. It was
    # accepted, and the run refused only later, at the first trial that drew 3.
    TRIAL_FITS.clear()
    run = CoarseToFine(
        TunedEpochsHyperModel(),
        digits,
        directory=tmp_path,
        project_name="tuned_epochs",
        fine_tuner="hyperband",
        callbacks=[TrialStepsRecorder()],
        **TINY,
        **BUDGET["hyperband"],
    )
    from tunekit.progress import failure_reason

    with pytest.raises(tunekit.SearchInputError, match=r"tunes `epochs` \(hp 'epochs', "):
        run.run()
    first = run._tuner("coarse").oracle.trials["0"]
    assert "tunes `epochs` (hp 'epochs', 1 in this trial" in failure_reason(first)
    assert TRIAL_FITS == []  # nothing trained
    run.close()
    # The corrected settings (Bayesian: the fit may tune epochs) start over without --overwrite.
    again = CoarseToFine(
        TunedEpochsHyperModel(),
        digits,
        directory=tmp_path,
        project_name="tuned_epochs",
        fine_tuner="bayesian",
        **{**TINY, **BUDGET["bayesian"], "final_epochs": "auto"},
    )
    again.coarse()
    assert all(
        t.metrics.get_last_value("epochs") == t.hyperparameters.get("epochs")
        for t in again._tuner("coarse").oracle.trials.values()
    )
    again.close()


class ErrorRateFit(kt.HyperModel):
    """KerasTuner's guide: a `fit` may "return a single float to minimize" (here an error)."""

    def build(self, hp):
        model = keras.Sequential(
            [keras.Input((8,)), keras.layers.Dense(hp.Int("units", 2, 32, step=2), "relu")]
            + [keras.layers.Dense(3, "softmax")]
        )
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return model

    def fit(self, hp, model, x, y, validation_data, **kwargs):
        model.fit(x, y, **kwargs)
        x_val, y_val = validation_data
        return float(np.mean(np.argmax(model.predict(x_val, verbose=0), axis=1) != y_val))


def test_a_fit_returning_one_number_needs_an_objective_that_says_what_it_is(digits, tmp_path):
    """Before, the number (an error rate) was filed as the default `val_accuracy` and
    maximised: the worst trial was picked and reported as the best, at exit 0. Each such
    trial fails (a `fit` may return one number for some values only: those are the
    trials refused); the first trial, the default configuration's, stops the search."""
    from tunekit import SearchInputError

    run = CoarseToFine(ErrorRateFit(), digits, directory=tmp_path, project_name="d", **TINY)
    with pytest.raises(
        SearchInputError,
        match=r"(?s)^Trial id 0, with the values .*: The hypermodel's fit returned one number "
        r"\(0\.\d+\).*'val_accuracy' \(maximised\).*objective=\"NAME:min\" for an error.*"
        r"the space's default configuration",
    ):
        run.coarse()
    trials = run._tuner("coarse").oracle.trials.values()
    assert [t.status for t in trials] == ["FAILED"]
    run.close()
    named = CoarseToFine(
        ErrorRateFit(),
        digits,
        directory=tmp_path,
        project_name="named",
        objective="val_error:min",
        **{**TINY, "coarse_trials": 4},
        **BUDGET["hyperband"],
    )
    named.run()
    errors = [
        t.score
        for phase in ("coarse", "fine")
        for t in named._tuner(phase).oracle.trials.values()
        if t.status == "COMPLETED"
    ]
    report = json.loads((tmp_path / "named" / "report.json").read_text())
    assert len(set(errors)) > 1  # the trials differ: the pick could go wrong
    best = report["best"]
    picked = named._tuner(best["phase"]).oracle.trials[best["trial_id"]]
    assert picked.score == pytest.approx(min(errors))
    named.close()


class ReturnsAMetricOfItsOwn(ErrorRateFit):
    """A fit returning one number computed itself, on a model that compiles `accuracy`."""

    def __init__(self, kind):
        super().__init__()
        self.kind = kind

    def build(self, hp):
        model = super().build(hp)
        model.compile(
            optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
        )
        return model

    def fit(self, hp, model, x, y, validation_data, **kwargs):
        logged = self.kind.endswith("logged")  # Keras logs val_accuracy itself
        model.fit(x, y, validation_data=validation_data if logged else None, **kwargs)
        x_val, y_val = validation_data
        right = np.mean(np.argmax(model.predict(x_val, verbose=0), axis=1) == y_val)
        value = float(right if self.kind.startswith("accuracy") else 1 - right)
        return {"val_accuracy": value} if self.kind.endswith("dict") else value


@pytest.mark.parametrize(
    "kind", ["error", "error logged", "error dict", "accuracy", "accuracy logged"]
)
def test_a_returned_number_is_checked_against_the_keras_metric_it_is_filed_under(
    kind, digits, tmp_path
):
    """Found by a probe: an error rate returned with objective="val_accuracy:max" was
    maximised as an accuracy: the worst trial won (test accuracy below chance), exit 0,
    and `trials.csv` showed the error as the trial's val_accuracy where Keras had logged
    the real one. Now each such trial fails, and the first, the space's default
    configuration, stops the search at once (exit 2 on the command line): every
    configuration returns the error here. The accuracy itself is tuned."""
    from tunekit import SearchInputError

    run = CoarseToFine(
        ReturnsAMetricOfItsOwn(kind),
        digits,
        directory=tmp_path,
        project_name="d",
        objective="val_accuracy:max",
        **TINY,
    )
    if kind.startswith("accuracy"):
        run.coarse()
        trials = run._tuner("coarse").oracle.trials.values()
        assert len(trials) == TINY["coarse_trials"]
        assert all(t.status == "COMPLETED" for t in trials)
    else:
        said = "logged val_accuracy" if kind.endswith("logged") else "evaluates the trained"
        with pytest.raises(
            SearchInputError, match=rf"returned 0\.\d+ as 'val_accuracy', but Keras {said}"
        ) as info:
            run.coarse()
        assert "the space's default configuration" in str(info.value)
        trials = run._tuner("coarse").oracle.trials.values()
        assert [t.status for t in trials] == ["FAILED"]
    run.close()


def test_a_fit_returning_a_dict_without_the_objective_says_which_objective_to_pass():
    """Before: KerasTuner's message alone ("Expected the returned dictionary ... to have
    the specified objective, val_accuracy"), with no way out named."""
    from tunekit.fitting import SearchInputError
    from tunekit.tuners.base import _check_fit_results

    with pytest.raises(SearchInputError, match=r'val_accuracy.*objective="my_acc:min" for an') as e:
        _check_fit_results({"my_acc": 0.9, "my_err": 0.1}, kt.Objective("val_accuracy", "max"))
    assert '"my_acc:max" for a score' in str(e.value)  # a name of its own: both directions
    _check_fit_results({"my_acc": 0.9}, kt.Objective("my_acc", "max"))  # the right one passes
    # A name whose direction Keras fixes gets that direction alone (before: an error
    # metric was suggested as "val_mae:max" first).
    with pytest.raises(SearchInputError, match=r'e\.g\. objective="val_mae:min"; the') as e:
        _check_fit_results({"val_mae": 0.4, "mine": 0.1}, kt.Objective("val_loss", "min"))
    assert ":max" not in str(e.value)


class LeastSquaresLoop(kt.HyperModel):
    """An own training loop on a model it never compiles (KerasTuner's custom-loop pattern:
    it calls the callbacks itself), here ridge regression solved in closed form."""

    def build(self, hp):
        hp.Float("l2", 1e-3, 10.0, sampling="log")
        return keras.Sequential([keras.Input((8,)), keras.layers.Dense(3)])  # logits

    def fit(self, hp, model, x, y, validation_data=None, callbacks=None, **kwargs):
        def design(a):
            return np.hstack([a, np.ones((len(a), 1))])

        a = design(x)
        w = np.linalg.solve(a.T @ a + hp["l2"] * np.eye(9), a.T @ np.eye(3)[y])
        model.layers[-1].set_weights([w[:-1].astype("float32"), w[-1].astype("float32")])
        x_val, y_val = validation_data if validation_data is not None else (x, y)
        error = float(np.mean(np.argmax(design(x_val) @ w, axis=1) != y_val))
        for callback in callbacks or []:
            callback.set_model(model)
            callback.on_epoch_end(0, logs={"val_error": error})
        return error


def test_an_own_training_loop_on_a_model_never_compiled_is_tuned_and_tested(digits, tmp_path):
    """Plain KerasTuner tunes it; tunekit failed every trial (its TensorBoard callback read
    `model.optimizer`), then the test evaluation (Keras cannot evaluate without compile)."""
    from tensorboard.backend.event_processing import event_accumulator

    run = CoarseToFine(
        LeastSquaresLoop(),
        digits,
        directory=tmp_path,
        project_name="loop",
        objective="val_error:min",
        **{**TINY, "finalists": 2, "baseline": True},
        **BUDGET["hyperband"],
    )
    result = run.run()
    # Hyperband continued trials from checkpoints the loop's on_epoch_end calls kept: before,
    # written only at on_train_end (never called), every continued trial FAILED.
    fine = run._tuner("fine").oracle.trials.values()
    assert any(t.hyperparameters.values.get("tuner/trial_id") for t in fine)
    assert {t.status for t in fine} == {"COMPLETED"}
    model = keras.models.load_model(tmp_path / "loop" / "best_model.keras")
    assert not model.compiled
    predicted = np.argmax(keras.ops.convert_to_numpy(model(digits.x_test)), axis=1)
    assert result.test_metrics == {"accuracy": pytest.approx(np.mean(predicted == digits.y_test))}
    report = json.loads((tmp_path / "loop" / "report.json").read_text())
    # Its loop never calls on_train_begin, which starts the cosine schedule: not claimed.
    assert report["config"]["final_schedule"] == "cosine"
    assert report["best"]["schedule_applied"] is False
    text = (tmp_path / "loop" / "report.md").read_text()
    assert "(the cosine schedule not applied: the hypermodel's own fit never started it)" in text
    scored = {m["name"]: m["baseline"] for m in report["baseline"]["metrics"]}
    assert scored["accuracy"] > 0.4  # the baseline scored the same way (chance is 1/3)
    logs = tmp_path / "loop" / "tensorboard"
    for folder in (
        logs / "final" / "validation",
        logs / "coarse" / "0" / "execution0" / "validation",
    ):
        events = event_accumulator.EventAccumulator(str(folder))
        events.Reload()
        assert "epoch_error" in events.Tags()["tensors"]  # what the loop logged, as val_error
    run.close()


# -- a fit that transforms x: the test set is scored untransformed -----------------------


class TransformingHyperModel(kt.HyperModel):
    """KerasTuner's guide shape: `fit` changes `x` before `model.fit` (`how` says how)."""

    def __init__(self, how):
        super().__init__()
        self.how = how

    def build(self, hp):
        return _build(hp)

    def fit(self, hp, model, x, y, **kwargs):
        if self.how == "scale":  # preprocessing the test set never gets
            x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-7)
        elif self.how == "tensor":  # the same values, as a backend tensor
            x = keras.ops.convert_to_tensor(x)
        elif self.how == "float64":  # the same values, another dtype
            x = np.asarray(x, dtype="float64")
        elif self.how == "keyword":  # the same object, passed by keyword
            return model.fit(x=x, y=y, **kwargs)
        elif self.how == "subset":  # fewer rows (deduplicated, outliers dropped)
            x, y = x[:-8], y[:-8]
        elif self.how in ("shuffle", "oversample", "shuffle_x_only"):
            rng = np.random.default_rng(0)
            rows = rng.permutation(len(x)) if self.how != "oversample" else np.r_[0 : len(x), 0:9]
            x, y = x[rows], (y if self.how == "shuffle_x_only" else y[rows])
        elif self.how == "in_place":  # plain KerasTuner shifts the user's arrays each trial
            x -= 3.0
        elif self.how.startswith("stream"):  # a tf.data pipeline of its own (probe A)
            import tensorflow as tf

            x = x * 2.0 if self.how == "stream_scaled_x" else x
            y = (y + 1) % 3 if self.how == "stream_shifted_y" else y  # classes renamed
            if self.how == "stream_one_hot":
                y = keras.utils.to_categorical(y, 3)
                model.compile("adam", "categorical_crossentropy", run_eagerly=True)
            batch = kwargs.pop("batch_size", 16)
            stream = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=0)
            return model.fit(stream.batch(batch), **kwargs)
        return model.fit(x, y, **kwargs)


@pytest.mark.parametrize(
    "how, changed",
    [
        ("none", False),
        ("tensor", False),
        ("float64", False),
        ("keyword", False),
        ("scale", True),
        ("subset", False),
        ("shuffle", False),
        ("oversample", False),
        ("shuffle_x_only", True),
        ("stream", False),
        ("stream_scaled_x", True),
        ("stream_shifted_y", False),
        ("stream_one_hot", False),  # probe C: one-hot rows of the same labels, no note
    ],
)
def test_a_fit_that_changes_x_is_seen(how, changed):
    """Probe A (stop 67): samples moved, dropped or repeated together with their targets
    are the same data (the test score is the model's); a fit that shuffles x apart from y
    changed its inputs. A stream of the fit's own is judged by its first batch: x and y
    as given, no change (it was "transformed inputs"); its targets changed, `y_changed`."""
    call, _, _ = _fit(TransformingHyperModel(how))
    assert call.x_changed is changed
    assert call.y_changed is (how == "stream_shifted_y")


def test_dict_inputs_compare_key_by_key():
    from tunekit.fit_changes import x_changed as _x_changed

    a, b = np.zeros((4, 2)), np.ones((4, 3))
    assert not _x_changed({"a": a.copy(), "b": b}, {"a": a, "b": b})
    assert _x_changed({"a": a + 1, "b": b}, {"a": a, "b": b})
    # A key left out (`w = x.pop("w")`, a sample weight) is no change: the note said the
    # test score was not the model's, though the score recomputed exactly; an added one is
    assert not _x_changed({"a": a}, {"a": a, "b": b})
    assert _x_changed({"a": a, "b": b, "c": b}, {"a": a, "b": b})
    assert _x_changed({"a": a + 1}, {"a": a, "b": b})
    assert _x_changed([a, b], {"a": a, "b": b})


def test_a_retrain_whose_fit_preprocesses_x_says_its_test_score_is_on_x_test_as_given(
    digits, tmp_path, caplog
):
    """Before, a `fit` that standardised `x` (the guide's normalising example) retrained on
    standardised inputs, was scored on raw `x_test`, and the report gave that score with
    no word. Now the warning, `report.json` and `report.md` say what was scored."""
    from tunekit.fitting import X_CHANGED_NOTE

    run = CoarseToFine(
        TransformingHyperModel("scale"),
        digits,
        directory=tmp_path,
        project_name="scaled",
        **TINY,
        **BUDGET["hyperband"],
    )
    with caplog.at_level(logging.WARNING, logger="tunekit"):
        run.run()
    run.close()
    report = json.loads((run.run_dir / "report.json").read_text())
    assert report["best"]["x_note"] == X_CHANGED_NOTE
    assert X_CHANGED_NOTE in (run.run_dir / "report.md").read_text()
    best = json.loads((run.run_dir / "best_hyperparameters.json").read_text())
    assert best["x_note"] == X_CHANGED_NOTE
    assert any(X_CHANGED_NOTE in r.getMessage() for r in caplog.records)


def test_a_retrain_whose_fit_passes_x_on_has_no_such_note(digits, tmp_path):
    run = CoarseToFine(
        TransformingHyperModel("tensor"),
        digits,
        directory=tmp_path,
        project_name="as_given",
        **TINY,
        **BUDGET["hyperband"],
    )
    run.run()
    run.close()
    report = json.loads((run.run_dir / "report.json").read_text())
    assert report["best"]["x_note"] is None
    assert "untransformed" not in (run.run_dir / "report.md").read_text()


def test_a_fit_that_changes_tunekits_arrays_in_place_fails_its_trials_saying_why(digits, tmp_path):
    """Before, every trial failed with numpy's "output array is read-only" and the search
    stopped after 3 failures with no word of why the arrays are read-only."""
    run = CoarseToFine(
        TransformingHyperModel("in_place"),
        digits,
        directory=tmp_path,
        project_name="in_place",
        **TINY,
        **BUDGET["hyperband"],
    )
    with pytest.raises(tunekit.SearchInputError, match=r"in place .*read-only.*x = x - 3\.0"):
        run.run()
    run.close()
    trials = list(run._tuner("coarse").oracle.trials.values())
    assert [t.status for t in trials] == ["FAILED"]  # the default's: said why, before training
