"""A test-only fault hook: stop the process at a named point.

Set `TUNEKIT_FAULT` to `point:n` (e.g. `coarse.trial_start:3`) and the process
kills itself with SIGKILL the n-th time it reaches that point; `point:n:raise`
raises `RuntimeError("injected fault ...")` there instead (a failing trial). Points:
`coarse.trial_start`, `fine.trial_start`, `phase.end` (after a phase's state
is saved), `finalists.fit_end` and `final_seeds.fit_end` (after a fit is
recorded), `retrain.epoch_end`, `write.mid` (inside an atomic write). Several
may be given, separated by commas. With `TUNEKIT_FAULT_ONCE` set to a folder,
each fault fires in the first process that reaches it only (a restarted or
sibling worker goes on). Unset, `checkpoint` costs one dict lookup.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

_hits: Counter[str] = Counter()


def _first(item: str) -> bool:
    folder = os.environ.get("TUNEKIT_FAULT_ONCE")
    if not folder:
        return True
    try:
        os.close(
            os.open(
                os.path.join(folder, item.replace(":", "_").replace("/", "_")),
                os.O_CREAT | os.O_EXCL | os.O_WRONLY,
            )
        )
    except FileExistsError:
        return False
    return True


def checkpoint(point: str) -> None:
    """Kills this process if `TUNEKIT_FAULT` names `point` and its count is reached."""
    spec = os.environ.get("TUNEKIT_FAULT")
    if not spec:
        return
    _hits[point] += 1
    for item in spec.split(","):
        name, _, rest = item.strip().partition(":")
        count, _, action = rest.partition(":")
        if name == point and _hits[point] == int(count or 1) and _first(item):
            if action == "raise":
                raise RuntimeError(f"injected fault at {point} #{_hits[point]}")
            os.kill(os.getpid(), signal.SIGKILL)
