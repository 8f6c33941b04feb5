"""What a callback watching a validation quantity does in the final retrain, which has none.

The retrain trains on train+validation without validation data, so the
epoch logs there hold no `val_*` entries. A callback that reads a `val_*`
monitor acts in the search's trials only; one that never reads its monitor
(a `ModelCheckpoint` with the default `save_best_only=False` saves every
epoch whatever its `monitor`) acts the same in both, and is not warned
about. The rules follow Keras 3's callbacks (`keras.src.callbacks`):

- `EarlyStopping`, `ReduceLROnPlateau`: read `monitor` at every epoch's end
  (whatever `baseline`, `start_from_epoch`, `restore_best_weights`,
  `cooldown`, ...): in the retrain they never stop, restore or lower the
  rate.
- `ModelCheckpoint`, `OrbaxCheckpoint`: read `monitor` only with
  `save_best_only=True` (`initial_value_threshold` and `mode` only serve it)
  and `save_freq="epoch"`. Without the value, `ModelCheckpoint` saves every
  epoch and `OrbaxCheckpoint` saves nothing. With an integer `save_freq`
  they read the batch logs, which hold no `val_*` in the trials either: the
  retrain changes nothing.
- any other callback with a `val_*` `monitor` attribute (a class of yours):
  whether it reads it is not known, and the warning says "if".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

__all__ = ["retrain_monitor_notes"]

_WHY = "the final retrain on train+validation has no validation data"


def _checkpoint_classes() -> tuple[type, ...]:
    """The checkpoint callbacks of this Keras (`OrbaxCheckpoint` is Keras >= 3.12)."""
    named = ("ModelCheckpoint", "OrbaxCheckpoint")
    return tuple(c for c in (getattr(keras.callbacks, n, None) for n in named) if c)


def _retrain_effect(callback: keras.callbacks.Callback, monitor: str) -> str | None:
    """What `callback` does in the retrain, where `monitor` is missing; `None`: as in trials."""
    available = f"Keras warns that {monitor!r} is not available"
    if isinstance(callback, keras.callbacks.EarlyStopping):
        restores = " nor restores the best weights" if callback.restore_best_weights else ""
        return f"so there it never stops training{restores} ({available})"
    if isinstance(callback, keras.callbacks.ReduceLROnPlateau):
        return f"so there it never lowers the learning rate ({available})"
    if isinstance(callback, _checkpoint_classes()):
        by_epoch = getattr(callback, "save_freq", "epoch") == "epoch"
        if not (getattr(callback, "save_best_only", False) and by_epoch):
            return None  # saves by the epoch or batch count alone, or reads no val_* anyway
        if isinstance(callback, keras.callbacks.ModelCheckpoint):
            saves = "it saves every epoch, not only the best"
        else:
            saves = "it saves nothing"
        return f"so there {saves} (Keras warns 'Can save best model only with {monitor} available')"
    return (
        f"so there, if {type(callback).__name__} reads its monitor, it finds none "
        "(a callback class of yours: tunekit cannot tell whether it reads it)"
    )


def retrain_monitor_notes(callbacks: Sequence[Any]) -> list[str]:
    """One warning per callback whose behaviour depends on a `val_*` quantity it reads.

    Args:
        callbacks: The run's `callbacks=` (Keras callbacks).

    Returns:
        The warnings, in the callbacks' order: each names the callback and
        its monitor (`"EarlyStopping(monitor='val_loss') acts in the
        search's trials only: ..."`) and what it does in the retrain instead.
        Empty when no callback reads a `val_*` monitor (see the module's
        rules).
    """
    notes = []
    for callback in callbacks:
        monitor = getattr(callback, "monitor", None)
        if not (isinstance(monitor, str) and monitor.startswith("val_")):
            continue
        effect = _retrain_effect(callback, monitor)
        if effect is not None:
            notes.append(
                f"{type(callback).__name__}(monitor={monitor!r}) acts in the search's trials "
                f"only: {_WHY}, {effect}."
            )
    return notes
