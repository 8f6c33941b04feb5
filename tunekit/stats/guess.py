"""Is a model better than a constant guess? The report's usefulness check, shared by the verdict.

`constant_guess` gives the test score of the best constant prediction on the
quantity the report's usefulness note judges (`tunekit.report_scores.
usefulness_note`): plain accuracy (always the most frequent class), balanced
accuracy when the classes were weighed (any one class: one over the number of
classes), R² (the mean of the targets: 0). `GuessCheck` holds both models'
scores against it and says, in the baseline's verdict, which of them is no
better: a tuned model "better than the baseline" is of no use when both are no
better than a constant guess.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["GuessCheck", "GuessMetric", "constant_guess"]

GuessMetric = Literal["accuracy", "balanced_accuracy", "r2"]


def constant_guess(y_true: ArrayLike, metric: GuessMetric) -> tuple[float, Any]:
    """The test score of the best constant prediction, and the class it predicts.

    A model whose score is at most this is no better than a constant guess.

    Args:
        y_true: Test targets: class labels `(n,)` (accuracies) or values
            `(n,)` / `(n, k)` (R²), `n >= 1`.
        metric: `"accuracy"`: the most frequent test class's share (always
            predicting that class), and that class. `"balanced_accuracy"`:
            one over the number of classes in `y_true` (scikit-learn's
            balanced accuracy of always predicting any one of them), None.
            `"r2"`: 0.0 (predicting the targets' mean), None.

    Returns:
        `(score, class)`: a fraction in (0, 1] for the accuracies, 0.0 for R².
    """
    if metric == "r2":
        return 0.0, None
    truth = np.asarray(y_true).reshape(-1)
    classes, counts = np.unique(truth, return_counts=True)
    if metric == "balanced_accuracy":
        return 1.0 / classes.size, None
    return float(counts.max() / truth.size), classes[np.argmax(counts)]


_LABELS = {"accuracy": "accuracy", "balanced_accuracy": "balanced accuracy", "r2": "R²"}


@dataclasses.dataclass(frozen=True)
class GuessCheck:
    """The tuned model and the baseline against a constant guess, on one test metric.

    Attributes:
        metric: `"accuracy"`, `"balanced_accuracy"` or `"r2"`: what the
            report's usefulness note judges (balanced accuracy when the
            classes were weighed).
        guess: A constant guess's score of it (`constant_guess`).
        guess_class: The class a constant guess predicts, as text (accuracy), else None.
        tuned: The tuned model's test score.
        baseline: The baseline's test score.
        tuned_no_better: `tuned <= guess`.
        baseline_no_better: `baseline <= guess`.
    """

    metric: GuessMetric
    guess: float
    guess_class: str | None
    tuned: float
    baseline: float
    tuned_no_better: bool
    baseline_no_better: bool

    @classmethod
    def of(
        cls, y_true: ArrayLike, metric: GuessMetric, tuned: float, baseline: float
    ) -> GuessCheck:
        """Both models' test scores of `metric` against a constant guess's on `y_true`."""
        guess, common = constant_guess(y_true, metric)
        return cls(
            metric,
            guess,
            None if common is None else str(common),
            float(tuned),
            float(baseline),
            float(tuned) <= guess,
            float(baseline) <= guess,
        )

    def _value(self, value: float) -> str:
        return f"{value:.4g}" if self.metric == "r2" else f"{value:.4f}"

    def _guess_text(self) -> str:
        if self.metric == "r2":
            return "the mean of the targets"
        if self.metric == "balanced_accuracy":
            classes = round(1.0 / self.guess)
            return f"a constant guess's {self.guess:.4f}, one over the {classes} classes"
        return (
            f"always predicting the most frequent class ('{self.guess_class}', "
            f"{self.guess:.4f} of the test set)"
        )

    def note(self) -> str:
        """The verdict's note naming the model(s) no better than a constant guess, else `""`.

        E.g. `Note: the tuned model's test accuracy is 0.9650 (the baseline's
        0.6700): it is no better than always predicting the most frequent class
        ('0', 0.9650 of the test set), nor is the baseline; are the features
        scaled? enough epochs?`
        """
        if not (self.tuned_no_better or self.baseline_no_better):
            return ""
        first, second = ("the tuned model's", self.tuned), ("the baseline's", self.baseline)
        if not self.tuned_no_better:  # the baseline only
            first, second = second, first
        regression = self.metric == "r2"
        said = (
            f"Note: {first[0]} test {_LABELS[self.metric]} is {self._value(first[1])} "
            f"({second[0]} {self._value(second[1])}): it "
            + ("predicts no better than " if regression else "is no better than ")
            + self._guess_text()
        )
        if self.tuned_no_better and self.baseline_no_better:
            said += ", nor does the baseline" if regression else ", nor is the baseline"
        if not self.tuned_no_better:
            return said + "."
        if regression:  # what to look at in the tuned model
            return said + " (are the features scaled? is the output layer linear?)."
        return said + "; are the features scaled? enough epochs?"

    def neither(self) -> str:
        """A sentence that neither model beats a constant guess, for a verdict beside the
        report's own note on the tuned model; `""` unless both are no better."""
        if not (self.tuned_no_better and self.baseline_no_better):
            return ""
        scores = (
            f"test {_LABELS[self.metric]} {self._value(self.tuned)}, the baseline's "
            f"{self._value(self.baseline)}"
        )
        if self.metric == "r2":
            return f"Neither model predicts better than the mean of the targets ({scores})."
        if self.metric == "balanced_accuracy":
            return (
                f"Neither model is better than a constant guess ({scores}; a constant guess's "
                f"is {self.guess:.4f}, one over the {round(1.0 / self.guess)} classes)."
            )
        return (
            "Neither model is better than always predicting the most frequent class "
            f"({scores}; that class is {self.guess:.4f} of the test set)."
        )
