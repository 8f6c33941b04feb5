"""The rule of the final retrain: its epoch count and its learning rate schedule."""

from __future__ import annotations

import math

import keras
import keras_tuner as kt
import numpy as np
import pytest
from keras_tuner.engine import trial as trial_module

from tunekit.retraining import (
    CosineDecayCallback,
    final_epochs,
    final_epochs_rule,
    schedule_callbacks,
)


def _trial(scores: list[float], initial_epoch: int = 0, record_epochs: bool = True):
    """A completed trial whose objective took `scores` epoch by epoch (as KerasTuner records)."""
    hp = kt.HyperParameters()
    hp.values["tuner/initial_epoch"] = initial_epoch
    trial = trial_module.Trial(hp, trial_id="t")
    trial.metrics.register("val_accuracy", direction="max")
    best = int(np.argmax(scores))
    trial.metrics.update("val_accuracy", scores[best], step=best)
    if record_epochs:
        trial.metrics.update("epochs", len(scores), step=best)
    trial.best_step = best
    trial.status = "COMPLETED"
    return trial


def test_a_trial_that_peaked_is_retrained_to_its_best_epoch_at_a_constant_rate():
    peaked = _trial([0.90, 0.95, 0.97, 0.96])
    assert final_epochs(peaked, max_epochs=20, schedule="constant") == 3


def test_a_cosine_retrain_keeps_the_whole_length_the_trial_trained():
    # The cosine schedule anneals to a rate near 0: its last epochs are where it
    # gains, so it is not cut at the constant-rate peak (3 here).
    assert final_epochs(_trial([0.90, 0.95, 0.97, 0.96, 0.965]), max_epochs=20) == 5
    assert final_epochs(_trial([0.90, 0.95, 0.97, 0.96]), 20, schedule="cosine") == 4


@pytest.mark.parametrize("schedule", ["cosine", "constant"])
def test_a_trial_still_improving_at_its_last_epoch_gets_max_epochs(schedule):
    # A 3-epoch Hyperband trial that was still climbing: 3 is where its budget
    # ended, not where its curve peaked.
    assert final_epochs(_trial([0.90, 0.95, 0.97]), max_epochs=20, schedule=schedule) == 20


def test_hyperband_continuation_counts_from_epoch_zero():
    peaked = _trial([0.97, 0.98, 0.975], initial_epoch=7)
    assert final_epochs(peaked, max_epochs=20, schedule="constant") == 7 + 1 + 1
    assert final_epochs(peaked, max_epochs=20, schedule="cosine") == 7 + 3
    # Continued to the top bracket and still improving: never fewer than its count.
    top = _trial([0.97, 0.98], initial_epoch=20)
    assert final_epochs(top, max_epochs=20) == 22


@pytest.mark.parametrize("schedule", ["cosine", "constant"])
def test_a_trial_without_an_epoch_count_keeps_its_best_epoch(schedule):
    trial = _trial([0.9, 0.95, 0.93], record_epochs=False)
    assert final_epochs(trial, max_epochs=20, schedule=schedule) == 2


def test_the_rule_that_gave_the_count_is_named():
    peaked = _trial([0.90, 0.95, 0.97, 0.96])
    assert final_epochs_rule(peaked, 20) == (
        4,
        "the length the trial trained, under the cosine schedule",
    )
    assert final_epochs_rule(peaked, 20, "constant") == (
        3,
        "the trial's best epoch, under the constant schedule",
    )
    climbing = _trial([0.90, 0.95, 0.97])
    assert final_epochs_rule(climbing, 20) == (
        20,
        "max_epochs: the trial was still improving at its last epoch",
    )
    top = _trial([0.97, 0.98], initial_epoch=20)
    assert final_epochs_rule(top, 20)[0] == 22
    assert "longer than max_epochs" in final_epochs_rule(top, 20)[1]


def test_final_epochs_refuses_an_unknown_schedule():
    with pytest.raises(ValueError, match="cosine"):
        final_epochs(_trial([0.9, 0.95, 0.93]), max_epochs=20, schedule="linear")


def _tiny_model(learning_rate):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="sparse_categorical_crossentropy",
    )
    return model


