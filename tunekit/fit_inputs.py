"""What a hypermodel's own `fit` receives from tunekit, and what it made of it.

Helpers of `tunekit.fitting.fit_hypermodel`: each call's own copies of the
containers of its arguments (`own_containers`), whether an array is
read-only (`read_only`), the message of a `fit` that fails on
train+validation (`final_fit_message`), and whether a `fit` takes the
validation split (`takes_validation_data`). `TrainedBefore`: what trained
before such a fit, for the message of one that fails.
"""

from __future__ import annotations

import inspect
import re
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from tunekit.hypermodel_kinds import own_fit

__all__ = [
    "FoldFit",
    "TrainedBefore",
    "final_fit_message",
    "fold_fit_message",
    "own_containers",
    "read_only",
    "takes_validation_data",
]


def own_containers(structure: Any) -> Any:
    """`structure` with a new copy of each dict, list and tuple in it, its leaves shared.

    By `keras.tree.map_structure` (key order and namedtuples kept; arrays,
    tensors, streams and `None` are leaves, passed as they are). A hypermodel's
    `fit` that replaces an entry of its `x` dict (`x["a"] = x["a"] * 2.0`)
    changes its own copy only: not the `x` of the next trial, execution, fold
    or the retrain, nor the user's `Dataset`.
    """
    return keras.tree.map_structure(lambda leaf: leaf, structure)


