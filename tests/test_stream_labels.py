"""A stream's class ids beyond its first batch, against the model's output width.

A stream sorted by class shows one class in its first batch, the only batch the checks
before training read: on JAX a 3-unit model trained on labels 0..3 with exit 0 (test
accuracy 0.25, a 4x4 confusion matrix in report.json whose class-3 column was all zero);
on TensorFlow every trial failed with only "Graph execution error" in the message.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import BAYES_BUDGET

import tunekit
from tunekit import CoarseToFine
from tunekit.data import StreamData
from tunekit.errors import DataError, NoCompletedTrialsError

ROOT = Path(__file__).resolve().parents[1]
SMALL = BAYES_BUDGET


def _sorted(n: int, classes: int, seed: int, batch: int = 32) -> tf.data.Dataset:
    """`n` samples of labels 0..classes-1 sorted by class: the first batch is all class 0."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 5)).astype("float32")
    y = np.sort(rng.integers(0, classes, n))
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch)


def _refused(
    tmp_path: Path, build: Any, data: StreamData, before_training: bool = True, **settings: Any
) -> str:
    """The `DataError` message of a run of `build` on `data` (before any training, unless
    `before_training=False`)."""
    run = CoarseToFine(build, data, directory=tmp_path, project_name="p", **SMALL, **settings)
    with pytest.raises(DataError) as info:
        run.run()
    run.close()
    assert (tmp_path / "p" / "coarse").exists() != before_training
    return str(info.value)


def _build(hp: Any) -> keras.Model:
    model = keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(hp.Int("units", 2, 16)),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_validation_labels_beyond_the_output_are_refused_before_training(tmp_path: Path) -> None:
    """The brief's stream: labels 0..3 sorted, a 3-unit softmax. (Its training stream's
    class 3 is now refused first, `test_training_labels_beyond_the_output_are_refused...`;
    here its ids are taken as not read.)"""
    data = StreamData(_sorted(300, 4, 0), _sorted(100, 4, 1), _sorted(100, 4, 2), fingerprint="s")
    data.train_classes = {}
    message = _refused(tmp_path, _build, data)
    assert "the validation stream holds class ids up to 3" in message
    assert "tells 3 classes apart (class ids 0..2)" in message
    assert "read the first training batch only (the first batch showed class ids 0)" in message
    assert "num_classes=4 to StreamData and end the model in Dense(4)" in message
    assert ".shuffle(n).batch(...)" in message
    assert not (tmp_path / "p" / "coarse").exists()  # nothing trained


def test_test_labels_beyond_the_output_are_refused_and_no_report_is_written(
    tmp_path: Path,
) -> None:
    """Train and validation hold 0..2; the test stream has a class 3 the model cannot
    predict: the report had a 4x4 confusion matrix next to a 3-unit model. Refused as it
    was predicted, after the search and retrain; now before any trial (its ids were read
    when the StreamData was made: `tunekit.data._stream_ids`)."""
    data = StreamData(_sorted(96, 3, 0), _sorted(64, 3, 1), _sorted(64, 4, 2), fingerprint="t")
    message = _refused(tmp_path, _build, data)
    assert "the test stream holds class ids up to 3" in message
    assert "tells 3 classes apart" in message
    # No training sample has class 3: the split is the fix, not a shuffle or a wider output.
    assert "The training stream holds no example of class id(s) 3" in message
    assert "shuffle" not in message and "num_classes=4" not in message
    assert not (tmp_path / "p" / "report.json").exists()


@pytest.mark.parametrize("max_in_a_row", [3, 10])
def test_tensorflows_label_range_error_is_named_with_its_cause_and_fix(
    tmp_path: Path, max_in_a_row: int
) -> None:
    """Only the training stream holds class 3 (after its first batch): every trial fails on
    TensorFlow. The message said only "InvalidArgumentError: Graph execution error:". (Such
    a stream is now refused before training, below; here its ids are taken as not read, as
    for a training stream that yields other labels on a later pass.)"""
    data = StreamData(_sorted(96, 4, 0), _sorted(64, 3, 1), _sorted(64, 3, 2), fingerprint="u")
    data.train_classes = {}
    run = CoarseToFine(
        _build,
        data,
        directory=tmp_path,
        project_name="p",
        max_consecutive_failed_trials=max_in_a_row,
        **SMALL,
    )
    error = tunekit.TrialsFailedError if max_in_a_row == 3 else NoCompletedTrialsError
    with pytest.raises(error) as info:
        run.run()
    run.close()
    message = str(info.value)
    assert (
        "InvalidArgumentError: Graph execution error: Received a label value of 3 which is "
        "outside the valid range of [0, 3)." in message
    )
    assert "Label values:" not in message  # one sentence of it
    assert "The training labels hold class id 3, beyond the 3 classes" in message
    assert "Pass num_classes=4 (or more) to StreamData" in message
    assert "trial.json" in message


