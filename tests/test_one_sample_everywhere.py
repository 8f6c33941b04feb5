"""Splits of 1 sample are refused before any training, for every way data arrives, every
such split named in one message; refusals say what is wrong for the split and the call.

A regression test stream of 1 sample was refused only as it was predicted, after the whole
search and retrain; a classification stream of 1 sample was never checked. Arrays with
validation and test splits of 1 sample each were refused for the validation split alone,
and refused again for the test split once that was fixed. `Dataset(x, y_float)` was told
as if the user had passed `task="classification"`, and a constant `y_test` was refused
because "a model learns nothing from a constant target" (nothing is learned from a test
split)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tunekit.coarse_to_fine import main
from tunekit.data import Dataset, StreamData
from tunekit.data._split_classes import split_class_notes
from tunekit.errors import DataError

RNG = np.random.default_rng(0)
X = RNG.random((40, 3)).astype("float32")
Y = RNG.random(40).astype("float32")
LABELS = np.arange(40) % 2
CLI = ["--hypermodel", "dense", "--coarse-trials", "3", "--coarse-epochs", "1"]
CLI += ["--fine-tuner", "bayesian", "--fine-trials", "1", "--max-epochs", "1"]
CLI += ["--final-epochs", "1", "--backend", "tensorflow"]


@pytest.fixture
def no_fit(monkeypatch):
    """Fails a test in which a model is fitted: a refusal comes before any training."""

    def fit(*args, **kwargs):
        raise AssertionError("a model was fitted before the refusal")

    monkeypatch.setattr(keras.Model, "fit", fit)


def _stream(x, y):
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(4)


class _Batches(keras.utils.PyDataset):
    def __init__(self, x, y):
        super().__init__()
        self.x, self.y = x, y

    def __len__(self):
        return -(-len(self.x) // 4)

    def __getitem__(self, i):
        return self.x[4 * i : 4 * i + 4], self.y[4 * i : 4 * i + 4]


def _refusal(call, *args, **kwargs) -> str:
    with pytest.raises(DataError) as caught:
        call(*args, **kwargs)
    return str(caught.value)


def test_a_stream_split_of_one_sample_is_refused_when_the_streams_are_given(no_fit):
    """The regression test stream of 1 sample: refused after the search and retrain."""
    message = _refusal(
        StreamData,
        _stream(X[:30], Y[:30]),
        _stream(X[30:35], Y[30:35]),
        _stream(X[35:36], Y[35:36]),
        fingerprint="one-test",
    )
    assert message.startswith(
        "The test split has 1 sample (splits: 30 training / 5 validation / 1 test): the test "
        "score is the run's result, and R2 is undefined on 1 sample"
    )
    assert message.endswith(
        "give a test= stream of 2 or more samples (with more data the score means more)."
    )


def test_a_classification_stream_of_one_sample_is_refused_when_given(no_fit):
    """Not checked at all: every split of 1 sample now, in one message."""
    message = _refusal(
        StreamData,
        _stream(X[:30], LABELS[:30]),
        _stream(X[30:31], LABELS[30:31]),
        _stream(X[35:36], LABELS[35:36]),
        fingerprint="one-val-one-test",
    )
    assert message.startswith(
        "The validation and test splits have 1 sample each (splits: 30 training / 1 "
        "validation / 1 test): the validation score chooses the hyperparameters and the "
        "epochs, the test score is the run's result, and an accuracy on 1 sample is 0 or 1"
    )
    assert "For the validation split: give a validation= stream of 2 or more samples" in message
    assert "For the test split: give a test= stream of 2 or more samples" in message
    message = _refusal(
        StreamData,
        _Batches(X[:1], LABELS[:1]),
        _Batches(X[30:34], LABELS[30:34]),
        _Batches(X[34:38], LABELS[34:38]),
        fingerprint="one-train",
    )
    assert message.startswith("The training split has 1 sample (splits: 1 training / 4 validation")
    assert "give a train= stream of 2 or more samples" in message


def test_every_array_split_of_one_sample_is_named_in_one_refusal(tmp_path, capsys, no_fit):
    """Validation and test of 1 sample: refused for validation, then again for test."""
    message = _refusal(
        Dataset.from_arrays,
        X[:30],
        Y[:30],
        x_test=X[30:31] + 5,
        y_test=Y[30:31],
        validation_fraction=0.04,
    )
    assert message.startswith(
        "The validation and test splits have 1 sample each (splits: 29 training / 1 "
        "validation / 1 test)"
    )
    assert (  # the fraction of the 30 samples split, not of the test set given too
        "For the validation split: validation_fraction=0.04 of 30 samples makes 1; pass a "
        "larger validation_fraction= (it needs 38 samples at 0.04) or more samples. For the "
        "test split: give x_test= / y_test= of 2 or more samples" in message
    )
    message = _refusal(Dataset, X[:20], LABELS[:20], X[20:21], LABELS[:1], X[30:31], LABELS[:1])
    assert message.startswith("The validation and test splits have 1 sample each (splits: 20 ")
    assert "For the validation split: give x_val= / y_val= of 2" in message
    assert "For the test split: give x_test= / y_test= of 2" in message
    small = Dataset.from_arrays(X, LABELS)
    message = _refusal(small.subset, 10, 1, 1)
    assert message.startswith("The validation and test splits have 1 sample each (splits: 10 ")
    assert "pass num_val= of 2 or more" in message and "pass num_test= of 2 or more" in message
    own = tmp_path / "own.npz"
    np.savez(
        own,
        x_train=X[:30],
        y_train=Y[:30],
        x_val=X[30:31],
        y_val=Y[30:31],
        x_test=X[31:32],
        y_test=Y[31:32],
    )
    runs = tmp_path / "runs"
    assert main(["--directory", str(runs), *CLI, "--data", str(own)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "The validation and test splits have 1 sample each (splits: 30 training / 1" in err
    assert "For the validation split: give the file's x_val / y_val of 2 or more samples" in err
    assert "For the test split: give the file's x_test / y_test of 2 or more samples" in err
    assert not runs.exists() or not any(runs.rglob("*.json"))


def test_the_default_task_s_refusal_says_it_is_the_default():
    message = _refusal(Dataset, X[:20], Y[:20], X[20:30], Y[20:30], X[30:], Y[30:])
    assert message.startswith(
        'No task= was passed, so Dataset takes task="classification" (its default), but '
        "y_train holds non-integer values"
    )
    assert 'Pass task="regression"' in message
    explicit = _refusal(
        Dataset, X[:20], Y[:20], X[20:30], Y[20:30], X[30:], Y[30:], task="classification"
    )
    assert explicit.startswith('task="classification" but y_train holds non-integer values')


def test_a_constant_test_target_is_refused_for_what_it_does_to_the_test_score():
    """Not "a model learns nothing from a constant target": nothing is learned from it."""
    constant = np.ones(10, "float32")
    message = _refusal(
        Dataset, X[:20], Y[:20], X[20:30], Y[20:30], X[30:], constant, task="regression"
    )
    assert message.startswith(
        "y_test is constant: every test target is 1. The test split gives the run's result "
        "(the final model is judged on it), but R2 is undefined on a constant target"
    )
    assert "learns nothing" not in message
    assert message.endswith("give x_test= / y_test= whose targets vary.")


def test_a_validation_split_too_small_for_its_classes_is_warned_with_its_size():
    """2 validation samples for 10 classes: a weak score, warned (not refused)."""
    other = RNG.random((12, 3))
    data = Dataset(
        X[:30], np.arange(30) % 10, other[:2], np.array([3, 7]), other[2:], np.arange(10)
    )
    (note,) = split_class_notes(data)
    assert note.startswith("The validation split holds no example of class(es) '0', '1'")
    assert (
        "It has 2 examples for 10 classes, too few to hold one of each: each example moves its "
        "accuracy by 50 points." in note
    )


def test_a_constant_stream_not_read_whole_is_refused_when_given(no_fit):
    """A stream of known length is not read whole: its constant targets were refused only
    as the test set was predicted, after the search and retrain."""
    message = _refusal(
        StreamData,
        _stream(X[:30], Y[:30]),
        _stream(X[30:35], Y[30:35]),
        _stream(X[35:], np.ones(5, "float32")),
        fingerprint="constant-test",
    )
    assert message.startswith(
        "StreamData: the test stream's target is constant: every test target is 1. The test "
        "split gives the run's result"
    )
    assert message.endswith("give a test= stream whose targets vary.")
    two = np.stack([Y, np.where(np.arange(40) < 30, Y, 2.0)], axis=1)  # column 1 of val: 2.0
    message = _refusal(
        StreamData,
        _stream(X[:30], two[:30]),
        _stream(X[30:35], two[30:35]),
        _stream(X[35:], two[35:]),
        fingerprint="constant-column",
    )
    assert message.startswith(
        "StreamData: the validation stream's target is constant in column(s) [1]: every "
        "validation target is 2."
    )
