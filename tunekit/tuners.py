"""The tuner factory: KerasTuner's tuners with tunekit's trial bookkeeping.

`make_tuner` returns a real KerasTuner tuner (`isinstance(t, kt.Tuner)` holds;
for `"hyperband"` it is a `kt.Hyperband`) whose trials additionally:

- are seeded (`keras.utils.set_random_seed`) from the tuner's seed and the
  trial id, so weight initialisation and shuffling are reproducible;
- record `num_params`, `epochs` (run in this trial) and `seconds` next to the
  model's metrics in the oracle, so they reach `trial.json` (and the chief,
  when tuning is distributed);
- stop at once when the loss becomes NaN or infinite and are marked FAILED
  with the reason, never retried, so they cannot win or drive a narrowing;
- refuse an objective the model never reports, naming the metrics it does;
- call the hypermodel's own `fit` through `tunekit.fitting.fit_hypermodel`,
  so a `fit` that sets `batch_size`, `epochs`, `callbacks`... itself (as in
  KerasTuner's documentation) works: its values win over `search()`'s;
- log their hyperparameters to TensorBoard's HParams on any Keras backend
  when a `keras.callbacks.TensorBoard` is passed to `search()` (see
  `tunekit.tensorboard`);
- with `cv=K` (random, Bayesian and grid search), are cross-validated: K
  folds of train+validation, each a fresh build and fit of the trial's
  model, scored by the mean over the folds, with `fold_<k>_score` per fold
  (see `tunekit.cv`). Hyperband refuses `cv`: it continues a trial from its
  parent's one checkpoint, and a cross-validated trial has K models.

KerasTuner's own JSON state is written atomically (see `tunekit._io`), and the
project is saved before the first trial so an interrupted search resumes.

KerasTuner is extended through its hooks only: tunekit's oracles are
subclasses of KerasTuner's, passed to a `kt.Tuner` subclass as `oracle=`
(`RandomSearch`, `BayesianOptimization`, `GridSearch`), or KerasTuner's own
tuner is subclassed and built through its constructor (`Hyperband`); tunekit's
settings (seed, phase, listeners, refused `fit` keywords) are constructor
arguments. The KerasTuner internals still used are listed, with the versions
they are checked against, in `tunekit._kerastuner`.
"""

from __future__ import annotations

import contextlib
import contextvars
import gc
import inspect
import math
import os
import secrets
import time
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import keras
import keras_tuner as kt
from keras_tuner import errors as kt_errors
from keras_tuner.engine.trial import Trial, TrialStatus

from tunekit import _faults, _io, _kerastuner, interrupts
from tunekit import cv as _cv
from tunekit.data import _targets as tg
from tunekit.fitting import fit_hypermodel
from tunekit.model_size import param_count
from tunekit.objectives import resolve_objective
from tunekit.tensorboard import configure_trial_logdirs

__all__ = [
    "TUNER_KINDS",
    "BayesianOptimization",
    "DefaultsFirstRandomSearchOracle",
    "FixedSpaceBayesianOracle",
    "GridSearch",
    "Hyperband",
    "InterruptCheck",
    "RandomSearch",
    "TrialFacts",
    "TrialListener",
    "declared_only",
    "end_failed_search",
    "kerastuner_seed",
    "make_tuner",
]

TUNER_KINDS = ("random", "hyperband", "bayesian", "grid")
EXTRA_METRICS = ("num_params", "epochs", "seconds")

#: The fold a cross-validated trial is fitting (0 otherwise): its TensorBoard run.
_FOLD: contextvars.ContextVar[int] = contextvars.ContextVar("tunekit_fold", default=0)

#: Called as `listener(tuner, trial)` after each trial ended and was saved.
TrialListener = Callable[[kt.Tuner, Trial], None]


def kerastuner_seed(seed: int | None) -> int | None:
    """Maps a tunekit seed to the seed handed to KerasTuner.

    KerasTuner reads `seed=0` as "no seed" and draws a random one, so tunekit
    passes `seed + 1`: every tunekit seed, 0 included, is reproducible.
    """
    return None if seed is None else seed + 1


