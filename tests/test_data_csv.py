"""CSV files (`load_csv`) and class weights (`class_weights`)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes
from sklearn.utils.class_weight import compute_class_weight

from tunekit.data import Dataset, class_weights, load_csv
from tunekit.errors import DataError


@pytest.fixture(scope="module")
def diabetes_csv(tmp_path_factory):
    frame = load_diabetes(as_frame=True).frame  # 442 rows, 10 features, "target"
    path = tmp_path_factory.mktemp("csv") / "diabetes.csv"
    frame.to_csv(path, index=False)
    return path, frame


def test_diabetes_written_to_csv_loads_back_as_regression(diabetes_csv):
    path, frame = diabetes_csv
    ds = load_csv(path, target="target")
    assert ds.task == "regression" and ds.name == "diabetes" and ds.num_outputs == 1
    assert ds.input_shape == (10,) and ds.num_classes is None
    n = len(ds.y_train) + len(ds.y_val) + len(ds.y_test)
    assert n == 442 and (len(ds.y_val), len(ds.y_test)) == (66, 66)
    x, y = ds.train_and_validation()
    x_all = np.concatenate([x, ds.x_test])
    y_all = np.concatenate([y, ds.y_test])
    features = frame.drop(columns="target").to_numpy(np.float32)
    order, expected = np.lexsort(x_all.T[::-1]), np.lexsort(features.T[::-1])
    np.testing.assert_array_equal(x_all[order], features[expected])  # same rows, same columns
    np.testing.assert_array_equal(y_all[order], frame["target"].to_numpy(np.float32)[expected])
    assert ds.summary() == (
        "diabetes: 310 train / 66 validation / 66 test, input (10,), regression, 1 target"
    )
    assert load_csv(path, target="target").fingerprint() == ds.fingerprint()
    assert load_csv(path, target="target", seed=1).fingerprint() != ds.fingerprint()


def test_csv_fingerprint_follows_the_content(tmp_path, diabetes_csv):
    path, frame = diabetes_csv
    edited = frame.copy()
    edited.loc[0, "bmi"] += 0.5
    edited.to_csv(tmp_path / "diabetes.csv", index=False)
    assert (
        load_csv(tmp_path / "diabetes.csv", "target").fingerprint()
        != load_csv(path, "target").fingerprint()
    )


def test_csv_classification_with_text_labels_and_task_override(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "a": rng.random(30),
            "b": np.arange(30) % 7,
            "ok": np.arange(30) % 2 == 0,
            "kind": np.array(["owl", "cat", "dog"])[np.arange(30) % 3],
        }
    )
    frame.to_csv(tmp_path / "pets.csv", index=False)
    ds = load_csv(tmp_path / "pets.csv", target="kind")
    assert ds.task == "classification" and ds.class_names == ["cat", "dog", "owl"]
    assert ds.input_shape == (3,) and ds.num_classes == 3
    frame.drop(columns="kind").to_csv(tmp_path / "numbers.csv", index=False)
    counts = load_csv(tmp_path / "numbers.csv", target="b", task="regression")
    assert counts.task == "regression" and counts.input_shape == (2,)
    assert load_csv(tmp_path / "numbers.csv", target="b").task == "classification"
    two = load_csv(tmp_path / "numbers.csv", target=["a", "b"], task="regression")
    assert two.num_outputs == 2 and two.input_shape == (1,)


def _write(tmp_path, text):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    return path


BAD_CSV = [
    (
        "text_column",
        "size,city,temperature\n1,Paris,3.5\n2,Oslo,1.5\n",
        dict(target="temperature"),
        r"feature column\(s\) 'city' \(e\.g\. 'Paris'\) are not numeric\. Drop them, or encode",
    ),
    (
        "target_not_a_column",
        "size,temperature\n1,3.5\n2,1.5\n",
        dict(target="temp"),
        r"target='temp' is not a column of .*bad\.csv'; its columns are \['size', 'temperature'\]",
    ),
    (
        "missing_values",
        "size,depth,temperature\n1,,3.5\n2,4,\n3,,2.5\n",
        dict(target="temperature"),
        r"column\(s\) 'depth' \(2 missing\), 'temperature' \(1 missing\) have missing values",
    ),
    (
        "float_target_as_classification",
        "size,temperature\n1,3.5\n2,1.5\n3,2.0\n",
        dict(target="temperature", task="classification"),
        r'task="classification" but y holds non-integer values \(e\.g\. 3\.5\).*task="regression"',
    ),
    (
        "text_target_as_regression",
        "size,kind\n1,a\n2,b\n3,a\n",
        dict(target="kind", task="regression"),
        r"target column\(s\) 'kind' \(e.g. 'a'\) hold text: regression needs numeric targets",
    ),
    (
        "infinite_value",
        "size,temperature\n1,inf\n2,1.5\n3,2.5\n",
        dict(target="temperature"),
        r"column\(s\) 'temperature' \(1 infinite\) hold infinite values",
    ),
    (
        "only_the_target",
        "temperature\n3.5\n1.5\n",
        dict(target="temperature"),
        r"no feature columns besides target='temperature'",
    ),
    (
        # Before, labels 1..3 made a 4-class model whose class 0 had no sample (exit 0).
        "class_ids_from_1",
        "size,kind\n" + "".join(f"{i},{1 + i % 3}\n" for i in range(30)),
        dict(target="kind"),
        r"target column 'kind' holds the whole numbers 1, 2, 3, not the class ids 0..2: pass "
        r"task='classification' to take each value as a class.*"
        r"or task='regression'",
    ),
    (
        # Before: "1, 2, 3, 4, 5, 6, ..., 7 (7 values)", a "..." that hid nothing.
        "seven_whole_numbers",
        "size,kind\n" + "".join(f"{i},{1 + i % 7}\n" for i in range(30)),
        dict(target="kind"),
        r"holds the whole numbers 1, 2, 3, 4, 5, 6, 7, not the class ids 0\.\.6: pass ",
    ),
    (
        "whole_number_quantities",  # e.g. diabetes progression saved as integers
        "size,progress\n" + "".join(f"{i},{25 + 7 * i}\n" for i in range(30)),
        dict(target="progress"),
        r"holds the whole numbers 25, 32, 39, 46, 53, 60, \.\.\., 228 \(30 values\).*"
        r"task='regression' if they are a quantity",
    ),
    ("empty_file", "", dict(target="t"), r"Could not read .*bad\.csv' as a CSV with a header row"),
    ("header_only", "size,t\n", dict(target="t"), r"bad\.csv.*a header row but no data rows"),
    (
        "semicolons",  # a European-locale export: one column named "size;t"
        "size;t\n1;2.5\n2;3.5\n",
        dict(target="t"),
        r"bad\.csv' seems to separate its columns with ';', not commas: read with commas it "
        r"has one column, 'size;t', and no column 't'\. Save it with commas",
    ),
    (
        "semicolons_wide",  # 31 columns: the message leads with the separator, in short
        ";".join(f"feature_{i}" for i in range(30)) + ";t\n" + ";".join(["1"] * 31) + "\n",
        dict(target="t"),
        r"^'[^']*bad\.csv' seems to separate .*one column, 'feature_0;feature_1;[^']{30,}\.\.\.'",
    ),
    (
        "pandas_index",  # DataFrame.to_csv() without index=False, rows sorted by the target
        ",size,t\n0,1.0,0\n1,2.0,0\n2,1.5,1\n3,2.5,1\n",
        dict(target="t"),
        r"column 'Unnamed: 0' is named as a pandas index and holds.*index=False",
    ),
    (
        "unknown_task",
        "size,t\n1,2.5\n",
        dict(target="t", task="forecast"),
        r"Unknown task='forecast'",
    ),
    (
        "repeated_target_name",  # pandas renamed the second 'a' to 'a.1'; which was the target?
        "a,b,a\n" + "".join(f"{i},{i % 2},{i % 3}\n" for i in range(30)),
        dict(target="a"),
        r"bad\.csv': its header names a column more than once: 'a' and 'a' \(columns 1, 3\)\. "
        r"pandas would rename the repeats.*Give each column its own name",
    ),
    (
        "repeated_feature_names",  # both features were kept, one renamed 'x.1' (exit 0)
        "x,x,y,t\n" + "".join(f"{i},{i},{i},{i % 2}\n" for i in range(30)),
        dict(target="t"),
        r"names a column more than once: 'x' and 'x' \(columns 1, 2\)\.",
    ),
    (
        "names_apart_only_by_spaces",  # ' a' and 'a': two columns, one named like the other
        " a,a,t\n" + "".join(f"{i},{i},{i % 2}\n" for i in range(30)),
        dict(target="a"),
        r"more than once: ' a' and 'a' \(columns 1, 2\).*differ only by spaces around them",
    ),
    (
        "trailing_comma",  # 'Unnamed: 3' of nothing, refused as "missing values" to fill
        "a,b,t,\n" + "".join(f"{i},{i},{i % 2},\n" for i in range(30)),
        dict(target="t"),
        r"column\(s\) 4 \(of 4\) have no name in the header and no values: a comma at the end "
        r"of each line\? Remove the trailing commas",
    ),
    (
        "unnamed_column",  # a feature the header does not name: 'Unnamed: 1' (exit 0)
        "a,,t\n" + "".join(f"{i},{i * 7 % 5},{i % 2}\n" for i in range(30)),
        dict(target="t"),
        r"column\(s\) 2 \(read as 'Unnamed: 1'\) have no name in the header",
    ),
    (
        "rows_longer_than_the_header",  # pandas took column 1 as row labels: dropped (exit 0)
        "b,t\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(30)),
        dict(target="t"),
        r"its data rows have 3 fields but its header names 2: pandas would take the first 1 "
        r"field\(s\) of each row as row labels and leave them out",
    ),
    (
        "labels_apart_only_by_spaces",  # 'cat' and ' cat' were two classes (exit 0)
        "x,t\n"
        + "".join(
            f"{i},{' cat' if i % 4 == 1 else 'cat' if i % 2 else 'dog'}\n" for i in range(30)
        ),
        dict(target="t"),
        r"The labels of target column 't' differ only by spaces, letter case or Unicode "
        r"form \(' cat' and 'cat'\): each would be a class of its own\. Write each class one way",
    ),
    (
        "target_with_spaces_around",  # 'a, t': the column is ' t'
        "a, t\n" + "".join(f"{i},{i % 2}\n" for i in range(30)),
        dict(target="t"),
        r"target='t' is not a column.*\(The header has ' t', with spaces around the name\.\)",
    ),
]


@pytest.mark.parametrize(
    ("text", "kwargs", "message"), [pytest.param(*c[1:], id=c[0]) for c in BAD_CSV]
)
def test_bad_csv_is_refused_with_the_fix(tmp_path, text, kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_csv(_write(tmp_path, text), **kwargs)


def test_labels_with_a_gap_are_refused_unless_num_classes_is_given():
    x = np.random.default_rng(0).random((60, 3))
    y = np.arange(60) % 3 + 1  # 1..3
    with pytest.raises(ValueError, match=r"holds the whole numbers 1, 2, 3.*or num_classes=K"):
        Dataset.from_arrays(x, y)
    data = Dataset.from_arrays(x, y, num_classes=5)  # classes 0 and 4 exist elsewhere
    assert data.num_classes == 5
    consecutive = Dataset.from_arrays(x, y - 1)
    assert consecutive.num_classes == 3


def test_missing_csv_file(tmp_path):
    with pytest.raises(ValueError, match=r"CSV file not found: .*nope\.csv"):
        load_csv(tmp_path / "nope.csv", target="t")


# --------------------------------------------------------------------------- class weights


def test_balanced_class_weights_on_95_5():
    y = np.array([0] * 95 + [1] * 5)
    weights = class_weights(y, "balanced")
    expected = compute_class_weight("balanced", classes=np.array([0, 1]), y=y)
    assert weights == pytest.approx({0: expected[0], 1: expected[1]})
    assert weights == pytest.approx({0: 100 / (2 * 95), 1: 100 / (2 * 5)})
    assert all(type(k) is int and type(v) is float for k, v in weights.items())
    assert class_weights(y, None) is None


def test_class_weights_of_a_dataset_count_its_training_split():
    x = np.random.default_rng(0).random((100, 2))
    ds = Dataset.from_arrays(x, np.array([0] * 80 + [2] * 20), num_classes=4)
    weights = class_weights(ds)
    train = ds.y_train
    assert weights[0] == pytest.approx(len(train) / (2 * np.sum(train == 0)))
    assert weights[2] == pytest.approx(len(train) / (2 * np.sum(train == 2)))
    assert weights[1] == weights[3] == 1.0  # classes without training samples


def test_class_weights_as_keras_takes_them_fill_the_classes_not_named():
    """Keras's own `class_weight` dict (plain KerasTuner passes it to every fit)."""
    ds = Dataset.from_arrays(np.zeros((60, 2)), np.arange(60) % 3)
    assert class_weights(ds, {1: 4, "2": 0.5}) == {0: 1.0, 1: 4.0, 2: 0.5}
    with pytest.raises(
        ValueError,
        match=r"names \[3\], and this data has no such class: its classes are the class ids "
        r"0..2\. Key the weights by class id, e\.g\. class_weight=\{2: 10\.0\}",
    ):
        class_weights(ds, {0: 1.0, 3: 2.0})


