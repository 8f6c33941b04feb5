"""What a search learnt from its trials' fits, kept on disk so that a resumed search knows it.

A tunekit tuner judges a trial's fit by what earlier fits of its search showed:

- `returned`: the names under which a `fit` returned numbers that were scored,
  and those under which one disagreed with Keras's own value, with that
  refusal (`tunekit.tuners.returned.check_returned`): every later number under
  a refused name fails its trial, and a disagreement under a scored name stops
  the search;
- `evaluated`: whether a trained model was already evaluated to check such a
  number (later trials are not);
- `batched`: whether a fit trained on batches, so that an epoch without one is
  empty (`tunekit.tuners.callbacks.TrialFacts`).

Kept only in the process's memory, a search resumed after a kill, Ctrl-C or a
crash forgot them: a number under a name refused before was scored after the
resume (an error rate ranked as an accuracy), and a disagreement under a name
scored before failed one trial instead of stopping the search that had scored
an untrustworthy number. The record is part of the tuner's KerasTuner state
(`get_state`, in `<project>/<tuner id>.json`, written atomically like its other
state files: `tunekit._io`), saved as soon as it changes, before the trial that
changed it ends, and read back when KerasTuner reloads the tuner. Each process
of a distributed search (a worker) keeps its own, as it did in memory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

__all__ = ["STATE_KEY", "SearchRecord"]

#: The key of the record in the tuner's state (`<project>/<tuner id>.json`).
STATE_KEY = "tunekit_search_record"


@dataclasses.dataclass
class SearchRecord:
    """The search's record (see the module docstring).

    Attributes:
        returned: `{"scored": set of names, "refused": {name: message}, "scored_in":
            {name: the first trial id scored under it}}`, the record `check_returned`
            reads and updates in place (a record saved before `scored_in` has none).
        evaluated: Whether a fit was evaluated to check a returned number.
        batched: Whether a fit of the search trained on batches.
    """

    returned: dict[str, Any] = dataclasses.field(
        default_factory=lambda: {"scored": set(), "refused": {}, "scored_in": {}}
    )
    evaluated: bool = False
    batched: bool = False
    _saved: dict[str, Any] | None = dataclasses.field(default=None, repr=False)

    def get_state(self) -> dict[str, Any]:
        """The record as JSON values (sorted names)."""
        return {
            "scored": sorted(self.returned.get("scored", ())),
            "refused": dict(sorted(self.returned.get("refused", {}).items())),
            "scored_in": dict(sorted(self.returned.get("scored_in", {}).items())),
            "evaluated": self.evaluated,
            "batched": self.batched,
        }

    def set_state(self, state: Any) -> None:
        """Takes the record `get_state` gave (a tuner state without one: an empty record).

        Raises:
            ValueError: If `state` is not such a record (a hand-edited file).
        """
        if state is None:
            state = {}
        if not isinstance(state, Mapping):
            raise ValueError(f"expected a JSON object, got {type(state).__name__}")
        scored, refused = state.get("scored", []), state.get("refused", {})
        scored_in = state.get("scored_in", {})
        if not isinstance(scored, list) or not isinstance(refused, Mapping):
            raise ValueError("'scored' must be a list of names and 'refused' an object")
        if not isinstance(scored_in, Mapping):
            raise ValueError("'scored_in' must be an object")
        self.returned = {
            "scored": {str(name) for name in scored},
            "refused": {str(name): str(message) for name, message in refused.items()},
            "scored_in": {str(name): str(trial) for name, trial in scored_in.items()},
        }
        self.evaluated = bool(state.get("evaluated", False))
        self.batched = bool(state.get("batched", False))
        self._saved = self.get_state()

    def changed(self) -> bool:
        """Whether the record differs from what was last saved or read."""
        return self.get_state() != (self._saved or SearchRecord().get_state())

    def saved(self) -> None:
        """The record was just written with the tuner's state."""
        self._saved = self.get_state()
