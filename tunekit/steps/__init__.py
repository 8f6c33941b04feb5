"""The steps of a coarse-to-fine run, each a small unit `CoarseToFine` composes.

| step | needs | writes (resumes from) |
|---|---|---|
| `coarse` (`SearchStep`) | | KerasTuner project `<run>/coarse` |
| `narrow` (`NarrowStep`) | coarse | `narrowed_space.json` |
| `fine` (`SearchStep`) | narrow | KerasTuner project `<run>/fine` |
| `retrain` (`RetrainStep`) | coarse, fine | `best_model.keras`, `best_hyperparameters.json` |
| `evaluate` (`EvaluateStep`) | retrain | `report.json`, `report.md`, `trials.csv`, plots |

See `tunekit.steps.base` for the `Step` protocol and the `RunContext` steps use.
"""

from __future__ import annotations

from tunekit.steps.base import MIN_COARSE_TRIALS, RunContext, Step, outputs_missing
from tunekit.steps.evaluate import REPORT_FILES, EvaluateStep
from tunekit.steps.narrow import NARROWED_SPACE, NarrowStep
from tunekit.steps.retrain import BEST_HYPERPARAMETERS, BEST_MODEL, RetrainStep, Selection, select
from tunekit.steps.search import HParamsExperiment, SearchStep, completed_trials

__all__ = [
    "BEST_HYPERPARAMETERS",
    "BEST_MODEL",
    "MIN_COARSE_TRIALS",
    "NARROWED_SPACE",
    "REPORT_FILES",
    "EvaluateStep",
    "NarrowStep",
    "RetrainStep",
    "RunContext",
    "SearchStep",
    "Selection",
    "Step",
    "coarse_to_fine_steps",
    "completed_trials",
    "outputs_missing",
    "select",
]


def coarse_to_fine_steps() -> tuple[Step, ...]:
    """The steps of a coarse-to-fine run, in order (fresh objects for one run)."""
    experiment = HParamsExperiment()
    return (
        SearchStep("coarse", experiment),
        NarrowStep(),
        SearchStep("fine", experiment),
        RetrainStep(),
        EvaluateStep(),
    )
