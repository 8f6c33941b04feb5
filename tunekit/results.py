"""Tables of a run: every trial of every phase as one pandas DataFrame, and its CSV."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tunekit import _io
from tunekit.errors import raised_line
from tunekit.hparams_results import last_value
from tunekit.trial_length import SCORED_AT_END

__all__ = ["trials_dataframe", "trials_csv", "format_value", "PHASES", "trial_epochs"]

PHASES = ("coarse", "fine")
_INTERNAL = "tuner/"
_FIRST_COLUMNS = [
    "trial",
    "phase",
    "trial_id",
    "status",
    "score",
    "best_step",
    "epochs",
    "initial_epoch",
    "seconds",
    "num_params",
]
_INT_COLUMNS = ("best_step", "epochs", "initial_epoch", "num_params")
_FOLD_SCORE = re.compile(r"fold_(\d+)_score")  # a cross-validated trial's (tunekit.cv)
_SIGNIFICANT_DIGITS = 15  # every double has 15 exact decimal digits; beyond is binary noise


def format_value(value: Any) -> str:
    """A value as the shortest text that reads back as it (floats without binary noise).

    Floats keep at most 15 significant digits (all a double holds exactly in
    decimal), so `0.1 + 0.05` is written `0.15`, not `0.15000000000000002`; a
    float32 value (a Keras metric) is written as its float32 shortest form
    (`0.975`, not `0.9750000238418579`). A whole number is written exactly
    (`21744179200.0`: its float32 shortest form, `2.174418e+10`, reads back
    800 off). NaN and None are `""`.
    """
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value):
            return ""
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if value.is_integer() and abs(value) < 2**53:  # exact: float32's shortest form of
            return repr(value)  # 21744179200.0 is 21744180000.0, 800 off and exact-looking
        single = np.float32(value)
        if np.isfinite(single) and float(single) == value:
            text = str(single)
        else:
            text = f"{value:.{_SIGNIFICANT_DIGITS}g}"
        return repr(float(text))  # e.g. 1e-05, 2.0: still a float when read back
    return str(value)


def trial_epochs(best_step: int | None, values: dict[str, Any]) -> int:
    """Epochs from scratch to a trial's best epoch (Hyperband trials continue)."""
    return int(values.get("tuner/initial_epoch", 0)) + int(best_step or 0) + 1


def _trial_row(phase: str, state: dict[str, Any]) -> dict[str, Any]:
    hp_state = state.get("hyperparameters", {})
    values = hp_state.get("values", {})
    metrics = {
        name: last_value(m) for name, m in state.get("metrics", {}).get("metrics", {}).items()
    }
    score = state.get("score")
    scored_at_end = metrics.pop(SCORED_AT_END, None) == 1.0
    row: dict[str, Any] = {
        "trial": f"{phase}/{state.get('trial_id')}",
        "phase": phase,
        "trial_id": state.get("trial_id"),
        "status": state.get("status"),
        "score": float("nan") if score is None else float(score),
        "best_step": state.get("best_step"),
        "epochs": metrics.pop("epochs", None),
        "initial_epoch": int(values.get("tuner/initial_epoch", 0)),
        "seconds": metrics.pop("seconds", None),
        "num_params": metrics.pop("num_params", None),
    }
    if scored_at_end and row["epochs"] is None:  # measured after an unknown length
        row["best_step"] = None
    row.update(metrics)
    active = _active_names(hp_state)
    for name, value in values.items():
        if not name.startswith(_INTERNAL):
            row[f"hp_{name}"] = value if name in active else None
    row["error"] = raised_line(state.get("message") or "")
    return row


def _active_names(hp_state: dict[str, Any]) -> set[str]:
    import keras_tuner as kt

    hp = kt.HyperParameters.from_config(hp_state)
    return {name for name in hp.values if hp.is_active(name)}


