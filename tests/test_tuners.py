"""Tests for `tunekit.tuners.make_tuner`: KerasTuner's tuners plus tunekit's
trial bookkeeping (seeding, extra metrics, NaN handling, objective check,
saving the last failed trial, atomic state and resumable projects)."""

from __future__ import annotations

import gc
import json
import os
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import pytest
from keras_tuner import errors as kt_errors

from hypermodels import MnistDenseHyperModel, ToonVisionCNNHyperModel
from tunekit.data import load_image_directory
from tunekit.tuners import (
    TUNER_KINDS,
    DefaultsFirstRandomSearchOracle,
    RandomSearchOracle,
    kerastuner_seed,
    make_tuner,
)
from tunekit.tuners.oracles import HyperbandOracle

# What each kind is: a KerasTuner tuner class and KerasTuner's oracle (or a subclass of it).
KT_CLASSES = {
    "random": (kt.Tuner, kt.oracles.RandomSearchOracle),
    "hyperband": (kt.Hyperband, kt.oracles.HyperbandOracle),
    "bayesian": (kt.Tuner, kt.oracles.BayesianOptimizationOracle),
    "grid": (kt.Tuner, kt.oracles.GridSearchOracle),
}


def _is_kind(tuner, kind):
    tuner_class, oracle_class = KT_CLASSES[kind]
    return isinstance(tuner, tuner_class) and isinstance(tuner.oracle, oracle_class)


BUDGETS = {
    "random": {"max_trials": 2},
    "bayesian": {"max_trials": 2},
    # max_epochs=2, factor=2 is two brackets: bracket 1 trains 2 models for 1
    # epoch and continues the best for a 2nd epoch (3 trials), bracket 0 trains
    # 2 models for 2 epochs (2 trials): 5 trials. The tests cap the oracle at
    # the first bracket (see `_cap_hyperband`), which includes the continued
    # trial, to keep them fast.
    "hyperband": {"max_epochs": 2, "factor": 2},
}
HYPERBAND_FULL_TRIALS = 5
HYPERBAND_CAPPED_TRIALS = 3
# The image-folder runs only show each tuner copes with it: one trial each.
FOLDER_BUDGETS = {
    "random": {"max_trials": 1},
    "bayesian": {"max_trials": 1},
    "hyperband": {"max_epochs": 2, "factor": 2},
}
# Divides digits_small's 600 / 300 samples: no partial batch, no retracing.
MNIST_BATCH = 100


