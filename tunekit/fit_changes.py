"""Whether a hypermodel's own `fit` passed `model.fit` other data than it was given.

Helpers of `tunekit.fitting.fit_hypermodel`: whether `model.fit` got other inputs than
tunekit passed (`x_changed`) or other targets for the same samples (`y_changed`), both
for one call with samples moved, dropped or repeated taken as no change (`changes`), and
the notes a report then gives (`X_CHANGED_NOTE`, `Y_CHANGED_NOTE`); and whether it trained
on held-out samples or validated on samples it trains on (`held_out_refusal`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

from tunekit.data._row_hashes import row_hashes
from tunekit.data._targets import one_hot_ids

__all__ = [
    "X_CHANGED_NOTE",
    "Y_CHANGED_NOTE",
    "changes",
    "held_out_refusal",
    "inputs_of",
    "x_changed",
    "y_changed",
]


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


# Held-out samples a fit may train on, or training samples it may validate on, before it is
# refused: at least this many samples and this share of the split's distinct samples beyond
# what tunekit's own arrays share by nature (the same digit drawn twice). Half: a leak of
# the whole arrays holds all of them, while an augmentation of few binary features (one
# masked) met 19 of 117 validation rows by value (probe C) and must not be refused.
_LEAK_SAMPLES, _LEAK_SHARE = 5, 0.5


def held_out_refusal(
    owner: str,
    received: tuple[Any, Any],
    passed: tuple[Any, Any],
    held_out: Mapping[str, Any],
) -> str | None:
    """Why a hypermodel's own `fit` may not call `model.fit` so, or `None`.

    Probe A: a `fit` that called `model.fit(X, Y)` on the notebook's whole arrays, not
    the `x, y` it was given, scored 1.0 test accuracy on labels of noise, exit 0, told only
    that it "trained on transformed inputs"; one that passed `validation_data=(X, Y)`
    ranked every trial on samples it trained on (0.82 validation, 0.63 test). Compared by
    `row_hashes` (each received array cast to the given one's dtype), arrays only:

    - the samples `model.fit` trains on (`received[0]`) against each held-out split of
      `held_out` (`{"validation": x_val}` in a search, `{"test": x_test}` in a fit on
      train+validation): refused when it holds samples of one that the `x` tunekit gave
      (`passed[0]`) does not;
    - a `validation_data` other than the one given (`received[1]` against `passed[1]`,
      each `(x, y, ...)`): refused when its inputs are samples of the `x` tunekit gave,
      beyond those the given validation split shares with it (not compared with a
      transformed `x`: binarised features meet by value).

    Either counts at least `_LEAK_SAMPLES` samples and `_LEAK_SHARE` (half) of the split.
    An augmented, rescaled or resampled `x` holds no held-out sample and is not refused.
    Not seen (compared by exact values): a stream the fit makes of such arrays, or arrays
    it changes in value (noise, rounding).
    """
    fit_x, given_x = received[0], passed[0]
    own, ours = inputs_of(received[1]), inputs_of(passed[1])
    moved_x = x_changed(fit_x, given_x)
    moved_validation = own is not None and ours is not None and x_changed(own, ours)
    if not (moved_x and held_out) and not moved_validation:
        return None  # the arrays given (every fit of a bundled hypermodel): nothing hashed
    try:
        given = set(_hashes(given_x, given_x))
        trained = set(_hashes(fit_x, given_x)) if moved_x else set()
        for split, inputs in held_out.items():
            if not moved_x or inputs is None:
                continue
            kept = set(_hashes(inputs, given_x))
            extra = len((trained - given) & kept)
            if _many(extra, len(kept)):
                return (
                    f"{owner}.fit passes model.fit samples of the {split} split ({extra} of "
                    f"its {len(kept)} distinct samples) that are not among the x it was "
                    f"given: {_MEMORY[split]} Train on the x, y your fit is given (e.g. "
                    "model.fit(x, y, **kwargs)), not on arrays of your own that hold them."
                )
        if not moved_validation:
            return None
        checked = _hashes(own, ours)
        natural = sum(h in given for h in _hashes(ours, ours))  # shared by the splits given
        # against x as given: a transform of both (binarised features) meets by value
        shared = sum(h in given for h in checked) - natural
        if _many(shared, len(checked)):
            return (
                f"{owner}.fit passes model.fit a validation_data other than the one it was "
                f"given, and {shared} of its {len(checked)} samples are samples the model "
                f"trains on: {_MEMORY['validation']} Pass kwargs['validation_data'] on as "
                "given (tunekit's validation split, kept apart from x)."
            )
    except (TypeError, ValueError, AttributeError):  # not arrays: not compared
        return None
    return None


_MEMORY = {
    "validation": "every trial's score would measure memory of samples it trained on, "
    "and the search would rank that.",
    "test": "the test score would measure memory of samples the final model trained on, "
    "not how it does on new data.",
}


def _many(count: int, total: int) -> bool:
    """Whether `count` samples of `total` are at least `_LEAK_SAMPLES` and `_LEAK_SHARE`."""
    return count >= max(_LEAK_SAMPLES, _LEAK_SHARE * total)


def inputs_of(validation: Any) -> Any:
    """The inputs of a `validation_data` tuple `(x, y, ...)`, or `None` (a stream, none)."""
    return validation[0] if isinstance(validation, tuple | list) and validation else None


def _hashes(value: Any, like: Any) -> np.ndarray:
    """`row_hashes` of `value` (an array or a dict of arrays), cast to `like`'s dtypes."""
    if isinstance(value, Mapping) and isinstance(like, Mapping):
        value = {k: v for k, v in value.items() if k in like}
        parts = [_cast(value[k], like[k]) for k in sorted(value, key=str)]
        return row_hashes(*parts)
    if not hasattr(value, "shape"):
        raise TypeError("not an array")
    return row_hashes(_cast(value, like))


def _cast(value: Any, like: Any) -> np.ndarray:
    array = np.asarray(value)
    return array.astype(np.asarray(like).dtype, copy=False) if hasattr(like, "dtype") else array
