"""`TunekitTuner`: the trial bookkeeping shared by tunekit's four tuners.

Seeding, the extra metrics (`num_params`, `seconds`, and the trial's length and
where it was scored: `tunekit.trial_length`), NaN losses,
the hypermodel's own `fit`, TensorBoard runs, listeners, and the
cross-validated `run_trial` (`cv=K`, see `tunekit.cv`). The module
docstring of `tunekit.tuners` lists what a trial does.

It is over 400 lines because every KerasTuner hook a trial passes through
(build, fit, checkpoint, end, reload, and their timing) is an override of
this one class.
"""

from __future__ import annotations

import contextvars
import dataclasses
import difflib
import gc
import logging
import secrets
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
from keras_tuner import errors as kt_errors
from keras_tuner.engine.trial import Trial

from tunekit import _faults, _kerastuner, _log, interrupts, timing
from tunekit import cv as _cv
from tunekit.data import _targets as tg
from tunekit.data.batches import sample_bytes, validation_batch_size
from tunekit.data.streams import is_stream
from tunekit.default_build import check_built_a_model
from tunekit.errors import ModelCheckError, StateFileError, said_as
from tunekit.fit_inputs import FoldFit
from tunekit.fit_results import not_one_number
from tunekit.fitting import HyperModelFitError, SearchInputError, fit_hypermodel
from tunekit.hparams_results import TrialResults, write_trial_results
from tunekit.hypermodel_kinds import own_fit
from tunekit.objectives import known_direction, objective_names, training_metric_note
from tunekit.own_loops import BUDGET_METRIC, budget_warning, planned_epochs
from tunekit.params import CV_REFUSED
from tunekit.processes import release_trial_memory
from tunekit.stream_fit_args import StreamArgs, ignored_arguments
from tunekit.tensorboard import configure_trial_logdirs
from tunekit.trial_length import SCORED_AT_END, fit_stages, is_number, length_metrics
from tunekit.trial_names import trial_name
from tunekit.trial_refusals import (
    Said,
    TrialRefusedError,
    as_said,
    refusal,
    said_text,
    trial_values,
    trial_what,
)
from tunekit.tuners.callbacks import (
    BestEpochWeights,
    InterruptCheck,
    TrialFacts,
    empty_stream_message,
)
from tunekit.tuners.declared import DeclaringHyperParameters, declared_only
from tunekit.tuners.machine_errors import machine_stop
from tunekit.tuners.oracles import (
    ModelSizeLimit,
    SizeLimitedOracle,
    end_failed_search,
    first_sample,
    model_size,
)
from tunekit.tuners.returned import check_returned, evaluator
from tunekit.tuners.search_record import STATE_KEY, SearchRecord

_logger = logging.getLogger(__name__)

__all__ = ["BEST_EPOCH", "EXTRA_METRICS", "TrialListener", "TunekitTuner"]

EXTRA_METRICS = ("num_params", "epochs", "seconds")
# With several executions per trial: the epoch its executions' mean curve is best at.
BEST_EPOCH = "best_epoch"

#: The fold a cross-validated trial is fitting (0 otherwise): its TensorBoard run.
_FOLD: contextvars.ContextVar[int] = contextvars.ContextVar("tunekit_fold", default=0)

#: Called as `listener(tuner, trial)` after each trial ended and was saved.
TrialListener = Callable[[kt.Tuner, Trial], None]


class _GcFreeze:
    """The search's `gc.freeze()` and its undoing.

    KerasTuner runs `gc.collect()` twice per trial; with TensorFlow or JAX
    loaded that walks millions of long-lived objects (~0.4 s each time).
    Freezing them once at the search's start makes those collections cheap;
    per-trial garbage is still collected. `thaw` undoes it once, also when the
    search raised (Ctrl-C, a fatal trial): else every object alive then stayed
    out of the collector's reach. Nothing is frozen when something else froze
    objects already (`gc.get_freeze_count()`): thawing would undo its freeze.
    """

    def __init__(self) -> None:
        self.frozen = False

    def freeze(self) -> None:
        gc.collect()
        self.frozen = gc.get_freeze_count() == 0
        if self.frozen:
            gc.freeze()

    def thaw(self) -> None:
        if self.frozen:
            self.frozen = False
            gc.unfreeze()


