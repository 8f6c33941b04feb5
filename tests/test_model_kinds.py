"""Any model `model.fit` can train goes through a tunekit trial (issue 16, item 1).

A Sequential without an `Input` (the ToonVision article's style), a subclassed
model and a two-input functional model (dict inputs): every trial completes and
records the parameter count of the model it trained, read once it is built.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers

import tunekit
from tunekit import backend_probe, backends
from tunekit.model_size import param_count

LAZY_MODULE = '''
import keras
from keras import layers


def build(hp):
    """The ToonVision article's style: no Input, the model is built on its first batch."""
    model = keras.Sequential([
        layers.Rescaling(1.0 / 255),
        layers.RandomFlip("horizontal"),
        layers.Conv2D(hp.Int("filters", 2, 4, step=2), 3, activation="relu"),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dense(3, activation="softmax"),
    ])
    model.compile("adam", "sparse_categorical_crossentropy",
                  metrics=[keras.metrics.SparseCategoricalAccuracy()])
    return model
'''


TWO_INPUT_MODULE = """
import keras
from keras import layers


def build(hp):
    image = keras.Input((8, 8, 3), name="image")
    extra = keras.Input((5,), name="extra")
    x = layers.Concatenate()([layers.Flatten()(image), extra])
    x = layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu")(x)
    model = keras.Model({"image": image, "extra": extra}, layers.Dense(3, activation="softmax")(x))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
"""


def _lazy_build(hp):
    namespace: dict = {}
    exec(LAZY_MODULE, namespace)
    return namespace["build"](hp)


class Net(keras.Model):
    def __init__(self, units: int) -> None:
        super().__init__()
        self.hidden = layers.Dense(units, activation="relu")
        self.out = layers.Dense(3, activation="softmax")

    def call(self, inputs):
        return self.out(self.hidden(inputs))


def _subclassed_build(hp):
    model = Net(hp.Int("units", 4, 8, step=4))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _two_input_build(hp):
    image = keras.Input((8, 8, 3), name="image")
    extra = keras.Input((5,), name="extra")
    x = layers.Concatenate()([layers.Flatten()(image), extra])
    x = layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu")(x)
    model = keras.Model({"image": image, "extra": extra}, layers.Dense(3, activation="softmax")(x))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _data(kind: str, n: int = 24):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, n)
    if kind == "lazy":
        return rng.integers(0, 256, (n, 8, 8, 3)).astype("uint8"), y
    if kind == "subclassed":
        return rng.random((n, 6), dtype=np.float32), y
    return {
        "image": rng.random((n, 8, 8, 3), dtype=np.float32),
        "extra": rng.random((n, 5), dtype=np.float32),
    }, y


BUILDS = {"lazy": _lazy_build, "subclassed": _subclassed_build, "two_input": _two_input_build}


@pytest.mark.parametrize("kind", sorted(BUILDS))
def test_every_model_kind_completes_its_trials_with_its_parameter_count(kind, tmp_path):
    x, y = _data(kind)
    tuner = tunekit.make_tuner(
        "random",
        BUILDS[kind],
        objective="val_loss",
        directory=str(tmp_path),
        project_name=kind,
        max_trials=2,
        seed=0,
    )
    tuner.search(x, y, validation_data=(x, y), epochs=1, batch_size=8, verbose=0)
    trials = list(tuner.oracle.trials.values())
    assert [t.status for t in trials] == ["COMPLETED", "COMPLETED"]
    for trial in trials:
        model = BUILDS[kind](trial.hyperparameters)
        assert param_count(model) is None or kind == "two_input"  # lazy ones: not built yet
        model(x if kind == "two_input" else x[:1])  # builds it, as its first batch did
        expected = model.count_params()
        assert expected > 0
        assert trial.metrics.get_last_value("num_params") == expected


def test_param_count_is_none_until_a_lazy_model_is_built():
    import keras_tuner as kt

    model = _lazy_build(kt.HyperParameters())
    assert param_count(model) is None
    model(np.zeros((1, 8, 8, 3), "uint8"))
    # conv 3x3x3x2 + 2, then 3x3x2 pooled features -> dense 3
    assert param_count(model) == (3 * 3 * 3 * 2 + 2) + (3 * 3 * 2 * 3 + 3)


@pytest.mark.slow  # ~15 s per probe (a fresh process imports Keras and compiles)
@pytest.mark.parametrize(
    "backend, source",
    [
        ("tensorflow", LAZY_MODULE),
        ("jax", LAZY_MODULE),
        ("tensorflow", TWO_INPUT_MODULE),
        ("jax", TWO_INPUT_MODULE),
    ],
    ids=["lazy-tensorflow", "lazy-jax", "two_input-tensorflow", "two_input-jax"],
)
def test_the_backend_probe_runs_lazy_and_multi_input_models(backend, source, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "user_model.py").write_text(source)
    speed, reason = backends.probe_with_reason(
        backend, "user_model:build", (8, 8, 3), 3, 8, timeout=180
    )
    assert reason is None and speed > 0


def test_probe_inputs_follow_the_models_declared_inputs():
    import keras_tuner as kt

    rng = np.random.default_rng(0)
    two = backend_probe.probe_inputs(_two_input_build(kt.HyperParameters()), (8, 8, 3), 10, rng)
    assert {k: (v.shape, v.dtype.name) for k, v in two.items()} == {
        "image": ((10, 8, 8, 3), "float32"),
        "extra": ((10, 5), "float32"),
    }
    lazy = backend_probe.probe_inputs(_lazy_build(kt.HyperParameters()), (8, 8, 3), 10, rng)
    assert lazy.shape == (10, 8, 8, 3) and lazy.dtype == np.float32
