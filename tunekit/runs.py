"""Many runs: `ls_runs` lists the run folders under a folder, `compare_runs` sets runs side by side.

Both read run folders only (`manifest.json`, `report.json` and KerasTuner's
`trial.json` files); they never load Keras, never write, and never raise on a
damaged run: a run whose state files cannot be read is a row whose status is
`corrupt: <file> (<reason>)`. `tunekit ls` and `tunekit compare`
(`tunekit.cli_main`) print these tables.

This module is over 400 lines because both tables rest on the same careful
reading of a run folder (every file and key checked, so a damaged run is a
row, not a traceback), and splitting the two would put that reading in a
third module; about a fifth of it is docstrings.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tunekit import _io
from tunekit.errors import TunekitError, UsageError
from tunekit.manifest import MANIFEST, STEPS, with_omitted_settings
from tunekit.regression import OWN_PREFIX, own_name
from tunekit.results import PHASES
from tunekit.run_lock import holder
from tunekit.state_files import missing_trials

__all__ = ["COLUMNS", "compare_runs", "find_runs", "ls_runs", "run_status"]

# One row of `ls_runs` per run; `test_metric` names the metric whose value is `test_value`.
COLUMNS = (
    "name",
    "status",
    "pid",
    "hypermodel",
    "backend",
    "objective",
    "direction",
    "best_val",
    "test_metric",
    "test_value",
    "baseline_delta",
    "params",
    "trials",
    "wall_time_s",
    "started",
)
# Columns whose best value depends on a direction (max or min) held per row.
_SCORES = {"best_val": "_val_sign", "test_value": "_test_sign", "baseline_delta": "_test_sign"}
# The metric `ls_runs` reports per task, its direction, before the objective's own metric.
_HEADLINE_METRICS = {"accuracy": "max", "mse": "min"}


# What reading a state file with values of the wrong kind or range raises (the run is corrupt).
_BAD_CONTENT = (KeyError, TypeError, ValueError, AttributeError, ArithmeticError)


class _Corrupt(TunekitError):
    """A state file of a run cannot be used: `file` (relative to the run) and `reason`."""

    def __init__(self, file: str, reason: str) -> None:
        super().__init__(f"{file} ({reason})")
        self.file = file
        self.reason = reason


_STATE_FILES = ("narrowed_space.json", "best_hyperparameters.json")


@dataclass
class _Run:
    """What one run folder holds, read once: the manifest, report and trials."""

    path: Path
    manifest: dict[str, Any]
    report: dict[str, Any] | None
    trials: dict[str, list[dict[str, Any]]]  # phase -> its trials' trial.json

    @property
    def config(self) -> dict[str, Any]:
        return self.manifest["config"]

    @property
    def steps(self) -> dict[str, dict[str, Any]]:
        return self.manifest["steps"]

    def step_status(self, name: str) -> str | None:
        return self.steps.get(name, {}).get("status")


def _read_json(run_dir: Path, name: str) -> Any:
    try:
        with open(run_dir / name, encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise _Corrupt(name, f"not valid JSON: {e}") from None
    except OSError as e:
        raise _Corrupt(name, f"unreadable: {e.strerror or e}") from None


_GONE = object()  # `_read_listed`: no file


def _read_listed(run_dir: Path, path: Path) -> Any:
    """`path`'s JSON (`_read_json`), or `_GONE` if it is not there: absent, or removed
    by another process since it was listed (a step that changes the run meanwhile)."""
    if not path.exists():
        return _GONE
    try:
        return _read_json(run_dir, str(path.relative_to(run_dir)))
    except _Corrupt:
        if not path.exists():
            return _GONE
        raise


def _load(run_dir: Path) -> _Run:
    """Reads the run in `run_dir`. Raises `_Corrupt` naming the first bad file."""
    if not (run_dir / MANIFEST).exists():  # a run's other files without it (`_is_run`)
        raise _Corrupt(MANIFEST, "missing, though the run's other files are there")
    manifest = _read_json(run_dir, MANIFEST)
    if not isinstance(manifest, dict):
        raise _Corrupt(MANIFEST, f"a JSON {type(manifest).__name__}, not an object")
    for key in ("config", "steps"):
        if not isinstance(manifest.get(key), dict):
            raise _Corrupt(MANIFEST, f"no {key!r} object")
    config = manifest["config"]
    if config.get("direction", "max") not in ("max", "min"):
        raise _Corrupt(MANIFEST, f"config.direction is {config['direction']!r}, not 'max' or 'min'")
    if not isinstance(config.get("objective", ""), str):
        raise _Corrupt(MANIFEST, f"config.objective is {config['objective']!r}, not a metric name")
    for name, step in manifest["steps"].items():
        if not isinstance(step, dict):
            raise _Corrupt(MANIFEST, f"step {name!r} is not an object")
    report = None
    if (run_dir / "report.json").exists():
        report = _read_json(run_dir, "report.json")
        if not isinstance(report, dict):
            raise _Corrupt("report.json", "not a JSON object")
    # The state files a rerun reads back: one it cannot read stops it, so the run is corrupt.
    state = [run_dir / name for name in _STATE_FILES]
    for phase in PHASES:
        oracle = run_dir / phase / "oracle.json"
        if not oracle.exists() and _io.scan(run_dir / phase, "tuner*.json"):  # as state_files
            raise _Corrupt(f"{phase}/oracle.json", "missing, though the search has its tuner")
        state += [oracle, *_io.scan(run_dir / phase, "tuner*.json")]
    for path in state:
        if (read := _read_listed(run_dir, path)) is _GONE:  # absent, or gone since listed
            continue
        if not isinstance(read, dict):
            raise _Corrupt(str(path.relative_to(run_dir)), "not a JSON object")
        if path.name == "oracle.json" and (gone := missing_trials(path.parent, read)):
            where = f"{path.parent.name}/trial_{gone[0]}"
            raise _Corrupt(where, f"missing, with {len(gone)} in all, though oracle.json lists it")
    trials: dict[str, list[dict[str, Any]]] = {}
    for phase in PHASES:
        trials[phase] = []
        for path in _io.scan(run_dir / phase, "trial_*/trial.json"):
            if (trial := _read_listed(run_dir, path)) is _GONE:  # gone since it was listed
                continue
            if not isinstance(trial, dict):
                raise _Corrupt(str(path.relative_to(run_dir)), "not a JSON object")
            trials[phase].append(trial)
    return _Run(run_dir, manifest, report, trials)


def _plan(run: _Run) -> list[str]:
    plan = run.manifest.get("plan")
    if isinstance(plan, list) and all(isinstance(p, dict) and "name" in p for p in plan):
        return [str(p["name"]) for p in plan]
    return [name for name in STEPS if name in run.steps] or ["coarse"]


def _status(run: _Run) -> str:
    """`finished`, `running: <step>`, `failed: <step>` or `interrupted: <step>` / `after <step>`.

    The manifest records which steps are done and which one was running; a
    run not finished whose lock no live process holds has stopped. It does
    not always record why: a step that stopped on an exception (tunekit's, Keras's
    or the hypermodel's, recorded as its `error`) or a search step whose latest
    trial failed is `failed`, anything else (a kill, Ctrl-C, SIGTERM, a process
    that died) `interrupted`.
    """
    if run.step_status("evaluate") == "done":
        return "finished"
    plan = _plan(run)
    running = [name for name in plan if run.step_status(name) == "running"]
    done = [name for name in plan if run.step_status(name) == "done"]
    pending = [name for name in plan if run.step_status(name) != "done"]
    current = running[0] if running else (pending[0] if pending else plan[-1])
    if holder(run.path) is not None:  # a live process holds its lock
        return f"running: {current}"
    if running:
        if run.steps.get(current, {}).get("error"):
            return f"failed: {current}"
        trials = sorted(run.trials.get(current, []), key=_trial_number)
        if trials and trials[-1].get("status") == "FAILED":
            return f"failed: {current}"
        return f"interrupted: {current}"
    return f"interrupted: after {done[-1]}" if done else "interrupted: before coarse"


def _trial_number(trial: dict[str, Any]) -> tuple[int, str]:
    trial_id = str(trial.get("trial_id", ""))
    return (int(trial_id), trial_id) if trial_id.isdigit() else (-1, trial_id)


def _finite(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _step_seconds(run: _Run, name: str, step: Any) -> float | None:
    """A step's recorded seconds; for a search stopped before it recorded them, its trials'.

    (An interrupted coarse phase with 4 finished trials was listed with 0.0 s.)
    """
    recorded = _finite(step.get("seconds")) if isinstance(step, dict) else None
    if recorded is not None or name not in run.trials:
        return recorded
    total = 0.0
    for trial in run.trials[name]:
        try:
            observations = trial["metrics"]["metrics"]["seconds"]["observations"]
            total += _finite(observations[-1]["value"][0]) or 0.0
        except (KeyError, IndexError, TypeError):
            continue
    return total or None


def _best_val(run: _Run, direction: str) -> float | None:
    """The best completed trial's score over both phases (the manifest's, if no trial is read)."""
    scores = [
        _finite(t.get("score"))
        for trials in run.trials.values()
        for t in trials
        if t.get("status") == "COMPLETED"
    ]
    scores += [_finite(run.steps.get(p, {}).get("best_score")) for p in PHASES]
    found = [s for s in scores if s is not None]
    if not found:
        return None
    return max(found) if direction == "max" else min(found)


def _test_metric(run: _Run, objective: str, direction: str) -> tuple[str | None, float | None, str]:
    """`(name, value, direction)` of the test metric a run is ranked by.

    Tunekit's own (scikit-learn's) accuracy for classification (from the report's
    confusion matrix when the model reports no `accuracy` of its own) and MSE for
    regression: the metrics the report compares with the baseline, the same
    quantity in every run. It is `sklearn_accuracy` / `sklearn_mse` beside a
    metric of the model's own of that name and another value (a top-2 accuracy, an
    MSLE called `mse`), else the plain name; accuracy under class weights too (not the
    `balanced_accuracy` such a run's verdict is decided on: runs would be ranked on two
    quantities). Else the objective's own metric, else `loss`.
    """
    metrics = run.steps.get("evaluate", {}).get("test_metrics")
    if not isinstance(metrics, dict) or run.step_status("evaluate") != "done":
        return None, None, direction
    report = run.report or {}
    counts = (report.get("confusion_matrix") or {}).get("counts")
    intervals = report.get("test_intervals")
    own = {  # tunekit's values that only an interval holds (`sklearn_accuracy`)
        k: v.get("value")
        for k, v in (intervals.items() if isinstance(intervals, dict) else ())
        if k.startswith(OWN_PREFIX) and isinstance(v, dict)
    }
    metrics = {**own, **metrics}
    if counts and OWN_PREFIX + "accuracy" not in metrics:  # the classes' accuracy, as the
        matrix = np.asarray(counts, dtype=float)  # report's baseline scores it
        accuracy = float(np.trace(matrix) / matrix.sum())
        metrics[own_name("accuracy", accuracy, metrics)] = accuracy
    headline = _HEADLINE_METRICS.items()
    candidates = [(start + name, way) for name, way in headline for start in (OWN_PREFIX, "")]
    candidates.append((objective.removeprefix("val_"), direction))
    for name, metric_direction in [*candidates, ("loss", "min")]:
        if _finite(metrics.get(name)) is not None:
            return name, _finite(metrics[name]), metric_direction
    return None, None, direction


def _baseline_delta(run: _Run, metric: str | None) -> float | None:
    """Tuned minus baseline on `metric`'s test value, from `report.json` (None if not compared)."""
    baseline = (run.report or {}).get("baseline")
    if not isinstance(baseline, dict) or metric is None:
        return None
    for row in baseline.get("metrics") or []:
        if isinstance(row, dict) and row.get("name") == metric:
            tuned, base = _finite(row.get("tuned")), _finite(row.get("baseline"))
            if tuned is not None and base is not None:
                return tuned - base
    return None


