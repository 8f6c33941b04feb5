"""Data as KerasTuner takes it: tf.data, PyDataset and streamed image folders.

Through `CoarseToFine` (search, retrain on train+validation chained, test
evaluation batch by batch), resume by fingerprint, the command line's
`--data FOLDER` and workers.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import pytest
import stream_models
import tensorflow as tf
from conftest import (
    BAYES_BUDGET,
    IMAGE_FOLDER_CLASSES,
    IMAGE_FOLDER_PER_CLASS,
    IMAGE_FOLDER_SIZE,
    RUN_BUDGET,
    three_splits,
)
from PIL import Image

from tunekit import CoarseToFine
from tunekit.cli_parser import cli_message
from tunekit.coarse_to_fine import main
from tunekit.data import StreamData
from tunekit.data.streams import chain_py_datasets
from tunekit.errors import DataError, RunConfigError, UsageError
from tunekit.image_streams import image_folder_stream

BUDGET: dict[str, Any] = dict(
    coarse_trials=3, coarse_epochs=1, max_epochs=2, factor=2, top=0.5, verbose=0
)
# The smallest run: 3 coarse trials, 1 Bayesian fine trial, 1 epoch each.
CLI_BUDGET = [
    *("--coarse-trials", "3", "--coarse-epochs", "1", "--fine-tuner", "bayesian"),
    *("--fine-trials", "1", "--max-epochs", "1", "--final-epochs", "1"),
    *("--objective", "val_loss", "--top", "1", "--finalists", "0", "--no-baseline"),
]
SMALL = BAYES_BUDGET


def _arrays(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = (rng.normal(size=(n, 6)) + 2 * y[:, None]).astype("float32")
    return x, y


def _tf_split(n: int, seed: int) -> tf.data.Dataset:
    return tf.data.Dataset.from_tensor_slices(_arrays(n, seed)).batch(16)


def _tf_data(fingerprint: str = "toy-v1") -> StreamData:
    return StreamData(_tf_split(96, 0), _tf_split(32, 1), _tf_split(40, 2), fingerprint=fingerprint)


class ArraysPyDataset(keras.utils.PyDataset):
    """Batches of two arrays, as a user's PyDataset."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int = 16) -> None:
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        part = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.x[part], self.y[part]


_PY_SPLITS = (("train", 96, 0), ("validation", 32, 1), ("test", 40, 2))


def _other_image(like: Path, path: Path) -> None:
    """An image like `like`, its pixels moved by one level: other bytes, not a copy."""
    pixels = np.asarray(Image.open(like)).astype(np.int16)
    Image.fromarray(np.clip(pixels + 1, 0, 255).astype(np.uint8)).save(path)


def _report(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "report.json").read_text())


def test_tf_data_end_to_end_then_resume_and_changed_data_refused(tmp_path: Path) -> None:
    data = _tf_data()
    assert (data.kind, data.task, data.input_shape, data.num_classes) == (
        "tf.data",
        "classification",
        (6,),
        None,
    )
    both, none = data.train_and_validation()  # the retrain's data: chained, not copied
    assert none is None and isinstance(both, tf.data.Dataset)
    assert int(both.cardinality()) == 6 + 2  # 96 / 16 train batches, then 32 / 16 validation
    kwargs: dict[str, Any] = dict(
        directory=tmp_path, project_name="tfdata", objective="val_loss", **SMALL
    )
    result = CoarseToFine(stream_models.dense_build, data, **kwargs).run()
    report = _report(result.run_dir)
    counts = np.asarray(report["confusion_matrix"]["counts"])
    # y collected from the test stream: all 40 samples, the true class counts of that split.
    assert counts.sum() == 40
    assert counts.sum(axis=1).tolist() == np.bincount(_arrays(40, 2)[1], minlength=3).tolist()
    # The reported accuracy is that of the saved model's predictions, batch by batch.
    assert result.test_metrics["accuracy"] == pytest.approx(np.trace(counts) / 40, abs=1e-6)
    assert report["dataset"]["num_classes"] == 3
    trials = {p: result.phase_bests[p]["trial_id"] for p in ("coarse", "fine")}
    mtime = (result.run_dir / "best_model.keras").stat().st_mtime_ns

    # The same definition resumes: nothing runs again, the result is the same.
    again = CoarseToFine(stream_models.dense_build, _tf_data(), **kwargs).run()
    assert again.test_metrics == result.test_metrics
    assert {p: again.phase_bests[p]["trial_id"] for p in ("coarse", "fine")} == trials
    assert (result.run_dir / "best_model.keras").stat().st_mtime_ns == mtime  # not retrained

    # Another fingerprint is other data: refused, naming the data.
    with pytest.raises(RunConfigError, match="data"):
        CoarseToFine(stream_models.dense_build, _tf_data("toy-v2"), **kwargs).run()


def _one_hot_split(n: int, seed: int) -> tf.data.Dataset:
    x, y = _arrays(n, seed)
    return tf.data.Dataset.from_tensor_slices((x, np.eye(3, dtype="float32")[y])).batch(16)


def _one_hot_build(hp: Any) -> keras.Model:
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def _reviews(n: int = 240) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    good, bad = ["good", "great", "fine", "nice"], ["bad", "awful", "poor", "sad"]
    y = rng.integers(0, 2, n)
    x = np.array([" ".join(rng.choice(good if label else bad, 3)) for label in y])
    return x, y


def test_text_arrays_are_refused_pointing_to_a_stream_of_strings() -> None:
    from tunekit.data import Dataset

    x, y = _reviews()
    with pytest.raises(DataError, match=r"holds text.*StreamData.*dtype='string'"):
        Dataset.from_arrays(x, y)


@pytest.mark.parametrize("x", [["good film", "bad film"] * 20, [["good"], ["bad"]] * 20])
def test_text_in_lists_is_refused_as_text_too(x) -> None:
    """Before, a list of strings got "must be numeric (convertible to float32)"."""
    from tunekit.data import Dataset

    with pytest.raises(DataError, match=r"holds text \(a list of strings\).*StreamData"):
        Dataset.from_arrays(x, [1, 0] * 20)


def test_a_stream_of_text_labels_is_refused_when_made() -> None:
    """Before, text labels made a regression stream and every trial failed."""
    x, y = _reviews(64)
    labels = np.where(y == 1, "pos", "neg")
    stream = tf.data.Dataset.from_tensor_slices((x, labels)).batch(16)
    with pytest.raises(DataError, match=r"labels are text \(e\.g\. b?'(pos|neg)'\).*StringLookup"):
        StreamData(*three_splits(stream), fingerprint="text-labels")


def test_a_text_model_under_jax_is_refused_before_training(monkeypatch) -> None:
    """Keras on JAX runs no strings: every trial failed in model.fit ("Invalid dtype")."""
    from tunekit.errors import ModelCheckError
    from tunekit.steps.pairing_checks import check_text_backend

    x, y = _reviews(64)
    stream = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    data = StreamData(*three_splits(stream), fingerprint="text")
    text = keras.Input(shape=(), dtype="string")
    vectorize = keras.layers.TextVectorization(max_tokens=12, output_mode="multi_hot")
    vectorize.adapt(x)
    model = keras.Model(text, keras.layers.Dense(2, activation="softmax")(vectorize(text)))
    check_text_backend(model, data, "The model")  # TensorFlow: fine
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.raises(ModelCheckError, match=r"reads text.*--backend tensorflow"):
        check_text_backend(model, data, "The model")
    lazy = keras.Sequential([vectorize, keras.layers.Dense(2)])  # no Input: the stream says
    with pytest.raises(ModelCheckError, match=r"KERAS_BACKEND=tensorflow"):
        check_text_backend(lazy, data, "The model")