@pytest.mark.parametrize("dict_y", [False, True])
def test_training_labels_beyond_the_output_are_refused_before_training(
    tmp_path: Path, dict_y: bool
) -> None:
    """Only the training stream holds class 3, after its first batch (sorted): TensorFlow
    failed every trial, and JAX, which does not check class ids, trained on it with exit 0.
    The training stream is read once when the StreamData is made: refused before any trial,
    for one output and for a dict `y`'s output by its name."""
    train, val, test = _sorted(96, 4, 0), _sorted(64, 3, 1), _sorted(64, 3, 2)
    build = _build
    if dict_y:
        train, val, test = (s.map(lambda x, y: (x, {"kind": y})) for s in (train, val, test))

        def build(hp: Any) -> keras.Model:
            inputs = keras.Input((5,))
            hidden = keras.layers.Dense(hp.Int("units", 2, 16))(inputs)
            kind = keras.layers.Dense(3, activation="softmax", name="kind")(hidden)
            model = keras.Model(inputs, {"kind": kind})
            model.compile(optimizer="adam", loss={"kind": "sparse_categorical_crossentropy"})
            return model

    data = StreamData(train, val, test, fingerprint="trained-3")
    assert data.train_classes == {("kind" if dict_y else None): {0, 1, 2, 3}}
    message = _refused(tmp_path, build, data, objective="val_loss")
    named = " (its output 'kind')" if dict_y else ""
    assert f"the training stream{named} holds class ids up to 3" in message
    assert "tells 3 classes apart (class ids 0..2)" in message
    assert "JAX, and a binary cross-entropy on one unit, train and score on it" in message
    if dict_y:
        assert "End the output 'kind' in Dense(4) (one unit per class, a softmax" in message
    else:
        assert "num_classes=4 to StreamData and end the model in Dense(4)" in message
    assert not (tmp_path / "p" / "coarse").exists()  # nothing trained


def test_a_graph_execution_errors_cause_is_its_readable_line() -> None:
    from tunekit.errors import raised_line

    text = (
        "Traceback (most recent call last):\n"
        '  File "fit.py", line 3, in <module>\n'
        "tensorflow.python.framework.errors_impl.InvalidArgumentError: Graph execution error:"
        "\n\nDetected at node compile_loss/SparseSoftmaxCrossEntropyWithLogits defined at (most"
        ' recent call last):\n  File "x.py", line 1, in f\n\n'
        "Received a label value of 3 which is outside the valid range of [0, 3).  Label "
        f"values: {' '.join(['3'] * 64)}\n"
        "\t [[{{node compile_loss/SparseSoftmaxCrossEntropyWithLogits}}]] [Op:__inference]\n"
    )
    assert raised_line(text) == (
        "tensorflow.python.framework.errors_impl.InvalidArgumentError: Graph execution error: "
        "Received a label value of 3 which is outside the valid range of [0, 3)."
    )
    # A header with nothing readable below it stays as it is; a JAX note is not a cause.
    assert raised_line("Traceback:\nValueError: Expected:\n  (None, 3)\n") == (
        "ValueError: Expected:"
    )
    jax_note = "ValueError: bad:\n--------------------\nFor simplicity, JAX has removed ...\n"
    assert raised_line(jax_note) == "ValueError: bad:"


class _Stream(StreamData):
    """A StreamData from arrays, batches of 16 in order."""

    def __init__(self, y_train: Any, y_val: Any, **kwargs: Any) -> None:
        def split(y: Any) -> tf.data.Dataset:
            n = len(next(iter(y.values())) if isinstance(y, dict) else y)
            x = np.zeros((n, 5), "float32")
            return tf.data.Dataset.from_tensor_slices((x, y)).batch(16)

        test = split(y_val).take(1)  # apart from validation (`tunekit.data._leaks`)
        labels = kwargs.get("labels")
        if isinstance(labels, dict) and "test" in labels:  # the test stream's 16 samples
            kwargs["labels"] = {**labels, "test": np.asarray(labels["test"])[:16]}
        super().__init__(split(y_train), split(y_val), test, fingerprint="f", **kwargs)


