"""The test set's scores in the report: each metric's interval, and a note when useless.

`test_intervals` gives every test metric its 95% interval whether or not the
baseline runs (`beside_metrics` files each under the metric whose value it
is); `usefulness_note` warns when the saved model is no better than a
constant guess (on the quantity `tunekit.stats.constant_guess` names, as the
baseline's verdict judges it: `tunekit.report_verdict`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tunekit.classification import (
    classification_intervals,
    classification_metrics,
    no_bootstrap_interval,
)
from tunekit.data import SCALED_UINT8
from tunekit.regression import OWN_PREFIX, own_name
from tunekit.report_weights import shown
from tunekit.score_text import score_text
from tunekit.stats import bootstrap_interval, constant_guess
from tunekit.stats.guess import cannot_tell_note, class_name
from tunekit.stats.intervals import BCA_MAX_EXAMPLES, regression_metric

__all__ = [
    "beside_metrics",
    "interval_cell",
    "regression_sentence",
    "test_intervals",
    "test_table",
    "usefulness_note",
]

TARGET_SCALE = 10.0  # regression targets beyond this mean or std (or of a std below its
# inverse cubed) get their own hint


def test_intervals(
    y_true: Any,
    y_pred: Any,
    task: str,
    *,
    seed: int | None = 0,
    confidence: float = 0.95,
    weighed: bool = False,
) -> dict[str, dict[str, Any]] | None:
    """Each test metric with its interval, whether or not the baseline runs.

    Classification: the accuracy of the predicted classes with Wilson's
    interval (`tunekit.stats.wilson_interval`) and, with class weights
    (`weighed`), scikit-learn's balanced accuracy with a bootstrap interval
    (`tunekit.classification.classification_intervals`). Regression: MSE, MAE, RMSE and
    R² (scikit-learn's) with paired bootstrap intervals
    (`tunekit.stats.bootstrap_interval`: BCa up to 2,000 test examples,
    percentile above). Below `MIN_BOOTSTRAP_EXAMPLES` (20) test examples the
    regression metrics get no interval (`"interval": None` and a `"method"`
    that says why): resamples of a handful of examples take few distinct
    values, so the interval's ends would be artefacts (e.g. R² from -1508
    to 0 on 4 examples), not a measure of uncertainty.

    Args:
        y_true: Test targets: class ids `(n,)`, or values `(n,)` / `(n, k)`.
        y_pred: Predicted classes or values, the same shape; `None` (a model
            with several outputs) gives `None`.
        task: `"classification"` or `"regression"`.
        seed: The bootstrap's seed. Defaults to 0.
        confidence: Level of the intervals. Defaults to 0.95.
        weighed: The classes were weighed in training (`class_weight=`):
            classification then adds `balanced_accuracy`. Defaults to False.

    Returns:
        `{metric: {"value", "interval": [low, high], "method"}}`, or `None`.
    """
    if y_pred is None or isinstance(y_true, dict):
        return None
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if task == "classification":
        return classification_intervals(
            y_true, y_pred, weighed=weighed, seed=seed, confidence=confidence
        )
    method = "BCa" if len(y_true) <= BCA_MAX_EXAMPLES else "percentile"
    # In float64, as the test metrics are (`tunekit.regression`): the same value in both.
    truth = y_true.astype(np.float64).reshape(len(y_true), -1)
    predicted = y_pred.astype(np.float64).reshape(len(y_true), -1)
    out: dict[str, dict[str, Any]] = {}
    for name in ("mse", "mae", "rmse", "r2"):
        value = float(regression_metric(name, truth, predicted))
        if why := no_bootstrap_interval(len(y_true)):
            out[name] = {"value": value, "interval": None, "method": why}
            continue
        low, high = bootstrap_interval(truth, predicted, name, confidence, seed=seed)
        out[name] = {"value": value, "interval": [low, high], "method": f"{method} bootstrap"}
    return out


def usefulness_note(
    y_true: Any,
    y_pred: Any,
    task: str,
    class_names: Any = None,
    scaling: str | None = None,
    *,
    weighed: bool = False,
    targets_changed: bool | None = False,
) -> str | None:
    """A warning when the saved model is no better than a constant guess, else `None`.

    Classification: test accuracy at most the most frequent test class's share
    (always predicting that class scores as much). Regression: test R² at most
    0 (predicting the mean scores as much). The constant guess's score is
    `tunekit.stats.constant_guess`'s, as the baseline's verdict judges both
    models (`tunekit.stats.GuessCheck`). Typical causes: features not
    scaled, targets far from unit scale (a mean or std above 10: the note
    says so, with both), too few epochs, the wrong task. On a test set where a
    constant guess is perfect (labels of one class, targets all equal) the note
    says that the test set cannot tell, whatever the model scores
    (`tunekit.stats.guess.cannot_tell_note`), instead of blaming the model.

    Args:
        y_true: Test targets: class ids `(n,)`, or values `(n,)` / `(n, k)`.
        y_pred: Predicted classes or values, the same shape; `None` gives `None`.
        task: `"classification"` or `"regression"`.
        class_names: Names of the classes by id (classification), for the message.
        scaling: The data's `scaling` (see `tunekit.data`): when tunekit
            scaled the inputs itself (`SCALED_UINT8`), the note does not ask
            whether they are scaled.
        weighed: The model was trained with class weights (`class_weight`),
            which trade plain accuracy for the rare classes: the note then
            compares balanced accuracy (scikit-learn's, the mean recall per
            class) with a constant guess's, `1 / classes`.
        targets_changed: The hypermodel's own fit trained the final model on other
            targets than `y` (`tunekit.fit_changes.Y_CHANGED_NOTE`): a regression note
            then names that as the likely cause, not the targets' scale (a probe's fit
            had standardised them, and the note told it to standardise them). `None`:
            not known (the fit passed other inputs, such as a stream of its own, whose
            targets cannot be compared): the scale advice then says that case too.
    """
    if y_pred is None or isinstance(y_true, dict) or not len(y_true):
        return None
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    n = len(y_true)
    hint = _causes(scaling) + " the right task (task=)?"
    if task == "classification" and weighed:
        truth = y_true.reshape(n)
        balanced = classification_metrics(truth, y_pred, weighed=True)["balanced_accuracy"]
        if said := cannot_tell_note(truth, "balanced_accuracy", balanced, class_names):
            return said  # a test set of one class: it cannot tell, whatever the model
        guess, _ = constant_guess(truth, "balanced_accuracy")
        if balanced > guess:
            return None
        return (
            f"Note: test balanced accuracy {score_text(balanced)} (the classes were weighed) is no "
            f"better than a constant guess's ({score_text(guess)}): {hint}"
        )
    if task == "classification":
        truth = y_true.reshape(n)
        accuracy = float(np.mean(y_pred.reshape(n) == truth))
        if said := cannot_tell_note(truth, "accuracy", accuracy, class_names):
            return said
        share, common = constant_guess(truth, "accuracy")
        if accuracy > share:
            return None
        name = class_name(common, class_names)  # 'cat', not its id
        return (
            f"Note: test accuracy {score_text(accuracy)} is no better than always predicting "
            f"the most frequent class ('{name}', {score_text(share)} of the test set): {hint}"
        )
    values = y_true.reshape(n, -1)
    r2 = float(regression_metric("r2", values, y_pred.reshape(n, -1)))
    if said := cannot_tell_note(values, "r2", r2):
        return said  # test targets all equal (one example): R² cannot tell
    if r2 > constant_guess(values, "r2")[0]:
        return None
    mean, std = float(np.abs(values.mean(axis=0)).max()), float(values.std(axis=0).max())
    # A small budget cannot reach targets in the hundreds, nor learn ones that vary by
    # thousandths or less (squared errors of 1e-6 give the optimizer little to follow).
    if targets_changed:
        hint = (
            "the hypermodel's fit trained the model on other targets than y (see the note "
            "on its fit), so it predicts on their scale, not y_test's; " + hint
        )
    elif max(mean, std) > TARGET_SCALE or 0 < std < 1 / TARGET_SCALE**3:
        hint = (
            f"the targets are far from unit scale (the test targets' mean {values.mean():.4g}, "
            f"std {values.std():.4g}): standardise them, so the model learns unit-scale "
            "outputs: in your own model, end it in keras.layers.Rescaling(std, offset=mean) "
            "(the training targets' std and mean); with a bundled hypermodel (the command "
            "line's), scale the target column by hand before tuning and the predictions back "
            "(or give it more epochs); "
            + (
                "if the hypermodel's fit already did (it passed model.fit data of its own: "
                "see the note on its fit), the model predicts on that scale: end it in "
                "Rescaling and train on y as given; "
                if targets_changed is None
                else ""
            )
            + hint
        )
    return f"Note: test R² {r2:.4g} is no better than predicting the mean of the targets: {hint}"


def outputs_usefulness_note(data: Any, test_metrics: dict[str, Any]) -> str | None:
    """`usefulness_note` for a model of several outputs, read from Keras's test metrics:
    each output's accuracy (`<output>_accuracy`, `<output>_binary_accuracy`, ...) at most
    the share of its most frequent test class. `data.y_test`: the outputs' targets by name
    (class ids `(n,)` or `(n, 1)`, or one-hot rows); other outputs, and a stream's, are not
    judged."""
    y_test, scaling = getattr(data, "y_test", None), getattr(data, "scaling", None)
    if not isinstance(y_test, dict):
        return None
    notes = []
    for name, labels in sorted(y_test.items()):
        array = np.asarray(labels)
        if array.ndim == 2 and array.shape[1] > 1:
            if not np.all((array == 0) | (array == 1)):
                continue  # several values per sample: not one class each
            array = array.argmax(axis=1)
        array = array.reshape(len(array), -1)
        if array.shape[1] != 1 or not len(array) or array.dtype.kind not in "biuf":
            continue
        if array.dtype.kind == "f" and not np.all(array == np.round(array)):
            continue  # values, not classes
        _, counts = np.unique(array, return_counts=True)
        share = float(counts.max() / len(array))
        for key, value in sorted(test_metrics.items()):
            if not (key.startswith(f"{name}_") and key.endswith("accuracy")):
                continue
            if "top_k" in key or not isinstance(value, (int, float)):
                continue
            if float(value) <= share:
                notes.append(
                    f"Note: test {key} {score_text(float(value))} is no better than always "
                    f"predicting output {name!r}'s most frequent class ({score_text(share)} "
                    "of the test set)"
                )
    if not notes:
        return None
    return "; ".join(notes) + f": {_causes(scaling)}"


def _causes(scaling: str | None) -> str:
    """What to look at when a model is no better than a constant guess."""
    if scaling == SCALED_UINT8:
        return (
            "the pixels were scaled to [0, 1]: enough epochs? a learning rate the model can "
            "train with?"
        )
    return "are the features scaled (e.g. standardised)? enough epochs?"


def beside_metrics(
    intervals: dict[str, dict[str, Any]] | None, test_metrics: dict[str, Any]
) -> dict[str, dict[str, Any]] | None:
    """`intervals` (`test_intervals`), each under the test metric whose value it is.

    An interval of tunekit's value of `name` (scikit-learn's RMSE, the accuracy
    of the predicted classes) keeps that name when `test_metrics[name]` is the
    same value; beside a metric of the model's own of that name and another
    value (Keras's RMSE over all targets, a weighted `mae`, a metric of the
    user's called `accuracy`) it goes under `sklearn_<name>`, the row of
    tunekit's value (`tunekit.regression.own_name`).
    """
    if intervals is None:
        return None
    out = {}
    for name, found in intervals.items():
        out[own_name(name, float(found["value"]), test_metrics)] = found
    return out


def test_table(report: dict[str, Any]) -> list[str]:
    """`report.md`'s table of test metrics, each with its interval: the test metrics, then
    tunekit's own values that only an interval holds (`sklearn_accuracy`); a `weighted_metrics`
    entry scored without sample weights is marked so (`tunekit.report_weights.shown`)."""
    intervals = report.get("test_intervals") or {}
    rows = dict(report["test_metrics"])
    rows.update({k: v["value"] for k, v in intervals.items() if k not in rows})
    return [
        "| metric | value | 95% interval |",
        "|---|---|---|",
        *[
            f"| {shown(k, report)} | {score_text(v)} | {interval_cell(intervals, k)} |"
            for k, v in rows.items()
        ],
    ]


def interval_cell(intervals: dict[str, Any] | None, metric: str) -> str:
    """`[low, high] (method)` of `metric` from `report["test_intervals"]`, or blank (brackets,
    as the baseline table's: `-0.94--0.07` read as a typo)."""
    found = (intervals or {}).get(metric)
    if not found:
        return ""
    if found["interval"] is None:  # too few examples: the method says why
        return str(found["method"])
    low, high = found["interval"]
    return f"[{score_text(low)}, {score_text(high)}] ({found['method']})"


def regression_sentence(report: dict[str, Any]) -> str:
    """`report.md`'s sentence on where a regression's test metrics come from.

    A metric the model reports under a name tunekit fills is Keras's; the
    sentence says the search ranked by it only when the objective
    (`report["config"]["objective"]`, or a part of `objectives`) is its
    `val_<name>`: a run ranked by `val_loss` did not.
    """
    own = sorted(k for k in report.get("test_metrics", {}) if k.startswith(OWN_PREFIX))
    config = report.get("config") or {}
    parts = [p[0] for p in config.get("objectives") or []] or [config.get("objective")]
    ranked = [n for k in own if (n := f"val_{k.removeprefix(OWN_PREFIX)}") in parts]
    return (
        "Regression: mse, mae, rmse and r2 are scikit-learn's, from the saved model's "
        "predictions (R² 1 is perfect, 0 predicts the mean; see plots/predicted_vs_true.png "
        "and plots/residuals.png)"
        + (
            ", except where the model reports a metric of that name: that one is Keras's, "
            "the model's own (what `model.evaluate` gives"
            + (f"; the search ranked by {', '.join(ranked)}" if ranked else "")
            + f"), and scikit-learn's is {', '.join(own)}."
            if own
            else "."
        )
    )
