"""A `.keras` file that loads alone but with another loss or metrics than the build compiled.

Found by a new user: `keras.losses.Huber(delta=50.0)` comes back from its file with
`delta=1` (Keras's `get_config()` leaves it out), and the run reported the test loss of
the loaded file (56.66) for a model tuned and retrained with `delta=50` (1,813.05), exit 0.
The same holds for `CosineSimilarity(axis=...)` and a user's own loss whose
`get_config()` leaves out a setting.
"""

from __future__ import annotations

import json

import keras
import keras_tuner as kt
import numpy as np
import pytest
from conftest import BAYES_BUDGET
from sklearn.datasets import load_diabetes

from tunekit import CoarseToFine
from tunekit.data import Dataset
from tunekit.model_files import load_saved_model
from tunekit.steps.check import check_model

LOADS_OTHERWISE = "loads the model's .keras file, but not as the hypermodel's build makes"


@keras.saving.register_keras_serializable(package="tunekit_tests")
class ScaledError(keras.losses.Loss):
    """A user's loss whose get_config() leaves out its `scale`."""

    def __init__(self, scale=1.0, name="scaled_error", **kwargs):
        super().__init__(name=name, **kwargs)
        self.scale = scale

    def call(self, y_true, y_pred):
        return self.scale * keras.ops.mean(keras.ops.abs(y_true - y_pred), axis=-1)


LOSSES = {
    "huber": lambda: keras.losses.Huber(delta=50.0),
    "cosine": lambda: keras.losses.CosineSimilarity(axis=0),
    "own": lambda: ScaledError(scale=7.0),
    "mse": lambda: "mse",  # with a metric that comes back otherwise
}
METRICS = {"mse": lambda: ["mae", keras.metrics.CosineSimilarity(axis=0, name="cos")]}


@pytest.fixture(scope="module")
def diabetes():
    x, y = load_diabetes(return_X_y=True)
    return Dataset.from_arrays(x.astype("float32"), y.astype("float32"), seed=0)


def _hypermodel(loss, data):
    mean, std = float(data.y_train.mean()), float(data.y_train.std())

    class Regressor(kt.HyperModel):
        def build(self, hp):
            inputs = keras.Input((10,))
            hidden = keras.layers.Dense(hp.Int("units", 8, 24, step=8), activation="relu")(inputs)
            outputs = keras.layers.Rescaling(std, offset=mean)(keras.layers.Dense(1)(hidden))
            model = keras.Model(inputs, outputs)
            model.compile(
                keras.optimizers.Adam(1e-2),
                loss=LOSSES[loss](),
                metrics=METRICS.get(loss, lambda: ["mae"])(),
            )
            return model

    return Regressor()


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_a_file_that_loads_with_another_loss_is_scored_as_compiled(diabetes, tmp_path, loss):
    hypermodel = _hypermodel(loss, diabetes)
    model = hypermodel.build(kt.HyperParameters())
    model.fit(diabetes.x_train, diabetes.y_train, epochs=2, verbose=0)
    in_memory = model.evaluate(diabetes.x_test, diabetes.y_test, verbose=0, return_dict=True)
    model.save(tmp_path / "m.keras")
    alone = keras.models.load_model(tmp_path / "m.keras")
    scored = alone.evaluate(diabetes.x_test, diabetes.y_test, verbose=0, return_dict=True)
    assert scored != pytest.approx(in_memory, rel=1e-3)  # the fault's cause
    notes: list[str] = []
    loaded = load_saved_model(
        tmp_path / "m.keras", hypermodel, kt.HyperParameters, diabetes, notes=notes
    )
    again = loaded.evaluate(diabetes.x_test, diabetes.y_test, verbose=0, return_dict=True)
    assert again == pytest.approx(in_memory, rel=1e-5)
    (note,) = notes
    assert LOADS_OTHERWISE in note and "model.load_weights(path)" in note
    assert ("cos " if loss == "mse" else f"loss ({type(LOSSES[loss]()).__name__})") in note


@keras.saving.register_keras_serializable(package="tunekit_tests")
class WeightedIds(keras.losses.Loss):
    """A class-weighted sparse crossentropy whose get_config() leaves out the weights."""

    def __init__(self, weights=(1.0,) * 10, name="weighted_ids", **kwargs):
        super().__init__(name=name, **kwargs)
        self.weights = list(weights)

    def call(self, y_true, y_pred):
        ids = keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32")
        scale = keras.ops.take(keras.ops.convert_to_tensor(self.weights), ids)
        return scale * keras.losses.sparse_categorical_crossentropy(ids, y_pred)


