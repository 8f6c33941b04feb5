"""A model's `weighted_metrics` on a test set without sample weights: what the report says.

Keras weighs a metric compiled as `weighted_metrics` (and the loss) by the
sample weights that come with the data it scores, and only by those. A
hypermodel's own `fit` that passes `sample_weight=` (or a run's
`class_weight=`, which Keras turns into sample weights) weighs the training
values; the validation values only when the validation data carry weights
too; and tunekit's test evaluation passes none (arrays have none; a test
stream may carry its own: `tunekit.report_scores.weighted_test`). A test
metric named `weighted_accuracy` is then plain accuracy under a name that
says otherwise: `unweighted_note` says so, in `report["test_note"]` and in
`report["unweighted_test_metrics"]`, which `report.md` marks (`shown`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = [
    "UNWEIGHTED",
    "WEIGHTED_TEST",
    "class_weight_lines",
    "shown",
    "unweighted_note",
    "weighted_names",
    "weighted_test",
    "weights_note",
]

#: What `report.md` writes after such a metric's name.
UNWEIGHTED = " (unweighted: no test sample weights)"


def class_weight_lines(report: dict[str, Any]) -> list[str]:
    """`report.md`'s line on the class weights every trial and the retrain received
    (`report["class_weight"]`), or none for a run that does not weigh its classes.

    A hypermodel's own `fit` receives them as `kwargs['class_weight']` and applies them
    as it does: its `model.fit` calls on arrays are refused without them
    (`tunekit.fit_refusals.weights_dropped`), but its own training loop, or a stream or
    `sample_weight` it makes, is not seen, so the line says where they went, not that
    Keras applied them."""
    given = report.get("class_weight") or {}
    if not given.get("weights"):
        return []
    names = [str(name) for name in report["dataset"].get("class_names") or []]
    mode = given["mode"]
    weighed_by = "as given" if isinstance(mode, dict) else f"{mode}, from the training split"
    where = (
        "given to your hypermodel's own fit as kwargs['class_weight'] in every trial and the "
        "retrain, applied as that fit applies them"
        if given.get("passed_to") == "own fit"
        else "every trial and the retrain"
    )
    labels = (
        f"{k} ({names[int(k)]})" if int(k) < len(names) and names[int(k)] != k else k
        for k in given["weights"]
    )
    values = ", ".join(f"{k}: {v:.4g}" for k, v in zip(labels, given["weights"].values()))
    return [f"- Class weights ({weighed_by}; {where}): {values}"]


def weighted_names(model: Any) -> tuple[list[str], list[str]] | None:
    """The names under which `model.evaluate` reports `model`'s `weighted_metrics`.

    Read from the model's compiled metrics once built (an evaluation ran):
    Keras names them after the plain `metrics` (`weighted_accuracy` beside a
    plain `accuracy`, `cls_weighted_accuracy` for an output `cls`, `accuracy`
    when only `weighted_metrics` has it).

    Returns:
        `(weighted, plain)`: the names of the `weighted_metrics` and of the
        plain `metrics` (`([], [])` for a model that compiles no
        `weighted_metrics`, or none at all), or `None` when the model compiles
        `weighted_metrics` but their names cannot be read (the metrics not built).
    """
    import keras

    try:
        config = model.get_compile_config() or {}
    except Exception:  # noqa: BLE001 - not compiled, or compiled in an unusual way
        return [], []
    if not keras.tree.flatten(config.get("weighted_metrics") or []):
        return [], []
    # Keras's own (private) container: its results list the plain metrics, then the weighted.
    compiled: Any = getattr(model, "_compile_metrics", None)
    try:
        count = sum(len(found.metrics) for found in compiled._flat_metrics if found is not None)
        names = [str(name) for name in compiled.result()]
    except Exception:  # noqa: BLE001 - not built, or another Keras: names unknown
        return None
    return names[count:], names[:count]


def _reported(names: Iterable[str], test_metrics: dict[str, Any]) -> list[str]:
    """The test metrics that are one of `names` (`auc/0` ... of a metric of several values)."""
    known = set(names)
    return [k for k in test_metrics if k in known or k.partition("/")[0] in known]


def _validation(name: str, plain: list[str], frame: Any) -> str:
    """What the search's `val_<name>` was: weighted or not, as the trials show, and so
    whether it compares with the test value."""
    twin = name.replace("weighted_", "", 1)
    columns = getattr(frame, "columns", ())
    said = (
        f"the search's val_{name} was weighted only if the validation data carried sample weights"
    )
    if twin == name or twin not in plain or not {f"val_{name}", f"val_{twin}"} <= set(columns):
        return said
    pairs = frame[[f"val_{name}", f"val_{twin}"]].apply(lambda c: c.astype(float)).dropna()
    if pairs.empty:
        return said
    weighted, plain_values = pairs.to_numpy().T
    if np.allclose(weighted, plain_values, rtol=1e-6, atol=1e-7):
        return (
            f"the search's val_{name} was not weighted either (it equals val_{twin} in every "
            "trial: the validation data carried no sample weights), so it compares with the test "
            "value"
        )
    return (
        f"the search's val_{name} was weighted (it differs from val_{twin}: the validation "
        "data carried sample weights), so it does not compare with the test value"
    )


def unweighted_note(report: dict[str, Any], found: Any, frame: Any = None) -> None:
    """Says in `report` (in place) which test metrics are `weighted_metrics` left unweighted.

    For a test set without sample weights (not a weighted test stream): each
    test metric that is a `weighted_metrics` entry goes into
    `report["unweighted_test_metrics"]` (`[]` for none) and a sentence into
    `report["test_note"]`: its test value (and the baseline's, and every
    final seed's) counts each test sample once, your fit's weights weigh the
    training values only, and whether the search's validation value was
    weighted, read from `frame` (the trials: `val_weighted_accuracy` against
    `val_accuracy`), so whether the two compare.

    Args:
        report: The report so far: its `test_metrics`, `test_note`, `baseline`
            and `final_seeds`.
        found: `weighted_names(model)` of the saved model.
        frame: `tunekit.results.trials_dataframe` of the run, or None.
    """
    unknown = found is None  # compiled weighted_metrics whose names could not be read
    names = [] if unknown else _reported(found[0], report.get("test_metrics") or {})
    report["unweighted_test_metrics"] = names
    if not (names or unknown):
        return
    baseline = ((report.get("baseline") or {}).get("baseline_model") or {}).get("test_metrics")
    seeds = (report.get("final_seeds") or {}).get("summary")
    others = [
        what
        for what, scored in (("the baseline's", baseline), ("every final seed's", seeds))
        if scored and (unknown or set(names) & set(scored))
    ]
    also = f" (and {' and '.join(others)})" if others else ""
    listed = "the model's `weighted_metrics`" if unknown else ", ".join(names)
    verb = "is" if len(names) == 1 else "are"
    search = "" if unknown else "; ".join(_validation(n, found[1], frame) for n in names)
    note = (
        f"Note: {listed} on the test set{also} {verb} unweighted, although compiled as "
        "`weighted_metrics`: the test data carry no sample weights, so Keras counted each test "
        "sample once. Keras weighs such a metric (and the loss) only by the sample weights "
        "that come with the data it scores: those "
        "given to model.fit (a fit's `sample_weight=`, or `class_weight=`) weigh the training "
        "values, not the test ones" + (f"; {search}." if search else ".")
    )
    report["test_note"] = " ".join(filter(None, [report.get("test_note"), note]))


WEIGHTED_TEST = (
    "The test stream carries sample weights: Keras weighs its test loss (and any "
    "`weighted_metrics`, reported under their names as the search scored them) by them (the "
    "loss as the mean of weight x loss over the samples, sum(w*loss)/n, not divided by the "
    "weights' total; a weighted metric as sum(w*value)/sum(w)); the "
    "other metrics (also tunekit's mse, mae, rmse and r2, under `sklearn_<name>` beside a "
    "Keras metric of that name), the intervals, the confusion matrix and the comparison with "
    "the baseline count each test sample once."
)


def weighted_test(report: dict[str, Any]) -> None:
    """Says in `report["test_note"]`, in place, which test metrics a test stream's weights weigh.

    Keras applies sample weights to the loss and to `weighted_metrics` only
    (not to `metrics=["accuracy"]`), so the two kinds sit side by side. A metric whose
    reported value is Keras's weighted one has no interval under its name
    (`tunekit.report_scores.beside_metrics` moved the unweighted one's to `sklearn_<name>`).
    """
    report["test_note"] = " ".join(filter(None, [WEIGHTED_TEST, report.get("test_note")]))


def weights_note(report: dict[str, Any], model: Any, frame: Any, *, weighted: bool) -> None:
    """The report's word on sample weights at the test evaluation, in place: `weighted_test`
    for a test stream that carries them (`weighted`), else `unweighted_note` of `model`'s
    `weighted_metrics` (`weighted_names`), read against the trials (`frame`)."""
    if weighted:
        report["unweighted_test_metrics"] = []
        weighted_test(report)
    else:
        unweighted_note(report, weighted_names(model), frame)


def shown(name: str, report: dict[str, Any]) -> str:
    """`name` as `report.md` writes a test metric: marked `UNWEIGHTED` when it is a
    `weighted_metrics` entry scored without sample weights."""
    unweighted = report.get("unweighted_test_metrics") or ()
    return name + UNWEIGHTED if name in unweighted else name
