"""What pandas changes in a CSV's header or columns without a word, refused by name.

`pd.read_csv` renames a repeated column name (`a`, `a.1`), names a column
without a name `Unnamed: 3` (a comma at the end of every line adds an empty
one), and takes the first field as row labels, not a column, when the data
rows have one field more than the header. Each left a column renamed, empty
or dropped from the features with exit 0; `check_header` refuses them,
naming the columns by their position, as the file's header has them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tunekit.errors import DataError

__all__ = ["check_header"]


def check_header(file: Path, frame: Any) -> None:
    """Raises `DataError` when `frame` (`pd.read_csv(file)`) is not the file's header as written.

    Refused: a name given twice (or two names that differ only by spaces around
    them: `" a"` and `"a"`), a column with no name (with no values either: a
    comma at the end of each line), and data rows longer than the header, whose
    first fields pandas took as row labels. Positions are 1-based.
    """
    import csv

    # The header and first data row as written (pandas skips blank lines, reads a BOM).
    try:
        with open(file, newline="", encoding="utf-8-sig") as handle:
            rows = csv.reader(handle)
            names = next((row for row in rows if row), [])
            first = next((row for row in rows if row), [])
    except (OSError, UnicodeError, csv.Error):  # pandas read it: nothing to compare with
        return
    if len(first) > len(names):  # pandas took the first fields as the rows' labels
        extra = len(first) - len(names)
        raise DataError(
            f"its data rows have {len(first)} fields but its header names {len(names)}: "
            f"pandas would take the first {extra} field(s) of each row as row labels and "
            "leave them out of the data. Name every column in the header (or remove the "
            "extra fields), and save the CSV again."
        )
    positions: dict[str, list[int]] = {}
    for i, name in enumerate(names, start=1):
        positions.setdefault(name.strip(), []).append(i)
    repeated = [(n, p) for n, p in positions.items() if n and len(p) > 1]
    if repeated:
        shown = "; ".join(
            " and ".join(repr(names[i - 1]) for i in p) + f" (columns {', '.join(map(str, p))})"
            for _, p in repeated
        )
        raise DataError(
            f"its header names a column more than once: {shown}. pandas would rename the "
            "repeats ('a.1') and which one is meant (as target= or a feature) is unclear. "
            "Give each column its own name (names that differ only by spaces around them "
            "count as one), and save the CSV again."
        )
    unnamed = positions.get("", [])
    if not unnamed or len(names) != len(frame.columns):
        return
    columns = list(frame.columns)
    empty = [i for i in unnamed if frame[columns[i - 1]].isna().all()]
    if empty:
        raise DataError(
            f"column(s) {', '.join(map(str, empty))} (of {len(names)}) have no name in the "
            "header and no values: a comma at the end of each line? Remove the trailing "
            "commas (or the empty column), and save the CSV again."
        )
    if any(_row_numbers(frame[columns[i - 1]]) for i in unnamed):
        return  # a pandas index saved with the file: its own message names the fix
    shown = ", ".join(f"{i} (read as {columns[i - 1]!r})" for i in unnamed)
    raise DataError(
        f"column(s) {shown} have no name in the header, so target= cannot name them and "
        "pandas makes one up. Name them in the header (or remove them), and save the CSV again."
    )


def _row_numbers(column: Any) -> bool:
    """Whether `column` is 0..n-1 or 1..n: a pandas index saved as a column."""
    import numpy as np

    values, n = column.to_numpy(), len(column)
    return bool(np.array_equal(values, np.arange(n)) or np.array_equal(values, np.arange(1, n + 1)))
