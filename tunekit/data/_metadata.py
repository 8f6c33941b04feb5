"""A `Dataset`'s metadata, checked: array names, shapes, lengths, classes or target widths."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tunekit import _log
from tunekit.data import _targets as tg
from tunekit.data._checks import (
    _SPLITS,
    DATASET_GAP_FIX,
    _check_consecutive_ids,
    _check_label_range,
    _is_int,
)
from tunekit.data._label_text import check_class_names
from tunekit.data._split_sizes import check_split_sizes, constant_remedy
from tunekit.errors import DataError

_WHAT = {"train": "training", "val": "validation", "test": "test"}
#: The command line's remedy for a split tunekit made (a CSV's; an .npz's validation set
#: drawn from x_train): it has no option for the fractions or the split's seed.
CLI_OWN_SPLITS = (
    "give the splits yourself: an .npz as --data holding x_train / y_train, x_val / y_val "
    "and x_test / y_test, which tunekit does not split"
)

#: `refuse_lists`'s remedy for several outputs' targets in an `.npz`.
NPZ_ONE_OUTPUT = (
    "an .npz holds one target array per split: for a model with several outputs, load the "
    "arrays in Python and pass Dataset.from_arrays a dict keyed by the model's output names"
)


def _keys(value: Any, name: str) -> list[str]:
    """Names of the arrays of `value` in `arrays_of` order: `name`, or `name['key']` each."""
    return [f"{name}[{k!r}]" for k in sorted(value)] if isinstance(value, Mapping) else [name]


def check_same_columns(*groups: Mapping[str, Any]) -> None:
    """Refuses pandas DataFrames among each of `groups` (split name -> x, or -> y) whose
    columns differ from the first one's in names or order: converted to arrays, column 0
    of one would be another feature (or target) than column 0 of the other (as
    scikit-learn refuses at predict). Given the inputs and the targets (two groups), each
    split's pandas indexes too (`check_same_index`)."""
    if len(groups) != 1:
        check_same_index({k: v for group in groups for k, v in group.items()})
        for group in groups:
            check_same_columns(group)
        return
    (frames,) = groups
    named = {k: [str(c) for c in v.columns] for k, v in frames.items() if hasattr(v, "columns")}
    inputs = {k: v for k, v in frames.items() if isinstance(v, Mapping)}
    for name in sorted({n for value in inputs.values() for n in value}, key=str):
        # a model of several inputs: each input's DataFrames, split by split
        check_same_columns({f"{k}[{name!r}]": v[name] for k, v in inputs.items() if name in v})
    if len(named) < 2:
        return
    (first, columns), *rest = named.items()
    for key, other in rest:
        if other != columns:
            how = "in order" if sorted(other) == sorted(columns) else "in names"
            raise DataError(
                f"{key}'s columns differ from {first}'s {how}: {other[:8]} against "
                f"{columns[:8]}. Every split's features (and targets) must be the same "
                f"columns in the same order; select them in {first}'s order (e.g. {key} = "
                f"{key}[{first}.columns])."
            )


def check_same_index(values: Mapping[str, Any]) -> None:
    """Refuses pandas objects of one split (`x_train` and `y_train`, or `x` and `y`; each
    array of a dict too) whose indexes differ: converted to arrays, they are paired by
    position, as Keras and NumPy pair them, so a `y` kept in another order than a shuffled
    `x` gave each sample another's target (test accuracy at chance, exit 0). scikit-learn
    pairs by position too; pandas aligns by label. `values`: the arrays by name (`None`
    for a split not given)."""
    shown = lambda v: repr(v.item() if hasattr(v, "item") else v)  # noqa: E731
    for x_name, x in values.items():
        y_name = "y" + x_name[1:]
        if not x_name.startswith("x") or values.get(y_name) is None:
            continue
        pairs = [(x_name, x), (y_name, values[y_name])]
        indexed = [
            (f"{name}[{key!r}]" if isinstance(value, Mapping) else name, item.index)
            for name, value in pairs
            for key, item in (value.items() if isinstance(value, Mapping) else [(None, value)])
            if hasattr(item, "index") and hasattr(item, "iloc")  # a DataFrame or Series
        ]
        for (first, index), (other, against) in zip(indexed, indexed[1:], strict=False):
            if index.equals(against):
                continue
            missing = index.difference(against)
            how = (
                f"it holds the same labels in another order ({first}'s first row is "
                f"{shown(index[0])}, {other}'s is {shown(against[0])})"
                if not len(missing) and len(index) == len(against)
                else f"{len(missing)} of {first}'s index labels are not in {other}'s "
                f"(e.g. {shown(missing[0])})"
                if len(missing)
                else f"{other}'s index holds labels {first}'s does not"
            )
            raise DataError(
                f"{other}'s index differs from {first}'s: {how}. tunekit pairs pandas rows "
                "by position, as Keras and NumPy do, so a sample would get another sample's "
                f"row. Align them by label first ({other} = {other}.loc[{first}.index]), "
                "or, if their positions are meant to match, drop both indexes "
                "(.reset_index(drop=True))."
            )


