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

import dataclasses
import functools
import re
import time
from pathlib import Path

import keras
import keras_tuner
import numpy as np
import pytest
from conftest import BAYES_BUDGET

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
    assert f"starts by rescaling its inputs by {scale:.6g} (" in message
    assert "already divided the data's uint8 pixels" in message
    assert "Remove the scaling from the model" in message and "an .npz of float32 pixels" in message


def _checked(hypermodel, data, refused: bool) -> str:
    """`check_model`'s refusal message when `refused`, else `""` once it accepted the model."""
    if not refused:
        check_model(hypermodel, data)
        return ""
    with pytest.raises(ModelCheckError) as error:
        check_model(hypermodel, data)
    return str(error.value)


def _scaled_by(how: str):
    """A model that scales its pixels `how` before its first layer with weights."""

    def build(hp):
        inputs = keras.Input((8, 8, 1))
        ops = {
            "divide": lambda t: t / 255.0,
            "div256": lambda t: t / 256.0,
            "centre": lambda t: t / 127.5 - 1.0,
            "lambda": keras.layers.Lambda(lambda t: t * (1.0 / 255)),
            "double": lambda t: t * 2.0,
            "square": keras.ops.square,
        }
        scaled = keras.layers.Flatten()(ops[how](inputs))
        model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(scaled))
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return model

    return get_hypermodel(build)


@pytest.mark.parametrize(
    ("how", "refused"),
    [
        ("divide", True),
        ("div256", True),  # a near factor divides them again all the same
        ("centre", True),
        ("lambda", True),
        ("double", False),
        ("square", False),
    ],
)
def test_pixels_divided_again_by_an_op_or_lambda_are_refused(how, refused, tmp_path):
    """`inputs / 255.0` (an op) or a `Lambda` is no `Rescaling` layer: the pixels tunekit
    had divided by 255 were divided again with exit 0. Read by the values that reach the
    first layer with weights."""
    message = _checked(_scaled_by(how), _images(tmp_path), refused)
    if not refused:
        return
    assert "starts by rescaling its inputs by 0.00" in message and "by its values: " in message
    assert "already divided the data's uint8 pixels by 255" in message
    check_model(_scaled_by(how), _images(tmp_path, "float32"))  # pixels as given: the model's


def _mse(y, p):
    return keras.ops.mean(keras.ops.square(keras.ops.reshape(y, (-1, 1)) - p), axis=-1)


class _Hidden:
    """Holds a scale somewhere a reading of attributes misses."""


def _hidden_scales(scale):
    """Losses whose scale hides from a reading of attributes (found by the last helper)."""

    class PrivateOtherName(keras.losses.Loss):
        def __init__(self, scale):
            super().__init__()
            self._alpha = scale

        def call(self, y, p):
            return self._alpha * _mse(y, p)

    @dataclasses.dataclass(slots=True)
    class Slotted:
        scale: float

        def __call__(self, y, p):
            return self.scale * _mse(y, p)

    def scaled(y, p):
        return scale * _mse(y, p)

    deep = _Hidden()
    deep.b = _Hidden()
    deep.b.c = _Hidden()
    deep.b.c.scale = scale

    class Deep(keras.losses.Loss):
        def call(self, y, p):
            return deep.b.c.scale * _mse(y, p)

    return [PrivateOtherName(scale), Slotted(scale), lambda y, p: scaled(y, p), Deep()]


def _bookkeeping_losses():
    """The same loss in every trial, with bookkeeping that differs (found by the last helper)."""

    class Cached(keras.losses.Loss):
        def __init__(self, cache=None):
            super().__init__()
            self._cache = {} if cache is None else cache
            self._cache["made"] = time.time()
            self.created, self.noise = time.time(), np.random.rand(4)

        def call(self, y, p):
            return _mse(y, p)

    hp = keras_tuner.HyperParameters()
    hp.Fixed("scale", 2.0)
    hp.Int("units", 4, 64, step=4, default=int(np.random.choice([4, 8, 64])))
    return [
        Cached(),
        lambda y, p: hp.get("scale") * _mse(y, p),
        functools.partial(lambda y, p, cfg: cfg.scale * _mse(y, p), cfg=_Config(1.0)),
    ]


def test_a_users_loss_is_known_by_what_it_computes_on_the_training_targets():
    """Found by the last helper: scales kept where attributes do not show them (a private
    attribute of another name, a slotted dataclass, a closure in a closure, three objects
    deep) went unseen under val_loss, and bookkeeping (a cache, a creation time, random
    numbers, `hp` closed over for a fixed value, a partial holding an object) refused the
    same loss. A loss of the user's is now measured on a few training targets."""
    from tunekit.steps.same_loss import loss_signature

    labels = np.linspace(-1.0, 1.0, 8).astype("float32")

    def signature(loss):  # (a function given to _regressor is read as one of hp)
        model = get_hypermodel(_regressor(lambda hp: loss)).build(_hp())
        return loss_signature(model, labels=labels)

    for small, large in zip(_hidden_scales(0.01), _hidden_scales(100.0)):
        assert signature(small) != signature(large), small
    for first, again in zip(_bookkeeping_losses(), _bookkeeping_losses()):
        assert signature(first) == signature(again), first
    # Keras's own losses are still read by their settings (Huber's delta).
    assert signature(keras.losses.Huber(1.0)) != signature(keras.losses.Huber(2.0))


def test_a_users_loss_is_measured_where_its_setting_acts():
    """Found by the next helper: the first 8 targets of imbalanced labels were all one class
    (a tuned positive weight went unseen), predictions inside (0.05, 0.95) hid a tuned
    penalty on predictions out of range and a Huber-like delta, a list of losses for
    several outputs was not measured, a TensorFlow-only function could not run on NumPy,
    and a random loss read as two losses."""
    import tensorflow as tf

    from tunekit.steps.same_loss import loss_signature

    def signature(loss, labels, outputs=1):
        def build(hp):
            inputs = keras.Input((6,))
            heads = [keras.layers.Dense(1, name=n)(inputs) for n in ("a", "b")[:outputs]]
            model = keras.Model(inputs, heads if outputs > 1 else heads[0])
            model.compile(optimizer="adam", loss=loss)
            return model

        return loss_signature(build(None), labels=labels)

    def weighted(w):
        def loss(y, p):
            y = keras.ops.cast(keras.ops.reshape(y, (-1,)), "float32")
            p = keras.ops.clip(keras.ops.reshape(p, (-1,)), 1e-7, 1 - 1e-7)
            return -(w * y * keras.ops.log(p) + (1 - y) * keras.ops.log(1 - p))

        return loss

    def range_penalty(s):
        return lambda y, p: _mse(y, p) + s * keras.ops.mean(keras.ops.relu(p - 1))

    def huber(delta):
        def loss(y, p):
            e = keras.ops.abs(keras.ops.reshape(y, (-1, 1)) - p)
            return keras.ops.mean(keras.ops.where(e <= delta, 0.5 * e**2, delta * (e - delta / 2)))

        return loss

    def tf_only(s):
        def loss(y, p):
            if not y.dtype.is_floating:
                y = tf.cast(y, p.dtype)
            return s * tf.reduce_mean(tf.square(tf.reshape(y, [-1]) - tf.reshape(p, [-1])))

        return loss

    rare = (np.arange(240) % 60 == 59).astype("int64")  # 4 positives, none in the first 8
    values = np.linspace(0.0, 1.0, 240).astype("float32")
    assert signature(weighted(1.0), rare) != signature(weighted(20.0), rare)
    assert signature(range_penalty(0.0), values) != signature(range_penalty(100.0), values)
    assert signature(huber(1.0), values) != signature(huber(3.0), values)
    assert signature(tf_only(1.0), values) != signature(tf_only(100.0), values)
    two = {"a": values, "b": 2 * values}
    listed = [signature([_mse, range_penalty(s)], two, outputs=2) for s in (0.0, 100.0)]
    assert listed[0] != listed[1]

    def random_half(y, p):  # the same loss in every trial, random in its call
        keep = keras.ops.cast(keras.random.uniform(keras.ops.shape(p)) < 0.5, "float32")
        return keras.ops.sum(keep * (keras.ops.reshape(y, (-1, 1)) - p) ** 2)

    assert signature(random_half, values) == signature(random_half, values)