class TrialFacts(keras.callbacks.Callback):
    """Counts parameters and epochs, and stops training on a NaN or infinite loss.

    The parameter count is read once the model is built: at the start of
    training, or after the first batch for a model that builds itself on its
    first batch (a Sequential without an `Input`, a subclassed model).
    `nan_at` is `(epoch, batch)` (batch `None` for a validation loss) once it
    stopped training. Used in every trial and in the final retrain.
    """

    def __init__(self) -> None:
        super().__init__()
        self.num_params = 0
        self.epochs = 0
        self.nan_at: tuple[int, int | None] | None = None
        self._epoch = 0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.num_params = param_count(self.model) or 0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if not self.num_params:  # a lazily built model is built by its first batch
            self.num_params = param_count(self.model) or 0
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.nan_at = (self._epoch, batch)
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epochs += 1
        # A loss can overflow in validation only (e.g. huge weights): that fails too.
        for name, value in (logs or {}).items():
            if name.endswith("loss") and not math.isfinite(float(value)):
                self.nan_at = self.nan_at or (epoch, None)
                self.model.stop_training = True


class InterruptCheck(keras.callbacks.Callback):
    """Stops training at the next batch after Ctrl-C or SIGTERM (see `tunekit.interrupts`).

    Raises `tunekit.interrupts.Interrupted` out of `fit`, `evaluate` or
    `predict` rather than setting `stop_training`: an interrupted trial must
    not end as COMPLETED with the score of its first epochs. KerasTuner leaves
    it RUNNING, and a rerun retries it. A no-op unless the command line
    installed its signal handlers.
    """

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        interrupts.check()

    def on_test_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        interrupts.check()

    def on_predict_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        interrupts.check()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        interrupts.check()


def _add_metrics(results: Any, extra: Mapping[str, float], objective_name: str) -> Any:
    """Adds `extra` values to what `HyperModel.fit` returned, in its own form."""
    if isinstance(results, keras.callbacks.History):
        length = max((len(v) for v in results.history.values()), default=1)
        for name, value in extra.items():
            results.history[name] = [value] * length
        return results
    if isinstance(results, dict):
        return {**results, **extra}
    if isinstance(results, (int, float)):
        return {objective_name: float(results), **extra}
    return results


