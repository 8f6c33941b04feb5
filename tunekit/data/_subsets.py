"""Seeded random subsets of one split's samples (`Dataset.subset`, the command line's `--quick`).

A split's first N samples are not a sample of it: data saved class by class
(or sorted by target) gives a subset of one class, or without the class a
split needs. So a subset is drawn at random, with a seed (the same seed gives
the same samples, so a rerun has the same data fingerprint and resumes):

- classification, one label array: stratified, each class kept in
  proportion (largest remainders), and at least one sample of every class
  of the split when `n` is at least the number of classes, taken from the
  largest classes. scikit-learn's stratified draws (`train_test_split(...,
  stratify=y)`) refuse a class of one sample and may leave a rare class out,
  which a training split must not lose; hence the counts here.
  With fewer samples asked than classes, no split can hold every class: a
  plain seeded random draw for validation or test, refused for training
  (a model cannot learn a class it never sees);
- regression, and dict targets (several outputs, as `Dataset.from_arrays`
  splits them): a plain seeded random draw.

The indices are returned sorted: the subset keeps the samples' order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from tunekit.data import _targets as tg
from tunekit.data._checks import _SPLITS, CLASSIFICATION, _is_int
from tunekit.data._notes import with_notes
from tunekit.data._split_sizes import made_by
from tunekit.errors import DataError


def subset_arrays(
    data: Any, num_train: int | None, num_val: int | None, num_test: int | None, seed: int
) -> dict[str, Any]:
    """`Dataset.subset`'s arrays: `{"x_train": ..., "y_train": ...}` for each split cut down.

    A split whose count is None, or at least its size, is left out (kept as it is).

    Raises:
        DataError: On a count that is not an int >= 0, a seed that is not an int >= 0,
            or a classification `num_train` below the training split's number of classes.
    """
    counts = dict(zip(_SPLITS, (num_train, num_val, num_test), strict=True))
    for split, n in counts.items():
        if n is not None and (not _is_int(n) or n < 0):
            raise DataError(f"num_{split} must be a non-negative int or None, got {n!r}.")
    if not _is_int(seed) or seed < 0:
        raise DataError(f"seed must be an int >= 0, got {seed!r}.")
    arrays = {}
    for split, n in counts.items():
        y = getattr(data, f"y_{split}")
        if split == "train" and n is not None and data.task == CLASSIFICATION:
            _check_every_class_fits(y, int(n))
        index = None if n is None else subset_indices(y, int(n), data.task, int(seed))
        if index is not None:
            arrays[f"x_{split}"] = tg.take(getattr(data, f"x_{split}"), index)
            arrays[f"y_{split}"] = tg.take(y, index)
    return arrays


def subset_indices(y: Any, n: int, task: str, seed: int) -> np.ndarray | None:
    """Sorted indices of a seeded random subset of `n` of the samples of `y`.

    Args:
        y: One split's targets: int class ids `(n,)` (classification), values,
            or a dict of arrays (several outputs).
        n: Samples to keep (>= 0).
        task: The Dataset's task; classification with one label array is
            stratified (see the module docstring).
        seed: Seed of the draw (>= 0); the same seed gives the same indices.

    Returns:
        int64 indices, shape `(n,)`, ascending; None when `n` is at least the
        split's size (the split is kept whole, unchanged).
    """
    size = len(next(iter(y.values()))) if isinstance(y, Mapping) else len(y)
    if n >= size:
        return None
    rng = np.random.default_rng(seed)
    if task != CLASSIFICATION or isinstance(y, Mapping):
        return np.sort(rng.choice(size, size=n, replace=False)).astype(np.int64)
    labels = np.asarray(y)
    classes, counts = np.unique(labels, return_counts=True)
    if n < len(classes):  # not every class can be kept: plain random
        return np.sort(rng.choice(size, size=n, replace=False)).astype(np.int64)
    keep = _class_counts(counts, n)
    chosen = [
        rng.choice(np.flatnonzero(labels == label), size=k, replace=False)
        for label, k in zip(classes.tolist(), keep.tolist(), strict=True)
    ]
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def _check_every_class_fits(y: Any, n: int) -> None:
    """Refuses a training subset of fewer samples than the split has classes: it cannot hold
    every class, and a run refuses a class missing from training (said late and as if the
    data lacked it)."""
    labels = np.asarray(y)
    if isinstance(y, Mapping) or n == 0 or n >= len(labels):  # 0: refused as empty
        return
    ids = labels.argmax(axis=-1) if labels.ndim == 2 and labels.shape[1] > 1 else labels
    classes = np.unique(ids).size
    if n < classes:
        raise DataError(
            f"num_train={n} is fewer than the {classes} classes of the training split: a "
            "subset that small cannot hold a sample of every class, and a model cannot learn "
            f"a class it never sees. Ask for at least num_train={classes}."
        )


def _class_counts(counts: np.ndarray, n: int) -> np.ndarray:
    """How many of each class to keep: `n` in all, in proportion to `counts` (largest
    remainders), at least 1 of each (`n >= len(counts)`), never more than a class has."""
    quota = counts * (n / counts.sum())
    keep = np.floor(quota).astype(np.int64)
    by_remainder = np.argsort(-(quota - keep), kind="stable")
    keep[by_remainder[: n - int(keep.sum())]] += 1
    for empty in np.flatnonzero(keep == 0):  # one of each class: from the largest counts
        keep[int(np.argmax(keep))] -= 1
        keep[empty] = 1
    return keep


def subset_of(
    data: Any, num_train: int | None, num_val: int | None, num_test: int | None, seed: int
) -> Any:
    """`Dataset.subset`: a copy of the `Dataset` `data` holding `subset_arrays`' samples,
    checked as any `Dataset` (a split of 1 sample refused, its remedy in `num_*=` words)."""
    with made_by("subset"):
        made = dataclasses.replace(data, **subset_arrays(data, num_train, num_val, num_test, seed))
    return with_notes(made, data.notes)  # what the loader said of the whole data