@keras.saving.register_keras_serializable(package="tunekit_tests")
class _DividingNet(keras.Model):
    """A subclassed model that divides its pixels by `divisor` in its call."""

    def __init__(self, divisor=255.0, **kwargs):
        super().__init__(**kwargs)
        self.divisor = divisor
        self.flat = keras.layers.Flatten()
        self.hidden = keras.layers.Dense(8, activation="relu")
        self.out = keras.layers.Dense(3, activation="softmax")

    def call(self, x):
        return self.out(self.hidden(self.flat(x / self.divisor)))

    def get_config(self):
        return {**super().get_config(), "divisor": self.divisor}


@pytest.mark.parametrize(("divisor", "refused"), [(255.0, True), (1.0, False), (0.5, False)])
def test_pixels_divided_again_in_a_subclassed_models_call_are_refused(divisor, refused, tmp_path):
    """Found by a helper: `self.out(self.d(self.f(t / 255.0)))` in a subclassed model's call,
    on pixels tunekit had divided by 255, trained with exit 0 (test accuracy 0.21; 0.82
    with /1.0 in plain Keras)."""

    def build(hp):
        model = _DividingNet(divisor)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return model

    message = _checked(get_hypermodel(build), _images(tmp_path), refused)
    assert not refused or "in its call, by its values" in message
    from tunekit.steps.scaling_checks import check_scaled_by_values

    model = build(None)
    model(np.zeros((1, 8, 8, 1), "float32"))
    try:
        check_scaled_by_values(model, _images(tmp_path), "the model")
    except ModelCheckError:
        assert refused
    assert "call" not in vars(model.hidden)  # the layer's own call again, after the check


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


class _MyBCE(keras.losses.BinaryCrossentropy):
    pass


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
            r"one unit through the activation 'relu', which is not held to \[0, 1\]",
        ),
        (1, "softplus", keras.losses.BinaryCrossentropy(), 2, r"the activation 'softplus'"),
        (1, "elu", keras.losses.BinaryFocalCrossentropy(), 2, r"the activation 'elu'"),
        (1, "relu", _MyBCE(), 2, r"the activation 'relu'"),  # a subclass: read as its base
        (1, "softmax", "binary_crossentropy", 2, r"through a softmax, which is 1 for every"),
        # Several units that are not probabilities under a loss that reads them: Keras
        # clips and rescales them, and the search trains toward chance (test accuracy
        # 0.17 on load_digits with exit 0, the classic missing softmax)
        (
            3,
            None,
            "sparse_categorical_crossentropy",
            3,
            r"outputs 3 units through the activation 'linear', which is not held to \[0, 1\], "
            r"but its loss is a cross-entropy that reads probabilities .*"
            r"activation='softmax', or no activation and "
            r"keras.losses.SparseCategoricalCrossentropy\(from_logits=True\)",
        ),
        (3, "relu", keras.losses.SparseCategoricalCrossentropy(), 3, r"3 units .* 'relu'"),
        (3, "tanh", "sparse_categorical_crossentropy", 3, r"3 units through the activation 'tanh'"),
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
        (3, "sigmoid", "sparse_categorical_crossentropy", 3),  # in [0, 1]: Keras normalises
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


def _three_classes() -> Dataset:
    """120 random rows of 6 features, one-hot labels of 3 classes."""
    x = np.random.default_rng(0).normal(size=(120, 6)).astype("float32")
    return Dataset.from_arrays(x, keras.utils.to_categorical(np.arange(120) % 3, 3), seed=0)


def _refused_run(metric, objective: str, refused: str, tmp_path: Path) -> str:
    """The `ModelCheckError` message of a run on `objective` + ":max" with `metric`."""
    from tunekit import CoarseToFine

    run = CoarseToFine(
        _one_hot_model(metric), _three_classes(), objective=f"{objective}:max", directory=tmp_path
    )
    with pytest.raises(ModelCheckError, match=refused) as error:
        run.run()
    return str(error.value)


@pytest.mark.parametrize(
    ("metric", "objective", "refused"),
    [
        # (named: Keras numbers the names of unnamed metric objects made in one session)
        (
            keras.metrics.F1Score(average=None, name="f1_score"),
            "val_f1_score",
            r"F1Score\(average=None\)",
        ),
        (keras.metrics.F1Score(average=None, name="f1_score"), "f1_score", r"average='macro'"),
        (
            keras.metrics.FBetaScore(beta=2.0, name="fbeta_score"),
            "val_fbeta_score",
            r"one value per class",
        ),
        (
            keras.metrics.R2Score(class_aggregation=None, name="r2_score"),
            "val_r2_score",
            r"R2Score\(class_aggregation=None\) reports one value per output",
        ),
        (
            keras.metrics.Precision(thresholds=[0.3, 0.5], name="precision"),
            "val_precision",
            r"Precision\(thresholds=\[0.3, 0.5\]\) reports one value per threshold",
        ),
    ],
)
def test_an_objective_whose_metric_is_a_vector_is_refused_before_training(
    metric, objective, refused, tmp_path
):
    """Every trial failed after training ("The truth value of an array ... is ambiguous")."""
    data = _three_classes()
    message = _refused_run(metric, objective, refused, tmp_path)
    assert message.startswith(f"The objective {objective!r} is a metric whose result")
    assert not any(tmp_path.iterdir())
    # Reported beside another objective, the vector is fine: each value is its own column.
    check_model(_one_hot_model(metric), data, None, ["val_accuracy"])
    macro = keras.metrics.F1Score(average="macro", name=objective.removeprefix("val_"))
    check_model(_one_hot_model(macro), data, None, [objective])


@pytest.mark.parametrize(
    ("metric", "objective", "refused"),
    [
        (
            keras.metrics.Precision(thresholds=[0.3, 0.5], name="precision"),
            "val_precision/1",
            r"Precision\(thresholds=\[0.3, 0.5\]\) reports one value per threshold\. "
            r"Compile one metric per threshold, each named, to tune it: metrics=\["
            r"keras.metrics.Precision\(thresholds=0.5, name='precision_at_0_5'\)\], "
            r"objective 'val_precision_at_0_5:max'",
        ),
        (
            keras.metrics.Recall(thresholds=[0.3, 0.5], name="recall"),
            "recall/0",
            r"Recall\(thresholds=\[0.3, 0.5\]\)",
        ),
        (
            keras.metrics.F1Score(average=None, name="f1_score"),
            "val_f1_score/2",
            r"average='macro'",
        ),
    ],
)
def test_an_objective_naming_one_value_of_a_vector_metric_is_refused_before_training(
    metric, objective, refused, tmp_path
):
    """Before, `val_precision/1` passed the check, the first trial trained and the search
    then stopped suggesting `val_precision`, which the check refuses itself."""
    message = _refused_run(metric, objective, refused, tmp_path)
    index = objective.rpartition("/")[2]
    assert message.startswith(f"The objective {objective!r} names value {index} of a metric")
    assert "Did you mean" not in message
    assert not any(tmp_path.iterdir())


def _taken_literally(message):
    """The metrics and the objectives the refusal's advice tells to use, as written."""
    compiled = re.search(r"metrics=(\[.*?\]), objective ", message)
    assert compiled, message
    metrics = eval(compiled.group(1), {"keras": keras})  # the advice's own code
    objectives = re.findall(r"'([^']+)'", message[compiled.end() :].split(" (in Python")[0])
    return metrics, objectives