@pytest.fixture(scope="module", autouse=True)
def _fast_gc():
    """KerasTuner calls `gc.collect()` before every build; with TensorFlow loaded
    that walks millions of long-lived objects. Freezing them keeps trials fast."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


def _search(tuner, x, y, x_val, y_val, **kwargs):
    kwargs.setdefault("epochs", 1)
    tuner.search(x, y, validation_data=(x_val, y_val), verbose=0, **kwargs)


def _search_ds(tuner, ds, **kwargs):
    _search(tuner, ds.x_train, ds.y_train, ds.x_val, ds.y_val, **kwargs)


def _cap_hyperband(tuner, cap=HYPERBAND_CAPPED_TRIALS):
    if isinstance(tuner, kt.Hyperband):
        brackets = tuner.oracle._get_num_brackets()
        total = sum(
            tuner.oracle._get_size(b, r)
            for b in range(brackets)
            for r in range(tuner.oracle._get_num_rounds(b))
        )
        assert total == HYPERBAND_FULL_TRIALS
        tuner.oracle.max_trials = cap
    return tuner


def _metric(trial, name):
    return trial.metrics.get_last_value(name)


def _tiny_data(n=64, features=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, features), dtype=np.float32)
    y = (x[:, 0] > 0.5).astype("int64")
    return x, y


def _tiny_model(units, activation="relu", learning_rate=1e-2, features=8):
    """A small eagerly-run classifier: no tf.function tracing, so trials are quick."""
    model = keras.Sequential(
        [
            keras.Input((features,)),
            keras.layers.Dense(units, activation=activation),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        run_eagerly=True,
    )
    return model


def _tiny_build(hp):
    return _tiny_model(
        hp.Int("units", 2, 32), learning_rate=hp.Float("lr", 1e-3, 1e-1, sampling="log")
    )


def _statuses(tuner):
    return {tid: t.status for tid, t in tuner.oracle.trials.items()}


def _read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# --------------------------------------------------------------------------- each tuner


def _check_completed_trials(tuner, expected_trials, rebuild):
    trials = list(tuner.oracle.trials.values())
    assert len(trials) == expected_trials
    for trial in trials:
        assert trial.status == "COMPLETED", trial.message
        assert np.isfinite(trial.score)
        hp = trial.hyperparameters
        assert _metric(trial, "num_params") == rebuild(hp).count_params()
        expected_epochs = hp.values.get("tuner/epochs", 1) - hp.values.get("tuner/initial_epoch", 0)
        assert _metric(trial, "epochs") == expected_epochs
        assert _metric(trial, "seconds") > 0
        saved = _read_json(os.path.join(tuner.project_dir, f"trial_{trial.trial_id}", "trial.json"))
        assert {"num_params", "epochs", "seconds"} <= set(saved["metrics"]["metrics"])


def _expected_trials(kind):
    return HYPERBAND_CAPPED_TRIALS if kind == "hyperband" else BUDGETS[kind]["max_trials"]


@pytest.mark.parametrize("kind", ["random", "hyperband", "bayesian"])
@pytest.mark.parametrize("model", ["dense", "cnn"])
def test_each_hypermodel_through_each_tuner_on_mnist_shaped_digits(
    kind, model, digits_small, tmp_path
):
    hypermodel = (
        MnistDenseHyperModel(input_shape=(28, 28), num_classes=10)
        if model == "dense"
        else ToonVisionCNNHyperModel((28, 28), 10, augment=False, rescale=False)
    )
    tuner = make_tuner(
        kind,
        hypermodel,
        objective="val_accuracy",
        directory=tmp_path,
        project_name=f"{model}_{kind}",
        seed=0,
        **BUDGETS[kind],
    )
    assert _is_kind(tuner, kind)
    _search_ds(_cap_hyperband(tuner), digits_small, batch_size=MNIST_BATCH)
    _check_completed_trials(tuner, _expected_trials(kind), hypermodel.build)
    if kind == "hyperband":
        continued = [
            t
            for t in tuner.oracle.trials.values()
            if t.hyperparameters.values["tuner/initial_epoch"] == 1
        ]
        assert len(continued) == 1 and _metric(continued[0], "epochs") == 1


@pytest.mark.parametrize("kind", ["random", "hyperband", "bayesian"])
def test_cnn_through_each_tuner_on_an_image_folder(kind, image_folder, tmp_path):
    ds = load_image_directory(image_folder, (24, 16))
    assert ds.input_shape == (24, 16, 3) and ds.num_classes == 3
    hypermodel = ToonVisionCNNHyperModel(ds.input_shape, ds.num_classes)
    tuner = make_tuner(
        kind,
        hypermodel,
        objective="val_accuracy",
        directory=tmp_path / "runs",
        project_name=f"toon_{kind}",
        seed=1,
        **FOLDER_BUDGETS[kind],
    )
    assert _is_kind(tuner, kind)
    _search_ds(_cap_hyperband(tuner, cap=1), ds)
    _check_completed_trials(tuner, 1, hypermodel.build)


def test_grid_search_with_a_plain_build_function_visits_every_combination(tmp_path):
    def build(hp):
        return _tiny_model(hp.Choice("units", [2, 4]), hp.Choice("activation", ["relu", "tanh"]))

    x, y = _tiny_data()
    tuner = make_tuner(
        "grid", build, objective="val_accuracy", directory=tmp_path, project_name="grid", seed=0
    )
    assert _is_kind(tuner, "grid")
    assert isinstance(tuner.hypermodel, kt.HyperModel)  # the function is wrapped
    _search(tuner, x[:48], y[:48], x[48:], y[48:])
    trials = list(tuner.oracle.trials.values())
    combos = {(t.hyperparameters["units"], t.hyperparameters["activation"]) for t in trials}
    assert combos == {(2, "relu"), (2, "tanh"), (4, "relu"), (4, "tanh")}
    assert len(trials) == 4 and all(t.status == "COMPLETED" for t in trials)
    for trial in trials:
        assert _metric(trial, "num_params") == build(trial.hyperparameters).count_params()


# --------------------------------------------------------------------------- argument errors


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            {"kind": "annealing"},
            ValueError,
            r"Unknown tuner kind.*'annealing'.*\['random', 'hyperband', 'bayesian', 'grid'\]",
        ),
        ({"kind": "Random"}, ValueError, r"Unknown tuner kind.*'Random'"),
        ({"max_trials": None}, ValueError, r"kind='random' needs `max_trials`"),
        (
            {"kind": "bayesian", "max_trials": None},
            ValueError,
            r"kind='bayesian' needs `max_trials`",
        ),
        (
            {"kind": "hyperband", "max_trials": None},
            ValueError,
            r"kind='hyperband' needs `max_epochs`",
        ),
        ({"max_trials": 0}, ValueError, r"`max_trials` must be a positive int.*max_trials=0"),
        ({"max_trials": -1}, ValueError, r"`max_trials` must be a positive int.*max_trials=-1"),
        ({"max_trials": 1.5}, ValueError, r"`max_trials` must be a positive int.*max_trials=1\.5"),
        ({"max_trials": True}, ValueError, r"`max_trials` must be a positive int.*max_trials=True"),
        ({"max_trials": "3"}, ValueError, r"max_trials='3'"),
        ({"kind": "grid", "max_trials": 0}, ValueError, r"`max_trials` must be a positive int"),
        (
            {"kind": "hyperband", "max_trials": 3, "max_epochs": 2},
            ValueError,
            r"kind='hyperband' takes no `max_trials`.*max_trials=3",
        ),
        (
            {"kind": "hyperband", "max_trials": None, "max_epochs": 0},
            ValueError,
            r"`max_epochs` must be a positive int.*max_epochs=0",
        ),
        (
            {"kind": "hyperband", "max_trials": None, "max_epochs": 2.5},
            ValueError,
            r"max_epochs=2\.5",
        ),
        (
            {"max_epochs": 3},
            ValueError,
            r"`max_epochs` is only used by kind='hyperband'.*`epochs=`.*max_epochs=3",
        ),
        (
            {"kind": "grid", "max_trials": None, "max_epochs": 3},
            ValueError,
            r"only used by kind='hyperband'",
        ),
        ({"seed": -1}, ValueError, r"`seed` must be an int >= 0 or None.*seed=-1"),
        ({"seed": 1.0}, ValueError, r"seed=1\.0"),
        ({"seed": True}, ValueError, r"seed=True"),
        (
            {"hypermodel": 42},
            TypeError,
            r"`hypermodel` must be a keras_tuner\.HyperModel or a "
            r"build\(hp\) function.*42.*int",
        ),
        ({"hypermodel": "mnist-dense"}, TypeError, r"'mnist-dense' of type str"),
    ],
)
def test_bad_budget_kind_or_seed_is_refused_before_any_work(tmp_path, kwargs, error, message):
    arguments = {
        "kind": "random",
        "hypermodel": _tiny_build,
        "objective": "val_accuracy",
        "directory": tmp_path / "runs",
        "project_name": "p",
        "max_trials": 2,
        **kwargs,
    }
    kind = arguments.pop("kind")
    with pytest.raises(error, match=message):
        make_tuner(kind, **arguments)
    assert not (tmp_path / "runs").exists()


def test_tuner_kinds_are_the_documented_four():
    assert TUNER_KINDS == ("random", "hyperband", "bayesian", "grid")


def test_grid_needs_no_max_trials_and_hyperband_passes_factor(tmp_path):
    grid = make_tuner(
        "grid", _tiny_build, objective="val_loss", directory=tmp_path, project_name="g"
    )
    assert grid.oracle.max_trials is None
    band = make_tuner(
        "hyperband",
        _tiny_build,
        objective="val_loss",
        directory=tmp_path,
        project_name="h",
        max_epochs=4,
        factor=2,
    )
    assert (band.oracle.max_epochs, band.oracle.factor) == (4, 2)


# --------------------------------------------------------------------------- seeds


def _run_seeded(tmp_path, name, seed, max_trials=2):
    x, y = _tiny_data(96)
    tuner = make_tuner(
        "random",
        _tiny_build,
        objective="val_loss",
        directory=tmp_path / name,
        project_name="seeded",
        max_trials=max_trials,
        seed=seed,
    )
    _search(tuner, x[:64], y[:64], x[64:], y[64:])
    trials = [tuner.oracle.trials[tid] for tid in tuner.oracle.start_order]
    assert all(t.status == "COMPLETED" for t in trials)
    return tuner, [t.hyperparameters.values for t in trials], [t.score for t in trials]


def test_seed_zero_is_reproducible_and_differs_from_seed_one(tmp_path):
    tuner_a, values_a, scores_a = _run_seeded(tmp_path, "a", 0)
    keras.utils.set_random_seed(1234)  # global state must not matter: each trial is seeded
    tuner_b, values_b, scores_b = _run_seeded(tmp_path, "b", 0)
    _, values_c, scores_c = _run_seeded(tmp_path, "c", 1, max_trials=1)

    assert tuner_a.oracle.seed == tuner_b.oracle.seed == kerastuner_seed(0) == 1
    assert values_a == values_b
    assert scores_a == scores_b
    assert values_c[0] != values_a[0]
    assert scores_c[0] != scores_a[0]


def test_unseeded_tuners_draw_their_own_seed(tmp_path):
    tuner = make_tuner(
        "random",
        _tiny_build,
        objective="val_loss",
        directory=tmp_path,
        project_name="u",
        max_trials=1,
    )
    assert tuner.trial_seed is None
    assert tuner.oracle.seed >= 1


# --------------------------------------------------------------------------- failing trials


class _ExplodingHyperModel(kt.HyperModel):
    """SGD with lr=1e6 on inputs of ~1e6: the loss overflows within a few batches."""

    def __init__(self):
        super().__init__()
        self.fits = 0

    def build(self, hp):
        model = keras.Sequential(
            [
                keras.Input((8,)),
                keras.layers.Dense(hp.Int("units", 4, 8)),
                keras.layers.Dense(2, activation="softmax"),
            ]
        )
        model.compile(
            optimizer=keras.optimizers.SGD(learning_rate=1e6),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            run_eagerly=True,
        )
        return model

    def fit(self, hp, model, *args, **kwargs):
        self.fits += 1
        return super().fit(hp, model, *args, **kwargs)


def test_nan_loss_fails_the_trial_once_without_retries(tmp_path):
    x, y = _tiny_data(256)
    x = x * 1e6
    hypermodel = _ExplodingHyperModel()
    tuner = make_tuner(
        "random",
        hypermodel,
        objective="val_accuracy",
        directory=tmp_path,
        project_name="nan",
        max_trials=1,
        seed=0,
        max_retries_per_trial=2,
    )
    _search(tuner, x, y, x, y, batch_size=32, epochs=3)
    (trial,) = tuner.oracle.trials.values()
    assert trial.status == "FAILED"
    assert "NaN" in trial.message and "will not be retried" in trial.message
    assert hypermodel.fits == 1
    assert trial.score is None
    saved = _read_json(os.path.join(tuner.project_dir, "trial_0", "trial.json"))
    assert saved["status"] == "FAILED" and "NaN" in saved["message"]


@pytest.mark.filterwarnings("ignore:All-NaN axis encountered:RuntimeWarning")
def test_nan_validation_loss_fails_the_trial(tmp_path):
    x, y = _tiny_data(64)
    x = x * 1e6
    tuner = make_tuner(
        "random",
        _ExplodingHyperModel(),
        objective="val_accuracy",
        directory=tmp_path,
        project_name="nan_val",
        max_trials=1,
        seed=0,
    )
    _search(tuner, x, y, x, y, batch_size=32)
    (trial,) = tuner.oracle.trials.values()
    assert trial.status == "FAILED"
    assert "NaN" in trial.message and trial.score is None


def test_build_errors_fail_only_their_trials_and_the_search_continues(tmp_path):
    def build(hp):
        variant = hp.Choice("variant", ["good", "bad", "fine"])
        if variant == "bad":
            raise ValueError("variant 'bad' cannot be built")
        return _tiny_model(4)

    x, y = _tiny_data()
    tuner = make_tuner(
        "grid", build, objective="val_accuracy", directory=tmp_path, project_name="bad", seed=0
    )
    _search(tuner, x[:48], y[:48], x[48:], y[48:])
    by_variant = {t.hyperparameters["variant"]: t for t in tuner.oracle.trials.values()}
    assert set(by_variant) == {"good", "bad", "fine"}
    assert by_variant["bad"].status == "FAILED"
    assert "ValueError: variant 'bad' cannot be built" in by_variant["bad"].message
    assert by_variant["good"].status == by_variant["fine"].status == "COMPLETED"
    order = tuner.oracle.start_order
    assert order.index(by_variant["fine"].trial_id) > order.index(by_variant["bad"].trial_id)
    assert tuner.get_best_hyperparameters()[0]["variant"] in {"good", "fine"}


def test_objective_the_model_never_reports_fails_the_trial_and_names_the_reported_metrics(
    tmp_path,
):
    """Before, the first such trial stopped the search (`SearchInputError`, a `FatalError`);
    which metrics a model reports may depend on the trial's values, so the trial fails
    (`TrialRefusedError`) and the search goes on, as plain KerasTuner's (see
    tests/test_trial_refusals.py)."""
    x, y = _tiny_data()
    tuner = make_tuner(
        "random",
        MnistDenseHyperModel((8,), 2),
        objective="val_auc",
        directory=tmp_path,
        project_name="auc",
        max_trials=2,
        seed=0,
    )
    _search(tuner, x[:48], y[:48], x[48:], y[48:])
    trials = list(tuner.oracle.trials.values())
    assert len(trials) == 2 and all(t.status == "FAILED" for t in trials)
    for trial in trials:
        said = f"TrialRefusedError: Trial id {trial.trial_id}, with the values {{"
        assert said in trial.message and "The objective 'val_auc' is not among" in trial.message
        assert "['accuracy', 'loss', 'val_accuracy', 'val_loss']" in trial.message
    # tunekit's own error too: a notebook's `except tunekit.TunekitError` catches it.
    from tunekit import TrialRefusedError, TunekitError

    assert issubclass(TrialRefusedError, TunekitError)
    assert issubclass(TrialRefusedError, kt_errors.FailedTrialError)


def _mean_iou_build(hp):
    model = _tiny_model(hp.Int("units", 2, 8, step=2))
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=[keras.metrics.MeanIoU(num_classes=2, sparse_y_pred=False)],
        run_eagerly=True,
    )
    return model


def test_a_model_measured_by_mean_iou_is_tuned_where_plain_kerastuner_fails_every_trial(
    tmp_path,
):
    """KerasTuner infers `mean_io_u`'s direction by deserializing the name with Keras, which
    raises a TypeError it does not catch: every trial failed after training."""
    x, y = _tiny_data()
    plain = kt.RandomSearch(
        _mean_iou_build,
        objective="val_loss",
        max_trials=1,
        max_consecutive_failed_trials=1,
        directory=str(tmp_path),
        project_name="plain",
    )
    with pytest.raises(RuntimeError, match="could not be deserialized"):
        _search(plain, x[:48], y[:48], x[48:], y[48:])
    tuner = make_tuner(
        "random",
        _mean_iou_build,
        objective="val_mean_io_u",  # Keras's name for it: a known direction
        directory=tmp_path,
        project_name="iou",
        max_trials=2,
        seed=0,
    )
    _search(tuner, x[:48], y[:48], x[48:], y[48:])
    trials = list(tuner.oracle.trials.values())
    assert [t.status for t in trials] == ["COMPLETED", "COMPLETED"]
    assert tuner.oracle.objective.direction == "max"
    assert all(t.metrics.metrics["mean_io_u"].direction == "max" for t in trials)


def _always_failing_build():
    armed = {"on": False}

    def build(hp):
        hp.Int("units", 2, 64)
        if armed["on"]:  # the tuner's initial space declaration must succeed
            raise ValueError("this model always breaks")
        return _tiny_model(2)

    return build, armed


def _consecutive_failure_run(tmp_path):
    build, armed = _always_failing_build()
    tuner = make_tuner(
        "random",
        build,
        objective="val_accuracy",
        directory=tmp_path,
        project_name="broken",
        max_trials=5,
        seed=0,
        max_consecutive_failed_trials=2,
    )
    armed["on"] = True
    x, y = _tiny_data()
    with pytest.raises(RuntimeError, match="consecutive failures.*limit of 2"):
        _search(tuner, x, y, x, y)
    return tuner, build


def test_consecutive_failures_stop_the_search_and_the_last_trial_is_saved(tmp_path):
    tuner, _ = _consecutive_failure_run(tmp_path)
    assert list(tuner.oracle.trials) == ["0", "1"]
    for trial_id in ("0", "1"):
        saved = _read_json(tmp_path / "broken" / f"trial_{trial_id}" / "trial.json")
        assert saved["status"] == "FAILED"
        assert "this model always breaks" in saved["message"]
    oracle_state = _read_json(tmp_path / "broken" / "oracle.json")
    assert oracle_state["end_order"] == ["0", "1"]


def test_last_failed_trial_is_not_retried_after_reload(tmp_path):
    _, build = _consecutive_failure_run(tmp_path)
    assert _read_json(tmp_path / "broken" / "oracle.json")["ongoing_trials"] == {}
    reloaded = make_tuner(
        "random",
        build,
        objective="val_accuracy",
        directory=tmp_path,
        project_name="broken",
        max_trials=5,
        seed=0,
        max_consecutive_failed_trials=2,
    )
    assert reloaded.oracle._retry_queue == []


# --------------------------------------------------------------------------- saved state


def test_kerastuner_state_is_written_atomically(tmp_path, monkeypatch):
    from tunekit._kerastuner import utils as kt_utils

    make_tuner(
        "random",
        _tiny_build,
        objective="val_loss",
        directory=tmp_path / "runs",
        project_name="p",
        max_trials=1,
    )
    folder = tmp_path / "state"
    folder.mkdir()
    target = folder / "oracle.json"
    target.write_text('{"old": true}')

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="No space left"):
        kt_utils.save_json(str(target), {"new": True})
    assert target.read_text() == '{"old": true}'
    assert [p.name for p in folder.iterdir()] == ["oracle.json"]

    monkeypatch.undo()
    assert kt_utils.save_json(str(target), {"new": True}) == '{"new": true}'
    assert _read_json(target) == {"new": True}
    assert [p.name for p in folder.iterdir()] == ["oracle.json"]


def test_interrupted_first_trial_resumes(tmp_path, monkeypatch):
    x, y = _tiny_data()
    first = MnistDenseHyperModel((8,), 2)

    def interrupted_fit(hp, model, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(first, "fit", interrupted_fit)
    tuner = make_tuner(
        "random",
        first,
        objective="val_accuracy",
        directory=tmp_path,
        project_name="resume",
        max_trials=1,
        seed=0,
    )
    with pytest.raises(KeyboardInterrupt):
        _search(tuner, x[:48], y[:48], x[48:], y[48:])
    project = tmp_path / "resume"
    assert (project / "tuner0.json").is_file()
    assert (project / "oracle.json").is_file()
    assert _read_json(project / "trial_0" / "trial.json")["status"] == "RUNNING"
    before = tuner.oracle.trials["0"].hyperparameters.values

    resumed = make_tuner(
        "random",
        MnistDenseHyperModel((8,), 2),
        objective="val_accuracy",
        directory=tmp_path,
        project_name="resume",
        max_trials=1,
        seed=0,
        overwrite=False,
    )
    assert list(resumed.oracle.trials) == ["0"]
    assert resumed.oracle._retry_queue == ["0"]
    _search(resumed, x[:48], y[:48], x[48:], y[48:])
    (trial,) = resumed.oracle.trials.values()
    assert trial.trial_id == "0" and trial.status == "COMPLETED"
    assert trial.hyperparameters.values == before
    assert _read_json(project / "trial_0" / "trial.json")["status"] == "COMPLETED"


@pytest.mark.parametrize(
    "model", [MnistDenseHyperModel(), ToonVisionCNNHyperModel((28, 28, 1), 10)]
)
def test_defaults_first_makes_trial_zero_the_default_configuration(model, tmp_path):
    tuner = make_tuner(
        "random",
        model,
        objective="val_accuracy",
        directory=str(tmp_path),
        project_name="p",
        max_trials=3,
        seed=0,
        defaults_first=True,
    )
    assert _is_kind(tuner, "random")
    assert isinstance(tuner.oracle, DefaultsFirstRandomSearchOracle)
    space = tuner.oracle.hyperparameters
    first = tuner.oracle.create_trial("tuner0").hyperparameters
    for hp in space.space:
        if first.is_active(hp):
            assert first.get(hp.name) == hp.default, hp.name
    tuner.oracle.end_trial(tuner.oracle.ongoing_trials["tuner0"])
    second = tuner.oracle.create_trial("tuner0").hyperparameters.values
    assert second != first.values  # later trials are random again
    plain = make_tuner(
        "random",
        model,
        objective="val_accuracy",
        directory=str(tmp_path),
        project_name="q",
        max_trials=3,
        seed=0,
    )
    # KerasTuner's random search (tunekit's subclass adds only the model-size limit).
    assert type(plain.oracle) is RandomSearchOracle
    assert isinstance(plain.oracle, kt.oracles.RandomSearchOracle)
    assert plain.oracle.create_trial("tuner0").hyperparameters.values != first.values


# --------------------------------------------------------------------------- loop-declared


def _loop_build(hp):
    """keras.io's pattern: units declared in a loop, no conditional_scope."""
    model = keras.Sequential([keras.Input((8,))])
    for i in range(hp.Int("num_layers", 1, 3, default=3)):
        model.add(keras.layers.Dense(hp.Int(f"units_{i}", 2, 8, step=2), activation="relu"))
    model.add(keras.layers.Dense(2, activation="softmax"))
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        run_eagerly=True,
    )
    return model


