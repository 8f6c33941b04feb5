"""A feature that counts the rows, in data sorted by its target: a leak, or a quantity.

A row number or key given while the rows were sorted by the target (`rownum`, an
`id`, `arange(n) / 100`) tells the model each row's target by its position: a probe's
noise features beside one scored 0.97 test accuracy where chance is 0.5, exit 0. A
year, a dose or a time the target really follows looks the same in the data (probe
D), so it is a warning that says both readings, not a refusal: `load_csv` warns of a
CSV's columns (`tunekit.data._csv_header.warn_position_counters`), and
`Dataset.from_arrays` of the columns of a 2-D `x` or a DataFrame
(`tunekit.data._array_columns`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "COUNTS",
    "KEEP_QUANTITY",
    "MAX_ARRAY_COLUMNS",
    "counter_column",
    "counter_values",
]

KEEP_QUANTITY = "If it is a quantity the target really follows (a year, a dose, a time), keep it."
# How the warnings say what such a column holds.
COUNTS = "counts the rows (a different value in each, evenly spaced or rising row by row)"
# A numeric target of this rank correlation with a counter's order is sorted in it.
SORTED_RHO = 0.9
# `from_arrays` looks at the columns of an `x` this wide at most (tables, not flat images).
MAX_ARRAY_COLUMNS = 256


def counter_column(frame: Any, features: list[Any]) -> tuple[Any, Any] | None:
    """The first feature column of `frame` (a pandas DataFrame) that counts the rows, and
    the target (a column not in `features`) sorted in its order; `None` if none.

    A column counts the rows when its values are distinct and evenly spaced, with gaps or
    rounding (`counter_values`: `arange(n) / 100`, a key `0..n-1`, in any place and any
    row order), or rise (fall) from each row to the next in the file's order (a running
    sum of irregular steps, `_monotone`); a target is sorted in its order when it has a
    rank correlation of 0.98 or more with it, or its labels sit in blocks, two rows out of
    place at most (`_sorted_by`).
    An only feature (`y = f(x)` on a grid) and frames of fewer than 10 rows are left alone.
    """
    targets = [c for c in frame.columns if c not in features]
    if len(features) < 2 or len(frame) < 10:
        return None
    for column in features:
        values = counter_values(frame[column])
        if values is None and _monotone(frame[column]):  # a running sum: numbered as written
            values = np.arange(len(frame), dtype=np.float64)
        if values is None:
            continue
        order = np.argsort(values, kind="stable")
        by = next((t for t in targets if _sorted_by(frame[t].iloc[order])), None)
        if by is not None:
            return column, by
    return None


def _monotone(column: Any) -> bool:
    """Whether `column` (numbers) rises, or falls, strictly from each row to the next in
    the file's order: a running count of irregular steps (days of random gaps, probe B),
    given as the rows were written."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    if not is_numeric_dtype(column) or is_bool_dtype(column) or column.isna().any():
        return False
    values = column.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        return False  # refused as such next (`_check_finite_columns`)
    steps = np.diff(values)
    return bool(len(steps)) and bool((steps > 0).all() or (steps < 0).all())


def _sorted_by(target: Any) -> bool:
    """Whether `target` (a column, in some row order) is sorted, or nearly: numbers of rank
    correlation `SORTED_RHO` (0.9) or more (either sign) with the order, or labels (fewer
    than half as many as rows) in blocks, two rows out of place at most, or whose
    neighbours agree at least `max(0.8, (1 + chance) / 2)` of the time (`chance`: the
    agreement of labels in no order, the sum of their squared shares). Probe C: a row
    counter beside labels sorted, then 5% of them flipped, scored 0.90 where chance is
    0.5, with no warning."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype
    from scipy import stats  # type: ignore[import-untyped]

    values, distinct = target.to_numpy(), target.nunique(dropna=False)
    if distinct < 2:
        return False
    if is_numeric_dtype(target) and not is_bool_dtype(target):
        rho = stats.spearmanr(np.arange(len(values)), values.astype(np.float64)).statistic
        if abs(float(rho)) >= SORTED_RHO:
            return True
    if distinct >= len(values) / 2:
        return False
    same = values[1:] == values[:-1]
    chance = float((target.value_counts(normalize=True, dropna=False) ** 2).sum())
    return 1 + int((~same).sum()) <= distinct + 4 or float(same.mean()) >= max(
        0.8, (1 + chance) / 2
    )


def counter_values(column: Any) -> Any:
    """`column`'s values (float64) if they are distinct numbers evenly spaced once sorted
    (`a + b * i` in some order, some `i` missing, each moved by up to 10% of `b`: gaps
    within 20% of a multiple of `b`), else `None`."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    if not is_numeric_dtype(column) or is_bool_dtype(column) or column.isna().any():
        return None
    if not column.is_unique:  # (a hash pass, before the sort: most columns stop here)
        return None  # repeated values: not a different one in each row
    values = column.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        return None  # refused as such next (`_check_finite_columns`)
    steps = np.diff(np.sort(values))
    if not len(steps) or steps.min() <= 0:
        return None  # repeated values: not a different one in each row
    ratios = steps / np.median(steps)
    even = np.abs(ratios - np.round(ratios)).max() <= 0.2 and np.round(ratios).min() >= 1
    return values if even and np.mean(np.round(ratios) == 1) >= 0.75 else None
