"""tunekit's exceptions: one `TunekitError` base, the specific errors under it.

Catch `TunekitError` for any failure tunekit reports about your settings, data,
hypermodel or run folder. Each specific error also keeps the builtin base it had before
(`RunConfigError` is a `ValueError`, `RunLockedError` a `RuntimeError`, ...), so code
that catches those still works, and each is importable from `tunekit` and from the
module that raises it. Messages name keyword arguments (`pass overwrite=True`); the
command line translates them to its flags (`--overwrite`). `DataWarning` is a warning.

Two exceptions live outside this tree on purpose:

- `Interrupted` (SIGINT / SIGTERM) is a `BaseException`, like `KeyboardInterrupt`, so
  it passes every `except Exception` between the signal and the top of the run.
- `tunekit.fitting.HyperModelFitError` is a `TunekitError` and also a KerasTuner
  `FailedTrialError` (its trial fails, the search goes on), defined there because its
  KerasTuner base loads Keras, which this module must not; so is
  `tunekit.trial_refusals.TrialRefusedError` (a trial refused for its configuration).

This module imports nothing from tunekit, Keras or KerasTuner.
"""

from __future__ import annotations

import collections
import re
import signal
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

__all__ = [
    "error_line",
    "said_as",
    "quoted",
    "raised_line",
    "ChiefUnreachableError",
    "DataError",
    "DataUnavailableError",
    "DataWarning",
    "Interrupted",
    "InvalidParameterError",
    "UnknownDirectionError",
    "ModelCheckError",
    "ModelSaveError",
    "ModelSizeLimitError",
    "NoCompletedTrialsError",
    "OutputShapeError",
    "PortInUseError",
    "RetrainDivergedError",
    "RunConfigError",
    "RunLockedError",
    "RunNotFinishedError",
    "StateFileError",
    "TooFewTrialsError",
    "TrialsFailedError",
    "TunekitError",
    "UsageError",
    "WorkerCrashError",
    "WorkerStoppedError",
    "WorkerLostError",
    "WorkerRefusedError",
]


class TunekitError(Exception):
    """Base of every error tunekit raises about a run (see the module docstring).

    Attributes:
        changes: The message's spans naming a changed setting of a run, each
            `(text, name, old, new)`: `("coarse_trials: 3 -> 4", "coarse_trials", 3, 4)`.
            The command line says each by its option, `--coarse-trials: 3 -> 4`
            (`tunekit.cli_parser.cli_message`); empty by default (`said_as`).
        cli_words: The message's spans that name a remedy the command line has
            no option for (`test_fraction=`), each `(text, the command line's words)`.
        differences: A refused rerun's list of what changed, each item's text as the
            message joins them (`"; "`), for the command line to say by the options
            typed (`tunekit.cli_changes`); empty by default.
        settings: A refused rerun's settings as `(every key of the run's
            configuration, the keys whose values differ)`, so that an option typed
            otherwise to the same effect (`--hypermodel dense` for the default) is not
            named as a change; `None` by default.
    """

    changes: tuple[tuple[str, str, object, object], ...] = ()
    cli_words: tuple[tuple[str, str], ...] = ()
    differences: tuple[str, ...] = ()
    settings: tuple[frozenset[str], frozenset[str]] | None = None


# -- settings and input ------------------------------------------------------------


class UsageError(TunekitError, ValueError):
    """Bad arguments or input, found before any training (the CLI exits with code 2)."""


class InvalidParameterError(UsageError, TypeError):
    """An argument's value breaks its rule (see `tunekit.params`).

    A `ValueError` and a `TypeError` (like scikit-learn's error of the same
    name), so code catching either still works. The message names the
    keyword and the value received ("Received: top=0."); the command line
    refuses such values while parsing its flags.
    """


class UnknownDirectionError(InvalidParameterError):
    """An objective named without a direction tunekit knows (`tunekit.objectives`).

    The command line asks it after the model is built, so that an objective naming a
    vector metric gets that refusal (whose advice runs) instead.
    """


class ModelSizeLimitError(UsageError):
    """`max_model_size` rejects (nearly) every configuration of the search space.

    Raised before any trial trains when no configuration tried fits the limit, or during a
    search after many rejected proposals in a row; it gives the smallest model seen and
    what to change."""


class DataError(TunekitError, ValueError):
    """The data cannot be used as given: its file, arrays, labels or splits."""


class DataWarning(UserWarning):
    """Data that loads but may not be what you meant (a uint8 `x` of a few levels, class
    ids saved as floats): shown, and kept for the report (`tunekit.data._notes`)."""


class OutputShapeError(TunekitError, ValueError):
    """The model's output does not fit the data's number of classes."""


class ModelCheckError(TunekitError, ValueError):
    """The hypermodel's model cannot train on the data as built: its input, compile or metrics."""


class ModelSaveError(TunekitError, ValueError):
    """The hypermodel's model cannot be saved as `.keras` and loaded back (`safe_mode=True`)."""


