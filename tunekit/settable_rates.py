"""Whether a callback can set an optimizer's learning rate, and why not.

Split from `tunekit.retraining` (whose cosine schedule and the model check before
the search both ask): the kinds known by type (an optimizer's own schedule, a
callable rate, through `LossScaleOptimizer`s), any other tried by setting it.
"""

from __future__ import annotations

from typing import Any

import keras

__all__ = ["OWN_SCHEDULE", "SET_FAILURES", "failed", "rate_not_settable"]

OWN_SCHEDULE = "the model's optimizer has its own learning rate schedule, which was kept"


#: What a failing rate setter (or getter) raises: caught, the rate kept, never a crash.
SET_FAILURES = (AttributeError, TypeError, RuntimeError, ValueError)


def rate_not_settable(optimizer: Any) -> str | None:
    """Why a callback cannot set `optimizer`'s learning rate (a clause), or `None` if it can.

    Only a rate held in a variable can be set: a `LearningRateSchedule` or a callable
    (`Adam(lambda: lr)`) raises. A wrapper (`LossScaleOptimizer`, which `compile` puts
    around the optimizer under `mixed_float16`) is looked through to its `inner_optimizer`.
    Any other optimizer is tried: its rate is set to its current value (and put back), as
    `keras.callbacks.LearningRateScheduler` sets it; a read-only `learning_rate` or a
    setter that raises (`AttributeError`, `TypeError`, `RuntimeError`, `ValueError`)
    cannot be set either.
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
    """Why setting `optimizer.learning_rate` to its current value fails, or `None`."""
    held = keras.ops.convert_to_numpy(variable.value)
    try:
        optimizer.learning_rate = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    except SET_FAILURES as e:
        return failed(optimizer, e)
    finally:
        variable.assign(held)  # a setter that changed the rate before failing
    return None


def failed(optimizer: Any, error: BaseException) -> str:
    """The note of a rate that setting failed on, raising `error`."""
    return (
        f"setting the learning rate of the model's optimizer ({type(optimizer).__name__}) "
        f"fails ({type(error).__name__}: {error}), so none could be set; it was kept"
    )
