"""Validation and test splits too small to score, and each refusal's remedy by the call
that made the splits.

A validation split of 1 sample chooses the model on one prediction, and a test split of
1 sample gives an undefined R2 (printed as nan) and an accuracy of 0 or 1; a constant
regression split (`_metadata.refuse_constant`) has an undefined R2 too. Every way data
arrives meets these checks in `Dataset`, so the rule is one; what the message tells the
user to do depends on who made the splits (`made_by`): `Dataset(...)`'s splits and a
file's `x_val` / `x_test` are the user's own; `Dataset.from_arrays` and `load_csv` split
by fractions (a seed may help a constant split, unless nearly all targets are equal);
`load_npz` splits validation by `validation_size` (so `x_train` needs 4 rows, 2 per
split, and `_npz_dataset` asks this rule before it splits); the command line has none of these
keywords (a CSV is split 70 / 15 / 15 with seed 0; a .npz's validation is a sixth).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from tunekit import _log
from tunekit.data import _targets as tg
from tunekit.errors import DataError

__all__ = [
    "made_inside",
    "check_split_sizes",
    "on_command_line",
    "split_here",
    "constant_remedy",
    "made_by",
    "refuse_one_sample",
    "refuse_too_few_to_split",
]

_WHAT = {"train": "training", "val": "validation", "test": "test"}
_MADE: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "tunekit_split_maker", default=None
)
# The call's own words for a split it was given whole, by split.
_GIVEN = {
    "Dataset": {"val": "x_val= / y_val=", "test": "x_test= / y_test="},
    "from_arrays": {"test": "x_test= / y_test="},
    "load_csv": {},
    "cli_csv": {},
    "load_npz": {"val": "the file's x_val / y_val", "test": "the file's x_test / y_test"},
    "cli_npz": {"val": "the file's x_val / y_val", "test": "the file's x_test / y_test"},
    "StreamData": {"val": "a validation= stream", "test": "a test= stream"},
}
NPZ_LAYOUT = "an .npz of your own splits (x_train, y_train, x_val, y_val, x_test, y_test)"


@contextlib.contextmanager
def made_by(
    call: str, y: Any = None, *, val: float | None = None, test: float | None = None
) -> Iterator[None]:
    """Inside: the splits a `Dataset` checks were made by `call` (the outermost call's
    name is kept: `load_csv` calls `from_arrays`): `y` all the targets it split, `val` /
    `test` the fraction it split off as that split (`load_npz`: `val` the
    `validation_size`); None or 0: the split was given whole (or is empty)."""
    outer = _MADE.get() or {}
    details = {"y": y, "val": val, "test": test}
    token = _MADE.set({**outer, **details, "call": outer.get("call", call)})
    try:
        yield
    finally:
        _MADE.reset(token)


def made_inside() -> bool:
    """Whether a loader (`load_csv`, `load_npz`, the command line) is making the arrays or
    `Dataset` being checked, not the user's own call."""
    return _MADE.get() is not None


def _made(info: Mapping[str, Any], split: str) -> bool:
    return bool(info.get(split))


def _maker() -> dict[str, Any]:
    return _MADE.get() or {"call": "Dataset"}


def split_here(splits: Sequence[str]) -> bool:
    """Whether every split of `splits` (`"val"`, `"test"`) being checked was drawn at random
    by tunekit (`from_arrays`, `load_csv`, `load_npz`'s `validation_size`, the command
    line's files), not given whole."""
    info = _maker()
    return info["call"] != "StreamData" and all(_made(info, s) for s in splits)


def on_command_line() -> bool:
    """Whether the splits being checked come from the command line's `--data` file."""
    return str(_maker()["call"]).startswith("cli_")


def _sizes(ys: Mapping[str, Any]) -> dict[str, int]:
    return {s: tg.length(ys[s], f"y_{s}") for s in ("train", "val", "test")}


def _needed_rows(fraction: float) -> int:
    """The fewest samples whose `round(n * fraction)` split (as `_random_split`) is >= 2."""
    return next(n for n in range(2, 10_000) if round(n * fraction) >= 2)


