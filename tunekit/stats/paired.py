"""Paired comparisons: McNemar's exact test on test predictions, and scores over seeds."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as scipy_stats  # type: ignore[import-untyped]

from tunekit.errors import UsageError
from tunekit.stats._inputs import paired_labels, scores_1d

__all__ = [
    "McNemarResult",
    "PairedTestResult",
    "ScoreSummary",
    "mcnemar_exact",
    "paired_test",
    "summarize_scores",
]


@dataclasses.dataclass(frozen=True)
class McNemarResult:
    """McNemar's exact test of two classifiers on the same test examples.

    Attributes:
        b: Examples that model A classified right and model B wrong.
        c: Examples that model A classified wrong and model B right.
        p_value: Two-sided exact p-value, in [0, 1]; 1.0 when `b + c == 0`.
        statistic: `min(b, c)`, the statistic statsmodels reports for the
            exact test.
    """

    b: int
    c: int
    p_value: float
    statistic: int


def mcnemar_exact(y_true: ArrayLike, pred_a: ArrayLike, pred_b: ArrayLike) -> McNemarResult:
    """McNemar's exact test: do two classifiers differ in accuracy on paired predictions?

    Only the discordant examples count: `b` (A right, B wrong) and `c` (A wrong,
    B right). Under the null hypothesis of equal accuracy each discordant
    example is A's or B's with probability 1/2, so `b ~ Binomial(b + c, 1/2)`
    and the two-sided p-value is `min(1, 2 * P(X <= min(b, c)))`: McNemar
    (1947), "Note on the sampling error of the difference between correlated
    proportions or percentages", Psychometrika 12:153-157, in its exact
    (conditional binomial) form, as statsmodels' `mcnemar(table, exact=True)`
    computes it; no continuity correction is needed (Edwards 1948 proposed one
    for the chi-square form only). Dietterich (1998, Neural Computation
    10:1895-1923) recommends McNemar's test for comparing two classifiers
    evaluated on one test set. Computed by
    `scipy.stats.binomtest(b, b + c, 0.5)`, which for p = 1/2 equals the
    doubled tail.

    Args:
        y_true: True class labels, shape `(n,)` (or `(n, 1)`), any label type.
        pred_a: Model A's predicted labels for the same examples, shape `(n,)`.
        pred_b: Model B's predicted labels, shape `(n,)`.

    Returns:
        `McNemarResult(b, c, p_value, statistic)`.

    Raises:
        UsageError: not 1-D labels (class scores must be turned into labels
            first) or lengths that differ.
    """
    truth, a, b = paired_labels(y_true, pred_a=pred_a, pred_b=pred_b)
    a_right, b_right = a == truth, b == truth
    only_a, only_b = int(np.sum(a_right & ~b_right)), int(np.sum(~a_right & b_right))
    p_value = 1.0 if only_a + only_b == 0 else scipy_stats.binomtest(only_a, only_a + only_b).pvalue
    return McNemarResult(only_a, only_b, min(1.0, float(p_value)), min(only_a, only_b))


# -- scores over seeds ---


class ScoreSummary(NamedTuple):
    """Mean and spread of one configuration's scores over seeds; unpacks as `(mean, std, n)`.

    Attributes:
        mean: Arithmetic mean.
        std: Sample standard deviation (`ddof=1`); `None` for a single score.
        n: Number of scores.
    """

    mean: float
    std: float | None
    n: int


def summarize_scores(scores: Sequence[float] | ArrayLike) -> ScoreSummary:
    """Mean, sample standard deviation (`ddof=1`) and count of scores over seeds.

    For a finalist's validation scores or the final seeds' test metric.

    Args:
        scores: One score per seed, 1-D, finite, at least one.

    Returns:
        `ScoreSummary(mean, std, n)`; `std` is `None` when `n == 1` (one run
        says nothing about the spread).

    Raises:
        UsageError: empty, not 1-D, or holding NaN or infinite scores.
    """
    array = scores_1d(scores, "scores")
    std = float(np.std(array, ddof=1)) if array.size > 1 else None
    return ScoreSummary(float(np.mean(array)), std, int(array.size))


@dataclasses.dataclass(frozen=True)
class PairedTestResult:
    """Two arms compared seed by seed (`a[i]` and `b[i]` share seed `i`).

    Attributes:
        n: Number of pairs.
        mean_difference: Mean of `a - b`.
        median_difference: Median of `a - b`.
        a_higher: Pairs where `a > b`.
        b_higher: Pairs where `b > a`.
        ties: Pairs where `a == b` (left out of both tests).
        wilcoxon_statistic: Wilcoxon's statistic as scipy reports it (for a
            two-sided test, the smaller of the signed-rank sums).
        wilcoxon_p_value: Two-sided Wilcoxon signed-rank p-value; 1.0 when
            every pair ties.
        sign_p_value: Two-sided exact sign-test p-value; 1.0 when every pair ties.
    """

    n: int
    mean_difference: float
    median_difference: float
    a_higher: int
    b_higher: int
    ties: int
    wilcoxon_statistic: float
    wilcoxon_p_value: float
    sign_p_value: float


def paired_test(a: Sequence[float] | ArrayLike, b: Sequence[float] | ArrayLike) -> PairedTestResult:
    """Wilcoxon signed-rank and sign tests of two arms run on the same seeds.

    The Wilcoxon signed-rank test (Wilcoxon 1945, Biometrics Bulletin 1:80-83)
    uses the sizes of the differences; `scipy.stats.wilcoxon` with
    `method="auto"` is exact for up to 50 pairs without ties or zero
    differences, an exact permutation test for up to 13 pairs with them, and
    the normal approximation otherwise. Zero differences are dropped (Wilcoxon's
    rule); differences are rounded to 12 decimals first, so scores that differ
    only by floating-point noise count as ties. The sign test (Dixon and Mood
    1946) uses only who won each pair: `scipy.stats.binomtest(a_higher,
    a_higher + b_higher, 0.5)`. With 5 seeds
    the smallest two-sided p-value either test can give is 0.0625.

    Args:
        a: Scores of arm A, one per seed, 1-D, finite.
        b: Scores of arm B on the same seeds, the same length as `a`.

    Returns:
        `PairedTestResult`; the tests are two-sided, the counts give the direction.

    Raises:
        UsageError: empty or non-1-D input, non-finite scores, or lengths that differ.
    """
    first, second = scores_1d(a, "a"), scores_1d(b, "b")
    if first.shape != second.shape:
        raise UsageError(
            f"`a` and `b` must pair up seed by seed; got {first.size} and {second.size} scores."
        )
    # Rounded so scores that differ only by float noise tie (e.g. 0.983 - 0.980 vs 0.982 - 0.979).
    difference = np.round(first - second, 12)
    higher, lower = int(np.sum(difference > 0)), int(np.sum(difference < 0))
    if higher + lower == 0:
        statistic, wilcoxon_p, sign_p = 0.0, 1.0, 1.0
    else:
        result = scipy_stats.wilcoxon(difference, zero_method="wilcox", method="auto")
        statistic, wilcoxon_p = float(result.statistic), float(result.pvalue)
        sign_p = float(scipy_stats.binomtest(higher, higher + lower).pvalue)
    return PairedTestResult(
        n=int(first.size),
        mean_difference=float(np.mean(difference)),
        median_difference=float(np.median(difference)),
        a_higher=higher,
        b_higher=lower,
        ties=int(first.size) - higher - lower,
        wilcoxon_statistic=statistic,
        wilcoxon_p_value=min(1.0, wilcoxon_p),
        sign_p_value=min(1.0, sign_p),
    )