def test_the_validation_check_leaves_other_targets_alone_and_refuses_what_it_should() -> None:
    from tunekit.data._stream_labels import check_class_ids, check_validation_classes

    ids = np.arange(48) % 3
    fine = [  # (data, output shape): nothing to refuse
        (_Stream(ids, ids), (None, 3)),
        (_Stream(ids.astype("float32"), ids.astype("float32") + 0.5, task="regression"), (None, 1)),
        (_Stream(np.eye(3)[ids], np.eye(3)[np.sort(ids)], task="classification"), (None, 3)),
        (_Stream({"a": ids, "b": ids}, {"a": ids + 5, "b": ids + 5}), None),
        (_Stream(np.sort(ids % 2), ids % 2), (None, 1)),  # one sigmoid unit: classes 0, 1
        (_Stream(ids, ids, num_classes=3), (None, 3)),
    ]
    for data, shape in fine:
        check_validation_classes(data, shape)
    with pytest.raises(DataError, match=r"holds class ids up to 2, but the model's output tells 2"):
        check_validation_classes(_Stream(np.sort(ids % 2), ids), (None, 1))
    with pytest.raises(DataError, match=r"holds the class id -1.*Number the classes 0\.\.K-1"):
        check_validation_classes(_Stream(ids, ids - 1), (None, 3))
    wide = np.arange(48) // 8  # sorted 0..5: the first batch of 16 shows 0 and 1 only
    with pytest.raises(DataError, match=r"\(num_classes=3\).*num_classes=6 to StreamData"):
        check_validation_classes(_Stream(wide, ids + 3, num_classes=3), (None, 3))
    labelled = _Stream(ids, ids, labels={"train": ids, "val": ids + 1, "test": ids})
    with pytest.raises(DataError, match="validation stream holds class ids up to 3"):
        check_validation_classes(labelled, (None, 3))  # known labels: no pass over the stream
    check_class_ids(np.eye(5)[ids], 3, "test", _Stream(ids, ids))  # one-hot: Keras's shapes


def test_the_label_range_fix_reads_tensorflows_message_only() -> None:
    from tunekit.data._stream_labels import label_range_fix

    reason = "Error: Received a label value of 7 which is outside the valid range of [0, 5)."
    assert "Pass num_classes=8 (or more) to StreamData" in label_range_fix(reason, True)
    assert "End the model in Dense(8) or more" in label_range_fix(reason, False)
    assert label_range_fix("ValueError: something else", True) == ""


JAX_SCRIPT = """
import sys
import numpy as np, tensorflow as tf, keras
from tunekit import CoarseToFine
from tunekit.data import StreamData
rng = np.random.default_rng(0)
def mk(n):
    x = rng.random((n, 5)).astype("float32"); y = rng.integers(0, 4, n)
    o = np.argsort(y, kind="stable")
    return tf.data.Dataset.from_tensor_slices((x[o], y[o])).batch(32)
def build(hp):
    m = keras.Sequential([keras.Input((5,)), keras.layers.Dense(hp.Int("u", 2, 16)),
                          keras.layers.Dense(3, activation="softmax")])
    m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return m
CoarseToFine(build, StreamData(mk(300), mk(100), mk(100), fingerprint="s"),
             directory=sys.argv[1], coarse_trials=3, coarse_epochs=1, fine_tuner="bayesian",
             fine_trials=1, max_epochs=1, final_epochs=1, verbose=0).run()
"""