def _backend(state: Any) -> str | None:
    """Keras's backend from `report.json` or `manifest.json` (`jax`, `tensorflow`), else None."""
    backend = state.get("backend") if isinstance(state, dict) else None
    return backend if isinstance(backend, str) else None


def _hypermodel_name(config: dict[str, Any]) -> str | None:
    """`module.Class` (the last part of the module), e.g. `dense.DenseHyperModel`."""
    described = config.get("hypermodel")
    target = described.get("class") if isinstance(described, dict) else described
    if not isinstance(target, str):
        return None
    module, _, name = target.rpartition(".")
    return f"{module.rpartition('.')[2]}.{name}" if module else name


def _started(manifest: dict[str, Any]) -> str | None:
    created = _finite(manifest.get("created"))
    if created is None:
        return None
    try:
        return datetime.fromtimestamp(created).astimezone().isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):  # out of the platform's range: no start time
        return None


def _corrupt_row(name: str, error: _Corrupt, run_dir: Path) -> dict[str, Any]:
    return {column: None for column in COLUMNS} | {
        "name": name,
        "status": f"corrupt: {error}",
        "pid": _pid(run_dir),
        "trials": _completed_readable(run_dir),
    }


def _completed_readable(run_dir: Path) -> int:
    """The completed trials whose `trial.json` reads, in a run that is otherwise damaged
    (a bad `report.json` left 5 readable trials listed as 0, and `trials >= 1` dropped it)."""
    count = 0
    for path in _io.scan(run_dir, "*/trial_*/trial.json"):  # skips what vanishes
        if path.parent.parent.name not in PHASES:
            continue
        try:
            trial = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        count += isinstance(trial, dict) and trial.get("status") == "COMPLETED"
    return count


