"""Tasks (classification / regression) and dicts of arrays in `tunekit.data.Dataset`."""

from __future__ import annotations

import numpy as np
import pytest

from tunekit.data import Dataset
from tunekit.errors import DataError

RNG = np.random.default_rng(0)
X = RNG.random((40, 3))

INFERENCE = [
    # (y, expected task, why)
    (np.arange(40) % 4, "classification", "int class ids"),
    ((np.arange(40) % 2).astype(bool), "classification", "bool"),
    ((np.arange(40) % 3).reshape(-1, 1), "classification", "int column (n, 1)"),
    ((np.arange(40) % 3).astype(np.float64), "classification", "float ids exactly 0..K-1"),
    (RNG.random(40), "regression", "float values (n,)"),
    (RNG.random((40, 2)), "regression", "float values (n, k)"),
    (RNG.random((40, 1)), "regression", "float column (n, 1)"),
    (np.arange(40, dtype=np.float64) * 3 + 25, "regression", "whole floats, not 0..K-1"),
    (np.resize([0.0, 7.0, 9.0, 30.0], 40), "regression", "whole floats with gaps"),
]


@pytest.mark.parametrize(
    "y",
    [
        np.r_[np.ones(20), np.full(20, 2.0)],  # two class labels 1/2 saved as floats
        np.r_[np.zeros(20), np.full(20, 2.0)],  # two values with a gap
        np.arange(40, dtype=np.float64) % 3 + 1,  # 1.0..3.0
        np.full(40, 5.0),  # one value
        np.arange(40, dtype=np.float64) % 12 + 1,  # 1.0..12.0: was taken as regression
        np.arange(40, dtype=np.float64) % 15,  # 0.0..14.0: class ids, or a count?
        np.arange(40, dtype=np.float64) % 30 + 18,  # ages 18..47
    ],
    ids=["1.0/2.0", "0.0/2.0", "1.0..3.0", "constant", "1.0..12.0", "0.0..14.0", "18.0..47.0"],
)
def test_few_whole_float_values_are_refused_as_ambiguous(y):
    # Before, 1.0/2.0 (pandas writes labels so after a fillna) trained a regressor, exit 0.
    # One value is said as such: either suggestion would be refused in turn.
    said = r"one value only \(all 40 are 5\)" if np.ptp(y) == 0 else r'quantity\? Pass task="cla'
    with pytest.raises(DataError, match=said):
        Dataset.from_arrays(X, y)
    if np.ptp(y) == 0:  # one value: nothing to learn, R2 undefined (0.0 printed, exit 0)
        with pytest.raises(DataError, match=r"y_train is constant: every training target is 5"):
            Dataset.from_arrays(X, y, task="regression")
        return
    assert Dataset.from_arrays(X, y, task="regression").task == "regression"


@pytest.mark.parametrize(("y", "task", "why"), INFERENCE, ids=[c[2] for c in INFERENCE])
def test_task_is_inferred_from_the_targets(y, task, why):
    assert Dataset.from_arrays(X, y).task == task


def test_task_override_and_regression_metadata():
    y = np.arange(40) % 5  # integers, but counts to regress on
    ds = Dataset.from_arrays(X, y, task="regression", seed=3)
    assert ds.task == "regression" and ds.num_classes is None and ds.class_names == []
    assert ds.num_outputs == 1 and ds.y_train.dtype == np.float32 and ds.y_train.ndim == 1
    # Not stratified: scikit-learn's train_test_split with the seed, 6 test / 6 val of 40.
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (28, 6, 6)
    rows = np.concatenate([ds.x_train, ds.x_val, ds.x_test])
    np.testing.assert_array_equal(np.sort(rows[:, 0]), np.sort(X[:, 0].astype(np.float32)))
    assert ds.classes_missing_from_training() == []
    assert ds.summary() == (
        "arrays: 28 train / 6 validation / 6 test, input (3,), regression, 1 target"
    )
    same_as_classification = Dataset.from_arrays(X, y, seed=3)
    assert same_as_classification.task == "classification"
    assert ds.fingerprint() != same_as_classification.fingerprint()
    assert Dataset.from_arrays(X, y, task="regression", seed=3).fingerprint() == ds.fingerprint()


