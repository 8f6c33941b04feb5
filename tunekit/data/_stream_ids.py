"""A stream's class ids beyond the classes, refused before any training.

`StreamData` reads every split's class ids in its passes when it is made
(`tunekit.data._leaks.PassSum.classes`). They were checked against the model's
output for training and validation before the search, but the test stream's only
as it was predicted, after the whole search and retrain. Now:

- with `num_classes` (or `class_names`), every split's ids are checked when the
  `StreamData` is made (`refuse_ids_beyond`);
- a training stream of one class is refused when it is made, with or without
  `num_classes` (`refuse_one_training_class`), as labels of one value in arrays are:
  a model learns nothing from it, and a test split of that class scores 1.0;
- without it, the test ids the pass found (or `labels["test"]`) are checked
  against the model's output width in the model check before any trial
  (`check_test_classes`), as the validation ids are
  (`tunekit.data._stream_labels.check_validation_classes`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from tunekit.data._stream_labels import check_class_ids, output_classes
from tunekit.errors import DataError

__all__ = ["check_test_classes", "refuse_ids_beyond", "refuse_one_training_class"]

_NAMES = {"train": "training", "val": "validation", "test": "test"}


def refuse_ids_beyond(data: Any) -> None:
    """Refuses a split whose class ids (one output, as its pass read them: `data._passes`)
    fall outside `0..num_classes - 1`, when `data.num_classes` is known; reads nothing.

    Raises:
        DataError: Naming the split, the id, `num_classes` and the fix.
    """
    if data.num_classes is None or getattr(data, "task", None) != "classification":
        return
    n = data.num_classes
    train = data._passes.get("train")
    trained = train.classes.get(None, set()) if train is not None else set()
    for split, read in data._passes.items():
        ids = read.classes.get(None) if not read.ended else None
        if not ids:
            continue
        low, high, where = min(ids), max(ids), f"StreamData: the {_NAMES[split]} stream"
        if low < 0:
            raise DataError(
                f"{where} holds the class id {low} (num_classes={n}): number the classes "
                "0..K-1 in every split's pipeline (the same mapping for all three)."
            )
        if high < n:
            continue
        said = f"{where} holds class ids up to {high}, outside 0..{n - 1} (num_classes={n})."
        if split == "train" or high in trained:
            raise DataError(
                f"{said} If there are {high + 1} classes, pass num_classes={high + 1} to "
                f"StreamData and end the model in {high + 1} units; else number the classes "
                f"0..{n - 1} in every split's pipeline (the same mapping for all three)."
            )
        raise DataError(
            f"{said} The training stream holds no example of class id {high}: a model cannot "
            f"learn a class it never sees, and its {_NAMES[split]} score would mislead. Number "
            f"the classes 0..{n - 1} in every split's pipeline (the same mapping for all "
            f"three); if class {high} is real, put examples of it in training (e.g. "
            f"train_test_split(..., stratify=labels)) and pass num_classes={high + 1}."
        )


def refuse_one_training_class(data: Any) -> None:
    """Refuses a classification `StreamData` whose training stream holds one class only,
    in any output (its ids as `labels["train"]` gives them or its pass read them whole:
    `data._passes`); reads nothing. Said as arrays' labels of one value are (`one_value`).

    Raises:
        DataError: Naming the stream (and output), the class and the samples.
    """
    from tunekit.data._classes import one_value  # noqa: PLC0415 - it imports the label checks

    if getattr(data, "task", None) != "classification":
        return
    train = data._passes.get("train")
    scores: set[str | None] = set()
    if data.labels is not None and "train" in data.labels:
        labels = np.asarray(data.labels["train"]).reshape(-1)
        found, count = {None: set(np.unique(labels).astype(int).tolist())}, labels.size
    elif train is None or train.ended:
        return
    else:  # class ids, or rows of class scores (one-hot, smoothed) in every training batch
        count = train.count
        found = {**{k: v for k, (v, rows) in train.hot.items() if rows == count}, **train.classes}
        scores = {k for k in found if k not in train.classes}  # outputs read by their rows' argmax
    names = list(getattr(data, "class_names", None) or ())
    for output, ids in found.items():
        if len(ids) == 1 and count > 1:  # 1 sample: refused by the split sizes
            (only,) = ids
            where = "StreamData: the training stream's " + (
                "y" if output is None else f"output {output!r}"
            )
            named = names[only] if output is None and only < len(names) else None
            shown = None if named == str(only) else named  # num_classes' own names: ids
            if output in scores:  # rows, not one value: said by their largest score
                raise DataError(
                    f"{where} holds one class only: all {count} rows have their largest "
                    f"score at class {only}" + (f" ({shown!r})" if shown else "") + " (one-hot "
                    "or smoothed rows). Classification needs two or more classes; check that "
                    "it is the target you meant."
                )
            raise DataError(one_value(where, only, count, shown))


def check_test_classes(data: Any, shape: Any, quantity: str = "") -> None:
    """Checks, before any trial, every class id of `data`'s test stream against an output
    of `shape` (`check_class_ids`): from `data.labels["test"]` when given, else the ids its
    pass found when the `StreamData` was made (`data.test_classes`); nothing is read. For a
    dict `y`, `shape` is `{output name: shape}` of the outputs that take class ids.

    Raises:
        DataError: See `check_class_ids`.
    """
    if getattr(data, "task", None) != "classification":
        return
    found = getattr(data, "test_classes", None) or {}
    if data.several_outputs:  # not read when made: checked as the test set is predicted
        for name, each in (shape if isinstance(shape, Mapping) else {}).items():
            ids = found.get(name)
            if ids:
                check_class_ids(
                    np.array(sorted(ids)), output_classes(each), "test", data, output=name
                )
        return
    ids = data.labels.get("test") if data.labels else found.get(None)
    if ids is not None and len(ids):
        check_class_ids(
            np.array(sorted(ids)), output_classes(shape), "test", data, quantity=quantity
        )
