"""A search stopped by failed trials in a row: the error tunekit raises, and its advice.

KerasTuner stops a search after `max_consecutive_failed_trials` FAILED trials
in a row; the search step names that stop (`raise_if_failing`). tunekit
cannot tell an error of the code or settings (a rerun meets it again) from
a transient one (a rerun may not): the same error in every trial may be
either (a flaky data server raises one message too), and no exception type
says which. So the message is true in both cases:

- Every failed trial of that run raised the same error (`same_error`): it is
  quoted, and the advice covers both: if it does not depend on chance,
  rerunning or allowing more failures fails the same way (fix what it
  names); if it is transient, rerunning resumes.
- They were all fit calls tunekit or Keras refuses (`HyperModelFitError`,
  before training; `tunekit.fit_refusals`), or trials tunekit refuses for
  their model or what their fit reported (`TrialRefusedError`;
  `tunekit.trial_refusals`): not chance, so the advice is the error's own fix.
- Otherwise (errors that differ between trials, e.g. a range of the space
  that cannot be built): fix the cause or allow more failures; rerunning
  resumes the search.

A phase that ends with no completed trial is started again by a rerun
(`tunekit.steps.phase_restart`), so "rerunning resumes" holds there too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import keras_tuner as kt
from keras_tuner.engine import trial as trial_module

from tunekit.data._stream_labels import label_range_fix
from tunekit.data.streams import StreamData
from tunekit.errors import TrialsFailedError
from tunekit.progress import failure_reason
from tunekit.steps.base import RunContext
from tunekit.tuners.oracles import failures_in_a_row

__all__ = ["advice", "failed_with", "raise_if_failing", "same_error"]

# The error of a fit call tunekit (or Keras, through tunekit) refuses: `tunekit.fitting`.
_REFUSED = "HyperModelFitError"
# A trial tunekit refuses for its model or what its fit reported: `tunekit.trial_refusals`.
_TRIAL_REFUSED = "TrialRefusedError"


def same_error(trials: Sequence[trial_module.Trial]) -> str | None:
    """The error line all of `trials` failed with, or None.

    Args:
        trials: Failed trials (KerasTuner keeps each one's traceback in `trial.message`).

    Returns:
        E.g. `"ValueError: You cannot ..."` when there are two trials or more
        and every one failed with that same line (type and message); None
        otherwise (one trial, or differing errors).
    """
    reasons = {failure_reason(trial) for trial in trials}
    if len(trials) < 2 or len(reasons) != 1:
        return None
    return reasons.pop() or None


def _refused(trials: Sequence[trial_module.Trial], kinds: tuple[str, ...] = (_REFUSED,)) -> bool:
    """Whether every one of `trials` failed on a refusal of `kinds` (error class names): by
    default a fit call tunekit refuses (before training)."""
    names = [failure_reason(t).partition(":")[0].rpartition(".")[2] for t in trials]
    return bool(names) and all(name in kinds for name in names)


def advice(trials: Sequence[trial_module.Trial]) -> str:
    """What to do after a stop on the failed `trials` (the run in a row), true whether the
    error is of the code or transient; see the module docstring."""
    restart = "(new trials; a phase with no completed trial starts again, the steps before it kept)"
    if _refused(trials):
        return (
            "tunekit refused each trial's fit call before it trained (not chance): rerunning "
            "or allowing more failures meets it again in the trials that make that call. Fix "
            "the hypermodel's fit as the error says, then rerun (a changed hypermodel starts "
            "over: pass overwrite=True)."
        )
    if _refused(trials, (_REFUSED, _TRIAL_REFUSED)):
        return (
            "tunekit refused each trial for its model, its fit call or what its fit reported "
            "(not chance): rerunning or allowing more failures meets it again in the trials "
            "whose values do that. Do what the error says (in the hypermodel, or its "
            "objective), then rerun (a changed hypermodel starts over: pass overwrite=True)."
        )
    if same_error(trials):
        return (
            "If that error does not depend on chance, rerunning or allowing more failures "
            "fails the same way: fix what it names (the hypermodel's build or fit, the data or "
            "a setting), then rerun (a changed hypermodel starts over: pass overwrite=True). "
            f"If it is transient, rerunning resumes the search {restart}."
        )
    return (
        "Fix the cause in the hypermodel, its ranges or the data, or allow more failures in a "
        f"row with max_consecutive_failed_trials=; rerunning resumes the search {restart}."
    )


def raise_if_failing(phase: str, ctx: RunContext, tuner: kt.Tuner, error: RuntimeError) -> None:
    """Raises `TrialsFailedError` if `error` is KerasTuner's stop after failed trials in a row.

    The oracle raises it (`TrialsFailedError`, KerasTuner's message) when
    `max_consecutive_failed_trials` trials in a row FAILED; the oracle's end
    order (`failures_in_a_row`) tells it apart from any other `RuntimeError`,
    which is left to propagate as it is. The error raised here names the
    phase, the last trial's error and its `trial.json`, and what to do
    (`advice`).
    """
    oracle = tuner.oracle
    in_a_row = failures_in_a_row(oracle)
    if not in_a_row or in_a_row < ctx.max_consecutive_failed_trials:
        return
    failed = [oracle.trials[trial_id] for trial_id in oracle.end_order[-in_a_row:]]
    each = ", each with the same error" if same_error(failed) else ""
    raise TrialsFailedError(
        f"The {phase} search stopped: {in_a_row} trials in a row failed "
        f"(max_consecutive_failed_trials={ctx.max_consecutive_failed_trials}){each}; the "
        f"last, {failed_with(ctx, tuner, failed[-1])} {advice(failed)}"
    ) from error


def failed_with(ctx: RunContext, tuner: kt.Tuner, trial: trial_module.Trial) -> str:
    """`"trial 3, with <its error line> (its traceback: <trial.json>)"` and, for a class id
    beyond the output's width (TensorFlow's message), what to do."""
    reason = failure_reason(trial)
    where = Path(tuner.project_dir) / f"trial_{trial.trial_id}" / "trial.json"
    fix = label_range_fix(reason, isinstance(ctx.data, StreamData))
    return f"trial {trial.trial_id}, with {reason or 'no message'} (its traceback: {where}).{fix}"
