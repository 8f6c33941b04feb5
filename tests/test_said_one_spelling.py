"""Notes and errors name a setting once, in the spelling of the run's interface.

Before, texts named both spellings, or Python's on the command line, whichever interface
the run came from:

- the narrowing that keeps the whole space (no coarse trial beat chance) warned, on stderr
  and in report.md, "More coarse epochs (--coarse-epochs, coarse_epochs=)" in Python and
  on the command line alike;
- the test note of a model no better than a constant guess asked "the right task
  (--task, task=)?";
- report.md's narrowing table said "(direction='max', margin=0.1; asked for top=0.25
  (2 trials), raised to min_trials=3)" for a command-line run, which has `--direction`,
  `--margin` and `--top` but no `min_trials`;
- a resumed run under another Python said "pass overwrite=True (--overwrite)", a constant
  target "(--target / target=)", a run inside an image folder "(--directory,
  directory=)", a damaged tuner state "overwrite=True (--overwrite)" and whole-number
  labels "task='classification' (--task classification)", in Python too.

And the note on a weights-only `.keras` file told to restore it with
`model = hypermodel.build(hp); model.load_weights(path)`, which Keras refuses for a model
built without `keras.Input` ("a model that has not yet been built").
"""

from __future__ import annotations

import dataclasses
import logging
import re

import numpy as np
import pytest
from test_narrowing import make_trials, one

from tunekit.cli_parser import cli_message
from tunekit.errors import DataError
from tunekit.trial_refusals import said_text


def test_the_narrowing_table_names_its_settings_as_the_run_does():
    from tunekit.narrowing import narrow_space

    space = one("Int", 0, 100)
    narrowed = narrow_space(space, make_trials(space, "x", list(range(5))), top=0.25)
    python = str(narrowed).splitlines()[0]
    assert python == (
        "NarrowedSpace: top 3 of 5 usable trials (direction='max', margin=0.1; asked for "
        "top=0.25 (2 trials), raised to the minimum of 3 trials)"
    )
    assert narrowed.describe() == str(narrowed)
    cli = narrowed.describe(cli_message)
    assert cli.splitlines()[0] == (
        "NarrowedSpace: top 3 of 5 usable trials (--direction max, --margin 0.1; asked for "
        "--top 0.25 (2 trials), raised to the minimum of 3 trials)"
    )
    assert cli.splitlines()[1:] == str(narrowed).splitlines()[1:]  # the rows as they are


@pytest.mark.parametrize(
    "said, named, other",
    [(str, "(coarse_epochs=)", "--"), (cli_message, "(--coarse-epochs)", "coarse_epochs")],
)
def test_keeping_the_whole_space_names_coarse_epochs_as_the_run_does(said, named, other, caplog):
    from test_narrow_chance import _narrow

    with caplog.at_level(logging.WARNING, logger="tunekit"):
        narrowed = _narrow([0.86, 0.52, 0.58, 0.52, 0.40], said=said)
    (warning,) = [r.getMessage() for r in caplog.records if "whole space" in r.getMessage()]
    assert f"More coarse epochs {named} or a learning-rate range that trains may help." in (warning)
    assert other not in warning
    assert warning.rstrip(".") in narrowed.top_note  # report.md's table says the same


def test_the_test_note_asks_for_the_task_as_the_run_does():
    from tunekit.report_scores import usefulness_note

    y = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    note = usefulness_note(y, y[::-1], "regression", None, None)
    assert note is not None and note.endswith(" the right task (task=)?")
    assert "--" not in note
    assert said_text(note, cli_message).endswith(" the right task (--task)?")


def test_a_resume_under_another_python_names_overwrite_as_the_run_does(caplog):
    from tunekit.hypermodel_code import KEY, as_recorded

    recorded = {KEY: {"python": "3.10", "code": "a"}}
    config = {KEY: {"python": "3.12", "code": "b"}}
    with caplog.at_level(logging.WARNING, logger="tunekit"):
        as_recorded(recorded, config, "runs/a")
        as_recorded(recorded, config, "runs/a", cli_message)
    python, cli = [r.getMessage() for r in caplog.records]
    assert python.endswith("If you edited it since, pass overwrite=True to start over.")
    assert cli.endswith("If you edited it since, pass --overwrite to start over.")
    assert python.startswith("The run in runs/a was started under Python 3.10 and this is")


def test_errors_name_keywords_in_python_and_flags_on_the_command_line(tmp_path):
    from tunekit.data._classes import value_labels_refusal
    from tunekit.data._metadata import refuse_constant
    from tunekit.data._split_sizes import made_by
    from tunekit.errors import StateFileError

    with pytest.raises(DataError) as constant, made_by("load_csv"):  # load_csv's target=
        refuse_constant(np.ones(4), "y_train", "train")
    labels = DataError(value_labels_refusal("y", np.array([1, 2, 3])))
    texts = {
        "Check that target= is the column you meant": "Check that --target is the column",
        "pass task='classification' to take each value": "pass --task classification to "
        "take each value",
        "or task='regression' if they are a quantity": "or --task regression if they are "
        "a quantity",
    }
    for error in (constant.value, labels):
        python, cli = str(error), cli_message(error)
        assert "--" not in python
        for keyword, flag in texts.items():
            assert (keyword in python) == (flag in cli)
    assert "that target= is" in str(constant.value)
    assert "that --target is" in cli_message(constant.value)
    state = StateFileError("Restore the file, or rerun with overwrite=True to start over.")
    assert cli_message(state).endswith("or rerun with --overwrite to start over.")


@dataclasses.dataclass
class _Loss:  # a callable dataclass: Keras cannot save the model whole
    scale: float = 1.0

    def __call__(self, y_true, y_pred):
        import keras

        return self.scale * keras.ops.mean((y_true - y_pred) ** 2)


class _HyperModel:
    @staticmethod
    def build(hp):
        import keras

        # No keras.Input: built lazily, its weights made at its first call.
        model = keras.Sequential([keras.layers.Dense(3), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss=_Loss())
        return model


def test_the_weights_only_notes_recipe_loads_a_lazily_built_model(tmp_path):
    from tunekit.model_files import save_keras
    from tunekit.model_notes import file_alone_note

    x = np.random.default_rng(0).random((8, 4)).astype("float32")
    trained = _HyperModel.build(None)
    trained.fit(x, x[:, :1], epochs=1, verbose=0)
    path = str(tmp_path / "model.keras")
    save_keras(trained, path)
    note = file_alone_note(path)
    assert note is not None and "holds its weights only" in note
    # The recipe: its statements, in the order the note gives them.
    statements = re.findall(
        r"model = hypermodel\.build\(hp\)|model\(x\[:1\]\)|model\.load_\w+\(path\)", note
    )
    assert statements == [
        "model = hypermodel.build(hp)",
        "model(x[:1])",
        "model.load_weights(path)",
    ]
    scope = {"hypermodel": _HyperModel, "hp": None, "x": x, "path": path}
    for statement in statements:
        exec(statement, scope)  # noqa: S102 - the note's own words, as a user follows them
    loaded = scope["model"]
    assert np.allclose(loaded.predict(x, verbose=0), trained.predict(x, verbose=0))