def _row(name: str, run_dir: Path) -> dict[str, Any]:
    """One row of `ls_runs` (with the hidden sign columns the default order uses)."""
    try:
        run = _load(run_dir)
        return _row_of(name, run)
    except _Corrupt as e:
        return _corrupt_row(name, e, run_dir)
    except _BAD_CONTENT as e:  # a value of the wrong kind
        return _corrupt_row(name, _Corrupt(MANIFEST, f"unexpected content: {e!r}"), run_dir)


def _pid(run_dir: Path) -> int | None:
    """The process id of the live process working on the run (holding its lock), else None
    (nobody, or a holder that did not write its record)."""
    found = re.fullmatch(r" \(pid (\d+), since .*\)", holder(run_dir) or "")
    return int(found.group(1)) if found else None


def _row_of(name: str, run: _Run) -> dict[str, Any]:
    config = run.config
    objective = str(config.get("objective", "")) or None
    direction = str(config.get("direction", "max"))
    test_name, test_value, test_direction = _test_metric(run, objective or "", direction)
    best = (run.report or {}).get("best")
    params = _finite(best.get("num_params")) if isinstance(best, dict) else None
    seconds = [_step_seconds(run, name, step) for name, step in run.steps.items()]
    return {
        "name": name,
        "status": _status(run),
        "pid": _pid(run.path),
        "hypermodel": _hypermodel_name(config),
        # Keras's backend as the report recorded it, else as the manifest did (a run not
        # finished has no report yet; one started before backends were recorded, neither).
        "backend": _backend(run.report) or _backend(run.manifest),
        "objective": objective,
        "direction": direction,
        "best_val": _best_val(run, direction),
        "test_metric": test_name,
        "test_value": test_value,
        "baseline_delta": _baseline_delta(run, test_name),
        "params": int(params) if params is not None else None,
        "trials": sum(
            t.get("status") == "COMPLETED" for trials in run.trials.values() for t in trials
        ),
        "wall_time_s": round(sum(s for s in seconds if s is not None), 1),
        "started": _started(run.manifest),
        "_val_sign": -1.0 if direction == "max" else 1.0,
        "_test_sign": -1.0 if test_direction == "max" else 1.0,
    }


