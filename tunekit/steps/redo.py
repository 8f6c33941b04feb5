"""Which done steps run again when what they wrote is gone or damaged: `outputs_missing`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tunekit.manifest import RunManifest
from tunekit.replacing import SEARCH_STEPS
from tunekit.state_files import REPORT, damaged_output, damaged_plots
from tunekit.steps.base import Step

__all__ = ["outputs_missing"]


def outputs_missing(
    steps: Sequence[Step], manifest: RunManifest, run_dir: Path, *, mark: bool = True
) -> tuple[list[str], list[str]]:
    """Marks the first done step whose output is gone, and every done step after it, to run again.

    With `mark=False` (a read) nothing is marked: the manifest is not written.

    A deleted `best_model.keras` (or narrowing, or report) would otherwise make
    every rerun fail the same way, or keep a damaged report. So a damaged
    output counts as gone: a `.keras` file that is not a whole archive
    (truncated, overwritten), a `report.json` that is not a JSON object with
    something in it, an empty `.csv` or `.md` file, and a plot `report.json`
    names that is not there. (A damaged state file the run reads back, such
    as `narrowed_space.json`, raises `StateFileError` saying what to do.)
    The searches keep their trials. When a search step is run again (its folder
    gone), the steps recorded in the manifest alone (`finalists`, `final_seeds`:
    no output file) run again too, from nothing: the search may pick another
    configuration, and their fits were of the one it picked before.

    Returns:
        `(missing files, steps to run again)`, both empty when nothing is
        missing; a damaged file is listed as `"<name> (unreadable)"`.
    """
    for i, step in enumerate(steps):
        if not manifest.is_done(step.name):
            continue
        missing = [
            name if not (run_dir / name).exists() else f"{name} (unreadable)"
            for name in step.outputs
            if not (run_dir / name).exists() or damaged_output(run_dir / name)
        ] + (damaged_plots(run_dir) if REPORT in step.outputs else [])
        if missing:
            later = [s for s in steps[i:] if manifest.is_done(s.name)]
            # A search run again may pick another configuration: the steps recorded in the
            # manifest alone (finalists, final seeds) are then stale too, and start afresh.
            searched = any(s.name in SEARCH_STEPS for s in later)
            redo = [s for s in later if s.outputs or searched]
            for step in redo if mark else ():
                if not step.outputs:
                    manifest.step(step.name).clear()
                manifest.mark(step.name, "running")
            return missing, [s.name for s in redo]
    return [], []
