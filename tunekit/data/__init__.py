"""Datasets for tuning: `.npz` files (MNIST or any), image folders and user arrays.

Everything here is plain numpy + Pillow. Keras is imported lazily, and only when
`load_mnist()` has to fall back to `keras.datasets.mnist.load_data()`.

One scaling rule for every file and folder tunekit loads (`load_npz`,
`load_mnist`, `load_image_directory`): **uint8 arrays (8-bit pixels, as in
MNIST and in decoded PNG/JPEG images) are divided by 255 to [0, 1]; arrays of
any other dtype are used as they are** (as float32). `Dataset.from_arrays`
never rescales. Each `Dataset` says what was done in `Dataset.scaling`, which
the run's report repeats.

The package is split along its seams: `tunekit.data.dataset` (the `Dataset`),
`tunekit.data.arrays` (`.npz` files and MNIST) and `tunekit.data.images`
(image folders). Everything public is importable from `tunekit.data`.
"""

from __future__ import annotations

from tunekit.data._checks import SCALED_UINT8, UNSCALED
from tunekit.data.arrays import MNIST_ENV_VAR, load_mnist, load_npz
from tunekit.data.dataset import Dataset
from tunekit.data.images import load_image_directory

__all__ = ["MNIST_ENV_VAR", "SCALED_UINT8", "UNSCALED", "Dataset", "load_image_directory",
           "load_mnist", "load_npz"]
