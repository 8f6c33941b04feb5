"""`StreamData`: train / validation / test as KerasTuner takes them, never materialised.

Each split is a batched `tf.data.Dataset` or a `keras.utils.PyDataset`
yielding `(x, y)` batches; tunekit passes them to `tuner.search` and
`model.fit` as they are. What a `Dataset` of arrays computes from its arrays
comes from one batch here (the input shape, the task) or from the user
(`num_classes`, `class_names`, and `fingerprint`).

- The retrain trains on `train_and_validation()`: `train.concatenate(val)` for
  `tf.data`, a `ChainedPyDataset` for PyDatasets; nothing is copied.
- Each fit of an image folder trains on a training stream made anew after
  the fit's seed (`fresh_train`), so its order does not depend on the fits
  before it in the process (a resumed run trains as one run straight through).
- The test evaluation predicts batch by batch and collects `y` from the same
  batches (`predict_stream`), so a shuffled test stream still lines up.
- **Fingerprint** (what a resumed run compares): tunekit cannot hash a
  pipeline, so an arbitrary stream needs `fingerprint=`, a name that changes
  whenever the data does (e.g. `"rivers-2026-11-30"`): a changed pipeline under
  the same name is NOT detected. An image folder's (`from_image_folder`) is its
  files' paths, sizes and contents, image size, colour mode, fractions and seed:
  any edit is detected; a copy or `touch` with the same bytes is the same data.
- **Workers**: only a stream with a `definition` (a factory importable by
  module and name, plus JSON-able keyword arguments, e.g. an image folder's
  `to_config()`) can be rebuilt in a worker process; a pipeline made in a
  notebook exists only in its process and is refused for `workers > 1`.

This module is over 400 lines because the checks of a stream's first batch and
the class's constructors, which share them, read best together.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from tunekit import _log
from tunekit.data._checks import (
    CLASSIFICATION,
    REGRESSION,
    TASKS,
    UNSCALED,
    check_stream_labels,
)
from tunekit.data._classes import IGNORED_ROWS
from tunekit.data._folder_leaks import check_folder_overlap
from tunekit.data._label_text import check_class_names
from tunekit.data._leaks import PassSum, check_stream_splits
from tunekit.data._metadata import regression_ending
from tunekit.data._split_sizes import refuse_one_sample
from tunekit.data._stream_batches import (
    ChainedPyDataset,
    chain_py_datasets,
    check_batched,
    first_batch,
    has_no_batch,
    is_stream,
    is_tf_dataset,
    predict_stream,
    refuse_infinite,
    refuse_unsized,
    shape_of,
    weight_structure,
    with_weights_of,
)
from tunekit.data._stream_ids import refuse_ids_beyond, refuse_one_training_class
from tunekit.data._stream_labels import check_labels_match, refuse_constant_targets
from tunekit.data._stream_lengths import (
    batches_of,
    check_py_length,
    read_whole,
    warn_dropped_remainder,
)
from tunekit.data._stream_shapes import BatchShapes, labels_like
from tunekit.errors import DataError

__all__ = ["ChainedPyDataset", "StreamData", "chain_py_datasets", "is_stream", "predict_stream"]

_SPLIT_NAMES = {"train": "train", "val": "validation", "test": "test"}


class StreamData:
    """Train / validation / test streams plus the metadata a hypermodel needs.

    Pass it to `tunekit.CoarseToFine` as `data` (see the module docstring for
    the fingerprint and workers). Batches must be `(x, y)` pairs; each
    stream's batch size is its own (tunekit's `batch_size=` does not apply).

    Args:
        train, validation, test: Batched `tf.data.Dataset`s or
            `keras.utils.PyDataset`s of `(x, y)` (all of one kind; a PyDataset
            needs a `__len__`). The test stream is read once, in order. A
            tf.data split of unknown length (`from_generator`, `.filter()`) is
            read whole once here, to count its batches and check that it
            replays; a warning every 20 s of reading says it has not ended (an
            endless one never would): make it finite or state its length with
            `tf.data.experimental.assert_cardinality(n)`. A split whose length
            is stated so is read whole once here too, to check it (Keras reads
            only the stated number of batches); a PyDataset's last batch is read.
        fingerprint: A name that identifies the data and changes whenever it
            does (e.g. `"rivers-v3"`); a resumed run with another fingerprint
            is refused. Required: tunekit cannot hash a pipeline.
        task: `"classification"` or `"regression"`. Defaults to `None`:
            classification when `num_classes`, `class_names` or `labels` is
            given or the first training batch's `y` holds integers;
            regression for floats that are not all whole numbers; float `y`
            of whole numbers only (class ids saved as floats, or a count;
            one-hot labels, or k targets?) is refused: pass `task`.
            Classification takes class ids `0..K-1` or one-hot labels
            (`(batch, classes)`, scored as their argmax).
        num_classes: Classification: number of classes. Defaults to `None`:
            the width of one-hot labels, else unknown (the output's width is
            checked against the training and validation streams' class ids
            only, and the report takes it from the test labels and
            predictions). Every class id must fit the output's width in any
            case (`DataError`).
        class_names: Classification: one name per class. Defaults to `"0"`,
            `"1"`, ... when `num_classes` is known.
        name: Short name for summaries. Defaults to `"stream"`.
        scaling: How `x` was scaled (see `tunekit.data`). Defaults to
            `UNSCALED`.
        labels: Optional `{"train" | "val" | "test": int array}` of every label
            (classification; in any order), e.g. an image folder's: enables the
            missing-class check and `class_weight`. Checked against the first
            training batch (its ids and size) and every split read whole here.
        definition: Optional `{"factory": "module:name", "kwargs": {...}}`:
            calling the factory with the (JSON-able) kwargs in another process
            returns an equal `StreamData`. Needed for `workers > 1`.

    Raises:
        DataError: A split is not a stream or yields no batch, never ends (`.repeat()`), is
            a PyDataset without `__len__`, or cannot be replayed, holds another number of
            batches than stated (a wrong `assert_cardinality`, a PyDataset's `__len__`
            beyond its batches), the splits mix kinds, a batch is
            not `(x, y)` or has no batch axis (a tf.data pipeline without
            `.batch(n)`), `fingerprint` is missing, `task` / `num_classes` /
            `class_names` are invalid, or the first training batch's labels
            contradict `num_classes` (one-hot width, class ids out of range), or
            `labels` do not match the batches read, or a split holds a constant
            regression target (per column, per output; as its passes read it here), or
            a split holds 1 sample (every such split named in one message), or a batch
            read here differs from the first training batch (`x` or `y` of another
            structure, `x` of another rank or, in validation or test, of another sample
            shape in an axis training does not vary in; labels of another form than a
            trailing axis of 1: `tunekit.data._stream_shapes`), or, with `num_classes`, a
            split holds a class id outside `0..num_classes - 1` (`_stream_ids`).

    Example:
    >>> data = StreamData(train_ds, val_ds, test_ds, fingerprint="rivers-v3")
    >>> CoarseToFine(build, data, objective="val_loss").run()
    """

    is_stream = True
    files: list[tuple[str, int, str]] | None = None  # an image folder's: `from_image_folder`
    # Makes the training stream anew (an image folder's): see `fresh_train`.
    reopen_train: Callable[[], Any] | None = None

    def __init__(
        self,
        train: Any,
        validation: Any,
        test: Any,
        *,
        fingerprint: str | None = None,
        task: str | None = None,
        num_classes: int | None = None,
        class_names: Sequence[str] | None = None,
        name: str = "stream",
        scaling: str = UNSCALED,
        labels: dict[str, np.ndarray] | None = None,
        definition: dict[str, Any] | None = None,
    ) -> None:
        kinds, splits = [], (train, validation, test)
        for split, value in (("train", train), ("val", validation), ("test", test)):
            if not is_stream(value):
                raise DataError(
                    f"StreamData: `{_SPLIT_NAMES[split]}` must be a batched tf.data.Dataset or a "
                    f"keras.utils.PyDataset, got {type(value).__name__}. Arrays go in "
                    "tunekit.data.Dataset.from_arrays."
                )
            kinds.append("tf.data" if is_tf_dataset(value) else "PyDataset")
        if len(set(kinds)) > 1:
            raise DataError(
                f"StreamData: the splits mix kinds (train {kinds[0]}, validation {kinds[1]}, "
                f"test {kinds[2]}); pass three of one kind so train+validation can be chained."
            )
        if not isinstance(fingerprint, str) or not fingerprint.strip():
            raise DataError(
                "StreamData needs fingerprint=: a name for this data that changes whenever the "
                "data does (e.g. fingerprint='rivers-v3'). tunekit cannot hash a tf.data "
                "pipeline or a PyDataset, and a resumed run must refuse changed data."
            )
        for split, value in (("train", train), ("val", validation), ("test", test)):
            refuse_infinite(value, _SPLIT_NAMES[split])
            refuse_unsized(value, _SPLIT_NAMES[split])
            if has_no_batch(value, _SPLIT_NAMES[split]):  # found after the search, before
                raise DataError(
                    f"StreamData: `{_SPLIT_NAMES[split]}` yields no batch; tunekit trains on "
                    "`train`, scores every trial on `validation` and the final model on "
                    "`test`: give each at least one (x, y) batch (check filters, take() and "
                    "the split sizes)."
                )
            check_py_length(value, _SPLIT_NAMES[split])  # a PyDataset's last batch
            if split != "train":  # scored: a dropped remainder is never scored
                warn_dropped_remainder(value, _SPLIT_NAMES[split])
        x, y = first_batch(train)
        check_batched(x, y)
        # Every batch the passes below read, against the first training batch's shapes.
        self._shapes = BatchShapes(x, y)
        own = (definition or {}).get("factory") == "tunekit.image_streams:image_folder_data"
        watch = (lambda s: None) if own else self._shapes.watch  # a folder's: not read
        # Splits of unknown or stated length: read whole once (counted, checked to replay, end
        # and hold the length stated: Keras silently cuts a longer one).
        read: dict[str, list[Any]] = {s: [] for s in _SPLIT_NAMES}  # their y, checked below
        # These passes serve the leak check (the first of validation's and test's two); the
        # training split's is read first (`tunekit.data._stream_shapes`).
        self._passes = {s: PassSum(s == "train", watch(s)) for s in _SPLIT_NAMES}
        counted: dict[str, int | None] = {}
        for s, v in zip(_SPLIT_NAMES, splits):
            counted[s] = read_whole(v, _SPLIT_NAMES[s], _keep_labels(read[s], self._passes[s]))
            if s == "train" and counted[s] is None and not own:  # the leak check's pass
                for batch in batches_of(train, _SPLIT_NAMES[s]):
                    self._passes[s].add(batch)
        read = {s: ys for s, ys in read.items() if counted[s] is not None}
        whole = {s for s in _SPLIT_NAMES if counted[s] is not None or (s == "train" and not own)}
        self._passes = {s: p for s, p in self._passes.items() if s in whole}
        self.train, self.validation, self.test = train, validation, test
        self._counted = {s: n for s, n in counted.items() if n is not None}
        # Keras weighs the test metrics by them; tunekit's intervals count samples once.
        self.test_weighted = weight_structure(test) is not None
        self.kind = kinds[0]
        self._fingerprint = fingerprint.strip()
        self.name = name
        self.scaling = scaling
        self.labels = check_stream_labels(labels, num_classes)
        self.definition = definition
        self.input_shape = shape_of(x)
        # Labels per output (a dict, list or tuple y): scored by Keras's metrics only.
        self.several_outputs = isinstance(y, (Mapping, list, tuple))
        # Their names, for objectives named `<output>_<metric>` (a list or tuple: unnamed).
        self.output_names = [str(k) for k in y] if isinstance(y, Mapping) else []
        arrays = list(y.values()) if isinstance(y, dict) else [y]
        _refuse_text_labels(list(y) if isinstance(y, (list, tuple)) else arrays)
        if task is None:
            if num_classes is not None or class_names is not None or labels is not None:
                task = CLASSIFICATION  # classes were named: the targets are labels
            elif all(a.dtype.kind in "iub" for a in arrays):
                task = CLASSIFICATION
            else:
                _refuse_ambiguous_targets(arrays)
                task = REGRESSION
        if task not in TASKS:
            raise DataError(f"task must be one of {list(TASKS)} or None, got {task!r}.")
        self.task = task
        if task == REGRESSION:
            if num_classes is not None or class_names or labels is not None:
                raise DataError(
                    'StreamData: task="regression" has no classes; leave num_classes, '
                    "class_names and labels None."
                )
            self.num_outputs: Any = (
                {k: 1 if np.ndim(v) == 1 else int(np.shape(v)[1]) for k, v in y.items()}
                if isinstance(y, dict)
                else (1 if np.ndim(y) == 1 else int(np.shape(y)[1]))
            )
            self.num_classes: int | None = None
            self.class_names: list[str] = []
            for split, ys in read.items():  # read whole anyway: constant targets are refused
                if self._passes[split].count != 1:  # 1 sample: with every split's size, below
                    refuse_constant_targets(ys, split)
            self._check_leaks()  # it reads each split's size (1 sample: refused)
            for split, kept in self._passes.items():  # the others, as their passes saw them
                if split not in read and (rows := kept.constant()) is not None:
                    refuse_constant_targets([rows if None not in rows else rows[None]], split)
            return
        self.num_outputs = None
        if class_names is not None and num_classes is None:
            num_classes = len(class_names)
        if num_classes is None and not isinstance(y, dict) and np.ndim(y) == 2:
            if np.shape(y)[1] > 1:  # one-hot rows: their width is the classes' number
                num_classes = int(np.shape(y)[1])
        if num_classes is not None and (
            isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2
        ):
            raise DataError(f"num_classes must be an int >= 2 or None, got {num_classes!r}.")
        self.num_classes = num_classes
        names = [str(c) for c in class_names] if class_names is not None else None
        if names is None and num_classes is not None:
            names = [str(i) for i in range(num_classes)]
        if names is not None and len(names) != num_classes:
            raise DataError(
                f"Got {len(names)} class_names for num_classes={num_classes}; pass one per class."
            )
        check_class_names(names or [])
        self.class_names = names or []
        if not isinstance(y, dict):
            _check_class_labels(y, num_classes)
        if self.labels is not None:  # the first training batch, and the splits read whole
            for split, ys in {"train": [y], **read}.items():
                check_labels_match(self.labels, split, ys)
        self._check_leaks()

    def _check_leaks(self) -> None:
        """Splits that share samples: a leaked score (`check_stream_splits`), checked last
        (the other checks say what is wrong with a batch). An image folder's splits are
        tunekit's own, by file: not read (its files' digests are compared instead:
        `from_image_folder`)."""
        own = (self.definition or {}).get("factory") == "tunekit.image_streams:image_folder_data"
        splits = {"train": self.train, "val": self.validation, "test": self.test}
        counts = check_stream_splits(splits, not own, self._passes, self._shapes.watch)
        # Every training class id (by output), read in that pass: checked against the model.
        self.train_classes = self._passes["train"].classes if "train" in self._passes else {}
        # The validation ids (by output) of its pass: each trial's outputs are checked
        # against them (`tunekit.steps.trial_checks.check_stream_ids`), nothing read again.
        val = self._passes.get("val")
        self.validation_classes = val.classes if val is not None and not val.ended else {}
        test = self._passes.get("test")  # the test ids, checked before any trial likewise
        self.test_classes = test.classes if test is not None and not test.ended else {}
        refuse_ids_beyond(self)  # with num_classes: every split's ids now
        refuse_one_training_class(self)  # with or without them
        # Each split's class ids (one output; None: not ids) and samples, as read: the check
        # of splits lacking classes (`tunekit.data._split_classes`), nothing more read.
        self.pass_classes = {
            s: (None if p.ended else p.classes.get(None), p.count) for s, p in self._passes.items()
        }
        # The validation stream's batch sizes, as read (`()`: not read).
        self.validation_batches = tuple(self._passes["val"].sizes) if "val" in self._passes else ()
        # The test stream's, for the report's note on a partial batch (`uneven_test_note`).
        self.test_batches = tuple(self._passes["test"].sizes) if "test" in self._passes else ()
        for read in self._passes.values():  # their row hashes served the leak check
            read.release()
        for split, count in counts.items():
            given = len(self.labels[split]) if self.labels else count
            if given != count:  # the report would count the labels' samples
                raise DataError(
                    f"StreamData: labels['{split}'] holds {given} class ids, and the "
                    f"{_SPLIT_NAMES[split]} stream {count} samples: pass the labels of the "
                    "stream's own samples (in any order)."
                )
        # Splits of 1 sample, all named at once, by the labels given or the passes read.
        sizes = {s: len(v) for s, v in (self.labels or {}).items()} or {
            s: p.count for s, p in self._passes.items() if not p.ended
        }
        refuse_one_sample(sizes, self.task, stream=True)
        # Labels (n, 1) beside training's (n,), or back, are taken (as Keras does), in
        # training's form: Keras fails on a model scored on both forms in turn.
        trained = self._shapes.labels_of("train")
        self.validation = labels_like(self.validation, trained, self._shapes.labels_of("val"))
        self.test = labels_like(self.test, trained, self._shapes.labels_of("test"))

    @classmethod
    def from_image_folder(cls, stream: Any, *, check_files: bool = True) -> StreamData:
        """A `StreamData` over an `tunekit.image_streams.ImageFolderStream`'s three splits.

        Every image is decoded once first (`ImageFolderStream.check_decodable`),
        after the split is checked for byte-identical copies of one class across splits
        (`tunekit.data._folder_leaks.check_folder_overlap`: refused as arrays of the same
        samples are), unless `check_files=False` (a worker: the chief checked the same
        files).

        Fingerprint: the folder's (files, sizes, contents, image size, colour
        mode, fractions, seed); definition: `stream.to_config()` (workers rebuild
        it); `files`: `[path, bytes, digest]`, kept by a run to name changes.
        """
        if check_files:  # copies across splits first: found from the digests, no decoding
            check_folder_overlap(stream)
            stream.check_decodable()
        data = cls(
            stream.dataset("train"),
            stream.dataset("val"),
            stream.dataset("test"),
            fingerprint=f"image-folder:{stream.fingerprint}",
            task=CLASSIFICATION,
            num_classes=stream.num_classes,
            class_names=stream.class_names,
            name=stream.root.name,
            scaling=stream.scaling,
            labels=dict(stream.labels),
            definition={
                "factory": "tunekit.image_streams:image_folder_data",
                "kwargs": {"config": stream.to_config()},
            },
        )
        data.files = stream.listing
        data.reopen_train = lambda: stream.dataset("train")
        return data

    @classmethod
    def from_definition(cls, definition: dict[str, Any]) -> StreamData:
        """Rebuilds a `StreamData` from its `definition` (in a worker process).

        Raises:
            DataError: The factory cannot be imported or does not return a `StreamData`.
        """
        module_name, _, attribute = str(definition.get("factory", "")).partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError, ValueError) as e:
            raise DataError(
                f"Cannot import the stream factory {definition.get('factory')!r} ({e})."
            ) from None
        data = factory(**definition.get("kwargs", {}))
        if not isinstance(data, StreamData):
            raise DataError(
                f"The stream factory {definition['factory']!r} returned "
                f"{type(data).__name__}, not a StreamData."
            )
        return data

    def fingerprint(self) -> str:
        """The data's fingerprint (see the module docstring for what it detects)."""
        return self._fingerprint

    def fresh_train(self) -> Any:
        """The training stream for one fit: made anew when this data can (an image folder).

        A `tf.data` shuffle with `reshuffle_each_iteration=True` draws each
        epoch's order from a generator the dataset object keeps, seeded by
        TensorFlow's global seed when the object was made: one object shared by
        every fit of a process gives a fit the orders after all the epochs
        before it, so a resumed run (a new process) trained its later trials and
        its final model on other orders than the same command run straight
        through. Made after the fit's `keras.utils.set_random_seed`, the order
        depends on the seed only. Your own streams are used as given.
        """
        return self.reopen_train() if self.reopen_train is not None else self.train

    def train_and_validation(self) -> tuple[Any, None]:
        """`(stream, None)`: train (`fresh_train`) then validation, chained without copying."""
        validation = with_weights_of(self.validation, self.train)  # batches alike
        train = self.fresh_train()
        if self.kind == "tf.data":
            return train.concatenate(validation), None
        return chain_py_datasets(train, validation), None

    def sample(self) -> Any:
        """`x` of the first training batch (for a check of the model's output)."""
        return first_batch(self.train)[0]

    def classes_missing_from_training(self) -> list[str]:
        """Classes in the validation or test labels but not in training (if labels are known)."""
        if self.task == REGRESSION or not self.labels:
            return []
        seen = set(np.unique(self.labels["train"]).tolist())
        other = np.unique(np.concatenate([self.labels["val"], self.labels["test"]])).tolist()
        names = lambda c: self.class_names[c] if c < len(self.class_names) else str(c)  # noqa: E731
        return [names(c) for c in other if c not in seen]

    def complete_classes(self, *label_arrays: np.ndarray) -> None:
        """Sets `num_classes` / `class_names` from labels seen, if they were unknown."""
        if self.task == CLASSIFICATION and self.num_classes is None:
            top = max((int(np.max(a)) for a in label_arrays if np.size(a)), default=1)
            self.num_classes = max(2, top + 1)
            self.class_names = [str(i) for i in range(self.num_classes)]

    def record_test(self, y_true: Any, y_pred: Any) -> None:
        """Keeps the test labels collected while predicting, for the report.

        Sets `y_test` (flat class ids for classification) and `x_test` (the
        first test batch's `x`, for sample images), and fills in
        `num_classes` from the labels and predictions if it was unknown.
        """
        self.y_test = (
            np.asarray(y_true).reshape(-1)
            if self.task == CLASSIFICATION and not isinstance(y_true, dict)
            else y_true
        )
        self.x_test = first_batch(self.test)[0]
        if self.task == CLASSIFICATION:
            self.complete_classes(self.y_test, np.asarray(y_pred))

    def summary(self) -> str:
        """One line, e.g. `"toonvision: 30 train / 6 validation / 6 test batches, ..."`."""
        counts = []
        for split, value in (("train", self.train), ("val", self.validation), ("test", self.test)):
            n = (
                len(self.labels[split])
                if self.labels
                else self._counted.get(split, _batches(value))
            )
            unit = "" if self.labels else " batches"
            counts.append(f"{n if n is not None else '?'}{unit} {_SPLIT_NAMES[split]}")
        if self.task == REGRESSION:
            ending = regression_ending(self.num_outputs)  # by output: class ids kept too
        else:
            ending = f"{self.num_classes if self.num_classes else 'unknown number of'} classes"
        return (
            f"{self.name} ({self.kind} stream): {' / '.join(counts)}, input "
            f"{self.input_shape}, {ending}"
        )

    def __repr__(self) -> str:
        return f"<StreamData {self.summary()}>"


