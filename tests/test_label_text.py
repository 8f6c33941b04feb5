"""Text labels spelled two ways, missing-value marks as labels, constant regression
targets and DataFrames whose columns differ between splits: refused in every entry
point before any training (each was a wrong answer with exit 0)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris

from tunekit.data import Dataset, load_csv, load_npz
from tunekit.errors import DataError


@pytest.fixture(scope="module")
def iris() -> pd.DataFrame:
    frame = load_iris(as_frame=True).frame
    frame["species"] = np.array(load_iris().target_names)[frame.pop("target")]
    return frame


def _csv(tmp_path, frame: pd.DataFrame, name: str = "data.csv") -> str:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


def _labels(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((n, 3)).astype("float32")
    return x, np.where(x[:, 0] > 0.5, "cat", "dog").astype(object)


@pytest.mark.parametrize(
    ("change", "pair"),
    [
        (lambda s: s.str.capitalize(), "'Setosa' and 'setosa'"),  # 6 classes, exit 0
        (lambda s: s.str.upper(), "'SETOSA' and 'setosa'"),
        (lambda s: "Iris  " + s, "'Iris  setosa' and 'Iris setosa'"),  # inner spaces
    ],
    ids=["capitalised", "upper", "inner_spaces"],
)
def test_csv_labels_apart_by_case_or_inner_spaces_are_refused(tmp_path, iris, change, pair):
    frame = iris.copy()
    if "Iris" in pair:
        frame["species"] = "Iris " + frame["species"]
    rows = frame.index[::7]
    frame.loc[rows, "species"] = change(iris.loc[rows, "species"])
    with pytest.raises(DataError) as info:
        load_csv(_csv(tmp_path, frame), "species")
    message = str(info.value)
    assert "target column 'species' differ only by spaces, letter case or Unicode form" in message
    assert "str.lower()" in message and "class of its own" in message
    assert pair in message


@pytest.mark.parametrize("spelling", [" cat", "Cat", "cat ", "CAT"])
def test_from_arrays_and_npz_labels_apart_by_case_or_spaces_are_refused(tmp_path, spelling):
    x, y = _labels()
    y[::4] = np.where(y[::4] == "cat", spelling, "dog")
    with pytest.raises(DataError, match="differ only by spaces, letter case or Unicode form"):
        Dataset.from_arrays(x, y.astype(str))
    ys = y.astype(str)
    path = tmp_path / "labels.npz"
    np.savez(path, x_train=x[:90], y_train=ys[:90], x_test=x[90:], y_test=ys[90:])
    with pytest.raises(DataError, match=r"y_train / y_test differ only by spaces, letter"):
        load_npz(path)


@pytest.mark.parametrize(
    ("ways", "pair"),
    [
        (["1", "1.0", "2"], "'1' and '1.0'"),  # probe D: three classes, a CSV refused them
        (["+1", "1", "2"], "'+1' and '1'"),
        (["2", "2e0", "3"], "'2' and '2e0'"),
        (["0.5", ".5", "1.5"], "'.5' and '0.5'"),
        (["-0", "0", "1"], "'-0' and '0'"),
        (["3.1", "3.10", "4"], "'3.1' and '3.10'"),  # versions: the message says to name them
    ],
)
def test_text_labels_writing_one_number_two_ways_are_refused(tmp_path, ways, pair):
    x, _ = _labels(90)
    y = np.array(ways * 30)
    with pytest.raises(DataError) as info:
        Dataset.from_arrays(x, y)
    message = str(info.value)
    assert f"write one number in more than one way ({pair})" in message, message
    assert "if they are different classes (such as versions 3.1 and 3.10)" in message
    assert "astype(float)" not in message  # which would merge real classes (probe C)
    path = tmp_path / "labels.npz"
    np.savez(path, x_train=x[:60], y_train=y[:60], x_test=x[60:], y_test=y[60:])
    with pytest.raises(DataError, match="write one number in more than one way"):
        load_npz(path)
    text = y.astype(object)
    text[1::6] = "cat"  # text beside the numbers: a column of text, checked the same
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "t": text})
    with pytest.raises(DataError, match="labels of target column 't' write one number in"):
        load_csv(_csv(tmp_path, frame), "t", task="classification")


def test_codes_and_numbers_written_one_way_are_classes():
    x, _ = _labels(90)
    assert Dataset.from_arrays(x, np.array(["01", "1", "2"] * 30)).class_names == ["01", "1", "2"]
    assert Dataset.from_arrays(x, np.array(["1", "2", "3"] * 30)).class_names == ["1", "2", "3"]
    assert Dataset.from_arrays(x, np.array(["1.5", "2", "x"] * 30)).num_classes == 3
    # Probe C: IDs of 17 digits, which float() makes one number, are compared exactly; text
    # that float() reads but is no plain number (`1_0`, `inf`) is not compared as one.
    ids = ["10000000000000000", "10000000000000001", "10000000000000002"]
    assert Dataset.from_arrays(x, np.array(ids * 30)).class_names == ids
    assert Dataset.from_arrays(x, np.array(["1_0", "10", "11"] * 30)).num_classes == 3
    assert Dataset.from_arrays(x, np.array(["inf", "Infinity", "x"] * 30)).num_classes == 3


def test_class_folders_named_as_one_number_are_two_classes(tmp_path):
    """Probe C: folders `3.1/` and `3.10/` were refused as one number written two ways; two
    folders are two classes, named apart on purpose."""
    from PIL import Image

    from tunekit.data._folder_check import list_images

    rng = np.random.default_rng(0)
    for name in ("3.1", "3.10"):
        (tmp_path / name).mkdir()
        for i in range(4):
            pixels = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / name / f"{i}.png")
    assert [path.split("/")[0] for path, _, _ in list_images(tmp_path)][::4] == ["3.1", "3.10"]


def test_labels_that_differ_as_classes_still_load(tmp_path):
    x, y = _labels(160)
    # one-letter classes may differ by case (EMNIST's 'a' and 'A'); all-symbol classes
    # ('+', '-' as in UCI credit approval) are classes
    letters = np.array(["a", "A", "b", "B"])[np.arange(160) % 4]
    assert Dataset.from_arrays(x, letters).class_names == ["A", "B", "a", "b"]
    signs = np.where(y == "cat", "+", "-")
    assert Dataset.from_arrays(x, signs).class_names == ["+", "-"]
    # NA (North America) and None (a severity level) stay classes, as the README says
    regions = np.array(["NA", "EU", "None"])[np.arange(160) % 3]
    assert Dataset.from_arrays(x, regions).class_names == ["EU", "NA", "None"]
    # class names the user declared are taken as given
    path = tmp_path / "named.npz"
    ys = np.where(y == "cat", "Cat", "cat").astype(str)
    np.savez(
        path,
        x_train=x[:120],
        y_train=ys[:120],
        x_test=x[120:],
        y_test=ys[120:],
        class_names=np.array(["Cat", "cat"]),
    )
    assert load_npz(path).class_names == ["Cat", "cat"]


@pytest.mark.parametrize("mark", ["?", "-", ".", "#", "", "nan", "NaN", "n/a", "<NA>", "null"])
def test_a_missing_value_mark_as_a_label_is_refused(tmp_path, iris, mark):
    frame = iris.copy()
    frame["species"] = frame["species"].astype(object)
    frame.loc[[3, 60, 120], "species"] = mark
    path = tmp_path / "marked.csv"
    frame.to_csv(path, index=False)
    if mark == "":  # an empty cell is pandas' NaN: the missing-values message
        with pytest.raises(DataError, match="missing"):
            load_csv(path, "species")
        return
    with pytest.raises(DataError) as info:
        load_csv(path, "species")
    message = str(info.value)
    assert f"include {mark!r} next to named classes" in message
    assert "missing-value mark" in message
    assert f"Drop those rows (e.g. df = df[df[column] != {mark!r}])" in message
    x, y = _labels()
    y[[5, 17, 29, 41]] = mark
    with pytest.raises(DataError, match="look like a missing-value mark"):
        Dataset.from_arrays(x, y.astype(str))
    # said to be a class: kept as one
    assert load_csv(path, "species", task="classification").class_names[0] == mark
    assert Dataset.from_arrays(x, y.astype(str), task="classification").num_classes == 3


@pytest.mark.parametrize("value", [2.5, 0.0])
def test_a_constant_regression_target_is_refused(tmp_path, iris, value):
    frame = iris.drop(columns="species").assign(t=value)
    with pytest.raises(
        DataError, match=rf"y_train is constant: every training target is {value:g}"
    ):
        load_csv(_csv(tmp_path, frame), "t", task="regression")
    x = np.random.default_rng(0).random((50, 2))
    two = np.stack([x[:, 0], np.full(50, value)], axis=1)
    with pytest.raises(DataError, match=r"y_train is constant in column\(s\) \[1\]"):
        Dataset.from_arrays(x, two, task="regression")
    # a varying target still loads
    assert Dataset.from_arrays(x, x[:, 0], task="regression").task == "regression"


def test_dataframe_splits_must_share_their_columns_in_order():
    rng = np.random.default_rng(0)
    train = pd.DataFrame(rng.random((200, 3)), columns=list("abc"))
    test = pd.DataFrame(rng.random((60, 3)), columns=list("abc"))
    y, y_test = (train.a > 0.5).astype(int), (test.a > 0.5).astype(int)
    with pytest.raises(
        DataError, match=r"x_test's columns differ from x's in order.*x_test\[x\.columns\]"
    ):
        Dataset.from_arrays(train, y, x_test=test[["c", "b", "a"]], y_test=y_test)
    with pytest.raises(DataError, match=r"x_test's columns differ from x's in names"):
        Dataset.from_arrays(train, y, x_test=test.set_axis(list("abd"), axis=1), y_test=y_test)
    with pytest.raises(DataError, match=r"x_val's columns differ from x_train's in order"):
        Dataset(train, y, test[["b", "a", "c"]], y_test, test, y_test)
    ds = Dataset.from_arrays(train, y, x_test=test, y_test=y_test)
    np.testing.assert_array_equal(ds.x_test[:, 0], test["a"].to_numpy("float32"))


def test_pandas_missing_values_are_named_by_row():
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.random((40, 2)), columns=["a", "b"]).astype("Float64")
    x.loc[3, "a"] = pd.NA
    with pytest.raises(DataError) as info:
        Dataset.from_arrays(x, np.arange(40) % 2)
    assert "NAType" not in str(info.value)
    assert "non-finite value(s) (NaN or inf), the first in sample 3" in str(info.value)


def test_a_constant_test_or_validation_target_is_refused():
    """A given y_test of one value trained a whole run and reported R2 0.0 [0, 0]."""
    rng = np.random.default_rng(1)
    x = rng.random((120, 3)).astype("float32")
    with pytest.raises(DataError, match=r"y_test is constant: every test target is 0\.7"):
        Dataset.from_arrays(x, x.sum(1), x_test=x[:20], y_test=np.full(20, 0.7, "float32"))
    y = x.sum(1)
    with pytest.raises(DataError, match=r"y_val is constant: every validation target is 1"):
        Dataset(
            x[:80], y[:80], x[80:100], np.ones(20, "float32"), x[100:], y[100:], task="regression"
        )


def test_each_input_s_dataframes_must_share_their_columns_in_order():
    """A model of several inputs (a dict of DataFrames) skipped the column check."""
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(rng.random((120, 3)).astype("float32"), columns=list("abc"))
    y = (frame.a > 0.5).astype(int).to_numpy()
    train, test = frame.iloc[:100], frame.iloc[100:]  # apart: shared samples are refused
    with pytest.raises(DataError, match=r"x_test\['in'\]'s columns differ from x\['in'\]'s"):
        Dataset.from_arrays(
            {"in": train}, y[:100], x_test={"in": test[["c", "b", "a"]]}, y_test=y[100:]
        )
    ds = Dataset.from_arrays({"in": train}, y[:100], x_test={"in": test}, y_test=y[100:])
    assert ds.x_test["in"][0, 0] == test.iloc[0]["a"]


@pytest.mark.parametrize("names", [("Cat", "cat", "dog"), ("cat", "cat ", "dog")])
def test_image_class_folders_apart_by_case_or_spaces_are_refused(tmp_path, names):
    from PIL import Image

    from tunekit.data import load_image_directory
    from tunekit.image_streams import image_folder_stream

    for i, name in enumerate(names):
        (tmp_path / "f" / name).mkdir(parents=True)
        for j in range(6):
            Image.new("L", (8, 8), 40 * i + j).save(tmp_path / "f" / name / f"{j}.png")
    for load in (image_folder_stream, lambda root: load_image_directory(root, (8, 8))):
        with pytest.raises(DataError) as info:
            load(tmp_path / "f")
        assert "differ only by spaces, letter case or Unicode form" in str(info.value)
        assert "Move each class's images into one folder" in str(info.value)


def test_target_dataframes_must_share_their_columns_in_order():
    """Two targets as DataFrames, the test's in another order: `t2` was scored as `t1`."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.random((80, 3)), columns=list("abc"))
    frame["t1"], frame["t2"] = frame.a * 3, frame.b * 100 + 5
    train, test = frame.iloc[:60], frame.iloc[60:]
    x, x_test = train[list("abc")], test[list("abc")]
    with pytest.raises(DataError, match=r"y_test's columns differ from y's in order"):
        Dataset.from_arrays(x, train[["t1", "t2"]], x_test=x_test, y_test=test[["t2", "t1"]])
    with pytest.raises(DataError, match=r"y_test\['o'\]'s columns differ from y\['o'\]'s in names"):
        renamed = test[["t1", "t2"]].set_axis(["t1", "z"], axis=1)
        Dataset.from_arrays(x, {"o": train[["t1", "t2"]]}, x_test=x_test, y_test={"o": renamed})
    ds = Dataset.from_arrays(x, train[["t1", "t2"]], x_test=x_test, y_test=test[["t1", "t2"]])
    np.testing.assert_allclose(ds.y_test[:, 1], test["t2"].to_numpy("float32"))