@pytest.mark.parametrize(
    ("metric", "objective", "advised"),
    [
        (  # the probe's: the advice named the other threshold, and no direction
            keras.metrics.Precision(thresholds=[0.3, 0.7], name="precision"),
            "val_precision/0",
            ["val_precision_at_0_3:max"],
        ),
        (
            keras.metrics.Precision(thresholds=[0.3, 0.7], name="precision"),
            "val_precision/1",
            ["val_precision_at_0_7:max"],
        ),
        (  # a bare name: each threshold
            keras.metrics.Precision(thresholds=[0.3, 0.7], name="precision"),
            "val_precision",
            ["val_precision_at_0_3:max", "val_precision_at_0_7:max"],
        ),
        (  # lower is better, and its own name
            keras.metrics.FalseNegatives(thresholds=[0.2, 0.5], name="fn"),
            "fn/1",
            ["fn_at_0_5:min"],
        ),
    ],
)
def test_the_advice_for_a_metric_of_several_thresholds_runs_as_written(metric, objective, advised):
    """Before, the advice said objective 'val_precision_at_0_7' (for /0 too), which
    tunekit then refused: it does not know whether that is better higher or lower."""
    from tunekit.objectives import resolve_objective

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 6)).astype("float32")
    data = Dataset.from_arrays(x, keras.utils.to_categorical(np.arange(120) % 3, 3), seed=0)
    with pytest.raises(ModelCheckError) as error:
        check_model(_one_hot_model(metric), data, None, [objective])
    metrics, objectives = _taken_literally(str(error.value))
    assert objectives == advised
    assert len(metrics) == len(advised)
    for text in objectives:
        taken = resolve_objective(text)  # old advice: InvalidParameterError, no direction
        assert f"{taken.name}:{taken.direction}" == text
        check_model(_one_hot_models(metrics), data, None, [taken.name])
    python = re.search(r"keras_tuner\.Objective\('([^']+)', '(max|min)'\)", str(error.value))
    assert python and f"{python.group(1)}:{python.group(2)}" == advised[0]


@pytest.mark.parametrize(
    ("objective", "advised"),
    [
        ("val_precision/0", ["val_precision_at_0_3:max"]),
        ("val_precision/1", ["val_precision_at_0_7:max"]),
        ("val_rec", ["val_rec_at_0_2:max", "val_rec_at_0_6:max"]),  # a name of the user's
    ],
)
def test_a_vector_objective_without_direction_gets_one_refusal_whose_advice_runs(
    tmp_path, objective, advised
):
    """The retry probe: `CoarseToFine(objective='val_precision/1')` first asked for a
    direction; stating it (':max') gave the vector refusal. Now that refusal comes first,
    and its advice, taken literally, is accepted by `CoarseToFine`."""
    from tunekit import CoarseToFine

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 6)).astype("float32")
    data = Dataset.from_arrays(x, keras.utils.to_categorical(np.arange(120) % 3, 3), seed=0)
    metrics = [
        keras.metrics.Precision(thresholds=[0.3, 0.7]),
        keras.metrics.Recall(thresholds=[0.2, 0.6], name="rec"),
    ]
    keras.backend.clear_session()  # the default names: `precision`, not `precision_3`
    with pytest.raises(ModelCheckError, match="vector") as error:  # old: the direction
        CoarseToFine(_one_hot_models(metrics), data, objective=objective, directory=tmp_path)
    compiled, objectives = _taken_literally(str(error.value))
    assert objectives == advised
    for text in objectives:
        run = CoarseToFine(_one_hot_models(compiled), data, objective=text, directory=tmp_path)
        assert f"{run.objective.name}:{run.objective.direction}" == text


def _one_hot_models(metrics):
    def build(hp):
        units = hp.Int("units", 4, 8, step=4)
        model = keras.Sequential(
            [
                keras.Input((6,)),
                keras.layers.Dense(units, activation="relu"),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=list(metrics))
        return model

    return get_hypermodel(build)


def test_the_advised_threshold_objective_tunes(tmp_path):
    """The probe's whole case: the advised metric and objective, as written, run a search."""
    from tunekit import CoarseToFine

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 6)).astype("float32")
    data = Dataset.from_arrays(x, keras.utils.to_categorical(np.arange(120) % 3, 3), seed=0)
    several = keras.metrics.Precision(thresholds=[0.3, 0.7], name="precision")
    with pytest.raises(ModelCheckError) as error:
        check_model(_one_hot_model(several), data, None, ["val_precision/1"])
    metrics, (objective,) = _taken_literally(str(error.value))
    run = CoarseToFine(
        _one_hot_models(metrics),
        data,
        objective=objective,
        directory=tmp_path,
        **BAYES_BUDGET,
    )
    result = run.run()
    assert "precision_at_0_7" in result.test_metrics


def test_an_own_fit_objective_naming_a_vector_metrics_value_gets_no_refused_suggestion(
    tmp_path,
):
    """A hypermodel's own `fit` is left to its first trial: there, before, the search
    suggested `val_precision`, a mean over thresholds that cannot rank the trials. The
    trial fails (its model may depend on its values); here the first trial, the default
    configuration's, is refused, which stops the search at once, quoting the refusal."""
    from tunekit import CoarseToFine, SearchInputError

    class OwnFit(keras_tuner.HyperModel):
        def build(self, hp):
            model = keras.Sequential(
                [
                    keras.Input((6,)),
                    keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu"),
                    keras.layers.Dense(1, activation="sigmoid"),
                ]
            )
            precision = keras.metrics.Precision(thresholds=[0.3, 0.5], name="precision")
            model.compile(optimizer="adam", loss="binary_crossentropy", metrics=[precision])
            return model

        def fit(self, hp, model, *args, **kwargs):
            return model.fit(*args, **kwargs)

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 6)).astype("float32")
    data = Dataset.from_arrays(x, (x[:, 0] > 0).astype(int), seed=0)
    for objective in ("val_precision/1", "val_precision"):
        run = CoarseToFine(
            OwnFit(),
            data,
            objective=f"{objective}:max",
            directory=tmp_path,
            project_name=objective.replace("/", "_"),
            coarse_trials=3,
            coarse_epochs=1,
            max_epochs=1,
        )
        with pytest.raises(SearchInputError) as error:
            run.coarse()  # the default configuration's trial, the first: refused, the run stops
        run.close()
        message = str(error.value)
        said = f"Trial id 0, with the values {{'units': 4}}: The objective {objective!r} names"
        assert message.startswith(said) and "a metric with 2 values" in message
        assert "one metric per threshold" in message and "Did you mean" not in message


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
    # one sample's shape, the Input to give: not the 2-row probe batch's (2, 6) (Keras's
    # own words, quoted, name that batch)
    assert "has no keras.Input, and called on 2 training samples (per sample: (6,))" in message
    assert "a keras.Input of one sample's shape (without the batch axis)" in message
    assert "expected min_ndim=4, found ndim=2" in message and "already been" not in message

    def lazy_dense(hp):
        model = keras.Sequential([keras.layers.Dense(hp.Int("units", 4, 8, step=4)), conv_head()])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return model

    def conv_head():
        return keras.layers.Dense(3, activation="softmax")

    check_model(get_hypermodel(lazy_dense), _classes())


