"""The coarse-to-fine workflow: a short loop over the steps of `tunekit.steps`.

`CoarseToFine` holds a run's settings, its manifest and the steps' products;
each step (`coarse`, `narrow`, `fine`, `finalists`, `retrain`, `final_seeds`,
`baseline`, `evaluate`; see `tunekit.steps`) is a small unit
in `tunekit.steps` with a name, the steps it needs, the files it writes and
how it resumes. Search phases run through a `tunekit.distribute.PhaseRunner`:
in this process, or through a chief serving worker processes (`workers=N`).

This module is over 400 lines because it is the public face of a run: about a
third of it is the docstrings of `CoarseToFine`'s public methods (each a step
a notebook calls on its own) and of `Result`, and the constructor's argument
plumbing; the work itself lives in `tunekit.steps`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import keras
import keras_tuner as kt
from keras_tuner.engine import trial as trial_module

from tunekit import _io, _kerastuner, _log
from tunekit.cv import check_splittable, fold_indices
from tunekit.data import Dataset, class_weights
from tunekit.data._split_classes import refuse_unlearnable_classes, split_class_notes
from tunekit.data.images import inside, listing_changes
from tunekit.data.streams import StreamData
from tunekit.distribute.runner import LocalRunner, PhaseRunner
from tunekit.errors import (
    DataError,
    InvalidParameterError,
    NoCompletedTrialsError,
    RetrainDivergedError,
    RunConfigError,
    RunNotFinishedError,
    UsageError,
)
from tunekit.fit_inputs import takes_validation_data
from tunekit.hypermodel_changes import learn_build_state, refuse_changed_values
from tunekit.hypermodel_code import code_record
from tunekit.hypermodel_kinds import BUILD_REMEDY, not_a_build, own_fit
from tunekit.hypermodel_state import KEY as HYPERMODEL_STATE
from tunekit.hypermodel_use import DESCRIPTION, described, in_use, recorded_values
from tunekit.manifest import OMITTED_SETTINGS, RunManifest, check_run_location
from tunekit.model_description import KEY as DEFAULT_MODEL
from tunekit.model_description import describe_model
from tunekit.narrowing import NarrowedSpace
from tunekit.object_settings import (
    CALLBACKS,
    HYPERMODEL_SETTINGS,
    describe_callbacks,
)
from tunekit.objectives import (
    objective_names,
    objective_parts,
    resolve_objective,
    training_metric_note,
)
from tunekit.option_pairs import check_stream_batch_size, recorded_batch_size
from tunekit.params import (
    DEFAULT_OBJECTIVES,
    FINE_TUNERS,
    PARAMETERS,
    POSITIVE_INT,
    FinalSchedule,
    FineTuner,
    NarrowingConfig,
    ProgressMode,
    RetrainConfig,
    check_param,
    document,
    resolve_workflow_params,
)
from tunekit.replacing import SEARCH_STEPS
from tunekit.retrain_callbacks import retrain_monitor_notes
from tunekit.run_lock import check_unlocked
from tunekit.run_reads import check_settings
from tunekit.state_files import (
    DATA_FILES,
    MANIFEST,
    check_kerastuner_project,
    check_search_space,
    read_run_file,
)
from tunekit.steps import (
    BEST_HYPERPARAMETERS,
    NARROWED_SPACE,
    Selection,
    Step,
    coarse_to_fine_steps,
    completed_trials,
    outputs_missing,
    select,
)
from tunekit.steps.base import check_splits_used
from tunekit.steps.check import (
    check_declares_hyperparameters,
    check_model,
    check_objective_reported,
    check_vector_objective,
    declared_space,
    default_model,
)
from tunekit.steps.retrain import ranked_trials
from tunekit.steps.search import cv_stratify
from tunekit.steps.space_checks import check_user_space
from tunekit.trial_refusals import said_now, said_text
from tunekit.tuners import check_size_limit, first_sample

__all__ = [
    "CoarseToFine",
    "Result",
    "Selection",
    "FINE_TUNERS",
    "NoCompletedTrialsError",
    "RetrainDivergedError",
    "RunNotFinishedError",
    "completed_trials",
]

# What each step after the searches writes; a done step whose file is gone runs again.
STEP_OUTPUTS = {step.name: step.outputs for step in coarse_to_fine_steps() if step.outputs}

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
            `{"accuracy": 0.98, "loss": 0.06}`; for regression also
            scikit-learn's `"mse"`, `"mae"`, `"rmse"` and `"r2"` of its
            predictions.
        phase_bests: Per phase, the best trial id and score (`trial_id`,
            `score`), and with `max_model_size` the configurations rejected as
            larger before training (`rejected_oversized`). Both `None` for a
            fine phase whose every trial the hypermodel skipped (FailedTrialError).
        timings: Seconds spent per step (summed over resumed sessions).
        narrowed: The narrowing applied between the phases.
        run_dir: The run folder.
        artifacts: Paths of the files and folders the run wrote in `run_dir`, by
            name: every entry there but the hidden lock and temporary files
            (`coarse`, `fine`, `manifest.json`, `timing.csv`, `best_model.keras`,
            `baseline_model.keras` with `baseline=True`, ...).
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

    @classmethod
    def read(cls, run_dir: Path, steps: dict[str, Any], narrowed: NarrowedSpace) -> Result:
        """The `Result` of a finished run, from its folder and its manifest's `steps`."""
        retrain = steps["retrain"]
        best = _io.read_json(run_dir / BEST_HYPERPARAMETERS, what="best hyperparameters")
        return cls(
            best_hyperparameters=_active_copy(
                _saved_hyperparameters(run_dir / retrain["phase"], retrain["trial_id"]),
                best["values"],
            ),
            best_phase=retrain["phase"],
            best_trial_id=retrain["trial_id"],
            selection=retrain["reason"],
            final_epochs=retrain["final_epochs"],
            test_metrics=steps["evaluate"]["test_metrics"],
            phase_bests={
                p: {
                    "trial_id": steps[p]["best_trial_id"],
                    "score": steps[p]["best_score"],
                    # with max_model_size: configurations rejected as larger, not trained
                    **{k: steps[p][k] for k in ("rejected_oversized",) if k in steps[p]},
                }
                for p in ("coarse", "fine")
            },
            timings={s: v["seconds"] for s, v in steps.items() if "seconds" in v},
            narrowed=narrowed,
            run_dir=run_dir,
            artifacts={p.name: p for p in sorted(run_dir.iterdir()) if not p.name.startswith(".")},
        )


def _active_copy(
    hp: kt.HyperParameters, values: dict[str, Any] | None = None
) -> kt.HyperParameters:
    """A copy of `hp` (space included) holding only its active values, or `values`."""
    copy = hp.copy()
    copy.values = (
        dict(values)
        if values is not None
        else {name: value for name, value in hp.values.items() if hp.is_active(name)}
    )
    return copy


