"""Classifier outputs: their shape against the data, and the classes they predict."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from tunekit import plots
from tunekit.outputs import (
    check_output_shape,
    model_output_shape,
    predict_classes,
    predicted_classes,
    uses_logits,
)

# --------------------------------------------------------------------------- predicted classes


@pytest.mark.parametrize(
    "outputs, kwargs, expected",
    [
        ([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], {}, [0, 2]),  # softmax
        ([[2.0, -1.0, 5.0], [-3.0, 4.0, 0.0]], {}, [2, 1]),  # logits
        ([[0.2], [0.7], [0.5], [0.51]], {}, [0, 1, 0, 1]),  # one sigmoid unit, (n, 1)
        ([0.2, 0.7, 0.9], {}, [0, 1, 1]),  # one sigmoid unit, (n,)
        ([[0.2], [0.7]], {"from_logits": True}, [1, 1]),  # logits: class 1 above 0
        ([[-0.3], [0.2], [-2.0]], {}, [0, 1, 0]),  # outside [0, 1]: can only be logits
        ([[3.0], [0.8]], {"from_logits": False}, [1, 1]),
        ([[0, 1], [1, 0]], {}, [1, 0]),  # one-hot labels
        ([2, 0, 1], {}, [2, 0, 1]),  # class ids stay as they are
    ],
)
def test_predicted_classes_for_every_output_layout(outputs, kwargs, expected):
    got = predicted_classes(np.asarray(outputs), **kwargs)
    assert got.dtype == np.int64 and got.tolist() == expected


def test_predicted_classes_refuses_other_ranks():
    with pytest.raises(ValueError, match=r"shape \(2, 3, 4\): expected \(n, num_classes\)"):
        predicted_classes(np.zeros((2, 3, 4)))


def _binary(activation, loss):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation=activation)])
    model.compile(optimizer="adam", loss=loss)
    model.set_weights([np.array([[2.0], [-1.0], [0.5]]), np.array([-0.2])])
    return model


@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
@pytest.mark.parametrize(
    "activation, loss, logits",
    [
        ("sigmoid", "binary_crossentropy", False),
        ("sigmoid", keras.losses.BinaryCrossentropy(), False),
        (None, keras.losses.BinaryCrossentropy(from_logits=True), True),
        (None, "mse", False),  # a named loss takes probabilities
        (None, keras.losses.binary_crossentropy, False),  # so does Keras's function
    ],
)
def test_uses_logits_reads_the_model_and_survives_saving(tmp_path, activation, loss, logits):
    model = _binary(activation, loss)
    assert uses_logits(model) is logits
    model.save(tmp_path / "m.keras")
    assert uses_logits(keras.models.load_model(tmp_path / "m.keras")) is logits


def test_uses_logits_from_the_last_activation_when_not_compiled():
    assert uses_logits(keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])) is True
    sigmoid = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    assert uses_logits(sigmoid) is False


@pytest.mark.parametrize("activation", ["tanh", "softsign"])
def test_a_tanh_unit_loaded_without_its_loss_is_read_by_its_sign(tmp_path, activation):
    """A tanh unit trained with a hinge loss, loaded with compile=False, was read as a
    probability at 0.5: accuracy 0.45 where its own report (by sign) said 0.83."""
    x = np.random.default_rng(0).normal(size=(200, 3)).astype("float32")
    model = _binary(activation, "squared_hinge")
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", compile=False)
    assert uses_logits(loaded) is True
    scores = loaded.predict(x, verbose=0)[:, 0]
    assert ((scores > 0) != (scores > 0.5)).any()  # the two readings differ here
    np.testing.assert_array_equal(predict_classes(loaded, x), (scores > 0).astype(int))
    np.testing.assert_array_equal(predict_classes(model, x), (scores > 0).astype(int))


@pytest.mark.parametrize(
    "activation, loss",
    [
        ("sigmoid", "binary_crossentropy"),
        (None, keras.losses.BinaryCrossentropy(from_logits=True)),
    ],
)
def test_confusion_matrix_of_a_one_unit_model_matches_sklearn(activation, loss):
    x = np.random.default_rng(0).normal(size=(200, 3)).astype("float32")
    model = _binary(activation, loss)
    scores = model.predict(x, verbose=0)
    probability = scores if activation else 1 / (1 + np.exp(-scores))
    y_true = (x[:, 0] > 0).astype(int)  # close to, not exactly, what the model separates
    expected = sk_confusion_matrix(y_true, (probability[:, 0] > 0.5).astype(int))
    y_pred = predict_classes(model, x)
    assert 0 < y_pred.sum() < len(y_pred)  # both classes predicted (argmax gave all 0)
    np.testing.assert_array_equal(sk_confusion_matrix(y_true, y_pred), expected)
    # The plot reads the same outputs the same way, given classes or raw (n, 1) outputs.
    for predictions in (y_pred, scores if activation else None):
        if predictions is None:
            continue
        ax = plots.confusion_matrix(y_true, predictions, ["a", "b"]).axes[0]
        counts = np.array([int(t.get_text()) for t in ax.texts]).reshape(2, 2)
        np.testing.assert_array_equal(counts, expected)


# --------------------------------------------------------------------------- output shape


@pytest.mark.parametrize(
    "shape, num_classes",
    [((None, 10), 10), ((None, 3), 3), ((None, 1), 2), ((None,), 2), ((None, 2), 2)],
)
def test_output_shapes_that_fit(shape, num_classes):
    check_output_shape(shape, num_classes)


@pytest.mark.parametrize(
    "shape, num_classes, message",
    [
        ((None, 5), 10, r"outputs 5 units per sample but the data has 10 classes.*Dense\(10\)"),
        ((None, 1), 3, r"outputs 1 unit per sample but the data has 3 classes.*only fits 2"),
        ((None,), 3, r"outputs 1 unit per sample but the data has 3 classes"),
        ((None, 10), 20, r"outputs 10 units per sample but the data has 20 classes"),
        ((None, 3), 2, r"3 units .* 2 classes.*or Dense\(1, activation='sigmoid'\)"),
        ((None, 28, 10), 10, r"outputs shape \(None, 28, 10\).*flatten or pool"),
    ],
)
def test_output_shapes_that_do_not_fit(shape, num_classes, message):
    with pytest.raises(ValueError, match=message):
        check_output_shape(shape, num_classes)


def test_model_output_shape_of_eager_lazy_and_multi_output_models():
    eager = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5)])
    assert model_output_shape(eager) == (None, 5)
    lazy = keras.Sequential([keras.layers.Dense(7)])  # no Input: built on its first batch
    assert model_output_shape(lazy) is None  # nothing to run it on: unknown, no crash
    assert model_output_shape(lazy, np.zeros((2, 4), "float32")) == (None, 7)
    inputs = keras.Input((4,))
    two = keras.Model(inputs, [keras.layers.Dense(2)(inputs), keras.layers.Dense(3)(inputs)])
    assert model_output_shape(two) is None
    broken = keras.Sequential([keras.layers.Reshape((5,)), keras.layers.Dense(3)])
    assert model_output_shape(broken, np.zeros((2, 4), "float32")) is None  # cannot run: unknown


def _build(width, *, with_input=True, activation="softmax"):
    def build(hp):
        layers = [
            keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu"),
            keras.layers.Dense(width, activation=activation),
        ]
        model = keras.Sequential([keras.Input((6,)), *layers] if with_input else layers)
        model.compile(
            optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
        )
        return model

    return build


def test_workflow_refuses_a_model_that_does_not_fit_before_any_trial(tmp_path):
    from tunekit import CoarseToFine, Dataset

    data = Dataset.from_arrays(np.random.default_rng(0).random((60, 6)), np.arange(60) % 4)
    for build in (_build(3), _build(1, activation="sigmoid"), _build(5, with_input=False)):
        run = CoarseToFine(build, data, directory=tmp_path, project_name="wrong", verbose=0)
        with pytest.raises(
            ValueError,
            match=r"`hypermodel` .* outputs \d units? per sample but "
            r"the data has 4 classes",
        ):
            run.run()
        assert not (tmp_path / "wrong").exists()  # nothing written: no trial, no manifest
    for build in (_build(4), _build(4, with_input=False)):  # fits, eager or lazily built
        CoarseToFine(build, data, directory=tmp_path, project_name="right").check_model()


def test_a_refused_model_leaves_nothing_that_blocks_the_corrected_run(tmp_path):
    from hypermodels import MnistDenseHyperModel
    from tunekit import CoarseToFine, Dataset

    data = Dataset.from_arrays(np.random.default_rng(0).random((60, 6)), np.arange(60) % 3)
    budget = dict(
        directory=tmp_path, project_name="demo", coarse_trials=3, coarse_epochs=1, verbose=0
    )
    with pytest.raises(
        ValueError,
        match=r"10 units per sample but the data has 3 classes.*"
        r"For MnistDenseHyperModel, pass num_classes=3",
    ):
        CoarseToFine(MnistDenseHyperModel(input_shape=(6,)), data, **budget).coarse()
    assert not (tmp_path / "demo").exists()
    run = CoarseToFine(MnistDenseHyperModel(input_shape=(6,), num_classes=3), data, **budget)
    run.open()  # the corrected configuration is not refused as "another configuration"
    run.close()


def test_bundled_cnn_never_rescales_what_the_scaling_rule_left_alone():
    # Standardised float images (values above 1): the recorded rule says "as given", so the
    # model must not divide them by 255 (it did whenever a value exceeded 1).
    import keras_tuner as kt

    from tunekit.data import Dataset
    from tunekit.hypermodel_specs import resolve_hypermodel

    rng = np.random.default_rng(0)
    x = rng.normal(scale=2.0, size=(40, 12, 12, 1)).astype("float32")
    data = Dataset.from_arrays(x, np.arange(40) % 2)
    assert float(data.x_train.max()) > 1
    model = resolve_hypermodel("toonvision-cnn")(data).build(kt.HyperParameters())
    assert not [layer for layer in model.layers if isinstance(layer, keras.layers.Rescaling)]


class _MyDense(keras.layers.Layer):
    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units))

    def call(self, x):
        return x @ self.w

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class _Scale(keras.layers.Layer):
    def call(self, x):
        return x * 2.0


class _MyMetric(keras.metrics.Mean):
    def update_state(self, y_true, y_pred, sample_weight=None):
        return super().update_state(y_pred)


def _my_loss(y_true, y_pred):
    return keras.ops.mean((y_true - y_pred) ** 2)


def _my_metric(y_true, y_pred):
    return keras.ops.mean(y_pred)


def test_the_model_file_note_names_every_custom_object_and_following_it_loads(tmp_path):
    """Before, a custom layer ended the search for names: the note named only the first
    object Keras failed on (`{'_MyDense': _MyDense}`), and loading with it failed."""
    import re

    from tunekit.model_files import file_alone_note

    model = keras.Sequential([keras.Input((3,)), _MyDense(4), _Scale(), keras.layers.Dense(1)])
    model.compile("adam", _my_loss, metrics=[_my_metric, _MyMetric()])
    path = tmp_path / "m.keras"
    model.save(path)
    note = file_alone_note(path)
    named = re.search(r"custom_objects=\{([^}]*)\}", note).group(1)
    names = sorted(part.split(":")[0].strip(" '") for part in named.split(","))
    assert names == sorted(["_MyDense", "_Scale", "_my_loss", "_my_metric", "_MyMetric"])
    objects = {name: globals()[name] for name in names}
    loaded = keras.models.load_model(path, custom_objects=objects)  # the note's call loads
    x = np.ones((2, 3), "float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    registered = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    registered.compile("adam", "mse")
    registered.save(tmp_path / "plain.keras")
    assert file_alone_note(tmp_path / "plain.keras") is None


@pytest.mark.parametrize(
    ("function", "output_shape", "loads"),
    [
        (lambda t: keras.ops.sigmoid(t), None, False),  # Keras cannot infer its shape
        (lambda t: keras.ops.sigmoid(t), (1,), False),  # loads; `keras` unknown at its call
        (lambda t: t * 2.0, (1,), True),
    ],
)
def test_the_model_file_note_advises_safe_mode_false_only_where_it_loads(
    tmp_path, function, output_shape, loads
):
    """A functional model ending in `Lambda(lambda t: keras.ops.sigmoid(t))`: the note
    said `load_model(path, safe_mode=False)` loads it, and that raised
    NotImplementedError (the Lambda's output shape), or, given `output_shape=`, loaded a
    model whose first call raised NameError. Following the note must give a model that
    predicts."""
    from tunekit.model_files import file_alone_note

    inputs = keras.Input((4,))
    kwargs = {} if output_shape is None else {"output_shape": output_shape}
    outputs = keras.layers.Lambda(function, **kwargs)(keras.layers.Dense(1)(inputs))
    model = keras.Model(inputs, outputs)
    model.compile("adam", "binary_crossentropy")
    path = tmp_path / "lambda.keras"
    model.save(path)
    note = file_alone_note(path)
    x = np.ones((2, 4), "float32")
    if not loads:
        assert "safe_mode=False) fails on it too (" in note
        assert "give the Lambda output_shape=" in note and "needs keras.models" not in note
        with pytest.raises(Exception):  # noqa: B017, PT011 - Keras's own error, as the note says
            keras.models.load_model(path, safe_mode=False).predict(x, verbose=0)
        return
    assert "loading it needs keras.models.load_model(path, safe_mode=False)" in note
    loaded = keras.models.load_model(path, safe_mode=False)  # the note's call loads
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_the_model_file_note_of_a_functional_model_names_no_keras_markers(tmp_path):
    """A functional model's file names its tensors `__keras_tensor__` (and a lambda
    `__lambda__`): the note listed them as custom objects, and pasting it raised
    NameError."""
    import re

    from tunekit.model_files import file_alone_note

    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Dense(4)(inputs)))
    model.compile("adam", _my_loss)
    path = tmp_path / "functional.keras"
    model.save(path)
    named = re.search(r"custom_objects=\{([^}]*)\}", file_alone_note(path)).group(1)
    assert [part.split(":")[0].strip(" '") for part in named.split(",")] == ["_my_loss"]
    keras.models.load_model(path, custom_objects={"_my_loss": _my_loss})  # the note's call