def test_regression_of_k_targets_keeps_their_width():
    y = RNG.random((40, 3))
    ds = Dataset.from_arrays(X, y, validation_fraction=0.25, test_fraction=0)
    assert ds.num_outputs == 3 and ds.y_val.shape == (10, 3) and len(ds.y_test) == 0
    assert ds.summary().endswith("regression, 3 targets")
    x_full, y_full = ds.train_and_validation()
    assert x_full.shape == (40, 3) and y_full.shape == (40, 3)
    # each target row still belongs to its input row
    order = np.argsort(x_full[:, 0])
    np.testing.assert_allclose(y_full[order], y[np.argsort(X[:, 0])].astype(np.float32))


def test_classification_fingerprint_is_unchanged_by_tasks():
    # Runs recorded before tasks existed must still resume: same digest as the old code.
    import hashlib

    ds = Dataset.from_arrays(X, np.arange(40) % 2)
    digest = hashlib.sha256()
    for split in ("train", "val", "test"):
        for key in (f"x_{split}", f"y_{split}"):
            arr = getattr(ds, key)
            digest.update(f"{key}:{arr.dtype.str}:{arr.shape};".encode())
            digest.update(np.ascontiguousarray(arr).reshape(-1).view(np.uint8).data)
    digest.update("\x1f".join(ds.class_names).encode())
    assert ds.fingerprint() == digest.hexdigest()[:16]


def test_dicts_of_arrays_are_split_consistently():
    n = 60
    ids = np.arange(n, dtype=np.float64)
    x = {"image": np.repeat(ids, 4).reshape(n, 2, 2), "meta": np.stack([ids, -ids], axis=1)}
    y = {"kind": (np.arange(n) % 3), "size": (ids * 0.5 + 0.25).reshape(n, 1)}
    ds = Dataset.from_arrays(x, y, task="regression", seed=1)
    assert ds.input_shape == {"image": (2, 2), "meta": (2,)}
    assert ds.num_outputs == {"kind": 1, "size": 1}
    for split in ("train", "val", "test"):
        xs, ys = getattr(ds, f"x_{split}"), getattr(ds, f"y_{split}")
        row = xs["meta"][:, 0]  # the sample id travels with every array
        np.testing.assert_array_equal(xs["image"][:, 0, 0], row)
        np.testing.assert_array_equal(xs["meta"][:, 1], -row)
        np.testing.assert_array_equal(ys["kind"], (row % 3).astype(np.float32))
        np.testing.assert_allclose(ys["size"][:, 0], row * 0.5 + 0.25)
    assert sum(len(getattr(ds, f"y_{s}")["kind"]) for s in ("train", "val", "test")) == n
    x_full, y_full = ds.train_and_validation()
    assert set(x_full) == {"image", "meta"} and len(x_full["meta"]) == len(y_full["size"])
    assert "input {'image': (2, 2), 'meta': (2,)}" in ds.summary()
    small = ds.subset(num_train=5)
    assert len(small.x_train["image"]) == 5 and small.fingerprint() != ds.fingerprint()
    renamed = Dataset.from_arrays(
        {"img": x["image"], "meta": x["meta"]}, y, task="regression", seed=1
    )
    assert renamed.fingerprint() != ds.fingerprint()  # keys are part of the digest
    with pytest.raises(ValueError, match="read-only"):
        ds.x_train["meta"][0, 0] = 1.0


def test_dict_inputs_with_class_ids_are_stratified():
    x = {"a": RNG.random((40, 2)), "b": RNG.random((40, 5))}
    ds = Dataset.from_arrays(x, np.repeat([0, 1], 20))
    assert ds.task == "classification" and ds.num_classes == 2
    assert np.bincount(ds.y_test).tolist() == [3, 3]  # round(20 * 0.15) per class


# --------------------------------------------------------------------------- .npz files