def _xy():
    rng = np.random.default_rng(0)
    return rng.normal(size=(64, 4)).astype("float32"), rng.integers(0, 3, size=64)


def _rates(base, epochs):
    return [base * 0.5 * (1 + math.cos(math.pi * (e + 0.5) / epochs)) for e in range(epochs)]


def test_cosine_anneals_the_compiled_rate_epoch_by_epoch():
    x, y = _xy()
    model = _tiny_model(1e-2)
    history = model.fit(x, y, epochs=4, verbose=0, callbacks=schedule_callbacks("cosine", 4))
    assert history.history["learning_rate"] == pytest.approx(_rates(1e-2, 4), rel=1e-5)
    assert history.history["learning_rate"][-1] < 1e-3  # close to 0 by the end


def test_constant_leaves_the_rate_alone():
    x, y = _xy()
    model = _tiny_model(1e-2)
    assert schedule_callbacks("constant", 4) == []
    model.fit(x, y, epochs=2, verbose=0, callbacks=schedule_callbacks("constant", 2))
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(1e-2)


def test_cosine_resumes_where_an_interrupted_fit_stopped(tmp_path):
    """A retrain killed mid-way and rerun continues the same schedule, from the tuned rate."""
    x, y = _xy()

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    def callbacks(extra):
        return [
            *schedule_callbacks("cosine", 4),
            keras.callbacks.BackupAndRestore(str(tmp_path / "backup")),
            *extra,
        ]

    with pytest.raises(KeyboardInterrupt):
        _tiny_model(1e-2).fit(x, y, epochs=4, verbose=0, callbacks=callbacks([Interrupt()]))
    history = _tiny_model(1e-2).fit(x, y, epochs=4, verbose=0, callbacks=callbacks([]))
    assert history.history["learning_rate"] == pytest.approx(_rates(1e-2, 4)[2:], rel=1e-5)


def test_an_optimizer_with_its_own_schedule_is_left_alone_and_says_why(caplog):
    """Before, the report said "the hypermodel's own fit never started it" of a model
    with no fit of its own, and the warning named a Keras file as its source."""
    import logging

    from tunekit.retraining import schedule_note, schedule_text

    x, y = _xy()
    decay = keras.optimizers.schedules.ExponentialDecay(1e-2, decay_steps=1, decay_rate=0.5)
    model = _tiny_model(decay)
    callback = CosineDecayCallback(2)
    with caplog.at_level(logging.WARNING, logger="tunekit"):
        model.fit(x, y, epochs=2, verbose=0, callbacks=[callback])
    assert not callback.applied
    why = "the model's optimizer has its own learning rate schedule, which was kept"
    assert f"The cosine retrain schedule was not applied: {why}." in caplog.text
    note = schedule_note([callback])
    assert note == f"the cosine schedule not applied: {why}"
    assert schedule_text("cosine", {"schedule_applied": False, "schedule_note": note}) == note
    assert schedule_note(schedule_callbacks("constant", 2)) is None


def test_an_unknown_schedule_is_refused():
    with pytest.raises(ValueError, match=r"must be one of \('cosine', 'constant'\)"):
        schedule_callbacks("linear", 3)


class Manifest:  # the two methods `_EpochLogs` uses
    def __init__(self):
        self.steps = {}

    def step(self, name):
        return self.steps.setdefault(name, {})

    def mark(self, name, status, **info):
        self.step(name).update(status=status, **info)


def test_retrain_epoch_records_keep_numbers_and_skip_what_a_callback_added():
    from tunekit.steps.retrain import _curves, _EpochLogs

    # Before, a string or an array in an epoch's logs (from another callback) crashed the
    # retrain after its first epoch.
    manifest = Manifest()
    records = _EpochLogs(manifest, "retrain", seconds=lambda: 12.5)
    logs = {"loss": np.float32(0.5), "accuracy": 0.75, "note": "lr cut", "per_class": [0.1, 0.2]}
    records.on_epoch_end(0, logs)
    assert manifest.steps["retrain"]["epoch_logs"] == {"0": {"loss": 0.5, "accuracy": 0.75}}
    assert manifest.steps["retrain"]["seconds"] == 12.5  # a stopped retrain keeps its time

    class History:
        history = {"loss": [0.5, 0.25], "note": ["a", "b"]}

    assert _curves(History(), {}) == {"loss": [0.5, 0.25]}


