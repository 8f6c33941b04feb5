"""A reader that leaves early (`tunekit run ... | head -3`): output dropped, never a traceback.

Found by a new-user probe: after `head` left, every progress line printed a
"--- Logging error ---" block on stderr, the run went on, and the summary's
`print` ended it in a `BrokenPipeError` traceback with exit 1 although the run
had finished. Each test gives a process a stdout pipe whose reader is already
gone (its read end closed), so every write fails as it would after `head` exits.

Also a standard stream the shell closed (`tunekit run ... 2>&-`, `>&-`): output
dropped, the run ends. Found by a retry probe: Python starts with `sys.stderr` /
`sys.stdout` `None` when file descriptor 2 / 1 is closed, and `tunekit run ... 2>&-`
printed its first line then exited 1 with no run folder and no word why
(`_native_logs.filtered_stderr` flushed `None`); `>&-` failed at the first `print`,
`tunekit ls >&-` at `isatty`. Those tests start a process through
`sh -c 'exec ... >&-'` (a closed descriptor, not `subprocess.DEVNULL`, which is an open
one) and assert its exit code and its files.
Also: `tunekit ls --help | true` exited 1 (`run --help` 0); help is no failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _with_closed_stdout(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Runs `python args` with a stdout whose reader has left; stderr captured."""
    read, write = os.pipe()
    os.close(read)
    try:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        return subprocess.run(
            [sys.executable, *args],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env=env,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write)


# The command line's entry points with the run itself (`coarse_to_fine._run`) replaced by
# its output: progress lines through the `tunekit` logger, the summary's print, then a file
# written after both (the run went on to its end).
_RUN_LIKE = textwrap.dedent(
    """
    import logging, sys
    from pathlib import Path
    from tunekit import coarse_to_fine

    def fake_run(args, argv, prog):
        for i in range(20):
            logging.getLogger("tunekit.workflow").info("coarse trial %d/20", i + 1)
            if args.quiet:
                print("a warning", file=sys.stderr)
        print("== Summary ==", flush=True)
        Path("done.txt").write_text("finished")
        return 0

    coarse_to_fine._run = fake_run
    argv = ["--data", "small.npz", *sys.argv[2:]]
    if sys.argv[1] == "tunekit":
        from tunekit.cli_main import main

        raise SystemExit(main(["run", *argv]))
    raise SystemExit(coarse_to_fine.main(argv))
    """
)


@pytest.mark.parametrize("entry", ["tunekit", "coarse_to_fine"])
def test_progress_lines_and_the_summary_after_the_reader_left_are_dropped(tmp_path, entry):
    done = _with_closed_stdout(["-c", _RUN_LIKE, entry], tmp_path)
    assert "Logging error" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert done.stderr == ""
    assert done.returncode == 0  # the run's own exit code
    assert (tmp_path / "done.txt").read_text() == "finished"  # it went on to its end