@pytest.mark.slow  # a JAX process: about 15 s
def test_on_jax_the_sorted_stream_is_refused_instead_of_reported(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", JAX_SCRIPT, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stdout[-2000:]
    # Whichever split's batch is read first names the ids the model cannot output.
    assert re.search(
        r"DataError: StreamData: the (training|validation) stream holds class ids up to 3",
        done.stderr,
    ), done.stderr[-2000:]
    assert not list(tmp_path.rglob("report.json"))
    assert not list(tmp_path.rglob("trial.json"))  # refused before any trial


def _dict_stream(val_cls: Any, test_cls: Any, n: int = 48) -> StreamData:
    """A stream of a dict y: `cls` class ids 0..1 in training, `reg` values."""
    rng = np.random.default_rng(0)

    def split(cls: Any) -> tf.data.Dataset:
        x = rng.normal(size=(len(cls), 4)).astype("float32")
        y = {"cls": np.asarray(cls, "int64"), "reg": rng.normal(size=len(cls)).astype("float32")}
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(16)

    train = np.arange(n) % 2
    return StreamData(split(train), split(val_cls), split(test_cls), fingerprint="d")


def _dict_build(hp: Any) -> keras.Model:
    a = keras.Input((4,), name="a")
    h = keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu")(a)
    out = {
        "cls": keras.layers.Dense(2, activation="softmax", name="cls")(h),
        "reg": keras.layers.Dense(1, name="reg")(h),
    }
    model = keras.Model(a, out)
    model.compile("adam", {"cls": "sparse_categorical_crossentropy", "reg": "mse"})
    return model


def test_a_dict_outputs_class_ids_beyond_its_width_are_refused_by_name(tmp_path: Path) -> None:
    """The probe's t19: class id 2 in a dict y's 2-unit softmax output `cls`. Not checked:
    JAX ran to the end with exit 0; TensorFlow failed after the whole run (test) or every
    trial with a message blaming the training labels (validation)."""
    from types import SimpleNamespace

    from tunekit.data._stream_labels import check_stream_outputs
    from tunekit.steps.base import test_metrics
    from tunekit.steps.stream_heads import classifying_outputs

    ok = np.arange(32) % 2
    bad = ok.copy()
    bad[20:24] = 2
    model = _dict_build(keras_tuner_hp())
    data = _dict_stream(bad, ok)
    assert classifying_outputs(model, data) == {"cls": (None, 2)}  # not the mse output
    run = CoarseToFine(_dict_build, data, directory=tmp_path, project_name="v", **SMALL)
    with pytest.raises(DataError) as info:
        run.check_model()  # before the search, no training
    run.close()
    message = str(info.value)
    assert "the validation stream (its output 'cls') holds class ids up to 2" in message
    assert "the model's output 'cls' tells 2 classes apart" in message
    assert "training stream (its output 'cls') holds no example of class id(s) 2" in message
    data = _dict_stream(ok, bad)
    check_stream_outputs(data, {"cls": (None, 2)}, "validation")  # validation is fine
    with pytest.raises(DataError, match=r"the test stream \(its output 'cls'\) holds class ids"):
        test_metrics(SimpleNamespace(data=data, hypermodel=None), model, 16)


def keras_tuner_hp() -> Any:
    import keras_tuner as kt

    return kt.HyperParameters()


def _reg_split(y: Any, generated: bool = False) -> tf.data.Dataset:
    """Regression batches of 16; `generated`: of unknown length (read whole when made)."""
    y = np.asarray(y, "float32")
    x = np.linspace(0, 1, len(y) * 3, dtype="float32").reshape(len(y), 3)
    if not generated:
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    spec = (tf.TensorSpec((None, 3), tf.float32), tf.TensorSpec((None,) + y.shape[1:], tf.float32))
    return tf.data.Dataset.from_generator(
        lambda: ((x[i : i + 16], y[i : i + 16]) for i in range(0, len(y), 16)),
        output_signature=spec,
    )


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_a_streams_constant_regression_target_is_refused_where_it_is_read_whole(
    split: str,
) -> None:
    """The probe's t02: a constant target in a stream was accepted (arrays refuse it), and a
    constant test split was reported as R2 0.0."""
    from tunekit.data._metadata import refuse_constant
    from tunekit.data._stream_labels import check_test_labels

    varied = np.arange(40, dtype="float32")
    splits = {"train": varied, "val": varied[:32], "test": varied[8:40]}
    splits[split] = np.full(len(splits[split]), 3.0, "float32")
    what = {"train": "training", "val": "validation", "test": "test"}[split]
    expected = f"StreamData: the {what} stream's target is constant: every {what} target is 3"
    with pytest.raises(DataError) as info:  # read whole when made: its length is unknown
        StreamData(
            *(_reg_split(splits[s], generated=True) for s in ("train", "val", "test")),
            fingerprint="c",
            task="regression",
        )
    assert str(info.value).startswith(expected)
    with pytest.raises(DataError) as arrays:  # the same words as for arrays
        refuse_constant(splits[split], "y", split)
    reason = str(arrays.value).removeprefix("y").split(" Check that")[0]
    assert reason in str(info.value)  # the arrays' reason; the remedy names the stream
    if split != "train":
        stream = {"val": "validation", "test": "test"}[split]
        assert str(info.value).endswith(f"give a {stream}= stream whose targets vary.")
    # Of a length tf.data knows, refused when made too (its passes note what varies), not
    # only the test split as it is predicted, after the search and retrain.
    with pytest.raises(DataError) as known:
        StreamData(
            *(_reg_split(splits[s]) for s in ("train", "val", "test")),
            fingerprint="k",
            task="regression",
        )
    assert str(known.value) == str(info.value)
    data = StreamData(
        *(_reg_split(s) for s in (varied, varied[:32], varied[8:40])),
        fingerprint="v",
        task="regression",
    )
    with pytest.raises(DataError, match="the test stream's target is constant"):
        check_test_labels(np.full(32, 3.0, "float32"), splits["test"], data)  # still checked
    two = np.stack([varied, np.full(40, 1.0, "float32")], axis=1)  # one constant column
    with pytest.raises(
        DataError, match=r"training stream's target is constant in column\(s\) \[1\]"
    ):
        StreamData(
            _reg_split(two, True),
            _reg_split(two),
            _reg_split(two),
            fingerprint="t",
            task="regression",
        )


def test_labels_without_num_classes_name_a_class_missing_from_training(tmp_path: Path) -> None:
    """The probe's t15: labels= without num_classes, class 2 in the test split only: a bare
    IndexError at classes_missing_from_training; and its message advised x_train/y_train,
    an .npz file and Dataset.from_arrays to a stream user."""
    ids = np.arange(48) % 2
    test = ids.copy()
    test[:4] = 2
    data = _Stream(ids, ids, labels={"train": ids, "val": ids, "test": test})
    assert data.classes_missing_from_training() == ["2"]
    with pytest.raises(DataError) as info:
        CoarseToFine(_build, data, directory=tmp_path, **SMALL)
    message = str(info.value)
    assert "class(es) ['2'] occur in the validation or test labels but never in the " in message
    assert "training labels (labels['train'])" in message
    assert "stratify=labels" in message
    for advice in ("x_train", ".npz", "Dataset.from_arrays", "shuffle"):
        assert advice not in message


def test_a_test_stream_of_one_class_is_said_before_training(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """As arrays are (`tests/test_verdict_classes.py`): labels= show a test stream of class 1
    only, a test set that cannot tell a model that learned from always predicting it."""
    import logging

    ids = np.arange(48) % 2
    ones_first = np.sort(ids)[::-1].copy()  # the test stream's 16 samples: all class 1
    labels = {"train": ids, "val": ones_first, "test": ones_first}
    data = _Stream(ids, ones_first, labels=labels, class_names=["cat", "dog"])
    with caplog.at_level(logging.WARNING, logger="tunekit"):
        CoarseToFine(_build, data, directory=tmp_path, **SMALL)
    (said,) = [r.getMessage() for r in caplog.records if "test split" in r.getMessage()]
    assert said.startswith(
        "The test split holds one class only, 'dog' (16 examples), of the 2 classes in the "
        "training labels (labels['train'])"
    )
    assert "stratify=labels" in said and "x_test" not in said
    caplog.clear()
    # No labels=: the class ids StreamData read in its passes when made say it too.
    unknown = _Stream(ids, ones_first, class_names=["cat", "dog"])
    with caplog.at_level(logging.WARNING, logger="tunekit"):
        CoarseToFine(_build, unknown, directory=tmp_path / "unknown", **SMALL)
    (said,) = [r.getMessage() for r in caplog.records if "test split" in r.getMessage()]
    assert said.startswith(
        "The test split holds one class only, 'dog' (16 examples), of the 2 classes in the "
        "training stream"
    )
    assert "stratify=labels" in said and "labels=" not in said


def test_labels_that_do_not_match_the_stream_are_refused() -> None:
    """The probe's t14: labels= of other samples than the stream's were taken as they came."""
    ids = np.arange(48) % 2
    zeros = np.zeros(48, "int64")
    with pytest.raises(
        DataError,
        match=r"do not match the training stream: its first batch "
        r"holds class id\(s\) 1, which labels\['train'\] never has",
    ):
        _Stream(ids, ids, labels={"train": zeros, "val": ids, "test": ids})
    with pytest.raises(DataError, match=r"first batch holds 16 samples, labels\['train'\] 8"):
        _Stream(ids, ids, labels={"train": ids[:8], "val": ids, "test": ids})
    x = np.zeros((48, 5), "float32")
    read_whole = tf.data.Dataset.from_tensor_slices((x, ids)).filter(lambda a, b: True).batch(16)
    known = tf.data.Dataset.from_tensor_slices((x, ids)).batch(16)
    test = tf.data.Dataset.from_tensor_slices((x + 1, ids)).batch(16)  # other samples
    with pytest.raises(
        DataError,
        match=r"do not match the validation stream: it holds 48 "
        r"samples, class id 0 24 times; labels\['val'\] 48, class id 0 48 times",
    ):
        StreamData(
            known,
            read_whole,
            test,
            fingerprint="m",
            labels={"train": ids, "val": zeros, "test": ids},
        )
    StreamData(
        known,
        read_whole,
        test,
        fingerprint="m",  # in another order: the same labels
        labels={"train": ids, "val": np.sort(ids), "test": ids},
    )


def test_a_class_training_never_has_is_not_blamed_on_the_first_batch() -> None:
    """The probe's t05: a test class no training sample has got 'shuffle the stream so its
    first batch shows every class', which cannot help."""
    from tunekit.data._stream_labels import check_class_ids

    ids = np.arange(48) % 2
    test = ids.copy()
    test[:4] = 2
    with pytest.raises(DataError) as info:
        check_class_ids(test, 2, "test", _Stream(ids, ids))
    message = str(info.value)
    assert (
        "The training stream holds no example of class id(s) 2 (its labels read whole)" in message
    )
    assert "stratify=labels" in message
    assert "shuffle" not in message and "Dense(3)" not in message


def _counts_build(hp: Any) -> keras.Model:
    model = keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(hp.Int("units", 4, 8, step=4)),
            keras.layers.Dense(1),
        ]
    )
    model.compile("adam", "mse")
    return model


