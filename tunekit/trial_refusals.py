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
  (`tunekit.tuners.returned`);
- the hypermodel's own `fit` call of `model.fit` (`HyperModelFitError`,
  `tunekit.fitting`: `validation_split`, `epochs` under Hyperband, tunekit's
  callbacks left out, arguments Keras refuses: `tunekit.fit_refusals`).

Each refusal names the trial's values, and its advice holds for a fault of
some configurations (`every_trial`: "this trial would fail", not "every
trial would"). It names the run's settings as the run was started (`Said`):
keyword arguments in Python (`objective`, `max_model_size=`), the command
line's flags from it (`--objective`, `--max-model-size`), in the trial's
`trial.json`, the progress line and every error quoting it.

A refusal of the trial whose values are the space's default configuration
(`is_default_configuration`; a `CoarseToFine` run's first coarse trial unless
`defaults_first=False`) stops the search at once (`SearchInputError`, exit 2;
`refusal`): that configuration is the one the check before training and the
baseline build, so it is no fault of some configurations that spares the run
(a mistyped objective is said on the first trial, not after
`max_consecutive_failed_trials` trained ones). A fault of every configuration
whose default trial does not run first fails every trial: after
`max_consecutive_failed_trials` of them in a row, KerasTuner's stop
(`TrialsFailedError` in a run, quoting the refusal and saying it is not
chance: `tunekit.steps.trial_failures`). A `CoarseToFine` run checks the
default configuration's model before any training, so most faults of the
model stop it there (`ModelCheckError`, exit 2).

What cannot depend on a trial's values still stops the search at once
(`tunekit.fitting.SearchInputError`, a KerasTuner `FatalError`): the data (a
stream that runs dry), the search's arguments (`cv=`, `allow_new_entries=`,
a space that declares a name twice) and a tuned loss under an objective that
is a loss (no trial of it is wrong on its own: the trials are not comparable).
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import re
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import keras
from keras_tuner import errors as kt_errors

from tunekit.errors import TunekitError, said_as
from tunekit.fitting import HyperModelFitError, SearchInputError

# `model.fit`'s keywords as a refused fit call names them (`batch_size`, "model.fit with
# class_weight={...}"): kept as written on the command line, where they are no options.
_FIT_WORDS = {
    said: said
    for k in inspect.signature(keras.Model.fit).parameters
    for said in (f"`{k}`", f"model.fit with {k}=", f"model.fit without {k}=", f"{k}=kwargs[")
}

__all__ = [
    "Said",
    "TrialRefusedError",
    "as_said",
    "every_trial",
    "is_default_configuration",
    "refusal",
    "refusal_kind",
    "said_now",
    "said_text",
    "saying",
    "trial_values",
    "trial_what",
]

# What a per-trial model check's `what` says (`trial_what`), and a refusal naming its trial.
_TRIAL_MARK = "built with the values of trial id"
_NAMED = re.compile(
    r"Trial id \S+, with the values \{.*?\}: |\(built with the values of trial id \S+, \{.*?\}\)"
)


#: How a run says tunekit's errors: `str` (Python's keyword arguments, `objective=`), or
#: the command line's `tunekit.cli_parser.cli_message` (its flags, `--objective`).
Said = Callable[[BaseException], str]
_Error = TypeVar("_Error", bound=TunekitError)
# How the run being made says its texts (`saying`): `str` unless the command line says otherwise.
_SAYING: contextvars.ContextVar[Said] = contextvars.ContextVar("tunekit_said", default=str)


@contextlib.contextmanager
def saying(said: Said) -> Iterator[None]:
    """Within it, a `CoarseToFine` made (`said_now`) says its warnings, errors and
    report notes by `said`: the command line makes its run under `saying(cli_message)`,
    so the warnings its constructor logs (a split lacking classes) name flags
    (`--cv K`), not keyword arguments (`cv=K`)."""
    token = _SAYING.set(said)
    try:
        yield
    finally:
        _SAYING.reset(token)


def said_now() -> Said:
    """How the run being made says its texts (`saying`): `str` (Python) by default."""
    return _SAYING.get()


class TrialRefusedError(TunekitError, kt_errors.FailedTrialError, ValueError):
    """tunekit refuses one trial's model or what its fit reported (see the module).

    A KerasTuner `FailedTrialError`: the trial is FAILED (not retried) with
    this message in its `trial.json` (and the `error` column of `trials.csv`),
    and the search goes on; `max_consecutive_failed_trials` in a row stop it
    (`TrialsFailedError`, quoting it). A `ValueError` too.

    Args:
        *args: The message (what is wrong with the trial, and the fix), then any
            detail a caller reads back (`tunekit.tuners.returned`: the name).
        hint: A suggestion true only when every configuration is refused alike
            (`"Did you mean 'val_accuracy'?"` for a mistyped objective): `refusal`
            says it only where it stops the search on the default configuration,
            not for a trial whose own values made the fault.
    """

    def __init__(self, *args: Any, hint: str = "") -> None:
        super().__init__(*args)
        self.hint = hint


