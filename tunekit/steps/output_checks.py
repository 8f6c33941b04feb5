"""What the check before training asks of a model's outputs, so its scores mean what they say.

Split from `tunekit.steps.check`: the checks that need the output shape
(known once a lazily built model has been called on samples).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

from tunekit.data import REGRESSION, Dataset, StreamData
from tunekit.errors import ModelCheckError
from tunekit.outputs import model_output_shape, uses_logits

__all__ = [
    "WHAT",
    "check_built_model",
    "check_output_logits",
    "check_logit_accuracy",
    "check_scorable_uncompiled",
    "model_sample",
]

WHAT = "`hypermodel` (built with its default hyperparameters) builds a model that"
# Keras's metrics that read one unit's output as a probability unless told otherwise, by
# kind: what they do with it, and the keyword that makes them read a logit.
_BINARY_ACCURACY = {"accuracy", "acc", "binary_accuracy", "BinaryAccuracy"}
_THRESHOLDS = {  # `thresholds=None` means 0.5
    "precision": "Precision",
    "recall": "Recall",
    "Precision": "Precision",
    "Recall": "Recall",
    "TruePositives": "TruePositives",
    "FalsePositives": "FalsePositives",
    "TrueNegatives": "TrueNegatives",
    "FalseNegatives": "FalseNegatives",
}
_THRESHOLD = {"BinaryIoU"}  # `threshold=`
_FROM_LOGITS = {
    "auc": "AUC",
    "AUC": "AUC",
    "binary_crossentropy": "BinaryCrossentropy",
    "BinaryCrossentropy": "BinaryCrossentropy",
    "BinaryFocalCrossentropy": "BinaryFocalCrossentropy",
}
# Read class ids (a float cast to an integer, out-of-range values dropped) or take the argmax
# over one unit (always class 0): wrong on one unit, logit or probability.
_CLASS_IDS = {"IoU", "MeanIoU", "OneHotIoU", "OneHotMeanIoU"}
# Sweep thresholds over [0, 1], or take one in (0, 1] only: no keyword makes them read a logit.
_PROBABILITY_ONLY = {
    "F1Score",
    "FBetaScore",
    "PrecisionAtRecall",
    "RecallAtPrecision",
    "SensitivityAtSpecificity",
    "SpecificityAtSensitivity",
}


# Read one unit wrong whatever it holds: exact equality with the label (`Accuracy`), the
# argmax over one unit (class 0 for every sample), or 2-D labels where tunekit's are ids.
_ONE_UNIT_WRONG = {
    "F1Score": "needs 2-D labels (Keras's F1Score), where the labels are class ids (n,)",
    "FBetaScore": "needs 2-D labels (Keras's FBetaScore), where the labels are class ids (n,)",
    "Accuracy": "compares the output with the label for exact equality",
    "SparseCategoricalAccuracy": "takes the argmax over one unit (class 0 for every sample)",
    "sparse_categorical_accuracy": "takes the argmax over one unit (class 0 for every sample)",
    "CategoricalAccuracy": "takes the argmax over one unit (class 0 for every sample)",
    "categorical_accuracy": "takes the argmax over one unit (class 0 for every sample)",
    "TopKCategoricalAccuracy": "takes the top classes over one unit",
    "top_k_categorical_accuracy": "takes the top classes over one unit",
    "SparseTopKCategoricalAccuracy": "takes the top classes over one unit",
    "sparse_top_k_categorical_accuracy": "takes the top classes over one unit",
}


def _name_and_config(metric: Any) -> tuple[str, dict[str, Any]]:
    """A metric's Keras name (or its string) and its config, however it was given.

    A subclass of a Keras metric (`class MyAcc(keras.metrics.BinaryAccuracy)`)
    goes by the Keras class it reads the output as; a function (Keras's
    `binary_accuracy`, or one of yours) by its name.
    """
    if isinstance(metric, str):
        return metric, {}
    if isinstance(metric, Mapping):  # a serialized metric object, or function (a string)
        config = metric.get("config")
        if isinstance(config, str):
            return config, {}
        cls = getattr(
            sys.modules.get(str(metric.get("module"))), str(metric.get("class_name")), None
        )
        name = _keras_name(cls) if isinstance(cls, type) else str(metric.get("class_name", ""))
        return name, dict(config) if isinstance(config, Mapping) else {}
    if not isinstance(metric, keras.metrics.Metric) and callable(metric):
        return str(getattr(metric, "__name__", "")), {}
    try:
        return _keras_name(type(metric)), dict(metric.get_config())
    except Exception:  # noqa: BLE001 - a metric without a config: its attributes
        return _keras_name(type(metric)), {"threshold": getattr(metric, "threshold", 0.5)}


_KNOWN = {*_BINARY_ACCURACY, *_THRESHOLDS, *_THRESHOLD, *_FROM_LOGITS, *_PROBABILITY_ONLY}


def _keras_name(cls: type) -> str:
    """The name of the first Keras metric class among `cls` and its bases, else `cls`'s."""
    for base in cls.__mro__:
        name = base.__name__
        if base.__module__.startswith("keras.") and (
            name in _KNOWN or name in _ONE_UNIT_WRONG or name in _CLASS_IDS
        ):
            return name
    return cls.__name__