def test_integer_counts_for_a_regression_unit_are_offered_task_regression(tmp_path: Path) -> None:
    """The probe's t20: int64 counts with a Dense(1) mse model were told 'Pass num_classes=19
    ... end the model in Dense(19)', never task="regression"."""
    from tunekit.data._stream_labels import check_class_ids
    from tunekit.steps.stream_heads import quantity_unit

    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 5)).astype("float32")
    counts = rng.poisson(np.exp(1 + x[:, 0])).astype("int64")
    split = lambda s: tf.data.Dataset.from_tensor_slices((x[s], counts[s])).batch(16)  # noqa: E731
    data = StreamData(
        split(slice(0, 64)), split(slice(64, 80)), split(slice(80, 96)), fingerprint="n"
    )
    run = CoarseToFine(_counts_build, data, directory=tmp_path, **SMALL)
    with pytest.raises(DataError) as info:
        run.check_model()
    run.close()
    message = str(info.value)
    assert "The model's output is one linear unit compiled with the loss 'mse'" in message
    assert 'Pass task="regression" to StreamData for a quantity (a count)' in message
    sigmoid = keras.Sequential([keras.Input((5,)), keras.layers.Dense(1, activation="sigmoid")])
    sigmoid.compile("adam", "binary_crossentropy")
    assert quantity_unit(sigmoid, (None, 1)) == ""
    assert quantity_unit(_counts_build(keras_tuner_hp()), (None, 1)).startswith("one linear unit")
    ids = np.arange(48) % 3  # without a model of a quantity: still offered, gaps named
    with pytest.raises(
        DataError,
        match=r'pass task="regression" to StreamData \(no sample has '
        r"the id\(s\) 3, 4: a quantity has gaps",
    ):
        check_class_ids(np.r_[ids, 5], 3, "validation", _Stream(ids, ids))


