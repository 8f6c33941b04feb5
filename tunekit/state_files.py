"""A run folder's state files read back: each one whole, or a message that says what to do.

A truncated or hand-edited `manifest.json`, `narrowed_space.json`,
`best_hyperparameters.json` or KerasTuner `trial.json` / `oracle.json` is named with its
parse error, how many completed trials the searches still hold, and the
options that lose nothing; nothing on disk is changed. The outputs nothing
reads back (`report.json`, `report.md`, `trials.csv`, the plots, `.keras`
models) are checked whole by `damaged_output` / `damaged_plots`: a damaged one
is made again, as a deleted one is (`tunekit.steps.redo.outputs_missing`).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from tunekit import _io, _log
from tunekit.errors import RunConfigError

__all__ = [
    "DATA_FILES",
    "MANIFEST",
    "REPORT",
    "damaged_output",
    "damaged_plots",
    "whole_image",
    "check_kerastuner_project",
    "check_search_space",
    "completed_trials_found",
    "failed_trials",
    "holds_results",
    "missing_trials",
    "read_run_file",
]

MANIFEST = "manifest.json"
REPORT = "report.json"
# An image folder's files when the run started (`[relative path, bytes, digest]`), kept
# to name what changed when a resume with the changed folder is refused.
DATA_FILES = "data_files.json"


def _scan_kerastuner_project(project_dir: Path) -> tuple[int, list[tuple[Path, Exception]]]:
    """`(COMPLETED trials, [(unreadable state file, error)])` of a KerasTuner project."""
    if not project_dir.exists():
        return 0, []
    trial_files = _io.scan(project_dir, "trial_*/trial.json")  # skips what vanishes
    completed, bad = 0, list[tuple[Path, Exception]]()
    # KerasTuner reloads a project whose tuner file exists, and then needs its oracle file
    # (trials without either: a kill before the first save; KerasTuner starts afresh).
    if _io.scan(project_dir, "tuner*.json") and not (project_dir / "oracle.json").exists():
        missing = project_dir / "oracle.json"
        bad.append((missing, _io.StateFileError(f"KerasTuner state file {missing} is missing.")))
    for path in [project_dir / "oracle.json", *_io.scan(project_dir, "tuner*.json"), *trial_files]:
        if not path.exists():
            continue
        try:
            state = _io.read_json(path, what="KerasTuner state file")
        except FileNotFoundError:  # gone since it was listed (another process changed it)
            continue
        except (_io.StateFileError, OSError) as e:
            bad.append((path, e))
            continue
        if path.name == "oracle.json" and (gone := missing_trials(project_dir, state)):
            gone_error = _io.StateFileError(_gone(project_dir, gone))
            bad.append((project_dir / f"trial_{gone[0]}", gone_error))
        if path in trial_files and isinstance(state, dict) and state.get("status") == "COMPLETED":
            completed += 1
    return completed, bad


def missing_trials(project_dir: Path, oracle: Any) -> list[str]:
    """The trial ids KerasTuner's `oracle.json` (`oracle`, as read) lists as started whose
    `trial_<id>/trial.json` is gone from `project_dir`.

    KerasTuner writes a trial's file before the oracle's, so on disk every id in the
    oracle's `start_order` has one. Reloaded without it, the oracle counts the trial and
    hands its id out again: the next trials overwrite a finished one, or a search never
    reaches its budget.
    """
    ids = oracle.get("start_order") if isinstance(oracle, dict) else None
    if not isinstance(ids, list):
        return []
    return [str(i) for i in ids if not (project_dir / f"trial_{i}" / "trial.json").is_file()]


def _gone(project_dir: Path, ids: list[str]) -> str:
    folders = _log.listed(ids, 5, form="trial_{}".format)
    return (
        f"KerasTuner's oracle.json in {project_dir} lists {len(ids)} trial(s) whose folder or "
        "trial.json is "
        f"missing ({folders}): KerasTuner would hand their ids out again, and a new trial "
        "would overwrite whichever trial holds one."
    )


def check_kerastuner_project(project_dir: Path) -> int:
    """Checks that KerasTuner's state files in `project_dir` can be reloaded.

    Returns:
        The number of COMPLETED trials found (0 if there is no project yet).

    Raises:
        tunekit._io.StateFileError: Naming the corrupt file, the parse error,
            how many completed trials were found, and the safe options.
            Nothing on disk is changed.
    """
    completed, bad = _scan_kerastuner_project(project_dir)
    if bad:
        path, error = bad[0]
        raise _io.StateFileError(
            f"{error} Found {completed} completed trial(s) in {project_dir}. Safe options: "
            f"restore {path.name} from a backup and rerun to resume; or delete the folder "
            f"{project_dir} and rerun: that search runs again and the other phase's trials are "
            "kept; or rerun with overwrite=True to start the run over."
        )
    return completed


def completed_trials_found(run_dir: Path) -> str:
    """`'Found 12 completed coarse and 3 completed fine trial(s)'`, for a message.

    Counts the trials whose `trial.json` reads as COMPLETED in the run's
    `coarse/` and `fine/` KerasTuner projects (unreadable files are skipped).
    """
    counts = {phase: _scan_kerastuner_project(run_dir / phase)[0] for phase in ("coarse", "fine")}
    return (
        f"Found {counts['coarse']} completed coarse and {counts['fine']} completed fine "
        f"trial(s) in {run_dir}"
    )


def read_run_file(run_dir: Path, name: str, *, what: str) -> Any:
    """Reads the run's JSON file `name`; a corrupt one raises with the safe options.

    Raises:
        tunekit._io.StateFileError: Naming the file, the parse error, how many
            completed trials the searches hold, and what to do: for
            `manifest.json`, restore it or start over; for a step's output
            (`narrowed_space.json`, `best_hyperparameters.json`), delete it and rerun,
            which runs that step again. Nothing on disk is changed.
    """
    if name == MANIFEST:
        options = (
            f"restore {name} from a backup and rerun to resume, or rerun with "
            "overwrite=True to start the run over (the trials are deleted)."
        )
    else:
        options = (
            f"delete {name} and rerun: the step that writes it runs again and the "
            "searches keep their trials; or restore it from a backup."
        )
    try:
        state = _io.read_json(run_dir / name, what=what)
    except _io.StateFileError as e:
        problem = str(e)
    else:
        shape_ok = isinstance(state, dict) and (
            name != MANIFEST
            or (
                isinstance(state.get("config"), dict)
                and isinstance(state.get("steps"), dict)
                and all(isinstance(step, dict) for step in state["steps"].values())
            )
        )
        if shape_ok:
            return state
        expected = "with 'config' and 'steps' objects" if name == MANIFEST else "of tunekit's"
        problem = (
            f"The {what} {run_dir / name} is not what tunekit wrote (a JSON object "
            f"{expected}). Nothing was changed on disk."
        )
    found = completed_trials_found(run_dir)
    raise _io.StateFileError(f"{problem} {found}. Safe options: {options}")


def holds_results(run_dir: Path, state: dict[str, Any]) -> bool:
    """Whether a run has anything worth keeping: a finished step or a completed trial.

    Trials are KerasTuner's `<phase>/trial_*/trial.json`. A trial that was
    running is run again from its start on resume, so only COMPLETED ones
    count; one that cannot be read counts too (never delete what cannot be
    checked).
    """
    steps = state.get("steps")
    if not isinstance(steps, dict) or any(
        isinstance(v, dict) and v.get("status") == "done" for v in steps.values()
    ):
        return True
    for path in _io.scan(run_dir, "*/trial_*/trial.json"):
        try:
            if json.loads(path.read_text()).get("status") == "COMPLETED":
                return True
        except FileNotFoundError:  # gone since it was listed
            continue
        except (OSError, ValueError, AttributeError):
            return True
    return False


def failed_trials(run_dir: Path) -> int:
    """How many of a run's KerasTuner trials ended FAILED or INVALID (unreadable ones: 0)."""
    failed = 0
    for path in _io.scan(run_dir, "*/trial_*/trial.json"):  # skips what vanishes
        try:
            failed += json.loads(path.read_text()).get("status") in ("FAILED", "INVALID")
        except (OSError, ValueError, AttributeError):
            continue
    return failed