def test_a_session_stopped_before_its_first_epoch_ended_adds_no_resume_point():
    from tunekit.retraining import resumed_note
    from tunekit.steps.retrain import _EpochLogs

    # Session 1 ends epochs 0-8 and is stopped; session 2 resumes at 9 and is killed
    # before epoch 9 ends; session 3 resumes at 9 again and finishes. Before, the note
    # said "resumed after epoch 9, 9 of 30".
    manifest = Manifest()
    _EpochLogs(manifest, "retrain").on_epoch_begin(0)
    for _ in range(2):
        _EpochLogs(manifest, "retrain").on_epoch_begin(9)
    _EpochLogs(manifest, "retrain").on_epoch_begin(20)
    resumed = manifest.steps["retrain"]["resumed_at"]
    assert resumed == [9, 20]
    assert resumed_note(resumed, 30).startswith(
        "The retrain was stopped and resumed after epoch 9, 20 of 30."
    )


def _phase(scores: list[float]):
    """What `select` reads of a finished phase: its oracle's completed trials."""
    from types import SimpleNamespace

    trials = {}
    for i, score in enumerate(scores):
        trial = _trial([score])
        trial.trial_id, trial.score = f"{i:02d}", score
        trials[trial.trial_id] = trial
    objective = SimpleNamespace(direction="max")
    ended = list(reversed(trials))  # the progress lines' numbers differ from the ids
    return SimpleNamespace(
        oracle=SimpleNamespace(trials=trials, objective=objective, end_order=ended)
    )


@pytest.mark.parametrize(
    "coarse, fine, expected",
    [
        # Trials named as the progress lines and trial_names do (before: KerasTuner's id
        # alone, "the best coarse trial 01", beside progress lines "trial 1/2 (id 01)").
        (
            [0.91, 0.93],
            [0.95, 0.92],
            ("fine", "the best of both phases; the best coarse trial, coarse trial 1 (id 01), "),
        ),
        (
            [0.96, 0.93],
            [0.95, 0.92],
            ("coarse", "better than the best fine trial, fine trial 2 (id 00), at 0.9500"),
        ),
        # A tie is said as one (it was called "the best of both phases").
        (
            [0.93, 0.95],
            [0.95, 0.92],
            ("fine", "tied with the best coarse trial, coarse trial 1 (id 01): on a tie"),
        ),
    ],
)
def test_the_pick_between_phases_says_why(coarse, fine, expected):
    from types import SimpleNamespace

    from tunekit.objectives import parse_objective
    from tunekit.steps.retrain import select

    name, direction = parse_objective("val_accuracy")
    phases = {"coarse": _phase(coarse), "fine": _phase(fine)}
    ctx = SimpleNamespace(
        finalists=0,
        ensure=phases.__getitem__,
        objective=SimpleNamespace(name=name, direction=direction),
    )
    phase, _, reason = select(ctx)
    assert phase == expected[0] and expected[1] in reason, reason


class _TwoCurves(kt.HyperModel):
    """A trial whose two executions score [0.9056, 0.9056] and [0.8667, 0.9167] (a
    helper's digits run): each is best at another epoch, their mean rises to the end."""

    curves = ([0.9056, 0.9056], [0.8667, 0.9167])

    def __init__(self):
        super().__init__()
        self.calls = 0

    def build(self, hp):
        hp.Int("units", 2, 4)
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return model

    def fit(self, hp, model, *args, **kwargs):
        curve = self.curves[self.calls % 2]
        self.calls += 1
        for callback in kwargs.get("callbacks", []):  # tunekit's epoch count, as a fit sets it
            callback.set_model(model)
            callback.set_params({"epochs": 2})
        history = keras.callbacks.History()
        history.set_model(model)
        history.history = {"val_accuracy": list(curve), "loss": [0.5, 0.4]}
        history.epoch = [0, 1]
        for callback in kwargs.get("callbacks", []):
            for epoch in (0, 1):
                callback.on_epoch_end(epoch, {"val_accuracy": curve[epoch], "loss": 0.5})
        return history


