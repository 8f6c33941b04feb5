"""Progress while a phase runs: a bar on a terminal, one line per trial elsewhere.

`PhaseProgress` is the listener each search phase's tuner calls after every
trial. Each call works out the phase's status (trials ended of planned, the
best score so far, elapsed and remaining time) and shows it one of two ways:

- **plain** (logs, CI, workers, notebooks): one line per trial on the
  `tunekit` logger, `[coarse] trial 3/20 (id 2): val_accuracy=0.9120, best
  0.9300 | 41s elapsed, ~3m52s left`;
- **bar** (an interactive terminal): a `rich.progress` bar per phase with the
  same numbers, its elapsed and remaining time ticking between trials.

`use_bar(mode)` decides (`progress=` / `--progress`): `"auto"` (the default)
draws a bar when standard output is a terminal (`sys.stdout.isatty()`), `TERM`
is not `dumb` / `unknown` and `CI` is unset; `"bar"` and `"plain"` force one.

The remaining time of a Hyperband phase is estimated from epochs (its
trials differ in length: the time per epoch so far times the epochs still
planned), of other phases from trials.

`kerastuner_output(write)` turns KerasTuner's own `print`s while a tuner is
built ("Reloading Tuner from ...") into progress lines, so `verbose=0` /
`--quiet` silences them too.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

import keras_tuner as kt
from keras_tuner.engine import trial as trial_module
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from tunekit.errors import raised_line
from tunekit.narrowing import is_usable
from tunekit.params import ProgressMode
from tunekit.score_text import score_text

__all__ = [
    "PhaseProgress",
    "PhaseStatus",
    "bar_console",
    "kerastuner_output",
    "planned_epochs",
    "planned_trials",
    "use_bar",
]

_logger = logging.getLogger(__name__)


def _hyperband_rounds(oracle: kt.Oracle) -> Iterator[tuple[int, int]]:
    """`(trials, new epochs per trial)` of every Hyperband round."""
    for bracket in range(oracle._get_num_brackets()):
        previous = 0
        for round_num in range(oracle._get_num_rounds(bracket)):
            epochs = oracle._get_epochs(bracket, round_num)
            yield oracle._get_size(bracket, round_num), epochs - previous
            previous = epochs


def planned_trials(oracle: kt.Oracle) -> int | None:
    """The number of trials a phase will run, or `None` if unknown."""
    if hasattr(oracle, "_get_num_brackets"):  # Hyperband
        iterations = int(getattr(oracle, "hyperband_iterations", 1))
        return sum(size for size, _ in _hyperband_rounds(oracle)) * iterations
    return oracle.max_trials


def planned_epochs(oracle: kt.Oracle) -> int | None:
    """Training epochs a Hyperband phase will run (trials continue their parents)."""
    if not hasattr(oracle, "_get_num_brackets"):
        return None
    iterations = int(getattr(oracle, "hyperband_iterations", 1))
    return sum(size * new for size, new in _hyperband_rounds(oracle)) * iterations


def _epochs_run(trial: trial_module.Trial) -> float:
    if trial.metrics.exists("epochs"):
        return float(trial.metrics.get_last_value("epochs") or 0)
    return 0.0


def failure_reason(trial: trial_module.Trial) -> str:
    """The line naming a trial's error (`"ValueError: ..."`), or `""` if it has none.

    KerasTuner keeps a failed trial's whole traceback in `trial.message`
    (written to its `trial.json`); see `tunekit.errors.raised_line`.
    """
    return raised_line(trial.message or "")


def _fmt_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _best_score(oracle: kt.Oracle) -> float | None:
    """The best score of the oracle's completed trials, or `None` if none completed."""
    scores = [t.score for t in oracle.trials.values() if is_usable(t)]
    if not scores:
        return None
    return max(scores) if oracle.objective.direction == "max" else min(scores)


