"""Class weights for imbalanced classification (scikit-learn's `compute_class_weight`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from tunekit.data import _targets as tg
from tunekit.data._checks import REGRESSION, _as_labels
from tunekit.data.dataset import Dataset
from tunekit.errors import DataError

__all__ = ["CLASS_WEIGHT_MODES", "class_weights"]

CLASS_WEIGHT_MODES = ("balanced",)


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
        mode: `"balanced"`, Keras's own `{class id: weight}` (every class it
            does not name weighs 1.0), or None for no weighting. Defaults to
            `"balanced"`.

    Returns:
        `{class_id: weight}` (plain ints and floats, as `model.fit` takes them),
        or None.

    Raises:
        DataError (a `ValueError`): For regression targets or a regression
            `Dataset` (no classes to weigh), several outputs (a dict `y`; Keras
            takes `class_weight` for one output only), a `StreamData` without
            `labels=`, an unknown `mode`, or a dict naming a class id the
            data does not have.

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
    task: str | None
    if getattr(y, "is_stream", False):  # a StreamData: weighed by its labels, if given
        task, num_classes = y.task, y.num_classes
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
        task, num_classes, y = y.task, y.num_classes, y.y_train
    else:
        task = None if isinstance(y, Mapping) else tg.infer_task(y, "y")
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
        return _given_weights(mode, labels, num_classes)
    from sklearn.utils.class_weight import compute_class_weight

    present = np.unique(labels)
    weights = compute_class_weight(mode, classes=present, y=labels)
    size = max(int(present.max()) + 1, num_classes or 0)
    result = {i: 1.0 for i in range(size)}
    result.update({int(c): float(w) for c, w in zip(present, weights, strict=True)})
    return result


def _given_weights(
    given: Mapping[Any, float], labels: np.ndarray, num_classes: int | None
) -> dict[int, float]:
    """Keras's `{class id: weight}` as given, every other class of the data at weight 1."""
    size = max(int(labels.max()) + 1, num_classes or 0)
    weights = {int(k): float(w) for k, w in given.items()}
    unknown = sorted(k for k in weights if k >= size)
    if unknown:
        raise DataError(
            f"class_weight names class(es) {unknown}, and the data's classes are 0..{size - 1}: "
            "key the weights by class id (the labels' values, or their index in class_names)."
        )
    return {i: weights.get(i, 1.0) for i in range(size)}
