"""Splits that share samples: the scores would measure memory, not generalisation.

Refused (`DataError`) when a `Dataset` or a `StreamData` is made, before any
training, by one rule (`tunekit.data._leak_rule.find_leaks`, which an image
folder's files follow too: `tunekit.data._folder_leaks`):

- **Arrays** (`check_array_overlap`, from `Dataset`): every sample's row (`x`
  and `y` bytes, each array of a dict) is hashed (`row_hashes`: one vectorised
  pass, about 1 s for MNIST's 70 000 rows). Refused: one `x` array passed as
  two splits, and a validation split with rows of the training split, or a
  test split with rows of the training and validation splits (the final model
  trains on both), at least 10% more of them than equal rows occur by nature,
  and more than chance gives (one-sided binomial test, p < 0.001: small splits
  vary). By nature: none where a feature is continuous (equal rows are then
  copies, as in a file of repeated rows), else as often as the rows of the
  split compared with (training; training and validation) repeat among
  themselves, or as the pooled rows dealt at random would match (3 binary
  features take 8 values: equal rows across splits are expected). Each 8-byte
  cell is mixed with its position (MurmurHash3's finalizer) before a sum per
  row, then mixed again (`pandas.util.hash_array`).
- **Streams** (`check_stream_splits`, from `StreamData`): the same stream
  object passed as two splits is refused; the validation and test streams are
  read twice each, and a split whose samples (an order-free sum of the row
  hashes, so a split that only reorders itself each pass, as
  `keras.utils.image_dataset_from_directory`'s do, is fine) differ between
  the passes is refused (a split of unknown length, read whole once to count it,
  is read once more). That is the idiom `full = ds.shuffle(n)` (whose
  `reshuffle_each_iteration` defaults to `True`), `test = full.take(k)`,
  `train = full.skip(k)`: each pass draws other samples into each split, which
  overlap training; on random labels the test accuracy reached 1.0, exit 0.
  Random augmentation in a validation or test stream's `.map` differs per
  pass too: scored on other inputs every epoch. A validation and a test stream
  of the same samples are refused as well. The training stream is read once
  (its samples may differ per pass: augmentation, a reshuffle): a validation
  (test) stream sharing samples with it (and with validation) is refused by
  the arrays' rule above (whether a feature is continuous: read from the
  first 2,000 samples of that pass, as from a `Dataset`'s first 2,000 training
  rows), as
  `test = ds.take(k); train = ds.shuffle(n).skip(k)` makes (the shuffle before
  `skip` moves test samples into training). Random augmentation in the
  training `map` hides such an overlap. Cost: two passes of the pipeline over
  each of the validation and test splits and one over training (no model),
  about one epoch's reading; a split of unknown length, read whole once to
  count it, is not read again for its first pass. An order-free comparison
  needs whole passes (a first batch differs in a split that only reorders
  itself).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from tunekit.data._leak_rule import (
    CONTINUITY_SAMPLES,
    REFERENCE,
    SPLIT_NAMES,
    blank_rows,
    continuous_of,
    feature_sample,
    find_leaks,
    leak_sentence,
)
from tunekit.data._nonfinite import nonfinite_rows, refuse_nonfinite
from tunekit.data._row_hashes import row_hashes
from tunekit.data._split_sizes import NPZ_LAYOUT, on_command_line, split_here
from tunekit.data._stream_labels import class_ids
from tunekit.data._targets import one_hot_ids
from tunekit.errors import DataError

__all__ = ["PassSum", "check_array_overlap", "check_stream_splits", "row_hashes"]

_SPLIT_NAMES = SPLIT_NAMES


def check_array_overlap(xs: dict[str, Any], ys: dict[str, Any], given: dict[str, Any]) -> None:
    """Refuses a `Dataset`'s splits (`xs`, `ys` keyed `"train"`, `"val"`, `"test"`; `given`:
    the `x` arrays as passed, before any conversion) that share samples: one `x` array
    passed as two splits, or a validation (test) split leaked by the one rule
    (`tunekit.data._leak_rule.find_leaks`: its rows found in training, or training and
    validation, beyond nature), as a stream or an image folder of the same samples is.

    Raises:
        DataError: Naming each leaked split, its share, and the fix.
    """
    hashes = {split: row_hashes(xs[split], ys[split]) for split in SPLIT_NAMES}
    where = {"val": "training data", "test": "training and validation data"}
    leaks = {
        leak.split: leak_sentence(
            leak, samples="samples", unit="split", where=where[leak.split], equal="equal x and y"
        )
        for leak in find_leaks(
            hashes,
            lambda: continuous_of(feature_sample(xs["train"])),
            np.concatenate([hashes[s][blank_rows(xs[s])] for s in ("train", "val")]),
        )
    }
    for split, earlier in REFERENCE.items():
        for e in earlier:  # one array as two splits: said so, whatever its rows
            if len(hashes[split]) and given[e] is given[split]:
                leaks[split] = (
                    f"x_{e} and x_{split} are the same array: the {SPLIT_NAMES[split]} score "
                    f"is leaked (it measures memory of the {where[split]}, not how the model "
                    "does on new data)."
                )
                break
    if leaks:
        said = " ".join(leaks[s][0].upper() + leaks[s][1:] for s in REFERENCE if s in leaks)
        splits = (
            f"pass {NPZ_LAYOUT} as --data"
            if on_command_line()
            else "Dataset(x_train, y_train, x_val, y_val, x_test, y_test)"
        )
        fix = (
            "The data holds repeated samples, which the random split dealt to several splits: "
            "drop repeated samples before splitting, not from one split only"
            if split_here([s for s in REFERENCE if s in leaks])
            else "Your splits share samples: drop them from the later split, or drop repeated "
            "samples before splitting"
        )
        raise DataError(
            f"{said} {fix} (pandas' drop_duplicates); if they are repeated measurements of one "
            "subject, keep each subject's in one split (scikit-learn's GroupShuffleSplit, then "
            f"{splits})."
        )


class PassSum:
    """`(samples, sum of the samples' hashes, sum of their labels' hashes)` of one pass over
    a stream, fed batch by batch (`add`; sums modulo 2**64: the same for any order of the
    samples). A batch that is not `(x, y, ...)` ends the sum (refused by the first-batch
    checks)."""

    def __init__(self, features: bool = False, watch: Callable[[Any], None] | None = None) -> None:
        self.count, self.total, self.labels, self.ended = 0, 0, 0, False
        # Samples whose inputs, targets, sample weights hold NaN or infinity (`nonfinite_rows`).
        self.nonfinite = {"x": 0, "y": 0, "sample weights": 0}
        self.watch = watch  # called with each batch first (its shapes: `_stream_shapes`)
        self.samples: list[np.ndarray] = []  # each batch's `(x, y)` row hashes
        self.blank: list[np.ndarray] = []  # the row hashes of blank samples (`blank_rows`)
        self.sizes: list[int] = []  # each batch's samples
        # The class ids seen, by output (`None`: one output): whole-number labels only.
        self.classes: dict[str | None, set[int]] = {}
        # One-hot rows' class ids and their samples, by output (`refuse_one_training_class`).
        self.hot: dict[str | None, tuple[set[int], int]] = {}
        # With `features` (a training pass): its first inputs' `feature_sample`, by batch.
        self.features: list[list[np.ndarray]] | None = [] if features else None
        self._kept = 0
        # Each output's first target row (flat) and which of its columns vary after it:
        # a regression stream's constant targets, known without keeping them (`constant`).
        self._first: dict[str | None, np.ndarray] = {}
        self._varies: dict[str | None, np.ndarray] = {}

    def add(self, batch: Any) -> None:
        """Adds one batch's samples (nothing once a batch was not `(x, y, ...)`)."""
        if self.ended or not isinstance(batch, (tuple, list)) or len(batch) < 2:
            self.ended = True
            return
        if self.watch is not None:
            self.watch(batch)
        rows = row_hashes(*batch)
        self.samples.append(row_hashes(batch[0], batch[1]))  # not weights: train may have
        blank = blank_rows(batch[0])
        if blank.any() and len(blank) == len(self.samples[-1]):
            self.blank.append(self.samples[-1][blank])  # possible atoms (`find_leaks`)
        self.sizes.append(len(rows))
        y = batch[1]
        for output, labels in y.items() if isinstance(y, Mapping) else [(None, y)]:
            self._follow(output, labels)
            ids = class_ids(labels)
            if ids is not None:
                self.classes.setdefault(output, set()).update(np.unique(ids).astype(int).tolist())
            elif (hot := one_hot_ids(labels, smoothed=True)) is not None:
                seen, held = self.hot.get(output, (set(), 0))
                self.hot[output] = (seen | set(np.unique(hot[0]).tolist()), held + len(hot[0]))
        if self.features is not None and self._kept < CONTINUITY_SAMPLES:
            self.features.append(feature_sample(batch[0], CONTINUITY_SAMPLES - self._kept))
            self._kept += min(len(rows), CONTINUITY_SAMPLES - self._kept)
        for part, values in zip(self.nonfinite, batch, strict=False):
            self.nonfinite[part] += nonfinite_rows(values)
        self.count += len(rows)
        self.total = (self.total + int(rows.sum(dtype=np.uint64))) % 2**64
        self.labels = (self.labels + int(row_hashes(batch[1]).sum(dtype=np.uint64))) % 2**64

    def _follow(self, output: str | None, labels: Any) -> None:
        """Notes which columns of `output`'s targets `labels` differ from its first row."""
        if isinstance(labels, (list, tuple)):  # unnamed outputs: not followed
            return
        flat = np.asarray(labels)
        if flat.ndim == 0 or not len(flat):
            return
        flat = flat.reshape(len(flat), -1)
        first = self._first.setdefault(output, flat[0])
        if first.shape[0] != flat.shape[1]:  # targets of varying width: not followed
            self._first.pop(output)
            self._varies.pop(output, None)
            return
        seen = self._varies.get(output, np.zeros(flat.shape[1], bool))
        self._varies[output] = seen | np.any(flat != first, axis=0)

    def constant(self) -> dict[str | None, np.ndarray] | None:
        """Two target rows per output (`None`: one output) that vary in exactly the
        columns the pass's targets vary in (a constant column: equal), or None when none
        is constant or the pass ended: enough to refuse, and say, constant targets."""
        if self.ended or self.count < 2 or not any((~v).any() for v in self._varies.values()):
            return None
        return {
            k: np.stack([f := self._first[k].astype(float), f + v]) for k, v in self._varies.items()
        }

    def result(self) -> tuple[int, int, int]:
        """`(samples, hash sum, label hash sum)` of the batches added."""
        return self.count, self.total, self.labels

    def rows(self) -> np.ndarray:
        """The `(x, y)` row hash of every sample added (`row_hashes`), in the order read."""
        return np.concatenate(self.samples) if self.samples else np.zeros(0, np.uint64)

    def continuous(self) -> bool:
        """Whether a feature of the first inputs added is continuous (`continuous_of`, on
        the `feature_sample` kept: a pass made with `features`)."""
        batches = self.features or []
        return continuous_of(
            [np.concatenate(parts) for parts in zip(*batches, strict=True)] if batches else []
        )

    def release(self) -> None:
        """Drops the row hashes and inputs kept for the leak check."""
        self.samples.clear()
        self.blank.clear()
        if self.features is not None:
            self.features.clear()


