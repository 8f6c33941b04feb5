"""What `narrow_space` reads from KerasTuner trials: the direction, and which values count.

A KerasTuner `Trial` records each metric with its direction (`trial.metrics`)
and its `score`, the best value of the objective's metric, so the direction
a search optimised can be read back from its trials (`read_direction`).

A trial of plain KerasTuner also holds a value for every name its oracle knew
when the trial was created, whether or not its build read it: after a build
`for i in range(hp.Int("layers", 1, 3)): hp.Int(f"units_{i}", ...)` first
declared `units_2`, every later trial holds a `units_2`, also those that
built one layer. tunekit's tuners keep in a trial only the names its build
declared (`tunekit.tuners.declared_only`). `holds_declared_names` tells the
two apart, and `unknown_use` names the hyperparameters whose values plain
trials may hold unused; given the hypermodel, `replay_builds` learns them
exactly. `is_usable` and `active_value` say which trials, and
which of their values, count at all.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import keras_tuner
from keras_tuner.engine import hyperparameters as hp_module
from keras_tuner.engine.trial import TrialStatus

if TYPE_CHECKING:
    from keras_tuner.engine.hyperparameters import HyperParameter
    from keras_tuner.engine.trial import Trial

__all__ = [
    "MISSING",
    "active_value",
    "holds_declared_names",
    "is_usable",
    "read_direction",
    "replay_builds",
    "unknown_use",
]

_INTERNAL = "tuner/"  # KerasTuner's own entries (Hyperband's), never a build's
_NUMBERED = re.compile(r"\d+")  # `units_2`, `dense2_units`: a loop's member, numbered
_FIX = "pass direction='max' or 'min', or the tuner's `oracle.objective`"
MISSING = object()  # what `active_value` returns for a value that does not count


def is_usable(trial: Trial) -> bool:
    """Whether a trial counts: COMPLETED with a finite score (failed, running and NaN do not)."""
    if not all(hasattr(trial, a) for a in ("status", "score", "hyperparameters")):
        raise TypeError(
            "`trials` must contain KerasTuner `Trial` objects, e.g. "
            f"`tuner.oracle.trials.values()`. Received an item of type {type(trial).__name__}."
        )
    score = trial.score
    return (
        trial.status == TrialStatus.COMPLETED
        and trial.hyperparameters is not None
        and isinstance(score, numbers.Real)
        and not isinstance(score, bool)
        and math.isfinite(score)
    )


def active_value(trial: Trial, hp: HyperParameter) -> Any:
    """The trial's value for `hp` if it holds one, active and valid for `hp`, else `MISSING`."""
    thp = trial.hyperparameters
    if hp.name not in thp.values or not thp.is_active(hp):
        return MISSING
    v = thp.values[hp.name]
    if isinstance(hp, hp_module.Fixed):
        return v
    if isinstance(hp, hp_module.Boolean):
        return v if isinstance(v, bool) else MISSING
    if isinstance(hp, hp_module.Choice):
        return v if v in hp.values else MISSING
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
        return MISSING
    v = min(max(v, hp.min_value), hp.max_value)
    return int(round(v)) if isinstance(hp, hp_module.Int) else float(v)


def read_direction(direction: str | keras_tuner.Objective | None, trials: Sequence[Trial]) -> str:
    """`"max"` or `"min"`: `direction` checked against what `trials` recorded, or read from them.

    A trial's objective is the metric whose best value is its `score`
    (`"multi_objective"` for a `keras_tuner.MultiObjective`, `"default_objective"`
    for a `run_trial` of one's own returning a number), recorded with the
    direction of the search's objective. Trials whose metrics say nothing
    (none has the score as its best value, or several do with both
    directions) are not read.

    Args:
        direction: `"max"`, `"min"`, a `keras_tuner.Objective`, or `None` to
            read it from the trials.
        trials: The usable trials.

    Raises:
        ValueError: If `direction` contradicts every trial whose record can be
            read (trials that disagree with each other leave it to `direction`),
            or is `None` and no trial's direction can be read or they disagree.
    """
    name = direction.name if isinstance(direction, keras_tuner.Objective) else None
    wanted = direction.direction if isinstance(direction, keras_tuner.Objective) else direction
    records = {str(t.trial_id): r for t in trials if (r := _recorded(t, name)) is not None}
    if wanted is not None:
        against = [(tid, m, d) for tid, (m, d) in records.items() if d != wanted]
        if against and len(against) == len(records):  # trials that disagree: `wanted` decides
            tid, metric, recorded = against[0]
            raise ValueError(
                f"`direction` contradicts the trials: {len(against)} of the {len(trials)} "
                f"usable trials recorded their objective {metric!r} as {recorded!r} (e.g. trial "
                f"{tid}), so ranking them by {wanted!r} would narrow around the worst. Pass "
                f"direction={recorded!r} or the tuner's `oracle.objective`, or leave `direction` "
                f"unset to read it from the trials. Received: direction={direction!r}."
            )
        return str(wanted)
    found: dict[str, tuple[str, str]] = {}
    for tid, (metric, recorded) in records.items():
        found.setdefault(recorded, (tid, metric))
    if len(found) == 1:
        return next(iter(found))
    if not found:
        raise ValueError(
            f"Cannot read the objective's direction from the trials: none of the {len(trials)} "
            "usable trials recorded a metric whose best value is its score (trials built by "
            f"hand, or scored by an oracle of one's own): {_FIX}. Received: direction=None."
        )
    seen = ", ".join(
        f"trial {tid} recorded {m!r} as {d!r}" for d, (tid, m) in sorted(found.items())
    )
    raise ValueError(
        f"The trials disagree on the objective's direction: {seen} (trials of different "
        f"searches?): narrow the trials of one search, or {_FIX}. Received: direction=None."
    )