def _declared_names(num_layers):
    return {"num_layers", *(f"units_{i}" for i in range(num_layers))}


@pytest.mark.parametrize("kind", ["random", "bayesian"])
def test_trials_record_only_the_hyperparameters_their_build_declared(tmp_path, kind):
    tuner = make_tuner(
        kind,
        _loop_build,
        objective="val_accuracy",
        directory=tmp_path,
        project_name="loop",
        max_trials=5,
        seed=0,
    )
    x, y = _tiny_data()
    _search(tuner, x, y, x, y)
    layers = []
    for trial_id, trial in tuner.oracle.trials.items():
        values = trial.hyperparameters.values
        layers.append(values["num_layers"])
        assert set(values) == _declared_names(values["num_layers"]), (trial_id, values)
        saved = _read_json(tmp_path / "loop" / f"trial_{trial_id}" / "trial.json")
        assert set(saved["hyperparameters"]["values"]) == set(values)
    assert min(layers) < 3  # some trial left a declared-by-others name out


def test_a_trial_whose_end_cannot_be_recorded_ends_failed_not_running(tmp_path):
    builds = []

    def build(hp):  # declares `late` from the first trial on, not while the tuner starts
        builds.append(1)
        units = hp.Int("units", 2, 8, step=2)
        if len(builds) > 1:
            hp.Int("late", 1, 4)
        return _tiny_model(units)

    space = kt.HyperParameters()
    space.Int("units", 2, 8, step=2)
    settings = dict(
        objective="val_accuracy",
        directory=tmp_path,
        project_name="p",
        max_trials=2,
        seed=0,
        hyperparameters=space,
    )
    tuner = make_tuner("random", build, tune_new_entries=False, allow_new_entries=False, **settings)
    x, y = _tiny_data()
    from tunekit import SearchInputError  # KerasTuner's bare RuntimeError, named

    with pytest.raises(SearchInputError, match=r"allow_new_entries=False.*\['late'\]"):
        _search(tuner, x, y, x, y)
    saved = _read_json(tmp_path / "p" / "trial_0" / "trial.json")
    assert saved["status"] == "FAILED" and "allow_new_entries" in saved["message"]
    assert _read_json(tmp_path / "p" / "oracle.json")["ongoing_trials"] == {}
    # The rerun (here with new entries allowed) goes on; it does not retry trial 0 forever.
    rerun = make_tuner("random", build, **settings)
    _search(rerun, x, y, x, y)
    assert {t.trial_id: t.status for t in rerun.oracle.trials.values()} == {
        "0": "FAILED",
        "1": "COMPLETED",
    }


