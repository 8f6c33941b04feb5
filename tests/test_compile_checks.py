"""The compile's `loss_weights` is checked before any training (`tunekit.steps.compile_checks`).

Found by a new user: `model.compile("adam", loss, ["accuracy"])` (Keras 2's positional
`metrics`) is `loss_weights` in Keras 3; it compiles, and every trial then failed with
"dtype='string' is not a valid dtype for Keras type promotion", naming neither.
"""

from __future__ import annotations

from typing import Any

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


def _named(kind: str, loss: Any, weights: Any = None) -> keras.Model:
    """One softmax output named "out": a Sequential, or a functional model (its output
    a tensor, or a dict {"out": ...})."""
    layer = keras.layers.Dense(3, activation="softmax", name="out")
    if kind == "sequential":
        model = keras.Sequential([keras.Input((4,)), layer])
    else:
        inputs = keras.Input((4,))
        out = layer(inputs)
        model = keras.Model(inputs, {"out": out} if kind == "dict" else out)
    model.compile("adam", loss, loss_weights=weights)
    return model


_SCCE = "sparse_categorical_crossentropy"


@pytest.mark.parametrize("kind", ["sequential", "functional", "dict"])
@pytest.mark.parametrize(
    ("loss", "weights", "refused"),
    [
        (_SCCE, {"out": 0.5}, None),
        (_SCCE, 0.5, None),
        ([_SCCE], {"out": 0.5}, None),
        # Keras halves the loss under any key: a typo, accepted silently before.
        (
            _SCCE,
            {"outt": 0.5},
            r"loss_weights=\{'outt': 0.5\}, but its output is named "
            r"\['out'\]: Keras applies .* whatever its keys.*loss_weights=\{'out': \.\.\.\}",
        ),
        ([_SCCE], {"outt": 0.5}, r"its output is named \['out'\]"),
        # Keras fails every fit: "Expected keys ['out'] in loss dict" / a KeyError.
        ({"outt": _SCCE}, None, r"loss=\{'outt': \.\.\.\}, but its output is named \['out'\]"),
        ({"outt": _SCCE}, {"outt": 0.5}, r"its output is named \['out'\]"),
    ],
)
def test_a_dict_of_weights_or_losses_is_keyed_by_the_output_names(kind, loss, weights, refused):
    model = _named(kind, loss, weights)
    if kind == "sequential" and isinstance(loss, dict):  # no output names to key a dict by
        refused = r"a keras.Sequential compiled with loss="
    if refused is None:
        check_loss_weights(model, "The model")
        return
    with pytest.raises(ModelCheckError, match=rf"^The model (was|is) .*{refused}"):
        check_loss_weights(model, "The model")


@pytest.mark.parametrize("weights", [None, {"out": 0.5}])
def test_a_dict_of_losses_on_a_sequential_is_refused(weights):
    """Keras keys it by output names, which a Sequential lacks: every fit failed with
    "TypeError: 'NoneType' object is not iterable", even keyed by its last layer."""
    model = _named("sequential", {"out": _SCCE}, weights)
    with pytest.raises(TypeError, match="'NoneType' object is not iterable"):  # the premise
        model.fit(np.zeros((4, 4)), np.zeros(4), epochs=1, verbose=0)
    model = _named("sequential", {"out": _SCCE}, weights)
    with pytest.raises(
        ModelCheckError,
        match=r"^The model is a keras.Sequential compiled "
        r"with loss=\{'out': \.\.\.\}: Keras keys a dict of losses by the "
        r"model's output names, which a Sequential does not have",
    ):
        check_loss_weights(model, "The model")
    check_loss_weights(_named("functional", {"out": _SCCE}, weights), "The model")


def test_a_misnamed_weight_is_applied_by_keras_all_the_same():
    """The premise of refusing it: the one loss is halved under a key no output has."""
    x, y = np.random.default_rng(0).normal(size=(8, 4)).astype("float32"), np.arange(8) % 3
    weighted = _named("sequential", _SCCE, {"outt": 0.5})
    plain = _named("sequential", _SCCE)
    plain.set_weights(weighted.get_weights())
    halved = weighted.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    assert halved == pytest.approx(0.5 * plain.evaluate(x, y, verbose=0, return_dict=True)["loss"])


def test_a_dict_of_outputs_is_keyed_by_its_own_keys_not_its_layers_names():
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(2, name="dense_hidden")(inputs)
    model = keras.Model(inputs, {"prog": keras.layers.Dense(1, name="d")(hidden), "e": hidden})
    model.compile("adam", loss={"prog": "mse"}, loss_weights={"prog": 0.5})
    check_loss_weights(model, "The model")
    model.compile("adam", loss={"d": "mse"})
    with pytest.raises(ModelCheckError, match=r"its outputs are named \['prog', 'e'\]"):
        check_loss_weights(model, "The model")


@pytest.mark.parametrize(
    ("order", "loss", "weights", "refused"),
    [
        # Keys out of the outputs' sorted order: Keras weighs z_out 0 and a_out 1.
        (("z_out", "a_out"), ["mse", "mse"], {"z_out": 1.0, "a_out": 0.0}, True),
        # One weight named for one of two outputs: Keras applies it to both.
        (("z_out", "a_out"), "mse", {"z_out": 0.5}, True),
        # Keys in the outputs' order, a dict of losses, a list: applied as named.
        (("a_out", "z_out"), ["mse", "mse"], {"z_out": 1.0, "a_out": 0.0}, False),
        (("z_out", "a_out"), {"z_out": "mse", "a_out": "mse"}, {"z_out": 1.0, "a_out": 0.0}, False),
        (("z_out", "a_out"), ["mse", "mse"], [1.0, 0.0], False),
    ],
)
def test_a_dict_of_weights_keras_applies_to_other_outputs_is_refused(order, loss, weights, refused):
    # It was accepted (its keys name outputs), and a run tuned on the output weighed 0:
    # every score was the other output's loss, with exit 0.
    inputs = keras.Input((3,))
    model = keras.Model(inputs, [keras.layers.Dense(1, name=n)(inputs) for n in order])
    model.compile("adam", loss, loss_weights=weights)
    for layer in model.layers[1:]:  # predicts 0: z_out's error 0, a_out's 10 (mse 100)
        layer.kernel.assign(np.zeros_like(layer.kernel))
        layer.bias.assign(np.zeros_like(layer.bias))
    targets = [np.full((8, 1), 0.0 if name == "z_out" else 10.0) for name in order]
    x = np.zeros((8, 3), "float32")
    keras_loss = model.evaluate(x, targets, verbose=0, return_dict=True)["loss"]
    # As the weights name them (z_out weighed, its error 0; a_out not), the loss is 0.
    assert (keras_loss > 1.0) == refused, keras_loss  # Keras weighs otherwise than named
    if not refused:
        check_loss_weights(model, "The model")
        return
    with pytest.raises(ModelCheckError, match=r"in the sorted order of its keys, by position"):
        check_loss_weights(model, "The model")