def test_class_weights_of_renumbered_labels_are_keyed_by_the_labels_as_in_keras():
    # Labels 1/2 are ids 0/1: {2: 10.0} was refused ("key by class id (the labels'
    # values...)"), and {1: 10.0} silently weighed the label 2 (id 1).
    x = np.zeros((60, 2))
    ds = Dataset.from_arrays(x, np.arange(60) % 2 + 1, task="classification")
    assert ds.class_names == ["1", "2"]
    assert class_weights(ds, {2: 10.0}) == {0: 1.0, 1: 10.0}
    assert class_weights(ds, {1: 10.0}) == {0: 10.0, 1: 1.0}
    assert class_weights(ds, {1: 1, 2: 10}) == class_weights(ds, {"2": 10}) == {0: 1.0, 1: 10.0}
    with pytest.raises(
        ValueError,
        match=r"names \[0\], and this data has no such class: its labels are 1, 2 \(class "
        r"ids 0..1\)\. Key the weights by label, as Keras does, e\.g\. class_weight="
        r"\{2: 10\.0\} \(or by class name, \{'2': 10\.0\}\)",
    ):
        class_weights(ds, {0: 10.0})
    wine = Dataset.from_arrays(np.zeros((60, 2)), np.arange(60) % 6 + 3, task="classification")
    assert class_weights(wine, {8: 5.0, 3: 2}) == {0: 2.0, 1: 1.0, 2: 1.0, 3: 1.0, 4: 1.0, 5: 5.0}
    with pytest.raises(ValueError, match=r"names \[2\].*its labels are 3, 4, 5, 6, 7, 8"):
        class_weights(wine, {2: 5.0})


