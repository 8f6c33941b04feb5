"""Labels as a user's pandas and NumPy hold them (probe A, stop 67).

A pandas categorical target says it is classes, in its categories' order: an ordered
`low < mid < high` was read as the sorted text (`high, low, mid`), and categories of the
numbers 1..3 were refused as "class labels or a quantity?". `Dataset(...)` of text labels
was told to "pass task="regression"", and labels -1/0/1 to pass `num_classes=K`, which
then refused them too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tunekit.data import Dataset
from tunekit.errors import DataError

X = np.random.default_rng(0).normal(size=(90, 4))


def test_an_ordered_categorical_keeps_its_order_and_an_unused_category():
    levels = ["low", "mid", "high", "extreme"]  # "extreme": a class with no samples yet
    y = pd.Series(pd.Categorical(np.tile(levels[:3], 30), categories=levels, ordered=True))
    data = Dataset.from_arrays(X, y, seed=0)
    assert data.class_names == levels and data.num_classes == 4
    rows = np.r_[data.y_train, data.y_val, data.y_test]
    assert sorted(set(rows.tolist())) == [0, 1, 2]
    # Each row's class is its category, in every split (rows found by their features).
    index = {row.tobytes(): i for i, row in enumerate(X.astype("float32"))}
    for split in ("train", "val", "test"):
        xs, ys = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        assert [levels[k] for k in ys] == [y[index[row.tobytes()]] for row in xs]


def test_a_categorical_of_numbers_is_classes_named_by_them_or_values_for_regression():
    y = pd.Categorical(np.tile([1, 2, 3], 30))
    data = Dataset.from_arrays(X, y, seed=0)
    assert data.task == "classification" and data.class_names == ["1", "2", "3"]
    values = Dataset.from_arrays(X, pd.Series(y), task="regression", seed=0)
    assert values.task == "regression"
    assert sorted(set(np.r_[values.y_train, values.y_test].tolist())) == [1.0, 2.0, 3.0]
    test = Dataset.from_arrays(X[:60], pd.Series(y[:60]), x_test=X[60:], y_test=np.asarray(y[60:]))
    assert list(test.y_test) == [int(v) - 1 for v in np.asarray(y[60:])]


def test_text_labels_in_dataset_say_how_to_encode_every_split_not_regression():
    labels = np.array(["a", "b", "c"] * 30)
    for y in (labels, labels.astype(object)):
        with pytest.raises(DataError) as caught:
            Dataset(X[:60], y[:60], X[60:75], y[60:75], X[75:], y[75:])
        said = str(caught.value)
        assert said.startswith("y_train holds text labels (e.g. 'a'): Dataset(...) takes"), said
        assert "np.searchsorted(names, y)" in said and "Dataset.from_arrays" in said
        assert "regression" not in said


def test_negative_labels_are_not_told_to_pass_num_classes():
    y = np.tile(np.array([-1, 0, 1], dtype=np.int8), 30)
    with pytest.raises(DataError) as caught:
        Dataset.from_arrays(X, y)
    assert "num_classes=K" not in str(caught.value) and "keep = y >= 0" in str(caught.value)
    with pytest.raises(DataError, match=r"num_classes=K if they are the ids of K classes"):
        Dataset.from_arrays(X, y + 2)  # 1..3: ids of classes some of which have no samples
