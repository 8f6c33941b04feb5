"""What `compare_to_baseline` returns, and the verdict's sentence shared by both tasks."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from tunekit.stats.guess import GuessCheck
from tunekit.stats.intervals import Interval
from tunekit.stats.paired import McNemarResult

__all__ = ["BaselineComparison", "MetricComparison", "Outcome", "Task", "sentence"]

Task = Literal["classification", "regression"]
Outcome = Literal["better", "indistinguishable", "worse"]


@dataclasses.dataclass(frozen=True)
class MetricComparison:
    """One test metric for the tuned model and the baseline, each with its interval.

    Attributes:
        name: `"accuracy"` or `"balanced_accuracy"` (classification), or
            `"mse"`, `"mae"`, `"rmse"`, `"r2"`.
        tuned: The tuned model's value.
        tuned_interval: Its interval (Wilson for accuracy, BCa bootstrap
            otherwise); None below `MIN_BOOTSTRAP_EXAMPLES` bootstrapped examples.
        baseline: The baseline's value.
        baseline_interval: Its interval (None when the tuned one is).
        lower_is_better: True for errors (MSE, MAE, RMSE), False for accuracies and R².
        interval_method: How this metric's intervals were computed when not as
            the comparison's `interval_method` says (`"Wilson"` for the plain
            accuracy beside a bootstrapped balanced accuracy), else None.
    """

    name: str
    tuned: float
    tuned_interval: Interval | None
    baseline: float
    baseline_interval: Interval | None
    lower_is_better: bool
    interval_method: str | None = None


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
            below `MIN_BOOTSTRAP_EXAMPLES` bootstrapped examples, `"none: ..."`
            saying why (no interval then).
        mcnemar: McNemar's exact test on plain accuracy, tuned as A and
            baseline as B (classification), else None.
        difference_interval: Paired bootstrap interval of the deciding metric's
            difference, tuned minus baseline (regression, balanced accuracy), else None.
        note: The last sentence of `verdict` when it warns that a model is no
            better than a constant guess (`guess`), else `""`.
        guess: Each model's score against a constant guess's, on the quantity
            the report's usefulness note judges (`tunekit.stats.GuessCheck`).
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
    guess: GuessCheck | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `report.json` (intervals as `[low, high]` lists)."""
        return dataclasses.asdict(self)


def p_text(p_value: float) -> str:
    """`p<0.001` or `p=0.123`."""
    return "p<0.001" if p_value < 0.001 else f"p={p_value:.3f}"


ACCURACY = "test accuracy (McNemar's exact test on the paired predictions)"
BOOTSTRAP = "a paired bootstrap of the per-example differences"


def sentence(
    outcome: str, evidence: str, note: str = "", on: str = ACCURACY, too_few: bool = False
) -> str:
    """The verdict's sentence, then `note` (`""` or sentences) after a space.

    `on`: the test metric it is decided on, and the test, named in the sentence.
    `too_few`: the test set is too small for the test to tell the two apart at
    all: the sentence says so instead of "tuning did not measurably help".
    """
    if outcome == "better":
        said = f"tuned is better than the baseline on {on}: {evidence}."
    elif outcome == "worse":
        said = f"tuned is worse than the baseline on {on}: {evidence}; tuning did not help."
    elif too_few:
        said = (
            f"the test set is too small to tell tuned from the baseline on {on}: {evidence}; "
            "this says nothing on whether tuning helped."
        )
    else:
        said = (
            f"tuned is not distinguishable from the baseline on {on}: {evidence}; "
            "on this metric tuning did not measurably help."
        )
    return f"{said} {note}" if note else said
