"""What pandas changes in a CSV's header or columns without a word, refused by name.

`pd.read_csv` renames a repeated column name (`a`, `a.1`), names a column
without a name `Unnamed: 3` (a comma at the end of every line adds an empty
one), and takes the first field as row labels, not a column, when the data
rows have one field more than the header. Each left a column renamed, empty
or dropped from the features with exit 0; `check_header` refuses them,
naming the columns by their position, as the file's header has them. It also
names a file without a header row (its first row of numbers read as names) for
what it is, and leaves files laid out otherwise (another separator, lines before
the header) to `_csv_layout`. `check_identifiers` refuses a feature column that
numbers the rows: a pandas index saved with the file, in order or shuffled, an
id column, or a first column that is exactly the row numbers, whatever its name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tunekit import _log
from tunekit.data._counters import COUNTS, KEEP_QUANTITY, counter_column, counter_values
from tunekit.data._csv_layout import misread
from tunekit.data._notes import warn_data
from tunekit.errors import DataError

__all__ = ["check_header", "check_identifiers", "warn_position_counters", "first_row_data"]

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
# A first column 1..n named as a number of something (`atomic_number`, `Reynolds number`)
# is a quantity; one named for what it numbers (`sample_number`, `line_num`) numbers rows.
_QUANTITY_NAME = re.compile(r"num(ber)?", re.IGNORECASE)
_COUNTER_NAME = re.compile(
    r"sample|row|record|serial|case|seq|item|entry|obs|line|index", re.IGNORECASE
)
# A first column 0..n-1 named as a time or a dose (`t`, `day`, `time (s)`, `t_ms`) is a
# quantity the target may follow: the counter warning, not the row-number refusal.
_TIME_NAME = re.compile(
    r"(?i)(.*[^a-z])?(t|times?|time_?steps?|time_?stamps?|steps?|days?|weeks?|months?|years?|"
    r"yr|hours?|hr|minutes?|min|seconds?|sec|ms|epochs?|cycles?|generation|iterations?|iter|"
    r"frames?|lag|age|dose|depth|date|positions?|pos|distance|dist|x)([^a-z].*)?"
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
    longer, padded = len(first) > len(names), any(not n.strip() for n in names[1:])
    layout = misread(file) if longer or padded else None
    if layout:  # `1,5;2,3`: decimal commas split each row at the commas; a preamble
        why = (  # (padded: a title row `Messreihe 3,,` read as the header)
            "read with commas its rows have more fields than its header"
            if longer
            else f"read as it is, its first line {','.join(names)!r} would be the header"
        )
        raise DataError(f"{str(file)!r} {layout.told}: {why}. {layout.advice}")
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
        f"({_log.listed(names, 3, form=repr)}), and read "
        "as names that row would be lost. A CSV needs a header row naming its columns; "
        "add one, e.g. pandas: pd.read_csv(path, header=None).add_prefix('c')"
        f".to_csv(path, index=False) names them c0, c1, ..., {last} (then target={last!r} "
        "if the last column is the target)."
    )


def _number(name: str) -> float | None:
    try:
        return float(name)
    except ValueError:
        return None


def check_identifiers(
    frame: Any, features: list[str], in_frame: bool = False, labels: Any = None
) -> None:
    """Refuses a feature column that numbers the rows: a different whole number in each,
    or distinct values evenly spaced (a standardised index).

    Its name must say so (`_ROW_NUMBER_NAME`: a pandas index saved with the file,
    `Unnamed: 0`; `_ID_NAME`: `id`, `row_id`, `PatientId`): as a feature it tells
    the model which row it is, which leaks the target of a file numbered in
    sorted order (a depth-1 tree on it scored 1.0) and means nothing otherwise.
    Shuffled or filtered row numbers are refused as well as `0..n-1`. The first
    column is refused under any name (a named index: `Sample`) when it is exactly
    `0..n-1` or `1..n` in file order, unless its name says it is a number of
    something (`atomic_number`), a time or a dose (`t`, `day`, `time (s)`: then
    `warn_position_counters` warns if the target is sorted in its order) or it is the
    only feature (`y = f(x)`). `in_frame`: the columns of a DataFrame given to
    `Dataset.from_arrays` (the fix is `x.drop(columns=...)`), not a CSV's; `labels`: the
    frame's own column labels by name (`{"0": 0}`), said in the messages.
    """
    labels = labels or {}
    for column in features:
        index = _ROW_NUMBER_NAME.fullmatch(column.strip()) is not None
        if not (index or _ID_NAME.fullmatch(column.strip())):
            continue
        if not (_row_numbers(frame[column]) or counter_values(frame[column]) is not None):
            continue
        said = labels.get(column, column)
        drop = f"x.drop(columns=[{said!r}])"
        if index:
            raise DataError(
                f"column {said!r} is named as a pandas index and holds a different value in "
                "each row (row numbers, or ids): as a feature it tells the model each row's "
                "position, which leaks the target when the rows were sorted. "
                + (
                    f"Drop it: {drop} (or read the CSV with pd.read_csv(path, index_col=0))."
                    if in_frame
                    else "Save the CSV with DataFrame.to_csv(..., index=False), or drop "
                    "that column."
                )
            )
        raise DataError(
            f"column {said!r} looks like a row identifier (its name, and a different "
            "value in each row): as a feature it tells the model which row it is, which "
            "leaks the target when the ids were given in sorted order and means nothing "
            "otherwise. Drop it, e.g. "
            + (drop if in_frame else f"pandas: pd.read_csv(path).drop(columns=[{column!r}])")
            + ("" if in_frame else ".to_csv(path, index=False)")
            + "; if it is a real quantity, rename it."
        )
    import numpy as np

    first = str(frame.columns[0]) if len(frame.columns) else ""
    counted = bool(_QUANTITY_NAME.search(first) and not _COUNTER_NAME.search(first))
    counted = counted or _TIME_NAME.fullmatch(first.strip()) is not None
    alone = features == [first]  # y = f(x) over x = 0, 1, 2...: no row numbers beside data
    if first in features and not (counted or alone) and _row_numbers(frame[first]):
        values = frame[first].to_numpy(dtype=float)
        start = values[0] if len(values) else 0
        if start in (0, 1) and (values == start + np.arange(len(values))).all():
            said = labels.get(first, first)
            fix = (
                f"x.drop(columns=[{said!r}]) (read the CSV with index_col=0)"
                if in_frame
                else "pd.read_csv(path, index_col=0).to_csv(path, index=False)"
            )
            kept = (
                "kept as a column (reset_index(), or a CSV read back with its saved index)"
                if in_frame
                else "saved with the file (DataFrame.to_csv() without index=False, the index "
                f"named {said!r})"
            )
            raise DataError(
                f"its first column, {said!r}, holds exactly the row numbers "
                f"{int(start)}..{int(start) + len(values) - 1} in row order: a pandas index "
                f"{kept}. As a feature it tells the model each row's position, "
                f"which leaks the target when the rows were sorted. Drop it, e.g. pandas: "
                f"{fix} (a quantity numbering something, such as 'atomic_number', or a time, "
                "such as 'day' or 't', is kept, and so is an only feature)."
            )


def warn_position_counters(frame: Any, features: list[str]) -> None:
    """Warns (a `DataWarning`) of a feature column that counts the rows when the rows in
    its order are sorted by a target (`counter_column`): a row number given while the file
    was sorted by the target tells the model each row's target by its position (a probe's
    noise features beside one scored 0.97 where chance is 0.5, exit 0). A warning, not a
    refusal: a year, a dose or a time the target really rises with looks the same (probe D).
    """
    found = counter_column(frame, features)
    if found is not None:
        column, by = found
        warn_data(
            f"column {column!r} {COUNTS} and the target {by!r} is sorted in its order. If it "
            "was numbered while the file was sorted by the target (a row number, a key), it "
            "tells the model each row's target by its position and the test score is leaked: "
            f"drop it (pandas: pd.read_csv(path).drop(columns=[{column!r}]).to_csv(path, "
            f"index=False)). {KEEP_QUANTITY}"
        )


def _row_numbers(column: Any) -> bool:
    """Whether `column` holds a different whole number in each row (row numbers or ids,
    in any order): a pandas index saved as a column is `0..n-1`, or shuffled."""
    import numpy as np
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    if not is_numeric_dtype(column) or is_bool_dtype(column) or column.isna().any():
        return False
    values = column.to_numpy(dtype=np.float64)
    return bool(np.all(values == np.round(values)) and np.unique(values).size == values.size)
