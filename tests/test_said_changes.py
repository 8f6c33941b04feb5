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
    x, y = (x[:200] * 15).astype("uint8"), y[:200] % 3  # pixels 0..240
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
        "--fine-tuner: not given (default hyperband) -> bayesian",
        "--no-baseline: not given -> given",
        "Pass --coarse-trials 3 and leave out --fine-tuner and --no-baseline to resume",
        "(`--no-baseline` may change on its own",
    ):
        assert said in err, err
    assert not _PYTHON_ONLY.search(err), err
    assert "--fine-trials" not in err, err  # not typed: it follows from --fine-tuner
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
    # 39 of 40 targets equal: no seed or fraction helps, on either interface
    "constant": (_CONSTANT, "whatever the seed or fractions"),
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
    if case == "constant":
        assert "gather more varied samples" in err and "seed=" not in err, err
        return
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
    assert note is not None and note.startswith("`max_retries_per_trial` (0 -> 2) changed:")
    assert said_text(note, cli_message).startswith("`--max-retries-per-trial` (0 -> 2) changed:")
    both = {"max_retries_per_trial": 2, "max_consecutive_failed_trials": 5}
    note = adopt_tolerances({"config": {}}, both)
    assert note is not None and note.startswith(
        "`max_consecutive_failed_trials` (3 -> 5) and `max_retries_per_trial` (0 -> 2) changed: "
        "the new values apply"
    ), note


def test_settings_that_may_change_on_their_own_are_said_in_words():
    """Before: "`final_epochs`, `final_seeds` may change on its own"."""
    from tunekit.replacing import Replacement, free_settings_note

    note = free_settings_note({"final_epochs", "final_seeds"})
    assert note.startswith(" (`final_epochs` and `final_seeds` may each change on their own:")
    text = Replacement("x", None).message(Path("r"), ["finalists", "retrain", "evaluate"])
    assert "; the finalists' retraining, the retraining on train+validation and the test " in text


# -- the options as typed (the run records the command line that started it) ----------

_TWO_MODELS = """
    import keras
    import keras_tuner as kt

    class Small(kt.HyperModel):
        def build(self, hp):
            model = keras.Sequential([
                keras.Input((64,)),
                keras.layers.Dense(hp.Choice("units", [4, 8]), activation="relu"),
                keras.layers.Dense(10, activation="softmax")])
            model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
            return model

    SMALL = Small()
"""


def _digits(path: Path) -> Path:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x, y = (x[:200] * 15).astype("uint8"), y[:200]  # pixels 0..240
    np.savez(path, x_train=x[:150], y_train=y[:150], x_test=x[150:], y_test=y[150:])
    return path