@dataclasses.dataclass
class _RunningTrial:
    """The running trial's time split and checkpoint callbacks (see `TunekitTuner`).

    `checkpoints`: tunekit's `BestEpochWeights` for each of KerasTuner's
    `SaveBestEpoch` (one per trial, shared by its executions), by `id`.
    `sessions`: its TensorBoard session folders (each execution's and fold's), which
    get its results when it ends (`tunekit.hparams_results`).
    """

    clock: timing.TrialClock | None = None
    checkpoints: dict[int, BestEpochWeights] = dataclasses.field(default_factory=dict)
    sessions: dict[str, None] = dataclasses.field(default_factory=dict)
    # One input sample of the search's x (`first_sample`): builds a model without an
    # Input when the oracle proposes it, so max_model_size is checked before training.
    sample: Any = None

    def searching(self, x: Any) -> None:
        """A search starts on inputs `x`: keep their first sample."""
        self.sample = first_sample(x)

    def started(self) -> timing.TrialClock:
        """The running trial's clock, started now if none runs."""
        if self.clock is None:
            self.clock = timing.TrialClock()
        return self.clock

    def ended(self) -> None:
        """The trial ended: the next one gets a new clock, and its checkpoints go.

        Each `BestEpochWeights` holds its trial's model (Keras's
        `Callback.model`): kept past the trial, the last trial's model, its
        optimizer and compiled functions would stay alive as long as the tuner.
        """
        self.clock = None
        self.checkpoints.clear()
        self.sessions.clear()

    def checkpoint(self, callback: Any) -> BestEpochWeights:
        """The `BestEpochWeights` for KerasTuner's `SaveBestEpoch` `callback`."""
        if id(callback) not in self.checkpoints:
            self.checkpoints[id(callback)] = BestEpochWeights(callback.objective, callback.filepath)
        return self.checkpoints[id(callback)]


def _mean_curve_best_epoch(histories: list[Any], objective: Any) -> int | None:
    """The epoch (from 0) where the objective's mean over a trial's executions is best.

    KerasTuner's `best_step` for `executions_per_trial > 1` is the mean of each
    execution's best epoch, cut to an int: executions best at epochs 0 and 1 of
    2 give 0, where their mean curve peaks at 1. `None` unless there are several
    `History` objects of one length that log the objective.
    """
    curves = [getattr(h, "history", {}).get(objective.name) for h in histories]
    found = [c for c in curves if c is not None]
    if len(curves) < 2 or len(found) < len(curves) or len({len(c) for c in found}) != 1:
        return None
    mean = np.mean(np.asarray(curves, dtype=float), axis=0)
    return int(np.argmax(mean) if objective.direction == "max" else np.argmin(mean))


def _add_metrics(results: Any, extra: Mapping[str, float], objective_name: str) -> Any:
    """Adds `extra` values to what `HyperModel.fit` returned, in its own form (one number,
    a NumPy scalar too, becomes `{objective_name: number}`)."""
    if isinstance(results, keras.callbacks.History):
        length = max((len(v) for v in results.history.values()), default=1)
        for name, value in extra.items():
            results.history[name] = [value] * length
        return results
    if isinstance(results, dict):
        return {**results, **extra}
    if is_number(results):
        return {objective_name: float(results), **extra}
    return results


