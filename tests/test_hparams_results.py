"""The HParams dashboard shows each trial's score as `trials.csv` has it, read back with
TensorBoard's own hparams backend from the real event files.

Before, its columns were Keras's epoch curves, and TensorBoard shows a column's LAST
value: the last epoch's, while trials are ranked and chosen by the best epoch's. A
trial whose last epoch is its worst ranked (and was coloured) as worse than it was.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hparams_dashboard import dashboard

EPOCHS = 3


def _worsen_last_epoch():
    """A callback that makes each fit's last epoch its worst: the output layer's weights
    are flipped and tripled as it begins, which two steps cannot undo."""
    import keras

    class WorsenLastEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == self.params["epochs"] - 1:
                kernel = self.model.layers[-1].kernel
                kernel.assign(kernel * -3.0)

    return WorsenLastEpoch()


def _build(hp):
    import keras

    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu"),
            keras.layers.Dense(1),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(hp.Float("learning_rate", 1e-2, 3e-2)),
        loss="mse",
        metrics=["mae"],
    )
    return model


def _search(tmp_path: Path, kind: str, **kwargs):
    """A small regression search logged to `<tmp_path>/tensorboard`, as a run logs a
    phase; returns the trials' table as `trials.csv` has it (`trials_dataframe`)."""
    import keras

    from tunekit.results import trials_csv, trials_dataframe
    from tunekit.tensorboard import experiment_metrics, write_experiment
    from tunekit.tuners import make_tuner

    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0], "float32"))[:, None]
    tuner = make_tuner(
        kind,
        _build,
        objective="val_loss",
        directory=str(tmp_path),
        project_name="coarse",
        seed=0,
        **kwargs,
    )
    tensorboard = tmp_path / "tensorboard"
    callbacks = [
        keras.callbacks.TensorBoard(str(tensorboard / "coarse"), write_graph=False),
        _worsen_last_epoch(),
    ]
    fit = {} if kind == "hyperband" else {"epochs": EPOCHS}
    tuner.search(
        x[:64], y[:64], validation_data=(x[64:], y[64:]), callbacks=callbacks, verbose=0, **fit
    )
    columns = experiment_metrics(["val_loss"], classification=False)
    write_experiment(tensorboard, tuner.oracle.hyperparameters, ("coarse",), columns)
    frame = trials_dataframe(tmp_path)
    (tmp_path / "trials.csv").write_text(trials_csv(frame))
    return frame.set_index("trial")


def _float32(value) -> float:
    """`value` as TensorBoard keeps a scalar (a 32-bit float)."""
    return float(np.float32(value))


@pytest.mark.parametrize(
    "kind, kwargs",
    [
        ("random", {"max_trials": 2, "executions_per_trial": 2}),
        ("random", {"max_trials": 1, "cv": 2}),
        ("hyperband", {"max_epochs": 3, "factor": 3}),
    ],
    ids=["two_executions", "cv", "hyperband"],
)
def test_the_dashboard_shows_each_trials_score_as_trials_csv_has_it(tmp_path, kind, kwargs):
    frame = _search(tmp_path, kind, **kwargs)
    columns, shown = dashboard(tmp_path / "tensorboard")
    assert columns == ["score", "val_loss", "loss"]  # the score first: colours, sort
    completed = frame[frame.status == "COMPLETED"]
    assert set(shown) == set(frame.index) and len(completed) == len(frame)
    # The construction holds: trials whose best epoch is not their last.
    epochs = EPOCHS if kind != "hyperband" else completed.epochs
    assert (completed.best_step < np.asarray(epochs) - 1).any()
    sessions = kwargs.get("executions_per_trial", 1) * kwargs.get("cv", 1)
    for trial, row in completed.iterrows():
        values = shown[trial]
        assert values["sessions"] == sessions, trial
        for name in ("score", "val_loss", "loss"):
            assert values[name] == _float32(row[name]), (trial, name, values[name], row[name])
        best_epoch = row.initial_epoch + row.best_step
        assert values["steps"]["score"] == best_epoch, trial
    # The table, sorted by its first column, ranks the trials as trials.csv does.
    assert list(shown) == list(completed.sort_values("score", kind="stable").index)
    if kind == "hyperband":
        _check_continuations(tmp_path, frame, shown)


def _check_continuations(tmp_path: Path, frame, shown: dict[str, dict]) -> None:
    """A continued Hyperband trial's score is its curve's value at its best epoch, counted
    from its parent's first epoch as Keras's TensorBoard callback counts it."""
    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.util import tensor_util

    continued = frame[frame.initial_epoch > 0]
    assert len(continued)
    for trial, row in continued.iterrows():
        folder = tmp_path / "tensorboard" / "coarse" / row.trial_id / "execution0" / "validation"
        curve = event_accumulator.EventAccumulator(str(folder), size_guidance={"tensors": 0})
        curve.Reload()
        by_epoch = {
            e.step: float(tensor_util.make_ndarray(e.tensor_proto))
            for e in curve.Tensors("epoch_loss")
        }
        best = row.initial_epoch + row.best_step
        assert min(by_epoch) == row.initial_epoch
        assert shown[trial]["score"] == by_epoch[best] == _float32(row.score), trial


def test_a_trial_that_ends_again_has_one_value_per_column(tmp_path):
    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.util import tensor_util

    from tunekit.hparams_results import TrialResults, write_trial_results
    from tunekit.tensorboard import write_experiment

    session = tmp_path / "coarse" / "0" / "execution0"
    session.mkdir(parents=True)
    write_experiment(tmp_path, [], ("coarse",))
    for score in (0.5, 0.25):
        write_trial_results([session], TrialResults(score, {"val_accuracy": score}, 2))
    assert len(list(session.glob("events.out.tfevents.*"))) == 1
    written = event_accumulator.EventAccumulator(str(session), size_guidance={"tensors": 0})
    written.Reload()
    for tag in ("trial/score", "trial/val_accuracy"):
        assert [
            (e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in written.Tensors(tag)
        ] == [(2, 0.25)]
    write_trial_results([tmp_path / "missing"], TrialResults(0.5, {}, 0))
    assert not (tmp_path / "missing").exists()  # a trial that failed before its session