@keras.saving.register_keras_serializable(package="tunekit_tests")
class ClassShare(keras.metrics.Mean):
    """The share of predictions of class `cls`, whose get_config() leaves out its name."""

    def __init__(self, cls=0, name="class_share", **kwargs):
        super().__init__(name=name, **kwargs)
        self.cls = cls

    def update_state(self, y_true, y_pred, sample_weight=None):
        hits = keras.ops.cast(keras.ops.argmax(y_pred, axis=-1) == self.cls, "float32")
        return super().update_state(hits, sample_weight)

    def get_config(self):
        return {}


def test_a_setting_that_matters_for_one_class_is_found_in_data_sorted_by_class(tmp_path):
    """The first 64 training samples of data saved class by class are one class, on
    which a class-weighted loss and its file's unweighted one agree."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16).astype("float32")
    order = np.argsort(y[:1200], kind="stable")  # the training split sorted by class
    data = Dataset(x[:1200][order], y[:1200][order], x[1200:1500], y[1200:1500], x[1500:], y[1500:])

    class Weighted(kt.HyperModel):
        def build(self, hp):
            model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10, "softmax")])
            weights = [1.0] * 9 + [25.0]
            metrics = ["accuracy", ClassShare(cls=9, name="share9")]
            model.compile("adam", loss=WeightedIds(weights), metrics=metrics)
            return model

    hypermodel = Weighted()
    model = hypermodel.build(kt.HyperParameters())
    in_memory = model.evaluate(data.x_test, data.y_test, verbose=0, return_dict=True)
    model.save(tmp_path / "m.keras")
    notes: list[str] = []
    loaded = load_saved_model(
        tmp_path / "m.keras", hypermodel, kt.HyperParameters, data, notes=notes
    )
    assert loaded.evaluate(data.x_test, data.y_test, verbose=0, return_dict=True) == (
        pytest.approx(in_memory, rel=1e-5)
    )
    (note,) = notes
    assert "loss (WeightedIds)" in note
    assert "its metrics are named" in note and "'share9'" in note


def test_a_file_that_loads_as_compiled_is_loaded_alone_without_a_note(diabetes, tmp_path):
    class Plain(kt.HyperModel):
        def build(self, hp):
            model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(1)])
            model.compile("adam", loss=keras.losses.Huber(delta=1.0), metrics=["mae"])
            return model

    model = Plain().build(kt.HyperParameters())
    model.save(tmp_path / "m.keras")
    notes: list[str] = []
    load_saved_model(tmp_path / "m.keras", Plain(), kt.HyperParameters, diabetes, notes=notes)
    assert notes == []


def test_a_loss_per_output_is_named_as_the_total(diabetes, tmp_path):
    """A new user's note read `loss (_DictWrapper) 11.89`: Keras's tracking wrapper of
    the dict of losses, not a loss."""
    y = {"a": diabetes.y_train, "b": diabetes.y_train / 100}

    class TwoOutputs(kt.HyperModel):
        def build(self, hp):
            inputs = keras.Input((10,))
            a = keras.layers.Dense(1, name="a")(inputs)
            b = keras.layers.Dense(1, name="b")(inputs)
            model = keras.Model(inputs, {"a": a, "b": b})
            loss = {"a": keras.losses.Huber(delta=50.0), "b": "mse"}
            model.compile("adam", loss=loss)
            return model

    data = Dataset(
        diabetes.x_train,
        y,
        diabetes.x_val,
        {"a": diabetes.y_val, "b": diabetes.y_val / 100},
        diabetes.x_test,
        {"a": diabetes.y_test, "b": diabetes.y_test / 100},
        task="regression",
    )
    model = TwoOutputs().build(kt.HyperParameters())
    model.save(tmp_path / "m.keras")
    notes: list[str] = []
    load_saved_model(tmp_path / "m.keras", TwoOutputs(), kt.HyperParameters, data, notes=notes)
    (note,) = notes
    assert "loss (total) " in note and "_DictWrapper" not in note


def test_the_check_before_training_says_so(diabetes):
    note = check_model(_hypermodel("huber", diabetes), diabetes)
    assert note is not None and LOADS_OTHERWISE in note and "loss (Huber)" in note


def test_a_run_reports_the_test_loss_it_was_tuned_on(diabetes, tmp_path):
    run = CoarseToFine(
        _hypermodel("huber", diabetes),
        diabetes,
        directory=tmp_path,
        project_name="p",
        seed=0,
        **BAYES_BUDGET,
    )
    result = run.run()
    report = json.loads((result.run_dir / "report.json").read_text())
    model = keras.models.load_model(result.run_dir / "best_model.keras")
    predicted = model.predict(diabetes.x_test, verbose=0)
    y = diabetes.y_test.reshape(-1, 1)
    huber = float(keras.losses.Huber(delta=50.0)(y, predicted))
    assert float(keras.losses.Huber(delta=1.0)(y, predicted)) != pytest.approx(huber, rel=1e-3)
    assert report["test_metrics"]["loss"] == pytest.approx(huber, rel=1e-4)
    assert result.test_metrics["loss"] == pytest.approx(huber, rel=1e-4)
    assert LOADS_OTHERWISE in report["model_file_note"]
    assert report["test_metrics"]["mae"] == pytest.approx(
        float(np.mean(np.abs(y - predicted))), rel=1e-4
    )


def _sorted_digits():
    """Digits with the training split sorted by class (the first batches are all zeros)."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16).astype("float32")
    order = np.argsort(y[:1200], kind="stable")
    return x[:1200][order], y[:1200][order], x[1200:1500], y[1200:1500], x[1500:], y[1500:]


