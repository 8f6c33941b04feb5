"""A read of a run another process is working on says so: `RunLockedError`, naming it.

Before, a read made while another process ran a step of the same run
(`result()`, `get_best_hyperparameters()`, `get_best_models()`) said "has not
finished: call run()" (`RunNotFinishedError`): the manifest's "not done" was
checked before the lock, so the user was told to start the run that another
process was running. `tunekit show` printed what it found as if nobody were
working on it. Every read entry point now asks first whether another process
holds the run's lock; a read while nobody holds it is as before.

The other process is simulated cheaply: a subprocess takes the lock as a step
of tunekit takes it (`RunManifest._lock`: an `flock` and `"<pid> <since>"` in
`.lock`) and marks the coarse step running, on a run folder opened but never
searched (no whole run).
"""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import keras
import pandas as pd
import pytest
from conftest import BAYES_BUDGET

from tunekit import CoarseToFine, RunLockedError, RunNotFinishedError
from tunekit.cli_main import main

HOLDER = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from tunekit.manifest import RunManifest

    manifest = RunManifest(Path(sys.argv[1]), {})
    manifest._lock()  # as a step of a live tunekit process takes it
    if manifest.path.is_file():  # and, as its coarse search does, marks the step running
        manifest.state = json.loads(manifest.path.read_text())
        manifest.mark("coarse", "running")
    print("locked", flush=True)
    sys.stdin.readline()  # held until the test lets go
""")


def build(hp):
    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(hp.Int("units", 8, 16, step=8), activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@contextlib.contextmanager
def another_process(script: str, arg: Path, first_line: str):
    """`script` run with `arg` in a live subprocess (yielded) until the block ends."""
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(arg)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline().strip()
        assert line == first_line, process.stderr.read()
        yield process
    finally:
        process.kill()
        process.wait()


def held_by_another_process(run_dir: Path):
    """The run's lock held by a live subprocess (yielded) until the block ends."""
    return another_process(HOLDER, run_dir, "locked")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, digits28):
    """`{state: CoarseToFine}` on two run folders that nobody holds between tests.

    `opened`: a run opened (its manifest written), no step done, as a run that
    another process has just started or resumed. `starting`: a folder with only
    the lock, as one whose first opener is clearing it (`overwrite=True`).
    """
    data = digits28.subset(num_train=200, num_val=100, num_test=100)
    directory = tmp_path_factory.mktemp("reads")
    objects = {
        state: CoarseToFine(build, data, directory=directory, project_name=state, **BAYES_BUDGET)
        for state in ("opened", "starting")
    }
    objects["opened"].open()  # writes the manifest (and releases the lock)
    (directory / "starting").mkdir()
    return objects


# Every public read of the workflow object: (name, call, the message when nobody holds the
# run and it has not finished; None: not called then, as it would run or start the run).
READS = [
    ("result()", lambda run: run.result(), r"has not finished: call run\(\) or evaluate\(\)"),
    (
        "get_best_hyperparameters()",
        lambda run: run.get_best_hyperparameters(2),
        r"searches in .* have not finished: call run\(\) or fine\(\)",
    ),
    (
        "get_best_models()",
        lambda run: run.get_best_models(),
        r"has no final model yet: call run\(\) or retrain\(\)",
    ),
    ("select()", lambda run: run.select(), None),  # runs the searches if need be
    ("manifest", lambda run: run.manifest, None),  # opens (and would start) the run
    ("open()", lambda run: run.open(), None),
]


@pytest.mark.parametrize("state", ["opened", "starting"])
@pytest.mark.parametrize("name, read, unfinished", READS, ids=[r[0] for r in READS])
def test_a_read_while_another_process_works_on_the_run_names_that_process(
    runs, state, name, read, unfinished
):
    run = runs[state]
    with held_by_another_process(run.run_dir) as other:
        with pytest.raises(RunLockedError) as info:
            read(run)
        message = str(info.value)
        assert f"Another process (pid {other.pid}, since " in message, message
        assert f"is working on the run in {run.run_dir} right now" in message, message
        if name.endswith("()") and name != "open()":  # a read: call it again once it ends
            assert f"{name} reads it once that process ends: call it again then" in message
        else:
            assert "Wait for it to finish, or stop that process" in message, message
    if unfinished is not None:  # nobody holds it: as before
        with pytest.raises(RunNotFinishedError, match=unfinished):
            read(run)
    assert run._manifest is None  # the read held nothing afterwards