def test_several_executions_retrain_by_their_mean_curves_best_epoch(tmp_path):
    """KerasTuner's `best_step` is the mean of the executions' best epochs, cut to an int
    (0 here, of 2): `final_epochs="auto"` retrained 1 epoch, "the trial's best epoch",
    where the mean curve peaks at the last epoch (still improving: `max_epochs`)."""
    from tunekit import make_tuner
    from tunekit.retraining import final_epochs_rule
    from tunekit.tuners.base import BEST_EPOCH

    tuner = make_tuner(
        "random",
        _TwoCurves(),
        objective="val_accuracy",
        directory=str(tmp_path),
        project_name="two",
        max_trials=1,
        executions_per_trial=2,
        seed=0,
    )
    x, y = np.zeros((8, 2), "float32"), np.arange(8) % 2
    tuner.search(x, y, validation_data=(x, y), epochs=2, verbose=0)
    trial = tuner.oracle.get_best_trials(1)[0]
    assert trial.best_step == 0  # KerasTuner's int(mean([0, 1]))
    assert trial.metrics.get_last_value(BEST_EPOCH) == 1
    assert final_epochs_rule(trial, 5, "constant") == (
        5,
        "max_epochs: the trial was still improving at its last epoch",
    )


class _FourEpochs(_TwoCurves):
    """Two executions best at epochs 0 and 2 of 4, whose mean curve peaks at epoch 2 with
    0.725, below the mean of their bests (0.875): the rules give different numbers."""

    curves = ([0.9, 0.5, 0.6, 0.4], [0.5, 0.6, 0.85, 0.3])
    losses = ([1.0, 0.9, 0.8, 0.7], [0.7, 0.6, 0.5, 0.4])

    def fit(self, hp, model, *args, **kwargs):
        curve, loss = self.curves[self.calls % 2], self.losses[self.calls % 2]
        self.calls += 1
        for callback in kwargs.get("callbacks", []):
            callback.set_model(model)
            callback.set_params({"epochs": 4})
        history = keras.callbacks.History()
        history.set_model(model)
        history.history = {"val_accuracy": list(curve), "loss": list(loss)}
        history.epoch = [0, 1, 2, 3]
        for callback in kwargs.get("callbacks", []):
            for epoch in range(4):
                logs = {"val_accuracy": curve[epoch], "loss": loss[epoch]}
                callback.on_epoch_end(epoch, logs)
        return history


def test_several_executions_follow_the_rules_the_readme_states(tmp_path):
    """README (trials table, `executions_per_trial`): `score` and each metric column are
    KerasTuner's mean over the executions of each one's value at its own best epoch,
    `best_step` KerasTuner's mean of their best epochs cut to an int, `best_epoch` the
    best epoch of their mean curve, and the constant-schedule retrain trains to it."""
    from tunekit import make_tuner
    from tunekit.results import trials_dataframe

    tuner = make_tuner(
        "random",
        _FourEpochs(),
        objective="val_accuracy",
        directory=str(tmp_path),
        project_name="coarse",  # the layout of a run folder: trials_dataframe reads it
        max_trials=1,
        executions_per_trial=2,
        seed=0,
    )
    x, y = np.zeros((8, 2), "float32"), np.arange(8) % 2
    tuner.search(x, y, validation_data=(x, y), epochs=4, verbose=0)
    row = trials_dataframe(tmp_path).iloc[0]
    curves, losses = np.array(_FourEpochs.curves), np.array(_FourEpochs.losses)
    own_best = curves.argmax(axis=1)  # [0, 2]
    assert row["score"] == pytest.approx(curves.max(axis=1).mean())  # 0.875
    assert row["val_accuracy"] == pytest.approx(row["score"])
    assert row["loss"] == pytest.approx(losses[[0, 1], own_best].mean())  # 0.75
    assert row["best_step"] == int(own_best.mean())  # 1
    mean_curve_best = int(curves.mean(axis=0).argmax())  # 2
    assert row["best_epoch"] == mean_curve_best != row["best_step"]
    # a count, as best_step and epochs (before: float64, written 2.0 in trials.csv)
    frame = trials_dataframe(tmp_path)
    assert str(frame["best_epoch"].dtype) == str(frame["best_step"].dtype) == "Int64"
    from tunekit.results import trials_csv

    assert ",2," in trials_csv(frame).splitlines()[1] and ",2.0," not in trials_csv(frame)
    trial = tuner.oracle.get_best_trials(1)[0]
    assert final_epochs_rule(trial, 10, "constant") == (
        mean_curve_best + 1,
        "the trial's best epoch, under the constant schedule",
    )


