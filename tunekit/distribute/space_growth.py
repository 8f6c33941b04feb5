"""Which hyperparameters a parallel phase's space gained while other trials ran.

KerasTuner's oracle draws a trial's values from the space it knows when the
trial is handed out, and learns a name the default configuration's build does
not declare (one declared in the hypermodel's `fit`, or in a branch of
`build`) only when a trial that declared it ends. One process hands out the
next trial after that; a chief (`tunekit.distribute.chief`) hands out trials
while earlier ones run, so those may have been drawn without a name one
process would have known. The chief warns with
`tunekit.report_top.space_grew_note`, and the report repeats it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["drawn_beside_others", "grown_names"]


def _order(trial_id: str) -> tuple[int, str]:
    """KerasTuner's trial ids count up (`"0009"` before `"0010"`)."""
    return (len(trial_id), trial_id)


def grown_names(oracle: Any, known: Iterable[str], said: Iterable[str] = ()) -> list[str]:
    """Names in `oracle`'s space now that were not in `known` nor already `said`, sorted."""
    now = {hp.name for hp in oracle.hyperparameters.space}
    return sorted(now - set(known) - set(said))


def drawn_beside_others(oracle: Any, trial_id: str) -> bool:
    """Whether trial `trial_id`, just handed out, was drawn while a trial made before it
    still ran: one process would have drawn it after that one ended, from the space
    grown by what it declared."""
    return any(_order(t.trial_id) < _order(trial_id) for t in oracle.ongoing_trials.values())
