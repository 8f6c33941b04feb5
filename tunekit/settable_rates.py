"""Whether a callback can set an optimizer's learning rate, and why not.

Split from `tunekit.retraining` (whose cosine schedule and the model check before
the search both ask): the kinds known by type (an optimizer's own schedule, a
callable rate, through `LossScaleOptimizer`s), any other tried by setting it.
"""

from __future__ import annotations

import math
from typing import Any

import keras

__all__ = [
    "OWN_SCHEDULE",
    "SET_FAILURES",
    "failed",
    "no_effect",
    "rate_not_settable",
    "read_rate",
]

OWN_SCHEDULE = "the model's optimizer has its own learning rate schedule, which was kept"


#: What a failing rate setter (or getter) raises: caught, the rate kept, never a crash.
SET_FAILURES = (AttributeError, TypeError, RuntimeError, ValueError)


def rate_not_settable(optimizer: Any) -> str | None:
    """Why a callback cannot set `optimizer`'s learning rate (a clause), or `None` if it can.

    Only a rate held in a variable can be set: a `LearningRateSchedule` or a callable
    (`Adam(lambda: lr)`) raises. A wrapper (`LossScaleOptimizer`, which `compile` puts
    around the optimizer under `mixed_float16`) is looked through to its `inner_optimizer`.
    Any other optimizer is tried: its rate is set to another value (half its own), as
    `keras.callbacks.LearningRateScheduler` sets it, read back, and put back; a read-only
    `learning_rate`, a setter that raises (`AttributeError`, `TypeError`, `RuntimeError`,
    `ValueError`) or one whose rate does not read back as set cannot be set either.
    """
    inner = optimizer
    for _ in range(100):  # wrappers of wrappers
        inner = getattr(inner, "inner_optimizer", None) or inner
    rate = getattr(inner, "_learning_rate", None)
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        return OWN_SCHEDULE
    if not isinstance(rate, keras.Variable):
        how = "takes its learning rate from a callable" if callable(rate) else "holds its rate"
        return f"the model's optimizer {how}, not a variable, so none could be set; it was kept"
    return _set_fails(optimizer, rate)


def _set_fails(optimizer: Any, variable: Any) -> str | None:
    """Why setting `optimizer.learning_rate` fails or has no effect, or `None`.

    Sets another value than the current one (half of it: a setter may accept its own
    value and refuse any other, or silently ignore any), reads it back, and puts the
    rate back, whatever happened."""
    held = keras.ops.convert_to_numpy(variable.value)
    current = float(held)
    probe = current * 0.5 if current else 1e-3
    try:
        optimizer.learning_rate = probe
        return no_effect(optimizer, probe, read_rate(optimizer))
    except SET_FAILURES as e:
        return failed(optimizer, e)
    finally:
        try:
            optimizer.learning_rate = current  # a setter that keeps its own state
        except SET_FAILURES:
            pass
        variable.assign(held)  # a setter that changed the rate before failing


def read_rate(optimizer: Any) -> float:
    """The learning rate `optimizer` holds now, as its `learning_rate` reads."""
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def no_effect(optimizer: Any, rate: float, read: float) -> str | None:
    """The note of a rate set to `rate` that reads back `read` (a setter that does
    nothing), or `None` if it took (relative tolerance 1e-6, for float32)."""
    if math.isclose(read, rate, rel_tol=1e-6, abs_tol=1e-12):
        return None
    return (
        f"setting the learning rate of the model's optimizer ({type(optimizer).__name__}) "
        f"has no effect (set to {rate:.3g}, it read {read:.3g}), so none could be set; "
        "it was kept"
    )


def failed(optimizer: Any, error: BaseException) -> str:
    """The note of a rate that setting failed on, raising `error`."""
    return (
        f"setting the learning rate of the model's optimizer ({type(optimizer).__name__}) "
        f"fails ({type(error).__name__}: {error}), so none could be set; it was kept"
    )