@pytest.mark.parametrize("first, refused", [(0, False), (1, True)])
def test_stream_labels_beyond_a_sparse_outputs_width_are_refused_before_training(
    tmp_path: Path, first: int, refused: bool
) -> None:
    """Labels 1..3 in a stream without num_classes, a 3-unit softmax: under JAX, which does
    not check class ids, the run ended with exit 0 and a meaningless test accuracy (0.18);
    under TensorFlow every trial failed, then "No coarse trial completed"."""
    from tunekit.errors import ModelCheckError

    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 5)).astype("float32")
    y = (np.digitize(x[:, 0], [-0.5, 0.5]) + first).astype("int64")
    stream = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    data = StreamData(*three_splits(stream), fingerprint=f"labels-from-{first}")

    def build(hp):
        model = keras.Sequential(
            [
                keras.Input((5,)),
                keras.layers.Dense(hp.Int("units", 4, 8, step=4)),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    run = CoarseToFine(build, data, directory=tmp_path, **RUN_BUDGET)
    if refused:
        with pytest.raises(ModelCheckError, match=r"class ids 0\.\.2, but the labels go up to 3"):
            run.check_model()
    else:
        run.check_model()
    run.close()


@pytest.mark.long
def test_a_text_model_on_a_stream_of_strings_is_tuned_and_tested(tmp_path: Path) -> None:
    """Plain KerasTuner tunes a TextVectorization model on strings. Keras's symbolic output
    of `Input((1,), dtype="string")` -> multi-hot -> Dense(2) is (None, 1, 2) while the model
    outputs (n, 2): tunekit refused it before training ("outputs one unit per sample")."""
    x, y = _reviews()
    vectorize = keras.layers.TextVectorization(max_tokens=12, output_mode="multi_hot")
    vectorize.adapt(x)

    def build(hp):
        text = keras.Input((1,), dtype="string")
        hidden = keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu")
        model = keras.Model(
            text, keras.layers.Dense(2, activation="softmax")(hidden(vectorize(text)))
        )
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    def batches(part: slice) -> Any:
        return tf.data.Dataset.from_tensor_slices((x[part, None], y[part])).batch(32)

    data = StreamData(
        batches(slice(0, 160)),
        batches(slice(160, 200)),
        batches(slice(200, None)),
        name="reviews",
        fingerprint="reviews-v1",
    )
    result = CoarseToFine(
        build,
        data,
        directory=tmp_path,
        project_name="text",
        final_epochs=2,
        **RUN_BUDGET,
    ).run()
    model = keras.models.load_model(tmp_path / "text" / "best_model.keras")
    predicted = model.predict(batches(slice(200, None)), verbose=0).argmax(axis=1)
    assert result.test_metrics["accuracy"] == pytest.approx(np.mean(predicted == y[200:]))


def test_one_hot_labels_in_a_stream_are_scored_as_class_ids(tmp_path: Path) -> None:
    """A stream of one-hot labels (categorical cross-entropy), as plain KerasTuner takes it:
    it once trained everything, then failed writing the report."""
    splits = [_one_hot_split(n, s) for n, s in ((96, 0), (32, 1), (40, 2))]
    data = StreamData(*splits, fingerprint="one-hot-v1", task="classification", num_classes=3)
    result = CoarseToFine(
        _one_hot_build, data, directory=tmp_path, objective="val_accuracy", **SMALL
    ).run()
    counts = np.asarray(_report(result.run_dir)["confusion_matrix"]["counts"])
    assert counts.sum() == 40  # 40 samples, not 40 x 3 label entries
    assert counts.sum(axis=1).tolist() == np.bincount(_arrays(40, 2)[1], minlength=3).tolist()
    assert result.test_metrics["accuracy"] == pytest.approx(np.trace(counts) / 40, abs=1e-6)


def _two_output_split(n: int, seed: int) -> tf.data.Dataset:
    x, y = _arrays(n, seed)
    labels = {"digit": y, "odd": (y % 2).astype("float32")}
    return tf.data.Dataset.from_tensor_slices(({"a": x[:, :3], "b": x[:, 3:]}, labels)).batch(16)


def _two_output_build(hp: Any) -> keras.Model:
    a, b = keras.Input((3,), name="a"), keras.Input((3,), name="b")
    hidden = keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu")(
        keras.layers.Concatenate()([a, b])
    )
    outputs = {
        "digit": keras.layers.Dense(3, activation="softmax", name="digit")(hidden),
        "odd": keras.layers.Dense(1, activation="sigmoid", name="odd")(hidden),
    }
    model = keras.Model({"a": a, "b": b}, outputs)
    model.compile(
        optimizer="adam",
        loss={"digit": "sparse_categorical_crossentropy", "odd": "binary_crossentropy"},
        metrics={"digit": ["accuracy"], "odd": [keras.metrics.BinaryAccuracy(name="accuracy")]},
    )
    return model


@pytest.mark.long
@pytest.mark.parametrize("kind", ["tf.data", "PyDataset"])
def test_a_stream_of_several_outputs_is_scored_by_kerass_metrics(tmp_path: Path, kind) -> None:
    """A stream with a dict `y` trained both searches and the retrain, then failed every
    time at the test evaluation ("Cannot read classes from outputs of shape ()"), on
    every rerun too. Arrays with a dict `y` were scored by Keras's metrics; so is it now."""
    splits = [_two_output_split(n, s) for n, s in ((96, 0), (32, 1), (40, 2))]
    if kind == "PyDataset":
        splits = [ListPyDataset(list(split.as_numpy_iterator())) for split in splits]
    data = StreamData(*splits, fingerprint="two-outputs-v1", task="classification")
    result = CoarseToFine(
        _two_output_build,
        data,
        directory=tmp_path,
        objective="val_digit_accuracy",
        **SMALL,
    ).run()
    model = keras.models.load_model(result.run_dir / "best_model.keras")
    own = model.evaluate(splits[2], verbose=0, return_dict=True)
    assert result.test_metrics["digit_accuracy"] == pytest.approx(own["digit_accuracy"])
    assert result.test_metrics["odd_accuracy"] == pytest.approx(own["odd_accuracy"])
    assert "confusion_matrix" not in _report(result.run_dir)


class ListPyDataset(keras.utils.PyDataset):
    """A user's PyDataset over a list of ready batches."""

    def __init__(self, batches: list[Any]) -> None:
        super().__init__()
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int) -> Any:
        return self.batches[index]


def test_one_hot_looking_stream_targets_need_a_task() -> None:
    """Whole-number float targets (batch, k) could be one-hot labels or k regression
    targets: not guessed as regression (it once tuned a classifier on val_loss, silently)."""
    splits = [_one_hot_split(n, s) for n, s in ((32, 0), (16, 1), (16, 2))]
    with pytest.raises(DataError, match='pass task= .*task="classification" for one-hot'):
        StreamData(*splits, fingerprint="one-hot-v1")
    assert StreamData(*splits, fingerprint="v", task="regression").task == "regression"


