"""The check before training of the search space's structure and of a run's `hyperparameters=`.

A fault that only some values of the space reveal is looked for in builds with
other values than the defaults (`tunekit.steps.space_builds`: no training), so
it is refused before the first trial instead of at the first trial that draws
them, after other trials trained.
"""

from __future__ import annotations

import logging
from typing import Any

import keras
import keras_tuner as kt

from tunekit.default_build import build_with_defaults
from tunekit.errors import ModelCheckError
from tunekit.hypermodel_kinds import own_fit
from tunekit.steps.space_builds import MAX_BUILDS, MAX_PARENT_BUILDS, variant_builds
from tunekit.tuners.base_oracle import check_names_declared_once
from tunekit.tuners.declared import DeclaringHyperParameters

__all__ = ["check_user_space"]

_logger = logging.getLogger("tunekit")


def check_user_space(
    hypermodel: kt.HyperModel,
    hyperparameters: kt.HyperParameters | None,
    *,
    tune_new_entries: bool = True,
    allow_new_entries: bool = True,
) -> None:
    """Checks the space the hypermodel declares, and a run's `hyperparameters=` against it.

    The hypermodel is built once with the defaults (of `hyperparameters`
    first), then, with `hyperparameters` or `allow_new_entries=False`, up to
    `tunekit.steps.space_builds.MAX_BUILDS` (16) times with one value changed
    at a time (`variant_builds`: the conditional scopes' parents first, then
    each `Int` at its bounds, then each `Choice` and `Boolean`; models only, no
    fit; with `tune_new_entries=False` only the tuned entries of
    `hyperparameters` change); without them, only the conditional scopes'
    parents change, in up to `MAX_PARENT_BUILDS` (4) builds, and a space
    without conditions is built once. Every build is checked as
    KerasTuner's oracle checks a trial's. An entry of `hyperparameters` that
    no build asks for is said (a warning, not an error: it may belong to a
    configuration not tried, or to the hypermodel's own `fit`); a misspelt
    name would otherwise restrict nothing, silently.

    Args:
        hypermodel: The run's hypermodel.
        hyperparameters: The run's `hyperparameters=`, or `None`.
        tune_new_entries, allow_new_entries: The run's KerasTuner settings.

    Raises:
        SearchInputError: A build declares one name more than once under
            other conditions (e.g. in each pass of a loop's
            `hp.conditional_scope`): the message the search's oracle gives
            (`tunekit.tuners.base_oracle.check_names_declared_once`).
        ModelCheckError: The defaults' build raises (`build_with_defaults`);
            an entry of `hyperparameters` declared under other conditions than
            the hypermodel's (KerasTuner keeps two entries of that name, and
            the override does not apply as meant); `allow_new_entries=False`
            and a build declares entries `hyperparameters` does not list
            (KerasTuner would fail every trial that builds them), or
            `tune_new_entries=False` and `hyperparameters` has nothing but
            `Fixed` entries (nothing would be tuned).
    """
    space = kt.HyperParameters() if hyperparameters is None else hyperparameters
    declared = DeclaringHyperParameters.from_config(space.get_config())
    try:
        build_with_defaults(hypermodel, declared)
    finally:
        keras.backend.clear_session()
    given = {hp.name for hp in space.space}
    _refuse_twice(declared, given)
    if not allow_new_entries:
        _refuse_new(declared, given, {})
    tuned = [hp for hp in space.space if not isinstance(hp, kt.engine.hyperparameters.Fixed)]
    if hyperparameters is not None and not tune_new_entries and not tuned:
        raise ModelCheckError(
            "tune_new_entries=False and `hyperparameters` has no entry to tune (only "
            f"Fixed ones: {sorted(given)}): every trial would train the same model. Add "
            "the ranges to search (e.g. hp.Float('learning_rate', 1e-4, 1e-2, sampling='log')), "
            "or leave tune_new_entries=True."
        )
    reached = set(declared.declared)
    varied = None if tune_new_entries else {hp.name for hp in tuned}
    budget = MAX_BUILDS
    if hyperparameters is None and allow_new_entries:
        # Nothing of the user's to check against other builds but a name declared again
        # under other conditions: only the conditional scopes' parents are varied (none:
        # no build), so a run without conditions pays for no build beyond the defaults'.
        parents = {c.name for hp in declared.space for c in hp.conditions}
        varied, budget = parents, (MAX_PARENT_BUILDS if parents else 0)
    for values, other in variant_builds(hypermodel, declared, varied, budget):
        _refuse_twice(other, given)
        if not allow_new_entries:
            _refuse_new(other, given, values)
        reached |= other.declared
    unused = given - reached
    if unused:
        _logger.warning(
            "hyperparameters= lists %s, which the hypermodel's build does not ask for, with "
            "the defaults or with any other value of one of its choices.%s If no "
            "configuration asks for it (a misspelt name?), it restricts nothing; the build "
            "declares %s.",
            sorted(unused),
            " Its own fit may (e.g. a batch_size; a fit's entries are known only once a "
            "trial runs), and then the value applies."
            if own_fit(hypermodel)
            else "",
            sorted(declared.declared),
        )


def _refuse_new(declared: kt.HyperParameters, given: set[str], values: dict[str, Any]) -> None:
    """Raises `ModelCheckError` for entries a build declared that `hyperparameters` lacks
    (`allow_new_entries=False`); `values`: what the build changed from the defaults."""
    new = [hp.name for hp in declared.space if hp.name not in given]
    if not new:
        return
    which = (
        "with " + ", ".join(f"{name}={value!r}" for name, value in values.items())
        if values
        else "with its defaults"
    )
    every = "" if values else " every"
    raise ModelCheckError(
        f"allow_new_entries=False, but the hypermodel declares {new} (built {which}), "
        f"which `hyperparameters` does not list: KerasTuner would fail{every} trial "
        f"that builds {'them' if len(new) > 1 else 'it'}. List them in hyperparameters "
        "(hp.Fixed(name, value) keeps one as it is), or leave allow_new_entries=True."
    )


def _refuse_twice(declared: kt.HyperParameters, given: set[str]) -> None:
    """Raises for a name `declared` holds under two sets of conditions: `ModelCheckError`
    for an entry of `hyperparameters=` the hypermodel declares once under others,
    else `SearchInputError`, as the search's oracle says it."""
    names = [hp.name for hp in declared.space]
    twice = sorted({name for name in names if names.count(name) > 1})
    overrides = [name for name in twice if name in given and names.count(name) == 2]
    if set(twice) - set(overrides):
        check_names_declared_once(declared, set(twice) - set(overrides))
    if overrides:
        raise ModelCheckError(
            f"hyperparameters= declares {overrides} under other conditions than the hypermodel "
            "does (e.g. outside the `hp.conditional_scope` the hypermodel declares it in): "
            "KerasTuner keeps both as separate entries, so the override would not apply as "
            "meant (values clipped to its range, or ignored). Declare each inside the same "
            "conditional_scope as the hypermodel (with hp.conditional_scope(parent, values): "
            "hp.Int(...))."
        )
