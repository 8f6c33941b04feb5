"""The objective's metric must be one number: a vector metric, or one of its values, is refused.

A metric with one value per threshold, class or output
(`tunekit.steps.metric_reading.vector_result`) is reported value by value
(`precision/0`, `precision/1`: TensorBoard, the test table), but KerasTuner records
it as one number per epoch (the mean of its values, in `trials.csv`): neither the
metric's name nor one of its values (`val_precision/1`) can rank trials.
"""

from __future__ import annotations

from typing import Any

from tunekit.errors import ModelCheckError
from tunekit.steps.metric_reading import several_thresholds, vector_result
from tunekit.trial_refusals import every_trial

__all__ = ["check_scalar_objective"]

# Which way the threshold metrics are better, for the objective the advice names.
_DIRECTIONS = {"FalsePositives": "min", "FalseNegatives": "min"}  # the others: "max"


def _per_threshold(metric: Any, stem: str, logged: str, index: int | None) -> str:
    """What to compile and choose instead of a metric of several thresholds: one metric
    per threshold (the one `index` picks, or each), each named, and its objective with
    its direction, e.g. `... objective 'val_precision_at_0_3:max'`."""
    several = several_thresholds(metric)
    if several is None:
        return ""
    kind, thresholds = several
    if index is not None and index < len(thresholds):
        thresholds = [thresholds[index]]
    tags = [f"{t:g}".replace(".", "_") for t in thresholds]
    compiled = ", ".join(
        f"keras.metrics.{kind}(thresholds={t:g}, name='{logged}_at_{tag}')"
        for t, tag in zip(thresholds, tags)
    )
    way = _DIRECTIONS.get(kind, "max")
    chosen = " or ".join(f"'{stem}_at_{tag}:{way}'" for tag in tags)
    return (
        f". Compile one metric per threshold, each named, to tune it: metrics=[{compiled}], "
        f"objective {chosen} (in Python also keras_tuner.Objective('{stem}_at_{tags[0]}', "
        f"'{way}'))"
    )


def check_scalar_objective(name: str, metrics: list[Any], what: str = "") -> None:
    """Refuses an objective `name` (`val_` or not) that names a vector metric of `metrics`
    (the model's compiled metric objects or strings), or one of its values (`name/i`).
    `what`: the model's `what` in a model check (`""`: the default configuration's;
    one trial's model, `tunekit.trial_refusals.trial_what`: said to fail that trial).

    Raises:
        ModelCheckError (a `ValueError`): Naming the metric, why it is a vector and
            what to compile instead (one threshold, or one named metric per threshold:
            the one `name/i` names, or each, and the objective, direction included).
    """
    base = name.removeprefix("val_")
    head, slash, index = base.rpartition("/")
    for metric in metrics:
        if (vector := vector_result(metric)) is None:
            continue
        logged, why = vector
        if not logged:
            continue
        if base == logged or base.endswith(f"_{logged}"):  # or by output
            why += _per_threshold(metric, name, logged, None)
            raise ModelCheckError(
                f"The objective {name!r} is a metric whose result is a vector: {why}, or "
                "choose another objective. A search ranks trials by one number, and "
                f"{every_trial(what)} would fail after training."
            )
        if slash and index.isdigit() and (head == logged or head.endswith(f"_{logged}")):
            why += _per_threshold(metric, name.rpartition("/")[0], logged, int(index))
            raise ModelCheckError(
                f"The objective {name!r} names value {index} of a metric whose result is a "
                f"vector: {why}, or choose another objective. Its values are reported one "
                f"by one ({head}/0, ...: TensorBoard, the test table), but KerasTuner "
                f"records the metric as one number per epoch (the mean of its values), so "
                f"neither {name!r} nor {name.rpartition('/')[0]!r} can rank the trials."
            )
