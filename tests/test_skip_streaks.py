"""Trials the hypermodel skips (its own FailedTrialError) are not failures in a row.

Found by a review: KerasTuner's documented way to skip a configuration is to raise
`keras_tuner.errors.FailedTrialError` (`tunekit.steps.fine_skips`), but its
`max_consecutive_failed_trials` stop counted each skip as a failure, so a few legitimate
skips in a row stopped the search with `TrialsFailedError`, as if trials had crashed.
Skips are now passed over by that count (neither failures nor completed trials); a run
of real failures still stops the search with the same error, skips between them or not.
"""

from __future__ import annotations

import keras
import keras_tuner as kt
import pytest
from test_fit_refusals import TINY, _data

from tunekit import CoarseToFine
from tunekit.errors import TrialsFailedError
from tunekit.trial_skips import failed_in_a_row


def _build(hp):
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(hp.Int("units", 2, 32, step=2), activation="relu"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class Fails(kt.HyperModel):
    """A `fit` that raises `errors[call]` in its call number `call` (1 = the first trial)."""

    def __init__(self, errors):
        super().__init__()
        self.errors, self.calls = errors, 0

    def build(self, hp):
        return _build(hp)

    def fit(self, hp, model, x, y, **kwargs):
        self.calls += 1
        error = self.errors.get(self.calls)
        if error is not None:
            raise error(f"call {self.calls}: not this configuration")
        return model.fit(x, y, **kwargs)


SKIP = kt.errors.FailedTrialError


def _run(tmp_path, errors, trials=5):
    settings = dict(TINY, coarse_trials=trials)
    return CoarseToFine(
        Fails(errors),
        _data(),
        directory=tmp_path,
        project_name="skips",
        max_consecutive_failed_trials=2,
        **settings,
    )


def _statuses(run):
    oracle = run._tuner("coarse").oracle
    return [oracle.trials[i].status for i in sorted(oracle.trials, key=int)]


def test_skips_in_a_row_do_not_stop_the_search(tmp_path):
    """Before: `TrialsFailedError: The coarse search stopped: 2 trials in a row failed`."""
    run = _run(tmp_path, {2: SKIP, 3: SKIP, 4: SKIP})
    try:
        oracle = run.coarse().oracle
        assert _statuses(run) == ["COMPLETED", "FAILED", "FAILED", "FAILED", "COMPLETED"]
        assert failed_in_a_row(oracle) == []
    finally:
        run.close()


def test_real_failures_in_a_row_still_stop_the_search_with_skips_between(tmp_path):
    run = _run(tmp_path, {2: ValueError, 3: SKIP, 4: ValueError, 5: ValueError}, trials=6)
    try:
        with pytest.raises(TrialsFailedError) as info:
            run.coarse()
        message = str(info.value)
        assert "The coarse search stopped: 2 trials in a row failed" in message, message
        assert "ValueError: call 4: not this configuration" in message, message
        # named as the progress line counted it, with KerasTuner's id and its trial.json
        record = tmp_path / "skips" / "coarse" / "trial_3" / "trial.json"
        assert "the last, coarse trial 4 (id 3), with ValueError: call 4" in message, message
        assert f"(its traceback: {record})" in message, message
        oracle = run._tuner("coarse").oracle
        assert [t.trial_id for t in failed_in_a_row(oracle)] == ["1", "3"]
        assert len(oracle.trials) == 4  # the stop came after the second real failure
    finally:
        run.close()


def test_a_streak_of_crashes_alone_stops_as_before(tmp_path):
    run = _run(tmp_path, {2: ValueError, 3: ValueError})
    try:
        with pytest.raises(TrialsFailedError, match="2 trials in a row failed"):
            run.coarse()
        assert _statuses(run) == ["COMPLETED", "FAILED", "FAILED"]
    finally:
        run.close()
