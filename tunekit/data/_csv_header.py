"""What pandas changes in a CSV's header or columns without a word, refused by name.

`pd.read_csv` renames a repeated column name (`a`, `a.1`), names a column
without a name `Unnamed: 3` (a comma at the end of every line adds an empty
one), and takes the first field as row labels, not a column, when the data
rows have one field more than the header. Each left a column renamed, empty
or dropped from the features with exit 0; `check_header` refuses them,
naming the columns by their position, as the file's header has them. It also
names a `;`-separated file with decimal commas (European exports) and a file
without a header row (its first row of numbers read as names) for what they
are. `check_identifiers` refuses a feature column that numbers the rows: a
pandas index saved with the file, in order or shuffled, or an id column.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tunekit.errors import DataError

__all__ = ["check_header", "check_identifiers", "first_row_data", "separator_in"]

# Names that say a column numbers the rows. pandas' own: `Unnamed: 0` (`Unnamed: 0.1` when
# saved again), `index`, `level_0` (`reset_index()` of a frame with an `index` column), or
# no name; then ids and serial numbers: `id`, `row_id`, `PatientId`, `S.No`, `#`; not
# `acid`, `paid` or a quantity's `atomic_number`.
_ROW_NUMBER_NAME = re.compile(r"(unnamed: \d+(\.\d+)?|index|level_\d+|)", re.IGNORECASE)
_ID_NAME = re.compile(
    r"(?i:(.*[\s_.\-])?u?(id|idx)#?"  # id, patient_id, uid, ID#
    r"|((.*[\s_.\-])?(row|record|serial|case|seq|sr|sl|s|lfd)[\s_.\-]*)?(no|nr)\.?"
    r"|(row|record|serial|case|seq)[\s_.\-]*(num|number)|rownum|row|serial|s/?n|n°|#)"
    r"|.*[a-z]I[Dd]"  # PatientId, customerID
)


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
    data_row = first_row_data(names, frame)
    if data_row:  # read as names, it lost a sample and named the columns by its values
        raise DataError(data_row)
    separator = separator_in(names)
    if separator and len(first) > len(names):  # `1,5;2,3`: decimal commas split each row
        # `1.234,5`: points between thousands, which such a file writes for no other reason
        row = ",".join(first)
        grouped = ", thousands='.'" if re.search(r"(^|\D)\d{1,3}(\.\d{3})+(\D|$)", row) else ""
        raise DataError(
            f"{str(file)!r} seems to separate its columns with {separator!r} and to write "
            f"numbers with decimal commas ({first[0]},{first[1]}...): read with commas its "
            f"header is one column, {_short(names[0])!r}, and its rows are cut at the "
            "decimal commas. Save it with commas between columns and points in numbers, "
            f"e.g. pandas: pd.read_csv(path, sep={separator!r}, decimal=','{grouped})"
            ".to_csv(path, index=False)."
        )
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


def separator_in(names: list[str]) -> str | None:
    """The separator (`;`, tab, `|`) of a header read with commas as one column, or None."""
    return next((c for c in ";\t|" if len(names) == 1 and c in names[0]), None)


def first_row_data(names: list[str], frame: Any) -> str:
    """The refusal of a file without a header row, its first row read as names; "" if not.

    The names are that row's values when every one is a number (but `0, 1, ..., k-1`
    or `1..k`: the header pandas writes for a frame of an array, where `target="64"`
    names a column), or when the numbers' columns sit beside text whose name is one of
    its own column's values (`0.64,0.41,yes` over a column of yes/no labels).
    """
    numbers = [_number(name) for name in names]
    if len(names) < 2 or not any(n is not None for n in numbers):
        return ""
    if all(n is not None for n in numbers):
        if numbers in (list(range(len(names))), list(range(1, len(names) + 1))):
            return ""
    else:
        if len(frame.columns) != len(names):
            return ""
        texts = [i for i, n in enumerate(numbers) if n is None]
        column = frame.columns
        if not all(
            names[i].strip() in set(frame[column[i]].astype(str).str.strip()) for i in texts
        ):
            return ""
    last = f"c{len(names) - 1}"
    return (
        f"its first row looks like data, not a header: its names are values "
        f"({', '.join(map(repr, names[:3]))}{', ...' if len(names) > 3 else ''}), and read "
        "as names that row would be lost. A CSV needs a header row naming its columns; "
        "add one, e.g. pandas: pd.read_csv(path, header=None).add_prefix('c')"
        f".to_csv(path, index=False) names them c0, c1, ..., {last} (then target={last!r} "
        f"(--target {last}) if the last column is the target)."
    )


def _number(name: str) -> float | None:
    try:
        return float(name)
    except ValueError:
        return None


def check_identifiers(frame: Any, features: list[str]) -> None:
    """Refuses a feature column that numbers the rows: a different whole number in each.

    Its name must say so (`_ROW_NUMBER_NAME`: a pandas index saved with the file,
    `Unnamed: 0`; `_ID_NAME`: `id`, `row_id`, `PatientId`): as a feature it tells
    the model which row it is, which leaks the target of a file numbered in
    sorted order (a depth-1 tree on it scored 1.0) and means nothing otherwise.
    Shuffled or filtered row numbers are refused as well as `0..n-1`.
    """
    for column in features:
        index = _ROW_NUMBER_NAME.fullmatch(column.strip()) is not None
        if not (index or _ID_NAME.fullmatch(column.strip())) or not _row_numbers(frame[column]):
            continue
        if index:
            raise DataError(
                f"column {column!r} holds the row numbers (a pandas index saved with the "
                "file, a different whole number in each row): as a feature it tells the "
                "model each row's position, which leaks the target when the rows were "
                "sorted. Save the CSV with DataFrame.to_csv(..., index=False), or drop "
                "that column."
            )
        raise DataError(
            f"column {column!r} looks like a row identifier (its name, and a different whole "
            "number in each row): as a feature it tells the model which row it is, which "
            "leaks the target when the ids were given in sorted order and means nothing "
            "otherwise. Drop it, e.g. pandas: pd.read_csv(path).drop(columns="
            f"[{column!r}]).to_csv(path, index=False); if it is a real quantity, rename it."
        )


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def _row_numbers(column: Any) -> bool:
    """Whether `column` holds a different whole number in each row (row numbers or ids,
    in any order): a pandas index saved as a column is `0..n-1`, or shuffled."""
    import numpy as np
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    if not is_numeric_dtype(column) or is_bool_dtype(column) or column.isna().any():
        return False
    values = column.to_numpy(dtype=np.float64)
    return bool(np.all(values == np.round(values)) and np.unique(values).size == values.size)
