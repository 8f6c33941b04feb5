"""tunekit: coarse-to-fine hyperparameter tuning for Keras, on KerasTuner.

The public API:

- Data: `Dataset`, `StreamData`, `load_npz`, `load_csv`, `load_mnist`,
  `load_image_directory`, `class_weights`.
- Classifier outputs: `predict_classes`, `predicted_classes`.
- Tuners: `make_tuner` (RandomSearch, Hyperband, BayesianOptimization,
  GridSearch with tunekit's trial bookkeeping).
- Narrowing: `narrow_space`, `NarrowedSpace`.
- Workflow: `CoarseToFine`, `Result`.
- Tables: `trials_dataframe` (one run's trials); `ls_runs`, `compare_runs`
  (many runs, as `tunekit ls` / `tunekit compare` print them).
- Errors: `TunekitError` and the specific errors under it (see
  `tunekit.errors`), `tunekit.fitting.HyperModelFitError`, `SearchInputError` and
  `tunekit.trial_refusals.TrialRefusedError` among them;
  `Interrupted` (SIGINT / SIGTERM, a `BaseException`).

Progress goes to `logging.getLogger("tunekit")` (a `NullHandler` here;
`CoarseToFine(verbose=1)` prints it, see `tunekit._log`): silence it with
`logging.getLogger("tunekit").setLevel(logging.WARNING)`.

Names are imported on first use, so `python -m tunekit.coarse_to_fine --help`
and a mistyped flag answer before Keras and TensorFlow load. The command line
lives in `tunekit.coarse_to_fine` and is deliberately not imported here.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"  # the only place the version is written (pyproject.toml reads it)

_EXPORTS = {
    "ChiefUnreachableError": "tunekit.errors",
    "CoarseToFine": "tunekit.workflow",
    "DataError": "tunekit.errors",
    "DataUnavailableError": "tunekit.errors",
    "DataWarning": "tunekit.errors",
    "Dataset": "tunekit.data",
    "HyperModelFitError": "tunekit.fitting",
    "SearchInputError": "tunekit.fitting",
    "Interrupted": "tunekit.errors",
    "InvalidParameterError": "tunekit.errors",
    "NarrowedSpace": "tunekit.narrowing",
    "NarrowingConfig": "tunekit.params",
    "NoCompletedTrialsError": "tunekit.errors",
    "OutputShapeError": "tunekit.errors",
    "ModelCheckError": "tunekit.errors",
    "ModelSaveError": "tunekit.errors",
    "ModelSizeLimitError": "tunekit.errors",
    "PortInUseError": "tunekit.errors",
    "Result": "tunekit.workflow",
    "RetrainConfig": "tunekit.params",
    "RetrainDivergedError": "tunekit.errors",
    "PredictionsNotFiniteError": "tunekit.errors",
    "RunConfigError": "tunekit.errors",
    "RunLockedError": "tunekit.errors",
    "RunNotFinishedError": "tunekit.errors",
    "StateFileError": "tunekit.errors",
    "TooFewTrialsError": "tunekit.errors",
    "TrialMachineError": "tunekit.tuners.machine_errors",
    "TrialRefusedError": "tunekit.trial_refusals",
    "TrialsFailedError": "tunekit.errors",
    "TunekitError": "tunekit.errors",
    "UnknownDirectionError": "tunekit.errors",
    "UsageError": "tunekit.errors",
    "WorkerCrashError": "tunekit.errors",
    "WorkerStoppedError": "tunekit.errors",
    "WorkerLostError": "tunekit.errors",
    "WorkerRefusedError": "tunekit.errors",
    "StreamData": "tunekit.data",
    "Selection": "tunekit.workflow",
    "class_weights": "tunekit.data",
    "compare_runs": "tunekit.runs",
    "load_csv": "tunekit.data",
    "load_image_directory": "tunekit.data",
    "load_mnist": "tunekit.data",
    "load_npz": "tunekit.data",
    "ls_runs": "tunekit.runs",
    "make_tuner": "tunekit.tuners",
    "narrow_space": "tunekit.narrowing",
    "predict_classes": "tunekit.outputs",
    "predicted_classes": "tunekit.outputs",
    "trials_dataframe": "tunekit.results",
}

__all__ = [
    "ChiefUnreachableError",
    "CoarseToFine",
    "DataError",
    "DataUnavailableError",
    "DataWarning",
    "Dataset",
    "HyperModelFitError",
    "Interrupted",
    "SearchInputError",
    "InvalidParameterError",
    "NarrowedSpace",
    "NarrowingConfig",
    "NoCompletedTrialsError",
    "OutputShapeError",
    "ModelCheckError",
    "ModelSaveError",
    "ModelSizeLimitError",
    "PortInUseError",
    "Result",
    "RetrainConfig",
    "RetrainDivergedError",
    "PredictionsNotFiniteError",
    "RunConfigError",
    "RunLockedError",
    "RunNotFinishedError",
    "StateFileError",
    "TooFewTrialsError",
    "TrialMachineError",
    "TrialRefusedError",
    "TrialsFailedError",
    "TunekitError",
    "UnknownDirectionError",
    "UsageError",
    "WorkerCrashError",
    "WorkerStoppedError",
    "WorkerLostError",
    "WorkerRefusedError",
    "load_image_directory",
    "load_mnist",
    "load_npz",
    "load_csv",
    "class_weights",
    "compare_runs",
    "ls_runs",
    "StreamData",
    "Selection",
    "make_tuner",
    "narrow_space",
    "predict_classes",
    "predicted_classes",
    "trials_dataframe",
]

# Progress is logged, not printed (see tunekit._log); a library adds only a NullHandler.
logging.getLogger("tunekit").addHandler(logging.NullHandler())

if TYPE_CHECKING:
    from tunekit.data import (
        Dataset,
        StreamData,
        class_weights,
        load_csv,
        load_image_directory,
        load_mnist,
        load_npz,
    )
    from tunekit.errors import (
        ChiefUnreachableError,
        DataError,
        DataUnavailableError,
        DataWarning,
        Interrupted,
        InvalidParameterError,
        ModelSaveError,
        ModelSizeLimitError,
        NoCompletedTrialsError,
        OutputShapeError,
        PortInUseError,
        PredictionsNotFiniteError,
        RetrainDivergedError,
        RunConfigError,
        RunLockedError,
        RunNotFinishedError,
        StateFileError,
        TooFewTrialsError,
        TrialsFailedError,
        TunekitError,
        UsageError,
        WorkerCrashError,
        WorkerLostError,
        WorkerRefusedError,
        WorkerStoppedError,
    )
    from tunekit.fitting import HyperModelFitError, SearchInputError
    from tunekit.narrowing import NarrowedSpace, narrow_space
    from tunekit.outputs import predict_classes, predicted_classes
    from tunekit.params import NarrowingConfig, RetrainConfig
    from tunekit.results import trials_dataframe
    from tunekit.runs import compare_runs, ls_runs
    from tunekit.trial_refusals import TrialRefusedError
    from tunekit.tuners import make_tuner
    from tunekit.tuners.machine_errors import TrialMachineError
    from tunekit.workflow import CoarseToFine, Result, Selection


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tunekit' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
