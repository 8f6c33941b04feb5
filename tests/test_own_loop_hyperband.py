"""A hypermodel's own training loop under Hyperband (KerasTuner's custom-loop guide).

The guide's `fit` trains with its own loop and calls only `callback.set_model(model)`
and `callback.on_epoch_end(epoch, logs={"my_metric": ...})` for each callback; it never
calls `on_train_begin` / `on_train_end`. Plain KerasTuner's Hyperband continues its
trials (its `SaveBestEpoch` writes in `on_epoch_end`). Before, tunekit's best-epoch
checkpoint was written only in `on_train_end`: every continued trial FAILED with "which
this process cannot read. With workers on several machines ..." (a false cause, one
process), the run ended with exit 0, and no trial had its HParams session either. See
`tunekit.own_loops`.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import metadata as hparams_metadata

from tunekit.own_loops import (
    BUDGET_METRIC,
    budget_ignored,
    missing_checkpoint_message,
)
from tunekit.tuners import make_tuner
from tunekit.tuners.callbacks import EpochTensorBoard

# max_epochs=2, factor=2 and two configurations: trials 0000 and 0001 train 1 epoch, then
# 0002 continues the better one for 1 more (epochs=2, initial_epoch=1); no more trials.
HYPERBAND = dict(max_epochs=2, factor=2, seed=0, phase="fine")


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    return x[:300], y[:300], (x[300:450], y[300:450])


def _statuses(tuner):
    trials = tuner.oracle.trials
    return {i: trials[i].status for i in sorted(trials)}


def _continued(tuner):
    """The trials that continue another: `{trial id: parent id}`."""
    return {
        i: t.hyperparameters.values["tuner/trial_id"]
        for i, t in tuner.oracle.trials.items()
        if t.hyperparameters.values.get("tuner/trial_id")
    }


class GuideLoop(kt.HyperModel):
    """KerasTuner's "tune a custom training loop" guide, on tiny data (TensorFlow only).

    It trains `range(2)` epochs whatever it is given, as the guide does; `start_losses`
    records each fit's validation loss before its first step (a continued trial starts
    from its parent's weights).
    """

    def __init__(self):
        super().__init__()
        self.start_losses: list[float] = []

    def build(self, hp):
        inputs = keras.Input(shape=(64,))
        x = keras.layers.Dense(hp.Choice("units", [8, 16]), activation="relu")(inputs)
        return keras.Model(inputs, keras.layers.Dense(10)(x))

    def fit(self, hp, model, x, y, validation_data, callbacks=None, **kwargs):
        import tensorflow as tf

        train_ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(64)
        val_ds = tf.data.Dataset.from_tensor_slices(validation_data).batch(64)
        optimizer = keras.optimizers.Adam(1e-2)
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        epoch_loss_metric = keras.metrics.Mean()

        @tf.function
        def run_train_step(images, labels):
            with tf.GradientTape() as tape:
                loss = loss_fn(labels, model(images))
            gradients = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(gradients, model.trainable_variables))

        def run_val_step(images, labels):
            epoch_loss_metric.update_state(loss_fn(labels, model(images)))

        for callback in callbacks:
            callback.set_model(model)
        for images, labels in val_ds:
            run_val_step(images, labels)
        self.start_losses.append(float(epoch_loss_metric.result().numpy()))
        epoch_loss_metric.reset_state()
        best_epoch_loss = float("inf")
        for epoch in range(2):
            for images, labels in train_ds:
                run_train_step(images, labels)
            for images, labels in val_ds:
                run_val_step(images, labels)
            epoch_loss = float(epoch_loss_metric.result().numpy())
            for callback in callbacks:
                callback.on_epoch_end(epoch, logs={"my_metric": epoch_loss})
            epoch_loss_metric.reset_state()
            best_epoch_loss = min(best_epoch_loss, epoch_loss)
        return best_epoch_loss


class StepLoop(kt.HyperModel):
    """A backend-neutral own loop (NumPy): each epoch moves the last layer's weights half
    way to the least-squares solution, and calls only `set_model` and `on_epoch_end`.

    `fixed`: epochs it trains whatever it is given (None: `range(initial_epoch, epochs)`,
    as Hyperband gives). `report`: whether it calls the callbacks at all.
    `start_errors[i]`: the validation error of fit `i` before its first step.
    """

    def __init__(self, fixed: int | None = None, report: bool = True):
        super().__init__()
        self.fixed, self.report = fixed, report
        self.start_errors: list[float] = []

    def build(self, hp):
        hp.Choice("l2", [0.1, 10.0])
        return keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])

    def fit(self, hp, model, x, y, validation_data, callbacks=None, **kwargs):
        def design(a):
            return np.hstack([a, np.ones((len(a), 1), dtype=a.dtype)])

        a, (x_val, y_val) = design(x), validation_data
        target = np.linalg.solve(a.T @ a + hp["l2"] * np.eye(65), a.T @ np.eye(10)[y])
        layer = model.layers[-1]

        def error():
            kernel, bias = layer.get_weights()
            return float(np.mean((x_val @ kernel + bias - np.eye(10)[y_val]) ** 2))

        told = (callbacks or []) if self.report else []
        for callback in told:
            callback.set_model(model)
        self.start_errors.append(error())
        first, last = kwargs.get("initial_epoch", 0), kwargs.get("epochs", 1)
        epochs = range(self.fixed) if self.fixed is not None else range(first, last)
        best = float("inf")
        for epoch in epochs:
            kernel, bias = layer.get_weights()
            w = np.vstack([kernel, bias[None]])
            w = w + 0.5 * (target - w)
            layer.set_weights([w[:-1].astype("float32"), w[-1].astype("float32")])
            best = min(best, error())
            for callback in told:
                callback.on_epoch_end(epoch, logs={"val_mse": error()})
        return best


def _session_values(folder: Path) -> dict:
    acc = event_accumulator.EventAccumulator(str(folder))
    acc.Reload()
    content = acc.SummaryMetadata(hparams_metadata.SESSION_START_INFO_TAG).plugin_data.content
    info = hparams_metadata.parse_session_start_info_plugin_data(content)
    return {name: getattr(v, v.WhichOneof("kind")) for name, v in info.hparams.items()}


def test_the_guides_loop_continues_hyperband_trials_from_their_checkpoints(
    digits, tmp_path, caplog
):
    """The guide's own loop (TensorFlow's GradientTape). Before: trial 0002 FAILED ("which
    this process cannot read ... several machines"), no trial had a checkpoint, and no
    trial's HParams session was written (the loop never begins or ends training)."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the guide's loop is TensorFlow's GradientTape (not backend-neutral)")
    x, y, validation = digits
    hypermodel = GuideLoop()
    tuner = make_tuner(
        "hyperband",
        hypermodel,
        objective=kt.Objective("my_metric", "min"),
        directory=tmp_path,
        project_name="guide",
        **HYPERBAND,
    )
    board = EpochTensorBoard(log_dir=str(tmp_path / "tb"), write_graph=False)  # a run's
    with caplog.at_level(logging.WARNING, logger="tunekit"):
        tuner.search(x, y, validation_data=validation, callbacks=[board])
    assert _statuses(tuner) == {"0000": "COMPLETED", "0001": "COMPLETED", "0002": "COMPLETED"}
    (child, parent), *_ = _continued(tuner).items()
    assert Path(tuner._get_checkpoint_fname(parent)).is_file()
    # It started from its parent's weights: a fresh model's loss is about ln(10) = 2.3.
    starts = dict(zip(sorted(tuner.oracle.trials), hypermodel.start_losses, strict=True))
    assert starts[child] < 0.8 * min(starts["0000"], starts["0001"])
    for trial_id in ("0000", "0001", "0002"):  # each trial's HParams session
        session = tmp_path / "tb" / trial_id / "execution0"
        assert _session_values(session)["phase"] == "fine"
    # The guide trains range(2) epochs whatever Hyperband gives: said, trials kept.
    assert budget_ignored(tuner.oracle.trials.values()) == ["0000", "0001", "0002"]
    said = [r.getMessage() for r in caplog.records if "epoch budget" in r.getMessage()]
    assert said and "Hyperband trial 0000 was given 1 epoch(s)" in said[0]
    assert "trained 2 epoch(s)" in said[0]


def test_a_backend_neutral_own_loop_continues_from_its_parents_weights(digits, tmp_path, caplog):
    """Any backend (NumPy updates): the continued trial starts where its parent ended, and a
    loop that trains the epochs it is given gets no budget warning."""
    x, y, validation = digits
    hypermodel = StepLoop()
    tuner = make_tuner(
        "hyperband",
        hypermodel,
        objective=kt.Objective("val_mse", "min"),
        directory=tmp_path,
        project_name="steps",
        **HYPERBAND,
    )
    with caplog.at_level(logging.WARNING, logger="tunekit"):
        tuner.search(x, y, validation_data=validation)
    assert _statuses(tuner) == {"0000": "COMPLETED", "0001": "COMPLETED", "0002": "COMPLETED"}
    (child, parent), *_ = _continued(tuner).items()
    starts = dict(zip(sorted(tuner.oracle.trials), hypermodel.start_errors, strict=True))
    parent_score = tuner.oracle.trials[parent].score
    assert starts[child] == pytest.approx(parent_score, rel=1e-4)  # the parent's best epoch
    assert starts[child] < 0.5 * starts[parent]  # not a fresh model
    assert budget_ignored(tuner.oracle.trials.values()) == []
    assert not [r for r in caplog.records if "epoch budget" in r.getMessage()]


def test_a_loop_that_reports_no_epoch_end_fails_its_continuation_with_the_real_cause(
    digits, tmp_path
):
    """Its fit calls no callback: there is no best epoch, so no checkpoint. Before, the
    continued trial blamed the machines of a multi-worker run (one process here)."""
    x, y, validation = digits
    tuner = make_tuner(
        "hyperband",
        StepLoop(report=False),
        objective=kt.Objective("val_mse", "min"),
        directory=tmp_path,
        project_name="silent",
        **HYPERBAND,
    )
    tuner.search(x, y, validation_data=validation)
    (child, parent), *_ = _continued(tuner).items()
    trial = tuner.oracle.trials[child]
    assert trial.status == "FAILED"
    assert (
        f"it was never written, because trial {parent}'s fit reported no epoch end" in trial.message
    )
    assert "callback.on_epoch_end(epoch" in trial.message
    assert "several machines" not in trial.message
    # Hyperband's budget: none reported, so its length is unknown (`epochs_given`), not
    # said to be another than the one given.
    assert set(budget_ignored(tuner.oracle.trials.values())) == set()
    assert tuner.oracle.trials[parent].metrics.exists("epochs_given")


def test_a_checkpoint_removed_after_its_trial_is_said_so(digits, tmp_path):
    """This process wrote the parent's checkpoint; something removed it before the
    continuation. Before: "which this process cannot read ... several machines"."""
    x, y, validation = digits

    def remove_checkpoint(tuner, trial):
        path = Path(tuner._get_checkpoint_fname(trial.trial_id))
        if path.is_file():
            os.remove(path)

    tuner = make_tuner(
        "hyperband",
        StepLoop(),
        objective=kt.Objective("val_mse", "min"),
        directory=tmp_path,
        project_name="removed",
        listeners=[remove_checkpoint],
        **HYPERBAND,
    )
    tuner.search(x, y, validation_data=validation)
    (child, parent), *_ = _continued(tuner).items()
    message = tuner.oracle.trials[child].message
    assert f"this process wrote it when trial {parent} ended and it has since been removed" in (
        message
    )
    assert "several machines" not in message


def test_the_missing_checkpoint_message_names_each_cause():
    path = "/run/fine/trial_0002/checkpoint.weights.h5"
    never = missing_checkpoint_message("0002", path, parent_epochs=0, written_here=False)
    assert "never written, because trial 0002's fit reported no epoch end" in never
    worker = missing_checkpoint_message(
        "0002", path, parent_epochs=3, written_here=False, worker=True
    )
    assert "another worker ran trial 0002" in worker and "several machines" in worker
    here = missing_checkpoint_message(
        "0002", path, parent_epochs=3, written_here=False, ran_here=True
    )
    assert "this process ran trial 0002" in here and "NaN or infinite" in here
    earlier = missing_checkpoint_message("0002", path, parent_epochs=3, written_here=False)
    assert "ran in an earlier session of this run (its fit reported 3 epoch(s))" in earlier
    for message in (never, here, earlier):
        assert "several machines" not in message  # one process: not the machines' fault
        assert path in message


@pytest.mark.long
def test_a_run_whose_own_loop_ignores_hyperbands_epochs_says_so_in_its_report(digits, tmp_path):
    """A whole run: the fine phase's continued trials complete, and the trials that
    trained another number of epochs than Hyperband gave are named in report.json and
    report.md (before: not said; and every continued trial FAILED)."""
    from tunekit import CoarseToFine
    from tunekit.data import Dataset

    x, y, validation = digits
    data = Dataset.from_arrays(
        np.concatenate([x, validation[0]]), np.concatenate([y, validation[1]]), seed=0
    )
    run = CoarseToFine(
        StepLoop(fixed=2),
        data,
        directory=tmp_path,
        project_name="loop",
        objective="val_mse:min",
        coarse_trials=3,
        coarse_epochs=1,
        max_epochs=2,
        factor=2,
        top=1.0,
        seed=0,
        verbose=0,
        finalists=0,
        baseline=False,
    )
    run.run()
    fine = run._tuner("fine").oracle.trials
    assert {t.status for t in fine.values()} == {"COMPLETED"}
    assert any(t.hyperparameters.values.get("tuner/trial_id") for t in fine.values())
    ignored = budget_ignored(fine.values())
    assert ignored  # range(2) epochs where Hyperband gave 1
    report = json.loads((tmp_path / "loop" / "report.json").read_text())
    assert report["phases"]["fine"]["epoch_budget_ignored"] == ignored
    assert report["phases"]["coarse"]["epoch_budget_ignored"] is None  # random search
    text = (tmp_path / "loop" / "report.md").read_text()
    assert f"[fine] Hyperband's epoch budget did not apply to trial(s) {', '.join(ignored)}" in (
        text
    )
    assert all(fine[i].metrics.exists(BUDGET_METRIC) for i in ignored)
    run.close()


class SilentLoop(StepLoop):
    """`StepLoop` that never calls a callback and always trains 2 epochs, over a range."""

    def __init__(self):
        super().__init__(fixed=2, report=False)

    def build(self, hp):
        hp.Float("l2", 0.01, 100.0, sampling="log")
        return keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])