def _saved_hyperparameters(project: Path, trial_id: str) -> kt.HyperParameters:
    """The hyperparameters (space and values) saved with a trial of a KerasTuner project.

    Read from the trial's `trial.json` (no tuner is built); empty if it is gone.
    """
    path = project / f"trial_{trial_id}" / "trial.json"
    if not path.is_file():
        return kt.HyperParameters()
    return trial_module.Trial.load(str(path)).hyperparameters


class CoarseToFine:
    """Tunes a hypermodel coarse-to-fine and retrains the best model.

    `run()` runs the steps in order and returns a `Result`; each step is also a
    public method that runs the steps it needs first and is skipped when
    already done, so a rerun resumes (see `tunekit.steps`):

    1. `coarse()`: a RandomSearch over the hypermodel's full space, in the
       KerasTuner project `<run>/coarse`.
    2. `narrow()`: `tunekit.narrow_space` from the coarse trials, saved as
       `narrowed_space.json`.
    3. `fine()`: Hyperband or BayesianOptimization over the narrowed space
       (`hyperparameters=`), in `<run>/fine`. A hyperparameter the coarse
       phase never met is tuned over the hypermodel's own full range.
    4. `retrain()`: the best configuration (`select()`: the best fine trial,
       unless a coarse trial scored better) rebuilt with `hypermodel.build(hp)`
       and trained from scratch with `hypermodel.fit(hp, model, ...)` on
       train+validation, saved as `best_model.keras`.
    5. `evaluate()`: the saved model, loaded back, on the untouched test set;
       writes `trials.csv`, `report.json`, `report.md` and plots.

    Between them: with `finalists` > 1, the finalists step (before the
    retrain: the top `finalists` configurations trained with `finalist_seeds`
    more seeds, the pick by mean validation score); by default, the baseline step (after it: the
    hypermodel's default configuration trained by the same rule, compared
    with the tuned model in the report); with `final_seeds` > 1, the winner
    retrained with more seeds, their test metrics reported as mean and
    standard deviation.

    A hypermodel's own `fit` may set `model.fit` keywords itself, as in
    KerasTuner's documentation: its values win over tunekit's in every trial
    and in the retrain. A `fit` that sets `epochs` is refused with
    `fine_tuner="hyperband"` or an int `final_epochs`, at the first coarse
    trial (see `tunekit.fitting` for the whole contract).

    The run folder is `<directory>/<project_name>`; its `manifest.json`
    records the configuration and each step's state, and a rerun with another
    configuration is refused. Progress lines go to the `"tunekit"` logger;
    failures tunekit names raise a `tunekit.TunekitError` whose messages name
    this constructor's keyword arguments.

    Args:
        hypermodel: A `keras_tuner.HyperModel` instance (`MyHyperModel()`,
            not the class) or a `build(hp)` function returning a compiled
            model.
        data: A `tunekit.data.Dataset` (arrays, or dicts of arrays), or a
            `tunekit.data.StreamData`: batched `tf.data.Dataset`s or
            `keras.utils.PyDataset`s passed to `tuner.search` as they are
            (`StreamData.from_image_folder` streams an image folder from
            disk). A resumed run compares the data's fingerprint: a
            `StreamData` needs `fingerprint=` (see `tunekit.data.streams`).
        directory: Parent folder of the run. Defaults to `"runs"`.
        project_name: Run folder name. Defaults to the hypermodel's name.
        objective: Metric to optimise: a `keras_tuner.Objective`, a name with
            its direction (`"val_f1_score:max"`), or a Keras metric whose
            direction is certain (`"val_accuracy"`, `"val_loss"`; see
            `tunekit.objectives.resolve_objective`); any other name raises
            `ValueError` (tunekit never guesses a direction). A list of these
            is KerasTuner's `MultiObjective` (the sum, the parts to maximise
            subtracted, lower is better). Defaults to
            `None`: `"val_accuracy"` for a classification `data`, `"val_loss"`
            (lower is better) for regression (`DEFAULT_OBJECTIVES`). A
            hypermodel `fit` that returns one number needs an objective
            naming it: with the default, its first trial stops the search
            (`SearchInputError`), since only you know whether it is an error
            (plain KerasTuner minimises it) or a score.
        callbacks: Extra Keras callbacks for every trial and the retrain.
            Part of the run's settings (`tunekit.object_settings`): each
            callback's class and the arguments it keeps (`monitor`,
            `patience`, ...; `verbose` and paths aside), so a resume with
            other callbacks is refused. Keras's `TensorBoard`, `CSVLogger`,
            `ModelCheckpoint` and the other callbacks that only observe may
            be added or dropped on a resume.
        hyperparameters: KerasTuner's `hyperparameters=`: a
            `keras_tuner.HyperParameters` whose entries override (or
            register in advance) the hypermodel's own, e.g. `hp.Fixed(
            "activation", "tanh")` or a narrower `hp.Float("learning_rate",
            ...)`. The coarse phase searches it (with the hypermodel's other
            entries, see `tune_new_entries`), the fine phase its narrowing,
            and the baseline and the check before training build its
            defaults. Part of the run's settings: a resume with other
            entries is refused. Defaults to `None` (the hypermodel's space).
        tune_new_entries: KerasTuner's: whether the hypermodel's entries
            that `hyperparameters` does not list are searched too; `False`
            builds them at their defaults in every trial (needs
            `hyperparameters` with something to tune). Defaults to `True`.
        allow_new_entries: KerasTuner's: whether the hypermodel may declare
            entries `hyperparameters` does not list; `False` refuses such a
            hypermodel before training, naming them. Defaults to `True`.
        {settings}
        narrowing: `top` and `margin` as one `tunekit.NarrowingConfig`,
            instead of the two keywords. Defaults to `None`.
        retrain: `final_epochs` and `final_schedule` as one
            `tunekit.RetrainConfig`, instead of the two keywords. Defaults to
            `None`.
        finalists: After the fine phase, the top `finalists` distinct
            configurations by score (both phases) are trained
            `finalist_seeds` more times with other seeds, on train, scored
            on validation; the retrain takes the best mean (the trial's own
            score counts as one seed; equal means go to the smaller model).
            0 or 1 turns the step off (the best single trial is retrained).
            See `tunekit.steps.finalists`. Defaults to 0 (off; 3 is a good
            choice when seeds matter more than time).
        finalist_seeds: Extra seeds per finalist; refused with `finalists`
            0 or 1 (the step is off and would drop it). Defaults to `None`
            (not given): 2.
        baseline: Train the hypermodel's default configuration
            (`build(kt.HyperParameters())`) by the winner's retrain rule,
            save it as `baseline_model.keras`, and compare it with the tuned
            model on the test set in the report (intervals, McNemar's exact
            test, a plain verdict). Defaults to `True`.
        final_seeds: Retrain the winner this many times (seeds `seed`,
            `seed + 1`, ...) and report the test metrics' mean and standard
            deviation; the saved model is the first seed's, and nothing is
            chosen on the test set. Defaults to 1.

    Raises:
        InvalidParameterError: An argument's value breaks its rule (the
            rules are `tunekit.params.PARAMETERS`), or a setting is given
            both as a keyword and in `narrowing` / `retrain`, or `cv` > 1
            with `fine_tuner="hyperband"`, or a setting given where it does
            not apply (it would be dropped silently): `fine_trials` with
            Hyperband, `factor` with Bayesian, `finalist_seeds` with
            `finalists` 0 or 1, `progress` with `verbose=0`, `batch_size`
            with a stream (`tunekit.option_pairs`; a `None` default means
            "not given"). A `ValueError` and a `TypeError`;
            the message names the keyword. Also for a `hypermodel` that is
            not a HyperModel instance or a build function: a HyperModel
            class (pass `MyHyperModel()`), a Keras model or model class.
        TypeError: `data` is of the wrong type.
        DataError: A class of the validation or test labels is missing from
            the training labels, or `cv` > 1 with data that cannot be split
            by sample index (a stream).
        RunConfigError: `directory` / `project_name` cannot hold a run.
        DataError: `class_weight` given for regression targets or several
            outputs (there are no classes to weigh), or a `class_weight` dict
            key that names none of the data's classes (keys: class ids, the
            labels themselves when integer labels were renumbered, False /
            True for bool labels, or class names; see `class_weights`).

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
        data: Dataset | StreamData,
        *,
        directory: str | os.PathLike = "runs",
        project_name: str | None = None,
        objective: str | kt.Objective | list[str | kt.Objective] | None = None,
        coarse_trials: int = 20,
        coarse_epochs: int = 2,
        defaults_first: bool = True,
        fine_tuner: FineTuner | None = None,
        fine_trials: int | None = None,
        max_epochs: int = 20,
        factor: int | None = None,
        top: float | int | None = None,
        margin: float | None = None,
        final_epochs: int | Literal["auto"] | None = None,
        final_schedule: FinalSchedule | None = None,
        batch_size: int | None = None,
        executions_per_trial: int = 1,
        cv: int = 1,
        callbacks: Sequence[keras.callbacks.Callback] | None = (),
        hyperparameters: kt.HyperParameters | None = None,
        tune_new_entries: bool = True,
        allow_new_entries: bool = True,
        seed: int = 0,
        overwrite: bool = False,
        verbose: int = 1,
        progress: ProgressMode | None = None,
        narrowing: NarrowingConfig | None = None,
        retrain: RetrainConfig | None = None,
        workers: int = 1,
        trials_per_process: int | None = None,
        class_weight: str | Mapping[Any, float] | None = None,
        max_model_size: int | None = None,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 3,
        finalists: int = 0,
        finalist_seeds: int | None = None,
        baseline: bool = True,
        final_seeds: int = 1,
    ) -> None:
        _check_hypermodel_argument(hypermodel)
        if not isinstance(data, (Dataset, StreamData)):
            raise TypeError(
                "`data` must be a tunekit.data.Dataset (see load_mnist, load_image_directory, "
                "Dataset.from_arrays) or a tunekit.data.StreamData (tf.data / PyDataset "
                f"streams, image folders). Received: {type(data).__name__}."
            )
        settings = resolve_workflow_params(
            dict(
                coarse_trials=coarse_trials,
                coarse_epochs=coarse_epochs,
                defaults_first=defaults_first,
                fine_tuner=fine_tuner,
                fine_trials=fine_trials,
                max_epochs=max_epochs,
                factor=factor,
                top=top,
                margin=margin,
                final_epochs=final_epochs,
                final_schedule=final_schedule,
                batch_size=batch_size,
                executions_per_trial=executions_per_trial,
                cv=cv,
                seed=seed,
                overwrite=overwrite,
                verbose=verbose,
                progress=progress,
                workers=workers,
                # None: every trial in one process (not checked by the table).
                **(
                    {} if trials_per_process is None else {"trials_per_process": trials_per_process}
                ),
                # None ("not given", no weighting) is not checked by the table.
                **({} if class_weight is None else {"class_weight": class_weight}),
                **({} if max_model_size is None else {"max_model_size": max_model_size}),
                max_retries_per_trial=max_retries_per_trial,
                max_consecutive_failed_trials=max_consecutive_failed_trials,
                finalists=finalists,
                finalist_seeds=finalist_seeds,
                baseline=baseline,
                final_seeds=final_seeds,
            ),
            narrowing=narrowing,
            retrain=retrain,
        )
        # How this run names its settings in its warnings, errors and report: keyword
        # arguments (str); the CLI makes it under `saying(cli_message)` (flags: --objective).
        self.said: Callable[[BaseException], str] = said_now()
        if isinstance(data, StreamData):  # fitted in its own batches: batch_size would lie
            check_stream_batch_size(None if batch_size is None else settings["batch_size"], data)
        # As given (None: not given), for local workers to rebuild the run the same way.
        self.given_settings: dict[str, Any] = {
            "fine_tuner": fine_tuner,
            "fine_trials": fine_trials,
            "factor": factor,
            "batch_size": batch_size,
            "finalist_seeds": finalist_seeds,
            "progress": progress,
        }
        refuse_unlearnable_classes(data, settings["cv"], self.said)  # no trial can learn
        self.hypermodel = _kerastuner.get_hypermodel(hypermodel)
        # Its values but what its build and fit write and what tunekit's use of this object
        # changed: one rule for every record of them (`tunekit.hypermodel_use`).
        values = recorded_values(hypermodel)
        self._given_hypermodel = hypermodel  # compared again before each step (`_working`)
        self._hypermodel_description = values[DESCRIPTION]
        self._hypermodel_code = code_record(hypermodel)
        self.data = data
        outputs = _output_names(data)  # `<output>_<metric>` objectives: one of these outputs
        try:
            self.objective = resolve_objective(
                DEFAULT_OBJECTIVES[data.task] if objective is None else objective, outputs=outputs
            )
        except InvalidParameterError:  # a vector metric's refusal first: its advice runs
            check_vector_objective(self.hypermodel, objective, hyperparameters)
            raise
        self.objective_defaulted = objective is None
        if settings["verbose"]:  # this constructor's warnings reach a notebook too
            _log.show_progress()
        else:  # no progress, but warnings still show
            _log.show_warnings()
        # A fit of the hypermodel's own may return {"my_acc": ...} computed on validation
        # data: the tuner judges it by what that fit returns (`tuners.base`).
        own = own_fit(self.hypermodel)
        for name in objective_names(self.objective) if not own else []:
            if (note := training_metric_note(name, outputs)) is not None:
                _logger.warning(note)
        # A validation or test split lacking classes: warned now, and in the report.
        self.split_notes: list[str] = split_class_notes(data, settings["cv"], self.said)
        for note in self.split_notes:
            _logger.warning(note)
        project_name = _default_name(hypermodel) if project_name is None else project_name
        check_run_location(directory, project_name)
        self.run_dir = Path(directory) / project_name
        definition = getattr(data, "definition", None) or {}  # an image folder's: its root
        folder = ((definition.get("kwargs") or {}).get("config") or {}).get("root")
        if folder and inside(Path(folder), self.run_dir):
            raise RunConfigError(
                f"The run folder {str(self.run_dir)!r} is inside the image folder {folder!r}: "
                "the run's plots would be read as images of a class on the next run. Give "
                f"directory= a folder outside it (e.g. {str(Path(folder).parent / 'runs')!r})."
            )
        self.coarse_trials: int = settings["coarse_trials"]
        self.coarse_epochs: int = settings["coarse_epochs"]
        self.defaults_first: bool = settings["defaults_first"]
        self.fine_tuner: FineTuner = settings["fine_tuner"]
        self.fine_trials: int = settings["fine_trials"]
        self.max_epochs: int = settings["max_epochs"]
        self.factor: int = settings["factor"]
        self.top: float | int = settings["top"]
        self.margin: float = settings["margin"]
        self.final_epochs: int | Literal["auto"] = settings["final_epochs"]
        self.final_schedule: FinalSchedule = settings["final_schedule"]
        self.batch_size: int = settings["batch_size"]
        if isinstance(data, StreamData) and batch_size is None and not settings["overwrite"]:
            # Unused with a stream: an older run that recorded another one resumes with it.
            self.batch_size = recorded_batch_size(self.run_dir, self.batch_size)
        self.executions_per_trial: int = settings["executions_per_trial"]
        self.max_model_size: int | None = settings.get("max_model_size")
        self.max_retries_per_trial: int = settings["max_retries_per_trial"]
        self.max_consecutive_failed_trials: int = settings["max_consecutive_failed_trials"]
        self.cv: int = settings["cv"]
        if self.cv > 1:  # a stream cannot be split by index: refused before any trial
            if isinstance(data, StreamData):
                folder = data.fingerprint().startswith("image-folder:")
                raise DataError(
                    f"cv={self.cv} needs arrays to split into folds; `data` is a stream "
                    "(tf.data or PyDataset), which cannot be split by index. Pass cv=1, or "
                    "arrays (Dataset.from_arrays)."
                    + (
                        " An image folder is streamed from disk: load it as arrays with "
                        "tunekit.data.load_image_directory, or save its images as an .npz "
                        "(x_train, y_train, x_test, y_test) for --data."
                        if folder
                        else ""
                    )
                )
            for split in ("train", "val"):
                check_splittable(getattr(data, f"x_{split}"), f"data.x_{split}")
                check_splittable(getattr(data, f"y_{split}"), f"data.y_{split}")
            # Too few samples (of a class) for the folds: said now, before the run folder.
            fold_indices(
                data.y_train_full,
                self.cv,
                seed=settings["seed"],
                stratify=cv_stratify(data),
                class_names=getattr(data, "class_names", None),
            )
        if isinstance(data, Dataset):
            check_splits_used(data, self.cv)
        self.callbacks = _callback_list(callbacks)
        # Described now, before a fit changes them: part of the run's settings.
        self._callbacks_description = describe_callbacks(self.callbacks)
        self._hypermodel_settings = values[HYPERMODEL_SETTINGS]
        self._hypermodel_state = values[HYPERMODEL_STATE]
        self.hyperparameters = _user_space(hyperparameters, tune_new_entries, allow_new_entries)
        self.tune_new_entries, self.allow_new_entries = tune_new_entries, allow_new_entries
        validation_passed = takes_validation_data(hypermodel)  # the retrain's fit gets it too
        for note in retrain_monitor_notes(self.callbacks, self.final_schedule, validation_passed):
            _logger.warning("%s", note)
        self.seed: int = settings["seed"]
        self.overwrite: bool = settings["overwrite"]
        self.verbose: int | bool = settings["verbose"]
        self.progress: ProgressMode = settings["progress"]
        self.workers: int = settings["workers"]
        self.trials_per_process: int | None = settings.get("trials_per_process")
        self.class_weight: str | dict[Any, float] | None = settings.get("class_weight")
        # What every trial's and the retrain's model.fit receive as class_weight (None: none).
        # A stream is weighed by its known labels (an image folder's file lists).
        self.class_weights: dict[int, float] | None = class_weights(data, self.class_weight)
        self.finalists: int = settings["finalists"]  # refused with cv (params.check_cv)
        self.finalist_seeds: int = settings["finalist_seeds"]
        self.baseline: bool = settings["baseline"]
        self.final_seeds: int = settings["final_seeds"]
        self.backend_choice: dict[str, Any] | None = None  # set by the CLI's --backend
        self.steps: tuple[Step, ...] = coarse_to_fine_steps(
            finalists=self.finalists, final_seeds=self.final_seeds, baseline=self.baseline
        )
        self.tuners: dict[str, kt.Tuner] = {}
        self.trial_losses: dict[str, str] = {}  # the first trial's loss (check_same_loss)
        self._products: dict[str, Any] = {}
        self._manifest: RunManifest | None = None
        # A read-only open (`_open_to_read`): (the step it needs, the read), or None.
        self._reading: tuple[str, str] | None = None
        self._refused_as: str | None = None  # a read that opens the run exclusive: `select()`
        self._model_checked = False
        self._default_model: tuple[dict[str, Any] | None] | None = None  # built once, lazily
        self._working_depth = 0  # nested `_working` blocks: the outermost releases the lock
        # The manifest as this object last held it (JSON text): reopened, a folder that
        # differs was changed by another process or object, and what was loaded is stale.
        self._last_state: str | None = None
        self._declared: kt.HyperParameters | None = None  # see _declared_space
        # What loading the run's .keras files alone needs (see check_round_trip), else None.
        self.model_file_note: str | None = None
        self.reproduced_note: str | None = None  # set by the evaluate step
        self._recorded_error: BaseException | None = None  # in the manifest, by its step
        # How search phases run: here, or (workers > 1) through a chief; see tunekit.distribute.
        self.runner: PhaseRunner = LocalRunner()
        if self._has_chief:
            from tunekit.distribute.spec import (  # noqa: PLC0415
                check_data_reaches_workers,
                check_reaches_workers,
            )

            check_reaches_workers(hypermodel=hypermodel, callbacks=self.callbacks)
            check_data_reaches_workers(data)
            self._worker_objects = {
                "hypermodel": hypermodel,
                "callbacks": self.callbacks,
                "hyperparameters": self.hyperparameters,
                "tune_new_entries": self.tune_new_entries,
                "allow_new_entries": self.allow_new_entries,
            }
        # What a build changes on the object is state from now on: a build by hand before
        # the first step is then not refused as a change (`refuse_changed_values`).
        learn_build_state(hypermodel, self.hyperparameters)

    # -- the steps ---------------------------------------------------------------

    def ensure(self, name: str) -> Any:
        """The product of step `name`, running it (and the steps it needs) first if need be.

        Raises:
            UsageError: `name` is not one of this run's steps (`finalists`,
                `final_seeds` and `baseline` are steps only when their
                settings turn them on).
        """
        step = self._step(name)
        with self._working():
            self.manifest  # noqa: B018 (locked, and read again if changed since: `_working`)
            if name not in self._products:
                if (
                    self._has_chief
                    and isinstance(self.runner, LocalRunner)
                    and name in ("coarse", "fine")
                    and not self.manifest.is_done(name)
                ):
                    self._start_workers()
                try:
                    self._products[name] = step.ensure(self)
                except Exception as exc:  # a kill or Ctrl-C (BaseException) stays "interrupted"
                    # Recorded for `tunekit ls` ("failed: <step>") on the step that raised it,
                    # also one that stopped before it started (the narrowing: too few coarse
                    # trials), whatever raised it (a Keras or user error too); marking it
                    # running again clears it.
                    if (
                        self._manifest is not None
                        and self._manifest.reading is None  # a read records nothing
                        and exc is not self._recorded_error
                    ):
                        self._recorded_error = exc
                        if self._manifest.step(name).get("status") != "done":
                            error = f"{type(exc).__name__}: {exc}"
                            self._manifest.mark(name, "running", error=error)
                    raise
            return self._products[name]

    @contextlib.contextmanager
    def _working(self) -> Iterator[None]:
        """Holds the run's lock while a step or a read works, not while the object is idle.

        The outermost block releases it (with `close()`: workers stop too), so
        a notebook holding this object between calls blocks no other process.
        The next block opens the manifest again (`manifest`): if another
        process or object changed the run folder meanwhile, what this object
        had loaded (tuners, narrowing, models) is dropped and read again.
        """
        now = None  # its values at the outermost block's start, described once
        if not self._working_depth:
            now = described(self._given_hypermodel)
            refuse_changed_values(self._given_hypermodel, self._recorded_values(), now)
        self._working_depth += 1
        try:
            # What its builds and fits change meanwhile: state (`tunekit.hypermodel_use`).
            with in_use(
                self.hypermodel, before=now if self.hypermodel is self._given_hypermodel else None
            ):
                yield
        finally:
            self._working_depth -= 1
            if not self._working_depth:
                self.close()

    def _recorded_values(self) -> dict[str, dict[str, Any]]:
        """The hypermodel's values as this object recorded them when it was made."""
        return {
            DESCRIPTION: self._hypermodel_description,
            HYPERMODEL_SETTINGS: self._hypermodel_settings,
            HYPERMODEL_STATE: self._hypermodel_state,
        }

    def _start_workers(self) -> None:
        """Makes this process the chief of `workers` local worker processes."""
        from tunekit.distribute.launch import local_chief  # noqa: PLC0415

        self.runner = local_chief(self, self.workers, self._worker_objects)

    @property
    def _has_chief(self) -> bool:
        """Whether searches run in local worker processes (`workers` > 1, `trials_per_process`)."""
        return self.workers > 1 or self.trials_per_process is not None

    def coarse(self) -> kt.Tuner:
        """Runs (or resumes) the coarse RandomSearch; returns its tuner."""
        return self.ensure("coarse")

    def narrow(self) -> NarrowedSpace:
        """Narrows the space from the coarse trials (or reloads the saved narrowing)."""
        return self.ensure("narrow")

    def fine(self) -> kt.Tuner:
        """Runs (or resumes) the fine search in the narrowed space; returns its tuner."""
        return self.ensure("fine")

    def select(self) -> Selection:
        """Picks the best configuration: a `Selection` `(phase, trial, reason)`.

        The best fine trial, unless a coarse trial scored better on the same
        objective. Only COMPLETED trials with a finite score count. Runs (or
        resumes) both searches first.

        Returns:
            A `Selection` named tuple; `phase, trial, reason = run.select()`
            still works.

        Raises:
            RunLockedError: Another process is working on the run (a step of
                it runs there): said before anything is read, naming its pid;
                call it again once that process ends.
        """
        with self._working():
            self._open_to_read("select()", None)
            return select(self)

    def retrain(self) -> keras.Model:
        """Rebuilds the best configuration and trains it on train+validation.

        See `tunekit.steps.RetrainStep`: `best_hyperparameters.json` and the
        manifest record the `epochs` and `batch_size` that `model.fit` received.

        Raises:
            RetrainDivergedError: The loss became NaN or infinite (no model is
                saved).
            NoCompletedTrialsError: A phase ended without a completed trial.
        """
        return self.ensure("retrain")

    def evaluate(self) -> Result:
        """Evaluates the saved model (loaded back) on the test set and writes the report.

        Runs (or resumes) every step before it first: the searches, the
        retrain and, when on, the final seeds and the baseline that the report
        compares with.
        """
        with self._working():
            self.ensure("evaluate")
            return self.result()

    def run(self) -> Result:
        """Runs (or resumes) every step and returns the `Result`.

        Raises:
            TunekitError: A failure tunekit can name (see `tunekit.errors`):
                e.g. `RunConfigError` (the folder holds another run: pass
                `overwrite=True`), `RunLockedError`, `NoCompletedTrialsError`
                (a rerun starts that phase again), `TrialsFailedError` (too many
                trials in a row failed), `RetrainDivergedError`,
                `tunekit.fitting.HyperModelFitError` (a fit on train+validation).
        """
        with self._working():  # the lock is released at the end, also on an error
            finished = all(self.manifest.is_done(step.name) for step in self.steps)
            if finished:
                self.say(
                    said_text(
                        f"The run in {self.run_dir} is already finished: reporting it again "
                        "(to run it from scratch: overwrite=True).",
                        self.said,
                    )
                )
            for step in self.steps:
                self.ensure(step.name)
            if finished:  # the folder may have moved: its report names where it is now
                from tunekit.report_top import refresh_location

                refresh_location(self.run_dir)
            self.runner.close(wait=10.0)  # workers leave once told there are no more trials
            return self.result()

    def result(self) -> Result:
        """The `Result` of a run whose `evaluate()` step is done.

        Raises:
            RunLockedError: Another process is working on the run (a step of
                it runs there): said before anything is read, naming its pid;
                call it again once that process ends.
            RunNotFinishedError: The run has not finished: call `run()` or
                `evaluate()` first.
        """
        with self._working():
            manifest = self._open_to_read(
                "result()",
                "evaluate",
                f"The run in {self.run_dir} has not finished: call run() or evaluate() first.",
            )
            return Result.read(self.run_dir, manifest.state["steps"], self.narrow())

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
            RunLockedError: Another process is working on the run (a step of
                it runs there): said before anything is read, naming its pid;
                call it again once that process ends.
            RunNotFinishedError: If the searches have not finished: call
                `run()` (or `fine()`) first.
        """
        check_param("num_trials", num_trials, POSITIVE_INT)
        with self._working():
            self._open_to_read(
                "get_best_hyperparameters()",
                "fine",
                f"The searches in {self.run_dir} have not finished: call run() or fine() "
                "before get_best_hyperparameters().",
            )
            return [_active_copy(t.hyperparameters) for t in ranked_trials(self)[:num_trials]]

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
            RunLockedError: Another process is working on the run (a step of
                it runs there): said before anything is read, naming its pid;
                call it again once that process ends.
            RunNotFinishedError: If the retrain has not finished: call `run()`
                (or `retrain()`) first.
        """
        if isinstance(num_models, bool) or not isinstance(num_models, int) or num_models != 1:
            raise ValueError(
                "`num_models` must be 1: only the chosen configuration is retrained on "
                "train+validation. For other trials' models (trained on the training split "
                "only) use the phase's tuner, e.g. run.fine().get_best_models(num_models=3). "
                f"Received: num_models={num_models!r}."
            )
        with self._working():
            self._open_to_read(
                "get_best_models()",
                "retrain",
                f"The run in {self.run_dir} has no final model yet: call run() or retrain() "
                "before get_best_models().",
            )
            return [self.retrain()]

    def _open_to_read(self, method: str, needs: str | None, unfinished: str = "") -> RunManifest:
        """The manifest for a read-only accessor, opened without changing the run folder.

        A run this object holds open is read as it is. Otherwise the folder's
        manifest is read first (`tunekit.run_reads`): other settings than this
        object's are refused before the folder is opened, since opening it with
        them would resume the run with them (and move the steps after the
        searches to `replaced/`); then it is opened with nothing recorded.

        Args:
            method: The accessor, for the messages, e.g. `"result()"`.
            needs: The step that must be done (`unfinished` is raised if it is
                not), or `None` (`select()`, which runs the searches if need
                be: only the settings are checked).
            unfinished: The `RunNotFinishedError` message.

        Raises:
            RunLockedError: Another process holds the run (a step of it is
                running there): asked first, and again before saying that a
                step is not done (`tunekit.run_lock.check_unlocked`).
            RunConfigError: The run in the folder has other settings (e.g.
                another object on the same folder ran it since).
            RunNotFinishedError: The step `needs` is not done, or an output
                up to it is missing or unreadable.
        """
        if self._manifest is None or not self._manifest.held:
            # First: a run another process works on is neither unfinished nor read yet.
            check_unlocked(self.run_dir, method)
            path = self.run_dir / MANIFEST
            if self.overwrite or not path.is_file():  # this object's run is still to start
                if needs is None:
                    return self._open_as(method)
                check_unlocked(self.run_dir, method)  # and again before "not finished"
                raise RunNotFinishedError(
                    unfinished
                    + (" (overwrite=True: this object starts the run over first)" * self.overwrite)
                )
            state = read_run_file(self.run_dir, MANIFEST, what="run manifest")
            check_settings(method, self.run_dir, state, self.config(), keras.backend.backend())
            if needs is None:
                return self._open_as(method)
            if (state.get("steps") or {}).get(needs, {}).get("status") != "done":
                check_unlocked(self.run_dir, method)  # taken since the first look: say so
                raise RunNotFinishedError(unfinished)
            self._reading = (needs, method)
            try:
                self.manifest  # noqa: B018 (opens it, read-only)
            finally:
                self._reading = None
        manifest = self.manifest
        if needs is not None and not manifest.is_done(needs):
            raise RunNotFinishedError(unfinished)
        return manifest

    def _open_as(self, method: str) -> RunManifest:
        """`manifest`, opened exclusive by the read `method` (named if refused)."""
        self._refused_as = method
        try:
            return self.manifest
        finally:
            self._refused_as = None

    # -- configuration and state -------------------------------------------------

    def config(self) -> dict[str, Any]:
        """The settings that define this run (compared on resume)."""
        return {
            "hypermodel": self._hypermodel_description,
            # Compared on resume but for runs recorded before it (`tunekit.hypermodel_code`).
            "hypermodel_code": self._hypermodel_code,
            # Recorded even when empty: a run without them predates them (`object_settings`).
            HYPERMODEL_SETTINGS: self._hypermodel_settings,
            # Its other values, private ones too (`tunekit.hypermodel_state`).
            HYPERMODEL_STATE: self._hypermodel_state,
            # What it builds (`tunekit.model_description`): attributes miss some arguments.
            DEFAULT_MODEL: self._default_model_record(),
            CALLBACKS: self._callbacks_description,
            "data": self.data.fingerprint(),
            "objective": self.objective.name,
            "direction": self.objective.direction,
            # Only for KerasTuner's sum of objectives, so earlier runs still resume; sorted,
            # as the sum is the same in any order.
            **({"objectives": sorted(parts)} if (parts := objective_parts(self.objective)) else {}),
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
            # Only when set, so runs recorded before class weights existed still resume.
            # A dict as JSON keeps it (string ids), so a resume compares equal.
            **({"class_weight": _json_keys(self.class_weight)} if self.class_weight else {}),
            # Only when on: runs started before cv existed resume.
            **({"cv": self.cv} if self.cv > 1 else {}),
            # KerasTuner's space settings, only when given (earlier runs resume).
            **(
                {}
                if self.hyperparameters is None
                # as JSON reads it back (lists, not tuples), so a resume compares equal
                else {"hyperparameters": json.loads(json.dumps(self.hyperparameters.get_config()))}
            ),
            **({} if self.tune_new_entries else {"tune_new_entries": False}),
            **({} if self.allow_new_entries else {"allow_new_entries": False}),
            # Added later: absent means the default, so runs from before them still resume.
            **{
                name: value
                for name, value in (
                    ("max_model_size", self.max_model_size),
                    ("max_retries_per_trial", self.max_retries_per_trial),
                    ("max_consecutive_failed_trials", self.max_consecutive_failed_trials),
                    ("finalists", self.finalists if self.finalists > 1 else 0),
                    (
                        "finalist_seeds",
                        self.finalist_seeds
                        if self.finalists > 1
                        else OMITTED_SETTINGS["finalist_seeds"],
                    ),
                    ("baseline", self.baseline),
                    ("final_seeds", self.final_seeds),
                )
                if value != OMITTED_SETTINGS[name]
            },
        }

    @property
    def manifest(self) -> RunManifest:
        """The run's manifest, opened (and locked) on first use.

        Every step and read opens it and releases it when done (`close()`);
        opened outside them, it stays locked until `close()`. Reopened when
        another opener in this process (a second object on the same folder)
        took the run since: the folder is read again. A folder that another
        process or object changed since this object last held it drops what
        this object had loaded (`_forget`).
        """
        if self._manifest is not None and not self._manifest.held:
            self._let_go()
        if self._manifest is None:
            reading = self._reading  # `_open_to_read` checked the settings: record nothing
            if not (self.run_dir / MANIFEST).is_file():
                self.check_model()  # a model that cannot fit the data leaves nothing on disk
            manifest = RunManifest.open(  # a read: shared, beside other reads (`run_lock`)
                self.run_dir,
                self.config(),
                overwrite=self.overwrite and not reading,
                data_changes=self._data_changes,
                backend=keras.backend.backend(),
                reading=reading[1] if reading else None,
                refused_as=self._refused_as,
                said=self.said,
            )
            try:
                if self._last_state is not None and _state_text(manifest) != self._last_state:
                    self._forget()
                if reading:
                    upto = self.steps[: [s.name for s in self.steps].index(reading[0]) + 1]
                    missing, _ = outputs_missing(upto, manifest, self.run_dir, mark=False)
                    self._check_saved_state()
                    if missing:
                        raise RunNotFinishedError(
                            f"Missing or unreadable in {self.run_dir}: {', '.join(missing)}. "
                            "Call run() to make them again (the searches are kept)."
                        )
                    self._manifest = manifest
                    return manifest
                self.overwrite = False  # only the first open of this object starts over
                files = getattr(self.data, "files", None)  # an image folder's listing
                if files is not None and not (self.run_dir / DATA_FILES).exists():
                    _io.write_json(self.run_dir / DATA_FILES, files)
                self._check_saved_state()
                manifest.record_steps(self.steps)
                for notice in manifest.notices:
                    self.say(notice)
                if manifest.replacement is not None:
                    to_run = [
                        s.name
                        for s in self.steps
                        if s.name not in SEARCH_STEPS and not manifest.is_done(s.name)
                    ]
                    for name in to_run:  # what this object made of them is replaced too
                        self._products.pop(name, None)
                    self.say(manifest.replacement.message(self.run_dir, to_run))
                missing, redo = outputs_missing(self.steps, manifest, self.run_dir)
                if missing:
                    for name in redo:
                        self._products.pop(name, None)
                    self.say(
                        f"Missing or unreadable in {self.run_dir}: {', '.join(missing)}; "
                        f"running {', '.join(redo)} again."
                    )
            except BaseException:
                manifest.release()
                raise
            self._manifest = manifest
        return self._manifest

    def _data_changes(self) -> str | None:
        """Which of an image folder's files changed since the run started, in words."""
        files = getattr(self.data, "files", None)
        try:
            recorded = _io.read_json(self.run_dir / DATA_FILES, what=DATA_FILES)
        except (OSError, _io.StateFileError):  # none recorded (another kind of data), unreadable
            return None
        if files is None or not isinstance(recorded, list):
            return None
        try:
            return listing_changes(recorded, files)
        except (TypeError, ValueError):  # not a listing
            return None

    def _check_saved_state(self) -> None:
        """Refuses to resume from corrupt state files, naming them; changes nothing."""
        for phase in ("coarse", "fine"):
            check_kerastuner_project(self.run_dir / phase)
        # report.json is not among them: nothing reads it back, a damaged one is made again.
        for name in (NARROWED_SPACE, BEST_HYPERPARAMETERS):
            if (self.run_dir / name).exists():
                read_run_file(self.run_dir, name, what=name)
        if (self.run_dir / "coarse" / "oracle.json").is_file():  # a resume: the same space?
            check_search_space(self.run_dir, self._declared_space())

    def open(self) -> RunManifest:
        """Checks the model against the data, then opens the run folder and lets it go.

        Opening checks, locks and (re)loads the manifest; the lock is released
        before this returns, as at the end of every step. Every step does this
        itself; call it to surface a model whose output does not fit the data
        (see `check_model`) and configuration, lock and corrupt-state errors
        before any training.

        Returns:
            The manifest as read (released: `manifest` opens it again).
        """
        with self._working():
            self.check_model()
            return self.manifest

    def _record_default_model(self, model: Any) -> None:
        """Keeps `describe_model(model)` of the check's default model (built once)."""
        if self._default_model is None:
            self._default_model = (describe_model(model),)

    def _default_model_record(self) -> dict[str, Any] | None:
        """The default configuration's model as `config()` records it (built on first use)."""
        if self._default_model is None:
            with in_use(self.hypermodel):
                self._default_model = (default_model(self.hypermodel, self.hyperparameters),)
        return self._default_model[0]

    def check_model(self) -> None:
        """Checks, before any training, that the hypermodel's model fits the data and saves.

        See `tunekit.steps.check.check_model` (run once per object).

        Raises:
            ModelCheckError: The model is not compiled, its `Input` does not
                take `x_train`'s samples, a one-logit classifier's accuracy
                thresholds at 0.5, its loss does not take the labels' form,
                the hypermodel declares no hyperparameter, or the model built
                with the defaults does not report the objective's metric
                (`tunekit.steps.check.check_objective_reported`).
            OutputShapeError: The output width does not match the classes.
            ModelSaveError: The model cannot be saved as `.keras` and loaded back.
            ModelSizeLimitError: `max_model_size` rejects every configuration
                tried (the default and up to 200 random ones): nothing trains.
            SearchInputError: A build (with the defaults, or one of up to 16
                with other values, `tunekit.steps.space_checks`) declares one
                name more than once under other conditions.
        """
        if not self._model_checked:
            names = objective_names(self.objective)
            self.model_file_note = check_model(
                self.hypermodel,
                self.data,
                self.hyperparameters,
                names,
                self.final_schedule,
                describe=self._record_default_model,
            )
            check_declares_hyperparameters(self.hypermodel, self._declared_space())
            check_user_space(  # the space's structure, in builds with other values too
                self.hypermodel,
                self.hyperparameters,
                tune_new_entries=self.tune_new_entries,
                allow_new_entries=self.allow_new_entries,
            )
            if self.model_file_note:
                _logger.warning(self.model_file_note)
            if self.max_model_size is not None:  # a limit below every model trains nothing
                check_size_limit(
                    self.hypermodel,
                    self.max_model_size,
                    seed=self.seed,
                    sample=first_sample(getattr(self.data, "x_train", None)),
                    hyperparameters=self.hyperparameters,
                    tune_new_entries=self.tune_new_entries,
                )
            check_objective_reported(  # after the more specific refusals above
                self.hypermodel,
                self.data,
                names,
                self.hyperparameters,
                self.callbacks,
                dict(objective_parts(self.objective))
                or {self.objective.name: self.objective.direction},
            )
            self._model_checked = True

    def _declared_space(self) -> kt.HyperParameters:
        """What the hypermodel's build with the defaults declares: built once per object."""
        if self._declared is None:
            self._declared = declared_space(self.hypermodel, self.hyperparameters)
        return self._declared

    def close(self) -> None:
        """Releases the run's lock and stops any workers; a later step reopens it.

        Every step, `run()` and every read call it when they end, so an idle
        object holds nothing; call it yourself after using `manifest` directly.
        """
        self.runner.close()
        if self._has_chief:
            self.runner = LocalRunner()  # a later step starts the workers again if need be
        if self._manifest is not None:
            self._manifest.release()
            self._let_go()

    def _let_go(self) -> None:
        """Forgets the released manifest, remembering its state for the next open."""
        if self._manifest is not None:
            self._last_state = _state_text(self._manifest)
        self._manifest = None

    def _forget(self) -> None:
        """Drops what this object loaded from its run folder: read again when needed.

        For a folder another process or object changed since this object last
        held it (a search resumed, the run started over): the tuners, the
        narrowing and the models would be the old ones.
        """
        self.say(
            f"The run in {self.run_dir} changed since this object last worked on it "
            "(another process or object ran it): reading it again from the folder."
        )
        self._products.clear()
        self.tuners.clear()
        self.steps = coarse_to_fine_steps(
            finalists=self.finalists, final_seeds=self.final_seeds, baseline=self.baseline
        )

    def say(self, text: str) -> None:
        """Logs a progress line (`tunekit.workflow`, INFO) unless `verbose=0`."""
        if self.verbose:
            _log.show_progress()
            _logger.info(text)

    _say = say

    def _tuner(self, phase: str) -> kt.Tuner:
        """The phase's tuner, built (not searched) if need be."""
        step = self._step(phase)
        return step.tuner(self)  # type: ignore[attr-defined]

    def _step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        known = ", ".join(s.name for s in self.steps)
        hint = {
            "finalists": " (finalists=0 or 1 turns it off: pass finalists=3 to run it)",
            "final_seeds": " (final_seeds=1 turns it off: pass final_seeds=3 to run it)",
            "baseline": " (baseline=False turns it off)",
        }.get(name, "")
        raise UsageError(f"this run has no step {name!r}{hint}; its steps are: {known}.")

    @property
    def _tuners(self) -> dict[str, kt.Tuner]:
        return self.tuners