def test_leading_rescalings_are_judged_by_their_combined_scale(tmp_path):
    """`Rescaling(255)` then `Rescaling(1/255)` leaves the pixels as they were: accepted."""
    data = _images(tmp_path)

    def build(hp):
        model = keras.Sequential(
            [
                keras.Input((8, 8, 1)),
                keras.layers.Rescaling(255.0),
                keras.layers.Rescaling(1 / 255),
                keras.layers.Flatten(),
                keras.layers.Dense(hp.Int("units", 4, 8, step=4)),
                keras.layers.Dense(3),
            ]
        )
        model.compile(
            optimizer="adam",
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        return model

    check_model(get_hypermodel(build), data)


@pytest.mark.parametrize("head", ["layer", "nested", "functional"])
def test_the_output_activation_is_found_in_an_activation_layer_or_a_nested_head(head):
    """A `Softmax()` layer, or a softmax inside a nested block, under from_logits=True
    ran to exit 0 (the checks saw no activation)."""

    def build(hp):
        inputs = keras.Input((6,))
        hidden = keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu")(inputs)
        if head == "layer":
            outputs = keras.layers.Softmax()(keras.layers.Dense(3)(hidden))
        else:
            block_in = keras.Input((hidden.shape[-1],))
            block_out = keras.layers.Dense(3, activation="softmax")(block_in)
            block = (
                keras.Sequential([block_in, keras.layers.Dense(3, activation="softmax")])
                if head == "nested"
                else keras.Model(block_in, block_out)
            )
            outputs = block(hidden)
        model = keras.Model(inputs, outputs)
        model.compile(
            optimizer="adam",
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        return model

    with pytest.raises(ModelCheckError, match=r"3 units through a 'softmax' activation"):
        check_model(get_hypermodel(build), _classes())


@pytest.mark.parametrize(
    ("units", "activation", "loss", "refused"),
    [
        (1, "sigmoid", "sparse_categorical_crossentropy", r"over one unit it knows one class"),
        (2, "softmax", "binary_crossentropy", r"output 'kind' that outputs 2 units per sample"),
    ],
)
def test_each_output_of_several_takes_its_class_ids_at_its_width(units, activation, loss, refused):
    """These failed every trial after training ("label value 1 outside [0, 1)")."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 6)).astype("float32")
    data = Dataset.from_arrays(
        x, {"kind": np.arange(90) % 2, "size": x[:, 0]}, seed=0, task="regression"
    )

    def build(hp):
        inputs = keras.Input((6,), name="x")
        hidden = keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu")(inputs)
        kind = keras.layers.Dense(units, activation=activation, name="kind")(hidden)
        model = keras.Model(
            inputs, {"kind": kind, "size": keras.layers.Dense(1, name="size")(hidden)}
        )
        model.compile(optimizer="adam", loss={"kind": loss, "size": "mse"})
        return model

    with pytest.raises(ModelCheckError, match=refused):
        check_model(get_hypermodel(build), data)


@pytest.mark.parametrize(
    ("kind", "refused"),
    [("layer", r"'head': 'softmax'.* 'softmax' activation"), ("call", r"'head': 'softmax'.* rows")],
)
def test_a_tuned_output_is_checked_at_each_trial_and_only_that_trial_fails(tmp_path, kind, refused):
    """The default configuration passed; trial 1 (a softmax under from_logits=True, in
    the last layer or in a subclassed model's call, read from its values) trained and
    was ranked with the others. Then it stopped the whole search (`SearchInputError`),
    where plain KerasTuner tunes the linear head: now those trials fail before they
    train, and the others are scored."""
    from tunekit import CoarseToFine
    from tunekit.progress import failure_reason

    def build(hp):
        activation = hp.Choice("head", ["linear", "softmax"])
        if kind == "call":
            model = _Opaque(3, activation, name="opaque")  # "_opaque": no TF name scope
        else:
            model = keras.Sequential(
                [
                    keras.Input((6,)),
                    keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu"),
                    keras.layers.Dense(3, activation=activation),
                ]
            )
        model.compile(
            optimizer="adam",
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        return model

    run = CoarseToFine(
        build, _classes(), directory=tmp_path, coarse_trials=6, coarse_epochs=1, seed=0
    )
    run.coarse()
    trials = list(run._tuner("coarse").oracle.trials.values())
    run.close()
    heads = {t.hyperparameters["head"] for t in trials}
    assert heads == {"linear", "softmax"}, heads
    for trial in trials:
        if trial.hyperparameters["head"] == "softmax":
            assert trial.status == "FAILED"
            reason = failure_reason(trial)
            assert reason.startswith("tunekit.trial_refusals.TrialRefusedError: "), reason
            assert re.search(refused, reason), reason
        else:
            assert trial.status == "COMPLETED", trial.message


def test_a_loss_subclass_that_computes_otherwise_is_read_by_its_own_name():
    """A `BinaryCrossentropy` subclass whose `call` applies the sigmoid itself, on a linear
    unit: correct, and refused when every subclass was read as its Keras base."""

    class SigmoidBCE(keras.losses.BinaryCrossentropy):
        def call(self, y_true, y_pred):
            return super().call(y_true, keras.ops.sigmoid(y_pred))

    def build(hp):
        model = keras.Sequential(
            [
                keras.Input((6,)),
                keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu"),
                keras.layers.Dense(1),
            ]
        )
        # (no accuracy: its from_logits=False says "probability", which a metric would
        # threshold at 0.5; the loss's own name no longer says "cross-entropy" to the check)
        model.compile(optimizer="adam", loss=SigmoidBCE())
        return model

    check_model(get_hypermodel(build), _classes(2))


@keras.saving.register_keras_serializable(package="test_pairing_checks")
class _Opaque(keras.Model):
    """A subclassed model whose `call` applies its own output activation: its layers do
    not show it, so the check reads the model's values."""

    def __init__(self, units=3, head="linear", **kwargs):
        super().__init__(**kwargs)
        self.units, self.head = units, head
        self.hidden = keras.layers.Dense(8, activation="relu")
        self.out = keras.layers.Dense(units)

    def call(self, x):
        z = self.out(self.hidden(x))
        return keras.activations.get(self.head)(z)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "head": self.head}


def _opaque(kind: str, units: int, head: str, loss):
    def build(hp):
        hp.Int("units", 4, 8, step=4)
        if kind == "subclassed":
            model = _Opaque(units, head)
        else:  # a Lambda layer, or an op after the last layer: the layers do not show it
            inputs = keras.Input((6,))
            z = keras.layers.Dense(units)(keras.layers.Dense(8, activation="relu")(inputs))
            act = keras.activations.get(head)
            z = keras.layers.Lambda(act)(z) if kind == "lambda" else act(z)
            model = keras.Model(inputs, z)
        model.compile(optimizer="adam", loss=loss)
        return model

    return get_hypermodel(build)


_KINDS = ["subclassed", "lambda", "op"]


@pytest.mark.parametrize("kind", _KINDS)
@pytest.mark.parametrize(
    ("units", "head", "loss", "refused"),
    [
        # a softmax in call under from_logits=True: test accuracy 0.25 on load_digits
        (
            3,
            "softmax",
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            r"outputs (rows of 3 values that are probabilities \(each in \[0, 1\], summing "
            r"to 1 on every training sample tried|3 units through a 'softmax' activation).*"
            r"from_logits=True, which applies softmax",
        ),
        # linear values under a loss that reads probabilities: test accuracy 0.17
        (
            3,
            "linear",
            "sparse_categorical_crossentropy",
            r"outputs (values from -?[0-9.e-]+ to -?[0-9.e-]+ on the training samples tried|"
            r"3 units through the activation 'linear').* reads probabilities "
            r"\(from_logits=False\).*activation='softmax'",
        ),
        (
            1,
            "linear",
            keras.losses.BinaryCrossentropy(),
            r"outputs (values from|one unit through a 'linear').* activation='sigmoid', or "
            r"no activation and "
            r"keras.losses.BinaryCrossentropy\(from_logits=True\)",
        ),
    ],
)
def test_an_output_the_layers_do_not_show_is_read_from_its_values(kind, units, head, loss, refused):
    """(An op Keras makes a layer of, `keras.activations.softmax(z)`, is read by the layer
    checks; `linear(z)` is `z`, the Dense layer's own output.)"""
    classes = max(units, 2)
    with pytest.raises(ModelCheckError, match=refused):
        check_model(_opaque(kind, units, head, loss), _classes(classes))


@pytest.mark.parametrize("kind", _KINDS)
@pytest.mark.parametrize(
    ("units", "head", "loss"),
    [
        (3, "linear", keras.losses.SparseCategoricalCrossentropy(from_logits=True)),
        (3, "softmax", "sparse_categorical_crossentropy"),
        (1, "sigmoid", "binary_crossentropy"),
        (1, "linear", keras.losses.BinaryCrossentropy(from_logits=True)),
        # a sigmoid under a logit loss cannot be told from a logit by its values: passed
        (1, "sigmoid", keras.losses.BinaryCrossentropy(from_logits=True)),
    ],
)
def test_an_output_the_layers_do_not_show_passes_when_its_values_fit_the_loss(
    kind, units, head, loss
):
    check_model(_opaque(kind, units, head, loss), _classes(max(units, 2)))


class _AddsItsLoss(keras.layers.Layer):
    def call(self, x):
        self.add_loss(keras.ops.mean(keras.ops.square(x)))
        return x


class _OwnTrainStep(keras.Model):
    def train_step(self, data):  # (never run here)
        return {}


@pytest.mark.parametrize(
    ("how", "refused"), [("none", True), ("add_loss", False), ("train_step", False)]
)
def test_a_model_compiled_without_a_loss_is_refused_unless_it_makes_its_own(how, refused):
    """compile(optimizer, metrics) without loss=: every trial failed with Keras's "No loss
    to compute" (3 in a row stopped the coarse search); a layer's add_loss or a
    train_step of the model's own is a loss Keras trains on."""

    def build(hp):
        inputs = keras.Input((6,))
        z = keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu")(inputs)
        if how == "add_loss":
            z = _AddsItsLoss()(z)
        outputs = keras.layers.Dense(3, activation="softmax")(z)
        model = (_OwnTrainStep if how == "train_step" else keras.Model)(inputs, outputs)
        model.compile(optimizer="adam", metrics=["accuracy"])
        return model

    if not refused:
        check_model(get_hypermodel(build), _classes())
        return
    with pytest.raises(ModelCheckError, match=r'compiled without a loss .*"No loss to compute"'):
        check_model(get_hypermodel(build), _classes())


def test_a_loss_subclass_with_its_own_call_is_not_read_by_its_bases_from_logits():
    """`SigmoidBCE(BinaryCrossentropy)` applies the sigmoid in its `call` on a linear unit:
    its `from_logits` (False, the base's default) said "probability", so the report's
    classes thresholded the logit at 0.5. Read by its layer (linear: a logit), a squared
    error written that way scored 0.72 where it was 0.97 at 0.5 (probe). Such a loss is
    read by its values; a loss written on `keras.losses.Loss` keeps the `from_logits` its
    author gave it."""
    from tunekit.outputs import predict_classes, uses_logits

    class SigmoidBCE(keras.losses.BinaryCrossentropy):
        def call(self, y_true, y_pred):
            return super().call(y_true, keras.ops.sigmoid(y_pred))

    class OwnLoss(keras.losses.Loss):
        def __init__(self, from_logits=False):
            super().__init__()
            self.from_logits = from_logits

        def call(self, y_true, y_pred):
            return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)

    def model(loss):
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.set_weights([np.array([[1.0], [0.0]]), np.array([0.0])])  # the logit is x[0]
        model.compile(optimizer="adam", loss=loss)
        return model

    class SquaredError(keras.losses.BinaryCrossentropy):  # probe: read as a logit before
        def call(self, y_true, y_pred):
            return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)

    class Unclipped(keras.losses.BinaryCrossentropy):
        def call(self, y_true, y_pred):
            return -y_true * keras.ops.log(y_pred) - (1 - y_true) * keras.ops.log(1 - y_pred)

    x = np.array([[0.3, 0.0], [-0.3, 0.0], [2.0, 0.0]], dtype="float32")
    assert uses_logits(model(SigmoidBCE())) is True  # its values keep falling below 0
    assert uses_logits(model(SquaredError(from_logits=True))) is False  # least at the label
    assert predict_classes(model(SquaredError()), x).tolist() == [0, 0, 1]
    assert uses_logits(model(Unclipped())) is None  # not finite at 0 and 1: refused
    with pytest.raises(
        ModelCheckError,
        match=r"its loss 'Unclipped' computes in a call of its own, so its from_logits .*"
        r"Say which: write Unclipped\.call so that it is finite",
    ):
        check_model(get_hypermodel(lambda hp: _compiled_linear_unit(hp, Unclipped())), _classes(2))
    assert predict_classes(model(SigmoidBCE()), x).tolist() == [1, 0, 1]
    assert uses_logits(model(keras.losses.BinaryCrossentropy())) is False  # Keras's own
    assert uses_logits(model(OwnLoss(from_logits=False))) is False  # its author's word
    with pytest.raises(ModelCheckError, match=r"BinaryAccuracy\(threshold=0\.0"):
        check_model(get_hypermodel(lambda hp: _compiled_linear_unit(hp, SigmoidBCE())), _classes(2))


