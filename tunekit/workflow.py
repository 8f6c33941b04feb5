"""The coarse-to-fine workflow: coarse search, narrow, fine search, retrain, evaluate."""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import keras
import keras_tuner as kt
from keras_tuner.engine import trial as trial_module

from tunekit import _faults, _io, _kerastuner, _log, interrupts
from tunekit.data import Dataset
from tunekit.errors import (DataError, ModelSaveError, NoCompletedTrialsError, OutputShapeError,
                            RetrainDivergedError, RunNotFinishedError)
from tunekit.fitting import fit_hypermodel
from tunekit.manifest import STEPS, RunManifest, check_kerastuner_project, check_run_location
from tunekit.narrowing import NarrowedSpace, is_usable, narrow_space
from tunekit.outputs import check_output_shape, model_output_shape, predict_classes
from tunekit.objectives import resolve_objective
from tunekit.progress import PhaseProgress
from tunekit.retraining import SCHEDULES, final_epochs, schedule_callbacks
from tunekit.tensorboard import write_experiment
from tunekit.tuners import HYPERBAND_EPOCHS, make_tuner

__all__ = ["CoarseToFine", "Result", "Selection", "FINE_TUNERS", "NoCompletedTrialsError",
           "RetrainDivergedError", "RunNotFinishedError"]

FINE_TUNERS = ("hyperband", "bayesian")
MIN_COARSE_TRIALS = 3  # `narrow_space`'s default `min_trials`
NARROWED_SPACE = "narrowed_space.json"
BEST_HYPERPARAMETERS = "best_hyperparameters.json"
BEST_MODEL = "best_model.keras"
# What each step after the searches writes; a done step whose file is gone runs again.
STEP_OUTPUTS = {"narrow": (NARROWED_SPACE,), "retrain": (BEST_MODEL, BEST_HYPERPARAMETERS),
                "evaluate": ("report.json", "report.md", "trials.csv")}

_logger = logging.getLogger(__name__)


@dataclass
class Result:
    """What a coarse-to-fine run found, and where it put it.

    Attributes:
        best_hyperparameters: The chosen configuration, a
            `keras_tuner.HyperParameters` (its trial's space, the values the
            final model was trained with, as in `best_hyperparameters.json`):
            `hypermodel.build(result.best_hyperparameters)` rebuilds the model,
            `result.best_hyperparameters["units"]` reads one value and
            `result.best_hyperparameters.values` is the `{name: value}` dict.
        best_phase: `"fine"` or `"coarse"`, where the chosen trial comes from.
        best_trial_id: The chosen trial's id within its phase.
        selection: Why that trial was chosen.
        final_epochs: Epochs of the final retrain on train+validation.
        test_metrics: Metrics of the saved model on the test set, e.g.
            `{"accuracy": 0.98, "loss": 0.06}`.
        phase_bests: Per phase, the best trial id and score.
        timings: Seconds spent per step (summed over resumed sessions).
        narrowed: The narrowing applied between the phases.
        run_dir: The run folder.
        artifacts: Paths of the files written, by name.
    """

    best_hyperparameters: kt.HyperParameters
    best_phase: str
    best_trial_id: str
    selection: str
    final_epochs: int
    test_metrics: dict[str, float]
    phase_bests: dict[str, dict[str, Any]]
    timings: dict[str, float]
    narrowed: NarrowedSpace
    run_dir: Path
    artifacts: dict[str, Path] = field(default_factory=dict)


class Selection(NamedTuple):
    """The configuration `CoarseToFine.select()` picks; unpacks as `phase, trial, reason`.

    Attributes:
        phase: `"fine"` or `"coarse"`, where the chosen trial comes from.
        trial: The chosen COMPLETED trial (`keras_tuner.engine.trial.Trial`).
        reason: Why that trial was chosen, one sentence.
    """

    phase: str
    trial: trial_module.Trial
    reason: str


def _active_copy(hp: kt.HyperParameters,
                 values: dict[str, Any] | None = None) -> kt.HyperParameters:
    """A copy of `hp` (space included) holding only its active values, or `values`."""
    copy = hp.copy()
    copy.values = (dict(values) if values is not None else
                   {name: value for name, value in hp.values.items() if hp.is_active(name)})
    return copy


def _saved_hyperparameters(project: Path, trial_id: str) -> kt.HyperParameters:
    """The hyperparameters (space and values) saved with a trial of a KerasTuner project.

    Read from the trial's `trial.json` (no tuner is built); empty if it is gone.
    """
    path = project / f"trial_{trial_id}" / "trial.json"
    if not path.is_file():
        return kt.HyperParameters()
    return trial_module.Trial.load(str(path)).hyperparameters


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be a positive int. Received: {name}={value!r}.")
    return value


def _describe_hypermodel(hypermodel: Any) -> dict[str, Any]:
    """A JSON description identifying a hypermodel, for the run fingerprint."""
    target = hypermodel if callable(hypermodel) and not isinstance(
        hypermodel, kt.HyperModel) else type(hypermodel)
    described = {"class": f"{target.__module__}.{target.__qualname__}"}
    if isinstance(hypermodel, kt.HyperModel):
        for key, value in sorted(vars(hypermodel).items()):
            if not key.startswith("_") and isinstance(value, (int, float, str, bool, tuple)):
                described[key] = list(value) if isinstance(value, tuple) else value
    return described


def completed_trials(oracle) -> list[trial_module.Trial]:
    """The oracle's COMPLETED trials with a finite score, best first."""
    trials = [t for t in oracle.trials.values() if is_usable(t)]
    reverse = oracle.objective.direction == "max"
    return sorted(trials, key=lambda t: (-t.score if reverse else t.score, t.trial_id))


