"""Where tunekit's progress lines go: the `tunekit` logger, and who shows it.

tunekit reports progress at INFO level to `logging.getLogger("tunekit")` and
its children (`tunekit.workflow`, `tunekit.backends`, `tunekit.chief`,
`tunekit.supervisor`, `tunekit.worker`, ...). The package itself adds only a
`NullHandler` (the convention for libraries); three callers make lines visible:

- `CoarseToFine(verbose=0)` calls `show_warnings()`: warnings only, on stderr.
- `CoarseToFine(verbose=1)` calls `show_progress()`: unless the `tunekit`
  logger already has a handler, it gets one that prints each message as a
  plain line on `sys.stdout`, and its level becomes INFO unless one was set.
  So a notebook shows progress by default, and
  `logging.getLogger("tunekit").setLevel(logging.WARNING)` silences it.
- The command line runs inside `cli_output(quiet=...)`: the same plain lines,
  INFO on stdout and warnings on stderr, as `print` wrote them before;
  `--quiet` keeps only warnings.

A reader that leaves early (`tunekit run ... | head -3`) closes the pipe; inside
`output_kept_safe()` (every command-line entry point) a write to the closed
stdout or stderr is dropped instead of raising `BrokenPipeError` (which
printed a "--- Logging error ---" block per progress line, and a traceback at
the end): the run goes on to its end and its files, the command's exit code
is its own.

A stream the shell closed (`tunekit run ... 2>&-`, `>&-`) starts Python with
`sys.stderr` / `sys.stdout` set to `None`; `open_closed_streams()` (the first
step of every command-line entry point, and of `output_kept_safe()`) opens
`os.devnull` on that file descriptor and makes it the stream: output to it is
dropped, native (TensorFlow) logs and subprocesses find a valid descriptor,
and the run goes on to its end with its own exit code.

This module imports nothing from tunekit, Keras or KerasTuner.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO, cast

LOGGER = "tunekit"


def count(n: object, noun: str, *, plural: str | None = None) -> str:
    """`n` and `noun`, plural unless `n` is 1: `count(1, "epoch")` -> "1 epoch".

    The plural is `noun + "s"` unless given (`plural="classes"`).
    """
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def listed(
    items: Sequence[Any],
    limit: int,
    *,
    form: Callable[[Any], str] = str,
    sep: str = ", ",
    last: bool = False,
    total: str | None = None,
    more: bool = False,
) -> str:
    """`items` for a message, shortened only when that leaves at least one out.

    All of them when they are at most `limit` (`limit + 1` with `last`: the first
    `limit` and the last would be all of them); else the first `limit`, then `...`
    (`last`: and the last item; `total`: and the count, `" (9 values)"` for
    `total="values"`), or with `more` `" and 3 more"`. Before, messages printed
    "1, 2, 3, 4, 5, 6, ..., 7 (7 values)": a `...` that hid nothing.

    `form` turns each shown item into text (`repr`, `"{:g}".format`): only those.
    `listed(range(1, 8), 6, last=True, total="values")` -> `"1, 2, 3, 4, 5, 6, 7"`;
    `listed(range(1, 10), 6, last=True, total="values")` ->
    `"1, 2, 3, 4, 5, 6, ..., 9 (9 values)"`; `listed("abcd", 2, more=True)` ->
    `"a, b and 2 more"`.
    """
    if len(items) <= limit + (1 if last else 0):
        return sep.join(form(item) for item in items)
    shown = sep.join(form(item) for item in items[:limit])
    if more:
        return f"{shown} and {len(items) - limit} more"
    shown += f"{sep}..." + (f"{sep}{form(items[-1])}" if last else "")
    return shown + (f" ({len(items)} {total})" if total else "")


class PrintHandler(logging.Handler):
    """Writes each record's message as one plain line, like `print`.

    The stream is looked up at each record (`sys.stdout`, or `sys.stderr` for
    records at `stderr_from` or above), so a notebook's or a test's captured
    output receives it.

    Args:
        stderr_from: Records at this level or above go to `sys.stderr`;
            `None` (default) sends every record to `sys.stdout`.
    """

    def __init__(self, *, stderr_from: int | None = None) -> None:
        super().__init__()
        self.stderr_from = stderr_from
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            to_stderr = self.stderr_from is not None and record.levelno >= self.stderr_from
            stream = sys.stderr if to_stderr else sys.stdout
            if stream is None:  # no such stream (closed at start, or pythonw): dropped
                return
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:  # noqa: BLE001 (logging's convention: report, never raise)
            self.handleError(record)


def show_progress() -> None:
    """Makes tunekit's INFO lines visible unless the user configured the logger.

    Adds a `PrintHandler` (stdout) to the `tunekit` logger if it has no
    handler besides a `NullHandler`, and sets its level to INFO if it has
    none. A level the user set (e.g. WARNING) is left as it is.
    """
    logger = logging.getLogger(LOGGER)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    for handler in logger.handlers:  # one show_warnings added: now for every line
        if isinstance(handler, PrintHandler) and handler.level == logging.WARNING:
            handler.setLevel(logging.NOTSET)
    if all(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(PrintHandler())


def show_warnings() -> None:
    """Makes tunekit's warnings visible on `sys.stderr`, and nothing else, unless the
    user configured the logger (`CoarseToFine(verbose=0)`: no progress, but a warning
    about the run, e.g. an objective measured on the training data, still shows).

    Adds a `PrintHandler` at WARNING level if the `tunekit` logger has no handler
    besides a `NullHandler`; a later `show_progress()` opens it to every line.
    """
    logger = logging.getLogger(LOGGER)
    if all(isinstance(h, logging.NullHandler) for h in logger.handlers):
        handler = PrintHandler(stderr_from=logging.WARNING)
        handler.setLevel(logging.WARNING)
        logger.addHandler(handler)


class KerasRetracingFilter(logging.Filter):
    """Drops TensorFlow's retracing warning about Keras's own train/test/predict steps.

    TensorFlow warns "5 out of the last 5 calls to <function
    TensorFlowTrainer._make_function.<locals>.multi_step_on_iterator ...>
    triggered tf.function retracing" when several models are trained in one
    process: every trial builds a new model, whose step functions are new
    and traced once each. That is expected and its cost is in each trial's
    `first_step` time (report.json's `time_split`). The warning about any
    other function (e.g. a user's own `tf.function` given changing shapes)
    still shows.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        keras_step = "<function TensorFlowTrainer." in message  # e.g. ._make_function.<locals>
        return not (keras_step and "triggered tf.function retracing" in message)


_RETRACING_FILTER = KerasRetracingFilter()


def hide_keras_retracing() -> None:
    """Adds `KerasRetracingFilter` to the `tensorflow` logger (once per process)."""
    logger = logging.getLogger("tensorflow")
    if _RETRACING_FILTER not in logger.filters:
        logger.addFilter(_RETRACING_FILTER)


@contextmanager
def cli_output(*, quiet: bool) -> Iterator[None]:
    """The command line's output while it runs: today's plain lines.

    INFO lines on stdout, warnings and errors on stderr; `quiet` keeps only
    the warnings and errors. A `PrintHandler` that `show_progress()` added
    earlier in this process is set aside meanwhile (no line twice); the
    logger's handlers and level are restored on exit.
    """
    logger = logging.getLogger(LOGGER)
    level, set_aside = logger.level, [h for h in logger.handlers if isinstance(h, PrintHandler)]
    for handler in set_aside:
        logger.removeHandler(handler)
    handler = PrintHandler(stderr_from=logging.WARNING)
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        for old in set_aside:
            logger.addHandler(old)
        logger.setLevel(level)


class _ClosedPipeSafe:
    """A text stream whose writes, once its reader has left, are dropped.

    The first `BrokenPipeError` (or other `EPIPE`) points the stream's file
    descriptor at `os.devnull` (Python's documented recipe, signal module,
    "Note on SIGPIPE"): its buffered text and every later write go nowhere,
    and the flush at exit raises nothing. Everything else is the stream's.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.reader_left = False

    def _left(self) -> None:
        self.reader_left = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):  # no file descriptor (e.g. an io.StringIO)
            pass

    def write(self, text: str) -> int:
        if not self.reader_left:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._left()
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if not self.reader_left:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._left()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _is_closed(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return True
    return False


def open_closed_streams() -> None:
    """Standard output and error that the shell closed (`>&-`, `2>&-`) point at `os.devnull`.

    For the command line's entry points, first thing: Python starts with
    `sys.stdout` / `sys.stderr` `None` when file descriptor 1 / 2 is closed,
    and every `print`, flush or `isatty` on it failed the command (exit 1,
    nothing saved). A closed descriptor 1 or 2 gets `os.devnull` opened onto
    it (so native logs, `os.dup(2)` and subprocesses find a valid one, and no
    file opened later takes its number); a `None` stream becomes a text
    stream on it. Streams and descriptors that are open are left as they
    are. Idempotent.
    """
    for fd, name in ((1, "stdout"), (2, "stderr")):
        stream: TextIO | None = getattr(sys, name)
        if _is_closed(fd):
            devnull = os.open(os.devnull, os.O_WRONLY)
            if devnull != fd:
                os.dup2(devnull, fd)
                os.close(devnull)
            if stream is None:
                stream = open(fd, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        elif stream is None:  # the descriptor is some other file now: not written to
            stream = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
        setattr(sys, name, stream)
        if getattr(sys, f"__{name}__") is None:
            setattr(sys, f"__{name}__", stream)


@contextmanager
def output_kept_safe() -> Iterator[_ClosedPipeSafe]:
    """`sys.stdout` and `sys.stderr` drop their writes once their reader has left.

    For the command line's entry points: `tunekit run ... | head` must not
    fail the run (or print a traceback) when `head` exits; its output is then
    dropped silently and the run goes on to the end (its results are in the
    run folder). Yields the stdout wrapper: its `reader_left` says whether
    stdout's reader left (`tunekit show | head` exits 1 then, as Python does).
    Nested uses wrap once. The streams are restored on exit. A stream the
    shell closed is opened on `os.devnull` first (`open_closed_streams()`).
    """
    open_closed_streams()
    old_out, old_err = sys.stdout, sys.stderr
    out = old_out if isinstance(old_out, _ClosedPipeSafe) else _ClosedPipeSafe(old_out)
    sys.stdout = cast(TextIO, out)
    if not isinstance(old_err, _ClosedPipeSafe):
        sys.stderr = cast(TextIO, _ClosedPipeSafe(old_err))
    try:
        yield out
    finally:
        sys.stdout, sys.stderr = old_out, old_err
