"""Keras-layout `.npz` files: `load_npz` for any labelled arrays, `load_mnist` for MNIST."""

from __future__ import annotations

import os
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tunekit.data import _targets as tg
from tunekit.data._checks import (
    CATEGORICAL_LABELS,
    CLASSIFICATION,
    INT_LABELS,
    REGRESSION,
    _as_labels,
    _check_finite,
    _check_lengths,
    _first_line,
    _is_int,
    _naming_file,
    _scale_pixels,
    npz_scaling,
)
from tunekit.data._classes import value_classes
from tunekit.data._metadata import NPZ_ONE_OUTPUT, refuse_lists
from tunekit.data._notes import noted
from tunekit.data._npz_names import check_unknown_keys
from tunekit.data._real import refuse_complex
from tunekit.data._split_sizes import made_by, refuse_too_few_to_split
from tunekit.data.dataset import Dataset
from tunekit.errors import DataError, DataUnavailableError

__all__ = ["MNIST_ENV_VAR", "load_mnist", "load_npz"]

MNIST_ENV_VAR = "TUNEKIT_MNIST_PATH"
_MNIST_KEYS = ("x_train", "y_train", "x_test", "y_test")
_NPZ_OPTIONAL_KEYS = ("x_val", "y_val", "class_names")


@noted
def load_npz(
    path: str | os.PathLike[str],
    *,
    validation_size: int | None = None,
    seed: int = 0,
    name: str | None = None,
    task: str | None = None,
) -> Dataset:
    """Loads any Keras-layout `.npz` of labelled arrays (class ids or regression targets).

    The file holds `x_train, y_train, x_test, y_test` (`numpy.savez`'s, e.g. a download),
    optionally `x_val, y_val`, `class_names`; else a random part of `x_train` validates.

    The task is inferred from the `y` arrays of all splits as in
    `Dataset.from_arrays` (integer class ids: classification; real values:
    regression), unless `task=` says it. For classification, the labels of all
    splits are the class ids `0..K-1`; other whole numbers (labels 1..K, 3..8)
    are refused naming both tasks, and with `task="classification"` each value
    is a class named by its value (as in `Dataset.from_arrays` and `load_csv`;
    a `class_names` array then names the distinct values in sorted order);
    regression targets have shape `(n,)` or `(n, k)` and no `class_names`.
    `x` follows the module's scaling rule: uint8 is divided by 255, any other
    dtype is used as it is.

    Args:
        path: The `.npz` file. Read with `allow_pickle=False`: nothing is unpickled.
        validation_size: Training samples moved to validation when the file
            has no `x_val`; `1 <= v < len(y_train)`. Defaults to
            `min(10_000, max(2, len(y_train) // 6))` (MNIST's usual 10,000). Each
            split needs 2 samples, so `x_train` needs 4 rows to split (2 with `x_val`).
        seed: Seed of that split's `numpy.random.Generator` permutation.
        name: The dataset's name in summaries. Defaults to the file's stem.
        task: `"classification"`, `"regression"` or None to infer it. Defaults
            to None.

    Returns:
        A `Dataset`.

    Raises:
        DataError (a `ValueError`): If the file is missing, not a valid `.npz` (unreadable,
            truncated, another format, missing keys, non-numeric or object
            arrays), or its labels or shapes are unusable, or a validation or test
            split has 1 sample (or constant targets); the message names the file.

    Example:
    >>> ds = load_npz("data/three_shapes.npz")
    >>> ds.num_classes, ds.name
    (3, 'three_shapes')
    """
    arrays = _read_npz(path, _MNIST_KEYS, _NPZ_OPTIONAL_KEYS)
    names = arrays.pop("class_names", None)
    labels = [k for k in ("y_train", "y_val", "y_test") if k in arrays]
    task = tg.check_task(task)
    with _naming_file(path):
        refuse_lists(arrays, NPZ_ONE_OUTPUT)  # y_train saved from a list [y1, y2]
        empty = [k for k in arrays if k != "class_names" and np.shape(arrays[k])[:1] == (0,)]
        if empty:
            raise DataError(
                f"{', '.join(empty)} {'has' if len(empty) == 1 else 'have'} no samples: every "
                "split needs some (the test split scores the final model; leave x_val / y_val "
                "out to split a validation set off the training data)."
            )
        text = [k for k in labels if arrays[k].dtype.kind == "U"]
        if text:  # class names as labels (ids: sorted, or the order of class_names)
            if len(text) < len(labels) or task == REGRESSION:
                raise DataError(
                    f"{', '.join(text)} hold text labels but "
                    + (
                        "task='regression' was given"
                        if len(text) == len(labels)
                        else f"{', '.join(k for k in labels if k not in text)} hold numbers"
                    )
                    + ": save every split's labels as text class names, or every split's as "
                    "class ids 0..K-1."
                )
            ids, found = tg.encode_text_labels(
                [arrays[k] for k in labels], names, " / ".join(labels), task == CLASSIFICATION
            )
            arrays.update(zip(labels, ids, strict=True))
            names, task = np.asarray(found), CLASSIFICATION
        hot, width = tg.one_hot_as_ids({k: arrays[k] for k in labels}, task)
        if width is not None:  # one-hot rows: classes, kept as ids; the model gets rows
            arrays.update(hot)
            task = CLASSIFICATION
        given = None if names is None else [str(n) for n in np.asarray(names).ravel()]
        by_value = None
        if not text:  # ids of text labels and of one-hot rows (width) are classes as they are
            by_value = value_classes(
                [arrays[k] for k in labels],
                task,
                class_names=given,
                num_classes=width,
                name=" / ".join(labels),
            )
        if by_value is not None:  # bools, or whole numbers named by their values (3..8)
            arrays.update(zip(labels, by_value[0], strict=True))
            names, task = np.asarray(by_value[1]), CLASSIFICATION
        if task is None:
            together = f"{' + '.join(labels)} (stacked)" if len(labels) > 1 else labels[0]
            stacked = tg.stacked_targets([arrays[k] for k in labels])
            task = tg.infer_task(stacked, together, warn=names is None)
        if task == REGRESSION:
            if names is not None:
                raise DataError(
                    "it has class_names, but its targets are regression targets "
                    '(task="regression"). Pass task="classification" if y holds '
                    "class ids, or save the file without class_names."
                )
            return _npz_dataset(
                arrays,
                validation_size,
                seed,
                class_names=None,
                num_classes=None,
                name=name or Path(path).stem,
                task=task,
            )
        present = np.unique(
            np.concatenate([tg.as_targets(arrays[k], k, CLASSIFICATION) for k in labels])
        )
        # ids 0..K-1 (other whole numbers were taken by value_classes, or refused)
        num_classes = width or (int(present.max()) + 1 if present.size else 0)
        class_names = None if names is None else [str(n) for n in np.asarray(names).ravel()]
        return _npz_dataset(
            arrays,
            validation_size,
            seed,
            class_names=class_names,
            num_classes=num_classes,
            name=name or Path(path).stem,
            label_mode=INT_LABELS if width is None else CATEGORICAL_LABELS,
        )


