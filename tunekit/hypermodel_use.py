"""What tunekit's own use of a hypermodel changes on it: state, learned as it happens.

A hypermodel reused in a notebook after a run (or after a Ctrl-C) holds what
its builds and fits changed: a `random.Random` or NumPy generator drawn from,
a scaler's `partial_fit`, a log a helper outside the class appends to, a held
layer's trained weights, a cache of built models. No reading of its source
sees all of that, and it is state, not a setting. A value changed by hand
between two runs (`hm._w = 512`) is a setting: a rerun in the same folder
must be refused naming it, not resume with the trials of two spaces.

So tunekit tells the two apart by when they change. `in_use(hypermodel)` wraps
tunekit's own use of the object (every step and read of `CoarseToFine`, and
the build of its default model): the object's `describe_state` before and
after (also on an error or a Ctrl-C) gives the paths that use changed, kept
per object for this process. `recorded_state(hypermodel)`, what a run records
and compares, is `describe_state` now with those paths' values as tunekit
first saw the object. What changed outside tunekit's use is compared as it is.

The same rule holds for every record of the object's values
(`recorded_values`): its description (`object_settings.describe_hypermodel`, public
numbers and strings), `object_settings.hypermodel_settings` and `describe_state`,
each without what its class's build and fit write (`build_state.kept_by_build`), so
a public `self.calls += 1` is state as a private one is.

A value both a build changes and you change by hand is not seen: make a new
object. A new object, or a new process, starts afresh.
"""

from __future__ import annotations

import contextlib
import copy
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tunekit.build_state import kept_by_build
from tunekit.hypermodel_state import describe_state
from tunekit.object_settings import (
    HYPERMODEL_SETTINGS,
    HYPERMODEL_STATE,
    describe_hypermodel,
    hypermodel_settings,
)

__all__ = ["DESCRIPTION", "described", "in_use", "recorded_state", "recorded_values"]

#: The key of `recorded_values` (and of `CoarseToFine.config()`) for `describe_hypermodel`.
DESCRIPTION = "hypermodel"

_ABSENT = object()  # a path a record lacks


@dataclass
class _Seen:
    """One hypermodel object as tunekit knows it in this process."""

    first: dict[str, Any]  # its `describe_state` when tunekit first saw it
    changed: set[tuple[str, ...]] = field(default_factory=set)  # key paths its use changed
    depth: int = 0  # nested `in_use` blocks
    before: dict[str, Any] = field(default_factory=dict)  # at the outermost block's start


_SEEN: weakref.WeakKeyDictionary[Any, _Seen] = weakref.WeakKeyDictionary()