def _keep_labels(into: list[Any], summed: PassSum | None = None) -> Callable[[Any], None]:
    """A `read_whole` callback appending each batch's `y` to `into` (and adding the batch to
    `summed`, if given)."""

    def keep(batch: Any) -> None:
        into.append(batch[1])
        if summed is not None:
            summed.add(batch)

    return keep


def _refuse_text_labels(arrays: list[Any]) -> None:
    """Refuses labels that are text (strings or bytes): Keras trains on numbers, and such a
    stream was taken as regression, every trial failing after the search began."""
    for array in arrays:
        values = np.asarray(array)
        if values.dtype.kind in "USO" and values.size:
            first = values.ravel()[0]
            if isinstance(first, (str, bytes)) or values.dtype.kind in "US":
                raise DataError(
                    f"StreamData: the first training batch's labels are text (e.g. {first!r}): "
                    "Keras trains on numbers. Encode them as class ids 0..K-1 in the pipeline "
                    "(e.g. .map with keras.layers.StringLookup(vocabulary=[...], "
                    "num_oov_indices=0)) or before it (sklearn's LabelEncoder), and pass "
                    "class_names=[...] in the ids' order."
                )


def _refuse_ambiguous_targets(arrays: list[Any]) -> None:
    """Refuses float targets of whole numbers only: class labels or quantities?

    `(batch,)` or `(batch, 1)`: class ids saved as floats, or a count;
    `(batch, k)`, k > 1: one-hot labels, or k targets. The first training
    batch is all a stream shows before training; as `tunekit.data.infer_task`
    does for arrays in the ambiguous cases, it does not guess.
    """
    for array in arrays:
        array = np.asarray(array)
        if array.dtype.kind != "f" or array.ndim > 2:
            continue
        finite = array[np.isfinite(array)]
        if not finite.size or np.any(finite != np.round(finite)):
            continue
        shown = _log.listed(
            np.unique(finite).tolist(), 6, form="{:g}".format, last=True, total="values"
        )
        what = (
            f'task="classification" for one-hot class labels; task="regression" for '
            f"{array.shape[1]} targets per sample."
            if array.ndim == 2 and array.shape[1] > 1
            else 'task="classification" (or num_classes=) for class ids saved as floats; '
            'task="regression" for a quantity.'
        )
        raise DataError(
            f"StreamData: the first training batch's targets have shape {array.shape} and "
            f"only whole-number values ({shown}): pass task= to say what they are. {what}"
        )


