"""What a hypermodel's own `fit` receives: its own containers; a named error on train+val.

Two faults of tunekit's calls of a hypermodel's `fit` (`tunekit.fitting`,
`tunekit.fit_inputs`):

- A `fit` that replaced an entry of a dict `x` (`x["a"] = x["a"] * 2.0`, as
  KerasTuner's guide preprocesses) changed the dict every later trial, the
  retrain and the user's `Dataset` shared: `x["a"]` doubled at every call, the
  test set was scored on raw `x_test` with no note, exit 0.
- A `fit` that took per-sample arrays from outside (a `sample_weight` of the
  training split's length) crashed the retrain, after the whole search, with
  Keras's bare "Data cardinality is ambiguous", and `tunekit ls` called the run
  "interrupted: retrain".
"""

from __future__ import annotations

import json
import textwrap

import keras
import keras_tuner as kt
import numpy as np
import pytest

from tunekit import CoarseToFine
from tunekit.data import Dataset
from tunekit.fitting import X_CHANGED_NOTE, HyperModelFitError, fit_hypermodel
from tunekit.runs import ls_runs

QUIET = dict(verbose=0, seed=0, finalists=0, baseline=False)
SMALL_RUN = dict(coarse_trials=3, coarse_epochs=1, max_epochs=2, factor=2, **QUIET)


def _two_inputs(hp):
    a, b = keras.Input((4,), name="a"), keras.Input((3,), name="b")
    hidden = keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu")(
        keras.layers.Concatenate()([a, b])
    )
    model = keras.Model({"a": a, "b": b}, keras.layers.Dense(2, activation="softmax")(hidden))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"], run_eagerly=True)
    return model


class ScalesADict(kt.HyperModel):
    """KerasTuner's guide shape: `fit` replaces an entry of its dict `x`; records what it got."""

    def __init__(self):
        super().__init__()
        self.seen: list[float] = []  # x["a"].max() at each call's start

    def build(self, hp):
        return _two_inputs(hp)

    def fit(self, hp, model, x, y, validation_data=None, **kwargs):
        self.seen.append(float(x["a"].max()))
        x["a"] = x["a"] * 2.0
        return model.fit(x, y, validation_data=validation_data, **kwargs)


def _dict_arrays(n=300):
    rng = np.random.default_rng(0)
    x = {"a": rng.random((n, 4), dtype=np.float32), "b": rng.random((n, 3), dtype=np.float32)}
    return x, (x["a"][:, 0] > x["b"][:, 0]).astype(int)


class ReplacesEverything(kt.HyperModel):
    """An own training loop that replaces entries of `x`, `y` and `validation_data`'s `x`."""

    def __init__(self):
        super().__init__()
        self.seen: list[tuple[float, float, float]] = []

    def build(self, hp):
        return _two_inputs(hp)

    def fit(self, hp, model, x, y, validation_data=None, **kwargs):
        x_val, y_val = validation_data
        self.seen.append((float(x["a"].max()), float(y["out"].max()), float(x_val["a"].max())))
        x["a"], y["out"], x_val["a"] = x["a"] + 10, y["out"] + 10, x_val["a"] + 10
        x["new"] = y["new"] = x_val["new"] = 0
        return 0.5


def test_each_call_gets_its_own_dicts_of_x_y_and_validation_data():
    x, y = _dict_arrays(8)
    y = {"out": y}
    x_val, y_val = _dict_arrays(4)
    validation = (x_val, y_val)
    hypermodel = ReplacesEverything()
    hp = kt.HyperParameters()
    for _ in range(3):
        model = hypermodel.build(hp)
        fit_hypermodel(hypermodel, hp, model, x, y, validation_data=validation, epochs=1)
    first = (float(x["a"].max()), float(y["out"].max()), float(x_val["a"].max()))
    assert hypermodel.seen == [first] * 3  # before: +10 at every call
    assert set(x) == {"a", "b"} and set(y) == {"out"} and set(x_val) == {"a", "b"}
    assert validation[0] is x_val


def test_a_fit_that_replaces_an_entry_of_x_sees_the_given_x_and_its_change_is_noted():
    x, y = _dict_arrays(16)
    hypermodel = ScalesADict()
    hp = kt.HyperParameters()
    calls = [
        fit_hypermodel(hypermodel, hp, hypermodel.build(hp), x, y, epochs=1, verbose=0)
        for _ in range(2)
    ]
    assert hypermodel.seen == [float(x["a"].max())] * 2
    assert all(call.x_changed for call in calls)  # before: the same dict, seen as unchanged


