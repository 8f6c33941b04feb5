"""`save_npz`: a `Dataset` as the `.npz` the command line's `--data` reads back as it.

A Python run's report gives the command line with the same settings, `--data
DATA` standing for the run's data; `save_npz(data, "DATA.npz")` writes that
file: the six split arrays as they are (so `load_npz` splits nothing again)
and the class names, the labels as the model trains on them (one-hot rows
under `label_mode="categorical"`, which `load_npz` takes for one-hot labels).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from tunekit.data._checks import _SPLITS, CLASSIFICATION
from tunekit.errors import DataError

__all__ = ["npz_arrays", "save_npz"]


def npz_arrays(data: Any) -> dict[str, np.ndarray]:
    """The arrays of the `.npz` that `load_npz` reads back as `data`, by key.

    `x_train, y_train, x_val, y_val, x_test, y_test` (`x` float32 as held,
    never divided again: only uint8 is; `y` as `data.model_targets` gives it)
    and, for classification, `class_names` (str).

    Raises:
        DataError: `data` is no `Dataset` of one `x` and one `y` array per split
            (a stream, or dicts of several inputs or outputs): an `.npz` for
            `--data` holds one array of each per split.
    """
    from tunekit.data.dataset import Dataset

    if not isinstance(data, Dataset):
        raise DataError(
            f"`data` is a {type(data).__name__}, not a Dataset of arrays: only arrays can be "
            "saved as an .npz."
        )
    several = [k for k in ("x_train", "y_train") if isinstance(getattr(data, k), Mapping)]
    if several:
        raise DataError(
            f"The data's {' and '.join(k[0] for k in several)} are dicts (several "
            f"{'inputs' if several[0] == 'x_train' else 'outputs'}); an .npz for --data holds "
            "one x and one y array per split."
        )
    arrays: dict[str, np.ndarray] = {}
    for split in _SPLITS:
        arrays[f"x_{split}"] = np.asarray(getattr(data, f"x_{split}"))
        arrays[f"y_{split}"] = np.asarray(data.model_targets(getattr(data, f"y_{split}")))
    if data.task == CLASSIFICATION:
        arrays["class_names"] = np.asarray([str(n) for n in data.class_names or ()], dtype=str)
    return arrays


def save_npz(data: Any, path: str | os.PathLike[str]) -> None:
    """Writes `data` (a `Dataset`) as the `.npz` the command line reads back as it.

    For `--data` in the command a Python run's report gives ("the same
    settings on the command line"): its splits, class names, task and label
    form come back as they are (`load_npz`; the command names the task with
    `--task`). Uncompressed (`numpy.savez`); `path` gets `.npz` appended if it
    lacks it, as `numpy.savez` does.

    Raises:
        DataError: `data` cannot be held by such a file (see `npz_arrays`).
        OSError: The file cannot be written.
    """
    np.savez(path, **npz_arrays(data))  # type: ignore[arg-type]
