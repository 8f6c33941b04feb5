"""tunekit's KerasTuner oracles, and how a seed and a failed trial reach an oracle.

The oracles are subclasses of KerasTuner's, passed to a `kt.Tuner` as
`oracle=` (see `tunekit.tuners.factory`). Each takes a model-size limit
(`ModelSizeLimit`, KerasTuner's `max_model_size`) that rejects oversized
configurations when they are proposed, before they become trials.
"""

from __future__ import annotations

import dataclasses
import inspect
import warnings
from collections.abc import Callable
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
from keras_tuner.engine.trial import Trial, TrialStatus
from sklearn.exceptions import ConvergenceWarning

from tunekit.errors import ModelSizeLimitError, TrialsFailedError
from tunekit.model_size import param_count
from tunekit.trial_skips import failed_in_a_row
from tunekit.tuners.base_oracle import BaseOracle

__all__ = [
    "MAX_REJECTED_IN_A_ROW",
    "DefaultsFirstRandomSearchOracle",
    "FixedSpaceBayesianOracle",
    "HyperbandOracle",
    "ModelSizeLimit",
    "RandomSearchOracle",
    "SizeLimitedOracle",
    "end_failed_search",
    "kerastuner_seed",
    "phase_seed",
    "make_oracle",
    "model_size",
]

#: Oversized proposals in a row after which a search stops with `ModelSizeLimitError`.
MAX_REJECTED_IN_A_ROW = 200


def kerastuner_seed(seed: int | None) -> int | None:
    """Maps a tunekit seed to the seed handed to KerasTuner.

    KerasTuner reads `seed=0` as "no seed" and draws a random one, so tunekit
    passes `seed + 1`: every tunekit seed, 0 included, is reproducible.
    """
    return None if seed is None else seed + 1


def phase_seed(seed: int | None, phase: str) -> int | None:
    """The seed of phase `phase`'s tuner (`None` stays `None`).

    KerasTuner's oracles draw each value from their seed plus a counter. The fine
    search had the coarse seed, so its configurations were the coarse ones moved into
    the narrowed ranges; its seed is the first word of NumPy's `SeedSequence([seed,
    1])`, the same on every rerun and worker. The coarse searches of seeds `s` and
    `s + 1` drew the same values one apart (a trial apart for a space of one
    hyperparameter): the coarse seed is `seed * COARSE_SEED_SPACING` modulo the prime
    2**31 - 1, so seed 0 keeps its search and seeds below 2,147 start a million values
    apart, more than a search draws.
    """
    if seed is None:
        return seed
    if phase == "coarse":
        return seed * COARSE_SEED_SPACING % (2**31 - 1)
    return int(np.random.SeedSequence([seed, 1]).generate_state(1)[0] % (2**31 - 1))


COARSE_SEED_SPACING = 1_000_003  # see `phase_seed`


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


def first_sample(x: Any, count: int = 1) -> Any:
    """The first `count` samples of `x` as one batch, or `None` for data that is not arrays.

    Args:
        x: Model inputs: an array, a list/tuple of arrays, or a dict of arrays
            (leading axis: samples). Datasets and generators give `None`.
        count: Samples to take (fewer if `x` has fewer). Defaults to 1.
    """
    if isinstance(x, dict):
        parts = {k: first_sample(v, count) for k, v in x.items()}
        return None if any(v is None for v in parts.values()) else parts
    if isinstance(x, (list, tuple)):
        items = [first_sample(v, count) for v in x]
        return None if not items or any(v is None for v in items) else type(x)(items)
    if isinstance(x, np.ndarray) and x.ndim >= 1 and len(x):
        return x[:count]
    return None


def model_size(hypermodel: kt.HyperModel, hp: kt.HyperParameters, sample: Any = None) -> int | None:
    """The parameter count of `hypermodel.build(hp)`, built without training.

    Counts trainable and non-trainable weights, as trials report
    `num_params` (KerasTuner's own check counts trainable ones only). A
    model that builds itself lazily (no `Input`) is called once on `sample`
    (one input sample, `first_sample`), which creates its weights.

    Returns:
        The count, or `None` for a lazy model that `sample` (missing, or not
        what the model takes) could not build: it has no weights before its
        first batch.
    """
    # As KerasTuner's _try_build, without its gc.collect() (~0.5 s with TensorFlow loaded;
    # the model is freed with the next trial's).
    keras.backend.clear_session(free_memory=False)
    try:
        model = hypermodel.build(hp)
        size = param_count(model)
        if size is None and sample is not None:
            try:
                model(sample, training=False)
            except Exception:  # noqa: BLE001 (its fit may transform x first: measured there)
                return None
            size = param_count(model)
        return size
    finally:
        keras.backend.clear_session(free_memory=False)


