"""The shapes of every batch a `StreamData` reads when made, against its first training batch.

`StreamData` reads each split whole when it is made (the split-leak passes,
`tunekit.data._leaks`): the training split once, first, then validation and
test. Every batch those passes read goes through `BatchShapes.watch` (nothing more
is read), so a batch no model built for the training samples could take is refused
then, naming the split, the batch (counted from 0, as a PyDataset's `__getitem__`
takes it) and its shape beside the first training batch's, the same way for
tf.data and PyDatasets. Before, such a test batch failed only in the test
evaluation, after the whole search and retrain, as TensorFlow's
`InvalidArgumentError: Matrix size-incompatible`.

- Refused when made: a batch whose `x` or `y` is another structure (dict keys,
  tuple length) or whose `x` has another rank; `x` and `y` of different batch
  sizes; `y` of another shape per sample than training's, except a trailing axis
  of size 1 (class ids `(n,)` beside `(n, 1)`: Keras takes both); within one split
  `y` keeps one shape.
- Left to the model check (`check_input_sizes`, before any trial): a batch of any split
  whose `x` differs from the first training batch's in the size of an axis (a narrower
  test batch; a sequence padded per batch, `padded_batch`, or per split): only the
  model's input says whether it takes it (a `keras.Input` axis of `None` takes any
  size), so a split padded to its own longest sequence is not refused for a model that
  takes any length. Each split's first batch differing in each axis is kept, nothing more.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from tunekit.errors import DataError

__all__ = ["BatchShapes", "check_input_sizes", "check_stream_inputs", "labels_like"]

_NAMES = {"train": "training", "val": "validation", "test": "test"}
_BATCHED = (
    "Batch every split the same way (dataset.batch(32); a PyDataset's __getitem__ returns "
    "a whole batch)"
)


def _parts(value: Any) -> dict[str, tuple[Any, ...]]:
    """Each array's full shape, by key (`""`: one array; a list or tuple by position)."""
    if isinstance(value, Mapping):
        return {str(k): tuple(np.shape(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return {f"[{i}]": tuple(np.shape(v)) for i, v in enumerate(value)}
    return {"": tuple(np.shape(value))}


def _form(shape: tuple[Any, ...]) -> tuple[Any, ...]:
    """A label's shape per sample without one trailing axis of size 1 (`(n, 1)` as `(n,)`)."""
    sample = tuple(shape[1:])
    return sample[:-1] if sample and sample[-1] == 1 else sample


def _named(part: str, key: str) -> str:
    """`x`, `x['image']`, `y[0]`."""
    return part if not key else f"{part}{key}" if key.startswith("[") else f"{part}[{key!r}]"


class BatchShapes:
    """Each batch's shapes against the first training batch `(x, y)` (see the module).

    Args:
        x, y: The first training batch.
    """

    def __init__(self, x: Any, y: Any) -> None:
        self.x, self.y = _parts(x), _parts(y)
        # {(split, key, axis): (batch index, shape)}: the first batch whose x differs from
        # the first training batch's in that axis, left to the model (`check_input_sizes`).
        self.varying: dict[tuple[str, str, int], tuple[int, tuple[Any, ...]]] = {}
        self._labels: dict[str, dict[str, tuple[Any, ...]]] = {}  # each split's first y

    def watch(self, split: str) -> Callable[[Any], None]:
        """A callable checking the batches of one pass over `split` (`"train"`, `"val"`,
        `"test"`), in order. The training pass comes first (the axes it varies in are left
        to the model check for every split).

        Raises (when called):
            DataError: See the module docstring.
        """
        count = iter(range(2**62))
        return lambda batch: self.check(split, next(count), batch)

    def check(self, split: str, index: int, batch: Any) -> None:
        """Checks batch `index` of `split` (see `watch`); a batch that is not `(x, y, ...)` is
        left to the other checks."""
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            return
        where = f"StreamData: batch {index} of the {_NAMES[split]} stream"
        xs, ys = _parts(batch[0]), _parts(batch[1])
        shapes = [*xs.values(), *ys.values()]
        if any(not s for s in shapes) or len({s[0] for s in shapes}) > 1:
            said = ", ".join(str(s) for s in shapes)
            raise DataError(
                f"{where} is not a batch (shapes {said}: "
                + ("a single value" if any(not s for s in shapes) else "x and y differ in size")
                + f"). {_BATCHED}."
            )
        for part, got, first in (("x", xs, self.x), ("y", ys, self.y)):
            if set(got) != set(first):
                raise DataError(
                    f"{where} has {part} of the parts {sorted(got)}, the first training "
                    f"batch's {part} {sorted(first)}: give every batch of every split the same "
                    f"{part} (the same dict keys, or tuple length)."
                )
        for key, shape in xs.items():
            self._check_x(split, index, key, shape, where)
        for key, shape in ys.items():
            self._check_y(split, key, shape, where)

    def _check_x(self, split: str, index: int, key: str, shape: Any, where: str) -> None:
        first, name = self.x[key], _named("x", key)
        said = f"{where} has {name} of shape {shape}, the first training batch's {name} {first}"
        if len(shape) != len(first):
            raise DataError(
                f"{said}: samples of rank {len(shape) - 1} where training's have rank "
                f"{len(first) - 1}. {_BATCHED}, and give every split samples of one shape."
            )
        axes = {d for d in range(1, len(shape)) if shape[d] != first[d]}
        for axis in axes:  # the model decides (`check_input_sizes`): an Input axis of None
            self.varying.setdefault((split, key, axis), (index, shape))

    def _check_y(self, split: str, key: str, shape: Any, where: str) -> None:
        name, first = _named("y", key), self.y[key]
        own = self._labels.setdefault(split, {}).setdefault(key, shape)
        if _form(shape) != _form(first):
            raise DataError(
                f"{where} has {name} of shape {shape}, the first training batch's {name} "
                f"{first}: "
                "labels (targets) must have one form in every split, as training's: class "
                "ids (batch,) (or (batch, 1)), one-hot rows (batch, classes), or k targets "
                "(batch, k). Map the split's labels to that form (e.g. y[:, 0], or "
                "np.argmax(y, axis=1) for one-hot rows of class ids)."
            )
        if shape[1:] != own[1:]:
            raise DataError(
                f"{where} has {name} of shape {shape}, the split's first batch's {own}: give "
                "every batch of a split labels of one shape (all (batch,) or all (batch, 1))."
            )

    def labels_of(self, split: str) -> dict[str, tuple[Any, ...]]:
        """The `y` shapes of `split`'s first batch read (`{}`: not read)."""
        return dict(self._labels.get(split, {}))


def check_input_sizes(
    varying: Mapping[tuple[str, str, int], Any], inputs: Mapping[str, Any]
) -> None:
    """Refuses a batch read when the `StreamData` was made (`BatchShapes.varying`) whose `x`
    does not fit the model's declared input, before any trial.

    Args:
        varying: `{(split, key, axis): (batch index, shape)}` (`BatchShapes.varying`).
        inputs: The model's declared input shapes with the batch axis, by the key of `x`
            (`""`: one input); an axis of `None` takes any size. Inputs not named: skipped.

    Raises:
        DataError: Naming the split, the batch, its shape and the model's input.
    """
    for (split, key, _), (index, shape) in varying.items():
        declared = inputs.get(key)
        if declared is None or len(declared) != len(shape):
            continue
        axes = [
            d for d in range(1, len(shape)) if declared[d] is not None and declared[d] != shape[d]
        ]
        if axes:
            raise DataError(
                f"StreamData: batch {index} of the {_NAMES[split]} stream has "
                f"{_named('x', key)} of shape {shape}, but the model's input takes "
                f"{tuple(declared)} (axis {axes[0]} of size {declared[axes[0]]}): Keras would "
                + (
                    "fail on it in the test evaluation, after the whole search and retrain. "
                    if split == "test"
                    else "fail on it in every trial. "
                )
                + "Give every batch samples of one shape (pad or resize), or declare that axis "
                "None in keras.Input to take batches of varying size."
            )


def check_stream_inputs(data: Any, model: Any) -> None:
    """`check_input_sizes` for a `StreamData` `data` and a built Keras `model` (its declared
    inputs; a model whose inputs are not known yet, lazily built, is left alone)."""
    shapes = getattr(data, "_shapes", None)
    if shapes is None or not shapes.varying:
        return
    try:
        inputs = list(model.inputs or [])
    except (AttributeError, ValueError):
        return
    declared = {f"[{i}]": tuple(t.shape) for i, t in enumerate(inputs)}
    declared.update({str(getattr(t, "name", "")): tuple(t.shape) for t in inputs})
    if len(inputs) == 1:  # one array x
        declared[""] = tuple(inputs[0].shape)
    check_input_sizes(shapes.varying, declared)


def labels_like(part: Any, trained: Mapping[str, tuple[Any, ...]], own: Mapping[str, Any]) -> Any:
    """`part` (a stream whose labels' shapes, by key, are `own`) with labels of the training
    split's form (`trained`) where they differ by a trailing axis of size 1 (`(n, 1)` beside
    `(n,)`, or back; `BatchShapes` refused any other difference), else `part` as it is.
    Keras takes either form, but a model scored on both in turn fails ("Cannot take the
    length of shape with unknown rank"), and the retrain chains validation after training
    in one fit. A PyDataset keeps its `workers`, `use_multiprocessing`, `max_queue_size`."""
    keys = [k for k in own if k in trained and tuple(own[k][1:]) != tuple(trained[k][1:])]
    if not keys:
        return part
    squeeze = {k: len(own[k]) > len(trained[k]) for k in keys}

    def fit(y: Any, reshape: Callable[[Any, bool], Any]) -> Any:
        if isinstance(y, Mapping):
            return {
                k: reshape(v, squeeze[str(k)]) if str(k) in squeeze else v for k, v in y.items()
            }
        if isinstance(y, (list, tuple)):
            return type(y)(
                reshape(v, squeeze[f"[{i}]"]) if f"[{i}]" in squeeze else v for i, v in enumerate(y)
            )
        return reshape(y, squeeze[""])

    from tunekit.data._stream_batches import is_tf_dataset

    if is_tf_dataset(part):
        import tensorflow as tf  # noqa: PLC0415 - loaded already: the stream is tf.data

        def tf_reshape(v: Any, drop: bool) -> Any:
            return tf.squeeze(v, -1) if drop else tf.expand_dims(v, -1)

        return part.map(lambda x, y, *rest: (x, fit(y, tf_reshape), *rest))
    import keras  # noqa: PLC0415

    def np_reshape(v: Any, drop: bool) -> Any:
        return np.squeeze(np.asarray(v), -1) if drop else np.expand_dims(np.asarray(v), -1)

    class _Relabelled(keras.utils.PyDataset):
        def __init__(self) -> None:  # read as the user's PyDataset is
            super().__init__(
                workers=part.workers,
                use_multiprocessing=part.use_multiprocessing,
                max_queue_size=part.max_queue_size,
            )

        def __len__(self) -> int:
            return len(part)

        def __getitem__(self, index: int) -> Any:
            batch = part[index]
            return (batch[0], fit(batch[1], np_reshape), *batch[2:])

        def on_epoch_end(self) -> None:
            part.on_epoch_end()

    return _Relabelled()