def _thresholds(name: str, config: Mapping[str, Any]) -> list[float] | None:
    """The thresholds a thresholding metric applies to the output, or `None` for others."""
    if name in _BINARY_ACCURACY:
        return [config.get("threshold", 0.5)]
    if name in _THRESHOLDS:
        thresholds = config.get("thresholds")
        return [0.5] if thresholds is None else np.ravel([thresholds]).tolist()
    if name in _THRESHOLD:
        return [config.get("threshold", 0.5)]
    return None


def _fix(name: str, keyword: str) -> str:
    if name in _BINARY_ACCURACY:
        return f"keras.metrics.BinaryAccuracy({keyword}, name='accuracy')"
    if name in _THRESHOLDS:
        return f"keras.metrics.{_THRESHOLDS[name]}({keyword.replace('threshold', 'thresholds')})"
    return f"keras.metrics.{_FROM_LOGITS.get(name, name)}({keyword}, ...)"


def _misreading(metric: Any, logit: bool | None) -> tuple[str, str] | None:
    """`(what a metric does with one output unit, the fix)` when that is wrong for the unit.

    `logit` is `tunekit.outputs.uses_logits`: `True` (a logit, class 1
    above 0), `False` (a probability, class 1 above 0.5) or `None` (unknown:
    only what is wrong for either is said).
    """
    name, config = _name_and_config(metric)
    if name in _ONE_UNIT_WRONG or name in _CLASS_IDS:
        reads = _ONE_UNIT_WRONG.get(name) or (
            "reads it as class ids (IoU casts each value to an integer class and drops "
            "those outside [0, num_classes); the one-hot IoUs take its argmax over one "
            "unit, always class 0)"
        )
        threshold = "threshold=0.0" if logit else "threshold=0.5"
        fix = (
            f"keras.metrics.BinaryIoU(target_class_ids=[0, 1], {threshold})"
            if name in _CLASS_IDS
            else f"keras.metrics.Precision(thresholds={threshold[10:]}), "
            f"keras.metrics.Recall(thresholds={threshold[10:]})"
            if name in ("F1Score", "FBetaScore")
            else f"keras.metrics.BinaryAccuracy({threshold}, name='accuracy')"
        )
        return f"{reads}, which is wrong for one unit", fix
    thresholds = _thresholds(name, config)
    if logit is True:
        if thresholds is not None and any(t != 0.0 for t in thresholds):
            shown = thresholds[0] if len(thresholds) == 1 else thresholds
            return (
                f"thresholds the output at {shown}, as for a probability",
                _fix(name, "threshold=0.0"),
            )
        if name in _FROM_LOGITS and not config.get("from_logits", False):
            return (
                "reads the output as a probability (from_logits=False)",
                f"keras.metrics.{_FROM_LOGITS[name]}(from_logits=True)",
            )
        if name in _PROBABILITY_ONLY:
            return (
                "reads it on [0, 1] as a probability (no setting of it reads a logit)",
                "a metric that takes logits, or none",
            )
    if logit is None and (thresholds is not None or name in _FROM_LOGITS):
        return (
            "reads it as a logit or as a probability (a threshold, or from_logits), but "
            "nothing says which it is",
            "",
        )
    if logit is False:
        if thresholds is not None and any(t <= 0.0 or t >= 1.0 for t in thresholds):
            shown = thresholds[0] if len(thresholds) == 1 else thresholds
            return (
                f"thresholds the output at {shown}, outside (0, 1) where a probability lies, "
                "so every sample counts as one class",
                _fix(name, "threshold=0.5"),
            )
        if name in _BINARY_ACCURACY and thresholds is not None and thresholds != [0.5]:
            return (
                f"counts class 1 above {thresholds[0]}, where the report's classes (its "
                "confusion matrix, intervals and tests) read a probability above 0.5: its "
                "test accuracy would disagree with them",
                _fix(name, "threshold=0.5"),
            )
        if name in _FROM_LOGITS and name not in ("auc", "AUC") and config.get("from_logits"):
            return (
                "applies a sigmoid to the output (from_logits=True), which is already a "
                "probability",
                f"keras.metrics.{_FROM_LOGITS[name]}(from_logits=False)",
            )
    return None


