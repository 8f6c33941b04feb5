"""A stop after failed trials in a row: its advice names what a rerun accepts.

Found by a new user's probe: the stop said "Fix the cause in the hypermodel, its ranges or
the data, or allow more failures ...; rerunning resumes the search with new trials", and the
command line added "Fix the cause and resume with: <command>". But a hypermodel changed to
fix the cause is another configuration, which a rerun refuses, and when the failed trial
used the last of the phase's budget no rerun runs new trials (the narrowing's
`TooFewTrialsError` said "start the run over"). See `tunekit.steps.trial_failures`.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from test_errors import _breaks_past_the_defaults

import tunekit
from tunekit import CoarseToFine
from tunekit.cli_parser import build_parser, cli_message
from tunekit.cli_summary import failed_run
from tunekit.data import Dataset

STARTS_OVER = (
    "Fixing the cause in the hypermodel, its ranges or the data means starting over: a changed "
    "hypermodel (its values, ranges or code) or changed data is another configuration, which a "
    "rerun refuses: start the run over (overwrite=True, or a new project_name=). "
)


def _data():
    rng = np.random.default_rng(0)
    return Dataset.from_arrays(rng.normal(size=(60, 6)).astype("float32"), np.arange(60) % 2)


def _fixed(hp):
    """`_breaks_past_the_defaults` with its cause fixed: every configuration builds."""
    units = hp.Int("units", 4, 64, default=4)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(units, activation="relu")])
    model.add(keras.layers.Dense(2, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _stop(tmp_path, coarse_trials):
    options = dict(
        directory=tmp_path,
        project_name="f",
        coarse_trials=coarse_trials,
        coarse_epochs=1,
        verbose=0,
        baseline=False,
    )
    run = CoarseToFine(
        _breaks_past_the_defaults, _data(), max_consecutive_failed_trials=2, **options
    )
    with pytest.raises(tunekit.TrialsFailedError) as info:
        run.run()
    run.close()
    return info.value, options


def test_a_stop_with_trials_left_says_a_fix_starts_over_and_more_failures_resume(tmp_path):
    """Before: "Fix the cause ..., or allow more failures ...; rerunning resumes the search",
    and the rerun with the hypermodel fixed was refused."""
    error, options = _stop(tmp_path, 5)
    message = str(error)
    assert (
        f"{STARTS_OVER}To keep this run's trials, allow more failures in a row instead "
        "(max_consecutive_failed_trials=, which a rerun may change): rerunning resumes the "
        "search with new trials (the failed ones are not run again; each new trial has its "
        "own seed, from seed= and its id)."
    ) in message, message
    assert error.trials_left == 2 and not error.starts_over and not error.restarts
    # What it says: the fixed hypermodel is refused, the run over with overwrite=True runs.
    fixed = CoarseToFine(_fixed, _data(), max_consecutive_failed_trials=2, **options)
    with pytest.raises(tunekit.RunConfigError, match=r"configuration \(hypermodel: "):
        fixed.coarse()
    fixed.close()
    said = failed_run(error, cli_message(error), ["--coarse-trials", "5"], "tunekit run")
    assert "start the run over (--overwrite, or a new --project-name)" in said, said
    assert "allow more failures in a row instead (--max-consecutive-failed-trials, " in said
    assert said.endswith(
        "\nTo allow more failures in a row, resume with:\n"
        "  tunekit run --coarse-trials 5 --max-consecutive-failed-trials 4"
    ), said
    # The option typed already (in full, with =, or shortened as argparse takes it) is
    # replaced, not given twice: the probe's pasted command was refused, exit 2.
    for typed in (
        ["--max-consecutive-failed-trials", "2"],
        ["--max-consecutive-failed-trials=2"],
        ["--max-consec", "2"],
    ):
        said = failed_run(error, cli_message(error), [*typed, "--coarse-trials", "5"], "p")
        assert said.endswith("\n  p --coarse-trials 5 --max-consecutive-failed-trials 4"), said
        command = said.splitlines()[-1].split()[1:]
        assert build_parser().parse_args(command).max_consecutive_failed_trials == 4
    assert "Fix the cause and resume" not in said


def test_a_stop_on_the_last_trial_of_the_budget_says_no_rerun_runs_new_trials(tmp_path):
    """Before: "... or allow more failures ...; rerunning resumes the search with new
    trials", and the rerun allowing more failures ran none: TooFewTrialsError."""
    error, options = _stop(tmp_path, 3)
    message = str(error)
    assert (
        f"{STARTS_OVER}As it is, the coarse search's budget is used up (coarse_trials=3), so a "
        "rerun runs no new trial, whatever failures it allows, and its narrowing stops: it "
        "needs 3 completed coarse trials and has 1. If some configurations fail by nature, "
        "rerun with a larger coarse_trials= (the search goes on, keeping its trials); else "
        "start the run over (overwrite=True, or a new project_name=) once the cause is fixed."
    ) in message, message
    assert "rerunning resumes" not in message and "allow more failures in a row" not in message
    assert error.trials_left == 0 and error.starts_over
    said = failed_run(error, cli_message(error), [], "tunekit run")
    assert "resume with" not in said.lower(), said
    assert "rerun with a larger --coarse-trials (the search goes on" in said
    assert "(--overwrite, or a new --project-name) once the cause is fixed" in said
    # What it says: a rerun allowing more failures runs no trial and cannot narrow.
    more = CoarseToFine(
        _breaks_past_the_defaults, _data(), max_consecutive_failed_trials=5, **options
    )
    with pytest.raises(tunekit.TooFewTrialsError, match="Only 1 of the 3 coarse trials"):
        more.run()
    more.close()
