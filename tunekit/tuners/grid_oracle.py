"""KerasTuner's grid search oracle, resumable: its walk through the grid is rebuilt on reload.

KerasTuner 1.4's `GridSearchOracle` walks the grid with two records it keeps in
memory only, never in `oracle.json`: the trials in the grid's order (a linked
list) and the trials whose next combination is still to be made. A grid search
resumed after a kill or Ctrl-C reloaded neither: stopped between two trials, it
ended at once with part of the grid tried (exit 0, as if the grid were done);
stopped during a trial, it crashed with a `KeyError` once the retried trial
ended. `GridOracle` rebuilds both from the trials when the oracle is reloaded,
so the resumed search tries exactly the combinations the uninterrupted one would.
"""

from __future__ import annotations

from typing import Any

import keras_tuner as kt

__all__ = ["GridOracle"]


class GridOracle(kt.oracles.GridSearchOracle):
    """`keras_tuner.oracles.GridSearchOracle` that resumes where its search stopped.

    Takes the arguments of KerasTuner's `GridSearchOracle`.
    """

    _ordered_ids: Any  # KerasTuner's: the started trials in the grid's order (a LinkedList)
    _populate_next: list[str]  # KerasTuner's: trials whose next combination is to be made

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        # Checked against KerasTuner 1.4.7 and 1.4.8 (`_ordered_ids`, `_populate_next`), as
        # the internals `tunekit.tuners.base.TunekitTuner.reload` reads.
        started = [i for i in self.start_order if i in self.trials]
        ordered = type(self._ordered_ids)()  # KerasTuner's LinkedList, empty
        for trial_id in sorted(started, key=self._grid_position):
            ordered.insert(trial_id)
        self._ordered_ids = ordered
        # Each started trial's next combination, made unless tried (as after its end).
        self._populate_next = list(started)

    def _grid_position(self, trial_id: str) -> list[int]:
        """A trial's place in the grid's order (KerasTuner's `_compare`: the first
        hyperparameter decides, each one's default first, then its values in order)."""
        values = self.trials[trial_id].hyperparameters.values
        position = []
        for hp in self.get_space().space:
            order = list(getattr(hp, "values", None) or [hp.default])
            if hp.default in order:
                order.remove(hp.default)
            order.insert(0, hp.default)
            value = values.get(hp.name, hp.default)  # not declared yet: the default's place
            position.append(order.index(value) if value in order else len(order))
        return position