class DataUnavailableError(TunekitError, RuntimeError):
    """The data could not be fetched (e.g. MNIST's download failed)."""


# -- the run folder ------------------------------------------------------------------


class RunConfigError(TunekitError, ValueError):
    """The run folder holds a different run, or cannot be used."""


class RunLockedError(TunekitError, RuntimeError):
    """Another process is working on the same run folder."""


class StateFileError(TunekitError, RuntimeError):
    """A state file on disk cannot be read (corrupt, truncated or missing)."""


class RunNotFinishedError(TunekitError, RuntimeError):
    """A finished run's result was asked for before the run finished."""


# -- the run's outcome ---------------------------------------------------------------


class NoCompletedTrialsError(TunekitError, RuntimeError):
    """A phase ended without any completed trial with a finite score."""


class TrialsFailedError(TunekitError, RuntimeError):
    """A search stopped: `max_consecutive_failed_trials` trials in a row FAILED.

    KerasTuner's own stop (its `RuntimeError`), named: the message gives the
    last trial's error and where its traceback is, and what to do whether the
    error is of the code, transient or drawn at random. Finished trials are
    kept; allowing more failures resumes the search with new trials, or, in a phase with no
    completed trial, starts that phase again with the same trials and the same
    seeds, so an error drawn from tunekit's seeded generators (Python's
    `random`, NumPy, Keras) recurs: the message names the ways out (another
    `seed` with `overwrite=True`, ...).

    What resumes and what starts over: allowing more failures in a row (a
    higher `max_consecutive_failed_trials`, which a rerun may change) resumes
    the run, while a hypermodel or data changed to fix the cause is another
    configuration, which a rerun refuses (`overwrite=True`, or a new
    `project_name`). When the failed trial used the last of the phase's
    budget, no rerun runs new trials: the run goes on with the completed ones,
    or, for a coarse phase with fewer than the narrowing needs, must start over.

    Attributes:
        restarts: Whether the phase had no completed trial, so that a rerun
            starts it again rather than resumes it (`False` when unknown).
        trials_left: How many trials of the phase's budget are not run yet; `None`
            when unknown (Hyperband, or a phase a rerun starts again).
        starts_over: Whether no rerun can get past the stop (the coarse budget used up
            with too few completed trials to narrow from): only a fresh start helps.
        max_failed: The run's `max_consecutive_failed_trials` (`None` when unknown).
    """

    restarts: bool = False
    trials_left: int | None = None
    starts_over: bool = False
    max_failed: int | None = None


class TooFewTrialsError(TunekitError, ValueError):
    """Too few usable (completed, finite-score) trials to narrow the space from.

    Attributes:
        coarse_trials: The coarse budget when a rerun with a larger one goes on with new
            trials (`tunekit.replacing.adopt_larger_budgets`); `None` when more trials
            cannot help (every configuration of the space tried) or it is unknown.
    """

    coarse_trials: int | None = None


class RetrainDivergedError(TunekitError, RuntimeError):
    """The final retrain's loss became NaN or infinite; no model was saved."""


class PredictionsNotFiniteError(TunekitError, ValueError):
    """A model tunekit tests predicts NaN or infinite values for test samples: no score is
    made. `about(what)`: the same refusal naming the model tested (`what`)."""

    def __init__(self, message: str, said: Callable[[str], str] | None = None) -> None:
        super().__init__(message)
        self._said = said

    def about(self, what: str) -> PredictionsNotFiniteError:
        """This refusal, said of `what` (e.g. "The baseline model (baseline_model.keras)")."""
        return PredictionsNotFiniteError(self._said(what), self._said) if self._said else self


# -- parallel and distributed tuning -------------------------------------------------


class PortInUseError(TunekitError, OSError):
    """The chief's port is already taken."""


class ChiefUnreachableError(TunekitError, RuntimeError):
    """The chief did not answer within the chief timeout."""


class WorkerRefusedError(TunekitError, ValueError):
    """The chief refused this worker (its settings differ).

    Attributes:
        chief_argv: The chief's command line, for the refusal to be said by the
            options typed (`tunekit.distribute.refusal`); `None` for a run from Python.
    """

    chief_argv: list[str] | None = None


class WorkerLostError(TunekitError, RuntimeError):
    """A worker holding a trial went silent for longer than the worker timeout."""


class WorkerCrashError(TunekitError, RuntimeError):
    """A local worker could not be kept running."""


class WorkerStoppedError(UsageError):
    """A local worker stopped on the run's own settings or input (exit 2): not restarted,
    since every process would stop the same way (e.g. an objective its fit never reports)."""


# -- signals -------------------------------------------------------------------------


class Interrupted(BaseException):
    """Raised by `tunekit.interrupts.check()` after SIGINT or SIGTERM.

    A `BaseException` (not a `TunekitError`): it passes every
    `except Exception` on its way to the top of the run. Completed trials
    are saved; rerun to resume.

    Attributes:
        signum: The signal received.
        exit_code: The conventional exit status, 128 + `signum` (130 for
            SIGINT, 143 for SIGTERM).
    """

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum
        self.exit_code = 128 + signum


