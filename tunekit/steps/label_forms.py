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
from tunekit.data._targets import one_hot_ids
from tunekit.errors import ModelCheckError
from tunekit.hypermodel_kinds import own_fit
from tunekit.loss_reading import keras_loss_key
from tunekit.outputs import loss_takes_rows
from tunekit.steps.metric_reading import label_form_misfit, metric_name
from tunekit.steps.output_checks import WHAT as _WHAT
from tunekit.steps.output_checks import outputs_and_compile

__all__ = [
    "check_label_form",
    "check_loss_form",
    "check_metric_label_form",
    "check_output_label_forms",
    "loss_key",
]


def loss_key(loss: Any) -> str:
    """The Keras loss's name, lower case without underscores:
    `"sparsecategoricalcrossentropy"`; `""` for a loss of the user's own
    (`tunekit.loss_reading.keras_loss_key`)."""
    return keras_loss_key(loss)


def _crossentropy_kind(loss: Any) -> str | None:
    """`"sparse"` or `"categorical"` for Keras's class cross-entropies, else `None`."""
    key = loss_key(loss)
    if key.startswith("sparsecategorical"):
        return "sparse"
    if key.startswith("categorical") and "crossentropy" in key:
        return "categorical"
    return None


def check_label_form(model: keras.Model, data: Dataset, hypermodel: Any = None) -> None:
    """One-hot rows need a categorical loss, class ids a sparse one (one loss, one `y`).

    A `hypermodel` with a `fit` of its own may one-hot encode the class ids itself
    (`keras.utils.to_categorical(y)`), as plain KerasTuner lets it: its loss is not
    judged, the test set is scored in the form the loss takes (`tunekit.outputs.
    loss_takes_rows`, probed here on the training samples) and the metrics must take it.
    """
    if isinstance(data.y_train, Mapping):
        check_output_label_forms(model, data.y_train)
        return
    if data.task != CLASSIFICATION:
        return
    if hypermodel is not None and own_fit(hypermodel):
        try:
            rows = loss_takes_rows(hypermodel, model, data, data.x_train, data.y_train)
        except Exception:  # noqa: BLE001 - a model that cannot run here: its trials say why
            return
        own = bool(rows) and data.label_mode != CATEGORICAL_LABELS  # the fit one-hot encodes
        check_metric_label_form(
            model,
            rows or data.label_mode == CATEGORICAL_LABELS,
            "class ids in your hypermodel's fit (no keras.utils.to_categorical there) with a "
            'sparse loss ("sparse_categorical_crossentropy")'
            if own
            else None,
        )
        return
    check_loss_form(model, data.label_mode == CATEGORICAL_LABELS)
    check_metric_label_form(model, data.label_mode == CATEGORICAL_LABELS)


def check_loss_form(model: keras.Model, one_hot: bool) -> None:
    """A model of one loss takes the labels' form: a sparse categorical cross-entropy class
    ids, a categorical one one-hot rows (`one_hot`: the labels are one-hot rows).

    Raises:
        ModelCheckError: Naming the loss, the labels' form and both fixes.
    """
    kind = _crossentropy_kind(getattr(model, "loss", None))
    if kind == "sparse" and one_hot:
        raise ModelCheckError(
            f"{_WHAT} is compiled with a sparse categorical cross-entropy, which takes class "
            "ids, but the labels are one-hot rows (keras.utils.to_categorical). Compile it "
            'with loss="categorical_crossentropy" (tunekit\'s hypermodels: pass '
            'label_mode="categorical"), or give the labels as class ids '
            "(np.argmax(y, axis=1))."
        )
    if kind == "categorical" and not one_hot:
        raise ModelCheckError(
            f"{_WHAT} is compiled with a categorical cross-entropy, which takes one-hot rows, "
            'but the labels are class ids. Compile it with loss="sparse_categorical_'
            'crossentropy" (tunekit\'s hypermodels: label_mode="int", the default), or give '
            "one-hot labels (keras.utils.to_categorical(y))."
        )


def check_metric_label_form(model: keras.Model, one_hot: bool, other: str | None = None) -> None:
    """Each metric of a one-score-per-class output takes the labels' form (`label_form_misfit`);
    `other` says how to give the labels in the other form (default: convert them)."""
    if len(parts := outputs_and_compile(model)) == 1:
        _, output, _, metrics, _ = parts[0]
        _check_metrics_take(metrics, tuple(output.shape), one_hot, "", other)


def check_output_label_forms(model: keras.Model, y: Mapping[str, Any]) -> None:
    """`check_metric_label_form`, and the loss's form, for each output fed a dict of labels.

    An output's labels are class ids when they are whole numbers `(n,)`, one-hot
    rows when `one_hot_ids` says so; other targets are not judged.
    """
    for name, output, loss, metrics, _ in outputs_and_compile(model):
        labels = np.asarray(y[name]) if name in y else None
        if labels is None or labels.dtype.kind not in "iubf":
            continue
        if labels.ndim == 1 and np.array_equal(labels, np.round(labels)):
            one_hot = False
        elif one_hot_ids(labels) is not None:
            one_hot = True
        else:
            continue
        kind = _crossentropy_kind(loss)
        if kind is not None and (kind == "sparse") == one_hot:
            takes, given, fix = (
                ("class ids", "one-hot rows", '"categorical_crossentropy"')
                if one_hot
                else ("one-hot rows", "class ids", '"sparse_categorical_crossentropy"')
            )
            raise ModelCheckError(
                f"{_WHAT} has an output {name!r} compiled with a {kind} categorical "
                f"cross-entropy, which takes {takes}, but its labels are {given}: every "
                f"trial would fail, or score wrongly. Compile it with {{{name!r}: {fix}}}."
            )
        _check_metrics_take(metrics, tuple(output.shape), one_hot, f" {name!r}")


def _check_metrics_take(
    metrics: list[Any], shape: tuple[Any, ...], one_hot: bool, output: str, other: str | None = None
) -> None:
    """Raises `ModelCheckError` for the first of `metrics` (flat) that misreads the labels' form."""
    if len(shape) != 2 or not (isinstance(shape[-1], int) and shape[-1] > 1):
        return
    for metric in metrics:
        if (misfit := label_form_misfit(metric, one_hot)) is None:
            continue
        other = other or (
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
