"""A `ReduceLROnPlateau` that cannot act in the retrain does not turn its cosine schedule off.

Found by a new user: `callbacks=[keras.callbacks.ReduceLROnPlateau(monitor="val_loss")]`
counted as a callback that sets the learning rate, so the retrain dropped its cosine
schedule; but the retrain trains on train+validation without validation data, so the
plateau callback never fired there (Keras: "Learning rate reduction is conditioned on
metric `val_loss` which is not available") and the retrain ran at a constant rate, while
the warning said "your rates were kept". The retrain now anneals by the cosine schedule;
a plateau callback on `loss` (which the retrain logs) or a `LearningRateScheduler` still
turns it off; and one on `val_loss` in a fit whose logs do hold it (a hypermodel's fit
that passes validation data on) stops the schedule before it acts, on the compiled rate.
"""

from __future__ import annotations

import json
import logging
import math

import keras
import numpy as np
import pytest

from tunekit.retrain_callbacks import rate_setters, retrain_monitor_notes
from tunekit.retraining import CosineDecayCallback, schedule_callbacks, schedule_note

BASE = 1e-2


def _model():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(keras.optimizers.Adam(learning_rate=BASE), "sparse_categorical_crossentropy")
    return model


def _xy():
    rng = np.random.default_rng(0)
    return rng.normal(size=(32, 4)).astype("float32"), rng.integers(0, 3, size=32)


def _cosine(epochs):
    return [BASE * 0.5 * (1 + math.cos(math.pi * (e + 0.5) / epochs)) for e in range(epochs)]


class RecordRates(keras.callbacks.Callback):
    """The learning rate each epoch trains at, read from the optimizer when it begins
    (after every callback before it has set its rate); one list per fit."""

    def __init__(self):
        super().__init__()
        self.fits: list[list[float]] = []

    def on_train_begin(self, logs=None):
        self.fits.append([])

    def on_epoch_begin(self, epoch, logs=None):
        rate = keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
        self.fits[-1].append(float(rate))


def _plateau(monitor):
    # min_delta larger than any gain: from the 2nd epoch on, every epoch is a plateau.
    return keras.callbacks.ReduceLROnPlateau(monitor=monitor, min_delta=100, patience=0)


def test_a_plateau_on_val_loss_keeps_the_cosine_schedule_in_a_fit_without_validation(caplog):
    plateau, record = _plateau("val_loss"), RecordRates()
    with caplog.at_level(logging.WARNING, logger="tunekit"):
        scheduled = schedule_callbacks("cosine", 4, [plateau], say=True)
    assert [type(c) for c in scheduled] == [CosineDecayCallback]
    assert "not applied" not in caplog.text
    x, y = _xy()
    model = _model()
    with pytest.warns(UserWarning, match="conditioned on metric `val_loss`"):
        model.fit(x, y, epochs=4, verbose=0, callbacks=[*scheduled, plateau, record])
    assert record.fits == [pytest.approx(_cosine(4), rel=1e-5)]  # annealed, not constant
    assert schedule_note(scheduled) is None  # the report says "cosine learning rate"


def test_a_plateau_on_the_training_loss_acts_in_the_retrain_and_turns_the_schedule_off():
    plateau, record = _plateau("loss"), RecordRates()
    scheduled = schedule_callbacks("cosine", 4, [plateau])
    assert schedule_note(scheduled) == (
        "the cosine schedule not applied: your callbacks set the learning rate "
        "(ReduceLROnPlateau); your rates were kept"
    )
    x, y = _xy()
    model = _model()
    model.fit(x, y, epochs=4, verbose=0, callbacks=[*scheduled, plateau, record])
    # The compiled rate, cut by 10 at the end of each epoch from the 2nd on: the user's.
    assert record.fits == [pytest.approx([BASE, BASE, BASE / 10, BASE / 100], rel=1e-5)]


def test_a_learning_rate_scheduler_with_a_val_plateau_still_turns_it_off():
    found = rate_setters(
        [keras.callbacks.LearningRateScheduler(lambda e, lr: lr), _plateau("val_loss")]
    )
    assert found.acting == ("LearningRateScheduler",)
    assert found.waiting == (("ReduceLROnPlateau", "val_loss"),)
    scheduled = schedule_callbacks("cosine", 3, [keras.callbacks.LearningRateScheduler(abs)])
    assert "LearningRateScheduler" in (schedule_note(scheduled) or "")


