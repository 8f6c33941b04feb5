"""Class weights for imbalanced classification (scikit-learn's `compute_class_weight`)."""

from __future__ import annotations

import numbers
import operator
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from tunekit import _log
from tunekit.data import _targets as tg
from tunekit.data._checks import REGRESSION, _as_labels
from tunekit.data.dataset import Dataset
from tunekit.errors import DataError

__all__ = ["CLASS_WEIGHT_MODES", "class_weights"]

CLASS_WEIGHT_MODES = ("balanced",)


def _refuse_sample_weights(stream: Any) -> None:
    """Refuses class weights for a stream whose batches hold sample weights `(x, y, w)`:
    Keras's fit takes one or the other, and every trial failed ("You cannot `class_weight`
    and `sample_weight` at the same time")."""
    from tunekit.data._stream_batches import weight_structure

    if weight_structure(stream.train) is not None:
        raise DataError(
            "class_weight= with a stream whose batches hold sample weights (x, y, "
            "sample_weight): Keras's fit takes one or the other (every trial would fail: "
            '"You cannot `class_weight` and `sample_weight` at the same time"). Fold the '
            "class weights into the stream's sample weights (w * class_weight[y] in its "
            "map), or leave class_weight= unset."
        )


def class_weights(
    y: Any, mode: str | Mapping[Any, float] | None = "balanced"
) -> dict[int, float] | None:
    """Weights per class for `model.fit(class_weight=...)`, or None when `mode` is None.

    `"balanced"` is scikit-learn's `n_samples / (n_classes * bincount(y))`
    (`sklearn.utils.class_weight.compute_class_weight`), so every class weighs
    as much in the loss as if the classes were equally frequent. For a
    `Dataset` the training split is counted; a class with no training sample
    (or a gap in the ids of a plain array) gets weight 1.0, so Keras finds a
    weight for every id from 0 to the largest.

    Args:
        y: A classification `Dataset`, a `StreamData` given `labels=` (its
            training labels are counted), or integer class ids of shape `(n,)`.
        mode: `"balanced"`, Keras's own `class_weight` dict (every class it
            does not name weighs 1.0), or None for no weighting. Defaults to
            `"balanced"`. A dict's keys, as Keras keys them by the values of
            the `y` it is given: class ids `0..K-1`; the labels themselves when
            a Dataset renumbered whole-number labels by value (labels 1/2 are
            ids 0/1 with `class_names` `"1"`, `"2"`: `{2: 10.0}` weighs the
            label 2, id 1); `False` / `True` for bool labels; or, for any
            classification data, a class name from `class_names` (`{"dog": 10.0}`).

    Returns:
        `{class_id: weight}` (plain ints and floats, as `model.fit` takes them),
        or None.

    Raises:
        DataError (a `ValueError`): For regression targets or a regression
            `Dataset` (no classes to weigh), several outputs (a dict `y`; Keras
            takes `class_weight` for one output only), a `StreamData` without
            `labels=` or with sample weights in its batches, an unknown `mode`,
            or a dict key that names none of the data's classes (the message
            names its labels and a dict keyed right), or two keys naming one
            class.

    Example:
    >>> class_weights(np.array([0] * 95 + [1] * 5))
    {0: 0.5263157894736842, 1: 10.0}
    """
    if mode is None:
        return None
    if not isinstance(mode, Mapping) and mode not in CLASS_WEIGHT_MODES:
        raise DataError(
            f"Unknown class weight mode {mode!r}; choose one of "
            f"{list(CLASS_WEIGHT_MODES)} (or None for no weighting)."
        )
    num_classes: int | None = None
    names: Any = None  # the class names of a Dataset or a stream
    task: str | None
    if getattr(y, "is_stream", False):  # a StreamData: weighed by its labels, if given
        task, num_classes, names = y.task, y.num_classes, y.class_names
        _refuse_sample_weights(y)
        if task != REGRESSION and not y.labels and isinstance(mode, Mapping):
            # Keras's own dict needs no labels: keyed by class id (or name), as given.
            if num_classes is None:
                raise DataError(
                    f"class_weight={dict(mode)!r} on a stream whose number of classes is not "
                    "known: every class needs a weight (Keras fails at the first class id "
                    "its dict does not reach). Pass StreamData(..., num_classes=K) or "
                    "class_names=[...]; the classes the dict does not name weigh 1.0."
                )
            return _given_weights(mode, np.empty(0, np.int64), num_classes, names)
        if task != REGRESSION and not y.labels:
            raise DataError(
                f"class_weight={mode!r} is computed from the training labels, and `data` is "
                "a stream (tf.data or PyDataset) whose labels are not known without reading "
                "it. Pass its labels (StreamData(..., labels={'train': y_train, 'val': "
                "y_val, 'test': y_test})), leave class_weight= unset, or weigh samples in the "
                "stream."
            )
        if task != REGRESSION:
            y = y.labels["train"]
    elif isinstance(y, Dataset):
        task, num_classes, names, y = y.task, y.num_classes, y.class_names, y.y_train
    else:
        task = None if isinstance(y, Mapping) else tg.infer_task(y, "y", warn=False)
    if isinstance(y, Mapping):
        raise DataError(
            "Class weights apply to a model with one output; y is a dict of "
            f"outputs {sorted(y)}. Keras takes class_weight for one output only: "
            "drop the class weights, or weigh samples with sample_weight."
        )
    if task == REGRESSION:
        raise DataError(
            "Class weights are for classification, and this data's task is regression "
            "(set by task=, or inferred from real-valued targets): there are no classes to "
            "weigh. Leave class_weight= unset, or pass task='classification' if the targets "
            "are class ids."
        )
    labels = _as_labels(y, "y")
    if labels.size == 0:
        raise DataError("Cannot compute class weights from an empty y.")
    if isinstance(mode, Mapping):
        return _given_weights(mode, labels, num_classes, names)
    from sklearn.utils.class_weight import compute_class_weight

    present = np.unique(labels)
    weights = compute_class_weight(mode, classes=present, y=labels)
    size = max(int(present.max()) + 1, num_classes or 0)
    result = {i: 1.0 for i in range(size)}
    result.update({int(c): float(w) for c, w in zip(present, weights, strict=True)})
    return result