@noted
def load_mnist(
    path: str | os.PathLike[str] | None = None, validation_size: int = 10_000, seed: int = 0
) -> Dataset:
    """Loads MNIST from a Keras-layout `.npz`, scaled to [0, 1], with a validation split.

    The file is `path`, else `$TUNEKIT_MNIST_PATH`, else Keras downloads it. The
    validation set is a seeded random subset of the training set; the test set is
    returned untouched. Images keep shape (28, 28). For any other `.npz` (other
    classes, other names) use `load_npz`.

    Args:
        path: Path to an `.npz` with `x_train, y_train, x_test, y_test`.
        validation_size: Training images moved to validation, `1 <= v < len(train)`.
        seed: Seed of the `numpy.random.Generator` permutation.

    Returns:
        A `Dataset` named `"mnist"` with class names `"0"`..`"9"`, uint8 pixels
        divided by 255.

    Raises:
        DataError (a `ValueError`): If the file is missing or not a valid `.npz` (see `load_npz`),
            or `validation_size` is invalid.
        DataUnavailableError: If no path is given and the Keras download fails
            (a `RuntimeError`).

    Example:
    >>> ds = load_mnist("/data/mnist.npz", validation_size=5000, seed=1)
    """
    origin = "path=" if path is not None else f"${MNIST_ENV_VAR}"
    path = path if path is not None else os.environ.get(MNIST_ENV_VAR) or None
    if path is None:
        arrays: dict[str, np.ndarray] = _download_mnist()
    elif not Path(path).is_file():
        raise DataError(
            f"MNIST file not found: {str(path)!r} (from {origin}). Expected a Keras-"
            f"layout .npz; pass load_mnist(path=...) or set {MNIST_ENV_VAR} to it."
        )
    else:
        arrays = _read_npz(path, _MNIST_KEYS)
    with _naming_file(path):
        for key in ("y_train", "y_test"):
            y = _as_labels(arrays[key], key)
            if y.size and (y.min() < 0 or y.max() > 9):
                raise DataError(
                    f"{key} has labels in [{y.min()}, {y.max()}], not MNIST's 0..9. "
                    "Load other data with load_npz(path), which takes the classes "
                    "from the labels."
                )
        return _npz_dataset(
            arrays, validation_size, seed, class_names=None, num_classes=10, name="mnist"
        )


