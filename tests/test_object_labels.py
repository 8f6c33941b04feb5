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

from tunekit.data import Dataset, load_npz
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
        lambda y: [Decimal(int(v)) for v in y],  # a list of them
        lambda y: [float(v) for v in y],  # a list of whole floats
    ],
    ids=["series", "numpy", "numpy_ints", "floats", "decimals", "fractions", "list", "list_floats"],
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
    with pytest.raises(DataError, match=r"y mixes numbers and text \(e\.g\. 0 and 'two'\)"):
        Dataset.from_arrays(wine.data, y, task="classification")


@pytest.mark.parametrize(
    "mixed",
    [
        lambda y: [*y[:-1], str(y[-1])],  # a list: NumPy made every label text
        lambda y: np.asarray([*y[:-1], str(y[-1])], dtype=object),
        lambda y: pd.Series([*y[:-1], f" {y[-1]}"]),  # a spaced copy
        lambda y: [float(v) for v in y[:-1]] + [str(y[-1])],
        lambda y: [*y[:-1], b"1"],
    ],
    ids=["list", "numpy", "series", "floats", "bytes"],
)
def test_labels_that_mix_numbers_and_text_are_refused(wine, mixed):
    """Probe A (note 68's gap): `[1, "1", 2]` as a list became the text classes '1' and
    '2' (`1` and `"1"` merged, exit 0); as an object array it was "must hold integer class
    ids (e.g. 1)", naming a valid id. Now refused by name, in every entry point, as
    scikit-learn's label encoders refuse them."""
    labels = wine.target.to_numpy().tolist()
    labels[-1] = 1
    y = mixed(labels)
    said = r"mixes numbers and text \(e\.g\. 1(\.0)? and (b?' ?1'|b'1')\)"
    with pytest.raises(DataError, match="y " + said) as info:
        Dataset.from_arrays(wine.data, y)
    assert "Give every label one type" in str(info.value)
    with pytest.raises(DataError, match="y_test " + said):
        Dataset.from_arrays(wine.data[:100], labels[:100], x_test=wine.data[100:], y_test=y[100:])
    x = wine.data.to_numpy()
    with pytest.raises(DataError, match="y_train " + said):
        Dataset(x[:60], y, x[60:120], labels[60:120], x[120:], labels[120:])
    with pytest.raises(DataError, match=r"y\['kind'\] " + said):
        Dataset.from_arrays(wine.data, {"kind": y, "other": wine.target.to_numpy()})
    with pytest.raises(DataError, match=r"y mixes bytes and text \(e\.g\. b'c1' and 'c0'\)"):
        Dataset.from_arrays(wine.data, [f"c{v}".encode() if v else f"c{v}" for v in labels])
    # Text alone, numbers alone, and text with missing values are not mixed.
    Dataset.from_arrays(wine.data, [f"c{v}" for v in labels], seed=0)
    Dataset.from_arrays(wine.data, np.asarray(labels, dtype=object), seed=0)


@pytest.mark.parametrize(
    "as_bools",
    [
        lambda y: np.asarray(y, dtype=object),  # Python bools in an object array
        lambda y: pd.Series(y, dtype=object),  # a pandas object column
        lambda y: np.asarray([np.bool_(v) for v in y], dtype=object),  # NumPy bools inside
    ],
    ids=["numpy", "series", "numpy_bools"],
)
def test_booleans_held_as_objects_are_the_classes_a_bool_array_gives(as_bools):
    """Probe C: an object array of True/False made classes named '0' and '1', where a
    NumPy bool array's are 'False' and 'True' (the report's confusion matrix, the CSV)."""
    x, target = load_wine(return_X_y=True)
    y = target == 1
    expected = Dataset.from_arrays(x, y, seed=0)
    found = Dataset.from_arrays(x, as_bools(y.tolist()), seed=0)
    assert expected.class_names == found.class_names == ["False", "True"]
    assert np.array_equal(found.y_train, expected.y_train)
    assert np.array_equal(found.y_test, expected.y_test)


