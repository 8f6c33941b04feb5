"""What float32, in which Keras trains, cannot keep apart in 64-bit numbers: refused where
the data is given, as the user's own values show it (numpy only)."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from tunekit.errors import DataError

# Integers above this lose their last digits in float32 (a 24-bit significand): 16777217
# becomes 16777216, so two IDs become one.
FLOAT32_EXACT_INTEGERS = 2**24
# float64 holds every integer up to this exactly (a 53-bit significand): above it, every
# float64 is a whole number, and being whole says nothing of a column being integers.
_FLOAT64_EXACT_INTEGERS = 2**53
# Rounding by this fraction of a column's standard deviation or more is refused (where
# float32 also merges distinct whole numbers): its offset is over ~10**4 times its spread.
MATERIAL = 1e-3
# Values float32 moves by this fraction of their standard deviation or more are refused,
# merged or not (`moved_column`): a model and its scores would see other values.
MOVED = 0.1


def wide(dtype: Any) -> bool:
    """Whether `dtype` holds numbers float32 may not keep: 64-bit (or wider) integers or
    floats, and 32-bit integers (beyond 2**24 too)."""
    kind = np.dtype(dtype)
    return kind.kind in "iuf" and kind.itemsize > 4 or kind.kind in "iu" and kind.itemsize == 4


def merged_column(source: np.ndarray, narrow: np.ndarray) -> tuple[int, int, int] | None:
    """The first column of `source` (`(n, ...)`, 64-bit numbers or int32) of whole numbers
    (integers, or whole float64 values up to 2**53) beyond 2**24 whose copy in `narrow`
    (`source` cast to a narrower dtype, the same shape) merges distinct values, and rounds
    them by `MATERIAL` of their standard deviation or more: `(column, distinct, kept)` over
    the flattened sample axes, else `None`.

    Such a column's offset dwarfs its variation, and an offset fixes it: timestamps of one
    day (1.7e9 + seconds, kept 128 apart by float32 there, 0.26% of their spread), IDs
    `2**40 + k` (all one). Wide-ranging whole numbers float32 rounds by less (amounts in
    cents, populations, years of timestamps: a millionth of their spread) are left to its
    rounding, as Keras leaves them; so are real-valued columns."""
    if source.ndim < 1 or len(source) < 2 or not source.size:
        return None
    columns = source.reshape(len(source), -1)
    # Reductions, not a copy of the array: NaN is skipped (fmax), an infinity makes its
    # column a candidate, whose finite values are read below.
    largest = np.maximum(
        np.fmax.reduce(columns, axis=0).astype(float),
        -np.fmin.reduce(columns, axis=0).astype(float),
    )
    for column in np.flatnonzero(largest > FLOAT32_EXACT_INTEGERS):
        rows = np.isfinite(columns[:, column]) if columns.dtype.kind == "f" else slice(None)
        values = columns[rows, column]
        if values.dtype.kind == "f" and (
            not values.size
            or float(np.abs(values).max()) > _FLOAT64_EXACT_INTEGERS
            or np.any(values != np.round(values))
        ):
            continue  # real-valued: float32 rounds it, as it rounds any float64
        cast = narrow.reshape(columns.shape)[rows, column]
        distinct, kept = np.unique(values).size, np.unique(cast).size
        if kept == distinct:
            continue
        exact = values.astype(np.float64)  # whole numbers up to 2**53: exact
        rounding = float(np.max(np.abs(exact - cast.astype(np.float64))))
        if rounding >= MATERIAL * float(np.std(exact)):
            return int(column), distinct, kept
    return None


def column_named(source: np.ndarray, column: int, labels: Any = None) -> str:
    """`"'s column 2 ('ts')"` for a message: a flattened column of `source` by its index
    (a tuple of the sample axes past the first), and its name when `labels` (a DataFrame's
    `columns`) gives one; `""` for a 1-D `source` (one value per sample)."""
    if source.ndim < 2:
        return ""
    where = np.unravel_index(column, source.shape[1:])
    index = where[0] if len(where) == 1 else tuple(int(i) for i in where)
    named = f" ({labels[column]!r})" if labels is not None and len(labels) > column else ""
    return f"'s column {index}{named}"


def offset_fix(name: str, several: bool) -> str:
    """The fix for values float32 cannot keep apart that are a quantity: one offset,
    subtracted from every split (`name` `"x_test"` or `"y['a']"`: each split's own minimum
    would shift them apart), added back to the predictions for targets (`name` `y...`);
    `several`: per column (`min(axis=0)`)."""
    base = re.sub(r"_(train|val|test)\b", "", name)
    axis = "(axis=0)" if several else "()"
    back = ", and add it back to the predictions" if base.startswith("y") else ""
    return (
        f"subtract an offset, the same from every split, first (e.g. offset = "
        f"{base}.min{axis} over the training data, then {base} - offset){back}"
    )


def _whole(value: Any) -> str:
    """A whole number written out (`1099511627776`, not `1.0995116e+12` or
    `1099511627776.0`), whatever its dtype; another value to 10 significant digits."""
    if np.asarray(value).dtype.kind in "iu":  # exactly, beyond 2**53 too
        return str(int(value))
    number = float(value)
    return str(int(number)) if number.is_integer() else f"{number:.10g}"


def _ids_fix(name: str) -> str:
    """What to do with identifiers float32 merges, by where they are (`name`): targets are
    not (`""`); one input of a dict `x` keeps its own key; other inputs, a key of their own."""
    if name.startswith("y"):
        return ""
    apart = (
        "keep them as an int64 array under their key of x"
        if "[" in name
        else "pass them apart as an int64 array (a dict x)"
    )
    return (
        " If they are identifiers, map them to small ids (np.unique(ids, return_inverse=True)"
        f"[1], or pandas.factorize), or {apart} to a keras.Input of dtype='int64', or drop "
        "them."
    )


def refuse_merged_whole(
    source: np.ndarray, x: np.ndarray, name: str, labels: Any = None, offset: str = ""
) -> None:
    """Refuses a column of `source` (`(n, ...)`, 64-bit numbers) of whole numbers whose
    float32 copy `x` merges distinct values (`merged_column`): the model would train on, and
    the scores measure, other values than the user's, with nothing said. `load_csv` refuses
    such integer columns by name (`tunekit.data.tabular`); this is the rule for arrays, a
    DataFrame's columns (`labels`, named) and targets; `offset` (default: `name` minus its
    minimum) says how to subtract one (a stream's `ds.map`).

    Raises:
        DataError: Naming the column, how many distinct values become how many, an example
            pair, and the fix (an offset; small ids for an identifier).
    """
    found = merged_column(source, x)
    if found is None:
        return
    column, distinct, kept = found
    values = np.unique(source.reshape(len(source), -1)[:, column])
    narrow = values.astype(np.float32)
    first = int(np.argmax(narrow[1:] == narrow[:-1]))  # two neighbours float32 makes one
    offset = offset or offset_fix(name, source.ndim > 1)
    pair = f"{_whole(values[first])} and {_whole(values[first + 1])} are both "
    raise DataError(
        f"{name}{column_named(source, column, labels)} holds whole numbers beyond 2**24 "
        f"(16777216) that float32, in which Keras trains, cannot keep apart: {distinct} "
        f"distinct values become {kept} ({pair}{_whole(narrow[first])}). If they are "
        f"a quantity (a timestamp, a count), {offset}.{_ids_fix(name)}"
    )


def moved_column(source: np.ndarray, narrow: np.ndarray) -> tuple[int, int, int, float] | None:
    """The first column of `source` (`(n, ...)`, float64) whose float32 copy `narrow` (the
    same shape) moves its values by `MOVED` of their standard deviation or more, merged or
    not: `(column, distinct, kept, rounding)` over the flattened sample axes, `rounding` the
    largest move; else `None`. Targets at 1.7e9 + 0.5 (float32 keeps them 128 apart, on a
    spread of 101), or two levels 128 apart there, which float32 moves by their whole
    spread. Real values float32 moves by less are left to it, as Keras leaves them: a
    latitude to 0.2 m on a spread of 50 m (0.4%), a day of fractional timestamps (0.3%)
    lose nothing a model or a score would show. Whole numbers merged by `MATERIAL` of their
    spread are `merged_column`'s, said first.

    float32 moves a value by at most 2**-24 of it, and `n` values spread over a range `r`
    have a standard deviation of at least `r / sqrt(2 n)`: only columns whose range is that
    small next to their largest magnitude are read whole (two reductions for the others)."""
    if source.dtype.kind != "f" or source.ndim < 1 or len(source) < 2 or not source.size:
        return None
    columns = source.reshape(len(source), -1)
    high, low = np.fmax.reduce(columns, axis=0), np.fmin.reduce(columns, axis=0)
    largest = np.maximum(np.abs(high), np.abs(low))
    with np.errstate(invalid="ignore", over="ignore"):
        near = (high - low) * MOVED <= math.sqrt(2 * len(columns)) * 2.0**-24 * largest
    for column in np.flatnonzero(near & np.isfinite(largest) & (high > low)):
        finite = np.isfinite(columns[:, column])
        values = columns[finite, column].astype(np.float64)
        cast = narrow.reshape(columns.shape)[finite, column].astype(np.float64)
        rounding = float(np.max(np.abs(values - cast)))
        if rounding >= MOVED * float(np.std(values)):
            return int(column), np.unique(values).size, np.unique(cast).size, rounding
    return None


def refuse_moved(
    source: np.ndarray, x: np.ndarray, name: str, labels: Any = None, offset: str = ""
) -> None:
    """Refuses a column of `source` (float64, `(n, ...)`) whose float32 copy `x` moves its
    values by a tenth of their spread or more (`moved_column`): the model would train on, and
    the scores measure, other values than the user's (targets at 1.7e9 + 0.5 scored 63 off
    on a spread of 101, exit 0). `offset`: as `refuse_merged_whole`.

    Raises:
        DataError: Naming the column, how many distinct values become how many, the largest
            move against the spread, an example, and the fix (an offset).
    """
    found = moved_column(source, x)
    if found is None:
        return
    column, distinct, kept, rounding = found
    given = source.reshape(len(source), -1)[:, column]
    given = given[np.isfinite(given)]
    values = np.unique(given)
    narrow = values.astype(np.float32)
    moved = np.abs(values - narrow.astype(np.float64))
    first = int(np.argmax(narrow[1:] == narrow[:-1])) if kept < distinct else -1
    example = (
        f"{float(values[first])!r} and {float(values[first + 1])!r} are both "
        f"{float(narrow[first])!r}"
        if first >= 0
        else f"{float(values[np.argmax(moved)])!r} becomes {float(narrow[np.argmax(moved)])!r}"
    )
    merged = f"{distinct} distinct values become {kept}" if kept < distinct else "it moves them"
    raise DataError(
        f"{name}{column_named(source, column, labels)} holds values that float32, in which "
        f"Keras trains, cannot keep as they are: {merged} ({example}), each moved by up to "
        f"{rounding:.3g}, "
        f"{rounding / float(np.std(given)):.0%} of their standard deviation: the model "
        "would train on, and be scored against, other values than these. Their offset "
        f"dwarfs their spread: {offset or offset_fix(name, source.ndim > 1)}."
    )


def refuse_collapsed(source: np.ndarray, x: np.ndarray, name: str, labels: Any = None) -> None:
    """Refuses a column of `source` (float64 or 64-bit integers, `(n, ...)`) that varies but
    is constant in `x`, its float32 copy: values that differ only beyond float32's 24-bit
    significand (about 7 significant digits; `2**40 + 1` is `2**40` there), which the model,
    trained in float32, would see as one value. Said where it happens, not as a "constant"
    column the user's own array shows is not."""
    if len(source) < 2:
        return
    columns = source.reshape(len(source), -1)
    varied = np.any(columns != columns[:1], axis=0)
    collapsed = varied & np.all(x.reshape(columns.shape) == x.reshape(columns.shape)[:1], axis=0)
    if not np.any(collapsed):
        return
    column = int(np.argmax(collapsed))
    values = np.unique(columns[:, column])
    shown = ", ".join(f"{v!r}" for v in values[:2].tolist())
    part = column_named(source, column, labels) if columns.shape[1] > 1 else ""
    raise DataError(
        f"{name}{part} varies ({shown}, ...) only beyond float32's precision (about 7 "
        f"significant digits): Keras trains in float32, where every one of them is "
        f"{float(x.reshape(columns.shape)[0, column]):.8g}, one value. "
        + offset_fix(name, columns.shape[1] > 1).capitalize()
        + "."
    )