@dataclasses.dataclass
class ModelSizeLimit:
    """KerasTuner's `max_model_size`, checked when an oracle proposes a configuration.

    Attributes:
        max_model_size: The largest parameter count accepted (>= 1).
        measure: `measure(hp)` -> the parameter count of the model `hp`
            builds (`None`: unknown, accepted; the trial checks it).
        max_in_a_row: Rejected proposals in a row after which the search
            stops with `ModelSizeLimitError`. Defaults to
            `MAX_REJECTED_IN_A_ROW`.
    """

    max_model_size: int
    measure: Callable[[kt.HyperParameters], int | None]
    max_in_a_row: int = MAX_REJECTED_IN_A_ROW


class SizeLimitedOracle(BaseOracle):
    """Mixin of tunekit's oracles: rejects oversized configurations when proposed.

    With `size_limit` set (the tuner sets it from `max_model_size`), every
    configuration the oracle would start a trial with is built once without
    training (`ModelSizeLimit.measure`, milliseconds); a model larger than
    the limit is not a trial: it is recorded as tried (a random proposal
    never repeats it), counted in `rejected_oversized` (saved with the
    oracle) and another configuration is proposed (a random one when a
    Bayesian or default proposal was rejected). Hyperband's promotions
    continue trials that were accepted. So `max_trials` counts trained
    trials, and Hyperband and Bayesian never see a failed trial for size.

    `MAX_REJECTED_IN_A_ROW` rejections in a row, or a space exhausted before
    anything fitted, raise `ModelSizeLimitError` naming the smallest model
    seen; the count in a row is saved with the oracle too, so a state saved
    amid a run of rejections resumes it rather than starting at zero. Without
    `size_limit`, the oracle is KerasTuner's.
    """

    size_limit: ModelSizeLimit | None = None
    rejected_oversized: int = 0
    _in_a_row: int = 0
    _smallest_rejected: int | None = None

    def _fits(self, values: dict[str, Any]) -> bool:
        """Whether `values`' model is within the limit; counts and records it if not."""
        limit = self.size_limit
        if limit is None or "tuner/trial_id" in values:  # a promotion: accepted before
            return True
        config = {k: v for k, v in values.items() if not k.startswith("tuner/")}
        cache: dict[str, int | None] = self.__dict__.setdefault("_sizes", {})
        key = self._compute_values_hash(config)
        if key not in cache:
            hp = self.hyperparameters.copy()
            hp.values = dict(config)
            cache[key] = limit.measure(hp)
        size = cache[key]
        if size is None or size <= limit.max_model_size:
            self._in_a_row = 0
            return True
        self.rejected_oversized += 1
        self._in_a_row += 1
        if self._smallest_rejected is None or size < self._smallest_rejected:
            self._smallest_rejected = size
        self._tried_so_far.add(key)  # never proposed again by `_random_values`
        if self._in_a_row >= limit.max_in_a_row:
            raise self._limit_error(f"the last {self._in_a_row} configurations proposed")
        return False

    def _limit_error(self, what: str) -> ModelSizeLimitError:
        assert self.size_limit is not None
        limit = self.size_limit.max_model_size
        smallest = self._smallest_rejected
        return ModelSizeLimitError(
            f"max_model_size={limit} rejects {what}: each builds a model larger than "
            f"{limit:,} parameters"
            + ("" if smallest is None else f" (the smallest had {smallest:,})")
            + ". Raise max_model_size= (at least the smallest size), or give the hypermodel "
            "smaller ranges (fewer units or filters), or drop the limit."
        )

    def _random_values(self) -> dict[str, Any] | None:
        while True:
            values = super()._random_values()
            if values is None:  # the space is exhausted
                if self.rejected_oversized and not self.trials and self.size_limit:
                    raise self._limit_error(
                        f"all {self.rejected_oversized} distinct configurations tried"
                    )
                return None
            if self._fits(values):
                return values

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        return self._checked(super().populate_space(trial_id))

    def _check_consecutive_failures(self) -> None:
        """KerasTuner's stop after `max_consecutive_failed_trials` FAILED trials in a row,
        counting only the latest run of them, and no trial the hypermodel skipped.

        KerasTuner 1.4 looks for such a run anywhere in `end_order`, so once a search
        stopped on one, its resumed search (the code fixed) stopped again after each
        new trial, however that trial ended; and it counted the hypermodel's skips
        (`failed_in_a_row` passes over them). KerasTuner's message, as a
        `TrialsFailedError` (a `RuntimeError`, as KerasTuner's error was).
        """
        failed = failed_in_a_row(self)
        limit = self.max_consecutive_failed_trials
        if limit and failed and len(failed) >= limit:
            last = failed[-1]
            raise TrialsFailedError(  # KerasTuner's message (the search step names it better)
                f"Number of consecutive failures exceeded the limit of {limit}.\n"
                + (last.message or "")
            )

    def _checked(self, response: dict[str, Any]) -> dict[str, Any]:
        """`response` of `populate_space`, or another proposal if its model is too large.

        NumPy scalars become Python's (as a random draw's, and as a resumed search reads
        them back). Numeric values are then clipped to their declared range: KerasTuner's
        `Int.prob_to_value(1.0)` gives `max_value + 1` for an `Int` without a
        step, and its Bayesian oracle proposes exactly 1.0 at the bound, so a
        trial could train outside the space (e.g. a narrowed range).
        """
        values = response.get("values")
        if response.get("status") == "RUNNING" and values:
            # NumPy scalars as Python's: a Bayesian proposal of a linear `Float` is a
            # `np.float64`, which a build passes on (a loss weight: TensorFlow's "AddV2 ...
            # float64 does not match float32", every such trial failed; probe E).
            values.update({k: v.item() for k, v in values.items() if isinstance(v, np.generic)})
            _clip_to_ranges(self.hyperparameters, values)
        if response.get("status") != "RUNNING" or not values or self._fits(values):
            return response
        values = self._random_values()  # a default or Bayesian proposal was too large
        if values is None:
            return {"status": "STOPPED", "values": None}
        return {"status": "RUNNING", "values": values}

    def get_state(self) -> dict[str, Any]:
        state = super().get_state()
        state["tunekit_rejected_oversized"] = self.rejected_oversized
        state["tunekit_smallest_rejected"] = self._smallest_rejected
        state["tunekit_oversized_in_a_row"] = self._in_a_row  # a resume goes on counting
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self.rejected_oversized = int(state.get("tunekit_rejected_oversized", 0))
        self._smallest_rejected = state.get("tunekit_smallest_rejected")
        self._in_a_row = int(state.get("tunekit_oversized_in_a_row", 0))


