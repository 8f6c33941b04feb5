"""The tuned model against the baseline on one test set: intervals, a paired test, a verdict."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tunekit.errors import UsageError
from tunekit.stats._inputs import check_confidence, same_shape, values_2d
from tunekit.stats.classified import compare_classifiers
from tunekit.stats.comparison import (
    BOOTSTRAP,
    BaselineComparison,
    MetricComparison,
    Outcome,
    Task,
    sentence,
)
from tunekit.stats.guess import GuessCheck
from tunekit.stats.intervals import (
    MIN_BOOTSTRAP_EXAMPLES,
    REGRESSION_METRICS,
    Interval,
    RegressionMetric,
    paired_bootstrap,
    regression_metric,
)

__all__ = [
    "BaselineComparison",
    "ComparedMetric",
    "MetricComparison",
    "Task",
    "compare_to_baseline",
]

ComparedMetric = Literal["accuracy", "balanced_accuracy", "mse", "mae", "rmse", "r2"]


def _infer_task(y_true: ArrayLike) -> Task:
    """Integer, bool or string labels mean classification; floats as `Dataset` reads them:
    the class ids 0..K-1 (0.0, 1.0, 2.0: as pandas writes them) are classes, other
    whole numbers in a run (1.0/2.0) are refused as ambiguous, other floats regression."""
    array = np.asarray(y_true)
    if array.dtype.kind == "f":
        one_hot = array.ndim == 2 and array.shape[1] > 1 and np.isin(array, (0.0, 1.0)).all()
        if one_hot and np.all(array.sum(axis=1) == 1.0):
            raise UsageError(
                "`y_true` looks like one-hot class labels: pass class ids "
                "(np.argmax(y_true, axis=-1)) and predicted class ids, or pass "
                "task='regression' if these really are regression targets."
            )
        from tunekit.data._targets import infer_task  # Dataset's rule: 0.0/1.0/2.0 are ids
        from tunekit.errors import DataError

        try:
            return (
                "classification"
                if infer_task(array, "y_true", warn=False) == "classification"
                else ("regression")
            )
        except DataError as exc:  # 1.0/2.0: labels saved as floats, or values?
            # Python's words only: the command-line spelling "(--task ...)" is not this call's.
            raise UsageError(re.sub(r" \(--[a-z-]+ [a-z]+\)", "", str(exc))) from None
    if array.dtype.kind in "biuUS":
        return "classification"
    if array.dtype.kind == "O" and all(
        isinstance(v, (str, bool, int, np.integer)) for v in array.flat
    ):
        return "classification"  # a pandas column of text (object, category) or of ids
    raise UsageError(
        f"Cannot tell the task from `y_true` of dtype {array.dtype}: "
        "pass task='classification' or task='regression'."
    )


def _regression(
    y_true: ArrayLike,
    tuned: ArrayLike,
    baseline: ArrayLike,
    *,
    confidence: float,
    metric: RegressionMetric,
    n_resamples: int,
    seed: int | None,
) -> BaselineComparison:
    truth = values_2d(y_true, "y_true")
    ours, theirs = same_shape(truth, "y_true", tuned=tuned, baseline=baseline)
    names = [metric, *(m for m in REGRESSION_METRICS if m != metric)]

    def scores(true: NDArray, pred: NDArray) -> NDArray[np.float64]:
        return np.stack([regression_metric(name, true, pred) for name in names])

    n, count = len(truth), len(names)
    label = "R²" if metric == "r2" else metric.upper()
    on = f"test {label} ({BOOTSTRAP})"
    if n < MIN_BOOTSTRAP_EXAMPLES:  # the ends would be artefacts: no interval, no verdict
        tuned_scores, baseline_scores = (scores(truth, pred) for pred in (ours, theirs))
        comparisons = tuple(
            MetricComparison(
                name,
                float(tuned_scores[i]),
                None,
                float(baseline_scores[i]),
                None,
                REGRESSION_METRICS[name],
            )
            for i, name in enumerate(names)
        )
        first = comparisons[0]
        evidence = (
            f"test {label} {first.tuned:.4g} vs {first.baseline:.4g} (difference "
            f"{first.tuned - first.baseline:+.4g}) on {n} examples, too few to tell (a paired "
            f"bootstrap needs at least {MIN_BOOTSTRAP_EXAMPLES})"
        )
        guess = _r2_check(truth, comparisons)
        return BaselineComparison(
            "regression",
            n,
            confidence,
            comparisons,
            "indistinguishable",
            sentence("indistinguishable", evidence, guess.note(), on, True),
            interval_method=(
                f"none: {n} test examples, too few for a bootstrap interval (it needs at "
                f"least {MIN_BOOTSTRAP_EXAMPLES})"
            ),
            note=guess.note(),
            guess=guess,
        )
    # Rows: each metric of the tuned model, of the baseline, then the deciding metric's
    # difference; all on the same resampled examples (paired).
    result = paired_bootstrap(
        scores, truth, ours, theirs, confidence=confidence, n_resamples=n_resamples, seed=seed
    )
    values, intervals = result.values, result.intervals
    comparisons = tuple(
        MetricComparison(
            name,
            values[row],
            intervals[row],
            values[row + count],
            intervals[row + count],
            REGRESSION_METRICS[name],
        )
        for row, name in enumerate(names)
    )
    value, (low, high) = values[-1], intervals[-1]
    outcome: Outcome = "better" if (high < 0.0) == REGRESSION_METRICS[metric] else "worse"
    if low <= 0.0 <= high:
        outcome = "indistinguishable"
    evidence = (
        f"test {label} {values[0]:.4g} vs {values[count]:.4g} (difference {value:+.4g}, "
        f"{confidence:.0%} paired {result.method} bootstrap interval [{low:+.4g}, {high:+.4g}], "
        f"{n} examples)"
    )
    guess = _r2_check(truth, comparisons)
    return BaselineComparison(
        "regression",
        n,
        confidence,
        comparisons,
        outcome,
        sentence(outcome, evidence, guess.note(), on=on),
        difference_interval=Interval(low, high),
        interval_method=f"{result.method} bootstrap",
        note=guess.note(),
        guess=guess,
    )


def _r2_check(truth: NDArray, comparisons: tuple[MetricComparison, ...]) -> GuessCheck:
    """Each model's R² against the mean of the targets' (0): "better" can still be of no use."""
    r2 = {c.name: c for c in comparisons}["r2"]
    return GuessCheck.of(truth, "r2", r2.tuned, r2.baseline)


def compare_to_baseline(
    y_true: ArrayLike,
    tuned: ArrayLike,
    baseline: ArrayLike,
    *,
    task: Task | None = None,
    metric: ComparedMetric | None = None,
    confidence: float = 0.95,
    n_resamples: int = 1999,
    seed: int | None = 0,
    class_names: Sequence[Any] | None = None,
) -> BaselineComparison:
    """Compares the tuned model with the baseline on the same test examples.

    Classification on `metric="accuracy"` (the default): test accuracy of each
    with its Wilson interval (`wilson_interval`), and McNemar's exact test on
    the paired predictions (`mcnemar_exact`, tuned as A): tuned is "better" or
    "worse" when the test rejects equal accuracy at significance
    `1 - confidence`, else "indistinguishable". Classification on
    `metric="balanced_accuracy"` (for classes weighed in training, which trade
    plain accuracy for the rare ones on purpose): scikit-learn's balanced
    accuracy (the mean recall per class) of each with a bootstrap interval, and
    a paired bootstrap interval of its difference, decided as for regression;
    the plain accuracy with its Wilson interval and McNemar's test come second,
    as information. Regression: MSE, MAE, RMSE and R² of each with BCa
    bootstrap intervals (percentile over 2,000 examples; see
    `bootstrap_interval`), all from the same resamples, and a paired bootstrap
    interval of the difference in `metric` (tuned minus baseline, both scored
    on the same resampled examples, `tunekit.stats.intervals.paired_bootstrap`):
    "better" or "worse" when that interval excludes 0, else
    "indistinguishable" (always below `MIN_BOOTSTRAP_EXAMPLES`, 20, test
    examples, too few for a bootstrap interval to decide anything; and for
    accuracy below 6 test examples at 0.95, too few for McNemar's test to
    ever reach significance: the verdict then says the test set is too small
    to tell). The verdict names the test metric it is decided on and the test,
    says plainly when tuning did not help, and, whatever the outcome, which
    model is no better than a constant guess (`GuessCheck`, on the quantity
    `metric` is of: accuracy at most the most frequent class's share,
    balanced accuracy at most one over the number of classes, R² at most 0):
    a "better" between two useless models is no model of use. On a test set
    where a constant guess is perfect (labels of one class, targets all equal)
    the verdict says instead that the test set cannot tell any model from one,
    and to use a test set holding every class (whose targets vary).

    Args:
        y_true: True test targets: class labels `(n,)` or values `(n,)` / `(n, k)`.
        tuned: The tuned model's predicted labels (classification, shape
            `(n,)`; class scores must be turned into labels first, e.g.
            `np.argmax(scores, axis=-1)`) or predicted values (regression,
            the shape of `y_true`).
        baseline: The baseline's, in the same form.
        task: `"classification"` or `"regression"`. Defaults to None: inferred
            from `y_true` as `tunekit.Dataset` does (integer, bool or string
            labels, and floats that are the class ids 0..K-1, mean
            classification; floats of other whole numbers in a run, such as
            1.0/2.0, are refused as ambiguous; other floats mean regression).
        metric: The metric that decides the verdict: `"accuracy"` or
            `"balanced_accuracy"` (classification), `"mse"`, `"mae"`, `"rmse"`
            or `"r2"` (regression). Defaults to None: `"accuracy"` for
            classification, `"mse"` for regression (the `val_loss` it is tuned on).
        confidence: Level of the intervals in (0, 1). Defaults to 0.95.
        n_resamples: Bootstrap resamples (regression, balanced accuracy).
            Defaults to 1999.
        seed: Seed of the resampling (the same seed gives the same result).
            Defaults to 0.
        class_names: Classification: the classes' names by class id
            (`class_names[i]` names the labels `i`), for the verdict (the most
            frequent class, `'cat'` rather than `'0'`); labels that are not ids
            (text) are named as they are. Defaults to None: the labels as text.

    Returns:
        A `BaselineComparison`; `.verdict` is the sentence for the report,
        `.to_dict()` the data for `report.json`.

    Raises:
        UsageError: shapes that differ, class scores instead of labels, an
            unknown `task`, a `metric` unknown or of the other task, or a bad
            `confidence`.

    Example:
        >>> compare_to_baseline(y_test, tuned_labels, baseline_labels).verdict
        "tuned is better than the baseline on test accuracy (McNemar's exact test ...): ..."
    """
    confidence = check_confidence(confidence)
    task = _infer_task(y_true) if task is None else task
    if task not in ("classification", "regression"):
        raise UsageError(
            f"Invalid value for argument `task`. Received: task={task!r}. "
            "Expected 'classification', 'regression' or None (inferred from y_true)."
        )
    classification = task == "classification"
    allowed = ["accuracy", "balanced_accuracy"] if classification else sorted(REGRESSION_METRICS)
    if metric is not None and metric not in allowed:
        raise UsageError(
            f"Invalid value for argument `metric`. Received: metric={metric!r}. "
            f"Expected one of {allowed} for {task}, or None."
        )
    if classification:
        return compare_classifiers(
            y_true,
            tuned,
            baseline,
            confidence=confidence,
            metric="balanced_accuracy" if metric == "balanced_accuracy" else "accuracy",
            n_resamples=n_resamples,
            seed=seed,
            class_names=class_names,
        )
    return _regression(
        y_true,
        tuned,
        baseline,
        confidence=confidence,
        metric=cast(RegressionMetric, metric or "mse"),
        n_resamples=n_resamples,
        seed=seed,
    )