def test_a_run_whose_fit_replaces_an_entry_of_x_keeps_every_trial_and_the_data_as_given(
    tmp_path,
):
    """The probe's run: before, x["a"].max() was 1, 2, 4, 8 over the trials and 16 at the
    retrain, report.json had no x_note and the user's Dataset had x_train["a"] * 16."""
    x, y = _dict_arrays()
    data = Dataset.from_arrays(x, y)
    raw = {k: v.copy() for k, v in data.x_train.items()}
    hypermodel = ScalesADict()
    run = CoarseToFine(
        hypermodel,
        data,
        directory=tmp_path,
        project_name="dict_x",
        coarse_trials=3,
        coarse_epochs=1,
        fine_tuner="bayesian",
        fine_trials=1,
        final_epochs=1,
        **QUIET,
    )
    run.run()
    run.close()
    assert len(hypermodel.seen) >= 4  # the coarse trials (at least), the retrain
    assert max(hypermodel.seen) <= 1.0
    for key, values in raw.items():
        np.testing.assert_array_equal(data.x_train[key], values)
    report = json.loads((run.run_dir / "report.json").read_text())
    assert report["best"]["x_note"] == X_CHANGED_NOTE


# -- a fit that fails only on train+validation ------------------------------------------


def _regression(hp):
    model = keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(hp.Int("units", 2, 6, step=2)),
            keras.layers.Dense(1),
        ]
    )
    model.compile("adam", "mse", run_eagerly=True)
    return model


WEIGHTS = np.random.default_rng(1).uniform(0.5, 2, 300).astype("float32")  # one per train sample


class OutsideWeights(kt.HyperModel):
    """A `fit` whose `sample_weight` is the training split's, taken from outside."""

    def build(self, hp):
        return _regression(hp)

    def fit(self, hp, model, x, y, **kwargs):
        return model.fit(x, y, sample_weight=WEIGHTS, **kwargs)


def _regression_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(460, 5)).astype("float32")
    y = x @ rng.normal(size=5).astype("float32")
    return Dataset(x[:300], y[:300], x[300:380], y[300:380], x[380:], y[380:], task="regression")


def test_outside_per_sample_weights_stop_the_retrain_saying_why_and_the_run_failed(tmp_path):
    """Before: Keras's bare "Data cardinality is ambiguous" after the whole search, and
    `tunekit ls` said "interrupted: retrain" (rerun, to crash again)."""
    run = CoarseToFine(
        OutsideWeights(),
        _regression_data(),
        directory=tmp_path,
        project_name="weights",
        **SMALL_RUN,
    )
    with pytest.raises(HyperModelFitError) as raised:
        run.run()
    run.close()
    message = str(raised.value)
    assert "OutsideWeights.fit failed when the retrain called it on train+validation" in message
    assert "(380 samples): ValueError: Data cardinality is ambiguous" in message
    # Keras's sizes name 300, the training split's length: the cause is said.
    assert "one of them has 300 samples, the length of the training split" in message
    assert "sample_weight computed from y inside fit" in message
    assert "its code is then new, so the run starts over" in message  # a resume is refused
    assert isinstance(raised.value.__cause__, ValueError)  # Keras's own error, kept
    status = ls_runs(tmp_path).set_index("name").loc["weights", "status"]
    assert status == "failed: retrain"


class FailsOnTheLargerSplit(kt.HyperModel):
    def build(self, hp):
        return _regression(hp)

    def fit(self, hp, model, x, y, **kwargs):
        if len(x) > 300:
            raise IndexError("index 300 is out of bounds for axis 0 with size 300\nmore")
        return model.fit(x, y, **kwargs)


def test_any_error_of_a_fit_on_train_validation_is_named_and_a_search_fit_error_is_not():
    x = np.zeros((380, 5), "float32")
    y = np.zeros(380, "float32")
    hypermodel, hp = FailsOnTheLargerSplit(), kt.HyperParameters()
    model = hypermodel.build(hp)
    with pytest.raises(HyperModelFitError) as raised:
        fit_hypermodel(hypermodel, hp, model, x, y, epochs=1, final="the baseline (seed 0)")
    message = str(raised.value)
    assert "when the baseline (seed 0) called it on train+validation (380 samples):" in message
    # Its lines joined (Keras's cardinality error names the sizes on its later lines)
    assert "IndexError: index 300 is out of bounds for axis 0 with size 300; more. " in message
    with pytest.raises(IndexError):  # a search's fit: KerasTuner's failed trial, as before
        fit_hypermodel(hypermodel, hp, model, x, y, epochs=1)