def _is_run(path: Path) -> bool:
    """Whether `path` holds a tunekit manifest (a corrupt one counts: it is listed as corrupt),
    or a run's searches without it (a deleted manifest: listed as corrupt too)."""
    manifest = path / MANIFEST
    if not manifest.is_file():
        return (path / "coarse" / "oracle.json").is_file()
    try:
        state = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True  # unreadable or truncated: a damaged run, listed as corrupt
    # Another tool's manifest.json: no key of tunekit's.
    return not isinstance(state, dict) or bool({"config", "fingerprint", "steps"} & set(state))


def find_runs(directory: str | os.PathLike = "runs") -> Iterator[Path]:
    """The run folders under `directory` (itself included), sorted; never looks inside a run.

    Hidden folders (`.name`) are skipped; symbolic links to folders are not followed.
    """
    for root, dirs, _ in os.walk(Path(directory)):
        path = Path(root)
        if _is_run(path):
            dirs[:] = []
            yield path
        else:
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))


def _check_directory(directory: Any, argument: str) -> Path:
    if not isinstance(directory, (str, os.PathLike)):
        raise UsageError(f"{argument} must be a folder path. Received: {directory!r}.")
    path = Path(directory)
    if not path.is_dir():
        raise UsageError(
            f"{argument}={os.fspath(directory)!r} is not a folder"
            + (" (it does not exist)." if not path.exists() else ".")
        )
    return path


