"""One hash per sample of arrays (`row_hashes`): equal samples hash alike, in any order.

Split from `tunekit.data._leaks`, which compares the splits' samples by these hashes.
Each sample's bytes are cut into 8-byte cells; each cell is mixed with its position
(MurmurHash3's finalizer, `_mix`) before a sum per row, and the sum is mixed again
(`pandas.util.hash_array`). About 1 s for MNIST's 70,000 rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["leaves", "row_hashes"]


def _salt(n: int) -> np.ndarray:
    """`n` odd 64-bit multipliers, one per position (fixed: the same on every call)."""
    from pandas.util import hash_array  # noqa: PLC0415 - pandas is slow to import

    return hash_array(np.arange(n, dtype=np.uint64)) | np.uint64(1)


def _array_rows(array: Any) -> np.ndarray:
    """One uint64 per sample (row along the first axis) of `array`, from its bytes."""
    from pandas.util import hash_array  # noqa: PLC0415

    if hasattr(array, "to_list") and "Ragged" in type(array).__name__:  # rows of other sizes
        array = np.array([repr(row) for row in array.to_list()], dtype=object)
    values = np.asarray(array)
    if values.ndim == 0:
        values = values.reshape(1)
    rows = len(values)
    if not rows or not values.size:
        return np.zeros(rows, np.uint64)
    if values.dtype.kind == "O":  # e.g. text: hashed by value
        try:
            texts = values.reshape(-1).astype(str)
        except ValueError:  # cells that are sequences (rows of other lengths): by their values
            texts = np.array([repr(np.asarray(v).tolist()) for v in values.reshape(-1)])
        cells = hash_array(texts.astype(object)).reshape(rows, -1)
    else:
        raw = np.ascontiguousarray(values).reshape(rows, -1).view(np.uint8)
        width = -(-raw.shape[1] // 8) * 8
        if width != raw.shape[1]:
            padded = np.zeros((rows, width), np.uint8)
            padded[:, : raw.shape[1]] = raw
            raw = padded
        cells = raw.view(np.uint64)
    # Each cell mixed, not only salted, before the sum: a salted sum is linear, and rows
    # that differ in a few high bits collided (whole numbers as float64: 1,867 hashes for
    # 2,500 distinct rows; two float32 in a cell, {-1, 1}^10: 64 hashes for 1,024 rows).
    return hash_array(_mix(cells ^ _salt(cells.shape[1])).sum(axis=1, dtype=np.uint64))


def _mix(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer (`fmix64`, Appleby) on each uint64: every input bit
    reaches every output bit, one-to-one. In place on `values` (a fresh array)."""
    values ^= values >> np.uint64(33)
    values *= np.uint64(0xFF51AFD7ED558CCD)
    values ^= values >> np.uint64(33)
    values *= np.uint64(0xC4CEB9FE1A85EC53)
    values ^= values >> np.uint64(33)
    return values


def leaves(value: Any) -> list[Any]:
    """The arrays of `value` (an array, or a dict, list or tuple of them), dict keys sorted."""
    if isinstance(value, Mapping):
        return [leaf for key in sorted(value, key=str) for leaf in leaves(value[key])]
    if isinstance(value, (list, tuple)):
        return [leaf for item in value for leaf in leaves(item)]
    return [value]


def row_hashes(*parts: Any) -> np.ndarray:
    """One uint64 per sample over every array of `parts` (e.g. `x, y`; dicts of arrays
    allowed), all with the same number of samples: equal samples hash alike."""
    arrays = [leaf for part in parts for leaf in leaves(part)]
    hashes = [_array_rows(leaf) for leaf in arrays]
    from pandas.util import hash_array  # noqa: PLC0415

    total = np.zeros(len(hashes[0]) if hashes else 0, np.uint64)
    for salt, part in zip(_salt(len(hashes)), hashes, strict=True):
        total += part * salt
    # Mixed again: a pass's sum of row hashes must change when its `x` and `y` are paired
    # otherwise (labels shuffled apart from their inputs), which a linear sum cannot see.
    return hash_array(total)
