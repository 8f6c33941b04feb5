"""Tables of a run: every trial of every phase as one pandas DataFrame."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from tunekit import _io

__all__ = ["trials_dataframe", "PHASES", "trial_epochs"]

PHASES = ("coarse", "fine")
_INTERNAL = "tuner/"
_FIRST_COLUMNS = [
    "phase", "trial_id", "status", "score", "best_step", "epochs", "initial_epoch",
    "seconds", "num_params",
]


def trial_epochs(best_step: int | None, values: dict[str, Any]) -> int:
    """Epochs from scratch to a trial's best epoch (Hyperband trials continue)."""
    return int(values.get("tuner/initial_epoch", 0)) + int(best_step or 0) + 1


def _last_value(metric: dict[str, Any]) -> float | None:
    observations = metric.get("observations") or []
    if not observations:
        return None
    value = observations[-1]["value"]
    value = value[0] if isinstance(value, list) else value
    return float(value)


def _trial_row(phase: str, state: dict[str, Any]) -> dict[str, Any]:
    hp_state = state.get("hyperparameters", {})
    values = hp_state.get("values", {})
    metrics = {
        name: _last_value(m) for name, m in state.get("metrics", {}).get("metrics", {}).items()
    }
    score = state.get("score")
    row: dict[str, Any] = {
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
    row.update(metrics)
    active = _active_names(hp_state)
    for name, value in values.items():
        if not name.startswith(_INTERNAL):
            row[f"hp_{name}"] = value if name in active else None
    message = (state.get("message") or "").strip()
    row["error"] = message.splitlines()[-1] if message else ""
    return row


def _active_names(hp_state: dict[str, Any]) -> set[str]:
    import keras_tuner as kt

    hp = kt.HyperParameters.from_config(hp_state)
    return {name for name in hp.values if hp.is_active(name)}


def trials_dataframe(run_dir: str | os.PathLike) -> pd.DataFrame:
    """Every trial of every phase of a run, one row each.

    Works on a finished run and on one still in progress (it reads the trial
    files KerasTuner writes after each trial). Columns: `phase`, `trial_id`,
    `status`, `score`, `best_step`, `epochs` (run in the trial),
    `initial_epoch` (Hyperband continuation), `seconds`, `num_params`, one
    column per reported metric (its value at the best epoch: KerasTuner keeps
    one per trial), `hp_<name>` per hyperparameter (empty where inactive), and
    `error` (the last line of a failed trial's message).

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
        for path in sorted((run_dir / phase).glob("trial_*/trial.json")):
            rows.append(_trial_row(phase, _io.read_json(path, what="KerasTuner trial file")))
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=_FIRST_COLUMNS)
    rest = [c for c in frame.columns if c not in _FIRST_COLUMNS]
    metrics = [c for c in rest if not c.startswith("hp_") and c != "error"]
    hps = [c for c in rest if c.startswith("hp_")]
    frame = frame[_FIRST_COLUMNS + metrics + hps + ["error"]]
    frame["phase"] = pd.Categorical(frame["phase"], categories=list(PHASES), ordered=True)
    frame = frame.sort_values(["phase", "trial_id"], kind="stable").reset_index(drop=True)
    frame["phase"] = frame["phase"].astype(str)
    return frame