class _StopAfter(keras.callbacks.Callback):
    """A user's callback that stops every fit after `epochs` epochs."""

    def __init__(self, epochs: int) -> None:
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 >= self.epochs:
            self.model.stop_training = True


def _digits_classifier(hp):
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(hp.Int("units", 8, 16, step=8), activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class _OwnEpochs(kt.HyperModel):
    """A hypermodel whose fit sets the epochs itself: 2 in a search, 3 on all the data."""

    def build(self, hp):
        return _digits_classifier(hp)

    def fit(self, hp, model, *args, **kwargs):
        kwargs["epochs"] = 2 if kwargs.get("validation_data") is not None else 3
        return model.fit(*args, **kwargs)


def _digits_run(tmp_path, hypermodel, **settings):
    """A tiny run on 400 of scikit-learn's digits: 3 coarse trials, 1 Bayesian fine trial."""
    from sklearn.datasets import load_digits

    from tunekit import CoarseToFine
    from tunekit.data import Dataset

    x, y = load_digits(return_X_y=True)
    data = Dataset.from_arrays((x / 16).astype("float32")[:400], y[:400], seed=0)
    budget = dict(coarse_trials=3, coarse_epochs=1, fine_tuner="bayesian", fine_trials=1)
    return CoarseToFine(
        hypermodel,
        data,
        directory=tmp_path,
        **budget,
        max_epochs=1,
        baseline=False,
        seed=0,
        verbose=0,
        **settings,
    )


@pytest.mark.parametrize("how", ["callback", "own_fit"])
def test_the_retrains_epochs_are_those_the_saved_model_trained(tmp_path, caplog, how):
    """A callback that stopped the retrain after 2 of 4 epochs: the report, the summary
    and the run said "retrained 4 epochs". A fit that sets its own epochs: they gave the
    rule's reason ("max_epochs: ...") for a count the rule did not make."""
    import json
    import logging

    run = _digits_run(
        tmp_path,
        _OwnEpochs() if how == "own_fit" else _digits_classifier,
        final_epochs=4 if how == "callback" else "auto",  # a fixed count refuses own epochs
        callbacks=[_StopAfter(2)] if how == "callback" else [],
    )
    with caplog.at_level(logging.WARNING):
        result = run.run()
    report = json.loads((result.run_dir / "report.json").read_text())
    saved = json.loads((result.run_dir / "best_hyperparameters.json").read_text())
    expected = 2 if how == "callback" else 3
    assert result.final_epochs == report["best"]["final_epochs"] == expected
    assert saved["epochs_trained"] == expected
    rule = report["best"]["final_epochs_rule"]
    if how == "callback":
        stopped = "a callback stopped training after 2 of the 4 epochs planned"
        assert rule == f"a fixed count, not 'auto'; {stopped}"
        assert saved["final_epochs"] == 4  # model.fit got 4: with the callback, 2 again
        assert "The retrain stopped after 2 epochs of the 4 planned" in caplog.text
    else:
        assert rule == "set by the hypermodel's own fit" and saved["final_epochs"] == 3
    assert f"retrained {expected} epochs ({rule})" in (result.run_dir / "report.md").read_text()


@pytest.mark.long
def test_weights_an_early_stopping_restored_are_said_to_be_the_saved_ones(tmp_path, caplog):
    """Found by a helper: with `EarlyStopping(restore_best_weights=True)` in the retrain, the
    report said "the saved model is the one after epoch 3" while Keras had put back epoch
    1's weights."""
    import json
    import logging

    # mode="max" on the loss: the first epoch is the best, and 2 more end the retrain.
    stop = keras.callbacks.EarlyStopping(
        monitor="loss", mode="max", patience=2, restore_best_weights=True
    )
    run = _digits_run(tmp_path, _digits_classifier, final_epochs=6, callbacks=[stop])
    with caplog.at_level(logging.WARNING):
        result = run.run()
    saved = json.loads((result.run_dir / "best_hyperparameters.json").read_text())
    assert (saved["epochs_trained"], saved["weights_from_epoch"]) == (3, 1)
    assert "The saved model is the one after epoch 1 (EarlyStopping(restore_best_weights" in (
        caplog.text
    )
    assert "restored epoch 1's" in (result.run_dir / "report.md").read_text()
    # The same callback added by a hypermodel's own fit (found by the next helper): unsaid.

    class OwnStop(kt.HyperModel):
        def build(self, hp):
            return _digits_classifier(hp)

        def fit(self, hp, model, *args, callbacks=None, **kwargs):
            stop = keras.callbacks.EarlyStopping(
                monitor="loss", mode="max", patience=10, restore_best_weights=True
            )
            return model.fit(*args, callbacks=[*(callbacks or []), stop], **kwargs)

    own = _digits_run(tmp_path, OwnStop(), project_name="own", final_epochs=3).run()
    saved = json.loads((own.run_dir / "best_hyperparameters.json").read_text())
    assert (saved["epochs_trained"], saved["weights_from_epoch"]) == (3, 1)


class _StopAtBatch(keras.callbacks.Callback):
    """A user's callback that stops every fit after its `batches`-th batch."""

    def __init__(self, batches: int) -> None:
        super().__init__()
        self.batches = batches

    def on_train_begin(self, logs=None):
        self.seen = 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen >= self.batches:
            self.model.stop_training = True


def test_a_retrain_stopped_within_an_epoch_says_how_much_of_it_ran(tmp_path):
    """Found by a helper: a callback that stopped the retrain in its 2nd epoch was counted as
    2 whole epochs."""
    import json

    # 340 samples of train+validation in batches of 32: 11 per epoch; 16 stop in the 2nd.
    run = _digits_run(
        tmp_path, _digits_classifier, final_epochs=4, batch_size=32, callbacks=[_StopAtBatch(16)]
    )
    result = run.run()
    rule = json.loads((result.run_dir / "report.json").read_text())["best"]["final_epochs_rule"]
    assert "a callback stopped training after 2 of the 4 epochs planned" in rule
    assert "epoch 2 ran 5 of its 11 batches" in rule


class _SetRate(keras.callbacks.Callback):
    """A user's callback that sets the learning rate at each epoch's begin."""

    def __init__(self, rate: float) -> None:
        super().__init__()
        self.rate = rate

    def on_epoch_begin(self, epoch, logs=None):
        self.model.optimizer.learning_rate = self.rate


def _lr(model) -> float:
    return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))