def _compiled_linear_unit(hp, loss):
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu"),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    return model


class CategoricalCrossentropyFromIds(keras.losses.Loss):
    """A label-smoothed cross-entropy on class ids (Keras's sparse one has no smoothing)."""

    def call(self, y_true, y_pred):
        ids = keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32")
        return keras.losses.categorical_crossentropy(
            keras.ops.one_hot(ids, 3), y_pred, label_smoothing=0.1
        )


def categorical_crossentropy_ls(y_true, y_pred):
    return CategoricalCrossentropyFromIds()(y_true, y_pred)


@pytest.mark.parametrize("loss", [CategoricalCrossentropyFromIds(), categorical_crossentropy_ls])
def test_a_loss_of_the_users_own_is_not_judged_by_its_name(loss):
    """Named like Keras's categorical cross-entropy, it takes class ids: it was refused
    ("takes one-hot rows, but the labels are class ids"), where plain KerasTuner trained
    it. Keras's own losses are still judged by theirs."""
    check_model(_dense(3, "softmax", loss), _classes(3))
    with pytest.raises(ModelCheckError, match=r"categorical cross-entropy, which takes one-hot"):
        check_model(_dense(3, "softmax", keras.losses.CategoricalCrossentropy()), _classes(3))


def _regressor(loss):
    def build(hp):
        model = keras.Sequential(
            [
                keras.Input((6,)),
                keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu"),
                keras.layers.Dense(1),
            ]
        )
        tuned = isinstance(loss, type(_hp))  # a function of hp: the loss is tuned
        model.compile(optimizer="adam", loss=loss(hp) if tuned else loss)
        return model

    return build


def test_the_same_loss_however_named_is_one_loss_and_another_is_not():
    from tunekit.steps.same_loss import check_same_loss, loss_signature

    def signature(loss):
        return loss_signature(get_hypermodel(_regressor(loss)).build(_hp()))

    assert signature("mse") == signature("mean_squared_error")
    assert signature(keras.losses.Huber(name="a")) == signature(keras.losses.Huber(name="b"))
    assert signature(keras.losses.Huber(delta=2.0)) != signature(keras.losses.Huber())
    assert signature("mae") != signature("mse")
    seen: dict[str, str] = {}
    what = "`hypermodel` (built with the values of trial id {}) builds a model that"
    model = get_hypermodel(_regressor("mse")).build(_hp())
    check_same_loss(model, what.format(0), ["val_mse"], seen)  # not a loss objective
    assert not seen
    check_same_loss(model, what.format(0), ["val_loss"], seen)
    check_same_loss(model, what.format(1), ["val_loss"], seen)
    assert list(seen.values()) == ["trial id 0"]


def _hp():
    import keras_tuner as kt

    return kt.HyperParameters()


