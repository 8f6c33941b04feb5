"""A number an own `HyperModel.fit` returns under a metric's name, checked against Keras.

KerasTuner's documented patterns let `fit` return one number, or a dict of
numbers, instead of its History; the number is filed under the objective's
name. Returned under the name of a metric the model itself reports (e.g. the
validation error `1 - accuracy` returned with `objective="val_accuracy:max"`),
it was maximised as an accuracy: the worst model won, exit 0. Where Keras
measured that metric itself, the returned number must agree with it:

- logged by Keras in the same fit (the fit passed `validation_data` on): it
  lies within the epochs' values;
- else, in the first fit of a search (and until one is checked) whose model
  compiles that metric, with `validation_data`, the model is evaluated on it
  once (`model.evaluate`, one validation pass) and the number lies near that.

"Within" and "near" allow `_SLACK` (the same metric computed another way:
batches, a threshold, without the regularisation losses); another quantity
filed under its name (an error for an accuracy) lies farther.

A trial whose number disagrees fails (`tunekit.trial_refusals.TrialRefusedError`),
with the fix as its error, and the search goes on (a `fit` may return that number
for some values only; the trials that return their History are scored). The
check allows `_SLACK`, so a wrong number near Keras's (an error rate near 0.5 as an
accuracy) passes: once one trial's number under a name disagreed, every later
number returned under that name fails its trial too, and if an earlier trial's
number under it was already scored, the search stops (`SearchInputError`): that
trial's score cannot be trusted. While no fit has been evaluated, each next trial
is evaluated again. The search's record of both is saved with the tuner's state
(`tunekit.tuners.search_record`), so a resumed search keeps it.

A number returned under a name of its own (`{"val_error": ...}`,
`objective="val_error:min"`) is never checked.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from tunekit.fit_results import as_number
from tunekit.fitting import SearchInputError
from tunekit.trial_refusals import TrialRefusedError

__all__ = ["check_returned"]

# How far a returned number may lie from Keras's value (absolute, plus relative to it).
_SLACK = (0.05, 0.25)


def _returned(results: Any, objective_name: str) -> dict[str, float]:
    """The numbers `results` holds by name (one number, or a 0-d array: `as_number`)."""
    if (number := as_number(results)) is not None:
        return {objective_name: number}
    if isinstance(results, Mapping):
        return {str(k): n for k, v in results.items() if (n := as_number(v)) is not None}
    return {}


def check_returned(
    results: Any,
    objective_name: str,
    logged: Mapping[str, list[float]],
    evaluate: Any = None,
    seen: dict[str, Any] | None = None,
    trial_id: str | None = None,
    name_trial: Callable[[str], str] | None = None,
) -> bool:
    """Raises `TrialRefusedError` when a number `fit` returned disagrees with Keras's own.

    The trial fails and the search goes on: a `fit` may return that number for some
    of its hyperparameters' values only (see the module docstring for `seen`).

    Args:
        results: What the hypermodel's `fit` returned (a History is not checked).
        objective_name: The name a single returned number is filed under.
        logged: The values Keras logged per epoch in that fit, by name.
        evaluate: `None`, or a function that returns Keras's `{metric: value}`
            of the trained model on the validation data (called at most once,
            only for a number returned under a `val_` name Keras did not log).
        seen: The search's record, updated here: `{"scored": names whose
            returned numbers were filed, "refused": {name: the first refusal's
            message}}` (`SearchRecord.returned`, which the tuner saves). Defaults to
            a record of this call only. Its `"scored_in"` (`{name: trial id}`) keeps the
            first trial whose number under each name was scored.
        trial_id: The trial being checked (KerasTuner's id), recorded in `scored_in`.
        name_trial: `name_trial(trial_id)` -> how a message names a trial
            (`tunekit.trial_names.trial_name`); the stop names the earlier trial
            scored, and this one, so.

    Returns:
        Whether `evaluate` was called (a later trial need not evaluate again).

    Raises:
        TrialRefusedError: A number disagrees with Keras's, or is returned under a
            name refused in an earlier trial.
        SearchInputError: A number disagrees, and an earlier trial's number under
            that name was scored.
    """
    seen = seen if seen is not None else {}
    scored: set[str] = seen.setdefault("scored", set())
    refused: dict[str, str] = seen.setdefault("refused", {})
    scored_in: dict[str, str] = seen.setdefault("scored_in", {})
    returned = _returned(results, objective_name)
    try:
        evaluated = _check(returned, logged, evaluate, refused)
    except TrialRefusedError as e:
        name = str(e.args[1]) if len(e.args) > 1 else ""
        if name in scored:  # an earlier trial's number under it may be as wrong
            earlier = scored_in.get(name)
            where = "an earlier trial"
            this = ""
            if name_trial is not None and earlier is not None:
                where = f"an earlier trial, {name_trial(earlier)},"
            if name_trial is not None and trial_id is not None:
                this = f" at {name_trial(trial_id)}"
            raise SearchInputError(
                f"{e.args[0]} A number returned under {name!r} in {where} was scored "
                f"within the tolerance, so it cannot be trusted either: the search stops{this}."
            ) from None
        refused.setdefault(name, e.args[0])
        raise TrialRefusedError(e.args[0]) from None
    scored.update(returned)
    if trial_id is not None:
        for name in returned:
            scored_in.setdefault(name, trial_id)
    return evaluated


def _check(
    returned: Mapping[str, float],
    logged: Mapping[str, Any],
    evaluate: Any,
    refused: Mapping[str, str],
) -> bool:
    """`check_returned`'s comparisons; a refusal is `TrialRefusedError(message, name)`."""
    evaluated: dict[str, float] | None = None
    for name, value in returned.items():
        if name in refused:
            raise TrialRefusedError(
                f"The hypermodel's fit returned {value:.6g} as {name!r}, a name under which "
                "no number it returns is trusted since an earlier trial's disagreed with "
                f"Keras's (a number near Keras's may pass the check). That trial: "
                f"{refused[name]}",
                name,
            )
        if not math.isfinite(value):
            continue
        values = [float(v) for v in logged.get(name, ()) if math.isfinite(float(v))]
        if values:
            low, high = min(values), max(values)
            if not low - _slack(low) <= value <= high + _slack(high):
                raise TrialRefusedError(
                    _message(name, value, f"logged {name} {_span(values)}"), name
                )
            continue
        if evaluate is None or not name.startswith("val_"):
            continue
        if evaluated is None:
            evaluated = dict(evaluate() or {})
        keras_value = evaluated.get(name.removeprefix("val_"))
        if keras_value is None or not math.isfinite(float(keras_value)):
            continue
        keras_value = float(keras_value)
        if abs(value - keras_value) > _slack(keras_value):
            raise TrialRefusedError(
                _message(
                    name,
                    value,
                    f"evaluates the trained model's {name.removeprefix('val_')} on the "
                    f"validation data at {keras_value:.6g}",
                ),
                name,
            )
    return evaluated is not None


def _slack(keras_value: float) -> float:
    return _SLACK[0] + _SLACK[1] * abs(keras_value)


def _span(values: list[float]) -> str:
    low, high = min(values), max(values)
    return f"{low:.6g}" if low == high else f"from {low:.6g} to {high:.6g}"


def _message(name: str, value: float, keras_said: str) -> str:
    return (
        f"The hypermodel's fit returned {value:.6g} as {name!r}, but Keras {keras_said} "
        "in the same trial: the number measures something else (an error where a score "
        "is meant?), and ranking trials by it would choose the wrong model. " + _FIX
    )


_FIX = (
    'Return it under a name of its own with its direction, e.g. {"val_error": value} with '
    'objective="val_error:min", or return the History of model.fit.'
)


def evaluator(model: Any, validation: Any, batch_size: int | None) -> Any:
    """A function returning Keras's `{metric: value}` of `model` on `validation` (the
    search's `validation_data`: `(x, y)`, `(x, y, sample_weight)` or a dataset), or `{}`
    when Keras cannot evaluate it (an uncompiled model of a custom training loop)."""

    def evaluate() -> dict[str, float]:
        try:
            if isinstance(validation, tuple):
                x, y, *weights = validation
                return model.evaluate(
                    x,
                    y,
                    sample_weight=weights[0] if weights else None,
                    batch_size=batch_size,
                    verbose=0,
                    return_dict=True,
                )
            return model.evaluate(validation, verbose=0, return_dict=True)
        except Exception:  # noqa: BLE001 - nothing Keras can measure: nothing to check
            return {}

    return evaluate
