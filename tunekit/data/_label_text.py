"""Text class labels that are one class spelled two ways, or a missing-value marker.

Text labels become classes by their exact spelling, so `"setosa"`, `"Setosa"`
and `" setosa"` would be three classes, and a `"?"` written for a missing
label a class of its own: a model trained and scored on the wrong classes,
with exit 0. Every entry point that turns text into classes (CSV targets,
`Dataset.from_arrays`, `.npz` labels) runs `check_label_texts` on the labels it
found (not on class names the user gave: those are declared on purpose).
"""

from __future__ import annotations

import numbers
import re
import unicodedata
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import numpy as np

from tunekit import _log
from tunekit.errors import DataError

_SPACES = re.compile(r"\s+")
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")  # zero-width characters
_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")  # no `1_0`, `inf`
CODE = re.compile(r"\s*[+-]?0\d+\s*")  # a code with a leading zero: `01`, `007`
_WORD = re.compile(r"\w")
# Text that a missing value becomes: `str(float("nan"))`, `str(pd.NA)`, exports' `n/a`,
# `#N/A`, `null`. (`NA` and `None` stay classes: North America, a severity level "None".)
_MISSING_TEXT = frozenset({"nan", "<na>", "n/a", "#n/a", "null", "nat"})


def _spelling_key(label: str) -> str:
    """The label in Unicode's compatible form (NFKC: `ＣＡＴ` is `CAT`, a decomposed `é` the
    composed one) with spaces collapsed and letter case dropped: `" Iris  Setosa"` ->
    `"iris setosa"`. Labels of one character keep their case (`"a"` and `"A"` are two
    letters in a letter-recognition task)."""
    key = _SPACES.sub(" ", unicodedata.normalize("NFKC", label)).strip()  # `café` = `cafe\u0301`
    return key if len(key) <= 1 else key.casefold()


def _refuse_one_number_two_ways(found: list[str], name: str) -> None:
    """Refuses labels (`found`, distinct) that write one number in more than one way,
    compared exactly (`Decimal`: IDs of 17 or more digits stay apart)."""
    numbers: dict[Decimal, list[str]] = {}
    for label in found:
        if _NUMBER.fullmatch(label) and not CODE.fullmatch(label):  # `01`: a code, a class
            numbers.setdefault(Decimal(label.strip()), []).append(label)
    refuse_one_number_written_apart(
        [ways for ways in numbers.values() if len(ways) > 1],
        f"The labels of {name} write",
        "If they are one class, write it one way and load the data again; if they are "
        "different classes (such as versions 3.1 and 3.10), give them names that are not "
        "one number (e.g. 'v3.1', 'v3.10').",
    )


def refuse_one_number_written_apart(several: list[list[str]], said: str, fix: str) -> None:
    """Refuses labels that write one number in more than one way (`several`: each number's
    ways, none when fine), the message starting with `said` ("The labels of y write") and
    ending with `fix`.

    Raises:
        DataError: Naming the first number's ways (up to 3) and `fix`.
    """
    if several:
        shown = " and ".join(repr(t) for t in several[0][:3])
        raise DataError(
            f"{said} one number in more than one way ({shown}): as numbers they are one "
            f"class, as text two. {fix}"
        )


