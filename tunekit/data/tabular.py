"""CSV files with a header row: numeric feature columns and one (or more) target columns."""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tunekit import _log
from tunekit.data import _targets as tg
from tunekit.data._checks import CLASSIFICATION, REGRESSION, _naming_file
from tunekit.data._classes import value_classes
from tunekit.data._csv_header import check_header, check_identifiers, warn_position_counters
from tunekit.data._csv_layout import misread
from tunekit.data._csv_missing import (
    as_written,
    check_no_missing,
    codes_as_written,
    text_targets_as_written,
)
from tunekit.data._csv_numbers import written_numbers
from tunekit.data._float32 import merged_column, moved_column
from tunekit.data._notes import noted
from tunekit.data._split_sizes import made_by
from tunekit.data._target_copies import DROP_IN_FILE, warn_target_copies
from tunekit.data.dataset import Dataset
from tunekit.errors import DataError

__all__ = ["load_csv"]


@noted
def load_csv(
    path: str | os.PathLike[str],
    target: str | Sequence[str],
    task: str | None = None,
    *,
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 0,
    name: str | None = None,
) -> Dataset:
    """Loads a CSV with a header row (pandas): every column but `target` is a feature.

    Feature columns must be numeric (ints, floats or booleans) and no cell may be
    missing (empty, or text pandas reads as missing: `NA`, `None`, `null`...):
    tunekit does not guess an encoding or an imputation, it names the columns to
    fix. A target column of text labels is read as written: `NA` and `EU` are
    two classes (an empty cell is still missing). The target column decides the task as in
    `Dataset.from_arrays` (integer class ids: classification; real values:
    regression), unless `task=` says it. A text target column is taken as class
    names for classification (sorted, index = class id); so is a column of whole
    numbers other than 0..K-1 (labels 1..K, 3..8) with `task="classification"`,
    each value a class named by its value, and without `task=` such integers are
    refused naming both tasks; True/False are the classes `"False"`, `"True"`:
    the same rule as `Dataset.from_arrays` and `load_npz`. Values are used as they
    are (`scaling` is `UNSCALED`); the split is `Dataset.from_arrays`'s.

    The Dataset's fingerprint hashes every value read from the file (features
    and targets, as for `load_npz`), so editing a value changes it; renaming a
    column or reordering the file's bytes without changing values does not.

    Args:
        path: The CSV file; the first row names the columns.
        target: The column to predict, or a list of columns (regression of
            `k` targets).
        task: `"classification"`, `"regression"` or None to infer it from the
            target. Defaults to None.
        validation_fraction, test_fraction: As in `Dataset.from_arrays`.
        seed: Seed of the split. Defaults to 0.
        name: The dataset's name in summaries. Defaults to the file's stem.

    Returns:
        A `Dataset` whose `x` has shape `(n, number of feature columns)`.

    Raises:
        DataError (a `ValueError`): If the file is missing or unreadable, its
            header names a column twice (or two names differ only by spaces),
            leaves a column unnamed, or is shorter than its rows, `target` is
            not a column (the message lists the columns), a feature column is
            not numeric or numbers the rows (a pandas index, in any order, or
            an id column, or a first column of exactly the row numbers:
            `check_identifiers`), a column is empty or a cell is missing, or the
            target contradicts `task=`, or a split has 1 sample. A file separated
            by `;` or tabs, with a `sep=;` line or lines before the header, in
            UTF-16, or without a header row is told so, with the `pd.read_csv`
            arguments that read it.

    Example:
    >>> ds = load_csv("rivers.csv", target="temperature")
    >>> ds.task
    'regression'
    """
    import pandas as pd

    file = Path(path)
    if not file.is_file():
        raise DataError(f"CSV file not found: {str(file)!r}; pass an existing .csv file.")
    task = tg.check_task(task)
    try:
        frame = pd.read_csv(file)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        layout = misread(file, utf8=not isinstance(exc, UnicodeDecodeError))
        if layout:  # UTF-16, another separator, lines before the header: what to pass
            raise DataError(
                f"Could not read {str(file)!r} as a CSV with a header row: it "
                f"{layout.told}. {layout.advice}"
            ) from None
        encoding = (
            " It is not UTF-8 text: save it as UTF-8 (e.g. pandas: pd.read_csv(path, "
            "encoding='latin-1').to_csv(path, index=False), or your editor's UTF-8 option)."
            if isinstance(exc, UnicodeDecodeError)
            else ""
        )
        raise DataError(
            f"Could not read {str(file)!r} as a CSV with a header row: "
            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}.{encoding}"
        ) from None
    with _naming_file(file):
        check_header(file, frame)  # repeated or missing names, rows longer than the header
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    targets = [target] if isinstance(target, str) else list(target)
    unknown = [t for t in targets if t not in columns]
    if not targets or unknown:
        layout = misread(file)
        if layout:  # another separator (names with commas too), a `sep=;` line, a preamble
            shown = _log.listed(
                columns, 3, form=lambda c: repr(c if len(c) <= 60 else c[:57] + "...")
            )
            read = f"its columns are {_columns_shown(layout.columns)}"
            raise DataError(
                f"{str(file)!r} {layout.told}: read with commas it has "
                + (f"one column, {shown}," if len(columns) == 1 else f"the columns {shown}")
                + f" and no column {targets[0] if targets else target!r}. {layout.advice}"
                + (f" (Read that way, {read}.)" if len(layout.columns) > 1 else "")
            )
        listed = [t.strip() for t in str(target).split(",")] if isinstance(target, str) else []
        several = len(listed) > 1 and all(t in columns for t in listed)
        spaced = [c for c in columns if c != c.strip() and c.strip() in targets]
        below = _header_below(file, targets) if targets else 0
        raise DataError(
            f"target={target!r} is not a column of {str(file)!r}; its columns are "
            f"{_columns_shown(columns)}. Pass target= one of them."
            + (f" (The header has {spaced[0]!r}, with spaces around the name.)" if spaced else "")
            + (
                # `Probe,17,ok` above the names: read as the header, the names as data
                f" Line {below + 1} names {targets[0]!r}: if it is the header, the lines above "
                f"it are not part of the table; e.g. pandas: pd.read_csv(path, skiprows={below})"
                ".to_csv(path, index=False)."
                if below
                else ""
            )
            + (
                # Positional: the command line says keywords as flags (`--target [...]`).
                f" For several targets, pass a list from Python: load_csv(path, {listed!r}) "
                "(the command line's --target takes one column)."
                if several
                else ""
            )
        )
    features = [c for c in columns if c not in targets]
    with _naming_file(file), made_by("load_csv"):  # remedies name target=
        if not features:
            raise DataError(
                f"it has no feature columns besides target={target!r}; "
                "a model needs at least one input column."
            )
        if frame.empty:
            raise DataError(
                "it has a header row but no data rows; write the rows (one sample "
                "per row) and save the CSV again."
            )
        written = as_written(file, frame)  # only when a cell is missing
        text_targets_as_written(frame, written, targets)  # text labels 'NA', 'None'
        codes_as_written(file, frame, targets, task)  # '01' and '1': two classes
        check_no_missing(frame, written)
        _check_numeric(frame, features)
        check_identifiers(frame, features)  # a pandas index or an id column
        warn_position_counters(frame, features)  # a counter in a file sorted by target
        _check_finite_columns(frame, features + [t for t in targets if t in frame])
        _check_float32_kept(frame, features)
        _check_float32_columns(frame, features)
        x = frame[features].to_numpy(dtype=np.float64)
        y, class_names, task = _targets(frame, targets, task)
        warn_target_copies(frame[features], y, lambda c: f"column {c!r}", DROP_IN_FILE.format)
        if task == REGRESSION:
            _check_float32_kept(frame, targets, role="target")
        ds = Dataset.from_arrays(
            x,
            y,
            validation_fraction=validation_fraction,
            test_fraction=test_fraction,
            seed=seed,
            task=task,
            class_names=class_names,
        )
    return dataclasses.replace(ds, name=name or file.stem)


