"""Shared fixtures for the tunekit test suite.

Fixture names are part of the suite's contract (other test modules use them):
`_seed` (autouse), `mnist`, `mnist_small`, `image_folder`.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# The repository lives at <work>/main; the shared MNIST copy at <work>/shared/data.
_SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"
if not os.environ.get("TUNEKIT_MNIST_PATH") and _SHARED_MNIST.is_file():
    os.environ["TUNEKIT_MNIST_PATH"] = str(_SHARED_MNIST)

IMAGE_FOLDER_CLASSES = ("cog", "toon", "zz")
IMAGE_FOLDER_PER_CLASS = 14
IMAGE_FOLDER_SIZE = (24, 16)  # (height, width)
_CLASS_COLORS = {"cog": (200, 40, 40), "toon": (40, 200, 40), "zz": (40, 40, 200)}


@pytest.fixture(autouse=True)
def _seed():
    """Seeds Python, numpy and the Keras backend before every test."""
    import keras

    keras.utils.set_random_seed(0)


@pytest.fixture(scope="session")
def mnist():
    """Full MNIST (50k train / 10k validation / 10k test) from `$TUNEKIT_MNIST_PATH`."""
    from tunekit.data import load_mnist

    path = os.environ.get("TUNEKIT_MNIST_PATH")
    if not path or not Path(path).is_file():
        pytest.skip(
            f"MNIST is unavailable: TUNEKIT_MNIST_PATH={path!r} is not a file "
            f"(and {_SHARED_MNIST} does not exist); set it to a Keras-layout mnist.npz."
        )
    return load_mnist()


@pytest.fixture(scope="session")
def mnist_small(mnist):
    """The first 600 train / 300 validation / 300 test MNIST samples."""
    return mnist.subset(num_train=600, num_val=300, num_test=300)


@pytest.fixture(scope="session")
def small_npz(tmp_path_factory, mnist):
    """A Keras-layout .npz with the first 1,200 / 500 real MNIST images (for the CLI)."""
    source = np.load(os.environ["TUNEKIT_MNIST_PATH"])  # `mnist` skipped if unavailable
    path = tmp_path_factory.mktemp("data") / "mnist_small.npz"
    np.savez(path, x_train=source["x_train"][:1200], y_train=source["y_train"][:1200],
             x_test=source["x_test"][:500], y_test=source["y_test"][:500])
    return path


@pytest.fixture
def image_folder(tmp_path):
    """A ToonVision-style folder: 3 classes x 14 PNGs of 24x16 (h x w) RGB.

    Classes `cog`, `toon`, `zz` each have their own base colour plus a little
    per-image noise, so they are easy (but not trivially identical) to tell
    apart. Returns the folder's path.
    """
    from PIL import Image

    root = tmp_path / "toonvision"
    height, width = IMAGE_FOLDER_SIZE
    rng = np.random.default_rng(0)
    for name in IMAGE_FOLDER_CLASSES:
        (root / name).mkdir(parents=True)
        base = np.array(_CLASS_COLORS[name], dtype=np.int16)
        for i in range(IMAGE_FOLDER_PER_CLASS):
            noise = rng.integers(-30, 31, size=(height, width, 3), dtype=np.int16)
            pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{name}_{i:02d}.png")
    return root


RUN_BUDGET = dict(coarse_trials=4, coarse_epochs=1, max_epochs=2, factor=2, top=0.5, seed=0,
                  verbose=0)


@pytest.fixture(scope="session")
def mnist_run_data(mnist):
    """About 1,000 train / 500 validation / 500 test real MNIST samples."""
    return mnist.subset(num_train=1000, num_val=500, num_test=500)


@contextlib.contextmanager
def umask(mask: int):
    """Runs the block with the process umask set to `mask`."""
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory, mnist_run_data):
    """One finished coarse-to-fine run of the dense hypermodel: `(CoarseToFine, Result)`.

    Shared by the workflow, TensorBoard and report tests (a run costs ~20 s).
    Run under umask 022 (`tests/test_workflow.py` checks the files' modes).
    """
    from hypermodels import MnistDenseHyperModel
    from tunekit import CoarseToFine

    directory = tmp_path_factory.mktemp("runs")
    with umask(0o022):
        run = CoarseToFine(MnistDenseHyperModel(), mnist_run_data, directory=directory,
                           project_name="e2e", **RUN_BUDGET)
        return run, run.run()


@pytest.fixture(scope="session")
def fit_hp_run(tmp_path_factory, mnist):
    """A finished tiny run whose `HyperModel.fit` declares a hyperparameter (`shuffle`).

    `(CoarseToFine, Result)`; run under umask 027 (`tests/test_workflow.py`
    checks the files' modes). About 10 s.
    """
    import keras
    import keras_tuner as kt

    from tunekit import CoarseToFine

    class FitDeclares(kt.HyperModel):
        def build(self, hp):
            model = keras.Sequential([
                keras.Input((28, 28)), keras.layers.Flatten(),
                keras.layers.Dense(hp.Int("units", 8, 32, step=8), activation="relu"),
                keras.layers.Dense(10, activation="softmax")])
            model.compile(optimizer=keras.optimizers.Adam(
                              hp.Float("learning_rate", 1e-3, 1e-2, sampling="log")),
                          loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            return model

        def fit(self, hp, model, *args, **kwargs):
            return model.fit(*args, shuffle=hp.Boolean("shuffle"), **kwargs)

    data = mnist.subset(num_train=300, num_val=150, num_test=150)
    with umask(0o027):
        run = CoarseToFine(FitDeclares(name="fit-declares"), data,
                           directory=tmp_path_factory.mktemp("runs"),
                           **{**RUN_BUDGET, "coarse_trials": 3, "top": 2, "final_epochs": 1})
        return run, run.run()
