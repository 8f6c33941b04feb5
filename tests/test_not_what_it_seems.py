"""Inputs that look like another kind, refused by what they are before anything reads them.

Found by a new user: Keras's lists of target arrays (`y=[y_digit, y_size]`) were read
as one `(2, n)` array by task inference ("1497 regression targets per sample: pass
task="regression"") wherever the list check did not run first or did not recognise
the list; a Keras layer or optimizer given as the hypermodel was called as
`build(hp)` ("object of type 'HyperParameters' has no len()").
"""

from __future__ import annotations

import textwrap

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits

from tunekit import CoarseToFine
from tunekit.coarse_to_fine import main
from tunekit.data import Dataset, load_npz
from tunekit.errors import DataError, InvalidParameterError

TARGETS = "target arrays of {n} samples each, as Keras takes for a model with a list of outputs"
AS_DICT = "tunekit takes several outputs' targets as a dict keyed by the model's output names"


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    y = y.astype("float32")  # whole-number floats: the (2, n) array was "ambiguous"
    return x[:1497], y[:1497], x[1497:], y[1497:]


@pytest.mark.parametrize("task", [None, "regression", "classification"])
@pytest.mark.parametrize("wrap", [list, tuple])
def test_a_list_of_targets_is_said_first_in_every_entry_point(digits, wrap, task):
    x, y, x_test, y_test = digits
    kw = dict(x_test=x_test, y_test=wrap([y_test, y_test % 2]), task=task)
    # Keras's lists of 2 inputs and 2 outputs: each list's 2 matched the other's length.
    with pytest.raises(DataError, match=r"x is a \w+ of 2 input arrays of 1497 samples each"):
        Dataset.from_arrays(wrap([x, x]), wrap([y, y % 2]), **kw)
    kw["x_test"] = {"pixels": x_test}
    with pytest.raises(DataError) as said:
        Dataset.from_arrays({"pixels": x}, wrap([y, y % 2]), **kw)
    assert f"y is a {wrap.__name__} of 2 {TARGETS.format(n=1497)}" in str(said.value)
    assert AS_DICT in str(said.value)
    # The Dataset itself inferred the task from a list y_train before any list check.
    splits = (x[:1000], wrap([y[:1000], y[:1000] % 2]), x[1000:], y[1000:], x_test, y_test)
    with pytest.raises(DataError) as said:
        Dataset(*splits, task=task)
    assert f"y_train is a {wrap.__name__} of 2 {TARGETS.format(n=1000)}" in str(said.value)
    assert "y_train={'digit': y_digit" in str(said.value)


def test_a_list_of_one_target_array_is_told_to_pass_the_array(digits):
    x, y, x_test, y_test = digits
    with pytest.raises(DataError, match=r"y is a list of 1 target array of 1497 samples,") as e:
        Dataset.from_arrays(x, [y], x_test=x_test, y_test=[y_test])
    assert "pass the array itself (y[0])" in str(e.value)


def test_a_list_of_samples_is_still_one_array(digits):
    x, y, *_ = digits
    rows = list(np.random.default_rng(0).random((80, 64)))  # an autoencoder's x and y
    data = Dataset.from_arrays(rows, rows, task="regression", seed=0)
    assert data.x_train.shape[1:] == data.y_train.shape[1:] == (64,)
    assert Dataset.from_arrays(x[:80], [y[:80][i] for i in range(80)], seed=0).task == (
        "classification"
    )


def _stacked_npz(tmp_path, digits):
    x, y, x_test, y_test = digits
    path = tmp_path / "two_outputs.npz"
    np.savez(path, x_train=x, y_train=[y, y % 2], x_test=x_test, y_test=[y_test, y_test % 2])
    return path


@pytest.mark.parametrize("task", [None, "regression"])
def test_targets_stacked_into_one_array_are_said_stacked(tmp_path, digits, task):
    """`np.array([y1, y2])`, or `np.savez` of a list: samples on axis 1."""
    x, y, x_test, y_test = digits
    stacked = "y has shape (2, 1497) but x has 1497 samples: the samples of y are on axis 1"
    with pytest.raises(DataError) as said:
        Dataset.from_arrays(x, np.array([y, y % 2]), task=task)
    assert stacked in str(said.value)
    assert AS_DICT in str(said.value) and "pass y.T (shape (1497, 2))" in str(said.value)
    with pytest.raises(DataError) as said:
        load_npz(_stacked_npz(tmp_path, digits), task=task)
    assert "y_train has shape (2, 1497) but x_train has 1497 samples" in str(said.value)
    assert "an .npz holds one target array per split" in str(said.value)