def _pass(
    source: Any, split: str, features: bool = False, watch: Callable[[Any], None] | None = None
) -> PassSum:
    """One whole pass over a stream, summed (`PassSum`; `features`, `watch`: as it takes)."""
    from tunekit.data._stream_lengths import batches_of

    summed = PassSum(features, watch)
    for batch in batches_of(source, split):
        summed.add(batch)
        if summed.ended:
            break
    return summed


def check_stream_splits(
    splits: dict[str, Any],
    read: bool = True,
    passes: dict[str, PassSum] | None = None,
    watch: Callable[[str], Callable[[Any], None] | None] | None = None,
) -> dict[str, int]:
    """Refuses streams (`splits` keyed `"train"`, `"val"`, `"test"`) that share samples:
    one object passed as two splits, a validation or test stream whose samples differ
    between two passes, validation and test streams of the same samples, or a validation
    (test) stream whose samples are in the training stream (`_refuse_trained_on`). `read=False`
    (splits tunekit made itself from file lists: an image folder's) skips the passes.
    Between the two passes every PyDataset's `on_epoch_end` is called, as Keras calls it
    after each epoch (three PyDatasets over one permutation that training reshuffles
    there draw other samples into each split). `passes` (by split) are first passes already
    read (a split of unknown length is read whole once to count it): not read again; the
    training pass read here is added to it. `watch(split)`, if given, makes the callable
    each batch of a split's first pass read here is given to (its shapes are checked:
    `tunekit.data._stream_shapes.BatchShapes.watch`); the training pass is read first.

    Returns:
        The samples of the validation and test passes (`{"val": n, "test": n}`; `{}`
        when not read).

    Raises:
        DataError: Naming the split(s), why the scores would be leaked, and the fix.
    """
    names = list(splits)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            if splits[first] is splits[second]:
                one, other = _SPLIT_NAMES[first], _SPLIT_NAMES[second]
                why = (
                    "the model would be chosen on the data it is tested on"
                    if first == "val"
                    else f"the {other} score would measure memory of the {one} data"
                )
                raise DataError(
                    f"StreamData: the same stream object is passed as the {one} and the "
                    f"{other} split: {why}, not how the model does on new data. Pass three "
                    "streams of separate samples, e.g. ds.take(k) / ds.skip(k) of a dataset "
                    "shuffled once (shuffle(n, seed=1, reshuffle_each_iteration=False))."
                )
    if not read:
        return {}
    watching: Callable[[str], Callable[[Any], None] | None] = watch or (lambda split: None)
    train = passes.get("train") if passes is not None else None
    if train is None:  # first: the axes its batches vary in are known before the others'
        train = _pass(splits["train"], _SPLIT_NAMES["train"], True, watching("train"))
        if passes is not None:
            passes["train"] = train  # its class ids: checked against the model's output
    seen: dict[str, PassSum] = {}
    for split in ("val", "test"):
        name = _SPLIT_NAMES[split]
        given = (passes or {}).get(split)
        once = given if given is not None else _pass(splits[split], name, watch=watching(split))
        for each in splits.values():  # as Keras ends an epoch: a PyDataset may reshuffle
            if hasattr(each, "on_epoch_end"):
                each.on_epoch_end()
        before, after = once.result(), _pass(splits[split], name).result()
        if before != after:
            raise DataError(_changing(name, before, after))
        seen[split] = once
        if passes is not None:
            passes.setdefault(split, once)  # its batch sizes: see `StreamData`
    if seen["val"].count and seen["val"].result() == seen["test"].result():
        raise DataError(
            f"StreamData: the validation and test streams hold the same {seen['val'].count} "
            "samples: the model chosen on the validation score would be tested on the same "
            "data, and its test score be too good. Pass a test stream of samples kept apart "
            "from training and validation."
        )
    for split, summed in {"train": train, **seen}.items():
        refuse_nonfinite(_SPLIT_NAMES[split], summed.nonfinite, summed.count)
    _refuse_trained_on({"train": train, **seen})
    return {split: seen[split].count for split in seen}


