"""One-hot labels (`keras.utils.to_categorical`), as plain KerasTuner tunes them.

Before, one-hot label arrays were refused ("pass np.argmax(y, axis=1)"), so a
model compiled with `categorical_crossentropy` (Keras's own MNIST examples)
could not be tuned with its data as it was. Now they are classes: stored as
ids for the splits, report and statistics, and given to the model as rows
(`label_mode="categorical"`). Also here: a run's data as its workers rebuild
it (`data.npz`), which lost the task, dict arrays and the label mode.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from tunekit.cv import fold_indices
from tunekit.data import Dataset, load_npz
from tunekit.errors import DataError

_CLASSES = 3


def _one_hot(labels, width=_CLASSES, dtype="float32"):
    return keras.utils.to_categorical(labels, num_classes=width).astype(dtype)


def _blobs(n=90, seed=0):
    """Features whose first column's band is the class: learnable in a few epochs."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % _CLASSES
    x = rng.normal(scale=0.3, size=(n, 4)).astype("float32")
    x[:, 0] += 2.0 * y
    return x, y


@pytest.mark.parametrize("dtype", ["float32", "uint8", "int64"])
def test_one_hot_rows_are_classes_stored_as_ids_and_given_to_the_model_as_rows(dtype):
    x, y = _blobs()
    data = Dataset.from_arrays(x, _one_hot(y, width=4, dtype=dtype), seed=0)  # class 3: no sample
    assert data.task == "classification" and data.label_mode == "categorical"
    assert data.num_classes == 4 and list(data.class_names) == ["0", "1", "2", "3"]
    for split in (data.y_train, data.y_val, data.y_test):
        assert split.ndim == 1 and split.dtype == np.int64
        assert set(np.unique(split)) == {0, 1, 2}  # stratified: every class in every split
    rows = data.model_targets(data.y_train)
    assert rows.dtype == np.float32 and rows.shape == (len(data.y_train), 4)
    np.testing.assert_array_equal(rows, _one_hot(data.y_train, width=4))
    x_all, y_all = data.train_and_validation()
    np.testing.assert_array_equal(y_all.argmax(axis=1), data.y_train_full)
    assert "4 classes (one-hot labels)" in data.summary()
    ids = Dataset.from_arrays(x, y, seed=0, num_classes=4)
    assert ids.label_mode == "int" and ids.model_targets(ids.y_train) is ids.y_train
    assert ids.fingerprint() != data.fingerprint()  # a run on either form is its own


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda x, y: Dataset.from_arrays(x, _one_hot(y), x_test=x[:9], y_test=y[:9]),
            r"y hold one-hot labels but y_test do not: give every split's labels in one form",
        ),
        (
            lambda x, y: Dataset.from_arrays(x, _one_hot(y), x_test=x, y_test=_one_hot(y, 5)),
            r"different widths \(\{'y': 3, 'y_test': 5\}\)",
        ),
        (
            lambda x, y: Dataset.from_arrays(x, _one_hot(y), num_classes=5),
            r"one-hot over 3 classes, but num_classes=5",
        ),
        (
            lambda x, y: Dataset.from_arrays(x, _one_hot(y) + _one_hot((y + 1) % 3)),
            r"rows are not one-hot.*pass task=",  # multi-hot: not one class per row
        ),
        (
            lambda x, y: Dataset(x, y, x, y, x, y, label_mode="one_hot"),
            r"label_mode must be one of \['int', 'categorical'\], got 'one_hot'",
        ),
    ],
    ids=["mixed_forms", "widths", "num_classes", "multi_hot", "label_mode"],
)
def test_one_hot_labels_that_cannot_be_classes_are_refused_by_name(call, message):
    x, y = _blobs()
    with pytest.raises(DataError, match=message):
        call(x, y)


def test_an_npz_of_one_hot_labels_loads_as_categorical(tmp_path):
    x, y = _blobs()
    path = tmp_path / "hot.npz"
    np.savez(path, x_train=x, y_train=_one_hot(y), x_test=x[:30], y_test=_one_hot(y[:30]))
    data = load_npz(path)
    assert data.label_mode == "categorical" and data.num_classes == _CLASSES
    np.testing.assert_array_equal(np.sort(data.y_test), np.sort(y[:30]))


def test_cross_validation_folds_of_one_hot_rows_are_stratified():
    _, y = _blobs(n=36)
    for _, val in fold_indices(_one_hot(y), 3, seed=0):
        assert np.bincount(y[val], minlength=_CLASSES).tolist() == [4, 4, 4]


