"""A hypermodel changed by hand while a `CoarseToFine` holds it: refused before the next step.

`CoarseToFine` records the hypermodel's values when it is made (its
`config()`, which the run folder keeps and a rerun compares). A value changed
by hand afterwards on the same object (`run = CoarseToFine(hm, ...)`, then
`hm._w = 512`, then `run.run()`; or between `run.coarse()` and `run.fine()`)
would train trials on values the record does not hold: the folder would say
one space and hold trials of another, and a later run with the recorded values
would resume them. What tunekit's own use of the object changes (its builds
and fits: `tunekit.hypermodel_use`) is state, not a change.

A build by hand between making the `CoarseToFine` and its first step (a
notebook cell showing `hm.build(hp).summary()`) changes what a build changes:
a generator drawn from, a counter, a held layer built. `learn_build_state`
builds the object once with the defaults when the `CoarseToFine` is made, as
tunekit's own use, so what a build changes is known as state before any hand
build: only a change a build does not make is refused.
"""

from __future__ import annotations

from typing import Any

from tunekit.default_build import build_with_defaults
from tunekit.errors import RunConfigError
from tunekit.hypermodel_use import in_use, recorded_values
from tunekit.manifest import compared

__all__ = ["learn_build_state", "refuse_changed_values"]


def learn_build_state(hypermodel: Any, hyperparameters: Any = None) -> None:
    """Builds `hypermodel` once with the defaults as tunekit's use (`in_use`), then discards it.

    What that build changes on the object (a generator's state, a counter, a
    held layer's weights) is then state (`tunekit.hypermodel_use`), so a build
    by hand before the first step is not refused as a change. A build that
    fails is left to the model check of the first step, which refuses it.

    Args:
        hypermodel: The object given as `hypermodel=`; a build function or an
            object tunekit does not follow is left alone.
        hyperparameters: The run's `hyperparameters=` (a `keras_tuner.HyperParameters`),
            built with first as the model check builds; `None` for none.
    """
    import keras
    import keras_tuner as kt

    if not isinstance(hypermodel, kt.HyperModel):
        return
    hp = kt.HyperParameters() if hyperparameters is None else hyperparameters.copy()
    with in_use(hypermodel):
        try:
            model = build_with_defaults(hypermodel, hp)
        except Exception:  # noqa: BLE001 - the first step's model check says it, by name
            return
        del model
        keras.backend.clear_session()


def refuse_changed_values(
    hypermodel: Any, recorded: dict[str, dict[str, Any]], now: dict[str, Any] | None = None
) -> None:
    """Raises `RunConfigError` if `hypermodel`'s values differ from `recorded`.

    Args:
        hypermodel: The object given as `hypermodel=`.
        recorded: Its `tunekit.hypermodel_use.recorded_values` when the
            `CoarseToFine` was made.
        now: Its `tunekit.hypermodel_use.described` values now, if already
            described (else described here).

    Raises:
        RunConfigError: A value changed, named as a refused rerun names it
            (`hypermodel attribute _w: 64 -> 512`), with what to do.
    """
    now = recorded_values(hypermodel, now)
    if now == recorded:
        return
    differences = compared(recorded, now)[0] or ["its values"]
    raise RunConfigError(
        f"The hypermodel changed after this CoarseToFine was made ({'; '.join(differences)}): "
        "the run records the values it was made with, so its trials would be filed under "
        "values they did not use. Set the values back, or make a new CoarseToFine(...) with "
        "the hypermodel as it is now (its run folder then resumes or refuses it as any rerun)."
    )