def test_a_tuned_loss_under_a_loss_objective_stops_the_search_at_the_first_other_loss(
    tmp_path,
):
    """`val_loss` (the regression default) with `hp.Choice("loss", ["mse", "huber"])`:
    Huber trials ranked first by reading lower (a trial of val MSE 1.05 above one of
    0.48), with exit 0. Now the first trial of another loss is refused before it trains."""
    from tunekit import CoarseToFine
    from tunekit.fitting import SearchInputError

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 6)).astype("float32")
    data = Dataset.from_arrays(x, x[:, 0] * 2.5 + x[:, 1], seed=0)
    run = CoarseToFine(
        _regressor(lambda hp: hp.Choice("loss", ["mse", "huber"])),
        data,
        directory=tmp_path,
        coarse_trials=6,
        coarse_epochs=1,
        seed=0,
        verbose=0,
    )
    with pytest.raises(SearchInputError) as error:
        run.run()
    message = str(error.value)
    assert 'is compiled with the loss "huber", but the model of an earlier trial (trial id 0, '
    assert '"huber"' in message and '"mean_squared_error"' in message
    assert "The objective 'val_loss' ranks every trial by its own loss" in message


class _Scaled(keras.losses.Loss):
    """A loss of the user's whose setting is not in its config."""

    def __init__(self, s=1.0, **kwargs):
        super().__init__(**kwargs)
        self.s = s

    def call(self, y_true, y_pred):
        return self.s * keras.ops.square(y_true - keras.ops.squeeze(y_pred, -1))


def _two_outputs(head, loss, loss_weights=None):
    """`a`: three class scores through `head`; `b`: one sigmoid unit."""

    def build(hp):
        inputs = keras.Input((6,), name="x")
        hidden = keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu")(inputs)
        a = keras.layers.Lambda(head, name="a")(keras.layers.Dense(3)(hidden))
        b = keras.layers.Dense(1, activation="sigmoid", name="b")(hidden)
        model = keras.Model(inputs, {"a": a, "b": b})
        model.compile(optimizer="adam", loss=loss, loss_weights=loss_weights)
        return model

    return build


def test_what_makes_one_loss_another_includes_weights_and_settings_outside_the_config():
    """Found by a helper: tuned `loss_weights` (Keras 3 models have no `loss_weights`
    attribute), a setting of one's own loss class and `functools.partial(huber, delta=)`
    all read as one loss, so `val_loss` ranked the weight or scale, not the model."""
    import functools

    import keras_tuner as kt

    from tunekit.steps.same_loss import loss_signature

    losses = {"a": "sparse_categorical_crossentropy", "b": "binary_crossentropy"}

    def weighted(w):
        build = _two_outputs(lambda z: z, losses, {"a": 1.0, "b": w})
        return loss_signature(build(kt.HyperParameters()))

    assert weighted(0.1) != weighted(2.0) and weighted(0.5) == weighted(0.5)

    def signature(loss):
        return loss_signature(get_hypermodel(_regressor(loss)).build(kt.HyperParameters()))

    assert signature(_Scaled(1.0)) != signature(_Scaled(100.0))
    assert signature(_Scaled(2.0)) == signature(_Scaled(2.0, name="other"))
    huber = keras.losses.huber
    assert signature(functools.partial(huber, delta=1.0)) != signature(
        functools.partial(huber, delta=2.0)
    )

    def scaled(s):  # a closure (or lambda) defined in build, on a tuned value
        return lambda y, p: s * keras.ops.mean(keras.ops.square(y - p))

    # (a function given to `_regressor` is called with hp: it returns the loss)
    assert signature(lambda hp: scaled(0.001)) != signature(lambda hp: scaled(1000.0))
    assert signature(lambda hp: scaled(1.0)) == signature(lambda hp: scaled(1.0))


def test_each_output_of_several_is_read_from_its_values_by_its_own_loss():
    """A Lambda's logits under a string cross-entropy on one output of two: the check
    read one output only, and plain Keras trained the output to chance (0.096 on
    load_digits) with exit 0."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 6)).astype("float32")
    y = {"a": np.arange(120) % 3, "b": (x[:, 0] > 0).astype(int)}
    data = Dataset.from_arrays({"x": x}, y, seed=0)
    strings = {"a": "sparse_categorical_crossentropy", "b": "binary_crossentropy"}
    with pytest.raises(ModelCheckError, match=r"has an output 'a' that outputs values from"):
        check_model(get_hypermodel(_two_outputs(lambda z: z, strings)), data)
    logits = {**strings, "a": keras.losses.SparseCategoricalCrossentropy(from_logits=True)}
    check_model(get_hypermodel(_two_outputs(lambda z: z, logits)), data)  # logits, said so


def test_one_output_with_a_loss_dict_is_read_from_its_values():
    def build(hp):
        inputs = keras.Input((6,))
        hidden = keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu")(inputs)
        out = keras.layers.Lambda(lambda z: z, name="out")(keras.layers.Dense(3)(hidden))
        model = keras.Model(inputs, out)
        model.compile(optimizer="adam", loss={"out": "sparse_categorical_crossentropy"})
        return model

    with pytest.raises(ModelCheckError, match=r"outputs values from .* reads probabilities"):
        check_model(get_hypermodel(build), _classes())


@pytest.mark.parametrize("penalty", ["kernel_regularizer", "activity_regularizer"])
def test_a_penalty_alone_is_not_a_loss(penalty):
    """`compile(optimizer, metrics)` with a `kernel_regularizer`: Keras trains the L2
    penalty alone (accuracy 0.149 on digits) with exit 0; with an `activity_regularizer`
    (which Keras adds as `add_loss`), 0.083."""

    def build(hp):
        model = keras.Sequential(
            [
                keras.Input((6,)),
                keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu"),
                keras.layers.Dense(3, activation="softmax", **{penalty: "l2"}),
            ]
        )
        model.compile(optimizer="adam", metrics=["accuracy"])
        return model

    with pytest.raises(ModelCheckError, match=r"compiled without a loss .*penalties alone"):
        check_model(get_hypermodel(build), _classes())


@keras.saving.register_keras_serializable(package="test_pairing_checks")
class _SoftmaxWhenServing(keras.Model):
    """Logits in training, probabilities at inference: trains right under from_logits."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden, self.out = keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)

    def call(self, x, training=False):
        z = self.out(self.hidden(x))
        return z if training else keras.ops.softmax(z)


