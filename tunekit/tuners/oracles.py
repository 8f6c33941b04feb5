"""tunekit's KerasTuner oracles, and how a seed and a failed trial reach an oracle.

The oracles are subclasses of KerasTuner's, passed to a `kt.Tuner` as
`oracle=` (see `tunekit.tuners.factory`).
"""

from __future__ import annotations

import inspect
from typing import Any

import keras_tuner as kt
from keras_tuner.engine.trial import Trial, TrialStatus

__all__ = [
    "DefaultsFirstRandomSearchOracle",
    "FixedSpaceBayesianOracle",
    "end_failed_search",
    "kerastuner_seed",
    "make_oracle",
]


def kerastuner_seed(seed: int | None) -> int | None:
    """Maps a tunekit seed to the seed handed to KerasTuner.

    KerasTuner reads `seed=0` as "no seed" and draws a random one, so tunekit
    passes `seed + 1`: every tunekit seed, 0 included, is reproducible.
    """
    return None if seed is None else seed + 1


def end_failed_search(oracle: kt.Oracle, trial: Trial, error: BaseException | None = None) -> None:
    """Saves the trial on which KerasTuner's `end_trial` raised, ended.

    KerasTuner raises before saving that trial and leaves it ongoing, so a
    reload would retry it (and, when the error comes from KerasTuner's own
    bookkeeping, fail the same way forever): end it and save the oracle. For
    its consecutive-failure stop the trial is already FAILED; for any other
    `error` it is marked FAILED with that error as its message.
    """
    if error is not None and "consecutive failures" not in str(error):
        ended = oracle.trials[trial.trial_id]
        ended.status = TrialStatus.FAILED
        ended.message = f"{type(error).__name__}: {error}"
    for tuner_id, ongoing in list(oracle.ongoing_trials.items()):
        if ongoing.trial_id == trial.trial_id:
            del oracle.ongoing_trials[tuner_id]
    oracle._save_trial(oracle.trials[trial.trial_id])
    oracle.save()


class DefaultsFirstRandomSearchOracle(kt.oracles.RandomSearchOracle):
    """KerasTuner's random search whose first trial is the space's default configuration.

    The hypermodel author's defaults are usually a sound configuration; trying
    them first puts a known-good point among the trials a narrowing ranks.
    Later trials are random, as in `RandomSearchOracle`.
    """

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        if self.trials:
            return super().populate_space(trial_id)
        hps = kt.HyperParameters()
        for hp in self.hyperparameters.space:
            hps.merge([hp])
            if hps.is_active(hp):
                hps.values[hp.name] = hp.default
        return {"status": "RUNNING", "values": hps.values}


class FixedSpaceBayesianOracle(kt.oracles.BayesianOptimizationOracle):
    """KerasTuner's Bayesian oracle that copes with a space with nothing left to tune.

    When every hyperparameter is `Fixed` (e.g. a narrowed space of a single
    configuration), KerasTuner fits its Gaussian process on zero features and
    crashes; this oracle samples at random instead, which stops the search
    once the configuration was tried.
    """

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        if not any(
            not isinstance(hp, kt.engine.hyperparameters.Fixed) for hp in self.hyperparameters.space
        ):
            return self._random_populate_space()
        return super().populate_space(trial_id)


def make_oracle(
    oracle_class: type[kt.Oracle], objective: Any, seed: int | None, kwargs: dict[str, Any]
) -> kt.Oracle:
    """Builds `oracle_class`, taking from `kwargs` the arguments it accepts.

    What is left in `kwargs` is for the tuner (`directory`, `project_name`,
    `executions_per_trial`...), as in KerasTuner's own tuners.
    """
    accepted = inspect.signature(oracle_class).parameters
    own = {name: kwargs.pop(name) for name in list(kwargs) if name in accepted}
    return oracle_class(objective=objective, seed=kerastuner_seed(seed), **own)