def test_integer_targets_per_sample_that_are_not_one_hot_are_refused() -> None:
    """Integer counts (batch, 3) were taken for one-hot labels by their dtype (exit 0)."""
    x, y = _arrays(96, 0)
    counts = np.stack([y, 2 * y, y + 1], axis=1).astype("int64")
    split = tf.data.Dataset.from_tensor_slices((x, counts)).batch(16)
    with pytest.raises(DataError, match=r"values outside \[0, 1\] \(0 to 4\).*task=\"regression\""):
        StreamData(*three_splits(split), fingerprint="f")
    assert StreamData(*three_splits(split), fingerprint="f", task="regression").num_outputs == 3
    # One-hot integers are still labels.
    one_hot = tf.data.Dataset.from_tensor_slices((x, np.eye(3, dtype="int64")[y])).batch(16)
    assert StreamData(*three_splits(one_hot), fingerprint="h").task == "classification"


def test_float_class_ids_in_a_stream_need_a_task_or_num_classes() -> None:
    """Class ids saved as floats (0.0, 1.0, 2.0) once became regression silently: the whole
    run trained on val_loss and failed at the test evaluation."""
    splits = [_regression_split(n, s) for n, s in ((96, 0), (32, 1), (40, 2))]
    with pytest.raises(DataError, match=r"only whole-number values \(0, 1, 2\).*class ids"):
        StreamData(*splits, fingerprint="f")
    assert StreamData(*splits, fingerprint="f", task="classification").task == "classification"
    # Naming the classes says what the targets are.
    named = StreamData(*splits, fingerprint="f", num_classes=3)
    assert (named.task, named.num_classes) == ("classification", 3)
    # Real-valued targets are still regression without a word.
    x, y = _arrays(96, 0)
    real = tf.data.Dataset.from_tensor_slices((x, y + 0.5)).batch(16)
    assert StreamData(*three_splits(real), fingerprint="r").task == "regression"


def test_stream_needs_a_fingerprint_and_streams_only() -> None:
    with pytest.raises(DataError, match="fingerprint="):
        StreamData(_tf_split(32, 0), _tf_split(16, 1), _tf_split(16, 2))
    x, y = _arrays(32, 0)
    with pytest.raises(DataError, match="`validation` must be a batched tf.data.Dataset"):
        StreamData(_tf_split(32, 0), (x, y), _tf_split(16, 2), fingerprint="f")


def _regression_split(n: int, seed: int) -> tf.data.Dataset:
    x, y = _arrays(n, seed)
    return tf.data.Dataset.from_tensor_slices((x, y.astype("float32"))).batch(16)


@pytest.mark.parametrize(
    "labels, message",
    [
        # Only the training labels: every split's are needed (it was a bare KeyError).
        ({"train": np.zeros(96, int)}, r"must give every split's class ids: .*got \['train'\]"),
        ({"train": [0], "val": [0], "test": [0.5]}, r"labels\['test'\].*class ids"),
        (
            {"train": np.ones((96, 3), int), "val": [0], "test": [0]},
            r"labels\['train'\] must be class ids of shape \(n,\) or one-hot rows.*got shape "
            r"\(96, 3\) with rows that are not one-hot",
        ),
        (
            {"train": [0, 1, 3], "val": [0], "test": [0]},
            r"labels\['train'\] holds class ids from 0 to 3, outside 0..2 for num_classes=3",
        ),
    ],
)
def test_stream_labels_are_checked(labels: dict, message: str) -> None:
    with pytest.raises(DataError, match=message):
        StreamData(
            _tf_split(96, 0),
            _tf_split(32, 1),
            _tf_split(40, 2),
            fingerprint="f",
            num_classes=3,
            labels=labels,
        )


def _unbatched(n: int, seed: int, one_hot: bool = False) -> tf.data.Dataset:
    x, y = _arrays(n, seed)
    return tf.data.Dataset.from_tensor_slices((x, np.eye(3)[y] if one_hot else y))


@pytest.mark.parametrize(
    "splits, message",
    [
        # Class ids: y of one value per element.
        ((_unbatched, _unbatched, _unbatched), r"not a batch \(shapes \(6,\), \(\): a single"),
        # One-hot: x (6,) and y (3,) look like batches of different sizes.
        (
            (lambda n, s: _unbatched(n, s, one_hot=True),) * 3,
            r"not a batch \(shapes \(6,\), \(3,\): x and y differ in size",
        ),
        # Only the test split is unbatched.
        ((_tf_split, _tf_split, _unbatched), r"batch 0 of the test stream is not a batch"),
    ],
)
def test_an_unbatched_stream_is_refused_when_built(splits, message: str) -> None:
    """Before: accepted, then every trial failed on a shape error and KerasTuner gave up."""
    with pytest.raises(DataError, match=message) as caught:
        StreamData(
            *(make(n, i) for i, (make, n) in enumerate(zip(splits, (96, 32, 40)))), fingerprint="f"
        )
    assert ".batch(32)" in str(caught.value)


@pytest.mark.parametrize("kind", ["tf.data", "PyDataset"])
@pytest.mark.parametrize("empty", ["train", "validation", "test"])
def test_a_split_that_yields_no_batch_is_refused_when_built(kind: str, empty: str) -> None:
    """Before: an empty test stream was found at the evaluation, after the whole search
    (an empty train stream raised a bare StopIteration)."""

    def split(n: int, seed: int, name: str) -> Any:
        x, y = _arrays(n, seed)
        if name == empty:
            x, y = x[:0], y[:0]
        if kind == "tf.data":
            return tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
        return ArraysPyDataset(x, y)

    names = ("train", "validation", "test")
    with pytest.raises(DataError, match=f"StreamData: `{empty}` yields no batch"):
        StreamData(
            *(split(n, i, name) for i, (n, name) in enumerate(zip((96, 32, 40), names))),
            fingerprint="f",
        )
    # A filter that keeps nothing (the pipeline's length is unknown) is found too.
    if kind == "tf.data" and empty == "test":
        nothing = _tf_split(40, 2).unbatch().filter(lambda x, y: y > 5).batch(16)
        with pytest.raises(DataError, match="`test` yields no batch"):
            StreamData(_tf_split(96, 0), _tf_split(32, 1), nothing, fingerprint="f")


def _classes_stream(y_of: Any, num_classes: int | None = None) -> StreamData:
    """A classification stream of the `_arrays` samples, labelled `y_of(class ids)`."""

    def split(n: int, seed: int) -> tf.data.Dataset:
        x, y = _arrays(n, seed)
        return tf.data.Dataset.from_tensor_slices((x, y_of(y))).batch(16)

    return StreamData(
        split(96, 0),
        split(32, 1),
        split(40, 2),
        fingerprint="f",
        task="classification",
        num_classes=num_classes,
    )


