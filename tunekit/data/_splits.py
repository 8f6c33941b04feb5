"""Deterministic train / validation / test splits of sample indices.

`min_per_class` is the one number of samples a class needs for a stratified
split to put it in every split it makes; `per_class_split` is the split that
does so from that number on (each class shuffled, its own shares rounded, at
least one in each split). Arrays and CSVs are split with it; an image folder
too when scikit-learn's stratified split, which rounds each split's size over
the whole folder, would leave a small class out (`tunekit.data._folders`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tunekit import _log
from tunekit.data._checks import _SPLITS
from tunekit.data._metadata import CLI_OWN_SPLITS
from tunekit.data._notes import warn_data
from tunekit.errors import DataError, said_as


def min_per_class(val_fraction: float, test_fraction: float) -> int:
    """The fewest samples of a class a stratified split puts in every split it makes.

    One per split: training, plus validation and test when their fraction is
    above 0 (3 at the defaults, 2 with a fraction of 0). `per_class_split` gives
    a class of that many or more at least one sample in each split, for any
    fractions; the checks of arrays and of image folders, and their messages'
    "at least N each", use this number.
    """
    return 1 + (val_fraction > 0) + (test_fraction > 0)


def _stratified_split(
    y: np.ndarray, val_fraction: float, test_fraction: float, seed: int, names: Sequence[str]
) -> dict[str, np.ndarray]:
    """Per class: shuffle, take test then validation counts; returns shuffled indices."""
    labels, counts = np.unique(y, return_counts=True)
    needed = min_per_class(val_fraction, test_fraction)
    short = [(label, n) for label, n in zip(labels, counts, strict=True) if n < needed]
    if short:
        used = ["train"] + ["validation"] * (val_fraction > 0) + ["test"] * (test_fraction > 0)
        splits = ", ".join(used[:-1]) + " and " + used[-1]
        listed = _log.listed(
            short,
            5,
            more=True,
            form=lambda s: (
                f"{names[s[0]] if s[0] < len(names) else str(s[0])!r} "
                f"({_log.count(s[1], 'sample')})"
            ),
        )
        python = (
            "(from Python, a test set of your own, x_test= / y_test=, "
            "or validation_fraction=0 with cv=K, which scores trials on folds of "
            "train+validation, lowers the need by one each, though the K folds need K "
            "samples of each class in train+validation)"
        )
        raise said_as(
            DataError(
                f"{_log.count(len(short), 'class', plural='classes')} of {len(labels)} "
                f"{'has' if len(short) == 1 else 'have'} fewer than {needed} samples: "
                f"{listed}. A stratified split puts every class in the {splits} splits, so "
                f"each needs at least {needed}. Add samples of those classes or drop them "
                f"{python}. If the targets are quantities rather than class ids, use "
                "task='regression'."
            ),
            cli_words={python: f"(or {CLI_OWN_SPLITS})"},
        )
    split = per_class_split(y, val_fraction, test_fraction, seed)
    warn_if_raised(split, {"val": val_fraction, "test": test_fraction}, len(labels))
    return split


def per_class_split(
    y: np.ndarray, val_fraction: float, test_fraction: float, seed: int
) -> dict[str, np.ndarray]:
    """Indices per split, each class split on its own; every split's indices shuffled.

    With one generator `numpy.random.default_rng(seed)`, for each class in
    sorted order: `rng.permutation` of its indices, the first
    `max(1, round(n * test_fraction))` to test, the next
    `max(1, round(n * val_fraction))` to validation (a fraction of 0 takes
    none), fewer (down to 1) if none would be left to train on, the rest to
    training; then each split's indices are shuffled with `rng.permutation`
    (train, validation, test). A class of at least `min_per_class` samples
    has at least one in each split; the caller checks the counts.

    Returns:
        `{"train" | "val" | "test": int64 index array}`.
    """
    labels = np.unique(y)
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {split: [] for split in _SPLITS}
    for label in labels:
        members = rng.permutation(np.flatnonzero(y == label))
        n = len(members)
        n_test = max(1, round(n * test_fraction)) if test_fraction > 0 else 0
        n_val = max(1, round(n * val_fraction)) if val_fraction > 0 else 0
        while n - n_test - n_val < 1 and max(n_test, n_val) > 1:
            if n_test >= n_val:
                n_test -= 1
            else:
                n_val -= 1
        parts["test"].append(members[:n_test])
        parts["val"].append(members[n_test : n_test + n_val])
        parts["train"].append(members[n_test + n_val :])
    return {
        split: rng.permutation(np.concatenate(chunks)) if chunks else np.empty(0, np.int64)
        for split, chunks in parts.items()
    }


_FIX = "add samples, merge rare classes, or give a test set (x_test= / y_test=) or " + (
    "validation_fraction=0 with cv=K"
)


def warn_if_raised(
    split: dict[str, np.ndarray], asked: dict[str, float], classes: int, fix: str = _FIX
) -> None:
    """Warns when one sample per class in validation and test made either split over 5
    points larger than asked (many classes of few samples each); `fix` ends it."""
    total = sum(len(indices) for indices in split.values())
    shares = {name: len(split[name]) / total for name in asked}
    raised = [name for name, fraction in asked.items() if shares[name] > fraction + 0.05]
    if not raised or not total:
        return
    said = ", ".join(
        f"{'validation' if name == 'val' else name} {len(split[name])} "
        f"({shares[name]:.0%}, asked {asked[name]:.0%})"
        for name in raised
    )
    warn_data(  # the caller's data to change: Python's warning, shown in any script
        f"The stratified split puts at least one sample of each of the {classes} classes "
        f"in validation and in test: of {total} samples that made {said}, and left "
        f"{len(split['train'])} ({len(split['train']) / total:.0%}) to train on. For the "
        f"fractions asked, {fix}."
    )


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
        python = "lower validation_fraction / test_fraction"
        raise said_as(
            DataError(
                f"{n} sample(s) split {n_val} validation / {n_test} test leave none to "
                f"train on. Add samples or {python}."
            ),
            cli_words={python: CLI_OWN_SPLITS},
        )
    rest = np.arange(n)
    parts = {"test": rest[:0], "val": rest[:0]}
    for split, count in (("test", n_test), ("val", n_val)):
        if count:
            rest, parts[split] = train_test_split(
                rest, test_size=count, random_state=seed, shuffle=True
            )
    return {"train": rest, "val": parts["val"], "test": parts["test"]}
