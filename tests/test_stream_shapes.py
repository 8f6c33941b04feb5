"""What a `StreamData`'s batches hold, checked when it is made (every batch its passes read),
the same way for tf.data and PyDatasets (`tunekit.data._stream_shapes`, `_stream_ids`).

Before: a test batch of narrower `x`, or test labels of shape `(n, 3)` in a PyDataset, or a
test class id beyond the classes, was accepted and failed only after the whole search and
retrain (a raw TensorFlow/Keras error); tf.data validation labels `(n, 1)` beside training
labels `(n,)` were refused though Keras takes them.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf

from tunekit._kerastuner import get_hypermodel
from tunekit.data import StreamData
from tunekit.errors import DataError
from tunekit.outputs import predict_test_set
from tunekit.steps.check import check_model

_SIZES = {"train": (96, 0), "val": (32, 1), "test": (40, 2)}


def _arrays(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = (rng.normal(size=(n, 6)) + 2 * y[:, None]).astype("float32")
    return x, y


class Batches(keras.utils.PyDataset):
    """A user's PyDataset over arrays; `narrow`: batch 1's x keeps 3 features only."""

    def __init__(self, x: np.ndarray, y: np.ndarray, narrow: bool = False) -> None:
        super().__init__()
        self.x, self.y, self.narrow = x, y, narrow

    def __len__(self) -> int:
        return -(-len(self.x) // 16)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        part = slice(index * 16, (index + 1) * 16)
        x = self.x[part]
        return (x[:, :3] if self.narrow and index == 1 else x), self.y[part]


def _split(kind: str, x: np.ndarray, y: np.ndarray, narrow: bool = False) -> Any:
    if kind == "PyDataset":
        return Batches(x, y, narrow)
    if not narrow:
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    head = tf.data.Dataset.from_tensor_slices((x[:16], y[:16])).batch(16)
    return head.concatenate(tf.data.Dataset.from_tensor_slices((x[16:, :3], y[16:])).batch(16))


def _data(kind: str, narrow: str = "", labels: dict[str, Any] | None = None, **kw: Any) -> Any:
    splits = []
    for split, (n, seed) in _SIZES.items():
        x, y = _arrays(n, seed)
        y = (labels or {}).get(split, lambda v: v)(y)
        splits.append(_split(kind, x, y, narrow == split))
    return StreamData(*splits, fingerprint="f", **kw)


def _hypermodel(units: int = 3, inputs: tuple[Any, ...] = (6,)) -> Any:
    def build(hp: Any) -> keras.Model:
        model = keras.Sequential(
            [keras.Input(inputs), keras.layers.Dense(units, activation="softmax")]
        )
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    return get_hypermodel(build)


def _any_length() -> Any:
    """Token ids of any length: Embedding, then an average over the sequence."""

    def build(hp: Any) -> keras.Model:
        model = keras.Sequential(
            [
                keras.Input((None,), dtype="int32"),
                keras.layers.Embedding(20, 4),
                keras.layers.GlobalAveragePooling1D(),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    return get_hypermodel(build)


@pytest.mark.parametrize("kind", ["tf.data", "PyDataset"])
@pytest.mark.parametrize("split", ["val", "test"])
def test_a_batch_of_other_inputs_is_refused_before_any_trial(kind: str, split: str) -> None:
    """Before: accepted; a test batch failed in predict_stream after the search and retrain
    (InvalidArgumentError: Matrix size-incompatible). Read when the StreamData is made, judged
    by the model's input in the model check, before any trial."""
    name = {"val": "validation", "test": "test"}[split]
    data = _data(kind, narrow=split)
    with pytest.raises(
        DataError,
        match=rf"batch 1 of the {name} stream has x of shape \(16, 3\), "
        r"but the model's input takes \(None, 6\)",
    ):
        check_model(_hypermodel(), data)


