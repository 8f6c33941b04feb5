"""Reliable Ctrl-C and SIGTERM for the command line.

Python's default SIGINT handler raises `KeyboardInterrupt` wherever the main
thread happens to be. When that is a finaliser or a C callback (JAX's
`_xla_gc_callback`, a `WeakKeyDictionary` callback...), Python prints
"Exception ignored in ..." and the run goes on as if nothing happened.

The command line therefore installs `handle_signals()`: the handler only
records the signal. The workflow calls `check()` at safe points (every
training batch and epoch, through `tunekit.tuners.InterruptCheck` in every
trial and the final retrain; before and after each trial; at step
boundaries; while a backend probe or the chief's serving loop waits)
and `check()` raises `Interrupted` there, where every `finally` and lock
release runs normally. A second signal while the first is pending exits at
once (`os._exit`, code 128 + signal number): KerasTuner's state files are
written atomically, so the run still resumes.

This module imports no Keras. Nothing is installed on import: in a notebook or
a script using the Python API, Ctrl-C keeps Python's default behaviour
(`KeyboardInterrupt`), and `check()` is a no-op.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from tunekit.errors import Interrupted

__all__ = ["Interrupted", "check", "handle_signals", "pending"]

SIGNALS = (signal.SIGINT, signal.SIGTERM)

_pending: int | None = None  # the signal number recorded by the handler
_resume_note = b""  # written after "exiting now" (see handle_signals)


def _handler(signum: int, frame: FrameType | None) -> None:
    global _pending
    if _pending is not None:  # a second signal: the user insists
        os.write(2, f"\n{signal.Signals(signum).name} again: exiting now.\n".encode())
        os.write(2, _resume_note)
        os._exit(128 + signum)
    if _orphaned():  # a local worker whose chief died: nothing to save, leave at once
        os.write(2, b"\nThe chief that started this worker is gone: exiting now.\n")
        os._exit(128 + signum)
    _pending = signum


def _orphaned() -> bool:
    """Whether this is a local worker whose chief has died.

    `tunekit.cluster.apply_process_limits` asks Linux for a SIGTERM then.
    """
    parent = os.environ.get("TUNEKIT_PARENT_PID")
    return parent is not None and parent.isdigit() and os.getppid() != int(parent)


def pending() -> int | None:
    """The signal number waiting to be acted on, or `None`."""
    return _pending


def check() -> None:
    """Raises `Interrupted` if a signal was recorded since `handle_signals()` began.

    Raises:
        Interrupted: With the recorded signal.
    """
    if _pending is not None:
        raise Interrupted(_pending)


@contextmanager
def handle_signals(resume: str | None = None) -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM are recorded for `check()` to raise.

    The previous handlers are restored on exit. Outside the main thread (where
    Python cannot install handlers) this does nothing.

    Args:
        resume: The command that resumes the run, printed (to stderr) also when a
            second signal exits at once. Defaults to None: not printed.
    """
    global _pending, _resume_note
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _handler) for s in SIGNALS}
    _pending = None
    note = "" if resume is None else f"Completed trials are saved. Resume with:\n  {resume}\n"
    _resume_note = note.encode()
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _pending = None
        _resume_note = b""
