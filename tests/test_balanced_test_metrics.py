"""Under class weights, balanced accuracy is a test metric like any other.

With `class_weight=` the baseline's verdict is decided on scikit-learn's balanced accuracy
(its table's first row, `test balanced_accuracy (95% BCa bootstrap interval)`), but
`result.test_metrics`, report.json, report.md's Test set table, `test_intervals`, the final
seeds, the `Test:` line and `tunekit compare` had no balanced accuracy: the quantity the
run was judged on was nowhere else. Every value tunekit reports for the test set is a test
metric, under one name (`sklearn_balanced_accuracy` beside a model's own metric of that name
and another value); without class weights nothing changes.
"""

from __future__ import annotations

import types
import warnings
from typing import Any

import keras_tuner as kt
import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score

from tunekit.stats import compare_to_baseline

WEIGHTS = {0: 0.56, 1: 5.0}
_PLAIN = kt.HyperModel()  # no fit of its own: the labels as class ids


def _weighed_pair() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """400 test labels (10% positives); a tuned model that finds every positive with 60 false
    alarms, a baseline that misses most of them (`tests/test_baseline_verdict.py`'s pair)."""
    y = np.array([0] * 360 + [1] * 40)
    tuned, baseline = y.copy(), y.copy()
    tuned[:60] = 1
    baseline[360:396] = 0
    return y, tuned, baseline


def test_classification_metrics_add_balanced_accuracy_under_class_weights_only() -> None:
    from tunekit.classification import classification_metrics, weighs_classes

    y, tuned, _ = _weighed_pair()
    plain = classification_metrics(y, tuned)
    assert plain == {"accuracy": pytest.approx(0.85)}
    weighed = classification_metrics(y[:, None], tuned, weighed=True)  # (n, 1) labels too
    assert list(weighed) == ["accuracy", "balanced_accuracy"]
    assert weighed["balanced_accuracy"] == balanced_accuracy_score(y, tuned)
    assert weighed["balanced_accuracy"] == pytest.approx(0.9167, abs=1e-4)
    # A class only predicted counts for nothing, as in scikit-learn (whose warning is silenced).
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert classification_metrics([0, 0, 1, 1], [0, 2, 1, 1], weighed=True) == {
            "accuracy": 0.75,
            "balanced_accuracy": 0.75,
        }
    assert weighs_classes(types.SimpleNamespace(class_weights=WEIGHTS))
    assert not weighs_classes(types.SimpleNamespace(class_weights=None))
    assert not weighs_classes(types.SimpleNamespace())


def test_balanced_accuracys_interval_is_the_baseline_tables_for_the_tuned_model() -> None:
    """One quantity, one interval: the Test set table's and the baseline table's agree."""
    from tunekit.classification import classification_intervals
    from tunekit.stats import balanced_accuracy_interval

    y, tuned, baseline = _weighed_pair()
    compared = compare_to_baseline(y, tuned, baseline, metric="balanced_accuracy", seed=3)
    row = compared.metrics[0]
    assert row.name == "balanced_accuracy"
    interval = balanced_accuracy_interval(y, tuned, seed=3)
    assert interval == row.tuned_interval
    assert interval.low < balanced_accuracy_score(y, tuned) < interval.high
    found = classification_intervals(y, tuned, weighed=True, seed=3)
    assert found["balanced_accuracy"] == {
        "value": balanced_accuracy_score(y, tuned),
        "interval": list(row.tuned_interval),
        "method": "BCa bootstrap",
    }
    assert found["accuracy"]["method"] == "Wilson"
    # Without class weights: the accuracy and its Wilson interval only, as before.
    assert list(classification_intervals(y, tuned, seed=3)) == ["accuracy"]
    # Below 20 test examples no bootstrap interval, and the method says why (as regression's).
    few = classification_intervals(y[350:360], tuned[350:360], weighed=True)
    assert few["balanced_accuracy"]["interval"] is None
    assert few["balanced_accuracy"]["method"] == (
        "none: 10 test examples, too few for a bootstrap interval (it needs at least 20)"
    )


def test_test_intervals_and_the_test_table_give_balanced_accuracy_under_class_weights() -> None:
    from tunekit.report_scores import beside_metrics, test_intervals, test_table

    y, tuned, _ = _weighed_pair()
    assert set(test_intervals(y, tuned, "classification")) == {"accuracy"}  # as before
    intervals = test_intervals(y, tuned, "classification", weighed=True)
    assert set(intervals) == {"accuracy", "balanced_accuracy"}
    metrics = {"loss": 0.3, "accuracy": 0.85, "balanced_accuracy": 0.9167}
    report = {"test_metrics": metrics, "test_intervals": beside_metrics(intervals, metrics)}
    low, high = intervals["balanced_accuracy"]["interval"]
    assert (
        f"| balanced_accuracy | 0.9167 | [{low:.4f}, {high:.4f}] (BCa bootstrap) |"
        in test_table(report)
    )


def _classifier(metrics: list[Any] | None, *, compiled: bool = True) -> Any:
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    if compiled:
        model.compile("adam", "sparse_categorical_crossentropy", metrics=metrics)
    return model


def _imbalanced() -> Any:
    from tunekit.data import Dataset

    rng = np.random.default_rng(0)
    y = (np.arange(300) % 10 == 0).astype(np.int64)
    x = rng.normal(size=(300, 4)).astype("float32") + y[:, None]
    return Dataset.from_arrays(x, y, seed=0)


