"""A failure drawn from tunekit's seeded generators: what a rerun does, said truthfully.

Found by a new user's retry: a hypermodel whose `fit` raises when `random.random() < 0.5`
failed the same coarse trials on every rerun, while the advice said "if it is transient,
rerunning resumes the search (... a phase with no completed trial starts again)", and
`seed=` cannot change on a resume. Each trial is seeded from `seed` and its id
(`keras.utils.set_random_seed`: Python's `random`, NumPy, Keras), and a phase with no
completed trial starts again with the same trials, so the advice now says that such a
failure recurs and names the ways out. See `tunekit.steps.trial_failures`.
"""

from __future__ import annotations

import json
import random
import types

import keras_tuner as kt
import numpy as np
import pytest
from keras_tuner.engine import trial as trial_module
from test_phase_restart import Flaky

import tunekit
from tunekit import CoarseToFine
from tunekit.cli_parser import cli_message
from tunekit.cli_summary import failed_run
from tunekit.data import Dataset
from tunekit.steps.trial_failures import advice, rerun_note

# Seed 2's first two coarse trials draw < 0.5 (found by running it); seed 3's coarse
# trials do not all fail.
UNLUCKY, LUCKY = 2, 3
SAME_SEEDS = (
    "But a rerun with the same settings runs the coarse search's trials again with the same "
    "hyperparameters and the same seeds"
)


class CoinFlip(Flaky):
    """A `fit` that fails when Python's `random` (seeded per trial by tunekit) draws < 0.5."""

    def fit(self, hp, model, *args, **kwargs):
        if random.random() < 0.5:
            raise RuntimeError("unlucky draw")
        return model.fit(*args, **kwargs)


def _run(tmp_path, seed, **kwargs):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 8)).astype("float32")
    data = Dataset.from_arrays(x, (np.arange(60) % 3 == 0).astype(int), seed=0)
    return CoarseToFine(
        CoinFlip(),
        data,
        directory=tmp_path,
        project_name="coin",
        coarse_trials=3,
        coarse_epochs=1,
        max_consecutive_failed_trials=2,
        seed=seed,
        verbose=0,
        finalists=0,
        baseline=False,
        **kwargs,
    )


def _trials(run):
    """Each coarse trial's id, hyperparameters, status and error line."""
    files = sorted((run.run_dir / "coarse").glob("trial_*/trial.json"))
    trials = [json.loads(f.read_text()) for f in files]
    return [
        (
            t["trial_id"],
            t["hyperparameters"]["values"],
            t["status"],
            (t["message"] or "\n").split("\n")[-2],
        )
        for t in trials
    ]


def _stop(run):
    with pytest.raises(tunekit.TrialsFailedError) as info:
        run.ensure("coarse")
    run.close()
    return info.value


def test_a_seeded_random_failure_recurs_on_a_rerun_and_the_advice_says_so(tmp_path):
    """Before: "If it is transient, rerunning resumes the search (new trials; a phase with
    no completed trial starts again, ...)", and every rerun failed the same trials."""
    run = _run(tmp_path, UNLUCKY)
    first = _stop(run)
    message = str(first)
    assert "2 trials in a row failed" in message and "each with the same error" in message
    assert "rerun as it is: the coarse search starts again from its first trial" in message
    assert SAME_SEEDS in message, message
    assert f"from seed={UNLUCKY} and the trial's id" in message
    assert "random.random() < 0.5" in message
    assert "fails the same trials on every rerun" in message
    assert f"start over with another seed (seed={LUCKY} with overwrite=True)" in message
    assert "or fix the randomness in the code" in message
    assert "allow more failures in a row (max_consecutive_failed_trials=" in message
    assert "rerunning resumes" not in message and first.restarts
    trials = _trials(run)
    assert [t[2] for t in trials] == ["FAILED"] * 2
    assert trials[0][3] == "RuntimeError: unlucky draw", trials

    # What the message says: the rerun starts the phase again and fails the same trials.
    rerun = _run(tmp_path, UNLUCKY)
    assert str(_stop(rerun)) == message
    assert _trials(rerun) == trials

    # The way out it names: another seed, starting over.
    lucky = _run(tmp_path, LUCKY, overwrite=True)
    lucky.ensure("coarse")
    lucky.close()
    assert "COMPLETED" in [t[2] for t in _trials(lucky)]


def test_after_failures_in_a_phase_with_a_completed_trial_a_rerun_runs_new_trials():
    """A resumed phase runs new trials, each seeded from its own id: a random failure need
    not recur there, and the advice does not send the user to another seed."""
    line = "RuntimeError: unlucky draw"
    said = advice(
        [_failed(line), _failed(line)], rerun_note(types.SimpleNamespace(seed=0), "fine", False)
    )
    assert "If it is transient (a file or a server that did not answer, out of memory), " in said
    assert (
        "rerunning resumes the search with new trials (the failed ones are not run again; "
        "each new trial has its own seed, from seed= and its id)"
    ) in said, said
    assert "same seeds" not in said and "overwrite=True" in said  # a changed hypermodel


def test_a_whole_failed_budget_names_another_seed_not_more_failures():
    """`NoCompletedTrialsError`'s note: every trial of the phase failed, so more failures in
    a row would not help; another seed or code that chance does not fail does."""
    note = rerun_note(types.SimpleNamespace(seed=7), "fine", True, more_failures=False)
    assert note.startswith("rerun as it is: the fine search starts again from its first trial")
    assert "the same seeds (tunekit seeds Python's random, NumPy and Keras" in note
    assert "seed=8 with overwrite=True" in note and "max_consecutive_failed_trials" not in note


def test_the_command_line_names_the_seed_flag_and_does_not_offer_a_resume():
    """Before: "Fix the cause and resume with: <the same command>" after a stop in a phase
    that a rerun starts again with the same seeds."""
    note = rerun_note(types.SimpleNamespace(seed=0), "coarse", True)
    error = tunekit.TrialsFailedError(advice([_failed("E: x"), _failed("E: x")], note))
    error.restarts = True
    said = failed_run(error, cli_message(error), ["--seed", "0"], "tunekit run")
    assert said.startswith("TrialsFailedError: ") and "resume with" not in said, said
    assert "start over with another seed (--seed 1 with --overwrite)" in said, said
    assert "allow more failures in a row (--max-consecutive-failed-trials, " in said, said
    resumable = tunekit.TrialsFailedError("The coarse search stopped")
    resumable.max_failed = 3  # a rerun allowing more failures resumes it (a fix starts over)
    assert failed_run(resumable, str(resumable), [], "tunekit run").endswith(
        "To allow more failures in a row, resume with:\n"
        "  tunekit run --max-consecutive-failed-trials 6"
    )


def _failed(line):
    trial = trial_module.Trial(kt.HyperParameters(), trial_id="0", status="FAILED")
    trial.message = f"Traceback (most recent call last):\n{line}\n"
    return trial