def trial_values(hp: Any) -> dict[str, Any]:
    """A trial's `HyperParameters`' active values, without KerasTuner's `tuner/` entries."""
    active = {one.name for one in hp.space if hp.is_active(one)}
    return {k: v for k, v in hp.values.items() if k in active and not k.startswith("tuner/")}


def trial_what(trial_id: str, hp: Any) -> str:
    """The model of trial `trial_id` in a model check's message (its `what`), naming its
    values: "`hypermodel` (built with the values of trial id 2, {...}) builds a model that"."""
    return f"`hypermodel` ({_TRIAL_MARK} {trial_id}, {trial_values(hp)}) builds a model that"


def refusal_kind(line: str) -> str:
    """An error line without the trial it names (`refusal`, `trial_what`): the same refusal
    of trials with other values reads the same."""
    return _NAMED.sub(lambda m: "" if m.group(0).startswith("Trial") else "(...)", line)


def every_trial(what: str) -> str:
    """Whom a model check's fault fails: `"this trial"` for one trial's model (`what` from
    `trial_what`), else `"every trial"` (the default configuration's, before training)."""
    return "this trial" if _TRIAL_MARK in what else "every trial"


def is_default_configuration(hp: Any) -> bool:
    """Whether a trial's `HyperParameters` hold the space's default configuration: each
    active entry at its default (conditions followed as declared, as
    `tunekit.tuners.oracles.DefaultsFirstRandomSearchOracle` draws it)."""
    import keras_tuner as kt

    defaults = kt.HyperParameters()
    for one in hp.space:
        defaults.merge([one])
        if defaults.is_active(one):
            defaults.values[one.name] = one.default
    wanted = {one.name: defaults.values[one.name] for one in hp.space if defaults.is_active(one)}
    return bool(hp.space) and trial_values(hp) == wanted


def said_text(text: str, said: Said = str) -> str:
    """`text`, a message of tunekit's naming settings as keyword arguments, as the run says
    it (`said`): `text` itself under `str`, `--max-model-size 1000` for `max_model_size=1000`
    under the command line's `cli_message`."""
    return said(TunekitError(text))


def as_said(error: _Error, said: Said = str) -> _Error:
    """`error`, a tunekit error raised in a trial (`HyperModelFitError`, `SearchInputError`),
    with its message as the run says it (`said_text`), its traceback and cause; `error` under
    `str`. Keras's words it quotes are left as they are (`tunekit.cli_parser.cli_message`
    reads them from its causes)."""
    if said is str:
        return error
    again = type(error)(said(error)).with_traceback(error.__traceback__)  # where it was raised
    said_as(again, cli_words=dict(error.cli_words))  # said again (a quote): kept as said
    again.__cause__ = error.__cause__
    return again


def refusal(
    error: TrialRefusedError | HyperModelFitError,
    trial_id: str,
    hp: Any,
    stop_on_defaults: bool,
    said: Said = str,
) -> Exception:
    """What a trial's refusal raises: `TrialRefusedError` naming the trial's values (a
    `HyperModelFitError`, a refused `model.fit` call, as it is, said as the run says it), or,
    for the default configuration's trial (`stop_on_defaults`), `SearchInputError`.

    Args:
        error: The refusal (its message says what is wrong and the fix).
        trial_id: The trial's id.
        hp: The trial's `HyperParameters`.
        stop_on_defaults: Whether a refusal of the default configuration stops the
            search (`is_default_configuration`; see the module docstring).
        said: How the run says its errors (`Said`): the refusal's settings are named
            as the run was started (`objective` in Python, `--objective` on the
            command line). Defaults to `str` (Python's keyword arguments).
    """
    message = str(error.args[0]) if error.args else str(error)
    fit_call = isinstance(error, HyperModelFitError)
    if fit_call:  # `batch_size` there is model.fit's keyword, not --batch-size
        said_as(error, error.changes, {**_FIT_WORDS, **dict(error.cli_words)})
    if fit_call and not (stop_on_defaults and is_default_configuration(hp)):
        return as_said(error, said)
    if said is not str:  # one message (a refusal's detail, `error.args[1]`, is not said)
        plain = TrialRefusedError(message)
        plain.cli_words = error.cli_words  # spans kept as written (a model.fit keyword)
        plain.__cause__ = error  # whose causes hold the Keras words it quotes
        message = said(plain)
    if _TRIAL_MARK not in message:
        message = f"Trial id {trial_id}, with the values {trial_values(hp)}: {message}"
    if stop_on_defaults and is_default_configuration(hp):
        hint = f" {error.hint}" if getattr(error, "hint", "") else ""
        stopped = SearchInputError(
            f"{message}{hint} That trial is the space's default configuration (each "
            "hyperparameter at its default), which a run checks before its search (and "
            "trains as its baseline, unless that is off), so the search stops at once "
            "instead of failing trial after trial: fix what the refusal names (or, if only "
            "some values make it, give the hyperparameters defaults that do not)."
        )
        return said_as(stopped, cli_words=dict(error.cli_words))  # its kept spans, kept
    return said_as(TrialRefusedError(message), cli_words=dict(error.cli_words))
