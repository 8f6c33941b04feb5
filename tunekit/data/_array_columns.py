"""The columns of `Dataset.from_arrays`'s `x` that number its rows: a CSV's rules, for arrays.

A notebook user reads a CSV with pandas and hands `from_arrays` the DataFrame (or
`frame.to_numpy()`): a pandas index saved with the file (`Unnamed: 0`), an `id` column
or a row number kept from a table sorted by its target leaks the target by position as
in a CSV (a probe: test accuracy 0.956 on labels that were noise, exit 0). A
DataFrame's columns are refused by name as `load_csv` refuses them
(`tunekit.data._csv_header.check_identifiers`); a column that counts the rows while `y`
is sorted in its order gets the CSV's warning (`tunekit.data._counters`), named by
its name or its index (`x[:, 3]`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tunekit.data._counters import COUNTS, KEEP_QUANTITY, MAX_ARRAY_COLUMNS, counter_column
from tunekit.data._csv_header import check_identifiers
from tunekit.data._notes import warn_data
from tunekit.data._split_sizes import made_inside
from tunekit.data._target_copies import warn_target_copies

__all__ = ["check_array_columns"]

_TARGET = "\0y"  # the target's column in the frame the rule reads (no feature's name)


def check_array_columns(x: Any, y: Any) -> None:
    """Refuses or warns of the columns of `x` (`Dataset.from_arrays`'s, as given) that
    number the rows.

    A pandas DataFrame `x`: a column named as row numbers or ids (`Unnamed: 0`, `id`,
    `patient_id`) that holds a different whole number in each row, or distinct values
    evenly spaced (a standardised index), is refused, and so is a first column of exactly
    `0..n-1` under other names (as `load_csv` does). A DataFrame, or a 2-D numeric array,
    of 2 to `MAX_ARRAY_COLUMNS` (256) columns whose column counts the rows while `y` (one
    target per sample, `(n,)` or `(n, 1)`) is sorted in its order gets a `DataWarning` at
    the line that called `from_arrays`: a leaked row number, or a year or a dose the
    target follows. Not when another loader makes the arrays (`load_csv` reads its file's
    columns by name): a dict `x`, images and wider tables are left alone.

    Raises:
        DataError: On a DataFrame column that numbers the rows, as above.
    """
    import pandas as pd  # noqa: PLC0415 - pandas is slow to import

    if made_inside():
        return
    if isinstance(x, pd.DataFrame):
        frame = x.set_axis([str(c) for c in x.columns], axis=1)
        labels = dict(zip(frame.columns, x.columns, strict=True))
        check_identifiers(frame, list(frame.columns), in_frame=True, labels=labels)
    elif isinstance(x, np.ndarray) and x.ndim == 2 and x.dtype.kind in "iuf":
        frame = pd.DataFrame(x)
    else:
        return
    if isinstance(y, (pd.Series, pd.DataFrame)):
        y = y.to_numpy()
    one = isinstance(y, np.ndarray) and (y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1))
    if not one or len(y) != len(frame) or not 2 <= frame.shape[1] <= MAX_ARRAY_COLUMNS:
        return
    features = list(frame.columns)
    name = (lambda c: f"column {c!r}") if isinstance(x, pd.DataFrame) else (lambda c: f"x[:, {c}]")
    fix = (
        (lambda c: f"x.drop(columns=[{c!r}])")
        if isinstance(x, pd.DataFrame)
        else (lambda c: f"np.delete(x, {c}, axis=1)")
    )
    shown = frame.set_axis(list(x.columns), axis=1) if isinstance(x, pd.DataFrame) else frame
    warn_target_copies(shown, y, name, fix)
    found = counter_column(frame.assign(**{_TARGET: y.reshape(len(y))}), features)
    if found is None:
        return
    column = found[0]
    label = x.columns[features.index(column)] if isinstance(x, pd.DataFrame) else column
    warn_data(
        f"{name(label)} {COUNTS} and y is sorted in its order. If it was numbered while the "
        "rows were sorted by y (a row number, a key), it tells the model each row's target by "
        f"its position and the test score is leaked: drop it ({fix(label)}). {KEEP_QUANTITY}"
    )
