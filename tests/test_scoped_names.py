"""Hyperparameters declared inside `hp.name_scope`: KerasTuner spells them `scope/name`.

tunekit records which names a trial's build declared, to keep only those in the
trial (`tunekit.tuners.declared_only`). It recorded `units` where KerasTuner
declares `block0/units`, so the scoped value was dropped from every trial: the
trials table showed it empty, the narrowing called it inactive, and the chosen
configuration rebuilt the hypermodel's default, a model no trial had trained
(exit 0, a saved model of another size and a lower test score).
"""

from __future__ import annotations

import json

import keras
import keras_tuner as kt
import pandas as pd
from conftest import RUN_BUDGET
from keras_tuner.engine.trial import Trial

from tunekit import CoarseToFine
from tunekit.data import Dataset
from tunekit.tuners import declared_only


def build(hp: kt.HyperParameters) -> keras.Model:
    inputs = keras.Input((8,))
    x = inputs
    with hp.name_scope("block0"):
        x = keras.layers.Dense(hp.Int("units", 4, 32, step=4, default=4), activation="relu")(x)
        with hp.name_scope("inner"):
            if hp.Boolean("extra"):
                x = keras.layers.Dense(4, activation="relu")(x)
    outputs = keras.layers.Dense(3, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(
        keras.optimizers.Adam(hp.Float("lr", 1e-3, 3e-2, sampling="log")),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def test_a_trial_keeps_the_names_declared_in_a_name_scope_as_keras_tuner_spells_them():
    space = kt.HyperParameters()
    build(space)
    names = {hp.name for hp in space.space}
    assert names == {"block0/units", "block0/inner/extra", "lr"}
    trial = Trial(space.copy())
    trial.hyperparameters.values["block0/units"] = 24
    with declared_only(trial) as declared:
        build(trial.hyperparameters)
        assert declared == names
    assert trial.hyperparameters.values["block0/units"] == 24
    assert {hp.name for hp in trial.hyperparameters.space} == names


def test_the_chosen_configuration_of_a_scoped_build_is_the_one_its_trial_trained(tmp_path):
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    data = Dataset.from_arrays(x[:300, :8] / 16.0, y[:300] % 3, seed=0)
    run = CoarseToFine(
        build,
        data,
        directory=tmp_path,
        project_name="scoped",
        **{**RUN_BUDGET, "coarse_trials": 4, "top": 1.0, "final_epochs": 1},
    )
    result = run.run()
    trials = pd.read_csv(result.run_dir / "trials.csv", dtype={"trial_id": str})
    done = trials[trials["status"] == "COMPLETED"]
    assert done["hp_block0/units"].notna().all()  # recorded in every trial, not dropped
    best = json.loads((result.run_dir / "best_hyperparameters.json").read_text())
    row = done[(done["phase"] == best["phase"]) & (done["trial_id"] == best["trial_id"])]
    assert best["values"]["block0/units"] == row["hp_block0/units"].item()
    saved = keras.models.load_model(result.run_dir / "best_model.keras")
    assert saved.count_params() == row["num_params"].item()  # the model its trial trained
    units = {c.name: c for c in run.ensure("narrow").changes}["block0/units"]
    assert units.rule != "inactive", str(units)
    run.close()
