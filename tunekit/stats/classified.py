"""The tuned classifier against the baseline: on accuracy, or on balanced accuracy.

Plain accuracy is decided by McNemar's exact test on the paired predictions.
When the classes were weighed (`class_weight`), plain accuracy is traded for the
rare classes on purpose, and the report's usefulness note judges balanced
accuracy (scikit-learn's `balanced_accuracy_score`, the mean recall per class):
the verdict is then decided on it too, by a paired bootstrap of the test
examples (`tunekit.stats.intervals.paired_bootstrap`, as for a regression's
MSE); the plain accuracy and its McNemar test are kept beside it.

`balanced_accuracy_interval` gives one model's balanced accuracy its bootstrap
interval by the same resampling (the report's test intervals, under class weights).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tunekit.stats._inputs import paired_labels
from tunekit.stats.comparison import (
    ACCURACY,
    BaselineComparison,
    MetricComparison,
    Outcome,
    p_text,
    sentence,
)
from tunekit.stats.guess import GuessCheck
from tunekit.stats.intervals import (
    MIN_BOOTSTRAP_EXAMPLES,
    Interval,
    bootstrap_statistic,
    paired_bootstrap,
    wilson_interval,
)
from tunekit.stats.paired import McNemarResult, mcnemar_exact

__all__ = [
    "ClassificationMetric",
    "balanced_accuracy",
    "balanced_accuracy_interval",
    "balanced_accuracy_value",
    "compare_classifiers",
]

ClassificationMetric = Literal["accuracy", "balanced_accuracy"]

BALANCED = (
    "test balanced accuracy (scikit-learn's, the mean recall per class; a paired bootstrap of "
    "the test examples)"
)


def balanced_accuracy(y_true: NDArray, y_pred: NDArray, classes: int) -> NDArray[np.float64]:
    """scikit-learn's `balanced_accuracy_score` over the last axis, vectorised over the others.

    The mean, over the classes present in `y_true`, of each one's recall (a
    class only predicted counts for nothing, as in scikit-learn). `y_true`,
    `y_pred`: class codes `0..classes-1`, the same shape `(..., m)`; returns
    `(...)` values in [0, 1].
    """
    rows = y_true.reshape(-1, y_true.shape[-1])
    right = rows == y_pred.reshape(rows.shape)
    codes = rows + (np.arange(len(rows)) * classes)[:, None]  # each row's classes apart
    size = len(rows) * classes
    present = np.bincount(codes.ravel(), minlength=size).reshape(-1, classes)
    hits = np.bincount(codes[right], minlength=size).reshape(-1, classes)
    recall = hits / np.maximum(present, 1)
    return (recall.sum(axis=1) / (present > 0).sum(axis=1)).reshape(y_true.shape[:-1])


def balanced_accuracy_value(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """scikit-learn's `balanced_accuracy_score` of class labels, as a float in [0, 1].

    The mean recall over the classes in `y_true`; a class only predicted counts
    for nothing (scikit-learn's warning of it is silenced). `y_true`, `y_pred`:
    labels of the same shape, `(n,)` or `(n, 1)`.
    """
    from sklearn.metrics import balanced_accuracy_score

    truth, predicted = (np.asarray(a).reshape(-1) for a in (y_true, y_pred))
    with warnings.catch_warnings():  # a class only predicted: scikit-learn warns, and skips it
        warnings.simplefilter("ignore", UserWarning)
        return float(balanced_accuracy_score(truth, predicted))


def balanced_accuracy_interval(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    confidence: float = 0.95,
    n_resamples: int = 1999,
    seed: int | None = 0,
) -> Interval:
    """A bootstrap confidence interval for a classifier's test balanced accuracy.

    As `tunekit.stats.bootstrap_interval` for a regression metric: test examples
    resampled with replacement, each with its label and prediction; the BCa
    interval up to `BCA_MAX_EXAMPLES` (2,000) examples, the percentile interval
    above (or when BCa is undefined); the value itself when every resample scores
    the same. The metric is `balanced_accuracy` (scikit-learn's, vectorised over the
    resamples), and the resamples are those of the baseline's paired bootstrap
    (`compare_to_baseline(metric="balanced_accuracy")`, same seed): its interval
    of the tuned model is this one.

    Args:
        y_true: True class labels, shape `(n,)` or `(n, 1)`, `n >= 2`.
        y_pred: Predicted class labels (not scores), the same shape.
        confidence: Confidence level in (0, 1). Defaults to 0.95.
        n_resamples: Bootstrap resamples, at least 100. Defaults to 1999.
        seed: Seed of the resampling (the same seed gives the same interval).
            Defaults to 0; `None` draws a fresh one.

    Returns:
        `Interval(low, high)`, balanced accuracies in [0, 1].

    Raises:
        UsageError: Labels of other lengths or forms, scores instead of labels,
            fewer than 2 examples, or a bad `confidence` or `n_resamples`.

    Example:
        >>> balanced_accuracy_interval([0] * 30 + [1] * 10, [0] * 28 + [1] * 12)
        Interval(low=..., high=...)
    """
    truth, predicted = paired_labels(y_true, y_pred=y_pred)
    classes, codes = np.unique(np.concatenate([truth, predicted]), return_inverse=True)
    true_codes, predicted_codes = codes.reshape(2, len(truth))

    def statistic(idx: NDArray[np.intp], axis: int = -1) -> NDArray[np.float64]:
        return balanced_accuracy(true_codes[idx], predicted_codes[idx], classes.size)[None]

    # 3 values per example, as the paired bootstrap reads: the same batches, the same resamples.
    result = bootstrap_statistic(
        statistic,
        len(truth),
        3,
        confidence=confidence,
        n_resamples=n_resamples,
        seed=seed,
    )
    return result.intervals[0]


def compare_classifiers(
    y_true: ArrayLike,
    tuned: ArrayLike,
    baseline: ArrayLike,
    *,
    confidence: float,
    metric: ClassificationMetric = "accuracy",
    n_resamples: int = 1999,
    seed: int | None = 0,
    class_names: Sequence[Any] | None = None,
) -> BaselineComparison:
    """`compare_to_baseline` for class labels (see it): on `metric`, `"accuracy"`
    (McNemar's exact test) or `"balanced_accuracy"` (a paired bootstrap); `class_names`
    name the classes (by id) in the verdict."""
    truth, ours, theirs = paired_labels(y_true, tuned=tuned, baseline=baseline)
    n = len(truth)
    right = [int(np.sum(ours == truth)), int(np.sum(theirs == truth))]
    ours_ci, theirs_ci = (wilson_interval(r, n, confidence) for r in right)
    test = mcnemar_exact(truth, ours, theirs)
    mcnemar = (
        f"McNemar exact {p_text(test.p_value)}; only tuned right on {test.b}, "
        f"only baseline right on {test.c} of {n} examples"
    )
    if metric == "balanced_accuracy":
        accuracy = MetricComparison(
            "accuracy", right[0] / n, ours_ci, right[1] / n, theirs_ci, False, "Wilson"
        )
        guess = GuessCheck.of(
            truth,
            "balanced_accuracy",
            balanced_accuracy_value(truth, ours),
            balanced_accuracy_value(truth, theirs),
            class_names,
        )
        return _balanced(
            truth, ours, theirs, accuracy, mcnemar, test, guess, confidence, n_resamples, seed
        )
    accuracy = MetricComparison("accuracy", right[0] / n, ours_ci, right[1] / n, theirs_ci, False)
    significant = test.p_value < 1.0 - confidence
    outcome: Outcome = "better" if test.b > test.c else "worse"
    if not significant:
        outcome = "indistinguishable"
    evidence = f"test accuracy {accuracy.tuned:.4f} vs {accuracy.baseline:.4f} ({mcnemar})"
    # Even n examples all in tuned's favour give McNemar p = 2 * 0.5**n: at most 5 of them
    # can never reach p < 0.05, so "did not measurably help" would claim what it cannot tell.
    too_few = 2.0 * 0.5**n >= 1.0 - confidence
    guess = GuessCheck.of(truth, "accuracy", accuracy.tuned, accuracy.baseline, class_names)
    return BaselineComparison(
        "classification",
        n,
        confidence,
        (accuracy,),
        outcome,
        sentence(outcome, evidence, guess.note(), on=ACCURACY, too_few=too_few),
        mcnemar=test,
        interval_method="Wilson",
        note=guess.note(),
        guess=guess,
    )


def _balanced(
    truth: NDArray,
    ours: NDArray,
    theirs: NDArray,
    accuracy: MetricComparison,
    mcnemar: str,
    test: McNemarResult,
    guess: GuessCheck,
    confidence: float,
    n_resamples: int,
    seed: int | None,
) -> BaselineComparison:
    """Decided on balanced accuracy by a paired bootstrap; plain accuracy and McNemar beside;
    `guess`: both models' balanced accuracies against a constant guess's."""
    n = len(truth)
    values = (guess.tuned, guess.baseline)
    plain = (
        f"On plain test accuracy (not what the verdict is decided on): {accuracy.tuned:.4f} vs "
        f"{accuracy.baseline:.4f} ({mcnemar})."
    )
    note = guess.note()
    after = f"{plain} {note}" if note else plain
    if n < MIN_BOOTSTRAP_EXAMPLES:  # the ends would be artefacts: no interval, no verdict
        evidence = (
            f"test balanced accuracy {values[0]:.4f} vs {values[1]:.4f} (difference "
            f"{values[0] - values[1]:+.4f}) on {n} examples, too few to tell (a paired "
            f"bootstrap needs at least {MIN_BOOTSTRAP_EXAMPLES})"
        )
        balanced = MetricComparison("balanced_accuracy", values[0], None, values[1], None, False)
        return BaselineComparison(
            "classification",
            n,
            confidence,
            (balanced, accuracy),
            "indistinguishable",
            sentence("indistinguishable", evidence, after, BALANCED, too_few=True),
            interval_method=(
                f"none: {n} test examples, too few for a bootstrap interval (it needs at "
                f"least {MIN_BOOTSTRAP_EXAMPLES})"
            ),
            mcnemar=test,
            note=note,
            guess=guess,
        )
    classes, codes = np.unique(np.concatenate([truth, ours, theirs]), return_inverse=True)
    codes = codes.reshape(3, n)
    result = paired_bootstrap(
        lambda true, pred: balanced_accuracy(true, pred, classes.size)[None],
        codes[0],
        codes[1],
        codes[2],
        confidence=confidence,
        n_resamples=n_resamples,
        seed=seed,
    )
    low, high = result.intervals[2]
    outcome: Outcome = "better" if low > 0.0 else "worse"
    if low <= 0.0 <= high:
        outcome = "indistinguishable"
    balanced = MetricComparison(
        "balanced_accuracy", values[0], result.intervals[0], values[1], result.intervals[1], False
    )
    evidence = (
        f"test balanced accuracy {values[0]:.4f} vs {values[1]:.4f} (difference "
        f"{values[0] - values[1]:+.4f}, {confidence:.0%} paired {result.method} bootstrap "
        f"interval [{low:+.4f}, {high:+.4f}], {n} examples)"
    )
    return BaselineComparison(
        "classification",
        n,
        confidence,
        (balanced, accuracy),
        outcome,
        sentence(outcome, evidence, after, BALANCED),
        mcnemar=test,
        difference_interval=Interval(low, high),
        interval_method=f"{result.method} bootstrap",
        note=note,
        guess=guess,
    )
