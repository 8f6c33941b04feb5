"""Targets and inputs as they come: the task of `y` when not given (`infer_task`), and
`x` or `y` as one array or a dict of arrays (several inputs or outputs, keyed by name),
which the helpers here take alike."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from tunekit import _log
from tunekit.data._checks import (
    CLASSIFICATION,
    REGRESSION,
    TASKS,
    TASKS_HINT,
    _as_float32,
    _as_labels,
    _check_finite,
    _readonly,
    check_no_missing_labels,
)
from tunekit.data._label_text import check_label_texts, refuse_text_ids
from tunekit.data._notes import float_ids_note, warn_data
from tunekit.data._real import objects_as_numbers  # noqa: F401 - tg.objects_as_numbers
from tunekit.errors import DataError

Shape = tuple[int, ...]
# Whole-number float targets that are exactly the ids 0..K-1 are classes up to this many
# (labels that pandas wrote as floats); more, or any other run of consecutive whole numbers
# (1..12, 18..90), are refused as ambiguous by `infer_task`: class labels, or a count?
MAX_FLOAT_CLASS_IDS = 10


class _DefaultTask(str):
    """`Dataset`'s default task, `"classification"`, told apart from a `task=` passed:
    equal to it, but its own object (a refusal says it was the default, not the user's)."""

    __slots__ = ()


DEFAULT_TASK: str = _DefaultTask(CLASSIFICATION)


def check_task(task: Any) -> str | None:
    """Returns `task` (None, "classification" or "regression"), or raises a `DataError`."""
    if task is not None and task not in TASKS:
        raise DataError(
            f"Unknown task={task!r}; choose one of {list(TASKS)}, or leave task= unset "
            "to infer it from the targets."
        )
    return task


def infer_task(y: Any, name: str = "y", *, warn: bool = True) -> str:
    """Infers the task from the targets `y` (one array; see `Dataset.from_arrays`).

    - integer or bool dtype: classification (the loaders first refuse integers
      that are not the ids `0..K-1` unless `task=` is given: `value_classes`);
    - float with any non-whole value: regression (shape `(n,)` or `(n, k)`);
    - float, all whole numbers, shape `(n,)` or `(n, 1)`: classification when the
      values are exactly the ids `0..K-1` with 2 <= K <= `MAX_FLOAT_CLASS_IDS`
      (10; every id present: class ids stored as floats; K >= 3 with a `DataWarning`
      unless `warn` is False: a count of 0..K-1 is a quantity); otherwise refused as
      ambiguous when there are at most 2 distinct values (1.0/2.0, 0.0/5.0) or
      the values are any other run of consecutive whole numbers (1.0..12.0,
      0.0..14.0, 18.0..90.0: labels saved as floats, or a count?); else,
      values with gaps, regression (e.g. prices in whole units);
    - float, all whole numbers, shape `(n, k)` with k > 1: refused as ambiguous
      (k regression targets?). One-hot rows never get here: the loaders turn
      them into class ids first (`one_hot_as_ids`).

    Raises:
        DataError: On non-numeric targets or the ambiguous case above.
    """
    array = np.asarray(y)
    if array.dtype.kind in "iub":
        return CLASSIFICATION
    if array.dtype.kind != "f":
        _as_labels(array, name)  # raises the class-id message with both tasks
        return CLASSIFICATION
    finite = array[np.isfinite(array)]
    if finite.size and np.any(finite != np.round(finite)):
        return REGRESSION
    if array.ndim == 2 and array.shape[1] > 1:
        if one_hot_ids(array) is not None:
            raise DataError(  # only a dict's part gets here: one y is turned into ids first
                f"{name} holds one-hot rows {array.shape}; tunekit takes one-hot labels as one "
                "y, not as one output of a dict y yet. Give that output its class ids "
                f"(np.argmax({name}, axis=1)) and compile it with "
                'loss="sparse_categorical_crossentropy".'
            )
        raise DataError(
            f"{name} has shape {array.shape} and only whole-number values, but its rows are "
            "not one-hot (exactly one 1 per row, as keras.utils.to_categorical makes them, "
            "which are taken as classes): pass task= to say what it is. "
            f'{array.shape[1]} regression targets per sample: task="regression". Multi-label '
            "targets (several 1s per row) have no classification report in tunekit: "
            'task="regression" tunes them as that many targets (any loss your model '
            "compiles, e.g. binary_crossentropy), scored by MSE and R\u00b2."
        )
    values = np.unique(finite)
    is_ids = 2 <= values.size <= MAX_FLOAT_CLASS_IDS and np.array_equal(
        values, np.arange(values.size)
    )
    if is_ids:
        if values.size > 2 and warn:  # 0.0/1.0: a binary label; 0.0..4.0: or a count?
            warn_data(float_ids_note(name, values))
        return CLASSIFICATION
    if values.size == 1:
        from tunekit.data._classes import one_value  # noqa: PLC0415 - it imports this module

        raise DataError(one_value(name, values[0], finite.size))
    consecutive = values.size > 0 and np.array_equal(values, values[0] + np.arange(values.size))
    if 1 <= values.size <= 2 or consecutive:
        # 1.0/2.0 or 1.0..12.0: class labels saved as floats (e.g. by pandas), or a count;
        # either guess can train the wrong model with exit 0.
        shown = _log.listed(values.tolist(), 6, form="{:g}".format, last=True, total="values")
        raise DataError(
            f"{name} holds only the whole numbers {shown}: class labels or a quantity? Pass "
            'task="classification" to take each value as a class '
            '(named by its value), or task="regression" for a quantity.'
        )
    return REGRESSION


def one_hot_ids(y: Any, smoothed: bool = False) -> tuple[np.ndarray, int] | None:
    """`(class ids, width)` if `y` is one-hot rows, else `None`: one array of shape
    `(n, k)`, k >= 2, numeric, every value 0 or 1 and one 1 per row (as
    `keras.utils.to_categorical` makes them); with `smoothed`, any non-empty rows of
    non-negative scores summing to 1 within 1e-3 (label smoothing's `[0.95, 0.05]`).
    The ids are `argmax(y, axis=1)` as int64, `(n,)`; the width `k` is the number of
    classes. A dict, a vector or multi-hot rows (several 1s) give `None`."""
    if y is None or isinstance(y, Mapping):
        return None
    array = np.asarray(y)
    if array.ndim != 2 or array.shape[1] < 2 or array.dtype.kind not in "iubf":
        return None
    ones = array.sum(axis=1)
    if smoothed:  # (not empty rows: no class to say)
        hot = bool(len(array) and np.all(array >= 0) and np.allclose(ones, 1.0, atol=1e-3))
    else:
        hot = bool(np.isin(array, (0, 1)).all() and (ones == 1).all())
    return (np.argmax(array, axis=1).astype(np.int64), int(array.shape[1])) if hot else None


def one_hot_rows(ids: Any, num_classes: Any) -> np.ndarray:
    """Class ids `(n,)` as float32 one-hot rows `(n, num_classes)`, as
    `keras.utils.to_categorical` makes them."""
    return np.eye(int(num_classes or 0), dtype=np.float32)[np.asarray(ids)]


def one_hot_as_ids(
    ys: dict[str, Any], task: str | None, num_classes: int | None = None
) -> tuple[dict[str, Any], int | None]:
    """Replaces one-hot target arrays by class ids; returns them and the one-hot width.

    Args:
        ys: The target arrays by name (e.g. `{"y_train": ..., "y_test": ...}`);
            `None` values are left alone.
        task: The task given, or `None` (inferred later). One-hot rows are
            classification; with `task="regression"` they stay targets.
        num_classes: The number of classes given, or `None`; one-hot rows must
            be that wide.

    Returns:
        `(ys, width)`: the arrays, one-hot ones as int64 ids `(n,)`, and the
        one-hot width (the number of classes), or `None` when none is one-hot.

    Raises:
        DataError: Some arrays are one-hot and others are not, widths differ, or
            they differ from `num_classes`.
    """
    if task == REGRESSION:
        return ys, None
    given = {name: y for name, y in ys.items() if y is not None}
    found = {name: one_hot_ids(y) for name, y in given.items()}
    hot = {name: f for name, f in found.items() if f is not None}
    if not hot:
        return ys, None
    if len(hot) < len(given):
        other = [name for name in given if name not in hot]
        raise DataError(
            f"{', '.join(hot)} hold one-hot labels but {', '.join(other)} do not: give every "
            "split's labels in one form, one-hot rows (keras.utils.to_categorical) or class ids."
        )
    widths = {name: f[1] for name, f in hot.items()}
    if len(set(widths.values())) > 1:
        raise DataError(
            f"The one-hot labels have different widths ({widths}): every split must be "
            "one-hot over the same classes (keras.utils.to_categorical(y, num_classes=K))."
        )
    width = next(iter(widths.values()))
    if num_classes is not None and int(num_classes) != width:
        raise DataError(
            f"The labels are one-hot over {width} classes, but num_classes={num_classes}."
        )
    return {**ys, **{name: f[0] for name, f in hot.items()}}, width


def is_text(y: Any) -> bool:
    """Whether `y` (one array, not a dict) holds text labels: str / bytes, or objects all str."""
    if isinstance(y, Mapping):
        return False
    array = np.asarray(y)
    if array.dtype.kind in "US":
        return True
    return array.dtype.kind == "O" and all(isinstance(v, str) for v in array.ravel().tolist())


def encode_text_labels(
    labels: list[Any], class_names: Any = None, name: str = "y", declared: bool = False
) -> tuple[list[np.ndarray], list[str]]:
    """Text class labels as int64 ids, and the class names (scikit-learn's `LabelEncoder` order).

    Args:
        labels: One or more arrays of text labels (e.g. `[y, y_test]`), shape `(n,)`
            or `(n, 1)`; they share one encoding.
        class_names: The classes in id order, or None for the sorted distinct labels.
        name: How messages name the labels.
        declared: Whether `task="classification"` was given (labels such as `"?"` are
            then classes; see `check_label_texts`).

    Returns:
        One int64 array of ids per input, shape `(n,)`, and the class names.

    Raises:
        DataError: On a label missing from `class_names`, labels of shape `(n, k)`, or
            (with `class_names` None) labels apart only by spaces or case, or a
            missing-value mark such as `"?"` (`_label_text.check_label_texts`).
    """
    texts = [np.asarray(array).astype(str) for array in labels]
    for array in texts:
        if array.ndim > 2 or (array.ndim == 2 and array.shape[1] != 1):
            raise DataError(
                f"{name} holds text labels of shape {array.shape}: class labels must have "
                "shape (n,), one label per sample."
            )
    texts = [array.reshape(-1) for array in texts]
    seen = np.unique(np.concatenate(texts)) if texts else np.array([], dtype=str)
    if class_names is None:
        check_label_texts(seen.tolist(), name, declared)
    names = [str(v) for v in seen] if class_names is None else [str(v) for v in class_names]
    unknown = sorted(set(seen.tolist()) - set(names))
    if unknown:
        raise DataError(
            f"{name} has labels that are not in class_names: {unknown[:5]}. Give every "
            "class a name in class_names, or leave class_names unset to use the sorted labels."
        )
    index = {label: i for i, label in enumerate(names)}
    return [np.array([index[v] for v in array.tolist()], np.int64) for array in texts], names


def text_labels_as_ids(
    y: Any, y_test: Any, class_names: Any, task: str | None
) -> tuple[Any, Any, Any, str | None]:
    """`(y, y_test, class_names, task)` with text labels in `y` encoded as class ids.

    Unchanged unless `y` holds text (see `is_text`): then the labels of `y`
    and `y_test` become ids by `encode_text_labels`, `class_names` the classes
    in id order, and the task classification.

    Raises:
        DataError: On text labels with `task="regression"`, or a label missing
            from `class_names`.
    """
    if not is_text(y):
        return y, y_test, class_names, task
    if task == REGRESSION:
        raise DataError(
            f'task="regression" but y holds text (e.g. {np.asarray(y).ravel().tolist()[0]!r}): '
            "regression needs numeric targets. Leave task= unset (or pass "
            'task="classification") to use the labels as classes.'
        )
    given = [y] if y_test is None else [y, y_test]
    for array, key in zip(given, ("y", "y_test"), strict=False):  # None in y_test: not 'None'
        check_no_missing_labels(np.asarray(array, dtype=object), key)
    ids, names = encode_text_labels(given, class_names, "y / y_test", task == CLASSIFICATION)
    return ids[0], (None if y_test is None else ids[1]), names, CLASSIFICATION


def stacked_targets(targets: list[Any]) -> Any:
    """The targets of every split as one `(n, width)` array, to infer the task from all of
    them (the first split's as given if they are dicts or differ in width or dtype kind)."""
    if any(isinstance(y, Mapping) or np.ndim(y) == 0 for y in targets):
        return targets[0]
    columns = [np.asarray(y).reshape(len(y), -1) for y in targets if len(y)]  # 0: none
    if len({c.shape[1:] for c in columns}) != 1 or len({c.dtype.kind for c in columns}) > 1:
        return targets[0]
    return columns[0] if len(columns) == 1 else np.concatenate(columns)


def infer_tasks(y: Any, name: str, warn: bool = True) -> str:
    """`infer_task` over one array or every output of a dict; the outputs must agree."""
    if not isinstance(y, Mapping):
        return infer_task(y, name, warn=warn)
    tasks = {key: infer_task(value, f"{name}[{key!r}]", warn=warn) for key, value in y.items()}
    if len(set(tasks.values())) > 1:
        raise DataError(
            f"The outputs of {name} mix tasks ({tasks}); one Dataset has one task. "
            'Pass task="regression": it keeps every output\'s values as given (class ids '
            "too, which a sparse crossentropy loss still takes) and splits without strata; "
            'task="classification" would need class ids in every output.'
        )
    return next(iter(tasks.values()), CLASSIFICATION)


def as_targets(y: Any, name: str, task: str) -> np.ndarray:
    """Validates one target array: int64 class ids (classification) or finite float32."""
    if task == CLASSIFICATION:
        array = np.asarray(y)
        if array.dtype.kind == "f" and np.any(np.isfinite(array) & (array != np.round(array))):
            example = next(v for v in array.ravel().tolist() if not float(v).is_integer())
            said = (
                'No task= was passed, so Dataset takes task="classification" (its default),'
                if isinstance(task, _DefaultTask)
                else 'task="classification"'
            )
            raise DataError(
                f"{said} but {name} holds non-integer values (e.g. {example!r}): classification "
                'needs integer class ids. Pass task="regression" (or task=None to infer it from '
                "the targets) for real-valued targets, or map the labels to 0..num_classes-1."
            )
        refuse_text_ids(y, name)  # `Dataset(...)`: its own encoding of every split
        return _as_labels(array, name)
    targets = _as_float32(y, name)
    if targets.ndim > 2:
        raise DataError(
            f"{name} has shape {targets.shape}: regression targets must have shape "
            f"(n,) or (n, k). {TASKS_HINT}"
        )
    _check_finite(targets, name)
    return targets


def map_arrays(value: Any, name: str, convert: Callable[[Any, str], Any]) -> Any:
    """Applies `convert(array, name)` to one array or to every array of a dict."""
    if isinstance(value, Mapping):
        if not value:
            raise DataError(f"{name} is an empty dict; give at least one array.")
        return {str(key): convert(item, f"{name}[{key!r}]") for key, item in value.items()}
    return convert(value, name)


def arrays_of(value: Any) -> list[np.ndarray]:
    """The arrays of one array or of a dict, in key order."""
    return [value[k] for k in sorted(value)] if isinstance(value, Mapping) else [value]


def length(value: Any, name: str) -> int:
    """The number of samples; every array of a dict must have the same first dimension."""
    if not isinstance(value, Mapping):
        return len(value)
    shapes = {key: np.shape(item) for key, item in value.items()}
    lengths = {key: shape[0] for key, shape in shapes.items()}
    if len(set(lengths.values())) > 1:
        first = next(iter(lengths))
        other = next(k for k in lengths if lengths[k] != lengths[first])
        raise DataError(
            f"The arrays of {name} must share their first (sample) dimension: {name}[{first!r}] "
            f"has shape {shapes[first]} but {name}[{other!r}] has shape {shapes[other]}."
        )
    return next(iter(lengths.values()))


def sample_shape(value: Any) -> Shape | dict[str, Shape]:
    """The shape of one sample: a tuple, or a dict of tuples for a dict of arrays."""
    if isinstance(value, Mapping):
        return {key: tuple(item.shape[1:]) for key, item in value.items()}
    return tuple(value.shape[1:])


def take(value: Any, index: Any) -> Any:
    """`value[index]` for one array or for every array of a dict."""
    if isinstance(value, Mapping):
        return {key: item[index] for key, item in value.items()}
    return value[index]


def concatenate(first: Any, second: Any) -> Any:
    """Concatenates two splits along the sample axis, array by array for dicts."""
    if isinstance(first, Mapping):
        return {key: np.concatenate([first[key], second[key]]) for key in first}
    return np.concatenate([first, second])


def readonly(value: Any) -> Any:
    """Read-only views of one array or of every array of a dict."""
    if isinstance(value, Mapping):
        return {key: _readonly(item) for key, item in value.items()}
    return _readonly(value)


def several_outputs(data: Any) -> bool:
    """Whether `data` (a `Dataset` or a `StreamData`) has targets for several outputs (a
    dict `y`, or a stream's list or tuple `y`): scored by Keras's metrics only."""
    if getattr(data, "is_stream", False):
        return bool(data.several_outputs)
    return isinstance(getattr(data, "y_train", None), Mapping)
