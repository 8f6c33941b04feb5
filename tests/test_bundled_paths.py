"""A `--hypermodel` path to a bundled class is built as its built-in name.

Before: `--hypermodel hypermodels:ToonVisionCNNHyperModel` was built as a class of the
user's own, with its plain-KerasTuner defaults: a `Rescaling(1/255)` layer divided float
pixels already in [0, 1] by 255 again and a `RandomFlip` flipped digits, and every trial
trained at chance, exit 0 (`--hypermodel toonvision-cnn` builds the same class with
`rescale=False` and no flip); `--no-augment` was refused as "your own hypermodel".
`hypermodels:DenseHyperModel` lost `label_mode` on one-hot labels the same way.
"""

from __future__ import annotations

import keras_tuner as kt
import numpy as np
import pytest

from tunekit.coarse_to_fine import _load_data, build_parser, main
from tunekit.hypermodel_options import builtin_name
from tunekit.hypermodel_specs import check_spec, resolve_hypermodel
from tunekit.object_settings import describe_hypermodel

CNN_PATHS = ["hypermodels:ToonVisionCNNHyperModel", "hypermodels.cnn:ToonVisionCNNHyperModel"]


def _images(path, one_hot=False):
    rng = np.random.default_rng(0)
    x = rng.random((60, 8, 8)).astype("float32")  # already in [0, 1]: used as given
    y = np.arange(60) % 3
    if one_hot:
        y = np.eye(3, dtype="float32")[y]
    np.savez(path, x_train=x[:40], y_train=y[:40], x_test=x[40:], y_test=y[40:])
    return str(path)


def _built(argv):
    args = build_parser().parse_args(argv)
    data = _load_data(args)
    return resolve_hypermodel(args.hypermodel, augment=args.augment)(data), data


def _layers(hypermodel):
    model = hypermodel.build(kt.HyperParameters())
    return {type(layer).__name__ for layer in model.layers}


@pytest.mark.parametrize("path", CNN_PATHS)
@pytest.mark.parametrize(
    "flag, flips", [([], False), (["--augment"], True), (["--no-augment"], False)]
)
def test_a_path_to_the_bundled_cnn_is_built_as_toonvision_cnn(tmp_path, path, flag, flips):
    data = _images(tmp_path / "d.npz")
    check_spec(path, {"--augment": True, "--no-augment": False}.get(flag[0]) if flag else None)
    by_path, _ = _built(["--hypermodel", path, "--data", data, *flag])
    by_name, _ = _built(["--hypermodel", "toonvision-cnn", "--data", data, *flag])
    assert (by_path.rescale, by_path.augment) == (False, flips)
    assert describe_hypermodel(by_path) == describe_hypermodel(by_name)
    layers = _layers(by_path)
    assert "Rescaling" not in layers
    assert ("RandomFlip" in layers) is flips


@pytest.mark.parametrize(
    "path", ["hypermodels:DenseHyperModel", "hypermodels.dense:DenseHyperModel"]
)
def test_a_path_to_the_bundled_dense_model_takes_one_hot_labels_as_dense(tmp_path, path):
    data = _images(tmp_path / "d.npz", one_hot=True)
    by_path, _ = _built(["--hypermodel", path, "--data", data])
    by_name, _ = _built(["--hypermodel", "dense", "--data", data])
    assert by_path.label_mode == by_name.label_mode == "categorical"
    assert describe_hypermodel(by_path) == describe_hypermodel(by_name)
    loss = by_path.build(kt.HyperParameters()).loss
    assert loss == by_name.build(kt.HyperParameters()).loss == "categorical_crossentropy"


def test_the_cnn_by_path_refuses_feature_vectors_as_toonvision_cnn_does(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x, y = rng.random((40, 6)).astype("float32"), np.arange(40) % 2
    np.savez(tmp_path / "v.npz", x_train=x[:30], y_train=y[:30], x_test=x[30:], y_test=y[30:])
    argv = ["--hypermodel", CNN_PATHS[0], "--data", str(tmp_path / "v.npz")]
    assert main([*argv, "--directory", str(tmp_path / "runs")]) == 2
    assert "needs images" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_only_a_path_to_a_bundled_class_is_renamed():
    assert builtin_name("hypermodels:MnistDenseHyperModel") == "mnist-dense"
    assert builtin_name("mymodels:ToonVisionCNNHyperModel") == "mymodels:ToonVisionCNNHyperModel"
    assert builtin_name("hypermodels:hypermodel") == "hypermodels:hypermodel"
    assert builtin_name("toonvision-cnn") == "toonvision-cnn"