@pytest.mark.parametrize("num_classes", [None, 3])
def test_one_sigmoid_unit_on_class_ids_0_to_2_is_refused_before_training(
    tmp_path: Path, num_classes: int | None
) -> None:
    """Found by a probe: a one-unit sigmoid under a binary cross-entropy trained with exit 0
    on a stream whose training labels held 0..2 (validation and test 0/1): the report said
    2 classes. With `num_classes=3` given, the message still said to pass it."""
    rng = np.random.default_rng(3)

    def split(n: int, classes: int) -> tf.data.Dataset:
        x = rng.random((n, 5)).astype("float32")
        return tf.data.Dataset.from_tensor_slices((x, np.arange(n) % classes)).batch(16)

    data = StreamData(split(96, 3), split(32, 2), split(32, 2), fingerprint="sig",
                      num_classes=num_classes)  # fmt: skip

    def build(hp: Any) -> keras.Model:
        model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(hp.Int("u", 2, 8)),
                                  keras.layers.Dense(1, activation="sigmoid")])  # fmt: skip
        model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
        return model

    message = _refused(tmp_path, build, data)
    assert "the training stream holds class ids up to 2" in message
    assert "tells 2 classes apart" in message
    if num_classes is None:
        assert "Pass num_classes=3 to StreamData and end the model in Dense(3)" in message
    else:
        assert "End the model in Dense(3) (one unit per class, a softmax under a sparse" in message
        assert "categorical cross-entropy: num_classes=3)" in message
        assert "Pass num_classes" not in message
    assert not (tmp_path / "p" / "coarse").exists()


