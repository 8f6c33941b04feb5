"""A rerun that changes a search's trial budget: the search goes on with its trials.

`coarse_trials` and a Bayesian `fine_trials` may change on a rerun that changes
nothing else, until a step after that search has finished, to no fewer than the
trials it has run (`adopt_budgets`), as KerasTuner's `max_trials` may change when a
tuner reloads. `tunekit.manifest.RunManifest.open` calls it; what later steps had
begun moves aside as `tunekit.replacing.set_aside` moves it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tunekit.replacing import _STEP_EXTRAS, _default, _joined, _planned_outputs, set_aside

__all__ = ["BUDGETS", "adopt_budgets", "budget_refusal_note", "budgets_note"]

#: Each search's trial budget, with its phase: a rerun may change it while no step after
#: that search has finished (`adopt_budgets`), as KerasTuner's `max_trials` may change
#: when a tuner reloads.
BUDGETS = {"coarse_trials": "coarse", "fine_trials": "fine"}


def _trials_run(run_dir: Path, phase: str) -> int:
    """How many trials the phase's search has started (its `trial_*` folders)."""
    folder = run_dir / phase
    return sum(1 for p in folder.glob("trial_*") if p.is_dir()) if folder.is_dir() else 0


def adopt_budgets(
    old: dict[str, Any], config: dict[str, Any], steps_in_order: Sequence[str], run_dir: Path
) -> tuple[list[tuple[str, str, Any, Any]], Path | None]:
    """Records in the run state `old` another `BUDGETS` setting of `config`, and reopens
    its search, when no step after that search has finished and the new budget is at
    least the trials the search has run.

    A search that ended on its budget (`coarse_trials=4`, its narrowing refused for too
    few completed trials) then goes on to the new count, keeping its trials, as a
    KerasTuner tuner reloaded with a larger `max_trials` does; one raised by mistake may
    be lowered again before more trials ran. A budget below the trials run, or any other
    once a later step has finished (the narrowing, the fine search or the model came
    from the trials so far), is left to the refusal of another configuration
    (`budget_refusal_note` says why). What the later steps, started but not finished,
    wrote (an interrupted retrain's backup, of the model the search chose before) moves
    to `replaced/<UTC time>/` (`set_aside`): the search may choose another.

    Args:
        old: The recorded manifest state (`config`, `steps`, `plan`, ...), changed in
            place: the setting recorded, the search marked `running` and the records of
            the steps after it (none finished) dropped.
        config: The rerun's configuration (a setting at its default is absent).
        steps_in_order: Every step name in run order (`tunekit.manifest.STEPS`).
        run_dir: The run folder.

    Returns:
        The changes adopted, `(text, setting, old, new)`, as `TunekitError.changes`; and
        the folder the later steps' files went to (`None`: they had written none).
    """
    recorded, steps = old.get("config"), old.get("steps")
    if not isinstance(recorded, dict) or not isinstance(steps, dict):
        return [], None
    adopted, dropped = [], []
    for key, phase in BUDGETS.items():
        before, after = recorded.get(key, _default(key)), config.get(key, _default(key))
        if not (isinstance(before, int) and isinstance(after, int) and after != before):
            continue
        later = steps_in_order[steps_in_order.index(phase) + 1 :]
        if _finished(steps, later) or after < _trials_run(run_dir, phase):
            continue
        recorded[key] = after
        if isinstance(steps.get(phase), dict) and steps[phase].get("status") == "done":
            steps[phase] = {**steps[phase], "status": "running"}
        dropped += [name for name in later if name in steps and name not in dropped]
        adopted.append((f"{key}: {before} -> {after}", key, before, after))
    names = [
        name
        for step in dropped
        for name in (*_planned_outputs(old).get(step, ()), *_STEP_EXTRAS.get(step, ()))
        if (run_dir / name).exists()
    ]
    record = {"config": dict(recorded), "steps": {n: steps[n] for n in dropped}}
    for name in dropped:
        steps.pop(name)
    folder = set_aside(run_dir, names, record, timing_steps=dropped) if names else None
    return adopted, folder


def _finished(steps: dict[str, Any], names: Sequence[str]) -> bool:
    return any(isinstance(steps.get(n), dict) and steps[n].get("status") == "done" for n in names)


def budgets_note(adopted: Sequence[tuple[str, str, Any, Any]], folder: Path | None) -> str:
    """The sentence that says the budgets `adopt_budgets` changed (and where the later
    steps' files went)."""
    said = [f"`{key}` ({before} -> {after})" for _, key, before, after in adopted]
    phases = _joined([f"the {BUDGETS[key]} search" for _, key, _, _ in adopted])
    return (
        f"{_joined(said)} changed: {phases} goes on to the new count, keeping the trials "
        "it ran (as KerasTuner does with another max_trials)"
        + (f"; what the steps after it had begun is kept in {folder}." if folder else ".")
    )


def budget_refusal_note(
    changed: set[str],
    budgets: dict[str, tuple[Any, Any]],
    steps: Any,
    steps_in_order: Sequence[str],
) -> str:
    """For a refusal: why a changed `BUDGETS` setting was not taken, or that it could be
    alone.

    Args:
        changed: Every changed setting.
        budgets: Each `BUDGETS` setting's `(recorded, new)` values; one that is not a
            count on both sides (`fine_trials` beside a Hyperband fine phase) follows
            from another setting and is not said.
        steps: The recorded steps.
        steps_in_order: Every step name in run order.
    """
    counts = sorted(
        k
        for k in changed & set(BUDGETS)
        if all(isinstance(v, int) for v in budgets.get(k, (None, None)))
    )
    if not counts:
        return ""
    steps = steps if isinstance(steps, dict) else {}
    named = _joined([f"`{k}`" for k in counts])
    if any(
        _finished(steps, steps_in_order[steps_in_order.index(BUDGETS[k]) + 1 :]) for k in counts
    ):
        return (
            f" ({named} may change only until a step after its search has finished: the "
            "steps after it were made from its trials.)"
        )
    if changed <= set(BUDGETS):  # below the trials run
        return " (A search's budget may not go below the trials it has run.)"
    each = "may change on its own" if len(counts) == 1 else "may each change on their own"
    return f" ({named} {each}: the search goes on with its trials.)"