def _check_order(order: Any) -> str:
    """The column `order` names (a leading `-` reverses); raises `UsageError` if none."""
    column = order.removeprefix("-") if isinstance(order, str) else None
    if column not in COLUMNS:
        raise UsageError(
            f"order={order!r} is not a column. Expected one of {', '.join(COLUMNS)} "
            "(a leading '-' reverses the order, e.g. '-started')."
        )
    return column


def _order(frame: pd.DataFrame, order: str | None) -> pd.DataFrame:
    if order is None:  # best first: by the test metric, then (runs without one) by best_val
        keys = pd.DataFrame(
            {
                "has_test": frame["test_value"].isna(),
                "test": frame["test_value"] * frame["_test_sign"],
                "val": frame["best_val"] * frame["_val_sign"],
            }
        )
        index = keys.sort_values(["has_test", "test", "val"], kind="stable").index
        return frame.loc[index]
    descending = order.startswith("-")
    column = _check_order(order)
    key = frame[column] * frame[_SCORES[column]] if column in _SCORES else frame[column]
    index = key.sort_values(ascending=not descending, na_position="last", kind="stable").index
    return frame.loc[index]


def _filter_mask(frame: pd.DataFrame, filter: Any) -> pd.Series:
    """The rows `filter` (a `DataFrame.query` expression) keeps, as a boolean Series.

    Raises `UsageError` when it is not a valid query or not a true/false
    condition per row (e.g. `"1"`, `"trials"` or `"trials + 1"`).
    """
    example = "'status == \"finished\" and trials >= 10'"
    if not isinstance(filter, str) or not filter.strip():
        raise UsageError(
            f"filter must be a pandas query string, e.g. {example}. Received: {filter!r}."
        )
    # A missing value behaves alike in every column: pandas' Int64 (`params`) has pd.NA, which
    # `not (params > 40)` and `params != params` treated unlike the float columns' NaN.
    view = frame.astype({c: "float64" for c in frame.columns if str(frame[c].dtype) == "Int64"})
    try:
        mask = view.eval(filter, engine="python")
    except Exception as e:  # noqa: BLE001 (pandas raises many kinds: its message is kept)
        raise UsageError(
            f"filter={filter!r} is not a valid pandas query: {type(e).__name__}: {e}. "
            f"Columns: {', '.join(COLUMNS)}; strings in quotes, e.g. {example}."
        ) from None
    if not (
        isinstance(mask, pd.Series)
        and mask.index.equals(view.index)
        and (pd.api.types.is_bool_dtype(mask) or (frame.empty and mask.empty))
    ):
        raise UsageError(
            f"filter={filter!r} is not a condition: it must be true or false for each run "
            f"(it gave {_kind(mask)}). Compare a column, e.g. {example}."
        )
    return mask.fillna(False).astype(bool)  # a run without the value (params: NA) is left out


def _kind(value: Any) -> str:
    if isinstance(value, pd.Series):
        return f"a column of {value.dtype} values"
    if isinstance(value, pd.DataFrame):
        return "a table"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)} values"
    return f"the {type(value).__name__} {value!r}"


