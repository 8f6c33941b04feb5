"""Per-trial progress lines while a phase runs."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

import keras_tuner as kt
from keras_tuner.engine import trial as trial_module

from tunekit.narrowing import is_usable

__all__ = ["PhaseProgress", "planned_trials"]

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


def _fmt_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class PhaseProgress:
    """Reports `phase trial i/N: score, best so far, elapsed, remaining` per trial.

    Called after each trial, as a listener given to the tuner
    (`tunekit.tuners.make_tuner(..., listeners=...)`) or to the chief.

    Args:
        phase: The phase's name, e.g. `"coarse"`.
        write: Where each line goes. Defaults to the `tunekit.progress`
            logger (INFO), so `logging.getLogger("tunekit")` controls it.
    """

    def __init__(self, phase: str, *, write: Callable[[str], None] | None = None) -> None:
        self.phase = phase
        self.write = write or _logger.info
        self.start = time.perf_counter()
        self.ended_here = 0
        self.epochs_here = 0.0

    def __call__(self, tuner: kt.Tuner, trial: trial_module.Trial) -> None:
        oracle = tuner.oracle
        self.ended_here += 1
        ended = len(oracle.end_order)
        total = planned_trials(oracle)
        elapsed = time.perf_counter() - self.start
        trial = oracle.trials.get(trial.trial_id, trial)
        self.epochs_here += _epochs_run(trial)
        if trial.status == trial_module.TrialStatus.COMPLETED:
            outcome = f"{oracle.objective.name}={trial.score:.4f}"
        else:
            outcome = str(trial.status)
        completed = [t for t in oracle.trials.values() if is_usable(t)]
        best = ""
        if completed:
            pick = max if oracle.objective.direction == "max" else min
            best = f", best {pick(t.score for t in completed):.4f}"
        remaining = ""
        epochs_total = planned_epochs(oracle)
        if epochs_total and self.epochs_here:  # Hyperband: trials differ in length
            done = sum(_epochs_run(t) for t in oracle.trials.values())
            left = max(epochs_total - done, 0)
            remaining = f", ~{_fmt_seconds(elapsed / self.epochs_here * left)} left"
        elif total:
            left = max(total - ended, 0)
            remaining = f", ~{_fmt_seconds(elapsed / self.ended_here * left)} left"
        of_total = f"/{total}" if total else ""
        self.write(
            f"[{self.phase}] trial {ended}{of_total} (id {trial.trial_id}): {outcome}{best}"
            f" | {_fmt_seconds(elapsed)} elapsed{remaining}"
        )
