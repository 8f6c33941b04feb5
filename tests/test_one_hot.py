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
    xt, yt = _blobs(n=30, seed=1)  # test samples apart: shared ones are refused
    path = tmp_path / "hot.npz"
    np.savez(path, x_train=x, y_train=_one_hot(y), x_test=xt, y_test=_one_hot(yt))
    data = load_npz(path)
    assert data.label_mode == "categorical" and data.num_classes == _CLASSES
    np.testing.assert_array_equal(np.sort(data.y_test), np.sort(yt))


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
    xt, yt = _blobs(n=30, seed=1)  # test samples apart: shared ones are refused
    names = np.array(["cat", "dog", "emu"])
    path = tmp_path / "text.npz"
    np.savez(path, x_train=x, y_train=names[y], x_test=xt, y_test=names[yt])
    data = load_npz(path)
    assert list(data.class_names) == ["cat", "dog", "emu"] and data.task == "classification"
    np.testing.assert_array_equal(np.sort(data.y_test), np.sort(yt))
    np.savez(path, x_train=x, y_train=names[y], x_test=xt, y_test=yt)
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


# A hypermodel `fit` that one-hot encodes the class ids itself, as plain KerasTuner lets it,
# for any loss that takes rows: Keras's by name or object, not only a cross-entropy.
_ROW_LOSSES = {
    "categorical_hinge": "categorical_hinge",
    "kl_divergence": "kl_divergence",
    "poisson": "poisson",
    "squared_hinge": "squared_hinge",
    "mean_squared_error": "mean_squared_error",
    "categorical_crossentropy": "categorical_crossentropy",
    "smoothed_object": keras.losses.CategoricalCrossentropy(label_smoothing=0.1),
    "hinge_object": keras.losses.CategoricalHinge(),
    "hinge_function": keras.losses.categorical_hinge,
}


def _one_hot_fit(loss, classes=_CLASSES, metrics=("accuracy",)):
    """A hypermodel whose `fit` one-hot encodes `y` (and the validation labels)."""
    import keras_tuner as kt

    class OneHotFit(kt.HyperModel):
        def build(self, hp):
            model = keras.Sequential(
                [
                    keras.Input((4,)),
                    keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu"),
                    keras.layers.Dense(classes, activation="softmax"),
                ]
            )
            model.compile("adam", loss=loss, metrics=list(metrics))
            return model

        def fit(self, hp, model, x, y, validation_data=None, **kwargs):
            if validation_data is not None:
                x_val, y_val = validation_data
                validation_data = (x_val, _one_hot(y_val, classes))
            return model.fit(x, _one_hot(y, classes), validation_data=validation_data, **kwargs)

    return OneHotFit()


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("loss", list(_ROW_LOSSES.values()), ids=list(_ROW_LOSSES))
def test_an_own_fit_is_scored_on_rows_for_any_loss_that_takes_them(loss, classes):
    """Before, only a loss function of the user's own was read: a name ("categorical_hinge")
    was not, and the test set's class ids met it after the whole run (exit 1 at every
    rerun). A sparse loss takes the ids; without an own fit tunekit feeds the labels."""
    import keras_tuner as kt

    from tunekit.outputs import loss_takes_rows

    x, y = _blobs()
    data = Dataset.from_arrays(x, y % classes)
    hypermodel = _one_hot_fit(loss, classes)
    model = hypermodel.build(kt.HyperParameters())
    assert loss_takes_rows(hypermodel, model, data, data.x_test, data.y_test) is True
    sparse = _one_hot_fit("sparse_categorical_crossentropy", classes)
    model = sparse.build(kt.HyperParameters())
    assert loss_takes_rows(sparse, model, data, data.x_test, data.y_test) is False
    fed = _dense(classes, loss)  # KerasTuner's own fit: the labels as tunekit gives them
    assert loss_takes_rows(fed, fed.build(kt.HyperParameters()), data, x, y) is False


@pytest.mark.parametrize(
    "loss, classes",
    [
        ("categorical_crossentropy", 3),
        (keras.losses.CategoricalCrossentropy(label_smoothing=0.1), 2),
        ("categorical_hinge", 3),
    ],
    ids=["categorical_name", "smoothed_object_2", "hinge_name"],
)
def test_an_own_fit_that_encodes_the_ids_passes_the_label_form_check(loss, classes):
    """Before, a categorical cross-entropy was refused ("give one-hot labels"), which an
    own fit that encodes them already does: plain KerasTuner trains it."""
    from tunekit.steps.check import check_model

    x, y = _blobs()
    check_model(_one_hot_fit(loss, classes), Dataset.from_arrays(x, y % classes))