def ls_runs(
    directory: str | os.PathLike = "runs", *, order: str | None = None, filter: str | None = None
) -> pd.DataFrame:
    """One row per tunekit run folder under `directory` (searched recursively).

    A run folder is one holding tunekit's `manifest.json`; other folders are
    skipped, and a run's own subfolders are not searched. Works on runs in
    progress (their status says the step they are in) and never raises on a
    damaged run: it is a row with status `corrupt: <file> (<reason>)`.

    Columns: `name` (the folder, relative to `directory`), `status` (`finished`,
    `running: <step>`, `interrupted: <step>` (stopped in it) or `interrupted:
    after <step>`, `failed: <step>`, or `corrupt: ...`), `pid` (the process id of
    the live process working on the run, to wait for or stop; else empty), `hypermodel`, `backend`
    (Keras's backend the run trains on), `objective`, `direction`, `best_val`
    (the best trial's validation score, both phases), `test_metric` and
    `test_value` (tunekit's scikit-learn test accuracy for classification, MSE for
    regression, named `sklearn_accuracy` / `sklearn_mse` beside a model's own metric
    of that name and another value; else the objective's metric or the loss; a run
    with class weights too: one quantity for every run, its `balanced_accuracy` is
    in `compare_runs`' `test.balanced_accuracy`),
    `baseline_delta` (tuned minus baseline on that test metric, when the run trained
    a baseline), `params` (the chosen
    model's parameter count), `trials` (completed, both phases), `wall_time_s`
    (the seconds its steps took), `started` (ISO 8601, local time). Empty cells
    are None / NaN.

    Args:
        directory: The folder to search. Defaults to `"runs"`.
        order: A column to sort by; `best_val`, `test_value` and
            `baseline_delta` sort best first (each run's direction), the others
            ascending; a leading `-` reverses (e.g. `"-started"`). Defaults to
            best first by `test_value`, runs without one after by `best_val`.
        filter: A `pandas.DataFrame.query` expression on the columns, applied
            before ordering, e.g. `'status == "finished" and trials >= 10'`.

    Returns:
        A `pandas.DataFrame` with the columns above, one row per run.

    Raises:
        UsageError: `directory` is not a folder, `order` is not a column, or
            `filter` is not a valid query (pandas' message is kept) or not a
            true/false condition per run (e.g. `"trials"`).

    Example:
        >>> tunekit.ls_runs("runs", order="test_value").head(3)  # doctest: +SKIP
    """
    root = _check_directory(directory, "directory")
    if order is not None:
        _check_order(order)  # before reading any run
    rows = [
        _row(path.relative_to(root).as_posix() if path != root else path.resolve().name, path)
        for path in find_runs(root)
    ]
    frame = pd.DataFrame(rows, columns=[*COLUMNS, "_val_sign", "_test_sign"])
    for column in ("best_val", "test_value", "baseline_delta", "wall_time_s", "params"):
        frame[column] = frame[column].astype("float64")
    frame["params"] = frame["params"].astype("Int64")
    frame["pid"] = frame["pid"].astype("Int64")
    frame["trials"] = frame["trials"].astype("int64")
    if filter is not None:
        frame = frame[_filter_mask(frame, filter)]
    return _order(frame, order)[list(COLUMNS)].reset_index(drop=True)


def run_status(run_dir: str | os.PathLike) -> tuple[str, list[str]]:
    """`(status, steps done)` of the run in `run_dir`, as `ls_runs` says it."""
    try:
        run = _load(Path(run_dir))
        return _status(run), [n for n in _plan(run) if run.step_status(n) == "done"]
    except _Corrupt as e:
        return f"corrupt: {e}", []
    except _BAD_CONTENT as e:
        return f"corrupt: {MANIFEST} (unexpected content: {e!r})", []