def check_label_texts(
    labels: Iterable[str],
    name: str,
    declared: bool = False,
    numbers: bool = True,
    fix: str = "Write each class one way (e.g. with pandas Series.str.normalize('NFKC')"
    ".str.strip().str.lower(), or no space after the commas) and load the data again",
) -> None:
    """Refuses text labels that would make wrong classes.

    Args:
        labels: The distinct text labels found (any order).
        name: How the message names them (e.g. `"target column 'species'"`).
        declared: Whether the user said the task is classification (`task=
            "classification"`): then a label of symbols only (or `"nan"`) is a class
            they meant.
        numbers: Whether labels that write one number two ways are refused; not for
            names the user made apart on purpose (class folders `3.1/` and `3.10/`).
        fix: What the first message tells the user to do.

    Raises:
        DataError: When two labels write one number two ways (`"1"` and `"1.0"`, `"+2"`
            and `"2"`; codes with a leading zero, `"01"` beside `"1"`, are two classes, as
            in a CSV: `tunekit.data._csv_missing.codes_as_written`), or differ only by
            spaces or letter case (`"cat"`,
            `" cat"`, `"Cat"`; labels of one character may differ by case), or when
            some labels hold letters or digits and others none at all (`"?"`, `"-"`,
            `"."` next to `"setosa"`) or are the text of a missing value (`"nan"`,
            `"<NA>"`, `"n/a"`, `"#N/A"`, `"null"`, any case): a missing-value mark,
            unless `declared`.
            Labels that are all symbols (`"+"` and `"-"`) are classes.
    """
    found = sorted(set(labels))
    groups: dict[str, list[str]] = {}
    for label in found:
        groups.setdefault(_spelling_key(label), []).append(label)
    apart = [group for group in groups.values() if len(group) > 1]
    if apart:
        shown = _log.listed(apart, 5, form=lambda group: " and ".join(map(repr, group)), sep="; ")
        raise DataError(
            f"The labels of {name} differ only by spaces, letter case or Unicode form "
            f"({shown}): each would be a class of its own. {fix}; if they really are "
            "different classes, give them names that differ by more than that."
        )
    if numbers:
        _refuse_one_number_two_ways(found, name)
    marks = [
        label
        for label in found
        if not _WORD.search(label) or label.strip().casefold() in _MISSING_TEXT
    ]
    named = [label for label in found if label not in marks]
    if marks and named and not declared:
        raise DataError(
            f"The labels of {name} include {_log.listed(marks, 5, form=repr)} "
            f"next to named classes ({_log.listed(named, 3, form=repr)}): "
            "they look like a missing-value mark, which would become a class of its own. "
            f"Drop those rows (e.g. df = df[df[column] != {marks[0]!r}]) or fill in their "
            "labels; if it "
            'is a real class, give it a name, or pass task="classification".'
        )


def check_class_names(names: Iterable[Any], name: str = "class_names") -> None:
    """Refuses class names given on purpose (`class_names=`, an `.npz`'s `class_names`)
    that name two classes alike or a class by nothing: the report's confusion matrix,
    per-class scores and predictions' names could not tell those classes apart (probe B:
    two rows and columns both labelled `a`, exit 0).

    Raises:
        DataError: Naming the repeated name and its classes, or the empty one.
    """
    seen: dict[str, list[int]] = {}
    for i, label in enumerate(str(n) for n in names):
        # as shown: Unicode's compatible form, no spaces around, no zero-width characters
        key = _INVISIBLE.sub("", unicodedata.normalize("NFKC", label)).strip()
        if not key:
            raise DataError(
                f"{name}[{i}] is {label!r}: every class needs a name to be told apart in the "
                "report. Give it one (or leave class_names out for '0', '1', ...)."
            )
        seen.setdefault(key, []).append(i)
    twice = {key: ids for key, ids in seen.items() if len(ids) > 1}
    if twice:
        ids = next(iter(twice.values()))
        shown = " and ".join(repr(str(list(names)[i])) for i in ids[:3])
        raise DataError(
            f"{name} names classes {', '.join(map(str, ids))} alike ({shown}): the report's "
            "confusion matrix and per-class scores could not tell them apart. Give each class "
            "its own name (or leave class_names out for '0', '1', ...)."
        )