# Each table-backed argument is documented from its row (`tunekit.params.PARAMETERS`).
CoarseToFine.__doc__ = (CoarseToFine.__doc__ or "").replace(
    "        {settings}",
    document(PARAMETERS),
)


def _check_hypermodel_argument(hypermodel: Any) -> None:
    """Raises `InvalidParameterError` (a `ValueError` and `TypeError`) for a `hypermodel=`
    that is not a `keras_tuner.HyperModel` instance or a `build(hp)` function: a HyperModel
    class (not an instance), a Keras model or model class, or anything not callable."""
    name = getattr(hypermodel, "__name__", type(hypermodel).__name__)
    build = (
        "a build function that returns a compiled model, e.g. `def build(hp): model = "
        "...(units=hp.Int('units', 32, 256)); model.compile(...); return model`, passed "
        "as CoarseToFine(build, data, ...)"
    )
    if isinstance(hypermodel, type) and issubclass(hypermodel, kt.HyperModel):
        problem = (
            f"is the class {name}, not an instance of it: pass {name}() (with the arguments "
            f"its __init__ needs), e.g. CoarseToFine({name}(), data, ...)"
        )
    elif isinstance(hypermodel, type) and issubclass(hypermodel, keras.Model):
        problem = (
            f"is the Keras model class {name}, which has no hyperparameters to tune: write "
            f"{build}, building {name} from them"
        )
    elif isinstance(hypermodel, keras.Model):
        problem = (
            f"is a built Keras model ({type(hypermodel).__name__} {hypermodel.name!r}), which "
            f"has no hyperparameters to tune: write {build}"
        )
    elif (what := not_a_build(hypermodel)) is not None:  # a Keras layer, loss, optimizer
        problem = f"is {what}, which Keras calls on tensors, not on hp: {BUILD_REMEDY}"
    elif not (isinstance(hypermodel, kt.HyperModel) or callable(hypermodel)):
        problem = f"is a {type(hypermodel).__name__} ({hypermodel!r}), which is not callable"
    else:
        return
    raise InvalidParameterError(
        "`hypermodel` must be a keras_tuner.HyperModel instance or a build(hp) function; "
        f"it {problem}."
    )