def test_a_reload_drops_a_trial_that_ended_but_was_saved_as_ongoing(tmp_path):
    """A kill inside KerasTuner's `end_trial` (after its save) must not run that trial again."""
    x, y = _tiny_data()
    x_val, y_val = _tiny_data(seed=1)
    kwargs = dict(objective="val_accuracy", directory=tmp_path, project_name="p", seed=0)
    tuner = make_tuner("random", _tiny_build, max_trials=2, **kwargs)
    _search(tuner, x, y, x_val, y_val, epochs=1)
    oracle = tuner.oracle
    assert sorted(oracle.end_order) == ["0", "1"]
    oracle.ongoing_trials["tuner0"] = oracle.trials["0"]  # the state such a kill leaves
    oracle.save()
    resumed = make_tuner("random", _tiny_build, max_trials=3, **kwargs)
    assert resumed.oracle.ongoing_trials == {}
    _search(resumed, x, y, x_val, y_val, epochs=1)
    assert sorted(resumed.oracle.end_order) == ["0", "1", "2"]  # each trial ended once


def test_bayesian_proposals_do_not_print_the_gaussian_process_convergence_warning(
    tmp_path, monkeypatch
) -> None:
    import warnings

    import sklearn.gaussian_process
    from sklearn.exceptions import ConvergenceWarning

    from tunekit.tuners import FixedSpaceBayesianOracle

    # scikit-learn warns so whenever a length scale ends at its bound (often, with few
    # trials); here every fit of the Gaussian process warns, and also warns otherwise.
    fit = sklearn.gaussian_process.GaussianProcessRegressor.fit

    def warning_fit(self, x, y):
        message = "length_scale is close to the specified lower bound"
        warnings.warn(message, ConvergenceWarning, stacklevel=2)
        warnings.warn("something else", UserWarning, stacklevel=2)
        return fit(self, x, y)

    monkeypatch.setattr(sklearn.gaussian_process.GaussianProcessRegressor, "fit", warning_fit)
    hp = kt.HyperParameters()
    hp.Int("units", 4, 64)
    hp.Float("learning_rate", 1e-4, 1e-1, sampling="log")
    oracle = FixedSpaceBayesianOracle(
        objective=kt.Objective("val_accuracy", "max"),
        max_trials=5,
        num_initial_points=2,
        seed=1,
        hyperparameters=hp,
    )
    oracle._set_project_dir(str(tmp_path), "p")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(4):
            trial = oracle.create_trial("tuner0")
            score = trial.hyperparameters["units"] / 64
            oracle.update_trial(trial.trial_id, {"val_accuracy": score})
            trial.status = "COMPLETED"
            oracle.end_trial(trial)
    kinds = [w.category for w in caught]
    assert ConvergenceWarning not in kinds
    assert UserWarning in kinds  # the Gaussian process was fitted, and other warnings still show
    assert len(oracle.trials) == 4


