"""A search phase that ended with no completed trial starts again when the run is rerun.

A phase whose every trial failed (`NoCompletedTrialsError`, or
`TrialsFailedError` before any trial completed) holds nothing computed: its
KerasTuner project keeps only FAILED trials, which the oracle counts against
its budget, so a resumed search would end at once on the same failures. A
transient error (a data server that did not answer) must not force throwing
away the steps before it (the coarse phase): a rerun that finds the phase
so, not done, removes its project (`<run>/<phase>/`) and its TensorBoard logs
(`<run>/tensorboard/<phase>/`), and the phase starts again from its first
trial; every other step is kept. A phase with a completed trial (finite
score) resumes as before, and so does one whose `trial.json` cannot be read
(never delete what cannot be checked).

The phase starts again with the same trials: its oracle draws the same
hyperparameters and each trial gets the same seed (from `seed` and its id), so
an error drawn from the seeded generators (`random.random() < 0.5` in a `fit`)
fails them again; the line that says the phase starts again says so too
(`tunekit.steps.trial_failures.seeded_repeat` names the ways out).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

from tunekit import _io, _log
from tunekit.steps.base import RunContext

__all__ = ["restart_if_nothing_completed"]


def _ended_without_result(project: Path) -> int:
    """How many trials of `project` failed, if none completed with a finite score; else 0."""
    failed = 0
    for path in _io.scan(project, "trial_*/trial.json"):
        try:
            trial = json.loads(path.read_text(encoding="utf-8"))
            status, score = trial.get("status"), trial.get("score")
        except (OSError, ValueError, AttributeError):
            return 0  # unreadable: kept
        if status == "COMPLETED" and isinstance(score, (int, float)) and math.isfinite(score):
            return 0
        failed += status in ("FAILED", "INVALID")
    return failed


def restart_if_nothing_completed(ctx: RunContext, phase: str) -> bool:
    """Starts `phase` again if it is not done and every trial it ran failed.

    Args:
        ctx: The run's context (its folder, manifest and tuners).
        phase: `"coarse"` or `"fine"`.

    Returns:
        Whether the phase's project and logs were removed (said with `ctx.say`);
        its tuner is then made anew.
    """
    if ctx.manifest.is_done(phase):
        return False
    project = ctx.run_dir / phase
    failed = _ended_without_result(project)
    if not failed:
        return False
    ctx.say(
        f"The {phase} search has no completed trial ({_log.count(failed, 'failed trial')}): "
        f"starting it again, so that its configurations are tried again with the same seeds "
        f"(seed={ctx.seed}: an error drawn from the seeded random generators fails them again); "
        "the steps before it are kept."
    )
    ctx.tuners.pop(phase, None)
    shutil.rmtree(project)
    shutil.rmtree(ctx.run_dir / "tensorboard" / phase, ignore_errors=True)
    return True
