"""A search stopped by failed trials in a row: the error tunekit raises, and its advice.

KerasTuner stops a search after `max_consecutive_failed_trials` FAILED trials
in a row; the search step names that stop (`raise_if_failing`). What to do
depends on the failures:

- Every failed trial of that run (two or more) raised the same error, a
  code error (`ValueError`, `TypeError`, `KeyError`, ...: the hypermodel's
  code, its `fit`, Keras's checks of its arguments or of the data): a rerun
  of the same code and settings fails the same way, and so would more
  failures allowed. The message says to fix what the error names, then rerun.
- Otherwise (errors that differ between trials, e.g. a range of the space
  that cannot be built, or errors a rerun may not meet: out of memory, a
  device lost): the message says to fix the cause or allow more failures,
  and that a rerun resumes the search.
"""

from __future__ import annotations

import re
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

__all__ = ["failed_with", "raise_if_failing", "same_code_error"]

# Errors of code or settings, not of the moment: a rerun of the same code meets them again.
CODE_ERRORS = frozenset(
    {
        "AssertionError",
        "AttributeError",
        "ImportError",
        "IndexError",
        "KeyError",
        "ModuleNotFoundError",
        "NameError",
        "NotImplementedError",
        "TypeError",
        "UnboundLocalError",
        "ValueError",
        "ZeroDivisionError",
    }
)

_RAISED_TYPE = re.compile(r"([A-Za-z_][\w.]*)(?::|$)")


def same_code_error(trials: Sequence[trial_module.Trial]) -> str | None:
    """The error line all of `trials` failed with, if it is one code error, else None.

    Args:
        trials: Failed trials (KerasTuner keeps each one's traceback in `trial.message`).

    Returns:
        E.g. `"ValueError: You cannot ..."` when there are two trials or more,
        every one failed with that same line (type and message), and its type is
        one of `CODE_ERRORS` (by name, a module path left out); None otherwise
        (one trial, differing errors, or an error such as TensorFlow's
        `ResourceExhaustedError` that a rerun may not meet).
    """
    reasons = {failure_reason(trial) for trial in trials}
    if len(trials) < 2 or len(reasons) != 1:
        return None
    reason = reasons.pop()
    raised = _RAISED_TYPE.match(reason)
    if raised is None or raised.group(1).rpartition(".")[2] not in CODE_ERRORS:
        return None
    return reason


def raise_if_failing(phase: str, ctx: RunContext, tuner: kt.Tuner, error: RuntimeError) -> None:
    """Raises `TrialsFailedError` if `error` is KerasTuner's stop after failed trials in a row.

    The oracle raises it (`TrialsFailedError`, KerasTuner's message) when
    `max_consecutive_failed_trials` trials in a row FAILED; the oracle's end
    order (`failures_in_a_row`) tells it apart from any other `RuntimeError`,
    which is left to propagate as it is. The error raised here names the
    phase, the last trial's error and its `trial.json`, and what to do: fix
    what the error names and then rerun when every failed trial raised the
    same code error (`same_code_error`); otherwise fix the cause or allow
    more failures, a rerun resuming the search.
    """
    oracle = tuner.oracle
    in_a_row = failures_in_a_row(oracle)
    if not in_a_row or in_a_row < ctx.max_consecutive_failed_trials:
        return
    failed = [oracle.trials[trial_id] for trial_id in oracle.end_order[-in_a_row:]]
    stopped = (
        f"The {phase} search stopped: {in_a_row} trials in a row failed "
        f"(max_consecutive_failed_trials={ctx.max_consecutive_failed_trials})"
    )
    if same_code_error(failed):
        raise TrialsFailedError(
            f"{stopped}, each with the same error; the last, "
            f"{failed_with(ctx, tuner, failed[-1])} The same error in every trial is the "
            "code or the settings, not chance: rerunning as it is, or allowing more failures, "
            "fails the same way. Fix what the error names (the hypermodel's build or fit, "
            "the data or a setting), then rerun (with the hypermodel's code changed, the rerun "
            "starts over: pass overwrite=True)."
        ) from error
    raise TrialsFailedError(
        f"{stopped}; the last, {failed_with(ctx, tuner, failed[-1])} Fix the cause in the "
        "hypermodel or data, or allow more failures in a row with "
        "max_consecutive_failed_trials=; rerunning resumes the search (a run with no "
        "completed trial starts over)."
    ) from error


def failed_with(ctx: RunContext, tuner: kt.Tuner, trial: trial_module.Trial) -> str:
    """`"trial 3, with <its error line> (its traceback: <trial.json>)"` and, for a class id
    beyond the output's width (TensorFlow's message), what to do."""
    reason = failure_reason(trial)
    where = Path(tuner.project_dir) / f"trial_{trial.trial_id}" / "trial.json"
    fix = label_range_fix(reason, isinstance(ctx.data, StreamData))
    return f"trial {trial.trial_id}, with {reason or 'no message'} (its traceback: {where}).{fix}"
