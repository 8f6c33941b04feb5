"""tunekit: coarse-to-fine hyperparameter tuning for Keras, on KerasTuner.

The public API:

- Data: `Dataset`, `load_mnist`, `load_image_directory`.
- Tuners: `make_tuner` (RandomSearch, Hyperband, BayesianOptimization,
  GridSearch with tunekit's trial bookkeeping).
- Narrowing: `narrow_space`, `NarrowedSpace`.
- Workflow: `CoarseToFine`, `Result`.
- Tables: `trials_dataframe`.

The command line lives in `tunekit.coarse_to_fine` (`python -m
tunekit.coarse_to_fine --help`) and is deliberately not imported here.
"""

from tunekit.data import Dataset, load_image_directory, load_mnist
from tunekit.narrowing import NarrowedSpace, narrow_space
from tunekit.results import trials_dataframe
from tunekit.tuners import make_tuner
from tunekit.workflow import CoarseToFine, Result

__version__ = "0.1.0"

__all__ = [
    "CoarseToFine",
    "Dataset",
    "NarrowedSpace",
    "Result",
    "load_image_directory",
    "load_mnist",
    "make_tuner",
    "narrow_space",
    "trials_dataframe",
]
