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

from collections.abc import Sequence

import keras_tuner as kt
from keras_tuner.engine import trial as trial_module

from tunekit.errors import NoCompletedTrialsError
from tunekit.narrowing import is_usable
from tunekit.score_text import score_text
from tunekit.steps.base import RunContext
from tunekit.trial_skips import all_skipped, skipped_by_hypermodel

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
        f"{name}={score_text(coarse[0].score)}, the best coarse trial: {skipped_note(ran)}",
    )
