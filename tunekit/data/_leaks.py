"""Splits that share samples: the scores would measure memory, not generalisation.

Refused (or warned of) when a `Dataset` or a `StreamData` is made, before any
training:

- **Arrays** (`check_array_overlap`, from `Dataset`, a `UserWarning`): every
  sample's row (`x` and `y` bytes, each array of a dict) is hashed (`row_hashes`:
  one vectorised pass, about 1 s for MNIST's 70 000 rows). Warned of: one `x`
  array passed as two splits, and a validation split with rows of the training
  split, or a test split with rows of the training and validation splits (the
  final model trains on both), at least 10% more of them than equal rows occur
  by nature, and more than chance gives (one-sided binomial test, p < 0.001:
  small splits vary). By nature (`_natural_share`): none where a feature is
  continuous (equal rows are then copies, as in a file of repeated rows), else
  as often as the rows of the split compared with (training; training and
  validation) repeat among themselves, or as the pooled rows dealt at random
  would match (3 binary features take 8 values: equal rows across splits are
  expected). Each 8-byte cell is mixed with
  its position (MurmurHash3's finalizer) before a sum per row, then mixed again
  (`pandas.util.hash_array`).
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
  (test) stream sharing samples with it (and with validation) as for arrays
  above is refused, as
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

import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from tunekit.data._row_hashes import leaves as _leaves
from tunekit.data._row_hashes import row_hashes
from tunekit.data._stream_labels import class_ids
from tunekit.errors import DataError

__all__ = ["PassSum", "check_array_overlap", "check_stream_splits", "row_hashes"]

_SPLIT_NAMES = {"train": "training", "val": "validation", "test": "test"}
# Share of a validation or test split's rows found in training from which it is warned of.
WARN_SHARE = 0.1


def check_array_overlap(xs: dict[str, Any], ys: dict[str, Any], given: dict[str, Any]) -> None:
    """Warns (`UserWarning`) of a `Dataset`'s splits (`xs`, `ys` keyed `"train"`, `"val"`,
    `"test"`; `given`: the `x` arrays as passed, before any conversion) that share samples:
    one `x` array passed as two splits, or a validation (test) split of which at least
    `WARN_SHARE` more of the rows are found in training (training and validation, which the
    final model trains on) than equal rows occur by nature (`_natural_share`). A warning,
    not an error, as tests and examples share rows on purpose.
    """
    hashes = {split: row_hashes(xs[split], ys[split]) for split in _SPLIT_NAMES}
    continuous = _continuous(xs["train"])  # once for both splits
    for split, earlier in (("val", ("train",)), ("test", ("train", "val"))):
        rows, name = hashes[split], _SPLIT_NAMES[split]
        seen = np.concatenate([hashes[e] for e in earlier])
        natural = _natural_share(continuous, seen, rows)
        said = next(
            (
                f"x_{e} and x_{split} are the same array"
                for e in earlier
                if len(rows) and given[e] is given[split]
            ),
            None,
        )
        found, share = _shared(rows, seen)
        where = " and ".join(_SPLIT_NAMES[e] for e in earlier)
        if said is None and _leaked(found, len(rows), natural):
            said = (
                f"{found} of the {len(rows)} samples of the {name} split ({share:.0%}) are "
                f"also in the {where} data (equal x and y)"
            )
        if said:
            warnings.warn(  # the caller's data to change: Python's warning, shown in any script
                f"{said[0].upper()}{said[1:]}: the {name} score is leaked (it measures "
                f"memory of the {where} data, not how the model does on new data). Pass "
                "samples kept apart (Dataset.from_arrays(x, y) splits them for you; pandas' "
                "drop_duplicates removes repeated rows before splitting).",
                UserWarning,
                stacklevel=4,
            )


# Below this one-sided binomial p-value, more samples are shared than nature gives.
LEAK_ALPHA = 1e-3


def _shared(rows: np.ndarray, seen: np.ndarray) -> tuple[int, float]:
    """How many of `rows` (row hashes) are in `seen`, and their share of `rows`."""
    found = int(np.isin(rows, seen).sum()) if len(rows) and len(seen) else 0
    return found, found / len(rows) if len(rows) else 0.0


def _leaked(found: int, count: int, natural: float) -> bool:
    """Whether `found` of `count` samples found in a reference split is a leak: at least
    `WARN_SHARE` of them, `WARN_SHARE` more than the `natural` share, and more than chance
    gives (one-sided binomial test at `natural`, p < `LEAK_ALPHA`: small splits of a few
    discrete features vary)."""
    from scipy import stats  # type: ignore[import-untyped]  # noqa: PLC0415 - slow to import

    share = found / count if count else 0.0
    if not found or share < WARN_SHARE or share < natural + WARN_SHARE:
        return False
    if natural <= 0:
        return True
    return float(stats.binomtest(found, count, natural, alternative="greater").pvalue) < LEAK_ALPHA


def _twin_share(hashes: np.ndarray) -> float:
    """The share of rows with an equal row elsewhere in `hashes`: a leave-one-out estimate
    of a new sample's chance to equal one of them (Good-Turing's coverage, 1 - singletons
    / rows), for a reference of the same size."""
    if len(hashes) < 2:
        return 0.0
    _, inverse, counts = np.unique(hashes, return_inverse=True, return_counts=True)
    return float((counts[inverse] > 1).mean())


def _natural_share(continuous: bool, seen: np.ndarray, rows: np.ndarray) -> float:
    """A new sample's chance to equal a row of a reference split by nature (`seen`: the
    reference's row hashes; `rows`: the split compared with it; `continuous`: whether a
    training feature is, `_continuous`). 0 when a feature is continuous (equal rows are
    then copies). Else the larger of the reference's `_twin_share` and `_pooled_share` (the
    reference alone says 0 when its rows are all distinct: a small or deduplicated
    training split of a few discrete features, whose values a new sample still hits)."""
    if continuous:
        return 0.0
    return max(_twin_share(seen), _pooled_share(seen, rows))


def _continuous(x: Any) -> bool:
    """Whether some feature of `x` (up to 2,000 samples, at least 20) is continuous:
    fractional values, more distinct ones than half the samples."""
    import pandas as pd  # noqa: PLC0415 - pandas is slow to import

    for leaf in _leaves(x):
        values = np.asarray(leaf)[:2000]
        if len(values) < 20 or values.dtype.kind != "f":
            continue
        values = values.reshape(len(values), -1)
        fractional = (values != np.round(values)).any(axis=0)
        if fractional.any():
            if (pd.DataFrame(values[:, fractional]).nunique() > len(values) / 2).any():
                return True
    return False


def _pooled_share(seen: np.ndarray, rows: np.ndarray) -> float:
    """The share of `rows` expected to equal a row of `seen` if the pooled rows had been
    dealt to the two at random (no leak): a value held `c` times, `k` of them dealt to
    `rows` (hypergeometric), counts `k` unless `k = c`; so `sum(c m / N - c P(k = c))`
    over the distinct values, divided by the `m` rows (`N` pooled)."""
    m, pooled = len(rows), len(seen) + len(rows)
    if not m or not len(seen):
        return 0.0
    counts = np.unique(np.concatenate([seen, rows]), return_counts=True)[1]
    sizes, values = np.unique(counts, return_counts=True)  # a few sizes: each computed once
    expected = 0.0
    for c, number in zip(sizes.tolist(), values.tolist(), strict=True):
        # P(k = c) = C(m, c) / C(N, c): every one of the c dealt to `rows`.
        alone = (
            math.exp(
                math.lgamma(m + 1)
                - math.lgamma(m - c + 1)
                - math.lgamma(pooled + 1)
                + math.lgamma(pooled - c + 1)
            )
            if c <= m
            else 0.0
        )
        expected += number * c * (m / pooled - alone)
    return expected / m


class PassSum:
    """`(samples, sum of the samples' hashes, sum of their labels' hashes)` of one pass over
    a stream, fed batch by batch (`add`; sums modulo 2**64: the same for any order of the
    samples). A batch that is not `(x, y, ...)` ends the sum (refused by the first-batch
    checks)."""

    def __init__(self) -> None:
        self.count, self.total, self.labels, self.ended = 0, 0, 0, False
        self.samples: list[np.ndarray] = []  # each batch's `(x, y)` row hashes
        self.sizes: list[int] = []  # each batch's samples
        # The class ids seen, by output (`None`: one output): whole-number labels only.
        self.classes: dict[str | None, set[int]] = {}

    def add(self, batch: Any) -> None:
        """Adds one batch's samples (nothing once a batch was not `(x, y, ...)`)."""
        if self.ended or not isinstance(batch, (tuple, list)) or len(batch) < 2:
            self.ended = True
            return
        rows = row_hashes(*batch)
        self.samples.append(row_hashes(batch[0], batch[1]))  # not weights: train may have
        self.sizes.append(len(rows))
        y = batch[1]
        for output, labels in y.items() if isinstance(y, Mapping) else [(None, y)]:
            ids = class_ids(labels)
            if ids is not None:
                self.classes.setdefault(output, set()).update(np.unique(ids).astype(int).tolist())
        self.count += len(rows)
        self.total = (self.total + int(rows.sum(dtype=np.uint64))) % 2**64
        self.labels = (self.labels + int(row_hashes(batch[1]).sum(dtype=np.uint64))) % 2**64

    def result(self) -> tuple[int, int, int]:
        """`(samples, hash sum, label hash sum)` of the batches added."""
        return self.count, self.total, self.labels

    def rows(self) -> np.ndarray:
        """The `(x, y)` row hash of every sample added (`row_hashes`), in the order read."""
        return np.concatenate(self.samples) if self.samples else np.zeros(0, np.uint64)