class TunekitTuner(kt.Tuner):
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
        cv_seed: Seed of the folds' shuffle, the same for every trial of the
            tuner; `CoarseToFine` passes the run's `seed`, so the coarse and
            fine phases (whose `trial_seed`s differ) split the same folds.
            `None` (the default): `trial_seed`, or when that is `None` too
            one seed drawn for the tuner.
        max_model_size: KerasTuner's limit on a model's parameter count
            (trainable and not, as `num_params`). tunekit's oracles reject
            a larger configuration when they propose it (see
            `tunekit.tuners.oracles.SizeLimitedOracle`), a model without an
            `Input` after building it on one sample of `search()`'s `x`;
            one whose size is only known once trained (no `Input` and `x` a
            dataset) fails its trial if it is larger. `None` (the default):
            no limit.
        objective_defaulted: Whether the objective is a default the user did
            not choose. A trial whose hypermodel `fit` then returns one number,
            which KerasTuner files under the objective's name, fails
            (`TrialRefusedError`; the search goes on): plain KerasTuner
            minimises such a number when given no objective, so a default
            `val_accuracy` (max) would rank trials by an error the wrong way.
            Defaults to `False`.
        model_check: Called as `model_check(model, what)` on each trial's
            built model before it trains (`what` names the trial for the
            message). A `ModelCheckError` it raises fails that trial
            (`TrialRefusedError`; the model depends on the trial's values), a
            KerasTuner `FatalError` stops the search. Defaults to `None` (no
            check).
        stop_on_default_refusal: Whether a refusal of the trial whose values
            are the space's default configuration stops the search at once
            (`SearchInputError`) instead of failing that trial
            (`tunekit.trial_refusals.refusal`). Defaults to `True`;
            `CoarseToFine`'s fine phase passes `False` (a narrowed space's
            defaults are not the hypermodel's).
        said: How a trial's error of tunekit's (a refusal, a refused `fit` call, an
            oversized model) names the run's settings in its `trial.json`
            (`tunekit.trial_refusals.Said`): `str` (the default: keyword arguments,
            `objective`), or the command line's `cli_message` (`--objective`), which
            `CoarseToFine.said` passes.
        **kwargs: Passed to the KerasTuner tuner.

    Raises:
        ValueError: `cv` is not an int >= 1, or `cv_seed` not an int >= 0.
    """

    # Makes `x` anew for each trial, after its seed (`StreamData.fresh_train`): set by the
    # search step for an image folder's stream, whose shuffle order an object keeps.
    fresh_x: Callable[[], Any] | None = None

    def __init__(
        self,
        *args: Any,
        trial_seed: int | None = None,
        phase: str = "search",
        listeners: Iterable[TrialListener] = (),
        refused_fit_args: Mapping[str, str] | None = None,
        cv: int = 1,
        cv_stratify: bool | None = None,
        cv_seed: int | None = None,
        max_model_size: int | None = None,
        objective_defaulted: bool = False,
        model_check: Callable[[keras.Model, str], None] | None = None,
        stop_on_default_refusal: bool = True,
        said: Said = str,
        **kwargs: Any,
    ) -> None:
        if isinstance(cv, bool) or not isinstance(cv, int) or cv < 1:
            raise ValueError(
                f"`cv` must be an int >= 1 (1: no cross-validation). {CV_REFUSED} "
                f"Received: cv={cv!r}."
            )
        if cv_seed is not None and (
            isinstance(cv_seed, bool) or not isinstance(cv_seed, int) or cv_seed < 0
        ):
            raise ValueError(f"`cv_seed` must be an int >= 0 or None. Received: {cv_seed!r}.")
        _log.hide_keras_retracing()  # each trial's new model is traced once: expected
        self._tunekit_seed = trial_seed
        self._tunekit_phase = phase
        self._tunekit_listeners = tuple(listeners)
        self._tunekit_refused_fit_args = dict(refused_fit_args or {})
        self._tunekit_cv = cv
        self._tunekit_objective_defaulted = objective_defaulted
        self._tunekit_model_check = model_check
        self._tunekit_stop_on_defaults = stop_on_default_refusal
        self._tunekit_said = said
        self._tunekit_cv_stratify = cv_stratify
        # The folds' shuffle: without a seed still one draw, so all trials share the folds.
        if cv_seed is None:
            cv_seed = trial_seed if trial_seed is not None else secrets.randbelow(2**31)
        self._tunekit_cv_seed = cv_seed
        self._tunekit_gc = _GcFreeze()  # see on_search_begin
        self._tunekit_trial = _RunningTrial()
        # The execution KerasTuner is about to fit (`_configure_tensorboard_dir` says), and
        # whether a training-data objective was said (`_note_training_metric`).
        self._tunekit_fits: dict[str, Any] = {"execution": 0, "training_noted": False}
        # What the search's fits showed that decides how later trials are taken: saved with
        # the tuner's state as soon as it changes, read back by KerasTuner's reload.
        self._tunekit_record = SearchRecord()
        # kt.Tuner's constructor, also for Hyperband: kt.Hyperband's own only builds its
        # oracle, which tunekit builds itself (`tunekit.tuners.oracles.HyperbandOracle`).
        kt.Tuner.__init__(self, *args, max_model_size=max_model_size, **kwargs)
        if max_model_size is not None and isinstance(self.oracle, SizeLimitedOracle):
            self.oracle.size_limit = ModelSizeLimit(max_model_size, self._model_size)

    def _model_size(self, hp: kt.HyperParameters) -> int | None:
        """The parameter count of `hp`'s model, built without training (`model_size`).

        Called by the oracle while it proposes a trial: its time is the
        trial's oracle time.
        """
        return model_size(self.hypermodel, hp, sample=self._tunekit_trial.sample)

    def _trial_name(self, trial_id: str) -> str:
        """How a message names the trial (`tunekit.trial_names.trial_name`); a worker's
        oracle keeps no end order, so its message has no progress number."""
        oracle = None if self._is_worker() else self.oracle
        return trial_name(self._tunekit_phase, oracle, trial_id, self.project_dir)

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
    def stream_fit_args(self) -> StreamArgs:
        """The `model.fit` keywords the hypermodel's `fit` passed that Keras ignores for the
        stream, with the hyperparameters they equal (`tunekit.stream_fit_args`)."""
        if "stream_args" not in self._tunekit_fits:
            self._tunekit_fits.update(stream_args=StreamArgs(self.project_dir))
        return self._tunekit_fits["stream_args"]

    @property
    def cv(self) -> int:
        """Folds of each trial's cross-validation (1: none)."""
        return self._tunekit_cv

    @property
    def cv_stratify(self) -> bool | None:
        """Whether the folds are stratified by class (`None`: when the targets are class ids)."""
        return self._tunekit_cv_stratify

    def search(self, *fit_args: Any, **fit_kwargs: Any) -> None:
        # One input sample, so that a model without an Input (built by its first batch)
        # is measured against max_model_size when proposed, not after training.
        x, y, _, rest = _split_fit_args(fit_args, fit_kwargs)
        self._tunekit_trial.searching(x)
        if self._tunekit_cv > 1:  # refused before any trial, not as K failed trials
            _cv.check_splittable(x, "x")
            _cv.check_splittable(y, "y")
            validation = rest.get("validation_data")
            if validation is not None:
                if not isinstance(validation, (tuple, list)) or len(validation) != 2:
                    raise SearchInputError(
                        "With cv=K, `validation_data` must be an `(x_val, y_val)` pair of "
                        "arrays (its samples join the folds); received "
                        f"{type(validation).__name__}."
                    )
                _cv.check_splittable(validation[0], "validation_data")
                _cv.check_splittable(validation[1], "validation_data")
                if rest.get("sample_weight") is not None:
                    raise SearchInputError(
                        "With cv=K, `sample_weight` cannot go with `validation_data`: the "
                        "validation samples join the folds and have no weights. Pass x, y "
                        "and sample_weight for all samples and no validation_data."
                    )
                y = tg.concatenate(y, validation[1])
            # Too few samples (of a class) for the folds: said now, not by every trial.
            _cv.fold_indices(
                y, self._tunekit_cv, seed=self._tunekit_cv_seed, stratify=self._tunekit_cv_stratify
            )
        try:
            super().search(*fit_args, **fit_kwargs)
        finally:  # a search that raised (Ctrl-C, a fatal trial) never reaches on_search_end
            self._tunekit_gc.thaw()

    def run_trial(self, trial: Trial, *args: Any, **kwargs: Any) -> Any:
        _faults.checkpoint(f"{self._tunekit_phase}.trial_start")
        if self._tunekit_seed is not None:
            keras.utils.set_random_seed(self._trial_seed(trial.trial_id))
        if self.fresh_x is not None and args:  # `StreamData.fresh_train`, after the seed
            args = (self.fresh_x(), *args[1:])
        start = time.perf_counter()
        self._tunekit_trial.checkpoints.clear()
        self._tunekit_trial.sessions.clear()
        try:
            with declared_only(trial):
                if self._tunekit_cv > 1:
                    histories = self._run_folds(trial, *args, **kwargs)
                else:
                    histories = super().run_trial(trial, *args, **kwargs)
        except kt_errors.FatalError as e:  # the search stops: its trial ends FAILED, not RUNNING
            self._tunekit_trial.ended()
            if not self._is_worker():
                end_failed_search(self.oracle, trial, e)
            raise
        except Exception as e:  # a full disk: the machine's, not the trial's; it reruns
            if (stop := machine_stop(e, self._trial_name(trial.trial_id))) is None:
                raise
            self._tunekit_trial.ended()
            raise stop from e
        finally:
            self._clock().lap()  # from here to on_trial_end: the oracle's update_trial
        seconds = round(time.perf_counter() - start, 3)
        objective = self.oracle.objective.name
        if isinstance(histories, list):
            extra: dict[str, float] = {"seconds": seconds}
            if (best := _mean_curve_best_epoch(histories, self.oracle.objective)) is not None:
                extra[BEST_EPOCH] = best
            return [_add_metrics(h, extra, objective) for h in histories]
        return _add_metrics(histories, {"seconds": seconds}, objective)

    def _run_folds(self, trial: Trial, *args: Any, **kwargs: Any) -> Any:
        """The trial cross-validated: KerasTuner's `run_trial` once per fold, combined.

        The folds split train+validation (`validation_data` joins `x`, `y`);
        every trial of the tuner gets the same folds (shuffled with its
        `cv_seed`: see the constructor). `sample_weight` is split
        with the samples.
        """
        x, y, more, rest = _split_fit_args(args, kwargs)
        # The training split's length: a fold's fit that fails for an array of it says so.
        self._tunekit_fits.update(train_samples=tg.length(x, "x"))
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
                if "validation_batch_size" not in rest:  # no partial batch (see there)
                    fold_kwargs["validation_batch_size"] = validation_batch_size(
                        len(val), rest.get("batch_size") or 32, sample_bytes(x)
                    )
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

    def _clock(self) -> timing.TrialClock:
        """The running trial's clock (a new one for a trial run outside `search`)."""
        return self._tunekit_trial.started()

    def pre_create_trial(self) -> None:
        super().pre_create_trial()
        self._clock()  # started before the oracle's create_trial (kept while it says IDLE)

    def _build_hypermodel(self, hp: Any) -> keras.Model:
        with self._clock().measure("build"):
            model = super()._build_hypermodel(hp)
        try:  # KerasTuner's _try_build stops the whole search on it (`FatalTypeError`)
            check_built_a_model(model, f"the values {trial_values(hp)}")
        except ModelCheckError as e:  # these values: this trial fails, the search goes on
            raise TrialRefusedError(str(e)) from None
        return model

    def _checkpoint_once(self, callback: Any) -> Any:
        """KerasTuner's best-epoch checkpoint as a `BestEpochWeights` (written once per fit)."""
        if type(callback) is not _kerastuner.SaveBestEpoch:
            return callback
        return self._tunekit_trial.checkpoint(callback)

    def _build_and_fit_model(self, trial: Trial, *args: Any, **kwargs: Any) -> Any:
        try:
            return self._build_and_fit_checked(trial, *args, **kwargs)
        except (TrialRefusedError, HyperModelFitError) as e:  # the defaults' stops the search
            hp, said = trial.hyperparameters, self._tunekit_said
            raised = refusal(e, trial.trial_id, hp, self._tunekit_stop_on_defaults, said)
            # a refused fit call keeps its cause (Keras's words), once in trial.json
            raise raised from (raised.__cause__ if raised.__class__ is e.__class__ else None)
        except SearchInputError as e:  # settings named as the run does
            if self._tunekit_said is str:
                raise
            raise as_said(e, self._tunekit_said) from e.__cause__  # not twice in trial.json

    def _build_and_fit_checked(self, trial: Trial, *args: Any, **kwargs: Any) -> Any:
        clock = self._clock()
        # An epoch without a batch is empty: after fits that had batches, or on a stream
        # Keras's own fit reads (a StreamData split that yields none is refused when made).
        x = args[0] if args else kwargs.get("x")
        streamed = is_stream(x)
        if not streamed and x is not None and "sample" not in self._tunekit_fits:
            # What a continued Hyperband trial builds a lazily built model on (`factory`).
            try:
                sample = keras.tree.map_structure(lambda a: a[:2], x)
            except Exception:  # noqa: BLE001 - data that does not slice: no sample
                sample = None
            self._tunekit_fits.update(sample=sample)
        record = self._tunekit_record
        expect = record.batched or (streamed and not own_fit(self.hypermodel))
        facts = TrialFacts(expect_batches=expect)
        callbacks = [self._checkpoint_once(c) for c in kwargs.get("callbacks", [])]
        directions = getattr(self.oracle.objective, "name_to_direction", None)
        vector = _VectorObjective(list(directions or [self.oracle.objective.name]))
        # first: before KerasTuner's own callback (in `callbacks`) compares the objective
        kwargs["callbacks"] = clock.fit.instrument([vector, *callbacks, facts, InterruptCheck()])
        # KerasTuner's Tuner._build_and_fit_model, with the hypermodel's fit called
        # through fit_hypermodel (its own keywords win over search()'s).
        hp = trial.hyperparameters
        execution = self._tunekit_fits["execution"]
        if execution and self._tunekit_seed is not None:
            # Each further execution its own seed: a Hyperband trial that continues another
            # loads the same weights, and under the trial's seed every execution repeated
            # the first one's batches exactly (one sample averaged with itself).
            keras.utils.set_random_seed(self._trial_seed(f"{trial.trial_id}/{execution}"))
        start, built = time.perf_counter(), clock.parts["build"]
        model = self._try_build(hp)  # clear_session and gc.collect, then the build
        clock.parts["gc"] += time.perf_counter() - start - (clock.parts["build"] - built)
        if self._tunekit_model_check is not None:  # e.g. a tuned output activation
            try:
                self._tunekit_model_check(model, trial_what(trial.trial_id, hp))
            except ModelCheckError as e:  # this trial's values: it fails, the search goes on
                raise said_as(TrialRefusedError(str(e)), cli_words=dict(e.cli_words)) from None
        start, before = time.perf_counter(), set(hp.values)
        fold = None  # a cross-validated trial's fit: which fold (for an error's message)
        if self._tunekit_cv > 1:
            fold = FoldFit(_FOLD.get() + 1, self._tunekit_cv, self._tunekit_fits["train_samples"])
        fitted = fit_hypermodel(
            self.hypermodel,
            hp,
            model,
            *args,
            refused=self._tunekit_refused_fit_args,
            fold=fold,
            **kwargs,
        )
        results = fitted.results
        clock.fit.add_fit(time.perf_counter() - start)
        ignored = ignored_arguments(
            x,
            kwargs,
            fitted.fit_kwargs,
            fitted.set_by_hypermodel,
            trial_values(hp),
            set(hp.values) - before,
        )  # batch_size= on a stream: said at the first trial that passes it
        self.stream_fit_args.record(trial.trial_id, type(self.hypermodel).__name__, ignored, x)
        self._fit_returned(trial, kwargs["callbacks"], model)
        if _kerastuner.multi_backend():
            _kerastuner.utils.save_json(
                self._get_build_config_fname(trial.trial_id), model.get_build_config()
            )
        _check_fit_results(results, self.oracle.objective, self._tunekit_objective_defaulted)
        evaluate = None
        if not record.evaluated:
            validation = kwargs.get("validation_data")
            if validation is not None:
                evaluate = evaluator(model, validation, kwargs.get("validation_batch_size"))
        try:  # names scored, and refused: on disk before the trial ends, scored or failed
            if check_returned(
                results,
                self.oracle.objective.name,
                facts.logged,
                evaluate,
                record.returned,
                trial_id=trial.trial_id,
                name_trial=self._trial_name,
            ):
                record.evaluated = True
        finally:
            self._save_record()
        _note_training_metric(self, results)
        if facts.nan_at is not None:
            epoch, batch = facts.nan_at
            where = f"epoch {epoch + 1}" + ("" if batch is None else f", batch {batch + 1}")
            raise kt_errors.FailedTrialError(
                f"The loss became NaN or infinite at {where}: training stopped; the trial "
                "is FAILED and will not be retried."
            )
        if facts.batches and not record.batched:
            record.batched = True
            self._save_record()
        if facts.empty_epoch is not None:  # every further trial would read nothing either
            raise SearchInputError(empty_stream_message(facts, f"Trial {trial.trial_id}"))
        objective = self.oracle.objective
        if isinstance(results, keras.callbacks.History):
            names = getattr(objective, "name_to_direction", {objective.name: None})
            _check_vector_objective(list(names), results.history)
            missing = [n for n in names if n not in results.history]
            if missing:
                wanted = names[missing[0]] or getattr(objective, "direction", None)
                scalars = [  # of the objective's direction: `val_top3:max` is no val_loss
                    n
                    for n, v in results.history.items()
                    if _scalar_curve(v)
                    and (wanted is None or known_direction(n, None) in (None, wanted))
                ]
                close = difflib.get_close_matches(missing[0], scalars, n=1)
                # Named by a hyperparameter's value: another trial reported it, or a
                # choice's value is in the name (`hp.Choice("metric", ["mse", "mae"])`).
                reported = any(
                    t.metrics.exists(missing[0]) for t in self.oracle.trials.values()
                ) or _named_by_a_choice(missing[0], trial.hyperparameters)
                raise TrialRefusedError(
                    f"The objective {missing[0]!r} is not among the metrics this trial's "
                    f"model reports: {sorted(results.history)}. Choose as `objective` a "
                    "metric every trial reports (validation metrics need validation data)"
                    + (
                        ": a metric or output named by a hyperparameter's value "
                        "(`name=hp.Choice(...)`) makes trials report different names, so "
                        "give it one name in every configuration."
                        if reported
                        else ", or (a model of your own) compile it with the metric you mean."
                    ),
                    hint=f"Did you mean {close[0]!r}?" if close else "",
                )
        limit = self.max_model_size
        if limit is not None and facts.num_params is not None and facts.num_params > limit:
            # Only a model measured after its first batch gets here: no Input, and search()'s
            # x had no first sample to build it with (a dataset) or not one it takes.
            raise kt_errors.FailedTrialError(
                said_text(
                    f"Oversized model: {facts.num_params:,} parameters, over "
                    f"max_model_size={limit}; the trial is FAILED.",
                    self._tunekit_said,
                )
            )
        history = isinstance(results, keras.callbacks.History)
        extra = {
            "num_params": facts.num_params,
            **length_metrics(  # what it trained, whatever it returned (`tunekit.trial_length`)
                history_length=max(map(len, results.history.values()), default=0)
                if history
                else None,
                trained=facts.epochs,
                epochs=fitted.fit_kwargs.get("epochs", kwargs.get("epochs")),
                initial_epoch=fitted.fit_kwargs.get("initial_epoch", kwargs.get("initial_epoch")),
            ),
            **fit_stages(fitted.stages, kwargs.get("epochs")),  # a warm-up, then the epochs
        }
        if not history:  # one score measured after training: its best epoch is the last
            extra[SCORED_AT_END] = 1.0
        planned = planned_epochs(hp.values)
        stopped = facts.epochs < (planned or 0) and bool(getattr(model, "stop_training", False))
        # Not EarlyStopping, nor a fit that reported no epoch (its length is unknown).
        if planned is not None and facts.epochs and facts.epochs != planned and not stopped:
            first = not self._tunekit_fits.get("budget_warned")
            said = self._tunekit_said  # `--fine-tuner bayesian` on the command line
            _logger.warning(
                budget_warning(trial.trial_id, facts.epochs, planned, first=first, said=said)
            )
            self._tunekit_fits.update(budget_warned=True)
            extra[BUDGET_METRIC] = 1
        return _add_metrics(results, extra, objective.name)

    def _fit_returned(self, trial: Trial, callbacks: Iterable[Any], model: Any) -> None:
        """The trial's `fit` returned: each tunekit callback completes what a hook would
        have (`fit_returned`: the best-epoch checkpoint written once, the HParams session,
        closed event files), as a hypermodel's own loop may call only `on_epoch_end`, or
        no hook at all (`TrialFacts` then counts `model`'s parameters: probe G's
        `num_params` of 0)."""
        clock = self._clock()
        for callback in callbacks:
            if isinstance(callback, TrialFacts) and callback.model is None:
                callback.set_model(model)
            if callable(finish := getattr(callback, "fit_returned", None)):
                part = "checkpoint" if isinstance(callback, BestEpochWeights) else "tensorboard"
                with clock.measure(part):
                    finish()
        ran = self._tunekit_fits.setdefault("ran", set())
        ran.add(trial.trial_id)
        written = self._tunekit_fits.setdefault("written", set())
        if any(c.written for c in self._tunekit_trial.checkpoints.values()):
            written.add(trial.trial_id)

    def _configure_tensorboard_dir(self, callbacks: list, trial: Trial, execution: int = 0) -> None:
        # Replaces KerasTuner's version (TensorFlow-only HParams, no phase,
        # inactive and internal values logged); same log-dir layout.
        self._tunekit_fits.update(execution=execution)  # KerasTuner calls this before each fit
        hp = trial.hyperparameters
        declared = hp.declared if isinstance(hp, DeclaringHyperParameters) else None
        sessions = configure_trial_logdirs(
            callbacks,
            trial,
            execution + _FOLD.get() * self.executions_per_trial,  # one run per fold
            self._tunekit_phase,
            self._get_tensorboard_dir,
            declared=declared,
        )
        self._tunekit_trial.sessions.update(dict.fromkeys(sessions))

    def get_state(self) -> dict[str, Any]:
        """KerasTuner's tuner state, with the search's record (`SearchRecord`)."""
        return {**super().get_state(), STATE_KEY: self._tunekit_record.get_state()}

    def set_state(self, state: dict[str, Any]) -> None:
        """KerasTuner's tuner state read back, and the search's record in it (a state saved
        before tunekit kept one: an empty record).

        Raises:
            StateFileError: The record in the tuner's state file is damaged (hand-edited).
        """
        super().set_state(state)
        try:
            self._tunekit_record.set_state(state.get(STATE_KEY))
        except ValueError as e:
            raise StateFileError(
                f"The search record in KerasTuner's tuner state file {self._get_tuner_fname()} "
                f"is damaged ({e}). Nothing was changed on disk. Restore the file, or rerun "
                "with overwrite=True to start the search over."
            ) from None

    def save(self) -> None:
        super().save()  # KerasTuner's: the oracle (unless a worker), then the tuner's state
        self._tunekit_record.saved()

    def _save_record(self) -> None:
        """Writes the tuner's state if the search's record changed (atomically: a
        kill leaves the previous state or this one), before the trial that changed it ends."""
        if self._tunekit_record.changed():
            _kerastuner.utils.save_json(self._get_tuner_fname(), self.get_state())
            self._tunekit_record.saved()

    def reload(self) -> None:
        """KerasTuner's reload, then drops from the ongoing trials every trial already ended.

        KerasTuner's `Oracle.end_trial` saves the oracle before it removes the
        trial from the ongoing ones; a kill between the two (of a chief, or of
        a one-process run) leaves an ended trial "ongoing", and the resumed
        search would run and end it a second time.
        """
        super().reload()
        oracle = self.oracle
        ended = set(oracle.end_order)
        # KerasTuner's reload moves the ongoing trials to its (private) retry queue, checked
        # against KerasTuner 1.4.7 and 1.4.8 like the internals of `tunekit._kerastuner`.
        oracle._retry_queue = [i for i in oracle._retry_queue if i not in ended]
        for tuner_id, trial in list(oracle.ongoing_trials.items()):
            if trial.trial_id in ended:
                del oracle.ongoing_trials[tuner_id]

    def on_search_begin(self) -> None:
        super().on_search_begin()
        self._tunekit_gc.freeze()  # thawed at on_search_end or when the search raises
        if not self._is_worker():
            # Saved before any trial, oracle first: a kill during the first trial
            # resumes instead of silently starting the project over.
            self.oracle.save()
            self.save()

    def on_search_end(self) -> None:
        self._tunekit_gc.thaw()
        super().on_search_end()

    def _ended_results(self, trial: Trial, running: Trial | None) -> TrialResults:
        """The ended trial's results as its oracle recorded them (what `trials.csv` reads).

        `running`: on a worker, the chief's record of the trial before it ended (its
        metrics, no score yet). The chief scores it with KerasTuner's
        `Oracle.score_trial`; the same method of this worker's copy of the oracle
        scores that record here. Elsewhere the oracle is this process's own, which
        ended and scored the trial.
        """
        if running is None:
            return TrialResults.from_state(self.oracle.get_trial(trial.trial_id).get_state())
        own: Any = getattr(self.oracle, "_oracle", self.oracle)  # KerasTuner's OracleClient's
        if trial.status == kt.engine.trial.TrialStatus.COMPLETED:  # as `Oracle.end_trial`
            own.score_trial(running)  # (a failed one, INVALID or FAILED, has no objective)
        return TrialResults.from_state(running.get_state())

    def on_trial_begin(self, trial: Trial) -> None:
        clock = self._clock()
        clock.parts["oracle"] += clock.lap()  # the oracle's create_trial
        interrupts.check()  # the trial stays RUNNING: a rerun retries it
        super().on_trial_begin(trial)

    def on_trial_end(self, trial: Trial) -> None:
        clock = self._clock()
        clock.parts["oracle"] += clock.lap()  # update_trial, since run_trial returned
        sessions = self._tunekit_trial.sessions
        # A worker reads its trial's record from the chief while the trial still runs there:
        # once ended, the chief may be serving the next phase, whose trial ids start again.
        running = self.oracle.get_trial(trial.trial_id) if sessions and self._is_worker() else None
        try:
            with clock.measure("oracle"):  # end_trial, trial.json, oracle.json, the tuner
                super().on_trial_end(trial)
        except Exception as e:
            self._tunekit_trial.ended()
            if self._is_worker():
                raise
            end_failed_search(self.oracle, trial, e)
            self.save()
            raise
        if sessions:  # the HParams table's columns: the trial's score, as it is ranked
            write_trial_results(sessions, self._ended_results(trial, running))
        for listener in self._tunekit_listeners:
            listener(self, trial)
        self._tunekit_trial.ended()
        with clock.measure("gc"):
            release_trial_memory(keras.backend.backend())
        timing.append_row(
            Path(self.project_dir) / timing.TIMING_FILE,
            self._tunekit_phase,
            clock.row(),
            trial_id=trial.trial_id,
            status=str(trial.status),
        )
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


def _note_training_metric(tuner: Any, results: Any) -> None:
    """For a hypermodel with its own `fit` (which `CoarseToFine` cannot judge by the
    objective's name: it may return `{"my_acc": ...}` computed on validation data), warns
    once per tuner when a History it returned logs the objective's metric on the training
    data beside its `val_` twin (`training_metric_note`)."""
    if tuner._tunekit_fits["training_noted"] or not isinstance(results, keras.callbacks.History):
        return
    tuner._tunekit_fits.update(training_noted=True)
    if not own_fit(tuner.hypermodel):  # said before the search
        return
    for name in objective_names(tuner.oracle.objective):
        if f"val_{name}" in results.history and (note := training_metric_note(name)):
            _logger.warning(note)


def _check_fit_results(results: Any, objective: Any, defaulted: bool = False) -> None:
    """KerasTuner's check of what `HyperModel.fit` returned; a dict without the objective
    also says which `objective` to pass (`SearchInputError`: the search stops at once, as
    KerasTuner's own `FatalValueError` did). One number when the objective is a default
    (`defaulted`) fails its trial (`TrialRefusedError`): what it measures, and so its
    direction, only the user knows, and a `fit` may return it for some values only. An
    array or a list of numbers where one is meant fails its trial too (`not_one_number`)."""
    if (several := not_one_number(results)) is not None:
        raise TrialRefusedError(several)
    if defaulted and is_number(results):
        name, direction = objective.name, objective.direction
        raise TrialRefusedError(
            f"The hypermodel's fit returned one number ({float(results):.6g}), not a History "
            "or a dict of metrics, and no objective was given: tunekit would file it as its "
            f"default objective {name!r} ({direction}imised), whatever it measures (plain "
            "KerasTuner minimises such a number as 'default_objective'). Say what it is: "
            'objective="NAME:min" for an error or a loss, objective="NAME:max" for a score, '
            "or return "
            '{"NAME": value}; a fit that returns its History for other values must report '
            "NAME there too."
        )
    try:
        _kerastuner.validate_trial_results(results, objective, "HyperModel.fit()")
    except kt_errors.FatalValueError as e:
        if not isinstance(results, dict) or not results:
            raise
        key = next(iter(results))
        direction = known_direction(key)
        example = (
            f'objective="{key}:{direction}"'
            if direction is not None
            else f'objective="{key}:min" for an error or a loss, "{key}:max" for a score'
        )
        raise SearchInputError(
            f"{e} Pass objective= one of its keys with its direction, e.g. {example}; the "
            f"objective was {getattr(objective, 'name', objective)!r}."
        ) from None


def _scalar_curve(values: Any) -> bool:
    """Whether a `History` curve holds one number per epoch (not one per threshold)."""
    return not values or int(np.size(values[-1])) == 1


class _VectorObjective(keras.callbacks.Callback):
    """Runs `_check_vector_objective` on the first epoch's logs, before KerasTuner's own
    callback compares the objective's values (a vector: "truth value ... ambiguous")."""

    def __init__(self, names: list[str]) -> None:
        super().__init__()
        self.names = names
        self.checked = False

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if not self.checked and logs:  # the first epoch (a Hyperband trial's from its own)
            self.checked = True
            _check_vector_objective(self.names, {k: [v] for k, v in logs.items()})


def _named_by_a_choice(name: str, hp: Any) -> bool:
    """Whether a text value of one of `hp`'s choices is part of the metric `name`."""
    values = [getattr(one, "values", None) or [] for one in hp.space]
    return any(isinstance(v, str) and len(v) > 1 and v in name for each in values for v in each)


def _check_vector_objective(names: list[str], history: Mapping[str, Any]) -> None:
    """Fails a trial (`TrialRefusedError`) whose objective names a metric with several values
    per epoch (or one of them, `name/i`): KerasTuner would rank by their mean. (A model
    tunekit can inspect is refused before training: `tunekit.steps.vector_objectives`;
    a hypermodel's own `fit` may compile another model.)"""
    for name in names:
        head = name.rpartition("/")[0] if name.rpartition("/")[2].isdigit() else name
        if head in history and not _scalar_curve(history[head]):
            raise TrialRefusedError(
                f"The objective {name!r} names a metric with "
                f"{int(np.size(history[head][-1]))} values per epoch (one per threshold, "
                f"class or output), {head!r}, or one of them: KerasTuner records it as one "
                "number, their mean, so it cannot rank the trials. Compile it, in every "
                "configuration, with one threshold (or an average), or one metric per "
                "threshold, each with its own name "
                "(`Precision(thresholds=0.5, name='precision_at_0_5')`), and choose that "
                "one as `objective`, with its direction (`val_precision_at_0_5:max`)."
            )