def _as_shape(shape: Any) -> tg.Shape | dict[str, tg.Shape]:
    if isinstance(shape, Mapping):
        return {str(k): tuple(int(d) for d in v) for k, v in shape.items()}
    return tuple(int(d) for d in shape)


def refuse_lists(values: Mapping[str, Any], several: str = "") -> None:
    """Refuses Keras's list of input arrays (one per `keras.Input`) or of target arrays
    (one per output), and targets stacked into one array with the samples on axis 1
    (`np.array([y1, y2])`, `np.savez` of a list): `DataError` saying to key them by name.

    Runs before the task is inferred, which read such a list as one array of
    `len(list)` samples (`(2, n)`: "n regression targets per sample?").

    Args:
        values: The arrays by name (`x`, `y`, `x_test`, `y_test` or `x_train`,
            `y_train`, ...; None for a split not given); each `y...` is checked
            against its `x...`.
        several: What to do instead for several outputs, if not a dict of arrays.
    """
    for x_name, x in values.items():
        y_name = "y" + x_name[1:]
        if not x_name.startswith("x") or y_name not in values:
            continue
        y, n_x = values[y_name], _samples(x)
        inputs = _keras_list(x, _samples(y))
        if inputs is not None:
            raise DataError(
                f"{x_name} is a {type(x).__name__} of {len(x)} input arrays of {inputs} samples "
                "each, as Keras takes for a model with a list of inputs: tunekit takes several "
                "inputs as a dict keyed by the names of the model's keras.Input(name=...), e.g. "
                f"{x_name}={{'image': x_image, 'meta': x_meta}} (Keras feeds a dict by name)."
            )
        dict_fix = several or (
            "tunekit takes several outputs' targets as a dict keyed by the model's output "
            f"names, e.g. {y_name}={{'digit': y_digit, 'size': y_size}} for "
            "keras.Model(inputs, {'digit': ..., 'size': ...})"
        )
        targets = _keras_list(y, n_x)
        if targets is not None:
            one = len(y) == 1
            raise DataError(
                f"{y_name} is a {type(y).__name__} of {len(y)} target "
                f"{'array' if one else 'arrays'} of {targets} samples"
                f"{'' if one else ' each'}, as Keras takes for a model with a list of "
                + (
                    f"outputs: pass the array itself ({y_name}[0]); for several outputs, "
                    if one
                    else "outputs: "
                )
                + f"{dict_fix}."
            )
        shape: tuple[int, ...] = tuple(np.shape(y)) if hasattr(y, "shape") else ()
        if len(shape) == 2 and shape[0] == 1 and shape[1] in n_x:  # a row, not outputs
            raise DataError(
                f"{y_name} has shape {shape} but {x_name} has {shape[1]} samples: it is one "
                f"row of {shape[1]} targets (the samples on axis 1, not axis 0): pass "
                f"{y_name}.ravel() (shape ({shape[1]},)), one target per sample."
            )
        if len(shape) >= 2 and shape[0] != shape[1] and shape[1] in n_x:
            raise DataError(
                f"{y_name} has shape {shape} but {x_name} has {shape[1]} samples: the samples "
                f"of {y_name} are on axis 1, not axis 0. If it is {shape[0]} outputs' targets "
                f"stacked (np.array or np.savez of a list [y1, y2]), {dict_fix}; if it is "
                f"{shape[0]} targets per sample, pass {y_name}.T (shape {shape[1::-1]})."
            )


def _samples(value: Any) -> set[int]:
    """The numbers of samples `value` may hold: its length (a dict's arrays' length), and
    the length of its parts if it is a list of arrays (Keras's list of inputs)."""
    found = set()
    try:
        found.add(tg.length(value, "value"))
    except (TypeError, DataError):
        pass
    parts = _common_length(value)
    if parts is not None and all(hasattr(part, "shape") for part in value):
        found.add(parts)  # arrays, not a list of samples written as lists
    return found