def trials_dataframe(run_dir: str | os.PathLike) -> pd.DataFrame:
    """Every trial of every phase of a run, one row each.

    Works on a finished run and on one still in progress (it reads the trial
    files KerasTuner writes after each trial). Columns: `trial` (the row's
    unique key `<phase>/<trial_id>`, e.g. `"fine/0003"`, also the trial's
    session name in TensorBoard's HParams), `phase`, `trial_id` (KerasTuner's
    id within the phase, a string such as `"0003"`), `status`, `score` (the
    objective), `best_step` (for a fit that returned a dict or one number, the
    last epoch it trained, where that score was measured), `epochs` (run in the
    trial; empty when its fit reported no epoch, with `epochs_given` then the
    epochs it was given), `initial_epoch`
    (Hyperband continuation), `seconds`, `num_params`, in a cross-validated
    run (`cv=K`) `fold_1_score` ... `fold_K_score` (each fold's objective at
    the trial's best epoch; their mean is `score`) right after `score`, one
    column per reported metric (its value at the best epoch: KerasTuner keeps one per
    trial; training metrics, then validation metrics, each by name; with several
    executions per trial, KerasTuner's mean of each execution's value at its own best
    epoch, as `score`, while `best_epoch` is the best epoch of the executions' mean
    curve and `best_step` the mean of their best epochs, cut to an int), `hp_<name>`
    per hyperparameter (in the order the search space declares them; empty
    where inactive), and
    `error` (the last line of a failed trial's message). Counts and integer
    hyperparameters are pandas' nullable `Int64`. `frame.attrs` holds the
    run's `"objective"` (e.g. `"val_accuracy"`, what `score` is) and its
    `"direction"`, which `tunekit.plots` use to label their axes, and
    `"sampling"`, `{name: "linear" | "log" | "reverse_log"}` of the numeric
    hyperparameters as declared, which their axes follow (log only for `"log"`).

    Args:
        run_dir: The run folder, `<directory>/<project_name>`.

    Returns:
        A `pandas.DataFrame`, ordered by phase then trial id; sort it as you
        like, e.g. `df.sort_values("score", ascending=False)`.

    Example:

    ```python
    df = trials_dataframe("runs/mnist-dense")
    df[df.status == "COMPLETED"].nlargest(5, "score")
    ```
    """
    run_dir = Path(run_dir)
    rows = []
    for phase in PHASES:
        for path in _io.scan(run_dir / phase, "trial_*/trial.json"):
            try:
                trial = _io.read_json(path, what="KerasTuner trial file")
            except FileNotFoundError:  # gone since it was listed (another process changed it)
                continue
            rows.append(_trial_row(phase, trial))
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame(columns=_FIRST_COLUMNS)
        frame.attrs.update(_space_attrs(run_dir))
        return frame
    rest = [c for c in frame.columns if c not in _FIRST_COLUMNS]
    numbered = {c: m for c in rest if (m := _FOLD_SCORE.fullmatch(c))}
    folds = sorted(numbered, key=lambda c: int(numbered[c].group(1)))
    # One order whatever order the trial files list them in (it differs between runs, and
    # with workers): training metrics, then validation ones, each by name; hyperparameters
    # as the search space declares them.
    metrics = sorted(
        (c for c in rest if not c.startswith("hp_") and c != "error" and c not in folds),
        key=lambda c: (c.startswith("val_"), c),
    )
    declared = {name: i for i, name in enumerate(_declared_space(run_dir))}
    hps = sorted(
        (c for c in rest if c.startswith("hp_")),
        key=lambda c: (declared.get(c[3:], len(declared)), c),
    )
    first = _FIRST_COLUMNS[: _FIRST_COLUMNS.index("score") + 1]
    first += folds + _FIRST_COLUMNS[len(first) :]
    frame = frame[first + metrics + hps + ["error"]]
    frame["phase"] = pd.Categorical(frame["phase"], categories=list(PHASES), ordered=True)
    frame = frame.sort_values(["phase", "trial_id"], kind="stable").reset_index(drop=True)
    frame["phase"] = frame["phase"].astype(str)
    # `best_epoch` (several executions per trial) is a count KerasTuner keeps as a metric.
    counts = [*_INT_COLUMNS, *(c for c in ("best_epoch",) if c in frame)]
    for column in [*counts, *(c for c in hps if _all_ints(row.get(c) for row in rows))]:
        frame[column] = _as_int(frame[column])
    frame.attrs.update(_space_attrs(run_dir))
    return frame


def _declared_space(run_dir: Path) -> dict[str, dict[str, Any]]:
    """Each hyperparameter's config (the first phase's) by name, in the order the phases'
    oracles declare them."""
    configs: dict[str, dict[str, Any]] = {}
    for phase in PHASES:
        try:
            state = _io.read_json(run_dir / phase / "oracle.json", what="KerasTuner oracle file")
            for entry in state["hyperparameters"]["space"]:
                configs.setdefault(entry["config"]["name"], entry["config"])
        except (OSError, KeyError, TypeError, _io.StateFileError):
            continue
    return configs


def _space_attrs(run_dir: Path) -> dict[str, Any]:
    """`frame.attrs` of the run: its objective and direction, and `"sampling"`, each
    numeric hyperparameter's declared sampling (`"linear"`, `"log"`, `"reverse_log"`),
    which the plots' axes follow."""
    samplings = {
        name: config["sampling"]
        for name, config in _declared_space(run_dir).items()
        if isinstance(config.get("sampling"), str)
    }
    return {**_objective(run_dir), "sampling": samplings}


def _objective(run_dir: Path) -> dict[str, str]:
    """The run's objective name and direction, from its manifest (empty if unknown)."""
    try:
        config = _io.read_json(run_dir / "manifest.json", what="run manifest")["config"]
        return {"objective": str(config["objective"]), "direction": str(config["direction"])}
    except (OSError, KeyError, TypeError, _io.StateFileError):
        return {}


def _all_ints(values: Iterable[Any]) -> bool:
    """Whether every value that is not None is an int (not a bool): an Int hyperparameter."""
    present = [v for v in values if v is not None]
    return bool(present) and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in present
    )


def _as_int(column: pd.Series) -> pd.Series:
    """`column` as nullable `Int64` if every value is a finite whole number, else as is."""
    numbers = pd.to_numeric(column, errors="coerce")
    present = numbers[column.notna()]
    if (
        present.isna().any()
        or not np.all(np.isfinite(present))
        or not (present == present.round()).all()
    ):
        return column
    return numbers.round().astype("Int64")


def trials_csv(frame: pd.DataFrame) -> str:
    """`frame` (from `trials_dataframe`) as CSV text that reads back with `pandas.read_csv`.

    Integers are written as integers (`203530`, not `203530.0`), floats
    without binary noise (see `format_value`), missing values as empty
    cells. The `trial` column (`coarse/00`, `fine/0000`) is a unique key that
    survives a plain `pd.read_csv`; KerasTuner's `trial_id` (`00`) reads back
    as text with `pd.read_csv(path, dtype={"trial_id": str})`, and integer
    columns with empty cells (inactive hyperparameters) stay integers with
    `dtype_backend="numpy_nullable"` too.

    Example:

    ```python
    Path("trials.csv").write_text(trials_csv(trials_dataframe(run_dir)))
    frame = pd.read_csv("trials.csv", dtype={"trial_id": str}, dtype_backend="numpy_nullable")
    ```
    """
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype.kind in "fcO" or str(out[column].dtype) == "Int64":
            out[column] = (
                out[column]
                .map(lambda v: format_value(v) if not isinstance(v, str) else v)
                .astype(object)
            )
    return out.to_csv(index=False)
