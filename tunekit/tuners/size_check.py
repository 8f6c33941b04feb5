"""Whether any configuration of a space fits `max_model_size`: checked before training."""

from __future__ import annotations

import time
from typing import Any

import keras_tuner as kt

from tunekit.default_build import build_with_defaults
from tunekit.tuners.oracles import (
    DefaultsFirstRandomSearchOracle,
    ModelSizeLimit,
    kerastuner_seed,
    model_size,
)

__all__ = ["check_size_limit"]


def check_size_limit(
    hypermodel: kt.HyperModel,
    max_model_size: int,
    seed: int | None = None,
    sample: Any = None,
    hyperparameters: kt.HyperParameters | None = None,
    tune_new_entries: bool = True,
) -> float:
    """Checks that some configuration of `hypermodel`'s space fits `max_model_size`.

    Tries the default configuration, then random ones, as the coarse
    search's oracle would (`SizeLimitedOracle`), building models without
    training. Call it before any training: a limit below every model is
    refused at once.

    Args:
        hypermodel: The hypermodel whose space is searched.
        max_model_size: The limit, in parameters.
        seed: tunekit's seed of the random proposals.
        sample: One input sample (`first_sample`) that builds a model
            without an `Input`; without it such models are not measured.
        hyperparameters, tune_new_entries: The search's KerasTuner settings.

    Returns:
        Seconds spent building models.

    Raises:
        ModelSizeLimitError: No configuration of the first
            `MAX_REJECTED_IN_A_ROW` tried (or of the whole space, when
            smaller) fits the limit; the message gives the smallest model.
    """
    start = time.perf_counter()
    space = kt.HyperParameters() if hyperparameters is None else hyperparameters.copy()
    if tune_new_entries:
        build_with_defaults(
            hypermodel, space
        )  # declares the space, as KerasTuner's first trial does
    oracle = DefaultsFirstRandomSearchOracle(
        objective="val_loss", max_trials=1, seed=kerastuner_seed(seed), hyperparameters=space
    )
    oracle.size_limit = ModelSizeLimit(
        max_model_size, lambda hp: model_size(hypermodel, hp, sample=sample)
    )
    oracle.populate_space("0")
    return time.perf_counter() - start
