"""A refusal of too few samples gives advice that, followed, gets past it, and comes first.

An `.npz` of 1 `x_train` row was refused by a check of its own ("at least 2 are needed,
one to train on and one to validate on (or give x_val / y_val)"): 2 rows were then refused
(training and validation of 1 sample each), 3 to 5 rows too (validation of 1 sample),
and x_val with the 1 row too (training of 1 sample). `Dataset` of 1-sample splits whose
labels skip ids was refused for the ids first, then for the splits."""

from __future__ import annotations

import numpy as np
import pytest

from tunekit.coarse_to_fine import main
from tunekit.data import Dataset, load_mnist, load_npz
from tunekit.errors import DataError

RNG = np.random.default_rng(0)
X = RNG.random((12, 3)).astype("float32")
Y = np.arange(12) % 2
CLI = ["--hypermodel", "dense", "--coarse-trials", "3", "--coarse-epochs", "1"]
NEED = (
    "cannot make a training split and a validation split of 2 or more each (4 are needed "
    "when the validation split is drawn from x_train): save 4 or more x_train rows, or "
    "x_train of 2 or more with x_val / y_val of 2 or more, in the .npz"
)


def _npz(path, rows: int, val: int = 0, test: int = 3):
    arrays = dict(x_train=X[:rows], y_train=Y[:rows], x_test=X[8 : 8 + test])
    arrays["y_test"] = Y[8 : 8 + test]
    if val:
        arrays.update(x_val=X[4 : 4 + val], y_val=Y[4 : 4 + val])
    np.savez(path, **arrays)
    return path


def _message(call, *args, **kwargs) -> str:
    with pytest.raises(DataError) as caught:
        call(*args, **kwargs)
    return str(caught.value)


@pytest.mark.parametrize(
    ("rows", "said"),
    [
        (1, "The training split has 1 sample (splits: 1 training / 0 validation / 3 test)"),
        (2, "The training and validation splits have 1 sample each (splits: 1 training / "),
        (3, "The validation split has 1 sample (splits: 2 training / 1 validation / 3 test)"),
    ],
)
def test_too_few_x_train_rows_to_split_say_the_true_minimum(tmp_path, rows, said):
    message = _message(load_npz, _npz(tmp_path / "few.npz", rows))
    assert said in message
    assert f"x_train's {rows} sample{'s' * (rows > 1)} {NEED}." in message
    assert "validation_size=" not in message  # no validation_size gives both splits 2
    assert "one to train on" not in message
    for size in range(1, rows):  # as the advice says: none works
        with pytest.raises(DataError, match="4 are needed"):
            load_npz(tmp_path / "few.npz", validation_size=size)
    # following it: 4 rows, or 2 rows with x_val / y_val of 2
    assert len(load_npz(_npz(tmp_path / "four.npz", 4)).y_val) == 2
    assert len(load_npz(_npz(tmp_path / "own.npz", 2, val=2)).y_train) == 2


def test_a_one_row_x_train_names_a_one_row_test_in_the_same_refusal(tmp_path):
    message = _message(load_npz, _npz(tmp_path / "few.npz", 1, test=1))
    assert "The training and test splits have 1 sample each" in message
    assert f"For the training split: x_train's 1 sample {NEED}." in message
    assert "For the test split: give the file's x_test / y_test of 2 or more" in message


def test_load_mnist_s_validation_size_is_not_asked_of_too_few_rows(tmp_path):
    """It said "validation_size must be an int with 1 <= validation_size < 2": 1, also refused."""
    message = _message(load_mnist, _npz(tmp_path / "few.npz", 2))
    assert f"x_train's 2 samples {NEED}." in message
    assert "validation_size" not in message


def test_the_command_line_s_npz_of_one_row_says_what_the_file_needs(tmp_path, capsys):
    path = _npz(tmp_path / "few.npz", 1)
    assert main(["--directory", str(tmp_path / "runs"), *CLI, "--data", str(path)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"x_train's 1 sample {NEED} (an .npz of your own splits" in err
    assert "validation_size" not in err and "one to train on" not in err


def test_one_sample_splits_are_refused_before_their_class_ids():
    message = _message(Dataset, X[:1], [4], X[1:2], [8], X[2:3], [9])
    assert message.startswith("The training and validation and test splits have 1 sample each")
    assert "never occur" not in message
