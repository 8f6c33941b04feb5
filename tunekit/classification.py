"""A classifier's test metrics by tunekit: accuracy, and balanced accuracy under class weights.

The counterpart of `tunekit.regression` for a classifier of one output: pure
functions of class ids (numpy, scikit-learn and `tunekit.stats`, no Keras), so
the test metrics (`tunekit.steps.base.test_metrics`: the saved model's, each
final seed's and the baseline's), their intervals (`tunekit.report_scores.
test_intervals`) and the tests compute them the same way. The predicted
classes' `accuracy` always; with class weights (`class_weight=`, which trade plain
accuracy for the rare classes on purpose) also scikit-learn's `balanced_accuracy`
(the mean recall per class), the quantity the baseline's verdict and the report's
usefulness note then judge. Beside a metric of the model's own of either name and
another value, tunekit's goes under `sklearn_<name>` (`tunekit.regression.own_name`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tunekit import _log
from tunekit.stats import wilson_interval
from tunekit.stats.classified import balanced_accuracy_interval, balanced_accuracy_value
from tunekit.stats.intervals import BCA_MAX_EXAMPLES, MIN_BOOTSTRAP_EXAMPLES

__all__ = [
    "classification_intervals",
    "classification_metrics",
    "no_bootstrap_interval",
    "weighs_classes",
]


def weighs_classes(run: Any) -> bool:
    """Whether `run` (a `CoarseToFine`, or a step's `RunContext`) trains with class weights
    (its `class_weights`, `model.fit`'s `class_weight=`): its test metrics then add
    `balanced_accuracy`."""
    return getattr(run, "class_weights", None) is not None


def classification_metrics(y_true: Any, y_pred: Any, *, weighed: bool = False) -> dict[str, float]:
    """tunekit's test metrics of a classifier's predicted classes.

    Args:
        y_true: Test class ids, shape `(n,)` or `(n, 1)`, `n >= 1`.
        y_pred: Predicted class ids, `n` of them.
        weighed: The classes were weighed in training (`class_weight=`).
            Defaults to False.

    Returns:
        `{"accuracy": ...}` (the share of test examples predicted right), and with
        `weighed` also `"balanced_accuracy"` (scikit-learn's `balanced_accuracy_score`),
        floats in [0, 1].

    Example:
    >>> classification_metrics([0, 0, 0, 1], [0, 0, 0, 0], weighed=True)
    {'accuracy': 0.75, 'balanced_accuracy': 0.5}
    """
    from sklearn.metrics import accuracy_score

    truth, predicted = (np.asarray(a).reshape(-1) for a in (y_true, y_pred))
    metrics = {"accuracy": float(accuracy_score(truth, predicted))}
    if weighed:
        metrics["balanced_accuracy"] = balanced_accuracy_value(truth, predicted)
    return metrics


def no_bootstrap_interval(n: int) -> str | None:
    """Why `n` test examples get no bootstrap interval, as the report's `method` says it,
    or None when they are enough (`MIN_BOOTSTRAP_EXAMPLES`, 20)."""
    if n >= MIN_BOOTSTRAP_EXAMPLES:
        return None
    return (
        f"none: {_log.count(n, 'test example')}, too few for a bootstrap interval (it needs "
        f"at least {MIN_BOOTSTRAP_EXAMPLES})"
    )


def classification_intervals(
    y_true: Any,
    y_pred: Any,
    *,
    weighed: bool = False,
    seed: int | None = 0,
    confidence: float = 0.95,
) -> dict[str, dict[str, Any]]:
    """Each of `classification_metrics` with its interval (`report.json`'s `test_intervals`).

    `accuracy`: Wilson's interval (`tunekit.stats.wilson_interval`). With
    `weighed`, `balanced_accuracy`: a bootstrap interval of the test examples
    (`tunekit.stats.balanced_accuracy_interval`: BCa up to 2,000 test examples,
    percentile above), as the regression metrics get theirs; below 20 test
    examples none (`"interval": None`, the `method` says why), as for them.

    Args:
        y_true: Test class ids, shape `(n,)` or `(n, 1)`, `n >= 1`.
        y_pred: Predicted class ids, `n` of them.
        weighed: The classes were weighed in training. Defaults to False.
        seed: The bootstrap's seed. Defaults to 0.
        confidence: Level of the intervals. Defaults to 0.95.

    Returns:
        `{metric: {"value", "interval": [low, high] or None, "method"}}`.
    """
    truth, predicted = (np.asarray(a).reshape(-1) for a in (y_true, y_pred))
    n = len(truth)
    values = classification_metrics(truth, predicted, weighed=weighed)
    right = int(np.sum(truth == predicted))
    out: dict[str, dict[str, Any]] = {
        "accuracy": {
            "value": values["accuracy"],
            "interval": list(wilson_interval(right, n, confidence)),
            "method": "Wilson",
        }
    }
    if weighed:
        why = no_bootstrap_interval(n)
        method = "BCa" if n <= BCA_MAX_EXAMPLES else "percentile"
        interval = (
            None
            if why
            else list(balanced_accuracy_interval(truth, predicted, confidence, seed=seed))
        )
        out["balanced_accuracy"] = {
            "value": values["balanced_accuracy"],
            "interval": interval,
            "method": why or f"{method} bootstrap",
        }
    return out
