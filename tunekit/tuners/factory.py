"""tunekit's four tuners and `make_tuner`, which builds one by its kind.

`RandomSearch`, `Hyperband`, `BayesianOptimization` and `GridSearch`.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import keras
import keras_tuner as kt
from keras_tuner import errors as kt_errors

from tunekit import _io
from tunekit.objectives import resolve_objective
from tunekit.own_loops import missing_checkpoint_message, recorded_epochs
from tunekit.trial_refusals import said_text
from tunekit.tuners.base import TrialListener, TunekitTuner
from tunekit.tuners.grid_oracle import GridOracle
from tunekit.tuners.oracles import (
    DefaultsFirstRandomSearchOracle,
    FixedSpaceBayesianOracle,
    HyperbandOracle,
    RandomSearchOracle,
    make_oracle,
)

__all__ = [
    "HYPERBAND_EPOCHS",
    "TUNER_KINDS",
    "BayesianOptimization",
    "GridSearch",
    "Hyperband",
    "RandomSearch",
    "make_tuner",
]

TUNER_KINDS = ("random", "hyperband", "bayesian", "grid")


class RandomSearch(TunekitTuner):
    """Random search with tunekit's trial bookkeeping: a `kt.Tuner` given a random oracle.

    Takes the arguments of `keras_tuner.RandomSearch` (those of
    `kt.oracles.RandomSearchOracle` build the oracle, the others go to
    `kt.Tuner`), plus tunekit's (see `TunekitTuner`).

    Args:
        hypermodel: A `keras_tuner.HyperModel` or a `build(hp)` function.
        objective: A `keras_tuner.Objective` (or what KerasTuner accepts).
        seed: tunekit's seed, 0 included (`kerastuner_seed` maps it for the
            oracle); also seeds each trial. `None`: not reproducible.
        defaults_first: Whether the first trial is the space's default
            configuration (`DefaultsFirstRandomSearchOracle`). Defaults to
            `False` (KerasTuner's `RandomSearchOracle`).
        **kwargs: The oracle's (`max_trials`, `hyperparameters`...), the
            tuner's (`directory`, `project_name`...) and tunekit's arguments.
    """

    def __init__(
        self,
        hypermodel: Any = None,
        objective: Any = None,
        *,
        seed: int | None = None,
        defaults_first: bool = False,
        **kwargs: Any,
    ) -> None:
        oracle_class = DefaultsFirstRandomSearchOracle if defaults_first else RandomSearchOracle
        oracle = make_oracle(oracle_class, objective, seed, kwargs)
        super().__init__(oracle=oracle, hypermodel=hypermodel, trial_seed=seed, **kwargs)


HYPERBAND_EPOCHS = (
    "Hyperband allocates each trial's epochs itself (`tuner/epochs`, "
    "`tuner/initial_epoch`, within `max_epochs`). Remove `epochs` and `initial_epoch` "
    "from the hypermodel's fit, or tune with a search whose trials can train the "
    "epochs it sets (fine_tuner='bayesian')."
)
HYPERBAND_REFUSED_FIT_ARGS = {"epochs": HYPERBAND_EPOCHS, "initial_epoch": HYPERBAND_EPOCHS}
HYPERBAND_CV = (
    "Hyperband continues a trial from its parent trial's checkpoint (one model), and a "
    "cross-validated trial trains one model per fold, whose K checkpoints KerasTuner's "
    "Hyperband cannot continue."
)


class Hyperband(TunekitTuner, kt.Hyperband):
    """KerasTuner's `Hyperband` with tunekit's trial bookkeeping.

    Its oracle is `tunekit.tuners.oracles.HyperbandOracle` (KerasTuner's,
    with the model-size limit), built from `keras_tuner.Hyperband`'s
    arguments (`max_epochs`, `factor`, `hyperband_iterations`...). A
    hypermodel whose own `fit` sets `epochs` or `initial_epoch` fails that
    trial before training (`tunekit.fitting.HyperModelFitError`):
    those are Hyperband's budget; `refused_fit_args` adds to them.
    Cross-validation (`cv` > 1) is refused (see `HYPERBAND_CV`):
    cross-validate with `BayesianOptimization` or `RandomSearch`.

    Args:
        hypermodel: A `keras_tuner.HyperModel` or a `build(hp)` function.
        objective: A `keras_tuner.Objective` (or what KerasTuner accepts).
        seed: tunekit's seed, 0 included; also seeds each trial.
        refused_fit_args: More `model.fit` keywords the `fit` may not set.
        cv: Must be 1 (no cross-validation).
        **kwargs: `keras_tuner.Hyperband`'s arguments and tunekit's.

    Raises:
        ValueError: `cv` is not 1.
    """

    def __init__(
        self,
        hypermodel: Any = None,
        objective: Any = None,
        *,
        seed: int | None = None,
        refused_fit_args: Mapping[str, str] | None = None,
        cv: int = 1,
        **kwargs: Any,
    ) -> None:
        if cv != 1:
            raise ValueError(
                f"kind='hyperband' cannot cross-validate (cv={cv!r}): {HYPERBAND_CV} Use "
                "kind='bayesian' or kind='random' with cv=, or cv=1 with Hyperband."
            )
        oracle = make_oracle(HyperbandOracle, objective, seed, kwargs)
        super().__init__(
            oracle=oracle,
            hypermodel=hypermodel,
            trial_seed=seed,
            refused_fit_args={**HYPERBAND_REFUSED_FIT_ARGS, **(refused_fit_args or {})},
            **kwargs,
        )

    def _build_hypermodel(self, hp: kt.HyperParameters) -> keras.Model:
        parent = hp.values.get("tuner/trial_id")
        if parent is not None and not os.path.exists(self._get_checkpoint_fname(parent)):
            fits = self._tunekit_fits
            parent_trial = self.oracle.get_trial(parent)
            epochs = recorded_epochs(parent_trial)
            score = parent_trial.score  # saved with the trial: known after a resume too
            unscored = not isinstance(score, (int, float)) or not math.isfinite(score)
            message = missing_checkpoint_message(
                parent,
                self._get_checkpoint_fname(parent),
                parent_epochs=epochs,
                written_here=parent in fits.get("written", ()),
                ran_here=parent in fits.get("ran", ()),
                unranked=unscored and bool(epochs),  # trained epochs, none ranked
                worker=self._is_worker(),
            )  # its settings named as the run names them (flags on the command line)
            raise kt_errors.FailedTrialError(said_text(message, self._tunekit_said))
        # A continued trial loads its parent's weights but not its optimizer
        # state (by KerasTuner's design); Keras warns about that every time.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            try:
                return super()._build_hypermodel(hp)
            except ValueError as error:
                sample = self._tunekit_fits.get("sample")
                if parent is None or sample is None or "not yet been built" not in str(error):
                    raise
                # A model built on its first call (a subclassed model with a dict of inputs)
                # that Keras cannot build from its build config: KerasTuner failed every
                # continued trial. Built on two training samples, then the parent's weights.
                # In a fresh session, as KerasTuner's `_try_build` builds: Keras numbers
                # metrics made without a name (`AUC()`: `auc_1`), so the objective was gone.
                keras.backend.clear_session(free_memory=False)
                model = kt.Tuner._build_hypermodel(self, hp)
                model(sample, training=False)
                model.load_weights(self._get_checkpoint_fname(parent))
                return model


class BayesianOptimization(TunekitTuner):
    """Bayesian optimisation with tunekit's trial bookkeeping.

    A `kt.Tuner` given a `FixedSpaceBayesianOracle` as `oracle=`. Takes the
    arguments of `keras_tuner.BayesianOptimization`; its oracle ends the
    search when a space has nothing left to tune, instead of crashing.

    Args:
        hypermodel: A `keras_tuner.HyperModel` or a `build(hp)` function.
        objective: A `keras_tuner.Objective` (or what KerasTuner accepts).
        seed: tunekit's seed, 0 included; also seeds each trial.
        **kwargs: The oracle's (`max_trials`, `num_initial_points`, `alpha`,
            `beta`, `hyperparameters`...), the tuner's and tunekit's arguments.
    """

    def __init__(
        self,
        hypermodel: Any = None,
        objective: Any = None,
        *,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        oracle = make_oracle(FixedSpaceBayesianOracle, objective, seed, kwargs)
        super().__init__(oracle=oracle, hypermodel=hypermodel, trial_seed=seed, **kwargs)


class GridSearch(TunekitTuner):
    """Grid search with tunekit's trial bookkeeping: a `kt.Tuner` given a `GridOracle`.

    Takes the arguments of `keras_tuner.GridSearch`. Its oracle resumes a search
    where it stopped (`tunekit.tuners.grid_oracle`; KerasTuner's own stopped at
    once, or crashed).

    Args:
        hypermodel: A `keras_tuner.HyperModel` or a `build(hp)` function.
        objective: A `keras_tuner.Objective` (or what KerasTuner accepts).
        seed: tunekit's seed, 0 included; also seeds each trial.
        **kwargs: The oracle's (`max_trials`: `None` for the whole grid...),
            the tuner's and tunekit's arguments.
    """

    def __init__(
        self,
        hypermodel: Any = None,
        objective: Any = None,
        *,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        oracle = make_oracle(GridOracle, objective, seed, kwargs)
        super().__init__(oracle=oracle, hypermodel=hypermodel, trial_seed=seed, **kwargs)


_CLASSES: dict[str, type[kt.Tuner]] = {
    "random": RandomSearch,
    "hyperband": Hyperband,
    "bayesian": BayesianOptimization,
    "grid": GridSearch,
}


def _check_budget(name: str, value: Any, kind: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"`{name}` must be a positive int for kind={kind!r}. Received: {name}={value!r}."
        )


def make_tuner(
    kind: str,
    hypermodel: kt.HyperModel | Callable[[kt.HyperParameters], keras.Model],
    *,
    objective: str | kt.Objective,
    directory: str,
    project_name: str,
    max_trials: int | None = None,
    max_epochs: int | None = None,
    seed: int | None = None,
    hyperparameters: kt.HyperParameters | None = None,
    tune_new_entries: bool = True,
    overwrite: bool = False,
    phase: str | None = None,
    listeners: Iterable[TrialListener] = (),
    refused_fit_args: Mapping[str, str] | None = None,
    cv: int = 1,
    **kwargs: Any,
) -> kt.Tuner:
    """Creates a KerasTuner tuner of the given kind, with tunekit's bookkeeping.

    Args:
        kind: One of `"random"`, `"hyperband"`, `"bayesian"`, `"grid"`.
        hypermodel: A `keras_tuner.HyperModel` or a `build(hp)` function.
        objective: The metric to optimise: a `keras_tuner.Objective`, a name
            with its direction (`"val_f1_score:max"`) or a Keras metric whose
            direction is certain (`"val_accuracy"`, `"val_loss"`), or a list
            of these (KerasTuner's `MultiObjective`), see
            `tunekit.objectives.resolve_objective`.
        directory: Folder holding the project.
        project_name: Name of the KerasTuner project inside `directory`.
        max_trials: Number of trials. Required for `"random"` and
            `"bayesian"`; optional for `"grid"` (the whole grid); not used by
            `"hyperband"`.
        max_epochs: Epochs of the longest Hyperband bracket. Required for, and
            only used by, `"hyperband"` (other tuners take `epochs=` in
            `search()`).
        seed: Seed for the hyperparameter sampling and each trial's weight
            initialisation; 0 is a seed like any other. Defaults to `None`
            (not reproducible).
        hyperparameters: A pre-registered `HyperParameters` that overrides the
            hypermodel's own ranges.
        tune_new_entries: Whether hyperparameters missing from
            `hyperparameters` are tuned. Defaults to `True`.
        overwrite: Whether to delete an existing project of the same name.
            Defaults to `False` (reload it and continue).
        phase: The phase's name, part of each trial's seed and of its
            TensorBoard session. Defaults to `project_name`.
        listeners: Functions called as `listener(tuner, trial)` after each
            trial ended and was saved (e.g. `tunekit.progress.PhaseProgress`).
        refused_fit_args: `{keyword: reason}`: `model.fit` keywords the
            hypermodel's own `fit` may not set; a trial whose `fit` sets one
            fails before training with the reason. `"hyperband"` always
            refuses `epochs` and `initial_epoch`.
        cv: Folds of each trial's cross-validation (K >= 2): a trial trains
            K fresh models on K folds of the data given to `search()`
            (`x`, `y` and `validation_data` together; `StratifiedKFold` for
            class ids, `KFold` otherwise, shuffled with `seed`), and scores
            the mean; `fold_<k>_score` metrics hold the folds' scores (see
            `tunekit.cv`). Costs K times the training. Defaults to 1 (no
            cross-validation). Not with `"hyperband"`; data must be arrays
            or dicts of arrays.
        **kwargs: Passed to the KerasTuner tuner, e.g. `factor=3`,
            `defaults_first=True` (`"random"` only: the first trial is the
            space's default configuration),
            `num_initial_points=5`, `allow_new_entries=False`,
            `max_consecutive_failed_trials=3`, `max_retries_per_trial=0`,
            `executions_per_trial=1`, `cv_seed=None` (the folds' shuffle when
            it is not `seed`: see `tunekit.tuners.base.TunekitTuner`),
            `objective_defaulted=False` and `said=str` (how a trial's failure names
            settings; see `tunekit.tuners.base.TunekitTuner`), `max_model_size=None` (KerasTuner's
            limit on a model's parameters, checked when a configuration is
            proposed: see `tunekit.tuners.oracles.SizeLimitedOracle`).

    Returns:
        The tuner: a `keras_tuner.Tuner` (for `"hyperband"` a
        `keras_tuner.Hyperband`) whose oracle is KerasTuner's matching oracle
        (`tuner.oracle`), or tunekit's subclass of it.

    Raises:
        ValueError: If `kind` is unknown, a required budget is missing, a
            budget is not a positive int, the objective's direction is not
            certain, or `cv` is not an int >= 1 or is given to `"hyperband"`.

    Example:

    ```python
    tuner = make_tuner("random", MnistDenseHyperModel(), objective="val_accuracy",
                       directory="runs", project_name="demo", max_trials=10, seed=0)
    tuner.search(x, y, validation_data=(x_val, y_val), epochs=2)
    ```
    """
    if kind not in _CLASSES:
        raise ValueError(
            f"Unknown tuner kind. Received: kind={kind!r}. Expected one of {list(TUNER_KINDS)}."
        )
    if not (isinstance(hypermodel, kt.HyperModel) or callable(hypermodel)):
        raise TypeError(
            "`hypermodel` must be a keras_tuner.HyperModel or a build(hp) function. "
            f"Received: {hypermodel!r} of type {type(hypermodel).__name__}."
        )
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ValueError(f"`seed` must be an int >= 0 or None. Received: seed={seed!r}.")
    budget: dict[str, Any] = {}
    if kind == "hyperband":
        if max_epochs is None:
            raise ValueError("kind='hyperband' needs `max_epochs` (a positive int).")
        _check_budget("max_epochs", max_epochs, kind)
        if max_trials is not None:
            raise ValueError(
                "kind='hyperband' takes no `max_trials`: its budget is `max_epochs` "
                f"(and `factor`, `hyperband_iterations`). Received: max_trials={max_trials!r}."
            )
        budget["max_epochs"] = max_epochs
    else:
        if max_epochs is not None:
            raise ValueError(
                f"`max_epochs` is only used by kind='hyperband'; for kind={kind!r} pass "
                f"`epochs=` to `search()`. Received: max_epochs={max_epochs!r}."
            )
        if max_trials is None and kind != "grid":
            raise ValueError(f"kind={kind!r} needs `max_trials` (a positive int).")
        if max_trials is not None:
            _check_budget("max_trials", max_trials, kind)
        budget["max_trials"] = max_trials
    _io.protect_kerastuner_state()
    if keras.backend.backend() == "jax":
        from tunekit.backends import enable_jax_compilation_cache

        enable_jax_compilation_cache()
    return _CLASSES[kind](
        hypermodel=hypermodel,
        objective=resolve_objective(objective),
        directory=directory,
        project_name=project_name,
        seed=seed,
        hyperparameters=hyperparameters,
        tune_new_entries=tune_new_entries,
        overwrite=overwrite,
        phase=project_name if phase is None else phase,
        listeners=listeners,
        refused_fit_args=refused_fit_args,
        cv=cv,
        **budget,
        **kwargs,
    )
