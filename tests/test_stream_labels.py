"""A stream's class ids beyond its first batch, against the model's output width.

A stream sorted by class shows one class in its first batch, the only batch the checks
before training read: on JAX a 3-unit model trained on labels 0..3 with exit 0 (test
accuracy 0.25, a 4x4 confusion matrix in report.json whose class-3 column was all zero);
on TensorFlow every trial failed with only "Graph execution error" in the message.
"""

from __future__ import annotations

import os
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
    """The brief's stream: labels 0..3 sorted, a 3-unit softmax."""
    data = StreamData(_sorted(300, 4, 0), _sorted(100, 4, 1), _sorted(100, 4, 2), fingerprint="s")
    run = CoarseToFine(_build, data, directory=tmp_path, project_name="p", **SMALL)
    with pytest.raises(DataError) as info:
        run.run()
    run.close()
    message = str(info.value)
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
    predict: the report had a 4x4 confusion matrix next to a 3-unit model."""
    data = StreamData(_sorted(96, 3, 0), _sorted(64, 3, 1), _sorted(64, 4, 2), fingerprint="t")
    run = CoarseToFine(_build, data, directory=tmp_path, project_name="p", **SMALL)
    with pytest.raises(DataError) as info:
        run.run()
    run.close()
    message = str(info.value)
    assert "the test stream holds class ids up to 3" in message
    assert "tells 3 classes apart" in message
    assert "first training batch and the validation labels only" in message
    assert "num_classes=4" in message
    assert not (tmp_path / "p" / "report.json").exists()


@pytest.mark.parametrize("max_in_a_row", [3, 10])
def test_tensorflows_label_range_error_is_named_with_its_cause_and_fix(
    tmp_path: Path, max_in_a_row: int
) -> None:
    """Only the training stream holds class 3 (after its first batch): every trial fails on
    TensorFlow. The message said only "InvalidArgumentError: Graph execution error:"."""
    data = StreamData(_sorted(96, 4, 0), _sorted(64, 3, 1), _sorted(64, 3, 2), fingerprint="u")
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
    with pytest.raises(DataError, match=r"\(num_classes=3\).*num_classes=6 to StreamData"):
        check_validation_classes(_Stream(ids, ids + 3, num_classes=3), (None, 3))
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
    assert "DataError: StreamData: the validation stream holds class ids up to 3" in done.stderr
    assert not list(tmp_path.rglob("report.json"))
    assert not list(tmp_path.rglob("trial.json"))  # refused before any trial
