"""A run folder's lock: who holds it, how, and what a process it keeps out is told.

`tunekit.manifest` takes the lock, `<run>/.lock` (an `flock` the operating
system releases when its holder dies), in one of two kinds:

- a step, `run()` or a `manifest` opened by hand takes it EXCLUSIVE: nobody
  else, reader or step, holds it meanwhile;
- a read of a finished run (`result()`, `get_best_hyperparameters()`,
  `get_best_models()`) takes it SHARED: reads run beside each other, and a
  step waits for them (it is refused while one reads).

Each holder writes `"<kind> <pid> <since>"` at the start of `.lock` (one
fixed-width record, written in place: a process it keeps out never reads a
half-written or empty one), so a refusal names the process and says truly
whether it runs a step or reads. Several reads at once share the record: it
names the latest to start. What kind of holder keeps a process out is asked
of the lock itself (a shared probe fails only beside an exclusive holder);
the record only names it. A read asks about the lock before it reads
anything: a run another process works on is not "unfinished" (its manifest
says a step is running because that process is running it), and what it has
written so far is not yet a result. So every read of `CoarseToFine` calls
`check_unlocked` first, and `tunekit ls` / `show` / `compare` ask `holder`
(which takes nothing and creates nothing).
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import Any

from tunekit.errors import RunLockedError

__all__ = [
    "HELD",
    "LOCK",
    "READ",
    "STEP",
    "check_unlocked",
    "holder",
    "holder_kind",
    "locked_error",
    "take",
    "who_holds",
    "write_record",
]

LOCK = ".lock"
STEP, READ = "step", "read"  # an exclusive holder, a shared one
HELD: dict[Path, Any] = {}  # runs this process holds (`RunManifest`s by resolved folder)
_WIDTH = 120  # the record's bytes: written whole, over any shorter or older one
_RECORD_WAIT = 1.0  # seconds a refused process waits for a new holder to write its record


def write_record(fd: int, kind: str) -> None:
    """Writes this process's record, `"<kind> <pid> <since>"`, in the lock file `fd`.

    One `pwrite` of a fixed width, with no truncation first: a process reading
    the record meanwhile sees the previous one or this one, never none.
    """
    text = f"{kind} {os.getpid()} {time.strftime('%Y-%m-%d %H:%M:%S')}"
    os.pwrite(fd, text.ljust(_WIDTH - 1).encode()[: _WIDTH - 1] + b"\n", 0)


def _parse(fd: int) -> tuple[str, str, str] | None:
    """`(kind, pid, since)` from the lock file `fd`; the kind is `""` in a record
    written before kinds were (`"<pid> <since>"`); `None` if it holds none."""
    words = os.pread(fd, _WIDTH, 0).decode(errors="replace").split()
    if len(words) >= 3 and words[0] in (STEP, READ) and words[1].isdigit():
        return words[0], words[1], " ".join(words[2:])
    if len(words) >= 2 and words[0].isdigit():
        return "", words[0], " ".join(words[1:])
    return None


def who_holds(fd: int, kind: str) -> str:
    """`" (pid N, since T)"`: the holder of kind `kind` (`STEP`/`READ`) the lock file `fd` names.

    A holder writes its record just after it takes the lock, so a record of
    another kind, or of this process (a hold this process released), is the
    previous holder's: it is read again for up to a second. If no record of a
    live holder of that kind comes, says so rather than name another process.
    """
    deadline = time.monotonic() + _RECORD_WAIT
    while True:
        record = _parse(fd)
        if record is not None and record[1] != str(os.getpid()) and record[0] in (kind, ""):
            return f" (pid {record[1]}, since {record[2]})"
        if time.monotonic() >= deadline:
            return f" (its pid is not in {LOCK}: it did not write its record)"
        time.sleep(0.01)


def holder_kind(fd: int) -> str | None:
    """Who holds the lock file `fd` (this process holding nothing on it): `STEP`
    (an exclusive holder), `READ` (shared holders only), or `None` (nobody).

    Probes with non-blocking `flock`s on `fd`, released at once.
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return STEP
        fcntl.flock(fd, fcntl.LOCK_UN)
        return READ
    fcntl.flock(fd, fcntl.LOCK_UN)
    return None


