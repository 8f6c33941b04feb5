"""The baseline's verdict judges on the report's own quantity and never calls a useless model good.

A new-user probe (noise features, 5% positives): the tuned model always predicted class 0
(accuracy 0.9650, the majority's share); the report's note said it was no better than a
constant guess, while the verdict said "tuned is better than the baseline on test accuracy"
with no caveat (the regression verdict said neither model beat the mean). And with
`class_weight="balanced"` the usefulness note judged balanced accuracy while the verdict was
decided on plain accuracy: "not distinguishable ... 0.8225 vs 0.8000" where balanced
accuracy was 0.906 against 0.530.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score

from tunekit.errors import UsageError
from tunekit.stats import compare_to_baseline, mcnemar_exact, wilson_interval

# 400 test examples, 14 positives (3.5%): the noise95 probe's test set.
Y_RARE = np.array([0] * 386 + [1] * 14)


def _majority_and_worse() -> tuple[np.ndarray, np.ndarray]:
    """The tuned model predicts class 0 always; the baseline says 1 on a third, at random."""
    rng = np.random.default_rng(0)
    return np.zeros_like(Y_RARE), (rng.random(len(Y_RARE)) < 1 / 3).astype(int)


def _weighed_pair() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A tuned model that finds the rare class (recall 1, a few false alarms) against a baseline
    that almost never does: about equal plain accuracy, far apart on balanced accuracy."""
    y = np.array([0] * 360 + [1] * 40)
    tuned, baseline = y.copy(), y.copy()
    tuned[:60] = 1  # 60 false alarms, every positive found: accuracy 0.85, balanced 0.917
    baseline[360:396] = 0  # 36 of 40 positives missed: accuracy 0.91, balanced 0.55
    return y, tuned, baseline


def test_a_classifier_no_better_than_the_majority_class_is_said_so_in_the_verdict() -> None:
    tuned, baseline = _majority_and_worse()
    comparison = compare_to_baseline(Y_RARE, tuned, baseline)
    accuracy = comparison.metrics[0]
    assert comparison.outcome == "better" and accuracy.tuned == pytest.approx(0.965)
    assert accuracy.baseline < 0.7
    guess = comparison.guess
    assert guess is not None and (guess.metric, guess.guess, guess.guess_class) == (
        "accuracy",
        pytest.approx(0.965),
        "0",
    )
    assert guess.tuned_no_better and guess.baseline_no_better
    note = (
        f"Note: the tuned model's test accuracy is 0.9650 (the baseline's {accuracy.baseline:.4f}"
        "): it is no better than always predicting the most frequent class ('0', 0.9650 of the "
        "test set), nor is the baseline; are the features scaled? enough epochs?"
    )
    assert comparison.note == note
    assert comparison.verdict.startswith("tuned is better than the baseline on test accuracy")
    assert comparison.verdict.endswith(". " + note)
    assert comparison.to_dict()["guess"]["tuned_no_better"] is True
    # The tuned model alone, or the baseline alone, no better than the majority class.
    alone = compare_to_baseline(Y_RARE, tuned, Y_RARE)
    assert alone.note.startswith("Note: the tuned model's test accuracy is 0.9650 (the baseline")
    assert "nor is the baseline" not in alone.note
    weak = compare_to_baseline(Y_RARE, Y_RARE, baseline)
    assert weak.note == (
        f"Note: the baseline's test accuracy is {accuracy.baseline:.4f} (the tuned model's "
        "1.0000): it is no better than always predicting the most frequent class ('0', 0.9650 "
        "of the test set)."
    )
    useful = compare_to_baseline(Y_RARE, Y_RARE, np.where(np.arange(400) < 5, 1, Y_RARE))
    assert useful.note == "" and "Note:" not in useful.verdict
    assert not (useful.guess.tuned_no_better or useful.guess.baseline_no_better)