def _interleaved_hyperband(oracle: Any, slow_worker: bool) -> tuple[dict[str, dict], int]:
    """Runs a Hyperband oracle without training: `{trial_id: values}` and the IDLE answers.

    With `slow_worker`, a second worker takes a trial and holds it while the first asks
    again and again (it ends its trial only when the first is told to wait, or at the end).
    """

    def end(trial: Any) -> None:
        values = trial.hyperparameters.values
        score = values["units"] / 64 - abs(np.log10(values["lr"]) + 2.5) / 10
        oracle.update_trial(trial.trial_id, {"score": score + values.get("tuner/epochs", 0)})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)

    held, idles = None, 0
    while True:
        if slow_worker and held is None:
            held = oracle.create_trial("slow")
            held = held if held.status == "RUNNING" else None
        trial = oracle.create_trial("fast")
        if trial.status == "RUNNING":
            end(trial)
        elif held is not None:  # IDLE or STOPPED: the slow worker's trial ends now
            idles += trial.status == "IDLE"
            end(held)
            held = None
        elif trial.status == "STOPPED":
            break
        else:
            raise AssertionError("IDLE while no other trial runs")
    return {t.trial_id: t.hyperparameters.values for t in oracle.trials.values()}, idles


@pytest.mark.parametrize("oracle_class", [HyperbandOracle, kt.oracles.HyperbandOracle])
def test_hyperband_with_a_slow_worker_runs_the_trials_of_one_process(tmp_path, oracle_class):
    """KerasTuner promotes from the trials completed so far and starts a new bracket when
    nothing else can run, so with a worker slow (or killed and restarted) other trials ran
    and another model won. tunekit's oracle waits for the running trials instead."""

    def oracle(name: str) -> Any:
        space = kt.HyperParameters()
        space.Int("units", 4, 64, step=4)
        space.Float("lr", 1e-4, 1e-1, sampling="log")
        made = oracle_class(
            objective=kt.Objective("score", "max"),
            max_epochs=9,
            factor=3,
            seed=3,
            hyperparameters=space,
        )
        made._set_project_dir(str(tmp_path), name)
        return made

    one_process, _ = _interleaved_hyperband(oracle("one"), slow_worker=False)
    two_workers, idles = _interleaved_hyperband(oracle("two"), slow_worker=True)
    if oracle_class is HyperbandOracle:
        assert two_workers == one_process
        assert idles > 0  # it did wait
    else:  # the fault, in plain KerasTuner
        assert two_workers != one_process


