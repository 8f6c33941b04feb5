"""The check before training of a run's `hyperparameters=` (KerasTuner's space settings)."""

from __future__ import annotations

import logging

import keras
import keras_tuner as kt

from tunekit.errors import ModelCheckError
from tunekit.tuners.declared import DeclaringHyperParameters

__all__ = ["check_user_space"]

_logger = logging.getLogger("tunekit")


def check_user_space(
    hypermodel: kt.HyperModel,
    hyperparameters: kt.HyperParameters,
    *,
    tune_new_entries: bool,
    allow_new_entries: bool,
) -> None:
    """Checks a run's `hyperparameters=` against what the hypermodel declares.

    The hypermodel is built once with the defaults of `hyperparameters`
    first. An entry that build never asks for is said (a warning, not an
    error: it may belong to a layer only other configurations build); a
    misspelt name would otherwise restrict nothing, silently.

    Raises:
        ModelCheckError: An entry declared under other conditions than the
            hypermodel's (KerasTuner keeps two entries of that name, and the
            override does not apply as meant); `allow_new_entries=False` and the hypermodel declares
            entries `hyperparameters` does not list (KerasTuner would fail
            every trial), or `tune_new_entries=False` and `hyperparameters`
            has nothing but `Fixed` entries (nothing would be tuned).
    """
    declared = DeclaringHyperParameters.from_config(hyperparameters.get_config())
    try:
        hypermodel.build(declared)
    finally:
        keras.backend.clear_session()
    given = {hp.name for hp in hyperparameters.space}
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
    unused = sorted(given - declared.declared)
    if unused:
        own_fit = type(hypermodel).fit is not kt.HyperModel.fit
        _logger.warning(
            "hyperparameters= lists %s, which the hypermodel's build with the defaults does "
            "not ask for.%s If no configuration asks for it (a misspelt name?), it restricts "
            "nothing; the build declares %s.",
            unused,
            " Its own fit may (e.g. a batch_size; a fit's entries are known only once a "
            "trial runs), and then the value applies."
            if own_fit
            else "",
            sorted(declared.declared),
        )