def test_class_weights_keyed_by_class_name_or_by_bool_label():
    x = np.zeros((60, 2))
    text = Dataset.from_arrays(x, np.array(["cat", "dog", "eel"])[np.arange(60) % 3])
    assert class_weights(text, {"eel": 4.0}) == class_weights(text, {2: 4.0})
    assert class_weights(text, {"eel": 4.0}) == {0: 1.0, 1: 1.0, 2: 4.0}
    with pytest.raises(
        ValueError,
        match=r"names \['ant'\], and this data has no such class: its classes are the class "
        r"ids 0..2, named 'cat', 'dog', 'eel'\. Key the weights by class id \(its index in "
        r"class_names\), e\.g\. class_weight=\{2: 10\.0\}, or by class name, e\.g\. "
        r"\{'eel': 10\.0\}",
    ):
        class_weights(text, {"ant": 1.0})
    flags = Dataset.from_arrays(x, np.arange(60) % 2 == 0)
    assert class_weights(flags, {False: 1.0, True: 10.0}) == {0: 1.0, 1: 10.0}
    assert class_weights(flags, {"True": 10.0}) == {0: 1.0, 1: 10.0}
    with pytest.raises(ValueError, match=r"its labels are False and True.*\{False: 1\.0, True"):
        class_weights(flags, {"yes": 1.0})
    with pytest.raises(ValueError, match=r"names \[True\].*its labels are 1, 2"):
        class_weights(
            Dataset.from_arrays(x, np.arange(60) % 2 + 1, task="classification"), {True: 1}
        )
    with pytest.raises(ValueError, match=r"names one class twice, as 2 and 'eel' \(class 'eel'\)"):
        class_weights(text, {2: 1.0, "eel": 3.0})
    # Found by a retry: "1" beside the text classes "01", "02" weighed class id 1 ("02").
    codes = Dataset.from_arrays(x, np.array(["01", "02"])[np.arange(60) % 2])
    with pytest.raises(ValueError, match=r"names \['1'\], and this data has no such class"):
        class_weights(codes, {"1": 10.0})
    assert class_weights(codes, {"02": 10.0}) == {0: 1.0, 1: 10.0}


@pytest.mark.parametrize(
    ("y", "mode", "message"),
    [
        (np.linspace(0, 1, 20), "balanced", r"Class weights are for classification.*regression"),
        ("regression_dataset", "balanced", r"Class weights are for classification.*regression"),
        ({"a": np.arange(4) % 2}, "balanced", r"one output; y is a dict of outputs \['a'\]"),
        (np.arange(4) % 2, "inverse", r"Unknown class weight mode 'inverse'; choose one of"),
    ],
)
def test_class_weights_refused(y, mode, message):
    if isinstance(y, str):
        y = Dataset.from_arrays(np.zeros((20, 2)), np.linspace(0, 1, 20))
    with pytest.raises(ValueError, match=message):
        class_weights(y, mode)


@pytest.mark.parametrize(
    "values, names",
    [
        ([1, 2, 3], ["1", "2", "3"]),  # labels from 1, as the wine data writes them
        ([3, 5, 8], ["3", "5", "8"]),  # wine qualities with gaps
        ([1.0, 2.0, 3.0], ["1", "2", "3"]),  # the same labels written as floats by pandas
        ([-1, 1], ["-1", "1"]),
    ],
)
def test_task_classification_takes_a_columns_numbers_as_classes(tmp_path, values, names):
    # A command-line user cannot relabel: --task classification now does what it says.
    labels = [values[i % len(values)] for i in range(60)]
    frame = pd.DataFrame({"size": np.arange(60.0), "kind": labels})
    frame.to_csv(tmp_path / "labels.csv", index=False)
    ds = load_csv(tmp_path / "labels.csv", target="kind", task="classification")
    assert (ds.task, ds.num_classes, ds.class_names) == ("classification", len(values), names)
    # Each row's class id is its value's place in the sorted values.
    sizes = np.concatenate([ds.x_train[:, 0], ds.x_val[:, 0], ds.x_test[:, 0]]).astype(int)
    ids = np.concatenate([ds.y_train, ds.y_val, ds.y_test])
    expected = np.searchsorted(np.unique(values), np.asarray(labels)[sizes])
    np.testing.assert_array_equal(ids, expected)


