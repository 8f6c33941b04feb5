"""Shared fixtures for the tunekit test suite.

Fixture names are part of the suite's contract (other test modules use them):
`_seed` (autouse), `digits28`, `digits_small`, `run_data`, `small_npz`, `mnist`,
`image_folder`, `finished_run`, `fit_hp_run`.

The default suite needs no data file. Tests that only need "some small image
classification data" use `digits28`: scikit-learn's bundled `load_digits`
(1,797 8x8 images, 10 classes) scaled up to MNIST's 28x28 uint8 layout, so the
MNIST hypermodels and shapes apply unchanged. Only tests about MNIST itself use
the real file (`mnist`, `skip_guard.require_mnist`): they skip with the reason
on a machine without it and fail under `CI=true` (see `skip_guard.py`).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skip_guard
from skip_guard import mnist_path, require_mnist

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# pytest-xdist's workers (2 by default) share the cores: one TensorFlow thread each, as
# tunekit's own worker processes get (`tunekit.processes`), instead of pools that fight
# over them (about 10% less wall time on the 2-core machine). Inherited by the CLI
# subprocesses; set before TensorFlow loads. Results do not depend on it.
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    for _name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ.setdefault(_name, "1")

# The library reads $TUNEKIT_MNIST_PATH (load_mnist, notebooks): point it at the shared copy.
if not os.environ.get("TUNEKIT_MNIST_PATH") and mnist_path() is not None:
    os.environ["TUNEKIT_MNIST_PATH"] = str(mnist_path())

DIGITS_TEST = 400  # digits28's test split; its train file holds the other 1,397 images


def pytest_configure(config):
    skip_guard.pytest_configure(config)


# The longest files (several CLI subprocesses or full runs each, about 1-5 minutes on the
# project's 2-core machine), collected first so that pytest-xdist's workers (one file each
# at a time, `--dist loadfile`) start them first and finish together, instead of one worker
# running the last long file alone. Measured with `pytest --durations=0`.
LONG_FILES = (
    "test_resume.py",
    "test_kills.py",
    "test_cli.py",
    "test_tuners.py",
    "test_notebooks.py",
    "test_own_data.py",
    "test_workflow.py",
    "test_signals.py",
    "test_distributed.py",
    "test_trust_steps.py",
)


# Tests measured at 4 s or more in the default suite, marked `long` here (one node id a line).
LONG_TESTS = Path(__file__).with_name("long_tests.txt")


def measured_long() -> frozenset[str]:
    """The node ids `long_tests.txt` lists (comments and blank lines left out)."""
    lines = (line.split("#", 1)[0].strip() for line in LONG_TESTS.read_text().splitlines())
    return frozenset(line for line in lines if line)


# First, so that `-m` (pytest's own hook) deselects by the marks added here.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    listed = measured_long()
    for item in items:
        if item.nodeid in listed:
            item.add_marker(pytest.mark.long)
    rank = {name: i for i, name in enumerate(LONG_FILES)}
    # A stable sort: each file's tests keep their order; the same order on every worker.
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_FILES)))


IMAGE_FOLDER_CLASSES = ("cog", "toon", "zz")
IMAGE_FOLDER_PER_CLASS = 14
IMAGE_FOLDER_SIZE = (24, 16)  # (height, width)
_CLASS_COLORS = {"cog": (200, 40, 40), "toon": (40, 200, 40), "zz": (40, 40, 200)}


@pytest.fixture(autouse=True)
def _seed():
    """Seeds Python, numpy and the Keras backend before every test."""
    import keras

    keras.utils.set_random_seed(0)


def digits_as_mnist() -> dict[str, np.ndarray]:
    """scikit-learn's `load_digits` in MNIST's Keras layout: uint8 (n, 28, 28) images.

    Each 8x8 image (values 0..16) is scaled to 0..255, enlarged 3x to 24x24 and
    padded by 2 pixels, like MNIST's centred digits. 1,397 train / 400 test.
    """
    from sklearn.datasets import load_digits

    images, labels = load_digits(return_X_y=True)
    pixels = np.rint(images.reshape(-1, 8, 8) * (255 / 16)).astype(np.uint8)
    pixels = np.pad(pixels.repeat(3, axis=1).repeat(3, axis=2), ((0, 0), (2, 2), (2, 2)))
    labels = labels.astype(np.uint8)
    return {
        "x_train": pixels[:-DIGITS_TEST],
        "y_train": labels[:-DIGITS_TEST],
        "x_test": pixels[-DIGITS_TEST:],
        "y_test": labels[-DIGITS_TEST:],
    }


@pytest.fixture(scope="session")
def digits_npz(tmp_path_factory):
    """All of `digits_as_mnist()` as a Keras-layout .npz (1,397 train / 400 test)."""
    path = tmp_path_factory.mktemp("data") / "digits28.npz"
    np.savez(path, **digits_as_mnist())
    return path


@pytest.fixture(scope="session")
def digits28(digits_npz):
    """The digits as a `Dataset`: 1,000 train / 397 validation / 400 test, (28, 28), 10 classes.

    Loaded like MNIST (`load_npz`: uint8 / 255, seeded validation split).
    """
    from tunekit.data import load_npz

    return load_npz(digits_npz, validation_size=397, seed=0, name="digits28")


@pytest.fixture(scope="session")
def digits_small(digits28):
    """600 train / 300 validation / 300 test samples of `digits28` (`subset`, seed 0)."""
    return digits28.subset(num_train=600, num_val=300, num_test=300)


@pytest.fixture(scope="session")
def small_npz(tmp_path_factory):
    """A Keras-layout .npz with 1,200 train / 400 test digits at 28x28 (for the CLI)."""
    arrays = digits_as_mnist()
    path = tmp_path_factory.mktemp("data") / "digits_small.npz"
    np.savez(
        path,
        x_train=arrays["x_train"][:1200],
        y_train=arrays["y_train"][:1200],
        x_test=arrays["x_test"],
        y_test=arrays["y_test"],
    )
    return path


@pytest.fixture(scope="session")
def mnist():
    """Full MNIST (50k train / 10k validation / 10k test), for tests about MNIST itself.

    Skips with the reason without the file (`$TUNEKIT_MNIST_PATH`, else
    `<repo>/../shared/data/mnist.npz`); fails under `CI=true`.
    """
    from tunekit.data import load_mnist

    return load_mnist(require_mnist())


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


# Finalists and the baseline are off here (tests/test_trust_steps.py covers them): each adds
# several fits to every run of the suite.
# The smallest run with a Bayesian fine phase (no Hyperband rounds): 3 coarse trials
# of 1 epoch, 1 fine trial, 1 final epoch; no finalists, no baseline.
BAYES_BUDGET: dict[str, Any] = dict(
    coarse_trials=3,
    coarse_epochs=1,
    fine_tuner="bayesian",
    fine_trials=1,
    max_epochs=1,
    final_epochs=1,
    top=1.0,
    finalists=0,
    baseline=False,
    verbose=0,
)

RUN_BUDGET = dict(
    coarse_trials=4,
    coarse_epochs=1,
    max_epochs=2,
    factor=2,
    top=0.5,
    seed=0,
    verbose=0,
    finalists=0,
    baseline=False,
)


@pytest.fixture(scope="session")
def run_data(digits28):
    """1,000 train / 397 validation / 400 test digits at 28x28 (all of `digits28`)."""
    return digits28


@contextlib.contextmanager
def umask(mask: int):
    """Runs the block with the process umask set to `mask`."""
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory, run_data):
    """One finished coarse-to-fine run of the dense hypermodel: `(CoarseToFine, Result)`.

    Shared by the workflow, TensorBoard and report tests (a run costs ~20 s).
    Run under umask 022 (`tests/test_workflow.py` checks the files' modes).
    """
    from hypermodels import MnistDenseHyperModel
    from tunekit import CoarseToFine

    directory = tmp_path_factory.mktemp("runs")
    with umask(0o022):
        run = CoarseToFine(
            MnistDenseHyperModel(), run_data, directory=directory, project_name="e2e", **RUN_BUDGET
        )
        return run, run.run()


@pytest.fixture(scope="session")
def fit_hp_run(tmp_path_factory, digits28):
    """A finished tiny run whose `HyperModel.fit` declares a hyperparameter (`shuffle`).

    `(CoarseToFine, Result)`; run under umask 027 (`tests/test_workflow.py`
    checks the files' modes). About 10 s.
    """
    import keras
    import keras_tuner as kt

    from tunekit import CoarseToFine

    class FitDeclares(kt.HyperModel):
        def build(self, hp):
            model = keras.Sequential(
                [
                    keras.Input((28, 28)),
                    keras.layers.Flatten(),
                    keras.layers.Dense(hp.Int("units", 8, 32, step=8), activation="relu"),
                    keras.layers.Dense(10, activation="softmax"),
                ]
            )
            model.compile(
                optimizer=keras.optimizers.Adam(
                    hp.Float("learning_rate", 1e-3, 1e-2, sampling="log")
                ),
                loss="sparse_categorical_crossentropy",
                metrics=["accuracy"],
            )
            return model

        def fit(self, hp, model, *args, **kwargs):
            return model.fit(*args, shuffle=hp.Boolean("shuffle"), **kwargs)

    data = digits28.subset(num_train=300, num_val=150, num_test=150)
    with umask(0o027):
        run = CoarseToFine(
            FitDeclares(name="fit-declares"),
            data,
            directory=tmp_path_factory.mktemp("runs"),
            **{**RUN_BUDGET, "coarse_trials": 3, "top": 2, "final_epochs": 1},
        )
        return run, run.run()


def three_splits(stream):
    """`stream` (at least 3 batches) cut into three splits of separate samples: its second
    batch as validation, its third as test, the others (the first first) as training
    (`StreamData` refuses splits that share samples: `tunekit.data._leaks`)."""
    return (
        stream.take(1).concatenate(stream.skip(3)),
        stream.skip(1).take(1),
        stream.skip(2).take(1),
    )
