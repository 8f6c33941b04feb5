"""What a build returns, and the saved model's evaluation, as plain KerasTuner and Keras
would take them.

Found by a new user: a `build(hp)` returning `None` (a missing `return model`) trained
nothing and failed the first trial with KerasTuner's `FatalTypeError` (exit 1) instead of
being refused by the check before training (exit 2); a subclassed model whose `metrics`
lists `super().metrics` beside its own trackers, with its own `test_step`, was tuned and
retrained, then its saved file's `evaluate` failed with "Cannot get result() since the
metric has not yet been built" (exit 1, and again on every rerun).
"""

from __future__ import annotations

import json
import textwrap

import keras
import keras_tuner as kt
import numpy as np
import pytest
from conftest import BAYES_BUDGET
from sklearn.datasets import load_digits

from tunekit import CoarseToFine
from tunekit.coarse_to_fine import main
from tunekit.data import Dataset
from tunekit.errors import ModelCheckError
from tunekit.model_files import load_saved_model

NOT_A_MODEL = "not a keras.Model. KerasTuner's tuner stops at the first trial on anything else"


def _model(hp):
    units = hp.Int("units", 8, 32, step=8)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(units, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _returns_none(hp):
    _model(hp)  # built and compiled, never returned


def _returns_a_tuple(hp):
    return _model(hp), {"batch_size": 32}


def _returns_a_layer(hp):
    return keras.layers.Dense(hp.Int("units", 8, 16, step=8))


def _returns_a_dict(hp):
    return {"model": _model(hp)}


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    return Dataset.from_arrays((x / 16).astype("float32"), y, seed=0)


@pytest.mark.parametrize(
    ("build", "said"),
    [
        (_returns_none, ("returned builtins.NoneType", "does build end with `return model`?")),
        (_returns_a_tuple, ("returned builtins.tuple", "return the model alone")),
        (_returns_a_layer, ("Dense with its default", "a layer is not a model: wrap it")),
        (_returns_a_dict, ("returned builtins.dict", "build a keras.Model")),
    ],
    ids=["none", "tuple", "layer", "dict"],
)
def test_a_build_returning_no_model_is_refused_before_training(digits, tmp_path, build, said):
    with pytest.raises(ModelCheckError) as e:
        CoarseToFine(build, digits, directory=tmp_path, project_name="p").run()
    text = str(e.value)
    assert NOT_A_MODEL in text and all(part in text for part in said), text
    assert not list(tmp_path.rglob("trial.json"))  # no trial ran


def test_a_class_returned_is_said_to_be_a_class(digits, tmp_path):
    with pytest.raises(ModelCheckError, match="returned the class keras.src.models.sequential"):
        CoarseToFine(lambda hp: keras.Sequential, digits, directory=tmp_path).run()


def _none_for_tanh(hp):
    if hp.Choice("activation", ["relu", "tanh"]) == "tanh":
        return None
    return _model(hp)


def test_a_build_returning_none_for_some_values_fails_those_trials_only(digits, tmp_path):
    """Before: KerasTuner's FatalTypeError stopped the whole search (exit 1)."""
    budget = {**BAYES_BUDGET, "coarse_trials": 6, "max_consecutive_failed_trials": 6, "seed": 1}
    run = CoarseToFine(_none_for_tanh, digits, directory=tmp_path, project_name="p", **budget)
    result = run.run()
    trials = [json.loads(p.read_text()) for p in (result.run_dir / "coarse").rglob("trial.json")]
    failed = [t for t in trials if t["status"] == "FAILED"]
    assert failed and all(t["hyperparameters"]["values"]["activation"] == "tanh" for t in failed)
    assert all("returned builtins.NoneType with the values" in t["message"] for t in failed)
    assert "this trial fails and the search goes on" in failed[0]["message"]
    assert any(t["status"] == "COMPLETED" for t in trials)
    assert result.test_metrics["accuracy"] > 0


def test_a_build_returning_none_exits_2_on_the_command_line(tmp_path, capsys, monkeypatch):
    (tmp_path / "forgot.py").write_text(
        textwrap.dedent(
            """
            import keras

            def build(hp):
                units = hp.Int("units", 8, 32, step=8)
                model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(units),
                                          keras.layers.Dense(10)])
                model.compile("adam", "sparse_categorical_crossentropy")
            """
        )
    )
    x, y = load_digits(return_X_y=True)
    np.savez(
        tmp_path / "d.npz", x_train=x[:1400], y_train=y[:1400], x_test=x[1400:], y_test=y[1400:]
    )
    monkeypatch.chdir(tmp_path)
    args = [
        "--hypermodel",
        "forgot:build",
        "--data",
        str(tmp_path / "d.npz"),
        "--directory",
        str(tmp_path / "runs"),
        "--backend",
        "tensorflow",
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "returned builtins.NoneType" in err and "`return model`" in err, err
    assert "Traceback" not in err and not list(tmp_path.rglob("trial.json"))


@keras.saving.register_keras_serializable(package="tunekit_tests")
class Tracked(keras.Model):
    """The Keras guide's subclassed model with its own test step, listing Keras's
    compiled metrics beside its own trackers (`super().metrics + [...]`)."""

    def __init__(self, units=16, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.hidden = keras.layers.Dense(units, activation="relu")
        self.out = keras.layers.Dense(10, activation="softmax")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.hits = keras.metrics.SparseCategoricalAccuracy(name="accuracy")

    def call(self, x):
        return self.out(self.hidden(x))

    @property
    def metrics(self):
        return [*super().metrics, self.loss_tracker, self.hits]

    def test_step(self, data):
        x, y = data[0], data[1]
        p = self(x, training=False)
        self.loss_tracker.update_state(keras.losses.sparse_categorical_crossentropy(y, p))
        self.hits.update_state(y, p)
        return {"loss": self.loss_tracker.result(), "accuracy": self.hits.result()}

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def _tracked(hp):
    model = Tracked(hp.Int("units", 8, 24, step=8, default=16))
    model.compile(
        keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    model(np.zeros((1, 64), "float32"))
    return model


def test_a_saved_model_with_its_own_test_step_evaluates_as_in_memory(digits, tmp_path):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("a TensorFlow-style test_step(self, data)")
    model = _tracked(kt.HyperParameters())
    model.fit(digits.x_train, digits.y_train, epochs=2, verbose=0)
    in_memory = model.evaluate(digits.x_test, digits.y_test, verbose=0, return_dict=True)
    model.save(tmp_path / "m.keras")
    hypermodel = kt.HyperModel()
    hypermodel.build = _tracked  # the run's hypermodel is a HyperModel
    loaded = load_saved_model(tmp_path / "m.keras", hypermodel, kt.HyperParameters, digits)
    again = loaded.evaluate(digits.x_test, digits.y_test, verbose=0, return_dict=True)
    assert again == pytest.approx(in_memory, abs=1e-6)
    predicted = loaded.predict(digits.x_test, verbose=0).argmax(axis=1)
    assert again["accuracy"] == pytest.approx(float(np.mean(predicted == digits.y_test)))


def test_a_run_of_a_model_with_its_own_test_step_reports_its_test_score(digits, tmp_path):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("a TensorFlow-style test_step(self, data)")
    run = CoarseToFine(
        _tracked, digits, directory=tmp_path, project_name="p", seed=0, **BAYES_BUDGET
    )
    result = run.run()
    report = json.loads((result.run_dir / "report.json").read_text())
    model = keras.models.load_model(result.run_dir / "best_model.keras")
    predicted = model.predict(digits.x_test, verbose=0).argmax(axis=1)
    accuracy = float(np.mean(predicted == digits.y_test))
    assert result.test_metrics["accuracy"] == pytest.approx(accuracy, abs=1e-6)
    assert report["test_metrics"]["accuracy"] == pytest.approx(accuracy, abs=1e-6)
