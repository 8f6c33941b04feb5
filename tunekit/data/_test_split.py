"""Classes of the training split that the test split lacks, said before any training.

A test split without some class of the training split says nothing of how the
model does on it (its row of the confusion matrix is empty; balanced accuracy
averages the classes present only). A test split of one class cannot tell a
model that learned from always predicting that class: both score a test
accuracy (and balanced accuracy) of 1.0, and the report's note and the
baseline's verdict can only say that the test set cannot tell
(`tunekit.stats.guess.cannot_tell_note`). tunekit's own stratified split puts
every class in the test split (`tunekit.data._splits`), so such a test split is
one of the user's (`x_test=` / `y_test=`, an `.npz` file's, a stream's
`labels=`, an image folder's test folder) or a small subset (`Dataset.subset`).

`CoarseToFine` warns of it when it is made, before the run, beside its refusal
of classes missing from training (`classes_missing_from_training`): arrays and
streams alike, a stream when its labels are known (`labels=`, an image folder).
A test set of fewer classes is a weaker test, not a wrong one, so it is a
warning, not a refusal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from tunekit import _log
from tunekit.data._checks import CLASSIFICATION

__all__ = ["missing_test_classes_note"]


def _labels(data: Any) -> tuple[np.ndarray, np.ndarray, bool] | None:
    """The training and test class ids of a classifier of one output, and whether `data`
    is a stream; None when not known before the run (a stream without `labels=`) or not
    class ids (several outputs)."""
    from tunekit.data.streams import StreamData

    if getattr(data, "task", None) != CLASSIFICATION:
        return None
    if isinstance(data, StreamData):
        labels = data.labels
        return None if not labels else (labels["train"], labels["test"], True)
    train, test = data.y_train, data.y_test
    if isinstance(train, Mapping) or isinstance(test, Mapping):
        return None
    return np.asarray(train).reshape(-1), np.asarray(test).reshape(-1), False


def missing_test_classes_note(data: Any) -> str | None:
    """A warning when the test split lacks classes the training split holds, else None.

    Args:
        data: A `Dataset` or `StreamData`. Regression, several outputs, an empty
            test split and a stream whose labels are unknown give None.

    Returns:
        The warning, naming the missing classes by their names (`class_names`)
        or, when the test split holds one class only, that class, and what to do:
        a test set holding every class (for arrays, examples added to `x_test` /
        `y_test`, or all the samples handed unsplit to `Dataset.from_arrays`; for
        streams, a stratified split of the samples).
    """
    found = _labels(data)
    if found is None or not found[1].size:
        return None
    streamed = found[2]
    train, test = (np.unique(ids).tolist() for ids in found[:2])
    missing = [c for c in train if c not in set(test)]
    if not missing:
        return None
    names = list(getattr(data, "class_names", None) or ())

    def name(class_id: int) -> str:
        return repr(str(names[class_id]) if 0 <= class_id < len(names) else str(class_id))

    where = "the training labels (labels['train'])" if streamed else "y_train"
    of = f"of the {len(train)} classes in {where}"
    if len(test) == 1:
        only = name(test[0])
        said = (
            f"The test split holds one class only, {only} ("
            f"{_log.count(len(found[1]), 'example')}), {of}: always predicting {only} scores "
            "a test accuracy of 1.0, so the test set cannot tell a model that learned from a "
            "constant guess, and the report will say only that."
        )
    else:
        listed = _log.listed(missing, 10, form=name)
        said = (
            f"The test split holds no example of class(es) {listed} ({len(missing)} {of}): "
            "the test scores say nothing of how the model does on them (their rows of the "
            "confusion matrix are empty; balanced accuracy averages the classes present only)."
        )
    fix = (
        "split the samples so that each split holds every class (e.g. sklearn's "
        "train_test_split(..., stratify=labels) on the list of samples, before building the "
        "pipelines) and pass the new splits' labels=; an image folder needs images of every "
        "class in its test folder"
        if streamed
        else "add examples of every class to x_test/y_test (in an .npz file, or arrays split "
        "by hand), or hand all the samples unsplit to Dataset.from_arrays, which puts every "
        "class in the test split"
    )
    return f"{said} Use a test set holding every class: {fix}."