# The line of a traceback that names the exception raised: `ValueError: ...`,
# `jax.errors.TracerBoolConversionError: ...`, a bare `KeyboardInterrupt`.
_RAISED = re.compile(r"^(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt)(?::.*)?$")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Keras wraps a layer's error: its first line says only where, the next one what.
_WRAPPED = "Exception encountered when calling"
# Lines of an error's message that say where, not what: TensorFlow's "Graph execution
# error:" lists the frames of the node that failed before the cause.
_WHERE = re.compile(r"^(?:\s|File |Detected at node|Traceback|\[\[)")
_NOTE = re.compile(r"^-{4,}$")  # notes below the error (JAX's "For simplicity, ...")
_CAUSE_CHARS = 120  # a cause line longer than this is cut to its first sentence


# Other libraries' messages quoted in tunekit's (`quoted`), the most recent first out.
_QUOTED: collections.deque[str] = collections.deque(maxlen=64)


def quoted(text: str) -> str:
    """`text`, another library's message (Keras's), marked as quoted in one of tunekit's:
    the command line leaves it as it is (`tunekit.cli_parser.cli_message` turns tunekit's
    keyword arguments into flags, and Keras's `target` is no `--target`)."""
    if text:
        _QUOTED.append(text)
    return text


def quoted_texts(message: str) -> list[str]:
    """The `quoted` texts found in `message`, longest first."""
    return sorted({text for text in _QUOTED if text in message}, key=len, reverse=True)


_E = TypeVar("_E", bound=TunekitError)


def said_as(
    error: _E,
    changes: Iterable[tuple[str, str, object, object]] = (),
    cli_words: Mapping[str, str] | None = None,
) -> _E:
    """`error` with its `changes` and `cli_words` (see `TunekitError`); returns it.

    Spans its message does not hold are left out: the command line changes only
    what the message says.
    """
    text = str(error)
    error.changes = tuple(c for c in changes if c[0] in text)
    error.cli_words = tuple((k, v) for k, v in (cli_words or {}).items() if k in text)
    return error


def error_line(error: BaseException) -> str:
    """`"TypeName: what went wrong"` of `error` (`raised_line` of its message: Keras's
    "Exception encountered when calling X.call()." gets the line that says what), marked
    as `quoted`."""
    said = str(error).strip()
    return raised_line(f"{type(error).__name__}: {said}" if said else type(error).__name__)


def raised_line(traceback_text: str) -> str:
    """The line of a traceback naming its exception (`"ValueError: ..."`), or `""` if empty.

    The last exception line: lines after it are notes, e.g. JAX's "For
    simplicity, JAX has removed its internal frames ..." below a line of
    dashes. Keras's "Exception encountered when calling X.call()." gets the
    next line, which says what went wrong. A line that ends in a colon
    (TensorFlow's "InvalidArgumentError: Graph execution error:") gets the last
    line below it that is not a frame ("Received a label value of 3 which is
    outside the valid range of [0, 3)."), cut to its first sentence when long.
    Without an exception line (a class named otherwise), the last line.

    Marked as `quoted` (the command line leaves it as it is).
    """
    return quoted(_raised_line(traceback_text))


def _raised_line(traceback_text: str) -> str:
    """`raised_line`, not marked as `quoted`."""
    lines = [_ANSI.sub("", line).rstrip() for line in (traceback_text or "").strip().splitlines()]
    for i in range(len(lines) - 1, -1, -1):
        if _RAISED.match(lines[i]):
            if _WRAPPED in lines[i]:
                rest = [line.strip() for line in lines[i + 1 :] if line.strip()]
                more = rest[0] if rest else ""
                # "Could not automatically infer the output shape ... Error encountered:":
                # the line below says what went wrong.
                while more.endswith(":") and len(rest) > 1:
                    rest = rest[1:]
                    more = rest[0]
                return f"{lines[i]} {more}".strip()
            if lines[i].endswith(":"):
                below = lines[i + 1 :]
                below = below[: next((j for j, x in enumerate(below) if _NOTE.match(x)), None)]
                causes = [line for line in below if line and not _WHERE.match(line)]
                return f"{lines[i]} {_first_sentence(causes[-1])}" if causes else lines[i]
            return lines[i]
    return lines[-1].strip() if lines else ""


def _first_sentence(line: str) -> str:
    """`line`, or its first sentence when it is longer than `_CAUSE_CHARS` (TensorFlow's
    "... valid range of [0, 3).  Label values: 2 2 3 ..." names every label of the batch)."""
    line = line.strip()
    if len(line) <= _CAUSE_CHARS:
        return line
    end = line.find(". ")
    return line[: end + 1] if 0 < end < _CAUSE_CHARS else f"{line[:_CAUSE_CHARS].rstrip()}..."
