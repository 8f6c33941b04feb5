"""A trial stopped by the machine, not by its configuration: the search stops, the trial reruns.

KerasTuner counts any `Exception` a trial raises as that trial's failure: the
trial is saved FAILED, is never run again, and the search goes on without it.
A full disk while KerasTuner writes the trial's checkpoint (h5py's
`OSError: [Errno 28] Can't synchronously write data`), a file system gone
read-only or failing, or a process out of file handles fails the trial for a
reason none of its values hold: a probe's run went on, its finalists and
test score changed with the moment the disk filled, exit 0.

So an `OSError` of such an `errno` (`MACHINE_ERRNOS`, found along the error's
causes) stops the search with `TrialMachineError`, a KerasTuner `FatalError`
that leaves the trial unfinished (ongoing, as a Ctrl-C does), so that the
rerun of the same command, once the machine is fixed, runs it again. An
`OSError` of another kind (a file the hypermodel names that does not exist, a
permission of the user's own code) stays the trial's failure, as in
KerasTuner.
"""

from __future__ import annotations

import errno

from keras_tuner import errors as kt_errors

from tunekit.errors import TunekitError

__all__ = ["MACHINE_ERRNOS", "TrialMachineError", "machine_cause", "machine_stop"]

#: The `errno`s of the machine's faults: a full disk or quota, a read-only or failing
#: file system, no file handle left.
MACHINE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EMFILE, errno.ENFILE}
)


class TrialMachineError(TunekitError, kt_errors.FatalError):
    """A trial stopped by the machine (a full disk, a read-only or failing file system,
    no file handle left): the search stops with the trial unfinished, and rerunning the
    same command once the machine is fixed runs it again. A KerasTuner `FatalError`."""


def machine_cause(error: BaseException) -> OSError | None:
    """The `OSError` of a `MACHINE_ERRNOS` errno among `error` and its causes, or `None`.

    Args:
        error: What a trial raised.

    Returns:
        The first such `OSError` along `__cause__` / `__context__`, else `None`.
    """
    seen: set[int] = set()
    found: BaseException | None = error
    while found is not None and id(found) not in seen:
        seen.add(id(found))
        if isinstance(found, OSError) and found.errno in MACHINE_ERRNOS:
            return found
        found = found.__cause__ or found.__context__
    return None


def machine_stop(error: BaseException, trial_named: str) -> TrialMachineError | None:
    """The `TrialMachineError` to raise for `error`, a trial's, or `None` if the machine
    did not cause it. `trial_named`: the trial as messages name it (`tunekit.trial_names`)."""
    cause = machine_cause(error)
    if cause is None:
        return None
    where = f" ({cause.filename})" if cause.filename else ""
    return TrialMachineError(
        f"{trial_named} stopped on the machine, not on its values: {type(cause).__name__}: "
        f"{cause}{where}. The trial is not counted as failed: it is left unfinished and runs "
        "again when the same command is rerun. Free disk space, or make the run folder "
        "writable (or the file system sound), then rerun the same command; every completed "
        "trial is kept."
    )
