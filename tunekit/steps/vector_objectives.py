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
from tunekit.steps.metric_reading import vector_result

__all__ = ["check_scalar_objective"]


def check_scalar_objective(name: str, metrics: list[Any]) -> None:
    """Refuses an objective `name` (`val_` or not) that names a vector metric of `metrics`
    (the model's compiled metric objects or strings), or one of its values (`name/i`).

    Raises:
        ModelCheckError (a `ValueError`): Naming the metric, why it is a vector and
            what to compile instead (one threshold, or one named metric per threshold).
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
            raise ModelCheckError(
                f"The objective {name!r} is a metric whose result is a vector: {why}, or "
                "choose another objective. A search ranks trials by one number, and every "
                "trial would fail after training."
            )
        if slash and index.isdigit() and (head == logged or head.endswith(f"_{logged}")):
            raise ModelCheckError(
                f"The objective {name!r} names value {index} of a metric whose result is a "
                f"vector: {why}, or choose another objective. Its values are reported one "
                f"by one ({head}/0, ...: TensorBoard, the test table), but KerasTuner "
                f"records the metric as one number per epoch (the mean of its values), so "
                f"neither {name!r} nor {name.rpartition('/')[0]!r} can rank the trials."
            )