def test_a_closed_stderr_is_dropped_too(tmp_path):
    """`tunekit run ... 2>&1 | head`: warnings go to the same closed pipe."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(  # --quiet: the fake run writes warnings to stderr
            [sys.executable, "-c", _RUN_LIKE, "tunekit", "--quiet"],
            stdout=write,
            stderr=write,
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            timeout=120,
            check=False,
        )
    finally:
        os.close(write)
    assert done.returncode == 0 and (tmp_path / "done.txt").is_file()


def test_tunekit_show_and_help_to_a_reader_that_left_exit_without_a_traceback(tmp_path):
    """`tunekit show RUN | head` keeps its precedent: exit 1 as Python does on EPIPE."""
    run = tmp_path / "runs" / "x"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text('{"config": {}, "steps": {}}')
    (run / "report.md").write_text("# tunekit run: x\n" + "a line of the report\n" * 5000)
    shown = _with_closed_stdout(["-m", "tunekit", "show", str(run)], tmp_path)
    assert (shown.returncode, shown.stderr) == (1, "")
    helped = _with_closed_stdout(["-m", "tunekit.coarse_to_fine", "--help"], tmp_path)
    assert "Traceback" not in helped.stderr and helped.returncode == 0, helped.stderr


def test_the_streams_are_restored_and_a_string_buffer_is_untouched():
    import io

    from tunekit import _log

    out, err = io.StringIO(), io.StringIO()
    old = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        with _log.output_kept_safe() as stdout, _log.output_kept_safe() as inner:
            assert inner is stdout  # nested: wrapped once
            print("kept")
            assert not stdout.reader_left
        assert (sys.stdout, sys.stderr) == (out, err)
    finally:
        sys.stdout, sys.stderr = old
    assert out.getvalue() == "kept\n"


_CLOSE = {"stdout": ">&-", "stderr": "2>&-", "both": ">&- 2>&-"}


def _closed(args: list[str], close: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Runs `python args` with `close` ("stdout", "stderr" or "both") closed at start."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "1"}
    return subprocess.run(
        ["sh", "-c", f'exec "$@" {_CLOSE[close]}', "sh", sys.executable, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
        check=False,
    )


# The entry points with the run (`coarse_to_fine._run`) replaced by what a run does with
# its streams: print, log, native logs on fd 2 inside `filtered_stderr`, a file opened
# meanwhile (it must not get descriptor 1 or 2), a subprocess inheriting both, then a file.
_STREAMS_RUN_LIKE = textwrap.dedent(
    """
    import logging, os, subprocess, sys
    from pathlib import Path
    from tunekit import _native_logs, coarse_to_fine

    def fake_run(args, argv, prog):
        print("Objective: accuracy", flush=True)
        with _native_logs.filtered_stderr():
            os.write(2, b"a native line\\n")
        logging.getLogger("tunekit.workflow").info("a progress line")
        logging.getLogger("tunekit.workflow").warning("a warning")
        mine = open("mine.txt", "w")
        fd = mine.fileno()
        os.write(1, b"native out\\n")
        os.write(2, b"native err\\n")
        mine.write("mine\\n")
        mine.close()
        child = subprocess.run(
            [sys.executable, "-c", "import sys; print('child'); print('child', file=sys.stderr)"]
        )
        Path("done.txt").write_text(f"{fd > 2} {child.returncode}")
        print("== Summary ==", flush=True)
        return 0

    coarse_to_fine._run = fake_run
    argv = ["--data", "small.npz"]
    if sys.argv[1] == "tunekit":
        from tunekit.cli_main import main

        raise SystemExit(main(["run", *argv]))
    raise SystemExit(coarse_to_fine.main(argv))
    """
)


@pytest.mark.parametrize("close", ["stdout", "stderr", "both"])
@pytest.mark.parametrize("entry", ["tunekit", "coarse_to_fine"])
def test_a_run_with_a_closed_stream_goes_to_its_end_with_exit_0(tmp_path, entry, close):
    done = _closed(["-c", _STREAMS_RUN_LIKE, entry], close, tmp_path)
    assert done.returncode == 0, done.stderr  # the run's own exit code
    assert (tmp_path / "done.txt").read_text() == "True 0"  # to its end; the child ran
    assert (tmp_path / "mine.txt").read_text() == "mine\n"  # no native line written into it
    if close == "stderr":  # the open stream still has everything meant for it
        assert done.stdout.splitlines() == [
            "Objective: accuracy",
            "a progress line",
            "native out",
            "child",
            "== Summary ==",
        ]
    if close == "stdout":
        assert "a native line\n" in done.stderr and "a warning\n" in done.stderr
        assert "native err\n" in done.stderr and "child\n" in done.stderr
        assert "Traceback" not in done.stderr


def _a_run_folder(parent: Path) -> None:
    run = parent / "runs" / "x"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text('{"config": {}, "steps": {}}')
    (run / "report.md").write_text("# tunekit run: x\na line of the report\n")


@pytest.mark.parametrize("close", ["stdout", "stderr", "both"])
def test_ls_show_and_compare_with_a_closed_stream_exit_with_their_own_codes(tmp_path, close):
    _a_run_folder(tmp_path)
    (tmp_path / "empty").mkdir()
    for args, code in [
        (["ls", "runs"], 0),  # a table (isatty asked)
        (["ls", "runs", "--format", "csv"], 0),
        (["ls", "empty"], 0),  # "No tunekit runs under empty."
        (["show", "runs/x"], 0),
        (["ls", "missing"], 2),  # the error goes to stderr
        (["compare", "runs/x"], 2),
    ]:
        done = _closed(["-m", "tunekit", *args], close, tmp_path)
        assert done.returncode == code, (args, done.stderr)
        assert "Traceback" not in done.stderr
        if close == "stderr" and args == ["show", "runs/x"]:
            assert "a line of the report" in done.stdout
        if close == "stdout" and code == 2:
            assert done.stderr.startswith("error: ")


def test_a_worker_with_closed_streams_exits_with_its_own_code(tmp_path):
    done = _closed(["-m", "tunekit.distribute.worker_main", "missing.pkl"], "both", tmp_path)
    assert done.returncode == 2  # cannot rebuild the run: reported (to nowhere), not a crash


_HELPS = [
    ["-m", "tunekit", "--help"],
    ["-m", "tunekit", "--version"],
    ["-m", "tunekit", "ls", "--help"],
    ["-m", "tunekit", "show", "--help"],
    ["-m", "tunekit", "compare", "--help"],
    ["-m", "tunekit", "run", "--help"],
    ["-m", "tunekit.coarse_to_fine", "--help"],
]


@pytest.mark.parametrize("args", _HELPS, ids=" ".join)
def test_help_exits_0_with_a_closed_reader_or_a_closed_stdout(tmp_path, args):
    cut = _with_closed_stdout(args, tmp_path)  # `tunekit ls --help | true`
    assert (cut.returncode, cut.stderr) == (0, "")
    closed = _closed(args, "stdout", tmp_path)  # `tunekit ls --help >&-`
    assert (closed.returncode, closed.stderr) == (0, "")


def test_no_stream_in_process_is_dropped_by_the_library(monkeypatch):
    """`sys.stderr` / `sys.stdout` `None` (pythonw, or closed at start) in a Python script."""
    import logging

    from tunekit import _log, _native_logs

    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "1")
    monkeypatch.setattr(sys, "stderr", None)
    monkeypatch.setattr(sys, "stdout", None)
    with _native_logs.filtered_stderr():  # raised AttributeError: 'NoneType' ... 'flush'
        pass
    record = logging.LogRecord("tunekit", logging.WARNING, __file__, 1, "x", None, None)
    _log.PrintHandler(stderr_from=logging.WARNING).emit(record)  # dropped, no error block
    _log.PrintHandler().emit(record)


@pytest.mark.slow
@pytest.mark.parametrize("close", ["stdout", "stderr"])
def test_a_real_run_with_a_closed_stream_saves_everything(tmp_path, close):
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(150, 4))
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0).astype(int)
    rows = ["a,b,c,d,label", *(",".join(map(str, [*r, t])) for r, t in zip(x, y))]
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n")
    args = ["--data", "data.csv", "--target", "label", "--hypermodel", "dense"]
    args += ["--directory", "runs", "--project-name", "p", "--coarse-trials", "3"]
    args += ["--coarse-epochs", "1", "--max-epochs", "2", "--final-epochs", "1"]
    args += ["--no-baseline", "--backend", "tensorflow", "--batch-size", "32"]
    done = _closed(["-m", "tunekit", "run", *args], close, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    run = tmp_path / "runs" / "p"
    for name in ("report.json", "report.md", "best_model.keras", "trials.csv"):
        assert (run / name).is_file(), name
    if close == "stderr":
        assert "== Summary ==" in done.stdout
