"""Targets of rows of probabilities (soft labels), refused unless the task is said.

Probe A: `keras.utils.to_categorical(y) * 0.9 + 0.01` (label smoothing done by hand) was
taken for 10 regression targets, its report led by R² and its splits not stratified, exit
0; with `task="classification"` it was refused as "needs integer class ids", not saying
why. Such rows are classes (soft labels) or proportions (compositional regression):
tunekit cannot tell which.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tunekit.data._checks import REGRESSION
from tunekit.data._targets import one_hot_ids
from tunekit.errors import DataError

__all__ = ["refuse_soft_labels"]


def refuse_soft_labels(ys: Mapping[str, Any], task: str | None) -> None:
    """Refuses targets (`ys`, by name; `None` and dicts left alone) whose rows are
    non-negative scores summing to 1 (`one_hot_ids(smoothed=True)`), not one-hot, unless
    `task="regression"` (proportions).

    Raises:
        DataError: Naming the split, the row width and both ways on.
    """
    if task == REGRESSION:
        return
    for name, y in ys.items():
        found = one_hot_ids(y, smoothed=True)
        if found is None:
            continue
        raise DataError(
            f"{name} holds rows of probabilities over {found[1]} columns (each sums to 1, "
            "not one-hot): soft labels of classes, or proportions? For classes, give class "
            "ids or one-hot rows (keras.utils.to_categorical) and smooth in the loss "
            "(keras.losses.CategoricalCrossentropy(label_smoothing=0.1)), which tunekit "
            'then scores as classes; for proportions (regression), pass task="regression".'
        )