@pytest.mark.parametrize("task", [None, "regression", "classification"])
def test_a_row_of_targets_is_told_to_ravel_not_to_stack(digits, task):
    """A `(1, n)` y is one row of targets, not one output's targets 'stacked'."""
    x, y, _, _ = digits
    with pytest.raises(DataError) as said:
        Dataset.from_arrays(x, y.reshape(1, -1), task=task)
    assert "y has shape (1, 1497) but x has 1497 samples: it is one row of 1497 targets" in str(
        said.value
    )
    assert "pass y.ravel() (shape (1497,))" in str(said.value)
    assert "stacked" not in str(said.value)


def test_the_command_line_says_an_npz_of_stacked_targets_exits_2(tmp_path, capsys, digits):
    args = ["--data", str(_stacked_npz(tmp_path, digits)), "--directory", str(tmp_path / "r")]
    assert main([*args, "--backend", "tensorflow"]) == 2
    err = capsys.readouterr().err.strip()
    assert "y_train has shape (2, 1497) but x_train has 1497 samples" in err, err
    assert "regression targets per sample" not in err
    assert not (tmp_path / "r").exists()


def _adapted_normalization():
    norm = keras.layers.Normalization()
    norm.adapt(np.random.default_rng(0).random((20, 4), "float32"))
    return norm


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(0)
    return Dataset.from_arrays(rng.random((60, 4), "float32"), np.arange(60) % 2)


@pytest.mark.parametrize(
    ("make", "what"),
    [
        (_adapted_normalization, "a keras.layers.Normalization instance"),
        (lambda: keras.layers.Dense(3), "a keras.layers.Dense instance"),
        (lambda: keras.optimizers.Adam(1e-3), "a keras.optimizers.Adam instance"),
        (lambda: keras.losses.MeanSquaredError(), "a keras.losses.MeanSquaredError instance"),
        (lambda: keras.metrics.AUC(), "a keras.metrics.AUC instance"),
        (lambda: keras.layers.Dense, "the keras.layers.Dense class"),
    ],
    ids=["normalization", "dense", "optimizer", "loss", "metric", "layer-class"],
)
def test_a_keras_object_as_the_hypermodel_is_refused_saying_what_it_is(tmp_path, small, make, what):
    with pytest.raises(InvalidParameterError) as said:
        CoarseToFine(make(), small, directory=tmp_path, project_name="r")
    assert f"it is {what}, which Keras calls on tensors, not on hp" in str(said.value)
    assert "pass a function build(hp) that returns a compiled model" in str(said.value)
    assert "or a keras_tuner.HyperModel" in str(said.value)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("attribute", "what"),
    [
        ("norm", "is a keras.layers.Normalization instance, not a build function or a "),
        ("model", "is a built Keras model (Sequential 'tiny'), which has no hyperparameters"),
    ],
)
def test_the_command_line_refuses_a_keras_object_as_hypermodel_with_exit_2(
    tmp_path, capsys, monkeypatch, small_npz, attribute, what
):
    """Before: "--hypermodel's build raised TypeError: object of type 'HyperParameters'
    has no len()" (the layer called as build(hp))."""
    (tmp_path / "prep.py").write_text(
        textwrap.dedent(
            """
            import keras
            import numpy as np

            norm = keras.layers.Normalization()
            norm.adapt(np.zeros((4, 28, 28), "float32"))
            model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten()], name="tiny")
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    args = ["--hypermodel", f"prep:{attribute}", "--data", str(small_npz)]
    assert main([*args, "--directory", str(tmp_path / "runs"), "--backend", "tensorflow"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert f"--hypermodel 'prep:{attribute}' {what}" in err
    assert "pass a function build(hp) that returns a compiled model" in err
    assert "has no len()" not in err
    assert not (tmp_path / "runs").exists()
