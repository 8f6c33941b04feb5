"""The lengths of a stream's splits: read, counted and checked before the search.

Keras reads a split by its length: a tf.data split of known cardinality is
read as exactly that many batches per epoch (`steps_per_epoch`), a PyDataset
as `__len__` batches. A length the split does not hold is therefore no
error Keras reports up front (measured on Keras 3 / TF 2.21, both backends):

- `tf.data.experimental.assert_cardinality(n)` with fewer elements than `n`:
  TensorFlow raises `FailedPreconditionError` ("Input dataset was expected to
  contain 64 elements but contained only 4 elements") when a pass reaches the
  end: every trial fails on the training split; on the test split, after the
  whole search and retrain; on the validation split, at its first read;
- more elements than `n` ("... expected to contain 4 elements but contained
  at least 5 elements"): Keras's `fit` and `evaluate` stop after `n` steps and
  never see the rest, silently (a model trained and scored on part of the
  data, exit 0); only a whole pass (tunekit's test predictions, its read of
  the validation labels) raises;
- a PyDataset whose `__len__` is larger than the batches it serves: its
  `__getitem__` raises `IndexError` (or returns an empty batch) in Keras's
  fit, or in tunekit's test predictions after the search.

Hence, when a `StreamData` is made (before any training):

- a tf.data split of unknown length is read whole once (`read_whole`, as
  before: counted, checked to replay);
- a tf.data split whose length is *stated* (an `assert_cardinality` in its
  pipeline, `stated_length`) is read whole once too, which TensorFlow's own
  assertion checks: the pass ends at the stated length plus one batch at
  most (an endless generator with a stated length cannot hang it). Its cost
  is one read of that split (no model: the pipeline's own decoding only),
  which a run then does once per epoch of every trial; it is the only way to
  tell a split holding more batches than stated, which Keras silently cuts.
  A split whose cardinality tf.data knows from its source (arrays,
  `from_tensor_slices`, file lists, `.batch`, `.map`) is exact and not read;
- a PyDataset's last batch (`len - 1`) is read (one batch): an `IndexError`
  or an empty batch there is a `__len__` larger than the batches it serves.

Wherever tunekit reads a split later (its labels, the test predictions), a
failure of the same kind is a `DataError` naming the split (`batches_of`), in
case a stream holds another number of batches on a later pass.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

from tunekit._log import show_warnings
from tunekit.data._notes import warn_data
from tunekit.errors import DataError

__all__ = [
    "WARN_EVERY",
    "batches_of",
    "check_py_length",
    "read_whole",
    "stated_length",
    "warn_dropped_remainder",
]

_logger = logging.getLogger("tunekit.data")
# Seconds of reading between the warnings that a stream of unknown length has not ended.
WARN_EVERY = 20.0

# TensorFlow's AssertCardinalityDataset, for too few and too many elements.
_TF_CARDINALITY = re.compile(
    r"expected to contain (\d+|an infinite number of) elements? but contained "
    r"(only|at least) (\d+) elements?"
)
_FIX = (
    "Correct the stated length (the number of elements where assert_cardinality stands "
    "in the pipeline: batches after .batch(), samples before it) or remove "
    "assert_cardinality: tunekit then counts the split's batches in one pass when the "
    'StreamData is made (README, "tf.data and PyDataset").'
)


def stated_length(source: Any) -> bool:
    """Whether a tf.data split's length is stated by a `tf.data.experimental.assert_cardinality`
    anywhere in its pipeline (`False` for a PyDataset, or when tf.data cannot be walked)."""
    seen, todo = 0, [source]
    while todo and seen < 10_000:
        dataset, seen = todo.pop(), seen + 1
        if type(dataset).__name__ == "_AssertCardinalityDataset":
            return True
        try:
            todo.extend(dataset._inputs())  # tf.data's inputs of a dataset (no public walk)
        except (AttributeError, TypeError, NotImplementedError):
            continue
    return False


def _length_error(error: BaseException, split: str, read: int, size: int | None) -> DataError:
    """The `DataError` for a split `split` whose length is not what it states; `read`
    batches were read before `error`, of `size` (a PyDataset's `len()`, else `None`)."""
    if size is not None:
        return DataError(
            f"StreamData: the `{split}` split, a keras.utils.PyDataset, says it has {size} "
            f"batches (__len__), but __getitem__({read}) "
            + (
                "returned an empty batch"
                if isinstance(error, _Empty)
                else f"raised {type(error).__name__}: {error}"
            )
            + ": its __len__ is larger than the batches it serves. Keras reads "
            "__getitem__(0) to __getitem__(len - 1) every epoch: make __len__ the number of "
            "batches it serves (e.g. math.ceil(samples / batch_size)) "
            '(README, "tf.data and PyDataset").'
        )
    found = _TF_CARDINALITY.search(str(error))
    stated, how, count = found.groups() if found else ("?", "only", "?")
    if how == "only":
        what = f"it holds only {count}"
        effect = "Keras fails on it when it reaches its end: " + {
            "train": "every trial fails",
            "validation": "every trial fails at its first validation",
        }.get(split, "the test evaluation fails, after the whole search and retrain")
    else:
        what = f"it holds more (TensorFlow found at least {count})"
        effect = f"Keras reads only its first {stated}, silently: " + {
            "train": "every trial would train on part of the training data",
            "validation": "every trial would be scored on part of it",
        }.get(split, "the test scores would cover part of it")
    return DataError(
        f"StreamData: the `{split}` split states {stated} elements "
        f"(tf.data.experimental.assert_cardinality({stated}) in its pipeline), but {what}: "
        f"{effect}. {_FIX}"
    )


class _Empty(Exception):
    """A PyDataset batch of no samples (within its `__len__`)."""


def _is_cardinality_error(error: BaseException) -> bool:
    """Whether `error` is TensorFlow's failed `assert_cardinality`."""
    return type(error).__name__ == "FailedPreconditionError" and bool(
        _TF_CARDINALITY.search(str(error))
    )


def batches_of(source: Any, split: str) -> Iterator[Any]:
    """The batches of a stream `source`, the `split` (`"train"`, `"validation"`, `"test"`),
    in order: numpy for tf.data, `source[i]` for `i < len(source)` for a PyDataset.

    Raises:
        DataError: The split holds another number of batches than it states: a tf.data
            `assert_cardinality` TensorFlow found wrong, or a PyDataset's `__getitem__`
            raising `IndexError` within its `__len__` (naming the split, the stated length,
            what was found and the fix).
    """
    from tunekit.data._stream_batches import is_tf_dataset

    read = 0
    if is_tf_dataset(source):
        try:
            for batch in source.as_numpy_iterator():
                yield batch
                read += 1
        except Exception as e:
            if not _is_cardinality_error(e):
                raise
            raise _length_error(e, split, read, None) from None
        return
    size = len(source)
    for read in range(size):
        try:
            batch = source[read]
        except IndexError as e:
            raise _length_error(e, split, read, size) from None
        yield batch


def check_py_length(source: Any, split: str) -> None:
    """Reads a PyDataset split's last batch (`len - 1`), which must hold samples; nothing
    for a tf.data split or an empty PyDataset.

    Raises:
        DataError: `__getitem__(len - 1)` raises `IndexError` or returns a batch of no
            samples: a `__len__` larger than the batches it serves (see `batches_of`).
    """
    from tunekit.data._stream_batches import is_tf_dataset

    if is_tf_dataset(source) or not len(source):
        return
    import keras  # noqa: PLC0415 - a PyDataset: Keras is loaded

    last = len(source) - 1
    try:
        batch = source[last]
    except IndexError as e:
        raise _length_error(e, split, last, len(source)) from None
    if isinstance(batch, (tuple, list)) and batch:
        leaves = keras.tree.flatten(batch[0])
        if leaves and all(getattr(v, "shape", (1,))[:1] == (0,) for v in leaves):
            raise _length_error(_Empty(), split, last, len(source))


def read_whole(source: Any, name: str, on_batch: Callable[[Any], None] | None = None) -> int | None:
    """Reads a tf.data split `name` whose length is unknown (`from_generator`, `.filter()`...)
    or stated (`stated_length`) to its end once; returns its number of batches (`None`,
    nothing read, for a length tf.data knows from the source, or a PyDataset). A pass cannot
    tell an endless stream of unknown length from a long one: every `WARN_EVERY` seconds of
    reading, a warning (logger `tunekit.data`) says how far it got and what to do.
    `on_batch`, if given, is called with each batch read (its labels are checked).

    Raises:
        DataError: The stream yields no batch once read whole: it cannot be replayed
            (`from_generator(lambda: it)` over one iterator), and Keras reads each split
            once per epoch of every trial. Or its stated length is wrong (`batches_of`).
    """
    import tensorflow as tf  # noqa: PLC0415 - a tf.data stream: TensorFlow is loaded

    from tunekit.data._stream_batches import is_tf_dataset

    if not is_tf_dataset(source):
        return None
    stated = int(source.cardinality()) != tf.data.UNKNOWN_CARDINALITY
    if stated and not stated_length(source):
        return None
    start = last = time.monotonic()
    count, warned = 0, False
    for batch in batches_of(source, name):
        count += 1
        if on_batch is not None:
            on_batch(batch)
        if time.monotonic() - last >= WARN_EVERY:
            last = time.monotonic()
            show_warnings()  # made before CoarseToFine, which shows them: never a silent hang
            _logger.warning(_still_reading(name, count, last - start, stated, warned))
            warned = True
    if warned:
        _logger.warning(f"StreamData: `{name}` ended after {count} batches.")
    if next(iter(source.take(1)), None) is None:
        raise DataError(
            f"StreamData: `{name}` yields no batch once read whole: it cannot be replayed "
            "(e.g. tf.data.Dataset.from_generator(lambda: it) over one iterator). Keras reads "
            "each split once per epoch of every trial (the test split after the checks): give "
            "from_generator a function that returns a new generator each time."
        )
    return count


def _still_reading(name: str, count: int, seconds: float, stated: bool, warned: bool) -> str:
    """The warning that the pass over split `name` goes on (`stated`: its length is)."""
    said = f"StreamData: `{name}` has not ended after {count} batches ({seconds:.0f} s of reading)"
    if stated:
        return said + (
            "; its length is stated (assert_cardinality): tunekit reads it once before the "
            "search to check it, as Keras would silently cut a split longer than stated."
            if not warned
            else "."
        )
    return said + (
        ". Its length is unknown to tf.data (from_generator, .filter()...), so "
        "tunekit reads it whole once to count its batches and check it replays; a "
        "split that never ends (a generator with `while True`, .repeat() before "
        ".filter()) would be read, then trained on, forever. Make it finite "
        "(.take(n), a generator that returns) or, if it is, state its length: "
        ".apply(tf.data.experimental.assert_cardinality(n_batches)), which also "
        "bounds this pass. Ctrl-C stops."
        if not warned
        else "; Ctrl-C stops (see the first warning)."
    )


def warn_dropped_remainder(source: Any, split: str) -> None:
    """Warns (`DataWarning`) of a validation or test tf.data split (`split` names it) whose
    batches have a size fixed in its element spec: `batch(n, drop_remainder=True)`, which
    drops the samples after the last full batch (if any: tunekit cannot tell from the
    spec), so they are never scored (150 test samples
    in batches of 40: 120 scored, the report counting batches only)."""
    from tunekit.data._stream_batches import is_tf_dataset

    if not is_tf_dataset(source):
        return
    import tensorflow as tf  # noqa: PLC0415 - a tf.data stream: TensorFlow is loaded

    specs = tf.nest.flatten(source.element_spec)
    sizes = {spec.shape[0] for spec in specs if getattr(spec, "shape", None) and spec.shape.rank}
    if sizes and None not in sizes:
        warn_data(
            f"StreamData: the `{split}` stream's batches all hold {sizes.pop()} samples "
            "(batch(..., drop_remainder=True)?): unless the split's samples are a multiple "
            "of that, tf.data drops those after the last full batch, and the "
            f"{split} score leaves them out. Batch the {split} split without drop_remainder "
            "to be sure every sample is scored."
        )
