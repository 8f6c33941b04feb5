"""A run resumed with other settings for the steps after its searches.

`finalists`, `finalist_seeds`, `final_epochs`, `final_schedule`,
`final_seeds` and `baseline` are read only after the coarse and fine
searches. A rerun that changes nothing else keeps the searches, their trials
and the narrowing, and runs again the first step the changed settings affect
and every step after it. What those steps wrote (model, report, plots, their
TensorBoard logs and `timing.csv` rows) moves to `<run>/replaced/<UTC
time>/`, with a `replaced.json` holding the old configuration and the steps'
records: nothing computed is deleted. `tunekit.manifest.RunManifest.open`
calls `redo_after_search`; any other change is refused there, but for the
failure tolerances (`TOLERANCES`: how many failed trials in a row stop a
search, how often a failed trial is retried), which change no trial already
ended: a rerun takes their new values from there on (`adopt_tolerances`).
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tunekit import _io
from tunekit.params import PARAMETERS

__all__ = [
    "AFTER_SEARCH_SETTINGS",
    "TOLERANCES",
    "adopt_tolerances",
    "as_recorded_main",
    "FINAL_LOGS",
    "REPLACED",
    "Replacement",
    "changed_settings",
    "free_settings_note",
    "redo_after_search",
    "set_aside",
]

#: Each after-search setting, with the first step it changes.
AFTER_SEARCH_SETTINGS: dict[str, str] = {
    "finalists": "finalists",
    "finalist_seeds": "finalists",
    "final_epochs": "retrain",
    "final_schedule": "retrain",
    "final_seeds": "final_seeds",
    "baseline": "baseline",
}
#: Settings a rerun may change at any point: they change no trial already ended.
TOLERANCES = ("max_consecutive_failed_trials", "max_retries_per_trial")
#: Where a rerun with other after-search settings moves the outputs it replaces.
REPLACED = "replaced"
#: The retrain's TensorBoard logs (the evaluate step adds its images under `test/`).
FINAL_LOGS = "tensorboard/final"
# Files of steps that their `outputs` do not name: a retrain's TensorBoard logs, the backup of
# an interrupted retrain (with the old settings' epoch count), the report's plots.
_STEP_EXTRAS = {
    "retrain": ("retrain_backup", FINAL_LOGS),
    "evaluate": ("plots", f"{FINAL_LOGS}/test"),  # the report's images
}
#: The steps after the search in a user's words (`Replacement.message`).
STEP_WORDS = {
    "finalists": "the finalists' retraining",
    "retrain": "the retraining on train+validation",
    "final_seeds": "the final model's other seeds",
    "baseline": "the baseline",
    "evaluate": "the test evaluation",
}


def _joined(items: Sequence[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


#: The steps a replacement never touches.
SEARCH_STEPS = ("coarse", "narrow", "fine")


@dataclasses.dataclass(frozen=True)
class Replacement:
    """A run resumed with other after-search settings: what changed, where the old went.

    Attributes:
        diff: The changes in words, e.g. `"finalists: 0 -> 3"`.
        folder: Where the replaced files went; `None` when none of the
            steps the changes affect had run.
    """

    diff: str
    folder: Path | None

    def message(self, run_dir: Path, to_run: Sequence[str]) -> str:
        """The line that tells the user, given the steps that will now run (in order)."""
        text = (
            f"The run in {run_dir} goes on with other settings for the steps after the search "
            f"({self.diff}): the searches and their trials are kept"
        )
        if to_run:
            steps = [STEP_WORDS.get(step, step) for step in to_run]
            text += f"; {_joined(steps)} run{'s' if len(to_run) == 1 else ''} now"
        if self.folder is None:
            return text + " (none of the steps these settings change had run)."
        return text + f". What the earlier steps wrote is kept in {self.folder}."


_TIMING = "timing.csv"


def changed_settings(recorded: dict[str, Any], config: dict[str, Any]) -> set[str]:
    """The keys whose values differ between two configurations (a missing key is `None`)."""
    return {k for k in set(recorded) | set(config) if recorded.get(k) != config.get(k)}


def adopt_tolerances(old: dict[str, Any], config: dict[str, Any]) -> str | None:
    """Records in the run state `old` the `TOLERANCES` of `config` that differ; says which.

    A configuration records a setting only when it differs from its default
    (`CoarseToFine.config`): one absent from both is unchanged. Returns a
    sentence for the user, or `None` when none changed.
    """
    recorded = old.get("config")
    if not isinstance(recorded, dict):
        return None
    changed = [k for k in TOLERANCES if recorded.get(k) != config.get(k)]
    recorded_before = {k: recorded.get(k, _default(k)) for k in changed}
    for key in changed:
        if key in config:
            recorded[key] = config[key]
        else:
            recorded.pop(key, None)
    if not changed:
        return None
    said = [f"`{k}` ({recorded_before[k]} -> {config.get(k, _default(k))})" for k in changed]
    return (
        f"{_joined(said)} changed: the new value{'s apply' if len(said) > 1 else ' applies'} "
        "from here on (the trials already ended are kept as they are)."
    )


def _planned_outputs(state: dict[str, Any]) -> dict[str, list[str]]:
    """Each step's output files, as the run's recorded plan names them."""
    return {
        entry["name"]: entry.get("outputs", [])
        for entry in state.get("plan") or []
        if isinstance(entry, dict) and "name" in entry
    }


def _default(key: str) -> Any:
    return PARAMETERS[key].default


def free_settings_note(changed: set[str]) -> str:
    """For a refusal: which of the `changed` settings could have changed on their own."""
    free = sorted(changed & set(AFTER_SEARCH_SETTINGS))
    if not free:
        return ""
    each = "may change on its own" if len(free) == 1 else "may each change on their own"
    return (
        f" ({_joined([f'`{k}`' for k in free])} {each}: the searches are kept and the steps "
        "after them run again.)"
    )


def redo_after_search(
    run_dir: Path,
    old: dict[str, Any],
    new: dict[str, Any],
    changed: set[str],
    diff: str,
    steps_in_order: Sequence[str],
    settings: dict[str, Any],
) -> tuple[dict[str, Any], Replacement]:
    """The manifest state of a run resumed with other after-search settings.

    Moves the files of the steps that run again to `replaced/<UTC time>/`
    (the caller saves the returned state at once).

    Args:
        run_dir: The run folder.
        old: The recorded manifest state (`config`, `steps`, `plan`, ...).
        new: The new `config`, `fingerprint` and `versions`.
        changed: The changed settings, all keys of `AFTER_SEARCH_SETTINGS`.
        diff: The changes in words (`"finalists: 0 -> 3"`), for the log line.
        steps_in_order: Every step name in run order (`tunekit.manifest.STEPS`).
        settings: The old configuration with every setting it leaves out at
            its value (`tunekit.manifest.with_omitted_settings`), for
            `replaced.json`.

    Returns:
        `old` with `new`'s fields, without the records of the steps that run
        again and without the plan (the workflow records it again); and the
        `Replacement`, for the workflow to tell.
    """
    first = min(steps_in_order.index(AFTER_SEARCH_SETTINGS[k]) for k in changed)
    steps = dict(old.get("steps") or {})
    redo = [name for name in steps_in_order[first:] if name in steps]
    kept = {**old, **new, "steps": {k: v for k, v in steps.items() if k not in redo}}
    kept.pop("plan", None)
    if old.get("backend") is not None:
        kept["backend"] = old["backend"]
    if not redo:
        return kept, Replacement(diff, None)
    outputs = _planned_outputs(old)
    names = [
        name for step in redo for name in (*outputs.get(step, ()), *_STEP_EXTRAS.get(step, ()))
    ]
    target = set_aside(
        run_dir,
        names,
        {
            "config": settings,
            "backend": old.get("backend"),
            "steps": {name: steps[name] for name in redo},
        },
        timing_steps=redo,
    )
    return kept, Replacement(diff, target)


def set_aside(
    run_dir: Path,
    names: Sequence[str],
    record: dict[str, Any],
    *,
    timing_steps: Sequence[str] = (),
) -> Path:
    """Moves the files and folders `names` (relative to `run_dir`) to `replaced/<UTC time>/`.

    Nothing computed is deleted: a step that runs again moves what its earlier
    run wrote out of the way, and `replaced.json` there says what it was.

    Args:
        run_dir: The run folder.
        names: Paths relative to `run_dir`; those that do not exist are left out.
        record: Written to `replaced.json` with the moved `files` and `replaced_at`
            (seconds since the epoch).
        timing_steps: Steps whose `timing.csv` rows move too.

    Returns:
        The folder the files went to (made even when nothing was there to move): a
        new one each call, `<UTC time>-2`, `-3`... within one second.
    """
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    (run_dir / REPLACED).mkdir(parents=True, exist_ok=True)
    for n in itertools.count(1):  # two replacements in one second: `<time>-2`, never merged
        target = run_dir / REPLACED / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            target.mkdir()
            break
        except FileExistsError:
            continue
    moved = []
    for name in names:
        if not (run_dir / name).exists():  # never written, or inside a folder moved before
            continue
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        os.replace(run_dir / name, target / name)
        moved.append(name)
    if _move_timing_rows(run_dir / _TIMING, target / _TIMING, timing_steps):
        moved.append(_TIMING)
    _io.write_json(target / "replaced.json", {**record, "files": moved, "replaced_at": time.time()})
    return target


def _move_timing_rows(source: Path, target: Path, steps: Sequence[str]) -> int:
    """Moves the rows of `steps` from the `timing.csv` at `source` to one at `target`.

    Returns:
        How many rows moved (0: nothing is written).
    """
    if not source.is_file():
        return 0
    lines = source.read_text().splitlines(keepends=True)
    if not lines:
        return 0
    header, rows = lines[0], lines[1:]
    moving = [row for row in rows if row.split(",", 1)[0] in steps]
    if moving:
        target.write_text(header + "".join(moving))
        rest = header + "".join(row for row in rows if row not in moving)

        def write(tmp: str) -> None:
            Path(tmp).write_text(rest)

        _io.atomic_write(source, write)
    return len(moving)


def as_recorded_main(recorded: Any, config: dict[str, Any]) -> dict[str, Any]:
    """`config` with the recorded hypermodel's name when the two differ only in that one
    of them was defined in the script run as `__main__` (`python r_main.py` records
    `__main__.build`; `from r_main import build` in a notebook gives `r_main.build`): the
    same code, read back from another script. Else `config` itself."""
    old = recorded.get("hypermodel") if isinstance(recorded, dict) else None
    now = config.get("hypermodel")
    if not (isinstance(old, dict) and isinstance(now, dict)) or old == now:
        return config
    if {k: v for k, v in old.items() if k != "class"} != {
        k: v for k, v in now.items() if k != "class"
    }:
        return config
    names = [str(old.get("class", "")), str(now.get("class", ""))]
    mains = [n for n in names if n.startswith("__main__.")]
    if len(mains) != 1 or any("." not in n for n in names):
        return config
    qualname = mains[0].removeprefix("__main__.")
    other = next(n for n in names if n not in mains)
    if not other.endswith("." + qualname):
        return config
    return {**config, "hypermodel": old}