def _stray_csv(tmp_path, column):
    """100 rows of numbers, with '?' for a missing value in `column` (rows 50, or 11, 21, 31)."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=100),
            "b": rng.normal(size=100).astype(object),
            "age": rng.integers(20, 60, 100).astype(object),
        }
    )
    if column == "b":
        frame.loc[49, "b"] = "?"
    else:
        frame.loc[[10, 20, 30], "age"] = "?"
    path = tmp_path / f"stray_{column}.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("column", "task", "message"),
    [
        ("b", None, r"'b' \(numbers, except 1 cell such as '\?' in data row 50\) are not numeric"),
        ("age", None, r"'age' \(numbers, except 3 cells such as '\?' in data row 11\) would be "),
        (
            "age",
            "regression",
            r"'age' \(numbers, except 3 cells such as '\?' in data row 11\) hold",
        ),
    ],
)
def test_a_few_text_cells_in_a_column_of_numbers_are_named(tmp_path, column, task, message):
    """One '?' in a feature column quoted the first row's value ('-0.13... are not numeric');
    a few in a numeric target made the numbers text class names, and '?' a class."""
    with pytest.raises(DataError, match=message) as error:
        load_csv(_stray_csv(tmp_path, column), target="age", task=task)
    assert "needs those rows replaced or dropped" in str(error.value)


def test_a_few_text_cells_in_a_target_are_class_names_when_said(tmp_path):
    """Numbers and a few text cells in a target may be class names: said with the task."""
    frame = pd.DataFrame({"a": np.arange(60.0), "label": ["1", "2", "?"] * 20})
    frame.to_csv(tmp_path / "labels.csv", index=False)
    with pytest.raises(DataError, match="would be read as text class names"):
        load_csv(tmp_path / "labels.csv", target="label")
    data = load_csv(tmp_path / "labels.csv", target="label", task="classification")
    assert data.class_names == ["1", "2", "?"]


def test_several_targets_in_one_string_are_shown_the_list(tmp_path):
    """`--target t1,t2` said only "is not a column"."""
    pd.DataFrame({"a": [1.0, 2.0], "t1": [0.5, 0.1], "t2": [1.5, 2.5]}).to_csv(
        tmp_path / "two.csv", index=False
    )
    with pytest.raises(
        DataError, match=r"pass a list from Python: load_csv\(path, \['t1', 't2'\]\)"
    ):
        load_csv(tmp_path / "two.csv", target="t1,t2")


def test_true_false_targets_keep_their_names(tmp_path):
    """A bool target (or the words True/False, which pandas reads as bools) was classes
    '0' and '1'."""
    frame = pd.DataFrame({"a": np.arange(30.0), "ok": [True, False, False] * 10})
    frame.to_csv(tmp_path / "bools.csv", index=False)
    data = load_csv(tmp_path / "bools.csv", target="ok")
    assert data.task == "classification" and data.class_names == ["False", "True"]
    assert sorted(set(data.y_train.tolist())) == [0, 1]


def test_integer_ids_float32_would_merge_are_refused(tmp_path):
    """A CSV column of IDs above 2**24 became float32 with exit 0: 89 distinct IDs, 69
    after loading. Large integers float32 holds exactly (multiples of 2**10) pass."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=60), "y": np.arange(60) % 2})
    frame["code"] = 2**24 + np.arange(60)  # named `uid`, it is refused as a row identifier
    frame.to_csv(tmp_path / "ids.csv", index=False)
    with pytest.raises(DataError, match=r"'code' holds whole numbers above 2\*\*24 .* \(60 dis"):
        load_csv(tmp_path / "ids.csv", target="y")
    frame["code"] = 2**30 + 1024 * np.arange(60)
    frame.to_csv(tmp_path / "exact.csv", index=False)
    assert load_csv(tmp_path / "exact.csv", target="y").x_train.shape[1] == 2


@pytest.mark.parametrize("written", ["int", "float"])
def test_timestamp_targets_float32_would_merge_are_refused_by_column(tmp_path, written):
    """Timestamps as a CSV's regression target (1.7e9 + a day's seconds, 128 s apart in
    float32) were named "y", with Python advice (`y - y.min()`) for a file. They are named
    by column, with the CSV's fix, whether written as integers or as `1700000456.0`."""
    stamps = 1_700_000_000 + np.sort(np.random.default_rng(0).choice(86400, 140, replace=False))
    frame = pd.DataFrame({"a": np.arange(140) / 7, "when": stamps})
    if written == "float":
        frame["when"] = frame["when"].astype(float)
    frame.to_csv(tmp_path / "when.csv", index=False)
    with pytest.raises(
        DataError,
        match=r"^Data file '.*when\.csv': target column 'when' holds whole numbers above 2\*\*24 "
        r".*\(140 distinct values become 128\)\. If it is a quantity \(a timestamp, a count\), "
        r"subtract an offset from the column \(e\.g\. its minimum\) and save the CSV again, "
        r"then add the offset back to the predictions\.$",
    ):
        load_csv(tmp_path / "when.csv", target="when", task="regression")


def test_fractional_timestamp_targets_float32_would_merge_are_refused_by_column(tmp_path):
    """Timestamps of a quarter of an hour with a fraction (`1700000456.5`) were taken, and
    scored against targets float32 moved by up to 64 s on a spread of 260 s: refused by
    column, with the CSV's fix."""
    stamps = 1_700_000_000.5 + np.random.default_rng(0).choice(900, 140, replace=False)
    frame = pd.DataFrame({"a": np.arange(140) / 7, "when": stamps})
    frame.to_csv(tmp_path / "when.csv", index=False)
    with pytest.raises(
        DataError,
        match=r"^Data file '.*when\.csv': target column 'when' holds values that float32, in "
        r"which a model trains, cannot keep \(140 distinct values become \d+, moved by "
        r"up to 6\d(\.\d)?, \d+% of their standard deviation\)\. Subtract an offset from "
        r"the column \(e\.g\. its minimum\) and save the CSV again, then add the offset back",
    ):
        load_csv(tmp_path / "when.csv", target="when", task="regression")


def test_timestamp_targets_without_a_task_say_the_offset_in_one_step(tmp_path):
    """Integer timestamps as the target with the task left to infer were refused as "not
    the class ids", suggesting task='regression', which then refused them as values
    float32 merges: two steps, the second only after the first was followed. The first
    refusal now says both; small whole numbers keep the plain suggestion."""
    from tunekit.cli_parser import cli_message

    stamps = 1_700_000_000 + 7 * np.arange(300)
    frame = pd.DataFrame({"a": np.arange(300) / 7, "when": stamps})
    frame.to_csv(tmp_path / "when.csv", index=False)
    offset = (
        r"if they are a quantity \(a timestamp, a count\), task='regression' after "
        r"subtracting an offset .* cannot keep them apart as they are \(300 distinct values "
        r"become 17\)"
    )
    with pytest.raises(DataError, match=r"'when' holds the whole numbers .*" + offset) as csv:
        load_csv(tmp_path / "when.csv", target="when")
    assert "--task regression after subtracting an offset" in cli_message(csv.value)
    with pytest.raises(DataError, match=r"^y holds the whole numbers .*" + offset):
        Dataset.from_arrays(np.arange(300.0)[:, None], stamps)
    with pytest.raises(DataError, match=r"or task='regression' if they are a quantity \(a c"):
        Dataset.from_arrays(np.arange(300.0)[:, None], 7 * np.arange(300) + 5)