def _refuse_trained_on(passes: dict[str, PassSum]) -> None:
    """Refuses a validation (test) stream whose samples are in the training stream's pass
    (training and validation: the final model trains on both) beyond nature, by the rule
    arrays and image folders follow (`find_leaks`; continuous features read from the
    training pass's first samples, as a `Dataset`'s from its first training rows)."""
    hashes = {split: read.rows() for split, read in passes.items()}
    where = {"val": "training stream", "test": "training and validation streams"}
    said = [
        leak_sentence(
            leak, samples="samples", unit="stream", where=where[leak.split], equal="equal x and y"
        )
        for leak in find_leaks(
            hashes,
            passes["train"].continuous,
            np.concatenate([*passes["train"].blank, *passes["val"].blank, np.zeros(0, np.uint64)]),
        )
    ]
    if said:
        raise DataError(
            f"StreamData: {' '.join(said)} Two usual causes: samples repeated in the data "
            "before it was split (drop them before splitting, not from one split only), or a "
            "training split taken from a stream shuffled on every pass, e.g. "
            "test = ds.take(k); train = ds.shuffle(n).skip(k): the shuffle before skip() "
            "moves test samples into training. Shuffle once before take/skip "
            "(ds.shuffle(n, seed=1, reshuffle_each_iteration=False)), or split first and "
            "shuffle the training split only."
        )


