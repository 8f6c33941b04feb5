"""A fine phase whose every trial the hypermodel skipped: the run takes the best coarse trial.

KerasTuner's documented way to skip a configuration is to raise
`keras_tuner.errors.FailedTrialError` in the hypermodel's `build` or `fit`
(e.g. for a combination of values that cannot work): the trial is FAILED,
not retried, and the search goes on. When every fine trial was skipped so
(the narrowed space may hold mostly such combinations), the fine phase has
no score, but nothing is broken: the run's pick rule, "the best fine trial
unless a coarse trial scored better", gives the best coarse trial. The fine
phase is then marked done with `all_skipped` (how many trials it ran, each
skipped), and the pick's reason, the summary, `report.md` and `report.json`
say so; a rerun does not run its trials again.

Only the hypermodel's own `FailedTrialError` counts (the exception's last
frame is outside tunekit and KerasTuner): tunekit's refusals of a trial
(`HyperModelFitError`, `TrialRefusedError`), a loss that became NaN and an
oversized model are not skips, nor is any other error (a bug). A fine phase
with any of them among its failures, or a coarse phase with no completed
trial, still stops the run with `NoCompletedTrialsError`.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import keras_tuner as kt
from keras_tuner import errors as kt_errors
from keras_tuner.engine import trial as trial_module

from tunekit.errors import NoCompletedTrialsError, TunekitError, raised_line
from tunekit.narrowing import is_usable
from tunekit.steps.base import RunContext

__all__ = [
    "ALL_SKIPPED",
    "all_skipped",
    "coarse_pick",
    "fine_all_skipped",
    "skipped_by_hypermodel",
    "skipped_note",
]

# The manifest's (and report.json's phase) key: fine trials run, every one skipped.
ALL_SKIPPED = "all_skipped"

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


def skipped_note(ran: int) -> str:
    """`"none of the 2 fine trials completed (each was skipped by ...)"`."""
    each = "it was" if ran == 1 else "each was"
    return (
        f"none of the {ran} fine trial{'s' if ran != 1 else ''} completed ({each} skipped "
        "by a FailedTrialError the hypermodel raised, KerasTuner's failed-trial signal)"
    )


def fine_all_skipped(ctx: RunContext, phase: str, oracle: kt.Oracle) -> int:
    """For a fine phase with no completed trial: how many trials it ran, all skipped by the
    hypermodel, when the coarse phase has a completed trial to pick instead; else 0."""
    if phase != "fine" or not any(
        is_usable(t) for t in ctx.ensure("coarse").oracle.trials.values()
    ):
        return 0
    return all_skipped(list(oracle.trials.values()))


def coarse_pick(
    ctx: RunContext, coarse: Sequence[trial_module.Trial]
) -> tuple[str, trial_module.Trial, str]:
    """The pick when the fine phase has no completed trial: the best coarse trial.

    Args:
        ctx: The run's context (its manifest: the fine step's `all_skipped`).
        coarse: The coarse phase's completed trials, best first.

    Raises:
        NoCompletedTrialsError: The fine phase was not skipped whole, or no coarse
            trial completed.
    """
    ran = int(ctx.manifest.step("fine").get(ALL_SKIPPED) or 0)
    if not coarse or not ran:
        raise NoCompletedTrialsError("No completed fine trial to choose from.")
    name = ctx.objective.name
    return (
        "coarse",
        coarse[0],
        f"{name}={coarse[0].score:.4f}, the best coarse trial: {skipped_note(ran)}",
    )