@pytest.mark.parametrize(
    "values, message",
    [
        (1e-40 * np.arange(1, 61), r"'tiny' holds only values too small for float32, e\.g\. 1e-40"),
        (1e39 * np.arange(60), r"'tiny' holds values beyond float32's range .* 5\.9e\+40"),
    ],
)
def test_a_column_float32_loses_is_refused_by_name(tmp_path, values, message):
    """A CSV column float32 loses (all 0 or infinite in training) was refused by its index
    in the feature matrix ("x's feature (1,)"), which a CSV's user has to count out."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=60), "tiny": values, "y": np.arange(60) % 2})
    frame.to_csv(tmp_path / "lost.csv", index=False)
    with pytest.raises(DataError, match=message):
        load_csv(tmp_path / "lost.csv", target="y")
    frame["tiny"] = values * 1e-3 if values.max() > 1 else values * 1e30  # within float32
    frame.to_csv(tmp_path / "kept.csv", index=False)
    assert load_csv(tmp_path / "kept.csv", target="y").x_train.shape[1] == 2


@pytest.mark.parametrize(
    "values, said",
    [
        (
            lambda r: 1.7e9 + r.normal(0, 300, 300),
            r"'when' holds values that float32, in which a model trains, cannot keep \(\d+ "
            r"distinct values become \d+, moved by up to \d+(\.\d+)?, \d+% of their standard "
            r"deviation\)\. Subtract an offset from the column \(e\.g\. its minimum\) and save "
            r"the CSV again\.$",
        ),
        (
            lambda r: 2.0**40 + np.arange(300) % 20,
            r"'when' holds whole numbers above 2\*\*24 that float32.* \(20 distinct values become "
            r"1\)\. If it is an identifier",
        ),
    ],
    ids=["real", "whole-as-floats"],
)
def test_a_feature_column_float32_moves_is_refused_by_name(tmp_path, values, said):
    """Note 65: a CSV feature column of real values float32 moves by their spread (or of
    whole numbers written as floats that it merges) was refused by its index in the
    feature matrix ("x's column 1"), which a CSV's user has to count out."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=300), "when": values(rng), "y": np.arange(300) % 2})
    frame.to_csv(tmp_path / "when.csv", index=False)
    with pytest.raises(DataError, match=r"^Data file '.*when\.csv': feature column " + said):
        load_csv(tmp_path / "when.csv", target="y")
    frame["when"] -= frame["when"].min()  # the fix it gives
    frame.to_csv(tmp_path / "when.csv", index=False)
    assert load_csv(tmp_path / "when.csv", target="y").x_train.shape[1] == 2


def test_a_csv_not_in_utf8_is_told_how_to_save_it(tmp_path):
    """Found by a helper: a Latin-1 CSV gave pandas's codec error and no fix."""
    frame = pd.DataFrame({"longueur": [1.0, 2.0, 3.0, 4.0], "espèce": ["a", "b", "a", "b"]})
    frame.to_csv(tmp_path / "latin.csv", index=False, encoding="latin-1")
    with pytest.raises(DataError, match=r"It is not UTF-8 text: save it as UTF-8"):
        load_csv(tmp_path / "latin.csv", target="espèce")


def _regions(tmp_path, labels, feature=None):
    """60 rows `a,b,region`: `region` the first label where `a > 0`, the second elsewhere."""
    a = np.random.default_rng(0).normal(size=60)
    rows = [
        f"{a[i]:.3f},{feature if feature and i % 6 == 0 else i},{labels[int(a[i] <= 0)]}"
        for i in range(60)
    ]
    path = tmp_path / "regions.csv"
    path.write_text("a,b,region\n" + "\n".join(rows) + "\n")
    return path, int((a > 0).sum())


@pytest.mark.parametrize(
    "labels", [("NA", "EU"), ("None", "Some"), ("null", "set"), ("nan", "num"), ("N/A", "A")]
)
def test_text_labels_pandas_reads_as_missing_are_classes(tmp_path, labels):
    """A text target holding 'NA' (North America), 'None', 'null', 'nan' or 'N/A' was refused
    as missing values, with advice to drop those rows: a whole class deleted. 'NA' and
    'None' are classes; 'null', 'nan' and 'N/A', the text a missing value becomes, are
    refused as missing-value marks unless the task is said to be classification."""
    path, first = _regions(tmp_path, labels)
    said = {}
    if labels[0] in ("null", "nan", "N/A"):
        with pytest.raises(DataError, match=r'missing-value mark.*task="classification"\.'):
            load_csv(path, target="region")
        said = {"task": "classification"}
    ds = load_csv(path, target="region", validation_fraction=0.2, test_fraction=0.2, **said)
    assert ds.task == "classification" and ds.class_names == sorted(labels)
    y = np.concatenate([ds.y_train, ds.y_val, ds.y_test])
    assert int((y == ds.class_names.index(labels[0])).sum()) == first


def test_an_empty_cell_in_a_text_target_is_still_missing(tmp_path):
    path, _ = _regions(tmp_path, ("NA", "EU"))
    path.write_text(path.read_text() + "0.5,60,\n")
    with pytest.raises(DataError, match=r"column\(s\) 'region' \(1 missing\) have missing"):
        load_csv(path, target="region")


def test_text_read_as_missing_in_numbers_is_refused_saying_the_text(tmp_path):
    """A numeric target (or a feature) with 'NA' cells is missing values, as before, but the
    message says the cells held the text pandas reads as missing."""
    text = "a,b,depth\n" + "\n".join(
        f"{i},{i % 3},{'NA' if i % 5 == 0 else i * 0.5}" for i in range(40)
    )
    with pytest.raises(DataError) as e:
        load_csv(_write(tmp_path, text + "\n1,1,\n"), target="depth")
    assert "column(s) 'depth' (9 missing: 8 cells holding the text 'NA', 1 empty) have" in str(
        e.value
    )
    assert "pandas reads a cell holding the text 'NA', 'N/A', 'None'" in str(e.value)
    path, _ = _regions(tmp_path, ("x", "y"), feature="None")
    with pytest.raises(DataError) as e:
        load_csv(path, target="region")
    assert "column(s) 'b' (10 missing: cells holding the text 'None') have missing" in str(e.value)
    assert "encode them as numbers" in str(e.value)


def _cancer_frame(n=120):
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    frame = data.frame.iloc[:n, [0, 1, 2, 3]].copy()
    frame["diagnosis"] = np.where(data.target.iloc[:n] == 1, "benign", "malignant")
    return frame