def test_a_callback_that_sets_the_rate_wins_and_the_schedule_says_it_did_not_hold(caplog):
    """Found by new users: a callback of theirs that set the learning rate fought the cosine
    schedule silently, and the report still claimed the cosine schedule."""
    import logging

    from tunekit.retraining import schedule_note, schedule_text

    x, y = _xy()
    model = _tiny_model(1e-2)
    (cosine,) = schedule_callbacks("cosine", 4, [_SetRate(5e-3)])
    seen = []
    record = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(_lr(model)))
    with caplog.at_level(logging.WARNING, logger="tunekit"):
        model.fit(x, y, epochs=4, verbose=0, callbacks=[cosine, _SetRate(5e-3), record])
    assert seen == pytest.approx([5e-3] * 4)  # the user's rate in every epoch
    expected = (
        "the cosine learning-rate schedule did not hold: another callback sets the learning "
        "rate (_SetRate); your rates were kept"
    )
    assert cosine.overridden == expected
    assert "The cosine learning-rate schedule did not hold" in caplog.text
    assert caplog.text.count("did not hold") == 1  # said once, then the schedule stops
    assert schedule_note([cosine]) == expected
    assert schedule_text("cosine", {"schedule_applied": False, "schedule_note": expected}) == (
        expected
    )


