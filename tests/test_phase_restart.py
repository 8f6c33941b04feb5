"""A phase whose every trial failed starts again on a rerun; the steps before it are kept.

Found by a probe: a hypermodel's `fit` failing at random ("transient: shard server did
not answer") failed every fine trial; the run ended "No fine trial completed ... Fix the
hypermodel or its ranges, then rerun with --overwrite", and a rerun without --overwrite
repeated that error at once (the fine oracle's budget spent on FAILED trials), so a
transient error forced throwing away the coarse phase. See `tunekit.steps.phase_restart`.
"""

from __future__ import annotations

import json

import keras
import keras_tuner as kt
import numpy as np
import pytest

import tunekit
from tunekit import CoarseToFine
from tunekit.data import Dataset


class Flaky(kt.HyperModel):
    """A `fit` that fails while `Flaky.failing` (a data server that does not answer)."""

    failing = False
    fits = 0

    def build(self, hp):
        model = keras.Sequential(
            [
                keras.Input((8,)),
                keras.layers.Dense(hp.Int("units", 4, 16, step=4), activation="relu"),
                keras.layers.Dense(2, activation="softmax"),
            ]
        )
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    def fit(self, hp, model, x, y, **kwargs):
        if Flaky.failing:
            raise ValueError("transient: shard server did not answer")
        Flaky.fits += 1
        return model.fit(x, y, **kwargs)


def _run(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 8)).astype("float32")
    data = Dataset.from_arrays(x, (np.arange(60) % 3 == 0).astype(int), seed=0)
    return CoarseToFine(
        Flaky(),
        data,
        directory=tmp_path,
        project_name="flaky",
        coarse_trials=3,
        coarse_epochs=1,
        fine_tuner="bayesian",
        fine_trials=2,
        max_epochs=1,
        max_consecutive_failed_trials=5,  # the fine phase ends on its budget, not a stop
        seed=0,
        verbose=0,
        finalists=0,
        baseline=False,
    )


def _statuses(run_dir, phase):
    files = sorted((run_dir / phase).glob("trial_*/trial.json"))
    return [json.loads(f.read_text())["status"] for f in files]


def test_a_rerun_starts_a_phase_with_no_completed_trial_again_and_keeps_the_coarse_phase(
    tmp_path,
):
    """Before, the rerun raised the same NoCompletedTrialsError at once."""
    Flaky.failing, Flaky.fits = False, 0
    run = _run(tmp_path)
    run.ensure("coarse")
    coarse = {f: f.read_text() for f in (run.run_dir / "coarse").glob("trial_*/trial.json")}
    assert Flaky.fits == 3 and _statuses(run.run_dir, "coarse") == ["COMPLETED"] * 3
    Flaky.failing = True
    with pytest.raises(tunekit.NoCompletedTrialsError) as info:
        run.ensure("fine")
    run.close()
    message = str(info.value)
    assert "No fine trial completed" in message, message
    assert "transient: shard server did not answer" in message
    transient = "if it is transient (a file or a server that did not answer, out of memory), "
    again = "rerun as it is: the fine search starts again from its first trial"
    assert transient + again in message, message
    # ... with the same trials and seeds: a failure drawn from them recurs; the ways out
    same = "runs the fine search's trials again with the same hyperparameters and the same seeds"
    assert same in message, message
    assert "start over with another seed (seed=1 with overwrite=True)" in message, message
    assert "max_consecutive_failed_trials" not in message  # the whole budget failed
    assert "the steps before it kept" in message and "then rerun with overwrite=True" not in (
        message
    )
    assert _statuses(run.run_dir, "fine") == ["FAILED"] * 2

    Flaky.failing, Flaky.fits = False, 0
    rerun = _run(tmp_path)  # the same settings, no overwrite
    rerun.ensure("fine")
    rerun.close()
    assert Flaky.fits == 2  # the fine trials only: the coarse phase was kept
    assert _statuses(rerun.run_dir, "fine") == ["COMPLETED"] * 2
    assert {f: f.read_text() for f in (rerun.run_dir / "coarse").glob("trial_*/trial.json")} == (
        coarse
    )