def _check_class_labels(y: Any, num_classes: int | None) -> None:
    """Refuses a first batch's labels that are not class ids or contradict `num_classes`."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:  # one-hot
        if num_classes is not None and y.shape[1] != num_classes:
            raise DataError(
                f"StreamData: the first training batch's labels are one-hot over {y.shape[1]} "
                f"classes, but num_classes={num_classes}: pass num_classes={y.shape[1]}, or "
                f"labels one-hot over {num_classes} classes."
            )
        if np.any((y < 0) | (y > 1)):  # e.g. integer counts, taken for labels by their dtype
            raise DataError(
                f"StreamData: the first training batch's targets have shape {y.shape} and hold "
                f"values outside [0, 1] ({y.min():g} to {y.max():g}): not one-hot class labels. "
                f'Pass task="regression" for {y.shape[1]} targets per sample.'
            )
        return
    if not y.size:
        return
    if y.dtype.kind not in "iub" and (not np.all(np.isfinite(y)) or np.any(y != np.round(y))):
        raise DataError(
            "StreamData: classification needs class ids 0..K-1 (or one-hot labels); the first "
            f"training batch's labels hold [{_log.listed(y.ravel()[:4].tolist(), 3)}]: map them "
            "to class "
            'ids, or pass task="regression" for a quantity.'
        )
    if y.min() < 0 or (num_classes is not None and y.max() >= num_classes):
        valid = f"0..{num_classes - 1} for num_classes={num_classes}" if num_classes else "0..K-1"
        raise DataError(
            f"StreamData: the first training batch holds class ids from {y.min():g} to "
            f"{y.max():g}, outside {valid}: number the classes from 0"
            + (", and pass their number." if num_classes else ".")
            + (
                f"{IGNORED_ROWS} E.g. ds.unbatch().filter(lambda x, y: y >= 0).batch(32)."
                if y.min() < 0
                else ""
            )
        )


def _batches(source: Any) -> int | None:
    try:
        n = len(source)
    except TypeError:
        return None
    return None if n is None or (isinstance(n, float) and math.isinf(n)) else int(n)