def test_a_rate_set_at_an_epochs_end_is_seen_at_the_next_begin():
    """`ReduceLROnPlateau` acts at an epoch's end, after the schedule's own hook: the next
    epoch's begin sees the rate it set, and keeps it."""
    x, y = _xy()
    model = _tiny_model(1e-2)
    cosine = CosineDecayCallback(4)  # as a hypermodel's own fit adding the callback gets it
    # min_delta larger than any gain: from the 2nd epoch on, each one cuts the rate by 10.
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="loss", min_delta=100, patience=0)
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[cosine, plateau])
    assert cosine.overridden is not None and "not one of `callbacks=`" in cosine.overridden
    # Epochs 0 and 1 at the cosine's rates (of the fit's 3 epochs); then the plateau's.
    cosine_rates = _rates(1e-2, 3)
    expected = [cosine_rates[0], cosine_rates[1], cosine_rates[1] * 0.1]
    assert history.history["learning_rate"] == pytest.approx(expected, rel=1e-5)
    assert _lr(model) == pytest.approx(cosine_rates[1] * 0.01, rel=1e-5)


@pytest.mark.parametrize(
    "user",
    [
        keras.callbacks.LearningRateScheduler(lambda epoch, lr: 1e-3),
        keras.callbacks.ReduceLROnPlateau(monitor="loss"),
    ],
)
def test_a_known_rate_setter_in_callbacks_means_no_cosine_schedule(caplog, user):
    import logging

    from tunekit.retraining import schedule_note

    with caplog.at_level(logging.WARNING, logger="tunekit"):
        scheduled = schedule_callbacks("cosine", 3, [user], say=True)
    name = type(user).__name__
    assert schedule_note(scheduled) == (
        f"the cosine schedule not applied: your callbacks set the learning rate ({name}); "
        "your rates were kept"
    )
    assert caplog.text.count("The cosine retrain schedule is not applied") == 1
    x, y = _xy()
    model = _tiny_model(1e-2)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[*scheduled, user])
    if isinstance(user, keras.callbacks.LearningRateScheduler):
        assert _lr(model) == pytest.approx(1e-3)


@pytest.mark.long
def test_the_run_records_that_the_schedule_did_not_hold(tmp_path, caplog):
    """`best_hyperparameters.json` and `report.json` say `schedule_applied: false` with the
    note, and the report does not claim a cosine learning rate."""
    import json
    import logging

    run = _digits_run(tmp_path, _digits_classifier, final_epochs=2, callbacks=[_SetRate(5e-3)])
    with caplog.at_level(logging.WARNING):
        result = run.run()
    saved = json.loads((result.run_dir / "best_hyperparameters.json").read_text())
    best = json.loads((result.run_dir / "report.json").read_text())["best"]
    note = (
        "the cosine learning-rate schedule did not hold: another callback sets the learning "
        "rate (_SetRate); your rates were kept"
    )
    assert (saved["schedule_applied"], saved["schedule_note"]) == (False, note)
    assert (best["schedule_applied"], best["schedule_note"]) == (False, note)
    assert "cosine learning rate" not in (result.run_dir / "report.md").read_text()
    plain = _digits_run(tmp_path, _digits_classifier, project_name="plain", final_epochs=2).run()
    saved = json.loads((plain.run_dir / "best_hyperparameters.json").read_text())
    assert (saved["schedule_applied"], saved["schedule_note"]) == (True, None)


def test_a_rate_set_when_training_begins_wins_over_the_schedule():
    """Found by a new user: a callback setting the rate in `on_train_begin` ran after the
    schedule had read its base, and the retrain annealed from the compiled rate (400 times
    the user's) while `schedule_applied` said true."""

    class TrainBeginSetter(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.model.optimizer.learning_rate = 1e-4

    x, y = _xy()
    model = _tiny_model(1e-2)
    (cosine,) = schedule_callbacks("cosine", 3, [TrainBeginSetter()])
    seen = []
    record = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(_lr(model)))
    model.fit(x, y, epochs=3, verbose=0, callbacks=[cosine, TrainBeginSetter(), record])
    assert seen == pytest.approx([1e-4] * 3, rel=1e-5)  # the user's rate in every epoch
    assert cosine.overridden is not None and "TrainBeginSetter" in cosine.overridden
    assert not cosine.applied
