"""Each output's loss of a model of several outputs is a mean over samples, not batches.

Found by a probe: Keras's TensorFlow backend averages a multi-output model's per-output
losses (`reg_loss`) over batches, so a partial last batch counted as much as a full one.
The search ranked trials by `val_reg_loss` up to 7% off (521 validation samples in
batches of 128: no divisor of 521 in 128..512), and a stream's test `reg_loss` was
reported 0.4588 for 0.3412; with the baseline on, such a stream's run then crashed at the
report (`'StreamData' object has no attribute 'y_test'`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import pytest
import tensorflow as tf
from conftest import BAYES_BUDGET

from tunekit import CoarseToFine
from tunekit.data import Dataset, StreamData
from tunekit.errors import ModelCheckError
from tunekit.steps.loss_batches import check_output_loss_batches

_RNG = np.random.default_rng(0)


def _targets(x: np.ndarray) -> dict[str, np.ndarray]:
    noise = _RNG.normal(size=(len(x), 3)).astype("float32")
    return {
        "reg": (x[:, 0] * 2 + noise[:, 0]).astype("float32"),
        "reg2": (x[:, 1:3] * 3 + noise[:, 1:]).astype("float32"),
    }


def _build(hp: Any) -> keras.Model:
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(hp.Int("units", 4, 16, step=4), activation="relu")(inputs)
    outputs = {"reg": keras.layers.Dense(1, name="reg")(hidden),
               "reg2": keras.layers.Dense(2, name="reg2")(hidden)}  # fmt: skip
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(hp.Float("lr", 1e-3, 3e-2, sampling="log")),
                  loss={"reg": keras.losses.Huber(), "reg2": "mse"})  # fmt: skip
    return model


def _huber(error: np.ndarray) -> float:
    error = np.abs(error)
    return float(np.where(error <= 1, 0.5 * error**2, error - 0.5).mean())


def _losses(model: keras.Model, x: np.ndarray, y: dict[str, np.ndarray]) -> dict[str, float]:
    predicted = model.predict(x, verbose=0)
    return {
        "reg_loss": _huber(y["reg"] - np.asarray(predicted["reg"]).reshape(-1)),
        "reg2_loss": float(((y["reg2"] - np.asarray(predicted["reg2"])) ** 2).mean()),
    }


@pytest.mark.long  # a whole run: about 10-15 s
def test_trials_are_scored_by_each_outputs_validation_loss_over_samples(tmp_path: Path) -> None:
    x = {s: _RNG.normal(size=(n, 6)).astype("float32") for s, n in
         (("train", 160), ("val", 67), ("test", 40))}  # fmt: skip  # 67: a prime
    y = {s: _targets(v) for s, v in x.items()}
    data = Dataset(x["train"], y["train"], x["val"], y["val"], x["test"], y["test"],
                   task="regression")  # fmt: skip
    run = CoarseToFine(_build, data, directory=tmp_path, project_name="p", batch_size=16,
                       objective="val_reg_loss", **BAYES_BUDGET)  # fmt: skip
    run.coarse()
    run.close()
    trials = sorted((tmp_path / "p" / "coarse").glob("trial_*/trial.json"))
    assert len(trials) == 3
    for path in trials:
        trial = json.loads(path.read_text())
        model = _build(kt.HyperParameters.from_config(trial["hyperparameters"]))
        model.load_weights(path.parent / "checkpoint.weights.h5")
        true = _losses(model, x["val"], y["val"])["reg_loss"]
        assert trial["score"] == pytest.approx(true, rel=1e-4), path.parent.name


@pytest.mark.long  # a whole run: about 10-15 s
def test_a_streams_test_losses_by_output_are_over_samples_and_the_report_is_written(
    tmp_path: Path,
) -> None:
    x = {s: _RNG.normal(size=(n, 6)).astype("float32") for s, n in
         (("train", 128), ("val", 64), ("test", 66))}  # fmt: skip  # 66: batches of 32 and 2
    y = {s: _targets(v) for s, v in x.items()}
    streams = [tf.data.Dataset.from_tensor_slices((x[s], y[s])).batch(32) for s in x]
    data = StreamData(*streams, fingerprint="two-outputs", task="regression")
    budget = dict(BAYES_BUDGET, baseline=True)  # the default: its comparison crashed
    result = CoarseToFine(_build, data, directory=tmp_path, project_name="p", **budget).run()
    report = json.loads((tmp_path / "p" / "report.json").read_text())
    assert "several outputs" in report["baseline"]["verdict"]
    model = keras.models.load_model(tmp_path / "p" / "best_model.keras")
    true = _losses(model, x["test"], y["test"])
    for name, value in true.items():
        assert result.test_metrics[name] == pytest.approx(value, rel=1e-4), name
    assert result.test_metrics["loss"] == pytest.approx(sum(true.values()), rel=1e-4)


@pytest.mark.long  # a whole run: about 10-15 s
def test_a_weighted_metric_on_a_weighted_test_stream_keeps_keras_weighted_value(
    tmp_path: Path,
) -> None:
    """`weighted_metrics=["mae"]` on a stream of `(x, y, sample_weight)`: the report's `mae`
    was scikit-learn's unweighted one (0.6011 for Keras's weighted 0.8070), while the search
    ranked by the weighted `val_mae`, and the report's note said the opposite."""
    from sklearn.metrics import mean_absolute_error, r2_score

    x = {s: _RNG.normal(size=(n, 6)).astype("float32") for s, n in
         (("train", 96), ("val", 48), ("test", 48))}  # fmt: skip
    y = {s: (v[:, 0] * 2 + _RNG.normal(size=len(v))).astype("float32") for s, v in x.items()}
    w = {s: _RNG.uniform(0.1, 3.0, len(v)).astype("float32") for s, v in x.items()}
    streams = [tf.data.Dataset.from_tensor_slices((x[s], y[s], w[s])).batch(16) for s in x]
    data = StreamData(*streams, fingerprint="weighted-mae", task="regression")

    def build(hp: Any) -> keras.Model:
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(hp.Int("units", 4, 8)),
                                  keras.layers.Dense(1)])  # fmt: skip
        model.compile("adam", "mse", weighted_metrics=["mae"])
        return model

    run = CoarseToFine(build, data, directory=tmp_path, project_name="p", objective="val_mae",
                       **BAYES_BUDGET)  # fmt: skip
    result = run.run()
    model = keras.models.load_model(tmp_path / "p" / "best_model.keras")
    predicted = model.predict(x["test"], verbose=0).reshape(-1)
    weighted = mean_absolute_error(y["test"], predicted, sample_weight=w["test"])
    assert result.test_metrics["mae"] == pytest.approx(weighted, rel=1e-4)
    assert result.test_metrics["r2"] == pytest.approx(r2_score(y["test"], predicted), rel=1e-4)
    report = json.loads((tmp_path / "p" / "report.json").read_text())
    assert "reported under their names as the search scored them" in report["test_note"]
    assert "mae" not in report["test_intervals"]  # its bootstrap counts samples once
    assert "r2" in report["test_intervals"]
    # scikit-learn's unweighted MAE beside it, under its own name, with its interval.
    unweighted = mean_absolute_error(y["test"], predicted)
    assert result.test_metrics["sklearn_mae"] == pytest.approx(unweighted, rel=1e-4)
    assert report["test_intervals"]["sklearn_mae"]["value"] == pytest.approx(unweighted)
    markdown = (tmp_path / "p" / "report.md").read_text()
    assert "except where the model reports a metric of that name" in markdown
    assert "scikit-learn's is sklearn_mae." in markdown