@pytest.mark.parametrize(("objective", "refused"), [("val_accuracy", False), ("val_loss", True)])
def test_a_softmax_applied_only_when_serving_is_refused_only_under_a_loss_objective(
    objective, refused
):
    """Keras trains it right (the training loss reads logits); only its validation loss
    applies softmax to probabilities, so only a loss objective is misled."""

    def build(hp):
        hp.Int("units", 4, 8, step=4)
        model = _SoftmaxWhenServing()
        model.compile(
            optimizer="adam",
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        return model

    if not refused:
        check_model(get_hypermodel(build), _classes(), objective_names=[objective])
        return
    with pytest.raises(ModelCheckError, match=r"logits in training but rows of 3 probabilities"):
        check_model(get_hypermodel(build), _classes(), objective_names=[objective])


def _penalised(penalty, depth=1):
    """A regressor whose hidden layers carry `penalty(hp)` (a weight penalty or None)."""

    def build(hp):
        inputs = keras.Input((6,))
        hidden = inputs
        for _ in range(depth):
            hidden = keras.layers.Dense(4, kernel_regularizer=penalty(hp))(hidden)
        model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
        model.compile(optimizer="adam", loss="mse", metrics=["mse"])
        return model

    return build


def test_other_weight_penalties_are_another_objective_under_the_total_loss_only():
    """Keras adds weight penalties to `val_loss` (an L2 of 10 read 20.8 against a val MSE
    of 6.1), so a tuned penalty ranked its own size under `val_loss`, with exit 0."""
    from tunekit.steps.same_loss import check_same_loss, penalty_signatures

    def model(penalty, depth=1):
        return _penalised(lambda hp: penalty, depth)(_hp())

    l2 = keras.regularizers.L2
    assert penalty_signatures(model(l2(0.01))) == penalty_signatures(model(l2(0.01), depth=3))
    assert penalty_signatures(model(l2(0.01))) != penalty_signatures(model(l2(0.001)))
    assert penalty_signatures(model(None)) == []
    assert penalty_signatures(model(keras.regularizers.L1(0.01))) != penalty_signatures(
        model(l2(0.01))
    )
    what = "`hypermodel` (built with the values of trial id {}) builds a model that"
    seen: dict[str, str] = {}
    check_same_loss(model(l2(0.01)), what.format(0), ["val_loss"], seen)
    check_same_loss(model(l2(0.01), depth=2), what.format(1), ["val_loss"], seen)  # same
    for names in (["val_mse"], ["val_accuracy"]):  # a metric: the penalty does not enter
        check_same_loss(model(l2(0.5)), what.format(2), names, seen)
    with pytest.raises(ModelCheckError) as error:
        check_same_loss(model(None), what.format(3), ["val_loss"], seen)
    message = str(error.value)
    assert "trial id 3) builds a model that has no weight penalty, but the model of an " in message
    assert 'earlier trial (trial id 0) has the weight penalties [{"class": "L2", "l2": 0.01}]' in (
        message
    )
    assert "objective='val_mse'" in message


def test_a_tuned_weight_penalty_under_val_loss_stops_the_search(tmp_path):
    """End to end, the regression default objective: the first trial with another L2 stops
    the search; with `objective="val_mse"` the same search runs."""
    from tunekit import CoarseToFine
    from tunekit.fitting import SearchInputError

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 6)).astype("float32")
    data = Dataset.from_arrays(x, x[:, 0] * 2.5 + x[:, 1], seed=0)
    build = _penalised(lambda hp: keras.regularizers.L2(hp.Choice("l2", [1e-4, 1e-2, 1.0])))
    run = CoarseToFine(
        build, data, directory=tmp_path, coarse_trials=6, coarse_epochs=1, seed=0, verbose=0
    )
    with pytest.raises(SearchInputError, match="has the weight penalties"):
        run.run()
    tuned = CoarseToFine(
        build,
        data,
        objective="val_mse",
        directory=tmp_path,
        project_name="by_mse",
        coarse_trials=3,
        coarse_epochs=1,
        max_epochs=2,
        final_epochs=1,
        seed=0,
        verbose=0,
    )
    trials = tuned.coarse().oracle.trials.values()
    assert sorted(t.hyperparameters.get("l2") for t in trials if t.status == "COMPLETED") == [
        1e-4,
        1e-2,
        1.0,
    ]


@pytest.mark.parametrize(
    ("head", "loss", "refused"),
    [
        (None, "kld", True),
        ("relu", keras.losses.KLDivergence(), True),
        ("times3", "kl_divergence", True),  # a Lambda: read from its values
        ("softmax", "kld", False),
        ("lambda_softmax", keras.losses.KLDivergence(), False),
    ],
)
def test_a_kl_divergence_takes_probabilities_only(head, loss, refused):
    """Keras's KL divergence clips the outputs to [1e-7, 1]: a linear 10-unit output
    trained on `load_digits` to a loss of 0.0023 (it reads best under `val_loss`) and a
    test accuracy of 0.14, against 0.85 with a softmax."""
    rng = np.random.default_rng(0)
    labels = np.tile(np.arange(3), 20)
    data = Dataset.from_arrays(
        rng.normal(size=(60, 4)).astype("float32"),
        keras.utils.to_categorical(labels, 3).astype("float32"),
        seed=0,
    )

    def build(hp):
        inputs = keras.Input((4,))
        hidden = keras.layers.Dense(8, activation="relu")(inputs)
        if head == "times3":
            outputs = keras.layers.Lambda(lambda z: z * 3.0)(keras.layers.Dense(3)(hidden))
        elif head == "lambda_softmax":
            outputs = keras.layers.Lambda(keras.ops.softmax)(keras.layers.Dense(3)(hidden))
        else:
            outputs = keras.layers.Dense(3, activation=head)(hidden)
        model = keras.Model(inputs, outputs)
        model.compile(optimizer="adam", loss=loss, metrics=["categorical_accuracy"])
        return model

    message = _checked(get_hypermodel(build), data, refused)
    if not refused:
        return
    assert "its loss is a KL divergence, which reads probability distributions" in message
    assert "Keras clips the outputs to [1e-7, 1]" in message
    assert "Give the last layer activation='softmax'" in message


def test_an_outputs_own_loss_objective_reads_that_outputs_loss_only():
    """Under `val_a_loss`, a tuned loss or weight of output `b`, or `a`'s weight (Keras logs
    `a_loss` unweighted: 1.19 under weights 1 and 10), leaves `a_loss` on one scale: plain
    KerasTuner tunes it, and the check refused it. Another loss of `a` is refused."""
    from tunekit.steps.same_loss import check_same_loss

    def model(a="sparse_categorical_crossentropy", b="binary_crossentropy", weights=None):
        return _two_outputs(keras.activations.softmax, {"a": a, "b": b}, weights)(_hp())

    what = "`hypermodel` (built with the values of trial id {}) builds a model that"
    seen: dict[str, str] = {}
    check_same_loss(model(), what.format(0), ["val_a_loss"], seen)
    check_same_loss(model(b="mse"), what.format(1), ["val_a_loss"], seen)
    check_same_loss(model(weights={"a": 5.0, "b": 0.1}), what.format(2), ["val_a_loss"], seen)
    assert len(seen) == 1
    with pytest.raises(ModelCheckError, match=r"trial id 3\) builds a model that is compiled"):
        check_same_loss(
            model(a=keras.losses.CategoricalFocalCrossentropy()),
            what.format(3),
            ["val_a_loss"],
            seen,
        )
    total: dict[str, str] = {}  # the total loss sums every output's, weighted
    check_same_loss(model(), what.format(0), ["val_loss"], total)
    with pytest.raises(ModelCheckError, match="loss_weights"):
        check_same_loss(model(weights={"a": 5.0, "b": 0.1}), what.format(1), ["val_loss"], total)


class _WeightedBCE(keras.losses.Loss):
    """A class-weighted binary cross-entropy of the user's, its weights a list."""

    def __init__(self, class_weights, **kwargs):
        super().__init__(**kwargs)
        self.class_weights = class_weights

    def call(self, y_true, y_pred):
        y_true = keras.ops.cast(keras.ops.reshape(y_true, (-1, 1)), "float32")
        weights = y_true * self.class_weights[1] + (1 - y_true) * self.class_weights[0]
        return weights * keras.losses.binary_crossentropy(y_true, y_pred)[..., None]


class _Penalised(keras.layers.Layer):
    """A layer of the user's that adds `c * sum(x**2)` as a loss."""

    def __init__(self, c, units=4, **kwargs):
        super().__init__(**kwargs)
        self.c, self.units = c, units

    def call(self, x):
        self.add_loss(self.c * keras.ops.sum(keras.ops.square(x)))
        return x


