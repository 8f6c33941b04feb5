"""Cells pandas reads as missing in a CSV, and the text labels among them.

`pd.read_csv` reads the text `NA`, `N/A`, `None`, `null`, `nan` (and a few
more) as a missing value, like an empty cell. In a target of text labels that
is a class (`NA` for North America), which was refused as missing values with
advice to drop its rows (a class deleted). `text_targets_as_written` reads
such a target as written; every other cell read as missing is still refused,
and the message says which text the cells held. An empty cell is a missing
value everywhere; a column of nothing but missing cells is refused as an empty
column to drop. A target column pandas reads as numbers is put back as written when
the file writes codes (`codes_as_written`: `01` and `1` are two classes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tunekit.data._label_text import CODE, refuse_one_number_written_apart
from tunekit.errors import DataError

__all__ = ["check_no_missing", "codes_as_written", "text_targets_as_written"]

# What pandas's `infer_dtype` calls the values of a column of numbers (or True/False).
_NUMBERS = {"integer", "floating", "mixed-integer-float", "decimal", "boolean"}


def as_written(file: Path, frame: Any) -> Any:
    """The columns of `frame` (`pd.read_csv(file)`) with missing cells, as the file writes
    them (text; only empty cells missing), or None when none is or the file reads otherwise."""
    import pandas as pd

    columns = [c for c in frame.columns if frame[c].isna().any()]
    if not columns:
        return None
    try:
        written = pd.read_csv(
            file, usecols=columns, dtype=str, keep_default_na=False, na_values=[""]
        )
    except (ValueError, OSError):  # read once already: not expected
        return None
    if len(written) != len(frame):
        return None
    written.columns = [str(c) for c in written.columns]
    written.index = frame.index
    return written


def text_targets_as_written(frame: Any, written: Any, targets: list[str]) -> None:
    """Puts each target column of text labels that pandas read partly as missing (`NA`,
    `None`...) back as written, in place; empty cells stay missing. A target of numbers
    (or True/False) with such cells is left for `check_no_missing`."""
    from pandas.api.types import infer_dtype

    for column in targets:
        if written is None or column not in written:
            continue
        held = frame[column].isna() & written[column].notna()
        others = frame[column][frame[column].notna()]
        if held.any() and not (len(others) and infer_dtype(others) in _NUMBERS):
            frame[column] = written[column].astype(object)


def check_no_missing(frame: Any, written: Any) -> None:
    """Raises `DataError` naming each column with missing cells (how many, and the text
    pandas read as missing in them, from `written`), and how to fill or drop them; first
    the columns with no value at all, to drop (dropping their rows leaves none)."""
    missing = frame.isna().sum()
    missing = missing[missing > 0]
    if not len(missing):
        return
    nothing = [str(c) for c, count in missing.items() if count == len(frame)]
    if nothing:  # dropping the rows would drop them all
        raise DataError(
            f"column(s) {', '.join(map(repr, nothing))} have no values at all (every one of "
            f"the {len(frame)} cells is missing): an empty column, e.g. from a separator at "
            "the end of each line. Drop it, e.g. pandas: pd.read_csv(path).drop(columns="
            f"{nothing!r}).to_csv(path, index=False)."
        )
    parts, any_text = [], False
    for column, count in missing.items():
        texts = _held_texts(frame, written, str(column))
        if texts:
            any_text = True
            held, shown = texts
            cells = "cells" if held == count else f"{held} cells"
            empty = "" if held == count else f", {count - held} empty"
            parts.append(f"{column!r} ({count} missing: {cells} holding the text {shown}{empty})")
        else:
            parts.append(f"{column!r} ({count} missing)")
    raise DataError(
        f"column(s) {', '.join(parts)} have missing values. Fill them (e.g. "
        "DataFrame.fillna) or drop those rows (DataFrame.dropna), and save the CSV again."
        + (
            " pandas reads a cell holding the text 'NA', 'N/A', 'None', 'null' or 'nan' as a "
            "missing value: if such cells are values, not missing ones, encode them as "
            "numbers (a text target column's labels are read as written, as class names)."
            if any_text
            else ""
        )
    )


def _held_texts(frame: Any, written: Any, column: str) -> tuple[int, str] | None:
    """How many of `column`'s missing cells hold text, and the distinct texts for a message."""
    if written is None or column not in written:
        return None
    held = frame[column].isna() & written[column].notna()
    if not held.any():
        return None
    values = written[column][held].value_counts()
    texts = [repr(str(v)) for v in values.index[:3]]
    if len(values) > 3:
        texts.append(f"{len(values) - 3} more")
    shown = texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + " or " + texts[-1]
    return int(held.sum()), shown


def codes_as_written(file: Path, frame: Any, targets: list[str], task: str | None) -> None:
    """Puts each target column pandas read as whole numbers back as written, in place,
    where the file writes codes: a label with a leading zero (`01`, `007`). `"01"` and
    `"1"` are two classes as written and one number as read: a probe's wine classes
    `1`, `01` and `2` became 2 classes, and its test accuracy was for a problem it never
    posed (exit 0). Labels `01`, `02`, `10` keep those names. With `task="regression"`
    the column is numbers, as written or not.

    Raises:
        DataError: A target of whole numbers (`task` not regression) that writes one in
            more than one way without a leading zero (`1` and `1.0`): one class or two.
    """
    import pandas as pd
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    numeric = [c for c in targets if is_numeric_dtype(frame[c]) and not is_bool_dtype(frame[c])]
    if task == "regression" or not numeric:
        return
    try:
        written = pd.read_csv(file, usecols=numeric, dtype=str, keep_default_na=False)
    except (ValueError, OSError):  # read once already: not expected
        return
    if len(written) != len(frame):
        return
    written.columns = [str(c) for c in written.columns]
    for column in numeric:
        text = written[column]  # as written, spaces too (` 01` and `01`: the text rules')
        kept = frame[column].notna().to_numpy() & (text.str.strip() != "").to_numpy()
        pairs = pd.DataFrame(
            {"value": frame[column].to_numpy()[kept], "text": text[kept].to_numpy()}
        )
        if (pairs["value"] != pairs["value"].round()).any():
            continue  # real values: a quantity, however written (`01` beside `0.5` too)
        if pairs["text"].str.fullmatch(CODE.pattern).any():
            frame[column] = text.where(text.str.strip() != "", None).astype(object).to_numpy()
            continue
        ways = pairs.drop_duplicates().groupby("value")["text"].unique()
        refuse_one_number_written_apart(
            [list(w) for w in ways if len(w) > 1],
            f"target column {column!r} writes",
            "Write each class one way and save the CSV again, or pass task='regression' if "
            "the column is a quantity.",
        )
