"""Progress: a bar per phase on a terminal, one line per trial elsewhere, `--quiet` the summary.

The bar path and the plain path run the same tiny seeded search through the
command line (in-process, `--progress bar` / `--progress plain`) and must
report the same trial counts and best scores, equal to the run's own trial
table. A `--quiet` rerun of the finished run prints the summary and nothing
else (KerasTuner's "Reloading Tuner from ..." included).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import digits_as_mnist

from tunekit.coarse_to_fine import main
from tunekit.progress import PhaseProgress, kerastuner_output, use_bar
from tunekit.results import trials_dataframe

# 3 coarse trials, Hyperband max_epochs 2 / factor 2 (5 fine trials), 1 final epoch.
TINY = [
    "--finalists",
    "0",
    "--no-baseline",
    "--coarse-trials",
    "3",
    "--coarse-epochs",
    "1",
    "--max-epochs",
    "2",
    "--factor",
    "2",
    "--top",
    "2",
    "--final-epochs",
    "1",
    "--backend",
    "tensorflow",
]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
PLAIN_LINE = re.compile(r"^\[(\w+)\] trial (\d+)/(\d+) \(id \w+\): .*?, best ([0-9.]+) \|")
BAR_LINE = re.compile(r"^\s*\[(\w+)\].*?\s(\d+)/(\d+) trials best ([0-9.]+)")


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(
    "mode, tty, env, expected",
    [
        ("auto", True, {"TERM": "xterm-256color"}, True),
        ("auto", False, {"TERM": "xterm-256color"}, False),  # a log file, a pipe, a worker
        ("auto", True, {"TERM": "dumb"}, False),
        ("auto", True, {"TERM": "xterm", "CI": "true"}, False),
        ("bar", False, {"CI": "true"}, True),
        ("plain", True, {"TERM": "xterm"}, False),
    ],
)
def test_use_bar_draws_a_bar_only_on_an_interactive_terminal(mode, tty, env, expected):
    assert use_bar(mode, _Stream(tty), env) is expected


def test_kerastuner_prints_become_progress_lines():
    lines: list[str] = []
    with kerastuner_output(lines.append):
        print("Reloading Tuner from runs/x/coarse/tuner0.json")
        print()
    assert lines == ["Reloading Tuner from runs/x/coarse/tuner0.json"]


def test_plain_path_without_a_console_writes_lines():
    lines: list[str] = []
    progress = PhaseProgress("coarse", write=lines.append)
    assert progress.console is None and progress._bar is None
    assert lines == []


def _last_by_phase(text: str, pattern: re.Pattern[str]) -> dict[str, tuple[int, int, float]]:
    """`{phase: (ended, planned, best)}` of the last progress report of each phase."""
    found: dict[str, tuple[int, int, float]] = {}
    for line in re.split(r"[\r\n]", ANSI.sub("", text)):
        match = pattern.match(line)
        if match:
            phase, ended, total, best = match.groups()
            found[phase] = (int(ended), int(total), float(best))
    return found


@pytest.fixture(scope="module")
def tiny_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """400 train / 100 test digits at 28x28."""
    arrays = digits_as_mnist()
    path = tmp_path_factory.mktemp("data") / "digits_tiny.npz"
    np.savez(
        path,
        x_train=arrays["x_train"][:400],
        y_train=arrays["y_train"][:400],
        x_test=arrays["x_test"][:100],
        y_test=arrays["y_test"][:100],
    )
    return path


def test_bar_and_plain_paths_report_the_same_trials_and_quiet_only_the_summary(
    tmp_path: Path, tiny_npz: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--data", str(tiny_npz), "--directory", str(tmp_path), *TINY]
    outputs = {}
    for mode in ("plain", "bar"):
        assert main([*common, "--project-name", mode, "--progress", mode]) == 0
        outputs[mode] = capsys.readouterr().out

    plain = _last_by_phase(outputs["plain"], PLAIN_LINE)
    bar = _last_by_phase(outputs["bar"], BAR_LINE)
    assert "[coarse] trial 1/3 (id 0)" in outputs["plain"]
    assert "[coarse] trial" not in ANSI.sub("", outputs["bar"])  # bars, not lines
    assert "━" in outputs["bar"]
    for mode, reported in (("plain", plain), ("bar", bar)):
        trials = trials_dataframe(tmp_path / mode)
        expected = {}
        for phase, rows in trials.groupby("phase"):
            completed = rows[rows.status == "COMPLETED"]
            expected[phase] = (len(rows), len(rows), round(float(completed.score.max()), 4))
        assert set(expected) == {"coarse", "fine"}
        assert reported == expected, mode
    assert plain == bar  # the same seeded search, reported alike
    for out in outputs.values():
        assert "Search: Running Trial" not in out and "Reloading Tuner" not in out

    # --quiet on the finished run: the summary, and nothing else.
    assert main([*common, "--project-name", "plain", "--quiet"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert lines[0] == "== Summary ==" and lines[1].startswith("Phases: coarse best")
    assert not any("Reloading" in line or "trial 1/" in line for line in lines)
    assert "Objective:" not in captured.out and "Run folder:" not in captured.out
    # Off a terminal (this test's captured stdout), the default stays one line per trial.
    assert use_bar("auto") is False
    pd.testing.assert_frame_equal(
        trials_dataframe(tmp_path / "plain")[["trial", "score"]],
        trials_dataframe(tmp_path / "bar")[["trial", "score"]],
    )