class _TunekitTuner(kt.Tuner):
    """Trial bookkeeping shared by the four tuners (see the module docstring).

    A `kt.Tuner`; placed before KerasTuner's own tuner class when one is
    reused (`Hyperband`). Takes tunekit's settings as keyword arguments and
    passes the others on to KerasTuner.

    Args:
        *args: Passed to the KerasTuner tuner.
        trial_seed: tunekit's seed (0 is a seed), from which each trial's
            weight-initialisation seed is derived with the phase and trial id.
            `None` (the default): trials are not seeded.
        phase: The phase's name (e.g. `"coarse"`): part of each trial's seed,
            of fault-injection checkpoints and of its TensorBoard session.
            Defaults to `"search"`.
        listeners: `TrialListener`s called after each trial ended and was
            saved, in order.
        refused_fit_args: `model.fit` keywords the hypermodel's own `fit` may
            not set, with the reason (see `tunekit.fitting.fit_hypermodel`).
        cv: Folds of each trial's cross-validation over the training plus
            validation data given to `search()`; 1 (the default): no
            cross-validation, trials are scored on the validation data.
        cv_stratify: Whether the folds are stratified by class
            (`StratifiedKFold`) or not (`KFold`); `None` (the default):
            stratified when the targets are class ids (see `tunekit.cv`).
        **kwargs: Passed to the KerasTuner tuner.

    Raises:
        ValueError: `cv` is not an int >= 1.
    """

    def __init__(
        self,
        *args: Any,
        trial_seed: int | None = None,
        phase: str = "search",
        listeners: Iterable[TrialListener] = (),
        refused_fit_args: Mapping[str, str] | None = None,
        cv: int = 1,
        cv_stratify: bool | None = None,
        **kwargs: Any,
    ) -> None:
        if isinstance(cv, bool) or not isinstance(cv, int) or cv < 1:
            raise ValueError(
                f"`cv` must be an int >= 1 (1: no cross-validation). Received: cv={cv!r}."
            )
        self._tunekit_seed = trial_seed
        self._tunekit_phase = phase
        self._tunekit_listeners = tuple(listeners)
        self._tunekit_refused_fit_args = dict(refused_fit_args or {})
        self._tunekit_cv = cv
        self._tunekit_cv_stratify = cv_stratify
        # The folds' shuffle: without a seed still one draw, so all trials share the folds.
        self._tunekit_cv_seed = trial_seed if trial_seed is not None else secrets.randbelow(2**31)
        super().__init__(*args, **kwargs)

    @property
    def phase(self) -> str:
        """The phase's name given to the constructor."""
        return self._tunekit_phase

    @property
    def trial_seed(self) -> int | None:
        """tunekit's seed of the trials (`None`: not seeded)."""
        return self._tunekit_seed

    @property
    def listeners(self) -> tuple[TrialListener, ...]:
        """The listeners called after each trial."""
        return self._tunekit_listeners

    @property
    def refused_fit_args(self) -> dict[str, str]:
        """`model.fit` keywords the hypermodel's own `fit` may not set, with the reason."""
        return dict(self._tunekit_refused_fit_args)

    @property
    def cv(self) -> int:
        """Folds of each trial's cross-validation (1: none)."""
        return self._tunekit_cv

    @property
    def cv_stratify(self) -> bool | None:
        """Whether the folds are stratified by class (`None`: when the targets are class ids)."""
        return self._tunekit_cv_stratify

    def search(self, *fit_args: Any, **fit_kwargs: Any) -> None:
        if self._tunekit_cv > 1:  # refused before any trial, not as K failed trials
            x, y, _, rest = _split_fit_args(fit_args, fit_kwargs)
            _cv.check_splittable(x, "x")
            _cv.check_splittable(y, "y")
            validation = rest.get("validation_data")
            if validation is not None:
                if not isinstance(validation, (tuple, list)) or len(validation) != 2:
                    raise kt_errors.FatalValueError(
                        "With cv=K, `validation_data` must be an `(x_val, y_val)` pair of "
                        "arrays (its samples join the folds); received "
                        f"{type(validation).__name__}."
                    )
                _cv.check_splittable(validation[0], "validation_data")
                _cv.check_splittable(validation[1], "validation_data")
                if rest.get("sample_weight") is not None:
                    raise kt_errors.FatalValueError(
                        "With cv=K, `sample_weight` cannot go with `validation_data`: the "
                        "validation samples join the folds and have no weights. Pass x, y "
                        "and sample_weight for all samples and no validation_data."
                    )
                y = tg.concatenate(y, validation[1])
            # Too few samples (of a class) for the folds: said now, not by every trial.
            _cv.fold_indices(
                y, self._tunekit_cv, seed=self._tunekit_cv_seed, stratify=self._tunekit_cv_stratify
            )
        super().search(*fit_args, **fit_kwargs)

    def run_trial(self, trial: Trial, *args: Any, **kwargs: Any) -> Any:
        _faults.checkpoint(f"{self._tunekit_phase}.trial_start")
        if self._tunekit_seed is not None:
            keras.utils.set_random_seed(self._trial_seed(trial.trial_id))
        start = time.perf_counter()
        with declared_only(trial):
            if self._tunekit_cv > 1:
                histories = self._run_folds(trial, *args, **kwargs)
            else:
                histories = super().run_trial(trial, *args, **kwargs)
        seconds = round(time.perf_counter() - start, 3)
        objective = self.oracle.objective.name
        if isinstance(histories, list):
            return [_add_metrics(h, {"seconds": seconds}, objective) for h in histories]
        return _add_metrics(histories, {"seconds": seconds}, objective)

    def _run_folds(self, trial: Trial, *args: Any, **kwargs: Any) -> Any:
        """The trial cross-validated: KerasTuner's `run_trial` once per fold, combined.

        The folds split train+validation (`validation_data` joins `x`, `y`);
        every trial of the tuner gets the same folds (shuffled with its seed,
        or with one seed drawn when it has none). `sample_weight` is split
        with the samples.
        """
        x, y, more, rest = _split_fit_args(args, kwargs)
        validation = rest.pop("validation_data", None)
        if validation is not None:
            x, y = tg.concatenate(x, validation[0]), tg.concatenate(y, validation[1])
        weights = rest.pop("sample_weight", None)
        splits = _cv.fold_indices(
            y, self._tunekit_cv, seed=self._tunekit_cv_seed, stratify=self._tunekit_cv_stratify
        )
        folds = []
        token = _FOLD.set(0)
        try:
            for fold, (train, val) in enumerate(splits):
                _FOLD.set(fold)
                fold_kwargs = dict(rest, validation_data=(tg.take(x, val), tg.take(y, val)))
                if weights is not None:
                    fold_kwargs["sample_weight"] = tg.take(weights, train)
                results = super().run_trial(
                    trial, tg.take(x, train), tg.take(y, train), *more, **fold_kwargs
                )
                folds.append(results if isinstance(results, list) else [results])
        finally:
            _FOLD.reset(token)
        return _cv.combine_folds(folds, self.oracle.objective)

    def _trial_seed(self, trial_id: str) -> int:
        key = f"{self._tunekit_seed}:{self._tunekit_phase}:{trial_id}".encode()
        return zlib.crc32(key) % (2**31 - 1)

    def _build_and_fit_model(self, trial: Trial, *args: Any, **kwargs: Any) -> Any:
        facts = TrialFacts()
        kwargs["callbacks"] = [*kwargs.get("callbacks", []), facts, InterruptCheck()]
        # KerasTuner's Tuner._build_and_fit_model, with the hypermodel's fit called
        # through fit_hypermodel (its own keywords win over search()'s).
        hp = trial.hyperparameters
        model = self._try_build(hp)
        results = fit_hypermodel(
            self.hypermodel, hp, model, *args, refused=self._tunekit_refused_fit_args, **kwargs
        ).results
        if _kerastuner.multi_backend():
            _kerastuner.utils.save_json(
                self._get_build_config_fname(trial.trial_id), model.get_build_config()
            )
        _kerastuner.validate_trial_results(results, self.oracle.objective, "HyperModel.fit()")
        if facts.nan_at is not None:
            epoch, batch = facts.nan_at
            where = f"epoch {epoch + 1}" + ("" if batch is None else f", batch {batch + 1}")
            raise kt_errors.FailedTrialError(
                f"The loss became NaN or infinite at {where}: training stopped; the trial "
                "is FAILED and will not be retried."
            )
        objective = self.oracle.objective
        if isinstance(results, keras.callbacks.History):
            names = getattr(objective, "name_to_direction", {objective.name: None})
            missing = [n for n in names if n not in results.history]
            if missing:
                raise kt_errors.FatalValueError(
                    f"The objective {missing[0]!r} is not among the metrics the model "
                    f"reports: {sorted(results.history)}. Choose one of those as "
                    "`objective` (validation metrics need validation data)."
                )
        extra = {"num_params": facts.num_params, "epochs": facts.epochs}
        return _add_metrics(results, extra, objective.name)

    def _configure_tensorboard_dir(self, callbacks: list, trial: Trial, execution: int = 0) -> None:
        # Replaces KerasTuner's version (TensorFlow-only HParams, no phase,
        # inactive and internal values logged); same log-dir layout.
        hp = trial.hyperparameters
        declared = hp.declared if isinstance(hp, _DeclaringHyperParameters) else None
        configure_trial_logdirs(
            callbacks,
            trial,
            execution + _FOLD.get() * self.executions_per_trial,  # one run per fold
            self._tunekit_phase,
            self._get_tensorboard_dir,
            declared=declared,
        )

    def on_search_begin(self) -> None:
        super().on_search_begin()
        # KerasTuner runs gc.collect() twice per trial; with TensorFlow or JAX
        # loaded that walks millions of long-lived objects (~0.4 s each time).
        # Freezing them once makes those collections cheap; per-trial garbage
        # is still collected.
        gc.collect()
        gc.freeze()
        if not self._is_worker():
            # Saved before any trial, oracle first: a kill during the first trial
            # resumes instead of silently starting the project over.
            self.oracle.save()
            self.save()

    def on_trial_begin(self, trial: Trial) -> None:
        interrupts.check()  # the trial stays RUNNING: a rerun retries it
        super().on_trial_begin(trial)

    def on_trial_end(self, trial: Trial) -> None:
        try:
            super().on_trial_end(trial)
        except Exception as e:
            if self._is_worker():
                raise
            end_failed_search(self.oracle, trial, e)
            self.save()
            raise
        for listener in self._tunekit_listeners:
            listener(self, trial)
        interrupts.check()  # the trial is saved: stop before the next one