@pytest.mark.parametrize(
    ("write", "column"),
    [
        # reset_index() then shuffled: 'index' holds the row numbers out of order (exit 0, a
        # feature that numbers the rows)
        (
            lambda f, p: f.reset_index().sample(frac=1, random_state=1).to_csv(p, index=False),
            "index",
        ),
        # sorted by class, numbered, shuffled, saved with its named index: a depth-1 tree on
        # 'id' alone scored 1.0 test accuracy
        (
            lambda f, p: (
                f.sort_values("diagnosis")
                .reset_index(drop=True)
                .rename_axis("id")
                .sample(frac=1, random_state=1)
                .to_csv(p)
            ),
            "id",
        ),
        # an index saved after filtering rows: gaps in the numbers
        (lambda f, p: f[f.index % 3 != 0].to_csv(p), "Unnamed: 0"),
        (
            lambda f, p: f.assign(patient_id=1000 + np.arange(len(f))).to_csv(p, index=False),
            "patient_id",
        ),
        (
            lambda f, p: f.assign(PatientId=np.arange(len(f))[::-1]).to_csv(p, index=False),
            "PatientId",
        ),
        (lambda f, p: f.assign(**{"Row No": np.arange(len(f))}).to_csv(p, index=False), "Row No"),
    ],
    ids=[
        "shuffled_index",
        "sorted_then_numbered_id",
        "filtered_index",
        "patient_id",
        "camel_id",
        "row_no",
    ],
)
def test_a_column_numbering_the_rows_is_refused_in_any_order(tmp_path, write, column):
    """Only `0..n-1` in order was refused; the same numbers shuffled, with gaps, or in an id
    column were features that told the model which row it was (a leak, exit 0)."""
    path = tmp_path / "cancer.csv"
    write(_cancer_frame(), path)
    with pytest.raises(
        DataError,
        match=rf"column '{column}' (is named as a pandas index|looks like a row identifier).*drop",
    ):
        load_csv(path, target="diagnosis")


def test_columns_named_like_ids_but_not_numbering_rows_are_features(tmp_path):
    """Not refused: an id repeated across rows (a group), a name that only ends in 'id'
    ('acid', 'valid'), and whole numbers under another name."""
    frame = _cancer_frame()
    n = len(frame)
    frame = frame.assign(
        site_id=np.arange(n) % 4, acid=np.arange(n), valid=np.arange(n) + 5, count=np.arange(n)
    )
    frame.to_csv(tmp_path / "ok.csv", index=False)
    ds = load_csv(tmp_path / "ok.csv", target="diagnosis")
    assert ds.input_shape == (8,) and ds.class_names == ["benign", "malignant"]


def test_a_semicolon_csv_with_decimal_commas_is_told_both(tmp_path):
    """A European Excel export (`;` between columns, `1,5` in numbers) was refused as rows
    longer than the header, with advice to name the extra columns, which breaks the file."""
    frame = _cancer_frame(40)
    path = tmp_path / "export.csv"
    frame.to_csv(path, index=False, sep=";", decimal=",")
    with pytest.raises(
        DataError,
        match=r"export\.csv' seems to separate its columns with ';' and to write numbers with "
        r"decimal commas.*pd\.read_csv\(path, sep=';', decimal=','\)\.to_csv\(path, index=False\)",
    ):
        load_csv(path, target="diagnosis")
    pd.read_csv(path, sep=";", decimal=",").to_csv(path, index=False)  # the fix given
    assert load_csv(path, target="diagnosis").input_shape == (4,)


@pytest.mark.parametrize("repeats", [True, False], ids=["repeated_values", "distinct_values"])
def test_a_csv_without_a_header_row_is_told_to_add_one(tmp_path, repeats):
    """Its first row of numbers was read as names: refused as names given twice (a
    1,260-character list of '0.0') or as a target not among '17.99', '10.38', ..."""
    from sklearn.datasets import load_digits

    if repeats:
        digits = load_digits()
        frame = pd.DataFrame(np.c_[digits.data[:100], digits.target[:100]])
    else:
        frame = _cancer_frame(60).assign(diagnosis=lambda f: (f.diagnosis == "benign").astype(int))
    path = tmp_path / "noheader.csv"
    frame.to_csv(path, index=False, header=False)
    last = f"c{frame.shape[1] - 1}"
    with pytest.raises(
        DataError,
        match=r"its first row looks like data, not a header: its names are values.*"
        rf"add_prefix\('c'\).*target='{last}' if the last column",
    ) as caught:
        load_csv(path, target="label")
    assert len(str(caught.value)) < 700
    pd.read_csv(path, header=None).add_prefix("c").to_csv(path, index=False)  # the fix given
    assert load_csv(path, target=last).input_shape == (frame.shape[1] - 1,)


def test_pandas_default_numeric_names_are_a_header(tmp_path):
    """`pd.DataFrame(array).to_csv(index=False)` writes the header 0, 1, ..., k-1: a header."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    pd.DataFrame(np.c_[digits.data[:200], digits.target[:200]]).to_csv(
        tmp_path / "d.csv", index=False
    )
    ds = load_csv(tmp_path / "d.csv", target="64", task="classification")
    assert ds.input_shape == (64,) and ds.num_classes == 10


def test_decimal_commas_in_a_comma_separated_file_are_told_so(tmp_path):
    """`to_csv(decimal=",", quoting=QUOTE_ALL)` gives `"637,0","0,405"`: told "not numeric,
    encode them (e.g. pandas.get_dummies)", harmful advice for numbers."""
    import csv

    frame = _cancer_frame(40)
    path = tmp_path / "quoted.csv"
    frame.to_csv(path, index=False, decimal=",", quoting=csv.QUOTE_ALL)
    with pytest.raises(DataError, match=r"hold numbers written with decimal commas") as caught:
        load_csv(path, target="diagnosis")
    assert "get_dummies" not in str(caught.value)
    pd.read_csv(path, decimal=",").to_csv(path, index=False)  # the fix given
    assert load_csv(path, target="diagnosis").input_shape == (4,)


@pytest.mark.parametrize(
    "target", ["label", "yes", "1"], ids=["target_not_a_name", "first_label", "first_value"]
)
def test_a_headerless_file_with_text_labels_is_refused_whatever_the_target(tmp_path, target):
    """`0.637,0.405,yes`: no hint unless every name was a number; and `target="yes"` (the
    first row's label, as the columns listed suggested) loaded with exit 0, one row lost."""
    rows = [f"{0.1 * i:.3f},{i % 7},{'yes' if i % 2 else 'no'}" for i in range(1, 41)]
    path = tmp_path / "nohdr.csv"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"its first row looks like data, not a header"):
        load_csv(path, target=target)


@pytest.mark.parametrize(
    "name",
    ["No", "S.No", "Sr. No.", "#", "record_no", "serial", "level_0", "Unnamed: 0.1"]
    + ["S/N", "SN", "uid", "ID#", "N°", "RowNumber"],
)
def test_serial_numbers_and_pandas_own_index_names_are_refused(tmp_path, name):
    frame = _cancer_frame(60)
    frame.insert(0, name, np.arange(1, len(frame) + 1))
    frame.to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(
        DataError, match=rf"column '{re.escape(name)}' (is named as a pandas index|looks like)"
    ):
        load_csv(tmp_path / "s.csv", target="diagnosis")


