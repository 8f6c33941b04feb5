"""A test-only fault hook: stop the process at a named point.

Set `TUNEKIT_FAULT` to `point:n` (e.g. `coarse.trial_start:3`) and the process
kills itself with SIGKILL the n-th time it reaches that point. Points:
`coarse.trial_start`, `fine.trial_start`, `phase.end` (after a phase's state
is saved), `retrain.epoch_end`, `write.mid` (inside an atomic write). Several
may be given, separated by commas. Unset, `checkpoint` costs one dict lookup.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

_hits: Counter[str] = Counter()


def checkpoint(point: str) -> None:
    """Kills this process if `TUNEKIT_FAULT` names `point` and its count is reached."""
    spec = os.environ.get("TUNEKIT_FAULT")
    if not spec:
        return
    _hits[point] += 1
    for item in spec.split(","):
        name, _, count = item.strip().partition(":")
        if name == point and _hits[point] == int(count or 1):
            os.kill(os.getpid(), signal.SIGKILL)