def _header_below(file: Path, targets: list[str]) -> int:
    """The 0-based number of the first of the file's first 20 lines (after the first) whose
    comma-separated fields include a target's name, or 0 when none does."""
    import csv

    try:
        with open(file, newline="", encoding="utf-8-sig") as handle:
            for number, row in enumerate(itertools.islice(csv.reader(handle), 20)):
                if number and any(field.strip() in targets for field in row):
                    return number
    except (OSError, UnicodeError, csv.Error):
        pass
    return 0


def _columns_shown(columns: list[str]) -> str:
    """The columns for a message: all of them, or the first 20 of a wide file."""
    return f"[{_log.listed(columns, 20, form=repr, total='columns')}]"


def _check_finite_columns(frame: Any, columns: list[str]) -> None:
    from pandas.api.types import is_float_dtype

    counts = {
        c: int(np.isinf(frame[c].to_numpy()).sum()) for c in columns if is_float_dtype(frame[c])
    }
    bad = {c: n for c, n in counts.items() if n}
    if bad:
        shown = ", ".join(f"{c!r} ({n} infinite)" for c, n in bad.items())
        raise DataError(
            f"column(s) {shown} hold infinite values (inf); replace or drop those "
            "rows and save the CSV again."
        )


def _stray_text(column: Any) -> tuple[int, Any, int] | None:
    """For a column of numbers with a few text cells (a `'?'` for a missing value), what
    pandas read as text: `(how many cells, the first, its data row from 1)`; `None` when
    no cell or most cells are text (a text column)."""
    import pandas as pd

    stray = pd.to_numeric(column, errors="coerce").isna().to_numpy() & column.notna().to_numpy()
    count = int(stray.sum())
    if not count or count * 2 > len(column):
        return None
    row = int(np.argmax(stray))
    return count, column.iloc[row], row + 1


