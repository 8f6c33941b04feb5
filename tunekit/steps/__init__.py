"""The steps of a coarse-to-fine run, each a small unit `CoarseToFine` composes.

| step | needs | writes (resumes from) |
|---|---|---|
| `coarse` (`SearchStep`) | | KerasTuner project `<run>/coarse` |
| `narrow` (`NarrowStep`) | coarse | `narrowed_space.json` |
| `fine` (`SearchStep`) | narrow | KerasTuner project `<run>/fine` |
| `finalists` (`FinalistsStep`, finalists > 1) | coarse, fine | the manifest (retrain uses it) |
| `retrain` (`RetrainStep`) | coarse, fine | `best_model.keras`, `best_hyperparameters.json` |
| `final_seeds` (`FinalSeedsStep`, `final_seeds` > 1) | retrain | the manifest, seed by seed |
| `baseline` (`BaselineStep`, `baseline=True`) | retrain | `baseline_model.keras` |
| `evaluate` (`EvaluateStep`) | retrain | `report.json`, `report.md`, `trials.csv`, plots |

See `tunekit.steps.base` for the `Step` protocol and the `RunContext` steps use.
"""

from __future__ import annotations

from tunekit.steps.base import MIN_COARSE_TRIALS, RunContext, Step
from tunekit.steps.baseline import BASELINE_MODEL, BaselineStep
from tunekit.steps.evaluate import REPORT_FILES, EvaluateStep
from tunekit.steps.final_seeds import FinalSeedsStep
from tunekit.steps.finalists import FinalistsStep
from tunekit.steps.narrow import NARROWED_SPACE, NarrowStep
from tunekit.steps.redo import outputs_missing
from tunekit.steps.retrain import BEST_HYPERPARAMETERS, BEST_MODEL, RetrainStep, Selection, select
from tunekit.steps.search import HParamsExperiment, SearchStep, completed_trials

__all__ = [
    "BASELINE_MODEL",
    "BEST_HYPERPARAMETERS",
    "BEST_MODEL",
    "MIN_COARSE_TRIALS",
    "NARROWED_SPACE",
    "REPORT_FILES",
    "BaselineStep",
    "EvaluateStep",
    "FinalSeedsStep",
    "FinalistsStep",
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


def coarse_to_fine_steps(
    *, finalists: int = 3, final_seeds: int = 1, baseline: bool = True
) -> tuple[Step, ...]:
    """The steps of a coarse-to-fine run, in order (fresh objects for one run).

    Args:
        finalists: The run's `finalists`: the finalists step runs when > 1.
            Defaults to 3.
        final_seeds: The run's `final_seeds`: the final-seeds step runs when
            > 1. Defaults to 1.
        baseline: Whether the baseline step runs. Defaults to `True`.
    """
    experiment = HParamsExperiment()
    steps: list[Step] = [
        SearchStep("coarse", experiment),
        NarrowStep(),
        SearchStep("fine", experiment),
    ]
    if finalists > 1:
        steps.append(FinalistsStep())
    steps.append(RetrainStep())
    if final_seeds > 1:
        steps.append(FinalSeedsStep())
    if baseline:
        steps.append(BaselineStep())
    # The report compares with the final seeds and the baseline: evaluate() runs them first.
    after_retrain = tuple(s.name for s in steps if s.name in ("final_seeds", "baseline"))
    steps.append(EvaluateStep(requires=("retrain", *after_retrain)))
    return tuple(steps)
