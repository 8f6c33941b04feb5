"""Datasets for tuning: `.npz` files (MNIST or any), image folders, CSV files, user arrays.

Everything here is plain numpy + Pillow (pandas for CSV files). Keras is
imported lazily, and only when `load_mnist()` has to fall back to
`keras.datasets.mnist.load_data()`.

One scaling rule for every array file and image folder tunekit loads (`load_npz`,
`load_mnist`, `load_image_directory`): **uint8 arrays (8-bit pixels, as in
MNIST and in decoded PNG/JPEG images) are divided by 255 to [0, 1]; arrays of
any other dtype are used as they are** (as float32). `Dataset.from_arrays`
and `load_csv` never rescale. Each `Dataset` says what was done in `Dataset.scaling`, which
the run's report repeats.

Two tasks: classification (integer class ids) and regression (real-valued
targets of shape `(n,)` or `(n, k)`); `Dataset.task` says which, inferred from
the targets unless `task=` is given. `x` and `y` may be dicts of arrays for
models with several inputs or outputs.

The package is split along its seams: `tunekit.data.dataset` (the `Dataset`),
`tunekit.data.arrays` (`.npz` files and MNIST), `tunekit.data.images` (image
folders), `tunekit.data.tabular` (CSV files, pandas), `tunekit.data.weights`
(class weights, scikit-learn), `tunekit.data.saving` (`save_npz`: a `Dataset` as the
`.npz` the command line's `--data` reads back as it) and `tunekit.data.streams` (`StreamData`:
tf.data / PyDataset streams and image folders streamed from disk, never
materialised). Everything public is importable from
`tunekit.data`; pandas and scikit-learn are imported only when used.
"""

from __future__ import annotations

from tunekit.data._checks import CLASSIFICATION, REGRESSION, SCALED_UINT8, TASKS, UNSCALED
from tunekit.data.arrays import MNIST_ENV_VAR, load_mnist, load_npz
from tunekit.data.dataset import Dataset
from tunekit.data.images import load_image_directory
from tunekit.data.saving import save_npz
from tunekit.data.streams import StreamData
from tunekit.data.tabular import load_csv
from tunekit.data.weights import CLASS_WEIGHT_MODES, class_weights

__all__ = [
    "CLASSIFICATION",
    "CLASS_WEIGHT_MODES",
    "MNIST_ENV_VAR",
    "REGRESSION",
    "SCALED_UINT8",
    "TASKS",
    "UNSCALED",
    "Dataset",
    "StreamData",
    "class_weights",
    "load_csv",
    "load_image_directory",
    "load_mnist",
    "load_npz",
    "save_npz",
]