def test_weighed_classes_decide_the_verdict_on_balanced_accuracy_by_a_paired_bootstrap() -> None:
    y, tuned, baseline = _weighed_pair()
    plain = compare_to_baseline(y, tuned, baseline)  # the default: plain accuracy, McNemar
    assert plain.outcome == "worse" and plain.metrics[0].name == "accuracy"
    comparison = compare_to_baseline(y, tuned, baseline, metric="balanced_accuracy")
    balanced, accuracy = comparison.metrics
    assert (balanced.name, accuracy.name) == ("balanced_accuracy", "accuracy")
    assert balanced.tuned == pytest.approx(balanced_accuracy_score(y, tuned), abs=1e-12)
    assert balanced.baseline == pytest.approx(balanced_accuracy_score(y, baseline), abs=1e-12)
    assert balanced.tuned_interval.low <= balanced.tuned <= balanced.tuned_interval.high
    assert comparison.interval_method == "BCa bootstrap" and balanced.interval_method is None
    # Plain accuracy stays, with Wilson's interval and McNemar's test, as information.
    assert (accuracy.tuned, accuracy.baseline) == (0.85, 0.91)
    assert accuracy.tuned_interval == wilson_interval(340, 400)
    assert accuracy.interval_method == "Wilson"
    test = mcnemar_exact(y, tuned, baseline)
    assert comparison.mcnemar == test
    low, high = comparison.difference_interval
    assert 0 < low <= balanced.tuned - balanced.baseline <= high
    assert comparison.outcome == "better"
    assert comparison.verdict.startswith(
        "tuned is better than the baseline on test balanced accuracy (scikit-learn's, the mean "
        "recall per class; a paired bootstrap of the test examples): test balanced accuracy "
        f"{balanced.tuned:.4f} vs {balanced.baseline:.4f} (difference "
        f"{balanced.tuned - balanced.baseline:+.4f}, 95% paired BCa bootstrap interval "
        f"[{low:+.4f}, {high:+.4f}], 400 examples). On plain test accuracy (not what the verdict "
        f"is decided on): 0.8500 vs 0.9100 (McNemar exact p={test.p_value:.3f}; only tuned right "
        f"on {test.b}, "
        f"only baseline right on {test.c} of 400 examples)."
    )
    # The same seed, the same interval; the other way round, "worse".
    again = compare_to_baseline(y, tuned, baseline, metric="balanced_accuracy")
    assert again.difference_interval == comparison.difference_interval
    worse = compare_to_baseline(y, baseline, tuned, metric="balanced_accuracy")
    assert worse.outcome == "worse" and worse.difference_interval.high < 0
    # A constant guess's balanced accuracy is one over the classes: the always-0 model's 0.5.
    always = compare_to_baseline(Y_RARE, *_majority_and_worse(), metric="balanced_accuracy")
    assert always.guess.metric == "balanced_accuracy" and always.guess.tuned_no_better
    assert always.metrics[0].tuned == 0.5 and always.guess.guess == 0.5
    assert "it is no better than a constant guess's 0.5000, one over the 2 classes" in always.note


def test_balanced_accuracy_on_a_handful_of_examples_says_the_test_set_is_too_small() -> None:
    y = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 2])
    comparison = compare_to_baseline(y, y, np.zeros_like(y), metric="balanced_accuracy")
    assert comparison.outcome == "indistinguishable" and comparison.difference_interval is None
    assert comparison.metrics[0].tuned_interval is None
    assert comparison.metrics[1].tuned_interval is not None  # Wilson's, at any size
    assert comparison.interval_method.startswith("none: 12 test examples, too few")
    assert comparison.verdict.startswith(
        "the test set is too small to tell tuned from the baseline on test balanced accuracy"
    )


def test_the_vectorised_balanced_accuracy_is_scikit_learns_on_every_resample() -> None:
    from tunekit.stats.classified import balanced_accuracy

    rng = np.random.default_rng(3)
    for _ in range(50):
        n, k = int(rng.integers(2, 30)), int(rng.integers(2, 5))
        y, pred = rng.integers(0, k, n), rng.integers(0, k, n)
        idx = rng.integers(0, n, (4, n))  # resamples: some miss a class, some predict one absent
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = [balanced_accuracy_score(y[i], pred[i]) for i in idx]
        assert balanced_accuracy(y[idx], pred[idx], k) == pytest.approx(expected, abs=1e-12)


def test_a_metric_of_the_other_task_is_refused() -> None:
    with pytest.raises(UsageError, match=r"metric='mse'.*'accuracy', 'balanced_accuracy'"):
        compare_to_baseline(Y_RARE, Y_RARE, Y_RARE, metric="mse")
    with pytest.raises(UsageError, match="metric='balanced_accuracy'"):
        compare_to_baseline(
            np.linspace(0, 1, 30), np.zeros(30), np.zeros(30), metric="balanced_accuracy"
        )


def test_an_accuracy_objective_beside_balanced_accuracy_is_not_another_untested_metric() -> None:
    """The default objective, val_accuracy, under class weights: the verdict gives plain
    accuracy with McNemar's test, so no 'ranks by another metric ... no significance test'."""
    from tunekit.report_verdict import objective_comparison

    y, tuned, baseline = _weighed_pair()
    compared = compare_to_baseline(y, tuned, baseline, metric="balanced_accuracy").to_dict()
    objective = SimpleNamespace(name="val_accuracy", direction="max")
    assert objective_comparison(objective, compared, {"accuracy": 0.85}, {"accuracy": 0.91}) == ""
    recall = SimpleNamespace(name="val_recall", direction="max")
    said = objective_comparison(recall, compared, {"recall": 1.0}, {"recall": 0.1})
    assert said.startswith("The search's objective ranks by another metric, val_recall")
    # A verdict that speaks of no metric (the predictions could not be paired: probe E's
    # reshuffled test stream) is not told "another" one.
    unpaired = {"metrics": []}
    said = objective_comparison(objective, unpaired, {"accuracy": 0.8083}, {"accuracy": 0.2583})
    assert said == (
        "The search's objective on the test set: val_accuracy (higher is better): test "
        "accuracy 0.8083 vs 0.2583 (tuned vs baseline; no significance test on it)."
    )


# -- the report's verdict: baseline_section on a run's records, the models' predictions given