def check_split_sizes(ys: Mapping[str, Any], task: str, class_names: Any = None) -> None:
    """Refuses a split of exactly 1 sample, for any `task`: a model learns nothing from
    one training sample (its one regression target is constant), and the score of a
    1-sample validation or test split (a 1-sample R2 is undefined, an accuracy is 0 or 1)
    cannot choose a model or judge it. An empty validation or test split is not used
    (e.g. the test of a cv run) and is left alone. Classes (`ys`' class ids, named by
    `class_names` when given) of one label only are said first: more samples would not
    help them.

    Raises:
        DataError: Naming every split of 1 sample (one message: one fix suffices), the
            split sizes, what cannot be done, and what to do with the call that made
            the splits; or the one class every label is.
    """
    if task == "classification":
        arrays = [a for s in ("train", "val", "test") for a in tg.arrays_of(ys[s])]
        labels = np.concatenate([np.ravel(a) for a in arrays]) if arrays else np.array([])
        if labels.size and np.unique(labels).size == 1:
            from tunekit.data._classes import one_value  # noqa: PLC0415 - it imports tg

            only, names = labels[0], list(class_names or ())
            named = names[int(only)] if 0 <= int(only) < len(names) else None
            raise DataError(one_value("y", only, labels.size, named))
    refuse_one_sample(_sizes(ys), task)


def refuse_one_sample(sizes: Mapping[str, int], task: str, stream: bool = False) -> None:
    """Refuses the splits of exactly 1 sample among `sizes` (`"train"`, `"val"`, `"test"`
    -> samples), all named in one message (see `check_split_sizes`). `stream`: the
    splits are a `StreamData`'s streams (their sizes as read when it was made).

    Raises:
        DataError: See `check_split_sizes`.
    """
    ones = [s for s in ("train", "val", "test") if sizes.get(s) == 1]
    if not ones:
        return
    info = {"call": "StreamData"} if stream else _maker()
    clauses = []
    if "train" in ones:
        clauses += [
            "a model cannot learn from one sample",
            "its one target is constant"
            if task == "regression"
            else "it holds one class of the several a classifier needs",
        ]
    if "val" in ones:
        clauses.append("the validation score chooses the hyperparameters and the epochs")
    if "test" in ones:
        clauses.append("the test score is the run's result")
    if "val" in ones or "test" in ones:
        clauses.append(
            "R2 is undefined on 1 sample (it would print as nan)"
            if task == "regression"
            else "an accuracy on 1 sample is 0 or 1, chance more than skill"
        )
    why = ", ".join(clauses[:-1]) + ", and " + clauses[-1]
    shown = " / ".join(f"{sizes.get(s, 0)} {_WHAT[s]}" for s in ("train", "val", "test"))
    if len(ones) == 1:
        what = _WHAT[ones[0]]
        raise DataError(
            f"The {what} split has 1 sample (splits: {shown}): {why}. A {what} split needs "
            f"at least 2 samples; {_size_remedy(ones[0], sizes, info)}"
        )
    remedies: dict[str, list[str]] = {}  # one remedy may serve several splits
    for split in ones:
        remedies.setdefault(_size_remedy(split, sizes, info), []).append(_WHAT[split])
    told = (
        "; " + next(iter(remedies))
        if len(remedies) == 1
        else ". "
        + " ".join(
            f"For the {' and '.join(whats)} split{'s' * (len(whats) > 1)}: {remedy}"
            for remedy, whats in remedies.items()
        )
    )
    raise DataError(
        f"The {' and '.join(_WHAT[s] for s in ones)} splits have 1 sample each (splits: "
        f"{shown}): {why}. Each split needs at least 2 samples{told}"
    )


def refuse_too_few_to_split(n: int, validation_size: int, y_test: Any, task: str) -> None:
    """Refuses an `x_train` of 1 to 3 rows (`n`) that `load_npz` would split a
    validation set of `validation_size` off: no `validation_size` leaves both splits 2
    samples, so this rule says so with the remedy that works (4 rows, or 2 with a file's
    `x_val`), naming a 1-sample test split (`y_test`) in the same message.

    Raises:
        DataError: See `check_split_sizes`; for `1 <= n <= 3` always.
    """
    v = int(validation_size) if 1 <= validation_size < n else min(1, n - 1)
    sizes = {"train": n - v, "val": v, "test": tg.length(y_test, "y_test")}
    with made_by("load_npz", val=v or 1):  # the validation split drawn from x_train
        refuse_one_sample(sizes, task)


