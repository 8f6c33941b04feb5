"""A trial refused for its own configuration: it FAILS, and the search goes on.

tunekit checks each trial's built model and what its fit reported, beyond
what plain KerasTuner checks. What those checks refuse can depend on the
trial's hyperparameters: a tuned output activation or loss, a tuned output
name or compiled metric, a `fit` that returns another value under some
values. Plain KerasTuner trains and ranks every such configuration, so
tunekit tunes them too: the wrong ones fail (`TrialRefusedError`, with the
refusal and its fix as the trial's error) and the right ones are scored, as
KerasTuner fails a trial whose build or fit raises.

Refused this way, by `tunekit.tuners`:

- each trial's built model, before it trains (`model_check`: the output
  checks, pixels scaled twice, probabilities read as logits, a vector
  objective; `tunekit.steps.trial_checks.check_trial_model`);
- an objective the trial's History does not report, or reports as several
  values per epoch;
- one number returned by a `fit` under a default objective, and a number
  returned under a metric's name that Keras measured otherwise
  (`tunekit.tuners.returned`).

A fault of every configuration fails every trial: after
`max_consecutive_failed_trials` of them in a row, KerasTuner's stop
(`TrialsFailedError` in a run, quoting the refusal and saying it is not
chance: `tunekit.steps.trial_failures`). A `CoarseToFine` run checks the
default configuration before any training, so most such faults stop it
there (`ModelCheckError`, exit 2).

What cannot depend on a trial's values still stops the search at once
(`tunekit.fitting.SearchInputError`, a KerasTuner `FatalError`): the data (a
stream that runs dry), the search's arguments (`cv=`, `allow_new_entries=`,
a space that declares a name twice) and a tuned loss under an objective that
is a loss (no trial of it is wrong on its own: the trials are not comparable).
"""

from __future__ import annotations

from keras_tuner import errors as kt_errors

from tunekit.errors import TunekitError

__all__ = ["TrialRefusedError"]


class TrialRefusedError(TunekitError, kt_errors.FailedTrialError, ValueError):
    """tunekit refuses one trial's model or what its fit reported (see the module).

    A KerasTuner `FailedTrialError`: the trial is FAILED (not retried) with
    this message in its `trial.json` (and the `error` column of `trials.csv`),
    and the search goes on; `max_consecutive_failed_trials` in a row stop it
    (`TrialsFailedError`, quoting it). A `ValueError` too.
    """