def test_a_missing_text_label_of_a_pandas_string_column_is_named_by_row():
    """pandas' `string` dtype with a pd.NA said "y must hold integer class ids"."""
    x = np.random.default_rng(4).random((60, 3)).astype("float32")
    y = pd.Series(["cat", "dog", "bird"] * 19 + ["cat", "dog", pd.NA], dtype="string")
    with pytest.raises(
        DataError, match=r"y has 1 missing label\(s\) \(None, NaN or pd.NA\) at row"
    ):
        Dataset.from_arrays(x, y)


@pytest.mark.parametrize(
    "pair", [("caf\u00e9", "cafe\u0301"), ("\uff23\uff21\uff34", "CAT")], ids=["accent", "width"]
)
def test_labels_apart_only_in_unicode_form_are_refused(pair):
    """`café` composed and decomposed, full-width `ＣＡＴ` and `CAT`: two classes, exit 0."""
    x = np.random.default_rng(5).random((60, 3)).astype("float32")
    y = np.array([pair[0], pair[1], "tea"] * 20)
    with pytest.raises(DataError, match="differ only by spaces, letter case or Unicode form"):
        Dataset.from_arrays(x, y)


@pytest.mark.parametrize("gap", [None, float("nan")])
def test_a_missing_label_in_y_test_is_named_by_row(gap):
    """`None` in a text `y_test` became the class 'None' (and NaN 'nan'), exit 0."""
    x = np.random.default_rng(6).random((30, 2)).astype("float32")
    labels = np.array(["cat", "dog"])[np.arange(30) % 2]
    y_test = labels[:10].astype(object)
    y_test[3] = gap
    with pytest.raises(DataError, match=r"y_test has 1 missing label\(s\) .* at row\(s\) 3"):
        Dataset.from_arrays(x, labels, x_test=x[:10], y_test=y_test, task="classification")


