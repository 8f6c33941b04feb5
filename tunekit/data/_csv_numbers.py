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

_DECIMAL = re.compile(r"[-+]?(\d{1,3}(\.\d{3})+|\d+),\d+|[-+]?\d+")  # 3,5  1.234,5  7
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
    reads = {
        "decimal": ("decimal commas ('3,5')", "decimal=','"),
        "decimal, grouped": (
            "decimal commas and points between thousands ('1.234,5')",
            "decimal=',', thousands='.'",
        ),
        "thousands": ("commas between thousands ('5,891.5')", "thousands=','"),
        "either": (
            "commas that are decimal commas or between thousands ('1,234')",
            "decimal=',' for decimal commas, or thousands=',' for thousands",
        ),
    }
    kind, shown = next(iter(kinds.items()))
    said, arguments = reads[kind]
    example = frame[shown[0]].dropna().astype(str).iloc[0]
    return (
        f"{what} column(s) {shown} hold numbers written with {said}, e.g. {example!r}, "
        f"which pandas reads as text. Save the file with plain numbers, e.g. pandas: "
        f"pd.read_csv(path, {arguments}).to_csv(path, index=False)."
    )