def _npz_dataset(
    arrays: dict[str, np.ndarray],
    validation_size: int | None,
    seed: int,
    *,
    class_names: list[str] | None,
    num_classes: int | None,
    name: str,
    task: str = CLASSIFICATION,
    label_mode: str = INT_LABELS,
) -> Dataset:
    """Splits off validation (unless given), applies the scaling rule, builds the Dataset."""
    for key in ("x_train", "x_val", "x_test"):  # named as in the file, before any split
        if key in arrays and arrays[key].dtype.kind == "f":
            _check_finite(arrays[key], key)
    x_train, y_train = arrays["x_train"], tg.as_targets(arrays["y_train"], "y_train", task)
    _check_lengths(x_train, y_train, "x_train", "y_train")
    if "x_val" in arrays:
        x_val, y_val = arrays["x_val"], arrays["y_val"]
    else:
        n = len(x_train)
        if validation_size is None:  # 2 at least: a 1-sample validation split is refused
            validation_size = min(10_000, max(2, n // 6)) if n >= 4 else max(1, n // 2)
        if 0 < n < 4 and _is_int(validation_size):
            refuse_too_few_to_split(n, validation_size, arrays["y_test"], task)
        if not _is_int(validation_size) or not 1 <= validation_size < n:
            raise DataError(
                f"validation_size must be an int with 1 <= validation_size < {n} "
                f"(the training set size), got {validation_size!r}."
            )
        order = np.random.default_rng(seed).permutation(n)
        val, train = order[: int(validation_size)], order[int(validation_size) :]
        x_train, y_train, x_val, y_val = x_train[train], y_train[train], x_train[val], y_train[val]
    dtypes = {k: str(arrays[k].dtype) for k in arrays if k.startswith("x_")}
    if len({d == "uint8" for d in dtypes.values()}) > 1:
        raise DataError(
            f"its x arrays mix uint8 and other dtypes ({dtypes}): uint8 is divided "
            "by 255 and other dtypes are not, so the splits would differ in scale. "
            "Save every x array with the same dtype."
        )
    scaling = npz_scaling(arrays["x_train"], f"the .npz {name!r}")  # the file's, unsplit
    if class_names is None and num_classes is not None:
        class_names = [str(i) for i in range(num_classes)]
    split_off = None if "x_val" in arrays else validation_size  # the file's x_val: its own
    with made_by("load_npz", val=split_off):
        return Dataset(
            _scale_pixels(x_train),
            y_train,
            _scale_pixels(x_val),
            y_val,
            _scale_pixels(arrays["x_test"]),
            arrays["y_test"],
            class_names=class_names,
            input_shape=x_train.shape[1:],
            num_classes=num_classes,
            name=name,
            scaling=scaling,
            task=task,
            label_mode=label_mode,
        )


def _read_npz(
    path: str | os.PathLike[str], required: Sequence[str], optional: Sequence[str] = ()
) -> dict[str, np.ndarray]:
    """Reads the named arrays of an `.npz` (no pickles), or raises a one-line `DataError`."""
    shown = str(path)

    def invalid(reason: str) -> DataError:
        return DataError(
            f"{shown!r} is not a valid .npz file: {reason}. Expected a NumPy .npz "
            f"archive (numpy.savez) with numeric arrays {', '.join(required)}."
        )

    file = Path(path)
    if not file.is_file():
        raise DataError(f"Data file not found: {shown!r}; pass a .npz file or an image folder.")
    try:
        loaded = np.load(file, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        with open(file, "rb") as handle:
            head = handle.read(8)
        if not head:
            raise invalid("the file is empty") from None
        if head.startswith(b"PK"):
            raise invalid(f"the zip archive is truncated or damaged ({_first_line(exc)})") from None
        raise invalid(f"its content is not a NumPy archive (it starts with {head!r})") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise invalid(
            f"it holds a single {getattr(loaded, 'shape', '')} array (.npy), not named arrays"
        )
    arrays = {}
    with loaded as npz:
        missing = [k for k in required if k not in npz.files]
        if missing:
            raise invalid(f"it is missing key(s) {missing}; found {sorted(npz.files)}")
        check_unknown_keys(shown, sorted(npz.files), [*required, *optional])
        for key in [*required, *(k for k in optional if k in npz.files)]:
            try:
                array = npz[key]
            except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
                if "allow_pickle" in str(exc):  # an object array: strings in a list, a column
                    raise DataError(_object_array(shown, key)) from None
                raise invalid(f"array {key!r} cannot be read ({_first_line(exc)})") from None
            kinds = "U" if key == "class_names" else "biufU" if key.startswith("y_") else "biuf"
            if array.dtype.kind == "S" and "U" in kinds:  # byte strings (h5py, NumPy 1's "S")
                try:
                    array = np.char.decode(array, "utf-8")
                except UnicodeDecodeError as exc:
                    raise invalid(
                        f"array {key!r} holds byte strings that are not UTF-8 ({exc.reason}): "
                        "decode them with their encoding and save the text, e.g. "
                        f"{key}=np.char.decode({key}, 'latin-1')"
                    ) from None
            refuse_complex(array, f"array {key!r} of {shown!r}")  # said as from_arrays says it
            if array.dtype.kind not in kinds or array.ndim < 1:
                what = "strings" if key == "class_names" else "numbers"
                what += " (or text class labels)" if key.startswith("y_") else ""
                raise invalid(
                    f"array {key!r} has dtype {array.dtype} and shape {array.shape}; "
                    f"expected {what} with a leading sample axis"
                )
            arrays[key] = array
    if ("x_val" in arrays) != ("y_val" in arrays):
        raise invalid(
            "it has only one of x_val / y_val; save both, or neither to split "
            "validation off x_train"
        )
    return arrays


def _object_array(shown: str, key: str) -> str:
    """The refusal of array `key`, saved as an object array (which only pickle loads)."""
    text = key == "class_names" or key.startswith("y_")
    ids = " (or .astype(int) for class ids)" if key != "class_names" else ""
    fix = (
        f"{key}=np.asarray({key}).astype(str){ids}"
        if text
        else f"{key}=np.asarray({key}, dtype=np.float32)"
    )
    return (
        f"{shown!r}: array {key!r} is an object array (dtype=object, e.g. "
        f"{'the labels of a DataFrame column or a list of names' if text else 'a list of arrays'}"
        "), which only pickle can load, and tunekit does not load pickles (a pickle runs "
        f"code when loaded). Save it as {'text' if text else 'numbers'}, e.g. "
        f"np.savez(path, ..., {fix})"
        + (
            " after dropping or filling the samples whose label is missing (None or NaN "
            "become the text 'None' or 'nan')."
            if text and key != "class_names"
            else "."
        )
    )


def _download_mnist() -> dict[str, np.ndarray]:
    """Fetches MNIST through `keras.datasets.mnist.load_data()` (lazy keras import)."""
    try:
        import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as exc:  # noqa: BLE001 - any failure gets the same advice
        raise DataUnavailableError(
            f"Could not download MNIST with keras.datasets.mnist.load_data() ({exc!r}). Pass "
            f"load_mnist(path='/path/to/mnist.npz') or set {MNIST_ENV_VAR} to a local "
            "Keras-layout mnist.npz."
        ) from exc
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