class Padded(keras.utils.PyDataset):
    """Token ids padded per split: training to 8, validation and test to their own 5."""

    def __init__(self, n: int, length: int, seed: int) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        self.x = rng.integers(1, 20, (n, length)).astype("int32")
        self.y = rng.integers(0, 3, n)

    def __len__(self) -> int:
        return -(-len(self.x) // 8)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        part = slice(index * 8, (index + 1) * 8)
        return self.x[part], self.y[part]


def test_a_split_padded_to_its_own_length_is_taken_by_a_model_of_any_length() -> None:
    """Every training batch is 8 long, the other splits' 5: a model whose Input takes any
    length trains and scores them all, as plain KerasTuner would (no refusal when made)."""
    data = StreamData(Padded(48, 8, 0), Padded(24, 5, 1), Padded(24, 5, 2), fingerprint="p")

    check_model(_any_length(), data)
    fixed = _hypermodel(inputs=(8,))  # a model of fixed length 8: refused, naming the split
    with pytest.raises(
        DataError, match=r"batch 0 of the validation stream has x of shape \(8, 5\)"
    ):
        check_model(fixed, data)


@pytest.mark.parametrize("kind", ["tf.data", "PyDataset"])
def test_training_batches_of_other_inputs_are_refused_before_any_trial(kind: str) -> None:
    """Training batches that vary in an axis are judged by the model's input (a sequence
    padded per batch is fine for an Input of None there), in the model check before any trial.
    Before: the first trials failed with Keras's error and the run stopped (TrialsFailedError)."""
    data = _data(kind, narrow="train")  # read whole when made: batch 1's shape kept
    with pytest.raises(
        DataError,
        match=r"batch 1 of the training stream has x of shape \(16, 3\), "
        r"but the model's input takes \(None, 6\)",
    ):
        check_model(_hypermodel(), data)


def test_inputs_padded_per_batch_are_taken_by_a_model_of_varying_length() -> None:
    """No refusal for what a model may take: batches padded to their own longest sequence."""
    rng = np.random.default_rng(0)

    def split(n: int) -> tf.data.Dataset:
        lengths = rng.integers(2, 9, n)
        rows = [rng.integers(1, 20, k).astype("int32") for k in lengths]
        ds = tf.data.Dataset.from_generator(
            lambda: ((r, np.int64(len(r) % 3)) for r in rows),
            output_signature=(tf.TensorSpec((None,), tf.int32), tf.TensorSpec((), tf.int64)),
        )
        return ds.padded_batch(8)

    data = StreamData(split(48), split(24), split(24), fingerprint="padded")

    check_model(_any_length(), data)


@pytest.mark.parametrize("kind", ["tf.data", "PyDataset"])
def test_test_labels_of_another_shape_are_refused_alike(kind: str) -> None:
    """Before: a PyDataset's (n, 3) test labels were accepted and crashed after the search
    (Keras ValueError); tf.data's were refused only as 'elements differ in rank'."""
    three = {"test": lambda y: np.stack([y] * 3, 1)}
    with pytest.raises(DataError) as caught:
        _data(kind, labels=three)
    said = str(caught.value)
    assert (
        "batch 0 of the test stream has y of shape (16, 3), the first training batch's y (16,)"
        in (said)
    )
    assert "class ids (batch,) (or (batch, 1))" in said


@pytest.mark.parametrize("kind", ["tf.data", "PyDataset"])
def test_a_test_class_id_beyond_the_classes_is_refused_before_any_trial(kind: str) -> None:
    """Before: refused only as the test set was predicted, after the search and retrain."""
    beyond = {"test": lambda y: np.where(y == 2, 7, y)}
    with pytest.raises(
        DataError,
        match=r"the test stream holds class ids up to 7, outside 0\.\.2 \(num_classes=3\)\. "
        r"The training stream holds no example of class id 7",
    ):
        _data(kind, labels=beyond, num_classes=3)
    wide = {"train": lambda y: np.where(np.arange(len(y)) == 50, 4, y)}  # after batch 0
    with pytest.raises(
        DataError,
        match=r"the training stream holds class ids up to 4.*pass "
        r"num_classes=5 to StreamData",
    ):
        _data(kind, labels=wide, num_classes=3)
    data = _data(kind, labels=beyond)  # no num_classes: the model's width decides
    with pytest.raises(
        DataError,
        match=r"the test stream holds class ids up to 7, but the "
        r"model's output tells 3 classes apart",
    ):
        check_model(_hypermodel(), data)


@pytest.mark.parametrize("kind", ["tf.data", "PyDataset"])
def test_labels_with_a_trailing_axis_of_one_beside_flat_ones_are_taken(kind: str) -> None:
    """Keras takes class ids (n, 1) beside (n,) (sparse cross-entropy); tf.data's were
    refused ('elements differ in rank'). The retrain chains validation after training in
    training's form, and the test labels (n, 1) score as (n,)."""
    column = {"val": lambda y: y[:, None], "test": lambda y: y[:, None]}
    data = _data(kind, labels=column)
    flat = _data(kind)
    check_model(_hypermodel(), data)
    keras.utils.set_random_seed(0)
    model = _hypermodel().build(None)
    both, _ = data.train_and_validation()
    model.fit(both, epochs=2, verbose=0)  # the retrain's data
    y_true, y_pred = predict_test_set(model, data, batch_size=32)
    data.record_test(y_true, y_pred)
    expected = _arrays(*_SIZES["test"])[1]
    assert data.y_test.shape == (40,) and np.array_equal(data.y_test, expected)
    accuracy = model.evaluate(flat.test, verbose=0, return_dict=True)["accuracy"]
    assert np.mean(y_pred == expected) == pytest.approx(accuracy)
    assert model.evaluate(data.test, verbose=0, return_dict=True)["accuracy"] == pytest.approx(
        accuracy
    )


def test_a_real_difference_in_rank_names_the_part_and_shapes() -> None:
    """x of rank 3 in the test split: said as x, with both shapes."""
    x, y = _arrays(40, 2)
    wide = tf.data.Dataset.from_tensor_slices((x[:, :, None], y)).batch(16)
    splits = [_split("tf.data", *_arrays(n, s)) for n, s in (_SIZES["train"], _SIZES["val"])]
    with pytest.raises(
        DataError,
        match=r"batch 0 of the test stream has x of shape \(16, 6, 1\), "
        r"the first training batch's x \(16, 6\): samples of rank 2 where "
        r"training's have rank 1",
    ):
        StreamData(*splits, wide, fingerprint="f")


def test_a_py_dataset_of_no_length_says_so_first() -> None:
    """Before: 'repeats forever (... a PyDataset whose num_batches is None)'."""

    class Unsized(Batches):
        def __len__(self) -> int:
            raise TypeError("no len")

        @property
        def num_batches(self) -> None:
            return None

    splits = [Batches(*_arrays(n, s)) for n, s in _SIZES.values()]
    with pytest.raises(DataError) as caught:
        StreamData(Unsized(*_arrays(96, 0)), *splits[1:], fingerprint="f")
    said = str(caught.value)
    assert said.startswith(
        "StreamData: `train` is a keras.utils.PyDataset of no known length: its num_batches "
        "is None (it has no __len__ either)"
    )
    assert "repeats forever" not in said and "def __len__(self): return" in said
