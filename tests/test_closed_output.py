"""A reader that leaves early (`tunekit run ... | head -3`): output dropped, never a traceback.

Found by a new-user probe: after `head` left, every progress line printed a
"--- Logging error ---" block on stderr, the run went on, and the summary's
`print` ended it in a `BrokenPipeError` traceback with exit 1 although the run
had finished. Each test gives a process a stdout pipe whose reader is already
gone (its read end closed), so every write fails as it would after `head` exits.
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