@pytest.mark.parametrize(
    "y_of, num_classes, message",
    [
        (lambda y: np.eye(3, dtype="float32")[y], 4, "one-hot over 3 classes, but num_classes=4"),
        (lambda y: y, 2, r"class ids from 0 to 2, outside 0..1 for num_classes=2"),
    ],
)
def test_num_classes_that_contradict_the_labels_are_refused(y_of, num_classes, message) -> None:
    """Before: the model check blamed the model ("End the model in Dense(4)")."""
    with pytest.raises(DataError, match=message):
        _classes_stream(y_of, num_classes=num_classes)
    # Unknown is still accepted: one-hot rows tell it by their width.
    assert _classes_stream(y_of).num_classes == (3 if "one-hot" in message else None)


@pytest.mark.parametrize(
    "y_of, message",
    [
        (
            lambda y: y - 1,
            r"class ids from -1 to 1, outside 0..K-1: number the classes from 0.* If they mark "
            r"rows to leave out \(a loss's ignore_class=-1\), drop those rows instead.*"
            r"ds\.unbatch\(\)\.filter\(lambda x, y: y >= 0\)",
        ),
        (lambda y: y + 0.5, r"class ids 0..K-1 .*labels hold \[.*\.5"),
    ],
)
def test_labels_that_are_not_class_ids_are_refused(y_of, message) -> None:
    """Negative or fractional labels can never be class ids, with or without num_classes."""
    for num_classes in (None, 3):
        with pytest.raises(DataError, match=message.replace("0..K-1", ".*")):
            _classes_stream(y_of, num_classes=num_classes)


def test_class_weights_for_a_regression_stream_are_refused_even_with_labels(
    tmp_path: Path,
) -> None:
    # Labels with a regression stream were weighed and the run finished (exit 0).
    splits = [_regression_split(n, seed) for n, seed in ((96, 0), (32, 1), (40, 2))]
    labels = {"train": np.zeros(96, int), "val": np.zeros(32, int), "test": np.zeros(40, int)}
    with pytest.raises(DataError, match='task="regression" has no classes'):
        StreamData(*splits, fingerprint="f", task="regression", labels=labels)
    data = StreamData(*splits, fingerprint="f", task="regression")
    with pytest.raises(DataError, match="Class weights are for classification"):
        CoarseToFine(stream_models.dense_build, data, directory=tmp_path, class_weight="balanced")
    assert not any(tmp_path.iterdir())


@pytest.mark.long
def test_py_dataset_end_to_end_with_chained_retrain(tmp_path: Path) -> None:
    splits = [ArraysPyDataset(*_arrays(n, s)) for n, s in ((80, 0), (40, 1), (24, 2))]
    data = StreamData(*splits, fingerprint="py-v1", num_classes=3, name="toy")
    chained, y = data.train_and_validation()
    assert y is None and len(chained) == len(splits[0]) + len(splits[1]) == 8
    np.testing.assert_array_equal(chained[5][1], splits[1][0][1])  # batch 5 = validation's 0
    result = CoarseToFine(
        stream_models.dense_build,
        data,
        directory=tmp_path,
        objective="val_loss",
        **{**SMALL, "final_seeds": 2},
    ).run()
    report = _report(result.run_dir)
    counts = np.asarray(report["confusion_matrix"]["counts"])
    assert counts.sum() == 24
    assert result.test_metrics["accuracy"] == pytest.approx(np.trace(counts) / 24, abs=1e-6)
    # The second seed is scored on the whole test stream too, as the first.
    per_seed = report["final_seeds"]["per_seed"]
    assert list(per_seed) == ["0", "1"]
    assert per_seed["0"]["accuracy"] == pytest.approx(result.test_metrics["accuracy"])
    assert all(0.0 <= m["accuracy"] <= 1.0 for m in per_seed.values())
    # The stream batches itself: no batch size is claimed (it said "at batch size 128").
    best = json.loads((result.run_dir / "best_hyperparameters.json").read_text())
    assert best["batch_size"] is None and report["best"]["batch_size"] is None
    assert (
        "on train+validation in the stream's own batches"
        in (result.run_dir / "report.md").read_text()
    )


@pytest.mark.long
def test_finalists_on_a_stream_train_it_as_the_trials_do(tmp_path: Path) -> None:
    import warnings

    # Before, the finalists' fits passed Keras shuffle=True with a stream: a warning per fit
    # for tf.data, and PyDataset batches reordered where the trials kept them in order.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = CoarseToFine(
            stream_models.dense_build,
            _tf_data("toy-finalists"),
            directory=tmp_path,
            objective="val_loss",
            **{**SMALL, "finalists": 2, "finalist_seeds": 1},
        ).run()
    section = _report(result.run_dir)["finalists"]
    assert len(section["finalists"]) == 2
    assert all(len(f["scores"]) == section["seeds_per_finalist"] for f in section["finalists"])
    assert not [w for w in caught if "shuffle=True" in str(w.message)]


def test_chain_forwards_epoch_end() -> None:
    ends = []

    class Part(ArraysPyDataset):
        def on_epoch_end(self) -> None:
            ends.append(len(self.x))

    chained = chain_py_datasets(Part(*_arrays(16, 0)), Part(*_arrays(8, 1)))
    chained.on_epoch_end()
    assert ends == [16, 8]


def test_notebook_stream_is_refused_for_workers_before_any_trial(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="exists only in this Python process"):
        CoarseToFine(stream_models.dense_build, _tf_data(), directory=tmp_path, workers=2, **BUDGET)
    assert not any(tmp_path.iterdir())


def _hypermodel_file(folder: Path) -> str:
    """Writes the article-style build function as a file in `folder`; returns its spec."""
    (folder / "toon_article.py").write_text(inspect.getsource(stream_models))
    return "toon_article:toon_build"