def test_booleans_among_other_numbers_are_refused():
    """`True`, `2`, `0`: as numbers True is 1, so a `True` beside a `1` would be one class
    written two ways (exit 0 before, three classes '0', '1', '2')."""
    x, target = load_wine(return_X_y=True)
    y = [True if v == 1 else int(v) for v in target]
    said = r"y mixes True/False \(e\.g\. True\) with other numbers \(e\.g\. 0\)"
    for given in (np.asarray(y, dtype=object), y, tuple(y), pd.Series(y, dtype=object)):
        with pytest.raises(DataError, match=said):  # a list too: NumPy made True a 1
            Dataset.from_arrays(x, given)
    with pytest.raises(DataError, match=r"mixes True/False \(e\.g\. True\) .* \(e\.g\. 0\.0\)"):
        Dataset.from_arrays(x[:60], [True, 0.0] * 30)
    with pytest.raises(DataError, match=said.replace("y", "y_train", 1)):
        Dataset(x[:60], np.asarray(y[:60], dtype=object), x[60:120], target[60:120], x, target)


COMPLEX = r"holds complex numbers \(e\.g\. {}\); tunekit's arrays are real"


@pytest.mark.parametrize("task", [None, "classification", "regression"])
def test_complex_targets_are_refused_naming_a_complex_value(task):
    """Probe C: `[1, 1j, 2]` was refused as "must hold integer class ids (e.g. 1)", naming
    a valid id, and with task="regression" NumPy dropped the imaginary parts (exit 0)."""
    x, target = load_wine(return_X_y=True)
    y = target.astype(complex)
    y[3] = 1j
    for given in (y, y.astype(object), y.tolist()):
        with pytest.raises(DataError, match="y " + COMPLEX.format(r"1j")):
            Dataset.from_arrays(x, given, task=task)
    with pytest.raises(DataError, match=r"y_val " + COMPLEX.format(r"1j")):
        Dataset(x[:100], target[:100], x[100:140], y[:40], x[140:], target[140:], task=task)


def test_complex_features_are_refused_not_cast_to_their_real_part(tmp_path):
    """A complex x was cast to float32 with only NumPy's ComplexWarning: the imaginary
    parts, half of what the user gave, were dropped, exit 0."""
    x, target = load_wine(return_X_y=True)
    waves = x + 0.5j * x
    with pytest.raises(DataError, match=r"x " + COMPLEX.format(r"\(14\.23\+7\.115j\)")) as info:
        Dataset.from_arrays(waves, target)
    assert "np.stack([a.real, a.imag], axis=-1)" in str(info.value)
    with pytest.raises(DataError, match=r"x\['wave'\] holds complex numbers"):
        Dataset.from_arrays({"wave": waves, "plain": x}, target)
    frame = pd.DataFrame({"a": x[:, 0], "b": waves[:, 1]})
    with pytest.raises(DataError, match="x's column 'b' holds complex numbers"):
        Dataset.from_arrays(frame, target)
    frame["c"] = waves[:, 2].astype(object)
    with pytest.raises(DataError, match="x's columns 'b', 'c' hold complex numbers"):
        Dataset.from_arrays(frame, target)
    with pytest.raises(DataError, match=r"x_test holds complex numbers"):
        Dataset.from_arrays(x[:100], target[:100], x_test=waves[100:], y_test=target[100:])
    np.savez(tmp_path / "waves.npz", x_train=waves, y_train=target, x_test=x, y_test=target)
    with pytest.raises(DataError, match=r"array 'x_train' of '.*waves\.npz' holds complex"):
        load_npz(tmp_path / "waves.npz")
    np.savez(tmp_path / "real.npz", x_train=x + 0j, y_train=target, x_test=x, y_test=target)
    with pytest.raises(DataError, match=r"Pass its real part \(a\.real, for the array a\)\.$"):
        load_npz(tmp_path / "real.npz")
    # A complex dtype of real values loses nothing, but is said, with the way to pass it.
    with pytest.raises(DataError, match=r"x has a complex dtype \(complex128\) .* \(x\.real\)"):
        Dataset.from_arrays(x.astype(complex), target)


def test_booleans_in_one_split_beside_numbers_in_the_other_are_refused():
    """Probe F: True/False `y` beside integer `y_test` became the classes '0' and '1' (as
    one array they are refused: `test_booleans_among_other_numbers_are_refused`)."""
    x, target = load_wine(return_X_y=True)
    flags = (target == 1).tolist()
    said = r"{} holds True/False and {} other numbers: .* \(e\.g\. {}\.astype\(int\)\)"
    with pytest.raises(DataError, match=said.format("y", "y_test", "y")):
        Dataset.from_arrays(x[:100], flags[:100], x_test=x[100:], y_test=(target[100:] == 1) + 0)
    with pytest.raises(DataError, match=said.format("y_test", "y", "y_test")):
        Dataset.from_arrays(x[:100], (target[:100] == 1) * 1, x_test=x[100:], y_test=flags[100:])
    both = Dataset.from_arrays(x[:100], flags[:100], x_test=x[100:], y_test=flags[100:])
    assert both.class_names == ["False", "True"]


