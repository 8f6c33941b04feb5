"""The HParams table's metric columns: each trial's own results, as `trials.csv` has them.

TensorBoard's HParams dashboard (its table, parallel coordinates and scatter
matrix, and their sorting and colours) shows for each metric column the LAST
value its session logged. Keras's epoch curves end at a trial's last epoch,
while KerasTuner and tunekit rank and choose trials by their score: the
objective at the trial's best epoch (with several executions per trial, the
mean of each execution's best; cross-validated, the folds' mean). Columns read
from the curves ordered and coloured trials otherwise than the run chose them.

So the columns are the trials' results (`experiment_metrics`, the score first:
the parallel-coordinates view colours by the first metric). When a trial has
ended, `write_trial_results` writes its score and each of its metrics, as
`trials.csv` has them (`TrialResults`, read from the ended trial as KerasTuner
keeps it), into each of its session folders (every execution and fold: their
session group averages equal values) as one scalar each, `trial/<name>`, at
the trial's best epoch. A trial that ended without a score (failed) gets none.

TensorBoard keeps scalars as 32-bit floats (its default loader drops 64-bit
ones): a column equals `trials.csv`'s value to float32 precision (about 7
significant digits), the precision of the Keras metrics themselves.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "SCORE",
    "TrialResults",
    "column_description",
    "experiment_metrics",
    "last_value",
    "result_tag",
    "write_trial_results",
]

#: The column of a trial's score (`trials.csv`'s `score`): first in the HParams table.
SCORE = "score"
# The results' event file in a session folder (beside the session's own): replaced whole.
_SUFFIX = ".trial_results"


def result_tag(name: str) -> str:
    """The scalar tag of a trial's result `name` (`"score"`, `"val_loss"`) in its session
    folder: `"trial/<name>"`, one section of TensorBoard's Scalars tab."""
    return f"trial/{name}"


def experiment_metrics(
    objective_names: Iterable[str], *, classification: bool
) -> list[tuple[str, str, str]]:
    """The HParams table's metric columns, `(tag, run subfolder, display name)`: the
    trial's score first, then the objective's metrics (`val_err` and `err`: Keras logs
    both), the loss, and accuracy for a classifier, each at the trial's best epoch.

    Each column is the trial's own result as `trials.csv` has it (`result_tag`, in the
    session's folder). Before, the columns were the last values of Keras's epoch curves:
    the last epoch's, not the one trials are ranked by, so the table's order and colours
    contradicted the run's choice."""
    names = [n.removeprefix("val_") for n in objective_names]
    names += ["loss"] + (["accuracy"] if classification else [])
    columns = [(result_tag(SCORE), "", SCORE)]
    for name in dict.fromkeys(names):
        columns += [(result_tag(f"val_{name}"), "", f"val_{name}"), (result_tag(name), "", name)]
    return columns


def column_description(tag: str, name: str) -> str:
    """A column's description (TensorBoard shows it over the column's header)."""
    if tag == result_tag(SCORE):
        return (
            "The trial's score, as trials.csv has it: the objective at its best epoch "
            "(with several executions or folds, their mean). Trials are ranked by it."
        )
    if tag == result_tag(name):
        return f"{name} at the trial's best epoch, as trials.csv has it."
    return ""


def last_value(metric: Mapping[str, Any]) -> float | None:
    """A metric's value in a trial's state (`trial.json`'s `metrics.metrics.<name>`): its
    last observation's (KerasTuner records one, at the trial's best epoch); `None` if
    it has none. `trials.csv`'s metric columns read it so."""
    observations = metric.get("observations") or []
    if not observations:
        return None
    value = observations[-1]["value"]
    value = value[0] if isinstance(value, list) else value
    return float(value)


@dataclasses.dataclass(frozen=True)
class TrialResults:
    """An ended trial's results, as `trials.csv` has them.

    Attributes:
        score: `score` (KerasTuner's, what trials are ranked by); `None` if none.
        metrics: Each metric's value at the best epoch, by name (`val_loss`, ...).
        epoch: The best epoch as Keras's TensorBoard callback numbers it (from 0,
            counting the epochs a Hyperband trial continued): the values' step.
    """

    score: float | None
    metrics: dict[str, float]
    epoch: int

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> TrialResults:
        """From a trial's state (`trial.get_state()`, what `trial.json` holds)."""
        score = state.get("score")
        histories = (state.get("metrics") or {}).get("metrics") or {}
        metrics = {n: v for n, m in histories.items() if (v := last_value(m)) is not None}
        values = (state.get("hyperparameters") or {}).get("values") or {}
        epoch = int(values.get("tuner/initial_epoch", 0)) + int(state.get("best_step") or 0)
        return cls(None if score is None else float(score), metrics, epoch)


def write_trial_results(logdirs: Iterable[str | os.PathLike], results: TrialResults) -> None:
    """Writes a trial's results into each of its session folders (see the module docstring).

    Args:
        logdirs: The trial's session folders (`configure_trial_logdirs` returns them):
            each execution's and fold's.
        results: The ended trial's `TrialResults`. A NaN or missing value is left out
            (`trials.csv` shows it empty).

    Results written before into a folder (the same trial ended again) are replaced.
    """
    import tensorflow as tf

    values = {**results.metrics, SCORE: results.score}
    for logdir in dict.fromkeys(os.fspath(d) for d in logdirs):
        if not Path(logdir).is_dir():  # the trial failed before its session was written
            continue
        for path in Path(logdir).glob(f"events.out.tfevents.*{_SUFFIX}"):
            path.unlink()
        writer = tf.summary.create_file_writer(logdir, filename_suffix=_SUFFIX)
        with writer.as_default():
            for name, value in values.items():
                if value is not None and not math.isnan(value):
                    tf.summary.scalar(result_tag(name), value, step=results.epoch)
        writer.close()
