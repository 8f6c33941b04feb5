"""`Dataset`: train / validation / test arrays plus the metadata a hypermodel needs."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tunekit.data import _targets as tg
from tunekit.data._array_columns import check_array_columns
from tunekit.data._checks import (
    _SPLITS,
    CATEGORICAL_LABELS,
    CLASSIFICATION,
    INT_LABELS,
    LABEL_MODES,
    REGRESSION,
    UNSCALED,
    _as_features,
    _check_finite,
    _check_fractions,
    _check_label_range,
)
from tunekit.data._classes import arrays_labels, class_ending, missing_classes
from tunekit.data._leaks import check_array_overlap
from tunekit.data._metadata import (
    _as_shape,
    _check_same_length,
    _class_metadata,
    _keys,
    _regression_metadata,
    check_same_columns,
    refuse_lists,
    regression_ending,
)
from tunekit.data._notes import collected, noted, with_notes
from tunekit.data._soft_labels import refuse_soft_labels
from tunekit.data._split_sizes import made_by
from tunekit.data._splits import _random_split, _stratified_split
from tunekit.data._subsets import subset_of
from tunekit.errors import DataError

__all__ = ["Dataset"]

_DISPLAY_NAMES = {"mnist": "MNIST"}
_Y_NAME = "y_train / y_val / y_test"


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """Train / validation / test arrays plus the metadata a hypermodel needs.

    Arrays are stored as read-only views: `x_*` float32; `y_*` int64 class ids (classification,
    also for labels given one-hot: see `label_mode`) or float32 targets of shape `(n,)` or
    `(n, k)` (regression). `x` (several inputs) and `y` (several outputs) may each be a dict of
    arrays keyed by input / output name, all with the same number of samples. Construction
    validates everything, raising `DataError` (lengths, label range, finiteness, shapes,
    splits sharing samples beyond nature, as streams and folders: `tunekit.data._leaks`).

    Args:
        x_train, y_train, x_val, y_val, x_test, y_test: The three splits.
        class_names: One name per class, index = label. Defaults to `"0"`, `"1"`,
            ... for classification; must be None or empty for regression.
        input_shape: Shape of one sample, e.g. `(28, 28)` (a dict of shapes when
            `x` is a dict). Defaults to the shape of `x_train`'s samples.
        num_classes: Number of classes (>= 2) for classification; defaults to
            `max(label) + 1` over all splits. Must be None for regression.
        name: Short dataset name used in summaries, e.g. `"mnist"`.
        scaling: How the loader scaled `x` (`SCALED_UINT8` or `UNSCALED`, see the module
            docstring), written into the run's report. Defaults to `UNSCALED`.
        task: `"classification"`, `"regression"`, or `None` to infer it
            from `y_train` (`tunekit.data.infer_task`, as `from_arrays`
            does). Defaults to `"classification"`.
        label_mode: Classification only: how the labels reach the model, in Keras's terms
            (`keras.utils.image_dataset_from_directory`): `"int"`, class ids `(n,)` (for
            `sparse_categorical_crossentropy`), or `"categorical"`, one-hot rows
            `(n, num_classes)` float32 (for `categorical_crossentropy`). `y_*` always hold
            the class ids; `model_targets` gives what the model trains on. Labels given as
            one-hot rows (exactly one 1 per row, as `keras.utils.to_categorical` makes them)
            are stored as ids and set `"categorical"`; their width is `num_classes`.
            Defaults to `"int"`.

    Attributes:
        num_outputs: Regression only: the target width `k` (1 for targets of shape `(n,)`), or
            a dict of widths when `y` is a dict. None for classification.
        notes: The texts of the `DataWarning`s its loader gave (a uint8 `x` of a few
            levels, class ids saved as floats...), for the run's report; `()` if none.

    Example:
    >>> ds = load_mnist("/data/mnist.npz").subset(num_train=1000)
    >>> ds.summary()
    'MNIST: 1000 train / 10000 validation / 10000 test, input (28, 28), 10 classes'
    """

    x_train: Any
    y_train: Any
    x_val: Any
    y_val: Any
    x_test: Any
    y_test: Any
    class_names: Sequence[str] | None = None
    input_shape: Any = None
    num_classes: int | None = None
    name: str = "arrays"
    scaling: str = UNSCALED
    task: str = tg.DEFAULT_TASK  # "classification", told apart from a task= passed
    label_mode: str = INT_LABELS
    num_outputs: int | dict[str, int] | None = dataclasses.field(default=None, init=False)
    _fingerprint: str | None = dataclasses.field(default=None, init=False, repr=False)
    notes: tuple[str, ...] = dataclasses.field(default=(), init=False, repr=False)

    def __post_init__(self) -> None:
        task = tg.check_task(self.task)
        if self.label_mode not in LABEL_MODES:
            raise DataError(
                f"label_mode must be one of {list(LABEL_MODES)}, got {self.label_mode!r}."
            )
        if task not in (None, CLASSIFICATION) and self.label_mode != INT_LABELS:
            raise DataError(
                f'label_mode={self.label_mode!r} is for classification; leave it "int".'
            )
        inputs = {f"x_{s}": getattr(self, f"x_{s}") for s in _SPLITS}
        given = {f"y_{s}": getattr(self, f"y_{s}") for s in _SPLITS}
        given = {name: tg.objects_as_numbers(y, name, task) for name, y in given.items()}
        refuse_lists(inputs | given)  # Keras's lists of inputs or targets, before the task
        check_same_columns(inputs, given)
        given, width = tg.one_hot_as_ids(given, task, self.num_classes)
        refuse_soft_labels({} if width else given, task)  # probabilities: classes or not?
        every = tg.stacked_targets([given[f"y_{s}"] for s in _SPLITS])  # as from_arrays
        named = self.num_classes is not None or bool(self.class_names)  # classes said
        floats = all(np.asarray(a).dtype.kind == "f" for a in tg.arrays_of(every))
        if task is None or (floats and not (width or named) and self.task is tg.DEFAULT_TASK):
            with collected() as notes:  # float ids: a `DataWarning`
                inferred = CLASSIFICATION if width else tg.infer_tasks(every, _Y_NAME, not named)
            task = inferred if task is None else task
            with_notes(self, notes)
        object.__setattr__(self, "task", str(task))  # the default as a plain str
        num_classes = self.num_classes if width is None else width
        if width is not None:  # one-hot rows: kept as class ids, the model gets rows
            object.__setattr__(self, "label_mode", CATEGORICAL_LABELS)
        xs = {s: tg.map_arrays(getattr(self, f"x_{s}"), f"x_{s}", _as_features) for s in _SPLITS}
        ys = {
            s: tg.map_arrays(
                given[f"y_{s}"], f"y_{s}", lambda y, name: tg.as_targets(y, name, task)
            )
            for s in _SPLITS
        }
        shape = self.input_shape
        input_shape = tg.sample_shape(xs["train"]) if shape is None else _as_shape(shape)
        for split in _SPLITS:
            x, y = xs[split], ys[split]
            _check_same_length(x, y, f"x_{split}", f"y_{split}")
            if tg.sample_shape(x) != input_shape:
                raise DataError(
                    f"x_{split} samples have shape {tg.sample_shape(x)}, expected "
                    f"input_shape {input_shape}; all splits must share it."
                )
            for array, key in zip(tg.arrays_of(x), _keys(x, f"x_{split}"), strict=True):
                _check_finite(array, key)
        check_array_overlap(xs, ys, {s: getattr(self, f"x_{s}") for s in _SPLITS})
        values: dict[str, Any] = dict(input_shape=input_shape, task=task)
        if task == CLASSIFICATION:
            values.update(_class_metadata(ys, num_classes, self.class_names))
        else:
            values.update(_regression_metadata(ys, self.num_classes, self.class_names))
        for split in _SPLITS:
            values[f"x_{split}"] = tg.readonly(xs[split])
            values[f"y_{split}"] = tg.readonly(ys[split])
        if tg.length(values["x_train"], "x_train") == 0:
            raise DataError("The training split is empty; a Dataset needs training samples.")
        for key, value in values.items():
            object.__setattr__(self, key, value)

    @classmethod
    @noted
    def from_arrays(
        cls,
        x: Any,
        y: Any,
        *,
        x_test: Any = None,
        y_test: Any = None,
        validation_fraction: float = 0.15,
        test_fraction: float = 0.15,
        num_classes: int | None = None,
        class_names: Sequence[str] | None = None,
        seed: int = 0,
        task: str | None = None,
    ) -> Dataset:
        """Builds a Dataset from your own numpy arrays, splitting what is not given.

        The task is inferred from `y` unless `task=` says it:

        | `y`                                                | task           |
        |----------------------------------------------------|----------------|
        | integers exactly `0..K-1`, `(n,)` or `(n, 1)`      | classification |
        | other integers (labels 1..K, 3..8 wine qualities)  | refused: pass `task=` (2) |
        | bool dtype: classes `"False"`, `"True"`            | classification |
        | float with a non-whole value, `(n,)` or `(n, k)`   | regression     |
        | whole-number floats that are exactly `0..K-1`      | classification |
        | other whole-number floats, `(n,)` (counts, ages)   | regression, or refused (3) |
        | one-hot rows `(n, k)`, as `to_categorical` makes   | classification (1) |
        | other whole-number floats of shape `(n, k)`, k > 1 | refused: pass `task=` |
        | text (str), `(n,)`: class names (ids: sorted)      | classification |

        (1) `keras.utils.to_categorical`'s rows, any numeric dtype: stored as class ids,
        with `label_mode="categorical"` (the model still gets rows).
        (2) With `task="classification"` each distinct value of `y` and `y_test`
        is a class named by it (3..8: ids 0..5, `class_names` `"3"`..`"8"`), as in
        `load_csv` and `load_npz`; with `num_classes=K`, class ids as given.
        (3) Few values or a run (1.0..12.0): refused as ambiguous; gaps: regression. Integer
        regression targets (an int dtype) need `task="regression"`.

        Classification splits are stratified per class; others seeded random splits
        (scikit-learn's `train_test_split`). `x` keeps its layout and values, in float32 but
        for whole numbers beyond 2**24, kept as given (`scaling` is `UNSCALED`); ones float32
        would merge: `DataError`. A column of a 2-D `x` that counts the rows while `y` is
        sorted in its order gets a `DataWarning` (a leaked row number, or a time).

        Args:
            x: Samples, shape `(n, ...)`, or a dict of such arrays (several inputs).
            y: Targets, shape `(n,)` (class ids or values) or `(n, k)` (one-hot class
                labels, or regression targets), or a dict of such arrays (several
                outputs). One-hot labels keep reaching the model as one-hot rows
                (`label_mode="categorical"`); the splits, report and statistics use
                their class ids.
            x_test, y_test: Optional test set; if given, `test_fraction` is ignored.
            validation_fraction, test_fraction: Fractions, each in [0, 1) (per class for
                classification).
            num_classes: Classification: number of classes, the labels being ids
                `0..num_classes-1` as given (a class may have no samples); if None,
                ids `0..K-1` all occurring in `y` / `y_test`, or values (2).
            class_names: Classification: one name per class; defaults to `"0"`, ...
                (text labels and values (2): the sorted distinct labels; if given,
                in that order).
            seed: Seed of the deterministic split.
            task: `"classification"`, `"regression"` or None (the default) to infer it.

        Returns:
            A `Dataset` named `"arrays"`.

        Raises:
            DataError (a `ValueError`): On bad lengths, labels (also numbers mixed with
                text), values, fractions or `task`, targets that contradict `task=`, a
                class too small to appear in every split, a validation or test split of 1
                sample (or constant), or a DataFrame column named as an index or id with a
                value per row, or a first column `0..n-1` (`_array_columns`).

        Example:
        >>> ds = Dataset.from_arrays(np.random.rand(100, 8), np.arange(100) % 2)
        >>> Dataset.from_arrays(np.random.rand(100, 8), np.random.rand(100)).task
        'regression'
        """
        if (x_test is None) != (y_test is None):
            raise DataError(
                "Got only one of x_test / y_test; pass both, or neither to split a test set from x."
            )
        test_fraction = test_fraction if x_test is None else 0.0  # the test set is given
        _check_fractions(validation_fraction, test_fraction)
        refuse_lists(dict(x=x, y=y, x_test=x_test, y_test=y_test))  # Keras's lists: dicts here
        y, y_test = (tg.objects_as_numbers(v, n, task) for v, n in ((y, "y"), (y_test, "y_test")))
        check_same_columns({"x": x, "x_test": x_test}, {"y": y, "y_test": y_test})  # DataFrames
        y, y_test, task, num_classes, class_names, label_mode = arrays_labels(
            y, y_test, tg.check_task(task), num_classes, class_names
        )
        convert = lambda a, name: tg.as_targets(a, name, task)  # noqa: E731
        given, x, y = x, tg.map_arrays(x, "x", _as_features), tg.map_arrays(y, "y", convert)
        _check_same_length(x, y, "x", "y")
        check_array_columns(given, y)  # a row number or id among x's columns (names kept)
        if x_test is not None:
            x_test = tg.map_arrays(x_test, "x_test", _as_features)
            y_test = tg.map_arrays(y_test, "y_test", convert)
            _check_same_length(x_test, y_test, "x_test", "y_test")
        for name, value in (("x", x), ("x_test", x_test)):
            if value is not None:
                for array, key in zip(tg.arrays_of(value), _keys(value, name), strict=True):
                    _check_finite(array, key)
        n = tg.length(x, "x")
        if task == CLASSIFICATION and not isinstance(y, Mapping):
            labels = np.concatenate([y] if y_test is None else [y, y_test])
            if num_classes is None:  # ids 0..K-1 (others were taken by value_classes)
                num_classes = int(labels.max()) + 1 if labels.size else 0
            _check_label_range(labels, int(num_classes), "labels (y / y_test)")
            given = class_names
            names = [str(i) for i in range(num_classes)] if given is None else list(given)
            idx = _stratified_split(y, validation_fraction, test_fraction, seed, names)
        else:
            idx = _random_split(n, validation_fraction, test_fraction, seed)
        if x_test is None:
            x_test, y_test = tg.take(x, idx["test"]), tg.take(y, idx["test"])
        with made_by("from_arrays", y, val=validation_fraction, test=test_fraction):
            return cls(
                tg.take(x, idx["train"]),
                tg.take(y, idx["train"]),
                tg.take(x, idx["val"]),
                tg.take(y, idx["val"]),
                x_test,
                y_test,
                class_names=class_names,
                input_shape=tg.sample_shape(x),
                num_classes=num_classes,
                task=task,
                label_mode=label_mode,
            )

    def __repr__(self) -> str:
        return f"<Dataset {self.summary()}>"

    def classes_missing_from_training(self) -> list[str]:
        """Names of the classes found in `y_val` or `y_test` but never in `y_train` (always
        empty for regression: there are no classes)."""
        return [] if self.task == REGRESSION else missing_classes(self)

    @property
    def x_train_full(self) -> Any:
        """Training plus validation samples (to retrain the final model)."""
        return tg.concatenate(self.x_train, self.x_val)

    @property
    def y_train_full(self) -> Any:
        """Training plus validation targets, aligned with `x_train_full`."""
        return tg.concatenate(self.y_train, self.y_val)

    def train_and_validation(self) -> tuple[Any, Any]:
        """Returns `(x, y)` of train and validation concatenated, train first, to train on:
        arrays, or dicts of arrays; `y` as the model trains on it (`model_targets`)."""
        return self.x_train_full, self.model_targets(self.y_train_full)

    def model_targets(self, y: Any) -> Any:
        """`y` (one of this Dataset's target arrays) as the model trains on it: class ids
        `(n,)` as one-hot float32 rows `(n, num_classes)` under `label_mode="categorical"`
        (as `keras.utils.to_categorical` makes them); anything else as it is."""
        if self.label_mode != CATEGORICAL_LABELS:
            return y
        return tg.one_hot_rows(y, self.num_classes)

    def fingerprint(self) -> str:
        """Returns a short, cached sha256 hex digest of all arrays, class names and task.

        Hashes shapes, dtypes and the full bytes of every array (about 0.15 s for
        MNIST), with the key of each array of a dict. The `name` is not part of
        it. A classification Dataset of plain arrays hashes as it did before
        tasks existed, so existing runs still resume.
        """
        if self._fingerprint is None:
            digest = hashlib.sha256()
            for split in _SPLITS:
                for key in (f"x_{split}", f"y_{split}"):
                    value = getattr(self, key)
                    for array, name in zip(tg.arrays_of(value), _keys(value, key), strict=True):
                        digest.update(f"{name}:{array.dtype.str}:{array.shape};".encode())
                        digest.update(np.ascontiguousarray(array).reshape(-1).view(np.uint8).data)
            digest.update("\x1f".join(self.class_names or ()).encode())
            if self.task != CLASSIFICATION:
                digest.update(f"\x1ftask:{self.task}".encode())
            if self.label_mode != INT_LABELS:
                digest.update(f"\x1flabel_mode:{self.label_mode}".encode())
            object.__setattr__(self, "_fingerprint", digest.hexdigest()[:16])
        return self._fingerprint  # type: ignore[return-value]

    def summary(self) -> str:
        """Returns a one-line description, e.g. `"MNIST: 50000 train / ... 10 classes"`.

        Regression ends with `"regression, 1 target"` (or `"k targets"`); a dict
        `y`, each output by its columns and values (`_metadata.regression_ending`).
        """
        if self.task == REGRESSION:
            ending = regression_ending(self.num_outputs, self.y_train)
        else:
            ys = [self.y_train, self.y_val, self.y_test]  # a dict y: each output's classes
            ending = class_ending(self.num_classes, self.label_mode == CATEGORICAL_LABELS, ys)
        return (
            f"{_DISPLAY_NAMES.get(self.name, self.name)}: {tg.length(self.x_train, 'x')} train / "
            f"{tg.length(self.x_val, 'x')} validation / {tg.length(self.x_test, 'x')} test, "
            f"input {self.input_shape}, {ending}"
        )

    def subset(
        self,
        num_train: int | None = None,
        num_val: int | None = None,
        num_test: int | None = None,
        *,
        seed: int = 0,
    ) -> Dataset:
        """Returns a new Dataset with a seeded random sample of each split (None keeps all).

        The same `seed` (int >= 0) gives the same samples, in their order; a count >= a
        split's size keeps it whole. Classification is stratified, one of each class when
        the count allows (`tunekit.data._subsets`); regression and dict targets: plain.

        Raises:
            DataError (a `ValueError`): On a bad count or seed; num_train 0 or below the classes.
        """
        return subset_of(self, num_train, num_val, num_test, seed)