def test_each_reported_keras_metric_keeps_its_own_direction(tmp_path):
    """KerasTuner inferred `min` for r2_score, f1_score, binary_io_u and the correlations
    (their worst value kept as a trial's best) and crashed on precision_at_recall."""
    tuner = make_tuner(
        "random",
        _mean_iou_build,
        objective="val_loss",
        directory=tmp_path,
        project_name="directions",
        max_trials=1,
        seed=0,
    )
    oracle = tuner.oracle
    trial = oracle.create_trial("tuner0")
    names = [
        "r2_score",
        "val_f1_score",
        "binary_io_u_1",
        "pearson_correlation",
        "precision_at_recall",
        "val_mae",
        "my_own_score",
    ]
    for step, value in enumerate([0.2, 0.9, 0.5]):
        oracle.update_trial(trial.trial_id, {"val_loss": 1.0, **dict.fromkeys(names, value)}, step)
    tracked = trial.metrics.metrics
    assert {n: tracked[n].direction for n in names} == {
        "r2_score": "max",
        "val_f1_score": "max",
        "binary_io_u_1": "max",
        "pearson_correlation": "max",
        "precision_at_recall": "max",
        "val_mae": "min",
        "my_own_score": "min",  # unknown to both: KerasTuner's default
    }
    assert trial.metrics.get_best_value("r2_score") == 0.9
    assert trial.metrics.get_best_value("val_mae") == 0.2


