"""A column of `Dataset.from_arrays`'s `x` that counts the rows while `y` is sorted in its
order: the CSV's row-counter warning (note 67: "CSV only"), for arrays.

A user who loads a table sorted by its target, keeps a row number or key among its
columns and hands `frame.to_numpy()` to `from_arrays` leaks the target by position as a
CSV does, exit 0. The rule is the CSV's (`tunekit.data._counters`); the column is named
by its index and the fix is NumPy's.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from tunekit.data import Dataset, load_csv


def _sorted_table(n: int = 400, classification: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Noise features, a target sorted by value, and a row number as column 3 of 5."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(n, 5))
    x[:, 3] = np.arange(n) / 100  # numbered while sorted by the target
    y = np.sort(rng.integers(0, 3, n)) if classification else np.sort(rng.normal(size=n))
    return x, y


@pytest.mark.parametrize("classification", [True, False], ids=["labels", "values"])
@pytest.mark.parametrize("shuffled", [False, True])
def test_a_counter_column_of_arrays_sorted_by_y_is_warned_of(classification, shuffled):
    x, y = _sorted_table(classification=classification)
    if shuffled:  # numbered while sorted, then shuffled: the column still says the target
        order = np.random.default_rng(0).permutation(len(y))
        x, y = x[order], y[order]
    with pytest.warns(UserWarning) as caught:
        Dataset.from_arrays(x, y, seed=0)
    (found,) = [w for w in caught if "counts the rows" in str(w.message)]
    said = str(found.message)
    assert found.filename == __file__  # the line that called from_arrays
    assert said.startswith("x[:, 3] counts the rows") and "y is sorted in its order" in said
    assert "np.delete(x, 3, axis=1)" in said and "(a year, a dose, a time), keep it" in said


def test_arrays_without_a_counter_of_sorted_rows_are_taken_without_a_word():
    """The same counter beside a target in no order, a counter that is the only feature
    (`y = f(x)` on a grid), images, a dict `x`, and the bundled tables sorted by class."""
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine

    x, y = _sorted_table()
    rng = np.random.default_rng(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Dataset.from_arrays(x, rng.permutation(y), seed=0)
        grid = np.arange(400.0)[:, None]
        Dataset.from_arrays(grid, np.sort(rng.integers(0, 2, 400)), seed=0)
        images = rng.normal(size=(400, 8, 8))
        images[:, 0, 0] = np.arange(400)
        Dataset.from_arrays(images, np.sort(rng.integers(0, 2, 400)), seed=0)
        Dataset.from_arrays({"a": x}, y, seed=0)
        for load in (load_iris, load_wine, load_diabetes, load_breast_cancer):
            data = load()
            task = "regression" if load is load_diabetes else None
            Dataset.from_arrays(data.data, data.target, seed=0, task=task)


def test_a_csv_counter_is_warned_of_once_by_its_name(tmp_path):
    """`load_csv` makes its Dataset with `from_arrays`: one warning, naming the column."""
    import pandas as pd

    x, y = _sorted_table()
    frame = pd.DataFrame(x, columns=list("abcde")).assign(y=y)
    frame.to_csv(tmp_path / "sorted.csv", index=False)
    with pytest.warns(UserWarning) as caught:
        load_csv(tmp_path / "sorted.csv", "y")
    said = [str(w.message) for w in caught if "counts the rows" in str(w.message)]
    assert len(said) == 1 and said[0].startswith("column 'd' counts the rows"), said
