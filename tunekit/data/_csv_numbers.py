"""Numbers a CSV writes as text: decimal commas (`"3,5"`, `"1.234,5"`) or thousands
separators (`"5,891.5"`).

pandas reads such a column as text. A feature column of them was refused as "not
numeric, encode it (pandas.get_dummies)", and a target column became class names
(`'1,0'`, `'1,5'`: classification of what are ratings, exit 0). `written_numbers`
says what they are and the `pd.read_csv` arguments that read them as numbers.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["written_numbers"]

# `df[c] = ...`: points between thousands dropped, then the decimal comma made a point.
_LINE = (
    "df[{c!r}] = pd.to_numeric(df[{c!r}].str.replace('.', '', regex=False)"
    ".str.replace(',', '.', regex=False))"
)
_GROUPED = "df[{c!r}] = pd.to_numeric(df[{c!r}].str.replace(',', '', regex=False))"

# 3,5  1.234,5  7  5.572 (a whole number with a point between thousands)
_DECIMAL = re.compile(r"[-+]?(\d{1,3}(\.\d{3})+|\d+),\d+|[-+]?\d+|[-+]?\d{1,3}(\.\d{3})+")
_THOUSANDS = re.compile(r"[-+]?\d{1,3}(,\d{3})+(\.\d+)?|[-+]?\d+(\.\d+)?")  # 5,891.5  7.2


def written_numbers(frame: Any, columns: list[str], what: str = "feature") -> str:
    """The refusal of text columns that are all numbers written with commas ("" if none).

    Args:
        frame: The CSV as pandas read it.
        columns: Its text (object) columns to look at.
        what: How the message names them (`"feature"`, `"target"`).

    Returns:
        The message naming the columns and the `pd.read_csv(path, ...)` line that
        reads them as numbers (`decimal=','`, with `thousands='.'` when the values
        also group thousands with points; `thousands=','`); "" when none is.
    """
    kinds: dict[str, list[str]] = {}
    for column in columns:
        values = frame[column].dropna().astype(str).str.strip()
        if values.empty or not values.str.contains(",").any():
            continue
        decimal = values.map(lambda v: _DECIMAL.fullmatch(v) is not None).all()
        thousands = values.map(lambda v: _THOUSANDS.fullmatch(v) is not None).all()
        if decimal and thousands:  # every comma before 3 digits, no point: 1,234
            kinds.setdefault("either", []).append(column)
        elif decimal:
            grouped = values.str.contains(r"\.").any()
            kinds.setdefault("decimal, grouped" if grouped else "decimal", []).append(column)
        elif thousands:
            kinds.setdefault("thousands", []).append(column)
    if not kinds:
        return ""
    # One column's own line: read_csv(decimal=..., thousands=...) acts on every column,
    # and thousands='.' read another column's 0.89 as 89 (a corrupt file, loaded).
    kind, shown = next(iter(kinds.items()))
    column = shown[0]
    fixes = {
        "decimal": ("decimal commas ('3,5')", [_LINE.format(c=column)]),
        "decimal, grouped": (
            "decimal commas and points between thousands ('1.234,5')",
            [_LINE.format(c=column)],
        ),
        "thousands": ("commas between thousands ('5,891.5')", [_GROUPED.format(c=column)]),
        "either": (
            "commas that are decimal commas or between thousands ('1,234')",
            [_LINE.format(c=column), _GROUPED.format(c=column)],
        ),
    }
    said, lines = fixes[kind]
    values = frame[column].dropna().astype(str)
    example = values[values.str.contains(",")].iloc[0]
    return (
        f"{what} column(s) {shown} hold numbers written with {said}, e.g. {example!r}, "
        "which pandas reads as text. Save the file with plain numbers, e.g. pandas: df = "
        f"pd.read_csv(path); {' or '.join(lines)}; df.to_csv(path, index=False)"
        + (" (the first for decimal commas, the second for thousands)" if len(lines) > 1 else "")
        + (f"; then the same for {shown[1:]}" if len(shown) > 1 else "")
        + "."
    )
