"""Complex numbers, and booleans among other numbers, in arrays that must hold real ones.

Probe C: a complex `y` (`[1, 1j, 2]`) was refused as "must hold integer class ids (e.g.
1)", naming a valid id; with `task="regression"`, and a complex `x` always, NumPy's cast
to float dropped the imaginary parts with only its own `ComplexWarning`, exit 0. An object
array of `True`/`False` was classes named `'0'`/`'1'` (a NumPy bool array's are `'False'`/
`'True'`), and one of `True`, `2`, `0` made `True` class 1: one value written two ways.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import numpy as np

from tunekit.errors import DataError

__all__ = ["all_bools", "objects_as_numbers", "refuse_bools_beside_numbers", "refuse_complex"]


def _first_complex(values: Any) -> Any:
    """The first value of `values` (an array of any dtype) with a non-zero imaginary
    part, else its first complex value (`0j` for a complex dtype), else `None`."""
    array = np.asarray(values) if not isinstance(values, np.ndarray) else values
    if array.dtype.kind == "c":
        flat = array.ravel()
        imaginary = np.flatnonzero(flat.imag != 0)
        return flat[imaginary[0]].item() if len(imaginary) else 0j
    if array.dtype.kind == "O":
        found = [v for v in array.ravel().tolist() if isinstance(v, complex | np.complexfloating)]
        return next((v for v in found if v.imag), found[0]) if found else None
    return None


def refuse_complex(values: Any, name: str) -> None:
    """Refuses `values` (an array or a list; a `(n, ...)` of features or targets) that
    hold complex numbers, which a cast to float would keep only the real part of.

    Raises:
        DataError: Naming `name`, a complex value and how to make real features of it.
    """
    if values is None or isinstance(values, str | bytes):
        return
    try:
        found = _first_complex(values)
    except (TypeError, ValueError):  # ragged lists: said by the checks that cast
        return
    if found is None:
        return
    verb = "holds"
    kinds = getattr(values, "dtypes", None)  # a DataFrame's: name its complex columns
    if kinds is not None and not isinstance(kinds, np.dtype):
        columns = [c for c in values.columns if _first_complex(values[c].to_numpy()) is not None]
        name = f"{name}'s column{'s' if len(columns) > 1 else ''} " + ", ".join(map(repr, columns))
        verb = "hold" if len(columns) > 1 else verb
    elif found == 0 and np.asarray(values).dtype.kind == "c":  # real values: nothing lost
        raise DataError(
            f"{name} has a complex dtype ({np.asarray(values).dtype}) though every imaginary "
            "part is 0; tunekit's arrays are real. Pass its real part "
            f"({name + '.real' if name.isidentifier() else 'a.real, for the array a'})."
        )
    raise DataError(
        f"{name} {verb} complex numbers (e.g. {found!r}); tunekit's arrays are real, and a "
        "cast to float would drop the imaginary parts. Pass the parts as real values of "
        "their own, e.g. np.stack([a.real, a.imag], axis=-1) (or np.abs(a) and "
        "np.angle(a)), then load the data again."
    )


def all_bools(flat: Sequence[Any], name: str) -> bool:
    """Whether labels (`flat`: Python values of an object array, all real numbers or
    booleans) are all `True`/`False`, refusing a mix of them with other numbers (`True`
    would be class 1 beside a `1`).

    Raises:
        DataError: Naming both kinds and how to write them one way.
    """
    bools = [v for v in flat if isinstance(v, bool | np.bool_)]
    if not bools or len(bools) == len(flat):
        return bool(bools)
    other = next(v for v in flat if not isinstance(v, bool | np.bool_))
    other = other.item() if isinstance(other, np.generic) else other  # 0, not np.int64(0)
    raise DataError(
        f"{name} mixes True/False (e.g. {bool(bools[0])!r}) with other numbers (e.g. {other!r}): "
        "as numbers True is 1 and False is 0, so one class would be written two ways. "
        "Write every label one way (e.g. y.astype(int), or map the booleans to their own "
        "class ids) and load the data again."
    )


def objects_as_numbers(y: Any, name: str = "y", task: str | None = None) -> Any:
    """`y` as a numeric array when it is an array of Python objects that are all numbers (a
    pandas `object` column, `y.astype(object)`: Python or NumPy ints, floats, bools; the
    `Decimal`s `pd.read_sql` gives NUMERIC columns; `Fraction`s), so that its values are
    read as the numbers they are (ids 0..2 were refused as "must hold integer class ids,
    got dtype object (e.g. 0)"), or a list of numbers: int64 when all are integers, else
    float64. Each array of a dict alike; all True/False as bool; anything else (text,
    missing values, None) as given, for the checks that say what. Refuses complex
    numbers, and booleans among other numbers, by `name`; integers beyond int64 unless
    `task` is `"regression"` (then float64). A `Decimal('NaN')` is NaN, a missing label."""
    if isinstance(y, Mapping):
        return {k: objects_as_numbers(v, f"{name}[{k!r}]", task) for k, v in y.items()}
    refuse_complex(y, name)
    if isinstance(y, list | tuple):  # a list: `[True, 1, 2]` would be NumPy's ints 1, 1, 2
        if any(isinstance(v, list | tuple) or getattr(v, "ndim", 0) for v in y):
            return y  # rows, or Keras's list of targets (`refuse_lists` says it)
        try:
            values = np.asarray(y, dtype=object)
        except ValueError:  # ragged: said by the checks
            return y
    elif y is None or getattr(getattr(y, "dtype", None), "kind", None) != "O":
        return y
    elif str(y.dtype) == "category":  # categories: `arrays_labels`
        return y
    else:
        values = np.asarray(y)
    flat = values.ravel().tolist()
    if any(isinstance(v, Decimal) and v.is_nan() for v in flat):  # pd.isna misses it
        flat = [float("nan") if isinstance(v, Decimal) and v.is_nan() else v for v in flat]
        y = values = np.asarray(flat, dtype=object).reshape(values.shape)
    if not flat or not all(
        isinstance(v, numbers.Real | Decimal | np.bool_) and v == v for v in flat
    ):
        return y  # text, None, NaN (a missing label): said by the checks
    if all_bools(flat, name):  # as NumPy's bools: classes named 'False' and 'True'
        return np.asarray(flat, dtype=bool).reshape(values.shape)
    if all(_integral(v) for v in flat):  # Decimal(2) as 2: a class id, as an int is
        huge = [v for v in flat if not _INT64.min <= int(v) <= _INT64.max]
        if huge and task != "regression":  # as float64 they were a regression target
            raise DataError(
                f"{name} holds integers beyond int64 (e.g. {_short(int(huge[0]))}), which "
                "cannot be class ids: those are 0..num_classes-1. Map the labels to them (e.g. "
                "np.unique(y, return_inverse=True)[1]), or, for a real-valued target, pass "
                'task="regression" (it is then read as float64).'
            )
        if not huge:
            return np.asarray([int(v) for v in flat], dtype=np.int64).reshape(values.shape)
    floats = [_as_float(v, name) for v in flat]
    first: dict[float, Any] = {}
    for value, as_float in zip(flat, floats, strict=True):
        if first.setdefault(as_float, value) != value:  # two values, one float
            raise DataError(
                f"{name} holds values that float64 cannot tell apart ({_short(first[as_float])} "
                f"and {_short(value)} both become {as_float:.17g}): distinct targets would be one. "
                "Subtract an offset (e.g. y - min(y)) or rescale them to other units, then "
                "load the data again."
            )
    return np.asarray(floats, dtype=np.float64).reshape(values.shape)


def _as_float(value: Any, name: str) -> float:
    """`float(value)`, refusing a finite value float64 cannot hold (beyond its range) or
    that it would make a whole number (`Decimal('1.0000000000000000001')` -> 1.0, which
    would read as a class id). Infinities are left to the checks of non-finite values."""
    try:
        result = float(value)
    except OverflowError:  # a Python int beyond float64
        result = math.inf
    finite = (
        value.is_finite()
        if isinstance(value, Decimal)
        else not (isinstance(value, float | np.floating) and math.isinf(value))
    )
    if (math.isinf(result) and finite) or (
        isinstance(value, Decimal) and result.is_integer() and not _integral(value)
    ):
        raise DataError(
            f"{name} holds {_short(value)}, which float64 "
            + ("cannot hold (beyond its range)" if math.isinf(result) else f"rounds to {result}")
            + ": rescale the targets to other units (or round them yourself if they are "
            "class ids), then load the data again."
        )
    return result


_INT64 = np.iinfo(np.int64)


def _short(value: Any) -> str:
    """`value` as a message shows it: an int of over 24 digits by its first ones."""
    if not isinstance(value, int) or len(text := str(value)) <= 24:
        return repr(value) if isinstance(value, Decimal) else str(value)
    return f"{text[:12]}... ({len(text.lstrip('-'))} digits)"


def _integral(value: Any) -> bool:
    """Whether `value` (a real number) is an integer type, or an integral `Decimal`."""
    if isinstance(value, Decimal):
        return value.is_finite() and value == value.to_integral_value()
    return isinstance(value, numbers.Integral)


def refuse_bools_beside_numbers(ys: dict[str, Any]) -> None:
    """Refuses labels of splits (`ys`, by name: `y`, `y_test`) of which one is True/False
    and another other numbers: as one array, `all_bools` would refuse them (probe F:
    boolean `y` beside integer `y_test` became the classes '0' and '1', not 'False' and
    'True').

    Raises:
        DataError: Naming both splits and how to write them one way.
    """
    kinds = {n: getattr(getattr(v, "dtype", None), "kind", None) for n, v in ys.items()}
    bools = [n for n, k in kinds.items() if k == "b"]
    others = [n for n, k in kinds.items() if k in ("i", "u", "f")]
    if bools and others:
        raise DataError(
            f"{bools[0]} holds True/False and {others[0]} other numbers: as numbers True is "
            "1 and False is 0, so one class would be written two ways. Write the labels of "
            f"every split one way (e.g. {bools[0]}.astype(int)) and load the data again."
        )
