"""Classes a validation or test split lacks, and classes training lacks: one rule, said
before any training.

A split scores what it holds. The validation split scores every search trial
(the objective: `val_accuracy`, `val_loss`, ...): one without some class of the
training split compares and chooses the trials with no word on how they do on
that class, and one of a single class cannot tell a model that learned from
always predicting that class (both score a validation accuracy of 1.0). A test
split without some class says nothing of how the final model does on it (its
row of the confusion matrix is empty; balanced accuracy averages the classes
present only), and a test split of one class cannot tell a model from a
constant guess: the report's note and the baseline's verdict can only say so
(`tunekit.stats.guess.cannot_tell_note`).

tunekit's own stratified splits put every class in every split
(`tunekit.data._splits`, an image folder's too), so such a split is one of the
user's (`x_val=` / `y_val=`, `x_test=` / `y_test=`, an `.npz` file's, a
stream's), a validation set `load_npz` draws at random from `x_train`
(`validation_size=`), or a small subset (`Dataset.subset`).

- `refuse_unlearnable_classes`: a class of the validation or test labels that
  the training labels never hold is refused (`DataError`): no trial can learn
  it. With `cv=K` the trials train and are scored on folds of train+validation
  and the final model retrains on both, so only a test class missing from both
  is refused.
- `split_class_notes`: the warnings, one per split lacking classes of the
  training split (the same sentence for either split, by its name). With
  `cv=K` the validation split scores nothing on its own (it joins the folds,
  which are stratified), so only the test split is judged, against the
  classes of train+validation. A split lacking classes is a weaker measure,
  not a wrong one: a warning, not a refusal, for both splits alike.
  `CoarseToFine` logs them when it is made and keeps them for the report
  (`report.json["split_notes"]`, under "Chosen:" in `report.md`).

The labels are known before the run for arrays, for a stream with `labels=`
(an image folder's, from its file lists), and for any other stream from the
passes `StreamData` reads anyway when it is made (its split-leak check,
`StreamData.pass_classes`): nothing more is read. Regression, several outputs
(a dict `y`) and one-hot stream labels are left alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from tunekit import _log
from tunekit.data._checks import CLASSIFICATION
from tunekit.errors import DataError

__all__ = ["refuse_unlearnable_classes", "split_class_notes"]

_NAMES = {"train": "training", "val": "validation", "test": "test"}
# How a run says its texts (`tunekit.trial_refusals.Said`): `str`, Python's keyword
# arguments; any other, the command line's flags (`tunekit.cli_parser.cli_message`).
Said = Callable[[BaseException], str]


@dataclasses.dataclass(frozen=True)
class _Splits:
    """The class ids each split holds and its samples; how the data came (its words)."""

    classes: dict[str, list[int]]
    sizes: dict[str, int]
    kind: str  # "arrays", "labels" (a stream's labels=) or "stream" (read by its passes)


def _splits(data: Any) -> _Splits | None:
    """`data`'s classes per split, or None when not known before the run (regression,
    several outputs, one-hot stream labels, a pass that ended early)."""
    from tunekit.data.streams import StreamData

    if getattr(data, "task", None) != CLASSIFICATION:
        return None
    if isinstance(data, StreamData):
        if data.labels:
            ids = {s: np.asarray(data.labels[s]).reshape(-1) for s in _NAMES}
            kind = "labels"
        else:
            read = getattr(data, "pass_classes", None) or {}
            if set(read) != set(_NAMES) or any(r[0] is None for r in read.values()):
                return None
            return _Splits(
                {s: sorted(read[s][0]) for s in _NAMES}, {s: read[s][1] for s in _NAMES}, "stream"
            )
    else:
        ys = {s: getattr(data, f"y_{s}") for s in _NAMES}
        if any(isinstance(y, Mapping) for y in ys.values()):
            return None
        ids, kind = {s: np.asarray(y).reshape(-1) for s, y in ys.items()}, "arrays"
    return _Splits(
        {s: np.unique(i).astype(int).tolist() for s, i in ids.items()},
        {s: len(i) for s, i in ids.items()},
        kind,
    )


def _where(splits: _Splits, *names: str) -> str:
    """The words for the labels of `names` (`"train"`, `"val"`): `y_train and y_val`..."""
    form = {
        "arrays": lambda s: f"y_{s}",
        "labels": lambda s: f"labels[{s!r}]",
        "stream": lambda s: f"the {_NAMES[s]} stream",
    }[splits.kind]
    said = " and ".join(form(s) for s in names)
    return f"the training labels ({said})" if splits.kind == "labels" else said


def _namer(data: Any) -> Any:
    names = list(getattr(data, "class_names", None) or ())
    return lambda c: repr(str(names[c]) if 0 <= c < len(names) else str(c))


def refuse_unlearnable_classes(data: Any, cv: int = 1, said: Said = str) -> None:
    """Refuses classes of the validation or test labels that no trial can learn.

    Args:
        data: A `Dataset` or `StreamData`.
        cv: The run's `cv`. Defaults to 1 (trials train on the training split and
            are scored on the validation split). With `cv > 1` they train on folds
            of train+validation, so only test classes missing from both count.
        said: How the run says its texts: `str` (the default) names Python's
            remedies (`Dataset.from_arrays`, `cv=K`), any other the command
            line's (the `--data` .npz, `--cv K`).

    Raises:
        DataError: Naming the classes (by `class_names`), the splits, and the fix:
            examples of every class in training.
    """
    from tunekit.data.streams import StreamData

    streamed, cli = isinstance(data, StreamData), said is not str
    if cv > 1 and not streamed:  # a stream cannot be cross-validated (refused later)
        found = _splits(data)
        seen = set() if found is None else {*found.classes["train"], *found.classes["val"]}
        names = list(getattr(data, "class_names", None) or ())
        unseen = [
            names[c] if c < len(names) else str(c)
            for c in ([] if found is None else found.classes["test"])
            if c not in seen
        ]
        folds = "--cv K" if cli else "cv=K"
        where = f"the test labels but never in y_train or y_val (the folds of {folds})"
    else:
        unseen = data.classes_missing_from_training()
        where = "the training labels (labels['train'])" if streamed else "y_train"
        where = f"the validation or test labels but never in {where}"
    if not unseen:
        return
    if cli:  # the command line's data: an .npz, a .csv (split per class) or an image folder
        fix = (
            "put more images of such a class in the image folder (--data)"
            if streamed
            else "add some to x_train / y_train in the --data .npz"
            + (
                ""
                if cv > 1
                else "; a class only the validation split holds is learnt "
                "under --cv K (the validation samples join the folds and the retrain)"
            )
        )
        raise DataError(
            f"--data: class(es) {unseen} occur in {where} ({data.summary()}): a model cannot "
            f"learn them and its test score would mislead. Put examples of every class in "
            f"the training split: {fix}."
        )
    raise DataError(
        f"`data`: class(es) {unseen} occur in {where} ({data.summary()}): a model cannot "
        "learn them and its test score would mislead. Put examples of every class in the "
        "training split: "
        + (
            "split the samples so that each split holds every class (e.g. sklearn's "
            "train_test_split(..., stratify=labels) on the list of samples, before "
            "building the three pipelines) and pass the new splits' labels=; an image "
            "folder needs more images of such a class."
            if streamed
            else "add some to x_train/y_train (in an .npz file, or arrays split by "
            "hand), or hand all the samples unsplit to Dataset.from_arrays, which "
            "splits each class."
            + (
                ""
                if cv > 1
                else " A class only the validation split holds is learnt under cv=K: "
                "the validation samples join the folds and the retrain."
            )
        )
    )


def _note(
    data: Any, splits: _Splits, split: str, reference: list[int], where: str, cli: bool
) -> str | None:
    """The warning for `split` (`"val"` or `"test"`) lacking classes of `reference`."""
    held = splits.classes[split]
    missing = [c for c in reference if c not in set(held)]
    if not splits.sizes[split] or not missing:
        return None
    name, word = _namer(data), _NAMES[split]
    of = f"of the {len(reference)} classes in {where}"
    if len(held) == 1:
        only = name(held[0])
        said = (
            f"The {word} split holds one class only, {only} ("
            f"{_log.count(splits.sizes[split], 'example')}), {of}: always predicting {only} "
            f"scores a {word} accuracy of 1.0, so "
            + (
                "the search compares the trials and chooses one by their scores on a set (the "
                "objective, e.g. val_accuracy or val_loss) that cannot tell a model that "
                "learned from a constant guess."
                if split == "val"
                else "the test set cannot tell a model that learned from a constant guess, "
                "and the report will say only that."
            )
        )
    else:
        listed = _log.listed(missing, 10, form=name)
        said = (
            f"The {word} split holds no example of class(es) {listed} ({len(missing)} {of}): "
            + (
                "the search compares the trials and chooses one by their scores on it (the "
                "objective, e.g. val_accuracy or val_loss) without a word on how they do on "
                "those classes."
                if split == "val"
                else "the test scores say nothing of how the model does on them (their rows "
                "of the confusion matrix are empty; balanced accuracy averages the classes "
                "present only)."
            )
        )
    size = splits.sizes[split]
    if size < len(reference):  # e.g. 2 examples of 10 classes: a weak score, said so
        said += (
            f" It has {_log.count(size, 'example')} for {len(reference)} classes, too few to "
            f"hold one of each: each example moves its accuracy by {100 / size:.0f} points."
        )
    fix = _cli_fix(splits.kind, split) if cli else _fix(splits.kind, split)
    return f"{said} Use a {word} set holding every class: {fix}."


def _cli_fix(kind: str, split: str) -> str:
    """What to do on the command line (its `--data`: an .npz, a .csv, an image folder)."""
    if kind != "arrays":  # the command line streams an image folder only
        return (
            "put more images of such classes in the image folder (--data): tunekit splits "
            "it per class, so a class with enough images is in every split"
        )
    if split == "test":
        return "add examples of every class to x_test / y_test in the --data .npz"
    return (
        "add examples of every class to x_val / y_val in the --data .npz (without them, the "
        "validation set is drawn from x_train at random, not per class), or pass --cv K to "
        "score the trials on stratified folds of train+validation instead"
    )


def _fix(kind: str, split: str) -> str:
    """What to do in Python, for arrays or streams, for the validation or test split."""
    if kind != "arrays":
        return (
            "split the samples so that each split holds every class (e.g. sklearn's "
            "train_test_split(..., stratify=labels) on the list of samples, before building "
            "the pipelines)"
            + (" and pass the new splits' labels=" if kind == "labels" else "")
            + "; an image folder handed to tunekit whole is split per class, every class "
            "in every split"
        )
    if split == "test":
        return (
            "add examples of every class to x_test/y_test (in an .npz file, or arrays split "
            "by hand), or hand all the samples unsplit to Dataset.from_arrays, which puts "
            "every class in the test split"
        )
    return (
        "add examples of every class to x_val/y_val (in an .npz file, or arrays split by "
        "hand; an .npz without them has validation_size= samples of x_train drawn at "
        "random, not per class), or hand all the samples unsplit to Dataset.from_arrays, "
        "whose stratified split puts every class of at least 3 samples in every split "
        "(Dataset.subset: num_val= of at least one per class), or pass cv=K to score the "
        "trials on stratified folds of train+validation instead"
    )


def split_class_notes(data: Any, cv: int = 1, said: Said = str) -> list[str]:
    """The warnings for the validation and test splits lacking classes training holds.

    Args:
        data: A `Dataset` or `StreamData`. Regression, several outputs, an empty
            split and a stream whose class ids are unknown give no warning.
        cv: The run's `cv`. Defaults to 1. With `cv > 1` the validation split
            joins the stratified folds and is not judged; the test split is judged
            against the classes of train+validation.
        said: How the run says its texts: `str` (the default) names Python's
            remedies (`x_val=`, `validation_size=`, `Dataset.from_arrays`,
            `cv=K`), any other the command line's (the `--data` .npz, `--cv K`).

    Returns:
        One warning per split (validation first), naming the missing classes by
        their names (`class_names`) or, when the split holds one class only, that
        class, what that does to the run, and what to do: a split holding every
        class (for arrays, examples added to `x_val` / `x_test`, all the samples
        handed unsplit to `Dataset.from_arrays`, or `cv=K` for validation; for
        streams, a stratified split of the samples; on the command line, the
        `--data` .npz's arrays, `--cv K`, an image folder's images). `[]` when none.
    """
    splits = _splits(data)
    if splits is None:
        return []
    train, cli = splits.classes["train"], said is not str
    if cv > 1:
        both = sorted({*train, *splits.classes["val"]})
        note = _note(data, splits, "test", both, _where(splits, "train", "val"), cli)
        return [] if note is None else [note]
    notes = (_note(data, splits, s, train, _where(splits, "train"), cli) for s in ("val", "test"))
    return [n for n in notes if n is not None]
