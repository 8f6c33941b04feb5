"""A refused rerun names its changed settings, and the data's refusals their remedies, in
the spelling of the interface the run came from.

Before, on the command line:

- a rerun with other settings was refused "(coarse_trials: 3 -> 4; fine_tuner:
  'hyperband' -> 'bayesian'; baseline: True -> False)", the keyword arguments, not the
  flags the user typed (`--coarse-trials`, `--fine-tuner`, `--no-baseline`);
- a hypermodel of one's own (`--hypermodel mod:Class`) whose list values changed was
  refused with the internal key of the record, "hypermodel_settings: {'activations':
  ['relu']} -> {...}", in Python too;
- a split tunekit made of a CSV with a constant target asked for "another --seed or a
  larger test_fraction= / validation_fraction=" (the seed of a CSV's split is not
  `--seed`, and the fractions have no flag); a class too small for the split and a CSV
  too short for one gave Python's `validation_fraction=0 with cv=K` and
  `lower validation_fraction / test_fraction`.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tunekit.coarse_to_fine import main
from tunekit.errors import DataError, RunConfigError

# The keyword arguments and internal keys a command-line user has no option for.
_PYTHON_ONLY = re.compile(r"coarse_trials|fine_tuner|(?<!-)baseline:|hypermodel_settings")

_HYPERMODEL = """
    import os

    import keras
    import keras_tuner as kt

    class Acts(kt.HyperModel):
        def __init__(self, input_shape, num_classes, activations=None):
            super().__init__()
            self.input_shape, self.num_classes = tuple(input_shape), num_classes
            self.activations = activations or os.environ["TK_ACTS"].split(",")

        def build(self, hp):
            model = keras.Sequential([
                keras.Input(self.input_shape),
                keras.layers.Dense(4, activation=hp.Choice("act", self.activations)),
                keras.layers.Dense(self.num_classes, activation="softmax")])
            model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
            return model
"""


def _npz(path: Path) -> Path:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x, y = x[:200].astype("uint8"), y[:200] % 3
    np.savez(path, x_train=x[:150], y_train=y[:150], x_test=x[150:], y_test=y[150:])
    return path


def _started(monkeypatch, args: list[str]) -> None:
    """Runs the command until its run folder is opened, then marks its coarse search done
    (a run with a result: a rerun with other settings is refused, not started over)."""
    from tunekit.workflow import CoarseToFine

    def stop(self):
        raise KeyboardInterrupt  # after the manifest is written, before any training

    with monkeypatch.context() as patched:
        patched.setattr(CoarseToFine, "run", stop)
        assert main(args) == 130
    path = Path(args[args.index("--directory") + 1]) / "p" / "manifest.json"
    state = json.loads(path.read_text())
    state["steps"] = {"coarse": {"status": "done"}}
    path.write_text(json.dumps(state))


@pytest.fixture
def cli_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _npz(tmp_path / "d.npz")
    return ["--data", "d.npz", "--directory", "runs", "--project-name", "p"] + [
        "--backend",
        "tensorflow",
        "--quiet",
    ]


def test_a_rerun_with_other_flags_names_the_flags(cli_run, monkeypatch, capsys):
    _started(monkeypatch, [*cli_run, "--coarse-trials", "3"])
    capsys.readouterr()
    changed = [*cli_run, "--coarse-trials", "4", "--fine-tuner", "bayesian", "--no-baseline"]
    assert main(changed) == 2
    err = capsys.readouterr().err
    for said in (
        "--coarse-trials: 3 -> 4",
        "--fine-tuner: hyperband -> bayesian",
        "--no-baseline: not given -> given",
        "--fine-trials: none -> 10",
        "(`--no-baseline` may change on its own",
    ):
        assert said in err, err
    assert not _PYTHON_ONLY.search(err), err
    assert "pass --overwrite to start over, or choose another --project-name" in err


def test_a_rerun_with_other_settings_names_the_keywords_in_python(tmp_path):
    from hypermodels import DenseHyperModel
    from tunekit import CoarseToFine
    from tunekit.data import load_npz
    from tunekit.manifest import RunManifest

    data = load_npz(_npz(tmp_path / "d.npz"))
    options = dict(directory=tmp_path, project_name="p", verbose=0)
    first = CoarseToFine(DenseHyperModel((64,), 3), data, coarse_trials=3, **options)
    manifest = RunManifest.open(first.run_dir, first.config())
    manifest.mark("coarse", "done")
    manifest.release()
    again = CoarseToFine(
        DenseHyperModel((64,), 3), data, coarse_trials=4, baseline=False, **options
    )
    with pytest.raises(RunConfigError) as info:
        again.open()
    message = str(info.value)
    assert "coarse_trials: 3 -> 4" in message and "baseline: True -> False" in message
    assert "(`baseline` may change on its own" in message
    assert "--" not in message, message


def test_a_hypermodels_changed_values_are_named_by_their_names(
    cli_run, tmp_path, monkeypatch, capsys
):
    """Both interfaces: the hypermodel's value, not `hypermodel_settings`."""
    (tmp_path / "acts_models.py").write_text(textwrap.dedent(_HYPERMODEL))
    monkeypatch.syspath_prepend(str(tmp_path))
    args = [*cli_run, "--hypermodel", "acts_models:Acts"]
    monkeypatch.setenv("TK_ACTS", "relu")
    _started(monkeypatch, args)
    capsys.readouterr()
    monkeypatch.setenv("TK_ACTS", "relu,tanh")  # the default model is the same: relu
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "(hypermodel activations: ['relu'] -> ['relu', 'tanh'])" in err, err
    assert "hypermodel_settings" not in err

    from acts_models import Acts

    from tunekit import CoarseToFine
    from tunekit.data import load_npz

    data = load_npz(tmp_path / "d.npz")
    with pytest.raises(RunConfigError) as info:
        CoarseToFine(
            Acts((64,), 3, ["tanh"]), data, directory=tmp_path / "runs", project_name="p"
        ).open()
    message = str(info.value)
    assert "hypermodel activations: ['relu'] -> ['tanh']" in message, message
    assert "hypermodel_settings" not in message


