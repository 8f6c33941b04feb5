"""Class labels given by value: whole numbers other than the ids `0..K-1`, and bools.

One rule for every loader (`Dataset.from_arrays`, `load_npz`, `load_csv`, and so
the command line's `--data`): with `task="classification"` each distinct whole
number is a class named by its value (ids in sorted order, over every split, as
text labels are); with the task left to infer, integers that are not the ids
`0..K-1` are refused naming both tasks (classes, or a quantity?). Bools are the
classes `"False"` and `"True"`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tunekit import _log
from tunekit.data import _targets as tg
from tunekit.data._checks import (
    CATEGORICAL_LABELS,
    CLASSIFICATION,
    INT_LABELS,
    REGRESSION,
)
from tunekit.data._float32 import merged_column
from tunekit.data._label_text import refuse_mixed_labels
from tunekit.data._real import objects_as_numbers, refuse_bools_beside_numbers
from tunekit.data._soft_labels import refuse_soft_labels
from tunekit.errors import DataError

BOOL_NAMES = ("False", "True")
# What else a `from_arrays` user can do with integer labels that are not the ids 0..K-1.
_IDS_FIX = "; or num_classes=K if they are the ids of K classes, some with no samples here"


def arrays_labels(
    y: Any, y_test: Any, task: str | None, num_classes: int | None, class_names: Any
) -> tuple[Any, Any, str, int | None, Any, str]:
    """`Dataset.from_arrays`'s labels as the Dataset takes them, and the task.

    One-hot rows become class ids (their width the number of classes), text
    labels ids in sorted order (`tunekit.data._targets.text_labels_as_ids`),
    bools and whole numbers other than the ids `0..K-1` classes by value
    (`value_classes`); the task, unless given, is inferred from `y` and
    `y_test` together.

    Returns:
        `(y, y_test, task, num_classes, class_names, label_mode)`.

    Raises:
        DataError: As `value_classes`, `one_hot_as_ids`, `text_labels_as_ids`
            and `infer_task` do.
    """
    refuse_mixed_labels(y, "y")
    refuse_mixed_labels(y_test, "y_test")
    refuse_bools_beside_numbers({"y": y, "y_test": y_test})
    y, y_test, class_names, num_classes = _categorical_ids(
        y, y_test, class_names, num_classes, task
    )
    hot, width = tg.one_hot_as_ids({"y": y, "y_test": y_test}, task, num_classes)
    refuse_soft_labels({} if width else {"y": y, "y_test": y_test}, task)
    label_mode = INT_LABELS if width is None else CATEGORICAL_LABELS
    if width is not None:  # one-hot rows: classes, kept as ids; the model gets rows
        y, y_test, task, num_classes = hot["y"], hot["y_test"], CLASSIFICATION, width
    text = tg.is_text(y)  # its ids are classes as they are, as one-hot rows' are
    y, y_test, class_names, task = tg.text_labels_as_ids(y, y_test, class_names, task)
    name = "y" if y_test is None else "y / y_test"
    found = None
    if not text:
        found = value_classes(
            [y] if y_test is None else [y, y_test],
            task,
            class_names=class_names,
            num_classes=num_classes,
            name=name,
            fix="" if _negative(y, y_test) else _IDS_FIX,  # -1: no K makes it an id
        )
    if found is not None:  # bools, or whole numbers named by their values (3..8)
        (y, *rest), class_names, task = found[0], found[1], CLASSIFICATION
        y_test = rest[0] if rest else None
    both = y if y_test is None else tg.stacked_targets([y, y_test])
    named = class_names is not None or num_classes is not None  # classes said: no guess
    task = tg.check_task(task) or tg.infer_tasks(both, name, warn=not named)
    return y, y_test, task, num_classes, class_names, label_mode


def _negative(*labels: Any) -> bool:
    """Whether any of `labels` (arrays; a dict or `None` is not looked at) holds a number
    below 0."""
    arrays = [np.asarray(v) for v in labels if v is not None and not isinstance(v, Mapping)]
    return any(a.dtype.kind in "iuf" and bool((a < 0).any()) for a in arrays)


def _categorical_ids(
    y: Any, y_test: Any, class_names: Any, num_classes: int | None, task: str | None
) -> tuple[Any, Any, Any, int | None]:
    """A pandas categorical `y` (a `Series` of dtype `category`, or a `Categorical`) as its
    codes: the class ids in the order of its categories (an ordered `low < mid < high`
    is ids 0, 1, 2, not the sorted text's), named by them unless `class_names` is given,
    `num_classes` the number of categories (a category without samples is a class, as its
    dtype says). `y_test` is read with the same categories. Anything else, a categorical
    with a missing value or a `y_test` holding a value that is not one of the categories,
    as given: the checks say what. With `task="regression"`, its values as numbers.
    """
    import pandas as pd  # noqa: PLC0415 - pandas is slow to import

    if not isinstance(getattr(y, "dtype", None), pd.CategoricalDtype) or num_classes is not None:
        return y, y_test, class_names, num_classes
    if task == REGRESSION:  # the categories' values, as `objects_as_numbers` reads objects
        values = [
            v if v is None else objects_as_numbers(np.asarray(v, object), task=task)
            for v in (y, y_test)
        ]
        return values[0], values[1], class_names, num_classes
    categories = y.dtype.categories
    with warnings.catch_warnings():  # pandas' FutureWarning on a value not a category
        warnings.simplefilter("ignore", FutureWarning)
        codes = [
            pd.Categorical(v, categories=categories).codes for v in (y, y_test) if v is not None
        ]
    if any((c < 0).any() for c in codes):
        return y, y_test, class_names, num_classes
    names = class_names if class_names is not None else [str(c) for c in categories]
    test = codes[1].astype(np.int64) if y_test is not None else None
    return codes[0].astype(np.int64), test, names, len(categories)


def value_classes(
    labels: Sequence[Any],
    task: str | None,
    *,
    class_names: Sequence[Any] | None = None,
    num_classes: int | None = None,
    name: str = "y",
    fix: str = "",
) -> tuple[list[np.ndarray], list[str]] | None:
    """The labels of every split as class ids named by their values, or None to leave them.

    Args:
        labels: The label arrays of every split (e.g. `[y, y_test]`), each of
            shape `(n,)` or `(n, 1)`; they share one encoding, so a value only
            `y_test` holds is a class too.
        task: `"classification"`, `"regression"` or None (inferred later).
        class_names: Names given for the classes: with value labels, one per
            distinct value, in sorted order of the values.
        num_classes: The number of classes given: the labels are then ids as
            they are (classes without samples), and left alone.
        name: How messages name the labels.
        fix: Ends the refusal (what else this entry point's user can do).

    Returns:
        None (leave the labels as given: regression, `num_classes` given, a dict,
        rows `(n, k)`, text, real values, or labels that are already the ids
        `0..K-1`); else one int64 id array `(n,)` per input and the class names:
        `["False", "True"]` for bools, the values (e.g. `"3"` .. `"8"`) for whole
        numbers with `task="classification"`.

    Raises:
        DataError: Integer labels that are not the ids `0..K-1` with `task=None`
            (whole-number floats are left to `infer_task`), or `class_names` of
            another length than the distinct values.
    """
    if task == REGRESSION or num_classes is not None or not labels:
        return None
    if any(isinstance(y, Mapping) for y in labels):
        return None
    arrays = [np.asarray(y) for y in labels]
    if any(a.ndim != 1 and a.shape[1:] != (1,) for a in arrays):
        return None
    arrays = [a.reshape(-1) for a in arrays]
    kinds = {a.dtype.kind for a in arrays}
    if kinds == {"b"}:
        if class_names is not None:
            return None  # ids 0 / 1 with the names given
        return [a.astype(np.int64) for a in arrays], list(BOOL_NAMES)
    if not kinds <= set("iuf"):
        return None
    values = np.unique(np.concatenate(arrays))
    if not values.size or not np.all(np.isfinite(values)):
        return None  # no labels, or NaN / inf: refused by the label checks
    if np.any(values != np.round(values)) or np.array_equal(values, np.arange(values.size)):
        return None  # real values (regression or refused), or already class ids
    if task != CLASSIFICATION:
        if kinds <= set("iu"):
            raise DataError(value_labels_refusal(name, values, fix, np.concatenate(arrays)))
        return None  # whole-number floats: `infer_task` decides or refuses as ambiguous
    names = [str(int(v)) for v in values.tolist()]
    if class_names is not None:
        if len(class_names) != len(names):
            raise DataError(
                f"Got {len(class_names)} class_names for the {len(names)} distinct labels "
                f"{_shown(values)} of {name}: give one name per distinct label, in sorted "
                f"order of the labels{fix}."
            )
        names = [str(c) for c in class_names]
    ids = [np.searchsorted(values, a).astype(np.int64) for a in arrays]
    return ids, names


#: Said of negative class ids: the rows a loss's `ignore_class=-1` leaves out, which a run
#: cannot take (its splits, class weights and test report count every row).
IGNORED_ROWS = (
    " If they mark rows to leave out (a loss's ignore_class=-1), drop those rows instead: "
    "ignore_class gives them no loss, so the model learns the same from the rest, while "
    "tunekit's splits, class weights and test report count every row as a class."
)


def dropped_rows_fix(name: str) -> str:
    """`IGNORED_ROWS` with the arrays' way to drop them; for one output of several (`name`
    `"y['digit']"`), whose other outputs' labels those rows keep, `task="regression"`."""
    if name.endswith("]"):
        return (
            " If they mark rows a loss's ignore_class=-1 leaves out of this output, whose "
            "other outputs' labels those rows keep, pass task='regression': each output's "
            "targets then reach the model as given, and Keras's losses and metrics score them "
            "(its accuracy metrics do not skip those rows: they count there as misses)."
        )
    return f"{IGNORED_ROWS} E.g. keep = y >= 0; x, y = x[keep], y[keep]."


def value_labels_refusal(name: str, values: np.ndarray, fix: str = "", labels: Any = None) -> str:
    """The message refusing whole-number labels other than the ids `0..K-1` (task unset):
    `values` the distinct labels, `labels` all of them (`(n,)`). Labels float32 would merge
    as a quantity (timestamps: `merged_column`) say so here, so that the regression this
    suggests is not refused in a second step."""
    if values.size == 1:  # one value: neither suggestion would help (probe C)
        return one_value(name, values[0], None if labels is None else np.size(labels))
    found = None if labels is None else merged_column(labels, labels.astype(np.float32))
    quantity = (
        "task='regression' if they are a quantity (a count, an age)"
        if found is None
        else "if they are a quantity (a timestamp, a count), task='regression' after "
        "subtracting an offset from every value (e.g. offset = y.min(), then y - offset; "
        "add it back to the predictions): float32, in which Keras trains, cannot keep them "
        f"apart as they are ({found[1]} distinct values become {found[2]})"
    )
    return (
        f"{name} holds the whole numbers {_shown(values)}, not the class ids "
        f"0..{values.size - 1}: pass task='classification' to take "
        f"each value as a class (named by its value), or {quantity}{fix}."
        + (dropped_rows_fix(name) if values.min() < 0 else "")
    )


def one_value(name: str, value: Any, count: int | None, class_name: Any = None) -> str:
    """The refusal of labels or targets of one value throughout (`count` of them; `value`
    a number, the class id of `class_name` when one is given): one class, or a constant
    quantity. Said alike whether the task is known or not: asking "classes or a quantity?"
    (or suggesting task='regression' for one class) would lead to a second refusal."""
    every = "" if count is None else f"all {count} are "
    shown = f"{value:g}" if class_name is None else f"{class_name!r}, class {value:g}"
    return (
        f"{name} holds one value only ({every}{shown}): one class, or a constant quantity. "
        "Classification needs two or more distinct labels, and a constant target teaches a "
        "model nothing; check that it is the target you meant."
    )


def _shown(values: np.ndarray) -> str:
    """Sorted distinct values for a message: all of them, or the first six, then the last
    and the count when that leaves some out."""
    return _log.listed(values.tolist(), 6, form=lambda v: str(int(v)), last=True, total="values")


def class_ending(num_classes: int | None, one_hot: bool, ys: Sequence[Any]) -> str:
    """How a summary of classification data ends: `"10 classes"` (`" (one-hot labels)"`),
    or for a dict `y` (`ys`: every split's) each output's own, by its largest class id
    over the splits (a dict's ids are kept as given): `"several outputs: 'digit' 10
    classes, 'odd' 2 classes"`; the largest over the outputs said "10 classes" of both."""
    if not isinstance(ys[0], Mapping):
        return f"{num_classes} classes" + (" (one-hot labels)" if one_hot else "")
    parts = []
    for name in ys[0]:
        arrays = [np.asarray(y[name]) for y in ys if isinstance(y, Mapping) and name in y]
        if all(a.ndim == 1 or a.shape[1:] == (1,) for a in arrays):
            largest = int(max(a.max() for a in arrays if a.size))
            parts.append(f"{name!r} {_log.count(largest + 1, 'class', plural='classes')}")
        else:
            parts.append(f"{name!r} {_log.count(arrays[0].shape[-1], 'column')}")
    return "several outputs: " + ", ".join(parts)


def missing_classes(data: Any) -> list[str]:
    """`Dataset.classes_missing_from_training` of a classification `data`."""
    seen = set(np.unique(np.concatenate(tg.arrays_of(data.y_train))).tolist())
    other = np.unique(np.concatenate([*tg.arrays_of(data.y_val), *tg.arrays_of(data.y_test)]))
    names = list(data.class_names or ())
    return [names[c] for c in other.tolist() if c not in seen]
