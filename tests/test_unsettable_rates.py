"""A learning rate the cosine retrain schedule cannot set is kept, never a crash.

Then (the retry probe): an optimizer of another kind whose rate cannot be set (a
read-only `learning_rate` property, a setter that raises) still crashed the retrain,
or the baseline, at its first epoch: settability is now found by trying.

Before, only an optimizer's own `LearningRateSchedule` was seen: a callable rate
(`Adam(lambda: lr)`) or a schedule inside the `LossScaleOptimizer` a
`mixed_float16` policy wraps around the optimizer crashed the retrain (and the
baseline) after the whole search.
"""

from __future__ import annotations

import logging

import keras
import numpy as np
import pytest

from tunekit._kerastuner import get_hypermodel
from tunekit.data import Dataset
from tunekit.retraining import (
    OWN_SCHEDULE,
    CosineDecayCallback,
    rate_not_settable,
    schedule_note,
)
from tunekit.steps.check import check_model


def _decay():
    return keras.optimizers.schedules.ExponentialDecay(1e-2, decay_steps=1, decay_rate=0.5)


def _model(optimizer):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    return model


def _begin(model, epochs=2):
    """What a fit does to the callback before its first batch."""
    callback = CosineDecayCallback(epochs)
    callback.set_model(model)
    callback.on_train_begin()
    callback.on_epoch_begin(0)
    return callback


def _callable_rate():
    return keras.optimizers.Adam(learning_rate=lambda: 1e-2)


def _wrapped_schedule():
    return keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(_decay()))


class ReadOnlyRate(keras.optimizers.SGD):
    """The probe's: a rate held in a variable, shown by a property without a setter."""

    @property
    def learning_rate(self):
        return self._get_current_learning_rate()


class IgnoredRate(keras.optimizers.Adam):
    """The retry probe's NoopAdam: a setter that silently does nothing."""

    @property
    def learning_rate(self):
        return self._get_current_learning_rate()

    @learning_rate.setter
    def learning_rate(self, value):
        pass


class PickyRate(keras.optimizers.Adam):
    """The retry probe's PickyAdam: accepts its own rate, raises on any other."""

    @property
    def learning_rate(self):
        return self._get_current_learning_rate()

    @learning_rate.setter
    def learning_rate(self, value):
        held = float(keras.ops.convert_to_numpy(self._learning_rate))
        if abs(float(keras.ops.convert_to_numpy(value)) - held) > 1e-12:
            raise ValueError("PickyRate: set only at construction")
        self._learning_rate.assign(value)


class FrozenRate(keras.optimizers.Adam):
    """The probe's: a setter that raises; `fail_after` sets first succeed."""

    fail_after = 0

    @property
    def learning_rate(self):
        return self._get_current_learning_rate()

    @learning_rate.setter
    def learning_rate(self, value):
        if self.fail_after <= 0:
            raise RuntimeError("rate is frozen by policy")
        self.fail_after -= 1
        self._learning_rate.assign(value)


@pytest.mark.parametrize(
    "optimizer, why",
    [
        (_wrapped_schedule, OWN_SCHEDULE),
        (_callable_rate, "takes its learning rate from a callable"),
        (  # a wrapper of a wrapper: looked through to the end
            lambda: keras.optimizers.LossScaleOptimizer(
                keras.optimizers.LossScaleOptimizer(_callable_rate())
            ),
            "takes its learning rate from a callable",
        ),
        (  # not a kind known by type: found by trying (old code: AttributeError at epoch 0)
            lambda: ReadOnlyRate(1e-2),
            "(AttributeError: property 'learning_rate' of 'ReadOnlyRate' object has no setter)",
        ),
        (lambda: FrozenRate(1e-2), "(FrozenRate) fails (RuntimeError: rate is frozen by policy)"),
        (
            lambda: keras.optimizers.LossScaleOptimizer(FrozenRate(1e-2)),
            "(LossScaleOptimizer) fails (RuntimeError: rate is frozen by policy)",
        ),
    ],
    ids=[
        "loss-scale-over-schedule",
        "callable",
        "loss-scale-twice-over-callable",
        "read-only-property",
        "raising-setter",
        "loss-scale-over-raising-setter",
    ],
)
def test_a_rate_that_cannot_be_set_is_kept_with_the_note(optimizer, why, caplog):
    model = _model(optimizer())
    with caplog.at_level(logging.WARNING, logger="tunekit"):
        callback = _begin(model)  # old code: TypeError / AttributeError setting the rate
    callback.on_epoch_end(0)
    assert not callback.applied
    assert why in (callback.skipped or "")
    assert "The cosine retrain schedule was not applied" in caplog.text
    assert schedule_note([callback]) == f"the cosine schedule not applied: {callback.skipped}"


