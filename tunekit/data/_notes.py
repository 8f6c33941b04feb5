"""The data warnings a loader gave, kept with the data it made for the run's report.

A loader's `DataWarning` (a uint8 `x_train` of a few levels, class ids saved as floats, a
stratified split larger than asked, a column that counts the rows, ...) is said once, on
stderr or in a notebook's output, while the data loads. A run reads the data later, and
its `report.md` is what a user keeps: so each loader also records the warnings' texts in
the data's `notes` (`Dataset.notes`), which the report lists (`report.json`'s
`data_notes`). Each is shown as Python shows a warning, at the user's line (`warn_data`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np

from tunekit import _log
from tunekit.errors import DataWarning

_Made = TypeVar("_Made")
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep  # tunekit/


def warn_data(text: str) -> None:
    """Gives `text` as a `DataWarning` at the first line outside tunekit (the user's call
    of a loader, however deep the check that warns)."""
    frame, level = sys._getframe(1), 2  # level 1 is this function
    while frame.f_back is not None and (
        frame.f_code.co_filename.startswith(_PACKAGE) or frame.f_code.co_filename == "<string>"
    ):
        frame, level = frame.f_back, level + 1
    warnings.warn(text, DataWarning, stacklevel=level)


@contextlib.contextmanager
def collected() -> Iterator[list[str]]:
    """Records the `DataWarning`s given inside the block, shows them again (every warning
    given there, as the filters outside say) and, once the block ends, holds their texts
    in the list it yields (each once, in order), also when the block raises."""
    notes: list[str] = []
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DataWarning)
            yield notes
    finally:
        for said in caught:  # a `DataWarning` is at the user's line already (`warn_data`)
            warnings.warn_explicit(said.message, said.category, said.filename, said.lineno)
        texts = [str(s.message) for s in caught if issubclass(s.category, DataWarning)]
        notes.extend(dict.fromkeys(texts))


def with_notes(made: _Made, notes: list[str] | tuple[str, ...]) -> _Made:
    """`made` (a `Dataset`, frozen) with `notes` added to its own `notes`, each once."""
    kept = tuple(dict.fromkeys([*getattr(made, "notes", ()), *notes]))
    object.__setattr__(made, "notes", kept)
    return made


def noted(make: Callable[..., _Made]) -> Callable[..., _Made]:
    """Decorates a loader: the `Dataset` it returns keeps the `DataWarning`s given while
    it loaded (`collected`)."""

    @functools.wraps(make)
    def loading(*args: Any, **kwargs: Any) -> _Made:
        with collected() as notes:
            made = make(*args, **kwargs)
        return with_notes(made, notes)

    return loading


def float_ids_note(name: str, values: np.ndarray) -> str:
    """The warning on whole-number float targets taken as the class ids `values`."""
    shown = _log.listed(values.tolist(), 4, form="{:.1f}".format, last=True, total="values")
    return (
        f"{name} holds only the whole-number floats {shown}: taken as the class ids "
        f"0..{values.size - 1} of {values.size} classes (classification), as a file or "
        "pandas writes class ids as floats. If they are a quantity (a count, a rating, a "
        'score), pass task="regression" to tune a regression.'
    )