@pytest.mark.parametrize(
    "loss, metric, message",
    [
        # the labels are class ids; the rows come from the fit: say to stop encoding there
        # (it said "give the labels as class ids (np.argmax(y, axis=1))")
        (
            "categorical_hinge",
            "sparse_categorical_accuracy",
            r"sparse_categorical_accuracy.*or give the labels as class ids in your "
            r"hypermodel's fit \(no keras.utils.to_categorical there\)",
        ),
        ("sparse_categorical_crossentropy", "categorical_accuracy", r"categorical_accuracy"),
    ],
)
def test_an_own_fit_s_metric_must_take_the_form_its_loss_is_scored_in(loss, metric, message):
    """The test set is scored in the loss's form: a metric of the other form is refused."""
    from tunekit.errors import ModelCheckError
    from tunekit.steps.check import check_model

    x, y = _blobs()
    with pytest.raises(ModelCheckError, match=message):
        check_model(_one_hot_fit(loss, metrics=[metric]), Dataset.from_arrays(x, y))


_ROW_RUN = dict(
    coarse_trials=3, coarse_epochs=1, max_epochs=2, factor=2, final_epochs=1, verbose=0, seed=0
)


def _scored_as_keras_scores(run, result, data, classes):
    """The report's test loss and accuracy are Keras's `evaluate` on one-hot test rows."""
    report = json.loads((run.run_dir / "report.json").read_text())
    assert report["test_metrics"] == pytest.approx(result.test_metrics)
    model = keras.models.load_model(run.run_dir / "best_model.keras")
    rows = _one_hot(data.y_test, classes)
    evaluated = model.evaluate(data.x_test, rows, return_dict=True, verbose=0)
    assert result.test_metrics["loss"] == pytest.approx(evaluated["loss"], rel=1e-5)
    predicted = model.predict(data.x_test, verbose=0).argmax(axis=1)
    accuracy = float(np.mean(predicted == data.y_test))
    assert result.test_metrics["accuracy"] == pytest.approx(accuracy, abs=1e-6)


@pytest.mark.long
@pytest.mark.parametrize(
    "loss, classes",
    [("categorical_hinge", 3), (keras.losses.CategoricalCrossentropy(label_smoothing=0.1), 2)],
    ids=["hinge_name", "smoothed_object_2"],
)
def test_an_own_fit_with_a_keras_loss_on_rows_runs_and_is_tested_on_rows(tmp_path, loss, classes):
    """Before: the whole run, then "Incompatible shapes: [45] vs. [45,3]" at the test set
    (exit 1 at every rerun), or a refusal before training; the baseline and the finalists
    are scored too."""
    from tunekit import CoarseToFine

    x, y = _blobs(n=150)
    data = Dataset.from_arrays(x, y % classes, seed=0)
    run = CoarseToFine(
        _one_hot_fit(loss, classes), data, directory=tmp_path, project_name="rows", **_ROW_RUN
    )
    result = run.run()
    run.close()
    _scored_as_keras_scores(run, result, data, classes)


@pytest.mark.long
def test_an_own_fit_on_rows_is_tested_on_rows_under_jax(tmp_path):
    """The same under the JAX backend (a fresh interpreter: the backend is chosen at import)."""
    import os
    import subprocess
    import sys

    script = textwrap.dedent(
        f"""
        import json, keras, keras_tuner as kt, numpy as np
        from tunekit import CoarseToFine
        from tunekit.data import Dataset

        class OneHotFit(kt.HyperModel):
            def build(self, hp):
                model = keras.Sequential([keras.Input((4,)),
                    keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu"),
                    keras.layers.Dense(3, activation="softmax")])
                model.compile("adam", loss="categorical_hinge", metrics=["accuracy"])
                return model

            def fit(self, hp, model, x, y, validation_data=None, **kwargs):
                x_val, y_val = validation_data or (None, None)
                rows = lambda ids: keras.utils.to_categorical(ids, 3)
                validation = None if x_val is None else (x_val, rows(y_val))
                return model.fit(x, rows(y), validation_data=validation, **kwargs)

        rng = np.random.default_rng(0)
        y = np.arange(150) % 3
        x = rng.normal(scale=0.3, size=(150, 4)).astype("float32")
        x[:, 0] += 2.0 * y
        data = Dataset.from_arrays(x, y, seed=0)
        run = CoarseToFine(OneHotFit(), data, directory={str(tmp_path)!r}, project_name="jax",
                           **{_ROW_RUN!r})
        result = run.run()
        run.close()
        model = keras.models.load_model(run.run_dir / "best_model.keras")
        rows = keras.utils.to_categorical(data.y_test, 3)
        evaluated = model.evaluate(data.x_test, rows, return_dict=True, verbose=0)
        print(json.dumps({{"backend": keras.backend.backend(), "tested": result.test_metrics,
                          "evaluated": evaluated}}))
        """
    )
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["backend"] == "jax"
    assert out["tested"]["loss"] == pytest.approx(out["evaluated"]["loss"], rel=1e-5)
    assert out["tested"]["accuracy"] == pytest.approx(out["evaluated"]["accuracy"], abs=1e-6)