def _save(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_npz_with_real_valued_targets_is_regression(tmp_path):
    from tunekit.data import load_npz

    y = RNG.random((40, 2))
    path = _save(
        tmp_path / "flows.npz", x_train=X[:30], y_train=y[:30], x_test=X[30:], y_test=y[30:]
    )
    ds = load_npz(path, validation_size=5)
    assert ds.task == "regression" and ds.num_outputs == 2 and ds.num_classes is None
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (25, 5, 10)
    np.testing.assert_allclose(ds.y_test, y[30:].astype(np.float32))
    assert ds.summary() == (
        "flows: 25 train / 5 validation / 10 test, input (3,), regression, 2 targets"
    )


def test_npz_task_override_and_contradictions(tmp_path):
    from tunekit.data import load_npz

    ids = np.arange(40) % 4
    path = _save(
        tmp_path / "counts.npz", x_train=X[:30], y_train=ids[:30], x_test=X[30:], y_test=ids[30:]
    )
    assert load_npz(path).task == "classification"
    counts = load_npz(path, task="regression")
    assert counts.task == "regression" and counts.y_train.dtype == np.float32
    temps = _save(
        tmp_path / "temps.npz",
        x_train=X[:30],
        y_train=RNG.random(30),
        x_test=X[30:],
        y_test=RNG.random(10),
    )
    with pytest.raises(
        ValueError,
        match=r'temps\.npz.*task="classification" but y_\w+ holds '
        r'non-integer values.*task="regression"',
    ):
        load_npz(temps, task="classification")
    named = _save(
        tmp_path / "named.npz",
        x_train=X[:30],
        y_train=RNG.random(30),
        x_test=X[30:],
        y_test=RNG.random(10),
        class_names=np.array(["a", "b"]),
    )
    with pytest.raises(ValueError, match=r"it has class_names, but its targets are regression"):
        load_npz(named)


@pytest.mark.parametrize(
    "counts, fractions, message",
    [
        # Every class needs one sample per split: 3 with both fractions.
        (
            [19, 19, 2],
            {},
            r"1 class of 3 has fewer than 3 samples: '2' \(2 samples\)\. .*train, "
            r"validation and test splits",
        ),
        ([38, 1, 1], {}, r"2 classes of 3 have fewer than 3 samples: '1' \(1 sample\), '2'"),
        # Without a test split, 2 per class are enough; 1 is not.
        ([19, 19, 2], {"test_fraction": 0.0}, None),
        ([38, 1, 1], {"test_fraction": 0.0}, r"fewer than 2 samples.*train and validation"),
    ],
)
def test_classes_too_small_to_split_are_named_with_what_to_do(counts, fractions, message):
    y = np.repeat(np.arange(len(counts)), counts)
    x = np.random.default_rng(0).random((len(y), 3))
    if message is None:
        ds = Dataset.from_arrays(x, y, **fractions)
        assert sorted(np.unique(ds.y_val).tolist()) == [0, 1, 2]
        return
    with pytest.raises(DataError, match=message) as caught:
        Dataset.from_arrays(x, y, **fractions)
    assert "task='regression'" in str(caught.value)  # whole-number quantities


def test_text_labels_are_classes_as_in_a_csv(tmp_path):
    from tunekit.data import load_csv

    rng = np.random.default_rng(0)
    x = rng.random((30, 3))
    y = np.array(["emu", "cat", "dog"] * 10)
    ds = Dataset.from_arrays(x, y)
    assert (ds.task, ds.class_names, ds.num_classes) == ("classification", ["cat", "dog", "emu"], 3)
    # The same labels from a CSV get the same ids and names.
    path = tmp_path / "animals.csv"
    lines = ["a,b,c,animal"] + [f"{r[0]},{r[1]},{r[2]},{label}" for r, label in zip(x, y)]
    path.write_text("\n".join(lines) + "\n")
    assert load_csv(path, target="animal").class_names == ds.class_names
    # Labels in y_test share the encoding; object arrays and given class_names work too.
    held = rng.random((3, 3))  # test samples apart from training: shared ones are refused
    ds = Dataset.from_arrays(x, y.astype(object), x_test=held, y_test=np.array(["dog"] * 3))
    assert ds.y_test.tolist() == [1, 1, 1]
    ds = Dataset.from_arrays(x, y, class_names=["emu", "dog", "cat"], x_test=held, y_test=y[:3])
    assert ds.class_names == ["emu", "dog", "cat"]
    assert ds.y_test.tolist() == [0, 2, 1]  # emu, cat, dog in class_names' order
    with pytest.raises(DataError, match=r"not in class_names: \['emu'\]"):
        Dataset.from_arrays(x, y, class_names=["cat", "dog"])
    with pytest.raises(DataError, match=r"y holds text \(e.g. 'emu'\): regression needs numeric"):
        Dataset.from_arrays(x, y, task="regression")


def test_byte_string_labels_and_class_names_in_an_npz_are_text(tmp_path):
    """Found by a helper: labels or class_names saved as byte strings (dtype S, as h5py
    and NumPy's `astype("S")` give) were refused as "not a valid .npz file ... expected
    strings", though the same labels as str train."""
    from tunekit.data import load_npz

    rng = np.random.default_rng(0)
    names = np.array(["cat", "dog", "emu"])
    y, y_test = np.arange(60) % 3, np.arange(30) % 3
    arrays = dict(x_train=rng.random((60, 4)), x_test=rng.random((30, 4)))
    np.savez(tmp_path / "text.npz", **arrays, y_train=names[y], y_test=names[y_test])
    np.savez(
        tmp_path / "bytes.npz",
        **arrays,
        y_train=names[y].astype("S"),
        y_test=names[y_test].astype("S"),
    )
    np.savez(
        tmp_path / "names.npz", **arrays, y_train=y, y_test=y_test, class_names=names.astype("S")
    )
    text, data = load_npz(tmp_path / "text.npz"), load_npz(tmp_path / "bytes.npz")
    assert data.class_names == text.class_names == ["cat", "dog", "emu"]
    assert data.y_test.tolist() == text.y_test.tolist()
    assert load_npz(tmp_path / "names.npz").class_names == ["cat", "dog", "emu"]
    np.savez(
        tmp_path / "latin.npz",
        **arrays,
        y_train=y,
        y_test=y_test,
        class_names=np.array([b"\xe9", b"b", b"c"]),
    )
    with pytest.raises(DataError, match="byte strings that are not UTF-8"):
        load_npz(tmp_path / "latin.npz")


@pytest.mark.parametrize(
    "y",
    [
        np.where(np.arange(40) == 5, None, np.resize(["cat", "dog", "emu"], 40)).astype(object),
        np.where(np.arange(40) == 5, np.nan, np.arange(40) % 3),  # float class ids with a gap
    ],
    ids=["text_with_None", "float_ids_with_nan"],
)
def test_a_missing_label_is_named_by_its_row(y):
    # Was "y must hold integer class ids ... map labels to 0..num_classes-1": the wrong fix
    # for text labels that tunekit takes as they are once the gap is filled.
    missing = r"1 missing label\(s\) \(None, NaN or pd.NA\) at row\(s\) 5: drop"
    with pytest.raises(DataError, match=missing):
        Dataset.from_arrays(X, y)


# -- labels by value: one rule in every entry point --------------------------------------

WINE = np.random.default_rng(1).integers(3, 9, 120)  # wine qualities 3..8, every one present
WINE_X = np.random.default_rng(2).random((120, 4))


def _wine_files(tmp_path, y, y_test):
    """The same samples as a CSV (y only: a CSV has no test set) and as an .npz."""
    import pandas as pd

    frame = pd.DataFrame(WINE_X, columns=list("abcd")).assign(quality=y)
    frame.to_csv(tmp_path / "wine.csv", index=False)
    x_test = np.random.default_rng(3).random((len(y_test), 4))
    np.savez(tmp_path / "wine.npz", x_train=WINE_X, y_train=y, x_test=x_test, y_test=y_test)
    return tmp_path / "wine.csv", tmp_path / "wine.npz", x_test


@pytest.mark.parametrize("dtype", [np.int64, np.float64], ids=["int", "float"])
def test_whole_numbers_are_classes_by_value_alike_with_task_classification(tmp_path, dtype):
    """Labels 3..8 with task="classification": load_csv made classes "3".."8", while
    from_arrays and load_npz refused them even so ("class id(s) 0, 1, 2 never occur")."""
    from tunekit.data import load_csv, load_npz

    y, y_test = WINE.astype(dtype), WINE[:30][::-1].astype(dtype)
    csv, npz, x_test = _wine_files(tmp_path, y, y_test)
    names = ["3", "4", "5", "6", "7", "8"]
    arrays = Dataset.from_arrays(WINE_X, y, task="classification")
    from_csv = load_csv(csv, target="quality", task="classification")
    with_test = Dataset.from_arrays(WINE_X, y, x_test=x_test, y_test=y_test, task="classification")
    from_npz = load_npz(npz, task="classification")
    for data in (arrays, from_csv, with_test, from_npz):
        assert (data.task, data.num_classes, data.class_names) == ("classification", 6, names)
    for split in ("train", "val", "test"):  # the same split of the same samples: the same ids
        assert getattr(arrays, f"y_{split}").tolist() == getattr(from_csv, f"y_{split}").tolist()
    # Each sample's id names its value, in every split of every entry point.
    for data in (arrays, from_csv, with_test, from_npz):
        for split in ("train", "val", "test"):
            ids, x = getattr(data, f"y_{split}"), getattr(data, f"x_{split}")
            rows = {tuple(r) for r in np.float32(np.r_[WINE_X, x_test]).tolist()}
            assert {tuple(r) for r in x.tolist()} <= rows
            assert set(np.asarray(names)[ids].tolist()) <= set(names)
    assert with_test.y_test.tolist() == from_npz.y_test.tolist() == (y_test - 3).tolist()
    lookup = {tuple(r): v for r, v in zip(np.float32(WINE_X).tolist(), y.tolist(), strict=True)}
    for data in (arrays, from_csv, from_npz):
        got = [float(names[i]) for i in data.y_train.tolist()]
        assert got == [lookup[tuple(r)] for r in data.x_train.tolist()]
    # num_classes=K still says the labels are class ids as given (classes without samples).
    kept = Dataset.from_arrays(WINE_X, WINE, num_classes=9)
    assert kept.class_names == [str(i) for i in range(9)] and kept.y_train.min() >= 3


def test_whole_numbers_without_a_task_are_refused_alike_naming_both_spellings(tmp_path):
    """Before, from_arrays and load_npz said "Relabel to consecutive ids", load_csv to pass
    task='classification' (with no CLI spelling); now one message everywhere."""
    from tunekit.cli_parser import cli_message
    from tunekit.data import load_csv, load_npz

    csv, npz, x_test = _wine_files(tmp_path, WINE, WINE[:30])
    calls = {
        "from_arrays": lambda: Dataset.from_arrays(WINE_X, WINE),
        "from_arrays with y_test": lambda: Dataset.from_arrays(
            WINE_X, WINE, x_test=x_test, y_test=WINE[:30]
        ),
        "load_npz": lambda: load_npz(npz),
        "load_csv": lambda: load_csv(csv, target="quality"),
    }
    said = (
        r"holds the whole numbers 3, 4, 5, 6, 7, 8, not the class ids 0\.\.5: pass "
        r"task='classification' to take each value as a class "
        r"\(named by its value\), or task='regression'"
    )
    for name, call in calls.items():
        with pytest.raises(DataError, match=said) as caught:
            call()
        cli = cli_message(caught.value)  # the command line says the flags only
        assert "--task classification" in cli and "--task regression" in cli, (name, cli)
        assert "task='classification'" not in cli, (name, cli)


def test_a_test_label_absent_from_y_is_a_class_by_value_too(tmp_path):
    """y holds 3..7 and y_test also 8: one encoding over both (before: refused with
    task="classification" in from_arrays and load_npz)."""
    from tunekit.data import load_npz

    y = np.resize(np.arange(3, 8), 120)
    y_test = np.resize(np.arange(3, 9), 30)
    _, npz, x_test = _wine_files(tmp_path, y, y_test)
    arrays = Dataset.from_arrays(WINE_X, y, x_test=x_test, y_test=y_test, task="classification")
    from_npz = load_npz(npz, task="classification")
    for data in (arrays, from_npz):
        assert data.num_classes == 6 and data.class_names == ["3", "4", "5", "6", "7", "8"]
        assert data.y_test.tolist() == (y_test - 3).tolist()
        assert data.classes_missing_from_training() == ["8"]
    for call in (
        lambda: Dataset.from_arrays(WINE_X, y, x_test=x_test, y_test=y_test),
        lambda: load_npz(npz),
    ):
        with pytest.raises(DataError, match=r"y_test holds the whole numbers 3, .*task=.classif"):
            call()


def test_bool_labels_are_the_classes_false_and_true_in_every_entry_point(tmp_path):
    """load_csv named them "False"/"True", from_arrays and load_npz "0"/"1"."""
    from tunekit.data import load_csv, load_npz

    y = WINE % 2 == 0
    csv, npz, _ = _wine_files(tmp_path, y, y[:30])
    for data in (Dataset.from_arrays(WINE_X, y), load_npz(npz), load_csv(csv, "quality")):
        assert (data.num_classes, data.class_names) == (2, ["False", "True"])
        assert data.y_train.dtype == np.int64


@pytest.mark.slow  # a whole run, about 25 s
def test_a_run_on_labels_3_to_8_reports_the_classes_by_their_values(tmp_path):
    """End to end: from_arrays(..., task="classification") on wine qualities 3..8 (refused
    before) trains 6 outputs, and the report's confusion matrix names the classes 3..8."""
    import json

    from conftest import RUN_BUDGET

    from hypermodels import MnistDenseHyperModel
    from tunekit import CoarseToFine

    data = Dataset.from_arrays(np.float32(WINE_X), WINE, task="classification")
    run = CoarseToFine(
        MnistDenseHyperModel((4,), data.num_classes), data, directory=tmp_path, **RUN_BUDGET
    )
    run.run()
    report = json.loads((run.run_dir / "report.json").read_text())
    names = ["3", "4", "5", "6", "7", "8"]
    assert report["dataset"]["class_names"] == names
    assert report["confusion_matrix"]["class_names"] == names
    assert np.asarray(report["confusion_matrix"]["counts"]).shape == (6, 6)


def _targets(n, form, seed=0):
    """`n` regression targets of width 1 as `(n,)` ("flat") or `(n, 1)` ("column")."""
    y = np.random.default_rng(seed).random(n).astype(np.float32)
    return y if form == "flat" else y.reshape(n, 1)


@pytest.mark.parametrize(
    "train, val, test",
    [
        ("column", "flat", "flat"),
        ("flat", "column", "flat"),
        ("flat", "flat", "column"),
        ("column", "column", "flat"),
    ],
)
def test_one_target_given_flat_in_one_split_and_as_a_column_in_another_takes_trains_form(
    train, val, test
):
    # Before, y_train (n, 1) with y_val (n,) was accepted, both searches ran, and the
    # retrain failed with numpy's "must have same number of dimensions", on every rerun.
    xs = [RNG.random((n, 3)) for n in (30, 10, 10)]
    ys = [_targets(n, form, i) for i, (n, form) in enumerate(zip((30, 10, 10), (train, val, test)))]
    ds = Dataset(xs[0], ys[0], xs[1], ys[1], xs[2], ys[2], task="regression")
    shape = (1,) if train == "column" else ()
    for split, y, n in zip(("train", "val", "test"), ys, (30, 10, 10)):
        assert getattr(ds, f"y_{split}").shape == (n, *shape)
        np.testing.assert_array_equal(getattr(ds, f"y_{split}").reshape(-1), y.reshape(-1))
    _, y_full = ds.train_and_validation()
    assert y_full.shape == (40, *shape) and ds.num_outputs == 1
    np.testing.assert_array_equal(y_full.reshape(-1), np.r_[ys[0].ravel(), ys[1].ravel()])


def test_integer_counts_and_dict_outputs_of_mixed_rank_take_trains_form_too():
    counts = Dataset(
        X[:20],
        np.arange(20).reshape(20, 1),
        X[20:30],
        np.arange(10),
        X[30:],
        np.arange(10),
        task="regression",
    )
    assert (counts.y_val.shape, counts.y_test.shape) == ((10, 1), (10, 1))
    assert counts.train_and_validation()[1].shape == (30, 1)
    y = {"size": _targets(20, "column"), "kind": _targets(20, "flat")}
    y_val = {"size": _targets(10, "flat"), "kind": _targets(10, "column")}
    y_test = {"size": _targets(10, "flat"), "kind": _targets(10, "flat")}
    ds = Dataset(X[:20], y, X[20:30], y_val, X[30:], y_test, task="regression")
    assert {k: v.shape for k, v in ds.y_val.items()} == {"size": (10, 1), "kind": (10,)}
    assert {k: v.shape for k, v in ds.y_test.items()} == {"size": (10, 1), "kind": (10,)}
    full = ds.train_and_validation()[1]
    assert {k: v.shape for k, v in full.items()} == {"size": (30, 1), "kind": (30,)}
    # from_arrays: y_test takes the form of y (the training split's)
    given = Dataset.from_arrays(
        X[:30], _targets(30, "column"), x_test=X[30:], y_test=np.ones(10) * np.arange(10)
    )
    assert given.y_test.shape == (10, 1) and given.y_train.ndim == 2
    flat = Dataset.from_arrays(
        X[:30], _targets(30, "flat"), x_test=X[30:], y_test=_targets(10, "column")
    )
    assert flat.y_test.shape == (10,)


def test_targets_of_really_different_widths_stay_refused():
    with pytest.raises(DataError, match=r"differ in width \(\{'train': 2, 'val': 1, 'test': 2\}\)"):
        Dataset(
            X[:20],
            RNG.random((20, 2)),
            X[20:30],
            _targets(10, "column"),
            X[30:],
            RNG.random((10, 2)),
            task="regression",
        )


def test_a_run_on_targets_of_mixed_rank_retrains(tmp_path):
    """One short run: the retrain concatenates train (n, 1) and validation (n,)."""
    from conftest import RUN_BUDGET

    from hypermodels import DenseHyperModel
    from tunekit import CoarseToFine

    x = RNG.random((60, 3)).astype(np.float32)
    y = x.sum(axis=1)
    data = Dataset(x[:40], y[:40, None], x[40:50], y[40:50], x[50:], y[50:], task="regression")
    budget = {**RUN_BUDGET, "coarse_trials": 3, "final_epochs": 1}
    run = CoarseToFine(
        DenseHyperModel((3,), num_outputs=1, task="regression"), data, directory=tmp_path, **budget
    )
    result = run.run()
    assert np.isfinite(result.test_metrics["mse"])


def test_outputs_of_mixed_kinds_are_described_by_what_they_hold_not_as_regression():
    """Outputs `cls` (class ids) and `reg` (values) need `task="regression"`; report.md's
    data line then read "regression, targets {'cls': 1, 'reg': 1}", calling a classifier's
    class ids regression targets. Each output is described by what it holds."""
    import tensorflow as tf

    from tunekit.data import StreamData

    def y(n: int) -> dict[str, np.ndarray]:
        return {"cls": np.arange(n) % 2, "reg": RNG.normal(size=n)}

    ds = Dataset(X[:20], y(20), X[20:30], y(10), X[30:], y(10), task="regression")
    assert ds.summary().endswith(
        ", input (3,), several outputs, each as given (task='regression'): 'cls' 1 column of "
        "whole numbers 0 to 1, 'reg' 1 column"
    )
    assert "regression, targets" not in ds.summary()

    def split(n: int) -> tf.data.Dataset:
        x = RNG.random((n, 3)).astype("float32")
        targets = {"cls": np.arange(n) % 2, "reg": RNG.normal(size=n).astype("float32")}
        return tf.data.Dataset.from_tensor_slices((x, targets)).batch(8)

    stream = StreamData(split(16), split(8), split(8), fingerprint="mixed", task="regression")
    assert stream.summary().endswith(
        "several outputs, each as given (task='regression'): 'cls' 1 column, 'reg' 1 column"
    )


def test_a_constant_output_of_several_is_refused_without_a_regressions_reason():
    """A classifier output of one class in a split, beside a regression output (mixed kinds
    need task="regression"), was refused as "R2 is undefined on one (a score of 0.0 that
    means nothing)": data of several outputs get no R2, and its values are class ids."""
    y = {"cls": np.arange(20) % 2, "reg": RNG.normal(size=20)}
    y_val = {"cls": np.zeros(10), "reg": RNG.normal(size=10)}
    with pytest.raises(DataError) as caught:
        Dataset(X[:20], y, X[20:30], y_val, X[30:], y_val, task="regression")
    message = str(caught.value)
    assert message.startswith("y_val['cls'] is constant: every validation target is 0. Under ")
    # nothing is learned from a validation split: it cannot tell a model from a constant
    assert "a validation output of one value cannot tell a model from always predicting" in (
        message
    )
    assert "R2" not in message