def test_a_loop_that_calls_no_callback_gets_its_parameters_counted_and_no_epoch_count(
    tmp_path,
):
    """Probe G: a `fit` of its own that never calls `model.fit` nor a callback, training 2
    epochs whatever it is given. `trials.csv` gave `num_params` 0 for every trial, and
    `best_hyperparameters.json` `epochs_trained: 1` with the rule "a fixed count", while
    the loop trained 2. Now the parameters are counted and the epochs are said unknown."""
    from sklearn.datasets import load_digits

    from tunekit import CoarseToFine
    from tunekit.data import Dataset

    x, y = load_digits(return_X_y=True)
    data = Dataset.from_arrays((x / 16.0).astype("float32")[:600], y[:600], seed=0)
    run = CoarseToFine(
        SilentLoop(),
        data,
        directory=tmp_path,
        project_name="silent",
        objective="val_mse:min",
        coarse_trials=3,
        coarse_epochs=1,
        fine_tuner="bayesian",
        fine_trials=2,
        final_epochs=1,
        finalists=0,
        baseline=False,
        seed=0,
    )
    result = run.run()
    import pandas as pd

    table = pd.read_csv(result.run_dir / "trials.csv")
    assert set(table["num_params"]) == {650}  # 64 * 10 + 10
    best = json.loads((result.run_dir / "best_hyperparameters.json").read_text())
    assert best["epochs_trained"] is None
    report = (result.run_dir / "report.md").read_text()
    assert "own training loop, which called no model.fit" in report
    assert "a fixed count" not in report
