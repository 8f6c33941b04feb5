"""A worker refused by its chief for other settings, said as a refused rerun is.

The chief compares a worker's run settings (its `Hello`) with its own as a
rerun's are compared with the run's (`tunekit.manifest.compared`): the same
list of changes, the chief's value first (`seed: 0 -> 1`). The refusal travels
to the worker as text over gRPC, with its changes beside it (`answer`,
`from_answer`), so that each process says it as its interface does: on the
command line (`said`) by the options typed, the chief's command line for the
run's settings and the worker's for its own (`tunekit.cli_changes.restated`):
`--seed: not given (default 0) -> 1`, as a one-process rerun is refused, not
`seed: chief 0, worker 1` or `hypermodel_settings`.
"""

from __future__ import annotations

from typing import Any

from tunekit.cli_changes import restated
from tunekit.cli_parser import cli_message
from tunekit.errors import WorkerRefusedError, said_as
from tunekit.manifest import compared

__all__ = ["answer", "from_answer", "refusal", "said"]

REMEDY = "Start every worker with the chief's options (--seed, --data, budget)."


def refusal(
    chief: dict[str, Any], worker: dict[str, Any], chief_argv: list[str] | None = None
) -> WorkerRefusedError | None:
    """The chief's refusal of a worker whose settings (`CoarseToFine.config()`) differ
    from its own, or None when they are the same; `chief_argv`: the chief's command line
    (None for a run from Python)."""
    differences, changes, settings = compared(chief, worker)
    if not differences:
        return None
    text = (
        "this worker's settings differ from the chief's, each said as the chief's -> the "
        f"worker's ({'; '.join(differences)}). {REMEDY}"
    )
    return _attached(WorkerRefusedError(text), changes, differences, settings, chief_argv)


def _attached(
    error: WorkerRefusedError,
    changes: Any,
    differences: Any,
    settings: tuple[frozenset[str], frozenset[str]] | None,
    chief_argv: list[str] | None,
) -> WorkerRefusedError:
    said_as(error, [tuple(c) for c in changes])
    error.differences = tuple(differences)
    error.settings = settings
    error.chief_argv = chief_argv
    return error


def answer(error: WorkerRefusedError) -> dict[str, Any]:
    """`error` as the chief's answer to `Hello` (JSON: `tunekit.distribute.cluster`)."""
    keys, changed = error.settings or (frozenset(), frozenset())
    return {
        "error": str(error),
        "changes": [list(c) for c in error.changes],
        "differences": list(error.differences),
        "settings": [sorted(keys), sorted(changed)],
        "chief_argv": error.chief_argv,
    }


def from_answer(message: dict[str, Any]) -> WorkerRefusedError:
    """The chief's refusal (`answer`) as the worker raises it; a chief of an earlier
    version sends the text alone."""
    keys, changed = message.get("settings") or ([], [])
    argv = message.get("chief_argv")
    return _attached(
        WorkerRefusedError(message["error"]),
        message.get("changes") or (),
        message.get("differences") or (),
        (frozenset(keys), frozenset(changed)) if keys else None,
        argv if isinstance(argv, list) else None,
    )


def said(error: BaseException, argv: list[str] | None) -> str:
    """`error` on the command line: a refusal by the options typed, `argv` being this
    worker's command line (None when unknown: said by each setting's option)."""
    chief_argv = getattr(error, "chief_argv", None)
    if argv is not None and chief_argv is not None:
        error = restated(error, argv, recorded=chief_argv)
    return cli_message(error)
