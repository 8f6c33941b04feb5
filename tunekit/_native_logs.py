"""Quieter TensorFlow, XLA and gRPC start-up logs for the command line.

Importing TensorFlow prints native (C++) log lines on every run: oneDNN's
notice, "Could not find cuda drivers", "failed call to cuInit" and absl's
"All log messages before absl::InitializeLog() ..." banner. The thresholds
are environment variables read when the libraries load, so
`quiet_environment()` sets them with `setdefault` (a user's own value wins,
e.g. `TF_CPP_MIN_LOG_LEVEL=0` brings everything back), before Keras loads; the
CLI's subprocesses (workers, backend probes) inherit them.

Some lines are written before TensorFlow applies its threshold (absl prints
everything until it is initialised). `filtered_stderr()` wraps the import of
Keras: it captures file descriptor 2 and writes back every line except native
log lines below `TF_CPP_MIN_LOG_LEVEL` (I=0, W=1, E=2, F=3), the threshold
TensorFlow applies once its logging has started.

This module imports no Keras.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager

__all__ = ["filtered_stderr", "is_noise", "quiet_environment"]

DEFAULTS = {
    "TF_CPP_MIN_LOG_LEVEL": "3",  # TensorFlow and XLA C++ logs: errors are raised in Python
    "GRPC_VERBOSITY": "ERROR",  # gRPC's C core (the distributed oracle)
    "GLOG_minloglevel": "2",  # glog-based libraries
}
_BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
# absl / glog format: I0000 00:00:1796034242.287161    4896 port.cc:153] message
_NATIVE = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w./-]+:\d+\] ")
_LEVELS = "IWEF"


def quiet_environment(environ: MutableMapping[str, str] = os.environ) -> None:
    """Sets the log thresholds of TensorFlow, XLA and gRPC, unless already set."""
    for name, value in DEFAULTS.items():
        environ.setdefault(name, value)


def _min_level() -> int:
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


def is_noise(line: str, min_level: int | None = None) -> bool:
    """Whether `line` is a native log line below the threshold (or absl's banner)."""
    min_level = _min_level() if min_level is None else min_level
    if min_level <= 0:
        return False
    if line.rstrip("\n") == _BANNER:
        return True
    match = _NATIVE.match(line)
    return match is not None and _LEVELS.index(match.group(1)) < min_level


@contextmanager
def filtered_stderr() -> Iterator[None]:
    """Within the block, native log lines below the threshold are dropped from stderr.

    Everything else written to file descriptor 2 (Python warnings and
    tracebacks included) is written back, in order, when the block ends.
    """
    if _min_level() <= 0:
        yield
        return
    try:
        if sys.stderr is not None:  # None: the stream was closed at start
            sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable stderr
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            try:
                if sys.stderr is not None:
                    sys.stderr.flush()
            except (OSError, ValueError):
                pass
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode(errors="replace")
            kept = [line for line in text.splitlines(keepends=True) if not is_noise(line)]
            if kept and sys.stderr is not None:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()