def read_only(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> bool:
    """Whether any array in `args` or `kwargs` (inside dicts, lists, tuples) cannot be written."""
    return any(
        isinstance(leaf, np.ndarray) and not leaf.flags.writeable
        for leaf in keras.tree.flatten([list(args), dict(kwargs)])
    )


@dataclass(frozen=True)
class TrainedBefore:
    """What fits of the same hypermodel had trained before a fit on train+validation.

    For `final_fit_message`: only what the run knows, so that its error claims no
    cause the comparison does not show.

    Attributes:
        said: The fits that trained and how this one differs from them, as
            sentences, e.g. "The search's coarse trial 03 of this configuration
            trained on the training split (300 samples) ...; this fit trains on
            train+validation (380 samples) with seed 0, ...".
        cause: What the failure depends on, when the fits differ in one thing
            only (the final seeds: the seed), as a sentence; else `None`.
        train_samples: The length of the training split the search's fits
            received, or `None` (unknown: a stream, or cross-validation folds).
    """

    said: str
    cause: str | None = None
    train_samples: int | None = None


# The whole numbers an error message names, e.g. 300 in "index 300 is out of bounds".
_NUMBER = re.compile(r"(?<![\w.])\d+(?!\w|\.\d)")


def _names(text: str, count: int | None) -> bool:
    """Whether `text` names the whole number `count`."""
    return count is not None and str(count) in _NUMBER.findall(text)


@dataclass(frozen=True)
class FoldFit:
    """Which fit of a cross-validated trial (`cv=K`) a call is, for `fold_fit_message`.

    Attributes:
        fold: The fold, counted from 1.
        folds: K, the number of folds.
        train_samples: The length of the `x` the search received (the training
            split, before its validation split joins the folds), or `None`.
    """

    fold: int
    folds: int
    train_samples: int | None = None


# Whose length `train` is, in `_cardinality_why`, by the fit it explains.
_FINAL_TRAIN = "the length of the training split the search ran this fit on"
_FOLD_TRAIN = "the length of the training split the search received, not of this fold"


def _cardinality_why(
    text: str, total: int | None, train: int | None, train_what: str = _FINAL_TRAIN
) -> str:
    """What Keras's "Data cardinality is ambiguous" shows: its `'x' sizes: ...` lines."""
    sizes = {
        int(n)
        for line in text.splitlines()
        if "sizes:" in line
        for n in _NUMBER.findall(line.partition("sizes:")[2])
    }
    if train is not None and train != total and train in sizes:
        found = (
            f"one of them has {train} samples, {train_what}: an array your fit takes from "
            "outside the x and y it receives "
            "(a sample_weight, an extra input) has the training split's length, not this "
            "fit's."
        )
    else:
        passed = f" of {total} samples" if total is not None else ""
        found = (
            f"tunekit passed it x and y{passed}, so an array your fit passes to model.fit "
            "(a sample_weight, an extra input, or x or y as it changed them) was not made "
            "from them."
        )
    return (
        f"Keras found arrays of different lengths in that fit's model.fit call: {found} "
        "Per-sample arrays must be derived from the x and y that fit receives, e.g. "
        "sample_weight computed from y inside fit."
    )


def _raised_where(hypermodel: Any, e: BaseException) -> str:
    """Where in the hypermodel's own file `e` was raised (its last frame there), as a
    sentence; else where to find that (the chained traceback)."""
    try:
        source = inspect.getsourcefile(type(hypermodel))
    except TypeError:  # a class without a file (defined in a notebook cell, a REPL)
        source = None
    frames = traceback.extract_tb(e.__traceback__)
    own = [f for f in frames if source is not None and f.filename == source]
    if not own:
        return "Where it was raised is in this error's chained traceback (its cause)."
    frame = own[-1]
    how = "at" if frame is frames[-1] else "inside the call at"
    line = f": {frame.line.strip()}" if frame.line else ""
    return f"It was raised {how} {frame.filename}, line {frame.lineno}, in {frame.name}{line}"


def final_fit_message(
    hypermodel: Any,
    final: str,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    e: Exception,
    before: TrainedBefore | None = None,
) -> str:
    """What `fit_hypermodel` says when a hypermodel's `fit` fails on train+validation.

    The error (its type and first lines), what trained before (`before.said`), and
    a cause only where the evidence shows one: Keras's "Data cardinality is
    ambiguous" (an array of the training split's length among its sizes, or of
    another one), an error that names the training split's length and not this
    fit's, or `before.cause` (the fits differ in one thing only). Otherwise it says
    that no cause was found, and where the error was raised (the last line of the
    hypermodel's own file in its traceback).

    Args:
        hypermodel: The hypermodel whose `fit` failed.
        final: The fit, e.g. `"the retrain"`, `"the baseline (seed 0)"`.
        args: The fit's positional arguments (`x`, `y`).
        kwargs: Its keyword arguments (`x` if not positional).
        e: What the hypermodel's `fit` raised.
        before: What trained before; `None`: only that the search ran this
            `fit` on other data. Defaults to `None`.
    """
    owner = type(hypermodel).__name__
    total = _samples(args, kwargs)
    size = f"{total} samples" if total is not None else "a stream"
    train = before.train_samples if before is not None else None
    why = _length_why(str(e), total, train, _FINAL_TRAIN)
    if why is not None:  # the data's lengths show the cause
        pass
    elif isinstance(e, KeyError) and str(e.args[0] if e.args else "").startswith("val_"):
        why = (  # a History or dict read for a validation metric the fit cannot have here
            f"{e.args[0]!r} is a validation metric: this fit gets no validation data, so "
            "Keras logs none. Read it only when validation_data is given (e.g. "
            "history.history.get(...)), or return the training metrics here."
        )
    elif before is not None and before.cause:
        why = before.cause
    else:
        where = _raised_where(hypermodel, e).rstrip(".")
        why = f"tunekit found nothing that shows which difference made it fail. {where}."
    known = before.said if before is not None else "The search ran this fit on other data."
    return (
        f"{owner}.fit failed when {final} called it on train+validation ({size}): "
        f"{_raised(e)} {known} {why} Fix that fit and run again: its code is then new, so the "
        "run starts over (overwrite=True, or a new project_name= to keep this run's searches)."
    )


def fold_fit_message(
    hypermodel: Any,
    fold: FoldFit,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    e: Exception,
) -> str | None:
    """What a cross-validated trial's fit that failed for its data's length says, or `None`.

    The same data-length causes as `final_fit_message` (Keras's "Data cardinality
    is ambiguous", an array of the training split's length among its sizes or of
    another one; an error naming the training split's length and not the fold's),
    said of fold `fold`. It fails that trial only (`HyperModelFitError`, a
    KerasTuner `FailedTrialError`): a fit may pass such an array for some
    hyperparameter values only. `None`: no such cause (the error fails its
    trial as KerasTuner's does).

    Args:
        hypermodel: The hypermodel whose `fit` failed.
        fold: Which fold, and the length of the training split (`FoldFit`).
        args: The fit's positional arguments (the fold's `x`, `y`).
        kwargs: Its keyword arguments (`x` if not positional).
        e: What the hypermodel's `fit` raised.
    """
    total = _samples(args, kwargs)
    why = _length_why(str(e), total, fold.train_samples, _FOLD_TRAIN)
    if why is None:
        return None
    k = fold.folds
    size = f"{total} samples" if total is not None else "a stream"
    return (
        f"{type(hypermodel).__name__}.fit failed in fold {fold.fold} of cv={k}, on that "
        f"fold's training part ({size} of train+validation): {_raised(e)} {why} Fix that fit "
        "and run again: its code is then new, so the run starts over (overwrite=True, or a "
        "new project_name=)."
    )


def _samples(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    """The number of samples of a fit's `x` (its first array's length); `None`: a stream."""
    x = args[0] if args else kwargs.get("x")
    shapes = [getattr(leaf, "shape", None) for leaf in keras.tree.flatten(x)]
    return int(shapes[0][0]) if shapes and shapes[0] else None


def _raised(e: Exception) -> str:
    """`e`'s type and first lines, joined (Keras's cardinality error names the sizes on its
    later lines), at most 400 characters of them."""
    lines = str(e).strip().splitlines()
    said = "; ".join(line.strip() for line in lines[:4] if line.strip())
    said = said if len(said) <= 400 else said[:397] + "..."
    return f"{type(e).__name__}: {said}." if said else type(e).__name__


def _length_why(text: str, total: int | None, train: int | None, train_what: str) -> str | None:
    """The cause an error's `text` shows in the data's lengths: Keras's cardinality error, or
    `train` (the training split's length, `train_what`) named and not `total` (the fit's)."""
    if "cardinality" in text.lower():
        return _cardinality_why(text, total, train, train_what)
    if train is not None and train != total and _names(text, train) and not _names(text, total):
        return (
            f"The error names {train}, {train_what}, and not {total}, this fit's: likely "
            "something of the training split's length (a per-sample array, indices) taken "
            "from outside the x and y this fit receives. Derive such arrays from x and y "
            "inside fit."
        )
    return None


def takes_validation_data(hypermodel: Any) -> bool:
    """Whether `hypermodel.fit` names a `validation_data` parameter, with a default or not.

    KerasTuner's documentation writes `def fit(self, hp, model, x, y,
    validation_data, **kwargs)` for a `fit` that returns its own score, and a
    search always passes it. The final fits on train+validation (retrain,
    baseline, final seeds) then pass the validation split too, which they also
    train on; what the `fit` returns there is not used. A `fit` that declares
    `validation_data=None` gets it as well: such a `fit` may still read it
    (`x_val, y_val = validation_data`), and would crash after the whole search
    without it. A `fit` of `**kwargs` gets none (it may test `"validation_data"
    in kwargs` to tell a search's fit); one that reads `kwargs["validation_data"]`
    is stopped with the fix (`fit_hypermodel`).
    """
    fit = getattr(hypermodel, "fit", None)
    if fit is None or not own_fit(hypermodel):
        return False
    try:
        parameters = inspect.signature(fit).parameters
    except (TypeError, ValueError):  # a builtin or C callable without a signature
        return False
    parameter = parameters.get("validation_data")
    return parameter is not None and (
        parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
    )
