"""NaN, infinity and values beyond float32's range in a stream's batches, counted by sample.

`StreamData` counts them in the passes its split-leak check makes anyway
(`tunekit.data._leaks.PassSum`) and refuses a split that holds any, as arrays
holding them are refused (`tunekit.data._checks`): a model trains on NaN to NaN, or
predicts NaN, which Keras's metrics count as class 0. Keras computes in float32, so
a float64 value beyond its range (about 3.4e38) is an infinity inside the model.
Ragged inputs are read as a `tf.RaggedTensor` (its values and row splits) or as the
object arrays of arrays `as_numpy_iterator` makes of one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from tunekit.errors import DataError

__all__ = ["nonfinite_rows", "refuse_nonfinite"]

_FLOAT32_MAX = float(np.finfo(np.float32).max)

# What a stream's NaN or infinity would do, by the part of its batches that holds it.
_NAN_HARM = {
    "x": "a model trains on them to NaN, or predicts NaN for them, which Keras's metrics "
    "count as class 0 (a test accuracy of 0.93 where it was 0.88)",
    "y": "a model would be trained toward them and scored against them, which no metric can do",
    "sample weights": "each weighs its sample's loss, and one NaN makes the loss NaN",
}


def refuse_nonfinite(split: str, counts: Mapping[str, int], samples: int) -> None:
    """Refuses a stream (`split`: `"training"`, `"validation"`, `"test"`) of `samples`
    samples whose parts (`counts`: `"x"`, `"y"`, `"sample weights"` -> samples that hold
    NaN, infinity or a value beyond float32's range) hold any.

    Raises:
        DataError: Naming the stream, the part, the count, the harm and the fix.
    """
    for part, count in counts.items():
        if count:
            raise DataError(
                f"StreamData: the {split} stream's {part} "
                f"{'hold' if part == 'sample weights' else 'holds'} NaN or infinite values "
                f"(or values beyond float32's range, about 3.4e38, which Keras's float32 "
                f"makes infinite) in {count} of its {samples} samples: {_NAN_HARM[part]}. "
                "Drop, fill or scale those samples before batching (e.g. ds.filter, or "
                "ds.map with tf.where), as arrays with them are refused."
            )


def nonfinite_rows(x: Any) -> int:
    """How many samples of a batch's `x` (or `y`, or weights: an array, a ragged tensor, a
    dict or list of them) hold NaN, infinity or a value beyond float32's range in a float
    part; text or ids hold none."""
    parts = (
        list(x.values()) if isinstance(x, Mapping) else x if isinstance(x, (list, tuple)) else [x]
    )
    bad: np.ndarray | None = None
    for part in parts:
        rows = _ragged_rows(part) if hasattr(part, "nested_row_splits") else _rows(part)
        if rows is not None:
            bad = rows if bad is None or len(bad) != len(rows) else bad | rows
    return 0 if bad is None else int(bad.sum())


def _rows(part: Any) -> np.ndarray | None:
    """Which rows of `part` (an array) hold a value that is not finite in float32."""
    try:
        values = np.asarray(part)
    except Exception:  # noqa: BLE001 - a sparse input: not read
        return None
    if values.ndim < 1 or not len(values):
        return None
    flat = values.reshape(len(values), -1)
    if values.dtype.kind == "O":  # a ragged batch as NumPy gives it: arrays of other sizes
        return np.array([any(_bad(value) for value in row) for row in flat])
    if values.dtype.kind not in "fc":
        return None
    with np.errstate(invalid="ignore"):
        return ~(np.isfinite(flat) & (np.abs(flat) <= _FLOAT32_MAX)).all(axis=1)


def _bad(value: Any) -> bool:
    """Whether one cell of an object array (an array, a number; text is none) holds a value
    that is not finite in float32."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "O":
            return any(_bad(each) for each in value.ravel())
        values = value if value.dtype.kind in "fc" else None
    else:
        values = np.asarray(value) if isinstance(value, (float, np.floating)) else None
    if values is None:
        return False
    with np.errstate(invalid="ignore"):
        return not bool((np.isfinite(values) & (np.abs(values) <= _FLOAT32_MAX)).all())


def _ragged_rows(part: Any) -> np.ndarray | None:
    """`_rows` of a ragged tensor: its flat values' rows, gathered up its row splits (a
    row holds a bad value if any of its values does), innermost splits first."""
    bad = _rows(part.flat_values)
    if bad is None:
        return None
    for splits in reversed(part.nested_row_splits):
        splits = np.asarray(splits)
        seen = np.concatenate([[0], np.cumsum(bad)])
        bad = seen[splits[1:]] > seen[splits[:-1]]
    return bad
