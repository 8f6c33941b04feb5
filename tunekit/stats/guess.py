"""Is a model better than a constant guess? The report's usefulness check, shared by the verdict.

`constant_guess` gives the test score of the best constant prediction on the
quantity the report's usefulness note judges (`tunekit.report_scores.
usefulness_note`): plain accuracy (always the most frequent class), balanced
accuracy when the classes were weighed (any one class: one over the number of
classes), R² (the mean of the targets: 0). `GuessCheck` holds both models'
scores against it and says, in the baseline's verdict, which of them is no
better: a tuned model "better than the baseline" is of no use when both are no
better than a constant guess.

A test set on which the constant guess is perfect (labels of one class, targets
all equal) cannot tell any model from it: the sentences then say so of the test
set, naming its class, instead of blaming the models. Classes are named as the
run names them (`class_name`: `class_names[id]`, `'cat'` not `'0'`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["GuessCheck", "GuessMetric", "cannot_tell_note", "class_name", "constant_guess"]

GuessMetric = Literal["accuracy", "balanced_accuracy", "r2"]


def class_name(label: Any, class_names: Sequence[Any] | None = None) -> str:
    """A class as messages name it: `class_names[label]` for a class id with a name, else
    the label as text (labels that are names already, or no names given).

    Example:
    >>> class_name(np.int64(2), ["3", "4", "5"]), class_name("cat"), class_name(1)
    ('5', 'cat', '1')
    """
    names = list(class_names or ())
    if isinstance(label, (int, np.integer)) and not isinstance(label, (bool, np.bool_)):
        if 0 <= int(label) < len(names):
            return str(names[int(label)])
    return str(label)


def constant_guess(y_true: ArrayLike, metric: GuessMetric) -> tuple[float, Any]:
    """The test score of the best constant prediction, and the class it predicts.

    A model whose score is at most this is no better than a constant guess; a score
    of 1.0 (test labels of one class, test targets all equal) means the test set
    cannot tell any model from a constant guess (`GuessCheck.perfect`).

    Args:
        y_true: Test targets: class labels `(n,)` (accuracies) or values
            `(n,)` / `(n, k)` (R²), `n >= 1`.
        metric: `"accuracy"`: the most frequent test class's share (always
            predicting that class), and that class. `"balanced_accuracy"`:
            one over the number of classes in `y_true` (scikit-learn's
            balanced accuracy of always predicting any one of them), and the
            class when there is one only, else None. `"r2"`: predicting the
            targets' mean, 0.0 (1.0 for a target whose test values are all
            equal: the mean is exact, scikit-learn's `force_finite` R²; the
            mean over the targets), None.

    Returns:
        `(score, class)`: a fraction in (0, 1] for the accuracies, in [0, 1] for R².
    """
    if metric == "r2":
        values = np.asarray(y_true, dtype=np.float64)
        values = values.reshape(len(values), -1)
        return float(np.mean(np.ptp(values, axis=0) == 0)), None
    truth = np.asarray(y_true).reshape(-1)
    classes, counts = np.unique(truth, return_counts=True)
    if metric == "balanced_accuracy":
        return 1.0 / classes.size, classes[0] if classes.size == 1 else None
    return float(counts.max() / truth.size), classes[np.argmax(counts)]


_LABELS = {"accuracy": "accuracy", "balanced_accuracy": "balanced accuracy", "r2": "R²"}


def _degenerate(
    metric: GuessMetric, guess_class: str | None, n: int | None = None
) -> tuple[str, str]:
    """What makes the constant guess perfect on a test set (of `n` examples, when given),
    and what to use instead."""
    if metric == "r2":
        if n == 1:
            return "the test set holds one example only", "a test set whose targets vary"
        of = "" if n is None else f" (all {n} examples)"
        return f"the test targets are all equal{of}", "a test set whose targets vary"
    of = "" if n is None else (", the one example" if n == 1 else f", all {n} examples")
    return (
        f"the test set holds one class only ('{guess_class}'{of})",
        "a test set holding every class",
    )


def cannot_tell_note(
    y_true: ArrayLike, metric: GuessMetric, score: float, class_names: Sequence[Any] | None = None
) -> str | None:
    """The report's note on a test set where a constant guess is perfect, else None.

    Test labels of one class (a constant guess of it has accuracy and balanced
    accuracy 1.0) or test targets all equal (predicting the targets' mean is exact):
    no model can do better, so the test set cannot tell whether the saved model
    learned anything, whatever it scores; the note says so, names the class
    (`class_name`) and asks for a test set holding every class (whose targets vary).

    Args:
        y_true: Test targets, as `constant_guess` takes them, `n >= 1`.
        metric: What the note judges: `"accuracy"`, `"balanced_accuracy"` or `"r2"`.
        score: The saved model's test score of it.
        class_names: The classes' names by id. Defaults to None (the labels as text).

    E.g. of the labels `[1, 1, 1]` named `["benign", "malignant"]`: `Note: the test
    set holds one class only ('malignant', all 3 examples): always predicting it
    scores 1.0000, so the test accuracy (1.0000) cannot tell whether the model
    learned anything; use a test set holding every class.`
    """
    guess, common = constant_guess(y_true, metric)
    if guess < 1.0:
        return None
    name = None if common is None else class_name(common, class_names)
    why, fix = _degenerate(metric, name, len(np.asarray(y_true)))
    if metric == "r2":
        return (
            f"Note: {why}: predicting the targets' mean is exact, so the test R² "
            f"({score:.4g}) cannot tell whether the model learned anything; use {fix}."
        )
    return (
        f"Note: {why}: always predicting it scores {guess:.4f}, so the test "
        f"{_LABELS[metric]} ({score:.4f}) cannot tell whether the model learned anything; "
        f"use {fix}."
    )


@dataclasses.dataclass(frozen=True)
class GuessCheck:
    """The tuned model and the baseline against a constant guess, on one test metric.

    Attributes:
        metric: `"accuracy"`, `"balanced_accuracy"` or `"r2"`: what the
            report's usefulness note judges (balanced accuracy when the
            classes were weighed).
        guess: A constant guess's score of it (`constant_guess`); 1.0 on a test
            set that cannot tell (`perfect`: the sentences then say so).
        guess_class: The class a constant guess predicts, named as the run names it
            (`class_name`): accuracy's most frequent class, balanced accuracy's only
            class; else None.
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
        cls,
        y_true: ArrayLike,
        metric: GuessMetric,
        tuned: float,
        baseline: float,
        class_names: Sequence[Any] | None = None,
    ) -> GuessCheck:
        """Both models' test scores of `metric` against a constant guess's on `y_true`;
        `class_names` (by class id) name the class in the sentences (`class_name`)."""
        guess, common = constant_guess(y_true, metric)
        return cls(
            metric,
            guess,
            None if common is None else class_name(common, class_names),
            float(tuned),
            float(baseline),
            float(tuned) <= guess,
            float(baseline) <= guess,
        )

    @property
    def perfect(self) -> bool:
        """The constant guess is perfect (test labels of one class, test targets all equal):
        no model can beat it, and the test set cannot tell whether a model learned."""
        return self.guess >= 1.0

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
        scaled? enough epochs?`. On a test set where the guess is perfect (`perfect`),
        the note says the test set cannot tell, whatever the models score.
        """
        if self.perfect:
            why, fix = _degenerate(self.metric, self.guess_class)
            guess = (
                "predicting the targets' mean is exact"
                if self.metric == "r2"
                else f"always predicting it scores {self.guess:.4f}"
            )
            return (
                f"Note: {why}: {guess}, so test {_LABELS[self.metric]} (the tuned model's "
                f"{self._value(self.tuned)}, the baseline's {self._value(self.baseline)}) "
                f"cannot tell a model that learned from a constant guess; use {fix}."
            )
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
        report's own note on the tuned model; `""` unless both are no better. On a test
        set where the guess is perfect (`perfect`): that neither can be told from one."""
        if self.perfect:
            why, fix = _degenerate(self.metric, self.guess_class)
            return f"Neither model can be told from a constant guess: {why}; use {fix}."
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