def _recorded(trial: Trial, name: str | None) -> tuple[str, str] | None:
    """`(metric, direction)` of the trial's objective as its metrics recorded it, or `None`."""
    histories = getattr(getattr(trial, "metrics", None), "metrics", None)
    score = trial.score
    if not isinstance(histories, Mapping) or not isinstance(score, numbers.Real):
        return None
    matches = {}
    for metric, history in histories.items():
        best = history.get_best_value() if hasattr(history, "get_best_value") else None
        direction = getattr(history, "direction", None)
        if direction in ("max", "min") and isinstance(best, numbers.Real):
            if math.isclose(float(best), float(score), rel_tol=1e-9, abs_tol=1e-12):
                matches[metric] = direction
    if name in matches:
        return str(name), matches[name]
    if len(set(matches.values())) != 1:
        return None  # none, or equal values with both directions: nothing to read
    metric = sorted(matches)[0]
    return metric, matches[metric]


def _names(trial: Trial) -> set[str]:
    return {hp.name for hp in trial.hyperparameters.space if not hp.name.startswith(_INTERNAL)}


def holds_declared_names(trials: Sequence[Trial]) -> bool:
    """Whether the trials hold only the names their builds declared (tunekit's tuners do).

    KerasTuner's oracle hands each new trial the whole space known so far, so
    in the order trials were created (their ids) a trial never lacks a name
    an earlier one held; a trial of tunekit's tuners that built fewer layers
    than an earlier one does. Trials whose builds all declared the same names,
    or only more and more of them, look alike either way and count as plain.
    """
    ordered = sorted(
        (t for t in trials if t.hyperparameters is not None),
        key=lambda t: (len(str(t.trial_id)), str(t.trial_id)),
    )
    seen: set[str] = set()
    for trial in ordered:
        names = _names(trial)
        if seen - names:
            return True
        seen |= names
    return False


def replay_builds(trials: Sequence[Trial], hypermodel: Any) -> list[Trial]:
    """Copies of `trials` holding only the names their builds declare, learnt by building.

    Each trial's values are built once more with `hypermodel` (its `build`, no
    training; `tunekit.tuners.DeclaringHyperParameters` records the names
    asked for), and its copy keeps those, as a trial of tunekit's tuners
    does. A name no build declares (one the hypermodel's own `fit` asks for,
    which is not run) is kept in every trial. Trials that do not count
    (`is_usable`: not COMPLETED, no finite score) are returned as they are.

    Args:
        trials: KerasTuner `Trial`s of plain KerasTuner tuners.
        hypermodel: The `keras_tuner.HyperModel` or build function
            (`build(hp) -> keras.Model`) the trials ran.

    Raises:
        TypeError: If `hypermodel` has no `build` and is not callable.
        ValueError: If the build raises for a trial's values (not the
            hypermodel that ran these trials?), naming the trial.
    """
    import keras

    from tunekit.tuners.declared import DeclaringHyperParameters

    build = hypermodel.build if isinstance(hypermodel, keras_tuner.HyperModel) else hypermodel
    if not callable(build):
        raise TypeError(
            "hypermodel must be the keras_tuner.HyperModel or the build function the trials "
            f"ran. Received: {type(hypermodel).__name__}."
        )
    asked: dict[str, set[str]] = {}
    for trial in trials:
        if trial.hyperparameters is None or not is_usable(trial):
            continue  # a failed trial's build may raise: it never counts
        tracking = DeclaringHyperParameters.from_config(trial.hyperparameters.get_config())
        try:
            build(tracking)
        except Exception as error:
            raise ValueError(
                f"hypermodel's build raised for trial {trial.trial_id}'s values "
                f"({type(error).__name__}: {error}); pass the hypermodel these trials ran, "
                "or leave hypermodel=None."
            ) from error
        finally:
            keras.backend.clear_session()
        asked[trial.trial_id] = tracking.declared
    built = set().union(*asked.values()) if asked else set()
    copies = []
    for trial in trials:
        if trial.trial_id not in asked:
            copies.append(trial)
            continue
        keep = asked[trial.trial_id]
        held = trial.hyperparameters
        used = lambda name: name in keep or name not in built or name.startswith(_INTERNAL)
        declared = keras_tuner.HyperParameters()
        declared.merge([one for one in held.space if used(one.name)])
        declared.values = {name: value for name, value in held.values.items() if used(name)}
        copy = type(trial).from_state(trial.get_state())
        copy.hyperparameters = declared
        copies.append(copy)
    return copies