def _texts_shown(frame: Any, columns: list[str]) -> tuple[str, str]:
    """Text columns for a message (`_text_shown`), and `_STRAY_FIX` if any has stray cells."""
    stray = any(_stray_text(frame[c]) for c in columns)
    return ", ".join(_text_shown(frame, c) for c in columns), _STRAY_FIX if stray else ""


def _text_shown(frame: Any, column: str) -> str:
    """A text column for a message: its stray cells (`_stray_text`), or its first value."""
    found = _stray_text(frame[column])
    if found is None:
        return f"{column!r} (e.g. {frame[column].iloc[0]!r})"
    count, value, row = found
    cells = "1 cell" if count == 1 else f"{count} cells"
    return f"{column!r} (numbers, except {cells} such as {value!r} in data row {row})"


_STRAY_FIX = (
    " A column of numbers with a few text cells (e.g. '?' for a missing value, which "
    "pandas reads as text) needs those rows replaced or dropped."
)


def _check_float32_kept(frame: Any, columns: list[str], role: str = "feature") -> None:
    """Whole-number columns whose values float32 cannot keep apart (IDs or timestamps
    above 2**24: 16777216 and 16777217 are one float32), which the float32 a model trains
    in would merge: integers or whole numbers written as floats
    (`tunekit.data._float32.merged_column`), and real values float32 moves by a tenth of
    their standard deviation or more (`moved_column`), in feature columns or regression
    targets (`role="target"`).
    Named by column (the arrays' check names only an index), with the CSV's fix."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    for column in columns:
        kept_as = frame[column]
        if not is_numeric_dtype(kept_as) or is_bool_dtype(kept_as):
            continue
        values = kept_as.to_numpy()
        found = merged_column(values, values.astype(np.float32))
        real = None if found else moved_column(values, values.astype(np.float32))
        offset = "subtract an offset from the column (e.g. its minimum) and save the CSV again"
        back = "" if role == "feature" else ", then add the offset back to the predictions"
        if real is not None:
            merged = f"{real[1]} distinct values become {real[2]}, " if real[2] < real[1] else ""
            share = real[3] / float(np.nanstd(values.astype(np.float64)))
            raise DataError(
                f"{role} column {column!r} holds values that float32, in which a model trains, "
                f"cannot keep ({merged}moved by up to {real[3]:.3g}, {share:.0%} of their "
                f"standard deviation). {offset[0].upper()}{offset[1:]}{back}."
            )
        if found is not None:
            distinct, kept = found[1:]
            ids = (
                "If it is an identifier, drop the column or map it to small ids "
                "(pandas.factorize) and save the CSV again; if it"
                if role == "feature"
                else "If it"
            )
            raise DataError(
                f"{role} column {column!r} holds whole numbers above 2**24 that float32, in "
                f"which a model trains, cannot keep apart ({distinct} distinct values become "
                f"{kept}). {ids} is a quantity (a timestamp, a count), {offset}{back}."
            )


def _check_float32_columns(frame: Any, features: list[str]) -> None:
    """Feature columns float32 loses by name (the arrays' check names only an index): every
    value below float32's smallest normal number (all 0 in training), or any beyond its range
    (infinite)."""
    from pandas.api.types import is_float_dtype

    limits = np.finfo(np.float32)
    for column in features:
        if not is_float_dtype(frame[column]):
            continue
        values = np.abs(frame[column].to_numpy(dtype=np.float64))
        if values.max() > limits.max:
            fix = "divide it by a power of ten, or take a log"
            said = f"values beyond float32's range (about 3.4e38), e.g. {values.max():.3g}"
        elif values.max() > 0 and values.max() < limits.tiny:
            fix = "multiply it by a power of ten, or take a log"
            said = f"only values too small for float32, e.g. {values[values > 0][0]:.3g}"
        else:
            continue
        raise DataError(
            f"feature column {column!r} holds {said}: a model trains in float32, where the "
            f"column is lost. Scale it ({fix}) and save the CSV again."
        )


def _check_numeric(frame: Any, features: list[str]) -> None:
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    text = [c for c in features if not (is_numeric_dtype(frame[c]) or is_bool_dtype(frame[c]))]
    written = written_numbers(frame, text)
    if written:  # "3,5" or "5,891.5": numbers, not categories to encode
        raise DataError(written)
    if text:
        shown, fix = _texts_shown(frame, text)
        raise DataError(
            f"feature column(s) {shown} are not numeric. Drop them, or encode them "
            "as numbers (e.g. pandas.get_dummies for categories), and save the CSV "
            "again." + fix
        )


def _targets(
    frame: Any, targets: list[str], task: str | None
) -> tuple[np.ndarray, list[str] | None, str | None]:
    """The target array, class names for a text target, and the task (None: infer)."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    text = [c for c in targets if not (is_numeric_dtype(frame[c]) or is_bool_dtype(frame[c]))]
    if not text:
        if len(targets) == 1:
            # True/False (pandas reads the words as bools), or whole numbers other than the
            # ids 0..K-1 (3..8 wine qualities): classes named by their values, as everywhere
            column = frame[targets[0]].to_numpy()
            found = value_classes([column], task, name=f"target column {targets[0]!r}")
            if found is not None:
                return found[0][0], found[1], CLASSIFICATION
            return column, None, task
        return frame[targets].to_numpy(), None, task
    written = "" if task == CLASSIFICATION else written_numbers(frame, text, "target")
    if written:  # '1,0', '1,5' were class names (classification of ratings, exit 0)
        raise DataError(written + ' If they are class names, pass task="classification".')
    if task == REGRESSION or len(targets) > 1:
        shown, fix = _texts_shown(frame, text)
        raise DataError(
            f"target column(s) {shown} hold text: regression needs numeric targets. Encode "
            "them as numbers, or use a single text column as class names with "
            'task="classification", or leave task= unset.' + fix
        )
    if task is None and _stray_text(frame[targets[0]]) is not None:
        raise DataError(
            f"target column {_text_shown(frame, targets[0])} would be read as text class "
            "names, every number a class and the text cells one more." + _STRAY_FIX + " If "
            'the values are class names, say so: task="classification".'
        )
    (codes,), names = tg.encode_text_labels(
        [frame[targets[0]].to_numpy()],
        None,
        f"target column {targets[0]!r}",
        task == CLASSIFICATION,
    )
    return codes, names, CLASSIFICATION
