"""Rows of probabilities as targets: classes or proportions? Refused unless the task is said.

Probe A: hand-smoothed one-hot labels (`to_categorical(y) * 0.9 + 0.01`) were taken for
10 regression targets (a report of R² and MSE, splits not stratified), exit 0; with
`task="classification"` they were refused as "needs integer class ids", not saying why.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from tunekit.data import Dataset
from tunekit.errors import DataError

SAID = r"holds rows of probabilities over 10 columns \(each sums to 1, not one-hot\)"


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    return (x / 16.0).astype("float32"), np.eye(10, dtype="float32")[y]


@pytest.mark.parametrize("task", [None, "classification"])
def test_soft_labels_are_refused_naming_both_ways_on(digits, task):
    x, hot = digits
    soft = hot * 0.9 + 0.01
    with pytest.raises(DataError, match="y " + SAID) as info:
        Dataset.from_arrays(x, soft, seed=0, task=task)
    assert "label_smoothing=0.1" in str(info.value)
    assert 'pass task="regression"' in str(info.value)
    parts = (x[:900], soft[:900], x[900:1300], soft[900:1300], x[1300:], soft[1300:])
    with pytest.raises(DataError, match="y_train " + SAID):
        Dataset(*parts, **({} if task is None else {"task": task}))


def test_one_hot_rows_and_proportions_as_regression_are_taken(digits):
    x, hot = digits
    assert Dataset.from_arrays(x, hot, seed=0).task == "classification"
    shares = np.random.default_rng(0).dirichlet([1.0, 1.0, 1.0], size=len(x))
    assert Dataset.from_arrays(x, shares, seed=0, task="regression").task == "regression"
    assert Dataset.from_arrays(x, hot * 0.9 + 0.01, seed=0, task="regression").num_outputs == 10
