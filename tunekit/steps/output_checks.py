"""What the check before training asks of a model's outputs, so its scores mean what they say.

Split from `tunekit.steps.check`: the checks that need the output shape
(known once a lazily built model has been called on samples).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras

from tunekit.data import REGRESSION, Dataset, StreamData
from tunekit.errors import ModelCheckError
from tunekit.outputs import uses_logits

__all__ = ["WHAT", "check_logit_accuracy", "check_scorable_uncompiled"]

WHAT = "`hypermodel` (built with its default hyperparameters) builds a model that"
# Keras's names for the accuracy that thresholds one unit's output at 0.5.
_BINARY_ACCURACY = {"accuracy", "acc", "binary_accuracy", "BinaryAccuracy"}


def check_logit_accuracy(model: keras.Model, shape: tuple[int | None, ...]) -> None:
    if not (len(shape) == 1 or shape[-1:] == (1,)) or uses_logits(model) is not True:
        return
    try:
        config = model.get_compile_config() or {}
    except Exception:  # noqa: BLE001 - a model compiled in an unusual way: not checked
        return
    metrics = [config.get("metrics"), config.get("weighted_metrics")]
    for metric in _metric_entries(metrics):
        if isinstance(metric, str):
            name, threshold = metric, 0.5
        elif isinstance(metric, Mapping):  # a serialized metric object
            name = str(metric.get("class_name", ""))
            threshold = (metric.get("config") or {}).get("threshold", 0.5)
        else:
            name, threshold = type(metric).__name__, getattr(metric, "threshold", 0.5)
        if name in _BINARY_ACCURACY and threshold != 0.0:
            raise ModelCheckError(
                f"{WHAT} outputs one logit (its loss has from_logits=True, or names no "
                f"from_logits and its last layer is linear), but its metric {name!r} "
                "thresholds the output at "
                f"{threshold}, as for a probability: the accuracy the search ranks trials "
                "by would count the wrong samples as correct. Compile it with "
                "metrics=[keras.metrics.BinaryAccuracy(threshold=0.0, name='accuracy')], "
                "or give the last layer activation='sigmoid' and the loss from_logits=False."
            )


def check_scorable_uncompiled(
    model: keras.Model,
    shape: tuple[int | None, ...] | None,
    data: Dataset | StreamData,
    what: str = WHAT,
) -> None:
    """A model never compiled is scored from its predictions: they must say what they mean.

    Without a loss, nothing says whether one output unit is a logit (class 1
    above 0) or a probability (above 0.5) unless it ends in a sigmoid; and a
    model with several outputs has nothing to score them by. Either would
    give a test accuracy that may be wrong, after the whole search.
    """
    try:
        outputs = len(model.outputs or [])
    except (AttributeError, ValueError):  # a lazily built or subclassed model
        outputs = 1
    if outputs > 1 or isinstance(getattr(data, "y_train", None), Mapping):
        raise ModelCheckError(
            f"{what} has several outputs and is not compiled (the hypermodel's own fit "
            "trains it without compile): tunekit would have no metric to score its test set "
            "by. Compile the model in build() with its losses and metrics; your fit may "
            "still train it its own way."
        )
    if data.task == REGRESSION or shape is None or not (len(shape) == 1 or shape[-1:] == (1,)):
        return
    layers = getattr(model, "layers", None) or []
    activation = getattr(layers[-1], "activation", None) if layers else None
    name = getattr(activation, "__name__", None)
    if name != "sigmoid":
        raise ModelCheckError(
            f"{what} outputs one unit per sample and is not compiled (the hypermodel's own "
            f"fit trains it without compile), and its last layer's activation is {name!r}: "
            "without a loss, nothing says whether that unit is a logit (class 1 above 0) or "
            "a probability (class 1 above 0.5), so its test accuracy could be wrong. Give the "
            "last layer activation='sigmoid', or compile the model in build() with its loss "
            "(keras.losses.BinaryCrossentropy(from_logits=True) for a logit); your fit may "
            "still train it its own way."
        )


def _metric_entries(metrics: Any) -> list[Any]:
    """The metrics of a compile config: names, serialized metrics or objects, flat."""
    if metrics is None:
        return []
    if isinstance(metrics, (list, tuple)):
        return [m for item in metrics for m in _metric_entries(item)]
    if isinstance(metrics, Mapping) and "class_name" not in metrics:  # one list per output
        return [m for item in metrics.values() for m in _metric_entries(item)]
    return [metrics]