def _section(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    y: np.ndarray,
    tuned: np.ndarray,
    baseline: np.ndarray,
    class_weights: dict[int, float] | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The report's test note and baseline section for a run whose saved models predict
    `tuned` and `baseline` (the loading and predicting of the models stubbed out)."""
    import tunekit.report_trust as trust
    from tunekit.report_scores import usefulness_note

    (tmp_path / trust.BASELINE_MODEL).write_text("")
    monkeypatch.setattr(trust, "load_saved_model", lambda *args: "baseline")
    monkeypatch.setattr(trust, "_predictions", lambda model, data, batch_size: baseline)
    monkeypatch.setattr(trust, "param_count", lambda model: 10)
    steps = {"baseline": {"status": "done", "hyperparameters": {"units": 8}}, "retrain": {}}
    run = SimpleNamespace(
        manifest=SimpleNamespace(state={"steps": steps}),
        run_dir=tmp_path,
        hypermodel=None,
        data=SimpleNamespace(
            x_test=np.zeros((len(y), 1)), y_test=y, y_train=y, task="classification"
        ),
        batch_size=32,
        seed=0,
        objective=SimpleNamespace(name="val_accuracy", direction="max"),
        class_weights=class_weights,
    )
    note = usefulness_note(y, tuned, "classification", weighed=class_weights is not None)
    report = {"best": {"hyperparameters": {"units": 16}}, "test_note": note, "test_metrics": {}}
    return report, trust.baseline_section(run, "tuned", report, tuned)


def test_the_reports_verdict_says_neither_model_beats_the_majority_class(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    tuned, baseline = _majority_and_worse()
    report, section = _section(monkeypatch, tmp_path, Y_RARE, tuned, baseline, None)
    assert report["test_note"].startswith("Note: test accuracy 0.9650 is no better than always")
    base = section["metrics"][0]["baseline"]
    assert section["verdict"].startswith("tuned is better than the baseline on test accuracy")
    assert section["verdict"].endswith(
        ". Neither model is better than always predicting the most frequent class (test "
        f"accuracy 0.9650, the baseline's {base:.4f}; that class is 0.9650 of the test set)."
    )
    assert "no better than" not in section["verdict"]  # the report's note says it once
    # A useful tuned model beside a baseline of no use: the verdict says so of the baseline.
    report, section = _section(monkeypatch, tmp_path, Y_RARE, Y_RARE, baseline, None)
    assert report["test_note"] is None
    assert section["verdict"].endswith(
        f"Note: the baseline's test accuracy is {base:.4f} (the tuned model's 1.0000): it is no "
        "better than always predicting the most frequent class ('0', 0.9650 of the test set)."
    )


def test_the_reports_verdict_under_class_weights_is_on_balanced_accuracy(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tunekit.report_trust import render_trust_markdown

    y, tuned, baseline = _weighed_pair()
    report, section = _section(monkeypatch, tmp_path, y, tuned, baseline, {0: 0.56, 1: 5.0})
    assert report["test_note"] is None  # balanced accuracy 0.917 is of use
    assert [m["name"] for m in section["metrics"]] == ["balanced_accuracy", "accuracy"]
    assert section["outcome"] == "better"
    assert section["verdict"].startswith(
        "tuned is better than the baseline on test balanced accuracy (scikit-learn's, the mean "
        "recall per class; a paired bootstrap of the test examples): test balanced accuracy "
        "0.9167 vs 0.5500 ("
    )
    assert (
        "On plain test accuracy (not what the verdict is decided on): 0.8500 vs 0.9100"
        in (section["verdict"])
    )
    # An accuracy objective (the default) adds no untested sentence on accuracy.
    assert "another metric" not in section["verdict"]
    markdown = "\n".join(render_trust_markdown({"baseline": section, "config": {}}))
    assert "| test balanced_accuracy (95% BCa bootstrap interval) | 0.9167 [" in markdown
    assert "| test accuracy (95% Wilson interval) | 0.8500 [" in markdown
    assert "McNemar's exact test on plain accuracy: p = " in markdown
    # The always-0 model under weights: the note and the verdict judge balanced accuracy alike.
    always, useful = np.zeros_like(Y_RARE), np.where(np.arange(400) < 5, 1, Y_RARE)
    report, section = _section(monkeypatch, tmp_path, Y_RARE, always, useful, {0: 0.5, 1: 14.0})
    assert report["test_note"].startswith("Note: test balanced accuracy 0.5000 (the classes")
    assert section["guess"]["metric"] == "balanced_accuracy"
    assert section["guess"]["tuned_no_better"] and not section["guess"]["baseline_no_better"]
    assert "Note:" not in section["verdict"]  # the report's note says it; the baseline is of use
    assert section["outcome"] == "worse"
    # Both of no use under weights: neither is better than a constant guess, on balanced accuracy.
    report, section = _section(monkeypatch, tmp_path, Y_RARE, always, always, {0: 0.5, 1: 14.0})
    assert section["verdict"].endswith(
        "Neither model is better than a constant guess (test balanced accuracy 0.5000, the "
        "baseline's 0.5000; a constant guess's is 0.5000, one over the 2 classes)."
    )