class _Weighted(kt.HyperModel):
    def build(self, hp):
        model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10, "softmax")])
        model.compile("adam", loss=WeightedIds([1.0] * 9 + [25.0]), metrics=["accuracy"])
        return model


def test_a_stream_is_scored_as_compiled_where_its_first_batch_shows_no_difference(tmp_path):
    """A stream's drift samples are its first batch: data sorted by class gives one class
    there, on which the class-weighted loss and its file's unweighted one agree. The
    test loss is still the build's."""
    import tensorflow as tf

    from tunekit.data import StreamData

    x, y, xv, yv, xt, yt = _sorted_digits()
    batches = [tf.data.Dataset.from_tensor_slices(s).batch(64) for s in ((x, y), (xv, yv))]
    data = StreamData(
        *batches,
        tf.data.Dataset.from_tensor_slices((xt, yt)).batch(64),
        fingerprint="digits-sorted",
        task="classification",
        num_classes=10,
    )
    model = _Weighted().build(kt.HyperParameters())
    model.fit(x, y, epochs=1, verbose=0)
    in_memory = model.evaluate(xt, yt, verbose=0, return_dict=True)
    model.save(tmp_path / "m.keras")
    alone = keras.models.load_model(tmp_path / "m.keras").evaluate(xt, yt, verbose=0)
    assert alone[0] != pytest.approx(in_memory["loss"], rel=1e-3)  # the fault's cause
    loaded = load_saved_model(tmp_path / "m.keras", _Weighted(), kt.HyperParameters, data)
    scored = loaded.evaluate(xt, yt, verbose=0, return_dict=True)
    assert scored == pytest.approx(in_memory, rel=1e-5)


def test_a_build_that_makes_other_layers_leaves_the_file_model(tmp_path):
    """A build whose layers depend on more than its hyperparameters (here it alternates
    its activation) cannot stand for the file's model: the file's model is what was
    trained, and a second build that predicts otherwise than the first says so."""
    x, y, xv, yv, xt, yt = _sorted_digits()
    data = Dataset(x, y, xv, yv, xt, yt)
    calls = []

    class Drifting(kt.HyperModel):
        def build(self, hp):
            calls.append(1)
            activation = "relu" if len(calls) % 2 else "tanh"
            model = keras.Sequential(
                [keras.Input((64,)), keras.layers.Dense(16, activation), keras.layers.Dense(10)]
            )
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            model.compile("adam", loss=loss, metrics=["accuracy"])
            return model

    model = Drifting().build(kt.HyperParameters())
    model.fit(x, y, epochs=1, verbose=0)
    in_memory = model.evaluate(xt, yt, verbose=0, return_dict=True)
    model.save(tmp_path / "m.keras")
    notes: list[str] = []
    loaded = load_saved_model(
        tmp_path / "m.keras", Drifting(), kt.HyperParameters, data, notes=notes
    )
    assert len(calls) == 3  # rebuilt twice, unlike each other: left, and said
    (note,) = notes
    assert "does not make the saved model again: its predictions differ from the file's" in note
    assert "second build predicts otherwise than the first" in note
    scored = loaded.evaluate(xt, yt, verbose=0, return_dict=True)
    assert scored == pytest.approx(in_memory, rel=1e-5)
    predicted = model.predict(xt, verbose=0)
    np.testing.assert_allclose(loaded.predict(xt, verbose=0), predicted, rtol=1e-5)


