"""The tuned model against the baseline on one test set: intervals, a paired test, a verdict."""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tunekit.errors import UsageError
from tunekit.stats._inputs import check_confidence, paired_labels, same_shape, values_2d
from tunekit.stats.intervals import (
    MIN_BOOTSTRAP_EXAMPLES,
    REGRESSION_METRICS,
    Interval,
    RegressionMetric,
    bootstrap_statistic,
    regression_metric,
    wilson_interval,
)
from tunekit.stats.paired import McNemarResult, mcnemar_exact

__all__ = ["BaselineComparison", "MetricComparison", "Task", "compare_to_baseline"]

Task = Literal["classification", "regression"]
Outcome = Literal["better", "indistinguishable", "worse"]


@dataclasses.dataclass(frozen=True)
class MetricComparison:
    """One test metric for the tuned model and the baseline, each with its interval.

    Attributes:
        name: `"accuracy"` (classification) or `"mse"`, `"mae"`, `"rmse"`, `"r2"`.
        tuned: The tuned model's value.
        tuned_interval: Its interval (Wilson for accuracy, BCa bootstrap
            otherwise); None below `MIN_BOOTSTRAP_EXAMPLES` regression examples.
        baseline: The baseline's value.
        baseline_interval: Its interval (None when the tuned one is).
        lower_is_better: True for errors (MSE, MAE, RMSE), False for accuracy and R².
    """

    name: str
    tuned: float
    tuned_interval: Interval | None
    baseline: float
    baseline_interval: Interval | None
    lower_is_better: bool


