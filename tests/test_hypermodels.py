"""Contract tests for the reusable hypermodels (in the style of KerasTuner's own
`applications` tests): search-space names and defaults, overrides through a
pre-registered `HyperParameters`, conditional parameters, shapes, argument
checks, and independence from `tunekit`."""

from __future__ import annotations

import ast
import itertools
import os
import subprocess
import sys
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np
import pytest

import hypermodels
from hypermodels import MnistDenseHyperModel, ToonVisionCNNHyperModel

DENSE_VALUES = {
    "units_0": 256,
    "num_extra_layers": 0,
    "activation": "relu",
    "dropout": 0.2,
    "learning_rate": 1e-3,
}
DENSE_SPACE = {
    "units_0": 256,
    "num_extra_layers": 0,
    "units_1": 256,
    "units_2": 256,
    "units_3": 256,
    "activation": "relu",
    "dropout": 0.2,
    "learning_rate": 1e-3,
}
CNN_VALUES = {
    "batch_norm": False,
    **{
        f"{name}_{i}": default
        for i in (1, 2)
        for name, default in [
            ("filters", 16),
            ("kernel_size", 3),
            ("convs", 1),
            ("pool_a", 2),
            ("pool_b", 1),
            ("dropout", 0.2),
        ]
    },
    "learning_rate": 1e-3,
}
POOL_NAMES = ("pool_a_1", "pool_b_1", "pool_a_2", "pool_b_2")


