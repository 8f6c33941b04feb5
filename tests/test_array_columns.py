"""The columns of `Dataset.from_arrays`'s `x` that number the rows: the CSV's rules, for
arrays and DataFrames (note 67: "CSV only"; probe A, stop 67).

A user who reads a CSV sorted by its target with pandas and hands `from_arrays` the
DataFrame, or `frame.to_numpy()`, with a pandas index or a row number among its columns
leaked the target by position: test accuracy 0.956 on labels that were noise, exit 0,
where `load_csv` refused the same file. A DataFrame's columns are refused by name as the
CSV's are; a column that counts the rows while `y` is sorted gets the CSV's warning,
named by its name or its index (`x[:, 3]`), with pandas' or NumPy's fix.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import pandas as pd
import pytest

from tunekit.data import Dataset, load_csv
from tunekit.errors import DataError


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
    x, y = _sorted_table()
    frame = pd.DataFrame(x, columns=list("abcde")).assign(y=y)
    frame.to_csv(tmp_path / "sorted.csv", index=False)
    with pytest.warns(UserWarning) as caught:
        load_csv(tmp_path / "sorted.csv", "y")
    said = [str(w.message) for w in caught if "counts the rows" in str(w.message)]
    assert len(said) == 1 and said[0].startswith("column 'd' counts the rows"), said


def _sorted_frame(n: int = 600) -> pd.DataFrame:
    """Five noise features and a target of noise, sorted by the target."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(n, 5)), columns=list("abcde"))
    frame["target"] = rng.integers(0, 2, n)
    return frame.sort_values("target").reset_index(drop=True)


@pytest.mark.parametrize("standardised", [False, True])
def test_a_pandas_index_read_back_into_a_dataframe_is_refused_by_name(standardised):
    """Probe A: `df.to_csv(p)` (index saved), `pd.read_csv(p)`, features standardised, then
    `from_arrays(X, df["target"])`: the run scored 0.956 where chance is 0.53, exit 0."""
    buffer = io.StringIO()
    _sorted_frame().to_csv(buffer)  # pandas' default: the index saved as a column
    buffer.seek(0)
    read = pd.read_csv(buffer)
    x = read.drop(columns="target")
    if standardised:
        x = (x - x.mean()) / x.std()
    with pytest.raises(DataError) as caught:
        Dataset.from_arrays(x, read["target"], seed=0)
    said = str(caught.value)
    assert said.startswith("column 'Unnamed: 0' is named as a pandas index and holds"), said
    assert "x.drop(columns=['Unnamed: 0'])" in said and "index_col=0" in said, said


@pytest.mark.parametrize("name", ["id", "patient_id", "row", "PatientId"])
@pytest.mark.parametrize("shuffled", [False, True])
def test_an_id_column_of_a_dataframe_is_refused_as_in_a_csv(name, shuffled):
    frame = _sorted_frame()
    x = frame.drop(columns="target")
    x.insert(0, name, np.arange(len(x)) + 1000)
    if shuffled:
        x = x.sample(frac=1, random_state=0)
    with pytest.raises(DataError, match=rf"column '{name}' looks like a row identifier") as info:
        Dataset.from_arrays(x, frame["target"].loc[x.index], seed=0)
    assert f"x.drop(columns=['{name}'])" in str(info.value) and "read_csv" not in str(info.value)


def test_a_dataframes_first_column_of_row_numbers_and_its_counters_are_said_by_name():
    frame = _sorted_frame()
    x = frame.drop(columns="target")
    with pytest.raises(DataError, match=r"its first column, 'Sample', holds exactly the row"):
        Dataset.from_arrays(
            x.set_index(np.arange(len(x))).reset_index(names="Sample"), frame.target
        )
    for label, said in (("year", "column 'year'"), (7, "column 7")):
        named = x.copy()
        named.insert(5, label, np.arange(len(x)))  # a year, or a row number: both said
        with pytest.warns(UserWarning) as caught:
            Dataset.from_arrays(named, frame["target"], seed=0)
        (found,) = [str(w.message) for w in caught if "counts the rows" in str(w.message)]
        assert found.startswith(f"{said} counts the rows"), found
        assert f"x.drop(columns=[{label!r}])" in found, found
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # features of noise, `paid` beside a target in no order
        Dataset.from_arrays(x, frame["target"], seed=0)
        paid = x.assign(paid=np.arange(len(x)))
        Dataset.from_arrays(paid, np.random.default_rng(2).integers(0, 2, len(x)), seed=0)


def test_a_first_column_of_row_numbers_is_said_by_its_own_label():
    frame = _sorted_frame()
    x = pd.DataFrame(np.c_[np.arange(len(frame)), frame[list("abcde")].to_numpy()])
    with pytest.raises(DataError, match=r"its first column, 0, holds exactly") as caught:
        Dataset.from_arrays(x, frame["target"], seed=0)
    assert "x.drop(columns=[0])" in str(caught.value)


def test_a_running_count_of_irregular_steps_in_a_file_sorted_by_its_target_is_warned_of(
    tmp_path,
):
    """Probe B (stop 67): `t`, a running sum of random 1-4 day gaps, in a file sorted by
    its label (noise features): test accuracy 0.93 where chance is 0.5, no warning; only
    evenly spaced counters were seen. A column that rises row by row in the file's order
    is numbered as the rows were written; shuffled, or beside a target in no order, it is
    a feature like any other."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(600, 4)), columns=list("abcd"))
    frame.insert(0, "t", np.cumsum(rng.integers(1, 5, 600)))
    frame["label"] = np.sort(rng.integers(0, 2, 600))
    frame.to_csv(tmp_path / "days.csv", index=False)
    with pytest.warns(UserWarning, match=r"column 't' counts the rows \(a different value in"):
        load_csv(tmp_path / "days.csv", "label")
    with pytest.warns(UserWarning, match=r"column 't' counts the rows"):
        Dataset.from_arrays(frame.drop(columns="label"), frame["label"], seed=0)
    frame["label"] = rng.integers(0, 2, 600)
    frame.to_csv(tmp_path / "unsorted.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_csv(tmp_path / "unsorted.csv", "label")


def test_a_counter_beside_a_nearly_sorted_target_is_warned_of():
    """Probe C: labels sorted, then 5% of them flipped (or a sorted regression target
    with noise added) beside a row counter: test accuracy 0.90 where chance is 0.5, with
    no warning; only an exactly sorted target was seen. Imbalanced labels in no order
    (5% of one class) are not taken for sorted ones."""
    rng = np.random.default_rng(0)
    x = np.c_[rng.normal(size=(400, 3)), np.arange(400)]
    labels = np.sort(rng.integers(0, 2, 400))
    flipped = np.where(rng.random(400) < 0.05, 1 - labels, labels)
    noisy = np.sort(rng.normal(size=400)) + rng.normal(size=400) * 0.2
    for y, task in ((flipped, None), (noisy, "regression")):
        with pytest.warns(UserWarning, match=r"x\[:, 3\] counts the rows"):
            Dataset.from_arrays(x, y, task=task, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Dataset.from_arrays(x, (rng.random(400) < 0.05).astype(int), seed=0)
