"""Deterministic train / validation / test splits of sample indices."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tunekit.data._checks import _SPLITS
from tunekit.errors import DataError


def _stratified_split(
    y: np.ndarray, val_fraction: float, test_fraction: float, seed: int, names: Sequence[str]
) -> dict[str, np.ndarray]:
    """Per class: shuffle, take test then validation counts; returns shuffled indices."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {split: [] for split in _SPLITS}
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        n = len(members)
        n_test = max(1, round(n * test_fraction)) if test_fraction > 0 else 0
        n_val = max(1, round(n * val_fraction)) if val_fraction > 0 else 0
        while n - n_test - n_val < 1 and max(n_test, n_val) > 1:
            if n_test >= n_val:
                n_test -= 1
            else:
                n_val -= 1
        n_train = n - n_test - n_val
        if n_train < 1:
            name = names[label] if label < len(names) else str(label)
            raise DataError(
                f"Class {name!r} has {n} sample(s): split {max(n_train, 0)} train / "
                f"{n_val} validation / {n_test} test leaves a split without it. "
                "Add samples (>= 3 per class when both fractions are > 0) or set "
                "a fraction to 0."
            )
        parts["test"].append(members[:n_test])
        parts["val"].append(members[n_test : n_test + n_val])
        parts["train"].append(members[n_test + n_val :])
    return {
        split: rng.permutation(np.concatenate(chunks)) if chunks else np.empty(0, np.int64)
        for split, chunks in parts.items()
    }


def _random_split(
    n: int, val_fraction: float, test_fraction: float, seed: int
) -> dict[str, np.ndarray]:
    """A seeded split without strata (regression, several outputs): returns shuffled indices.

    Counts are `round(n * fraction)` (at least 1 when the fraction is > 0), taken
    with scikit-learn's `train_test_split`; at least one sample must remain for
    training.
    """
    from sklearn.model_selection import train_test_split

    n_test = max(1, round(n * test_fraction)) if test_fraction > 0 else 0
    n_val = max(1, round(n * val_fraction)) if val_fraction > 0 else 0
    if n - n_test - n_val < 1:
        raise DataError(
            f"{n} sample(s) split {n_val} validation / {n_test} test leave none to "
            "train on. Add samples or lower validation_fraction / test_fraction."
        )
    rest = np.arange(n)
    parts = {"test": rest[:0], "val": rest[:0]}
    for split, count in (("test", n_test), ("val", n_val)):
        if count:
            rest, parts[split] = train_test_split(
                rest, test_size=count, random_state=seed, shuffle=True
            )
    return {"train": rest, "val": parts["val"], "test": parts["test"]}