def check_search_space(run_dir: Path, declared: Any) -> None:
    """Refuses to resume a run whose hypermodel now declares another search space.

    The run's settings name the hypermodel by its module and name only; an
    edited `build` (other ranges, choices or defaults) would resume with the
    space KerasTuner saved in `<run>/coarse/oracle.json` (it keeps a name's
    first definition) while the baseline and retrain build from the new code.
    Each hyperparameter in `declared` (a `keras_tuner.HyperParameters` a build
    with the defaults filled) that the saved space also holds must be defined
    the same.

    Raises:
        RunConfigError: Naming each changed hyperparameter, old -> new.
    """
    import keras_tuner as kt  # not at import: the command line's checks load no Keras

    from tunekit.narrowed_space import describe

    path = run_dir / "coarse" / "oracle.json"
    if not path.is_file():
        return
    try:
        saved = kt.HyperParameters.from_config(json.loads(path.read_text())["hyperparameters"])
    except (OSError, ValueError, KeyError, TypeError):
        return  # check_kerastuner_project names an unreadable file
    before = {hp.name: hp for hp in saved.space}
    changed = [
        f"{hp.name}: {describe(before[hp.name])} -> {describe(hp)}"
        + ("" if describe(before[hp.name]) != describe(hp) else " (its default or conditions)")
        for hp in declared.space
        if hp.name in before and before[hp.name].get_config() != hp.get_config()
    ]
    if changed:
        raise RunConfigError(
            f"The hypermodel's search space changed since the run in {run_dir} started "
            f"({'; '.join(changed)}): its trials were drawn from the old one. Restore the "
            "hypermodel's code to resume, pass overwrite=True to start over, or choose another "
            "project_name=."
        )


