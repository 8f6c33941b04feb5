"""Validation and test splits too small to score (1 sample, or constant regression targets)
are refused before any work, for every way data arrives, with a remedy of the call made.

A 6-row CSV split 4 / 1 / 1 tuned on one validation target and reported `r2 nan` with exit
0; `Dataset.from_arrays` refused a constant split naming load_csv's `target=` and advising
another seed for targets of which 39 of 40 are equal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tunekit import cv
from tunekit.coarse_to_fine import main
from tunekit.data import Dataset, load_csv, load_npz
from tunekit.errors import DataError

RNG = np.random.default_rng(0)
X = RNG.random((40, 3))
Y = RNG.random(40) * 3
FEW_REG = pd.DataFrame(
    {
        "a": [0.3, 2.1, 1.0, 0.7, 1.5, 0.2],
        "b": [0.5, 0.1, 0.9, 0.4, 0.3, 0.8],
        "y": [1.5, 2.5, 0.5, 3.5, 1.0, 2.0],
    }
)
CLI = ["--hypermodel", "dense", "--coarse-trials", "3", "--coarse-epochs", "1"]
CLI += ["--fine-tuner", "bayesian", "--fine-trials", "2", "--max-epochs", "1"]
CLI += ["--final-epochs", "1", "--backend", "tensorflow"]


def _message(call, *args, **kwargs) -> str:
    with pytest.raises(DataError) as caught:
        call(*args, **kwargs)
    return str(caught.value)


def test_a_six_row_csv_is_refused_on_the_command_line_before_any_work(tmp_path, capsys):
    """It ran with exit 0, its Test line `r2 nan`, tuned on one validation target."""
    FEW_REG.to_csv(tmp_path / "few_reg.csv", index=False)
    runs = tmp_path / "runs"
    args = ["--directory", str(runs), *CLI, "--data", str(tmp_path / "few_reg.csv")]
    assert main([*args, "--target", "y"]) == 2
    err = capsys.readouterr().err
    assert (  # both splits of 1 sample in one message: one fix suffices
        "The validation and test splits have 1 sample each (splits: 4 training / 1 validation "
        "/ 1 test)" in err.replace("\n", " ")
    )
    assert "R2 is undefined on 1 sample" in err
    # the command line has no fractions: what it can do instead
    assert "splits a CSV 70% / 15% / 15% (seed 0), so it needs at least 10 rows" in err
    assert "as --data" in err and "validation_fraction=" in err  # named as Python's
    assert "--validation-fraction" not in err and "--seed" not in err
    assert not runs.exists() or not any(runs.rglob("*.json"))


def test_python_calls_say_their_own_remedy_for_a_one_sample_split(tmp_path):
    message = _message(Dataset.from_arrays, X[:6], Y[:6])
    assert message.startswith(
        "The validation and test splits have 1 sample each (splits: 4 training / 1 validation "
        "/ 1 test)"
    )
    assert "For the validation split: validation_fraction=0.15 of 6 samples makes 1; pass a " in (
        message
    )
    assert "pass a larger validation_fraction= (it needs 10 samples at 0.15)" in message
    assert "pass a larger test_fraction= (it needs 10 samples at 0.15)" in message
    FEW_REG.to_csv(tmp_path / "few.csv", index=False)
    assert "pass a larger validation_fraction=" in _message(load_csv, tmp_path / "few.csv", "y")
    # a test set the user gave: theirs to enlarge, whatever the fractions
    message = _message(Dataset.from_arrays, X, Y, x_test=X[:1] + 5, y_test=Y[:1])
    assert message.startswith("The test split has 1 sample (splits: 34 training / 6 validation")
    assert "give x_test= / y_test= of 2 or more samples" in message
    assert "fraction" not in message
    message = _message(
        Dataset, X[:10], Y[:10], X[10:13], Y[10:13], X[13:14], Y[13:14], task="regression"
    )
    assert "The test split has 1 sample" in message and "R2 is undefined" in message
    labels = np.arange(40) % 2
    message = _message(Dataset, X[:10], labels[:10], X[10:11], labels[10:11], X[20:24], labels[:4])
    assert "The validation split has 1 sample" in message
    assert "an accuracy on 1 sample is 0 or 1" in message and "R2" not in message


def test_an_npz_of_a_one_sample_split_is_refused_with_the_file_s_remedy(tmp_path, capsys):
    """The user's own x_test of 1 row: the test R2 (nan) was reported with exit 0."""
    own = tmp_path / "own.npz"
    np.savez(own, x_train=X[:30], y_train=Y[:30], x_test=X[30:31], y_test=Y[30:31])
    message = _message(load_npz, own)
    assert "The test split has 1 sample (splits: 25 training / 5 validation / 1 test)" in message
    assert "give the file's x_test / y_test of 2 or more samples" in message
    few = tmp_path / "few.npz"  # validation split off 8 training samples: 1 of it asked
    np.savez(few, x_train=X[:8], y_train=Y[:8], x_test=X[30:33], y_test=Y[30:33])
    assert "pass validation_size=2 or more" in _message(load_npz, few, validation_size=1)
    np.savez(few, x_train=X[:3], y_train=Y[:3], x_test=X[30:33], y_test=Y[30:33])
    assert main(["--directory", str(tmp_path / "runs"), *CLI, "--data", str(few)]) == 2
    err = capsys.readouterr().err.replace("\n", " ")
    assert "The validation split has 1 sample" in err
    assert "save 4 or more x_train rows, or x_train of 2 or more with x_val / y_val" in err
    assert "validation_size" not in err and "validation-size" not in err
    constant = tmp_path / "constant.npz"
    np.savez(constant, x_train=X[:30], y_train=Y[:30], x_test=X[30:33], y_test=np.ones(3))
    message = _message(load_npz, constant)
    assert "y_test is constant" in message
    assert "give the file's x_test / y_test whose targets vary" in message
    assert "seed=" not in message and "fraction" not in message and "target=" not in message