@pytest.mark.long
def test_cli_streams_an_image_folder_at_its_native_size(
    tmp_path: Path, image_folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    spec = _hypermodel_file(tmp_path)
    args = ["--hypermodel", spec, "--data", str(image_folder), "--backend", "tensorflow"]
    budget = [a for a in CLI_BUDGET if a != "--no-baseline"]  # the baseline on: compared
    code = main([*args, "--batch-size", "4", *budget, "--quiet"])
    assert code == 0
    run_dir = tmp_path / "runs" / f"{spec.replace(':', '-')}-{image_folder.name}"
    report = _report(run_dir)
    # The baseline is compared on every test image (it was the first batch only).
    expected_n = len(image_folder_stream(image_folder, IMAGE_FOLDER_SIZE).labels["test"])
    assert expected_n > 4  # several test batches
    assert "error" not in report["baseline"], report["baseline"]["verdict"]
    assert f"of {expected_n} examples" in report["baseline"]["verdict"]
    assert report["dataset"]["input_shape"] == [*IMAGE_FOLDER_SIZE, 3]
    assert report["dataset"]["class_names"] == list(IMAGE_FOLDER_CLASSES)
    counts = np.asarray(report["confusion_matrix"]["counts"])
    # Every test image read once, with its class (the stream's stratified file lists).
    expected = image_folder_stream(image_folder, IMAGE_FOLDER_SIZE).labels["test"]
    assert counts.sum(axis=1).tolist() == np.bincount(expected, minlength=3).tolist()
    assert report["best"]["num_params"] > 0  # the lazily built model, counted once built
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["config"]["data"].startswith("image-folder:")
    assert manifest["config"]["batch_size"] == 4
    # The same command on a changed folder is refused, naming the files that changed.
    first, second = sorted((image_folder / IMAGE_FOLDER_CLASSES[0]).iterdir())[:2]
    kept = second.read_bytes()
    _other_image(first, first.with_name("zz_new.png"))  # a copy would be a refused leak
    second.unlink()
    code = main([*args, "--batch-size", "4", *budget, "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    folder_class = IMAGE_FOLDER_CLASSES[0]
    assert (
        f"since it started, 1 image added ({folder_class}/zz_new.png), "
        f"1 removed ({folder_class}/{second.name}). Restore those files to resume, pass "
    ) in err
    assert "--overwrite to start over with the data as it is now" in err.replace("`", "")
    # Restored with the same bytes but new modification times (a copy, a checkout): it
    # is the same data, so the finished run only reports again.
    first.with_name("zz_new.png").unlink()
    second.write_bytes(kept)
    later = time.time() + 60
    for path in image_folder.rglob("*.png"):
        os.utime(path, (later, later))
    model_written = (run_dir / "best_model.keras").stat().st_mtime_ns
    assert main([*args, "--batch-size", "4", *budget, "--quiet"]) == 0, capsys.readouterr().err
    assert (run_dir / "best_model.keras").stat().st_mtime_ns == model_written


def test_cli_grayscale_folder_gives_one_channel(tmp_path: Path) -> None:
    from tunekit.coarse_to_fine import _folder_stream, build_parser

    root = tmp_path / "gray"
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        for i in range(6):
            Image.fromarray(np.full((10, 12), 40 * i, np.uint8), mode="L").save(
                root / name / f"{i}.png"
            )
    stream = _folder_stream(build_parser().parse_args(["--data", str(root)]))
    data = StreamData.from_image_folder(stream)
    assert stream.input_shape == data.input_shape == (10, 12, 1)
    assert data.sample().shape[1:] == (10, 12, 1)
    # From Python, the same folder the same way (it gave 3 channels: a CLI run's model
    # could not be evaluated on the README's Python stream).
    python = image_folder_stream(root)
    assert python.input_shape == (10, 12, 1) and python.fingerprint == stream.fingerprint
    assert image_folder_stream(root, (8, 8), color_mode="rgb").input_shape == (8, 8, 3)


@pytest.mark.parametrize("gray_palette, channels", [(True, 1), (False, 3)])
def test_a_folder_of_palette_gifs_gets_the_channels_its_colours_need(
    tmp_path: Path, gray_palette: bool, channels: int
) -> None:
    """Pillow opens a grayscale GIF as a palette image (mode P): it counted as colour, so an
    all-gray GIF folder got 3 channels where the same images as PNG got 1."""
    root = tmp_path / "gifs"
    for k, name in enumerate(("a", "b")):
        (root / name).mkdir(parents=True)
        for i in range(4):
            gray = np.full((9, 11), 30 * i + 100 * k, np.uint8)
            pixels = gray if gray_palette else np.stack([gray, gray // 2, gray], axis=-1)
            Image.fromarray(pixels).convert("P").save(root / name / f"{i}.gif")
    with Image.open(root / "a" / "0.gif") as image:
        assert image.mode == "P"  # what Pillow makes of either GIF
    stream = image_folder_stream(root)
    assert stream.input_shape == (9, 11, channels)
    x = StreamData.from_image_folder(stream).sample()
    assert x.shape[1:] == (9, 11, channels)
    if channels == 1:  # the gray values themselves, as Keras decodes a GIF in grayscale
        found = sorted({round(float(v) * 255) for v in np.unique(x)})
        assert set(found) <= {30 * i + 100 * k for i in range(4) for k in range(2)}


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, "-m", "tunekit.coarse_to_fine", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_cli_streams_an_image_folder_on_jax(tmp_path: Path, image_folder: Path) -> None:
    spec = _hypermodel_file(tmp_path)
    args = ["--hypermodel", spec, "--data", str(image_folder), "--backend", "jax"]
    proc = _cli([*args, "--batch-size", "8", *CLI_BUDGET], tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = _report(tmp_path / "runs" / f"{spec.replace(':', '-')}-{image_folder.name}")
    assert report["backend"] == "jax"
    assert np.asarray(report["confusion_matrix"]["counts"]).sum() == 7  # 15% of 3 x 14


@pytest.mark.slow
def test_cli_image_folder_with_two_workers(tmp_path: Path, image_folder: Path) -> None:
    spec = _hypermodel_file(tmp_path)
    args = ["--hypermodel", spec, "--data", str(image_folder), "--workers", "2"]
    proc = _cli([*args, "--backend", "tensorflow", "--batch-size", "8", *CLI_BUDGET], tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = _report(tmp_path / "runs" / f"{spec.replace(':', '-')}-{image_folder.name}")
    assert sorted(report["distributed"]["workers_seen"]) == ["local0", "local1"]
    assert np.asarray(report["confusion_matrix"]["counts"]).sum() == 7


@pytest.mark.slow
def test_python_workers_rebuild_an_image_folder_and_refuse_changed_files(
    tmp_path: Path, image_folder: Path
) -> None:
    from tunekit.distribute.spec import load_spec, write_spec

    stream = image_folder_stream(image_folder, IMAGE_FOLDER_SIZE, batch_size=8)
    data = StreamData.from_image_folder(stream)
    result = CoarseToFine(
        stream_models.toon_build,
        data,
        directory=tmp_path / "runs",
        objective="val_loss",
        workers=2,
        **BUDGET,
    ).run()
    assert np.asarray(_report(result.run_dir)["confusion_matrix"]["counts"]).sum() == 7

    # A worker whose folder differs (a file changed) is refused, naming the folder.
    spec = write_spec(tmp_path / "w", data, CoarseToFine, {"hypermodel": None}, {})
    _, kwargs = load_spec(spec)
    assert kwargs["data"].fingerprint() == data.fingerprint()
    victim = image_folder / IMAGE_FOLDER_CLASSES[0] / f"{IMAGE_FOLDER_CLASSES[0]}_00.png"
    shutil.copy(
        image_folder / IMAGE_FOLDER_CLASSES[1] / f"{IMAGE_FOLDER_CLASSES[1]}_00.png", victim
    )
    with pytest.raises(DataError, match="differs from the one that defined the stream"):
        load_spec(spec)
    assert IMAGE_FOLDER_PER_CLASS == 14  # the test split of 7 above assumes it


def test_image_folder_fingerprint_follows_its_files(image_folder: Path) -> None:
    def data() -> StreamData:
        return StreamData.from_image_folder(image_folder_stream(image_folder, IMAGE_FOLDER_SIZE))

    first = data().fingerprint()
    assert data().fingerprint() == first  # the same files: the same data (a rerun resumes)
    victim = image_folder / IMAGE_FOLDER_CLASSES[0] / f"{IMAGE_FOLDER_CLASSES[0]}_01.png"
    Image.fromarray(np.zeros((*IMAGE_FOLDER_SIZE, 3), np.uint8)).save(victim)
    assert data().fingerprint() != first  # a rewritten file: other data (a rerun is refused)


def test_an_image_folder_from_the_cli_has_a_task_and_a_default_objective(
    image_folder: Path,
) -> None:
    """The README's `--data FOLDER` without --objective: the folder is a classification task."""
    from tunekit.coarse_to_fine import _load_data, build_parser
    from tunekit.params import DEFAULT_OBJECTIVES

    data = _load_data(build_parser().parse_args(["--data", str(image_folder)]))
    assert data.task == "classification" and data.num_classes == len(IMAGE_FOLDER_CLASSES)
    assert DEFAULT_OBJECTIVES[data.task] == "val_accuracy"


def test_class_weights_on_a_stream_are_refused_before_any_trial(tmp_path: Path) -> None:
    """Balanced weights need the training labels up front; a stream is not read ahead."""
    with pytest.raises(DataError, match=r"class_weight='balanced' is computed from .* a stream"):
        CoarseToFine(
            stream_models.dense_build,
            _tf_data(),
            directory=tmp_path,
            class_weight="balanced",
            objective="val_loss",
        )
    assert not any(tmp_path.iterdir())


def test_kerass_own_class_weight_dict_on_a_stream_needs_no_labels(tmp_path: Path) -> None:
    """Found by a probe: `class_weight={1: 5.0}` on a stream (Keras and KerasTuner pass it
    with tf.data) was refused as if it were computed from the training labels."""
    with pytest.raises(DataError, match=r"number of classes is not known.*num_classes=K"):
        CoarseToFine(stream_models.dense_build, _tf_data(), class_weight={1: 5.0})
    run = CoarseToFine(
        stream_models.dense_build,
        StreamData(
            _tf_split(96, 0), _tf_split(32, 1), _tf_split(40, 2), num_classes=3, fingerprint="w"
        ),
        directory=tmp_path,
        project_name="w",
        class_weight={1: 5.0},
        objective="val_loss",
        **{**SMALL, "coarse_trials": 3},
    )
    assert run.class_weights == {0: 1.0, 1: 5.0, 2: 1.0}  # every class
    tuner = run.coarse()
    assert all(t.status == "COMPLETED" for t in tuner.oracle.trials.values())
    run.close()
    with pytest.raises(DataError, match=r"class_weight names \['dog'\]"):
        CoarseToFine(
            stream_models.dense_build,
            StreamData(
                _tf_split(96, 0), _tf_split(32, 1), _tf_split(40, 2), num_classes=3, fingerprint="w"
            ),
            directory=tmp_path,
            project_name="n",
            class_weight={"dog": 5.0},
        )
    named = StreamData(
        _tf_split(96, 0),
        _tf_split(32, 1),
        _tf_split(40, 2),
        class_names=["a", "b", "c"],
        fingerprint="c",
    )
    run = CoarseToFine(
        stream_models.dense_build,
        named,
        directory=tmp_path,
        project_name="c",
        class_weight={"c": 2},
    )
    assert run.class_weights == {0: 1.0, 1: 1.0, 2: 2.0}  # every class, by name
    run.close()


def test_an_image_folder_is_weighed_by_its_file_lists(tmp_path: Path, image_folder: Path) -> None:
    """Its labels are known from the file lists: balanced weights as for arrays."""
    from sklearn.utils.class_weight import compute_class_weight

    first = image_folder / IMAGE_FOLDER_CLASSES[0]
    for i, path in enumerate(sorted(first.iterdir())[:8]):  # class 0: 22 images, others 14
        _other_image(path, first / f"extra_{i}.png")  # copies would be a refused leak
    stream = image_folder_stream(image_folder, IMAGE_FOLDER_SIZE, batch_size=8)
    run = CoarseToFine(
        stream_models.toon_build,
        StreamData.from_image_folder(stream),
        directory=tmp_path,
        class_weight="balanced",
        objective="val_loss",
        **SMALL,
    )
    train = stream.labels["train"]
    expected = compute_class_weight("balanced", classes=np.unique(train), y=train)
    assert run.class_weights == pytest.approx(dict(enumerate(expected)))
    assert run.class_weights[0] < 1 < run.class_weights[1]
    run.run()
    report = _report(run.run_dir)
    assert report["class_weight"]["mode"] == "balanced"
    weights = {str(k): v for k, v in run.class_weights.items()}
    assert report["class_weight"]["weights"] == pytest.approx(weights)
    # report.md names each class with its id, as Keras's class_weight keys it.
    named = ", ".join(
        f"{i} ({n}): {run.class_weights[i]:.4g}" for i, n in enumerate(IMAGE_FOLDER_CLASSES)
    )
    assert named in (run.run_dir / "report.md").read_text()


class WeightedPyDataset(ArraysPyDataset):
    """(x, y, sample_weight) batches."""

    def __init__(self, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> None:
        super().__init__(x, y)
        self.w = w

    def __getitem__(self, index: int) -> Any:
        x, y = super().__getitem__(index)
        return x, y, self.w[index * self.batch_size : (index + 1) * self.batch_size]


def _weighted_splits(kind: str, weighted: tuple[str, ...]) -> list[Any]:
    splits = []
    for name, (n, seed) in zip(("train", "val", "test"), ((96, 0), (32, 1), (40, 2))):
        x, y = _arrays(n, seed)
        w = np.where(y == 0, 3.0, 1.0).astype("float32")
        if kind == "PyDataset":
            splits.append(WeightedPyDataset(x, y, w) if name in weighted else ArraysPyDataset(x, y))
        else:
            arrays = (x, y, w) if name in weighted else (x, y)
            splits.append(tf.data.Dataset.from_tensor_slices(arrays).batch(16))
    return splits


@pytest.mark.long
@pytest.mark.parametrize("kind", ["tf.data", "PyDataset"])
def test_sample_weights_on_the_training_split_only_are_tuned_and_retrained(
    tmp_path: Path, kind: str
) -> None:
    """Plain KerasTuner takes `search(train_with_weights, validation_data=without)`. tunekit
    refused the tf.data form for a rank it named wrongly ("batch all three the same way"),
    and crashed the PyDataset form in the retrain, after the whole search, chaining (x, y, w)
    with (x, y) batches."""
    data = StreamData(*_weighted_splits(kind, ("train",)), fingerprint="w", num_classes=3)
    chained, _ = data.train_and_validation()
    batches = list(chained.as_numpy_iterator()) if kind == "tf.data" else list(chained)
    assert all(len(batch) == 3 for batch in batches)  # one structure for the whole fit
    np.testing.assert_array_equal(batches[-1][2], np.ones(len(batches[-1][1])))  # weigh 1
    assert not data.test_weighted
    result = CoarseToFine(stream_models.dense_build, data, directory=tmp_path, **SMALL).run()
    report = _report(result.run_dir)
    assert report["test_intervals"]["accuracy"]["interval"] is not None
    counts = np.asarray(report["confusion_matrix"]["counts"])
    assert result.test_metrics["accuracy"] == pytest.approx(np.trace(counts) / 40, abs=1e-6)


@pytest.mark.long
def test_a_weighted_test_stream_says_which_test_metrics_its_weights_weigh(
    tmp_path: Path,
) -> None:
    """Keras weighs the test loss (and `weighted_metrics`) by the test stream's weights, not
    `metrics=["accuracy"]`: the report put a weighted loss next to counts, unsaid."""
    data = StreamData(*_weighted_splits("tf.data", ("train", "val", "test")), fingerprint="w3")
    assert data.test_weighted
    result = CoarseToFine(stream_models.dense_build, data, directory=tmp_path, **SMALL).run()
    report = _report(result.run_dir)
    counts = np.asarray(report["confusion_matrix"]["counts"])
    # The accuracy is Keras's unweighted one, with its Wilson interval: both count samples.
    assert result.test_metrics["accuracy"] == pytest.approx(np.trace(counts) / 40, abs=1e-6)
    assert report["test_intervals"]["accuracy"]["interval"] is not None
    assert report["test_note"].startswith("The test stream carries sample weights: Keras weighs")
    assert "weighs its test loss" in (result.run_dir / "report.md").read_text()
    # Probe A (stop 66): how, since the weighted loss is no weighted mean (Keras 3 divides
    # sum(w*loss) by the samples: 2.00 where the weighted mean is 0.86, for weights 4 and 1).
    assert "sum(w*loss)/n, not divided by the weights' total" in report["test_note"]


def test_a_py_dataset_that_never_ends_is_refused_when_built() -> None:
    """Keras's mark of an infinite PyDataset, `num_batches` None: the first trial hung."""

    class Endless(keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__()
            self.x, self.y = _arrays(16, 0)

        @property
        def num_batches(self) -> None:
            return None

        def __getitem__(self, index: int) -> Any:
            return self.x, self.y

    finite = [ArraysPyDataset(*_arrays(n, s)) for n, s in ((96, 0), (32, 1), (40, 2))]
    with pytest.raises(
        DataError,
        match=r"`train` is a keras.utils.PyDataset of no known length: its num_batches is None",
    ):
        StreamData(Endless(), *finite[1:], fingerprint="f")
    assert StreamData(*finite, fingerprint="f").kind == "PyDataset"


@pytest.mark.parametrize("infinite", ["train", "validation", "test"])
def test_a_split_that_repeats_forever_is_refused_when_built(infinite: str) -> None:
    """Before, `dataset.repeat()` as the training split hung the first trial without a word."""
    splits = [_tf_split(96, 0), _tf_split(32, 1), _tf_split(40, 2)]
    index = ["train", "validation", "test"].index(infinite)
    splits[index] = splits[index].repeat()
    with pytest.raises(DataError, match=rf"`{infinite}` repeats forever.*Drop the \.repeat\(\)"):
        StreamData(*splits, fingerprint="f")
    finite = [_tf_split(96, 0).repeat(2), _tf_split(32, 1), _tf_split(40, 2)]
    assert StreamData(*finite, fingerprint="f").task == "classification"  # a count is fine


def test_images_in_folders_inside_a_class_and_every_keras_format_are_listed_as_keras_lists(
    image_folder: Path,
) -> None:
    """Before, a class's subfolders and BMP/GIF files were dropped without a word (Keras's
    `image_dataset_from_directory` lists them): other data than the user's, exit 0."""
    nested = image_folder / IMAGE_FOLDER_CLASSES[0] / "more" / "deeper"
    nested.mkdir(parents=True)
    pixels = np.full((*IMAGE_FOLDER_SIZE, 3), 200, np.uint8)
    Image.fromarray(pixels).save(nested / "extra.png")
    Image.fromarray(pixels).save(image_folder / IMAGE_FOLDER_CLASSES[1] / "extra.bmp")
    Image.fromarray(pixels).save(image_folder / IMAGE_FOLDER_CLASSES[2] / "extra.gif")
    (image_folder / IMAGE_FOLDER_CLASSES[0] / ".hidden").mkdir()
    Image.fromarray(pixels).save(image_folder / IMAGE_FOLDER_CLASSES[0] / ".hidden" / "x.png")
    keras_found = keras.utils.image_dataset_from_directory(
        image_folder, image_size=IMAGE_FOLDER_SIZE, batch_size=None, shuffle=False
    ).file_paths
    stream = image_folder_stream(image_folder, IMAGE_FOLDER_SIZE)
    listed = sorted(str(image_folder / path) for path, *_ in stream.listing)
    assert len(listed) == 3 * IMAGE_FOLDER_PER_CLASS + 3
    assert listed == sorted(p for p in keras_found if "/.hidden/" not in p)
    data = StreamData.from_image_folder(stream)
    labels = np.concatenate(
        [y for _, y in data.train.concatenate(data.validation).concatenate(data.test)]
    )
    assert (
        np.bincount(labels).tolist() == [IMAGE_FOLDER_PER_CLASS + 1] * 3
    )  # read, each in its class


@pytest.mark.parametrize("source", ["folder", "tf.data"])
def test_a_streams_batches_that_do_not_fit_the_input_are_refused_before_training(
    image_folder, source
):
    """A CNN declaring `Input((32, 32, 1))` on a folder of RGB images of another size: every
    coarse trial failed with Keras's shape error and the run ended with exit 1, where the
    same model on an `.npz` was refused before training (exit 2)."""
    from tunekit._kerastuner import get_hypermodel
    from tunekit.errors import ModelCheckError
    from tunekit.steps.check import check_model

    def build(hp):
        model = keras.Sequential(
            [
                keras.Input((32, 32, 1)),
                keras.layers.Conv2D(hp.Int("filters", 2, 4, step=2), 3),
                keras.layers.Flatten(),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    if source == "folder":
        data = StreamData.from_image_folder(image_folder_stream(image_folder, IMAGE_FOLDER_SIZE))
        shape = (*IMAGE_FOLDER_SIZE, 3)
    else:
        x = np.zeros((40, 16, 16, 3), "float32")
        split = tf.data.Dataset.from_tensor_slices((x, np.arange(40) % 3)).batch(8)
        data = StreamData(*three_splits(split), fingerprint="rgb16", task="classification")
        shape = (16, 16, 3)
    with pytest.raises(ModelCheckError) as error:
        check_model(get_hypermodel(build), data)
    message = str(error.value)
    assert "takes inputs of shape (32, 32, 1) (its Input), but each sample of the stream's " in (
        message
    )
    assert f"first batch has shape {shape}" in message
    # said as the run was started: Python's keyword here, the flag on the command line
    assert "image_size=(HEIGHT, WIDTH) resizes them" in message and "--image" not in message
    assert "--image-size HEIGHT WIDTH resizes them" in cli_message(error.value)


class _BatchSizeFit(kt.HyperModel):
    def build(self, hp: Any) -> keras.Model:
        return stream_models.dense_build(hp)

    def fit(self, hp: Any, model: keras.Model, *args: Any, **kwargs: Any) -> Any:
        return model.fit(*args, batch_size=hp.Choice("batch_size", [4, 32]), **kwargs)


@pytest.mark.long
def test_a_batch_size_tuned_on_a_stream_is_said_to_do_nothing(tmp_path: Path, caplog) -> None:
    """Keras's fit ignores batch_size= for a tf.data stream: a hypermodel's tuned
    `batch_size` trained the same batches in every trial, and its narrowing was noise,
    without a word."""
    kwargs: dict[str, Any] = dict(directory=tmp_path, objective="val_loss", **SMALL)
    CoarseToFine(_BatchSizeFit(), _tf_data(), project_name="stream", **kwargs).run()
    said = [r.getMessage() for r in caplog.records if "ignores batch_size=" in r.getMessage()]
    assert len(said) == 1 and "hyperparameter 'batch_size'" in said[0], said
    narrowed = [m.getMessage() for m in caplog.records if "narrowing includes" in m.getMessage()]
    assert len(narrowed) == 1 and "['batch_size']" in narrowed[0], narrowed


def test_a_stream_that_cannot_be_replayed_stops_the_search(tmp_path: Path) -> None:
    """Found by a helper: `from_generator(lambda: it)` over one iterator ran out after its
    first pass; Keras only warned, the next trials trained on no batch and were scored
    (0.10-0.11, an untrained model's) and narrowed from, then the fine step failed with a
    bare StopIteration."""
    from tunekit.fitting import SearchInputError

    x, y = _arrays(96, 0)
    batches = iter([(x[i : i + 16], y[i : i + 16]) for i in range(0, 96, 16)])
    spec = (tf.TensorSpec((None, 6), tf.float32), tf.TensorSpec((None,), tf.int64))
    once = tf.data.Dataset.from_generator(lambda: batches, output_signature=spec)
    data = StreamData(_tf_split(96, 0), _tf_split(32, 1), _tf_split(40, 2), fingerprint="once")
    data.train = once  # StreamData refuses it when made (below): the search's own guard
    run = CoarseToFine(
        stream_models.dense_build, data, directory=tmp_path, objective="val_loss", **SMALL
    )
    with pytest.raises(SearchInputError, match=r"trained on no batch in epoch 1: the training"):
        run.run()


@pytest.mark.parametrize("split", ["train", "validation", "test"])
def test_a_stream_that_cannot_be_replayed_is_refused_when_made(split) -> None:
    """Found by a helper: a one-shot test stream crashed after the whole budget with a bare
    StopIteration; a one-shot validation stream was said to be a missing objective
    ("did you mean 'accuracy'?"), pointing the user at the training accuracy."""
    x, y = _arrays(48, 1)
    batches = iter([(x[i : i + 16], y[i : i + 16]) for i in range(0, 48, 16)])
    spec = (tf.TensorSpec((None, 6), tf.float32), tf.TensorSpec((None,), tf.int64))
    once = tf.data.Dataset.from_generator(lambda: batches, output_signature=spec)
    splits = {"train": _tf_split(96, 0), "validation": _tf_split(32, 1), "test": _tf_split(40, 2)}
    splits[split] = once
    with pytest.raises(DataError, match=rf"`{split}` yields no batch once read whole: it cannot"):
        StreamData(*splits.values(), fingerprint="o")
    # A generator function that starts over is a stream that replays.
    again = tf.data.Dataset.from_generator(
        lambda: iter([(x[i : i + 16], y[i : i + 16]) for i in range(0, 48, 16)]),
        output_signature=spec,
    )
    StreamData(_tf_split(96, 0), again, _tf_split(40, 2), fingerprint="again", num_classes=3)


@pytest.mark.parametrize("split", ["train", "validation", "test"])
def test_a_split_of_unknown_length_is_counted_and_warned_about_while_it_has_not_ended(
    split: str, monkeypatch, caplog
) -> None:
    """Found by a probe: a `while True` generator (cardinality UNKNOWN, not INFINITE) as the
    training split hung the first trial, as the validation split hung StreamData, silently.
    A pass cannot tell endless from long: here a slow stream of 6 batches stands for an
    endless one (bounded: it ends), read with a warning every 0.01 s instead of 20 s."""
    from tunekit.data import _stream_lengths

    monkeypatch.setattr(_stream_lengths, "WARN_EVERY", 0.01)
    caplog.set_level(logging.WARNING, logger="tunekit.data")
    x, y = _arrays(96, 3)

    def slow() -> Any:
        for i in range(0, 96, 16):
            time.sleep(0.03)
            yield x[i : i + 16], y[i : i + 16]

    spec = (tf.TensorSpec((None, 6), tf.float32), tf.TensorSpec((None,), tf.int64))
    splits = {"train": _tf_split(96, 0), "validation": _tf_split(32, 1), "test": _tf_split(40, 2)}
    splits[split] = tf.data.Dataset.from_generator(slow, output_signature=spec)
    started = time.monotonic()
    data = StreamData(*splits.values(), fingerprint="slow", num_classes=3)
    assert time.monotonic() - started < 60
    said = [r.getMessage() for r in caplog.records if r.name == "tunekit.data"]
    assert said and said[0].startswith(f"StreamData: `{split}` has not ended after ")
    for words in ("length is unknown to tf.data", "while True", ".repeat() before .filter()"):
        assert words in said[0]
    assert "assert_cardinality(n_batches)" in said[0] and "Ctrl-C stops" in said[0]
    assert said[-1] == f"StreamData: `{split}` ended after 6 batches."
    assert f"6 batches {split}" in data.summary()  # counted, where it was "?"
    # A stated length (Keras's and tf.data's own mark) is read once too, to check it (Keras
    # would silently cut a longer split; tests/test_stream_lengths.py): the pass ends at the
    # stated length, and its warning says why it reads.
    caplog.clear()
    splits[split] = splits[split].apply(tf.data.experimental.assert_cardinality(6))
    StreamData(*splits.values(), fingerprint="slow", num_classes=3)
    said = [r.getMessage() for r in caplog.records if r.name == "tunekit.data"]
    assert said and "its length is stated (assert_cardinality)" in said[0]
    assert "length is unknown" not in said[0]


@pytest.mark.parametrize("split", ["train", "validation", "test"])
def test_a_py_dataset_without_a_length_is_refused_when_built(split: str) -> None:
    """Found by a probe: accepted, then every trial failed on Keras's `num_batches`
    NotImplementedError and the run ended in TrialsFailedError."""

    class NoLength(keras.utils.PyDataset):
        def __init__(self, n: int, seed: int) -> None:
            super().__init__()
            self.x, self.y = _arrays(n, seed)

        def __getitem__(self, index: int) -> Any:
            part = slice((index % 2) * 16, (index % 2 + 1) * 16)
            return self.x[part], self.y[part]

    splits = {name: ArraysPyDataset(*_arrays(n, s)) for name, n, s in _PY_SPLITS}
    splits[split] = NoLength(32, 4)
    with pytest.raises(DataError, match=rf"`{split}` is a keras.utils.PyDataset without a __len"):
        StreamData(*splits.values(), fingerprint="f")


def test_a_py_dataset_with_num_batches_but_no_length_is_told_to_add_one_from_it() -> None:
    """Second retry: its `num_batches` works (Keras fits it), so the message that Keras's
    `num_batches` raises was false; it now says what tunekit reads len() for."""

    class OwnCount(keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__()
            self.x, self.y = _arrays(32, 4)

        @property
        def num_batches(self) -> int:
            return 2

        def __getitem__(self, index: int) -> Any:
            return self.x[index * 16 : (index + 1) * 16], self.y[index * 16 : (index + 1) * 16]

    splits = {name: ArraysPyDataset(*_arrays(n, s)) for name, n, s in _PY_SPLITS}
    splits["train"] = OwnCount()
    with pytest.raises(DataError) as refused:
        StreamData(*splits.values(), fingerprint="f")
    message = str(refused.value)
    assert "it defines num_batches (2), which Keras reads" in message
    assert "def __len__(self): return self.num_batches" in message
    assert "raises NotImplementedError" not in message