def _callback_list(callbacks: Any) -> list[keras.callbacks.Callback]:
    """`callbacks=` as a list; `None` is no callbacks. Raises `InvalidParameterError`."""
    try:
        listed = [] if callbacks is None else list(callbacks)
    except TypeError:
        listed = None
    if listed is None or not all(isinstance(c, keras.callbacks.Callback) for c in listed):
        raise InvalidParameterError(
            "`callbacks` must be a list of keras.callbacks.Callback objects (or None: none). "
            f"Received: callbacks={callbacks!r}."
        )
    return listed


def _user_space(
    hyperparameters: Any, tune_new_entries: Any, allow_new_entries: Any
) -> kt.HyperParameters | None:
    """`hyperparameters=` checked and copied (the caller's object may change later).

    Raises:
        InvalidParameterError: Not a `keras_tuner.HyperParameters`, a flag not
            a bool, or a flag set to `False` without `hyperparameters`
            (KerasTuner's rule: the search space must then be given).
    """
    for name, flag in (
        ("tune_new_entries", tune_new_entries),
        ("allow_new_entries", allow_new_entries),
    ):
        if not isinstance(flag, bool):
            raise InvalidParameterError(f"`{name}` must be a bool. Received: {name}={flag!r}.")
        if not flag and hyperparameters is None:
            raise InvalidParameterError(
                f"{name}=False needs the search space: pass hyperparameters=, a "
                "keras_tuner.HyperParameters with the entries to tune (as KerasTuner requires)."
            )
    if hyperparameters is None:
        return None
    if not isinstance(hyperparameters, kt.HyperParameters):
        raise InvalidParameterError(
            "`hyperparameters` must be a keras_tuner.HyperParameters (or None: the "
            f"hypermodel's own space). Received: {type(hyperparameters).__name__}."
        )
    return hyperparameters.copy()