def refuse_mixed_labels(y: Any, name: str) -> None:
    """Refuses labels that mix numbers and text (`[1, "1", 2]`, an object column of
    both), before they become one array: NumPy turns such a list into text (`1` and `"1"`
    became one class, exit 0) and an object array's numbers and texts would be classes
    apart, or not, by the loader's conversion. scikit-learn's label encoders refuse them
    too. A missing value (`None`, NaN) is neither: the label checks name it.

    Args:
        y: The labels as given: a list or tuple, an array or pandas object of dtype
            `object`, or a dict of those (each value checked); anything else passes.
        name: How the message names them (`"y"`, `"y_train"`).

    Raises:
        DataError: Naming a number and a text among them and how to give one type.
    """
    if isinstance(y, Mapping):
        for key, value in y.items():
            refuse_mixed_labels(value, f"{name}[{key!r}]")
        return
    if not isinstance(y, list | tuple) and getattr(getattr(y, "dtype", None), "kind", "") != "O":
        return
    try:
        values = np.asarray(y, dtype=object).ravel().tolist()
    except ValueError:  # ragged: the shape checks say so
        return
    texts = [v for v in values if isinstance(v, str | bytes)]
    counts = [v for v in values if isinstance(v, numbers.Number | Decimal) and v == v]
    kinds = {type(t) for t in texts}
    if kinds == {str, bytes}:  # b"a" beside "a": one class or two by the conversion too
        raise DataError(
            f"{name} mixes bytes and text (e.g. {next(t for t in texts if type(t) is bytes)!r} "
            f"and {next(t for t in texts if type(t) is str)!r}): give every label as text "
            f"({name} = [v.decode() if isinstance(v, bytes) else v for v in {name}])."
        )
    if not texts or not counts:
        return
    few_texts, few_counts = list(dict.fromkeys(texts))[:100], list(dict.fromkeys(counts))[:100]
    pairs = ((n, t) for t in few_texts for n in few_counts if _same_number(n, t))
    number, text = next(pairs, (counts[0], texts[0]))
    raise DataError(
        f"{name} mixes numbers and text (e.g. {number!r} and {text!r}): whether they are "
        "one class or two depends on how they are converted. Give every label one type: "
        f"text ({name} = [str(v) for v in {name}]) for class names, or numbers "
        f"([int(v) for v in {name}]) for class ids or values."
    )


def _same_number(number: Any, text: str | bytes) -> bool:
    """Whether `text` writes `number` (`"1"`, `b" 1.0"` for `1`)."""
    try:
        return float(text.decode() if isinstance(text, bytes) else text) == float(number)
    except (ValueError, UnicodeDecodeError, OverflowError):
        return False


def refuse_text_ids(array: Any, name: str) -> None:
    """Refuses text labels where class ids are needed (`Dataset(...)`'s splits, which keep
    their labels as given; `Dataset.from_arrays`, `load_csv` and `load_npz` turn text into
    ids themselves). Before, `Dataset(x_tr, y_tr, ...)` of text labels was told to "map
    labels to 0..num_classes-1 ... (pass task="regression")", a task text cannot be.

    Raises:
        DataError: When `array` (labels as given) holds text, saying how to encode every
            split with one mapping, or to pass the samples to `Dataset.from_arrays`; or
            mixes numbers and text (`refuse_mixed_labels`).
    """
    refuse_mixed_labels(array, name)
    array = np.asarray(array)
    values = array.ravel()
    if array.dtype.kind in "US" or (
        array.dtype.kind == "O" and len(values) and all(isinstance(v, str) for v in values)
    ):
        raise DataError(
            f"{name} holds text labels (e.g. {str(values[0])!r}): Dataset(...) takes class ids "
            "0..num_classes-1, one mapping for every split. Encode them together, e.g. names "
            "= sorted(set(y_train) | set(y_val) | set(y_test)), then np.searchsorted(names, "
            "y) for each split and class_names=names (a pandas categorical: y.cat.codes and "
            "class_names=list(y.cat.categories), its order kept); or pass the samples to "
            "Dataset.from_arrays (with x_test=, y_test= for a test set of your own), which "
            "takes text labels."
        )
