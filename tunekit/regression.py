"""Regression metrics for the report: test MSE, MAE, RMSE and R² (scikit-learn).

Pure functions of arrays (numpy and `sklearn.metrics`, no Keras), so the report
and the tests compute them the same way. With several targets per sample
(`(n, k)`), each metric is the plain average over the targets (scikit-learn's
`multioutput="uniform_average"`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tunekit.errors import OutputShapeError

__all__ = [
    "OWN_PREFIX",
    "REGRESSION_METRICS",
    "beside_keras",
    "check_regression_output_shape",
    "own_name",
    "regression_metrics",
]

#: Names and order of `regression_metrics`' keys, as the report lists them.
REGRESSION_METRICS = ("mse", "mae", "rmse", "r2")

#: Where tunekit's own value of a metric goes when the model reports another of that name.
OWN_PREFIX = "sklearn_"


def own_name(name: str, value: float, keras_metrics: Mapping[str, Any]) -> str:
    """The name tunekit's own `value` of metric `name` takes beside the model's metrics.

    The model's (Keras's) metric keeps its name and value: it is the one the
    search ranked by (`val_rmse`), and `model.evaluate` gives it again. So
    tunekit's value (scikit-learn's, from the predictions) goes under `name`
    only when the model reports no metric of that name, or one of the same
    value within 1e-4 relative (float32 against float64: one metric, in
    float64, its interval's value); else it goes under `sklearn_<name>` (e.g.
    `sklearn_rmse`, the mean of the per-target RMSEs, beside Keras's RMSE over
    all targets: 0.5658 and 0.6670).
    """
    mine = keras_metrics.get(name)
    if mine is None or (
        isinstance(mine, (int, float)) and math.isclose(value, mine, rel_tol=1e-4, abs_tol=1e-7)
    ):
        return name
    return OWN_PREFIX + name


def beside_keras(keras_metrics: Mapping[str, Any], own: Mapping[str, float]) -> dict[str, float]:
    """`own` (`{name: value}`), each under the name `own_name` gives it beside `keras_metrics`."""
    return {
        own_name(name, float(value), keras_metrics): float(value) for name, value in own.items()
    }


def regression_metrics(y_true: Any, y_pred: Any) -> dict[str, float]:
    """Scores predictions against regression targets.

    Args:
        y_true: Targets, shape `(n,)` or `(n, k)`.
        y_pred: Predictions, shape `(n,)`, `(n, 1)` (a model's usual output for
            one target) or `(n, k)`.

    Returns:
        `{"mse", "mae", "rmse", "r2"}` as plain floats: scikit-learn's
        `mean_squared_error`, `mean_absolute_error`, `root_mean_squared_error`
        and `r2_score` (1 is perfect; 0 is as good as predicting the mean;
        negative is worse), each averaged over the `k` targets. R² is NaN when
        fewer than 2 samples are scored (scikit-learn's convention).

    Raises:
        OutputShapeError (a `ValueError`): If the predictions and targets differ in
            number or width; both shapes are named.
        ValueError: If either holds NaN or infinite values (e.g. a diverged model).

    Example:
    >>> regression_metrics([1.0, 2.0, 3.0], [[1.0], [2.0], [4.0]])["mse"]
    0.3333333333333333
    """
    from sklearn.metrics import (
        mean_absolute_error,
        mean_squared_error,
        r2_score,
        root_mean_squared_error,
    )

    raw_true, raw_pred = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    shown = f"targets have shape {raw_true.shape}, predictions have shape {raw_pred.shape}"
    true, pred = _as_columns(raw_true), _as_columns(raw_pred)
    if true is None or pred is None or true.shape != pred.shape:
        raise OutputShapeError(
            f"Predictions do not match the regression targets: {shown}. The "
            "model needs one output per target (k units for (n, k) targets)."
        )
    for name, values in (("targets", true), ("predictions", pred)):
        bad = int(values.size - np.count_nonzero(np.isfinite(values)))
        if bad:
            raise ValueError(
                f"The {name} hold {bad} NaN or infinite value(s); regression "
                "metrics need finite numbers (a model that diverged predicts NaN)."
            )
    if len(true) == 0:
        raise ValueError("No samples to score: the test split is empty.")
    r2 = float(r2_score(true, pred)) if len(true) >= 2 else math.nan
    return {
        "mse": float(mean_squared_error(true, pred)),
        "mae": float(mean_absolute_error(true, pred)),
        # each target's RMSE, then their mean (not the root of the mean MSE) as scikit-learn
        "rmse": float(root_mean_squared_error(true, pred)),
        "r2": r2,
    }


def check_regression_output_shape(
    shape: Sequence[int | None], num_outputs: int, *, what: str = "The model"
) -> None:
    """Checks, before any training, that a model's output fits `num_outputs` targets.

    Accepted: `(batch, num_outputs)`, and for one target also `(batch,)`. The
    regression counterpart of `tunekit.outputs.check_output_shape`.

    Args:
        shape: The model's output shape, batch axis first (`None` allowed).
        num_outputs: The targets' width `k` (`Dataset.num_outputs`).
        what: How the message names the model. Defaults to `"The model"`.

    Raises:
        OutputShapeError (a `ValueError`): Naming the output's shape and the
            targets' width, with the fix.

    Example:
    >>> check_regression_output_shape((None, 1), 1)  # fine
    >>> check_regression_output_shape((None, 10), 1)  # raises OutputShapeError
    """
    shape = tuple(shape)
    fits = shape[1:] == (num_outputs,) or (num_outputs == 1 and len(shape) == 1)
    if not fits:
        targets = "(n,) or (n, 1)" if num_outputs == 1 else f"(n, {num_outputs})"
        raise OutputShapeError(
            f"{what} outputs shape {shape}, but the regression targets have shape {targets}: "
            f"{num_outputs} value(s) per sample. End the model in Dense({num_outputs}) with a "
            "linear activation (e.g. DenseHyperModel(input_shape, num_outputs="
            f"{num_outputs}))."
        )


def _as_columns(values: np.ndarray) -> np.ndarray | None:
    """`(n,)` -> `(n, 1)`; `(n, k)` as is; anything else None."""
    if values.ndim == 1:
        return values[:, None]
    return values if values.ndim == 2 else None