def _flat(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    """`value` as `(dotted name, scalar)` pairs (lists as their JSON text)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flat(f"{prefix}.{key}" if prefix else str(key), item)
    elif isinstance(value, (list, tuple)):
        yield prefix, json.dumps(value, default=str)
    else:
        yield prefix, value


def _column(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """`(settings, results)` of one run for `compare_runs`."""
    try:
        run = _load(run_dir)
        row = _row_of(run_dir.name, run)
    except _Corrupt as e:
        return {}, {"result.status": f"corrupt: {e}"}
    except _BAD_CONTENT as e:
        return {}, {"result.status": f"corrupt: {MANIFEST} (unexpected content: {e!r})"}
    settings = dict(_flat("", with_omitted_settings(run.config)))
    results = {f"result.{k}": v for k, v in row.items() if k in COLUMNS and k != "name"}
    metrics = run.steps.get("evaluate", {}).get("test_metrics")
    if run.step_status("evaluate") == "done" and isinstance(metrics, dict):
        results |= {f"test.{k}": v for k, v in metrics.items()}
    best = (run.report or {}).get("best")
    if isinstance(best, dict):
        results["winner.trial"] = f"{best.get('phase')}/{best.get('trial_id')}"
        results |= dict(_flat("winner.hp", best.get("hyperparameters") or {}))
    return settings, results


def _result_rank(row: str) -> int:
    """The place of a result row's kind in `compare_runs` (a stable sort keeps the rest)."""
    for rank, prefix in enumerate(("result.", "test.", "winner.trial", "winner.hp.")):
        if row.startswith(prefix):
            return rank
    return 4


def _same(values: list[Any]) -> bool:
    def key(value: Any) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "null"
        return json.dumps(value, sort_keys=True, default=str)

    return len({key(v) for v in values}) <= 1


def compare_runs(*run_dirs: str | os.PathLike) -> pd.DataFrame:
    """Runs side by side: one column per run, one row per setting or result.

    Rows are the run's settings (its manifest's `config`, nested keys joined
    by `.`, e.g. `hypermodel.class`), then its results: `result.<column>` of
    `ls_runs`, `test.<metric>` (every test metric), `winner.trial` (the
    chosen trial) and `winner.hp.<name>` (its hyperparameters). Rows whose values differ between
    the runs come first (settings, then results), then the rows that agree
    (settings, then results); a value a run lacks is None.

    Args:
        *run_dirs: Two or more run folders (each holding `manifest.json`).

    Returns:
        A `pandas.DataFrame` indexed by row name (`setting`), one column per
        run named by its path as given; cells keep their types (object
        columns).

    Raises:
        UsageError: Fewer than two runs, the same run twice, or a path that is
            not a tunekit run folder.

    Example:
        >>> tunekit.compare_runs("runs/a", "runs/b").head(5)  # doctest: +SKIP
    """
    if len(run_dirs) < 2:
        raise UsageError(
            f"compare_runs needs two or more run folders. Received {len(run_dirs)}: "
            f"{[os.fspath(d) for d in run_dirs]}."
        )
    names = [os.fspath(d) for d in run_dirs]
    paths = [Path(d) for d in run_dirs]
    for name, path in zip(names, paths):
        if not (path / MANIFEST).is_file():
            raise UsageError(
                f"{name!r} is not a tunekit run folder (no {MANIFEST} in it"
                + ("" if path.exists() else "; it does not exist")
                + "). List the runs with tunekit.ls_runs(directory)."
            )
    if len({p.resolve() for p in paths}) < len(paths):
        raise UsageError(f"compare_runs got the same run twice: {names}.")
    columns = [_column(path) for path in paths]
    sections = []
    for part in (0, 1):  # settings, then results
        rows: dict[str, None] = {}
        for column in columns:
            rows |= dict.fromkeys(column[part])
        # Results by kind whatever run holds a row first (a test metric only the second run
        # has stays among the test rows): result.*, test.*, winner.trial, winner.hp.*.
        ordered_rows = sorted(rows, key=_result_rank) if part else list(rows)
        sections.append([(row, [c[part].get(row) for c in columns]) for row in ordered_rows])
    ordered = [
        item
        for differ in (True, False)
        for section in sections
        for item in section
        if _same(item[1]) != differ
    ]
    frame = pd.DataFrame(
        [values for _, values in ordered],
        index=pd.Index([row for row, _ in ordered], name="setting"),
        columns=names,
        dtype=object,
    )
    return frame