def recorded_values(
    hypermodel: Any, now: dict[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """Every record of the hypermodel's values, as a run records and compares them.

    One rule for build state in all three: `DESCRIPTION`
    (`object_settings.describe_hypermodel`: its class and public simple
    attributes), `HYPERMODEL_SETTINGS` (`object_settings.hypermodel_settings`)
    and `HYPERMODEL_STATE` (`describe_state`). What its class's build and fit
    write (`kept_by_build`: `self.calls += 1`) is left out, and at the paths
    tunekit's own use of this object changed (`in_use`) the values are as
    tunekit first saw the object in this process. A public attribute changed
    by hand between two runs is compared as it is.

    Args:
        hypermodel: Anything given as `hypermodel=` (a build function: its
            description only).
        now: `described(hypermodel)` if already taken now (it is not changed).

    Returns:
        `{DESCRIPTION: ..., HYPERMODEL_SETTINGS: ..., HYPERMODEL_STATE: ...}`, new dicts.
    """
    now = described(hypermodel) if now is None else copy.deepcopy(now)
    seen = _seen(hypermodel, now)
    if seen is None or not seen.changed:
        return now
    return _restored(now, seen.first, seen.changed)


def recorded_state(hypermodel: Any) -> dict[str, Any]:
    """`describe_state(hypermodel)` as a run records and compares it (`recorded_values`)."""
    return recorded_values(hypermodel)[HYPERMODEL_STATE]


def described(hypermodel: Any) -> dict[str, dict[str, Any]]:
    """The three records of `recorded_values` as they are now, without what build and fit
    write and before any path is restored (what `in_use` compares)."""
    import keras_tuner as kt

    kept: frozenset[str] = frozenset()
    if isinstance(hypermodel, kt.HyperModel):
        kept = kept_by_build(hypermodel.__class__)
    description = describe_hypermodel(hypermodel)
    return {
        DESCRIPTION: {k: v for k, v in description.items() if k == "class" or k not in kept},
        HYPERMODEL_SETTINGS: {
            k: v for k, v in hypermodel_settings(hypermodel).items() if k not in kept
        },
        HYPERMODEL_STATE: describe_state(hypermodel),
    }


@contextlib.contextmanager
def in_use(hypermodel: Any, before: dict[str, Any] | None = None) -> Iterator[None]:
    """Marks tunekit's use of `hypermodel`: what it changes meanwhile is state.

    Re-entrant; the outermost block compares the object's `describe_state`
    before and after (on an error or a Ctrl-C too) and keeps the paths that
    changed, so `recorded_state` takes them as first seen. A build function,
    or an object that cannot be weakly referenced, is not followed. `before`:
    `described(hypermodel)` if already taken at the block's start.
    """
    seen = _seen(hypermodel)
    if seen is None:
        yield
        return
    if not seen.depth:
        seen.before = described(hypermodel) if before is None else before
    seen.depth += 1
    try:
        yield
    finally:
        seen.depth -= 1
        if not seen.depth:
            try:
                seen.changed |= _changed(seen.before, described(hypermodel))
            except Exception:  # noqa: BLE001 (what describes it failed: nothing learned)
                pass
            seen.before = {}


def _seen(hypermodel: Any, now: dict[str, Any] | None = None) -> _Seen | None:
    """The object's `_Seen`, made with `now` (else described now) on first sight; None for
    one without values (a build function) or that cannot be weakly referenced."""
    try:
        seen = _SEEN.get(hypermodel)
    except TypeError:  # not hashable
        return None
    if seen is None:
        import keras_tuner as kt

        if not isinstance(hypermodel, kt.HyperModel):
            return None
        first = described(hypermodel) if now is None else now
        seen = _Seen(first=copy.deepcopy(first))
        try:
            _SEEN[hypermodel] = seen
        except TypeError:  # no weak reference to it
            return None
    return seen


def _changed(old: Any, new: Any, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """The key paths where two records differ (an array's record is one value)."""
    if not (isinstance(old, dict) and isinstance(new, dict)) or "sha256" in old:
        return set() if old == new else {prefix}
    found: set[tuple[str, ...]] = set()
    for key in set(old) | set(new):
        a, b = old.get(key, _ABSENT), new.get(key, _ABSENT)
        if a is _ABSENT or b is _ABSENT:
            found.add((*prefix, key))
        elif a != b:
            found |= _changed(a, b, (*prefix, key))
    return found


def _restored(now: dict[str, Any], first: dict[str, Any], paths: set[tuple[str, ...]]) -> dict:
    """`now` with the value at each path as in `first` (dropped where `first` lacks it); where
    `now` holds no dict on the way, what it holds there is taken from `first` whole."""
    record = copy.deepcopy(now)
    for path in sorted(paths):
        node = record
        for i, key in enumerate(path):
            if i < len(path) - 1 and isinstance(node.get(key), dict):
                node = node[key]
                continue
            old = _at(first, path[: i + 1])
            if old is _ABSENT:  # tunekit's use made it
                node.pop(key, None)
            else:
                node[key] = copy.deepcopy(old)
            break
    return record


def _at(record: Any, path: tuple[str, ...]) -> Any:
    """The value at `path` in `record`, or `_ABSENT`."""
    for key in path:
        if not isinstance(record, dict) or key not in record:
            return _ABSENT
        record = record[key]
    return record