def _csv(path: Path, y: np.ndarray) -> Path:
    x = np.random.default_rng(0).random((len(y), 3))
    rows = [",".join(f"{v:.3f}" for v in row) + f",{t}" for row, t in zip(x, y)]
    path.write_text("a,b,c,y\n" + "\n".join(rows) + "\n")
    return path


_CONSTANT = np.r_[[1.5], np.zeros(39)]  # a split of it is constant
_SMALL_CLASS = np.r_[np.arange(60) % 2, [2, 2]]  # class 2: too few for 3 splits
_TWO_ROWS = np.array([0.5, 1.5])  # nothing left to train on

_CASES = {
    "constant": (_CONSTANT, "test_fraction= / validation_fraction="),
    "small_class": (_SMALL_CLASS, "validation_fraction=0 with cv=K"),
    "two_rows": (_TWO_ROWS, "lower validation_fraction / test_fraction"),
}


@pytest.mark.parametrize("case", sorted(_CASES))
def test_a_csvs_split_refusal_gives_the_command_lines_remedy(tmp_path, monkeypatch, capsys, case):
    from tunekit.data import load_csv

    y, python = _CASES[case]
    monkeypatch.chdir(tmp_path)
    _csv(tmp_path / "d.csv", y)
    with pytest.raises(DataError) as info:
        load_csv("d.csv", "y")
    assert python in str(info.value) and "--" not in str(info.value)
    args = ["--data", "d.csv", "--target", "y", "--directory", "runs", "--backend"]
    assert main([*args, "tensorflow", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert (
        "give the splits yourself: an .npz as --data holding x_train / y_train, x_val / y_val "
        "and x_test / y_test, which tunekit does not split" in err
    ), err
    for word in ("fraction", "cv=K", "--seed", "x_test="):
        assert word not in err, err


def test_a_changed_tolerance_is_named_as_the_run_does():
    from tunekit.cli_parser import cli_message
    from tunekit.replacing import adopt_tolerances
    from tunekit.trial_refusals import said_text

    note = adopt_tolerances({"config": {}}, {"max_retries_per_trial": 2})
    assert note is not None and note.startswith("`max_retries_per_trial` changed:")
    assert said_text(note, cli_message).startswith("`--max-retries-per-trial` changed:")