def test_a_val_plateau_in_a_fit_that_gets_validation_data_acts_on_the_compiled_rate(caplog):
    """No fight: the schedule stops at the first epoch's end whose logs hold `val_loss`,
    before the plateau callback reads the rate, and puts the compiled one back."""
    plateau, record = _plateau("val_loss"), RecordRates()
    (cosine,) = schedule_callbacks("cosine", 4, [plateau])
    x, y = _xy()
    model = _model()
    with caplog.at_level(logging.WARNING, logger="tunekit"):
        model.fit(
            x,
            y,
            validation_data=(x[:8], y[:8]),
            epochs=4,
            verbose=0,
            callbacks=[cosine, plateau, record],
        )
    first = _cosine(4)[0]
    assert record.fits == [pytest.approx([first, BASE, BASE / 10, BASE / 100], rel=1e-5)]
    expected = (
        "the cosine learning-rate schedule stopped after epoch 1: "
        "ReduceLROnPlateau(monitor='val_loss') acts in this fit, whose logs hold its "
        "validation quantity (its model.fit got validation data); the compiled rate was put "
        "back, and your callbacks' rates were kept"
    )
    assert schedule_note([cosine]) == expected
    assert caplog.text.count("The cosine learning-rate schedule stopped after epoch 1") == 1


def test_an_optimizers_own_schedule_is_kept_beside_a_val_plateau_without_a_conflict():
    """Keras refuses to set the rate of an optimizer built on a `LearningRateSchedule`
    (TypeError): neither the cosine schedule nor a plateau callback that never acts tries."""
    plateau, record = _plateau("val_loss"), RecordRates()
    (cosine,) = schedule_callbacks("cosine", 3, [plateau])
    decay = keras.optimizers.schedules.ExponentialDecay(BASE, decay_steps=1, decay_rate=0.5)
    model = _model()
    model.compile(keras.optimizers.SGD(decay), "sparse_categorical_crossentropy")
    x, y = _xy()  # 32 samples: one step per epoch
    with pytest.warns(UserWarning, match="conditioned on metric `val_loss`"):
        model.fit(x, y, epochs=3, verbose=0, callbacks=[cosine, plateau, record])
    assert record.fits == [pytest.approx([BASE, BASE / 2, BASE / 4], rel=1e-5)]
    assert schedule_note([cosine]) == (
        "the cosine schedule not applied: the model's optimizer has its own learning rate "
        "schedule, which was kept"
    )


def test_the_warning_says_what_sets_the_retrains_rate_instead():
    plateau = _plateau("val_loss")
    (cosine,) = retrain_monitor_notes([plateau], "cosine")
    assert cosine == (
        "ReduceLROnPlateau(monitor='val_loss') acts in the search's trials only: the final "
        "retrain on train+validation has no validation data, so there it never lowers the "
        "learning rate (Keras warns that 'val_loss' is not available); the retrain anneals it "
        "by the cosine schedule instead (final_schedule='cosine'; an optimizer with a schedule "
        "of its own keeps that one)."
    )
    (constant,) = retrain_monitor_notes([plateau], "constant")
    assert constant.endswith(
        "; the retrain keeps the compiled rate throughout (final_schedule='constant')."
    )
    scheduler = keras.callbacks.LearningRateScheduler(lambda e, lr: lr)
    (scheduled,) = retrain_monitor_notes([plateau, scheduler], "cosine")
    assert scheduled.endswith("; there the rate is your LearningRateScheduler's.")
    (passed,) = retrain_monitor_notes([plateau], "cosine", validation_passed=True)
    assert passed.endswith(
        " Unless the hypermodel's fit passes the validation_data it receives on to "
        "model.fit: the retrain gives it the validation split (which it also trains on), "
        "and there ReduceLROnPlateau acts on that."
    )


@pytest.mark.long
def test_a_run_with_a_val_plateau_retrains_at_the_cosine_rates(tmp_path, caplog):
    """The whole run: the retrain's optimizer followed the cosine schedule, and the run's
    records say so."""
    from sklearn.datasets import load_digits

    from tunekit import CoarseToFine
    from tunekit.data import Dataset

    def build(hp):
        model = keras.Sequential(
            [
                keras.Input((64,)),
                keras.layers.Dense(hp.Int("units", 8, 16, step=8), activation="relu"),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )
        model.compile(
            keras.optimizers.Adam(BASE), "sparse_categorical_crossentropy", metrics=["accuracy"]
        )
        return model

    x, y = load_digits(return_X_y=True)
    data = Dataset.from_arrays((x / 16).astype("float32")[:300], y[:300], seed=0)
    record = RecordRates()  # trials get KerasTuner's copies: this one sees the retrain only
    run = CoarseToFine(
        build,
        data,
        directory=tmp_path,
        coarse_trials=3,
        coarse_epochs=1,
        fine_tuner="bayesian",
        fine_trials=1,
        max_epochs=2,
        final_epochs=3,
        finalists=0,
        baseline=False,
        seed=0,
        verbose=0,
        callbacks=[keras.callbacks.ReduceLROnPlateau(monitor="val_loss"), record],
    )
    with caplog.at_level(logging.WARNING, logger="tunekit"):
        result = run.run()
    assert record.fits == [pytest.approx(_cosine(3), rel=1e-5)]
    saved = json.loads((result.run_dir / "best_hyperparameters.json").read_text())
    assert (saved["schedule_applied"], saved["schedule_note"]) == (True, None)
    assert "The cosine retrain schedule is not applied" not in caplog.text
    assert "cosine learning rate" in (result.run_dir / "report.md").read_text()
