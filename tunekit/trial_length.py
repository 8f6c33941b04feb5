"""How long a trial trained, and where its score was measured, for every kind of result.

A tunekit tuner records with each trial (`tunekit.tuners.base`):

- `epochs`: the epochs the trial's fit trained, counted by tunekit's epoch
  callback (`TrialFacts`) in every `model.fit` it ran (Keras's loop, or a
  training loop of yours that calls the callbacks' `on_epoch_end`), whatever
  the fit returned: a `History`, a dict of numbers or one number (a Python
  `float`, a NumPy scalar such as `np.float32`, or a 0-d array or tensor). A
  `History` made by a loop that called no epoch callback counts its curve's length. Where no epoch
  callback ran and the fit returned no `History`, the length is unknown:
  `epochs` is left empty (the `epochs` tunekit passed prove nothing about a
  loop that never reported an epoch), and `EPOCHS_GIVEN` records what the fit
  was given instead.
- `SCORED_AT_END` (1.0) when the fit returned a dict or one number, not a
  `History`: that number was measured once, after training, so the trial's
  best epoch is its last one. KerasTuner files such a result at step 0 (its
  `best_step`, read as "best at the first epoch"); tunekit's oracles file it at
  the last epoch trained (`result_step`), so `best_step` is `epochs - 1`.

`tunekit.retraining.final_epochs_rule` reads them (`scored_length`): a trial
scored at its end is retrained for the length it trained, under either
schedule (nothing says it was still improving, so not for `max_epochs`); one of
unknown length for the epochs it was given, the length tunekit asked for.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tunekit.fit_results import as_number

if TYPE_CHECKING:
    from keras_tuner.engine.metrics_tracking import MetricsTracker

__all__ = [
    "EPOCHS",
    "EPOCHS_GIVEN",
    "FIT_EXTRA_EPOCHS",
    "FIT_REPEATS",
    "SCORED_AT_END",
    "fit_stages",
    "is_number",
    "length_metrics",
    "main_epochs",
    "stages_note",
    "result_step",
    "scored_length",
]

EPOCHS = "epochs"
#: The epochs tunekit passed to a trial's fit (`epochs - initial_epoch`), recorded only
#: when no epoch callback ran: the length it trained is then unknown.
EPOCHS_GIVEN = "epochs_given"
#: 1.0 for a trial whose fit returned a dict or one number: measured after its last epoch.
SCORED_AT_END = "scored_at_end"
#: A fit that trains in stages (several `model.fit` calls, `fit_stages`): how many take the
#: epochs tunekit gives, and the epochs the others trained (a warm-up of fixed length).
FIT_REPEATS = "fit_repeats"
FIT_EXTRA_EPOCHS = "fit_extra_epochs"


def fit_stages(stages: Any, given: Any) -> dict[str, float]:
    """What a trial records of a fit that called `model.fit` more than once.

    A two-stage fit (`model.fit(x, y, **{**kwargs, "epochs": 1})`, then `model.fit(x, y,
    **kwargs)`: a warm-up, a frozen base) trains more epochs than it is given, so the
    retrain, given the count the trial trained, trained longer than the trial (probe A:
    given 3 for a trial of 1 + 2, it trained 1 + 3). The calls whose `epochs=` is
    `given` (tunekit's) are the ones the retrain's epochs reach; the others' epochs are
    fixed by the fit.

    Args:
        stages: Each `model.fit` call's `(epochs=, epochs trained)`
            (`tunekit.fitting.FitCall.stages`).
        given: The `epochs` tunekit passed the fit.

    Returns:
        `{FIT_REPEATS: k, FIT_EXTRA_EPOCHS: e}` for several calls of which `k` >= 1 got
        `given` and the others trained `e` epochs; `{}` otherwise (one call, or a fit
        that sets every call's epochs itself).
    """
    if len(stages) < 2:
        return {}
    repeats = sum(1 for epochs, _ in stages if epochs == given)
    if not repeats:
        return {}
    extra = sum(trained for epochs, trained in stages if epochs != given)
    return {FIT_REPEATS: float(repeats), FIT_EXTRA_EPOCHS: float(extra)}


def stages_note(epochs: int, metrics: Any) -> str:
    """What the retrain's rule adds for a fit in stages (`fit_stages`; `epochs`: the
    retrain's `epochs=`), e.g. " (its fit trains in stages: 2 is the epochs= its model.fit
    call given by tunekit gets, beside 1 epoch its other calls train)"; "" otherwise."""
    if not metrics.exists(FIT_REPEATS):
        return ""
    extra = int(metrics.get_last_value(FIT_EXTRA_EPOCHS) or 0)
    repeats = int(metrics.get_last_value(FIT_REPEATS))
    calls = "its model.fit call" if repeats == 1 else f"each of its {repeats} model.fit calls"
    return (
        f" (its fit trains in stages: {epochs} is the epochs= {calls} given by tunekit "
        f"gets, beside {extra} epochs its other calls train)"
    )


def main_epochs(counted: int, metrics: Any) -> int:
    """The epochs a trial's fit was given that `counted` (its epochs, counted in every
    `model.fit` call) stands for: `(counted - extra) / repeats` for a fit in stages
    (`fit_stages`, at least 1), `counted` otherwise. `metrics`: the trial's
    `trial.metrics`."""
    if not metrics.exists(FIT_REPEATS):
        return counted
    repeats = max(1, int(metrics.get_last_value(FIT_REPEATS)))
    extra = int(metrics.get_last_value(FIT_EXTRA_EPOCHS) or 0)
    return max(1, round((counted - extra) / repeats))


def is_number(results: Any) -> bool:
    """Whether a fit's result is one number (`float`, `int`, a NumPy scalar, a 0-d array or
    tensor: `tunekit.fit_results.as_number`), not a bool."""
    return as_number(results) is not None


def length_metrics(
    *, history_length: int | None, trained: int, epochs: Any, initial_epoch: Any
) -> dict[str, float]:
    """What a trial records of its length: `{EPOCHS: n}`, or `{EPOCHS_GIVEN: n}` if unknown.

    Args:
        history_length: The length of the `History` the fit returned (its
            longest curve), or `None` when it returned a dict or a number.
        trained: Epochs tunekit's epoch callback saw end in the fit (0: none ran).
        epochs: The `epochs` the fit's `model.fit` got (or tunekit passed), or `None`.
        initial_epoch: The `initial_epoch` it got (a Hyperband continuation), or `None`.

    Returns:
        `{EPOCHS: trained}` when an epoch callback ran, `{EPOCHS: history_length}`
        for a `History` made without them, else `{EPOCHS_GIVEN: epochs -
        initial_epoch}` (empty when `epochs` is not a positive count).
    """
    if trained > 0:
        return {EPOCHS: float(trained)}
    if history_length:
        return {EPOCHS: float(history_length)}
    try:
        given = int(epochs) - int(initial_epoch or 0)
    except (TypeError, ValueError):
        return {}
    return {EPOCHS_GIVEN: float(given)} if given > 0 else {}


def result_step(metrics: Mapping[str, Any], step: int) -> int:
    """The step a trial's results are filed at: a score measured at the end, at its last epoch.

    Args:
        metrics: The trial's results as the tuner reports them (its executions'
            or folds' mean).
        step: The step KerasTuner computed (0 for a dict or a number).

    Returns:
        `int(epochs) - 1` when every execution (and fold) returned a dict or a
        number after training a known number of epochs (`SCORED_AT_END` 1.0,
        `EPOCHS` present: their mean); `step` otherwise.
    """
    scored_at_end = _number(metrics.get(SCORED_AT_END))
    epochs = _number(metrics.get(EPOCHS))
    if scored_at_end != 1.0 or epochs is None or epochs < 1:
        return step
    return int(epochs) - 1  # executions of 3 and 4 epochs: 2, KerasTuner's mean cut to int


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def scored_length(metrics: MetricsTracker, values: Mapping[str, Any]) -> tuple[int, str] | None:
    """The retrain's epochs of a trial scored at its end, or of unknown length, with the rule.

    Args:
        metrics: The trial's `trial.metrics`.
        values: Its hyperparameters' values (`tuner/initial_epoch`: a Hyperband
            continuation counts from epoch 0).

    Returns:
        `(initial_epoch + epochs, rule)` for a fit that returned a dict or one
        number after a known number of epochs; `(initial_epoch + EPOCHS_GIVEN,
        rule)` for one that reported no epoch; `None` otherwise (a `History`'s
        curve, or a trial not run by a tunekit tuner).
    """
    initial = int(values.get("tuner/initial_epoch", 0))
    if not metrics.exists(EPOCHS):
        if not metrics.exists(EPOCHS_GIVEN):
            return None
        given = initial + int(metrics.get_last_value(EPOCHS_GIVEN))
        return given, (
            "the epochs the trial was given: its fit reported no epoch, so the length it "
            "trained is unknown"
        )
    if not metrics.exists(SCORED_AT_END) or metrics.get_last_value(SCORED_AT_END) != 1.0:
        return None
    return initial + main_epochs(int(metrics.get_last_value(EPOCHS)), metrics), (
        "the length the trial trained: its fit returned one score, measured after its last epoch"
    )