@pytest.mark.parametrize(
    "make",
    [
        lambda x, y: Dataset.from_arrays(x, _one_hot(y)),
        lambda x, y: Dataset.from_arrays(x, x[:, 0] * 1.5 + 0.25),  # regression
        lambda x, y: Dataset.from_arrays({"a": x, "b": x[:, :2]}, {"o1": x[:, 0], "o2": x[:, 1]}),
        lambda x, y: Dataset.from_arrays({"a": x, "b": x[:, :2]}, y),
    ],
    ids=["one_hot", "regression", "dict_regression", "dict_inputs"],
)
def test_workers_rebuild_the_same_data(tmp_path, make):
    """Before, `data.npz` lost the task (a regression run's workers failed on
    "task='classification' but y_train holds non-integer values") and could
    not hold a dict of arrays (several inputs or outputs)."""
    from tunekit import CoarseToFine
    from tunekit.distribute.spec import load_spec, write_spec

    data = make(*_blobs())
    spec = write_spec(tmp_path / "workers", data, CoarseToFine, {"hypermodel": None}, {})
    _, kwargs = load_spec(spec)
    rebuilt = kwargs["data"]
    assert rebuilt.fingerprint() == data.fingerprint()
    assert (rebuilt.task, rebuilt.label_mode, rebuilt.num_classes, rebuilt.input_shape) == (
        data.task,
        data.label_mode,
        data.num_classes,
        data.input_shape,
    )


_CATEGORICAL_MODEL = """
    import keras

    def build(hp):  # categorical cross-entropy: trains on one-hot rows only
        model = keras.Sequential([
            keras.Input((4,)),
            keras.layers.Dense(hp.Int("units", 4, 16), activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ])
        model.compile(optimizer=keras.optimizers.Adam(0.05), loss="categorical_crossentropy",
                      metrics=["accuracy"])
        return model
"""


def test_the_command_line_tunes_a_categorical_model_on_one_hot_labels(tmp_path, monkeypatch):
    from tunekit.coarse_to_fine import main

    (tmp_path / "categorical.py").write_text(textwrap.dedent(_CATEGORICAL_MODEL))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    x, y = _blobs(n=120)
    x_test, y_test = _blobs(n=60, seed=1)
    np.savez("hot.npz", x_train=x, y_train=_one_hot(y), x_test=x_test, y_test=_one_hot(y_test))
    args = ["--hypermodel", "categorical:build", "--data", "hot.npz", "--directory", "runs"]
    args += ["--backend", "tensorflow", "--coarse-trials", "3", "--coarse-epochs", "2"]
    args += ["--max-epochs", "2", "--factor", "2", "--final-epochs", "3", "--no-baseline"]
    args += ["--batch-size", "16"]
    assert main(args) == 0
    run = Path("runs/categorical-build-hot")
    report = json.loads((run / "report.json").read_text())
    model = keras.models.load_model(run / "best_model.keras")
    evaluated = model.evaluate(x_test, _one_hot(y_test), return_dict=True, verbose=0)
    assert report["test_metrics"]["accuracy"] == pytest.approx(evaluated["accuracy"], abs=1e-6)
    predicted = model.predict(x_test, verbose=0).argmax(axis=1)
    counts = np.asarray(report["confusion_matrix"]["counts"])
    assert counts.trace() == (predicted == y_test).sum() and counts.sum() == len(y_test)
    assert evaluated["accuracy"] > 0.6  # it learned: labels and rows were not mixed up


def test_an_npz_of_text_labels_loads_them_as_class_names(tmp_path):
    """Arrays and CSV files took text labels; an .npz was refused ("expected numbers")."""
    x, y = _blobs()
    names = np.array(["cat", "dog", "emu"])
    path = tmp_path / "text.npz"
    np.savez(path, x_train=x, y_train=names[y], x_test=x[:30], y_test=names[y[:30]])
    data = load_npz(path)
    assert list(data.class_names) == ["cat", "dog", "emu"] and data.task == "classification"
    np.testing.assert_array_equal(np.sort(data.y_test), np.sort(y[:30]))
    np.savez(path, x_train=x, y_train=names[y], x_test=x[:30], y_test=y[:30])
    with pytest.raises(DataError, match=r"y_train hold text labels but y_test hold numbers"):
        load_npz(path)


def _dense(units, loss, activation="softmax"):
    def build(hp):
        model = keras.Sequential(
            [
                keras.Input((4,)),
                keras.layers.Dense(hp.Int("hidden", 4, 8), activation="relu"),
                keras.layers.Dense(units, activation=activation),
            ]
        )
        model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
        return model

    from tunekit._kerastuner import get_hypermodel

    return get_hypermodel(build)