def test_one_outputs_loss_as_objective_on_a_validation_stream_of_uneven_batches_is_refused(
    tmp_path: Path,
) -> None:
    """Found by a retry: a stream's validation batches are its own; 150 samples in batches
    of 64 scored each trial's `val_reg_loss` 32.11 for a sample mean of 20.11 (TensorFlow),
    exit 0. Refused before training; batches that divide the split, `val_loss`, pass."""
    x = {s: _RNG.normal(size=(n, 6)).astype("float32") for s, n in
         (("train", 128), ("val", 150), ("test", 40))}  # fmt: skip
    y = {s: _targets(v) for s, v in x.items()}

    def streams(val_batch: int) -> list[tf.data.Dataset]:
        sizes = {"train": 32, "val": val_batch, "test": 32}
        return [tf.data.Dataset.from_tensor_slices((x[s], y[s])).batch(sizes[s]) for s in x]

    data = StreamData(*streams(64), fingerprint="uneven", task="regression")
    assert data.validation_batches == (64, 64, 22)
    run = CoarseToFine(_build, data, directory=tmp_path, project_name="p",
                       objective="val_reg_loss", **BAYES_BUDGET)  # fmt: skip
    with pytest.raises(ModelCheckError) as caught:
        run.run()
    run.close()
    message = str(caught.value)
    assert "batches of 64 and a last one of 22" in message
    assert "validation.unbatch().batch(150)" in message and "objective='val_loss'" in message
    assert not list(tmp_path.rglob("trial.json"))
    even = StreamData(*streams(50), fingerprint="even", task="regression")
    assert even.validation_batches == (50, 50, 50)
    check_output_loss_batches(_build(kt.HyperParameters()), even, ["val_reg_loss"])
