"""How a Keras metric reads one output unit: as a logit, a probability, or wrongly either way.

Split from `tunekit.steps.output_checks`: the tables of Keras's metrics and
`misreading`, which says what a metric does wrong with a one-unit output and the fix.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

__all__ = [
    "fails_on_class_ids",
    "label_form_misfit",
    "metric_name",
    "misreading",
    "several_thresholds",
    "vector_result",
]

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
        if isinstance(config, str):  # Keras names every function's module "builtins"
            return (config if _keras_function(config) else ""), {}
        class_name = str(metric.get("class_name", ""))
        cls = getattr(sys.modules.get(str(metric.get("module"))), class_name, None)
        if not isinstance(cls, type):  # a class of a script (module None): by its name
            cls = _metric_class(class_name)
        name = _keras_name(cls) if isinstance(cls, type) else class_name
        return name, dict(config) if isinstance(config, Mapping) else {}
    if not isinstance(metric, keras.metrics.Metric) and callable(metric):
        name = str(getattr(metric, "__name__", ""))
        return (name if _keras_function(name) else ""), {}
    try:
        return _keras_name(type(metric)), dict(metric.get_config())
    except Exception:  # noqa: BLE001 - a metric without a config: its attributes
        return _keras_name(type(metric)), {"threshold": getattr(metric, "threshold", 0.5)}


_KNOWN = {*_BINARY_ACCURACY, *_THRESHOLDS, *_THRESHOLD, *_FROM_LOGITS, *_PROBABILITY_ONLY}


def _keras_function(name: str) -> bool:
    """Whether `name` is one of Keras's metric functions (`binary_accuracy`), not a user's.

    A function of your own is not judged by its name: a `def accuracy(y, p)`
    may read the unit any way it likes.
    """
    function = getattr(keras.metrics, name, None)
    return callable(function) and not isinstance(function, type)


def _metric_class(class_name: str) -> type | None:
    """The subclass of `keras.metrics.Metric` named `class_name` (one defined in a script)."""
    pending = [keras.metrics.Metric]
    while pending:
        cls = pending.pop()
        if cls.__name__ == class_name and cls is not keras.metrics.Metric:
            return cls
        pending.extend(cls.__subclasses__())
    return None


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


def misreading(metric: Any, logit: bool | None) -> tuple[str, str] | None:
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


def metric_name(metric: Any) -> str:
    """How a message names a metric: its string, a function's name or its class name."""
    if isinstance(metric, str):
        return metric
    if isinstance(metric, Mapping):  # a function's config is its name
        config = metric.get("config")
        return config if isinstance(config, str) else str(metric.get("class_name", ""))
    return type(metric).__name__


# Keras's metrics that need labels of the output's rank: `(n,)` class ids against a
# `(n, 1)` output fail every batch ("`target` and `output` must have the same rank").
_SAME_RANK = {"binary_crossentropy", "BinaryCrossentropy"}


def fails_on_class_ids(metric: Any) -> bool:
    """Whether `metric` fails on class-id labels `(n,)` against a `(n, 1)` output."""
    return _name_and_config(metric)[0] in _SAME_RANK


# Keras's metrics that take one-hot label rows, and their twin for class ids (None: none).
_ONE_HOT_ROWS = {
    "CategoricalAccuracy": "keras.metrics.SparseCategoricalAccuracy()",
    "categorical_accuracy": '"sparse_categorical_accuracy"',
    "TopKCategoricalAccuracy": "keras.metrics.SparseTopKCategoricalAccuracy(k=...)",
    "top_k_categorical_accuracy": '"sparse_top_k_categorical_accuracy"',
    "CategoricalCrossentropy": "keras.metrics.SparseCategoricalCrossentropy()",
    "categorical_crossentropy": '"sparse_categorical_crossentropy"',
    "OneHotIoU": "keras.metrics.IoU(num_classes=..., target_class_ids=..., sparse_y_pred=False)",
    "OneHotMeanIoU": "keras.metrics.MeanIoU(num_classes=..., sparse_y_pred=False)",
    "CategoricalFocalCrossentropy": None,
    "categorical_focal_crossentropy": None,
    "CategoricalHinge": None,
    "categorical_hinge": None,
    "F1Score": None,
    "FBetaScore": None,
    "KLDivergence": None,
    "kl_divergence": None,
    "Poisson": None,
    "poisson": None,
}
# Per-element binary metrics compare the labels with each class's score, elementwise: with
# class ids (n,) against (n, k) scores they broadcast or index a sample (`Precision(class_id=3)`
# scored 0.0 where scikit-learn gave 1.0, exit 0), or fail every trial (`AUC`).
_ONE_HOT_ROWS.update(
    dict.fromkeys(
        (
            *_THRESHOLDS,
            *_FROM_LOGITS,
            *_PROBABILITY_ONLY,
            "BinaryAccuracy",
            "binary_accuracy",
            "BinaryIoU",
        ),
        None,
    )
)
# ... and those that take class ids, with their twin for one-hot rows.
_CLASS_ID_LABELS = {
    "SparseCategoricalAccuracy": "keras.metrics.CategoricalAccuracy()",
    "sparse_categorical_accuracy": '"categorical_accuracy"',
    "SparseTopKCategoricalAccuracy": "keras.metrics.TopKCategoricalAccuracy(k=...)",
    "sparse_top_k_categorical_accuracy": '"top_k_categorical_accuracy"',
    "SparseCategoricalCrossentropy": "keras.metrics.CategoricalCrossentropy()",
    "sparse_categorical_crossentropy": '"categorical_crossentropy"',
}


