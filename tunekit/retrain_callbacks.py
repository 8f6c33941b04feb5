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

A hypermodel's own `fit` that names `validation_data` receives the validation
split in the retrain too (`tunekit.fit_inputs.takes_validation_data`); if it
passes it on to `model.fit`, the epoch logs hold `val_*` there, and the
warning says so.

`rate_setters` sorts the same callbacks by what they do to the retrain's
learning rate, for its cosine schedule (`tunekit.retraining`): a
`ReduceLROnPlateau` on a `val_*` quantity never sets it there (Keras warns
and goes on), so it does not turn the schedule off. `restored_epoch`: the
epoch whose weights a user's `EarlyStopping(restore_best_weights=True)` put back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import keras

__all__ = [
    "NOT_SETTERS",
    "RATE_SETTERS",
    "RateSetters",
    "rate_setters",
    "restored_epoch",
    "retrain_monitor_notes",
]

#: Keras' callbacks that set the learning rate: a `LearningRateScheduler` at every
#: epoch's begin; a `ReduceLROnPlateau` at an epoch's end, only when the epoch's logs
#: hold its `monitor` (else Keras warns "Learning rate reduction is conditioned on
#: metric ... which is not available" and sets nothing).
RATE_SETTERS = (
    keras.callbacks.LearningRateScheduler,
    keras.callbacks.ReduceLROnPlateau,
)
#: Keras' callbacks that never set the rate: not named as suspects.
NOT_SETTERS = (
    keras.callbacks.TensorBoard,
    keras.callbacks.EarlyStopping,
    keras.callbacks.ModelCheckpoint,
    keras.callbacks.CSVLogger,
    keras.callbacks.BackupAndRestore,
    keras.callbacks.TerminateOnNaN,
    keras.callbacks.History,
    keras.callbacks.ProgbarLogger,
)

_WHY = "the final retrain on train+validation has no validation data"


def _checkpoint_classes() -> tuple[type, ...]:
    """The checkpoint callbacks of this Keras (`OrbaxCheckpoint` is Keras >= 3.12)."""
    named = ("ModelCheckpoint", "OrbaxCheckpoint")
    return tuple(c for c in (getattr(keras.callbacks, n, None) for n in named) if c)


def _retrain_effect(
    callback: keras.callbacks.Callback, monitor: str, instead: str = ""
) -> str | None:
    """What `callback` does in the retrain, where `monitor` is missing; `None`: as in trials.

    `instead`: what sets the retrain's learning rate then (`_rate_instead`), for a
    `ReduceLROnPlateau`."""
    available = f"Keras warns that {monitor!r} is not available"
    if isinstance(callback, keras.callbacks.EarlyStopping):
        restores = " nor restores the best weights" if callback.restore_best_weights else ""
        return f"so there it never stops training{restores} ({available})"
    if isinstance(callback, keras.callbacks.ReduceLROnPlateau):
        return f"so there it never lowers the learning rate ({available}){instead}"
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


def _rate_instead(callbacks: Sequence[Any], schedule: str | None) -> str:
    """What sets the retrain's learning rate when no `ReduceLROnPlateau` can (a clause)."""
    acting = rate_setters(callbacks).acting
    if acting:
        return f"; there the rate is your {', '.join(acting)}'s"
    if schedule == "cosine":
        return (
            "; the retrain anneals it by the cosine schedule instead (final_schedule='cosine'; "
            "an optimizer with a schedule of its own keeps that one)"
        )
    if schedule == "constant":
        return "; the retrain keeps the compiled rate throughout (final_schedule='constant')"
    return ""


def retrain_monitor_notes(
    callbacks: Sequence[Any], schedule: str | None = None, validation_passed: bool = False
) -> list[str]:
    """One warning per callback whose behaviour depends on a `val_*` quantity it reads.

    Args:
        callbacks: The run's `callbacks=` (Keras callbacks).
        schedule: The run's `final_schedule` (`"cosine"` or `"constant"`), for what
            sets the retrain's learning rate where a `ReduceLROnPlateau` cannot.
            Defaults to `None` (not said).
        validation_passed: Whether the hypermodel's own `fit` receives the
            validation split in the retrain (it names `validation_data`), which
            it may pass on to `model.fit`. Defaults to `False`.

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
        effect = _retrain_effect(callback, monitor, _rate_instead(callbacks, schedule))
        if effect is None:
            continue
        note = (
            f"{type(callback).__name__}(monitor={monitor!r}) acts in the search's trials "
            f"only: {_WHY}, {effect}."
        )
        if validation_passed:
            note += (
                " Unless the hypermodel's fit passes the validation_data it receives on to "
                "model.fit: the retrain gives it the validation split (which it also trains "
                f"on), and there {type(callback).__name__} acts on that."
            )
        notes.append(note)
    return notes


@dataclass(frozen=True)
class RateSetters:
    """A fit's callbacks by what they do to its learning rate (see `rate_setters`).

    Attributes:
        acting: The names of those that set it in the retrain: a
            `LearningRateScheduler`, a `ReduceLROnPlateau` on a quantity the
            retrain logs (`loss`, a compiled metric), e.g. `("ReduceLROnPlateau",)`.
        waiting: `(name, monitor)` of each `ReduceLROnPlateau` on a `val_*`
            quantity: it sets the rate only in a fit whose logs hold it (one
            whose `model.fit` got validation data), never in the retrain otherwise.
        suspects: The names of the callbacks that might set it: `waiting`'s and
            every one not Keras' (`NOT_SETTERS`) nor tunekit's own.
    """

    acting: tuple[str, ...] = ()
    waiting: tuple[tuple[str, str], ...] = ()
    suspects: tuple[str, ...] = ()


def rate_setters(callbacks: Iterable[Any]) -> RateSetters:
    """Sorts `callbacks` (a fit's, the user's) by whether they set its learning rate.

    By Keras 3's rules (`keras.src.callbacks`): a `LearningRateScheduler` sets
    it at every epoch; a `ReduceLROnPlateau` only at an epoch's end whose logs
    hold its `monitor` (a subclass too), so one on a `val_*` quantity is
    `waiting` (the retrain trains on train+validation without validation data)
    and any other `acting`. Any other callback's class is not known to set it
    or not: a `suspect`, unless it is one of Keras' `NOT_SETTERS` or tunekit's.
    """
    acting: list[str] = []
    waiting: list[tuple[str, str]] = []
    suspects: list[str] = []
    for callback in callbacks:
        name = type(callback).__name__
        monitor = getattr(callback, "monitor", None)
        if isinstance(callback, keras.callbacks.ReduceLROnPlateau) and (
            isinstance(monitor, str) and monitor.startswith("val_")
        ):
            waiting.append((name, monitor))
            suspects.append(name)
        elif isinstance(callback, RATE_SETTERS):
            acting.append(name)
        elif not isinstance(callback, NOT_SETTERS) and (
            type(callback).__module__.split(".")[0] != "tunekit"
        ):
            suspects.append(name)
    return RateSetters(tuple(acting), tuple(waiting), tuple(suspects))


def restored_epoch(callbacks: Any) -> int | None:
    """The epoch (from 1) whose weights a user's `EarlyStopping(restore_best_weights=True)`
    (`callbacks=`, or the hypermodel's fit's) put back at the retrain's end, else `None`."""
    for callback in callbacks or ():
        if (
            isinstance(callback, keras.callbacks.EarlyStopping)
            and callback.restore_best_weights
            and getattr(callback, "best_weights", None) is not None
        ):
            return int(callback.best_epoch) + 1
    return None