@pytest.mark.parametrize(
    "big",
    [10**20, Decimal(10**20), Decimal("1E+20")],
    ids=["int", "decimal", "decimal_exponent"],
)
def test_integer_labels_beyond_int64_are_refused_naming_that_label(wine, big):
    """Probe F: Python ints beyond int64 were refused as "must hold integer class ids, got
    dtype object (e.g. 0)", naming a valid id, and `Decimal(10**20)` among small ints
    became a float regression target with exit 0. Both are class ids no model can have."""
    x = wine.data.to_numpy(np.float32)
    y = [int(v) for v in wine.target]
    y[5] = big
    with pytest.raises(DataError, match=r"y holds integers beyond int64 \(e\.g\. 10{20}\)"):
        Dataset.from_arrays(x, y, seed=0)
    with pytest.raises(DataError, match="beyond int64"):
        Dataset.from_arrays(x, pd.Series(y, dtype=object), seed=0)
    # A real-valued target, said so: read as float64, then float32.
    data = Dataset.from_arrays(x, y, seed=0, task="regression")
    assert data.task == "regression"
    both = np.concatenate([data.y_train, data.y_val, data.y_test]).ravel()
    assert np.isclose(both.max(), 1e20, rtol=1e-6)


def test_a_decimal_nan_label_is_a_missing_label(wine):
    """Probe F: `Decimal('NaN')` (as `pd.read_sql` gives a NULL NUMERIC) was refused as
    "must hold integer class ids (e.g. Decimal('0'))", not said as a missing label as a
    float NaN is."""
    x = wine.data.to_numpy(np.float32)
    y = [Decimal(int(v)) for v in wine.target]
    y[7] = Decimal("NaN")
    for given in (y, pd.Series(y, dtype=object)):
        with pytest.raises(DataError, match=r"y has 1 missing label\(s\).* at row\(s\) 7\b"):
            Dataset.from_arrays(x, given, seed=0)


@pytest.mark.parametrize("task", [None, "classification", "regression"])
@pytest.mark.parametrize(
    "bad, said",
    [
        (
            Decimal("1.0000000000000000001"),
            r"Decimal\('1\.0000000000000000001'\), which float64 rounds to 1\.0",
        ),
        (Decimal("1E-400"), r"Decimal\('1E-400'\), which float64 rounds to 0\.0"),
        # integral: beyond int64 as a class id, beyond float64 as a target
        (
            Decimal("1E+400"),
            r"(Decimal\('1E\+400'\), which float64 cannot hold|integers beyond int64)",
        ),
    ],
    ids=["rounds_to_one", "rounds_to_zero", "beyond_float64"],
)
def test_decimals_float64_would_change_are_refused_naming_them(wine, bad, said, task):
    """Probe H: `Decimal('1.0000000000000000001')` and `Decimal('1E-400')` among `Decimal`
    ids 0, 1 became the classes 1 and 0 with exit 0 (float64 rounds them whole);
    `Decimal('1E+400')`, finite, was said to be non-finite."""
    x = wine.data.to_numpy(np.float32)
    y = [Decimal(int(v) % 2) for v in wine.target]
    y[3] = bad
    with pytest.raises(DataError, match=f"y holds {said}"):
        Dataset.from_arrays(x, y, seed=0, task=task)


def test_integers_float64_cannot_tell_apart_or_hold_are_refused_naming_them(wine):
    """Probe H, `task="regression"`: `2**64 + k` were said "constant" (float64 makes them
    one value), and `10**400` raised a bare `OverflowError`."""
    x = wine.data.to_numpy(np.float32)
    y = [2**64 + int(v) for v in wine.target]
    with pytest.raises(
        DataError, match=r"float64 cannot tell apart \(18446744073709551616 and 1844"
    ):
        Dataset.from_arrays(x, y, seed=0, task="regression")
    y = [10**400 + int(v) for v in wine.target]
    with pytest.raises(
        DataError, match=r"y holds 100000000000\.\.\. \(401 digits\), which float64"
    ):
        Dataset.from_arrays(x, y, seed=0, task="regression")
    y = [float(v) / 7 for v in wine.target]
    y[0] = 10**400
    with pytest.raises(DataError, match=r"\(401 digits\), which float64 cannot hold"):
        Dataset.from_arrays(x, y, seed=0)
