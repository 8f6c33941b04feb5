"""The `.keras` file of each trial's model, and of the configuration chosen for the retrain.

Before, only the default configuration's model was saved and loaded back before the
search. A layer of the user's that only `hp.Boolean("extra")` adds, whose `get_config`
raises, trained in its trials and won; the retrain trained it, then its save raised
Keras's raw `AttributeError` (the retrain's work lost, a `.partial.keras` file left in
the run folder, the same on every rerun). A registered layer whose `from_config`
raises (`KeyError`) was accepted by the check (its weights load into a rebuild), and
the run then failed in its evaluation with the raw `KeyError`: the loaders caught only
`TypeError` and `ValueError`.
"""

from __future__ import annotations

import json
import re

import keras
import keras_tuner as kt
import numpy as np
import pytest

from tunekit import CoarseToFine
from tunekit.data import Dataset
from tunekit.errors import ModelSaveError
from tunekit.progress import failure_reason


class BadConfig(keras.layers.Layer):
    """A layer whose `get_config` raises (an attribute it never set): Keras cannot save it."""

    def call(self, x):
        return x * 2.0

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


class SometimesBad(keras.layers.Layer):
    """A layer whose `get_config` raises for one value only: the trials' check, made once
    for each set of classes, meets the class at a value that saves."""

    def __init__(self, scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def call(self, x):
        return x * self.scale

    def get_config(self):
        if self.scale == 3.0:
            raise AttributeError("'SometimesBad' object has no attribute 'factor'")
        return {**super().get_config(), "scale": self.scale}


@keras.saving.register_keras_serializable(package="tunekit_tests")
class Picky(keras.layers.Layer):
    """Registered, saved whole; its `from_config` raises `KeyError` when loaded."""

    def __init__(self, scale=2.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def call(self, x):
        return x * self.scale

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}

    @classmethod
    def from_config(cls, config):
        return cls(config["factor"])


def _data() -> Dataset:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(240, 6)).astype("float32")
    return Dataset.from_arrays(x, (x[:, 0] + x[:, 1] > 0).astype("int64"), seed=0)


class _HyperModel(kt.HyperModel):
    """A build function as the run holds it (`keras_tuner.HyperModel`)."""

    def __init__(self, build):
        super().__init__()
        self.build = build


def _build(extra_layer):
    """`hp.Boolean("extra")` adds `extra_layer()`; without it the model cannot learn (a
    frozen output of zeros), so a configuration with it wins."""

    def build(hp):
        layers = [keras.Input((6,))]
        if hp.Boolean("extra"):
            units = hp.Int("units", 4, 12, step=4)
            layers += [extra_layer(hp), keras.layers.Dense(units, activation="relu")]
            layers.append(keras.layers.Dense(2, activation="softmax"))
        else:
            frozen = dict(kernel_initializer="zeros", bias_initializer="zeros", trainable=False)
            layers.append(keras.layers.Dense(2, activation="softmax", **frozen))
        model = keras.Sequential(layers)
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    return build


def test_a_trial_whose_model_cannot_be_saved_is_refused_before_it_trains(tmp_path):
    run = CoarseToFine(
        _build(lambda hp: BadConfig()),
        _data(),
        directory=tmp_path,
        project_name="p",
        coarse_trials=4,
        coarse_epochs=1,
        seed=0,
        max_consecutive_failed_trials=4,
    )
    run.coarse()
    oracle = run._tuner("coarse").oracle
    trials = list(oracle.trials.values())
    best = oracle.get_best_trials(1)[0].hyperparameters.values
    run.close()
    assert {t.hyperparameters["extra"] for t in trials} == {False, True}
    for trial in trials:
        if not trial.hyperparameters["extra"]:
            assert trial.status == "COMPLETED", trial.message
            continue
        assert trial.status == "FAILED", trial.status  # before: COMPLETED, and it won
        reason = failure_reason(trial)
        assert reason.startswith("tunekit.trial_refusals.TrialRefusedError: "), reason
        values = {"extra": True, "units": trial.hyperparameters["units"]}
        assert f"values of trial id {trial.trial_id}, {values}) builds a model that " in reason
        assert "cannot be saved as a .keras file (AttributeError: 'BadConfig' object has no " in (
            reason
        )
        assert "Keras's save raised it" in reason and "get_config()" in reason, reason
        assert "Refused before it trains" in reason, reason
        assert not any(  # refused before model.fit: no epoch was logged
            trial.metrics.exists(name) for name in ("loss", "val_loss")
        ), trial.metrics.get_config()
    assert best["extra"] is False
    assert not list(tmp_path.rglob("*.partial.keras"))


def test_a_trials_check_is_made_once_for_each_set_of_classes(monkeypatch):
    """Models of the same classes (other widths) are saved once; a new class, again."""
    from tunekit.steps import file_checks

    saved = []
    real = file_checks.save_keras
    monkeypatch.setattr(
        file_checks, "save_keras", lambda model, path: saved.append(path) or real(model, path)
    )
    build = _build(lambda hp: keras.layers.Dropout(0.1))
    passed: set = set()
    for values in ({"extra": True, "units": 4}, {"extra": True, "units": 12}):
        hp = kt.HyperParameters()
        hp.values.update(values)
        file_checks.check_trial_file(build(hp), "x", passed)
    assert len(saved) == 1
    hp = kt.HyperParameters()
    hp.values.update({"extra": False})
    file_checks.check_trial_file(build(hp), "x", passed)
    assert len(saved) == 2  # a model without Dropout: another set
    hp.values.update({"extra": True, "units": 8})
    model = build(hp)
    weights = [w.copy() for w in model.get_weights()]
    file_checks.check_trial_file(model, "x", set())  # its own weights, loaded back unchanged
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights(), strict=True))