def label_form_misfit(metric: Any, one_hot: bool) -> tuple[str, str] | None:
    """What `metric` does wrong on a one-score-per-class output, given the labels' form.

    Measured on perfect predictions of 3 classes: with class ids,
    `CategoricalAccuracy` scored 0.30 and `OneHotMeanIoU` 0.10 (exit 0),
    `F1Score`, `TopKCategoricalAccuracy` and the categorical cross-entropy
    raised in every trial, and the per-element binary metrics (`Precision`,
    `Recall`, `AUC`, ... with or without `class_id`) compared each class's
    score with the ids (`Precision(class_id=3)` 0.0 where it was 1.0); with
    one-hot rows, the sparse metrics raised; and
    `MeanIoU`/`IoU` without `sparse_y_pred=False` read the scores as class
    ids (0.33 on one-hot rows).

    Args:
        metric: A compiled metric (string, object or its serialized config).
        one_hot: Whether the labels reach the model as one-hot rows `(n, k)`
            (else class ids `(n,)`).

    Returns:
        `(what it does wrong, the fix)`, or `None` if it fits.
    """
    name, config = _name_and_config(metric)
    labels = "one-hot rows" if one_hot else "class ids"
    if name in ("IoU", "MeanIoU"):
        if config.get("sparse_y_pred", True):
            return (
                "reads the model's output as class ids (sparse_y_pred=True), where it is one "
                "score per class",
                f"keras.metrics.{name}(..., sparse_y_pred=False)",
            )
        if bool(config.get("sparse_y_true", True)) == one_hot:
            return (
                f"reads the labels as {'class ids' if one_hot else 'one-hot rows'}, where they "
                f"are {labels}",
                f"keras.metrics.{name}(..., sparse_y_true={not one_hot}, sparse_y_pred=False)",
            )
        return None
    table = _CLASS_ID_LABELS if one_hot else _ONE_HOT_ROWS
    if name not in table:
        return None
    other = "class ids" if one_hot else "one-hot rows"
    twin = table[name]
    fix = f"metrics=[{twin}]" if twin else "another metric"
    return f"takes {other}, where the labels are {labels}", fix


def vector_result(metric: Any) -> tuple[str, str] | None:
    """`(logged name, why and fix)` for a metric whose result is a vector, else `None`:
    `F1Score` / `FBetaScore(average=None)` (one value per class), `R2Score(class_aggregation=
    None)` (per output), `several_thresholds`. A search ranks trials by one number."""
    name, config = _name_and_config(metric)
    logged = str(config.get("name") or "")
    if name in ("F1Score", "FBetaScore") and "average" in config and config["average"] is None:
        return logged, (
            f"{name}(average=None) reports one value per class. Compile it with "
            f"average='macro' (or 'micro', 'weighted') to tune it"
        )
    aggregation = config.get("class_aggregation", "")
    if name == "R2Score" and aggregation is None:
        return logged, (
            "R2Score(class_aggregation=None) reports one value per output. Compile it with "
            "class_aggregation='uniform_average' (or 'variance_weighted_average') to tune it"
        )
    if (several := several_thresholds(metric)) is not None:
        return logged, f"{several[0]}(thresholds={several[1]}) reports one value per threshold"
    return None


def several_thresholds(metric: Any) -> tuple[str, list[float]] | None:
    """`(class name, thresholds)` of a `Precision`, `TruePositives`, ... of several, or `None`."""
    name, config = _name_and_config(metric)
    thresholds = config.get("thresholds")
    if name in _THRESHOLDS.values() and isinstance(thresholds, (list, tuple)) and thresholds[1:]:
        return name, [float(t) for t in thresholds]
    return None


# Keras's accuracies whose chance level is the share of the most frequent class.
_ACCURACY_CLASSES = {
    f"{kind}Accuracy" for kind in ("", "Binary", "Categorical", "SparseCategorical")
}
_ACCURACY_STRINGS = {
    "acc",
    *(f"{k}accuracy" for k in ("", "binary_", "categorical_", "sparse_categorical_")),
}


def accuracy_names(metrics: Any) -> set[str]:
    """The names Keras logs for the plain accuracies among `metrics` (as `compile` took
    them, or serialized): a string (`"acc"`), Keras's function, or an object of one of
    Keras's accuracy classes or a subclass, by its own `name` (`BinaryAccuracy(name="hit")`
    logs `hit`)."""
    names = set()
    for metric in metrics or []:
        kind, config = _name_and_config(metric)
        if kind in _ACCURACY_STRINGS:
            names.add(kind)
        elif kind in _ACCURACY_CLASSES:
            names.add(str(config.get("name") or ""))
    return names - {""}
