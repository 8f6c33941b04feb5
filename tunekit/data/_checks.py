"""Validation and conversion helpers shared by the dataset and its loaders (numpy only)."""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from tunekit import _log
from tunekit.data._float32 import (
    FLOAT32_EXACT_INTEGERS,
    refuse_collapsed,
    refuse_merged_whole,
    refuse_moved,
    wide,
)
from tunekit.data._notes import warn_data
from tunekit.data._real import refuse_complex
from tunekit.errors import DataError, TunekitError, said_as

SCALED_UINT8 = "uint8 pixels divided by 255 to [0, 1]"
UNSCALED = "values as given (not rescaled)"
_SPLITS = ("train", "val", "test")
CLASSIFICATION = "classification"
REGRESSION = "regression"
TASKS = (CLASSIFICATION, REGRESSION)
# How classification labels reach the model (Keras's `label_mode` terms, as in
# `keras.utils.image_dataset_from_directory`): class ids, or one-hot rows.
INT_LABELS = "int"
CATEGORICAL_LABELS = "categorical"
LABEL_MODES = (INT_LABELS, CATEGORICAL_LABELS)
TASKS_HINT = (
    "tunekit has two tasks: classification takes integer class ids (map labels to "
    "0..num_classes-1 first), regression takes real-valued targets (pass "
    'task="regression").'
)