@pytest.mark.parametrize("optimizer", [ReadOnlyRate, FrozenRate])
def test_a_fit_with_a_rate_that_cannot_be_set_trains_at_its_rate(optimizer):
    """The probe's retrain: `fit` through the callback, the rate kept, never a crash."""
    model = _model(optimizer(1e-2))
    callback = CosineDecayCallback(1)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 4)).astype("float32"), rng.integers(0, 3, size=16)
    model.fit(x, y, epochs=1, verbose=0, callbacks=[callback])  # old code: raised
    assert not callback.applied
    assert "so none could be set; it was kept" in (callback.skipped or "")
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(1e-2)


def test_a_set_that_fails_at_a_later_epoch_stops_the_schedule_not_the_fit(caplog):
    optimizer = FrozenRate(1e-2)
    optimizer.fail_after = 3  # the probe's two sets and epoch 0's succeed, epoch 1's raises
    model = _model(optimizer)
    callback = _begin(model, epochs=3)
    assert callback.applied
    first = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    callback.on_epoch_end(0)
    with caplog.at_level(logging.WARNING, logger="tunekit"):
        callback.on_epoch_begin(1)  # old code: RuntimeError
    callback.on_epoch_end(1)
    callback.on_epoch_begin(2)
    assert float(keras.ops.convert_to_numpy(optimizer.learning_rate)) == pytest.approx(first)
    note = schedule_note([callback])
    assert note is not None and note.startswith("the cosine learning-rate schedule stopped at ")
    assert "epoch 2: setting the learning rate" in note and "rate is frozen" in note
    assert "The cosine retrain schedule stopped at epoch 2: setting" in caplog.text


def test_a_plain_rate_is_set_back_by_the_probe_and_gets_the_cosine():
    optimizer = keras.optimizers.Adam(1e-2)
    assert rate_not_settable(optimizer) is None
    assert float(keras.ops.convert_to_numpy(optimizer.learning_rate)) == pytest.approx(1e-2)
    callback = _begin(_model(optimizer), epochs=4)
    assert callback.applied and callback.skipped is None
    rate = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    assert rate == pytest.approx(callback.rate(0), rel=1e-6)


def test_a_loss_scale_optimizer_over_a_plain_rate_still_gets_the_cosine():
    inner = keras.optimizers.Adam(1e-2)
    model = _model(keras.optimizers.LossScaleOptimizer(inner))
    assert rate_not_settable(model.optimizer) is None
    callback = _begin(model, epochs=4)
    assert callback.applied
    rate = float(keras.ops.convert_to_numpy(inner.learning_rate))
    assert rate == pytest.approx(callback.rate(0), rel=1e-6)
    assert rate < 1e-2


def test_mixed_float16_with_a_schedule_fits_through_the_cosine_callback():
    """The probe's case: the policy makes `compile` wrap the optimizer itself."""
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = keras.Sequential(
            [
                keras.Input((4,)),
                keras.layers.Dense(3),
                keras.layers.Activation("softmax", dtype="float32"),
            ]
        )
        model.compile(
            optimizer=keras.optimizers.Adam(_decay()), loss="sparse_categorical_crossentropy"
        )
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        callback = CosineDecayCallback(1)
        rng = np.random.default_rng(0)
        x, y = rng.normal(size=(16, 4)).astype("float32"), rng.integers(0, 3, size=16)
        model.fit(x, y, epochs=1, verbose=0, callbacks=[callback])
    finally:
        keras.mixed_precision.set_global_policy(policy)
    assert not callback.applied
    assert callback.skipped == OWN_SCHEDULE


