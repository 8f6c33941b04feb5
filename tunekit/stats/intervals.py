"""Confidence intervals for a test metric: Wilson for accuracy, BCa bootstrap for regression."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as scipy_stats  # type: ignore[import-untyped]

from tunekit.errors import UsageError
from tunekit.stats._inputs import (
    check_confidence,
    check_seed,
    same_shape,
    values_2d,
    whole_count,
)

__all__ = ["Interval", "bootstrap_interval", "wilson_interval"]

log = logging.getLogger(__name__)

RegressionMetric = Literal["mse", "mae", "rmse", "r2"]
# Regression metrics reported side by side, and whether lower is better.
REGRESSION_METRICS: dict[str, bool] = {"mse": True, "mae": True, "rmse": True, "r2": False}
# Resamples per vectorised call: bounds memory at about batch * n_examples * n_outputs values.
_MAX_BATCH_VALUES = 2_000_000
# Above this many test examples the bootstrap uses the percentile interval (BCa's
# jackknife costs n**2); see `bootstrap_interval`.
BCA_MAX_EXAMPLES = 2000
# Fewer test examples than this: the resamples take too few distinct values for a bootstrap
# interval to mean anything (tunekit reports none, and no verdict from one).
MIN_BOOTSTRAP_EXAMPLES = 20


class Interval(NamedTuple):
    """A confidence interval; unpacks as `(low, high)`."""

    low: float
    high: float


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> Interval:
    """Wilson's score interval for a proportion, e.g. a test accuracy.

    Wilson (1927), "Probable inference, the law of succession, and statistical
    inference", JASA 22:209-212; recommended over the normal (Wald) interval
    by Newcombe (1998, Statistics in Medicine 17:857-872) and Brown, Cai and
    DasGupta (2001). Computed by `scipy.stats.binomtest(...).proportion_ci(
    method="wilson")`, without continuity correction. It stays inside [0, 1]
    and is informative at 0 or `n` successes.

    Args:
        successes: Number of successes (e.g. correctly classified test
            examples), `0 <= successes <= n`.
        n: Number of trials (test examples), at least 1.
        confidence: Confidence level in (0, 1). Defaults to 0.95.

    Returns:
        `Interval(low, high)`, proportions in [0, 1].

    Raises:
        UsageError: `successes` or `n` not whole numbers, `n < 1`,
            `successes > n`, or `confidence` outside (0, 1).

    Example:
        >>> wilson_interval(81, 263)  # Newcombe (1998): 0.2553 to 0.3662
        Interval(low=0.2553..., high=0.3662...)
    """
    successes, n = whole_count(successes, "successes"), whole_count(n, "n")
    if n < 1 or successes > n:
        raise UsageError(
            f"Expected 0 <= successes <= n and n >= 1. Received: successes={successes}, n={n}."
        )
    ci = scipy_stats.binomtest(successes, n).proportion_ci(
        confidence_level=check_confidence(confidence), method="wilson"
    )
    return Interval(float(ci.low), float(ci.high))


# -- regression metrics, vectorised over bootstrap resamples ---


def regression_metric(name: str, y_true: NDArray, y_pred: NDArray) -> NDArray[np.float64]:
    """Metric over the example axis (-2) of `(..., n, k)` arrays, averaged over outputs.

    Matches scikit-learn's `mean_squared_error`, `mean_absolute_error`,
    `root_mean_squared_error` and `r2_score` with `multioutput="uniform_average"`
    (per-output value, then the mean over outputs; R² of a constant target is
    1.0 for a perfect fit, else 0.0, as scikit-learn's `force_finite=True`).
    """
    error = y_true - y_pred
    if name == "mae":
        per_output = np.mean(np.abs(error), axis=-2)
    elif name in ("mse", "rmse"):
        per_output = np.mean(error**2, axis=-2)
        if name == "rmse":
            per_output = np.sqrt(per_output)
    elif name == "r2":
        residual = np.sum(error**2, axis=-2)
        total = np.sum((y_true - np.mean(y_true, axis=-2, keepdims=True)) ** 2, axis=-2)
        with np.errstate(divide="ignore", invalid="ignore"):
            per_output = np.where(
                total > 0,
                1.0 - residual / np.where(total > 0, total, 1.0),
                np.where(residual > 0, 0.0, 1.0),
            )
    else:
        raise UsageError(f"Unknown regression metric {name!r}; expected one of mse, mae, rmse, r2.")
    return np.mean(per_output, axis=-1)


MetricLike = RegressionMetric | Callable[[NDArray, NDArray], float]


def metric_of_indices(
    metric: str | Callable[[NDArray, NDArray], float], y_true: NDArray, y_pred: NDArray
) -> Callable[..., NDArray[np.float64]]:
    """The statistic `bootstrap_statistic` resamples: `metric` of the examples at `idx`.

    The statistic maps indices of shape `(..., m)` to values of shape `(1, ...)`.
    """
    if callable(metric):
        squeeze = y_true.shape[1] == 1

        def statistic(idx: NDArray[np.intp], axis: int = -1) -> NDArray[np.float64]:
            rows = idx.reshape(-1, idx.shape[-1])
            values = [
                metric(*((a[i, 0] if squeeze else a[i]) for a in (y_true, y_pred))) for i in rows
            ]
            return np.asarray(values, dtype=np.float64).reshape((1, *idx.shape[:-1]))

        return statistic
    if metric not in REGRESSION_METRICS:
        raise UsageError(
            f"Invalid value for argument `metric`. Received: metric={metric!r}. Expected one of "
            f"{sorted(REGRESSION_METRICS)} or a function metric(y_true, y_pred) -> float."
        )
    return lambda idx, axis=-1: regression_metric(metric, y_true[idx], y_pred[idx])[None]


class BootstrapResult(NamedTuple):
    """Values on all examples, their intervals, and the interval method used."""

    values: tuple[float, ...]
    intervals: tuple[Interval, ...]
    method: Literal["BCa", "percentile"]


def bootstrap_statistic(
    statistic: Callable[..., NDArray[np.float64]],
    n: int,
    width: int,
    *,
    confidence: float,
    n_resamples: int,
    seed: int | None,
) -> BootstrapResult:
    """Intervals of `statistic` (indices `(..., n)` -> values `(m, ...)`) over resampled examples.

    Every one of the `m` values is computed on the same resamples (so
    differences between them are paired). `width` is the number of values
    `statistic` reads per example (it sizes the batches, to bound memory).
    """
    if n < 2:
        raise UsageError(f"A bootstrap interval needs at least 2 test examples, got {n}.")
    n_resamples = whole_count(n_resamples, "n_resamples", minimum=100)
    seed = check_seed(seed)
    confidence = check_confidence(confidence)
    indices = np.arange(n)
    values = np.asarray(statistic(indices), dtype=np.float64)
    method: Literal["BCa", "percentile"] = "BCa" if n <= BCA_MAX_EXAMPLES else "percentile"
    # Zero spread makes BCa divide 0 by 0; that case is handled below, so stay quiet.
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", scipy_stats.DegenerateDataWarning)
        result = scipy_stats.bootstrap(
            (indices,),
            statistic,
            n_resamples=n_resamples,
            batch=max(1, _MAX_BATCH_VALUES // (n * width)),
            vectorized=True,
            confidence_level=confidence,
            method=method,
            rng=np.random.default_rng(seed),
        )
    distribution = result.bootstrap_distribution
    tail = 100 * (1 - confidence) / 2
    intervals = []
    for row, value in enumerate(values):
        if np.ptp(distribution[row]) == 0:  # every resample scores the same: no spread
            intervals.append(Interval(float(value), float(value)))
            continue
        low, high = result.confidence_interval.low[row], result.confidence_interval.high[row]
        if not (np.isfinite(low) and np.isfinite(high)):  # BCa undefined for these data
            log.warning("BCa bootstrap interval undefined; using the percentile interval.")
            low, high = np.percentile(distribution[row], [tail, 100 - tail])
        intervals.append(Interval(float(low), float(high)))
    return BootstrapResult(tuple(float(v) for v in values), tuple(intervals), method)


def paired_bootstrap(
    metric: Callable[[NDArray, NDArray], NDArray[np.float64]],
    y_true: NDArray,
    tuned: NDArray,
    baseline: NDArray,
    *,
    confidence: float,
    n_resamples: int,
    seed: int | None,
) -> BootstrapResult:
    """Two models' `metric` and its difference, each resample scoring both on the same examples.

    `metric(y_true[idx], y_pred[idx])` scores the examples at indices `idx` of
    shape `(..., m)` (vectorised over the resamples) as values of shape
    `(k, ...)`: `k` metrics, the first deciding. Rows of the result: the tuned
    model's `k` values, the baseline's `k`, then the first metric's difference,
    tuned minus baseline (its interval is the paired bootstrap interval of the
    difference: both models are scored on each resample, so what the examples
    share cancels). `y_true`, `tuned` and `baseline`: arrays of `n` examples
    along axis 0 (values, or class codes). See `bootstrap_statistic`.
    """

    def statistic(idx: NDArray[np.intp], axis: int = -1) -> NDArray[np.float64]:
        true = y_true[idx]
        ours, theirs = metric(true, tuned[idx]), metric(true, baseline[idx])
        return np.concatenate([ours, theirs, ours[:1] - theirs[:1]])

    width = 3 * int(np.prod(y_true.shape[1:], dtype=np.int64))  # values read per example
    return bootstrap_statistic(
        statistic, len(y_true), width, confidence=confidence, n_resamples=n_resamples, seed=seed
    )


def bootstrap_interval(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    metric: MetricLike = "mse",
    confidence: float = 0.95,
    n_resamples: int = 1999,
    seed: int | None = 0,
) -> Interval:
    """A bootstrap confidence interval for a regression metric on a test set.

    Resamples test examples with replacement, each with its true and predicted
    value together (paired resampling, as `scipy.stats.bootstrap(paired=True)`),
    and takes the bias-corrected and accelerated (BCa) interval of the metric
    (Efron 1987, "Better bootstrap confidence intervals", JASA 82:171-185;
    Efron and Tibshirani 1993, "An Introduction to the Bootstrap", ch. 14).
    BCa rather than percentile because the metrics' sampling distributions are
    skewed (squared errors) or biased (R²), which BCa corrects. BCa needs a
    jackknife whose cost grows as the square of the number of examples, so
    above `BCA_MAX_EXAMPLES` (2,000) examples the percentile interval is used;
    by then the skew and bias it leaves out are small. The percentile interval
    is also used when BCa is undefined (a warning is logged); when every
    resample gives the same value (e.g. perfect predictions), the interval is
    that value.

    Args:
        y_true: True values, shape `(n,)` or `(n, k)`, `n >= 2`.
        y_pred: Predictions, the same shape as `y_true`.
        metric: `"mse"`, `"mae"`, `"rmse"` or `"r2"` (vectorised; equal to
            scikit-learn's metric of the same name, averaged over the `k`
            outputs), or any `metric(y_true, y_pred) -> float` such as a
            `sklearn.metrics` function (slower: called once per resample).
            Defaults to `"mse"`. Units are the metric's (squared target units
            for MSE, target units for MAE and RMSE, none for R²).
        confidence: Confidence level in (0, 1). Defaults to 0.95.
        n_resamples: Bootstrap resamples, at least 100. Defaults to 1999
            (Efron and Tibshirani advise 1000-2000 for interval endpoints;
            the cost grows with `n_resamples * n`).
        seed: Seed of the resampling; the same seed gives the same interval.
            Defaults to 0. `None` draws a fresh one.

    Returns:
        `Interval(low, high)` in the metric's units.

    Raises:
        UsageError: shapes that differ or are not `(n,)` / `(n, k)`, NaN or
            infinite values, fewer than 2 examples, an unknown `metric`, or a
            bad `confidence` or `n_resamples`.

    Example:
        >>> bootstrap_interval(y_test, model.predict(x_test), metric="mae", seed=0)
        Interval(low=..., high=...)
    """
    truth = values_2d(y_true, "y_true")
    (pred,) = same_shape(truth, "y_true", y_pred=y_pred)
    statistic = metric_of_indices(metric, truth, pred)
    result = bootstrap_statistic(
        statistic,
        len(truth),
        2 * truth.shape[1],
        confidence=confidence,
        n_resamples=n_resamples,
        seed=seed,
    )
    return result.intervals[0]