# How the messages name what one output unit holds, by `uses_logits`.
_UNIT = {
    True: "outputs one logit (its loss has from_logits=True, or names no from_logits and "
    "its last layer is linear)",
    False: "outputs one probability (its loss reads probabilities, or its last layer is a sigmoid)",
    None: "outputs one unit per sample",
}


def check_logit_accuracy(
    model: keras.Model, shape: tuple[int | None, ...], what: str = WHAT
) -> None:
    """Refuses a one-unit classifier measured by a metric that reads its unit wrong.

    tunekit reads the unit as a logit or a probability
    (`tunekit.outputs.uses_logits`). Keras's accuracy, precision, recall,
    AUC, cross-entropy and the like read it as a probability unless given
    `threshold=0.0` / `thresholds=0.0` / `from_logits=True`, which in turn
    are wrong for a probability; `Accuracy`, the categorical accuracies and
    the IoUs over class ids are wrong for one unit either way. The search
    would rank trials, and the report print test metrics, by numbers that
    disagree with the report's own classes.

    Raises:
        ModelCheckError (a `ValueError`): Naming the metric and its fix.
    """
    if not (len(shape) == 1 or shape[-1:] == (1,)):
        return
    try:
        config = model.get_compile_config() or {}
    except Exception:  # noqa: BLE001 - a model compiled in an unusual way: not checked
        return
    logit = uses_logits(model)
    metrics = [config.get("metrics"), config.get("weighted_metrics")]
    for metric in _metric_entries(metrics):
        reading = _misreading(metric, logit)
        if reading is None:
            continue
        reads, fix = reading
        if not fix:  # nothing says what the unit holds: the model's author must
            raise ModelCheckError(
                f"{what} {_UNIT[None]}, and nothing says whether that unit is a logit (class "
                "1 above 0) or a probability (above 0.5): its loss is a function of yours "
                "without from_logits, and its layers do not show the output's activation (a "
                "subclassed model's call, or an op after the last layer, may apply a sigmoid). "
                f"Its metric {_metric_name(metric)!r} {reads}, so the search could rank trials "
                "by a wrong count. Say which: give your loss function the attribute "
                "(my_loss.from_logits = True for a logit, False for a probability), or compile "
                "with keras.losses.BinaryCrossentropy(from_logits=...)."
            )
        other = (
            ", or give the last layer activation='sigmoid' and the loss from_logits=False"
            if logit
            else ""
        )
        raise ModelCheckError(
            f"{what} {_UNIT[logit]}, but its metric {_metric_name(metric)!r} {reads}: the "
            "score the search ranks trials by, and the test metric reported, would count the "
            f"wrong samples. Compile it with metrics=[{fix}]{other}."
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


def model_sample(data: Dataset | StreamData) -> Any:
    """Two training samples (a stream's first batch) to call a lazily built model on.

    `None` when `x_train` is not arrays: such a model is then not checked.
    """
    from tunekit.tuners import first_sample

    return data.sample() if isinstance(data, StreamData) else first_sample(data.x_train, 2)


def _metric_entries(metrics: Any) -> list[Any]:
    """The metrics of a compile config: names, serialized metrics or objects, flat."""
    if metrics is None:
        return []
    if isinstance(metrics, (list, tuple)):
        return [m for item in metrics for m in _metric_entries(item)]
    if isinstance(metrics, Mapping) and "class_name" not in metrics:  # one list per output
        return [m for item in metrics.values() for m in _metric_entries(item)]
    return [metrics]


def check_built_model(
    model: Any, what: str, data: Dataset | StreamData, sample: Any = None
) -> tuple[int | None, ...] | None:
    """The output checks on a built model: the defaults' before training, each trial's.

    `what` names the model in messages. The check before training sees the
    default configuration only; a tuned output activation or loss (a linear
    unit with `from_logits=True` among sigmoid ones) makes another model, so
    each trial's is checked too. A model whose output is known only once
    called (no `Input`) is called on `sample` (`model_sample`) when given,
    which builds it as `fit` would; without one it is not checked.

    Returns:
        The model's output shape (`tunekit.outputs.model_output_shape`).

    Raises:
        ModelCheckError (a `ValueError`): As `check_scorable_uncompiled`,
            `check_logit_accuracy` and `check_output_logits`.
    """
    shape = model_output_shape(model, sample)
    if not isinstance(model, keras.Model):
        return shape
    if not getattr(model, "compiled", True):
        check_scorable_uncompiled(model, shape, data, what)
    if shape is not None and data.task != REGRESSION and data.num_classes == 2:
        check_logit_accuracy(model, shape, what)
    check_output_logits(model, what)
    return shape


def _for_output(value: Any, name: str, index: int, count: int) -> Any:
    """A compile setting's part for one of `count` outputs: by name, by position, or all."""
    if isinstance(value, Mapping) and "class_name" not in value:
        return value.get(name)
    if isinstance(value, (list, tuple)) and len(value) == count:
        if all(isinstance(v, (list, tuple)) or v is None for v in value):
            return value[index]  # one list per output (metrics), or one loss per output
    return value


def _reads_logit(loss: Any, output: Any) -> bool:
    """Whether one output unit is a logit: its loss's `from_logits`, else a linear layer."""
    if isinstance(loss, Mapping):
        config = loss.get("config")
        if isinstance(config, Mapping) and "from_logits" in config:
            return bool(config["from_logits"])
        return False  # a loss function of Keras's, by name: probabilities
    if isinstance(loss, str):
        return False
    layer = getattr(getattr(output, "_keras_history", None), "operation", None)
    return getattr(getattr(layer, "activation", None), "__name__", "") == "linear"


def check_output_logits(model: keras.Model, what: str = WHAT) -> None:
    """`check_logit_accuracy` for each one-unit output of a model with several outputs.

    Raises:
        ModelCheckError (a `ValueError`): Naming the output, the metric and its fix.
    """
    try:
        outputs, names = list(model.outputs or []), list(model.output_names)
        config = model.get_compile_config() or {}
    except Exception:  # noqa: BLE001 - not built, or compiled in an unusual way: not checked
        return
    count = len(outputs)
    if count < 2 or len(names) != count:
        return
    for index, (name, output) in enumerate(zip(names, outputs, strict=True)):
        shape = tuple(output.shape)
        if not (len(shape) == 1 or shape[-1:] == (1,)):
            continue
        if not _reads_logit(_for_output(config.get("loss"), name, index, count), output):
            continue
        metrics = [
            _for_output(config.get(key), name, index, count)
            for key in ("metrics", "weighted_metrics")
        ]
        for metric in _metric_entries(metrics):
            if (reading := _misreading(metric, True)) is not None:
                raise ModelCheckError(
                    f"{what} has an output {name!r} of one logit (its loss has "
                    f"from_logits=True, or names none and its layer is linear), but its metric "
                    f"{_metric_name(metric)!r} {reading[0]}: the "
                    "score reported for it (and a search ranked by it) would count the wrong "
                    f"samples. Compile it with {{{name!r}: [{reading[1]}]}}, or give that "
                    "output activation='sigmoid' and its loss from_logits=False."
                )


def _metric_name(metric: Any) -> str:
    if isinstance(metric, str):
        return metric
    if isinstance(metric, Mapping):  # a function's config is its name
        config = metric.get("config")
        return config if isinstance(config, str) else str(metric.get("class_name", ""))
    return type(metric).__name__
