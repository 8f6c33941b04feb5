"""Where a run's time goes: the per-trial rows and `report.json["time_split"]`."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from tunekit import timing


def _check_step(name: str, step: dict) -> None:
    assert set(step) == {"wall", *timing.PARTS}, name
    assert all(v >= 0 for v in step.values()), (name, step)
    assert sum(step[p] for p in timing.PARTS) == pytest.approx(step["wall"], abs=0.01), name


def test_report_splits_every_step_into_parts_that_add_up(finished_run):
    run, result = finished_run
    report = json.loads((run.run_dir / "report.json").read_text())
    split = report["time_split"]
    steps = split["steps"]
    # The Python API: no probe, no process start (the process is the caller's).
    assert {"coarse", "fine", "retrain", "evaluate"} <= set(steps)
    assert not {"probe", "start", "setup"} & set(steps)
    for name, step in steps.items():
        _check_step(name, step)
    for name in ("coarse", "fine", "retrain"):
        assert steps[name]["wall"] == pytest.approx(result.timings[name], abs=0.01)
        assert steps[name]["train"] > 0, name
        assert steps[name]["first_step"] > 0, name  # the first batch traces the step
    # The evaluate step's time runs to the report's writing: its plots and images count.
    assert steps["evaluate"]["wall"] == pytest.approx(result.timings["evaluate"], rel=0.1, abs=0.05)
    assert report["timings"]["evaluate"] == steps["evaluate"]["wall"]
    for name in ("coarse", "fine"):
        assert steps[name]["build"] > 0 and steps[name]["oracle"] > 0, name
        assert steps[name]["gc"] > 0 and steps[name]["validation"] > 0, name
        assert steps[name]["checkpoint"] > 0 and steps[name]["tensorboard"] > 0, name
    assert split["wall"] == pytest.approx(sum(s["wall"] for s in steps.values()), abs=0.01)
    assert split["training"] == pytest.approx(sum(s["train"] for s in steps.values()), abs=0.01)
    assert (
        0
        < split["outside_training"]
        == pytest.approx(1 - split["training"] / split["wall"], abs=1e-3)
    )


def test_every_trial_of_both_phases_has_its_row(finished_run):
    run, _ = finished_run
    for phase in ("coarse", "fine"):
        rows = timing.read_rows(run.run_dir / phase / timing.TIMING_FILE)
        trials = run.tuners[phase].oracle.trials
        assert sorted(r["trial_id"] for r in rows) == sorted(trials), phase
        for row in rows:
            assert {r["step"] for r in rows} == {phase}
            parts = sum(row[p] for p in timing.PARTS)
            assert parts == pytest.approx(row["seconds"], abs=2e-3), row
            assert row["train"] > 0 and row["build"] > 0, row
    retrain = timing.read_rows(run.run_dir / timing.TIMING_FILE)
    assert [r["step"] for r in retrain] == ["retrain"]


def test_fit_clock_separates_first_step_validation_and_checkpoints(tmp_path):
    x = np.random.default_rng(0).normal(size=(256, 8)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    checkpoint = keras.callbacks.ModelCheckpoint(
        str(tmp_path / "m.weights.h5"), save_weights_only=True
    )
    with timing.timed_fit(tmp_path / "timing.csv", "retrain", [checkpoint]) as callbacks:
        assert callbacks[0].__class__ is timing.FitClock
        assert callbacks[2] is checkpoint  # bracketed: marker, callback, marker
        model.fit(
            x, y, validation_data=(x, y), epochs=2, batch_size=32, callbacks=callbacks, verbose=0
        )
    (row,) = timing.read_rows(tmp_path / "timing.csv")
    assert row["step"] == "retrain"
    assert row["first_step"] > 0 and row["validation"] > 0 and row["checkpoint"] > 0
    assert row["train"] > 0
    assert sum(row[p] for p in timing.PARTS) == pytest.approx(row["seconds"], abs=2e-3)


def test_time_split_adds_the_probe_and_the_process_start(tmp_path):
    timing.append_row(tmp_path / timing.TIMING_FILE, "retrain", {"train": 3.0, "seconds": 3.0})
    steps = {"retrain": {"seconds": 4.0}, "evaluate": {"seconds": 1.0}, "narrow": {}}
    split = timing.time_split(
        tmp_path, steps, probe_seconds=2.0, session_seconds=10.0, loaded_seconds=2.5
    )
    assert list(split["steps"]) == ["start", "setup", "probe", "retrain", "evaluate"]
    assert split["steps"]["start"]["wall"] == 0.5  # Keras loaded at 2.5 s, less the probe
    assert split["steps"]["setup"]["wall"] == 2.5  # 10 s less all the others
    assert split["steps"]["retrain"]["train"] == 3.0 and split["steps"]["retrain"]["other"] == 1
    assert split["wall"] == 10.0 and split["training"] == 3.0
    assert split["outside_training"] == 0.7
    assert timing.session(None) == {}
    age = timing.session({"backend": "jax", "wall_seconds": 1.5})
    assert age["probe_seconds"] == 1.5
    assert 0 < (age["loaded_seconds"] or 0) < (age["session_seconds"] or 0)


def test_best_epoch_checkpoint_is_written_once_with_the_best_epochs_weights(tmp_path):
    import keras_tuner as kt

    from tunekit.tuners.callbacks import BestEpochWeights

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    path = tmp_path / "checkpoint.weights.h5"
    callback = BestEpochWeights(kt.Objective("val_loss", "min"), str(path))
    callback.set_model(model)
    weights = {}
    for epoch, val_loss in enumerate([0.5, 0.3, 0.4]):  # epoch 1 is the best
        model.set_weights([np.full(w.shape, float(epoch)) for w in model.get_weights()])
        weights[epoch] = model.get_weights()
        callback.on_epoch_end(epoch, {"val_loss": val_loss})
        assert not path.exists()  # nothing written during training
    callback.on_train_end()
    for kept, last in zip(model.get_weights(), weights[2], strict=True):
        np.testing.assert_array_equal(kept, last)  # the model keeps its last weights
    model.load_weights(str(path))
    for saved, best in zip(model.get_weights(), weights[1], strict=True):
        np.testing.assert_array_equal(saved, best)


def test_validation_batches_divide_the_validation_set():
    from tunekit.data.batches import validation_batch_size

    assert validation_batch_size(10_000, 128) == 500  # MNIST's validation split: no partial batch
    assert validation_batch_size(397, 128) == 397
    assert validation_batch_size(1_034, 128) == 94  # 2 x 11 x 47: none in 128..512
    # A prime: the whole split in one batch, unless its x is too large for one.
    assert validation_batch_size(9_973, 128, sample_bytes=784 * 4) == 9_973
    assert validation_batch_size(9_973, 128, sample_bytes=224 * 224 * 3 * 4) == 128
    assert validation_batch_size(100, 128) == 100
