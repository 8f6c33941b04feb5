"""A feature column that is the target written again: a leak no split can hide.

Probe B: a wine CSV with a column `leak` equal to `target` tested at 1.0 with exit 0, and
no word. A column whose values stand one-to-one for the classes (the class ids, their
names' codes) or that equals a regression target up to a scale and shift tells the model
each row's answer; it is warned of (a `DataWarning`), not refused: a feature may really
determine the target.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tunekit.data._notes import warn_data

__all__ = ["DROP_IN_FILE", "MIN_ROWS", "target_copies", "warn_target_copies"]

#: How a CSV's column is dropped (`DROP_IN_FILE.format(column)`).
DROP_IN_FILE = "pandas: pd.read_csv(path).drop(columns=[{!r}]).to_csv(path, index=False)"

#: Fewer rows than this are not judged: a binary feature of 10 rows matches binary labels
#: by chance once in 512.
MIN_ROWS = 30


def target_copies(frame: Any, y: Any) -> list[Any]:
    """The columns of `frame` (a pandas DataFrame of numeric features) that copy `y`.

    `y` (one target per row, `(n,)` or `(n, 1)`): integer class ids (or bools) are
    classes, and a column copies them when it takes exactly as many distinct values as
    `y` has classes (at least 2), each value in one class only; float targets are
    values, copied by a column equal to `a * y + b` (`a` not 0; a correlation of 1 to
    1e-9). Fewer than `MIN_ROWS` (30) rows, or other targets: none.
    """
    target = np.asarray(y)
    if target.ndim == 2 and target.shape[1] == 1:
        target = target[:, 0]
    if target.ndim != 1 or len(target) != len(frame) or len(target) < MIN_ROWS:
        return []
    import pandas as pd  # noqa: PLC0415 - pandas is slow to import

    found = []
    if target.dtype.kind in "iub":
        ids = target.astype(np.int64)
        classes = len(np.unique(ids))
        if classes < 2:
            return []
        for column in frame.columns:
            codes, uniques = pd.factorize(frame[column])
            if len(uniques) != classes or (codes < 0).any():
                continue
            pairs = np.unique(codes.astype(np.int64) * (int(ids.max()) + 1) + ids - ids.min())
            if len(pairs) == classes:
                found.append(column)
    elif target.dtype.kind == "f" and np.isfinite(target).all() and target.std() > 0:
        for column in frame.columns:
            values = np.asarray(frame[column], dtype=np.float64)
            if not np.isfinite(values).all() or values.std() == 0:
                continue
            if abs(np.corrcoef(values, target)[0, 1]) > 1 - 1e-9:
                found.append(column)
    return found


def warn_target_copies(frame: Any, y: Any, name: Any, fix: Any) -> None:
    """Warns (a `DataWarning`, at the first line outside tunekit) of the first column of
    `frame` that copies `y` (`target_copies`), named by `name(column)` and dropped by
    `fix(column)`."""
    found = target_copies(frame, y)
    if found:
        warn_data(
            f"{name(found[0])} is the target written again (its values stand one-to-one "
            "for the classes, or equal the target up to a scale and shift): the model can "
            "read each row's answer from it, and the test score then says nothing of new "
            "data. If it is not known when you predict, drop it "
            f"({fix(found[0])})."
        )