@dataclasses.dataclass(frozen=True)
class BaselineComparison:
    """What tuning bought over the baseline on the test set.

    Attributes:
        task: `"classification"` or `"regression"`.
        n_examples: Number of test examples.
        confidence: Level of every interval; the verdict's test is at
            significance `1 - confidence`.
        metrics: One `MetricComparison` per metric; the first decides the verdict.
        outcome: `"better"`, `"indistinguishable"` or `"worse"` (tuned against baseline).
        verdict: The outcome in one plain sentence, with its evidence.
        interval_method: How the intervals were computed: `"Wilson"`,
            `"BCa bootstrap"` or `"percentile bootstrap"` (over 2,000 examples);
            below `MIN_BOOTSTRAP_EXAMPLES` regression examples, `"none: ..."`
            saying why (no interval then).
        mcnemar: McNemar's exact test, tuned as A and baseline as B
            (classification), else None.
        difference_interval: Paired bootstrap interval of the deciding metric's
            difference, tuned minus baseline (regression), else None.
        note: The last sentence of `verdict` when it warns that the tuned
            model's test R² is at most 0 (regression), else `""`.
    """

    task: Task
    n_examples: int
    confidence: float
    metrics: tuple[MetricComparison, ...]
    outcome: Outcome
    verdict: str
    interval_method: str
    mcnemar: McNemarResult | None = None
    difference_interval: Interval | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `report.json` (intervals as `[low, high]` lists)."""
        return dataclasses.asdict(self)


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
                if infer_task(array, "y_true") == "classification"
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


def _p(p_value: float) -> str:
    return "p<0.001" if p_value < 0.001 else f"p={p_value:.3f}"


def _classification(
    y_true: ArrayLike, tuned: ArrayLike, baseline: ArrayLike, confidence: float
) -> BaselineComparison:
    truth, ours, theirs = paired_labels(y_true, tuned=tuned, baseline=baseline)
    n = len(truth)
    right = [int(np.sum(ours == truth)), int(np.sum(theirs == truth))]
    ours_ci, theirs_ci = (wilson_interval(r, n, confidence) for r in right)
    accuracy = MetricComparison("accuracy", right[0] / n, ours_ci, right[1] / n, theirs_ci, False)
    test = mcnemar_exact(truth, ours, theirs)
    significant = test.p_value < 1.0 - confidence
    outcome: Outcome = "better" if test.b > test.c else "worse"
    if not significant:
        outcome = "indistinguishable"
    evidence = (
        f"test accuracy {accuracy.tuned:.4f} vs {accuracy.baseline:.4f} "
        f"(McNemar exact {_p(test.p_value)}; only tuned right on {test.b}, "
        f"only baseline right on {test.c} of {n} examples)"
    )
    # Even n examples all in tuned's favour give McNemar p = 2 * 0.5**n: at most 5 of them
    # can never reach p < 0.05, so "did not measurably help" would claim what it cannot tell.
    too_few = 2.0 * 0.5**n >= 1.0 - confidence
    return BaselineComparison(
        "classification",
        n,
        confidence,
        (accuracy,),
        outcome,
        _sentence(outcome, evidence, on=_ACCURACY, too_few=too_few),
        mcnemar=test,
        interval_method="Wilson",
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
    if metric not in REGRESSION_METRICS:
        raise UsageError(
            f"Invalid value for argument `metric`. Received: metric={metric!r}. "
            f"Expected one of {sorted(REGRESSION_METRICS)}."
        )
    names = [metric, *(m for m in REGRESSION_METRICS if m != metric)]

    def statistic(idx: NDArray[np.intp], axis: int = -1) -> NDArray[np.float64]:
        # Rows: each metric of the tuned model, of the baseline, then the deciding
        # metric's difference; all on the same resampled examples (paired).
        true = truth[idx]
        rows = [
            regression_metric(name, true, pred[idx]) for pred in (ours, theirs) for name in names
        ]
        return np.stack([*rows, rows[0] - rows[len(names)]])

    n, width = truth.shape
    label = "R²" if metric == "r2" else metric.upper()
    if n < MIN_BOOTSTRAP_EXAMPLES:  # the ends would be artefacts: no interval, no verdict
        scores = [
            float(regression_metric(name, truth, pred)) for pred in (ours, theirs) for name in names
        ]
        k = len(names)
        why = (
            f"none: {n} test examples, too few for a bootstrap interval (it needs at "
            f"least {MIN_BOOTSTRAP_EXAMPLES})"
        )
        comparisons = tuple(
            MetricComparison(name, scores[i], None, scores[i + k], None, REGRESSION_METRICS[name])
            for i, name in enumerate(names)
        )
        evidence = (
            f"test {label} {scores[0]:.4g} vs {scores[k]:.4g} (difference "
            f"{scores[0] - scores[k]:+.4g}) on {n} examples, too few to tell (a paired "
            f"bootstrap needs at least {MIN_BOOTSTRAP_EXAMPLES})"
        )
        on = f"test {label} ({_BOOTSTRAP})"
        return BaselineComparison(
            "regression",
            n,
            confidence,
            comparisons,
            "indistinguishable",
            _sentence("indistinguishable", evidence, note := _r2_note(comparisons), on, True),
            interval_method=why,
            note=note,
        )
    result = bootstrap_statistic(
        statistic, n, 3 * width, confidence=confidence, n_resamples=n_resamples, seed=seed
    )
    values, intervals, count = result.values, result.intervals, len(names)
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
    note = _r2_note(comparisons)
    verdict = _sentence(outcome, evidence, note, on=f"test {label} ({_BOOTSTRAP})")
    return BaselineComparison(
        "regression",
        n,
        confidence,
        comparisons,
        outcome,
        verdict,
        difference_interval=Interval(low, high),
        interval_method=f"{result.method} bootstrap",
        note=note,
    )


def _r2_note(comparisons: tuple[MetricComparison, ...]) -> str:
    """A note when the tuned model's R² is at most 0 ("better" can still be of no use)."""
    r2 = {c.name: c for c in comparisons}["r2"]
    if r2.tuned > 0.0:
        return ""
    return (
        f"Note: the tuned model's test R² is {r2.tuned:.4g} (the baseline's "
        f"{r2.baseline:.4g}): it predicts no better than the mean of the targets (are "
        "the features scaled? is the output layer linear?)."
    )


_ACCURACY = "test accuracy (McNemar's exact test on the paired predictions)"
_BOOTSTRAP = "a paired bootstrap of the per-example differences"