def _clip_to_ranges(space: kt.HyperParameters, values: dict[str, Any]) -> None:
    """Clips `values`' `Int` and `Float` values into `[min_value, max_value]`, in place."""
    numeric = (kt.engine.hyperparameters.Int, kt.engine.hyperparameters.Float)
    for hp in space.space:
        value = values.get(hp.name)
        if isinstance(hp, numeric) and isinstance(value, (int, float)):
            values[hp.name] = type(value)(min(max(value, hp.min_value), hp.max_value))


class RandomSearchOracle(SizeLimitedOracle, kt.oracles.RandomSearchOracle):
    """KerasTuner's random search, with the model-size limit of `SizeLimitedOracle`."""


class HyperbandOracle(SizeLimitedOracle, kt.oracles.HyperbandOracle):
    """KerasTuner's Hyperband oracle, with the model-size limit of `SizeLimitedOracle`.

    A bracket's new configurations are random ones within the limit; its
    promotions continue accepted trials. With several workers a promotion or
    a new bracket waits (IDLE) until no other trial runs: KerasTuner decides
    them from the trials completed so far, so the trials (and the winner)
    depended on timing, e.g. a restarted worker. Now they are one process's.
    """

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        self._remove_completed_brackets()
        if self.ongoing_trials and not any(  # no first-round trial left to draw: wait
            len(b["rounds"][0]) < self._get_size(b["bracket_num"], round_num=0)
            for b in self._brackets
        ):
            return {"status": TrialStatus.IDLE}
        return super().populate_space(trial_id)


class DefaultsFirstRandomSearchOracle(SizeLimitedOracle, kt.oracles.RandomSearchOracle):
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
        return self._checked({"status": "RUNNING", "values": hps.values})


class FixedSpaceBayesianOracle(SizeLimitedOracle, kt.oracles.BayesianOptimizationOracle):
    """KerasTuner's Bayesian oracle that copes with a space with nothing left to tune.

    When every hyperparameter is `Fixed` (e.g. a narrowed space of a single
    configuration), KerasTuner fits its Gaussian process on zero features and
    crashes; this oracle samples at random instead, which stops the search
    once the configuration was tried. A proposal of a configuration already
    trained (in a small space the process proposes its optimum again) is
    replaced by a random untried one; once every configuration was tried the
    search stops, as a random search's does. The optimiser's random starting
    points are drawn from the seed and the number of trials, so a search
    stopped and resumed proposes what it would have run straight through.

    scikit-learn's `ConvergenceWarning` from fitting the Gaussian process
    ("... length_scale is close to the specified lower bound") is not shown:
    with a few trials a length scale at its bound is expected, and nothing in
    the user's hands changes it.
    """

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        if not any(
            not isinstance(hp, kt.engine.hyperparameters.Fixed) for hp in self.hyperparameters.space
        ):
            return self._random_populate_space()
        # KerasTuner draws the optimiser's starting points from one RandomState made from
        # the seed when the oracle is made and never saved: a resumed search proposed other
        # trials than the same search run straight through. Drawn per trial, they are the same.
        self._random_state = np.random.RandomState([self.seed or 0, len(self.trials)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            proposal = super().populate_space(trial_id)
        values = proposal.get("values")
        if values is not None and self._duplicate(values):
            # The Gaussian process proposed a configuration already trained (KerasTuner
            # trains it again): a random untried one instead, or the end of a space whose
            # every configuration was tried.
            return self._random_populate_space()
        return proposal


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