def _pass(source: Any, split: str) -> PassSum:
    """One whole pass over a stream, summed (`PassSum`)."""
    from tunekit.data._stream_lengths import batches_of

    summed = PassSum()
    for batch in batches_of(source, split):
        summed.add(batch)
        if summed.ended:
            break
    return summed


def check_stream_splits(
    splits: dict[str, Any], read: bool = True, passes: dict[str, PassSum] | None = None
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
    training pass read here is added to it.

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
    seen: dict[str, PassSum] = {}
    for split in ("val", "test"):
        name = _SPLIT_NAMES[split]
        given = (passes or {}).get(split)
        once = given if given is not None else _pass(splits[split], name)
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
    train = passes.get("train") if passes is not None else None
    if train is None:
        train = _pass(splits["train"], _SPLIT_NAMES["train"])
        if passes is not None:
            passes["train"] = train  # its class ids: checked against the model's output
    from tunekit.data._stream_batches import first_batch

    x = first_batch(splits["train"])[0]
    _refuse_trained_on(train.rows(), seen["val"].rows(), seen["test"].rows(), x)
    return {split: seen[split].count for split in seen}


def _refuse_trained_on(train: np.ndarray, val: np.ndarray, test: np.ndarray, x: Any) -> None:
    """Refuses a validation (test) stream of which at least `WARN_SHARE` more of the samples
    (`(x, y)` row hashes) are in the training stream's pass (training and validation: the
    final model trains on both) than by nature, beyond chance (`_leaked`); `x`: a batch
    of training inputs (`_natural_share`)."""
    if len(train) < 2:
        return
    continuous = _continuous(x)
    for split, rows, seen in (("val", val, train), ("test", test, np.concatenate([train, val]))):
        natural = _natural_share(continuous, seen, rows)
        found, share = _shared(rows, seen)
        if _leaked(found, len(rows), natural):
            name = _SPLIT_NAMES[split]
            where = "training stream" if split == "val" else "training and validation streams"
            raise DataError(
                f"StreamData: {found} of the {len(rows)} samples of the {name} stream "
                f"({share:.0%}) are also in the {where} (equal x and y; by nature "
                f"{natural:.0%} would be, as often as their samples repeat among "
                f"themselves): the {name} score is leaked (it "
                "measures memory, not how the model does on new data). The usual cause: the "
                "training split is taken from a stream shuffled on every pass, e.g. "
                "test = ds.take(k); train = ds.shuffle(n).skip(k): the shuffle before skip() "
                "moves test samples into training. Shuffle once before take/skip "
                "(ds.shuffle(n, seed=1, reshuffle_each_iteration=False)), or split first and "
                "shuffle the training split only; drop repeated samples before splitting, not "
                "from one split only."
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