def _sentence(
    outcome: str, evidence: str, note: str = "", on: str = _ACCURACY, too_few: bool = False
) -> str:
    """The verdict's sentence, then `note` (`""` or a sentence) after a space.

    `on`: the test metric it is decided on, and the test, named in the sentence.
    `too_few`: the test set is too small for the test to tell the two apart at
    all: the sentence says so instead of "tuning did not measurably help".
    """
    if outcome == "better":
        sentence = f"tuned is better than the baseline on {on}: {evidence}."
    elif outcome == "worse":
        sentence = f"tuned is worse than the baseline on {on}: {evidence}; tuning did not help."
    elif too_few:
        sentence = (
            f"the test set is too small to tell tuned from the baseline on {on}: {evidence}; "
            "this says nothing on whether tuning helped."
        )
    else:
        sentence = (
            f"tuned is not distinguishable from the baseline on {on}: {evidence}; "
            "on this metric tuning did not measurably help."
        )
    return f"{sentence} {note}" if note else sentence


def compare_to_baseline(
    y_true: ArrayLike,
    tuned: ArrayLike,
    baseline: ArrayLike,
    *,
    task: Task | None = None,
    metric: RegressionMetric = "mse",
    confidence: float = 0.95,
    n_resamples: int = 1999,
    seed: int | None = 0,
) -> BaselineComparison:
    """Compares the tuned model with the baseline on the same test examples.

    Classification: test accuracy of each with its Wilson interval
    (`wilson_interval`), and McNemar's exact test on the paired predictions
    (`mcnemar_exact`, tuned as A): tuned is "better" or "worse" when the test
    rejects equal accuracy at significance `1 - confidence`, else
    "indistinguishable". Regression: MSE, MAE, RMSE and R² of each with BCa
    bootstrap intervals (percentile over 2,000 examples; see
    `bootstrap_interval`), all from the same resamples, and a paired bootstrap
    interval of the difference in `metric` (tuned minus baseline, both scored
    on the same resampled examples): "better" or "worse" when that interval
    excludes 0, else "indistinguishable" (always below `MIN_BOOTSTRAP_EXAMPLES`,
    20, test examples, too few for a bootstrap interval to decide anything;
    and for classification below 6 test examples at 0.95, too few for McNemar's
    test to ever reach significance: the verdict then says the test set is too small
    to tell). The verdict names the test metric it is decided on and the test,
    says plainly when tuning did not help, and, for regression, when the
    tuned model's R² is at most 0 (no better than predicting the mean),
    whatever the outcome.

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
        metric: Regression only: the metric that decides the verdict, `"mse"`,
            `"mae"`, `"rmse"` or `"r2"`. Defaults to `"mse"` (the `val_loss`
            regression is tuned on).
        confidence: Level of the intervals in (0, 1). Defaults to 0.95.
        n_resamples: Regression only: bootstrap resamples. Defaults to 1999.
        seed: Regression only: seed of the resampling (the same seed gives the
            same result). Defaults to 0.

    Returns:
        A `BaselineComparison`; `.verdict` is the sentence for the report,
        `.to_dict()` the data for `report.json`.

    Raises:
        UsageError: shapes that differ, class scores instead of labels, an
            unknown `task` or `metric`, or a bad `confidence`.

    Example:
        >>> compare_to_baseline(y_test, tuned_labels, baseline_labels).verdict
        "tuned is better than the baseline on test accuracy (McNemar's exact test ...): ..."
    """
    confidence = check_confidence(confidence)
    task = _infer_task(y_true) if task is None else task
    if task == "classification":
        return _classification(y_true, tuned, baseline, confidence)
    if task == "regression":
        return _regression(
            y_true,
            tuned,
            baseline,
            confidence=confidence,
            metric=metric,
            n_resamples=n_resamples,
            seed=seed,
        )
    raise UsageError(
        f"Invalid value for argument `task`. Received: task={task!r}. "
        "Expected 'classification', 'regression' or None (inferred from y_true)."
    )
