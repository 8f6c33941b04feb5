"""Test predictions that are not numbers are refused, not scored (probe A, note 66).

A model that computes NaN from a finite test input (`keras.ops.log` of a count that is 0
only in the test set) was scored by Keras's metrics and an argmax, which count a NaN row
as class 0: 0.9667 test accuracy reported (with its interval and confusion matrix, exit
0) where 5 of 60 rows were NaN, 0.8833 counting them wrong. A test stream whose inputs
held NaN (arrays with them are refused) was scored the same way: 0.9336 for 0.8833.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

import tunekit
from tunekit.data import Dataset, StreamData
from tunekit.outputs import predict_test_set


def _counts(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = rng.uniform(0.5, 5.0, size=(n, 3)).astype("float32")
    return x, (x[:, 0] > 2.75).astype("int64")


def _logged(units: int, activation: str | None) -> keras.Model:
    inputs = keras.Input((3,))
    outputs = keras.layers.Dense(units, activation=activation)(keras.ops.log(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(loss="sparse_categorical_crossentropy" if units > 1 else "mse")
    return model


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_model_that_predicts_nan_for_finite_test_inputs_is_not_scored(task):
    rng = np.random.default_rng(0)
    splits = [_counts(n, rng) for n in (80, 30, 60)]
    x_test, y_test = splits[2]
    x_test[[3, 17, 18, 40, 59], 1] = 0.0  # a count of 0: legal data, log(0) = -inf
    if task == "regression":
        splits = [(x, x[:, 0] * 2.0) for x, _ in splits]
        y_test = x_test[:, 0] * 2.0
    (x_train, y_train), (x_val, y_val) = splits[:2]
    data = Dataset(x_train, y_train, x_val, y_val, x_test, y_test, task=task)
    model = _logged(
        2 if task == "classification" else 1, "softmax" if task != "regression" else None
    )
    with pytest.raises(
        tunekit.PredictionsNotFiniteError,
        match=r"^The final model \(best_model\.keras\) predicts NaN or infinite values for 5 "
        r"of 60 test samples \(rows 3, 17, 18, 40, 59\)\. tunekit will not score them: "
        r".*keras\.ops\.log1p",
    ) as refused:
        predict_test_set(model, data, batch_size=32)
    # The baseline's or a final seed's model is named as itself (probe C: a baseline's NaN
    # was said of best_model.keras, whose predictions were finite).
    said = str(refused.value.about("The baseline model (baseline_model.keras)"))
    assert said.startswith("The baseline model (baseline_model.keras) predicts NaN or "), said
    assert "best_model" not in said and "(rows 3, 17, 18, 40, 59)" in said
    x_test[[3, 17, 18, 40, 59], 1] = 1.0  # finite everywhere: scored
    y_true, y_pred = predict_test_set(model, data, batch_size=32)
    assert len(y_pred) == 60 and np.all(np.isfinite(y_pred))


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_a_stream_whose_inputs_hold_nan_is_refused_when_made(split):
    rng = np.random.default_rng(1)
    parts = {name: _counts(n, rng) for name, n in (("train", 96), ("val", 64), ("test", 64))}
    x, _ = parts[split]
    x[[5, 9], 2] = np.nan
    x[12, 0] = np.inf

    def stream(name):
        return tf.data.Dataset.from_tensor_slices(parts[name]).batch(16)

    with pytest.raises(
        tunekit.DataError,
        match=rf"^StreamData: the {'training' if split == 'train' else '(validation|test)'} "
        r"stream's x holds NaN or infinite values \(or values beyond .*\) in 3 of its \d+ "
        r"samples: .*ds\.filter",
    ):
        StreamData(stream("train"), stream("val"), stream("test"), fingerprint="nan", num_classes=2)
    x[[5, 9], 2], x[12, 0] = 1.0, 1.0
    data = StreamData(
        stream("train"), stream("val"), stream("test"), fingerprint="ok", num_classes=2
    )
    assert data.num_classes == 2


def test_a_streams_nan_targets_or_sample_weights_are_refused_when_made():
    """Probe C: a regression test stream with 3 NaN targets was accepted, and the run
    failed after its search and retrain with a bare `ValueError` blaming a diverged model;
    NaN sample weights in training were accepted. Both are refused when the `StreamData`
    is made, as arrays with them are."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(192, 3)).astype("float32")
    y = (x[:, 0] * 2.0).astype("float32")
    weights = np.ones(192, "float32")

    def streams(y, weights):
        return [
            tf.data.Dataset.from_tensor_slices((x[s], y[s], weights[s])).batch(16)
            for s in (slice(0, 96), slice(96, 144), slice(144, 192))
        ]

    bad_y = y.copy()
    bad_y[[150, 160, 170]] = np.nan
    with pytest.raises(
        tunekit.DataError,
        match=r"^StreamData: the test stream's y holds NaN or infinite values .* in 3 of its 48 "
        r"samples",
    ):
        StreamData(*streams(bad_y, weights), fingerprint="y", task="regression")
    bad_weights = weights.copy()
    bad_weights[7] = np.inf
    with pytest.raises(
        tunekit.DataError, match=r"^StreamData: the training stream's sample weights hold NaN"
    ):
        StreamData(*streams(y, bad_weights), fingerprint="w", task="regression")
    assert (
        StreamData(*streams(y, weights), fingerprint="ok", task="regression").task == "regression"
    )


@pytest.mark.parametrize("form", ["ragged", "float64_beyond_float32"])
def test_nan_in_ragged_inputs_or_float64_beyond_float32_are_refused_in_a_stream(form):
    """Probe D: a ragged input holding NaN (read as object arrays of arrays) and float64
    inputs beyond float32's range (infinite in the model) were accepted in a stream; arrays
    holding either are refused."""
    rng = np.random.default_rng(3)

    def split(n, bad):
        y = np.arange(n) % 2
        if form == "ragged":
            rows = [list(rng.normal(size=rng.integers(1, 5))) for _ in range(n)]
            if bad:
                rows[5][0] = float("nan")
            x = tf.ragged.constant(rows, dtype=tf.float32)
        else:
            x = rng.normal(size=(n, 3))  # float64
            if bad:
                x[5, 1] = 1e39
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(16)

    with pytest.raises(
        tunekit.DataError,
        match=r"^StreamData: the test stream's x holds NaN or infinite values \(or values "
        r"beyond float32's range, about 3\.4e38, .*\) in 1 of its 32 samples",
    ):
        StreamData(split(64, False), split(32, False), split(32, True), fingerprint=form)
    data = StreamData(split(64, False), split(32, False), split(32, False), fingerprint="ok")
    assert data.train_classes[None] == {0, 1}