def test_a_constant_split_s_remedy_belongs_to_the_call_and_can_work(tmp_path, capsys):
    """from_arrays named load_csv's target=, and advised another seed for 39 equal of 40."""
    nearly = np.ones(40)
    nearly[0] = 2.0
    message = _message(Dataset.from_arrays, X, nearly, task="regression")
    assert "is constant" in message
    assert "39 of the 40 targets are 1: nearly all are equal" in message
    assert "whatever the seed or fractions" in message
    assert "target=" not in message and "seed=" not in message
    # a split that happens to be constant: another seed can help there
    split = np.repeat([1.0, 2.5], [34, 6])  # 6 others: every split can get one
    for seed in range(200):
        try:
            Dataset.from_arrays(X, split, seed=seed, task="regression")
        except DataError as error:
            assert "Pass another seed= or a larger validation_fraction=" in str(error)
            assert "target=" not in str(error)
            break
    else:
        pytest.fail("no seed made a constant validation split")
    frame = pd.DataFrame(X, columns=list("abc")).assign(t=nearly)
    frame.to_csv(tmp_path / "c.csv", index=False)
    message = _message(load_csv, tmp_path / "c.csv", "t", task="regression")
    assert "Check that target= is the column you meant" in message
    assert (
        main(
            ["--directory", str(tmp_path / "runs"), *CLI, "--data", str(tmp_path / "c.csv")]
            + ["--target", "t", "--task", "regression"]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "Check that --target is the column you meant" in err
    assert "seed=" not in err and "--seed" not in err


def test_a_stream_s_constant_split_names_its_streams():
    from tunekit.data._stream_labels import refuse_constant_targets

    with pytest.raises(DataError) as caught:
        refuse_constant_targets([np.ones(4), np.ones(3)], "val")
    message = str(caught.value)
    assert "give a validation= stream whose targets vary" in message
    assert "seed=" not in message and "x_val" not in message
    with pytest.raises(DataError, match=r"test stream's target has 1 sample: R2 is undefined"):
        refuse_constant_targets([np.ones(1)], "test")  # as it is predicted: R2 nan


def test_cv_folds_of_one_validation_sample_are_refused():
    """cv=3 on 5 regression samples scored folds of 1 or 2 validation samples."""
    with pytest.raises(DataError, match=r"cv=3 splits the 5 samples .* folds of 1 or 2: .*cv=2"):
        cv.fold_indices(Y[:5], 3, seed=0)
    assert len(cv.fold_indices(Y[:6], 3, seed=0)) == 3


def test_a_training_split_of_one_sample_is_refused_with_a_remedy_that_can_work(tmp_path, capsys):
    """A 1-sample training split ran to a result with exit 0 (test r2 -0.5 from an .npz;
    r2 -113.7 from `load_csv(..., validation_fraction=0.4, test_fraction=0.4)` on 5 rows,
    the fractions the 5-row refusal's own remedy led to)."""
    own = tmp_path / "train1.npz"
    np.savez(
        own, x_train=X[:1], y_train=Y[:1], x_val=X[1:4], y_val=Y[1:4], x_test=X[4:7], y_test=Y[4:7]
    )
    message = _message(load_npz, own)
    assert "The training split has 1 sample (splits: 1 training / 3 validation / 3 test)" in (
        message
    )
    assert "its one target is constant" in message
    assert "give the file's x_train / y_train of 2 or more samples" in message
    assert main(["--directory", str(tmp_path / "runs"), *CLI, "--data", str(own)]) == 2
    assert "The training split has 1 sample" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("*.json"))
    FEW_REG[:5].to_csv(tmp_path / "five.csv", index=False)
    message = _message(
        load_csv, tmp_path / "five.csv", "y", validation_fraction=0.4, test_fraction=0.4
    )
    assert "The training split has 1 sample (splits: 1 training / 2 validation / 2 test)" in (
        message
    )
    # no fractions give three splits of 2 from 5 rows: the remedy says so, not other fractions
    for said in (message, _message(load_csv, tmp_path / "five.csv", "y")):
        assert "5 samples cannot make a training split and validation and test splits" in said
        assert "fraction=" not in said.split("needs at least 2 samples")[1]
    labels = np.arange(8) % 2
    message = _message(Dataset, X[:1], labels[:1], X[1:4], labels[1:4], X[4:8], labels[4:8])
    assert "The training split has 1 sample" in message and "one class" in message
