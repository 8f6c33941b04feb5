"""How a message names a trial: the phase, the progress line's number and KerasTuner's id.

The progress lines count a phase's trials from 1 as they end (`[coarse] trial
3/5 (id 2): ...`), while KerasTuner names a trial by its id (`"2"`, `"0007"`,
from 0, in the order trials started) and keeps its record in
`<run>/<phase>/trial_<id>/trial.json`. A message that names a trial says all
three, as `coarse trial 3 (id 2, <run>/coarse/trial_2/trial.json)`, so the
trial is found both in what the run printed and on disk.

A trial not ended yet has no line yet. In one process the trials end in turn,
so its line will have the next number; with several workers (`--workers N`)
they end out of order, so a message on a running trial (a worker that died
holding it, a silent worker) names it by id only, `ended_only=True`:
`coarse trial (id 2)`, never a number its line may not have.
"""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any

__all__ = ["chosen_name", "progress_number", "recorded_number", "trial_name", "trial_record"]


def progress_number(oracle: Any, trial_id: str, *, ended_only: bool = False) -> int | None:
    """The number the progress line gives trial `trial_id`: its place (from 1) among the
    phase's ended trials (`oracle.end_order`), or, for a trial not ended yet, the number
    its line will have next (`None` when the oracle keeps no end order, e.g. a worker's).
    With `ended_only` (trials running in parallel end out of order), `None` for a trial
    not ended yet."""
    order = getattr(oracle, "end_order", None)
    if not isinstance(order, list):
        return None
    if trial_id in order:
        return order.index(trial_id) + 1
    return None if ended_only else len(order) + 1


def trial_record(project_dir: str | Path, trial_id: str) -> Path:
    """KerasTuner's record of the trial: `<project_dir>/trial_<id>/trial.json`."""
    return Path(project_dir) / f"trial_{trial_id}" / "trial.json"


def trial_name(
    phase: str,
    oracle: Any,
    trial_id: str,
    project_dir: str | Path | None = None,
    *,
    ended_only: bool = False,
) -> str:
    """`"coarse trial 3 (id 2, <project_dir>/trial_2/trial.json)"` (see the module
    docstring); without `project_dir`, no path; without an end order (`oracle=None`), or
    with `ended_only` for a trial not ended yet, no number: `"coarse trial (id 2)"`."""
    number = progress_number(oracle, trial_id, ended_only=ended_only)
    said = f"{phase} trial {number}" if number is not None else f"{phase} trial"
    where = "" if project_dir is None else f", {trial_record(project_dir, trial_id)}"
    return f"{said} (id {trial_id}{where})"


def chosen_name(run_dir: str | Path, phase: str, trial_id: str) -> str:
    """`trial_name` of an ended trial of a run on disk, numbered by the end order its
    phase's `<run_dir>/<phase>/oracle.json` keeps (`"fine trial 4 (id 3)"`); by id alone
    when that file cannot be read (a run folder moved without its phase folders)."""
    return trial_name(phase, _recorded_oracle(run_dir, phase), trial_id, ended_only=True)


def recorded_number(run_dir: str | Path, phase: str, trial_id: str) -> int | None:
    """The progress number of an ended trial of a run on disk (`chosen_name`), or `None`."""
    return progress_number(_recorded_oracle(run_dir, phase), trial_id, ended_only=True)


def _recorded_oracle(run_dir: str | Path, phase: str) -> Any:
    """The end order `<run_dir>/<phase>/oracle.json` keeps, as an oracle's, or `None`."""
    try:
        state = json.loads((Path(run_dir) / phase / "oracle.json").read_text())
        return types.SimpleNamespace(end_order=[str(t) for t in state["end_order"]])
    except (OSError, ValueError, KeyError, TypeError):
        return None