@pytest.mark.parametrize(
    ("cells", "values", "said"),
    [
        # '1.234,5': the advice decimal=',' left it text (a loop); thousands='.' for the
        # whole file read another column's 0.89 as 89 (loaded, exit 0)
        (['"1.234,5"', '"5.572"', '"987,5"'], [1234.5, 5572.0, 987.5], r"thousands \('1\.234,5'\)"),
        (['"5,891.5"', '"12,004.0"', '"7.5"'], [5891.5, 12004.0, 7.5], r"commas between thousands"),
        (['"1,234"', '"2,500"', '"3,000"'], None, r"\(the first for decimal commas, the second"),
        (['"3,5"', '"-2,1"', '"7"'], [3.5, -2.1, 7.0], r"decimal commas \('3,5'\)"),
    ],
    ids=["decimal_and_grouped", "thousands_commas", "either", "decimal"],
)
def test_numbers_written_with_commas_are_told_a_line_that_reads_them(tmp_path, cells, values, said):
    """The line given converts that column only: the file's other numbers (0.89) stay."""
    rows = [f"{cells[i % 3]},0.89,{i % 2}" for i in range(30)]
    path = tmp_path / "n.csv"
    path.write_text("a,b,y\n" + "\n".join(rows) + "\n")
    with pytest.raises(
        DataError, match=rf"feature column\(s\) \['a'\] hold numbers .*{said}"
    ) as caught:
        load_csv(path, target="y")
    line = re.search(r"pandas: (df = .*); df\.to_csv\(path, index=False\)", str(caught.value))
    assert (
        line and "e.g. '" in str(caught.value) and "," in str(caught.value).split("e.g. ")[1][:12]
    )
    if values is None:
        return
    scope = {"pd": pd, "path": path}
    exec(line.group(1) + "; df.to_csv(path, index=False)", scope)  # the advice, as given
    ds = load_csv(
        path, target="y", validation_fraction=0.0, test_fraction=0.0, task="classification"
    )
    assert np.allclose(sorted(set(ds.x_train[:, 0].tolist())), sorted(values))
    assert np.allclose(ds.x_train[:, 1], 0.89)


def test_a_semicolon_file_with_points_between_thousands_is_told_thousands_too(tmp_path):
    rows = [f"{1 + i % 4}.{234 + i:03d},{i % 10};0,{i % 9 + 1};{i % 2}" for i in range(30)]
    path = tmp_path / "de.csv"
    path.write_text("a;c;y\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"sep=';', decimal=',', thousands='\.'\)"):
        load_csv(path, target="y")
    pd.read_csv(path, sep=";", decimal=",", thousands=".").to_csv(path, index=False)
    ds = load_csv(path, target="y", validation_fraction=0.0, test_fraction=0.0)
    assert ds.x_train[:, 0].min() > 1000 and ds.x_train[:, 1].max() < 1


def test_a_target_written_with_decimal_commas_is_not_taken_for_class_names(tmp_path):
    """Ratings '1,0' .. '5,0' became 9 classes (classification, exit 0)."""
    rows = [f'{i % 7},{i % 3},"{1 + (i % 9) // 2},{5 * (i % 2)}"' for i in range(60)]
    (tmp_path / "r.csv").write_text("a,b,rating\n" + "\n".join(rows) + "\n")
    with pytest.raises(
        DataError,
        match=r"target column\(s\) \['rating'\] hold numbers written with decimal commas.*"
        r"str\.replace\(',', '\.', regex=False\)",
    ):
        load_csv(tmp_path / "r.csv", target="rating")
    ds = load_csv(tmp_path / "r.csv", target="rating", task="classification")  # names: said so
    assert "1,5" in ds.class_names


@pytest.mark.parametrize(
    "name", ["atomic_number", "mass_number", "Reynolds number", "num", "number"]
)
def test_quantities_named_number_are_features(tmp_path, name):
    """A table of elements with atomic_number 1..118 was refused as row identifiers."""
    frame = _cancer_frame(60)
    frame.insert(0, name, np.arange(1, len(frame) + 1))
    frame.to_csv(tmp_path / "q.csv", index=False)
    assert load_csv(tmp_path / "q.csv", target="diagnosis").input_shape == (5,)


def _readme_split(y: np.ndarray, classification: bool) -> dict[str, np.ndarray]:
    """The CSV split as README's "A CSV file" describes it, recomputed from that text."""
    from sklearn.model_selection import train_test_split

    n = len(y)
    if not classification:
        count = max(1, round(0.15 * n))
        rest, test = train_test_split(np.arange(n), test_size=count, random_state=0)
        train, val = train_test_split(rest, test_size=count, random_state=0)
        return {"train": train, "val": val, "test": test}
    rng = np.random.default_rng(0)
    parts: dict[str, list] = {"train": [], "val": [], "test": []}
    for label in sorted(set(y.tolist())):
        rows = rng.permutation(np.flatnonzero(y == label))
        share = max(1, round(0.15 * len(rows)))
        n_test = n_val = share
        while len(rows) - n_test - n_val < 1 and max(n_test, n_val) > 1:
            n_test, n_val = (n_test - 1, n_val) if n_test >= n_val else (n_test, n_val - 1)
        parts["test"].append(rows[:n_test])
        parts["val"].append(rows[n_test : n_test + n_val])
        parts["train"].append(rows[n_test + n_val :])
    return {k: rng.permutation(np.concatenate(v)) for k, v in parts.items()}


@pytest.mark.parametrize("classification", [True, False], ids=["classification", "regression"])
def test_the_csv_split_is_the_one_the_readme_describes(tmp_path, classification):
    # README said scikit-learn's stratified train_test_split for classification too; it is
    # tunekit's per-class NumPy shuffle (rows of a rare class in every split).
    rng = np.random.default_rng(7)
    n = 97
    y = np.repeat([0, 1, 2], [60, 30, 7]) if classification else rng.normal(size=n)
    y = rng.permutation(y)
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "y": y})
    frame.to_csv(tmp_path / "f.csv", index=False)
    data = load_csv(tmp_path / "f.csv", target="y")
    assert data.task == ("classification" if classification else "regression")
    x = pd.read_csv(tmp_path / "f.csv")[["a", "b"]].to_numpy(np.float32)
    expected = _readme_split(y, classification)
    for split, got in (("train", data.x_train), ("val", data.x_val), ("test", data.x_test)):
        np.testing.assert_array_equal(got, x[expected[split]], err_msg=split)
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    said = " ".join(readme.split())
    assert "tunekit's own stratified split, not scikit-learn's" in said
    assert "`rng = numpy.random.default_rng(0)`" in said
    assert "train_test_split` twice, with `random_state=0`" in said


