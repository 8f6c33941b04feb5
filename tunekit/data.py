"""Datasets for tuning: `.npz` files (MNIST or any), image folders and user arrays.

Everything here is plain numpy + Pillow. Keras is imported lazily, and only when
`load_mnist()` has to fall back to `keras.datasets.mnist.load_data()`.

One scaling rule for every file and folder tunekit loads (`load_npz`,
`load_mnist`, `load_image_directory`): **uint8 arrays (8-bit pixels, as in
MNIST and in decoded PNG/JPEG images) are divided by 255 to [0, 1]; arrays of
any other dtype are used as they are** (as float32). `Dataset.from_arrays`
never rescales. Each `Dataset` says what was done in `Dataset.scaling`, which
the run's report repeats.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import numbers
import os
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tunekit.errors import DataError, DataUnavailableError

__all__ = ["SCALED_UINT8", "UNSCALED", "Dataset", "load_image_directory", "load_mnist",
           "load_npz"]

MNIST_ENV_VAR = "TUNEKIT_MNIST_PATH"
_MNIST_KEYS = ("x_train", "y_train", "x_test", "y_test")
_NPZ_OPTIONAL_KEYS = ("x_val", "y_val", "class_names")
SCALED_UINT8 = "uint8 pixels divided by 255 to [0, 1]"
UNSCALED = "values as given (not rescaled)"
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_COLOR_MODES = {"rgb": ("RGB", 3), "grayscale": ("L", 1)}
_DISPLAY_NAMES = {"mnist": "MNIST"}
_SPLITS = ("train", "val", "test")


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """Train / validation / test arrays plus the metadata a hypermodel needs.

    Arrays are stored as read-only views: `x_*` float32, `y_*` int64 class ids.
    Construction validates everything (lengths, label range, finiteness, shapes).

    Args:
        x_train, y_train, x_val, y_val, x_test, y_test: The three splits.
        class_names: One name per class, index = label.
        input_shape: Shape of one sample, e.g. `(28, 28)`.
        num_classes: Number of classes (>= 2).
        name: Short dataset name used in summaries, e.g. `"mnist"`.
        scaling: How the loader scaled `x` (`SCALED_UINT8` or `UNSCALED`, see the
            module docstring), written into the run's report. Defaults to
            `UNSCALED`.

    Example:
    >>> ds = load_mnist("/data/mnist.npz").subset(num_train=1000)
    >>> ds.summary()
    'MNIST: 1000 train / 10000 validation / 10000 test, input (28, 28), 10 classes'
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    input_shape: tuple[int, ...]
    num_classes: int
    name: str = "arrays"
    scaling: str = UNSCALED
    _fingerprint: str | None = dataclasses.field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        num_classes = int(self.num_classes)
        if num_classes < 2:
            raise DataError(f"Need at least 2 classes, got num_classes={num_classes}; "
                             "classification needs two or more distinct labels.")
        class_names = [str(c) for c in self.class_names]
        if len(class_names) != num_classes:
            raise DataError(f"Got {len(class_names)} class_names for num_classes={num_classes}; "
                             "pass one name per class (or class_names=None for '0', '1', ...).")
        input_shape = tuple(int(d) for d in self.input_shape)
        values: dict[str, Any] = dict(
            class_names=class_names, input_shape=input_shape, num_classes=num_classes)
        for split in _SPLITS:
            x = _as_float32(getattr(self, f"x_{split}"), f"x_{split}")
            y = _as_labels(getattr(self, f"y_{split}"), f"y_{split}")
            _check_lengths(x, y, f"x_{split}", f"y_{split}")
            if x.shape[1:] != input_shape:
                raise DataError(f"x_{split} samples have shape {x.shape[1:]}, expected "
                                 f"input_shape {input_shape}; all splits must share it.")
            _check_finite(x, f"x_{split}")
            _check_label_range(y, num_classes, f"y_{split}")
            values[f"x_{split}"], values[f"y_{split}"] = _readonly(x), _readonly(y)
        if len(values["x_train"]) == 0:
            raise DataError("The training split is empty; a Dataset needs training samples.")
        for key, value in values.items():
            object.__setattr__(self, key, value)

    @classmethod
    def from_arrays(
        cls,
        x: Any,
        y: Any,
        *,
        x_test: Any = None,
        y_test: Any = None,
        validation_fraction: float = 0.15,
        test_fraction: float = 0.15,
        num_classes: int | None = None,
        class_names: Sequence[str] | None = None,
        seed: int = 0,
    ) -> Dataset:
        """Builds a Dataset from your own numpy arrays, splitting what is not given.

        Splits are stratified per class as in `load_image_directory`; `x` keeps its
        layout and values, converted to float32 (never rescaled: `scaling` is
        `UNSCALED`).

        Args:
            x: Samples, shape `(n, ...)`. y: Integer class ids, shape `(n,)`.
            x_test, y_test: Optional test set; if given, `test_fraction` is ignored.
            validation_fraction, test_fraction: Per-class fractions, each in [0, 1).
            num_classes: Number of classes; `max(label) + 1` if None.
            class_names: One name per class; defaults to `"0"`, `"1"`, ...
            seed: Seed of the deterministic split.

        Returns:
            A `Dataset` named `"arrays"`.

        Raises:
            DataError (a `ValueError`): On bad lengths, labels, values or fractions, or a class too
                small to appear in every split.

        Example:
        >>> ds = Dataset.from_arrays(np.random.rand(100, 8), np.arange(100) % 2)
        """
        if (x_test is None) != (y_test is None):
            raise DataError("Got only one of x_test / y_test; pass both, or neither to split "
                             "a test set from x.")
        if x_test is not None:
            test_fraction = 0.0
        _check_fractions(validation_fraction, test_fraction)
        x, y = _as_float32(x, "x"), _as_labels(y, "y")
        _check_lengths(x, y, "x", "y")
        _check_finite(x, "x")
        labels = [y]
        if x_test is not None:
            x_test, y_test = _as_float32(x_test, "x_test"), _as_labels(y_test, "y_test")
            _check_lengths(x_test, y_test, "x_test", "y_test")
            _check_finite(x_test, "x_test")
            labels.append(y_test)
        all_labels = np.concatenate(labels)
        if num_classes is None:
            num_classes = int(all_labels.max()) + 1 if all_labels.size else 0
        _check_label_range(all_labels, int(num_classes), "labels (y / y_test)")
        names = [str(i) for i in range(num_classes)] if class_names is None else class_names
        idx = _stratified_split(y, validation_fraction, test_fraction, seed, names)
        if x_test is None:
            x_test, y_test = x[idx["test"]], y[idx["test"]]
        return cls(
            x[idx["train"]], y[idx["train"]], x[idx["val"]], y[idx["val"]], x_test, y_test,
            class_names=list(names), input_shape=x.shape[1:], num_classes=int(num_classes),
        )

    def __repr__(self) -> str:
        return f"<Dataset {self.summary()}>"

    def classes_missing_from_training(self) -> list[str]:
        """Names of the classes found in `y_val` or `y_test` but never in `y_train`."""
        seen = set(np.unique(self.y_train).tolist())
        other = np.unique(np.concatenate([self.y_val, self.y_test])).tolist()
        return [self.class_names[c] for c in other if c not in seen]

    @property
    def x_train_full(self) -> np.ndarray:
        """Training plus validation samples (to retrain the final model)."""
        return np.concatenate([self.x_train, self.x_val])

    @property
    def y_train_full(self) -> np.ndarray:
        """Training plus validation labels, aligned with `x_train_full`."""
        return np.concatenate([self.y_train, self.y_val])

    def train_and_validation(self) -> tuple[np.ndarray, np.ndarray]:
        """Returns `(x, y)` of train and validation concatenated, train first."""
        return self.x_train_full, self.y_train_full

    def fingerprint(self) -> str:
        """Returns a short, cached sha256 hex digest of all arrays and class names.

        Hashes shapes, dtypes and the full bytes of every array (about 0.15 s for
        MNIST). The `name` is not part of it.
        """
        if self._fingerprint is None:
            digest = hashlib.sha256()
            for split in _SPLITS:
                for key in (f"x_{split}", f"y_{split}"):
                    arr = getattr(self, key)
                    digest.update(f"{key}:{arr.dtype.str}:{arr.shape};".encode())
                    digest.update(np.ascontiguousarray(arr).reshape(-1).view(np.uint8).data)
            digest.update("\x1f".join(self.class_names).encode())
            object.__setattr__(self, "_fingerprint", digest.hexdigest()[:16])
        return self._fingerprint  # type: ignore[return-value]

    def summary(self) -> str:
        """Returns a one-line description, e.g. `"MNIST: 50000 train / ... 10 classes"`."""
        return (
            f"{_DISPLAY_NAMES.get(self.name, self.name)}: {len(self.x_train)} train / "
            f"{len(self.x_val)} validation / {len(self.x_test)} test, "
            f"input {self.input_shape}, {self.num_classes} classes"
        )

    def subset(
        self, num_train: int | None = None, num_val: int | None = None, num_test: int | None = None
    ) -> Dataset:
        """Returns a new Dataset with the first N samples of each split (None keeps all).

        Raises:
            DataError (a `ValueError`): If a count is negative, or `num_train` is 0.
        """
        counts = {"train": num_train, "val": num_val, "test": num_test}
        for split, n in counts.items():
            if n is not None and (not _is_int(n) or n < 0):
                raise DataError(f"num_{split} must be a non-negative int or None, got {n!r}.")
        arrays = {f"{xy}_{split}": getattr(self, f"{xy}_{split}")[:n]
                  for split, n in counts.items() for xy in "xy"}
        return dataclasses.replace(self, **arrays)