def _common_length(parts: Any) -> int | None:
    """`m` when `parts` is a list or tuple of arrays of `m` samples each, `m` other than
    the list's length (then a list of `m` samples is one array); else None."""
    if not isinstance(parts, Sequence) or isinstance(parts, (str, bytes)) or not parts:
        return None
    try:
        if not all(np.ndim(part) >= 1 for part in parts):
            return None  # a list of numbers
        sizes = {len(part) for part in parts}
    except (TypeError, ValueError):  # ragged, or parts without a length
        return None
    size = sizes.pop() if len(sizes) == 1 else None
    return size if size != len(parts) else None


def _keras_list(parts: Any, samples: set[int]) -> int | None:
    """`m` when `parts` is a list of arrays of `m` samples each, `m` being one of the
    numbers of samples of the other argument (`_samples`). When both lists could be
    either (Keras's lists of 2 inputs and 2 outputs, or of `n` samples each), fewer
    parts than samples are read as inputs or outputs."""
    size = _common_length(parts)
    if size is None or size not in samples:
        return None
    return size if len(parts) not in samples or len(parts) < size else None


def _check_same_length(x: Any, y: Any, x_name: str, y_name: str) -> None:
    n_x, n_y = tg.length(x, x_name), tg.length(y, y_name)
    if n_x != n_y:
        raise DataError(
            f"{x_name} has {n_x} samples but {y_name} has {n_y} labels; "
            "they must have the same length."
        )


def _class_metadata(
    ys: dict[str, Any], num_classes: int | None, class_names: Sequence[str] | None
) -> dict[str, Any]:
    """Classification: checks the label range of every split and output, names the classes."""
    check_split_sizes(ys, "classification", class_names)  # first: other fixes moot
    labels = np.concatenate([a for s in _SPLITS for a in tg.arrays_of(ys[s])])
    if num_classes is None:
        if class_names is None and all(len(tg.arrays_of(ys[s])) == 1 for s in _SPLITS):
            # as from_arrays: labels 1..K would make a class 0 no sample has
            _check_consecutive_ids(labels, "the labels (y_train, y_val, y_test)", DATASET_GAP_FIX)
        num_classes = int(labels.max()) + 1 if labels.size else 0
    if not _is_int(num_classes) or num_classes < 2:
        raise DataError(
            f"Need at least 2 classes, got num_classes={num_classes}; "
            "classification needs two or more distinct labels."
        )
    num_classes = int(num_classes)
    names = (
        [str(i) for i in range(num_classes)]
        if class_names is None
        else [str(c) for c in class_names]
    )
    if len(names) != num_classes:
        raise DataError(
            f"Got {len(names)} class_names for num_classes={num_classes}; "
            "pass one name per class (or class_names=None for '0', '1', ...)."
        )
    check_class_names(names)
    for split in _SPLITS:
        for array, key in zip(tg.arrays_of(ys[split]), _keys(ys[split], f"y_{split}"), strict=True):
            _check_label_range(array, num_classes, key)
    return dict(num_classes=num_classes, class_names=names, num_outputs=None)


def _regression_metadata(
    ys: dict[str, Any], num_classes: int | None, class_names: Sequence[str] | None
) -> dict[str, Any]:
    """Regression: no classes; every split has the same target width, which is recorded.

    A target of width 1 given as `(n,)` in one split and `(n, 1)` in another is
    one target (Keras trains on either): `ys` is changed in place, every split
    (and every output of a dict) reshaped to `y_train`'s form, so the final
    retrain can concatenate train and validation. Other widths are refused."""
    check_split_sizes(ys, "regression")  # first: a 1-sample split makes other fixes moot
    if num_classes is not None or class_names:
        raise DataError(
            f'task="regression" has no classes, got num_classes={num_classes!r}, class_names='
            f'{class_names!r}; leave both None, or pass task="classification" for class ids.'
        )
    widths = {s: _widths(ys[s]) for s in _SPLITS}
    if len({repr(w) for w in widths.values()}) > 1:
        raise DataError(
            f"The regression targets of the splits differ in width ({widths}); "
            "every split needs the same number of targets per sample."
        )
    for split in _SPLITS:
        ys[split] = _in_form_of(ys[split], ys["train"])
    for split in _SPLITS:  # R2 undefined (printed as 0.0), and nothing to learn: exit 0 before
        for array, key in zip(tg.arrays_of(ys[split]), _keys(ys[split], f"y_{split}"), strict=True):
            refuse_constant(array, key, split, isinstance(ys[split], Mapping))
    return dict(num_classes=None, class_names=[], num_outputs=widths["train"])