class CoarseToFine:
    """Tunes a hypermodel coarse-to-fine and retrains the best model.

    The steps, each a public method that runs its prerequisites first and is
    skipped when already done (so a rerun resumes):

    1. `coarse()`: a RandomSearch over the hypermodel's full space, in the
       KerasTuner project `<run>/coarse`.
    2. `narrow()`: `tunekit.narrow_space` from the coarse trials, saved as
       `narrowed_space.json`.
    3. `fine()`: Hyperband or BayesianOptimization over the narrowed space
       (`hyperparameters=`), in `<run>/fine`. A hyperparameter the coarse
       phase never met (one only some builds declare, e.g. the units of a
       third layer no coarse trial built) is tuned over the hypermodel's own
       full range.
    4. `retrain()`: the best configuration (the best fine trial, unless a
       coarse trial scored better) rebuilt with `hypermodel.build(hp)` and
       trained from scratch with `hypermodel.fit(hp, model, ...)` on
       train+validation, saved as `best_model.keras`.

    A hypermodel's own `fit` may set `model.fit` keywords itself, as in
    KerasTuner's documentation (`model.fit(*args, batch_size=hp.Choice(...),
    **kwargs)`): its values win over tunekit's in every trial and in the
    retrain, its callbacks are added to tunekit's, and the retrain records the
    batch size and epochs `model.fit` received. A `fit` that sets `epochs`
    decides the epochs of every trial and of the retrain; it is refused with
    `fine_tuner="hyperband"` or an int `final_epochs`, at the first coarse
    trial (see `tunekit.fitting` for the whole contract).

    Progress lines (one per trial, the narrowing, the retrain) go to the
    `"tunekit"` logger and, by default, are printed on stdout. In a notebook,
    `logging.getLogger("tunekit").setLevel(logging.WARNING)` silences them;
    a handler you add to that logger receives them instead. Failures tunekit
    names raise a `tunekit.TunekitError` (see `tunekit.errors`), whose
    messages name this constructor's keyword arguments.
    5. `evaluate()`: the saved model, loaded back, on the untouched test set;
       writes `trials.csv`, `report.json`, `report.md` and plots.

    `run()` does all five and returns a `Result`. The run folder is
    `<directory>/<project_name>`; its `manifest.json` records the
    configuration, and a rerun with another configuration is refused.

    Args:
        hypermodel: A `keras_tuner.HyperModel` or a `build(hp)` function.
        data: A `tunekit.data.Dataset`.
        directory: Parent folder of the run. Defaults to `"runs"`.
        project_name: Run folder name. Defaults to the hypermodel's name.
        objective: Metric to optimise: a `keras_tuner.Objective`, a name with
            its direction (`"val_f1_score:max"`), or a Keras metric whose
            direction is certain (`"val_accuracy"`, `"val_loss"`; see
            `tunekit.objectives.resolve_objective`); any other name raises
            `ValueError` (tunekit never guesses a direction). Defaults to
            `"val_accuracy"`.
        coarse_trials: Trials of the coarse RandomSearch. Defaults to 20.
        coarse_epochs: Epochs per coarse trial. Defaults to 2.
        defaults_first: Make the first coarse trial the hypermodel's default
            configuration (the rest are random). Defaults to `True`.
        fine_tuner: `"hyperband"` or `"bayesian"`. Defaults to `"hyperband"`.
        fine_trials: Trials of a Bayesian fine search. Defaults to 10.
        max_epochs: Hyperband's `max_epochs`, or the epochs of each Bayesian
            fine trial. Defaults to 20.
        factor: Hyperband's reduction factor. Defaults to 3.
        top: Top trials the narrowing keeps: a fraction in (0, 1] or a count.
            Defaults to 0.25.
        margin: Narrowing margin (see `narrow_space`). Defaults to 0.1.
        final_epochs: `"auto"` (the chosen trial's best epoch count, counted
            from epoch 0, unscaled: each epoch on train+validation simply
            takes more steps; `max_epochs` if the trial was still improving
            at its last epoch, see `tunekit.retraining.final_epochs`) or an
            int. Defaults to `"auto"`.
        final_schedule: Learning rate of the retrain: `"cosine"` anneals the
            tuned rate to about 0 over the final epochs
            (`tunekit.retraining.CosineDecayCallback`); `"constant"` keeps it.
            Defaults to `"cosine"`.
        batch_size: Batch size of every fit, unless the hypermodel's own
            `fit` sets one. Defaults to 128.
        executions_per_trial: Fits per trial, averaged. Defaults to 1.
        callbacks: Extra Keras callbacks for every trial and the retrain.
        seed: Seed of the whole run (sampling, initialisation, shuffling); 0
            is a seed like any other. Defaults to 0.
        overwrite: Delete the run folder's contents and start over. Defaults
            to `False` (resume).
        verbose: 1 (default) reports progress per trial, the narrowing and the
            retrain; 0 reports none. Progress goes to the `"tunekit"` logger
            (`logging.getLogger("tunekit")`) at INFO level; unless you gave
            that logger a handler, tunekit adds one that prints plain lines
            on stdout. Silence it with
            `logging.getLogger("tunekit").setLevel(logging.WARNING)`, or
            send it elsewhere by adding your own handler to that logger.

    Example:

    ```python
    from hypermodels import MnistDenseHyperModel
    from tunekit import CoarseToFine, load_mnist

    data = load_mnist()
    result = CoarseToFine(MnistDenseHyperModel(), data, project_name="demo").run()
    print(result.test_metrics)
    ```
    """

    def __init__(
        self,
        hypermodel: kt.HyperModel | Callable[[kt.HyperParameters], keras.Model],
        data: Dataset,
        *,
        directory: str | os.PathLike = "runs",
        project_name: str | None = None,
        objective: str | kt.Objective = "val_accuracy",
        coarse_trials: int = 20,
        coarse_epochs: int = 2,
        defaults_first: bool = True,
        fine_tuner: str = "hyperband",
        fine_trials: int = 10,
        max_epochs: int = 20,
        factor: int = 3,
        top: float | int = 0.25,
        margin: float = 0.1,
        final_epochs: int | str = "auto",
        final_schedule: str = "cosine",
        batch_size: int = 128,
        executions_per_trial: int = 1,
        callbacks: Sequence[keras.callbacks.Callback] = (),
        seed: int = 0,
        overwrite: bool = False,
        verbose: int = 1,
    ) -> None:
        if not (isinstance(hypermodel, kt.HyperModel) or callable(hypermodel)):
            raise TypeError(
                "`hypermodel` must be a keras_tuner.HyperModel or a build(hp) function. "
                f"Received: {hypermodel!r} of type {type(hypermodel).__name__}."
            )
        if not isinstance(data, Dataset):
            raise TypeError(
                "`data` must be a tunekit.data.Dataset (see load_mnist, "
                "load_image_directory, Dataset.from_arrays). "
                f"Received: {type(data).__name__}."
            )
        unseen = data.classes_missing_from_training()
        if unseen:
            raise DataError(
                f"`data`: class(es) {unseen} occur in the validation or test labels but never in "
                f"y_train ({data.summary()}): a model cannot learn them and its test score would "
                "mislead. Put examples of every class in the training split (e.g. "
                "Dataset.from_arrays splits each class).")
        if fine_tuner not in FINE_TUNERS:
            raise ValueError(
                f"`fine_tuner` must be one of {list(FINE_TUNERS)}. "
                f"Received: fine_tuner={fine_tuner!r}."
            )
        if isinstance(coarse_trials, int) and not isinstance(coarse_trials, bool) and \
                0 < coarse_trials < MIN_COARSE_TRIALS:
            raise ValueError(
                f"`coarse_trials` must be at least {MIN_COARSE_TRIALS}: the narrowing needs "
                f"{MIN_COARSE_TRIALS} completed coarse trials. Received: "
                f"coarse_trials={coarse_trials}.")
        for name, value in [("coarse_trials", coarse_trials), ("coarse_epochs", coarse_epochs),
                            ("fine_trials", fine_trials), ("max_epochs", max_epochs),
                            ("batch_size", batch_size),
                            ("executions_per_trial", executions_per_trial)]:
            _positive_int(name, value)
        if isinstance(factor, bool) or not isinstance(factor, int) or factor < 2:
            raise ValueError(f"`factor` must be an int >= 2. Received: factor={factor!r}.")
        if final_epochs != "auto":
            _positive_int("final_epochs", final_epochs)
        if final_schedule not in SCHEDULES:
            raise ValueError(f"`final_schedule` must be one of {list(SCHEDULES)}. "
                             f"Received: final_schedule={final_schedule!r}.")
        if isinstance(top, bool) or not (
            (isinstance(top, int) and top >= 1) or (isinstance(top, float) and 0 < top <= 1)
        ):
            raise ValueError(
                "`top` must be a fraction in (0, 1] or a positive int count of trials. "
                f"Received: top={top!r}."
            )
        if not isinstance(margin, (int, float)) or isinstance(margin, bool) or margin < 0:
            raise ValueError(f"`margin` must be a number >= 0. Received: margin={margin!r}.")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"`seed` must be an int >= 0. Received: seed={seed!r}.")
        self.hypermodel = _kerastuner.get_hypermodel(hypermodel)
        self._hypermodel_description = _describe_hypermodel(hypermodel)
        self.data = data
        self.objective = resolve_objective(objective)
        project_name = _default_name(hypermodel) if project_name is None else project_name
        check_run_location(directory, project_name)
        self.run_dir = Path(directory) / project_name
        self.coarse_trials = coarse_trials
        self.coarse_epochs = coarse_epochs
        self.defaults_first = bool(defaults_first)
        self.fine_tuner = fine_tuner
        self.fine_trials = fine_trials
        self.max_epochs = max_epochs
        self.factor = factor
        self.top = top
        self.margin = float(margin)
        self.final_epochs = final_epochs
        self.final_schedule = final_schedule
        self.batch_size = batch_size
        self.executions_per_trial = executions_per_trial
        self.callbacks = list(callbacks)
        self.seed = seed
        self.overwrite = overwrite
        self.verbose = verbose
        self.backend_choice: dict[str, Any] | None = None  # set by the CLI's --backend
        # Distributed chief: a tunekit.chief.OracleServer hands trials to workers, and
        # a tunekit.supervisor.LocalWorkers (if any) keeps local ones running.
        self.oracle_server = None
        self.supervisor = None
        self._manifest: RunManifest | None = None
        self._model_checked = False
        self._tuners: dict[str, kt.Tuner] = {}
        self._progress: dict[str, PhaseProgress] = {}  # the running phase's progress lines
        self._experiment_names: set[str] | None = None
        self.narrowed: NarrowedSpace | None = None
        self.model: keras.Model | None = None

    # -- configuration and state -------------------------------------------------

    def config(self) -> dict[str, Any]:
        """The settings that define this run (compared on resume)."""
        return {
            "hypermodel": self._hypermodel_description,
            "data": self.data.fingerprint(),
            "objective": self.objective.name,
            "direction": self.objective.direction,
            "coarse_trials": self.coarse_trials,
            "coarse_epochs": self.coarse_epochs,
            "defaults_first": self.defaults_first,
            "fine_tuner": self.fine_tuner,
            "fine_trials": self.fine_trials if self.fine_tuner == "bayesian" else None,
            "max_epochs": self.max_epochs,
            "factor": self.factor if self.fine_tuner == "hyperband" else None,
            "top": self.top,
            "margin": self.margin,
            "final_epochs": self.final_epochs,
            "final_schedule": self.final_schedule,
            "batch_size": self.batch_size,
            "executions_per_trial": self.executions_per_trial,
            "seed": self.seed,
        }

    @property
    def manifest(self) -> RunManifest:
        """The run's manifest, opened (and locked) on first use."""
        if self._manifest is None:
            if not (self.run_dir / "manifest.json").is_file():
                self.check_model()  # a model that cannot fit the data leaves nothing on disk
            manifest = RunManifest.open(self.run_dir, self.config(), overwrite=self.overwrite)
            self.overwrite = False  # only the first open of this object starts over
            try:
                self._check_saved_state()
                self._redo_steps_with_missing_outputs(manifest)
            except BaseException:
                manifest.release()
                raise
            self._manifest = manifest
        return self._manifest

    def _redo_steps_with_missing_outputs(self, manifest: RunManifest) -> None:
        """Marks a done step whose output file is gone (and every step after it) to run again.

        A deleted `best_model.keras` (or narrowing, or report) would otherwise
        make every rerun fail the same way. The searches keep their trials.
        """
        for i, step in enumerate(STEPS):
            missing = [name for name in STEP_OUTPUTS.get(step, ())
                       if manifest.is_done(step) and not (self.run_dir / name).exists()]
            if missing:
                redo = [s for s in STEPS[i:] if s in STEP_OUTPUTS and manifest.is_done(s)]
                for later in redo:
                    manifest.mark(later, "running")
                self._say(f"{', '.join(missing)} missing from {self.run_dir}: running "
                          f"{', '.join(redo)} again.")
                return

    def _check_saved_state(self) -> None:
        """Refuses to resume from corrupt state files, naming them; changes nothing."""
        for phase in ("coarse", "fine"):
            check_kerastuner_project(self.run_dir / phase)
        for name in (NARROWED_SPACE, BEST_HYPERPARAMETERS, "report.json"):
            if (self.run_dir / name).exists():
                _io.read_json(self.run_dir / name, what=name)

    def open(self) -> RunManifest:
        """Checks the model against the data, then opens the run folder.

        Opening checks, locks and (re)loads the manifest. Every step does this
        itself; call it to surface a model whose output does not fit the data
        (see `check_model`) and configuration, lock and corrupt-state errors
        before any training.
        """
        self.check_model()
        return self.manifest

    def check_model(self) -> None:
        """Checks, before any training, that the hypermodel's output fits the data.

        Builds the model once with default hyperparameters (a lazily built model
        is called on two training samples) and checks its output against
        `data.num_classes` (see `tunekit.outputs.check_output_shape`). A model
        that cannot be built or run here is left to its trials, which report
        why; so is a model with several outputs.

        Raises:
            OutputShapeError (a `ValueError`): Naming the output width and the
                number of classes.
        """
        if self._model_checked:
            return
        try:
            model = self.hypermodel.build(kt.HyperParameters())
        except Exception:  # noqa: BLE001 - the trials report build errors with their trial
            model = None
        shape = None if model is None else model_output_shape(model, self.data.x_train[:2])
        if shape is not None:
            self._check_round_trip(model)
        del model
        keras.backend.clear_session()
        if shape is not None:
            try:
                check_output_shape(
                    shape, self.data.num_classes,
                    what="`hypermodel` (built with its default hyperparameters) builds a "
                         "model that")
            except ValueError as e:
                if not hasattr(self.hypermodel, "num_classes"):
                    raise
                name = type(self.hypermodel).__name__
                raise OutputShapeError(f"{e} For {name}, pass num_classes={self.data.num_classes} "
                                 "(and the data's input_shape).") from None
        self._model_checked = True

    def _check_round_trip(self, model: keras.Model) -> None:
        """Raises `ModelSaveError` unless `model` survives `.keras` save and safe load.

        The final model is saved and loaded back to be tested, so a model that
        cannot make that trip (e.g. an unregistered custom metric or layer)
        would fail only after the whole search, and on every rerun.
        """
        with tempfile.TemporaryDirectory(prefix="tunekit-check-") as folder:
            path = os.path.join(folder, "model.keras")
            try:
                model.save(path)
                keras.models.load_model(path, safe_mode=True)
            except OSError:
                return  # the disk, not the model: the run's own writes will name the file
            except Exception as e:  # noqa: BLE001 - any failure gets the same advice
                reason = (str(e).strip().splitlines() or [type(e).__name__])[-1]
                raise ModelSaveError(
                    "`hypermodel` builds a model that cannot be saved as a .keras file and "
                    f"loaded back with safe_mode=True ({type(e).__name__}: {reason}). tunekit "
                    "saves the final model and tests the file it saved: register custom "
                    "objects (layers, metrics, losses) with "
                    "@keras.saving.register_keras_serializable().") from None

    def close(self) -> None:
        """Releases the run's lock; a later step reopens it."""
        if self._manifest is not None:
            self._manifest.release()
            self._manifest = None

    def _say(self, text: str) -> None:
        """Logs a progress line (`tunekit.workflow`, INFO) unless `verbose=0`."""
        if self.verbose:
            _log.show_progress()
            _logger.info(text)

    # -- phases ------------------------------------------------------------------

    def _tuner(self, phase: str, *, worker: bool = False) -> kt.Tuner:
        """The phase's tuner; a worker's takes its trials (and their space) from the chief."""
        if phase in self._tuners:
            return self._tuners[phase]
        common = dict(
            objective=self.objective,
            directory=str(self.run_dir),
            project_name=phase,
            seed=self.seed,
            executions_per_trial=self.executions_per_trial,
            refused_fit_args=self._refused_fit_args(),
            listeners=() if worker else (functools.partial(self._trial_ended, phase),),
        )
        if phase == "coarse":
            tuner = make_tuner("random", self.hypermodel, max_trials=self.coarse_trials,
                               defaults_first=self.defaults_first, **common)
        else:
            narrowed = None if worker else self.narrow().hyperparameters
            # Names the coarse phase never met (e.g. `units_2` when no coarse trial built a
            # third layer) are new entries: tuned over the hypermodel's own full range.
            space = {} if worker else dict(hyperparameters=narrowed)
            if self.fine_tuner == "hyperband":
                tuner = make_tuner("hyperband", self.hypermodel, max_epochs=self.max_epochs,
                                   factor=self.factor, **space, **common)
            else:
                initial = 1 if worker else self._num_initial_points(narrowed)
                tuner = make_tuner("bayesian", self.hypermodel, max_trials=self.fine_trials,
                                   num_initial_points=initial, **space, **common)
        self._tuners[phase] = tuner
        return tuner

    def _refused_fit_args(self) -> dict[str, str]:
        """`model.fit` keywords the hypermodel's own `fit` may not set in this run.

        A `fit` that sets `epochs` decides the epochs of every trial and of the
        retrain; that cannot be with Hyperband (its budget is epochs) or with
        an explicit `final_epochs`. Refused from the first coarse trial on,
        before any training, rather than after the coarse phase.
        """
        if self.fine_tuner == "hyperband":
            return {"epochs": HYPERBAND_EPOCHS, "initial_epoch": HYPERBAND_EPOCHS}
        if self.final_epochs != "auto":
            return {"epochs": (
                f"final_epochs={self.final_epochs} sets the epochs of the retrain. Remove "
                "`epochs` from the hypermodel's fit, or leave final_epochs='auto': the "
                "retrain then trains the epochs the fit sets.")}
        return {}

    def _num_initial_points(self, space: kt.HyperParameters) -> int:
        """Random points before the Gaussian process takes over.

        KerasTuner's default is 3 x the size of the space, Fixed values
        included, which can exceed the whole budget. tunekit uses one more
        than the number of hyperparameters still tuned, at least 2 and at
        most half the fine budget (but at least 1).
        """
        tuned = sum(1 for hp in space.space if not isinstance(hp, kt.engine.hyperparameters.Fixed))
        return max(1, min(max(2, tuned + 1), self.fine_trials // 2))

    def _search(self, phase: str, epochs: int) -> kt.Tuner:
        manifest = self.manifest
        if not manifest.is_done(phase):
            self.check_model()
        tuner = self._tuner(phase)
        if manifest.is_done(phase):
            return tuner
        interrupts.check()
        self._declare_experiment()
        manifest.mark(phase, "running")
        start = time.perf_counter()
        listeners = (PhaseProgress(phase, write=self._say), self._on_trial_end)
        if self.oracle_server is not None:  # distributed: workers run the trials
            tuner.on_search_begin()  # what search() does first: saved before any trial
            self.oracle_server.serve_phase(phase, tuner, listeners=listeners,
                                           supervisor=self.supervisor)
        else:
            self._progress[phase] = listeners[0]  # the tuner's listener reports to it
            self._run_search(tuner, phase, epochs)
        best = completed_trials(tuner.oracle)
        ran = len(tuner.oracle.trials)
        budget = {"coarse": self.coarse_trials,
                  "fine": self.fine_trials if self.fine_tuner == "bayesian" else 0}[phase]
        if ran < budget:
            self._say(f"[{phase}] the search space is exhausted: it holds only {ran} distinct "
                      f"configurations (all tried), fewer than {phase}_trials={budget}; "
                      "going on with them.")
        if not best:
            raise NoCompletedTrialsError(
                f"No {phase} trial completed with a finite {self.objective.name} "
                f"({len(tuner.oracle.trials)} ran; see `error` in trials_dataframe"
                f"('{self.run_dir}')). Fix the hypermodel or its ranges, then rerun "
                "with overwrite=True."
            )
        seconds = manifest.step(phase).get("seconds", 0.0) + time.perf_counter() - start
        manifest.mark(phase, "done", seconds=round(seconds, 2), best_trial_id=best[0].trial_id,
                      best_score=best[0].score, num_trials=len(tuner.oracle.trials))
        _faults.checkpoint("phase.end")
        interrupts.check()
        return tuner

    def _declare_experiment(self) -> None:
        """Declares the run's one HParams experiment, with every hyperparameter seen.

        The coarse space first (its domains cover the narrowed ones), then
        the fine space, then those of every trial (e.g. values a
        `HyperModel.fit` declared, which a fine oracle does not add to its
        space); the file is rewritten only when that adds something.
        """
        oracles = [self._tuner("coarse").oracle]
        if "fine" in self._tuners:
            oracles.append(self._tuners["fine"].oracle)
        entries = [hp for oracle in oracles for hp in oracle.hyperparameters.space]
        entries += [hp for oracle in oracles for trial in oracle.trials.values()
                    for hp in trial.hyperparameters.space]
        names = {hp.name for hp in entries}
        if names == self._experiment_names:
            return
        write_experiment(self.run_dir / "tensorboard", entries, phases=("coarse", "fine"))
        self._experiment_names = names

    def _on_trial_end(self, tuner: kt.Tuner, trial: trial_module.Trial) -> None:
        self._declare_experiment()  # a trial may have declared new hyperparameters

    def _trial_ended(self, phase: str, tuner: kt.Tuner, trial: trial_module.Trial) -> None:
        """The listener of the phase's tuner (see `_tuner`), when it runs its own trials."""
        if phase in self._progress:
            self._progress[phase](tuner, trial)
        self._on_trial_end(tuner, trial)

    def _run_search(self, tuner: kt.Tuner, phase: str, epochs: int) -> None:
        # No graph per trial: under JAX, tracing it costs as much as two MNIST epochs.
        callbacks = [keras.callbacks.TensorBoard(
            log_dir=str(self.run_dir / "tensorboard" / phase), write_graph=False)]
        tuner.search(
            self.data.x_train, self.data.y_train,
            validation_data=(self.data.x_val, self.data.y_val),
            epochs=epochs, batch_size=self.batch_size,
            callbacks=callbacks + self.callbacks, verbose=0,
        )

    def work(self, connection) -> None:
        """Runs trials for a chief, phase after phase, until the chief has no more.

        The distributed counterpart of `coarse()` + `fine()` on a worker
        (`KERASTUNER_TUNER_ID` set, see `tunekit.cluster`): the chief's
        oracle hands out every trial, with its hyperparameters (the narrowed
        ones in the fine phase). The worker never opens or locks the run's
        manifest, never narrows and never deletes anything.

        Args:
            connection: A `tunekit.worker.ChiefConnection`, already greeted.
        """
        for phase, epochs in (("coarse", self.coarse_epochs), ("fine", self.max_epochs)):
            tuner = self._tuner(phase, worker=True)
            connection.client(tuner, phase)
            self._say(f"[{phase}] asking the chief at {connection.cluster.address} for trials")
            self._run_search(tuner, phase, epochs)

    def coarse(self) -> kt.Tuner:
        """Runs (or resumes) the coarse RandomSearch; returns its tuner."""
        return self._search("coarse", self.coarse_epochs)

    def narrow(self) -> NarrowedSpace:
        """Narrows the space from the coarse trials (or reloads the saved narrowing)."""
        if self.narrowed is not None:
            return self.narrowed
        manifest = self.manifest
        path = self.run_dir / NARROWED_SPACE
        if manifest.is_done("narrow"):
            text = path.read_text(encoding="utf-8")
            try:
                self.narrowed = NarrowedSpace.from_json(text)
            except ValueError as e:
                raise _io.StateFileError(
                    f"The narrowing {path} is corrupt ({e}). Nothing was changed on disk; "
                    "rerun with overwrite=True to start over."
                ) from None
            return self.narrowed
        oracle = self.coarse().oracle
        interrupts.check()
        trials = list(oracle.trials.values())
        usable = sum(1 for t in trials if is_usable(t))
        exhausted = self._space_exhausted(oracle)
        min_trials = MIN_COARSE_TRIALS
        if exhausted and usable < MIN_COARSE_TRIALS:
            # Every configuration was tried: narrow from all that completed.
            min_trials = max(1, usable)
        narrowed = narrow_space(
            oracle.hyperparameters, trials, direction=self.objective.direction,
            top=self.top, margin=self.margin, min_trials=min_trials,
        )
        if exhausted:
            note = (f"the space holds only {len(trials)} distinct configurations, all tried "
                    "in the coarse phase")
            if min_trials < MIN_COARSE_TRIALS:
                note += f": narrowed from all {usable} usable"
            elif narrowed.top_note:
                note += f"; {narrowed.top_note}"
            narrowed = dataclasses.replace(narrowed, top_note=note)
        _io.write_text(path, narrowed.to_json())
        manifest.mark("narrow", "done")
        self.narrowed = narrowed
        self._say(f"Narrowed search space (top {narrowed.top} of {narrowed.usable} coarse "
                  f"trials):\n{narrowed}")
        return narrowed

    def _space_exhausted(self, oracle) -> bool:
        """Whether the coarse RandomSearch stopped early: no new configuration was left.

        KerasTuner's random search stops, without a word, once it draws only
        configurations it already tried; that is the only way it ends a search
        before `max_trials`.
        """
        return 0 < len(oracle.trials) < self.coarse_trials

    def fine(self) -> kt.Tuner:
        """Runs (or resumes) the fine search in the narrowed space; returns its tuner."""
        self.narrow()
        return self._search("fine", self.max_epochs)

    # -- final model -------------------------------------------------------------

    def select(self) -> Selection:
        """Picks the best configuration: a `Selection` `(phase, trial, reason)`.

        The best fine trial, unless a coarse trial scored better on the same
        objective. Only COMPLETED trials with a finite score count. Runs (or
        resumes) both searches first.

        Returns:
            A `Selection` named tuple; `phase, trial, reason = run.select()`
            still works.
        """
        fine = completed_trials(self.fine().oracle)
        coarse = completed_trials(self.coarse().oracle)
        better = (lambda a, b: a > b) if self.objective.direction == "max" else (
            lambda a, b: a < b)
        name = self.objective.name
        if coarse and better(coarse[0].score, fine[0].score):
            return Selection("coarse", coarse[0], (
                f"coarse trial {coarse[0].trial_id} scored {name}={coarse[0].score:.4f}, "
                f"better than the best fine trial {fine[0].trial_id} ({fine[0].score:.4f})"))
        return Selection("fine", fine[0], (
            f"best fine trial {fine[0].trial_id} ({name}={fine[0].score:.4f}); best coarse "
            f"was {coarse[0].trial_id} ({coarse[0].score:.4f})"))

    def retrain(self) -> keras.Model:
        """Rebuilds the best configuration and trains it on train+validation.

        Through `hypermodel.fit(hp, model, ...)` with the chosen trial's `hp`, so
        values its own `fit` tunes (e.g. `batch_size`) are those of the trial.
        `best_hyperparameters.json` and the manifest record the `epochs` and
        `batch_size` that `model.fit` received (`batch_size` is `None` when the
        hypermodel's `fit` never called `model.fit`, or called it without one).

        Raises:
            RetrainDivergedError: The loss became NaN or infinite (no model is
                saved).
            NoCompletedTrialsError: A phase ended without a completed trial.
        """
        manifest = self.manifest
        path = self.run_dir / BEST_MODEL
        if manifest.is_done("retrain"):
            if self.model is None:
                self.model = keras.models.load_model(path, safe_mode=True)
            return self.model
        phase, trial, reason = self.select()
        interrupts.check()
        hp = trial.hyperparameters
        epochs = (final_epochs(trial, self.max_epochs) if self.final_epochs == "auto"
                  else self.final_epochs)
        manifest.mark("retrain", "running", phase=phase, trial_id=trial.trial_id,
                      reason=reason, final_epochs=epochs)
        self._say(f"Retraining {phase} trial {trial.trial_id} on train+validation for "
                  f"{epochs} epochs ({reason}).")
        start = time.perf_counter()
        from tunekit.tuners import InterruptCheck, TrialFacts

        facts = TrialFacts()
        callbacks = [
            *schedule_callbacks(self.final_schedule, epochs),  # first: reads the tuned rate
            keras.callbacks.BackupAndRestore(str(self.run_dir / "retrain_backup")),
            keras.callbacks.TensorBoard(log_dir=str(self.run_dir / "tensorboard" / "final"),
                                        histogram_freq=1),
            facts, _FaultCallback(), InterruptCheck(), *self.callbacks,
        ]
        keras.utils.set_random_seed(self.seed)
        keras.backend.clear_session()
        model = self.hypermodel.build(hp)
        x, y = self.data.train_and_validation()
        fitted = fit_hypermodel(self.hypermodel, hp, model, x, y, epochs=epochs,
                                batch_size=self.batch_size, callbacks=callbacks, verbose=0,
                                refused=self._refused_fit_args())
        history = fitted.results
        # What model.fit received: the hypermodel's fit may set both itself.
        used = fitted.fit_kwargs
        epochs = int(used.get("epochs", epochs))
        batch_size = used.get("batch_size") if used else None
        if facts.nan_at is not None:
            raise RetrainDivergedError(
                f"The final retrain of {phase} trial {trial.trial_id} diverged: the loss "
                f"became NaN or infinite at epoch {facts.nan_at[0] + 1}. No model was saved. "
                "Pass a smaller final_epochs= or narrow the learning rate."
            )
        _io.atomic_write(path, lambda tmp: _save_keras(model, tmp))
        _io.write_json(self.run_dir / BEST_HYPERPARAMETERS, {
            "phase": phase, "trial_id": trial.trial_id, "reason": reason,
            "final_epochs": epochs, "batch_size": batch_size,
            "values": {k: v for k, v in hp.values.items() if hp.is_active(k)},
        })
        seconds = manifest.step("retrain").get("seconds", 0.0) + time.perf_counter() - start
        curves = {k: [float(v) for v in vs] for k, vs in (getattr(history, "history", None)
                                                          or {}).items()}
        manifest.mark("retrain", "done", seconds=round(seconds, 2), history=curves,
                      final_epochs=epochs, batch_size=batch_size)
        self.model = model
        return model

    def evaluate(self) -> Result:
        """Evaluates the saved model on the test set and writes the report.

        The model is loaded back from `best_model.keras` (`safe_mode=True`), so
        the reported test metrics are those of the file a user gets.
        """
        from tunekit.report import write_report  # noqa: PLC0415 (pandas, matplotlib)

        manifest = self.manifest
        self.retrain()
        if not manifest.is_done("evaluate"):
            interrupts.check()
            start = time.perf_counter()
            model = keras.models.load_model(self.run_dir / BEST_MODEL, safe_mode=True)
            batch_size = max(self.batch_size, 256)
            metrics = model.evaluate(self.data.x_test, self.data.y_test, batch_size=batch_size,
                                     return_dict=True, verbose=0)
            manifest.mark("evaluate", "running",
                          test_metrics={k: float(v) for k, v in metrics.items()})
            y_pred = predict_classes(model, self.data.x_test, batch_size=batch_size)
            write_report(self, model, y_pred)
            interrupts.check()  # the report may be partial: a rerun writes it again
            manifest.mark("evaluate", "done", seconds=round(time.perf_counter() - start, 2))
        return self.result()

    def run(self) -> Result:
        """Runs (or resumes) all five steps and returns the `Result`.

        Raises:
            TunekitError: A failure tunekit can name (see `tunekit.errors`):
                e.g. `RunConfigError` (the folder holds another run: pass
                `overwrite=True`), `RunLockedError`, `NoCompletedTrialsError`,
                `RetrainDivergedError`, `tunekit.fitting.HyperModelFitError`.
        """
        try:
            return self.evaluate()
        finally:
            self.close()

    def result(self) -> Result:
        """The `Result` of a run whose `evaluate()` step is done.

        Raises:
            RunNotFinishedError: The run has not finished: call `run()` or
                `evaluate()` first.
        """
        steps = self.manifest.state["steps"]
        if not self.manifest.is_done("evaluate"):
            raise RunNotFinishedError(
                f"The run in {self.run_dir} has not finished: call run() or evaluate() first.")
        retrain = steps["retrain"]
        best = _io.read_json(self.run_dir / BEST_HYPERPARAMETERS, what="best hyperparameters")
        artifacts = {
            name: self.run_dir / name for name in (
                NARROWED_SPACE, BEST_HYPERPARAMETERS, BEST_MODEL, "trials.csv", "report.json",
                "report.md", "tensorboard", "plots")
        }
        return Result(
            best_hyperparameters=_active_copy(
                _saved_hyperparameters(self.run_dir / retrain["phase"], retrain["trial_id"]),
                best["values"]),
            best_phase=retrain["phase"],
            best_trial_id=retrain["trial_id"],
            selection=retrain["reason"],
            final_epochs=retrain["final_epochs"],
            test_metrics=steps["evaluate"]["test_metrics"],
            phase_bests={p: {"trial_id": steps[p]["best_trial_id"],
                             "score": steps[p]["best_score"]} for p in ("coarse", "fine")},
            timings={s: steps[s]["seconds"] for s in STEPS if "seconds" in steps.get(s, {})},
            narrowed=self.narrow(),
            run_dir=self.run_dir,
            artifacts=artifacts,
        )

    def get_best_hyperparameters(self, num_trials: int = 1) -> list[kt.HyperParameters]:
        """The best configurations of both searches, as KerasTuner's method of that name.

        The first is the chosen configuration (`select()`: the one `retrain()`
        trains and `Result.best_hyperparameters` holds); the others follow by
        score on the objective across both phases (COMPLETED trials with a
        finite score; on a tie, fine before coarse, then by trial id). A
        configuration tried in both phases appears once per trial.

        Args:
            num_trials: How many configurations to return, at most. Defaults
                to 1.

        Returns:
            A list of `keras_tuner.HyperParameters` (each trial's space and
            active values, copies): pass one to `hypermodel.build()`.

        Raises:
            ValueError: If `num_trials` is not a positive int.
            RunNotFinishedError: If the searches have not finished: call
                `run()` (or `fine()`) first.
        """
        _positive_int("num_trials", num_trials)
        if not self.manifest.is_done("fine"):
            raise RunNotFinishedError(
                f"The searches in {self.run_dir} have not finished: call run() or fine() "
                "before get_best_hyperparameters().")
        phase, chosen, _ = self.select()
        sign = -1 if self.objective.direction == "max" else 1
        ranked = sorted(
            ((p, t) for p in ("fine", "coarse") for t in completed_trials(self._tuner(p).oracle)
             if (p, t.trial_id) != (phase, chosen.trial_id)),
            key=lambda pt: (sign * pt[1].score, pt[0] != "fine", pt[1].trial_id))
        picks = [chosen, *(t for _, t in ranked)][:num_trials]
        return [_active_copy(t.hyperparameters) for t in picks]

    def get_best_models(self, num_models: int = 1) -> list[keras.Model]:
        """The final model, as KerasTuner's method of that name: `[model]`.

        The chosen configuration retrained on train+validation and saved as
        `best_model.keras` (loaded from that file, `safe_mode=True`, when this
        object did not train it). Only that configuration is retrained: for
        the models of other trials (trained on the training split only, for
        their trial's epochs) use the phase's tuner, e.g.
        `run.fine().get_best_models(num_models=3)`.

        Args:
            num_models: Must be 1 (the default).

        Returns:
            A list holding the one final `keras.Model`.

        Raises:
            ValueError: If `num_models` is not 1.
            RunNotFinishedError: If the retrain has not finished: call `run()`
                (or `retrain()`) first.
        """
        if isinstance(num_models, bool) or not isinstance(num_models, int) or num_models != 1:
            raise ValueError(
                "`num_models` must be 1: only the chosen configuration is retrained on "
                "train+validation. For other trials' models (trained on the training split "
                "only) use the phase's tuner, e.g. run.fine().get_best_models(num_models=3). "
                f"Received: num_models={num_models!r}.")
        if not self.manifest.is_done("retrain"):
            raise RunNotFinishedError(
                f"The run in {self.run_dir} has no final model yet: call run() or retrain() "
                "before get_best_models().")
        return [self.retrain()]


class _FaultCallback(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        _faults.checkpoint("retrain.epoch_end")


def _save_keras(model: keras.Model, tmp: str) -> None:
    # Keras insists on the .keras suffix; save beside the temporary file, then move.
    target = tmp + ".keras"
    model.save(target)
    os.replace(target, tmp)


def _default_name(hypermodel: Any) -> str:
    name = getattr(hypermodel, "name", None) or getattr(hypermodel, "__name__", None)
    return str(name or type(hypermodel).__name__).lower()
