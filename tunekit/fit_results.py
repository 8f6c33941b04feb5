"""One number, as a hypermodel's `fit` may return it: a float, a NumPy scalar, a 0-d array.

KerasTuner's documented results of `HyperModel.fit` are a `History`, a dict of
numbers, or one number; it takes a Python `int` or `float` or a NumPy float
(`np.float32`) as that number, and refuses a 0-d array (`np.array(0.93)`,
`np.mean(...)` of an array kept as an array, a 0-d JAX array, a TensorFlow
tensor of shape `()`, what `keras.ops` returns) as "not a float". One number it
is, so tunekit takes it as one (`as_number`, `plain_results`): as the result,
and as a value of a returned dict (where KerasTuner would record it unchecked).

What is not one number is refused with what was returned and what to return
instead (`not_one_number`): an array or tensor with values along some axis, or
a list of numbers, as the result or as a dict's value. KerasTuner would record
the mean of its values as the trial's score (a dict's value) or refuse it.

This module imports no Keras; it reads arrays and tensors through NumPy.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["as_number", "not_one_number", "plain_results"]

# dtype kinds that are no real number: bool, complex, times, objects, text, bytes
_NOT_REAL = frozenset("bcmMOSUa")


def _shape(value: Any) -> tuple[Any, ...] | None:
    """The shape of an array or tensor (`()` for 0-d), or `None` for anything else."""
    if isinstance(value, (str, bytes)) or getattr(value, "dtype", None) is None:
        return None
    shape = getattr(value, "shape", None)
    if shape is None:
        return None
    try:
        return tuple(shape)  # a TensorFlow TensorShape too
    except TypeError:  # a tensor of unknown rank
        return None


def as_number(value: Any) -> float | None:
    """`value` as a `float` if it is one real number, else `None`.

    One number: a Python `int` or `float` (not a `bool`), a NumPy scalar
    (`np.float32(0.9)`, `np.int64(3)`), or an array or tensor of shape `()` of
    integers or floats (`np.array(0.93)`, a 0-d JAX array, a TensorFlow tensor,
    a `keras.ops` result). NaN and infinities are numbers (their trial is judged
    by the caller).
    """
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, numbers.Real):
        return float(value)
    if _shape(value) != ():
        return None
    try:
        array = np.asarray(value)
        if array.shape != () or array.dtype.kind in _NOT_REAL:
            return None
        return float(array)
    except (TypeError, ValueError, RuntimeError):  # e.g. a symbolic tensor: no value
        return None


def plain_results(results: Any) -> Any:
    """`results` with each number in it as a Python `float`.

    Args:
        results: What a hypermodel's `fit` returned.

    Returns:
        One number (see `as_number`) as a `float`; a dict whose values that
        are one number are `float`s (a new dict, in the same order, when one
        was not already an `int` or a `float`); anything else unchanged.
    """
    if isinstance(results, Mapping) and not isinstance(results, dict):
        return results
    if isinstance(results, dict):
        changed = {
            k: number
            for k, v in results.items()
            if type(v) not in (int, float) and (number := as_number(v)) is not None
        }
        return {**results, **changed} if changed else results
    if type(results) in (int, float):
        return results
    number = as_number(results)
    return results if number is None else number


def _many(value: Any) -> str | None:
    """What `value` is when it holds several numbers (an array, a list): else `None`."""
    shape = _shape(value)
    if shape is not None and shape != ():
        dtype = getattr(value, "dtype", "")
        return f"an array of shape {shape} ({getattr(dtype, 'name', dtype)})"
    if isinstance(value, (list, tuple)) and value and all(as_number(v) is not None for v in value):
        return f"a {type(value).__name__} of {len(value)} numbers"
    return None


def not_one_number(results: Any) -> str | None:
    """The refusal of a `fit` result holding several numbers where one is meant, or `None`.

    Args:
        results: What a hypermodel's `fit` returned (after `plain_results`).

    Returns:
        A message saying what was returned (an array's shape and dtype, a
        list's length, under which key of a dict) and what to return instead,
        when the result, or a value of a returned dict, is an array or tensor
        of more than zero dimensions (also of one value: `np.array([0.9])`) or
        a list or tuple of numbers; `None` for every other result.
    """
    if isinstance(results, Mapping):
        found = [(k, what) for k, v in results.items() if (what := _many(v)) is not None]
        if not found:
            return None
        key, what = found[0]
        said = f"{what} as {key!r}"
    elif (what := _many(results)) is not None:
        said = what
    else:
        return None
    return (
        f"The hypermodel's fit returned {said}, not one number: KerasTuner would rank the "
        "trials by the mean of its values, or refuse it. Return one number: float(value) of "
        "the one that scores the model (float(np.mean(values)) only if their mean is what "
        'you mean), or a dict of such numbers, e.g. {"val_accuracy": float(value)}, or the '
        "History of model.fit. A 0-d array or tensor (np.array(0.93)) is taken as one number."
    )