def take(
    fd: int, kind: str, run_dir: Path, reading: str | None = None, *, record: bool = True
) -> None:
    """Takes the lock file `fd` of the run in `run_dir` as a `kind` (`STEP`/`READ`) holder.

    Non-blocking: exclusive for a step, shared for a read; then writes this
    process's record (`write_record`), unless `record` is False (a read of a
    folder this process cannot write: `fd` is open read-only).

    Raises:
        RunLockedError: Another process holds it in a way that keeps this one
            out (a read only beside a step); the message names it and says
            whether it reads or runs a step (`locked_error`).
    """
    for _ in range(10):  # a holder that lets go between the two probes: try again
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if kind == STEP else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            held_by = STEP if kind == READ else holder_kind(fd)  # reads keep out only steps
            if held_by is not None:
                raise locked_error(run_dir, who_holds(fd, held_by), reading, held_by) from None
        else:
            if record:
                write_record(fd, kind)
            return
    raise locked_error(run_dir, who_holds(fd, STEP), reading, STEP)


def holder(run_dir: str | os.PathLike) -> str | None:
    """Whether a live process runs a step of the run in `run_dir` (holds it exclusive), and who.

    Probes with a shared, non-blocking `flock`, released at once; creates and
    writes nothing (a folder without the lock file is held by nobody). Reads
    (shared holders) are not counted: they change nothing in the run.

    Returns:
        `None` if no process holds it exclusive; else who does,
        `" (pid N, since T)"`.
    """
    try:
        fd = os.open(Path(run_dir) / LOCK, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return who_holds(fd, STEP)
    except OSError:
        return None
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def locked_error(
    run_dir: Path, who: str, reading: str | None = None, held_by: str = STEP
) -> RunLockedError:
    """The `RunLockedError` for the run in `run_dir`, held by `who` (see `who_holds`).

    Args:
        run_dir: The run folder.
        who: `" (pid N, since T)"`.
        reading: The read refused (e.g. `"result()"`), or `None` for a step
            or an open.
        held_by: What the holder does: `STEP` (it holds the lock exclusive:
            a step, `run()` or a `manifest` opened by hand) or `READ` (it
            reads the run, holding the lock shared).
    """
    lock = run_dir / LOCK
    if held_by == READ:
        refused = reading or "A step, run() or an open of the run"
        return RunLockedError(
            f"Another process{who} is reading the run in {run_dir} right now (result(), "
            "get_best_hyperparameters() or get_best_models(); when several read at once, "
            f"the latest to start is named): it holds {lock} shared, which lets other "
            "reads run beside it but no step, as a step would change what it reads (the "
            f"operating system releases it if that process dies). {refused} was refused, "
            "nothing was changed: call it again once that read ends (a read of a finished "
            "run takes seconds), or stop that process."
        )
    held = (
        f"Another process{who} is working on the run in {run_dir} right now: it holds "
        f"{lock} exclusive, which tunekit takes only while a step or run() of the run is "
        "under way, or its `manifest` is opened by hand (the operating system releases it "
        "if that process dies)."
    )
    if reading is None:
        return RunLockedError(
            f"{held} Wait for it to finish, or stop that process. An object whose "
            "`manifest` you opened yourself keeps it until its close()."
        )
    return RunLockedError(
        f"{held} Nothing was read: that process may be writing what {reading} reads (a "
        f"step of the run runs there, or the run is open there). {reading} reads it once "
        f"that process ends: call it again then (tunekit ls {run_dir.parent} says "
        "'running: <step>' until then), or stop that process."
    )


def check_unlocked(run_dir: Path, reading: str) -> None:
    """Raises `RunLockedError` if another process runs a step of the run in `run_dir`.

    A hold of this process (another object on the same folder) is no refusal:
    the newest opener in a process takes the run over, as before. Another
    process reading the run is none either: reads run beside each other.

    Args:
        run_dir: The run folder.
        reading: The read being made, for the message, e.g. `"result()"`.

    Raises:
        RunLockedError: Another live process holds the run's lock exclusive;
            the message names its pid and since when, and says to call
            `reading` again once that process ends.
    """
    if Path(run_dir).resolve() in HELD:
        return
    who = holder(run_dir)
    if who is not None:
        raise locked_error(Path(run_dir), who, reading)