def use_bar(
    mode: ProgressMode, stream: TextIO | None = None, environ: Mapping[str, str] = os.environ
) -> bool:
    """Whether progress is drawn as a bar (`True`) or written as plain lines.

    Args:
        mode: `"bar"`, `"plain"` or `"auto"`: a bar when `stream` is a
            terminal, `TERM` is not `dumb` or `unknown`, and `CI` is unset
            (a worker's output is a log file, so it writes plain lines).
        stream: Where progress goes. Defaults to `sys.stdout`.
        environ: The environment. Defaults to `os.environ`.

    Returns:
        `True` for a bar.
    """
    if mode != "auto":
        return mode == "bar"
    stream = sys.stdout if stream is None else stream
    try:
        tty = bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        tty = False
    dumb = environ.get("TERM", "").lower() in ("dumb", "unknown")
    return tty and not dumb and not environ.get("CI")


def bar_console(mode: ProgressMode) -> Console | None:
    """A `rich` console for the bars when `use_bar(mode)`, else `None` (plain lines).

    The console writes to `sys.stdout` as it is when it writes (so captured
    output receives it); `mode="bar"` forces terminal output even when that
    is no terminal.
    """
    if not use_bar(mode):
        return None
    return Console(force_terminal=True if mode == "bar" else None, highlight=False)


@contextlib.contextmanager
def kerastuner_output(write: Callable[[str], None]) -> Iterator[None]:
    """Routes what KerasTuner prints meanwhile to `write`, one call per non-empty line.

    KerasTuner prints "Reloading Tuner from <file>" when a tuner is built on
    a saved project, whatever the verbosity; wrapped around building a
    tuner, this makes it a progress line that `verbose=0` silences. Only for
    short, single-threaded blocks: it replaces `sys.stdout` meanwhile.
    """
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            yield
    finally:
        for line in buffer.getvalue().splitlines():
            if line.strip():
                write(line)


@dataclass(frozen=True)
class PhaseStatus:
    """Where a phase stands after a trial ended.

    Attributes:
        phase: The phase's name.
        ended: Trials of the phase ended so far (resumed ones included).
        total: Trials planned, or `None` if unknown.
        trial_id: The trial that just ended.
        outcome: `"val_accuracy=0.9120"`, or the trial's status if it did not
            complete.
        best: The best completed score so far, or `None`.
        elapsed: Seconds since this process started the phase.
        remaining: Estimated seconds left, or `None` if unknown.
    """

    phase: str
    ended: int
    total: int | None
    trial_id: str
    outcome: str
    best: float | None
    elapsed: float
    remaining: float | None

    def line(self) -> str:
        """The plain progress line of this status."""
        of_total = f"/{self.total}" if self.total else ""
        best = "" if self.best is None else f", best {score_text(self.best)}"
        remaining = "" if self.remaining is None else f", ~{_fmt_seconds(self.remaining)} left"
        return (
            f"[{self.phase}] trial {self.ended}{of_total} (id {self.trial_id}): {self.outcome}"
            f"{best} | {_fmt_seconds(self.elapsed)} elapsed{remaining}"
        )


class _RemainingColumn(ProgressColumn):
    """`~1m05s left`, counting down from the last estimate between trials."""

    def render(self, task: Task) -> Text:
        deadline = task.fields.get("deadline")
        if deadline is None or task.finished:
            return Text("")
        return Text(f"~{_fmt_seconds(max(deadline - time.monotonic(), 0.0))} left")