def _bayesian_proposals(directory, stop_after=None, total=7):
    """Values a seeded Bayesian oracle proposes for `total` trials (score: a made-up
    function of the values); with `stop_after`, the oracle is saved there and a new one
    reloads it from its folder, as a resumed search's process does."""
    from tunekit.tuners.oracles import FixedSpaceBayesianOracle

    def oracle():
        hp = kt.HyperParameters()
        hp.Int("units", 8, 256, step=8)
        hp.Float("rate", 1e-4, 1e-1, sampling="log")
        made = FixedSpaceBayesianOracle(
            objective=kt.Objective("score", "max"),
            max_trials=total,
            num_initial_points=2,
            hyperparameters=hp,
            seed=7,
        )
        made._set_project_dir(str(directory), "bayes")
        return made

    current, proposals = oracle(), []
    for index in range(total):
        if index == stop_after:
            current.save()
            current = oracle()
            current.reload()
        trial = current.create_trial("tuner0")
        values = trial.hyperparameters.values
        proposals.append(dict(values))
        score = -abs(values["units"] - 120) / 100 - abs(np.log10(values["rate"]) + 2.5)
        current.update_trial(trial.trial_id, {"score": score})
        trial.status = "COMPLETED"
        current.end_trial(trial)
    return proposals


@pytest.mark.long
def test_a_bayesian_search_stopped_and_resumed_proposes_what_it_would_straight_through(
    tmp_path,
):
    """KerasTuner's Bayesian oracle draws the optimiser's starting points from a
    RandomState made once from the seed and never saved: after Ctrl-C in the third fine
    trial, the resumed search's next trial was 320 units / lr 0.0055 (0.9310) where the
    same command straight through trained 352 / 0.0074 (0.9483)."""
    straight = _bayesian_proposals(tmp_path / "straight")
    for stop in (3, 4):
        assert _bayesian_proposals(tmp_path / f"stop{stop}", stop_after=stop) == straight