def test_the_command_line_exits_2_with_that_message(tmp_path, capsys, monkeypatch, small_npz):
    from tunekit.coarse_to_fine import main

    (tmp_path / "first_weights.py").write_text(
        textwrap.dedent(
            """
            import keras
            import keras_tuner as kt
            import numpy as np

            WEIGHTS = []

            class FirstWeights(kt.HyperModel):
                def build(self, hp):
                    model = keras.Sequential(
                        [keras.Input((28, 28)), keras.layers.Flatten(),
                         keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu"),
                         keras.layers.Dense(10, activation="softmax")]
                    )
                    model.compile("adam", "sparse_categorical_crossentropy",
                                  metrics=["accuracy"])
                    return model

                def fit(self, hp, model, x, y, **kwargs):
                    if not WEIGHTS:  # the first split's length, kept for every later fit
                        WEIGHTS.append(np.ones(len(x), "float32"))
                    return model.fit(x, y, sample_weight=WEIGHTS[0], **kwargs)

            hypermodel = FirstWeights()
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    args = ["--hypermodel", "first_weights:hypermodel", "--data", str(small_npz)]
    args += ["--directory", str(tmp_path / "runs"), "--backend", "tensorflow", "--quiet"]
    args += ["--coarse-trials", "3", "--coarse-epochs", "1", "--max-epochs", "2"]
    args += ["--factor", "2", "--finalists", "0", "--no-baseline"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "FirstWeights.fit failed when the retrain called it on train+validation" in err
    assert "Data cardinality is ambiguous" in err


class AddsAnInput(kt.HyperModel):
    """A `fit` that makes an input the data does not hold (`x["c"]`): the search and the
    retrain ran, then the test set (fed as the data holds it) raised Keras's "Missing data
    for input 'c'" with a traceback, and `tunekit ls` said "interrupted"."""

    def build(self, hp):
        a, b, c = (keras.Input(s, name=n) for s, n in (((4,), "a"), ((3,), "b"), ((1,), "c")))
        joined = keras.layers.Concatenate()([a, b, c])
        model = keras.Model({"a": a, "b": b, "c": c}, keras.layers.Dense(2, "softmax")(joined))
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    def fit(self, hp, model, x, y, validation_data=None, **kwargs):
        x["c"] = x["a"][:, :1]
        if validation_data is not None:
            validation_data[0]["c"] = validation_data[0]["a"][:, :1]
        return model.fit(x, y, validation_data=validation_data, **kwargs)


def test_a_fit_that_adds_an_input_is_refused_before_training(tmp_path):
    from tunekit.errors import ModelCheckError

    x, y = _dict_arrays()
    run = CoarseToFine(AddsAnInput(), Dataset.from_arrays(x, y), directory=tmp_path, **QUIET)
    with pytest.raises(ModelCheckError, match=r"has no \['c'\].*cannot make up for it"):
        run.run()
    run.close()
    assert not list(tmp_path.rglob("trial.json"))


# -- a fit that rescales y: the test set is scored against y_test as given --------------


def test_y_changed_sees_targets_rescaled_or_reencoded_for_the_same_samples():
    from tunekit.fit_changes import y_changed

    y = np.arange(12, dtype="int64") % 3
    assert y_changed((y - y.mean()) / y.std(), y)  # standardised
    assert y_changed((y + 1) % 3, y)  # other class ids
    assert not y_changed(keras.utils.to_categorical(y, 3), y)  # one-hot rows of the same ids
    assert y_changed(keras.utils.to_categorical((y + 1) % 3, 3), y)
    assert not y_changed(y.reshape(-1, 1), y)  # another shape of the same values
    assert y_changed(y.reshape(-1, 1) * 2, y)
    assert not y_changed(y.astype("float32"), y)  # a cast
    assert not y_changed(keras.ops.convert_to_tensor(y), y)
    assert not y_changed(y[:-4], y)  # fewer samples: x_changed's to see
    assert not y_changed(None, None)  # a stream's y
    assert y_changed({"a": y * 2.0, "b": y}, {"a": y, "b": y})
    assert not y_changed({"a": y}, {"a": y, "b": y})


class StandardisesY(kt.HyperModel):
    """A `fit` that standardises the targets, as KerasTuner's guide preprocesses in `fit`."""

    def __init__(self, scale):
        super().__init__()
        self.scale = scale

    def build(self, hp):
        return _regression(hp)

    def fit(self, hp, model, x, y, validation_data=None, **kwargs):
        if self.scale == "stream":  # a tf.data pipeline of its own (probe C): not comparable
            import tensorflow as tf

            size = kwargs.pop("batch_size", 32)
            y = tf.data.Dataset.from_tensor_slices((x, (y - 150.0) / 70.0)).batch(size)
            if validation_data is not None:
                vx, vy = validation_data
                validation_data = tf.data.Dataset.from_tensor_slices((vx, (vy - 150.0) / 70.0))
                validation_data = validation_data.batch(size)
            return model.fit(y, validation_data=validation_data, **kwargs)
        if self.scale:
            y = (y - 150.0) / 70.0
            if validation_data is not None:
                validation_data = (validation_data[0], (validation_data[1] - 150.0) / 70.0)
        return model.fit(x, y, validation_data=validation_data, **kwargs)


@pytest.mark.parametrize("scale", [True, False, "stream"])
def test_a_retrain_whose_fit_standardises_y_says_the_test_set_was_scored_as_given(tmp_path, scale):
    """Before, a `fit` that standardised `y` reported the saved model's test R² against raw
    `y_test` (-5.5 where inverting the predictions gave 0.2) with no note, and the only note
    told the user to standardise the targets, which that fit did."""
    from tunekit.fitting import Y_CHANGED_NOTE

    data = _regression_data()
    data = Dataset(
        data.x_train,
        data.y_train * 70.0 + 150.0,
        data.x_val,
        data.y_val * 70.0 + 150.0,
        data.x_test,
        data.y_test * 70.0 + 150.0,
        task="regression",
    )
    run = CoarseToFine(
        StandardisesY(scale),
        data,
        directory=tmp_path,
        project_name="standardised",
        objective="val_loss",
        **SMALL_RUN,
    )
    run.run()
    run.close()
    report = json.loads((run.run_dir / "report.json").read_text())
    if scale:  # probe A (stop 67): a stream of its own is judged by its first batch, whose
        # inputs are x's samples and targets are not: the targets note, not the inputs'
        assert report["best"]["x_note"] == Y_CHANGED_NOTE  # x as given: that note only
        assert Y_CHANGED_NOTE in (run.run_dir / "report.md").read_text()
    else:
        assert report["best"]["x_note"] is None
    note = report.get("test_note") or ""
    assert "invert the predictions" not in note  # advice a fit's own scaling cannot follow
    if scale:  # probe A (stop 66): the R² note said "standardise them", which it did
        assert note.startswith("Note: test R² "), note
        assert "the hypermodel's fit trained the model on other targets than y" in note, note
        assert "standardise them" not in note, note


def _one_hot_loss(y_true, y_pred):
    """A Brier score: one-hot rows against the scores (ids would broadcast, not fail)."""
    return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)


class OneHotInFit(kt.HyperModel):
    """A `fit` that one-hot encodes the class ids for a loss of its own that takes rows."""

    def __init__(self, classes):
        super().__init__()
        self.classes = classes

    def build(self, hp):
        model = keras.Sequential(
            [
                keras.Input((8,)),
                keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu"),
                keras.layers.Dense(self.classes, activation="softmax"),
            ]
        )
        model.compile("adam", _one_hot_loss, metrics=["accuracy"])
        return model

    def fit(self, hp, model, x, y, validation_data=None, **kwargs):
        if validation_data is not None:
            x_val, y_val = validation_data
            validation_data = (x_val, keras.utils.to_categorical(y_val, self.classes))
        return model.fit(
            x,
            keras.utils.to_categorical(y, self.classes),
            validation_data=validation_data,
            **kwargs,
        )


@pytest.mark.parametrize("classes", [2, 3])
def test_a_fit_that_one_hot_encodes_the_labels_is_tested_on_one_hot_rows(tmp_path, classes):
    """Before, the whole budget ran, then the test set's class ids met the loss that takes
    rows: a bare "Arguments target and output must have the same rank" at every rerun. With
    2 classes, 2 ids broadcast against 2 rows of 2 scores: the loss is read on 3 samples."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    data = Dataset.from_arrays((x[:300, :8] / 16.0).astype("float32"), y[:300] % classes, seed=0)
    run = CoarseToFine(
        OneHotInFit(classes),
        data,
        directory=tmp_path,
        project_name="one_hot",
        objective="val_accuracy",
        **SMALL_RUN,
    )
    result = run.run()
    run.close()
    report = json.loads((run.run_dir / "report.json").read_text())
    assert report["best"]["x_note"] is None  # the same labels, as rows: no note
    saved = keras.models.load_model(
        run.run_dir / "best_model.keras", custom_objects={"_one_hot_loss": _one_hot_loss}
    )
    predicted = saved.predict(data.x_test, verbose=0).argmax(axis=1)
    expected = float(np.mean(predicted == data.y_test))
    assert result.test_metrics["accuracy"] == pytest.approx(expected, abs=1e-6)


class TrainsInStages(kt.HyperModel):
    """A warm-up of 1 epoch, then the epochs tunekit gives (probe A, stop 67)."""

    def __init__(self, split=False):
        super().__init__()
        self.given, self.split = [], split

    def build(self, hp):
        return _regression(hp)

    def fit(self, hp, model, x, y, **kwargs):
        self.given.append(kwargs["epochs"])
        if self.split:  # probe C: the epochs given, split over two calls
            epochs = kwargs.pop("epochs")
            model.fit(x, y, epochs=1, **kwargs)
            return model.fit(x, y, epochs=epochs - 1, **kwargs)
        model.fit(x, y, **{**kwargs, "epochs": 1})  # the warm-up, the callbacks passed on
        return model.fit(x, y, **kwargs)


def _staged_run(tmp_path, hypermodel, coarse_epochs):
    """A small run of `hypermodel` (a `TrainsInStages`) and its best_hyperparameters.json."""
    run = CoarseToFine(
        hypermodel,
        _regression_data(),
        directory=tmp_path,
        project_name="stages",
        objective="val_loss",
        coarse_trials=3,
        coarse_epochs=coarse_epochs,
        fine_tuner="bayesian",
        fine_trials=1,
        **QUIET,
    )
    run.run()
    run.close()
    return run, json.loads((run.run_dir / "best_hyperparameters.json").read_text())


def test_a_fit_in_stages_is_retrained_as_long_as_its_trial_and_recorded_so(tmp_path):
    """Probe A: a trial of 1 + 2 epochs was recorded as 3, and the retrain, given 3, trained
    1 + 3 while best_hyperparameters.json said 3. The retrain's fit is now given what
    the trial's was for the same length, the record counts every call's epochs, and the
    rule says the fit trains in stages."""
    hypermodel = TrainsInStages()
    run, best = _staged_run(tmp_path, hypermodel, coarse_epochs=2)
    retrain_given = hypermodel.given[-1]
    assert best["final_epochs"] == retrain_given
    assert best["epochs_trained"] == 1 + retrain_given  # the warm-up counted
    # Probe C: the second call's rate, the cosine's after the warm-up, was taken for
    # another callback's ("did not hold"); each stage anneals from the compiled rate.
    assert best["schedule_applied"] is True and best["schedule_note"] is None, best
    tuner = run.coarse() if best["phase"] == "coarse" else run.fine()
    counted = int(tuner.oracle.get_trial(best["trial_id"]).metrics.get_last_value("epochs"))
    given = hypermodel.given[0]  # the first coarse trial's
    assert counted == 1 + given  # the trial: the warm-up and the epochs it was given
    rule = json.loads((run.run_dir / "report.json").read_text())["best"]["final_epochs_rule"]
    assert "its fit trains in stages" in rule, rule
    if "max_epochs" not in rule:  # the length the trial trained: the same length
        assert 1 + retrain_given == counted, (rule, hypermodel.given)
    assert "its fit trains in stages" in (run.run_dir / "report.md").read_text()


def test_a_fit_that_splits_its_epochs_over_two_calls_is_recorded_as_given(tmp_path):
    """Probe C: `e = kwargs.pop("epochs"); model.fit(epochs=1); model.fit(epochs=e - 1)`
    trained the 2 epochs it was given, but report.md said "retrained 1 epoch (set by the
    hypermodel's own fit)" and final_epochs was 1: the last call's count."""
    hypermodel = TrainsInStages(split=True)
    run, best = _staged_run(tmp_path, hypermodel, coarse_epochs=3)
    given = hypermodel.given[-1]
    assert best["final_epochs"] == given and best["epochs_trained"] == given, best
    assert "set by the hypermodel's own fit" not in (run.run_dir / "report.md").read_text()
