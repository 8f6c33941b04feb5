"""Builds, before any training, of configurations other than the defaults': `variant_builds`.

The check before training builds the hypermodel with its default values. A
fault of the space's structure that only other values reach was found by the
first trial that drew them, after other trials trained: a name declared again
under other conditions in a loop's later passes (`hp.Choice("act", ...)` in each
pass of `with hp.conditional_scope("layers", ...)`, the defaults building one
layer), an override of `hyperparameters=` outside a scope the defaults skip, a
name `allow_new_entries=False` refuses that only a deeper loop declares.
`tunekit.steps.space_checks` looks for them in these builds (models only: no
data, no fit, each discarded with `keras.backend.clear_session()`), within a
small budget of builds (`MAX_BUILDS`; no time limit, so what is checked does not
depend on the machine's speed): a fault they do not reach is
refused, as before, by the search's oracle at the first trial that builds it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import keras
import keras_tuner as kt

from tunekit.tuners.declared import DeclaringHyperParameters

__all__ = ["MAX_BUILDS", "MAX_PARENT_BUILDS", "variant_builds"]

# Builds (no training) beyond the defaults' that look for what only other values declare,
# and the seconds after which no other is started. Without `hyperparameters=` or
# `allow_new_entries=False` only the conditional scopes' parents are varied, in at most
# MAX_PARENT_BUILDS builds: every run pays for them (the bundled dense model: 1 build).
MAX_BUILDS = 16
MAX_PARENT_BUILDS = 4


def variant_builds(
    hypermodel: kt.HyperModel,
    default: DeclaringHyperParameters,
    varied: set[str] | None = None,
    budget: int = MAX_BUILDS,
) -> Iterator[tuple[dict[str, Any], DeclaringHyperParameters]]:
    """Builds the hypermodel with one value changed at a time, from the defaults' build.

    Each build sets another value of one `Choice` or `Boolean`, or an `Int` at
    its smallest or largest value; then, from each such build, the same for
    the entries it declared that the defaults' build did not (a scope within a
    scope, a loop's later pass). The conditional scopes' parents are varied
    first (`layers` of `with hp.conditional_scope("layers", ...)`), then the
    `Int`s (loop counts), then the rest, at most `budget` builds in all (a build
    draws its weights, and under JAX each new shape compiles its initializers:
    0.3-1 s a build of the ToonVision CNN, 0.05 s a small dense model's). No
    time limit: a limit would make what is checked depend on the machine's load.
    A build that raises is skipped: a trial that draws it says why.

    Args:
        hypermodel: The hypermodel (its `build` is called; nothing is trained).
        default: The hyperparameters after the build with the defaults (the
            run's `hyperparameters=` first, as KerasTuner's oracle holds them).
        varied: The names whose values a search changes, or `None` (all of
            them); with `tune_new_entries=False`, the tuned entries of
            `hyperparameters=` (the others stay at their defaults in every trial).
        budget: The most builds made.

    Yields:
        `(values, hp)` for each build that succeeded: the values it changed
        from the defaults (`{"layers": 3}`), and its hyperparameters after the
        build (`hp.declared`: the names it asked for; `hp.space`: its entries).
    """
    parents = {c.name for hp in default.space for c in hp.conditions}
    first = sorted(default.space, key=lambda hp: _order(hp, parents))
    queue: list[tuple[dict[str, Any], list[Any], Any]] = [({}, [], hp) for hp in first]
    builds = 0
    while queue and builds < budget:
        base, more, hp = queue.pop(0)
        if varied is not None and hp.name not in varied:
            continue
        for value in _others(hp, base.get(hp.name, default.values.get(hp.name))):
            if builds >= budget:
                return
            builds += 1
            other = DeclaringHyperParameters.from_config(default.get_config())  # a new one:
            # KerasTuner's from_config deserialises the conditions in the dict it is given
            held = {one.name for one in other.space}
            other.merge([one for one in more if one.name not in held])  # the build's new ones
            for one in other.space:  # entries inactive there hold no value
                other.values.setdefault(one.name, one.default)
            tried = {**base, hp.name: value}
            other.values.update(tried)
            try:
                hypermodel.build(other)
            except Exception:  # noqa: BLE001, S112 - a combination the build refuses: a trial says why
                continue
            finally:
                keras.backend.clear_session()
            yield tried, other
            asked = other.declared - default.declared - set(tried)  # not by the defaults'
            deeper = sorted(
                (new for new in other.space if new.name in asked),
                key=lambda new: _order(new, parents),
            )
            queue += [(tried, deeper, new) for new in deeper]


def _order(hp: Any, parents: set[str]) -> int:
    """Which entries are varied first: a scope's parent, then an `Int`, then the rest."""
    if hp.name in parents:
        return 0
    return 1 if isinstance(hp, kt.engine.hyperparameters.Int) else 2


def _others(hp: Any, now: Any) -> list[Any]:
    """The values of `hp` other than `now` a build is tried with."""
    if isinstance(hp, kt.engine.hyperparameters.Boolean):
        return [not now]
    if isinstance(hp, kt.engine.hyperparameters.Choice):
        return [value for value in hp.values if value != now]
    if isinstance(hp, kt.engine.hyperparameters.Int):
        return [value for value in (hp.min_value, _largest(hp)) if value != now]
    return []


def _largest(hp: Any) -> int:
    """An `Int`'s largest value a search proposes (`Int("u", 8, 60, step=8)`: 56)."""
    step = getattr(hp, "step", None)
    if getattr(hp, "sampling", "linear") == "linear" and isinstance(step, int) and step > 1:
        return int(hp.min_value + (hp.max_value - hp.min_value) // step * step)
    return int(hp.max_value)