def _given_weights(
    given: Mapping[Any, float], labels: np.ndarray, num_classes: int | None, names: Any
) -> dict[int, float]:
    """Keras's `class_weight` dict as `{class id: weight}`, every other class at weight 1.

    A key is a class name (str, in `names`); with labels renumbered by value (`names`
    whole numbers other than `"0"`..: labels 1/2 or 3..8), an int is one of those labels,
    as Keras keys `class_weight` by the values of the `y` it is given; else an int is a
    class id. Bools are the labels False / True (`str(key)`), digit strings are ints (a
    dict read back from JSON).
    """
    size = max(int(labels.max()) + 1 if labels.size else 0, num_classes or 0, len(names or ()))
    names = [str(n) for n in names] if names else [str(i) for i in range(size)]
    by_value = _renumbered(names)
    ids: dict[int, Any] = {}
    weights: dict[int, float] = {}
    unknown = []
    for key, weight in given.items():
        class_id = _class_id(key, names, by_value, size)
        if class_id is None:
            unknown.append(key)
        elif class_id in ids:
            raise DataError(
                f"class_weight names one class twice, as {ids[class_id]!r} and {key!r} "
                f"(class {names[class_id]!r}): give each class one weight."
            )
        else:
            ids[class_id], weights[class_id] = key, float(weight)
    if unknown:
        raise DataError(f"class_weight names {unknown}, {_what_keys(names, by_value)}")
    return {i: weights.get(i, 1.0) for i in range(size)}


def _whole_numbers(names: list[str]) -> bool:
    """Whether every class name is a whole number as Python writes it ("3", "-1")."""
    return all(re.fullmatch(r"-?(0|[1-9][0-9]*)", n) for n in names)


def _renumbered(names: list[str]) -> bool:
    """Whether the class names are whole-number labels other than the ids `0..K-1`."""
    try:
        values = [int(n) for n in names]
    except ValueError:
        return False
    return [str(v) for v in values] == names and values != list(range(len(names)))


def _class_id(key: Any, names: list[str], by_value: bool, size: int) -> int | None:
    """The class id a `class_weight` key names, or None when it names none."""
    if isinstance(key, (bool, np.bool_)):
        key = str(bool(key))  # the classes of bool labels are named "False", "True"
    if isinstance(key, (str, np.str_)):
        if str(key) in names:
            return names.index(str(key))
        if not re.fullmatch(r"-?[0-9]+", str(key)) or not _whole_numbers(names):
            return None  # "1" beside text classes ("01", "02") names none of them
        key = int(str(key))  # an id or a label, as JSON writes int keys
    if isinstance(key, numbers.Real) and not isinstance(key, numbers.Integral):
        if not float(key).is_integer():
            return None
        key = int(float(key))
    if not isinstance(key, numbers.Integral):
        return None
    value = operator.index(key)
    if by_value:
        return names.index(str(value)) if str(value) in names else None
    return value if 0 <= value < size else None


def _what_keys(names: list[str], by_value: bool) -> str:
    """What the data's classes are, and a `class_weight` keyed right, for a refusal."""
    if by_value:
        return (
            f"and this data has no such class: its labels are {', '.join(names)} "
            f"(class ids 0..{len(names) - 1}). Key the weights by label, as Keras does, "
            f"e.g. class_weight={{{names[-1]}: 10.0}} (or by class name, {{{names[-1]!r}: 10.0}})."
        )
    if names == ["False", "True"]:
        return (
            "and this data has no such class: its labels are False and True. Key the "
            "weights by label, e.g. class_weight={False: 1.0, True: 10.0}."
        )
    ids = f"class ids 0..{len(names) - 1}"
    if names == [str(i) for i in range(len(names))]:
        return (
            f"and this data has no such class: its classes are the {ids}. Key the "
            f"weights by class id, e.g. class_weight={{{len(names) - 1}: 10.0}}."
        )
    shown = _log.listed(names, 8, form=repr)
    return (
        f"and this data has no such class: its classes are the {ids}, named {shown}. "
        f"Key the weights by class id (its index in class_names), e.g. class_weight="
        f"{{{len(names) - 1}: 10.0}}, or by class name, e.g. {{{names[-1]!r}: 10.0}}."
    )
