"""Every class id of a stream against the classes the model's output can take.

`StreamData` reads its first training batch only, so the width check before
training (`tunekit.steps.pairing_checks`) sees only the classes that batch
shows: a stream sorted by class, or not shuffled, shows the others later. A
class id at or beyond the output's width then failed every trial on
TensorFlow ("Received a label value of 3 which is outside the valid range of
[0, 3)"), and JAX, which does not check class ids, trained on it with exit 0
and reported a confusion matrix with a class the model cannot predict.

Where tunekit reads a stream's labels whole anyway, they are checked here:

- the validation stream's, once before the search (`check_validation_classes`).
  It is read every epoch of every trial; one more pass costs about one
  validation epoch (0.14 s for 120 images of 96x96 JPEG, against 0.66 s for
  one epoch of a small CNN on 600, uncached; an image folder's labels are
  known without a pass, from its file listing). Reading the labels alone
  (`.map(lambda x, y: y)`) is no cheaper: tf.data decodes the images anyway;
- the test stream's, as the test set is predicted (`check_class_ids`, from
  `tunekit.outputs.predict_test_set`), before any score or report.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from tunekit.errors import DataError

__all__ = ["check_class_ids", "check_validation_classes", "label_range_fix", "output_classes"]

# TensorFlow's sparse cross-entropy on a class id its output cannot take.
_TF_LABEL_RANGE = re.compile(
    r"label value of (-?\d+) which is outside the valid range of \[0, (\d+)\)"
)


def output_classes(shape: Any) -> int | None:
    """How many classes an output of `shape` tells apart: its units (`(n, k)`, k >= 2), or 2
    for one unit (`(n,)`, `(n, 1)`); `None` when unknown."""
    if shape is None:
        return None
    shape = tuple(shape)
    units = shape[-1] if len(shape) >= 2 else 1
    if not isinstance(units, (int, np.integer)):
        return None
    return int(units) if units >= 2 else 2


def _class_ids(y: Any) -> np.ndarray | None:
    """`y` as flat class ids (`(n,)` or `(n, 1)` of whole numbers), else `None` (one-hot
    rows, several targets, a dict, values)."""
    if y is None or isinstance(y, (Mapping, list, tuple)):
        return None
    labels = np.asarray(y)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or not labels.size or labels.dtype.kind not in "iubf":
        return None
    if labels.dtype.kind == "f" and not (
        np.all(np.isfinite(labels)) and np.array_equal(labels, np.round(labels))
    ):
        return None
    return labels


def _stream_labels(source: Any, split: str) -> list[Any]:
    """`y` of every batch of a stream, the split `split` (`(x, y)` or `(x, y, sample_weight)`
    batches); a length it does not hold is a `DataError` (`_stream_lengths.batches_of`)."""
    from tunekit.data._stream_lengths import batches_of

    return [batch[1] for batch in batches_of(source, split)]


def check_class_ids(y: Any, width: int | None, split: str, data: Any) -> None:
    """Refuses class ids of a stream's `split` (`"validation"`, `"test"`) that the model's
    output, telling `width` classes apart (`output_classes`), cannot take. `y` that are
    not class ids (one-hot rows, values, a dict) and an unknown width are left alone.

    Raises:
        DataError: Naming the split, the largest (or a negative) class id, the output's
            width, that the check before training read the first batch only, and the fix.
    """
    labels = _class_ids(y)
    if labels is None or width is None:
        return
    low, high = int(np.min(labels)), int(np.max(labels))
    if low >= 0 and high < width:
        return
    from tunekit.data._stream_batches import first_batch

    seen = _class_ids(first_batch(data.train)[1])
    ids = [] if seen is None else np.unique(seen).astype(int).tolist()
    shown = ", ".join(map(str, ids)) if len(ids) <= 6 else f"{ids[0]} to {ids[-1]}"
    read = "the first training batch" + (" and the validation labels" if split == "test" else "")
    given = f" (num_classes={data.num_classes})" if data.num_classes is not None else ""
    if low < 0:
        what, fix = f"the class id {low}", "Number the classes 0..K-1 in the pipeline, pass"
        classes = "K"
    else:
        what, fix, classes = f"class ids up to {high}", "Pass", str(high + 1)
    raise DataError(
        f"StreamData: the {split} stream holds {what}, but the model's output tells "
        f"{width} classes apart (class ids 0..{width - 1}){given}. The checks before training "
        f"read {read} only (the first batch showed class ids {shown or 'none'}): a stream "
        "sorted by class, or not shuffled, shows some classes only later. TensorFlow fails "
        "on such ids; JAX does not check them: it trains and scores on them, and the report "
        f"would show a class the model cannot predict. {fix} num_classes={classes} to "
        f"StreamData and end the model in Dense({classes}) (one unit per class); or shuffle "
        "the stream before batching (.shuffle(n).batch(...)) so its first batch shows every "
        "class."
    )


def check_validation_classes(data: Any, shape: Any) -> None:
    """Checks, before the search, every class id of `data`'s validation stream against an
    output of `shape` (`check_class_ids`): from `data.labels["val"]` when given (an image
    folder's), else read in one pass over the stream. Classification streams of one
    output only; regression, several outputs and an unknown shape are left alone.

    Raises:
        DataError: See `check_class_ids`; or the stream holds another number of batches
            than it states (`tunekit.data._stream_lengths.batches_of`).
    """
    if data.task != "classification" or data.several_outputs:
        return
    width = output_classes(shape)
    if width is None:
        return
    if data.labels:
        check_class_ids(data.labels.get("val"), width, "validation", data)
        return
    parts = [y for y in _stream_labels(data.validation, "validation") if _class_ids(y) is not None]
    if parts:
        check_class_ids(np.concatenate([_class_ids(y) for y in parts]), width, "validation", data)


def label_range_fix(reason: str, streamed: bool) -> str:
    """What to do when a trial failed on TensorFlow's "Received a label value of K which is
    outside the valid range of [0, W)" (`reason`, its error line); `""` for any other."""
    found = _TF_LABEL_RANGE.search(reason or "")
    if found is None:
        return ""
    label, width = int(found.group(1)), int(found.group(2))
    if label < 0:
        return " A class id is negative: number the classes 0..K-1."
    where = (
        "; the checks before training read the first training batch and the validation "
        f"labels only. Pass num_classes={label + 1} (or more) to StreamData and end the model "
        f"in that many units, or shuffle the stream so its first batch shows every class."
        if streamed
        else f". End the model in Dense({label + 1}) or more, or number the classes 0..{width - 1}."
    )
    return (
        f" The training labels hold class id {label}, beyond the {width} classes the model's "
        f"output takes{where}"
    )
