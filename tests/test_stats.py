"""tunekit.stats: intervals, McNemar, seed summaries, paired tests, the baseline verdict.

Pure numpy/scipy, no Keras: every test here runs in well under a second.
Reference values are computed by hand (with the arithmetic in a comment) or
taken from the literature, and cross-checked against scipy and scikit-learn.
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats as scipy_stats
from sklearn import metrics as skm

from tunekit.errors import TunekitError, UsageError
from tunekit.stats import (
    Interval,
    bootstrap_interval,
    compare_to_baseline,
    mcnemar_exact,
    paired_test,
    summarize_scores,
    wilson_interval,
)
from tunekit.stats.intervals import BCA_MAX_EXAMPLES

# -- Wilson ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        # Newcombe (1998), Statistics in Medicine 17:857-872: worked examples, Wilson score method.
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_interval_matches_newcombes_table(successes, n, low, high):
    interval = wilson_interval(successes, n)
    assert isinstance(interval, Interval)
    assert interval == pytest.approx((low, high), abs=5e-5)


def test_wilson_interval_matches_the_closed_form_at_another_level():
    # (p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n), z = Φ⁻¹(0.95) for 90%.
    successes, n, z = 9830, 10000, scipy_stats.norm.ppf(0.95)
    p = successes / n
    centre, half = p + z**2 / (2 * n), z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    expected = ((centre - half) / (1 + z**2 / n), (centre + half) / (1 + z**2 / n))
    assert wilson_interval(successes, n, confidence=0.90) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"successes": 5, "n": 0}, "n >= 1"),
        ({"successes": 11, "n": 10}, "successes <= n"),
        ({"successes": -1, "n": 10}, "successes"),
        ({"successes": 2.5, "n": 10}, "successes=2.5"),
        ({"successes": "5", "n": 10}, "successes='5'"),
        ({"successes": 5, "n": float("nan")}, "n=nan"),
        ({"successes": 5, "n": 10, "confidence": 95}, "confidence=95"),
        ({"successes": 5, "n": 10, "confidence": True}, "confidence"),
    ],
)
def test_wilson_interval_refuses_bad_input(kwargs, message):
    with pytest.raises(UsageError, match=message):
        wilson_interval(**kwargs)


# -- bootstrap ---------------------------------------------------------------------------


def _regression_data(n: int = 120, outputs: int = 1, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, outputs))
    y = 2 * x + rng.normal(scale=0.5, size=(n, outputs))
    shape = (n,) if outputs == 1 else (n, outputs)
    return y.reshape(shape), (2 * x).reshape(shape), (1.6 * x).reshape(shape)


def test_bootstrap_interval_is_reproducible_by_seed_and_brackets_the_metric():
    y, good, _ = _regression_data()
    first = bootstrap_interval(y, good, "mae", n_resamples=500, seed=7)
    assert bootstrap_interval(y, good, "mae", n_resamples=500, seed=7) == first
    assert bootstrap_interval(y, good, "mae", n_resamples=500, seed=8) != first
    assert first.low < skm.mean_absolute_error(y, good) < first.high


def test_bootstrap_interval_takes_a_scikit_learn_metric_function():
    y, good, _ = _regression_data(n=40)
    by_name = bootstrap_interval(y, good, "r2", n_resamples=200, seed=0)
    by_function = bootstrap_interval(y, good, skm.r2_score, n_resamples=200, seed=0)
    assert by_function == pytest.approx(by_name, rel=1e-9)


def test_bootstrap_interval_of_perfect_predictions_is_the_point():
    y = np.linspace(0.0, 1.0, 30)
    assert bootstrap_interval(y, y, "mse", n_resamples=200) == (0.0, 0.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"y_pred": np.zeros(5)}, r"`y_pred` has shape \(5,\) but `y_true` has shape \(4,\)"),
        ({"metric": "accuracy"}, "metric='accuracy'"),
        ({"n_resamples": 10}, "n_resamples=10"),
        ({"seed": -1}, "seed=-1"),
        ({"confidence": None}, "confidence=None"),
        ({"y_true": [1.0], "y_pred": [1.0]}, "at least 2"),
        ({"y_true": [1.0, np.nan, 2.0, 3.0]}, "NaN"),
        ({"confidence": 1.0}, "confidence"),
    ],
)
def test_bootstrap_interval_refuses_bad_input(kwargs, message):
    arguments = {"y_true": [1.0, 2.0, 3.0, 4.0], "y_pred": [1.1, 2.0, 2.9, 4.2], **kwargs}
    with pytest.raises(UsageError, match=message):
        bootstrap_interval(**arguments)


# -- McNemar -----------------------------------------------------------------------------

# 18 examples: both right on 5, only A right on 8, only B right on 2, both wrong on 3.
Y_TRUE = np.array([0, 1, 2] * 6)
RIGHT_A = np.array([1] * 5 + [1] * 8 + [0] * 2 + [0] * 3, dtype=bool)
RIGHT_B = np.array([1] * 5 + [0] * 8 + [1] * 2 + [0] * 3, dtype=bool)
PRED_A = np.where(RIGHT_A, Y_TRUE, (Y_TRUE + 1) % 3)
PRED_B = np.where(RIGHT_B, Y_TRUE, (Y_TRUE + 2) % 3)


def test_mcnemar_exact_against_a_hand_computed_table():
    result = mcnemar_exact(Y_TRUE, PRED_A, PRED_B)
    # b = 8, c = 2: p = 2 * P(X <= 2 | X ~ Bin(10, 1/2)) = 2 * (1 + 10 + 45) / 1024.
    assert (result.b, result.c, result.statistic) == (8, 2, 2)
    assert result.p_value == pytest.approx(112 / 1024, rel=1e-12)
    swapped = mcnemar_exact(Y_TRUE, PRED_B, PRED_A)
    assert (swapped.b, swapped.c, swapped.p_value) == (2, 8, result.p_value)


def test_mcnemar_exact_equals_the_binomial_tail_statsmodels_uses():
    rng = np.random.default_rng(3)
    for _ in range(25):
        n = int(rng.integers(20, 200))
        y = rng.integers(0, 4, n)
        a = np.where(rng.random(n) < rng.uniform(0.5, 1), y, (y + 1) % 4)
        b = np.where(rng.random(n) < rng.uniform(0.5, 1), y, (y + 3) % 4)
        result = mcnemar_exact(y, a, b)
        only_a = int(np.sum((a == y) & (b != y)))
        only_b = int(np.sum((a != y) & (b == y)))
        assert (result.b, result.c) == (only_a, only_b)
        # statsmodels.stats.contingency_tables.mcnemar(exact=True): min(1, 2 * cdf(min(b, c))).
        doubled = min(1.0, 2 * scipy_stats.binom.cdf(min(only_a, only_b), only_a + only_b, 0.5))
        assert result.p_value == pytest.approx(doubled, rel=1e-9, abs=1e-15)
        assert result.p_value == pytest.approx(
            scipy_stats.binomtest(only_a, only_a + only_b).pvalue, rel=1e-9
        )


def test_mcnemar_exact_without_disagreement_is_p_one():
    result = mcnemar_exact([0, 1, 1, 0], [0, 1, 0, 0], [0, 1, 0, 0])
    assert (result.b, result.c, result.p_value) == (0, 0, 1.0)


@pytest.mark.parametrize(
    ("pred_a", "pred_b", "message"),
    [
        (np.eye(3)[[0, 1, 2, 0]], [0, 1, 2, 0], "np.argmax"),
        ([0, 1, 2], [0, 1, 2, 0], r"`pred_a` has 3 predictions but `y_true` has 4"),
    ],
)
def test_mcnemar_exact_refuses_scores_and_lengths_that_differ(pred_a, pred_b, message):
    with pytest.raises(UsageError, match=message):
        mcnemar_exact([0, 1, 2, 0], pred_a, pred_b)


# -- scores over seeds ---------------------------------------------------------------------


def test_summarize_scores_mean_and_sample_std():
    scores = [0.9811, 0.9831, 0.9826, 0.9807]
    summary = summarize_scores(scores)
    assert summary.n == 4
    assert summary.mean == pytest.approx(statistics.mean(scores), rel=1e-12)
    assert summary.std == pytest.approx(statistics.stdev(scores), rel=1e-12)  # ddof=1
    mean, std, n = summarize_scores([0.98])
    assert (mean, std, n) == (0.98, None, 1)  # one run says nothing about the spread


@pytest.mark.parametrize("scores", [[], [0.9, float("nan")], [[0.9, 0.8]], ["high"]])
def test_summarize_scores_refuses_empty_nested_and_non_finite(scores):
    with pytest.raises(UsageError, match="scores"):
        summarize_scores(scores)


def test_paired_test_all_one_way_over_five_seeds():
    result = paired_test([0.983, 0.982, 0.984, 0.981, 0.985], [0.980, 0.981, 0.982, 0.9805, 0.983])
    # Every difference positive: Wilcoxon exact p = 2 / 2**5, sign test p = 2 / 2**5.
    assert (result.n, result.a_higher, result.b_higher, result.ties) == (5, 5, 0, 0)
    assert result.wilcoxon_p_value == pytest.approx(0.0625)
    assert result.sign_p_value == pytest.approx(0.0625)


def test_paired_test_against_hand_computed_exact_values():
    b = np.array([10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0])
    a = b + np.array([1.0, 2.0, -3.0, 4.0, 5.0, 6.0, 0.0])  # one tie, dropped
    result = paired_test(a, b)
    # Ranks of |d| over 6 pairs: W- = 3; P(W <= 3) = #{subsets of 1..6 summing to <= 3} / 64
    # = 5/64, two-sided 10/64. Sign test: 5 up, 1 down: 2 * (1 + 6) / 64.
    assert (result.a_higher, result.b_higher, result.ties) == (5, 1, 1)
    assert result.wilcoxon_statistic == 3.0
    assert result.wilcoxon_p_value == pytest.approx(10 / 64)
    assert result.sign_p_value == pytest.approx(14 / 64)
    assert result.median_difference == 2.0 and result.mean_difference == pytest.approx(15 / 7)


def test_paired_test_counts_float_noise_as_ties():
    # 0.3 - 0.2, 0.7 - 0.6 and 1.1 - 1.0 differ in the 17th digit; as ties the exact
    # two-sided p for 3 positive pairs is 2 / 2**3 (sign test likewise).
    result = paired_test([0.3, 0.7, 1.1, 0.5], [0.2, 0.6, 1.0, 0.5])
    assert (result.a_higher, result.b_higher, result.ties) == (3, 0, 1)
    assert result.wilcoxon_statistic == 0.0 and result.wilcoxon_p_value == pytest.approx(0.25)
    assert result.sign_p_value == pytest.approx(0.25)


def test_paired_test_when_every_seed_ties_is_p_one():
    result = paired_test([0.98, 0.97], [0.98, 0.97])
    assert (result.wilcoxon_p_value, result.sign_p_value, result.ties) == (1.0, 1.0, 2)


def test_paired_test_refuses_unpaired_lengths():
    with pytest.raises(UsageError, match="3 and 2 scores"):
        paired_test([1.0, 2.0, 3.0], [1.0, 2.0])


# -- tuned against baseline ------------------------------------------------------------------


def test_compare_to_baseline_classification_better():
    comparison = compare_to_baseline(Y_TRUE, PRED_A, PRED_B, confidence=0.85)
    accuracy = comparison.metrics[0]
    assert comparison.task == "classification" and accuracy.name == "accuracy"
    assert (accuracy.tuned, accuracy.baseline) == (13 / 18, 7 / 18)
    assert accuracy.tuned_interval == wilson_interval(13, 18, 0.85)
    assert accuracy.baseline_interval == wilson_interval(7, 18, 0.85)
    assert (comparison.mcnemar.b, comparison.mcnemar.c) == (8, 2)
    assert comparison.outcome == "better"  # p = 0.109 < 0.15
    assert comparison.verdict.startswith("tuned is better than the baseline")
    assert "McNemar exact p=0.109" in comparison.verdict


def test_compare_to_baseline_classification_says_plainly_when_tuning_did_not_help():
    same = compare_to_baseline(Y_TRUE, PRED_A, PRED_B)  # p = 0.109 >= 0.05
    assert same.outcome == "indistinguishable"
    assert same.verdict.startswith("tuned is not distinguishable from the baseline")
    assert "tuning did not measurably help" in same.verdict
    worse = compare_to_baseline(Y_TRUE, PRED_B, PRED_A, confidence=0.85)
    assert worse.outcome == "worse" and "tuned is worse than the baseline" in worse.verdict
    assert (worse.mcnemar.b, worse.mcnemar.c) == (2, 8)


@pytest.mark.parametrize("outputs", [1, 3])
def test_compare_to_baseline_regression_metrics_equal_scikit_learn(outputs):
    y, good, poor = _regression_data(n=150, outputs=outputs)
    comparison = compare_to_baseline(y, good, poor, n_resamples=300)
    assert comparison.task == "regression" and comparison.interval_method == "BCa bootstrap"
    reference = {
        "mse": skm.mean_squared_error,
        "mae": skm.mean_absolute_error,
        "rmse": skm.root_mean_squared_error,
        "r2": skm.r2_score,
    }
    assert [m.name for m in comparison.metrics] == ["mse", "mae", "rmse", "r2"]
    for metric in comparison.metrics:
        assert metric.tuned == pytest.approx(reference[metric.name](y, good), rel=1e-10)
        assert metric.baseline == pytest.approx(reference[metric.name](y, poor), rel=1e-10)
        assert metric.tuned_interval.low <= metric.tuned <= metric.tuned_interval.high
    assert comparison.outcome == "better"
    low, high = comparison.difference_interval
    assert high < 0 and "paired BCa bootstrap interval" in comparison.verdict


def test_compare_to_baseline_regression_worse_and_indistinguishable_and_r2_direction():
    y, good, poor = _regression_data(n=150)
    worse = compare_to_baseline(y, poor, good, metric="r2", n_resamples=300)
    assert worse.metrics[0].name == "r2" and worse.outcome == "worse"
    assert worse.difference_interval.high < 0  # R² difference negative: higher is better
    better = compare_to_baseline(y, good, poor, metric="r2", n_resamples=300)
    assert better.outcome == "better" and better.difference_interval.low > 0
    noise = np.random.default_rng(1).normal(scale=1e-3, size=len(y))
    tie = compare_to_baseline(y, good, good + noise, n_resamples=300)
    assert tie.outcome == "indistinguishable" and "tuning did not measurably help" in tie.verdict


@pytest.mark.parametrize(
    "n, outcome", [(4, "indistinguishable"), (19, "indistinguishable"), (20, "better")]
)
def test_a_handful_of_regression_test_examples_gives_no_verdict(n, outcome):
    # 4 examples, tuned 100x closer: the bootstrap "excludes 0" on artefacts of 4 values.
    y, good, poor = _regression_data(n=n)
    comparison = compare_to_baseline(y, good, poor, n_resamples=300)
    assert comparison.outcome == outcome
    too_few = f"on {n} examples, too few to tell (a paired bootstrap needs at least 20)"
    assert (too_few in comparison.verdict) == (n < 20), comparison.verdict
    small = "the test set is too small to tell tuned from the baseline on test MSE"
    assert comparison.verdict.startswith(small) == (n < 20), comparison.verdict
    assert "did not measurably help" not in comparison.verdict
    # Below 20: no interval anywhere (the report's table showed them beside the refusal).
    withheld = n < 20
    assert (comparison.difference_interval is None) == withheld
    assert all((m.tuned_interval is None) == withheld for m in comparison.metrics)
    assert all((m.baseline_interval is None) == withheld for m in comparison.metrics)
    assert comparison.interval_method.startswith("none: ") == withheld
    assert comparison.metrics[0].tuned == pytest.approx(np.mean((y - good) ** 2))


def test_a_better_tuned_regressor_below_r2_zero_is_said_to_be_no_better_than_the_mean():
    # Both far off (e.g. unscaled features): "better" alone read as "tuning worked".
    y, _, _ = _regression_data(n=150)
    rng = np.random.default_rng(2)
    bad = y.mean() + 3 * y.std() + rng.normal(scale=0.1, size=y.shape)
    worse = bad + 2 * y.std()
    comparison = compare_to_baseline(y, bad, worse, n_resamples=300)
    r2 = {m.name: m for m in comparison.metrics}["r2"]
    assert comparison.outcome == "better" and r2.tuned < 0 and r2.baseline < r2.tuned
    assert comparison.verdict.startswith("tuned is better than the baseline")
    assert f"Note: the tuned model's test R² is {r2.tuned:.4g}" in comparison.verdict
    assert "no better than the mean of the targets" in comparison.verdict
    assert comparison.note.startswith("Note: ")
    assert comparison.verdict.endswith(". " + comparison.note)
    y, good, poor = _regression_data(n=150)
    fine = compare_to_baseline(y, good, poor, n_resamples=300)
    assert "Note:" not in fine.verdict and fine.note == ""


def test_compare_to_baseline_switches_to_percentile_for_large_test_sets():
    y, good, poor = _regression_data(n=BCA_MAX_EXAMPLES + 1)
    comparison = compare_to_baseline(y, good, poor, n_resamples=200)
    assert comparison.interval_method == "percentile bootstrap"
    assert "paired percentile bootstrap" in comparison.verdict


def test_compare_to_baseline_is_reproducible_and_json_ready():
    y, good, poor = _regression_data(n=60)
    first = compare_to_baseline(y, good, poor, n_resamples=200, seed=3)
    assert compare_to_baseline(y, good, poor, n_resamples=200, seed=3) == first
    data = json.loads(json.dumps(first.to_dict()))
    assert data["outcome"] == first.outcome and data["metrics"][0]["tuned_interval"] == list(
        first.metrics[0].tuned_interval
    )
    classification = compare_to_baseline(Y_TRUE, PRED_A, PRED_B).to_dict()
    assert json.loads(json.dumps(classification))["mcnemar"] == {
        "b": 8,
        "c": 2,
        "p_value": 112 / 1024,
        "statistic": 2,
    }


def test_compare_to_baseline_infers_the_task_and_takes_an_override():
    assert compare_to_baseline([0, 1, 1, 0], [0, 1, 0, 0], [0, 1, 1, 1]).task == "classification"
    labels_as_floats = np.array([0.0, 1.0, 1.0, 0.0])
    explicit = compare_to_baseline(
        labels_as_floats, [0, 1, 0, 0], [0, 1, 1, 1], task="classification"
    )
    assert explicit.task == "classification" and explicit.metrics[0].tuned == 0.75
    # Class ids saved as floats are classes, as `Dataset` reads them (they were taken as
    # regression: an MSE and a bootstrap verdict instead of McNemar's test)
    y = np.random.default_rng(0).integers(0, 3, 50).astype(float)
    inferred = compare_to_baseline(y, y, np.roll(y, 1))
    assert inferred.task == "classification" and inferred.mcnemar is not None
    assert compare_to_baseline([0.5, 1.5, 2.0], [0.5, 1.0, 2.0], [1, 1, 1]).task == "regression"
    with pytest.raises(UsageError, match=r"task=") as caught:  # 1.0/2.0: labels, or values?
        compare_to_baseline([1.0, 2.0, 2.0, 1.0], [1, 2, 1, 1], [2, 2, 2, 2])
    assert "--task" not in str(caught.value)  # a Python call: no command-line spelling
    # Sigmoid probabilities as predictions: accuracy 0.0 against 0.0 and a verdict, before
    labels = np.array([0, 1, 1, 0, 1] * 8)
    with pytest.raises(UsageError, match=r"holds 0\.1, not a class label.*\(p > 0\.5\)"):
        compare_to_baseline(labels, np.where(labels == 1, 0.9, 0.1), labels)
    # Text labels against class ids: 0.0 against 0.0 and a verdict, before
    for names in (["cat", "dog"], ["0", "1"]):
        with pytest.raises(UsageError, match=r"`tuned` holds numbers .* and `y_true` text"):
            compare_to_baseline(np.asarray(names)[labels], labels, 1 - labels)
    assert compare_to_baseline(["a", "b"], ["a", "a"], ["b", "b"]).task == "classification"
    # A pandas column of text (object dtype, or category) was "Cannot tell the task"
    import pandas as pd

    names = np.array(["cat", "dog"])
    column = pd.Series(names[labels])
    for y_true in (column, column.astype("category"), pd.Series(labels, dtype=object)):
        truth = np.asarray(y_true)
        pred = truth if truth.dtype == object and isinstance(truth[0], str) else labels
        assert compare_to_baseline(y_true, pred, pred).task == "classification"


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (([0, 1, 2], np.eye(3), [0, 1, 2]), {}, "np.argmax"),
        (([0, 1, 2], [0, 1, 2], [0, 1]), {}, "`baseline` has 2 predictions"),
        (([0, 1, 2], [0, 1, 2], [0, 1, 2]), {"task": "ranking"}, "task='ranking'"),
        (([0.5, 1.5, 2.5], [0.5, 1.0, 2.0], [1.0, 1.0, 1.0]), {"metric": "mape"}, "metric='mape'"),
        (([0.5, 1.5], [0.5, 1.0], [1.0, 1.0, 1.0]), {}, "`baseline` has shape"),
        (([0, 1, 2], [0, 1, 2], [0, 1, 2]), {"confidence": 0}, "confidence=0"),
        ((np.array([None, 1, 2]), [0, 1, 2], [0, 1, 2]), {}, "task='classification'"),
        ((np.eye(3), np.eye(3), np.eye(3)), {}, "looks like one-hot class labels"),
    ],
)
def test_compare_to_baseline_refuses_bad_input(args, kwargs, message):
    with pytest.raises(UsageError, match=message) as raised:
        compare_to_baseline(*args, **kwargs)
    assert isinstance(raised.value, TunekitError) and isinstance(raised.value, ValueError)


def test_stats_loads_neither_keras_nor_tensorflow():
    code = (
        "import sys, tunekit.stats; "
        "assert not {'keras', 'tensorflow', 'jax'} & set(sys.modules), sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_the_verdict_names_the_metric_and_the_test_it_is_decided_on():
    """A reader of "tuning did not measurably help" could not tell it was about accuracy
    (McNemar) or MSE (paired bootstrap), not the objective the search ranked by."""
    same = compare_to_baseline(Y_TRUE, PRED_A, PRED_B)
    assert same.verdict.startswith(
        "tuned is not distinguishable from the baseline on test accuracy (McNemar's exact "
        "test on the paired predictions): test accuracy "
    )
    assert same.verdict.endswith("; on this metric tuning did not measurably help.")
    y, good, poor = _regression_data(n=150)
    better = compare_to_baseline(y, good, poor, n_resamples=300)
    assert better.verdict.startswith(
        "tuned is better than the baseline on test MSE (a paired bootstrap of the "
        "per-example differences): test MSE "
    )


def test_a_test_set_too_small_to_tell_says_so_not_that_tuning_did_not_help():
    """15 test examples, MSE 0.01 against 4.0 (the probe's stats_edge.py): the verdict said
    "tuning did not measurably help"; 5 classification examples can never reach p < 0.05."""
    rng = np.random.default_rng(0)
    y = rng.normal(size=15)
    regression = compare_to_baseline(y, y + 0.1, y + 2.0)
    assert regression.metrics[0].tuned == pytest.approx(0.01)
    assert regression.metrics[0].baseline == pytest.approx(4.0)
    assert regression.verdict.startswith(
        "the test set is too small to tell tuned from the baseline on test MSE"
    )
    assert "this says nothing on whether tuning helped" in regression.verdict
    assert "did not measurably help" not in regression.verdict
    labels = np.array([0, 1, 1, 0, 1])
    tiny = compare_to_baseline(labels, labels, 1 - labels)  # tuned right on all 5: p = 0.0625
    assert tiny.outcome == "indistinguishable" and tiny.mcnemar.p_value == pytest.approx(0.0625)
    assert tiny.verdict.startswith("the test set is too small to tell tuned from the baseline")
    assert "did not measurably help" not in tiny.verdict
    six = np.array([0, 1, 1, 0, 1, 0])  # 6 examples can: p = 0.03125
    assert compare_to_baseline(six, six, 1 - six).outcome == "better"


class _Objective:
    def __init__(self, name: str, direction: str) -> None:
        self.name, self.direction = name, direction


def _compared(name: str, tuned: float, baseline: float) -> dict:
    row = {"name": name, "tuned": tuned, "baseline": baseline, "tuned_interval": None}
    return {"metrics": (row,), "verdict": "tuned is not distinguishable ..."}


def test_an_objective_on_another_metric_adds_both_models_test_values_of_it():
    """The probe's val_recall run (breast cancer cut 95/5): the verdict, on accuracy 0.9298 vs
    0.8421, said tuning did not measurably help; on recall, the tuned metric, the baseline
    scored 0.0 against 0.333. And val_mae / val_r2_score were judged on test MSE alone."""
    from tunekit.report_verdict import objective_comparison

    compared = _compared("accuracy", 0.9298, 0.8421)
    tuned = {"loss": 0.2, "accuracy": 0.9298, "recall": 1 / 3}
    said = objective_comparison(
        _Objective("val_recall", "max"), compared, tuned, {"accuracy": 0.8421, "recall": 0.0}
    )
    assert said == (
        "The search's objective ranks by another metric, val_recall (higher is better): test "
        "recall 0.3333 vs 0 (tuned vs baseline; no significance test on it)."
    )
    assert compared["metrics"][1] == {
        "name": "recall",
        "tuned": 1 / 3,
        "tuned_interval": None,
        "baseline": 0.0,
        "baseline_interval": None,
        "lower_is_better": False,
        "objective": True,
    }
    regression = _compared("mse", 0.40, 0.50)
    said = objective_comparison(
        _Objective("val_r2_score", "max"), regression, {"r2_score": 0.6}, {"r2_score": 0.5}
    )
    assert "val_r2_score (higher is better): test r2_score 0.6 vs 0.5" in said
    # The objective is the deciding metric (by name, or a loss that is the MSE): nothing added.
    for objective, metrics in (("val_mse", {"mse": 0.4}), ("val_loss", {"loss": 0.4})):
        same = _compared("mse", 0.4, 0.5)
        base = {name: 0.5 for name in metrics}
        assert objective_comparison(_Objective(objective, "min"), same, metrics, base) == ""
        assert len(same["metrics"]) == 1


def test_tunekits_value_beside_the_models_own_metric_of_that_name_is_named_apart():
    """The probe's top-2 run (`SparseTopKCategoricalAccuracy(k=2, name="accuracy")`, objective
    val_accuracy) and MSLE run (`MeanSquaredLogarithmicError(name="mse")`, val_mse): the
    verdict said "test accuracy 0.5556 vs 0.3704" (scikit-learn's) and then "The search's
    objective ranks by another metric, val_accuracy ...: test accuracy 0.7037 vs 0.7407" (the
    model's): two numbers, one name, and "another metric" for the same name."""
    from tunekit.report_verdict import objective_comparison, relabel_decided

    labels = np.array([0, 1, 2] * 9)
    classified = compare_to_baseline(labels, labels, np.roll(labels, 1)).to_dict()
    classified["metrics"][0]["name"] = "sklearn_accuracy"  # as `own_name` renames the row
    relabel_decided(classified)
    assert "test accuracy" not in classified["verdict"]
    assert "on test sklearn_accuracy (McNemar's exact test" in classified["verdict"]
    assert ": test sklearn_accuracy 1.0000 vs 0.0000 (" in classified["verdict"]
    compared = _compared("sklearn_accuracy", 0.5556, 0.3704)
    said = objective_comparison(
        _Objective("val_accuracy", "max"), compared, {"accuracy": 0.7037}, {"accuracy": 0.7407}
    )
    assert said == (
        "The search's objective, val_accuracy (higher is better), is your model's own "
        "`accuracy`, not scikit-learn's `sklearn_accuracy` the verdict is decided on: test "
        "accuracy 0.7037 vs 0.7407 (tuned vs baseline; no significance test on it)."
    )
    assert [row["name"] for row in compared["metrics"]] == ["sklearn_accuracy", "accuracy"]
    y, good, poor = _regression_data(n=150)
    regression = compare_to_baseline(y, good, poor, n_resamples=300).to_dict()
    regression["metrics"][0]["name"] = "sklearn_mse"
    relabel_decided(regression)
    assert regression["verdict"].startswith(
        "tuned is better than the baseline on test sklearn_mse (a paired bootstrap of the "
        "per-example differences): test sklearn_mse "
    )
    assert "test MSE" not in regression["verdict"]
    said = objective_comparison(
        _Objective("val_mse", "min"), regression, {"mse": 0.4367}, {"mse": 0.5075}
    )
    assert said.startswith("The search's objective, val_mse (lower is better), is your model's")
    assert "another metric" not in said and "test mse 0.4367 vs 0.5075" in said
    # Another metric still reads so; a plain deciding name is left as it was.
    said = objective_comparison(
        _Objective("val_mae", "min"), _compared("sklearn_mse", 1.7, 1.8), {"mae": 1.5}, {"mae": 1.6}
    )
    assert said.startswith("The search's objective ranks by another metric, val_mae")
    plain = compare_to_baseline(labels, labels, np.roll(labels, 1)).to_dict()
    verdict = plain["verdict"]
    relabel_decided(plain)
    assert plain["verdict"] == verdict


def test_the_regression_sentence_says_the_search_ranked_by_the_models_own_metric_only_if_so():
    """names_reg.py (objective val_loss): report.md said the model's own `mse` was "the one
    the search ranked by (it)", while the search ranked by val_loss."""
    from tunekit.report_scores import regression_sentence

    metrics = {"loss": 1.69, "mse": 0.44, "sklearn_mse": 1.69, "sklearn_mae": 1.08, "mae": 1.5}
    by_loss = regression_sentence({"test_metrics": metrics, "config": {"objective": "val_loss"}})
    assert "ranked" not in by_loss
    assert "that one is Keras's, the model's own (what `model.evaluate` gives), and " in by_loss
    assert by_loss.endswith("scikit-learn's is sklearn_mae, sklearn_mse.")
    by_mse = regression_sentence({"test_metrics": metrics, "config": {"objective": "val_mse"}})
    assert "(what `model.evaluate` gives; the search ranked by val_mse)" in by_mse
    parts = {"objective": "multi", "objectives": [["val_loss", "min"], ["val_mae", "min"]]}
    by_parts = regression_sentence({"test_metrics": metrics, "config": parts})
    assert "the search ranked by val_mae)" in by_parts
    plain = regression_sentence({"test_metrics": {"mse": 1.0}, "config": {"objective": "val_mse"}})
    assert plain.endswith("plots/residuals.png).")