def unknown_use(space: keras_tuner.HyperParameters, trials: Sequence[Any]) -> frozenset[str]:
    """The names of `space` whose values plain KerasTuner trials may hold without having used them.

    A name under a `conditional_scope` is known exactly: a trial holds a value
    for it only where it is active; it is never returned. Of the others:

    - When some trials lacked a name others held, the space grew: the build
      declares names outside any `conditional_scope`, depending on values (a
      layer in a loop, a branch), and of none of them can it be known whether
      a later trial's build used it. All of them are returned.
    - When every trial held every name from the first one on, the build looks
      like one that declares every name every time, or like a loop whose
      first build (at the defaults) built the deepest layer. Names that look
      like a loop's members, defined alike (but for their defaults) and told apart only by a number
      anywhere in the name (`units_1`, `units_2`; `dense0_units`,
      `dense1_units`), are all returned, the lowest-numbered too (a loop over
      `range(hp.Int("layers", 0, 3))` may build none of them), when the space
      holds what could count such a loop, outside those names: an `Int` (or a
      `Choice` of integers) whose smallest value is below their number, a
      `Boolean` or a `Choice` of words (a switch: `1 if hp.Boolean("shallow")
      else 3`). Without one (only floats besides) they are a fixed build's,
      every one used. The others are taken as used.
    """
    held = [_names(t) for t in trials if t.hyperparameters is not None]
    unconditional = [
        hp for hp in space.space if not hp.conditions and not hp.name.startswith(_INTERNAL)
    ]
    grew = any(
        any(hp.name in names for names in held) and not all(hp.name in names for names in held)
        for hp in unconditional
    )
    if grew:
        return frozenset(hp.name for hp in unconditional)
    members: dict[tuple[str, str], list[str]] = {}
    for hp in unconditional:
        if _NUMBERED.search(hp.name):
            # alike but for the default (`default=256 // 2**i`: a loop's own per-layer default)
            config = {k: v for k, v in hp.get_config().items() if k not in ("name", "default")}
            alike = (
                _NUMBERED.sub("#", hp.name),
                f"{type(hp).__name__} {json.dumps(config, sort_keys=True, default=repr)}",
            )
            members.setdefault(alike, []).append(hp.name)
    loops = [loop for loop in members.values() if len(loop) > 1]
    # A loop builds as many members as a count or a switch says: an `Int` (or a `Choice` of
    # integers) that can be below the number of members, or a `Boolean` or a `Choice` of
    # words (`range(1 if hp.Boolean("shallow") else 3)`). Without one (only floats besides)
    # the numbered names are a fixed build's, every one used.
    # (a count may be numbered itself, one per block: `convs_0` counts `filters_0_*`)
    return frozenset(
        name
        for loop in loops
        if any(_could_count(hp, len(loop)) for hp in unconditional if hp.name not in loop)
        for name in loop
    )


def _could_count(hp: HyperParameter, members: int) -> bool:
    """Whether `hp` could decide how many of a loop's `members` a build declares."""
    if isinstance(hp, hp_module.Boolean):
        return True
    if isinstance(hp, hp_module.Int):
        return int(hp.min_value) < members
    if isinstance(hp, hp_module.Choice):
        ints = [v for v in hp.values if isinstance(v, numbers.Integral) and not isinstance(v, bool)]
        if len(ints) == len(hp.values):
            return min(ints) < members
        return not all(isinstance(v, numbers.Real) for v in hp.values)  # words: a switch
    return False