@pytest.mark.long
def test_a_reloaded_search_has_its_trials_in_the_order_they_were_made(tmp_path, monkeypatch):
    """KerasTuner reads trials back in the file system's order; its Gaussian process, fitted
    on them in that order, then proposed values off in the 6th digit (a learning rate
    0.002331382800 straight through, 0.002331374906 resumed), silently."""
    import tensorflow as tf

    straight = _bayesian_proposals(tmp_path / "straight")
    listed = tf.io.gfile.glob
    monkeypatch.setattr(tf.io.gfile, "glob", lambda pattern: sorted(listed(pattern))[::-1])
    assert _bayesian_proposals(tmp_path / "reversed", stop_after=4) == straight


@pytest.mark.long
def test_each_execution_of_a_trial_is_its_own_sample(tmp_path):
    """`executions_per_trial=2` under Hyperband: a trial that continues another loads the
    same weights, and under the trial's one seed its second execution repeated the first
    exactly (the same val_loss to the last digit): one sample averaged with itself, at
    twice the cost. Each execution now draws its own seed; a rerun draws the same ones."""
    x, y = _tiny_data(96)
    runs = []
    for name in ("a", "b"):
        seen: list[tuple[str, float]] = []

        class Recorded(kt.HyperModel):
            def build(self, hp):
                return _tiny_build(hp)

            def fit(self, hp, model, *args, **kwargs):
                history = model.fit(*args, **kwargs)
                seen.append((hp.values.get("tuner/trial_id"), min(history.history["val_loss"])))
                return history

        tuner = make_tuner(
            "hyperband",
            Recorded(),
            objective="val_loss",
            directory=tmp_path / name,
            project_name="executions",
            max_epochs=3,
            factor=3,
            executions_per_trial=2,
            seed=0,
        )
        _search(tuner, x[:64], y[:64], x[64:], y[64:], shuffle=True)
        runs.append(seen)
    continued = [
        (first, second)
        for (parent, first), (_, second) in zip(runs[0][::2], runs[0][1::2])
        if parent is not None
    ]
    assert continued, "no Hyperband trial continued another"
    assert all(first != second for first, second in continued)
    assert runs[0] == runs[1]  # seeded: the same executions again