def _changing(name: str, first: tuple[int, int, int], second: tuple[int, int, int]) -> str:
    """Why a `name` split whose passes read `first` and `second` (see `_pass`) is refused."""
    if first[0] != second[0]:
        found = f"{first[0]} samples on one pass, {second[0]} on the next"
    elif first[2] == second[2]:
        found = (
            "the same labels but other inputs on a second pass (random augmentation? labels "
            "paired with other inputs on each pass, as zip(x, y.shuffle(n)) does?)"
        )
    else:
        found = "other samples on a second pass"
    return (
        f"StreamData: the {name} stream yields {found}. Keras reads it anew every epoch of "
        "every trial. The usual cause: it is carved out of one shuffled stream, e.g. "
        "full = ds.shuffle(n); test = full.take(k); train = full.skip(k): shuffle() "
        "reshuffles on every pass (reshuffle_each_iteration=True, the default), so each pass "
        f"puts other samples in each split, and the {name} samples overlap the training "
        f"split: the {name} score is leaked (on random labels a test accuracy of 1.0). Shuffle "
        "once, before take/skip: ds.shuffle(n, seed=1, reshuffle_each_iteration=False); or "
        "split first and shuffle the training split only. Random augmentation in the "
        f"{name} stream's map (tf.image.random_*, keras.layers.Random*) also changes it per "
        "pass, so each epoch is scored on other inputs: augment the training split only."
    )