@pytest.mark.parametrize(
    ("labels", "names"),
    [
        (["1"] * 60 + ["01"] * 60 + ["2"] * 60, ["01", "1", "2"]),
        (["01"] * 60 + ["02"] * 60 + ["10"] * 60, ["01", "02", "10"]),
        (["007"] * 90 + ["7"] * 90, ["007", "7"]),
    ],
    ids=["merged", "leading-zeros", "two"],
)
def test_class_codes_with_leading_zeros_are_read_as_written(tmp_path, labels, names):
    """Probe B: wine classes written `1`, `01` and `2` were read as numbers, `01` and `1`
    merged: "2 classes", and a test accuracy for a problem never posed (exit 0). Codes
    with a leading zero are labels as written, with or without the task; a regression
    target reads them as numbers; one number written two ways without a leading zero is
    refused (one class or two?)."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=len(labels)), "b": rng.normal(size=len(labels))})
    frame["cls"] = np.array(labels, dtype=object)
    frame.to_csv(tmp_path / "codes.csv", index=False)
    for task in (None, "classification"):
        data = load_csv(tmp_path / "codes.csv", target="cls", task=task)
        assert data.task == "classification" and list(data.class_names) == names
        counts = np.bincount(np.concatenate([data.y_train, data.y_val, data.y_test]))
        assert sorted(counts.tolist()) == sorted(pd.Series(labels).value_counts().tolist())
    if len({int(label) for label in labels}) > 1:  # '007' and '7' alone: one number
        assert (
            load_csv(tmp_path / "codes.csv", target="cls", task="regression").task == "regression"
        )
    frame["cls"] = np.array(["1"] * 60 + ["1.0"] * 60 + ["2"] * (len(labels) - 120), dtype=object)
    frame.to_csv(tmp_path / "ways.csv", index=False)
    with pytest.raises(
        DataError, match=r"target column 'cls' writes one number in more than one way \('1' and"
    ):
        load_csv(tmp_path / "ways.csv", target="cls")
    frame["cls"] = np.array(["2.5", "2.50", "3.25"] * (len(labels) // 3), dtype=object)
    frame.to_csv(tmp_path / "real.csv", index=False)
    assert load_csv(tmp_path / "real.csv", target="cls").task == "regression"  # a quantity


def test_a_leading_zero_among_real_values_or_spaces_is_not_a_class_code(tmp_path):
    """Probe D: three cells `01` among half-steps (0.0 .. 5.0) turned a regression target
    into 12 classes; ` 01` beside `01` was merged into one class by stripping it."""
    rng = np.random.default_rng(0)
    steps = np.round(rng.integers(0, 11, 600) / 2, 1).astype(str).astype(object)
    steps[:3] = "01"
    frame = pd.DataFrame({"a": rng.normal(size=600), "y": steps})
    frame.to_csv(tmp_path / "steps.csv", index=False)
    assert load_csv(tmp_path / "steps.csv", target="y").task == "regression"
    codes = np.array(["01", " 01", "02"] * 40, dtype=object)
    (tmp_path / "spaced.csv").write_text(
        "a,y\n" + "".join(f"{v},{c}\n" for v, c in zip(rng.normal(size=120), codes, strict=True))
    )
    with pytest.raises(DataError, match=r"differ only"):
        load_csv(tmp_path / "spaced.csv", target="y")


@pytest.mark.parametrize(
    "counter",
    [
        lambda n: np.arange(n) / 100.0,  # probe B: last column, scaled: 0.97 for chance
        lambda n: np.arange(n),  # a whole-number key, not id-named
        lambda n: 5.0 - 0.25 * np.arange(n),  # counting down
        lambda n: np.round(np.arange(n) / 3, 2),  # probe D: rounded, 0.33 and 0.34 apart
        lambda n: np.delete(np.arange(n + 60), np.arange(3, n + 60, 10))[:n],  # rows dropped
        lambda n: (
            np.arange(n) * 0.37  # probe E: each moved by up to 8% of the step
            + np.random.default_rng(1).uniform(-0.03, 0.03, n)
        ),
    ],
    ids=["scaled", "key", "down", "rounded", "gaps", "jittered"],
)
@pytest.mark.parametrize("shuffled", [False, True])
def test_a_counter_of_rows_sorted_by_the_target_is_warned_of_under_any_name(
    tmp_path, counter, shuffled
):
    """A row number given while the file was sorted by its target leaks it (probe B: 0.97
    for chance, exit 0); a year or a dose the target follows looks the same (probe D), so
    it is a warning, with both cases' advice."""
    rng = np.random.default_rng(10)
    n = 400
    frame = pd.DataFrame(rng.normal(size=(n, 3)), columns=list("abc"))
    frame["y"] = np.sort(rng.integers(0, 2, n))  # the file sorted by its target
    frame["k"] = counter(n)
    if shuffled:  # numbered while sorted, then shuffled: the counter still says the target
        frame = frame.sample(frac=1, random_state=0)
    path = tmp_path / "sorted.csv"
    frame.to_csv(path, index=False)
    with pytest.warns(UserWarning) as caught:
        load_csv(path, "y")
    (found,) = [w for w in caught if "counts the rows" in str(w.message)]
    said = str(found.message)
    assert found.filename == __file__  # the line that called load_csv (probe E: sys:1)
    assert said.startswith("column 'k' counts the rows"), said
    assert "the target 'y' is sorted in its order" in said and "drop(columns=['k'])" in said
    assert "(a year, a dose, a time), keep it" in said
    # The same counter beside labels in no order, and a counter that is the only feature
    # (y = f(x)), are data as usual.
    frame["y"] = rng.integers(0, 2, n)
    frame.to_csv(path, index=False)
    grid = pd.DataFrame({"x": counter(n), "y": np.sort(rng.integers(0, 2, n))})
    grid.to_csv(tmp_path / "grid.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_csv(path, "y").num_classes == 2
        assert load_csv(tmp_path / "grid.csv", "y").num_classes == 2


def test_bundled_tables_sorted_by_their_target_are_not_counted_rows(tmp_path):
    from sklearn.datasets import load_diabetes, load_iris, load_wine

    for load in (load_iris, load_wine, load_diabetes):  # iris and wine: sorted by class
        path = tmp_path / f"{load.__name__}.csv"
        load(as_frame=True).frame.to_csv(path, index=False)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            load_csv(path, "target")


def test_an_infinite_value_in_a_counter_is_refused_without_a_numpy_warning(tmp_path):
    """Probe E: the counter check ran on a column holding `inf` first, and NumPy's
    "invalid value encountered in subtract" came before the refusal of the value."""
    frame = pd.DataFrame({"a": np.sin(np.arange(40.0)), "b": np.arange(40.0)})
    frame["y"] = np.sort(np.arange(40) % 2)
    frame.loc[5, "b"] = np.inf
    frame.to_csv(tmp_path / "inf.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataError, match="infinit"):
            load_csv(tmp_path / "inf.csv", "y")