def test_the_chosen_configuration_is_checked_before_the_retrain_trains_it(tmp_path):
    """`check_chosen_file` refuses the chosen model, naming its trial and values."""
    from tunekit.steps.file_checks import check_chosen_file

    hp = kt.HyperParameters()
    hp.values.update({"extra": True, "units": 8})
    what = (
        "`hypermodel` (built with the values of fine trial 0003, {'extra': True, 'units': 8}, "
        "the configuration chosen for the retrain) builds a model that"
    )
    with pytest.raises(ModelSaveError) as error:
        check_chosen_file(_HyperModel(_build(lambda hp: BadConfig())), hp, _data(), what)
    message = str(error.value)
    assert message.startswith(f"{what} cannot be saved as a .keras file"), message
    assert "AttributeError: 'BadConfig' object has no attribute 'scale'" in message
    assert "Refused before the retrain trains it" in message


@pytest.mark.long
def test_a_fault_of_the_chosen_values_stops_the_run_before_the_retrain_trains(tmp_path):
    """`SometimesBad(scale=3.0)` cannot be saved, and only its models learn; its class
    at 1.0 (the default, the first trial) saves, so the trials' check (once per set of
    classes) passes the coarse trials of 3.0: the retrain's check stops the run before
    it trains. Before, the retrain trained and its save raised Keras's raw
    AttributeError, leaving a `.partial.keras` file in the run folder."""

    def build(hp):
        scale = hp.Choice("scale", [1.0, 3.0])
        learns = dict(trainable=scale == 3.0)  # a frozen model of zeros cannot learn
        if scale != 3.0:
            learns.update(kernel_initializer="zeros", bias_initializer="zeros")
        model = keras.Sequential(
            [
                keras.Input((6,)),
                SometimesBad(scale),
                keras.layers.Dense(hp.Int("units", 4, 12, step=4), activation="relu"),
                keras.layers.Dense(2, activation="softmax", **learns),
            ]
        )
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    run = CoarseToFine(
        build,
        _data(),
        directory=tmp_path,
        project_name="p",
        coarse_trials=4,
        coarse_epochs=1,
        max_epochs=2,
        final_epochs=1,
        factor=2,
        seed=0,
        max_consecutive_failed_trials=8,
    )
    with pytest.raises(ModelSaveError) as error:
        run.run()
    run.close()
    chosen = str(error.value)
    assert re.search(r"values of (fine|coarse) trial \w+, \{.*'scale': 3\.0", chosen), chosen
    assert "(AttributeError: 'SometimesBad' object has no attribute 'factor')" in chosen
    assert "Refused before the retrain trains it" in chosen, chosen
    manifest = json.loads((tmp_path / "p" / "manifest.json").read_text())
    assert manifest["steps"]["fine"]["status"] == "done"  # the search is kept
    assert not (manifest["steps"].get("retrain") or {}).get("epoch_logs")  # nothing trained
    assert not (tmp_path / "p" / "retrain_backup").exists()
    assert not list((tmp_path / "p").rglob("*.partial.keras"))


def _fixed(**values):
    hp = kt.HyperParameters()
    for name, value in values.items():
        hp.Fixed(name, value)
    return hp


def test_a_file_whose_from_config_raises_is_restored_from_its_weights(tmp_path):
    """Accepted before training (its weights load into a rebuild); before, the evaluation
    failed on the raw KeyError, and the note named no cause."""
    from tunekit.model_files import check_round_trip, file_alone_note, load_saved_model, save_keras

    data = _data()
    build = _build(lambda hp: Picky())
    hp = kt.HyperParameters()
    hp.values.update({"extra": True, "units": 8})
    model = build(hp)
    path = tmp_path / "best_model.keras"
    save_keras(model, path)
    with pytest.raises(KeyError):
        keras.models.load_model(path)
    loaded = load_saved_model(path, _HyperModel(build), lambda: hp, data)  # before: KeyError
    x = data.x_test[:8]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    note = check_round_trip(model, lambda: build(hp))
    assert note is not None and "loading it raises KeyError: 'factor'" in note, note
    assert file_alone_note(path) == note


def test_a_save_that_raises_leaves_no_file_and_is_refused_with_its_cause(tmp_path):
    from tunekit.model_files import check_round_trip, save_keras

    model = _build(lambda hp: BadConfig())(_fixed(extra=True, units=4))
    with pytest.raises(AttributeError):
        save_keras(model, tmp_path / "m.keras")
    assert list(tmp_path.iterdir()) == []  # before: m.keras.partial.keras
    with pytest.raises(ModelSaveError) as error:
        check_round_trip(model, lambda: model)
    message = str(error.value)
    assert "(AttributeError: 'BadConfig' object has no attribute 'scale')" in message
    assert "Keras's save raised it" in message  # before: "register custom objects"
