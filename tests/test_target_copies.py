"""A feature column that is the target written again gets a warning (`_target_copies`).

Probe B: a wine CSV with a column `leak` equal to `target` tested at 1.0 with exit 0,
no word. Now `load_csv` and `Dataset.from_arrays` warn, at the caller's line, naming the
column and how to drop it; scikit-learn's bundled data sets get no warning.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_iris,
    load_wine,
)

from tunekit.data import Dataset, load_csv
from tunekit.data._target_copies import target_copies

SAID = "is the target written again"


@pytest.fixture(scope="module")
def wine():
    return load_wine(as_frame=True)


def test_a_csv_column_equal_to_the_target_is_warned_of(tmp_path, wine):
    path = tmp_path / "wine.csv"
    wine.data.assign(leak=wine.target, target=wine.target).to_csv(path, index=False)
    with pytest.warns(UserWarning, match=f"column 'leak' {SAID}") as record:
        load_csv(path, target="target")
    said = [r for r in record if SAID in str(r.message)]
    assert said[0].filename == __file__  # the line that called load_csv
    assert "pd.read_csv(path).drop(columns=['leak'])" in str(said[0].message)


@pytest.mark.parametrize(
    ("recode", "task"),
    [
        (lambda y: y * 7 + 3, None),  # class ids recoded
        (lambda y: np.asarray(["b", "c", "a"])[y].astype(object) == "c", None),  # no: 2 values
        (lambda y: y * -2.5 + 0.1, "regression"),  # a value scaled and shifted
    ],
    ids=["codes", "partial", "affine"],
)
def test_from_arrays_warns_of_a_recoded_copy(wine, recode, task):
    x = wine.data.to_numpy().astype("float32")
    y = wine.target.to_numpy()
    target = y.astype("float32") * 1.5 + 0.25 if task else y
    column = recode(y if task is None else target).astype("float32")
    frame = wine.data.assign(copy=column)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        Dataset.from_arrays(frame, target, seed=0, task=task)
        Dataset.from_arrays(np.column_stack([x, column]), target, seed=0, task=task)
    said = [str(r.message) for r in record if SAID in str(r.message)]
    if column.dtype == bool or len(np.unique(column)) == 2:  # two values for three classes
        assert said == []
        return
    assert said[0].startswith(f"column 'copy' {SAID}") and "x.drop(columns=['copy'])" in said[0]
    assert said[1].startswith(f"x[:, 13] {SAID}") and "np.delete(x, 13, axis=1)" in said[1]


@pytest.mark.parametrize(
    "loader", [load_wine, load_iris, load_breast_cancer, load_digits, load_diabetes]
)
def test_bundled_data_has_no_copy_of_its_target(loader):
    import pandas as pd

    x, y = loader(return_X_y=True)
    y = y.astype("float32") if loader is load_diabetes else y
    assert target_copies(pd.DataFrame(x), y) == []