def _size_remedy(split: str, sizes: Mapping[str, int], info: Mapping[str, Any]) -> str:
    made = [s for s in ("val", "test") if info.get(s)]  # the splits the call made
    call, n = info["call"], sum(sizes.get(s, 0) for s in ("train", *made))  # the samples split
    if call == "subset":  # `Dataset.subset`'s counts
        return f"pass num_{split}= of 2 or more (None keeps the whole split)."
    if split == "train" and not (info.get("val") or info.get("test")):  # the user's own
        given = {
            "load_npz": "the file's x_train / y_train",
            "cli_npz": "the file's x_train / y_train",
            "StreamData": "a train= stream",
        }.get(call, "x_train / y_train")
        return f"give {given} of 2 or more samples (with more data the model learns more)."
    fits = split == "train" or split in made
    if call in ("load_npz", "cli_npz") and made and fits and n < 4:  # x_train split in two
        return (  # no validation_size gives both splits 2: more rows, or a file's x_val
            f"x_train's {_log.count(n, 'sample')} cannot make a training split and a "
            "validation split of 2 or more each (4 are needed when the validation split "
            "is drawn from x_train): save 4 or more x_train rows, or x_train of 2 or more "
            "with x_val / y_val of 2 or more, in the .npz"
            + (f" ({NPZ_LAYOUT})." if call == "cli_npz" else ".")
        )
    if call not in ("load_npz", "cli_npz") and made and fits and n < 2 * (1 + len(made)):
        return (  # no fractions give every split 2: the remedy is more data
            f"{_log.count(n, 'sample')} cannot make a training split and "
            f"{' and '.join(_WHAT[s] for s in made)} split{'s' * (len(made) > 1)} of 2 "
            "or more each "
            f"({2 * (1 + len(made))} are needed): add samples"
            + (
                ", or give the splits yourself as " + NPZ_LAYOUT + " as --data."
                if call == "cli_csv"
                else "."
            )
        )
    if split == "train":
        if call == "load_npz":
            return "pass a smaller validation_size=, or save more x_train rows in the .npz."
        if call == "cli_npz":
            return f"save more x_train rows, or x_val / y_val, in the .npz ({NPZ_LAYOUT})."
        if call == "cli_csv":
            return f"give more rows, or pass {NPZ_LAYOUT} as --data."
        return "pass a smaller validation_fraction= / test_fraction=, or more samples."
    if not _made(info, split):
        given = _GIVEN.get(call, _GIVEN["Dataset"]).get(split) or _GIVEN["Dataset"][split]
        return f"give {given} of 2 or more samples (with more data the score means more)."
    if call in ("load_npz", "cli_npz"):  # the validation split of x_train
        if call == "cli_npz":
            return f"save x_val / y_val of 2 or more samples in the .npz ({NPZ_LAYOUT})."
        return "pass validation_size=2 or more, or save x_val / y_val in the .npz."
    fraction = float(info[split])
    need = _needed_rows(fraction)
    if call == "cli_csv":
        return (
            f"the command line splits a CSV 70% / 15% / 15% (seed 0), so it needs at least "
            f"{need} rows (this one has {n}). Give more rows, or choose the splits yourself: "
            f"in Python, load_csv(path, target, validation_fraction=..., test_fraction=...), "
            f"or pass {NPZ_LAYOUT} as --data."
        )
    name = "validation_fraction" if split == "val" else "test_fraction"
    return (
        f"{name}={fraction:g} of {_log.count(n, 'sample')} makes 1; pass a larger {name}= "
        f"(it needs {need} samples at {fraction:g}) or more samples."
    )


def constant_remedy(split: str, flat: np.ndarray, column: int, stream: bool = False) -> str:
    """What to do about the constant regression targets `flat[:, column]` of `split`,
    by who made the split (see `made_by`): the column to check (`load_csv`'s `target=`),
    a split of your own to change, or another seed or fraction, which cannot help when
    nearly all of the targets are equal (said so, with how many are). `stream`: the
    targets are a `StreamData`'s, split by the user."""
    info = {"call": "StreamData"} if stream else _maker()
    call = info["call"]
    check = (
        "Check that target= is the column you meant. "
        if call in ("load_csv", "cli_csv")
        else "Check that the targets are the ones you meant. "
    )
    if split != "train" and not _made(info, split):
        given = _GIVEN.get(call, _GIVEN["Dataset"]).get(split) or _GIVEN["Dataset"][split]
        return (
            f"{check}A {_WHAT[split]} set of your own needs targets that vary: give {given} "
            "whose targets vary."
        )
    y = info.get("y")
    if split == "train" or y is None:  # every target of one value, or the user's training set
        return check.strip()
    if not isinstance(y, Mapping):  # nearly all equal: no split of them can vary
        values = np.asarray(y).reshape(len(y), -1)[:, column]
        common, counts = np.unique(values, return_counts=True)
        if len(values) - counts.max() < 3:  # fewer other values than splits: one gets none
            return (
                f"{check}{counts.max()} of the {len(values)} targets are "
                f"{common[counts.argmax()]:g}: nearly all are equal, so a split of them comes "
                "out constant whatever the seed or fractions. Regression needs targets that "
                "vary; gather more varied samples."
            )
    if call == "cli_csv":
        return (
            f"{check}The command line's split of a CSV (seed 0) left this split of one "
            f"value: choose the splits yourself, passing {NPZ_LAYOUT} as --data, or load "
            "the CSV in Python with load_csv and another seed."
        )
    return f"{check}Pass another seed= or a larger validation_fraction= / test_fraction=."