@contextlib.contextmanager
def _naming_file(path: Any) -> Iterator[None]:
    """Prefixes a `ValueError` (e.g. a `DataError`) raised inside with the data file's path."""
    try:
        yield
    except ValueError as exc:
        if path is None or str(path) in str(exc):
            raise
        said = exc if isinstance(exc, TunekitError) else TunekitError()  # its command line's
        raise said_as(
            DataError(f"Data file {str(path)!r}: {exc}"), said.changes, dict(said.cli_words)
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _check_fractions(val_fraction: float, test_fraction: float) -> None:
    for name, value in (("validation_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not isinstance(value, numbers.Real) or isinstance(value, bool) or not 0 <= value < 1:
            raise DataError(f"{name} must be a number in [0, 1), got {value!r}.")
    if val_fraction + test_fraction >= 1:
        raise DataError(
            f"validation_fraction + test_fraction must be < 1 to leave training data, "
            f"got {val_fraction} + {test_fraction} = {val_fraction + test_fraction}."
        )


def npz_scaling(x_train: np.ndarray, source: Any) -> str:
    """The scaling a file's `x_train` gets (`SCALED_UINT8` for uint8, else `UNSCALED`),
    warning (a `DataWarning`) when uint8 values all lie below 32: pixels use the range
    up to 255, and values such as 0..5 (counts, codes, a 0/1 mask) divided by 255 end in
    [0, 0.02], where a model without its own normalisation barely learns."""
    if x_train.dtype != np.uint8:
        return UNSCALED
    if x_train.size and int(x_train.max()) < 32:
        warn_data(
            f"{source}: x_train is uint8 with values only in [{int(x_train.min())}, "
            f"{int(x_train.max())}], yet tunekit divides uint8 by 255 as 0-255 pixels, "
            f"so they become [0, {int(x_train.max()) / 255:.3g}]. If they are not pixels "
            "(counts, codes, a 0/1 mask), save the x arrays as float32 (np.savez(..., "
            "x_train=x_train.astype('float32'), ...)) to keep their values."
        )
    return SCALED_UINT8


def _scale_pixels(x: Any) -> np.ndarray:
    """The scaling rule: uint8 -> float32 / 255 in [0, 1]; any other dtype as is (float32,
    or integers float32 cannot hold exactly as given: `_as_features`)."""
    x = np.asarray(x)
    if x.dtype == np.uint8:
        return np.divide(x, np.float32(255), dtype=np.float32)
    return _as_features(x, "x")


def _as_features(x: Any, name: str) -> np.ndarray:
    """`x` as float32 (what Keras trains in), except whole numbers float32 cannot hold
    exactly (beyond `FLOAT32_EXACT_INTEGERS`: IDs for an `IntegerLookup` or an
    `Embedding`), kept as given: integers (a DataFrame of integer columns: its int64
    array), and whole float64 numbers up to 2**53. Keras casts an integer array to the
    `Input`'s dtype (exactly, for an integer `Input`), and a float64 array to float32
    before any `Input`: the check before training refuses either where it would merge them
    (`tunekit.steps.input_checks.check_input_precision`), so the data the model is
    scored on is what the user's own arrays give it."""
    x = _missing_as_nan(x)
    kind = getattr(x, "dtype", None)
    columns = getattr(x, "dtypes", None)  # a DataFrame's
    if kind is None and columns is not None and len(columns):
        if all(getattr(c, "kind", None) in ("i", "u") for c in columns):
            x = np.asarray(x)
            kind = x.dtype
    if kind is not None and np.dtype(kind).kind in "iuf" and np.dtype(kind).itemsize > 4:
        array = np.asarray(x)
        if array.ndim >= 1 and array.size and np.isfinite(array).all():
            largest = max(float(array.max()), -float(array.min()))
            if FLOAT32_EXACT_INTEGERS < largest < 2**63 and array.dtype.kind in "iu":
                return array
            if FLOAT32_EXACT_INTEGERS < largest <= 2**53 and np.all(array == np.round(array)):
                return array
    elif kind is not None and np.dtype(kind).kind in "iu":  # int32 and smaller
        array = np.asarray(x)
        if array.ndim >= 1 and array.size:
            if max(int(array.max()), -int(array.min())) > FLOAT32_EXACT_INTEGERS:
                return array
    return _as_float32(x, name)


def _flat(values: list[Any] | tuple[Any, ...]) -> Any:
    """The items of nested lists and tuples, in order."""
    for value in values:
        if isinstance(value, (list, tuple)):
            yield from _flat(value)
        else:
            yield value


def _missing_as_nan(x: Any) -> Any:
    """A pandas object holding `pd.NA` (nullable `Float64`, `Int64` columns) as a float64
    array with NaN there, so that the finite check names the row (NumPy cannot convert
    `pd.NA` to a number: "not 'NAType'"); a nullable numeric Series without gaps as its
    NumPy array (`np.dtype` cannot read `Float64Dtype()`); anything else as given."""
    if not (hasattr(x, "isna") and hasattr(x, "to_numpy")):
        return x
    kind = getattr(x, "dtype", None)  # a nullable Float64/Int64 Series: NumPy cannot read it
    plain = getattr(kind, "numpy_dtype", None) if not isinstance(kind, np.dtype) else None
    if not np.asarray(x.isna()).any():
        if hasattr(x, "dtypes") and kind is None:  # a DataFrame: its nullable columns' own
            kinds = {c: getattr(d, "numpy_dtype", None) for c, d in x.dtypes.items()}
            plains = {c: d for c, d in kinds.items() if d is not None and d.kind in "iufb"}
            return x.astype(plains) if plains else x  # (checked by column as NumPy's)
        return x if plain is None or plain.kind not in "iufb" else x.to_numpy(dtype=plain)
    try:
        return x.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):  # text next to the missing values: said as text
        return x


def _as_float32(x: Any, name: str) -> np.ndarray:
    x = _missing_as_nan(x)
    kind = getattr(x, "dtype", None)
    text = kind is not None and np.dtype(kind).kind in "US"  # as the .npz loader refuses it
    if kind is not None and np.dtype(kind).kind == "O":
        text = any(isinstance(value, (str, bytes)) for value in np.asarray(x).ravel())
    if kind is None and isinstance(x, (list, tuple)):  # a list of strings: text too
        text = any(isinstance(value, (str, bytes)) for value in _flat(x))
    if text:
        raise DataError(
            f"{name} holds text ("
            + (f"dtype {x.dtype}" if kind is not None else f"a {type(x).__name__} of strings")
            + "), not numbers: tunekit's arrays are "
            "numeric. For a model that reads text (keras.layers.TextVectorization), pass "
            "the text as a tf.data.Dataset of (strings, labels) batches in "
            "tunekit.data.StreamData, with keras.Input(shape=(), dtype='string') (README: "
            "'Your own data', 'tf.data and PyDataset'). If the text is numbers written out, "
            f"convert it yourself ({name}.astype('float32')), so that words are never read "
            "as numbers by accident."
        )
    refuse_complex(x, name)
    try:
        with np.errstate(over="ignore"):  # a finite value beyond float32: said below
            given, x = x, np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        several = isinstance(x, (list, tuple)) and all(np.ndim(part) >= 1 for part in x)
        kinds = getattr(x, "dtypes", None)  # a DataFrame's: its columns that are not numbers
        if kinds is not None:
            named = [
                f"{c!r} ({d})" for c, d in kinds.items() if getattr(d, "kind", "O") not in "biuf"
            ]
            if named:
                raise DataError(
                    f"{name} must be numeric (convertible to float32), and its columns "
                    f"{', '.join(named)} are not. Encode them first: a category or text "
                    "column as one-hot columns (pandas.get_dummies) or as integer codes "
                    "(.cat.codes, pandas.factorize) for an Embedding; a date as a number "
                    "(e.g. days since the first: (d - d.min()).dt.days)."
                ) from exc
        raise DataError(
            f"{name} must be numeric (convertible to float32): {exc}."
            + (
                f" {name} is a {type(x).__name__} of {len(x)} arrays of different shapes: for "
                "a model with several inputs, pass a dict of arrays keyed by the names of its "
                "keras.Input(name=...) (Keras feeds a dict by name)."
                if several
                else ""
            )
        ) from exc
    if x.ndim < 1:
        raise DataError(f"{name} must have a leading sample axis, got a scalar.")
    if kind is not None and np.dtype(kind).kind == "f" and np.dtype(kind).itemsize > 4:
        source = np.asarray(given)
        # A feature whose every value is below float32's smallest normal number (1.2e-38;
        # TensorFlow flushes smaller ones to 0) is lost: all 0. `(n,)`: one feature.
        tiny = np.abs(x) < np.finfo(np.float32).tiny
        columns = source.reshape(len(source), -1) if source.ndim else source.reshape(1, 1)
        lost = np.any(columns != 0, axis=0) & np.all(tiny.reshape(columns.shape), axis=0)
        if np.any(lost):
            where = np.unravel_index(int(np.argmax(lost)), source.shape[1:] or (1,))
            example = columns[:, int(np.argmax(lost))]
            raise DataError(
                f"{name}'s feature {tuple(int(i) for i in where)} holds only values too small "
                f"for float32 (e.g. {float(example[example != 0][0]):.3g}): Keras trains in "
                "float32, where they are all 0, and the feature is lost. Scale it (multiply "
                "by a power of ten, or take a log)."
            )
    numbers = np.asarray(given) if kind is None or wide(kind) else None
    if numbers is not None and wide(numbers.dtype):  # 64-bit numbers (a DataFrame's too)
        labels = getattr(given, "columns", None)
        refuse_merged_whole(numbers, x, name, labels)  # whole numbers (IDs too): first
        refuse_collapsed(numbers, x, name, labels)
        refuse_moved(numbers, x, name, labels)
    if kind is not None and np.dtype(kind).kind == "f" and not np.isfinite(x).all():
        source = np.asarray(given)
        beyond = np.isfinite(source) & ~np.isfinite(x)
        if beyond.any():
            raise DataError(
                f"{name} holds {int(beyond.sum())} finite value(s) beyond float32's range "
                f"(about 3.4e38), e.g. {float(source[beyond][0]):.3g}: Keras trains in "
                "float32, where they become infinite. Scale them (divide by a power of ten, "
                "or take a log)."
            )
    return x


_PANDAS_MISSING = ("NAType", "NaTType")


def check_no_missing_labels(values: Any, name: str) -> None:
    """Refuses a missing label among `values` (a list, or an array of objects): None, NaN,
    or pandas' pd.NA (a `string` column's gap) and NaT, naming the rows. Text labels would
    otherwise become the classes 'None', 'nan' or '<NA>'."""
    if isinstance(values, np.ndarray):
        if values.dtype.kind != "O":
            return
        values = values.ravel().tolist()
    missing = [
        i
        for i, v in enumerate(values)
        if v is None or (isinstance(v, float) and v != v) or type(v).__name__ in _PANDAS_MISSING
    ]
    if missing:  # a gap in otherwise good labels: say where, not what labels must be
        rows = _log.listed(missing, 5)
        raise DataError(
            f"{name} has {len(missing)} missing label(s) (None, NaN or pd.NA) at row(s) {rows}: "
            "drop those samples or fill their labels in; every sample needs a label."
        )


def _as_labels(y: Any, name: str) -> np.ndarray:
    """Validates class-id labels and returns them as 1-D int64.

    A column of ids, shape `(n, 1)` (Keras's CIFAR layout), is taken as `(n,)`.
    """
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(
            f"{name} must be class ids of shape (n,) or one-hot rows of shape (n, k) "
            "(exactly one 1 per row, as keras.utils.to_categorical makes them), got shape "
            f"{y.shape}{' with rows that are not one-hot' if y.ndim == 2 else ''}. Class ids "
            "and one-hot rows are the classification task; real-valued targets of shape "
            '(n, k) are the regression task (pass task="regression").'
        )
    if y.dtype.kind in "iub":
        return y.astype(np.int64)
    if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
        return y.astype(np.int64)
    values = y.tolist()
    check_no_missing_labels(values, name)
    example = next((v for v in values if not (isinstance(v, float) and v.is_integer())), None)
    raise DataError(
        f"{name} must hold integer class ids, got dtype {y.dtype} (e.g. {example!r}). {TASKS_HINT}"
    )


def _check_lengths(x: np.ndarray, y: np.ndarray, x_name: str, y_name: str) -> None:
    if len(x) != len(y):
        raise DataError(
            f"{x_name} has {len(x)} samples but {y_name} has {len(y)} labels; "
            "they must have the same length."
        )


def _check_finite(x: np.ndarray, name: str) -> None:
    # Fast path: a finite float64 sum implies every value is finite.
    if x.size and not np.isfinite(x.sum(dtype=np.float64)) and not np.isfinite(x).all():
        finite = np.isfinite(x)
        bad = int(np.size(x) - np.count_nonzero(finite))
        first = int(np.argwhere(~finite)[0][0])
        raise DataError(
            f"{name} contains {bad} non-finite value(s) (NaN or inf), the first in sample "
            f"{first} (row {first} of {name}); clean them."
        )


def _check_label_range(y: np.ndarray, num_classes: int, name: str) -> None:
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        from tunekit.data._classes import dropped_rows_fix  # noqa: PLC0415 (it imports this)

        fix = (
            "class ids must be >= 0: relabel to 0..num_classes-1"
            if y.min() < 0
            else "relabel to 0..num_classes-1 or pass a larger num_classes"
        )
        raise DataError(
            f"{name} has labels in [{y.min()}, {y.max()}], expected [0, {num_classes}); {fix}."
            + (dropped_rows_fix(name) if y.min() < 0 else "")
        )


# What a user of `Dataset(...)` built directly can do about class ids with a gap.
DATASET_GAP_FIX = (
    "; pass num_classes=K, or class_names with one name per id, if those classes exist but "
    "have no samples here, or task='regression' if the targets are quantities, not classes"
)


def _check_consecutive_ids(labels: np.ndarray, what: str, fix: str) -> None:
    """Refuses class ids with a gap: every id 0..max(labels) must occur in `labels`.

    The number of classes is inferred as `max(label) + 1`, so a missing id (e.g.
    labels 1..K) would give a class no sample has and a model with a dead output.
    `fix` ends the message (what the caller's user can do besides relabelling).
    """
    present = np.unique(labels)
    if not present.size or present.min() < 0:
        return  # empty, or negative ids: refused by `_check_label_range`
    num_classes = int(present.max()) + 1
    missing = sorted(set(range(num_classes)) - set(present.tolist()))
    if missing:
        shown = _log.listed(missing, 10)
        raise DataError(
            f"class id(s) {shown} never occur in {what}, which go up to {num_classes - 1}. "
            f"The number of classes is max(label) + 1 = {num_classes}, so every id 0.."
            f"{num_classes - 1} must occur. Relabel to consecutive ids over all splits, e.g. "
            f"`np.unique(np.concatenate([y_train, y_test]), return_inverse=True)`{fix}."
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _readonly(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


def check_stream_labels(labels: Any, num_classes: int | None) -> dict[str, np.ndarray] | None:
    """A stream's `labels=`: every split's class ids as 1-D int64, or `None`; `DataError`.

    They cannot be checked against the stream's batches without reading it (the
    caller vouches that they are every label, in any order): their keys, shape,
    dtype and range (`0 <= id < num_classes` when it is known) are.
    """
    if labels is None:
        return None
    keys = sorted(labels) if isinstance(labels, Mapping) else type(labels).__name__
    if keys != sorted(_SPLITS):
        raise DataError(
            "StreamData labels= must give every split's class ids: {'train': y_train, "
            f"'val': y_val, 'test': y_test}}; got {keys}."
        )
    checked = {split: _as_labels(labels[split], f"labels[{split!r}]") for split in _SPLITS}
    for split, ids in checked.items():
        if ids.size and num_classes is not None and (ids.min() < 0 or ids.max() >= num_classes):
            raise DataError(
                f"labels[{split!r}] holds class ids from {ids.min()} to {ids.max()}, outside "
                f"0..{num_classes - 1} for num_classes={num_classes}."
            )
    return checked