def refuse_constant(array: Any, key: str, split: str, output: bool = False) -> None:
    """Refuses regression targets `array` (`(n,)` or `(n, k)`) of the split `split`
    (`"train"`, `"val"`, `"test"`) that are constant (in any column), named `key` in the
    message; fewer than 2 samples (an empty split, the test of a cv run) are left alone,
    but for a `StreamData`'s validation or test split of 1 sample (`key` "StreamData...":
    arrays' splits are checked by `_split_sizes.check_split_sizes`), refused.
    `output`: `array` is one output of several (a dict `y`), which may be a classifier's
    class ids kept as given (outputs of mixed kinds need `task="regression"`) and gets no
    R2: the message says so rather than speak of a regression's R2.

    Raises:
        DataError: Naming `key`, the column(s) and the value, and what to do.
    """
    array = np.asarray(array)
    if len(array) == 1 and split != "train" and key.startswith("StreamData"):  # arrays: sizes
        raise DataError(
            f"{key} has 1 sample: R2 is undefined on 1 sample (it would print as nan), and "
            f"one {'prediction' if split == 'test' else 'score'} cannot judge a model. Give a "
            f"{'test=' if split == 'test' else 'validation='} stream of 2 or more samples."
        )
    if len(array) < 2:
        return
    flat = array.reshape(len(array), -1)
    same = [j for j in range(flat.shape[1]) if np.ptp(flat[:, j]) == 0]
    if not same:
        return
    where = "" if flat.shape[1] == 1 else f" in column(s) {same}"
    what = _WHAT[split]
    why = _constant_why(split, output)
    raise DataError(
        f"{key} is constant{where}: every {what} target is {flat[0, same[0]]:g}. {why}"
        + constant_remedy(split, flat, same[0], stream=key.startswith("StreamData"))
    )


def _constant_why(split: str, output: bool) -> str:
    """What a constant regression target makes of the split `split`: nothing to learn from
    training targets; a validation or test split teaches nothing, its score is undefined."""
    if output:
        return (
            "Under task='regression' (which outputs of mixed kinds need) every output must "
            "vary in each split: "
            + (
                "an output of one value gives a model nothing to learn from it and cannot "
                "tell it from always predicting that value"
                if split == "train"
                else f"a {_WHAT[split]} output of one value cannot tell a model from always "
                "predicting that value"
            )
            + ", class ids or a quantity alike. "
        )
    if split == "train":
        return (
            "A model learns nothing from a constant target, and R2 is undefined on one (a "
            "score of 0.0 that means nothing). "
        )
    use = (
        "scores every trial (the search chooses the hyperparameters and the epochs on it)"
        if split == "val"
        else "gives the run's result (the final model is judged on it)"
    )
    return (
        f"The {_WHAT[split]} split {use}, but R2 is undefined on a constant target (a "
        "score of 0.0 that means nothing), and predicting one value says nothing of how a "
        "model follows targets that vary. "
    )


def regression_ending(widths: Any, targets: Any = None) -> str:
    """How a summary of regression data ends: `"regression, 2 targets"`, or for several
    outputs (a dict `y`, `widths` by output) each output by its columns and, when `targets`
    (the training targets by output) holds whole numbers, by their range.

    Outputs of mixed kinds need `task="regression"`, which keeps a classifier's class ids
    as given, so the task does not say what each output holds (`"regression, targets
    {'cls': 1, ...}"` called class ids regression targets): `"several outputs, each as
    given (task='regression'): 'cls' 1 column of whole numbers 0 to 1, 'reg' 1 column"`.
    """
    if not isinstance(widths, Mapping):
        return f"regression, {_log.count(widths, 'target')}"
    parts = []
    for name, width in widths.items():
        part = f"{name!r} {_log.count(width, 'column')}"
        values = None if not isinstance(targets, Mapping) else np.asarray(targets[name])
        if values is not None and values.size and np.all(values % 1 == 0):
            part += f" of whole numbers {values.min():g} to {values.max():g}"
        parts.append(part)
    return "several outputs, each as given (task='regression'): " + ", ".join(parts)


def _widths(y: Any) -> int | dict[str, int]:
    if isinstance(y, Mapping):
        return {k: 1 if v.ndim == 1 else int(v.shape[1]) for k, v in y.items()}
    return 1 if y.ndim == 1 else int(y.shape[1])


def _in_form_of(y: Any, train: Any) -> Any:
    """`y` (targets of `train`'s width, checked) shaped as `train`: `(n,)` or `(n, 1)`."""
    if isinstance(y, Mapping):
        return {k: _in_form_of(v, train[k]) for k, v in y.items()}
    return y.reshape(len(y), *train.shape[1:])