@pytest.mark.parametrize(
    "optimizer, why",
    [
        (_callable_rate, "the model's optimizer takes"),
        (
            lambda: ReadOnlyRate(1e-2),
            "setting the learning rate of the model's optimizer (ReadOnlyRate)",
        ),
        (
            lambda: FrozenRate(1e-2),
            "setting the learning rate of the model's optimizer (FrozenRate)",
        ),
    ],
    ids=["callable", "read-only-property", "raising-setter"],
)
@pytest.mark.parametrize("schedule, said", [("cosine", True), ("constant", False)])
def test_the_model_check_says_before_the_search_that_the_rate_is_kept(
    caplog, schedule, said, optimizer, why
):
    def build(hp):
        hp.Int("units", 2, 4)
        return _model(optimizer())

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4)).astype("float32")
    data = Dataset.from_arrays(x, rng.integers(0, 3, size=60), seed=0)
    with caplog.at_level(logging.WARNING, logger="tunekit"):
        check_model(get_hypermodel(build), data, schedule=schedule)
    text = f"The cosine retrain schedule will not be applied: {why}"
    assert (text in caplog.text) is said


@pytest.mark.parametrize(
    "optimizer, why",
    [
        (IgnoredRate, "(IgnoredRate) has no effect (set to 0.005, it read 0.01)"),
        (PickyRate, "(PickyRate) fails (ValueError: PickyRate: set only at construction)"),
        (
            lambda rate: keras.optimizers.LossScaleOptimizer(IgnoredRate(rate)),
            "(LossScaleOptimizer) has no effect",
        ),
    ],
    ids=["ignoring-setter", "picky-setter", "loss-scale-over-ignoring-setter"],
)
def test_a_setter_that_ignores_or_refuses_another_rate_is_found_before_the_search(
    optimizer, why, caplog
):
    """The retry probe: a setter that does nothing (old code: `schedule_applied` true,
    the rate constant) or that accepts only its own rate (old code: no warning before
    the search) is found by setting another rate, reading it back and putting it back."""
    built = optimizer(1e-2)
    note = rate_not_settable(built)
    assert note is not None and why in note
    assert float(keras.ops.convert_to_numpy(built.learning_rate)) == pytest.approx(1e-2)

    def build(hp):
        hp.Int("units", 2, 4)
        return _model(optimizer(1e-2))

    rng = np.random.default_rng(0)
    data = Dataset.from_arrays(
        rng.normal(size=(60, 4)).astype("float32"), rng.integers(0, 3, size=60), seed=0
    )
    with caplog.at_level(logging.WARNING, logger="tunekit"):
        check_model(get_hypermodel(build), data, schedule="cosine")
    assert "The cosine retrain schedule will not be applied: setting" in caplog.text
    assert why in caplog.text


def test_a_setter_that_stops_taking_the_rate_stops_the_schedule():
    """A set that raises nothing but does not take (read back) at a later epoch: the
    schedule stops there with the note, never claims the cosine."""
    optimizer = keras.optimizers.Adam(1e-2)
    model = _model(optimizer)
    callback = _begin(model, epochs=3)
    assert callback.applied
    first = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    callback.on_epoch_end(0)
    optimizer.__class__ = IgnoredRate  # from now on its setter does nothing
    callback.on_epoch_begin(1)
    callback.on_epoch_end(1)
    callback.on_epoch_begin(2)
    assert float(keras.ops.convert_to_numpy(optimizer.learning_rate)) == pytest.approx(first)
    note = schedule_note([callback])
    assert note is not None and "stopped at epoch 2" in note and "has no effect" in note


def test_a_fit_with_a_setter_that_does_nothing_reports_no_cosine():
    model = _model(IgnoredRate(1e-2))
    callback = CosineDecayCallback(2)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 4)).astype("float32"), rng.integers(0, 3, size=16)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[callback])
    assert not callback.applied  # old code: applied, the rate 0.01 in both epochs
    assert "has no effect" in (schedule_note([callback]) or "")