def test_what_makes_one_loss_another_reads_lists_and_added_losses_not_from_logits():
    """Found by a helper: `WeightedBCE([1.0, 20.0])` read as `WeightedBCE([1.0, 1.0])`
    (only plain scalars were kept), a tuned `add_loss(c * ...)` was not seen, and a tuned
    logit/softmax pair (`from_logits` with the output to match) was refused."""
    from tunekit.steps.same_loss import loss_signature, penalty_signatures

    def signature(loss):
        return loss_signature(get_hypermodel(_regressor(loss)).build(_hp()))

    assert signature(_WeightedBCE([1.0, 1.0])) != signature(_WeightedBCE([1.0, 20.0]))
    assert signature(_WeightedBCE(np.array([1.0, 20.0]))) == signature(_WeightedBCE([1.0, 20.0]))
    sparse = keras.losses.SparseCategoricalCrossentropy
    assert signature(sparse(from_logits=True)) == signature(sparse(from_logits=False))

    def penalised(c, units=4):
        inputs = keras.Input((6,))
        hidden = _Penalised(c, units)(keras.layers.Dense(4)(inputs))
        model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
        model.compile(optimizer="adam", loss="mse")
        return model

    x = np.ones((4, 6), "float32")
    assert penalty_signatures(penalised(1e-4), x) != penalty_signatures(penalised(10.0), x)
    assert penalty_signatures(penalised(1.0, 4), x) == penalty_signatures(penalised(1.0, 8), x)
    assert penalty_signatures(penalised(1e-4)) == penalty_signatures(penalised(10.0)) == []


class _PrivateScale(keras.losses.Loss):
    """A loss of the user's that keeps its scale in a private attribute."""

    def __init__(self, s=1.0, **kwargs):
        super().__init__(**kwargs)
        self._s = s

    def call(self, y_true, y_pred):
        return self._s * keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)


class _Scaler:
    """An object of the user's whose bound method is the loss."""

    def __init__(self, s):
        self.s = s

    def loss(self, y_true, y_pred):
        return self.s * keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)


class _Config:
    def __init__(self, scale):
        self.scale = scale


class _NestedScale(keras.losses.Loss):
    """A loss that reads its scale from an object it holds."""

    def __init__(self, cfg, **kwargs):
        super().__init__(**kwargs)
        self.cfg = cfg

    def call(self, y_true, y_pred):
        return self.cfg.scale * keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)


@dataclasses.dataclass(eq=False)
class _DataclassScale:
    """A callable dataclass loss with its scale in a private field."""

    _scale: float = 1.0
    __name__ = "dataclass_scale"

    def __call__(self, y_true, y_pred):
        return self._scale * keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)


class _Bookkeeping(keras.losses.Loss):
    """A loss with private bookkeeping: a call counter and its creation time."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._calls, self._created = 0, time.time()

    def call(self, y_true, y_pred):
        return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)


def test_a_scale_in_a_private_attribute_or_a_bound_methods_object_is_another_loss():
    """Found by a helper: under val_loss, `self._s = s` in a loss class, and `Scaler(s).loss`
    (a bound method), were read as one loss for every tuned `s`, and the search ranked
    the scale (the smallest s won, reading 0.2 against 156 for s=74)."""
    from tunekit.steps.same_loss import loss_signature

    def signature(loss):
        return loss_signature(get_hypermodel(_regressor(loss)).build(_hp()))

    assert signature(_PrivateScale(0.1)) != signature(_PrivateScale(73.8))
    assert signature(_PrivateScale(2.0)) == signature(_PrivateScale(2.0))
    assert signature(_Scaler(0.1).loss) != signature(_Scaler(73.8).loss)
    assert signature(_Scaler(2.0).loss) == signature(_Scaler(2.0).loss)
    # Keras's own losses keep private attributes too: not settings of the user's.
    assert signature(keras.losses.MeanSquaredError()) == signature("mse")
    # Found by the next helper: a scale on an object the loss holds, in a dataclass's private
    # field, or in a class attribute; and bookkeeping (a counter, a creation time) that was
    # read as a setting and refused the same loss.
    assert signature(_NestedScale(_Config(0.01))) != signature(_NestedScale(_Config(100.0)))
    assert signature(_NestedScale(_Config(2.0))) == signature(_NestedScale(_Config(2.0)))
    assert signature(_DataclassScale(0.01)) != signature(_DataclassScale(100.0))

    def closing(cfg):  # a build's loss: a lambda that closes on the object holding the scale
        return lambda hp: lambda y, p: cfg.scale * keras.ops.mean(keras.ops.square(y - p))

    assert signature(closing(_Config(0.01))) != signature(closing(_Config(100.0)))
    assert signature(closing(_Config(2.0))) == signature(closing(_Config(2.0)))
    counting = _Bookkeeping()
    first = signature(counting)
    counting._calls += 3  # the same shared object, after a trial trained with it
    assert signature(counting) == first == signature(_Bookkeeping())  # another creation time


@pytest.mark.parametrize(
    ("mean", "variance", "before", "refused"),
    [
        (33.3, 78.6**2, [], True),
        (0.0, 255.0**2, [], True),  # a standard deviation of 255: a division by 255
        (33.3 / 255, (78.6 / 255) ** 2, [], False),
        (33.3, 78.6**2, [255.0], False),  # Rescaling(255) undid tunekit's division first
    ],
)
def test_a_normalization_with_raw_pixel_statistics_is_refused_on_divided_pixels(
    tmp_path, mean, variance, before, refused
):
    """`Normalization(mean=33.3, variance=78.6**2)` (MNIST's raw pixel statistics) on
    pixels tunekit divided by 255 squeezed them into a sliver: test accuracy 0.11, exit 0."""

    def build(hp):
        model = keras.Sequential(
            [
                keras.Input((8, 8, 1)),
                *[keras.layers.Rescaling(scale) for scale in before],
                keras.layers.Normalization(mean=mean, variance=variance),
                keras.layers.Flatten(),
                keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu"),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return model

    message = _checked(get_hypermodel(build), _images(tmp_path), refused)
    if not refused:
        return
    assert "starts with a Normalization layer" in message and f"mean up to {mean:.4g}" in message
    assert "Adapt the layer on the data tunekit passes" in message
    check_model(get_hypermodel(build), _images(tmp_path, "float32"))  # pixels as given


def test_a_keras_loss_by_name_is_its_class_with_defaults():
    """`"binary_crossentropy"` beside `BinaryCrossentropy(from_logits=True)` (a tuned
    sigmoid/logit pair) was refused as two losses; the class form was accepted."""
    from tunekit.steps.same_loss import loss_signature

    def signature(loss):
        return loss_signature(get_hypermodel(_regressor(loss)).build(_hp()))

    bce = keras.losses.BinaryCrossentropy
    assert signature("binary_crossentropy") == signature(bce(from_logits=True))
    assert signature(lambda hp: keras.losses.binary_crossentropy) == signature(bce())
    assert signature("mse") == signature(keras.losses.MeanSquaredError())
    sparse = keras.losses.SparseCategoricalCrossentropy
    assert signature("sparse_categorical_crossentropy") == signature(sparse(from_logits=True))
    assert signature("binary_crossentropy") != signature(bce(label_smoothing=0.1))
    assert signature("huber") != signature(keras.losses.Huber(delta=2.0))


class _OwnPenaltyModel(keras.Model):
    """A subclassed model that adds `c * sum(w**2)` of its layer's kernel in its own call."""

    def __init__(self, c, **kwargs):
        super().__init__(**kwargs)
        self.c = c
        self.dense = keras.layers.Dense(1)

    def call(self, x):
        y = self.dense(x)
        self.add_loss(self.c * keras.ops.sum(keras.ops.square(self.dense.kernel)))
        return y


def test_a_subclassed_models_own_added_loss_is_read():
    """`self.add_loss(self.c * ...)` in a subclassed model's own call, `c` tuned: val_loss
    ranked `c`'s size (2.75 for 0.001, 5.70 for 10) with exit 0."""
    from tunekit.steps.same_loss import penalty_signatures

    def model(c):
        built = _OwnPenaltyModel(c)
        built.compile(optimizer="adam", loss="mse")
        built(np.ones((2, 6), "float32"))
        return built

    x = np.ones((4, 6), "float32")
    assert penalty_signatures(model(0.001), x) != penalty_signatures(model(10.0), x)
    assert penalty_signatures(model(1.0), x) == penalty_signatures(model(1.0), x)
