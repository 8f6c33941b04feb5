"""The check before training of a run's `hyperparameters=` (KerasTuner's space settings)."""

from __future__ import annotations

import logging
from typing import Any

import keras
import keras_tuner as kt

from tunekit.default_build import build_with_defaults
from tunekit.errors import ModelCheckError
from tunekit.tuners.declared import DeclaringHyperParameters

__all__ = ["check_user_space"]

_logger = logging.getLogger("tunekit")

# Builds (no training) that look for the entries the defaults' build does not reach.
_MAX_BUILDS = 16


def check_user_space(
    hypermodel: kt.HyperModel,
    hyperparameters: kt.HyperParameters,
    *,
    tune_new_entries: bool,
    allow_new_entries: bool,
) -> None:
    """Checks a run's `hyperparameters=` against what the hypermodel declares.

    The hypermodel is built once with the defaults of `hyperparameters`
    first. An entry that build never asks for is looked for in other builds
    (`_reached`: no training), and if none asks for it either, it is said (a
    warning, not an error: it may belong to a configuration not tried, or to
    the hypermodel's own `fit`); a misspelt name would otherwise restrict
    nothing, silently.

    Raises:
        ModelCheckError: An entry declared under other conditions than the
            hypermodel's (KerasTuner keeps two entries of that name, and the
            override does not apply as meant), in the defaults' build or in
            one that sets another value of a `Choice`, `Boolean` or `Int`;
            `allow_new_entries=False` and the hypermodel declares
            entries `hyperparameters` does not list (KerasTuner would fail
            every trial), or `tune_new_entries=False` and `hyperparameters`
            has nothing but `Fixed` entries (nothing would be tuned).
    """
    declared = DeclaringHyperParameters.from_config(hyperparameters.get_config())
    try:
        build_with_defaults(hypermodel, declared)
    finally:
        keras.backend.clear_session()
    given = {hp.name for hp in hyperparameters.space}
    _refuse_twice(declared)
    new = [hp.name for hp in declared.space if hp.name not in given]
    if new and not allow_new_entries:
        raise ModelCheckError(
            f"allow_new_entries=False, but the hypermodel declares {new}, which "
            "`hyperparameters` does not list: KerasTuner would fail every trial. List them "
            "in hyperparameters (hp.Fixed(name, value) keeps one as it is), or leave "
            "allow_new_entries=True."
        )
    tuned = [
        hp for hp in hyperparameters.space if not isinstance(hp, kt.engine.hyperparameters.Fixed)
    ]
    if not tune_new_entries and not tuned:
        raise ModelCheckError(
            "tune_new_entries=False and `hyperparameters` has no entry to tune (only "
            f"Fixed ones: {sorted(given)}): every trial would train the same model. Add "
            "the ranges to search (e.g. hp.Float('learning_rate', 1e-4, 1e-2, sampling='log')), "
            "or leave tune_new_entries=True."
        )
    unused = given - declared.declared
    if unused:
        unused -= _reached(hypermodel, declared, unused)
    if unused:
        own_fit = type(hypermodel).fit is not kt.HyperModel.fit
        _logger.warning(
            "hyperparameters= lists %s, which the hypermodel's build does not ask for, with "
            "the defaults or with any other value of one of its choices.%s If no "
            "configuration asks for it (a misspelt name?), it restricts nothing; the build "
            "declares %s.",
            sorted(unused),
            " Its own fit may (e.g. a batch_size; a fit's entries are known only once a "
            "trial runs), and then the value applies."
            if own_fit
            else "",
            sorted(declared.declared),
        )


def _reached(
    hypermodel: kt.HyperModel, default: DeclaringHyperParameters, names: set[str]
) -> set[str]:
    """Which of `names` builds other than the defaults' declare; raises as `_refuse_twice`.

    The defaults' build does not reach an entry declared under a condition the
    defaults do not meet (`momentum` under `optimizer == "sgd"`, `units_2` of a
    loop the default count stops short of). An override of it outside that
    condition made KerasTuner keep two entries, and the search failed at the
    first trial that reached it, after training others. Builds (no training)
    with another value of one `Choice` or `Boolean`, or an `Int` at its
    smallest or largest; then, from each such build, the same for the entries
    it asked for that the defaults' did not (a scope within a scope), at most
    `_MAX_BUILDS` in all. A build that raises is skipped (the search says why,
    if a trial meets it).
    """
    queue: list[tuple[dict[str, Any], list[Any], Any]] = [({}, [], hp) for hp in default.space]
    found: set[str] = set()
    builds = 0
    while queue and builds < _MAX_BUILDS and found != names:
        base, more, hp = queue.pop(0)
        for value in _others(hp, base.get(hp.name, default.values.get(hp.name))):
            if builds >= _MAX_BUILDS:
                break
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
            except Exception:  # noqa: BLE001, S112 - a combination the build refuses: not this check's
                continue
            finally:
                keras.backend.clear_session()
            _refuse_twice(other)
            found |= names & other.declared
            asked = other.declared - default.declared - set(tried)  # not by the defaults'
            deeper = [new for new in other.space if new.name in asked]
            queue += [(tried, deeper, new) for new in deeper]
    return found


def _others(hp: Any, now: Any) -> list[Any]:
    """The values of `hp` other than `now` a build is tried with (`_reached`)."""
    if isinstance(hp, kt.engine.hyperparameters.Boolean):
        return [not now]
    if isinstance(hp, kt.engine.hyperparameters.Choice):
        return [value for value in hp.values if value != now]
    if isinstance(hp, kt.engine.hyperparameters.Int):
        return [value for value in (hp.min_value, hp.max_value) if value != now]
    return []


def _refuse_twice(declared: kt.HyperParameters) -> None:
    """Raises `ModelCheckError` for a name `declared` holds under two sets of conditions."""
    names = [hp.name for hp in declared.space]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ModelCheckError(
            f"hyperparameters= declares {twice} under other conditions than the hypermodel "
            "does (e.g. outside the `hp.conditional_scope` the hypermodel declares it in): "
            "KerasTuner keeps both as separate entries, so the override would not apply as "
            "meant (values clipped to its range, or ignored). Declare each inside the same "
            "conditional_scope as the hypermodel (with hp.conditional_scope(parent, values): "
            "hp.Int(...))."
        )