@pytest.mark.parametrize(
    ("last", "said"),
    [
        ("a", r"class_names names classes 0, 9 alike \('a' and 'a'\)"),
        ("", r"class_names\[9\] is '': every class needs a name"),
        ("  ", r"class_names\[9\] is '  ': every class needs a name"),
    ],
)
def test_class_names_that_name_two_classes_alike_or_none_are_refused(tmp_path, last, said):
    """Probe B: an `.npz` whose `class_names` named classes 0 and 9 'a' ran with exit 0,
    its confusion matrix two rows and columns labelled 'a'; a blank name loaded too."""
    from sklearn.datasets import load_digits

    from tunekit.data import Dataset, StreamData, load_npz

    x, y = load_digits(return_X_y=True)
    names = [*"abcdefghi", last]
    with pytest.raises(DataError, match=said):
        Dataset.from_arrays(x.astype("float32"), y, class_names=names, seed=0)
    path = tmp_path / "d.npz"
    np.savez(path, x_train=x[:1200], y_train=y[:1200], x_test=x[1200:], y_test=y[1200:],
             class_names=np.array(names))  # fmt: skip
    with pytest.raises(DataError, match=said):
        load_npz(path)
    parts = [x[:600], y[:600], x[600:1200], y[600:1200], x[1200:], y[1200:]]
    with pytest.raises(DataError, match=said):
        Dataset(*parts, class_names=names)
    import tensorflow as tf

    stream = tf.data.Dataset.from_tensor_slices((x[:100], y[:100])).batch(50)
    with pytest.raises(DataError, match=said):
        StreamData(stream, stream, stream, num_classes=10, class_names=names, fingerprint="d")
    assert Dataset(*parts, class_names=[*"abcdefghi", "A"]).class_names[-1] == "A"
    # Probe C: names that look alike, as the report shows them, are one name too.
    for alike in ("a ", "\uff41", "a\u200b"):  # a trailing space, a full-width 'a', zero-width
        with pytest.raises(DataError, match="names classes 0, 9 alike"):
            Dataset(*parts, class_names=[*"abcdefghi", alike])
    with pytest.raises(DataError, match=r"class_names\[9\] is '\\u200b'"):
        Dataset(*parts, class_names=[*"abcdefghi", "\u200b"])