def damaged_output(path: Path) -> bool:
    """Whether the output file `path` is damaged (see `outputs_missing`); a folder is not."""
    if not path.is_file():
        return False
    try:
        if path.suffix == ".keras":  # a whole zip archive, its CRCs checked
            with zipfile.ZipFile(path) as archive:
                return archive.testzip() is not None
        if path.name == REPORT:  # the state files tunekit reads back say what to do instead
            content = json.loads(path.read_text(encoding="utf-8"))
            return not isinstance(content, dict) or not content
        return path.suffix in (".csv", ".md") and path.stat().st_size == 0
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):  # UnicodeError is one
        return True


def damaged_plots(run_dir: Path) -> list[str]:
    """The plots a readable `report.json` names that are not in `<run>/plots`."""
    try:
        named = json.loads((run_dir / REPORT).read_text(encoding="utf-8")).get("plots") or {}
    except (OSError, ValueError, AttributeError):
        return []
    # Relative to the run folder (an older report: to where the run started): by file name.
    plots = [f"plots/{Path(str(path)).name}" for path in named.values()]
    return [
        name if not (run_dir / name).exists() else f"{name} (unreadable)"
        for name in plots
        if not whole_image(run_dir / name)
    ]


def whole_image(path: Path) -> bool:
    """Whether `path` is a file, and a PNG's ends with its IEND chunk (not truncated)."""
    try:
        with open(path, "rb") as f:
            if path.suffix.lower() != ".png":
                return bool(f.read(1))
            f.seek(0, 2)
            if f.tell() < 12:
                return False
            f.seek(-12, 2)
            return f.read()[4:8] == b"IEND"
    except OSError:
        return False
