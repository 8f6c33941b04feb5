"""Every class id of a stream against the classes the model's output can take.

One output is checked when the stream's task is classification; each output of a dict
`y` whose compiled loss takes class ids (`tunekit.steps.stream_heads`), by its name.

`StreamData` reads its first training batch only, so the width check before training
(`tunekit.steps.pairing_checks`) sees only the classes that batch shows: a stream sorted
by class, or not shuffled, shows the others later. A class id at or beyond the output's
width then failed every trial on TensorFlow ("Received a label value of 3 which is outside
the valid range of [0, 3)"), and JAX, which does not check class ids, trained on it with
exit 0 and reported a confusion matrix with a class the model cannot predict.

Where tunekit reads a stream's labels whole anyway, they are checked here:

- the training and validation streams', before the search (`check_validation_classes`;
  the training ids as the split-leak check's pass found them, `tunekit.data._leaks`).
  One more pass costs about one validation epoch (0.14 s for 120 images of 96x96 JPEG,
  against 0.66 s for one epoch of a small CNN on 600; an image folder's labels are known
  from its file listing). `.map(lambda x, y: y)` is no cheaper: tf.data decodes anyway;
- the test stream's, as the test set is predicted (`check_class_ids`, from
  `tunekit.outputs.predict_test_set`), before any score or report; a dict `y`'s, in a
  pass over its labels before the test evaluation (`check_stream_outputs`).

A class id beyond the output that the training stream has no example of (its labels read
whole, on the way to the error only) is a class the model cannot learn: the fix is the
split, not a wider output or a shuffle.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from tunekit.errors import DataError

__all__ = [
    "check_class_ids",
    "class_ids",
    "check_labels_match",
    "check_stream_outputs",
    "check_test_labels",
    "check_validation_classes",
    "ids_beyond",
    "label_range_fix",
    "output_classes",
    "refuse_constant_targets",
]

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


def class_ids(y: Any) -> np.ndarray | None:
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


def ids_beyond(y: Any, width: int) -> tuple[int, int] | None:
    """`y`'s lowest and highest class ids when one lies outside 0..`width`-1 (the classes an
    output tells apart, `output_classes`), else `None` (also for `y` not class ids)."""
    if (labels := class_ids(y)) is None:
        return None
    low, high = int(np.min(labels)), int(np.max(labels))
    return None if low >= 0 and high < width else (low, high)


def _stream_labels(source: Any, split: str) -> list[Any]:
    """`y` of every batch of a stream, the split `split` (`(x, y)` or `(x, y, sample_weight)`
    batches); a length it does not hold is a `DataError` (`_stream_lengths.batches_of`)."""
    from tunekit.data._stream_lengths import batches_of

    return [batch[1] for batch in batches_of(source, split)]


def check_class_ids(
    y: Any,
    width: int | None,
    split: str,
    data: Any,
    *,
    output: str | None = None,
    quantity: str = "",
) -> None:
    """Refuses class ids of a stream's `split` (`"validation"`, `"test"`) that the model's
    output, telling `width` classes apart (`output_classes`), cannot take. `y` that are
    not class ids (one-hot rows, values, a dict) and an unknown width are left alone.

    Args:
        output: The output's name, for one output of a dict `y` (`None`: the one output).
        quantity: What the model's one output is when it models a quantity (e.g. `"one
            linear unit compiled with the loss 'mse'"`, `tunekit.steps.stream_heads`).

    Raises:
        DataError: Naming the split (and output), the largest (or a negative) class id,
            the output's width and the fix: for a class the training stream has no example
            of (its labels read whole), examples of it in training; else that the check
            before training read the first batch only, and a wider output. Both offer
            `task="regression"` for a quantity (saying so when `quantity`).
    """
    if width is None or (beyond_ids := ids_beyond(y, width)) is None:
        return
    labels, (low, high) = np.asarray(class_ids(y)), beyond_ids
    of = f" (its output {output!r})" if output is not None else ""
    given = f" (num_classes={data.num_classes})" if data.num_classes is not None else ""
    said = (
        f"StreamData: the {split} stream{of} holds "
        + (f"the class id {low}" if low < 0 else f"class ids up to {high}")
        + f", but the model's output{'' if output is None else f' {output!r}'} tells "
        f"{width} classes apart (class ids 0..{width - 1}){given}."
    )
    if low < 0:
        raise DataError(
            f"{said} Number the classes 0..K-1 in the pipeline, pass num_classes=K to "
            "StreamData and end the model in Dense(K) (one unit per class)."
        )
    # The training stream's ids (read whole, on the way to an error only).
    trained = (
        set(np.unique(labels).tolist()) if split == "training" else _training_ids(data, output)
    )
    beyond = sorted(int(c) for c in np.unique(labels) if c >= width)
    unseen = [c for c in beyond if c not in trained] if trained else []
    used = trained | set(np.unique(labels).astype(int).tolist())
    gaps = sorted(set(range(max(used) + 1)) - used)
    count = ""  # the offer of task="regression": one output only (a dict's is by its loss)
    if quantity:
        count = (
            f" The model's output is {quantity}: a model of a quantity, not of classes; "
            "tunekit took the targets for class ids because they are integers. Pass "
            'task="regression" to StreamData for a quantity (a count).'
        )
    elif output is None:
        count = ' If the targets are a quantity (a count), not class ids, pass task="regression" '
        count += "to StreamData" + (
            f" (no sample has the id(s) {_shown(gaps)}: a quantity has gaps, classes "
            "numbered 0..K-1 do not)."
            if gaps
            else "."
        )
    if split == "training":  # its every id was read (`tunekit.data._leaks.PassSum`)
        raise DataError(
            f"{said}{count if quantity else ''} Keras trains on every id: a sparse "
            "cross-entropy fails every trial on such an id on TensorFlow; JAX, and a binary "
            f"cross-entropy on one unit, train and score on it. {_wider(data, high, output)}."
            + ("" if quantity else count)
        )
    if unseen:
        raise DataError(
            f"{said}{count if quantity else ''} The training stream{of} holds no example of "
            f"class id(s) {_shown(unseen)} (its labels read whole): a model cannot learn a "
            f"class it never sees, and its {split} score would mislead. Put examples of "
            "every class in the training stream: split the samples so that each split holds "
            "every class (e.g. sklearn's train_test_split(..., stratify=labels) on the list "
            "of samples, before building the pipelines)." + ("" if quantity else count)
        )
    from tunekit.data._stream_batches import first_batch

    first = first_batch(data.train)[1]
    seen = class_ids(first[output] if output is not None else first)
    ids = [] if seen is None else np.unique(seen).astype(int).tolist()
    read = "the first training batch" + (" and the validation labels" if split == "test" else "")
    raise DataError(
        f"{said}{count if quantity else ''} The checks before training read {read} only (the "
        f"first batch showed class ids {_shown(ids) or 'none'}): a stream sorted by class, or "
        "not shuffled, shows some classes only later. TensorFlow fails on such ids; JAX does "
        "not check them: it trains and scores on them, and the report would show a class the "
        f"model cannot predict. {_wider(data, high, output)}"
        + "; or shuffle the stream before batching (.shuffle(n).batch(...)) so its first "
        "batch shows every class." + ("" if quantity else count)
    )


def _wider(data: Any, high: int, output: str | None) -> str:
    """The fix for class ids up to `high` beyond an output (`output`: a dict `y`'s name):
    one unit per class, and `num_classes` unless the `StreamData` was given enough."""
    units = max(high + 1, data.num_classes or 0)
    softmax = "a softmax under a sparse categorical cross-entropy"
    if output is not None:  # num_classes is the one output's
        return f"End the output {output!r} in Dense({high + 1}) (one unit per class, {softmax})"
    given = data.num_classes is not None and data.num_classes > high
    return (
        ("End" if given else f"Pass num_classes={units} to StreamData and end")
        + f" the model in Dense({units}) (one unit per class, {softmax}"
        + (f": num_classes={units})" if given else ")")
    )


def _shown(ids: list[int]) -> str:
    """Class ids for a message: all of up to 6, else the first and the last."""
    return ", ".join(map(str, ids)) if len(ids) <= 6 else f"{ids[0]} to {ids[-1]}"


def _training_ids(data: Any, output: str | None) -> set[int]:
    """The class ids of `data`'s training stream (of its output `output` for a dict `y`):
    from `data.labels["train"]` when given, else read in one pass (an error's only)."""
    if data.labels and output is None:
        return set(np.unique(data.labels["train"]).astype(int).tolist())
    found: set[int] = set()
    for y in _stream_labels(data.train, "train"):
        ids = class_ids(y[output] if output is not None else y)
        if ids is not None:
            found.update(np.unique(ids).astype(int).tolist())
    return found


def _train_classes(data: Any, output: str | None) -> np.ndarray | None:
    """The class ids of `data`'s training stream (of its output `output` for a dict `y`)
    found when the `StreamData` was made (`data.train_classes`); `None` when not read."""
    found = (getattr(data, "train_classes", None) or {}).get(output)
    return np.array(sorted(found)) if found else None


def check_validation_classes(data: Any, shape: Any, quantity: str = "") -> None:
    """Checks, before the search, every class id of `data`'s training and validation streams
    against an output of `shape` (`check_class_ids`, `quantity` too): from `data.labels`
    when given (an image folder's), else the training ids found when the `StreamData` was
    made (`data.train_classes`) and the validation ids read in one pass. For a dict `y`,
    `shape` is `{output name: shape}` of the outputs that take class ids
    (`check_stream_outputs`). Regression and an unknown shape are left alone.

    Raises:
        DataError: See `check_class_ids`; or the stream holds another number of batches
            than it states (`tunekit.data._stream_lengths.batches_of`).
    """
    if data.several_outputs:
        if isinstance(shape, Mapping):
            check_stream_outputs(data, shape, "validation")
        return
    if data.task != "classification":
        return
    width = output_classes(shape)
    if width is None:
        return
    trained = data.labels.get("train") if data.labels else _train_classes(data, None)
    check_class_ids(trained, width, "training", data, quantity=quantity)
    if data.labels:
        check_class_ids(data.labels.get("val"), width, "validation", data, quantity=quantity)
        return
    parts = [y for y in _stream_labels(data.validation, "validation") if class_ids(y) is not None]
    if parts:
        ids = np.concatenate([class_ids(y) for y in parts])
        check_class_ids(ids, width, "validation", data, quantity=quantity)


def check_stream_outputs(data: Any, shapes: Mapping[str, Any], split: str) -> None:
    """Checks every class id of `data`'s `split` stream (`"validation"`, `"test"`), a dict
    `y`, against the outputs of `shapes` (`{output name: shape}`, those that take class
    ids), in one pass over the stream; `{}` reads nothing.

    Raises:
        DataError: See `check_class_ids` (naming the output).
    """
    widths = {n: w for n, s in shapes.items() if (w := output_classes(s)) is not None}
    if not widths:
        return
    if split == "validation":  # the training stream's ids, read when the StreamData was made
        for name, width in widths.items():
            check_class_ids(_train_classes(data, name), width, "training", data, output=name)
    source = data.validation if split == "validation" else data.test
    parts: dict[str, list[np.ndarray]] = {name: [] for name in widths}
    for y in _stream_labels(source, split):
        for name in widths:
            ids = class_ids(y.get(name)) if isinstance(y, Mapping) else None
            if ids is not None:
                parts[name].append(ids)
    for name, width in widths.items():
        if parts[name]:
            check_class_ids(np.concatenate(parts[name]), width, split, data, output=name)


def check_test_labels(y_true: Any, outputs: Any, data: Any) -> None:
    """Checks a stream's test labels `y_true`, read whole as the test set is predicted
    (`outputs`): class ids the output cannot take (`check_class_ids`), or regression
    targets that are constant (`refuse_constant_targets`).

    Raises:
        DataError: See `check_class_ids` and `refuse_constant_targets`.
    """
    if data.task == "regression":
        refuse_constant_targets([y_true], "test")
    else:
        check_class_ids(y_true, output_classes(np.shape(outputs)), "test", data)


def refuse_constant_targets(ys: list[Any], split: str) -> None:
    """Refuses a stream's regression targets of the split `split` (`"train"`, `"val"`,
    `"test"`), `ys` the `y` of every batch (arrays, or dicts of arrays), that are constant
    in any column of any output, as arrays' are (`tunekit.data._metadata.refuse_constant`).

    Raises:
        DataError: Naming the stream (and output), the column(s) and the value.
    """
    from tunekit.data._metadata import refuse_constant

    if not ys:
        return
    what = {"train": "training", "val": "validation", "test": "test"}[split]
    if isinstance(ys[0], Mapping):
        for name in ys[0]:
            joined = np.concatenate([np.asarray(y[name]) for y in ys])
            refuse_constant(joined, f"StreamData: the {what} stream's output {name!r}", split, True)
    elif not isinstance(ys[0], (list, tuple)):
        joined = np.concatenate([np.asarray(y) for y in ys])
        refuse_constant(joined, f"StreamData: the {what} stream's target", split)


def check_labels_match(labels: dict[str, np.ndarray], split: str, ys: list[Any]) -> None:
    """Refuses `labels=` (a `StreamData`'s, every split's class ids in any order) that do
    not hold the labels of the batches `ys` of the split `split` (`"train"`, `"val"`,
    `"test"`): for the first training batch, an id `labels[split]` never has, or more
    samples; for a split read whole, other ids or counts. `ys` that are not class ids
    (one-hot rows, a dict) are left alone.

    Raises:
        DataError: Naming the split, what differs and the fix.
    """
    parts = [class_ids(y) for y in ys]
    if not parts or any(p is None for p in parts):
        return
    found = np.concatenate([p for p in parts if p is not None]).astype(np.int64)
    given = np.asarray(labels[split]).astype(np.int64)
    if found.size and found.min() < 0:  # refused as class ids elsewhere
        return
    what = {"train": "training", "val": "validation", "test": "test"}[split]
    if split == "train" and len(ys) == 1:  # the first batch only
        extra = sorted(set(np.unique(found).tolist()) - set(np.unique(given).tolist()))
        wrong = (
            f"its first batch holds class id(s) {_shown(extra)}, which labels['train'] never has"
            if extra
            else f"its first batch holds {len(found)} samples, labels['train'] {len(given)}"
            if len(found) > len(given)
            else ""
        )
    else:
        top = int(max(found.max(initial=0), given.max(initial=0))) + 1
        ours, theirs = np.bincount(found, minlength=top), np.bincount(given, minlength=top)
        differ = [c for c in range(top) if ours[c] != theirs[c]]
        wrong = (
            f"it holds {len(found)} samples, class id {differ[0]} {ours[differ[0]]} times; "
            f"labels[{split!r}] {len(given)}, class id {differ[0]} {theirs[differ[0]]} times"
            if differ
            else ""
        )
    if wrong:
        raise DataError(
            f"StreamData: labels= do not match the {what} stream: {wrong}. labels= must be "
            "every label of each split's stream (in any order): take them from the same "
            "arrays or file list the pipelines are built from, after any split or filter. "
            "They decide the check that every class is in training, and class_weight."
        )


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
