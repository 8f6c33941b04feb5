"""A hypermodel changed by hand while a `CoarseToFine` holds it: refused before the next step.

`CoarseToFine` records the hypermodel's values when it is made (its
`config()`, which the run folder keeps and a rerun compares). A value changed
by hand afterwards on the same object (`run = CoarseToFine(hm, ...)`, then
`hm._w = 512`, then `run.run()`; or between `run.coarse()` and `run.fine()`)
would train trials on values the record does not hold: the folder would say
one space and hold trials of another, and a later run with the recorded values
would resume them. What tunekit's own use of the object changes (its builds
and fits: `tunekit.hypermodel_use`) is state, not a change.
"""

from __future__ import annotations

from typing import Any

from tunekit.errors import RunConfigError
from tunekit.hypermodel_use import recorded_values
from tunekit.manifest import compared

__all__ = ["refuse_changed_values"]


def refuse_changed_values(hypermodel: Any, recorded: dict[str, dict[str, Any]]) -> None:
    """Raises `RunConfigError` if `hypermodel`'s values differ from `recorded`.

    Args:
        hypermodel: The object given as `hypermodel=`.
        recorded: Its `tunekit.hypermodel_use.recorded_values` when the
            `CoarseToFine` was made.

    Raises:
        RunConfigError: A value changed, named as a refused rerun names it
            (`hypermodel attribute _w: 64 -> 512`), with what to do.
    """
    now = recorded_values(hypermodel)
    if now == recorded:
        return
    differences = compared(recorded, now)[0] or ["its values"]
    raise RunConfigError(
        f"The hypermodel changed after this CoarseToFine was made ({'; '.join(differences)}): "
        "the run records the values it was made with, so its trials would be filed under "
        "values they did not use. Set the values back, or make a new CoarseToFine(...) with "
        "the hypermodel as it is now (its run folder then resumes or refuses it as any rerun)."
    )
