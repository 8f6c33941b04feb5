"""Whether a hypermodel's own `fit` passed `model.fit` other data than it was given.

Helpers of `tunekit.fitting.fit_hypermodel`: whether `model.fit` got other inputs than
tunekit passed (`x_changed`) or other targets for the same samples (`y_changed`), both
for one call with samples moved, dropped or repeated taken as no change (`changes`), and
the notes a report then gives (`X_CHANGED_NOTE`, `Y_CHANGED_NOTE`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

from tunekit.data._row_hashes import row_hashes
from tunekit.data._targets import one_hot_ids

__all__ = ["X_CHANGED_NOTE", "Y_CHANGED_NOTE", "changes", "x_changed", "y_changed"]


# What a final fit's report says when the hypermodel's fit changed `x` (`FitCall.x_changed`).
X_CHANGED_NOTE = (
    "The hypermodel's fit passed model.fit other inputs than the x it was given (other "
    "values or keys, or a stream whose first batch is not made of x's samples): the final model "
    "trained on transformed inputs, and the test set was scored on x_test as given, "
    "untransformed. If that fit preprocesses x (scales, normalises, reshapes, encodes), "
    "this test score is not the model's: do that in the model "
    "(keras.layers.Normalization, Rescaling) or in the data you pass, then rerun with "
    "overwrite=True. If it only augments the training data, the score "
    "holds."
)

# ... and when it changed `y` for the same samples (`FitCall.y_changed`).
Y_CHANGED_NOTE = (
    "The hypermodel's fit passed model.fit other targets than the y it was given (other "
    "values for the same samples): the final model trained on transformed targets, and "
    "the test set was scored against y_test as given. If that fit rescales or shifts y "
    "(standardises a regression target), the saved model predicts on that scale and "
    "this test score is not the model's: train on y as given, with a last layer "
    "that undoes the scaling (keras.layers.Rescaling(std, offset=mean), the training "
    "targets' std and mean), then rerun with overwrite=True."
)


def x_changed(received: Any, passed: Any) -> bool:
    """Whether `received` (what `model.fit` got as `x`) differs from `passed` (tunekit's `x`).

    Arrays (NumPy, or a backend's tensors) compare by shape and values, so a
    cast or a `convert_to_tensor` is no change; dicts key by key (a key
    `received` leaves out is no change, an added one is); anything
    else (a `tf.data.Dataset`, a `PyDataset`) by identity.
    """
    if received is passed:
        return False
    if isinstance(passed, Mapping) or isinstance(received, Mapping):
        if not (isinstance(passed, Mapping) and isinstance(received, Mapping)):
            return True
        # A key left out is no change (`w = x.pop("w")` for sample_weight: the model takes
        # the others, and the test set's extra array is not one of its inputs).
        return not set(received) <= set(passed) or any(
            x_changed(received[k], passed[k]) for k in received
        )
    if not (hasattr(passed, "shape") and hasattr(received, "shape")):
        return True  # a stream (or a list) other than the one passed
    try:
        return not np.array_equal(np.asarray(received), np.asarray(passed))
    except (TypeError, ValueError):  # not convertible: not the same inputs
        return True


def y_changed(received: Any, passed: Any) -> bool:
    """Whether `received` (`model.fit`'s `y`) rescales or re-encodes `passed` (tunekit's `y`).

    True when both are arrays (NumPy, or a backend's tensors) for the same number
    of samples and differ in values (`(y - mean) / std`, `y * 1000`, another
    class's ids); dicts key by key. No change: a cast, another shape of the same
    values (`(n,)` as `(n, 1)`), class ids as their one-hot rows (the test set
    is then scored with one-hot rows too), and streams (`y` `None`). Another
    number of samples (a subset, an augmentation) is `x_changed`'s to see.
    """
    if received is passed or passed is None or received is None:
        return False
    if isinstance(passed, Mapping) and isinstance(received, Mapping):
        return any(y_changed(received[k], passed[k]) for k in received if k in passed)
    if not (hasattr(passed, "shape") and hasattr(received, "shape")):
        return False
    try:
        got, given = np.asarray(received), np.asarray(passed)
    except (TypeError, ValueError):  # not convertible: not comparable
        return False
    if got.shape[:1] != given.shape[:1]:
        return False
    if got.size == given.size:  # (n,) as (n, 1): the same targets
        return not np.array_equal(got.reshape(given.shape), given)
    if given.ndim == 1 and got.ndim == 2 and np.issubdtype(given.dtype, np.integer):
        # Class ids as one-hot rows: the same labels (the test set is scored as such).
        return not (
            np.array_equal(got.sum(axis=1), np.ones(len(got)))
            and np.array_equal(got.argmax(axis=1), given)
        )
    return True


def changes(received_x: Any, received_y: Any, passed_x: Any, passed_y: Any) -> tuple[bool, bool]:
    """`(x_changed, y_changed)` of one `model.fit` call of a hypermodel's own `fit`.

    As `x_changed` and `y_changed` say, except that samples moved, dropped or repeated
    are no change (probe A: a fit that shuffles `x[idx], y[idx]`, or drops 10% of the
    rows, was told its test score "is not the model's"): every `(x, y)` sample `model.fit`
    got is one tunekit passed (`_among`). A stream (`tf.data.Dataset`, `PyDataset`) the
    fit made is judged by its first batch: its samples among those passed, no change;
    its inputs among them and not its targets, the targets changed; else the inputs.
    """
    if not (x_changed(received_x, passed_x) or y_changed(received_y, passed_y)):
        return False, False
    if received_y is not None:
        if _among((received_x, received_y), (passed_x, passed_y)):
            return False, False
        return x_changed(received_x, passed_x), y_changed(received_y, passed_y)
    batch = _first_batch(received_x)
    if batch is None or len(batch) < 2 or passed_y is None:
        return x_changed(received_x, passed_x), False
    hot = one_hot_ids(batch[1]) if np.ndim(passed_y) == 1 else None
    if _among((batch[0], batch[1] if hot is None else hot[0]), (passed_x, passed_y)):
        return False, False  # (class ids as their one-hot rows: the same labels)
    inputs_kept = _among(batch[:1], (passed_x,))
    return not inputs_kept, inputs_kept


def _among(received: tuple[Any, ...], passed: tuple[Any, ...]) -> bool:
    """Whether every sample of `received` (arrays or dicts of them, e.g. `(x, y)`) is a
    sample of `passed`, by `row_hashes`, after casting each received array to its passed
    counterpart's dtype (a cast is no change); `False` when they cannot be compared."""
    try:
        cast = [
            np.asarray(r).astype(np.asarray(g).dtype, copy=False)
            if hasattr(r, "shape") and hasattr(g, "shape")
            else r
            for r, g in zip(received, passed, strict=True)
        ]
        got = row_hashes(*cast)
        return bool(len(got)) and bool(np.isin(got, row_hashes(*passed)).all())
    except (TypeError, ValueError):
        return False


def _first_batch(stream: Any) -> tuple[Any, ...] | None:
    """The first batch of a `tf.data.Dataset` or `keras.utils.PyDataset` as a tuple of
    NumPy arrays (or dicts of them): `(x, y)` or `(x, y, sample_weight)`; `None` for
    anything else, a batch of `x` only, or a stream that cannot be read."""
    try:
        if isinstance(stream, keras.utils.PyDataset):
            batch = stream[0]
        elif type(stream).__module__.startswith("tensorflow") and hasattr(stream, "take"):
            batch = next(iter(stream.take(1)))
        else:
            return None
        batch = keras.tree.map_structure(np.asarray, batch)
    except Exception:  # noqa: BLE001 - a stream that cannot be read here: not compared
        return None
    return tuple(batch) if isinstance(batch, (tuple, list)) else None