def _refused(monkeypatch, capsys, first: list[str], rerun: list[str]) -> str:
    where = ["--directory", "runs", "--project-name", "p", "--quiet", "--backend", "tensorflow"]
    _started(monkeypatch, [*where, *first])
    capsys.readouterr()
    assert main([*where, *rerun]) == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(
    "first, rerun, said",
    [
        (
            ["--hypermodel", "dense"],
            ["--hypermodel", "mnist-dense"],
            "--hypermodel: dense -> mnist-dense",
        ),
        (
            ["--hypermodel", "m1:SMALL"],
            ["--hypermodel", "m2:Other"],
            "--hypermodel: m1:SMALL -> m2:Other",
        ),
        (
            ["--fine-tuner", "bayesian", "--fine-trials", "2"],
            ["--factor", "3"],
            "--fine-tuner: bayesian -> not given (default hyperband); --fine-trials: 2 -> "
            "not given; "
            "--factor: not given -> 3",
        ),
    ],
)
def test_a_changed_option_is_said_as_typed(tmp_path, monkeypatch, capsys, first, rerun, said):
    """Before: `hypermodels.dense.DenseHyperModel -> ...MnistDenseHyperModel`, `hm.Small ->
    m2.Other` (which --hypermodel refuses), `--fine-trials: 2 -> none` (no value of it)."""
    monkeypatch.chdir(tmp_path)
    _digits(tmp_path / "d.npz")
    (tmp_path / "m1.py").write_text(textwrap.dedent(_TWO_MODELS))
    (tmp_path / "m2.py").write_text("from m1 import Small\n\nclass Other(Small):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    err = _refused(monkeypatch, capsys, ["--data", "d.npz", *first], ["--data", "d.npz", *rerun])
    assert f"configuration ({said})" in err, err
    assert "none" not in err.replace("not given", ""), err


def test_every_option_typed_otherwise_is_named_and_what_follows_from_it_is_not(
    tmp_path, monkeypatch, capsys
):
    """Before: `--target` on a CSV was said only as `--data: fingerprint X -> Y`, another
    --data file by its fingerprint, and `--task regression` as the hypermodel's values (each
    twice), `--direction` and `--objective` (not typed) and the default model's layers."""
    monkeypatch.chdir(tmp_path)
    _digits(tmp_path / "d.npz")
    _digits(tmp_path / "e.npz")
    rows = ["a,b,target,mean radius"] + [
        f"{i % 7},{i % 5},{i % 2},{i % 3 // 2}" for i in range(200)
    ]
    (tmp_path / "c.csv").write_text("\n".join(rows) + "\n")
    csv = ["--data", "c.csv", "--target"]
    err = _refused(monkeypatch, capsys, [*csv, "target"], [*csv, "mean radius"])
    assert "configuration (--target: target -> 'mean radius')" in err, err
    assert "fingerprint" not in err.split("):")[0], err

    x = np.load("e.npz")
    np.savez("e.npz", **{**x, "y_train": x["y_train"][::-1]})
    err = _refused(monkeypatch, capsys, ["--data", "d.npz", "--overwrite"], ["--data", "e.npz"])
    assert re.search(
        r"configuration \(--data: d\.npz -> e\.npz "
        r"\(its content differs: fingerprint \w+ -> \w+\)\)",
        err,
    ), err

    x = np.load("d.npz")  # the same file, changed since, and another option typed
    _started(
        monkeypatch,
        [
            "--directory",
            "runs",
            "--project-name",
            "p",
            "--quiet",
            "--backend",
            "tensorflow",
            "--data",
            "e.npz",
            "--overwrite",
        ],
    )
    np.savez("e.npz", **{**x, "y_train": np.roll(x["y_train"], 1)})
    capsys.readouterr()
    assert (
        main(
            [
                "--directory",
                "runs",
                "--project-name",
                "p",
                "--quiet",
                "--backend",
                "tensorflow",
                "--data",
                "e.npz",
                "--seed",
                "3",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert re.search(
        r"configuration \(--seed: not given \(default 0\) -> 3; "
        r"--data: e\.npz \(its content changed: fingerprint \w+ -> \w+\)\)",
        err,
    ), err

    err = _refused(
        monkeypatch,
        capsys,
        ["--data", "d.npz", "--overwrite"],
        ["--data", "d.npz", "--task", "regression"],
    )
    assert "configuration (--task: not given -> regression)" in err, err
    for internal in ("num_classes", "--direction", "--objective", "default model", "(none)"):
        assert internal not in err, err


def test_a_rerun_on_another_backend_names_the_backend_not_its_default_model(tmp_path):
    """Each backend records its own default model (`default_model`): a rerun on another
    backend alone was refused also for "the hypermodel builds another default model"."""
    from tunekit.manifest import RunManifest
    from tunekit.model_description import KEY

    config = {"coarse_trials": 3, KEY: {"layers": ["Dense(4)"], "sha256": "a" * 64}}
    manifest = RunManifest.open(tmp_path, config, backend="tensorflow")
    manifest.mark("coarse", "done")
    manifest.release()
    on_jax = {**config, KEY: {"layers": ["Dense(4)"], "sha256": "b" * 64}}
    with pytest.raises(RunConfigError) as info:
        RunManifest.open(tmp_path, on_jax, backend="jax")
    message = str(info.value)
    assert "(backend: 'tensorflow' -> 'jax')" in message, message
    assert "default model" not in message and "sha256" not in message, message


def test_a_hypermodel_value_is_named_once_and_a_missing_one_as_not_set():
    """Before: `hypermodel num_classes: 10 -> None; ...; hypermodel attribute num_classes:
    '(none)' -> None`: each value twice, `'(none)'` beside `None`."""
    from tunekit.manifest import _differences

    old = {
        "hypermodel": {"class": "m.Dense", "num_classes": 10},
        "hypermodel_state": {"num_outputs": None},
    }
    new = {
        "hypermodel": {"class": "m.Dense", "num_outputs": 1},
        "hypermodel_state": {"num_classes": None, "_w": 3},
    }
    assert _differences(old, new) == [
        "hypermodel num_classes: 10 -> not set",
        "hypermodel num_outputs: not set -> 1",
        "hypermodel attribute _w: not set -> 3",
    ]


@pytest.mark.parametrize(
    "first, rerun",
    [(["--hypermodel", "dense"], ["--seed", "1"]), ([], ["--hypermodel", "dense", "--seed", "1"])],
)
def test_an_option_typed_otherwise_to_the_same_effect_is_not_named(
    tmp_path, monkeypatch, capsys, first, rerun
):
    """For a CSV, `--hypermodel dense` is what the command builds when it is left out (a
    rerun with it alone resumes), and a resume records its own command line: the refusal
    of a later rerun with `--seed 1` listed `--hypermodel: dense -> not given
    (mnist-dense)` beside the seed."""
    monkeypatch.chdir(tmp_path)
    _csv(tmp_path / "d.csv", np.random.default_rng(1).random(40))
    data = ["--data", "d.csv", "--target", "y"]
    where = ["--directory", "runs", "--project-name", "p", "--quiet", "--backend", "tensorflow"]
    _started(monkeypatch, [*where, *data, *first])
    capsys.readouterr()
    assert main([*where, *data, *rerun]) == 2
    err = capsys.readouterr().err
    assert "(--seed: not given (default 0) -> 1)" in err, err
    assert "--hypermodel" not in err.split("to resume")[0], err
