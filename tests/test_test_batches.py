"""The evaluations after the search cut the test set into batches that divide it.

Before, the test evaluation (and the final seeds', the baseline's and report_trust's)
ran in batches of `max(batch_size, 256)`: 300 test samples in batches of 256 and 44.
A value the model averages per batch rather than per sample then weighed the 44 as
much as the 256, with exit 0: a metric function returning a batch mean gave 0.5953
beside Keras's accuracy 0.6467 (the same quantity per sample), and a subclassed
model's own `test_step` with a `keras.metrics.Mean` loss tracker 1.1153 for 1.0719.
Now they run in `tunekit.data.batches.evaluation_batch_size` (the validation pass's
`validation_batch_size` from a base of 256); where no size divides the split, the
report says that such values may be off.
"""

from __future__ import annotations

import types

import keras
import keras_tuner as kt
import numpy as np
import pytest
from test_report import _minimal_report

from tunekit.data import Dataset

_N_TEST = 300  # 256 + 44 in the old batches


def _batch_mean_accuracy(y_true, y_pred):
    """A metric function that returns one number per batch: Keras averages it over batches."""
    predicted = keras.ops.cast(keras.ops.argmax(y_pred, -1), "int32")
    hits = predicted == keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32")
    return keras.ops.mean(keras.ops.cast(hits, "float32"))


class OwnTestStep(keras.Model):
    """A subclassed model whose `test_step` tracks its loss per batch (a `Mean`)."""

    def __init__(self) -> None:
        super().__init__()
        self.dense = keras.layers.Dense(3, activation="softmax")
        self.tracker = keras.metrics.Mean(name="loss")

    def call(self, x):
        return self.dense(x)

    @property
    def metrics(self):
        return [self.tracker]

    def test_step(self, data):
        x, y = data
        loss = keras.ops.mean(keras.losses.sparse_categorical_crossentropy(y, self(x)))
        self.tracker.update_state(loss)  # one value per batch, whatever its samples
        return {"loss": self.tracker.result()}


def _data() -> Dataset:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200 + _N_TEST, 4)).astype("float32")
    y = (np.arange(200 + _N_TEST) % 3).astype("int64")
    x[:, 0] += y  # learnable a little: predictions differ between the two batches
    return Dataset.from_arrays(x[:200], y[:200], x_test=x[200:], y_test=y[200:], seed=0)


def _ctx(data: Dataset) -> types.SimpleNamespace:
    return types.SimpleNamespace(data=data, hypermodel=kt.HyperModel(), class_weights=None)


def test_a_batch_mean_metric_is_its_mean_over_the_test_samples() -> None:
    from tunekit.steps.base import test_metrics

    data = _data()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(
        "adam", "sparse_categorical_crossentropy", metrics=["accuracy", _batch_mean_accuracy]
    )
    per_sample = float(np.mean(model.predict(data.x_test, verbose=0).argmax(-1) == data.y_test))
    old = model.evaluate(data.x_test, data.y_test, batch_size=256, return_dict=True, verbose=0)
    assert old["_batch_mean_accuracy"] != pytest.approx(per_sample, abs=1e-3)  # the fault
    # 256: what the evaluate, final seeds and baseline steps passed before (max(32, 256))
    metrics = test_metrics(_ctx(data), model, 256)
    assert metrics["_batch_mean_accuracy"] == pytest.approx(per_sample, abs=1e-6)
    assert metrics["accuracy"] == pytest.approx(per_sample, abs=1e-6)
    from tunekit.data.batches import test_batch_size  # what they pass now

    metrics = test_metrics(_ctx(data), model, test_batch_size(data, 32))
    assert metrics["_batch_mean_accuracy"] == pytest.approx(per_sample, abs=1e-6)


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="a stateful test_step (JAX's is stateless)"
)
def test_an_own_test_steps_per_batch_loss_is_its_mean_over_the_test_samples() -> None:
    from tunekit.steps.base import test_metrics

    data = _data()
    keras.utils.set_random_seed(0)
    model = OwnTestStep()
    model.compile("adam")
    model(data.x_test[:2])
    losses = keras.losses.sparse_categorical_crossentropy(data.y_test, model(data.x_test))
    per_sample = float(np.mean(keras.ops.convert_to_numpy(losses)))
    assert test_metrics(_ctx(data), model, 256)["loss"] == pytest.approx(per_sample, abs=1e-6)


def test_evaluation_batches_divide_the_split_and_stay_big() -> None:
    from tunekit.data.batches import evaluation_batch_size, test_batch_size

    assert evaluation_batch_size(10_000, 128, 784 * 4) == 1_000  # MNIST's test set
    assert evaluation_batch_size(10_000, 2_000, 784 * 4) == 5_000  # never below the batch size
    assert evaluation_batch_size(_N_TEST, 32) == _N_TEST  # one batch
    assert evaluation_batch_size(1_034, 128) == 517  # 2 x 11 x 47: none in 256..1024
    assert test_batch_size(_data(), 32) == _N_TEST


def _huge_prime_split(num: int) -> types.SimpleNamespace:
    """A test split of `num` samples of 8 KB each, never allocated (broadcast)."""
    x = np.broadcast_to(np.float32(0), (num, 2_048))
    return types.SimpleNamespace(x_test=x, y_test=np.zeros(num, "int64"))


def test_the_report_says_so_when_no_batch_size_divides_the_test_set() -> None:
    """A prime count whose `x` holds over 64 MiB: batches of 256 and a last partial one."""
    from tunekit.data.batches import test_batch_size, uneven_test_note
    from tunekit.report import render_markdown

    data = _huge_prime_split(9_973)  # 78 MiB
    assert test_batch_size(data, 128) == 256
    note = uneven_test_note(data, 128)
    assert note is not None
    assert note.startswith(
        "The test set's 9973 samples were evaluated in batches of 256 and a last one of 245: "
        "a value your model averages per batch rather than per sample"
    )
    assert "may be off" in note
    assert uneven_test_note(_huge_prime_split(9_972), 128) is None  # 9,972 = 4 x 2,493
    assert uneven_test_note(_data(), 32) is None
    from tunekit.data.streams import StreamData

    streamed = StreamData.__new__(StreamData)  # a test stream's batches, as read
    streamed.test_batches = (64, 64, 22)
    assert "150 samples were evaluated in batches of 64 and a last one of 22" in (
        uneven_test_note(streamed, 32) or ""
    )
    streamed.test_batches = (64, 64)
    assert uneven_test_note(streamed, 32) is None
    report = {**_minimal_report({}), "test_batches_note": note}
    assert f"\n\n{note}\n" in render_markdown(report, "")


def test_the_command_lines_summary_repeats_the_uneven_batches_note(tmp_path) -> None:
    """The note was in report.json and report.md only, not under the summary's Test line."""
    import json

    from test_progress import summarised_result

    from tunekit.cli_summary import summary

    note = "The test set's 301 samples were evaluated in batches of 32 and a last one of 13: ..."
    (tmp_path / "report.json").write_text(json.dumps({"test_batches_note": note}))
    result = summarised_result(tmp_path, {"accuracy": 0.9})
    lines = summary(result).splitlines()
    assert lines[lines.index("Test: accuracy 0.9000") + 1] == note
    (tmp_path / "report.json").write_text(json.dumps({"test_batches_note": None}))
    assert note not in summary(result)
