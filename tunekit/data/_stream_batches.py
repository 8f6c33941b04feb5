"""The batches of a stream: which kind it is, its first batch, chaining, prediction.

A stream is a `tf.data.Dataset` or a `keras.utils.PyDataset` of `(x, y)`
batches (`tunekit.data.streams.StreamData` holds three of them).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tunekit.data._stream_lengths import batches_of
from tunekit.errors import DataError

__all__ = [
    "ChainedPyDataset",
    "chain_py_datasets",
    "check_batched",
    "first_batch",
    "has_no_batch",
    "is_infinite",
    "refuse_infinite",
    "refuse_unsized",
    "is_stream",
    "is_tf_dataset",
    "predict_stream",
    "shape_of",
    "weight_structure",
    "with_weights_of",
]


def is_tf_dataset(value: Any) -> bool:
    """Whether `value` is a `tf.data.Dataset` (TensorFlow is not imported to tell)."""
    return any(
        c.__module__.startswith("tensorflow") and c.__name__ in ("DatasetV2", "DatasetV1")
        for c in type(value).__mro__
    )


def _is_py_dataset(value: Any) -> bool:
    """Whether `value` is a `keras.utils.PyDataset`."""
    import keras  # noqa: PLC0415 - Keras only when streams are used

    return isinstance(value, keras.utils.PyDataset)


def is_stream(value: Any) -> bool:
    """Whether `value` is a `tf.data.Dataset` or a `keras.utils.PyDataset`."""
    return is_tf_dataset(value) or _is_py_dataset(value)


def first_batch(source: Any) -> tuple[Any, Any]:
    """`(x, y)` of the first batch of a stream, as numpy (dicts stay dicts)."""
    import keras  # noqa: PLC0415

    if is_tf_dataset(source):
        batch = next(iter(source.take(1).as_numpy_iterator()), None)
        if batch is None:  # it had one when StreamData was made (`has_no_batch`)
            raise DataError(
                "A stream yielded no batch when read again: it cannot be replayed (e.g. "
                "tf.data.Dataset.from_generator(lambda: it) over one iterator, which ends "
                "after its first pass). Keras reads each split once per epoch of every trial: "
                "give from_generator a function that returns a new generator each time."
            )
    else:
        batch = source[0]
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        raise DataError(
            "A stream must yield (x, y) batches (optionally (x, y, sample_weight)); its first "
            f"element is a {type(batch).__name__}. Map it to (x, y) pairs."
        )
    to_numpy = lambda t: keras.tree.map_structure(np.asarray, t)  # noqa: E731
    return to_numpy(batch[0]), to_numpy(batch[1])


def is_infinite(source: Any) -> bool:
    """Whether a stream is known to never end: a tf.data `dataset.repeat()`, or a
    PyDataset whose `num_batches` is `None` (Keras's mark of an infinite one)."""
    if not is_tf_dataset(source):
        try:
            return _is_py_dataset(source) and source.num_batches is None
        except (AttributeError, TypeError, NotImplementedError):
            return False
    import tensorflow as tf  # noqa: PLC0415 - loaded already: the stream is tf.data

    return bool(source.cardinality() == tf.data.INFINITE_CARDINALITY)


def refuse_infinite(source: Any, name: str) -> None:
    """Refuses a split `name` that never ends (`is_infinite`): `DataError`, saying first
    what is wrong (a tf.data `.repeat()`; a PyDataset of no known length: `num_batches`
    `None`, with or without a `__len__`), then the fix.

    tunekit passes no `steps_per_epoch`, so its first epoch would never end.
    """
    if not is_infinite(source):
        return
    if not is_tf_dataset(source):
        try:
            sized = f" (its __len__ says {len(source)} batches, but Keras goes by num_batches)"
        except (TypeError, NotImplementedError):
            sized = " (it has no __len__ either)"
        raise DataError(
            f"StreamData: `{name}` is a keras.utils.PyDataset of no known length: its "
            f"num_batches is None{sized}, which Keras takes for a PyDataset that never ends "
            "and would read without end. tunekit reads each split whole once per epoch, and "
            "retrains on train and validation chained. Give it its number of batches: "
            "`def __len__(self): return <number of batches>` (e.g. math.ceil(samples / "
            "batch_size)), and drop a num_batches property of your own returning None (or "
            "return len(self) from it)."
        )
    raise DataError(
        f"StreamData: `{name}` repeats forever (a tf.data dataset.repeat() with no count). "
        "tunekit reads each split whole once per epoch, and retrains on train and validation "
        "chained, which a split that never ends would never reach, even with a fit's "
        "steps_per_epoch. Drop the .repeat() (for fewer steps per epoch, .take(steps) a "
        "finite split)."
    )


def refuse_unsized(source: Any, name: str) -> None:
    """Refuses a PyDataset split `name` without a `__len__`: `DataError`.

    Keras's `num_batches` raises NotImplementedError for it, failing every
    trial; tunekit also predicts and chains PyDatasets by their lengths (so one
    with a `num_batches` of its own is told to add `__len__` from it).
    """
    if is_tf_dataset(source):
        return
    try:
        len(source)
    except (TypeError, NotImplementedError):
        try:
            batches = source.num_batches
        except (AttributeError, NotImplementedError):
            batches = None
        why = (
            f"it defines num_batches ({batches}), which Keras reads, but tunekit reads len() "
            "to chain train and validation for the retrain and to predict the test set. Add "
            "`def __len__(self): return self.num_batches`"
            if isinstance(batches, int)
            else "Keras's num_batches raises NotImplementedError for it, so every trial "
            "would fail. Give it `def __len__(self): return <number of batches>` (e.g. "
            "math.ceil(samples / batch_size)); __getitem__(i) then serves batches 0..len-1"
        )
        raise DataError(
            f"StreamData: `{name}` is a keras.utils.PyDataset without a __len__ (its number "
            f"of batches): {why}."
        ) from None


def has_no_batch(source: Any, name: str = "a") -> bool:
    """Whether a stream, the split `name`, yields no batch at all (reads at most one batch).

    Raises:
        DataError: Its pipeline states a length of 0 (`assert_cardinality(0)`) and holds
            more (see `tunekit.data._stream_lengths.batches_of`).
    """
    if is_tf_dataset(source):
        return next(batches_of(source.take(1), name), None) is None
    try:
        return len(source) == 0
    except TypeError:  # a PyDataset without a length (it should have one): not known here
        return False


def shape_of(x: Any) -> Any:
    """The per-sample shape of a batch `x` (a dict of shapes for a dict)."""
    if isinstance(x, dict):
        return {k: tuple(int(d) for d in np.shape(v)[1:]) for k, v in x.items()}
    return tuple(int(d) for d in np.shape(x)[1:])


class ChainedPyDataset:
    """Several `keras.utils.PyDataset`s one after the other, as one PyDataset.

    Built by `chain_py_datasets`; batches are those of each part, in order.
    """


def chain_py_datasets(*parts: Any) -> Any:
    """One `keras.utils.PyDataset` yielding the batches of `parts` in turn (nothing copied).

    Args:
        *parts: Finite PyDatasets (each with a `len()`).

    Returns:
        A PyDataset of `sum(len(p) for p in parts)` batches; `on_epoch_end`
        is forwarded to every part.
    """
    import keras  # noqa: PLC0415

    class _Chained(keras.utils.PyDataset, ChainedPyDataset):
        def __init__(self) -> None:
            super().__init__()
            self.parts = parts
            self.sizes = [len(p) for p in parts]

        def __len__(self) -> int:
            return sum(self.sizes)

        def __getitem__(self, index: int) -> Any:
            for part, size in zip(self.parts, self.sizes, strict=True):
                if index < size:
                    return part[index]
                index -= size
            raise IndexError(index)

        def on_epoch_end(self) -> None:
            for part in self.parts:
                part.on_epoch_end()

    return _Chained()


def predict_stream(model: Any, source: Any) -> tuple[Any, np.ndarray]:
    """Predicts `source` batch by batch; returns `(y_true, outputs)` from the same batches.

    Args:
        model: A Keras model.
        source: A `tf.data.Dataset` or PyDataset of `(x, y)` batches.

    Returns:
        `y_true` concatenated over batches (a dict of arrays for several
        outputs) and the model's outputs, aligned sample by sample.

    Raises:
        DataError: The stream yields no batch, or holds another number of batches
            than it states (`tunekit.data._stream_lengths.batches_of`).
    """
    import keras  # noqa: PLC0415

    ys: list[Any] = []
    outputs: list[Any] = []
    for batch in batches_of(source, "test"):
        x, y = batch[0], batch[1]
        ys.append(keras.tree.map_structure(np.asarray, y))
        outputs.append(keras.tree.map_structure(np.asarray, model.predict_on_batch(x)))
    if not ys:
        raise DataError("The test stream yielded no batch; tunekit needs test samples.")
    join = lambda *parts: np.concatenate(parts, axis=0)  # noqa: E731
    return keras.tree.map_structure(join, *ys), keras.tree.map_structure(join, *outputs)


def check_batched(x: Any, y: Any) -> None:
    """Refuses a first batch `(x, y)` without a batch axis; `DataError`.

    A stream's batches carry the batch first: `y` of one value, or `x` and `y`
    with different leading sizes, is a stream of single samples (a tf.data
    pipeline without `.batch(n)`), which every trial would fail on.
    """
    arrays = [a for part in (x, y) for a in (part.values() if isinstance(part, dict) else [part])]
    sizes = sorted({int(np.shape(a)[0]) for a in arrays if np.ndim(a)})
    if any(np.ndim(a) == 0 for a in arrays) or len(sizes) > 1:
        shapes = ", ".join(str(np.shape(a)) for a in arrays)
        raise DataError(
            f"StreamData: the first training batch is not a batch (shapes {shapes}: "
            + (
                "a single value"
                if any(np.ndim(a) == 0 for a in arrays)
                else "x and y differ in size"
            )
            + "). Batch the stream: dataset.batch(32) for tf.data; a PyDataset's "
            "__getitem__ returns a whole batch (x, y)."
        )


def with_weights_of(part: Any, like: Any) -> Any:
    """`part` (a stream) with sample weights when `like`'s batches carry them, else without.

    For chaining validation after training in the retrain: Keras needs every
    batch of one fit alike. Samples without a weight weigh 1, as in Keras;
    weights only the validation split carries are dropped (the training
    split's samples were never weighted).
    """
    import keras  # noqa: PLC0415

    weighted, has = weight_structure(like), weight_structure(part) is not None
    if (weighted is not None) == has:
        return part

    if is_tf_dataset(part):
        import tensorflow as tf  # noqa: PLC0415

        def ones(x: Any, y: Any, *rest: Any) -> Any:
            if weighted is None:
                return x, y
            size = tf.shape(tf.nest.flatten(y)[0])[0]
            return x, y, tf.nest.map_structure(lambda w: tf.ones((size,), w.dtype), weighted)

        return part.map(ones)

    class _Matched(keras.utils.PyDataset):
        def __len__(self) -> int:
            return len(part)

        def __getitem__(self, index: int) -> Any:
            batch = part[index]
            if weighted is None:
                return batch[0], batch[1]
            size = len(keras.tree.flatten(batch[1])[0])
            ones = keras.tree.map_structure(lambda w: np.ones(size, np.asarray(w).dtype), weighted)
            return batch[0], batch[1], ones

        def on_epoch_end(self) -> None:
            part.on_epoch_end()

    return _Matched()


def weight_structure(source: Any) -> Any:
    """The structure of a stream's sample weights (`None`: its batches have none)."""
    if is_tf_dataset(source):
        spec = source.element_spec
        return spec[2] if isinstance(spec, tuple) and len(spec) > 2 else None
    batch = source[0]
    return batch[2] if isinstance(batch, (tuple, list)) and len(batch) > 2 else None