def load_npz(
    path: str | os.PathLike[str],
    *,
    validation_size: int | None = None,
    seed: int = 0,
    name: str | None = None,
) -> Dataset:
    """Loads any Keras-layout `.npz` of labelled arrays; classes come from the labels.

    The file holds `x_train, y_train, x_test, y_test` (as `numpy.savez` writes
    them, e.g. a `keras.datasets` download), optionally `x_val, y_val` and
    `class_names` (strings). Without `x_val, y_val`, a seeded random subset
    of the training set becomes the validation set.

    The number of classes is `max(label) + 1` over all splits, and every class
    id `0..max` must occur somewhere (gaps, e.g. labels 1..k, are refused with
    the fix). `x` follows the module's scaling rule: uint8 is divided by 255,
    any other dtype is used as it is.

    Args:
        path: The `.npz` file. Read with `allow_pickle=False`: nothing is unpickled.
        validation_size: Training samples moved to validation when the file
            has no `x_val`; `1 <= v < len(y_train)`. Defaults to
            `min(10_000, len(y_train) // 6)` (MNIST's usual 10,000).
        seed: Seed of that split's `numpy.random.Generator` permutation.
        name: The dataset's name in summaries. Defaults to the file's stem.

    Returns:
        A `Dataset`.

    Raises:
        DataError (a `ValueError`): If the file is missing, not a valid `.npz` (unreadable,
            truncated, another format, missing keys, non-numeric or object
            arrays), or its labels or shapes are unusable; the message names the file.

    Example:
    >>> ds = load_npz("data/three_shapes.npz")
    >>> ds.num_classes, ds.name
    (3, 'three_shapes')
    """
    arrays = _read_npz(path, _MNIST_KEYS, _NPZ_OPTIONAL_KEYS)
    names = arrays.pop("class_names", None)
    labels = [k for k in ("y_train", "y_val", "y_test") if k in arrays]
    with _naming_file(path):
        present = np.unique(np.concatenate([_as_labels(arrays[k], k) for k in labels]))
        num_classes = int(present.max()) + 1 if present.size else 0
        missing = sorted(set(range(num_classes)) - set(present.tolist()))
        if present.size and present.min() >= 0 and missing:
            shown = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
            raise DataError(
                f"class id(s) {shown} never occur in its labels, which go up to {num_classes - 1}."
                f" The number of classes is max(label) + 1 = {num_classes}, so every id 0.."
                f"{num_classes - 1} must occur. Relabel to consecutive ids over all splits, e.g. "
                "`np.unique(np.concatenate([y_train, y_test]), return_inverse=True)`.")
        class_names = None if names is None else [str(n) for n in np.asarray(names).ravel()]
        return _npz_dataset(arrays, validation_size, seed, class_names=class_names,
                            num_classes=num_classes, name=name or Path(path).stem)


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
        raise DataError(f"MNIST file not found: {str(path)!r} (from {origin}). Expected a Keras-"
                         f"layout .npz; pass load_mnist(path=...) or set {MNIST_ENV_VAR} to it.")
    else:
        arrays = _read_npz(path, _MNIST_KEYS)
    with _naming_file(path):
        for key in ("y_train", "y_test"):
            y = _as_labels(arrays[key], key)
            if y.size and (y.min() < 0 or y.max() > 9):
                raise DataError(f"{key} has labels in [{y.min()}, {y.max()}], not MNIST's 0..9. "
                                 "Load other data with load_npz(path), which takes the classes "
                                 "from the labels.")
        return _npz_dataset(arrays, validation_size, seed, class_names=None, num_classes=10,
                            name="mnist")


