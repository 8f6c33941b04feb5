"""Reading a run folder without changing it: is the run there this object's?

`CoarseToFine`'s read-only accessors (`result()`, `get_best_hyperparameters()`,
`get_best_models()`, `select()`) may be called on an object whose run folder
another object (or the command line) has since run with other settings. Opening
the folder with this object's settings would resume it with them:
`tunekit.replacing` would move the other run's model, report and plots to
`replaced/` (right for `run()` and the step methods, never for a read). So a
read compares first, changing nothing, and `check_settings` refuses a
difference with `RunConfigError`, naming each setting and what to do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tunekit import hypermodel_code, object_settings, replacing
from tunekit.errors import RunConfigError
from tunekit.manifest import _differences, fingerprint, versions, with_omitted_settings
from tunekit.params import PARAMETERS

__all__ = ["check_settings", "recorded_differences"]


def recorded_differences(
    run_dir: Path, state: dict[str, Any], config: dict[str, Any], backend: str | None
) -> tuple[list[str], set[str]]:
    """How a recorded run differs from `config`, compared as a resume compares it.

    Args:
        run_dir: The run folder (for the warning of another Python version).
        state: The recorded manifest (`manifest.json`'s object).
        config: This object's `CoarseToFine.config()`.
        backend: The Keras backend this process trains on.

    Returns:
        `(differences in words, "recorded -> this"; the changed setting
        names)`, both empty when a resume would go on unchanged.
    """
    recorded = state.get("config")
    config = replacing.as_recorded_main(recorded, config)
    config = object_settings.as_recorded(recorded, config, run_dir)
    config = hypermodel_code.as_recorded(recorded, config, run_dir)
    words: list[str] = []
    changed: set[str] = set()
    if state.get("versions") != versions():
        words += _differences(state.get("versions") or {}, versions())
        changed.add("versions")
    started_on = state.get("backend")
    if None not in (backend, started_on) and backend != started_on:
        words.append(f"backend: {started_on!r} -> {backend!r}")
        changed.add("backend")
    if state.get("fingerprint") != fingerprint(config):
        if isinstance(recorded, dict):
            old, new = with_omitted_settings(recorded), with_omitted_settings(config)
            words += _differences(old, new)
            changed |= replacing.changed_settings(old, new)
        else:
            words.append("configuration: unreadable in the manifest")
            changed.add("configuration")
    return words, changed


def check_settings(
    method: str,
    run_dir: Path,
    state: dict[str, Any],
    config: dict[str, Any],
    backend: str | None,
) -> None:
    """Raises `RunConfigError` when the run in `run_dir` has other settings than `config`.

    Reads only: nothing in `run_dir` changes.

    Args:
        method: The accessor, for the message (e.g. `"result()"`).
        run_dir: The run folder.
        state: Its recorded manifest.
        config: This object's `CoarseToFine.config()`.
        backend: The Keras backend this process trains on.
    """
    words, changed = recorded_differences(run_dir, state, config, backend)
    if not words:
        return
    recorded = with_omitted_settings(state.get("config") or {})
    keywords = [f"{k}={recorded.get(k)!r}" for k in sorted(changed) if k in PARAMETERS]
    if changed <= set(replacing.AFTER_SEARCH_SETTINGS):
        write = (
            "; or call run() on this object to run the steps after the searches again with "
            "its settings (the searches are kept; what those steps wrote moves to "
            f"{run_dir / replacing.REPLACED}/)"
        )
    else:
        write = (
            "; run() on this object is refused too: pass overwrite=True to start over with "
            "its settings, or choose another project_name="
        )
    raise RunConfigError(
        f"{method} reads the run in {run_dir}, but that run has other settings than this "
        f"CoarseToFine object ({'; '.join(words)}; the folder's value first): another "
        "object or command ran it since. Nothing was read or changed. To read it, use the "
        "object that ran it, or a new CoarseToFine with the folder's settings"
        + (f" ({', '.join(keywords)})" if keywords else "")
        + write
        + "."
    )
