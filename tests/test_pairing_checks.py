"""The check before training refuses a model whose first layers, loss and outputs disagree
with the data or with each other (`tunekit.steps.pairing_checks`).

Each case was found by trying tunekit with one's own model: pixels divided by 255 twice
(an image folder and the model's own `Rescaling(1/255)`: test accuracy 0.14 against 1.00
without the layer), a softmax under `from_logits=True` (test accuracy 0.25 on iris, below
chance), a relu unit under a binary cross-entropy, all with exit 0; one unit under a sparse
categorical cross-entropy, or several units under a binary one on class ids, failed every
trial only after training started, with Keras's error.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from hypermodels import ToonVisionCNNHyperModel
from tunekit._kerastuner import get_hypermodel
from tunekit.data import SCALED_UINT8, UNSCALED, Dataset, StreamData
from tunekit.errors import ModelCheckError
from tunekit.steps.check import check_model


def _images(tmp_path: Path, dtype: str = "uint8") -> Dataset:
    """An `.npz` of 8x8 pixels as `load_npz` reads it (uint8 divided by 255, else as given)."""
    from tunekit.data import load_npz

    rng = np.random.default_rng(0)
    x = (rng.random((120, 8, 8, 1)) * 255).astype(dtype)
    path = tmp_path / f"pixels_{dtype}.npz"
    y = np.arange(120) % 3
    np.savez(path, x_train=x[:90], y_train=y[:90], x_test=x[90:], y_test=y[90:])
    return load_npz(path)


def _rescaled(scale: float = 1 / 255, offset: float = 0.0, where: str = "first"):
    def build(hp):
        layers = [keras.layers.Rescaling(scale, offset=offset), keras.layers.Flatten()]
        if where == "nested":
            layers = [keras.Sequential(layers)]
        head = [keras.layers.Dense(hp.Int("units", 4, 8, step=4)), keras.layers.Dense(3)]
        if where == "after":  # a Rescaling behind a trained layer is the model's own business
            layers = [keras.layers.Flatten(), head.pop(0), keras.layers.Rescaling(scale)]
        model = keras.Sequential([keras.Input((8, 8, 1)), *layers, *head])
        model.compile(
            optimizer="adam",
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        return model

    return get_hypermodel(build)


@pytest.mark.parametrize(
    ("scale", "offset", "where"),
    [(1 / 255, 0.0, "first"), (1 / 127.5, -1.0, "first"), (1 / 255, 0.0, "nested")],
)
def test_pixels_rescaled_twice_are_refused(scale, offset, where, tmp_path):
    data = _images(tmp_path)
    assert data.scaling == SCALED_UINT8
    with pytest.raises(ModelCheckError) as error:
        check_model(_rescaled(scale, offset, where), data)
    message = str(error.value)
    assert "a Rescaling(scale=" in message and "already divided the data's uint8 pixels" in message
    assert "Remove the Rescaling layer" in message and "x.astype('float32')" in message


def test_a_rescaling_layer_passes_on_pixels_tunekit_left_as_they_were(tmp_path):
    data = _images(tmp_path, "float32")  # float pixels in [0, 255] are used as given
    assert data.scaling == UNSCALED
    check_model(_rescaled(), data)
    check_model(_rescaled(where="after"), _images(tmp_path))  # not the model's first layers


def test_the_bundled_cnn_rescales_only_what_tunekit_did_not(tmp_path):
    data = _images(tmp_path)
    with pytest.raises(ModelCheckError, match=r"ToonVisionCNNHyperModel: pass rescale=False"):
        check_model(ToonVisionCNNHyperModel((8, 8, 1), 3, augment=False), data)
    check_model(ToonVisionCNNHyperModel((8, 8, 1), 3, augment=False, rescale=False), data)


def test_an_image_folder_stream_is_checked_as_its_pixels_are_scaled(tmp_path: Path):
    from PIL import Image

    from tunekit.image_streams import image_folder_stream

    rng = np.random.default_rng(0)
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
        for i in range(10):
            pixels = (rng.random((8, 8)) * 255).astype("uint8")
            Image.fromarray(pixels).save(tmp_path / name / f"{i}.png")
    scaled = StreamData.from_image_folder(image_folder_stream(tmp_path, batch_size=4))
    with pytest.raises(ModelCheckError, match=r"would scale them a second time"):
        check_model(_rescaled(), scaled)
    raw = image_folder_stream(tmp_path, batch_size=4, scale=False)
    check_model(_rescaled(), StreamData.from_image_folder(raw))


def _classes(n_classes: int = 3) -> Dataset:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 6)).astype("float32")
    return Dataset.from_arrays(x, np.arange(120) % n_classes, seed=0)


def _dense(units: int, activation: str | None, loss):
    def build(hp):
        model = keras.Sequential(
            [
                keras.Input((6,)),
                keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu"),
                keras.layers.Dense(units, activation=activation),
            ]
        )
        # (a one-logit output's accuracy needs threshold=0.0: checked elsewhere)
        metrics = [] if units == 1 and activation is None else ["accuracy"]
        model.compile(optimizer="adam", loss=loss, metrics=metrics)
        return model

    return get_hypermodel(build)


@pytest.mark.parametrize(
    ("units", "activation", "loss", "classes", "refused"),
    [
        (
            3,
            "softmax",
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            3,
            r"outputs 3 units through a 'softmax' activation, but its loss has from_logits=True",
        ),
        (
            3,
            "sigmoid",
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            3,
            r"applies sigmoid to them again",
        ),
        (
            1,
            "sigmoid",
            "sparse_categorical_crossentropy",
            2,
            r"over one unit it knows one class \(0\), so label 1 is outside its range",
        ),
        (
            1,
            None,
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            2,
            r"outputs one unit per sample and is compiled with a sparse categorical",
        ),
        (
            2,
            "softmax",
            "binary_crossentropy",
            2,
            r"outputs 2 units per sample and is compiled with a binary cross-entropy",
        ),
        (
            3,
            "sigmoid",
            keras.losses.BinaryCrossentropy(),
            3,
            r"outputs 3 units per sample .* give y as rows of 3 0/1 values",
        ),
        (
            1,
            "relu",
            "binary_crossentropy",
            2,
            r"one unit through a 'relu' activation, which is not held to \[0, 1\]",
        ),
        (1, "softplus", keras.losses.BinaryCrossentropy(), 2, r"'softplus' activation"),
        (1, "elu", keras.losses.BinaryFocalCrossentropy(), 2, r"'elu' activation"),
        (1, "softmax", "binary_crossentropy", 2, r"which is 1 for every sample"),
    ],
)
def test_a_loss_that_cannot_read_the_output_or_the_labels_is_refused(
    units, activation, loss, classes, refused
):
    with pytest.raises(ModelCheckError, match=refused):
        check_model(_dense(units, activation, loss), _classes(classes))


@pytest.mark.parametrize(
    ("units", "activation", "loss", "classes"),
    [
        (3, "softmax", "sparse_categorical_crossentropy", 3),
        (3, None, keras.losses.SparseCategoricalCrossentropy(from_logits=True), 3),
        (3, "log_softmax", keras.losses.SparseCategoricalCrossentropy(from_logits=True), 3),
        (1, "sigmoid", "binary_crossentropy", 2),
        (1, None, keras.losses.BinaryCrossentropy(from_logits=True), 2),
        (2, "softmax", "sparse_categorical_crossentropy", 2),
    ],
)
def test_losses_that_read_the_output_and_labels_right_pass(units, activation, loss, classes):
    check_model(_dense(units, activation, loss), _classes(classes))


def test_a_one_unit_softmax_regression_is_refused():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 6)).astype("float32")
    data = Dataset.from_arrays(x, x[:, 0] * 2.5, seed=0)
    with pytest.raises(ModelCheckError, match=r"which is 1 for every sample"):
        check_model(_dense(1, "softmax", "mse"), data)
    check_model(_dense(1, "relu", "mse"), data)  # a relu regression: nothing to clip


def test_each_output_of_several_is_checked_by_its_own_loss_and_name():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 6)).astype("float32")
    y = {"kind": np.arange(90) % 3, "size": x[:, 0]}
    data = Dataset.from_arrays(x, y, seed=0, task="regression")  # one task per Dataset

    def build(hp):
        inputs = keras.Input((6,), name="x")
        hidden = keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu")(inputs)
        kind = keras.layers.Dense(3, activation="softmax", name="kind")(hidden)
        size = keras.layers.Dense(1, name="size")(hidden)
        model = keras.Model(inputs, {"kind": kind, "size": size})
        model.compile(
            optimizer="adam",
            loss={
                "kind": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                "size": "mse",
            },
            metrics={"kind": ["accuracy"], "size": ["mae"]},
        )
        return model

    with pytest.raises(ModelCheckError, match=r"has an output 'kind' that outputs 3 units"):
        check_model(get_hypermodel(build), data)


def _one_hot_model(metric):
    def build(hp):
        model = keras.Sequential(
            [
                keras.Input((6,)),
                keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu"),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=[metric])
        return model

    return get_hypermodel(build)


@pytest.mark.parametrize(
    ("metric", "objective", "refused"),
    [
        (keras.metrics.F1Score(average=None), "val_f1_score", r"F1Score\(average=None\)"),
        (keras.metrics.F1Score(average=None), "f1_score", r"average='macro'"),
        (keras.metrics.FBetaScore(beta=2.0), "val_fbeta_score", r"one value per class"),
        (
            keras.metrics.Precision(thresholds=[0.3, 0.5]),
            "val_precision",
            r"Precision\(thresholds=\[0.3, 0.5\]\) reports one value per threshold",
        ),
    ],
)
def test_an_objective_whose_metric_is_a_vector_is_refused_before_training(
    metric, objective, refused, tmp_path
):
    """Every trial failed after training ("The truth value of an array ... is ambiguous")."""
    from tunekit import CoarseToFine

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 6)).astype("float32")
    data = Dataset.from_arrays(x, keras.utils.to_categorical(np.arange(120) % 3, 3), seed=0)
    run = CoarseToFine(
        _one_hot_model(metric), data, objective=f"{objective}:max", directory=tmp_path
    )
    with pytest.raises(ModelCheckError, match=refused) as error:
        run.run()
    assert str(error.value).startswith(f"The objective {objective!r} is a metric whose result")
    assert not any(tmp_path.iterdir())
    # Reported beside another objective, the vector is fine: each value is its own column.
    check_model(_one_hot_model(metric), data, None, ["val_accuracy"])
    check_model(_one_hot_model(keras.metrics.F1Score(average="macro")), data, None, [objective])


def test_a_lazily_built_model_that_cannot_take_the_samples_is_refused_with_kerass_error():
    """Before, the check's call fixed the Sequential's input shape to its two samples and
    every trial failed on "already been configured to use input shape (2, 6)"."""

    def conv(hp):
        model = keras.Sequential(
            [
                keras.layers.Conv2D(hp.Int("filters", 4, 8, step=4), 3),
                keras.layers.GlobalAveragePooling2D(),
                keras.layers.Dense(3),
            ]
        )
        model.compile(
            optimizer="adam",
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        return model

    with pytest.raises(ModelCheckError) as error:
        check_model(get_hypermodel(conv), _classes())
    message = str(error.value)
    assert "has no keras.Input, and called on two training samples (shape (2, 6))" in message
    assert "expected min_ndim=4, found ndim=2" in message and "already been" not in message

    def lazy_dense(hp):
        model = keras.Sequential([keras.layers.Dense(hp.Int("units", 4, 8, step=4)), conv_head()])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return model

    def conv_head():
        return keras.layers.Dense(3, activation="softmax")

    check_model(get_hypermodel(lazy_dense), _classes())
