"""The compile's `loss_weights` is checked before any training (`tunekit.steps.compile_checks`).

Found by a new user: `model.compile("adam", loss, ["accuracy"])` (Keras 2's positional
`metrics`) is `loss_weights` in Keras 3; it compiles, and every trial then failed with
"dtype='string' is not a valid dtype for Keras type promotion", naming neither.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tunekit.errors import ModelCheckError
from tunekit.steps.compile_checks import check_loss_weights

_KERAS2 = "the third positional argument of model.compile is loss_weights, not metrics"
_FIX = r"loss_weights must be numbers, one per loss, and every trial would fail\. In Keras 3 "


def _one_output(*args, **kwargs) -> keras.Model:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", *args, **kwargs)
    return model


@pytest.mark.parametrize(
    ("positional", "fix"),
    [
        (["accuracy"], r"metrics=\['accuracy'\]"),
        (["accuracy", "sparse_categorical_accuracy"], r"metrics=\['accuracy', 'sparse_cat"),
        ([keras.metrics.SparseCategoricalAccuracy()], r"metrics=\[SparseCategoricalAccuracy"),
    ],
    ids=["accuracy", "two-names", "metric-object"],
)
def test_keras_2s_positional_metrics_are_refused_before_any_trial(tmp_path, positional, fix):
    from tunekit import CoarseToFine
    from tunekit.data import Dataset

    def build(hp):
        model = keras.Sequential(
            [
                keras.Input((4,)),
                keras.layers.Dense(hp.Int("units", 2, 8)),
                keras.layers.Dense(2, activation="softmax"),
            ]
        )
        model.compile("adam", "sparse_categorical_crossentropy", positional)
        return model

    rng = np.random.default_rng(0)
    data = Dataset.from_arrays(rng.normal(size=(60, 4)).astype("float32"), np.arange(60) % 2)
    run = CoarseToFine(build, data, directory=tmp_path, project_name="p", coarse_trials=3)
    with pytest.raises(ModelCheckError, match=rf"{_FIX}{_KERAS2} \(as in Keras 2\).*{fix}"):
        run.run()
    assert not list(tmp_path.rglob("trial_*"))  # no trial began


def test_the_refused_positional_metrics_really_fail_keras_fit():
    """The premise: Keras 3 compiles them as loss_weights and every fit then fails."""
    model = _one_output(["accuracy"])
    assert model.get_compile_config()["loss_weights"] == ["accuracy"]
    with pytest.raises(Exception):  # noqa: B017, PT011 - the backend's own error, obscure
        model.fit(np.zeros((4, 4)), np.zeros(4), epochs=1, verbose=0)


def _two_outputs(dict_outputs: bool, **compile_kwargs) -> keras.Model:
    inputs = keras.Input((4,))
    a = keras.layers.Dense(1, name="a")(inputs)
    b = keras.layers.Dense(1, name="b")(inputs)
    model = keras.Model(inputs, {"a": a, "b": b} if dict_outputs else [a, b])
    model.compile("sgd", **compile_kwargs)
    return model


_PER_OUTPUT = {"a": "mse", "b": "mse"}


@pytest.mark.parametrize("dict_outputs", [False, True], ids=["list-outputs", "dict-outputs"])
@pytest.mark.parametrize(
    ("loss", "weights", "refused"),
    [
        # What Keras trains with (each checked by a fit when these rules were written).
        ("mse", None, None),
        ("mse", 0.5, None),  # one weight for the loss given once
        ("mse", [3.0], None),
        (["mse", "mse"], [1, 2.0], None),
        (_PER_OUTPUT, {"a": 1.0, "b": 2.0}, None),
        (_PER_OUTPUT, [1.0, 2.0], None),
        ({"a": "mse", "b": None}, {"a": 1.0, "b": 2.0}, None),
        (["mse", "mse"], [1.0, None], None),  # None: that loss unweighted
        (["mse", "mse"], [np.float32(1.0), keras.ops.ones(())], None),
        (["mse", "mse"], [True, 2], None),  # Keras multiplies by True as by 1
        # Keras fails every fit ("must match the number of losses", KeyError 'b'), or
        # applies a weight to another output or none.
        ("mse", [1.0, 2.0], r"2 loss_weights .* for 1 loss \(a loss given once"),
        ("mse", {"a": 1.0, "b": 2.0}, r"2 loss_weights .* for 1 loss"),
        (["mse", "mse"], [1.0, 2.0, 3.0], r"3 loss_weights .* for 2 losses"),
        (_PER_OUTPUT, {"a": 1.0}, r"the weights' keys must be the losses'"),
        (_PER_OUTPUT, {"a": 1.0, "c": 2.0}, r"loss_weights=\{'a': 1.0, 'c': 2.0\}.* keys must"),
        (_PER_OUTPUT, {"a": 1.0, "b": 2.0, "c": 5.0}, r"keys must be the losses'"),
        (["mse", "mse"], ["mae"], _KERAS2),
        (_PER_OUTPUT, {"a": "mae", "b": 1.0}, _KERAS2),
        (["mse", "mse"], [keras.losses.MeanSquaredError(), 2.0], r"must be numbers, one per"),
    ],
)
def test_loss_weights_must_be_numbers_one_per_loss(dict_outputs, loss, weights, refused):
    model = _two_outputs(dict_outputs, loss=loss, loss_weights=weights)
    if refused is None:
        check_loss_weights(model, "The model")
        return
    with pytest.raises(ModelCheckError, match=rf"^The model was compiled with .*{refused}"):
        check_loss_weights(model, "The model")


def test_an_uncompiled_or_unweighted_model_is_not_checked():
    check_loss_weights(keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)]), "M")
    check_loss_weights(_one_output(), "M")
    check_loss_weights(_one_output(loss_weights=[2]), "M")
