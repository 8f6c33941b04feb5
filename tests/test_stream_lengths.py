"""A split that holds another number of batches than it states (tunekit.data._stream_lengths).

Found by a probe: a tf.data split whose `assert_cardinality(n)` was wrong gave a raw
`FailedPreconditionError` ("Input dataset was expected to contain 64 elements but contained
only 4") for the test split after the whole search and retrain (exit 1, every rerun the
same), and for the validation split from tunekit's read of its labels. A split holding more
batches than stated is worse: Keras's fit and evaluate read only the stated number, silently
(measured on both backends). Each is now a `DataError` naming the split when the `StreamData`
is made, before any training; a PyDataset whose `__len__` is larger than its batches too.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import keras
import numpy as np
import pytest
import stream_models
import tensorflow as tf
from conftest import BAYES_BUDGET

from tunekit import CoarseToFine
from tunekit.data import StreamData
from tunekit.data._stream_labels import check_validation_classes
from tunekit.data._stream_lengths import stated_length
from tunekit.data.streams import predict_stream
from tunekit.errors import DataError

SPLITS = ["train", "validation", "test"]
_X = np.random.default_rng(0).normal(size=(256, 8)).astype("float32")
_Y = (np.arange(256) % 3).astype("int64")
_SPEC = (tf.TensorSpec((None, 8), tf.float32), tf.TensorSpec((None,), tf.int64))


def _finite(shift: float = 0.0) -> tf.data.Dataset:
    """16 batches of 16; `shift` added to `x` (other samples: splits must not share them)."""
    return tf.data.Dataset.from_tensor_slices((_X + shift, _Y)).batch(16)


def _generated(real: int | None, stated: int, shift: float = 0.0) -> tf.data.Dataset:
    """A `from_generator` split of `real` batches of 16 (`None`: endless) stating `stated`;
    `shift` added to `x`."""

    def batches() -> Any:
        i = 0
        while real is None or i < real:
            j = i % 16
            yield _X[j * 16 : (j + 1) * 16] + shift, _Y[j * 16 : (j + 1) * 16]
            i += 1

    dataset = tf.data.Dataset.from_generator(batches, output_signature=_SPEC)
    return dataset.apply(tf.data.experimental.assert_cardinality(stated))


def _splits(split: str, stream: Any) -> list[Any]:
    splits = {name: _finite() for name in SPLITS}
    splits[split] = stream
    return list(splits.values())


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize(
    ("real", "stated", "found"),
    [
        (4, 64, "it holds only 4"),  # the probe's: fewer than stated
        (8, 4, "it holds more (TensorFlow found at least 5)"),  # Keras would read 4 of 8
        (None, 4, "it holds more (TensorFlow found at least 5)"),  # an endless generator
    ],
)
def test_a_wrong_stated_length_is_refused_when_the_stream_data_is_made(
    split: str, real: int | None, stated: int, found: str
) -> None:
    with pytest.raises(DataError) as raised:
        StreamData(*_splits(split, _generated(real, stated)), fingerprint="a", num_classes=3)
    message = str(raised.value)
    assert message.startswith(f"StreamData: the `{split}` split states {stated} elements ")
    assert f"assert_cardinality({stated}) in its pipeline), but {found}: " in message
    assert "Correct the stated length" in message and "remove assert_cardinality" in message
    assert 'README, "tf.data and PyDataset"' in message
    if real is not None and real > stated:
        assert f"Keras reads only its first {stated}, silently" in message


def test_the_probe_run_stops_before_any_trial(tmp_path) -> None:
    """The probe's run: the whole search and retrain, then a raw traceback at the test
    evaluation (exit 1). Now a `DataError` before `CoarseToFine` starts a trial."""
    with pytest.raises(DataError, match=r"the `test` split states 64 elements .* only 4"):
        data = StreamData(_finite(), _finite(), _generated(4, 64), fingerprint="a", num_classes=3)
        CoarseToFine(stream_models.dense_build, data, directory=tmp_path, **BAYES_BUDGET).run()
    assert not list(tmp_path.rglob("trial.json"))


def test_a_right_stated_length_is_read_once_counted_and_not_warned_about(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="tunekit.data")
    val, test = _generated(4, 4, shift=1.0), _generated(6, 6, shift=2.0)
    data = StreamData(_finite(), val, test, fingerprint="a", num_classes=3)
    assert "16 batches train / 4 batches validation / 6 batches test" in data.summary()
    assert not [r for r in caplog.records if r.name == "tunekit.data"]
    # Stated after .map and .batch, or where it is stated in samples before .batch: found.
    for stream in (
        _generated(4, 4).map(lambda x, y: (x, y)).prefetch(1),
        tf.data.Dataset.from_tensor_slices((_X, _Y))
        .apply(tf.data.experimental.assert_cardinality(256))
        .batch(16),
    ):
        assert stated_length(stream)
    assert not stated_length(_finite())  # tf.data knows its length from the arrays: not read


def test_a_wrong_stated_sample_count_before_batching_is_refused() -> None:
    samples = (
        tf.data.Dataset.from_tensor_slices((_X, _Y))
        .filter(lambda x, y: True)
        .apply(tf.data.experimental.assert_cardinality(300))
        .batch(16)
    )
    with pytest.raises(DataError, match=r"`validation` split states 300 elements .* only 256"):
        StreamData(_finite(), samples, _finite(), fingerprint="a", num_classes=3)


def test_a_length_that_changes_after_the_check_is_a_data_error_where_tunekit_reads() -> None:
    """After the fact: a stream holding another number of batches on a later pass (the test
    predictions, the validation labels) is a `DataError` naming the split, not TensorFlow's
    raw error."""
    test = _finite(shift=2.0).take(1)
    data = StreamData(_finite(), _finite(shift=1.0), test, fingerprint="a", num_classes=3)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(3, activation="softmax")])
    with pytest.raises(DataError, match=r"the `test` split states 64 elements .* only 4"):
        predict_stream(model, _generated(4, 64))
    data.validation = _generated(8, 4)
    with pytest.raises(DataError, match=r"the `validation` split states 4 elements .* more"):
        check_validation_classes(data, (None, 3))


class _Batches(keras.utils.PyDataset):
    """`real` batches of 16; `__len__` says `stated`; beyond `real`, `IndexError` or (with
    `empty`) a batch of no samples, as slicing arrays past their end gives."""

    def __init__(self, real: int, stated: int, empty: bool = False) -> None:
        super().__init__()
        self.real, self.stated, self.empty = real, stated, empty

    def __len__(self) -> int:
        return self.stated

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if index >= self.real and not self.empty:
            raise IndexError(f"batch {index} of {self.real}")
        part = slice(index * 16, min((index + 1) * 16, 16 * self.real))
        return _X[part], _Y[part]


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("empty", [False, True])
def test_a_py_dataset_longer_than_its_batches_is_refused_when_made(split, empty) -> None:
    splits = {name: _Batches(4, 4) for name in SPLITS}
    splits[split] = _Batches(4, 6, empty=empty)
    with pytest.raises(DataError) as raised:
        StreamData(*splits.values(), fingerprint="p", num_classes=3)
    message = str(raised.value)
    assert message.startswith(
        f"StreamData: the `{split}` split, a keras.utils.PyDataset, says it has 6 batches "
        "(__len__), but __getitem__(5) "
    )
    assert ("returned an empty batch" if empty else "raised IndexError: batch 5 of 4") in message
    assert "make __len__ the number of batches it serves" in message


def test_a_py_dataset_failing_within_its_length_when_predicted_is_a_data_error() -> None:
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(3, activation="softmax")])
    with pytest.raises(DataError, match=r"`test` split, a keras.utils.PyDataset, says it has 6"):
        predict_stream(model, _Batches(4, 6))


def test_a_validation_or_test_split_that_drops_its_remainder_is_warned_of() -> None:
    """Found by a probe: a test stream batched with drop_remainder=True was scored on 120 of
    its 150 samples, and the report counted batches only."""
    whole = tf.data.Dataset.from_tensor_slices((_X, _Y))
    train, val = _finite(), _finite(shift=1.0)
    dropped = tf.data.Dataset.from_tensor_slices((_X[:150] + 2.0, _Y[:150])).batch(40, True)
    said = r"`test` stream's batches all hold 40 samples .* unless the split's samples are a"
    with pytest.warns(UserWarning, match=said):
        StreamData(train, val, dropped, fingerprint="dropped", num_classes=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # training may drop its remainder: nothing said
        StreamData(whole.batch(16, drop_remainder=True), val, _finite(shift=2.0),
                   fingerprint="train-dropped", num_classes=3)  # fmt: skip
