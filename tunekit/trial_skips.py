"""Which FAILED trials the hypermodel skipped: KerasTuner's documented skip signal.

KerasTuner's documented way to skip a configuration is to raise
`keras_tuner.errors.FailedTrialError` in the hypermodel's `build` or `fit`
(e.g. for a combination of values that cannot work): the trial is FAILED,
not retried, and the search goes on. Such a trial is a skip, not a failure:
it does not count toward `max_consecutive_failed_trials`
(`tunekit.tuners.oracles.failed_in_a_row`), and a fine phase whose every
trial was skipped picks the best coarse trial (`tunekit.steps.fine_skips`).

Only the hypermodel's own `FailedTrialError` counts (the exception's last
frame is outside tunekit and KerasTuner): tunekit's refusals of a trial
(`HyperModelFitError`, `TrialRefusedError`), a loss that became NaN and an
oversized model are not skips, nor is any other error (a bug).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import keras_tuner as kt  # its folder: errors raised there are not skips
from keras_tuner import errors as kt_errors
from keras_tuner.engine import trial as trial_module
from keras_tuner.engine.trial import Trial, TrialStatus

from tunekit.errors import TunekitError, raised_line

__all__ = ["all_skipped", "failed_in_a_row", "skipped_by_hypermodel"]

_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line \d+')
# Where an error raised by tunekit or KerasTuner itself comes from (not a skip).
_OWN_DIRS = tuple(
    str(Path(file).resolve().parent)
    for module in (sys.modules["tunekit"], sys.modules["keras_tuner"])
    if (file := getattr(module, "__file__", None))
)


def _skip_class(name: str) -> bool:
    """Whether the error class `name` (as a traceback names it) is KerasTuner's
    `FailedTrialError` or a subclass of it that is not one of tunekit's refusals."""
    module, _, qualname = name.rpartition(".")
    if qualname == "FailedTrialError" and module.startswith("keras_tuner"):
        return True
    found: object = sys.modules.get(module or "__main__")
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return (
        isinstance(found, type)
        and issubclass(found, kt_errors.FailedTrialError)
        and not issubclass(found, TunekitError)
    )


def skipped_by_hypermodel(trial: trial_module.Trial) -> bool:
    """Whether `trial` FAILED on a `FailedTrialError` the hypermodel's own code raised.

    Read from the traceback KerasTuner keeps in `trial.message` (also on a
    worker's trial): its error line names `FailedTrialError` (or a subclass
    the hypermodel's code defines) and its last frame is outside tunekit and
    KerasTuner (whose own `FailedTrialError`s, e.g. a NaN loss or an oversized
    model, are not skips).
    """
    if trial.status != trial_module.TrialStatus.FAILED or not trial.message:
        return False
    line = raised_line(trial.message)
    if not _skip_class(line.partition(":")[0].strip()):
        return False
    frames = [m["path"] for m in map(_FRAME.match, trial.message.splitlines()) if m]
    if not frames:
        return False
    last = str(Path(frames[-1]).resolve())
    return not any(last.startswith(os.path.join(own, "")) for own in _OWN_DIRS)


def all_skipped(trials: Sequence[trial_module.Trial]) -> int:
    """How many of `trials` ran, if each was skipped by the hypermodel; else 0."""
    if trials and all(skipped_by_hypermodel(t) for t in trials):
        return len(trials)
    return 0


def failed_in_a_row(oracle: kt.Oracle) -> list[Trial]:
    """The oracle's last ended trials (`end_order`) that FAILED in a row, oldest first.

    A trial the hypermodel skipped (its own `FailedTrialError`,
    `skipped_by_hypermodel`) is FAILED for KerasTuner but
    is no failure: it is passed over, neither counted nor ending the run, so
    skips never stop a search and real failures with skips between them do.
    Any other trial (COMPLETED, INVALID...) ends the run.
    """
    failed: list[Trial] = []
    for trial_id in reversed(oracle.end_order):
        trial = oracle.trials[trial_id]
        if trial.status != TrialStatus.FAILED:
            break
        if not skipped_by_hypermodel(trial):
            failed.append(trial)
    return failed[::-1]