def test_a_read_beside_an_object_of_this_process_holding_the_run_is_as_before(runs):
    """This process's own hold is no other process: the newest opener takes over."""
    run = runs["opened"]
    settings = dict(directory=run.run_dir.parent, project_name="opened", **BAYES_BUDGET)
    other = CoarseToFine(build, run.data, **settings)
    other.manifest  # noqa: B018 (opened by hand: held until close())
    try:
        with pytest.raises(RunNotFinishedError, match="has not finished"):
            run.result()
    finally:
        other.close()


def _cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def two_runs(runs):
    """`(directory, run, its copy)`: the opened run and a copy, for `tunekit compare`."""
    run_dir = runs["opened"].run_dir
    copy = run_dir.parent / "copy" / "opened"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns(".lock"))
    return run_dir.parent, run_dir, copy


def _status(out: str, column: str) -> str:
    """The status `tunekit ls` / `compare` (`--format csv`) prints for `column`'s run."""
    frame = pd.read_csv(io.StringIO(out))
    if "status" in frame:  # ls: one row per run
        return frame.set_index("name").loc[column, "status"]
    return frame.set_index("setting").loc["result.status", column]


def _show_status(out: str, column: str) -> str:
    """The status `tunekit show` prints (its last `Status:` line)."""
    return [line for line in out.splitlines() if line.startswith("Status: ")][-1]


# Every command that reads a run: (command, its arguments from (directory, run, its copy),
# the run's status as the command says it, and the column or row it is in).
COMMANDS = [
    ("ls", lambda d, r, c: ["ls", str(d), "--format", "csv"], _status, "opened"),
    ("show", lambda d, r, c: ["show", str(r)], _show_status, ""),
    ("compare", lambda d, r, c: ["compare", str(r), str(c), "--format", "csv"], _status, "r"),
]


@pytest.mark.parametrize("command, args, status, column", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_a_command_reading_a_run_another_process_works_on_says_so(
    two_runs, command, args, status, column
):
    directory, run_dir, copy = two_runs
    argv = args(directory, run_dir, copy)
    column = str(run_dir) if column == "r" else column
    with held_by_another_process(run_dir) as other:
        code, out, err = _cli(*argv)
        assert code == 0, err
        assert status(out, column).endswith("running: coarse"), out
        assert "Resume with" not in out, out
        if command == "show":  # named first, with what to do, before what it read
            first = out.splitlines()[0]
            assert first.startswith(f"Another process (pid {other.pid}, since "), out
            assert f"tunekit show {run_dir} again after it ends" in first, out
    code, out, err = _cli(*argv)  # nobody holds it: as before
    assert code == 0 and status(out, column).endswith("interrupted: coarse"), out
    assert "Another process" not in out, out


def test_ls_and_compare_name_the_process_working_on_a_run(two_runs):
    """Its pid, to wait for it or stop it; empty when no process holds the run."""
    directory, run_dir, copy = two_runs
    ls = ["ls", str(directory), "--format", "csv"]
    compare = ["compare", str(run_dir), str(copy), "--format", "csv"]

    def pids() -> tuple[Any, Any, Any]:
        listed = pd.read_csv(io.StringIO(_cli(*ls)[1])).set_index("name")["pid"]
        rows = pd.read_csv(io.StringIO(_cli(*compare)[1])).set_index("setting")
        return listed["opened"], rows.loc["result.pid", str(run_dir)], listed["copy/opened"]

    with held_by_another_process(run_dir) as other:
        assert pids()[:2] == (other.pid, str(other.pid))
        assert pd.isna(pids()[2])  # its copy: nobody works on it
    assert all(pd.isna(pid) for pid in pids())


def test_a_lock_taken_while_the_read_looks_at_the_manifest_is_said_too(runs, monkeypatch):
    """The holder starts its step after the read's first look, before "not finished"."""
    import tunekit.workflow

    run, started = runs["opened"], contextlib.ExitStack()
    check_settings = tunekit.workflow.check_settings

    def settings_then_another_process_starts(*args, **kwargs):
        check_settings(*args, **kwargs)
        started.enter_context(held_by_another_process(run.run_dir))

    monkeypatch.setattr(tunekit.workflow, "check_settings", settings_then_another_process_starts)
    with started, pytest.raises(RunLockedError, match=r"result\(\) reads it once that process"):
        run.result()