@pytest.mark.parametrize("compiled", [True, False])
def test_a_class_weighed_classifiers_test_metrics_hold_balanced_accuracy(compiled: bool) -> None:
    """`steps.base.test_metrics` (the saved model's, each final seed's, the baseline's):
    balanced accuracy with class weights, compiled or not; nothing new without them."""
    from tunekit.report_scores import beside_metrics, test_intervals
    from tunekit.steps.base import test_metrics
    from tunekit.steps.evaluate import test_predictions

    data = _imbalanced()
    model = _classifier(["accuracy"], compiled=compiled)
    ctx = types.SimpleNamespace(data=data, hypermodel=_PLAIN, class_weights=WEIGHTS)
    predicted = test_predictions(ctx, model, 64)
    metrics = test_metrics(ctx, model, 64, predicted)
    assert metrics["balanced_accuracy"] == balanced_accuracy_score(data.y_test, predicted)
    intervals = beside_metrics(
        test_intervals(data.y_test, predicted, data.task, weighed=True), metrics
    )
    assert set(intervals) == {"accuracy", "balanced_accuracy"} <= set(metrics)
    assert intervals["balanced_accuracy"]["value"] == metrics["balanced_accuracy"]
    plain = types.SimpleNamespace(data=data, hypermodel=_PLAIN, class_weights=None)
    assert "balanced_accuracy" not in test_metrics(plain, model, 64, predicted)


def test_a_models_own_balanced_accuracy_keeps_its_name_and_tunekits_goes_beside_it() -> None:
    """A metric the model compiles as `balanced_accuracy` (here a recall, another value) is
    Keras's; scikit-learn's balanced accuracy is `sklearn_balanced_accuracy`, with its interval
    there, as the baseline table names it (`own_name`)."""
    import keras

    from tunekit.regression import own_name
    from tunekit.report_scores import beside_metrics, test_intervals
    from tunekit.steps.base import test_metrics
    from tunekit.steps.evaluate import test_predictions

    data = _imbalanced()
    own = keras.metrics.SparseCategoricalAccuracy(name="balanced_accuracy")  # plain accuracy
    model = _classifier([own])
    ctx = types.SimpleNamespace(data=data, hypermodel=_PLAIN, class_weights=WEIGHTS)
    predicted = test_predictions(ctx, model, 64)
    ours = balanced_accuracy_score(data.y_test, predicted)
    metrics = test_metrics(ctx, model, 64, predicted)
    assert metrics["balanced_accuracy"] != pytest.approx(ours, abs=1e-3)  # Keras's, kept
    assert metrics["sklearn_balanced_accuracy"] == ours
    intervals = beside_metrics(
        test_intervals(data.y_test, predicted, data.task, weighed=True), metrics
    )
    assert set(intervals) == {"accuracy", "sklearn_balanced_accuracy"}
    assert own_name("balanced_accuracy", ours, metrics) == "sklearn_balanced_accuracy"


def test_the_final_seeds_line_gives_balanced_accuracy_beside_the_headline() -> None:
    from tunekit.cli_summary import final_seeds_line

    per_seed = {
        "0": {"accuracy": 0.85, "balanced_accuracy": 0.91},
        "1": {"accuracy": 0.83, "balanced_accuracy": 0.93},
    }
    summary = {
        "accuracy": {"mean": 0.84, "std": 0.0141, "n": 2},
        "balanced_accuracy": {"mean": 0.92, "std": 0.0141, "n": 2},
    }
    section = {"per_seed": per_seed, "summary": summary, "saved_seed": 0}
    assert final_seeds_line(section, "val_accuracy") == (
        "Final seeds: accuracy mean 0.8400, std 0.0141 over 2 seeds (0.8500, 0.8300); "
        "balanced_accuracy mean 0.9200; the saved model is seed 0's"
    )
    # The model's own balanced_accuracy as the objective: tunekit's beside it, once.
    summary["sklearn_balanced_accuracy"] = {"mean": 0.9, "std": 0.0, "n": 2}
    line = final_seeds_line(section, "val_balanced_accuracy")
    assert line is not None and line.count("sklearn_balanced_accuracy mean 0.9000") == 1
    assert line.startswith("Final seeds: balanced_accuracy mean 0.9200")


def test_scores_in_the_thousandths_or_less_are_not_printed_as_zero() -> None:
    """A regression on targets in the thousandths has an MSE around 1e-5: the CLI summary,
    the progress line and report.md printed it with 4 decimals, `0.0000`, for every trial
    and for the test set alike. Such scores keep 4 significant digits; others 4 decimals."""
    from tunekit.cli_summary import _phase_text, final_seeds_line
    from tunekit.score_text import score_text

    assert [score_text(v) for v in (3.2154e-05, 0.000512, -2e-4, 0.0, 0.98123, 1534.25)] == [
        "3.215e-05",
        "0.000512",
        "-0.0002",
        "0.0000",
        "0.9812",
        "1534.2500",
    ]
    assert _phase_text("fine", {"score": 3.2154e-05, "trial_id": "3"}, {}) == (
        "fine best 3.215e-05 (id 3)"
    )
    section = {
        "per_seed": {"0": {"mse": 4.1e-05}, "1": {"mse": 3.9e-05}},
        "summary": {"mse": {"mean": 4e-05, "std": 1.414e-06, "n": 2}},
        "saved_seed": 0,
    }
    assert final_seeds_line(section, "val_mse") == (
        "Final seeds: mse mean 4e-05, std 1.414e-06 over 2 seeds (4.1e-05, 3.9e-05); "
        "the saved model is seed 0's"
    )
