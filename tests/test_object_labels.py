"""Targets held as Python objects that are all numbers: read as the numbers they are.

Found by a new user: `load_wine(as_frame=True).target.astype(object)` (a pandas `object`
column of the ints 0, 1, 2, as `df.apply` and mixed operations leave it) was refused with
"y must hold integer class ids, got dtype object (e.g. 0) ... map labels to
0..num_classes-1 first", though it held exactly those.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_wine

from tunekit.data import Dataset
from tunekit.errors import DataError


@pytest.fixture(scope="module")
def wine():
    return load_wine(as_frame=True)


@pytest.mark.parametrize(
    "as_objects",
    [
        lambda y: y.astype(object),  # a pandas object column of Python ints
        lambda y: np.asarray(y.to_numpy(), dtype=object),  # a NumPy object array
        lambda y: pd.Series([np.int64(v) for v in y], dtype=object),  # NumPy ints inside
        lambda y: y.astype(float).astype(object),  # whole-number floats
        lambda y: pd.Series([Decimal(int(v)) for v in y], dtype=object),  # pd.read_sql
        lambda y: pd.Series([Fraction(int(v)) for v in y], dtype=object),
    ],
    ids=["series", "numpy", "numpy_ints", "floats", "decimals", "fractions"],
)
def test_class_ids_held_as_objects_are_classes(wine, as_objects):
    expected = Dataset.from_arrays(wine.data, wine.target.to_numpy(), seed=0)
    found = Dataset.from_arrays(wine.data, as_objects(wine.target), seed=0)
    assert found.task == "classification" and found.num_classes == 3
    assert np.array_equal(found.y_train, expected.y_train)
    assert np.array_equal(found.y_test, expected.y_test)
    assert found.y_train.dtype == np.int64


def test_the_dataset_constructor_reads_them_too(wine):
    y = wine.target.to_numpy()
    x = wine.data.to_numpy().astype("float32")
    splits = [x[:100], y[:100], x[100:140], y[100:140], x[140:], y[140:]]
    as_objects = [a if i % 2 == 0 else a.astype(object) for i, a in enumerate(splits)]
    found = Dataset(*as_objects)
    assert found.num_classes == 3 and np.array_equal(found.y_val, y[100:140])


def test_regression_targets_held_as_objects_are_regression():
    x, y = load_diabetes(return_X_y=True)
    found = Dataset.from_arrays(x, y.astype(object), seed=0)
    assert found.task == "regression"
    assert np.allclose(found.y_train, Dataset.from_arrays(x, y, seed=0).y_train)


def test_real_valued_decimals_are_regression_targets():
    x, y = load_diabetes(return_X_y=True)
    found = Dataset.from_arrays(
        x, pd.Series([Decimal(str(v)) + Decimal("0.25") for v in y]), seed=0
    )
    assert found.task == "regression"
    assert np.allclose(found.y_train, Dataset.from_arrays(x, y + 0.25, seed=0).y_train)


def test_objects_with_a_gap_or_text_among_numbers_are_still_said(wine):
    y = wine.target.astype(object)
    y.iloc[5] = None
    with pytest.raises(DataError, match=r"missing label\(s\) .* at row\(s\) 5"):
        Dataset.from_arrays(wine.data, y)
    y.iloc[5] = "two"
    with pytest.raises(DataError, match="must hold integer class ids"):
        Dataset.from_arrays(wine.data, y, task="classification")