class PhaseProgress:
    """Shows `phase trial i/N, best so far, elapsed, remaining` after each trial.

    Called after each trial, as a listener given to the tuner
    (`tunekit.tuners.make_tuner(..., listeners=...)`) or to the chief. Used
    as a context manager around the phase's search (`with
    progress.showing(tuner.oracle): ...`) it draws a `rich` bar on `console`;
    without a console (or outside that block) it writes plain lines.

    Args:
        phase: The phase's name, e.g. `"coarse"`.
        write: Where each plain line goes. Defaults to the `tunekit.progress`
            logger (INFO), so `logging.getLogger("tunekit")` controls it.
        console: A `rich.console.Console` to draw the bar on (see
            `bar_console`), or `None` for plain lines. Defaults to `None`.
    """

    def __init__(
        self,
        phase: str,
        *,
        write: Callable[[str], None] | None = None,
        console: Console | None = None,
    ) -> None:
        self.phase = phase
        self.write = write or _logger.info
        self.console = console
        self.start = time.perf_counter()
        self.ended_here = 0
        self.epochs_here = 0.0
        self._bar: Progress | None = None
        self._task: Any = None

    @contextlib.contextmanager
    def showing(self, oracle: kt.Oracle) -> Iterator[PhaseProgress]:
        """Draws the phase's bar (when there is a console) while the block runs.

        The bar starts at the trials already ended (a resumed phase) and is
        left on screen, complete, when the block ends. Lines logged
        meanwhile are printed above it.
        """
        if self.console is None:
            yield self
            return
        self._bar = Progress(
            TextColumn("[{task.description}]", markup=False),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TextColumn("trials"),
            TextColumn("{task.fields[best]}", markup=False),
            TimeElapsedColumn(),
            _RemainingColumn(),
            console=self.console,
            refresh_per_second=2,
        )
        best = _best_score(oracle)
        self._task = self._bar.add_task(
            self.phase,
            total=planned_trials(oracle),
            completed=len(oracle.end_order),
            best="" if best is None else f"best {score_text(best)}",
            deadline=None,
        )
        try:
            with self._bar:
                yield self
        finally:
            self._bar = None

    def status(self, tuner: kt.Tuner, trial: trial_module.Trial) -> PhaseStatus:
        """The phase's status after `trial` ended (counts it as ended here)."""
        oracle = tuner.oracle
        self.ended_here += 1
        ended = len(oracle.end_order)
        total = planned_trials(oracle)
        elapsed = time.perf_counter() - self.start
        trial = oracle.trials.get(trial.trial_id, trial)
        self.epochs_here += _epochs_run(trial)
        if trial.status == trial_module.TrialStatus.COMPLETED:
            outcome = f"{oracle.objective.name}={score_text(trial.score)}"
        else:
            reason = failure_reason(trial)
            outcome = f"{trial.status} ({reason})" if reason else str(trial.status)
        remaining = None
        epochs_total = planned_epochs(oracle)
        if epochs_total and self.epochs_here:  # Hyperband: trials differ in length
            done = sum(_epochs_run(t) for t in oracle.trials.values())
            remaining = elapsed / self.epochs_here * max(epochs_total - done, 0)
        elif total:
            remaining = elapsed / self.ended_here * max(total - ended, 0)
        return PhaseStatus(
            phase=self.phase,
            ended=ended,
            total=total,
            trial_id=trial.trial_id,
            outcome=outcome,
            best=_best_score(oracle),
            elapsed=elapsed,
            remaining=remaining,
        )

    def __call__(self, tuner: kt.Tuner, trial: trial_module.Trial) -> None:
        status = self.status(tuner, trial)
        if self._bar is None:
            self.write(status.line())
            return
        self._bar.update(
            self._task,
            completed=status.ended,
            total=status.total if status.total else None,
            best="" if status.best is None else f"best {score_text(status.best)}",
            deadline=None if status.remaining is None else time.monotonic() + status.remaining,
        )


def exhausted_note(phase: str, oracle: kt.Oracle, budget: int, max_model_size: Any) -> str:
    """What a phase (`phase`) says when its space ran out before its trials did, or `""`:
    a random or Bayesian search of `budget` trials (0: Hyperband, which plans its own, see
    `planned_trials`) that found no untried configuration (within `max_model_size`, when
    set: the oracle's `rejected_oversized` larger ones), or Hyperband brackets that found
    none to start with."""
    ran = len(oracle.trials)
    planned = planned_trials(oracle) if budget == 0 else None
    if planned is not None and ran < planned:
        return (
            f"[{phase}] Hyperband ran {ran} of the {planned} trials its brackets plan: the "
            "space holds no other configuration to start a bracket with (all tried), and "
            "KerasTuner's Hyperband ends there, so the trials that ran may have trained only "
            "their first round's epochs. A space this small suits a Bayesian fine search "
            "(fine_tuner='bayesian'); going on with the trials that ran."
        )
    if ran >= budget:
        return ""
    rejected = getattr(oracle, "rejected_oversized", 0)
    within = (
        f" within max_model_size={max_model_size} ({rejected} larger ones rejected)"
        if max_model_size is not None and rejected
        else ""
    )
    return (
        f"[{phase}] the search space is exhausted: it holds only {ran} distinct "
        f"configuration{'' if ran == 1 else 's'}{within} (all tried), fewer than "
        f"{phase}_trials={budget}; going on with them."
    )