@pytest.mark.parametrize(
    "labels, units, loss, activation, message",
    [
        (
            "one_hot",
            3,
            "sparse_categorical_crossentropy",
            "softmax",
            r"sparse categorical.*one-hot",
        ),
        (
            "one_hot",
            3,
            keras.losses.SparseCategoricalCrossentropy(),
            "softmax",
            r"sparse categorical.*one-hot",
        ),
        ("ids", 3, "categorical_crossentropy", "softmax", r"categorical cross-entropy.*class ids"),
        ("ids", 3, keras.losses.CategoricalCrossentropy(), "softmax", r"takes one-hot rows"),
        (
            "one_hot_2",
            1,
            "binary_crossentropy",
            "sigmoid",
            r"outputs one unit.*one-hot rows over 2",
        ),
    ],
    ids=["sparse_name", "sparse_object", "categorical_name", "categorical_object", "one_unit"],
)
def test_a_loss_or_output_that_does_not_take_the_label_form_is_refused_before_training(
    labels, units, loss, activation, message
):
    """Before, every trial failed on a shape error and the run ended with exit 1."""
    from tunekit.errors import ModelCheckError, OutputShapeError
    from tunekit.steps.check import check_model

    x, y = _blobs()
    if labels == "one_hot_2":
        y = y % 2
    targets = y if labels == "ids" else _one_hot(y, width=2 if labels == "one_hot_2" else 3)
    data = Dataset.from_arrays(x, targets)
    with pytest.raises((ModelCheckError, OutputShapeError), match=message):
        check_model(_dense(units, loss, activation), data)


def test_the_matching_losses_pass_the_check():
    from tunekit.steps.check import check_model

    x, y = _blobs()
    check_model(_dense(3, "categorical_crossentropy"), Dataset.from_arrays(x, _one_hot(y)))
    check_model(_dense(3, "sparse_categorical_crossentropy"), Dataset.from_arrays(x, y))


@pytest.mark.long
def test_the_bundled_hypermodels_take_one_hot_labels_from_the_command_line(tmp_path, monkeypatch):
    """An `.npz` of one-hot labels was accepted, then refused for every bundled
    hypermodel ("Compile it with loss='categorical_crossentropy'"), which a command-line
    user cannot do. They now compile for the labels' form (`label_mode`; `dense` and
    `toonvision-cnn` get it the same way, and compile as the next test checks)."""
    from tunekit.coarse_to_fine import main

    monkeypatch.chdir(tmp_path)
    x, y = _blobs(n=120)
    x_test, y_test = _blobs(n=60, seed=1)
    np.savez("hot.npz", x_train=x, y_train=_one_hot(y), x_test=x_test, y_test=_one_hot(y_test))
    args = ["--hypermodel", "mnist-dense", "--data", "hot.npz", "--directory", "runs"]
    args += ["--project-name"]
    args += ["hot", "--backend", "tensorflow", "--coarse-trials", "3", "--coarse-epochs", "1"]
    args += ["--max-epochs", "2", "--factor", "2", "--final-epochs", "2", "--no-baseline"]
    assert main(args) == 0
    model = keras.models.load_model(Path("runs/hot/best_model.keras"))
    assert model.loss == "categorical_crossentropy"
    report = json.loads(Path("runs/hot/report.json").read_text())
    evaluated = model.evaluate(x_test, _one_hot(y_test), return_dict=True, verbose=0)
    assert report["test_metrics"]["accuracy"] == pytest.approx(evaluated["accuracy"], abs=1e-6)


def test_the_bundled_hypermodels_compile_for_the_label_mode_and_refuse_others():
    import keras_tuner as kt

    from hypermodels import DenseHyperModel, MnistDenseHyperModel, ToonVisionCNNHyperModel

    for make in (
        lambda mode: DenseHyperModel((4,), 3, label_mode=mode),
        lambda mode: MnistDenseHyperModel((4,), 3, label_mode=mode),
        lambda mode: ToonVisionCNNHyperModel((8, 8, 1), 3, rescale=False, label_mode=mode),
    ):
        assert make("int").build(kt.HyperParameters()).loss == "sparse_categorical_crossentropy"
        assert make("categorical").build(kt.HyperParameters()).loss == "categorical_crossentropy"
        with pytest.raises(
            ValueError, match=r"`label_mode` of \w+ must be 'int' .*label_mode='one_hot'"
        ):
            make("one_hot")
