"""Labels and the model's loss and metrics agree on the labels' form: class ids or one-hot rows.

Split from `tunekit.steps.check`. Keras's class metrics and losses each take one
form: `sparse_*` ones class ids `(n,)`, the categorical ones (and the
per-element binary ones, on one score per class) one-hot rows `(n, k)`. The
other form gives a wrong number with exit 0 or fails every trial after
training; here it is refused before any training, per output.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

from tunekit.data import CLASSIFICATION, Dataset
from tunekit.data._checks import CATEGORICAL_LABELS
from tunekit.errors import ModelCheckError
from tunekit.steps.metric_reading import label_form_misfit, metric_name
from tunekit.steps.output_checks import WHAT as _WHAT
from tunekit.steps.output_checks import metric_entries, output_part

__all__ = ["check_label_form", "check_metric_label_form"]


def _crossentropy_kind(loss: Any) -> str | None:
    """`"sparse"` or `"categorical"` for Keras's class cross-entropies, else `None`."""
    name = (
        loss
        if isinstance(loss, str)
        else type(loss).__name__
        if isinstance(loss, keras.losses.Loss)
        else getattr(loss, "__name__", "")
    )
    key = str(name).lower().replace("_", "")
    if key.startswith("sparsecategorical"):
        return "sparse"
    if key.startswith("categorical") and "crossentropy" in key:
        return "categorical"
    return None


def check_label_form(model: keras.Model, data: Dataset) -> None:
    """One-hot rows need a categorical loss, class ids a sparse one (one loss, one `y`)."""
    if isinstance(data.y_train, Mapping):
        _check_output_label_forms(model, data.y_train)
        return
    if data.task != CLASSIFICATION:
        return
    kind = _crossentropy_kind(getattr(model, "loss", None))
    if kind == "sparse" and data.label_mode == CATEGORICAL_LABELS:
        raise ModelCheckError(
            f"{_WHAT} is compiled with a sparse categorical cross-entropy, which takes class "
            "ids, but the labels are one-hot rows (keras.utils.to_categorical). Compile it "
            'with loss="categorical_crossentropy", or give the labels as class ids '
            "(np.argmax(y, axis=1))."
        )
    if kind == "categorical" and data.label_mode != CATEGORICAL_LABELS:
        raise ModelCheckError(
            f"{_WHAT} is compiled with a categorical cross-entropy, which takes one-hot rows, "
            'but the labels are class ids. Compile it with loss="sparse_categorical_'
            'crossentropy", or give one-hot labels (keras.utils.to_categorical(y)).'
        )
    check_metric_label_form(model, data.label_mode == CATEGORICAL_LABELS)


def check_metric_label_form(model: keras.Model, one_hot: bool) -> None:
    """Each metric of a one-score-per-class output takes the labels' form (`label_form_misfit`)."""
    try:
        outputs = model.outputs
        config = model.get_compile_config() or {}
    except Exception:  # noqa: BLE001 - subclassed, not built, or compiled unusually: not checked
        return
    if outputs and len(outputs) == 1:
        metrics = [config.get("metrics"), config.get("weighted_metrics")]
        _check_metrics_take(metrics, tuple(outputs[0].shape), one_hot, "")


def _check_output_label_forms(model: keras.Model, y: Mapping[str, Any]) -> None:
    """`_check_metric_label_form` for each output of a model fed a dict of labels.

    An output's labels are class ids when they are whole numbers `(n,)`, one-hot
    rows when they are rows of 0s with one 1; other targets are not judged.
    """
    try:
        outputs, names = list(model.outputs or []), list(model.output_names)
        config = model.get_compile_config() or {}
    except Exception:  # noqa: BLE001 - subclassed, not built, or compiled unusually: not checked
        return
    count = len(outputs)
    if len(names) != count:
        return
    for index, (name, output) in enumerate(zip(names, outputs, strict=True)):
        labels = np.asarray(y[name]) if name in y else None
        if labels is None or labels.dtype.kind not in "iubf":
            continue
        if labels.ndim == 1 and np.array_equal(labels, np.round(labels)):
            one_hot = False
        elif labels.ndim == 2 and np.isin(labels, (0, 1)).all() and (labels.sum(1) == 1).all():
            one_hot = True
        else:
            continue
        metrics = [
            output_part(config.get(key), name, index, count)
            for key in ("metrics", "weighted_metrics")
        ]
        _check_metrics_take(metrics, tuple(output.shape), one_hot, f" {name!r}")


def _check_metrics_take(metrics: Any, shape: tuple[Any, ...], one_hot: bool, output: str) -> None:
    """Raises `ModelCheckError` for the first of `metrics` that misreads the labels' form."""
    if len(shape) != 2 or not (isinstance(shape[-1], int) and shape[-1] > 1):
        return
    for metric in metric_entries(metrics):
        if (misfit := label_form_misfit(metric, one_hot)) is None:
            continue
        other = (
            "class ids (np.argmax(y, axis=1))"
            if one_hot
            else ("one-hot rows (keras.utils.to_categorical(y))")
        )
        raise ModelCheckError(
            f"{_WHAT} {'has an output' + output + ' of' if output else 'outputs'} one score "
            f"per class, and its metric {metric_name(metric)!r} {misfit[0]}: the score "
            "reported for it would be wrong, or every trial would fail after training. "
            f"Compile it with {misfit[1]}, or give the labels as {other}."
        )
