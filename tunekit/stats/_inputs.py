"""Input checks shared by `tunekit.stats`: each raises `UsageError` naming the argument."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tunekit import _log
from tunekit.errors import UsageError


def check_confidence(confidence: float) -> float:
    """`confidence` as a float strictly between 0 and 1."""
    number = isinstance(confidence, (int, float, np.integer, np.floating))
    if isinstance(confidence, bool) or not number or not 0.0 < float(confidence) < 1.0:
        raise UsageError(
            f"Invalid value for argument `confidence`. Received: confidence={confidence!r}. "
            "Expected a level strictly between 0 and 1, e.g. confidence=0.95."
        )
    return float(confidence)


def whole_count(value: int, name: str, minimum: int = 0) -> int:
    """`value` as an int `>= minimum` (not a bool, not a fraction, not NaN)."""
    number = isinstance(value, (int, float, np.integer, np.floating))
    if isinstance(value, bool) or not number or not float(value).is_integer() or value < minimum:
        raise UsageError(
            f"Invalid value for argument `{name}`. Received: {name}={value!r}. "
            f"Expected a whole number >= {minimum}."
        )
    return int(value)


def check_seed(seed: int | None) -> int | None:
    """`seed` as None or a non-negative int."""
    return None if seed is None else whole_count(seed, "seed")


def values_2d(values: ArrayLike, name: str) -> NDArray[np.float64]:
    """`(n,)` or `(n, k)` finite numbers as a float `(n, k)` array, `n >= 1`."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise UsageError(f"`{name}` must hold numbers: {error}.") from None
    if array.ndim not in (1, 2) or array.shape[0] == 0:
        raise UsageError(
            f"`{name}` must have shape (n,) or (n, k) with n >= 1. Received shape {array.shape}."
        )
    if not np.all(np.isfinite(array)):
        raise UsageError(f"`{name}` holds NaN or infinite values; metrics need finite values.")
    return array.reshape(len(array), -1)


def same_shape(
    reference: NDArray[np.float64], ref_name: str, **others: ArrayLike
) -> list[NDArray[np.float64]]:
    """Each of `others` through `values_2d`, refused unless its shape is `reference`'s."""
    arrays = []
    for name, values in others.items():
        array = values_2d(values, name)
        if array.shape != reference.shape:
            raise UsageError(
                f"`{name}` has shape {np.shape(values)} but `{ref_name}` has shape "
                f"{reference.shape if reference.shape[1] > 1 else reference.shape[:1]}: "
                "pass one prediction per test example, in the same order."
            )
        arrays.append(array)
    return arrays


def labels(values: ArrayLike, name: str) -> NDArray:
    """Class labels as a 1-D array (`(n, 1)` is accepted and flattened), `n >= 1`."""
    array = np.asarray(values)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1 or array.shape[0] == 0:
        raise UsageError(
            f"`{name}` must be class labels of shape (n,) with n >= 1. Received shape "
            f"{array.shape}. For class scores or one-hot rows pass "
            "np.argmax(scores, axis=-1)."
        )
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        raise UsageError(f"`{name}` holds NaN or infinite labels.")
    if array.dtype.kind == "f" and np.any(array != np.round(array)):
        shown = array[array != np.round(array)][0]
        raise UsageError(
            f"`{name}` holds {shown:g}, not a class label: probabilities or scores? Pass "
            "predicted classes, e.g. (p > 0.5).astype(int) for one sigmoid unit's "
            "probabilities, or np.argmax(scores, axis=-1) for several; or task='regression' "
            "if these are values."
        )
    return array


def _form(array: NDArray) -> str:
    """`"text"` or `"numbers"`: a pandas object column is text only if it holds text."""
    if array.dtype.kind == "O":
        return "text" if any(isinstance(v, str) for v in array.flat) else "numbers"
    return "text" if array.dtype.kind in "US" else "numbers"


def paired_labels(y_true: ArrayLike, **predictions: ArrayLike) -> list[NDArray]:
    """`y_true` and each prediction as 1-D labels of the same length."""
    truth = labels(y_true, "y_true")
    arrays = [truth]
    for name, values in predictions.items():
        array = labels(values, name)
        if array.shape != truth.shape:
            raise UsageError(
                f"`{name}` has {len(array)} predictions but `y_true` has {len(truth)} labels: "
                "pass one prediction per test example, in the same order."
            )
        if _form(array) != _form(truth):  # "0" never equals 0: every prediction wrong
            raise UsageError(
                f"`{name}` holds {_form(array)} ({_log.listed(list(array[:2]), 1, form=repr)}) and "
                f"`y_true` {_form(truth)} ({_log.listed(list(truth[:2]), 1, form=repr)}): no "
                "prediction can equal a label. Pass "
                "both in one form, e.g. class names for both "
                "(np.asarray(class_names)[predicted_ids])."
            )
        arrays.append(array)
    return arrays


def scores_1d(values: ArrayLike, name: str) -> NDArray[np.float64]:
    """A non-empty 1-D array of finite scores."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise UsageError(f"`{name}` must hold numbers: {error}.") from None
    if array.ndim != 1 or array.size == 0:
        raise UsageError(
            f"`{name}` must be a non-empty 1-D sequence of scores. Received shape {array.shape}."
        )
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise UsageError(
            f"`{name}` holds a non-finite score at position {int(bad[0])} ({array[bad[0]]}): "
            "drop runs that failed or diverged before summarizing."
        )
    return array