def _one_class_split(
    n: int, label: int, seed: int, dict_y: bool = False, one_hot: bool | str = False
) -> tf.data.Dataset:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = np.full(n, label, "int64")
    if one_hot:  # "smoothed": label smoothing's rows, [0.95, 0.05]
        y = np.eye(2, dtype="float32")[y] * (0.9 if one_hot == "smoothed" else 1.0)
        y += 0.05 if one_hot == "smoothed" else 0.0
    target: Any = {"kind": y, "side": np.arange(n) % 2} if dict_y else y
    return tf.data.Dataset.from_tensor_slices((x, target)).batch(16)


@pytest.mark.parametrize(
    ("settings", "val_label", "said"),
    [  # probes C, D: num_classes=2 beside labels all 0 in every split took a test accuracy 1.0
        ({"num_classes": 2}, 0, "the training stream's y holds one value only (all 64 are 0)"),
        ({}, 0, "the training stream's y holds one value only (all 64 are 0)"),
        ({"num_classes": 2}, 1, "the training stream's y holds one value only (all 64 are 0)"),
        (
            {"class_names": ["cat", "dog"]},
            0,
            "the training stream's y holds one value only (all 64 are 'cat', class 0)",
        ),
        (
            {"labels": {"train": np.zeros(64, int), "val": np.ones(32, int), "test": [0] * 32}},
            1,
            "the training stream's y holds one value only (all 64 are 0)",
        ),
        ({"dict_y": True}, 0, "the training stream's output 'kind' holds one value only"),
        (  # probe C: one-hot rows of one class were taken, exit 0
            {"one_hot": True, "task": "classification"},
            1,
            "the training stream's y holds one class only: all 64 rows have their largest "
            "score at class 0 (one-hot or smoothed rows)",
        ),
        (  # probe D: so were smoothed ones
            {"one_hot": "smoothed", "task": "classification"},
            1,
            "the training stream's y holds one class only: all 64 rows have their largest "
            "score at class 0",
        ),
    ],
)
def test_a_training_stream_of_one_class_is_refused_when_made(
    settings: dict[str, Any], val_label: int, said: str
) -> None:
    """As labels of one value in arrays are (`one_value`): a model learns nothing from one
    class, and a test stream of it scores 1.0 whatever was learnt."""
    dict_y, one_hot = settings.pop("dict_y", False), settings.pop("one_hot", False)
    splits = [
        _one_class_split(64, 0, 1, dict_y, one_hot),
        _one_class_split(32, val_label, 2, dict_y, one_hot),
        _one_class_split(32, 0, 3, dict_y, one_hot),
    ]
    with pytest.raises(DataError) as info:
        StreamData(*splits, fingerprint="one", **settings)
    assert str(info.value).startswith("StreamData: " + said), str(info.value)
    assert "task='regression'" not in str(info.value)  # a constant target is refused too
    assert ("one value only" in str(info.value)) != bool(one_hot)  # rows are not one value
    # Two classes in training are taken, whatever the other splits hold.
    two = _one_class_split(48, 0, 4).concatenate(_one_class_split(16, 1, 5))
    data = StreamData(two, _one_class_split(32, 1, 6), _one_class_split(32, 0, 7), fingerprint="t")
    assert data.train_classes[None] == {0, 1}
    late = _one_class_split(60, 0, 8, one_hot=True).concatenate(
        _one_class_split(4, 1, 9, one_hot=True)  # class 1 in the last batch only
    )
    hot = [_one_class_split(32, c, 10 + c, one_hot=True) for c in (1, 0)]
    assert StreamData(late, *hot, fingerprint="h", task="classification").num_classes == 2
