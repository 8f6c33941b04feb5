"""Each trial's model goes through the output checks the default configuration's passed.

Before, the check before training read the output's units against the classes (and the
loss against one-hot rows or ids, a regression's width, ...) on the default model only:
`Dense(hp.Choice("nout", [10, 9]))` on 10 classes passed with its 10 units, and its
9-unit trials trained. On JAX the ids 9 one-hot encode to zeros (a zero loss): such a
trial won and the run exited 0 with 9 outputs for 10 classes; on TensorFlow it failed
with Keras's raw "label value of 9 ... outside the valid range". Now those trials are
refused before they train (`TrialRefusedError`) and the others are scored.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from typing import Any

import keras
import numpy as np
import pytest

from tunekit import CoarseToFine
from tunekit.data import Dataset
from tunekit.progress import failure_reason


def _classes(n_classes: int = 10, n: int = 200) -> Dataset:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 6)).astype("float32")
    return Dataset.from_arrays(x, np.arange(n) % n_classes, seed=0)


def _values() -> Dataset:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 6)).astype("float32")
    return Dataset.from_arrays(x, x[:, 0] * 2.0, seed=0, task="regression")


def _build(name, choices, loss="sparse_categorical_crossentropy", activation="softmax"):
    def build(hp):
        tuned = hp.Choice(name, choices)
        units = tuned if name == "nout" else (1 if activation is None else 10)
        model = keras.Sequential(
            [
                keras.Input((6,)),
                keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu"),
                keras.layers.Dense(units, activation=activation),
            ]
        )
        metrics = [] if activation is None else ["accuracy"]
        model.compile(optimizer="adam", loss=tuned if name == "loss" else loss, metrics=metrics)
        return model

    return build


def _coarse(build, data, tmp_path, **kwargs):
    run = CoarseToFine(
        build,
        data,
        directory=tmp_path,
        coarse_trials=4,
        coarse_epochs=1,
        seed=0,
        max_consecutive_failed_trials=4,
        **kwargs,
    )
    run.coarse()
    tuner = run._tuner("coarse")
    trials = list(tuner.oracle.trials.values())
    best = tuner.oracle.get_best_trials(1)[0].hyperparameters.values
    run.close()
    return trials, best


@pytest.mark.parametrize(
    ("name", "choices", "bad", "data", "kwargs", "refused"),
    [
        (  # the fault: 9 units on 10 classes
            "nout",
            [10, 9],
            9,
            _classes,
            {},
            r"values of trial id \d+, \{'nout': 9, 'units': \d\}\) builds a model that outputs "
            r"9 units per sample but the data has 10 classes",
        ),
        (  # a tuned loss that takes one-hot rows, on class ids
            "loss",
            ["sparse_categorical_crossentropy", "categorical_crossentropy"],
            "categorical_crossentropy",
            _classes,
            {},
            r"'loss': 'categorical_crossentropy'.*\) builds a model that is compiled with a "
            r"categorical cross-entropy, which takes one-hot rows",
        ),
        (  # a regression's width against one target
            "nout",
            [1, 3],
            3,
            _values,
            {"objective": "val_loss"},
            r"'nout': 3.*\) builds a model that outputs shape \(None, 3\), but the regression "
            r"targets have shape \(n,\) or \(n, 1\)",
        ),
    ],
)
def test_a_trials_output_that_does_not_fit_the_targets_fails_only_that_trial(
    tmp_path, name, choices, bad, data, kwargs, refused
):
    activation = None if data is _values else "softmax"
    loss = "mse" if data is _values else "sparse_categorical_crossentropy"
    trials, best = _coarse(_build(name, choices, loss, activation), data(), tmp_path, **kwargs)
    assert {t.hyperparameters[name] for t in trials} == set(choices)
    for trial in trials:
        if trial.hyperparameters[name] == bad:
            assert trial.status == "FAILED", trial.status
            reason = failure_reason(trial)
            assert reason.startswith("tunekit.trial_refusals.TrialRefusedError: "), reason
            assert re.search(refused, reason), reason
        else:
            assert trial.status == "COMPLETED", trial.message
    assert best[name] != bad


@pytest.mark.long
def test_a_nine_unit_trial_on_ten_classes_is_refused_on_jax(tmp_path):
    """On JAX the 9-unit trials trained to a zero loss and won (exit 0)."""
    script = textwrap.dedent(
        f"""
        import json, keras, numpy as np
        from tunekit import CoarseToFine
        from tunekit.data import Dataset
        from tunekit.progress import failure_reason

        def build(hp):
            model = keras.Sequential([
                keras.Input((6,)),
                keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu"),
                keras.layers.Dense(hp.Choice("nout", [10, 9]), activation="softmax")])
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                          metrics=["accuracy"])
            return model

        rng = np.random.default_rng(0)
        data = Dataset.from_arrays(rng.normal(size=(200, 6)).astype("float32"),
                                   np.arange(200) % 10, seed=0)
        run = CoarseToFine(build, data, directory={str(tmp_path)!r}, coarse_trials=4,
                           coarse_epochs=1, seed=0, max_consecutive_failed_trials=4)
        run.coarse()
        oracle = run._tuner("coarse").oracle
        trials = [(t.hyperparameters["nout"], t.status, failure_reason(t))
                  for t in oracle.trials.values()]
        best = oracle.get_best_trials(1)[0].hyperparameters["nout"]
        run.close()
        print(json.dumps({{"backend": keras.backend.backend(), "trials": trials, "best": best}}))
        """
    )
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["backend"] == "jax"
    assert out["best"] == 10
    assert {nout for nout, _, _ in out["trials"]} == {9, 10}
    for nout, status, reason in out["trials"]:
        if nout == 9:
            assert status == "FAILED"
            assert reason.startswith("tunekit.trial_refusals.TrialRefusedError: "), reason
            assert "outputs 9 units per sample but the data has 10 classes" in reason, reason
        else:
            assert status == "COMPLETED", reason


def _dict_stream(train_ids: Any, val_ids: Any) -> Any:
    """A stream of a dict y: `cls` class ids, `reg` values; batches of 16."""
    import tensorflow as tf

    from tunekit.data import StreamData

    rng = np.random.default_rng(0)

    def split(ids: Any) -> Any:
        x = rng.normal(size=(len(ids), 4)).astype("float32")
        y = {"cls": np.asarray(ids, "int64"), "reg": rng.normal(size=len(ids)).astype("float32")}
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(16)

    test = np.arange(32) % 2
    return StreamData(split(train_ids), split(val_ids), split(test), fingerprint="d")


def _dict_build(hp: Any) -> keras.Model:
    a = keras.Input((4,), name="a")
    h = keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu")(a)
    out = {
        "cls": keras.layers.Dense(hp.Choice("ncls", [3, 2]), activation="softmax", name="cls")(h),
        "reg": keras.layers.Dense(1, name="reg")(h),
    }
    model = keras.Model(a, out)
    model.compile("adam", {"cls": "sparse_categorical_crossentropy", "reg": "mse"})
    return model


@pytest.mark.parametrize(
    ("train_ids", "split"),
    [
        pytest.param(np.arange(48) % 3, "training", marks=pytest.mark.long),  # the id 2
        (np.arange(48) % 2, "validation"),  # the id 2 in validation only
    ],
)
def test_a_trials_narrower_head_of_a_dict_y_is_refused_against_the_ids_already_read(
    tmp_path, train_ids, split
):
    """A dict y's `cls` head of `hp.Choice("ncls", [3, 2])` units: the default's 3 were
    checked against every training and validation id before the search; a trial's 2 were
    not checked at all (several outputs), and trained on the id 2 (TensorFlow failed the
    trial with its raw "label value of 2" error; JAX one-hot encodes it to zeros, a zero
    loss). Now such a trial is refused before it trains, against the ids the stream's
    passes found when it was made: nothing is read again."""
    data = _dict_stream(train_ids, np.arange(48) % 3)
    trials, best = _coarse(_dict_build, data, tmp_path, objective="val_loss")
    assert {t.hyperparameters["ncls"] for t in trials} == {2, 3}
    for trial in trials:
        if trial.hyperparameters["ncls"] == 3:
            assert trial.status == "COMPLETED", trial.message
            continue
        assert trial.status == "FAILED", trial.status
        reason = failure_reason(trial)
        assert reason.startswith("tunekit.trial_refusals.TrialRefusedError: "), reason
        assert f"values of trial id {trial.trial_id}, {{" in reason, reason
        assert f"the {split} stream (its output 'cls') holds class ids up to 2" in reason
        assert "the model's output 'cls' tells 2 classes apart" in reason, reason
    assert best["ncls"] == 3
