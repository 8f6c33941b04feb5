"""Warnings, notes and errors name options in the spelling of the interface the run came from.

Before:

- on the command line, the warning for a validation (or test) split lacking classes
  gave Python's remedies (`x_val/y_val`, `validation_size=`, `Dataset.from_arrays`,
  `Dataset.subset: num_val=`, `cv=K`), and so did the refusal of a class training
  lacks (`Dataset.from_arrays`, "cv=K (--cv K)"): a command-line user has the `--data`
  .npz and `--cv K`;
- a Python user was shown flags: `--fine-tuner bayesian` (a Hyperband trial whose own
  fit ignores the epochs it is given, warned and in report.md), `--image-size HEIGHT
  WIDTH` (an image folder's images against the model's input), `overwrite=True
  (--overwrite)` (a fit that transformed x or y), `--workers 1` (a space that grew in
  a parallel search, in report.md).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pytest

from tunekit.cli_parser import cli_message
from tunekit.coarse_to_fine import main
from tunekit.data import Dataset

_NAMES = ["ant", "bee", "cat"]
# Python's remedies, which the command line has no option for.
_PYTHON_ONLY = ("x_val/y_val", "validation_size=", "Dataset.", "num_val=", "cv=K")


def _dataset(y_val: Any, y_test: Any, y_train: Any = None) -> Dataset:
    rng = np.random.default_rng(0)
    y_train = np.arange(12) % 3 if y_train is None else y_train
    return Dataset(
        rng.random((12, 3)),
        y_train,
        rng.random((len(y_val), 3)),
        y_val,
        rng.random((len(y_test), 3)),
        y_test,
        class_names=_NAMES,
        input_shape=(3,),
    )


def _notes(tmp_path, caplog, said: Any) -> list[str]:
    from tunekit import CoarseToFine
    from tunekit.trial_refusals import saying

    with caplog.at_level(logging.WARNING, logger="tunekit"), saying(said):
        data = _dataset(np.arange(6) % 2, np.arange(6) % 2)  # both lack 'cat'
        run = CoarseToFine(lambda hp: None, data, directory=tmp_path, verbose=0)
    logged = [r.getMessage() for r in caplog.records if " split holds " in r.getMessage()]
    assert logged == run.split_notes  # the report carries what was logged
    return logged


def test_split_warnings_give_the_command_lines_remedies_on_the_command_line(tmp_path, caplog):
    validation, test = _notes(tmp_path, caplog, cli_message)
    assert validation.endswith(
        "Use a validation set holding every class: add examples of every class to x_val / "
        "y_val in the --data .npz (without them, the validation set is drawn from x_train at "
        "random, not per class), or pass --cv K to score the trials on stratified folds of "
        "train+validation instead."
    )
    assert test.endswith(
        "Use a test set holding every class: add examples of every class to x_test / y_test "
        "in the --data .npz."
    )
    for note in (validation, test):
        assert not [word for word in _PYTHON_ONLY if word in note], note


def test_split_warnings_give_pythons_remedies_in_python(tmp_path, caplog):
    validation, test = _notes(tmp_path, caplog, str)
    for word in ("x_val/y_val", "validation_size=", "Dataset.from_arrays", "num_val=", "cv=K"):
        assert word in validation
    assert "--" not in validation + test


def test_a_class_training_lacks_is_refused_in_the_command_lines_terms(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (60, 8, 8)).astype("uint8")
    y = np.arange(60) % 3
    np.savez(
        tmp_path / "d.npz",
        x_train=x[:40],
        y_train=np.where(y[:40] == 2, 0, y[:40]),  # 'class 2' only in the test split
        x_test=x[40:],
        y_test=y[40:],
    )
    code = main(["--data", "d.npz", "--directory", "runs", "--backend", "tensorflow"])
    err = capsys.readouterr().err
    assert code == 2
    assert (
        "Put examples of every class in the training split: add some to x_train / y_train "
        "in the --data .npz; a class only the validation split holds is learnt under --cv K "
        "(the validation samples join the folds and the retrain)." in err
    )
    assert "Dataset.from_arrays" not in err and "cv=K" not in err


def test_a_class_training_lacks_is_refused_in_pythons_terms():
    from tunekit.data._split_classes import refuse_unlearnable_classes

    data = _dataset(np.arange(6) % 3, np.arange(6) % 3, np.arange(12) % 2)  # no 'cat'
    with pytest.raises(Exception) as info:
        refuse_unlearnable_classes(data)
    assert "A class only the validation split holds is learnt under cv=K: the" in str(info.value)
    assert "--" not in str(info.value)


def test_an_own_loops_epoch_budget_names_the_fine_tuner_as_the_run_does():
    from tunekit.own_loops import budget_warning, epoch_budget_note

    python = budget_warning("3", 1, 2)
    assert python.endswith("or tune with fine_tuner='bayesian'. The trial is kept.")
    assert "--" not in python
    cli = budget_warning("3", 1, 2, said=cli_message)
    assert cli.endswith("or tune with --fine-tuner bayesian. The trial is kept.")
    assert epoch_budget_note("fine", ["3"]).endswith("or tune with fine_tuner='bayesian'.")
    assert epoch_budget_note("fine", ["3"], command_line=True).endswith(
        "or tune with --fine-tuner bayesian."
    )


def test_report_notes_name_flags_for_a_command_line_run_only():
    from tunekit.report_top import space_growth_lines

    phases = {"fine": {"space_grew": ["units"], "epoch_budget_ignored": ["4"]}}
    python = "\n".join(space_growth_lines({"phases": phases, "command": {"interface": "python"}}))
    assert "(workers=1)" in python and "fine_tuner='bayesian'" in python
    assert "--" not in python
    cli = "\n".join(space_growth_lines({"phases": phases, "command": {"interface": "cli"}}))
    assert "(--workers 1)" in cli and "--fine-tuner bayesian" in cli


def test_an_image_folders_size_is_named_as_the_run_does():
    import keras

    from tunekit.errors import ModelCheckError
    from tunekit.steps.input_checks import check_input_shape

    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten()])
    with pytest.raises(ModelCheckError) as info:
        check_input_shape(model, (2, 16, 16, 3), "the stream's first batch")
    assert "an image folder's images: image_size=(HEIGHT, WIDTH) resizes them" in str(info.value)
    assert "--image-size" not in str(info.value)
    assert "an image folder's images: --image-size HEIGHT WIDTH resizes them" in cli_message(
        info.value
    )


def test_a_transformed_fit_names_overwrite_as_the_run_does():
    from tunekit.fit_changes import X_CHANGED_NOTE, Y_CHANGED_NOTE
    from tunekit.trial_refusals import said_text

    for note in (X_CHANGED_NOTE, Y_CHANGED_NOTE):
        assert "overwrite=True" in note and "--overwrite" not in note
        cli = said_text(note, cli_message)
        assert "--overwrite" in cli and "overwrite=True" not in cli