def _npz_dataset(arrays: dict[str, np.ndarray], validation_size: int | None, seed: int, *,
                 class_names: list[str] | None, num_classes: int, name: str) -> Dataset:
    """Splits off validation (unless given), applies the scaling rule, builds the Dataset."""
    x_train, y_train = arrays["x_train"], _as_labels(arrays["y_train"], "y_train")
    _check_lengths(x_train, y_train, "x_train", "y_train")
    if "x_val" in arrays:
        x_val, y_val = arrays["x_val"], arrays["y_val"]
    else:
        n = len(x_train)
        if validation_size is None:
            if n < 2:
                raise DataError(
                    f"x_train has {n} sample(s): at least 2 are needed, one to train on and "
                    "one to validate on (or give x_val / y_val).")
            validation_size = min(10_000, max(1, n // 6))
        if not _is_int(validation_size) or not 1 <= validation_size < n:
            raise DataError(f"validation_size must be an int with 1 <= validation_size < {n} "
                             f"(the training set size), got {validation_size!r}.")
        order = np.random.default_rng(seed).permutation(n)
        val, train = order[: int(validation_size)], order[int(validation_size):]
        x_train, y_train, x_val, y_val = x_train[train], y_train[train], x_train[val], y_train[val]
    dtypes = {k: str(arrays[k].dtype) for k in arrays if k.startswith("x_")}
    if len({d == "uint8" for d in dtypes.values()}) > 1:
        raise DataError(f"its x arrays mix uint8 and other dtypes ({dtypes}): uint8 is divided "
                         "by 255 and other dtypes are not, so the splits would differ in scale. "
                         "Save every x array with the same dtype.")
    scaling = SCALED_UINT8 if x_train.dtype == np.uint8 else UNSCALED
    if class_names is None:
        class_names = [str(i) for i in range(num_classes)]
    return Dataset(_scale_pixels(x_train), y_train, _scale_pixels(x_val), y_val,
                   _scale_pixels(arrays["x_test"]), arrays["y_test"], class_names=class_names,
                   input_shape=x_train.shape[1:], num_classes=num_classes, name=name,
                   scaling=scaling)


@contextlib.contextmanager
def _naming_file(path: Any) -> Iterator[None]:
    """Prefixes a `ValueError` (e.g. a `DataError`) raised inside with the data file's path."""
    try:
        yield
    except ValueError as exc:
        if path is None or str(path) in str(exc):
            raise
        raise DataError(f"Data file {str(path)!r}: {exc}") from None


def _read_npz(path: str | os.PathLike[str], required: Sequence[str],
              optional: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """Reads the named arrays of an `.npz` (no pickles), or raises a one-line `DataError`."""
    shown = str(path)

    def invalid(reason: str) -> DataError:
        return DataError(f"{shown!r} is not a valid .npz file: {reason}. Expected a NumPy .npz "
                          f"archive (numpy.savez) with numeric arrays {', '.join(required)}.")

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
        raise invalid(f"it holds a single {getattr(loaded, 'shape', '')} array (.npy), not named "
                      "arrays")
    arrays = {}
    with loaded as npz:
        missing = [k for k in required if k not in npz.files]
        if missing:
            raise invalid(f"it is missing key(s) {missing}; found {sorted(npz.files)}")
        for key in [*required, *(k for k in optional if k in npz.files)]:
            try:
                array = npz[key]
            except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
                raise invalid(f"array {key!r} cannot be read ({_first_line(exc)})") from None
            kinds = "U" if key == "class_names" else "biuf"
            if array.dtype.kind not in kinds or array.ndim < 1:
                what = "strings" if key == "class_names" else "numbers"
                raise invalid(f"array {key!r} has dtype {array.dtype} and shape {array.shape}; "
                              f"expected {what} with a leading sample axis")
            arrays[key] = array
    if ("x_val" in arrays) != ("y_val" in arrays):
        raise invalid("it has only one of x_val / y_val; save both, or neither to split "
                      "validation off x_train")
    return arrays


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def load_image_directory(
    root: str | os.PathLike[str],
    image_size: tuple[int, int],
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 0,
    color_mode: str = "rgb",
) -> Dataset:
    """Loads a folder with one subfolder of images per class, split per class.

    `root/<class>/*.png|*.jpg|*.jpeg` (any case). Hidden entries and other files are
    ignored. Each class is shuffled with `seed`; its first `round(n * test_fraction)`
    images (at least 1) go to test, the next to validation, the rest to train.

    Args:
        root: Dataset folder; class names are its sorted subfolder names.
        image_size: `(height, width)` images are resized to (Pillow, bilinear).
        validation_fraction: Fraction of each class for validation, in [0, 1).
        test_fraction: Fraction of each class for testing, in [0, 1).
        seed: Seed of the deterministic split.
        color_mode: `"rgb"` (h, w, 3) or `"grayscale"` (h, w, 1).

    Returns:
        A `Dataset` named after the folder. Images are decoded as uint8 and,
        by the module's scaling rule, divided by 255: float32 in [0, 1]
        (`scaling` is `SCALED_UINT8`), exactly as the same pixels saved as a
        uint8 `.npz`. With the bundled `ToonVisionCNNHyperModel` pass
        `rescale=False` (the command line does).

    Raises:
        DataError (a `ValueError`): On a missing folder, fewer than 2 classes, an empty class, bad
            arguments, an unreadable image or a split that leaves a class empty.

    Example:
    >>> ds = load_image_directory("data/toonvision", image_size=(64, 64))
    """
    if color_mode not in _COLOR_MODES:
        raise DataError(f"Unknown color_mode {color_mode!r}; choose one of {list(_COLOR_MODES)}.")
    if (
        not isinstance(image_size, (tuple, list)) or len(image_size) != 2
        or not all(_is_int(s) and s > 0 for s in image_size)
    ):
        raise DataError(f"image_size must be two positive ints (height, width), got "
                         f"{image_size!r}; e.g. image_size=(64, 64).")
    _check_fractions(validation_fraction, test_fraction)
    folder = Path(root)
    if not folder.is_dir():
        raise DataError(f"Image folder not found: {str(folder)!r}. Expected a directory with "
                         "one subfolder of images per class.")
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise DataError(f"Need at least 2 class subfolders in {str(folder)!r}, found "
                         f"{len(classes)}: {classes}. Put each class in its own subfolder.")
    files, labels = [], []
    for label, name in enumerate(classes):
        found = sorted(
            p for p in (folder / name).iterdir()
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in _IMAGE_SUFFIXES
        )
        if not found:
            raise DataError(f"Class folder {name!r} in {str(folder)!r} has no images "
                             f"({'/'.join(_IMAGE_SUFFIXES)}); add images or remove the folder.")
        files += found
        labels += [label] * len(found)
    y = np.asarray(labels, dtype=np.int64)
    mode, channels = _COLOR_MODES[color_mode]
    height, width = int(image_size[0]), int(image_size[1])
    x = np.empty((len(files), height, width, channels), dtype=np.float32)
    for i, file in enumerate(files):
        pixels = _read_image(file, mode, (height, width)).reshape(height, width, channels)
        x[i] = _scale_pixels(pixels)
    idx = _stratified_split(y, validation_fraction, test_fraction, seed, classes)
    return Dataset(*(a[idx[s]] for s in _SPLITS for a in (x, y)), class_names=classes,
                   input_shape=x.shape[1:], num_classes=len(classes), name=folder.resolve().name,
                   scaling=SCALED_UINT8)


def _download_mnist() -> dict[str, np.ndarray]:
    """Fetches MNIST through `keras.datasets.mnist.load_data()` (lazy keras import)."""
    try:
        import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as exc:  # noqa: BLE001 - any failure gets the same advice
        raise DataUnavailableError(
            f"Could not download MNIST with keras.datasets.mnist.load_data() ({exc!r}). Pass "
            f"load_mnist(path='/path/to/mnist.npz') or set {MNIST_ENV_VAR} to a local "
            "Keras-layout mnist.npz.") from exc
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def _read_image(file: Path, mode: str, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as image:
            image = image.convert(mode).resize((size[1], size[0]), Image.BILINEAR)
            return np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as exc:
        raise DataError(f"Could not read image {str(file)!r}: {exc}. Fix or remove it.") from exc


def _stratified_split(
    y: np.ndarray, val_fraction: float, test_fraction: float, seed: int, names: Sequence[str]
) -> dict[str, np.ndarray]:
    """Per class: shuffle, take test then validation counts; returns shuffled indices."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {split: [] for split in _SPLITS}
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        n = len(members)
        n_test = max(1, round(n * test_fraction)) if test_fraction > 0 else 0
        n_val = max(1, round(n * val_fraction)) if val_fraction > 0 else 0
        while n - n_test - n_val < 1 and max(n_test, n_val) > 1:
            if n_test >= n_val:
                n_test -= 1
            else:
                n_val -= 1
        n_train = n - n_test - n_val
        if n_train < 1:
            name = names[label] if label < len(names) else str(label)
            raise DataError(f"Class {name!r} has {n} sample(s): split {max(n_train, 0)} train / "
                             f"{n_val} validation / {n_test} test leaves a split without it. "
                             "Add samples (>= 3 per class when both fractions are > 0) or set "
                             "a fraction to 0.")
        parts["test"].append(members[:n_test])
        parts["val"].append(members[n_test:n_test + n_val])
        parts["train"].append(members[n_test + n_val:])
    return {
        split: rng.permutation(np.concatenate(chunks)) if chunks else np.empty(0, np.int64)
        for split, chunks in parts.items()
    }


def _check_fractions(val_fraction: float, test_fraction: float) -> None:
    for name, value in (("validation_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not isinstance(value, numbers.Real) or isinstance(value, bool) or not 0 <= value < 1:
            raise DataError(f"{name} must be a number in [0, 1), got {value!r}.")
    if val_fraction + test_fraction >= 1:
        raise DataError(f"validation_fraction + test_fraction must be < 1 to leave training data, "
                         f"got {val_fraction} + {test_fraction} = {val_fraction + test_fraction}.")


def _scale_pixels(x: Any) -> np.ndarray:
    """The scaling rule: uint8 -> float32 / 255 in [0, 1]; any other dtype -> float32 as is."""
    x = np.asarray(x)
    if x.dtype == np.uint8:
        return np.divide(x, np.float32(255), dtype=np.float32)
    return _as_float32(x, "x")


def _as_float32(x: Any, name: str) -> np.ndarray:
    try:
        x = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} must be numeric (convertible to float32): {exc}.") from exc
    if x.ndim < 1:
        raise DataError(f"{name} must have a leading sample axis, got a scalar.")
    return x


def _as_labels(y: Any, name: str) -> np.ndarray:
    """Validates class-id labels and returns them as 1-D int64.

    A column of ids, shape `(n, 1)` (Keras's CIFAR layout), is taken as `(n,)`.
    """
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"{name} must be 1-D integer class ids, got shape {y.shape}; for one-hot "
                         "labels pass np.argmax(y, axis=1).")
    if y.dtype.kind in "iub":
        return y.astype(np.int64)
    if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
        return y.astype(np.int64)
    example = next((v for v in y.tolist() if not (isinstance(v, float) and v.is_integer())), None)
    raise DataError(f"{name} must hold integer class ids, got dtype {y.dtype} (e.g. {example!r}). "
                     "tunekit tunes classifiers only for now (regression targets are not yet "
                     "supported): map labels to 0..num_classes-1 integers first.")


def _check_lengths(x: np.ndarray, y: np.ndarray, x_name: str, y_name: str) -> None:
    if len(x) != len(y):
        raise DataError(f"{x_name} has {len(x)} samples but {y_name} has {len(y)} labels; "
                         "they must have the same length.")


def _check_finite(x: np.ndarray, name: str) -> None:
    # Fast path: a finite float64 sum implies every value is finite.
    if x.size and not np.isfinite(x.sum(dtype=np.float64)) and not np.isfinite(x).all():
        bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
        raise DataError(f"{name} contains {bad} non-finite value(s) (NaN or inf); clean them.")


def _check_label_range(y: np.ndarray, num_classes: int, name: str) -> None:
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        fix = ("class ids must be >= 0: relabel to 0..num_classes-1" if y.min() < 0 else
               "relabel to 0..num_classes-1 or pass a larger num_classes")
        raise DataError(f"{name} has labels in [{y.min()}, {y.max()}], expected "
                         f"[0, {num_classes}); {fix}.")


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _readonly(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view