def test_a_build_that_cannot_take_its_files_weights_is_said(tmp_path):
    """A new user's build drew its width with Python's random: the file's model was tested
    (right), with no note that build(hp) + load_weights cannot restore it."""
    x, y, xv, yv, xt, yt = _sorted_digits()
    calls = []

    class Widths(kt.HyperModel):
        def build(self, hp):
            calls.append(1)
            width = 16 if len(calls) % 2 else 32
            model = keras.Sequential(
                [keras.Input((64,)), keras.layers.Dense(width), keras.layers.Dense(10)]
            )
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            model.compile("adam", loss=loss, metrics=["accuracy"])
            return model

    model = Widths().build(kt.HyperParameters())
    model.save(tmp_path / "m.keras")
    notes: list[str] = []
    data = Dataset(x, y, xv, yv, xt, yt)
    loaded = load_saved_model(tmp_path / "m.keras", Widths(), kt.HyperParameters, data, notes=notes)
    assert loaded.layers[0].units == 16  # the file's
    (note,) = notes
    assert "does not make the saved model again: it cannot take the file's weights" in note
    assert "Make build(hp) depend on hp alone" in note


@keras.saving.register_keras_serializable(package="tunekit_tests")
class Scale(keras.layers.Layer):
    """A user's layer whose get_config() leaves out its tuned `factor`."""

    def __init__(self, factor=1.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable}


class _Scaled(kt.HyperModel):
    def build(self, hp):
        inputs = keras.Input((64,))
        hidden = keras.layers.Dense(hp.Int("units", 8, 24, step=8), activation="relu")(inputs)
        hidden = Scale(hp.Choice("factor", [-1.0, -2.0]))(hidden)
        model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(hidden))
        model.compile("adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model


def test_a_layer_that_loads_with_another_setting_is_scored_as_built(tmp_path):
    """Found by a new user: the file of a model with a layer whose get_config() leaves out
    its tuned factor predicts with factor 1.0 (accuracy 0.0), where the model trained
    with factor -2.0 (0.48); the run reported the file's with exit 0."""
    x, y, xv, yv, xt, yt = _sorted_digits()
    data = Dataset(x, y, xv, yv, xt, yt)
    hp = kt.HyperParameters()
    hp.Fixed("factor", -2.0)
    model = _Scaled().build(hp)
    model.fit(x, y, epochs=2, verbose=0)
    in_memory = model.evaluate(xt, yt, verbose=0, return_dict=True)
    model.save(tmp_path / "m.keras")
    alone = keras.models.load_model(tmp_path / "m.keras").evaluate(xt, yt, verbose=0)
    assert alone[0] != pytest.approx(in_memory["loss"], rel=1e-3)  # the fault's cause
    notes: list[str] = []
    loaded = load_saved_model(tmp_path / "m.keras", _Scaled(), lambda: hp, data, notes=notes)
    scored = loaded.evaluate(xt, yt, verbose=0, return_dict=True)
    assert scored == pytest.approx(in_memory, rel=1e-5)
    (note,) = notes
    assert LOADS_OTHERWISE in note and "its predictions differ by up to" in note
    assert "(your layers: Scale)" in note and "compile the loaded model again" not in note


def test_the_check_before_training_says_a_layer_loads_with_another_setting():
    x, y, xv, yv, xt, yt = _sorted_digits()
    note = check_model(_Scaled(), Dataset(x, y, xv, yv, xt, yt))
    assert note is not None and LOADS_OTHERWISE in note and "Scale" in note


def test_a_run_reports_the_model_it_trained_when_a_layer_drops_a_setting(tmp_path):
    """The new user's run: report.json's test metrics and the result's are the model
    trained (rebuilt with the file's weights), not the file's with factor 1.0."""
    x, y, xv, yv, xt, yt = _sorted_digits()
    data = Dataset(x, y, xv, yv, xt, yt)
    run = CoarseToFine(
        _Scaled(), data, directory=tmp_path, project_name="p", seed=0, **BAYES_BUDGET
    )
    result = run.run()
    report = json.loads((result.run_dir / "report.json").read_text())
    model = _Scaled().build(result.best_hyperparameters)
    model.load_weights(result.run_dir / "best_model.keras")
    trained = model.evaluate(xt, yt, verbose=0, return_dict=True)
    assert report["test_metrics"] == pytest.approx(trained, rel=1e-5)
    assert result.test_metrics == pytest.approx(trained, rel=1e-5)
    assert "(your layers: Scale)" in report["model_file_note"]
    (final,) = run.get_best_models()
    assert final.evaluate(xt, yt, verbose=0, return_dict=True) == pytest.approx(trained, rel=1e-5)
