"""Whether a coarse trial's score beats chance, or why tunekit cannot tell.

Split from `tunekit.steps.narrow`, which leaves coarse trials at chance out of
the narrowing (`chance_test` is what it asks). Two objectives have a chance
level tunekit knows, on the labels the trials are scored on (the validation
split; with `cv`, train+validation, which the folds cover):

- a classifier's validation accuracy (Keras's, or an accuracy class under a
  name of yours), known by the class of the metric the model logs under that
  name, not by the name (a `SparseTopKCategoricalAccuracy(name="accuracy")` or
  a function of yours named `accuracy` is no plain accuracy): always
  predicting the most frequent class, its share of the labels; scipy's
  one-sided `binomtest` over the examples;
- a binary classifier's validation ROC AUC (Keras's `AUC`, `curve="ROC"`):
  0.5, the AUC of a scorer that ignores the inputs, with Mann-Whitney's
  variance under that null, `(n1 + n2 + 1) / (12 * n1 * n2)` for `n1` and `n2`
  examples of the two classes (Hanley & McNeil 1982); a one-sided normal test.

A classifier is known by the output the objective scores, not by the data's
task: outputs of mixed kinds (`{"cls": class ids, "reg": values}`) need
`task="regression"`, and `val_cls_accuracy` is still a classifier's accuracy,
compared on output `cls`'s labels. Every other objective (a loss, precision,
recall, a PR AUC, a metric of your own, a regression's) gets a sentence saying
why its trials were not compared, naming what it scores; one tunekit cannot
read (a metric compiled in the hypermodel's own `fit`, a number that `fit`
returns, a model whose compile cannot be read) is said to be unreadable, not
named as something it may not be.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as scipy_stats  # type: ignore[import-untyped]

from tunekit.data import CLASSIFICATION
from tunekit.data._targets import several_outputs
from tunekit.objectives import objective_parts
from tunekit.steps.base import RunContext
from tunekit.steps.chance_metrics import (
    KERAS_ACCURACIES,
    UNREADABLE,
    compiled_metrics,
    logged_as,
    own_fit,
    unread,
    why_unread,
)
from tunekit.steps.metric_reading import _name_and_config, accuracy_names

__all__ = ["CHANCE_ALPHA", "ChanceTest", "chance_level", "chance_test"]

#: Below this one-sided p-value a coarse score is above chance.
CHANCE_ALPHA = 0.05
_LEVELS = (
    "a classifier's validation accuracy (the most frequent class's share) and a binary "
    "validation ROC AUC (0.5)"
)


@dataclass(frozen=True)
class ChanceTest:
    """How a coarse score is compared with chance.

    Attributes:
        level: What chance scores, as the notes say it (`"the most frequent
            class is 0.5200 of 100 examples"`).
        test: The test, as the notes name its p-value (`"one-sided binomial"`).
        p_value: A trial's score -> its one-sided p-value against chance, in
            [0, 1]; it falls as the score rises.
    """

    level: str
    test: str
    p_value: Callable[[float], float]


def chance_test(ctx: RunContext) -> ChanceTest | str:
    """The comparison of the coarse scores with chance, or why there is none.

    Returns:
        A `ChanceTest` for a classifier's validation accuracy (binomial, the
        most frequent class's share) or a binary classifier's validation ROC
        AUC (Mann-Whitney's normal approximation, 0.5); else one sentence
        saying why the trials cannot be compared (`"val_loss is a loss, ..."`),
        for the narrowing's note.
    """
    name, direction = ctx.objective.name, ctx.objective.direction
    parts = objective_parts(ctx.objective)
    if parts:
        names = ", ".join(part[0] for part in parts)
        return f"the objective combines {names}; tunekit knows the chance level of {_LEVELS} alone"
    if getattr(ctx.data, "task", None) != CLASSIFICATION and not _several(ctx):
        return f"{name} scores a regression; tunekit knows the chance level of {_LEVELS} only"
    if not name.startswith("val_"):
        if own_fit(ctx):  # a number it returns, a metric it logs: either data
            return (
                f"{name} comes from your hypermodel's own fit, which tunekit cannot read: a "
                "metric Keras logs without val_ is measured on the training data, but a "
                f"number fit returns may be measured on any data, so tunekit cannot tell "
                f"what {name} is measured on or what its chance level is; it knows the "
                f"chance level of {_LEVELS}"
            )
        return f"{name} is not measured on the validation data (no val_ prefix)"
    base = name.removeprefix("val_")
    if base == "loss" or base.endswith("_loss"):
        return f"{name} is a loss, whose value at chance depends on the loss and the labels"
    if direction != "max":
        return f"{name} is minimised; tunekit knows the chance level of {_LEVELS}, both maximised"
    if isinstance(of_classes := _of_classes(ctx), str):
        return of_classes
    accuracy = _scores_accuracy(ctx)
    if accuracy is True:
        return _accuracy_test(ctx)
    auc = _auc_config(ctx, base)
    if auc is not None:
        return _auc_test(ctx, auc)
    if isinstance(accuracy, str):  # named like an accuracy, computing something else
        return accuracy
    return unread(ctx, _LEVELS) or (
        f"{name} is not a metric whose chance level tunekit knows: those are {_LEVELS}"
    )


def chance_level(ctx: RunContext) -> tuple[float, int] | None:
    """The validation accuracy of always predicting the most frequent class, and of how many.

    Returns:
        `(share of the most frequent class, number of examples)` in the
        labels the trials are scored on (the validation split; with `cv`,
        train+validation, which the folds cover), or `None` when the
        objective is not a validation accuracy of a classifier, the classes
        are weighed (`class_weight`: plain accuracy is then traded for the
        rare classes, and a model can fall below the majority share on
        purpose) or the labels are unknown (a stream without `labels`; an
        image folder knows them).
    """
    if _scores_accuracy(ctx) is not True:
        return None
    found = _majority(ctx)
    return None if isinstance(found, str) else found


def _accuracy_test(ctx: RunContext) -> ChanceTest | str:
    """The binomial test of an accuracy against the most frequent class's share."""
    found = _majority(ctx)
    if isinstance(found, str):
        return found
    share, n = found

    def p_value(score: float) -> float:
        hits = min(n, round(score * n))
        test = scipy_stats.binomtest(hits, n, min(share, 1.0), alternative="greater")
        return float(test.pvalue)

    level = f"the most frequent class is {share:.4f} of {n} examples"
    return ChanceTest(level, "one-sided binomial", p_value)


def _majority(ctx: RunContext) -> tuple[float, int] | str:
    """`(share of the most frequent class, examples)`, or why it is not a chance level."""
    if ctx.class_weights is not None:  # weighed classes trade plain accuracy for the rare ones
        return "the classes are weighed (class_weight)"
    found = _scored_labels(ctx)
    if isinstance(found, str):
        return found
    counts = np.unique(found[0], return_counts=True)[1]
    return float(counts.max() / counts.sum()), int(counts.sum())


def _auc_test(ctx: RunContext, config: Mapping[str, Any]) -> ChanceTest | str:
    """The test of a ROC AUC against 0.5: Mann-Whitney's null variance (Hanley & McNeil)."""
    name = ctx.objective.name
    if str(config.get("curve") or "ROC").upper() != "ROC":
        return (
            f"{name} is the area under the precision-recall curve (curve='PR'), whose value "
            "at chance (the positive share) has no null distribution tunekit knows; it "
            "compares a ROC AUC (0.5 at chance)"
        )
    found = _scored_labels(ctx)
    if isinstance(found, str):
        return found
    ids, columns = found
    counts = np.unique(ids, return_counts=True)[1]
    if len(counts) > 2 or columns > 1:
        what = f"{len(counts)} classes" if len(counts) > 2 else "one-hot rows"
        return (
            f"{name} is an AUC over {what}, which Keras pools or averages over the label "
            "columns; tunekit compares a binary ROC AUC (labels 0/1, one column) with chance"
        )
    if len(counts) < 2:
        return "the validation labels hold one class only: an AUC needs both"
    first, second = int(counts[0]), int(counts[1])
    # The variance of a Mann-Whitney AUC when the scores ignore the classes (no ties).
    std = math.sqrt((first + second + 1) / (12 * first * second))

    def p_value(score: float) -> float:
        return float(scipy_stats.norm.sf((score - 0.5) / std))

    level = (
        f"an AUC at chance is 0.5 with standard deviation {std:.4f} on {first} and {second} "
        "examples of the two classes"
    )
    return ChanceTest(level, "one-sided Mann-Whitney (normal approximation)", p_value)


def _scored_labels(ctx: RunContext) -> tuple[np.ndarray, int] | str:
    """The class ids the trials are scored on, `(n,)`, and the labels' columns (2+ for
    one-hot rows); or why they are unknown."""
    labels = getattr(ctx.data, "y_train_full" if ctx.cv > 1 else "y_val", None)
    stream_labels = getattr(ctx.data, "labels", None)  # a stream's, when known (image folders)
    if labels is None and isinstance(stream_labels, Mapping) and ctx.cv == 1:
        labels = stream_labels.get("val")
    if isinstance(labels, Mapping):  # several outputs: the objective's output's labels
        output = _objective_output(ctx, labels)
        if output is None:
            return f"{ctx.objective.name!r} names no output of the labels ({', '.join(labels)})"
        labels = labels[output]
    if labels is None:
        return "the validation labels are unknown (a stream without labels=)"
    if not isinstance(labels, np.ndarray) or not labels.size:
        return "the validation labels are not class ids or one-hot rows"
    columns = int(labels.shape[1]) if labels.ndim == 2 else 1
    if columns > 1:  # one-hot
        labels = labels.argmax(axis=1)
    labels = labels.reshape(len(labels), -1)[:, 0]
    if not np.issubdtype(labels.dtype, np.number):
        return "the validation labels are not class ids or one-hot rows"
    return labels, columns


def _scores_accuracy(ctx: RunContext) -> bool | str:
    """Whether the objective is a validation accuracy of a classifier (it has a chance
    level), by the class of the metric the model logs under its name: Keras's accuracy
    under a name of yours (`BinaryAccuracy(name="acc")`), read from the default
    configuration's model. A metric named like one that computes something else
    (`SparseTopKCategoricalAccuracy(name="accuracy")`, a function of yours named
    `accuracy`) is not one: then why, for the note. Only when the model's compile cannot
    be read (a subclassed model Keras has not built) is Keras's name for an accuracy
    taken at its word; not when `build()` returns no model or an uncompiled one (the
    hypermodel's own fit builds or compiles it, or returns a number of its own)."""
    name, direction = ctx.objective.name, ctx.objective.direction
    if not (direction == "max" and name.startswith("val_") and _of_classes(ctx) is True):
        return False
    base = name[len("val_") :]
    compiled = compiled_metrics(ctx)
    if not compiled:  # unread: Keras's name at its word, unless the own fit compiles it
        return base in KERAS_ACCURACIES and why_unread(ctx) == UNREADABLE
    if any(base in {prefix + n for n in accuracy_names(metrics)} for prefix, metrics in compiled):
        return True
    what = next(
        (w for prefix, metrics in compiled if (w := logged_as(metrics, base, prefix))), None
    )
    if what is None or not (base.endswith("accuracy") or base.endswith("acc")):
        return False
    return (
        f"{name} is {what}, not a plain accuracy, so its chance level is not the most "
        "frequent class's share; tunekit knows the chance level of "
        f"{_LEVELS}"
    )


def _auc_config(ctx: RunContext, base: str) -> Mapping[str, Any] | None:
    """The config of the Keras `AUC` the model logs as `base` (`auc`, `digit_auc`, a name
    of yours), or `None`. Two AUCs of one name: the first's (Keras logs the second as
    `auc_1`). A model whose compile cannot be read: Keras's default `auc` (a ROC AUC);
    none when `build()` returns no model or an uncompiled one."""
    compiled = compiled_metrics(ctx)
    found: dict[str, Mapping[str, Any]] = {}
    for prefix, metrics in compiled:
        for metric in metrics:
            kind, config = _name_and_config(metric)
            if kind in ("auc", "AUC"):
                found.setdefault(prefix + str(config.get("name") or kind), config)
    if not compiled and base == "auc" and why_unread(ctx) == UNREADABLE:
        return {}
    return found.get(base)


def _outputs(ctx: RunContext) -> Mapping[str, Any] | None:
    """The scored labels by output (a dict `y` of arrays), or `None`."""
    labels = getattr(ctx.data, "y_train_full" if ctx.cv > 1 else "y_val", None)
    return labels if isinstance(labels, Mapping) else None


def _several(ctx: RunContext) -> bool:
    """Whether the data have targets for several outputs (arrays or a stream's)."""
    return several_outputs(ctx.data) or _outputs(ctx) is not None


def _of_classes(ctx: RunContext) -> bool | str:
    """Whether the objective scores class ids, by the output it names, not by the data's task:
    outputs of mixed kinds need `task="regression"` (`tunekit.data.infer_tasks`), which
    keeps a classifier output's class ids as whole numbers. `True` for classification data,
    or an output of whole numbers >= 0; else why not, for the note."""
    if getattr(ctx.data, "task", None) == CLASSIFICATION:
        return True
    name, labels = ctx.objective.name, _outputs(ctx)
    if labels is None:  # a stream's: task="regression" keeps none
        return "the validation labels are unknown (a stream of several outputs under regression)"
    output = _objective_output(ctx, labels)
    if output is None:
        return f"{name!r} names no output of the labels ({', '.join(labels)})"
    values = np.asarray(labels[output])
    if values.dtype.kind in "biuf" and values.size and np.all((values >= 0) & (values % 1 == 0)):
        return True
    return (
        f"{name} scores output {output!r}, whose targets are values, not class ids; tunekit "
        f"knows the chance level of {_LEVELS} only"
    )


def _objective_output(ctx: RunContext, labels: Mapping[str, Any]) -> str | None:
    """The output (a key of `labels`) whose metric the objective is (`val_digit_accuracy`:
    `digit`), or `None`."""
    base = ctx.objective.name.removeprefix("val_")
    return next(
        (k for k in sorted(labels, key=len, reverse=True) if base.startswith(f"{k}_")), None
    )
