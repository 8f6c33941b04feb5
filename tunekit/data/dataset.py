"""`Dataset`: train / validation / test arrays plus the metadata a hypermodel needs."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from tunekit.data._checks import (_SPLITS, UNSCALED, _as_float32, _as_labels, _check_finite,
                                  _check_fractions, _check_label_range, _check_lengths, _is_int,
                                  _readonly)
from tunekit.data._splits import _stratified_split
from tunekit.errors import DataError

__all__ = ["Dataset"]

_DISPLAY_NAMES = {"mnist": "MNIST"}


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

