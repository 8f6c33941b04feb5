"""Reads share a run's lock; a refusal says truly what the other process does.

Before, every read (`result()`, `get_best_models()`, ...) took the run's lock
exclusive: two processes reading the same finished run refused each other
thousands of times a second, each told that the other "is writing what
result() reads (a step of the run is running there)" while it only read, and
some refusals named no pid (the holder's record was truncated before it was
written). A read now takes the lock shared, a step exclusive; the record in
`.lock` says which, and a refused process waits for a new holder's record.

Also: `manifest.check_writable` created and removed a hidden folder in the run
folder, and another process's scan of `*/trial_*/trial.json` entered it as it
vanished (a raw `FileNotFoundError` from a read). The probe is a file now, and
every scan of a run folder skips an entry that vanishes while it is listed.
"""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from pathlib import Path

import pytest
from conftest import BAYES_BUDGET
from test_read_lock import another_process, build

from tunekit import CoarseToFine, RunConfigError, RunLockedError, RunNotFinishedError
from tunekit.manifest import check_writable
from tunekit.results import trials_dataframe
from tunekit.state_files import failed_trials, holds_results

# A process reading the run as `result()` reads it (the lock `CoarseToFine` takes for it).
READER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from tunekit.manifest import RunManifest

    RunManifest.open(Path(sys.argv[1]), {}, reading="result()")
    print("reading", flush=True)
    sys.stdin.readline()  # held until the test lets go
""")

# A step that takes the lock and writes its record a moment later (as a busy machine may),
# as tunekit wrote it before (`"<pid> <since>"`, after truncating the file).
SLOW_STEP = textwrap.dedent("""
    import fcntl, os, sys, time

    fd = os.open(sys.argv[1], os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    print("locked", flush=True)
    time.sleep(0.3)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()} {time.strftime('%Y-%m-%d %H:%M:%S')}\\n".encode())
    sys.stdin.readline()
""")


@pytest.fixture(scope="module")
def run(tmp_path_factory, digits28):
    """A `CoarseToFine` whose run folder is opened (manifest written), nobody holding it."""
    data = digits28.subset(num_train=200, num_val=100, num_test=100)
    directory = tmp_path_factory.mktemp("shared")
    run = CoarseToFine(build, data, directory=directory, project_name="r", **BAYES_BUDGET)
    run.open()
    return run


def test_two_processes_reading_a_run_at_once_both_read_and_a_step_is_told_they_read(run):
    with (
        another_process(READER, run.run_dir, "reading"),
        another_process(READER, run.run_dir, "reading") as second,
    ):
        # A read here too runs beside them (refused only as unfinished, as nobody held it).
        with pytest.raises(RunNotFinishedError, match="has not finished"):
            run.result()
        with pytest.raises(RunLockedError) as info:
            run.open()  # a step's open: exclusive
    message = str(info.value)
    assert f"Another process (pid {second.pid}, since " in message, message  # the latest
    assert f"is reading the run in {run.run_dir} right now" in message, message
    assert "open of the run was refused, nothing was changed" in message, message
    assert "writing" not in message and "step of the run runs there" not in message, message
    run.open()  # nobody holds it now


def test_select_refused_beside_a_read_is_told_so(run):
    with another_process(READER, run.run_dir, "reading") as reader:
        with pytest.raises(RunLockedError) as info:
            run.select()  # may run the searches: opens the run as a step does
    message = str(info.value)
    assert f"(pid {reader.pid}, since " in message and "is reading the run" in message, message
    assert "select() was refused, nothing was changed: call it again" in message, message
    assert "An object whose `manifest`" not in message, message


def test_a_read_beside_a_step_is_told_a_step_runs_there_with_its_pid(run):
    run.open()  # this process's record (its own pid) is the last in .lock
    with another_process(SLOW_STEP, run.run_dir / ".lock", "locked") as step:
        with pytest.raises(RunLockedError) as info:
            run.result()
    message = str(info.value)
    assert f"Another process (pid {step.pid}, since " in message, message
    assert "Nothing was read: that process may be writing what result() reads" in message
    assert "is reading" not in message, message


def test_the_writability_probe_creates_no_folder(tmp_path, monkeypatch):
    """A folder another process's scan could enter as it vanishes: none is made."""
    import tempfile

    def no_folder(*args, **kwargs):
        raise AssertionError("check_writable created a folder")

    monkeypatch.setattr(tempfile, "mkdtemp", no_folder)
    monkeypatch.setattr(os, "mkdir", no_folder)
    check_writable(tmp_path / "run")
    check_writable(tmp_path)
    assert list(tmp_path.iterdir()) == []


def _trial(folder: Path, status: str) -> None:
    folder.mkdir(parents=True)
    (folder / "trial.json").write_text(
        json.dumps(
            {
                "trial_id": folder.name,
                "status": status,
                "hyperparameters": {"space": [], "values": {}},
            }
        )
    )


@pytest.fixture
def vanishing(tmp_path, monkeypatch):
    """A run folder whose `gone` entries are removed just after their folder is listed.

    `gone/` (a folder such as the old writability probe, with a trial inside)
    and `coarse/trial_gone/` vanish between the listing of their parent and
    the look inside them, every time, as another process would remove them.
    """
    run_dir = tmp_path / "run"
    _trial(run_dir / "coarse" / "trial_0", "FAILED")
    real = os.scandir

    class Listed:
        def __init__(self, entries):
            self.entries = entries

        def __enter__(self):
            return iter(self.entries)

        def __exit__(self, *exc):
            return False

        def __iter__(self):
            return iter(self.entries)

        def close(self):
            pass

    def scandir(path="."):
        if not isinstance(path, (str, os.PathLike)):  # by file descriptor: rmtree's own
            return real(path)
        if Path(path) == run_dir:
            _trial(run_dir / "gone" / "trial_0", "FAILED")
        if Path(path) == run_dir / "coarse":
            _trial(run_dir / "coarse" / "trial_gone", "FAILED")
        with real(path) as it:
            entries = list(it)
        for entry in entries:
            entry.is_dir()  # cached, as a listing caches it
            if "gone" in entry.name:
                shutil.rmtree(entry.path)
        return Listed(entries)

    monkeypatch.setattr(os, "scandir", scandir)
    return run_dir


def test_a_scan_skips_entries_that_vanish_while_listed(vanishing):
    assert failed_trials(vanishing) == 1
    assert holds_results(vanishing, {"steps": {}}) is False
    frame = trials_dataframe(vanishing)
    assert frame["trial_id"].tolist() == ["trial_0"], frame


def test_a_read_of_a_folder_it_cannot_write_reads(tmp_path, monkeypatch):
    """Before: `result()` of a finished run on a read-only mount raised a raw
    `OSError: [Errno 30] Read-only file system: '.../.lock'` (`tunekit show` read it)."""
    import errno

    from tunekit import manifest as manifest_module
    from tunekit.manifest import RunManifest

    RunManifest.open(tmp_path / "r", {"seed": 0}).release()  # a step made it, writable
    real_open = os.open

    def read_only(path, flags, *args):
        if flags & (os.O_RDWR | os.O_WRONLY | os.O_CREAT):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(manifest_module.os, "open", read_only)
    before = (tmp_path / "r" / ".lock").read_bytes()
    reading = RunManifest.open(tmp_path / "r", {"seed": 0}, reading="result()")
    assert reading.state["config"] == {"seed": 0}
    reading.release()
    assert (tmp_path / "r" / ".lock").read_bytes() == before  # nothing written
    with pytest.raises(RunConfigError, match="Read-only file system"):  # a step writes
        RunManifest.open(tmp_path / "r", {"seed": 0})