def _split_fit_args(
    args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> tuple[Any, Any, tuple[Any, ...], dict[str, Any]]:
    """`(x, y, other positional arguments, other keywords)` of a `search()` / `fit` call."""
    rest = dict(kwargs)
    positional = list(args)
    x = positional.pop(0) if positional else rest.pop("x", None)
    y = positional.pop(0) if positional else rest.pop("y", None)
    return x, y, tuple(positional), rest


class _DeclaringHyperParameters(kt.HyperParameters):
    """`HyperParameters` that records each name a trial's `build` and `fit` ask for.

    Through KerasTuner's public methods only (`Boolean`, `Choice`, `Fixed`,
    `Float`, `Int`, `get`, and `name in hp`, which calls `get`). The names are
    in `declared`; see `declared_only`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.declared: set[str] = set()

    def get(self, name: str) -> Any:
        self.declared.add(name)
        return super().get(name)

    def Boolean(self, name: str, *args: Any, **kwargs: Any) -> Any:  # noqa: N802 (KerasTuner's name)
        self.declared.add(name)
        return super().Boolean(name, *args, **kwargs)

    def Choice(self, name: str, *args: Any, **kwargs: Any) -> Any:  # noqa: N802
        self.declared.add(name)
        return super().Choice(name, *args, **kwargs)

    def Fixed(self, name: str, *args: Any, **kwargs: Any) -> Any:  # noqa: N802
        self.declared.add(name)
        return super().Fixed(name, *args, **kwargs)

    def Float(self, name: str, *args: Any, **kwargs: Any) -> Any:  # noqa: N802
        self.declared.add(name)
        return super().Float(name, *args, **kwargs)

    def Int(self, name: str, *args: Any, **kwargs: Any) -> Any:  # noqa: N802
        self.declared.add(name)
        return super().Int(name, *args, **kwargs)


@contextlib.contextmanager
def declared_only(trial: Trial) -> Iterator[set[str]]:
    """Keeps in `trial.hyperparameters` only the names its `build` and `fit` asked for.

    An oracle gives a trial a value for every name in its space, also for names
    that only some builds declare (e.g. `units_2` of a layer built in a loop
    `for i in range(hp.Int("num_layers", 1, 3))`): a trial that built one layer
    still records a random `units_2`, and KerasTuner refills it when the trial
    ends. Such values never shaped the model, so they must not reach
    `trial.json`, the narrowing or the chosen configuration: once the trial
    ran, its hyperparameters are replaced by the ones it declared (space and
    values), plus KerasTuner's internal `tuner/...` values.

    While the block runs, `trial.hyperparameters` is a copy that records the
    names asked for (a `kt.HyperParameters` subclass); the block receives that
    set, which grows as `build` and `fit` declare. If the block raises, the
    trial keeps all its hyperparameters (as a plain `kt.HyperParameters`).

    Yields:
        The set of names declared so far.
    """
    tracking = _DeclaringHyperParameters.from_config(trial.hyperparameters.get_config())
    trial.hyperparameters = tracking
    try:
        yield tracking.declared
    except BaseException:
        trial.hyperparameters = tracking.copy()
        raise
    asked = tracking.declared
    keep = lambda name: name in asked or name.startswith("tuner/")
    declared = kt.HyperParameters()
    declared.merge([one for one in tracking.space if keep(one.name)])
    declared.values = {name: value for name, value in tracking.values.items() if keep(name)}
    trial.hyperparameters = declared


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


def _make_oracle(
    oracle_class: type[kt.Oracle], objective: Any, seed: int | None, kwargs: dict[str, Any]
) -> kt.Oracle:
    """Builds `oracle_class`, taking from `kwargs` the arguments it accepts.

    What is left in `kwargs` is for the tuner (`directory`, `project_name`,
    `executions_per_trial`...), as in KerasTuner's own tuners.
    """
    accepted = inspect.signature(oracle_class).parameters
    own = {name: kwargs.pop(name) for name in list(kwargs) if name in accepted}
    return oracle_class(objective=objective, seed=kerastuner_seed(seed), **own)


class RandomSearch(_TunekitTuner):
    """Random search with tunekit's trial bookkeeping: a `kt.Tuner` given a random oracle.

    Takes the arguments of `keras_tuner.RandomSearch` (those of
    `kt.oracles.RandomSearchOracle` build the oracle, the others go to
    `kt.Tuner`), plus tunekit's (see `_TunekitTuner`).

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
        oracle_class = (
            DefaultsFirstRandomSearchOracle if defaults_first else kt.oracles.RandomSearchOracle
        )
        oracle = _make_oracle(oracle_class, objective, seed, kwargs)
        super().__init__(oracle=oracle, hypermodel=hypermodel, trial_seed=seed, **kwargs)


HYPERBAND_EPOCHS = (
    "Hyperband allocates each trial's epochs itself (`tuner/epochs`, "
    "`tuner/initial_epoch`, within `max_epochs`). Remove `epochs` from the "
    "hypermodel's fit, or tune with a search whose trials can train the "
    "epochs it sets (fine_tuner='bayesian')."
)
HYPERBAND_REFUSED_FIT_ARGS = {"epochs": HYPERBAND_EPOCHS, "initial_epoch": HYPERBAND_EPOCHS}
HYPERBAND_CV = (
    "Hyperband continues a trial from its parent trial's checkpoint (one model), and a "
    "cross-validated trial trains one model per fold, whose K checkpoints KerasTuner's "
    "Hyperband cannot continue."
)


class Hyperband(_TunekitTuner, kt.Hyperband):
    """KerasTuner's `Hyperband` with tunekit's trial bookkeeping.

    Built through `keras_tuner.Hyperband`'s own constructor (its oracle needs
    nothing added). A hypermodel whose own `fit` sets `epochs` or
    `initial_epoch` is refused at its first trial, before training
    (`tunekit.fitting.HyperModelFitError`): those are Hyperband's budget;
    `refused_fit_args` adds to them. Cross-validation (`cv` > 1) is refused
    (see `HYPERBAND_CV`): cross-validate with `BayesianOptimization` or
    `RandomSearch`.

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
        super().__init__(
            hypermodel=hypermodel,
            objective=objective,
            seed=kerastuner_seed(seed),
            trial_seed=seed,
            refused_fit_args={**HYPERBAND_REFUSED_FIT_ARGS, **(refused_fit_args or {})},
            **kwargs,
        )

    def _build_hypermodel(self, hp: kt.HyperParameters) -> keras.Model:
        parent = hp.values.get("tuner/trial_id")
        if parent is not None and not os.path.exists(self._get_checkpoint_fname(parent)):
            raise kt_errors.FailedTrialError(
                f"Hyperband continues trial {parent} from its checkpoint "
                f"{self._get_checkpoint_fname(parent)}, which this process cannot read. With "
                "workers on several machines, put the run folder (--directory) on a filesystem "
                "they all share, or use --fine-tuner bayesian."
            )
        # A continued trial loads its parent's weights but not its optimizer
        # state (by KerasTuner's design); Keras warns about that every time.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            return super()._build_hypermodel(hp)


class BayesianOptimization(_TunekitTuner):
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
        oracle = _make_oracle(FixedSpaceBayesianOracle, objective, seed, kwargs)
        super().__init__(oracle=oracle, hypermodel=hypermodel, trial_seed=seed, **kwargs)


class GridSearch(_TunekitTuner):
    """Grid search with tunekit's trial bookkeeping: a `kt.Tuner` given a `GridSearchOracle`.

    Takes the arguments of `keras_tuner.GridSearch`.

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
        oracle = _make_oracle(kt.oracles.GridSearchOracle, objective, seed, kwargs)
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
            direction is certain (`"val_accuracy"`, `"val_loss"`), see
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
            `max_consecutive_failed_trials=3`, `executions_per_trial=1`.

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
