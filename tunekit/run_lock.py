"""A run folder's lock: who holds it, and what a process it keeps out is told.

`tunekit.manifest` takes the lock, `<run>/.lock`, while a step, `run()` or a
read of the run works (an `flock` the operating system releases when its
holder dies) and writes `"<pid> <since>"` in it. A read must ask about the
lock before it reads anything: a run another process is working on is not
"unfinished" (its manifest says a step is running because that process is
running it), and what it has written so far is not yet a result. So every
read of `CoarseToFine` calls `check_unlocked` first, and `tunekit ls` /
`show` / `compare` ask `holder` (which takes nothing and creates nothing).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

from tunekit.errors import RunLockedError

__all__ = ["HELD", "LOCK", "check_unlocked", "holder", "locked_error", "who_holds"]

LOCK = ".lock"
HELD: dict[Path, Any] = {}  # runs this process holds (`RunManifest`s by resolved folder)


def who_holds(fd: int) -> str:
    """`" (pid N, since T)"` from the open lock file `fd`, or `""` if it does not say.

    The holder wrote `"<pid> <since>"`; this process's own pid there is a stale
    record (left by a hold this process released), not the holder.
    """
    record = os.pread(fd, 200, 0).decode(errors="replace").split(maxsplit=1)
    if len(record) != 2 or record[0] == str(os.getpid()):
        return ""
    return f" (pid {record[0]}, since {record[1].strip()})"


def holder(run_dir: str | os.PathLike) -> str | None:
    """Whether a live process holds the lock of the run in `run_dir`, and who.

    Probes with a shared, non-blocking `flock`, released at once; creates and
    writes nothing (a folder without the lock file is held by nobody).

    Returns:
        `None` if nobody holds it; else who does, `" (pid N, since T)"`, or
        `""` when the lock file does not say.
    """
    try:
        fd = os.open(Path(run_dir) / LOCK, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return who_holds(fd)
    except OSError:
        return None
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def locked_error(run_dir: Path, who: str, reading: str | None = None) -> RunLockedError:
    """The `RunLockedError` for the run in `run_dir`, held by `who` (see `holder`).

    `reading` names the read refused (e.g. `"result()"`), or is `None` for a
    step or an open.
    """
    held = (
        f"Another process{who} is working on the run in {run_dir} right now: it holds "
        f"{run_dir / LOCK}, which tunekit takes only while a step, run() or a read of the "
        "run is under way (the operating system releases it if that process dies)."
    )
    if reading is None:
        return RunLockedError(
            f"{held} Wait for it to finish, or stop that process. An object whose "
            "`manifest` you opened yourself keeps it until its close()."
        )
    return RunLockedError(
        f"{held} Nothing was read: that process is writing what {reading} reads (a step "
        f"of the run is running there). {reading} reads it once that process ends: call it "
        f"again then (tunekit ls {run_dir.parent} says 'running: <step>' until then), or "
        "stop that process."
    )


def check_unlocked(run_dir: Path, reading: str) -> None:
    """Raises `RunLockedError` if another process holds the run in `run_dir`.

    A hold of this process (another object on the same folder) is no refusal:
    the newest opener in a process takes the run over, as before.

    Args:
        run_dir: The run folder.
        reading: The read being made, for the message, e.g. `"result()"`.

    Raises:
        RunLockedError: Another live process holds the run's lock; the message
            names its pid and since when, and says to call `reading` again once
            that process ends.
    """
    if Path(run_dir).resolve() in HELD:
        return
    who = holder(run_dir)
    if who is not None:
        raise locked_error(Path(run_dir), who, reading)
