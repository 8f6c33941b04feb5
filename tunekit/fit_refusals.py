"""Arguments of `model.fit` that Keras refuses, from a hypermodel's own `fit`: said at once.

A hypermodel's own `fit` makes its `model.fit` call from tunekit's keywords
and its own. Some combinations Keras refuses before the first batch:

- `sample_weight=` beside the `class_weight` a run that weighs its classes
  passes (`CoarseToFine(class_weight="balanced")`): "You cannot `class_weight`
  and `sample_weight` at the same time". Found before `model.fit` is called
  (`weights_conflict`).
- Keras's other refusals of the call's arguments (`refused_arguments`):
  `class_weight` for a Python generator, several outputs, or a dataset whose
  batches hold sample weights; `y` or `sample_weight` beside a dataset;
  `validation_split` for a dataset; a misspelt keyword or a duplicate
  argument (Python's `TypeError` from `fit()`).

`tunekit.fitting` raises these messages as a `HyperModelFitError`, which
fails its trial before it trains, with Keras's words and the fix as the
trial's error. The call may depend on the trial's hyperparameters (weights
under an `hp.Boolean`), so the search goes on, as KerasTuner's does; the
stop after `max_consecutive_failed_trials` in a row quotes the message
(`tunekit.steps.trial_failures`). Refused in the default configuration's
trial (a run's first coarse trial), it stops the search at once
(`SearchInputError`, exit 2; `tunekit.trial_refusals.refusal`).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any

from tunekit.errors import error_line, quoted

__all__ = [
    "Passed",
    "by_name",
    "changed_from",
    "changes_in_place",
    "reads_validation_data",
    "refused_arguments",
    "set_unpassed",
    "weights_conflict",
    "weights_dropped",
    "weights_refusal",
]


class Passed(int):
    """An int tunekit passed for a refused keyword (`epochs`): a `fit` that passes it on
    hands over this object; one that sets its own value, even an equal one, does not."""


def changed_from(received: Any, passed: Any) -> bool:
    """Whether `received` is not what tunekit passed (`passed`), by identity for a `Passed`."""
    return received is not passed and (isinstance(passed, Passed) or received != passed)


def by_name(
    fit: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """A `model.fit` call's arguments after `x` and `y` given by position, as keywords.

    `model.fit(x, None, 16)` passes `batch_size=16` as surely as the keyword
    does: every check of the call (refused keywords, a stream's ignored
    `batch_size`) reads `kwargs`, so those positions are named from `fit`'s
    signature (Keras 3: `x, y, batch_size, epochs, verbose, callbacks,
    validation_split, ...`; a model's own `fit(*args, **kwargs)`, by Keras's). `x`
    and `y` stay where they are. A signature that still cannot name them, or a
    position also given by keyword (Python's refusal is then Keras's to raise),
    leaves the call as it is.

    Returns:
        `(args[:2], kwargs with the rest named)`, or `(args, kwargs)` unchanged.
    """
    if len(args) <= 2:
        return args, kwargs
    try:
        params = list(inspect.signature(fit).parameters.values())[: len(args)]
    except (TypeError, ValueError):
        return args, kwargs
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        import keras  # a model's own fit(*args, **kwargs) hands them to Keras's: its names

        params = list(inspect.signature(keras.Model.fit).parameters.values())[1 : len(args) + 1]
    named = {p.name: a for p, a in zip(params[2:], args[2:], strict=False)}
    plain = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.VAR_POSITIONAL)
    if len(params) < len(args) or any(p.kind in plain for p in params) or named.keys() & kwargs:
        return args, kwargs
    return args[:2], {**kwargs, **named}


def set_unpassed(
    owner: str, refused: Mapping[str, str], passed: Mapping[str, Any], kwargs: Mapping[str, Any]
) -> str | None:
    """The refusal of a `model.fit` call that sets a refused keyword tunekit passed no value
    for (`initial_epoch=0` in a coarse trial, which Hyperband's fine trials would refuse
    one by one after the whole coarse search), or `None`.

    Args:
        owner: The hypermodel's class name, e.g. `"MyHyperModel"`.
        refused: The keywords refused in this run, each with why and the fix.
        passed: Those tunekit passed (checked apart: a changed value is refused there).
        kwargs: The `model.fit` call's keywords.
    """
    for key in (k for k in refused if k not in passed and k in kwargs):
        return (
            f"{owner}.fit sets `{key}` itself ({kwargs[key]!r}), which tunekit cannot let it "
            f"do here: {refused[key]}"
        )
    return None


# Keras's refusals of model.fit's arguments (its data adapters), and Python's of the call.
_REFUSED = re.compile(
    r"`(?:class_weight|sample_weights?|validation_split)`"
    r"|When providing `x` as an? .*should not be passed"
    r"|\bfit\(\) (?:got an unexpected keyword argument|got multiple values for argument"
    r"|takes from \d+ to \d+ positional arguments)"
)

_KERAS_SAID = '"You cannot `class_weight` and `sample_weight` at the same time"'

_FAILS = "This trial fails before it trains, and so does every trial whose fit makes that call."

_NEW_CODE = "The fixed fit is new code, so the run then starts over (overwrite=True)."


def _is_runs(class_weight: Any, passed: Mapping[Any, float] | None) -> bool:
    """Whether `class_weight` (what `model.fit` got) is the run's (`passed`, tunekit's)."""
    if passed is None or class_weight is None:
        return False
    return class_weight is passed or (
        isinstance(class_weight, Mapping) and dict(class_weight) == dict(passed)
    )


def _rounded(weights: Mapping[Any, float] | None) -> dict[Any, float]:
    """`weights` as a message shows them: 3 decimals."""
    return {k: round(float(v), 3) for k, v in (weights or {}).items()}


def _fold(owner: str) -> str:
    """What to do when the run's class weights meet the fit's sample weights."""
    return (
        f"Fold the class weights into the sample weights in {owner}.fit: cw = "
        "kwargs.pop('class_weight'); sample_weight = sample_weight * np.array([cw.get(int(c), "
        "1.0) for c in y]); or leave class_weight= unset. "
    )


def weights_conflict(
    owner: str, kwargs: Mapping[str, Any], passed: Mapping[Any, float] | None
) -> str | None:
    """The refusal of a `model.fit` call given both `class_weight` and `sample_weight`, or None.

    Args:
        owner: The hypermodel's class name, e.g. `"MyHyperModel"`.
        kwargs: The keywords of the `model.fit` call.
        passed: The `class_weight` tunekit passed to the hypermodel's `fit`
            (the run's `{class id: weight}`), or None when the run weighs no class.

    Returns:
        The message (what was passed, Keras's words, the fix), or None when
        the call does not give both.
    """
    if kwargs.get("class_weight") is None or kwargs.get("sample_weight") is None:
        return None
    if _is_runs(kwargs["class_weight"], passed):
        given = (
            f"{owner}.fit passes sample_weight= to model.fit, and passes on the run's class "
            "weights too: with class_weight= set, tunekit gives every fit its weights as "
            f"kwargs['class_weight'] ({_rounded(passed)})."
        )
        fix = _fold(owner)
    else:
        given = f"{owner}.fit passes both class_weight= and sample_weight= to model.fit."
        fix = "Fold the class weights into the sample weights, or pass one of the two. "
    return (
        f"{given} Keras's fit takes one or the other ({quoted(_KERAS_SAID)}): {_FAILS} "
        f"{fix}{_NEW_CODE}"
    )


def weights_dropped(
    owner: str, kwargs: Mapping[str, Any], passed: Mapping[Any, float] | None, x: Any = None
) -> str | None:
    """The refusal of a `model.fit` call that drops the run's class weights, or None.

    A hypermodel's own `fit` that calls `model.fit` without `class_weight` (or with other
    weights) and without `sample_weight` trained unweighted, while the report said every
    trial and the retrain weighed the classes, chose the baseline's metric and skipped the
    narrowing's chance check for it (exit 0). Sample weights in the call are taken as the
    run's weights folded in (`_fold`), which cannot be checked; so is a stream `x` (a
    `tf.data.Dataset`, a `PyDataset`, a generator), which may carry them as its batches'
    third part (Keras refuses `class_weight=` beside those).

    Args:
        owner: The hypermodel's class name, e.g. `"MyHyperModel"`.
        kwargs: The keywords of the `model.fit` call.
        passed: The run's `{class id: weight}` tunekit passed to the hypermodel's `fit`, or
            None when the run weighs no class.
    """
    if passed is None or kwargs.get("sample_weight") is not None:
        return None
    if x is not None and not hasattr(x, "shape") and not isinstance(x, (Mapping, list, tuple)):
        return None  # a stream: its batches may hold the weights
    if _is_runs(kwargs.get("class_weight"), passed):
        return None
    got = kwargs.get("class_weight")
    what = "without class_weight=" if got is None else f"with class_weight={_rounded(got)}"
    return (
        f"{owner}.fit calls model.fit {what}, but the run weighs the classes: tunekit gives "
        f"every fit the run's weights as kwargs['class_weight'] ({_rounded(passed)}), and "
        "the report says every trial and the retrain used them. Pass them on "
        "(model.fit(x, y, **kwargs), or class_weight=kwargs['class_weight']), fold them "
        "into sample_weight=, or leave the run's class_weight unset. "
        f"{_FAILS} {_NEW_CODE}"
    )


def weights_refusal(
    owner: str, kwargs: Mapping[str, Any], passed: Mapping[Any, float] | None, x: Any = None
) -> str | None:
    """`weights_conflict`'s refusal of a `model.fit` call, else `weights_dropped`'s, or None."""
    return weights_conflict(owner, kwargs, passed) or weights_dropped(owner, kwargs, passed, x)


def refused_arguments(
    owner: str, error: BaseException, kwargs: Mapping[str, Any], passed: Mapping[Any, float] | None
) -> str | None:
    """The message for `error`, raised by `model.fit`, if it is Keras refusing its arguments.

    Args:
        owner: The hypermodel's class name, e.g. `"MyHyperModel"`.
        error: What `model.fit` raised (a `ValueError` or `TypeError`).
        kwargs: The keywords of the `model.fit` call.
        passed: The `class_weight` tunekit passed to the hypermodel's `fit`, or None.

    Returns:
        The message (Keras's error line, that the trial fails, the fix), or
        None for any other error (a shape, a layer, the data's values), which
        fails its trial as before.
    """
    said = str(error)
    if not isinstance(error, (ValueError, TypeError)) or not _REFUSED.search(said):
        return None
    if "class_weight" in said and _is_runs(kwargs.get("class_weight"), passed):
        fix = (
            "The class_weight there is the run's (class_weight=, which tunekit gives every fit "
            f"as kwargs['class_weight']). {_fold(owner)}"
        )
    else:
        fix = f"Change that call in {owner}.fit. "
    line = error_line(error)
    return (
        f"{owner}.fit calls model.fit with arguments Keras refuses: "
        f"{line}{'' if line.endswith('.') else '.'} {_FAILS} {fix}{_NEW_CODE}"
    )


def reads_validation_data(owner: str) -> str:
    """Said when `owner`'s fit reads `kwargs["validation_data"]` in a fit on
    train+validation, which gets none."""
    return (
        f"{owner}.fit reads kwargs['validation_data'], which a fit on "
        "train+validation (the retrain, the baseline, final seeds) does not get: no "
        "split is left out there. Name it in the signature, def fit(self, hp, model, "
        "x, y, validation_data=None, **kwargs), to get the validation split there "
        "too, or read kwargs.get('validation_data'). The fixed fit is new code, so the "
        "run then starts over (overwrite=True)."
    )


def changes_in_place(owner: str, error: Exception) -> str:
    """Said when `owner`'s fit changes tunekit's read-only arrays in place (`error`)."""
    return (
        f"{owner}.fit changes its input arrays in place ({error}): tunekit's "
        "arrays are read-only, because the same arrays serve every trial and the "
        "retrain, and a change in place would reach each later one (plain KerasTuner "
        "shifts your arrays again at every trial). Make a new array instead, e.g. "
        "x = x - 3.0 rather than x -= 3.0 (or x = x.copy() first); then rerun: the "
        "completed trials are kept."
    )
