"""What a hypermodel's own `fit` may leave undone under Hyperband, said as it is.

KerasTuner's custom-loop guide trains in a loop of its own and calls only
`callback.on_epoch_end(epoch, logs=...)` for each callback in `callbacks`,
for a number of epochs of its own. tunekit's trial state is complete once its
`fit` returns (`TunekitTuner` calls each tunekit callback's `fit_returned`:
the best-epoch checkpoint is written then, if no `on_train_end` wrote it).
What cannot be made complete is said with its real cause:

- `missing_checkpoint_message`: why Hyperband cannot continue a trial whose
  checkpoint file is absent: its `fit` reported no epoch end (none was ever
  written), this process wrote it and it is gone, or another worker wrote it
  on its own machine;
- `budget_warning`, `BUDGET_METRIC`, `budget_ignored`, `epoch_budget_note`:
  a trial whose `fit` trained another number of epochs than Hyperband gave it
  (`tuner/epochs - tuner/initial_epoch`): the trial is kept (plain
  KerasTuner keeps it too), but Hyperband's budget did not apply to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from tunekit.errors import TunekitError

# How a run names its settings (`tunekit.trial_refusals.Said`, not imported: no Keras here).
Said = Callable[[BaseException], str]

__all__ = [
    "BUDGET_METRIC",
    "budget_ignored",
    "budget_warning",
    "epoch_budget_note",
    "missing_checkpoint_message",
    "planned_epochs",
    "recorded_epochs",
]

#: The trial metric (1.0) of a trial that trained another number of epochs than planned.
BUDGET_METRIC = "epoch_budget_ignored"


def missing_checkpoint_message(
    parent: str,
    path: str,
    *,
    parent_epochs: float | None,
    written_here: bool,
    ran_here: bool = False,
    unranked: bool = False,
    worker: bool = False,
) -> str:
    """Why Hyperband cannot continue trial `parent`, whose checkpoint `path` is absent.

    Args:
        parent: The trial id Hyperband continues.
        path: Its checkpoint file (absent here).
        parent_epochs: The epochs its `fit` reported (tunekit's `epochs` metric of
            the trial); `None` when unknown (a trial tunekit did not record).
        written_here: Whether this process wrote that file.
        ran_here: Whether this process ran that trial (and wrote no file for it).
        unranked: Whether the trial's recorded score is not a finite number (read
            from its saved trial, so also after a resume): no epoch's objective
            could be ranked, so no file was ever written, by any process.
        worker: Whether this process is one worker of several (a distributed run).

    Returns:
        The message of the continued trial's `FailedTrialError`: the cause, and the fix,
        naming settings as keyword arguments (`fine_tuner='bayesian'`; the tuner says them
        as the run does, `tunekit.trial_refusals.said_text`: `--fine-tuner bayesian` on
        the command line).
    """
    head = f"Hyperband continues trial {parent} from its checkpoint {path}, which is absent: "
    if parent_epochs is not None and parent_epochs <= 0:
        return head + (
            f"it was never written, because trial {parent}'s fit reported no epoch end to its "
            "callbacks (a training loop of its own that never calls "
            "`callback.on_epoch_end(epoch, logs={...})`), so there was no best epoch to "
            "save. In your loop, call `callback.set_model(model)` once and "
            "`callback.on_epoch_end(epoch, logs={'<objective>': value})` at each epoch's "
            "end for every callback in `callbacks` (KerasTuner's custom-loop guide), or "
            "tune with fine_tuner='bayesian', which continues no trial."
        )
    if written_here:
        return head + (
            f"this process wrote it when trial {parent} ended and it has since been removed "
            "or moved (something deleted files in the run folder, or the run folder was "
            "moved while the search ran). Keep the run folder in place until the run ends, "
            "then rerun to resume."
        )
    if ran_here or unranked:
        who = "this process" if ran_here else "an earlier session of this run (or a worker)"
        return head + (
            f"{who} ran trial {parent}, whose fit reported {int(parent_epochs or 0)} "
            "epoch end(s), none with an objective value the checkpoint could rank as a best "
            "epoch (e.g. NaN or infinite in every epoch's logs), so none was written. Log the "
            "objective's value at each epoch's end, or use fine_tuner='bayesian'."
        )
    if worker:
        return head + (
            f"another worker ran trial {parent} and wrote it on its own filesystem. With "
            "workers on several machines, put the run folder (directory=) on a filesystem "
            "they all share, or use fine_tuner='bayesian'."
        )
    ran = "" if parent_epochs is None else f" (its fit reported {int(parent_epochs)} epoch(s))"
    return head + (
        f"trial {parent} ran in an earlier session of this run{ran} and its checkpoint is no "
        "longer in the run folder (removed, or the folder was copied without it; an earlier "
        "tunekit wrote none for a training loop of its own that never called "
        "on_train_end). "
        "Rerun with overwrite=True to start the search over, or use fine_tuner='bayesian'."
    )


def recorded_epochs(trial: Any) -> float | None:
    """The epochs tunekit recorded for a KerasTuner `trial` (`None`: none recorded; 0:
    its fit reported no epoch end, so only the epochs it was given are, `epochs_given`)."""
    metrics = getattr(trial, "metrics", None)
    if metrics is None:
        return None
    if not metrics.exists("epochs"):
        return 0.0 if metrics.exists("epochs_given") else None
    value = metrics.get_last_value("epochs")
    return None if value is None else float(value)


def planned_epochs(values: Mapping[str, Any]) -> int | None:
    """The epochs Hyperband gives a trial of these values (`None`: not a Hyperband trial)."""
    if "tuner/epochs" not in values:
        return None
    return int(values["tuner/epochs"]) - int(values.get("tuner/initial_epoch", 0) or 0)


def budget_warning(
    trial_id: str, trained: int, planned: int, *, first: bool = True, said: Said = str
) -> str:
    """The warning for a trial whose `fit` trained `trained` epochs, not Hyperband's `planned`.

    `first`: the tuner's first such trial gets the whole explanation, later ones one line.
    `said`: how the run names its settings (`tunekit.trial_refusals.Said`):
    `fine_tuner='bayesian'` in Python (`str`, the default), `--fine-tuner bayesian` on
    the command line.
    """
    what = (
        "reported no epoch end to its callbacks"
        if trained == 0
        else f"trained {trained} epoch(s) (epoch ends it reported to its callbacks)"
    )
    if not first:
        return (
            f"Hyperband trial {trial_id} too was given {planned} epoch(s) but its fit {what}: "
            "Hyperband's epoch budget did not apply to it."
        )
    return (
        f"Hyperband trial {trial_id} was given {planned} epoch(s) (epochs=tuner/epochs - "
        f"tuner/initial_epoch) but its fit {what}: Hyperband's epoch budget did not apply "
        "to it, and its score is not comparable to the other trials' at their budget. A "
        "hypermodel's own training loop should run `range(kwargs['initial_epoch'], "
        "kwargs['epochs'])` (the `epochs` and `initial_epoch` it is given), or tune with "
        f"{_bayesian(said)}. The trial is kept."
    )


def budget_ignored(trials: Iterable[Any]) -> list[str]:
    """The ids of the KerasTuner `trials` marked with `BUDGET_METRIC`, in id order."""
    marked = [
        t.trial_id
        for t in trials
        if t.metrics.exists(BUDGET_METRIC) and t.metrics.get_last_value(BUDGET_METRIC)
    ]
    return sorted(marked, key=lambda i: (len(str(i)), str(i)))


def epoch_budget_note(phase: str, trial_ids: Sequence[str], *, command_line: bool = False) -> str:
    """report.md's note on the `phase` trials (ids) whose fit ignored Hyperband's epochs;
    its fix names `fine_tuner='bayesian'`, or `--fine-tuner bayesian` for a run started
    on the command line (`command_line`)."""
    listed = ", ".join(trial_ids)
    return (
        f"[{phase}] Hyperband's epoch budget did not apply to trial(s) {listed}: their "
        "hypermodel's fit trained another number of epochs than the epochs Hyperband gave "
        "it (tuner/epochs - tuner/initial_epoch), so their scores were not earned on the "
        "budget Hyperband compared them at (`epochs` in trials.csv is what each trained). "
        "Have the fit train range(initial_epoch, epochs) of what it is given, or tune with "
        f"{'--fine-tuner bayesian' if command_line else _BAYESIAN}."
    )


_BAYESIAN = "fine_tuner='bayesian'"


def _bayesian(said: Said) -> str:
    """`fine_tuner='bayesian'` as the run says it (`--fine-tuner bayesian` on the CLI)."""
    return said(TunekitError(_BAYESIAN))  # `tunekit.trial_refusals.said_text`