def _dense_layers(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def _hidden_dense(model):
    return _dense_layers(model)[:-1]


def _space(hp):
    return {h.name: h for h in hp.space}


def _layer_types(model):
    return {type(layer) for layer in model.layers}


# --------------------------------------------------------------------------- search spaces


def test_dense_names_and_defaults():
    hp = kt.HyperParameters()
    MnistDenseHyperModel().build(hp)
    assert hp.values == DENSE_VALUES
    assert {h.name: h.default for h in hp.space} == DENSE_SPACE
    assert [h.name for h in hp.space] == list(DENSE_SPACE)
    for i in (1, 2, 3):
        assert not hp.is_active(f"units_{i}")
    space = _space(hp)
    assert (space["units_0"].min_value, space["units_0"].max_value, space["units_0"].step) == (
        32,
        512,
        32,
    )
    assert (space["num_extra_layers"].min_value, space["num_extra_layers"].max_value) == (0, 3)
    assert list(space["activation"].values) == ["relu", "tanh", "sigmoid"]
    assert space["learning_rate"].sampling == "log"


def test_cnn_names_and_defaults() -> None:
    hp = kt.HyperParameters()
    ToonVisionCNNHyperModel().build(hp)
    assert hp.values == CNN_VALUES
    assert {h.name: h.default for h in hp.space} == CNN_VALUES
    space = _space(hp)
    filters = space["filters_1"]
    assert (filters.min_value, filters.max_value, filters.step) == (4, 32, 4)
    assert list(space["kernel_size_2"].values) == [3, 5]
    assert (space["pool_a_1"].min_value, space["pool_a_1"].max_value) == (2, 4)
    assert (space["pool_b_2"].min_value, space["pool_b_2"].max_value) == (1, 4)
    assert (space["convs_1"].min_value, space["convs_1"].max_value) == (1, 2)
    assert isinstance(space["batch_norm"], kt.engine.hyperparameters.Boolean)
    assert list(space["learning_rate"].values) == [1e-2, 1e-3, 1e-4]


def _cnn_model(**values: object) -> keras.Model:
    """The MNIST-shaped CNN (as `--hypermodel toonvision-cnn` builds it) with `values` fixed."""
    hp = kt.HyperParameters()
    for name, value in values.items():
        hp.Fixed(name, value)
    return ToonVisionCNNHyperModel((28, 28, 1), 10, augment=False, rescale=False).build(hp)


def _layer_names(model: keras.Model) -> list[str]:
    return [type(layer).__name__ for layer in model.layers]


def test_cnn_defaults_build_the_articles_shape_unchanged() -> None:
    # One Conv2D per block, no batch norm: the model (and its size) earlier runs' baselines had.
    model = _cnn_model()
    assert model.count_params() == 10_330
    assert _layer_names(model) == [
        "InputLayer",
        "Conv2D",
        "MaxPooling2D",
        "Dropout",
        "Conv2D",
        "MaxPooling2D",
        "Dropout",
        "Flatten",
        "Dense",
    ]
    assert all(layer.use_bias for layer in model.layers if isinstance(layer, keras.layers.Conv2D))


@pytest.mark.parametrize(("convs_1", "convs_2"), [(2, 2), (1, 2), (2, 1)])
def test_cnn_convs_per_block(convs_1: int, convs_2: int) -> None:
    model = _cnn_model(convs_1=convs_1, convs_2=convs_2, filters_1=8, kernel_size_2=5)
    names = _layer_names(model)
    first_pool = names.index("MaxPooling2D")
    blocks = [names[:first_pool], names[first_pool:]]
    assert [block.count("Conv2D") for block in blocks] == [convs_1, convs_2]
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [8] * convs_1 + [16] * convs_2
    assert [c.kernel_size for c in convs] == [(3, 3)] * convs_1 + [(5, 5)] * convs_2
    assert all(c.padding == "same" and c.activation.__name__ == "relu" for c in convs)


def test_cnn_two_convs_per_block_parameter_count() -> None:
    # Two 3x3 16-filter convolutions per block at 7x7: (160 + 2,320) + 2 x 2,320 + 7,850.
    assert _cnn_model(convs_1=2, convs_2=2).count_params() == 14_970


def test_cnn_batch_norm_after_every_convolution() -> None:
    model = _cnn_model(batch_norm=True, convs_2=2)
    names = _layer_names(model)
    assert names.count("Conv2D") == 3
    assert names.count("BatchNormalization") == 3
    for i, name in enumerate(names):
        if name == "Conv2D":
            assert names[i + 1 : i + 3] == ["BatchNormalization", "ReLU"]
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    # Batch norm's shift replaces the bias; the activation comes after the normalisation.
    assert all(not c.use_bias and c.activation.__name__ == "linear" for c in convs)
    assert model.count_params() == 12_650 - 3 * 16 + 3 * 4 * 16


def test_default_build_matches_defaults():
    model = MnistDenseHyperModel().build(kt.HyperParameters())
    assert [layer.units for layer in _hidden_dense(model)] == [256]
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(1e-3)


# --------------------------------------------------------------------------- overrides


def test_pre_registered_narrower_range_overrides_the_hypermodels_own():
    hp = kt.HyperParameters()
    hp.Int("units_0", 64, 96, step=32)
    model = MnistDenseHyperModel().build(hp)
    assert hp.values["units_0"] == 64
    assert _hidden_dense(model)[0].units == 64
    units_0 = _space(hp)["units_0"]
    assert (units_0.min_value, units_0.max_value, units_0.step) == (64, 96, 32)
    assert len([h for h in hp.space if h.name == "units_0"]) == 1

    hp.values["units_0"] = 96
    assert _hidden_dense(MnistDenseHyperModel().build(hp))[0].units == 96


def test_fixed_activation_is_used_by_the_model():
    hp = kt.HyperParameters()
    hp.Fixed("activation", "tanh")
    hp.Fixed("num_extra_layers", 1)
    model = MnistDenseHyperModel().build(hp)
    hidden = _hidden_dense(model)
    assert len(hidden) == 2
    assert all(layer.activation.__name__ == "tanh" for layer in hidden)
    assert _dense_layers(model)[-1].activation.__name__ == "softmax"
    assert isinstance(_space(hp)["activation"], kt.engine.hyperparameters.Fixed)


def test_cnn_fixed_and_choice_overrides():
    hp = kt.HyperParameters()
    hp.Fixed("filters_1", 8)
    hp.Choice("kernel_size_2", [5])
    model = ToonVisionCNNHyperModel((28, 28, 1), 10).build(hp)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [8, 16]
    assert [c.kernel_size for c in convs] == [(3, 3), (5, 5)]


# --------------------------------------------------------------------------- conditional


@pytest.mark.parametrize("num_extra", [0, 1, 2, 3])
def test_extra_layers_and_conditional_units(num_extra):
    hp = kt.HyperParameters()
    hp.values["num_extra_layers"] = num_extra
    model = MnistDenseHyperModel().build(hp)
    assert len(_hidden_dense(model)) == 1 + num_extra
    for i in (1, 2, 3):
        assert hp.is_active(f"units_{i}") == (i <= num_extra)
        assert (f"units_{i}" in hp.values) == (i <= num_extra)
    assert {h.name for h in hp.space} == set(DENSE_SPACE)


def test_two_extra_layers_use_their_units():
    hp = kt.HyperParameters()
    MnistDenseHyperModel().build(hp)  # declare the space first, as a tuner does
    hp.values["num_extra_layers"] = 2
    hp.values["units_1"] = 64
    hp.values["units_2"] = 96
    model = MnistDenseHyperModel().build(hp)
    assert [layer.units for layer in _hidden_dense(model)] == [256, 64, 96]
    assert hp.is_active("units_1") and hp.is_active("units_2")
    assert not hp.is_active("units_3")


def test_zero_dropout_adds_no_dropout_layers():
    hp = kt.HyperParameters()
    hp.Fixed("dropout", 0.0)
    model = MnistDenseHyperModel().build(hp)
    assert keras.layers.Dropout not in _layer_types(model)


# --------------------------------------------------------------------------- shapes


@pytest.mark.parametrize(
    "make, batch_shape, num_classes",
    [
        (lambda: MnistDenseHyperModel((8,), 3), (8,), 3),
        (lambda: MnistDenseHyperModel((28, 28), 10), (28, 28), 10),
        (lambda: MnistDenseHyperModel((4, 5, 2), 2), (4, 5, 2), 2),
        (lambda: ToonVisionCNNHyperModel((28, 28), 4), (28, 28), 4),
        (lambda: ToonVisionCNNHyperModel((28, 28, 1), 4), (28, 28, 1), 4),
        (lambda: ToonVisionCNNHyperModel((600, 200, 3), 4), (600, 200, 3), 4),
        (lambda: ToonVisionCNNHyperModel(), (600, 200, 3), 4),
    ],
    ids=[
        "dense-8",
        "dense-28x28",
        "dense-4x5x2",
        "cnn-28x28",
        "cnn-28x28x1",
        "cnn-600x200x3",
        "cnn-default",
    ],
)
def test_any_input_shape_and_class_count(make, batch_shape, num_classes):
    model = make().build(kt.HyperParameters())
    assert model.input_shape == (None, *batch_shape)
    assert model.output_shape == (None, num_classes)
    assert model.loss == "sparse_categorical_crossentropy"
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert "accuracy" in _compiled_metric_names(model)
    probs = keras.ops.convert_to_numpy(model(np.zeros((2, *batch_shape), np.float32)))
    assert probs.shape == (2, num_classes)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def _compiled_metric_names(model):
    # Keras 3 keeps the user's metric list on the compile config.
    return list(model.get_compile_config()["metrics"])


def test_models_train_one_step_with_accuracy_metric():
    x = np.random.default_rng(0).random((8, 12, 10), dtype=np.float32)
    y = np.arange(8) % 3
    for hypermodel in (
        MnistDenseHyperModel((12, 10), 3),
        ToonVisionCNNHyperModel((12, 10), 3, augment=False, rescale=False),
    ):
        model = hypermodel.build(kt.HyperParameters())
        logs = model.train_on_batch(x, y, return_dict=True)
        assert set(logs) == {"loss", "accuracy"}


def _fixed_pools(**pools):
    hp = kt.HyperParameters()
    for name, value in pools.items():
        hp.Fixed(name, value)
    return hp


def _feature_map_sizes(model):
    return [
        tuple(layer.output.shape[1:3])
        for layer in model.layers
        if isinstance(layer, keras.layers.MaxPooling2D)
    ]


def test_cnn_builds_at_minimum_size_with_every_pool_at_its_maximum():
    hp = _fixed_pools(**{name: 4 for name in POOL_NAMES})
    model = ToonVisionCNNHyperModel((8, 8, 3), 4).build(hp)
    sizes = _feature_map_sizes(model)
    assert sizes and all(h >= 1 and w >= 1 for h, w in sizes)
    flatten = next(layer for layer in model.layers if isinstance(layer, keras.layers.Flatten))
    assert flatten.output.shape[-1] >= 1
    probs = keras.ops.convert_to_numpy(model(np.zeros((1, 8, 8, 3), np.float32)))
    assert probs.shape == (1, 4) and np.isfinite(probs).all()


def test_cnn_builds_for_narrow_non_square_input_with_large_pools():
    hp = _fixed_pools(**{name: 4 for name in POOL_NAMES})
    model = ToonVisionCNNHyperModel((8, 40), 2).build(hp)
    assert all(h >= 1 and w >= 1 for h, w in _feature_map_sizes(model))
    assert model.output_shape == (None, 2)


@pytest.mark.parametrize(
    "pools",
    list(itertools.product((2, 4), (1, 4), (2, 4), (1, 4))),
    ids=lambda p: "-".join(map(str, p)),
)
def test_cnn_builds_for_mnist_with_every_pool_combination_at_its_bounds(pools):
    hp = _fixed_pools(**dict(zip(POOL_NAMES, pools)))
    model = ToonVisionCNNHyperModel((28, 28, 1), 10, augment=False, rescale=False).build(hp)
    sizes = _feature_map_sizes(model)
    # No pool collapses the map below 2x2 (the article's pools are made for 600x200).
    assert all(h >= 2 and w >= 2 for h, w in sizes)
    # A pool of 1 is a no-op and adds no layer.
    assert len(sizes) == sum(p != 1 for p in pools) - _clipped_away(pools)
    assert sizes == _expected_sizes(pools)
    assert model.output_shape == (None, 10)


def _clip(pools: tuple[int, ...], side: int = 28) -> list[int]:
    """Each pool's size after the 2x2 floor: at most half the current side, 1 = skipped."""
    sizes = []
    for pool in pools:
        size = min(pool, max(1, side // 2))
        sizes.append(size)
        side //= size
    return sizes


def _expected_sizes(pools: tuple[int, ...]) -> list[tuple[int, int]]:
    side, sizes = 28, []
    for size in _clip(pools):
        if size > 1:
            side //= size
            sizes.append((side, side))
    return sizes


def _clipped_away(pools: tuple[int, ...]) -> int:
    """How many pooling layers vanish because the feature map is already at its floor."""
    return sum(pool != 1 and size == 1 for pool, size in zip(pools, _clip(pools)))


def test_cnn_pools_stop_at_a_2x2_map_and_keep_the_defaults_shape() -> None:
    # The earlier CNN benchmark's winner pooled 28x28 to 1x1 (2 and 3, then 2 and 4).
    hp = _fixed_pools(pool_a_1=2, pool_b_1=3, pool_a_2=2, pool_b_2=4)
    model = ToonVisionCNNHyperModel((28, 28, 1), 10, augment=False, rescale=False).build(hp)
    assert _feature_map_sizes(model) == [(14, 14), (4, 4), (2, 2)]
    # Every default pool of 2 stays as it was, even at the smallest input (8 -> 4 -> 2).
    small = ToonVisionCNNHyperModel((8, 8, 3), 4).build(kt.HyperParameters())
    assert _feature_map_sizes(small) == [(4, 4), (2, 2)]
    wide = ToonVisionCNNHyperModel((8, 40), 2).build(_fixed_pools(pool_b_1=4))
    assert _feature_map_sizes(wide) == [(4, 20), (2, 5), (2, 2)]


@pytest.mark.parametrize("rescale", [True, False])
@pytest.mark.parametrize("augment", [True, False])
def test_cnn_rescale_and_augment_layers(rescale, augment):
    model = ToonVisionCNNHyperModel((16, 16, 3), 2, augment=augment, rescale=rescale).build(
        kt.HyperParameters()
    )
    types = _layer_types(model)
    assert (keras.layers.Rescaling in types) == rescale
    assert (keras.layers.RandomFlip in types) == augment
    if rescale:
        layer = next(layer for layer in model.layers if isinstance(layer, keras.layers.Rescaling))
        assert layer.scale == pytest.approx(1 / 255)


def test_two_dimensional_cnn_input_gets_a_channel_axis():
    model = ToonVisionCNNHyperModel((28, 28), 10).build(kt.HyperParameters())
    reshape = next(layer for layer in model.layers if isinstance(layer, keras.layers.Reshape))
    assert tuple(reshape.output.shape) == (None, 28, 28, 1)


# --------------------------------------------------------------------------- refusals

_BAD_SHAPE = r"`input_shape` of {} must be a (non-empty )?sequence of positive ints"
_CNN_SIZE = r"height and width >= 8"
_CLASSES = r"`num_classes` of {} must be an int >= 2"


@pytest.mark.parametrize(
    "cls, kwargs, message",
    [
        (ToonVisionCNNHyperModel, {"input_shape": (7, 8)}, _CNN_SIZE),
        (ToonVisionCNNHyperModel, {"input_shape": (8, 7, 3)}, _CNN_SIZE),
        (
            ToonVisionCNNHyperModel,
            {"input_shape": (2, 2, 1)},
            _CNN_SIZE + r".*Resize the images to at least 8x8.*--image-size 8 8",
        ),
        # Channels first (n, 1, 8, 8): before, told to resize 8x8 images to 8x8.
        (
            ToonVisionCNNHyperModel,
            {"input_shape": (1, 8, 8)},
            r"must be channels last.*looks channels first \(1 channels of 8x8\): move the "
            r"channel axis last, e\.g\. x = np\.moveaxis\(x, 1, -1\)",
        ),
        (ToonVisionCNNHyperModel, {"input_shape": (3, 32, 32)}, r"looks channels first"),
        # Two channels (a pair of bands) first: told to resize to 8x8 before.
        (ToonVisionCNNHyperModel, {"input_shape": (2, 32, 32)}, r"looks channels first \(2 "),
        (ToonVisionCNNHyperModel, {"input_shape": (5, 16, 24)}, r"looks channels first \(5 "),
        # Before, flat features were told to "Resize smaller images first".
        (
            ToonVisionCNNHyperModel,
            {"input_shape": (28,)},
            r"needs images: `input_shape` must be \(height, width\) or \(height, width, "
            r"channels\).*\(28,\), which is not an image shape\. For feature vectors use a "
            r"dense model",
        ),
        (ToonVisionCNNHyperModel, {"input_shape": (28, 28, 1, 1)}, r"needs images"),
        (ToonVisionCNNHyperModel, {"num_classes": 1}, _CLASSES.format("ToonVisionCNNHyperModel")),
        (ToonVisionCNNHyperModel, {"num_classes": 0}, r"num_classes=0"),
        (ToonVisionCNNHyperModel, {"num_classes": True}, r"num_classes=True"),
        (ToonVisionCNNHyperModel, {"num_classes": 2.5}, r"num_classes=2\.5"),
        (
            ToonVisionCNNHyperModel,
            {"input_shape": (0, 28)},
            _BAD_SHAPE.format("ToonVisionCNNHyperModel"),
        ),
        (ToonVisionCNNHyperModel, {"input_shape": ()}, r"non-empty.*input_shape=\(\)"),
        # Before, bool(...) took "no" and "False" as True: both layers, with exit 0.
        (ToonVisionCNNHyperModel, {"augment": "no"}, r"`augment` .* True or False.*'no'"),
        (ToonVisionCNNHyperModel, {"rescale": "False"}, r"`rescale` .*rescale='False'"),
        (ToonVisionCNNHyperModel, {"rescale": 0}, r"rescale=0 \(int\)"),
        (ToonVisionCNNHyperModel, {"augment": None}, r"augment=None"),
        (ToonVisionCNNHyperModel, {"tunable": "False"}, r"`tunable` .*tunable='False'"),
        (MnistDenseHyperModel, {"tunable": "False"}, r"`tunable` .*tunable='False'"),
        (MnistDenseHyperModel, {"num_classes": 1}, _CLASSES.format("MnistDenseHyperModel")),
        (MnistDenseHyperModel, {"num_classes": 0}, r"at least two classes.*num_classes=0"),
        (MnistDenseHyperModel, {"num_classes": True}, r"num_classes=True"),
        (MnistDenseHyperModel, {"num_classes": 2.5}, r"num_classes=2\.5"),
        (MnistDenseHyperModel, {"num_classes": "10"}, r"num_classes='10'"),
        (MnistDenseHyperModel, {"input_shape": (0, 28)}, _BAD_SHAPE.format("MnistDenseHyperModel")),
        (MnistDenseHyperModel, {"input_shape": (28, -1)}, r"input_shape=\(28, -1\)"),
        (MnistDenseHyperModel, {"input_shape": (28.5, 28)}, r"input_shape=\(28\.5, 28\)"),
        (MnistDenseHyperModel, {"input_shape": ("a", 28)}, r"e\.g\. \(28, 28\).*'a'"),
        (MnistDenseHyperModel, {"input_shape": ("28", 28)}, r"input_shape=\('28', 28\)"),
        (MnistDenseHyperModel, {"input_shape": None}, r"input_shape=None"),
        (MnistDenseHyperModel, {"input_shape": 28}, r"input_shape=28"),
        (MnistDenseHyperModel, {"input_shape": ()}, r"non-empty.*input_shape=\(\)"),
        (MnistDenseHyperModel, {"input_shape": [None, 28]}, r"input_shape=\[None, 28\]"),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else None,
)
def test_bad_arguments_are_refused(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


def test_numpy_bools_are_taken_for_the_cnns_flags():
    model = ToonVisionCNNHyperModel((8, 8), 2, augment=np.False_, rescale=np.True_)
    assert (model.augment, model.rescale) == (False, True)
    assert type(model.augment) is bool


@pytest.mark.parametrize("shape", [(True, 28), (28.0, 28)], ids=["bool", "float"])
def test_non_int_dims_that_compare_equal_to_ints_are_refused(shape):
    with pytest.raises(ValueError, match="positive ints"):
        MnistDenseHyperModel(input_shape=shape)


def test_numpy_and_list_shapes_are_accepted():
    assert MnistDenseHyperModel(np.array([28, 28]), 3).input_shape == (28, 28)
    assert ToonVisionCNNHyperModel([16, 8, 3], 2).input_shape == (16, 8, 3)


# --------------------------------------------------------------------------- plain KerasTuner


def test_usable_with_plain_kerastuner_hyperband(tmp_path, digits_small):
    tuner = kt.Hyperband(
        MnistDenseHyperModel(input_shape=(28, 28), num_classes=10),
        objective="val_accuracy",
        max_epochs=2,
        directory=tmp_path,
        project_name="plain",
    )
    data = digits_small.subset(num_train=300, num_val=100)
    tuner.search(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=1,
        batch_size=100,
        verbose=0,
    )
    trials = list(tuner.oracle.trials.values())
    assert trials and all(t.status == "COMPLETED" for t in trials)
    best = tuner.get_best_hyperparameters()[0]
    assert set(DENSE_VALUES) <= set(best.values)
    assert (tmp_path / "plain" / "oracle.json").is_file()


def _imported_modules(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield "." * node.level + (node.module or "")


def test_hypermodels_source_never_imports_tunekit():
    package = Path(hypermodels.__file__).parent
    files = sorted(package.rglob("*.py"))
    assert {f.name for f in files} >= {"__init__.py", "dense.py", "cnn.py", "_checks.py"}
    imported = {name for f in files for name in _imported_modules(f)}
    assert "keras_tuner" in imported
    offenders = sorted(n for n in imported if n.split(".")[0] == "tunekit")
    assert not offenders, f"hypermodels imports {offenders}"


def test_importing_hypermodels_loads_no_tunekit_module():
    code = (
        "import hypermodels, sys; "
        "bad = [m for m in sys.modules if m.startswith('tunekit')]; "
        "assert not bad, bad; print('ok')"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")


# --------------------------------------------------------------------------- dense regression


def test_dense_regression_trains_on_diabetes_with_mse_loss():
    from sklearn.datasets import load_diabetes

    from hypermodels import DenseHyperModel

    x, y = load_diabetes(return_X_y=True)
    x, y = x.astype(np.float32), ((y - y.mean()) / y.std()).astype(np.float32)
    hypermodel = DenseHyperModel((10,), num_outputs=1)
    assert hypermodel.task == "regression" and hypermodel.num_classes is None
    hp = kt.HyperParameters()
    model = hypermodel.build(hp)
    assert hp.values == DENSE_VALUES  # the same search space as the classifier
    assert model.output_shape == (None, 1)
    assert _dense_layers(model)[-1].get_config()["activation"] == "linear"
    history = model.fit(x, y, epochs=1, batch_size=64, verbose=0)
    assert set(history.history) == {"loss", "mae"}
    loss, mae = model.evaluate(x, y, batch_size=442, verbose=0)
    predicted = model.predict(x, verbose=0)[:, 0]
    assert loss == pytest.approx(np.mean((predicted - y) ** 2), rel=1e-4)  # MSE
    assert mae == pytest.approx(np.mean(np.abs(predicted - y)), rel=1e-4)


def test_dense_regression_of_k_targets_and_task_from_arguments():
    from hypermodels import DenseHyperModel

    model = DenseHyperModel((4, 2), task="regression", num_outputs=3).build(kt.HyperParameters())
    assert model.output_shape == (None, 3) and model.name == "dense_regression"
    assert DenseHyperModel((4,), task="regression").num_outputs == 1
    classifier = DenseHyperModel((4,), 5)
    assert classifier.task == "classification" and classifier.num_outputs is None
    assert classifier.build(kt.HyperParameters()).output_shape == (None, 5)


def test_mnist_dense_is_the_dense_classifier_with_its_old_defaults():
    from hypermodels import DenseHyperModel

    hypermodel = MnistDenseHyperModel()
    assert isinstance(hypermodel, DenseHyperModel) and hypermodel.task == "classification"
    assert (hypermodel.input_shape, hypermodel.num_classes) == ((28, 28), 10)
    model = hypermodel.build(kt.HyperParameters())
    assert model.name == "mnist_dense" and model.output_shape == (None, 10)
    assert model.loss == "sparse_categorical_crossentropy"
    assert _dense_layers(model)[-1].get_config()["activation"] == "softmax"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            dict(),
            r"exactly one of `num_classes` \(classification\) or `num_outputs` \(regression\)",
        ),
        (dict(num_classes=3, num_outputs=1), r"exactly one of .*num_classes=3, num_outputs=1"),
        (dict(task="ranking"), r"Received: task='ranking'"),
        (dict(task="regression", num_classes=3), r"`num_classes` of DenseHyperModel is for task="),
        (dict(task="classification", num_outputs=2), r"`num_outputs` of DenseHyperModel is for"),
        (dict(num_outputs=0), r"int >= 1 .*num_outputs=0"),
        (dict(num_outputs=True), r"num_outputs=True"),
        (dict(task="classification"), r"at least two classes.*num_classes=None"),
        # Before, accepted and ignored: a plain MSE regressor.
        (
            dict(num_outputs=2, label_mode="categorical"),
            r"`label_mode` of DenseHyperModel is for classification.*'categorical'",
        ),
    ],
)
def test_dense_task_arguments_are_refused(kwargs, message):
    from hypermodels import DenseHyperModel

    with pytest.raises(ValueError, match=message):
        DenseHyperModel((4,), **kwargs)