def _output_names(data: Any) -> list[str]:
    """The names of the model's outputs: the keys of the targets' dict (none for one array)."""
    y = getattr(data, "y_train", None)
    return (
        [str(k) for k in y] if isinstance(y, Mapping) else list(getattr(data, "output_names", ()))
    )


def _default_name(hypermodel: Any) -> str:
    while isinstance(hypermodel, functools.partial):  # named after its function
        hypermodel = hypermodel.func
    name = getattr(hypermodel, "name", None) or getattr(hypermodel, "__name__", None)
    return str(name or type(hypermodel).__name__).lower()


def _state_text(manifest: RunManifest) -> str:
    """A manifest's state as comparable text (`CoarseToFine._last_state`).

    Without the empty records of steps that never started: asking whether a
    step is done adds one in memory (`RunManifest.step`), not in the file.
    """
    steps = manifest.state.get("steps")
    state = dict(manifest.state)
    if isinstance(steps, dict):
        state["steps"] = {name: record for name, record in steps.items() if record}
    return json.dumps(state, sort_keys=True, default=str)


def _json_keys(value: Any) -> Any:
    """A dict with string keys, as JSON writes it (`class_weight`'s ids); anything else as is."""
    return {str(k): v for k, v in value.items()} if isinstance(value, Mapping) else value
