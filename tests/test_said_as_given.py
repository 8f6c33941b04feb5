"""A refusal names the settings as the user gave them, and a shape as the model has it.

Before:

- a trial's refusal (`TrialRefusedError`), a refused fit call (`HyperModelFitError`) and
  tunekit's other per-trial failures said `objective`, `max_epochs`,
  `fine_tuner='bayesian'` and `max_model_size=` in the trial's `trial.json`, its progress
  line and the `TrialsFailedError` quoting it, where a command-line user had typed
  `--objective` and knows only `--max-epochs`, `--fine-tuner bayesian`; the errors that
  stop a run before its search already said the flags (`cli_message`). And a Python
  user was told "(on the command line: --objective NAME:min ...)" in the same text.
- a lazily built model (a Sequential without `keras.Input`, built on its first call)
  was refused with the probe batch of 2 samples as its output shape, `(2, 12)`, where
  the user's model outputs `(None, 12)`.
"""

from __future__ import annotations

import json
import textwrap

import keras
import keras_tuner as kt
import numpy as np
import pytest
from test_cli import TINY

from tunekit.cli_parser import cli_message
from tunekit.coarse_to_fine import main
from tunekit.data import Dataset
from tunekit.errors import OutputShapeError
from tunekit.progress import failure_reason
from tunekit.trial_refusals import TrialRefusedError, refusal, trial_what
from tunekit.tuners import make_tuner

_TINY = [
    *TINY,
    "--max-consecutive-failed-trials",
    "2",
    "--progress",
    "plain",
    "--backend",
    "tensorflow",
]

_MODELS = """
    import keras
    import keras_tuner as kt


    def _dense(units, metric="accuracy", out=10):
        model = keras.Sequential([
            keras.Input((8, 8)), keras.layers.Flatten(),
            keras.layers.Dense(units, activation="relu"),
            keras.layers.Dense(out, activation="softmax"),
        ])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=[keras.metrics.SparseCategoricalAccuracy(name=metric)])
        return model


    def named(hp):  # the default configuration reports val_accuracy, the others val_acc
        units = hp.Int("units", 2, 40)
        return _dense(units, "accuracy" if units == 2 else "acc")


    class SetsEpochs(kt.HyperModel):  # Hyperband (the default fine tuner) gives the epochs
        def build(self, hp):
            return _dense(hp.Int("units", 2, 40))

        def fit(self, hp, model, x, y, **kwargs):
            kwargs["epochs"] = 1
            return model.fit(x, y, **kwargs)


    class SetsBatchSize(kt.HyperModel):  # KerasTuner's documented pattern
        def build(self, hp):
            return _dense(hp.Int("units", 2, 40))

        def fit(self, hp, model, *args, **kwargs):
            return model.fit(*args, batch_size=hp.Choice("batch_size", [16, 32]), **kwargs)


    def lazy12(hp):  # no keras.Input: built on its first call
        hp.Int("units", 4, 8, step=4)
        model = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(hp["units"]),
                                  keras.layers.Dense(12, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return model
"""


def _cli(tmp_path, monkeypatch, attribute, *options):
    """`tunekit run` on 8x8 images of 10 classes with `said_models:<attribute>`."""
    (tmp_path / "said_models.py").write_text(textwrap.dedent(_MODELS))
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (100, 8, 8)).astype("uint8")
    y = np.arange(100) % 10
    np.savez(tmp_path / "d.npz", x_train=x[:80], y_train=y[:80], x_test=x[80:], y_test=y[80:])
    args = ["--hypermodel", f"said_models:{attribute}", "--data", "d.npz"]
    return main([*args, "--directory", str(tmp_path / "runs"), *_TINY, *options])


def _trial_message(tmp_path, attribute, trial_id):
    folder = tmp_path / "runs" / f"said_models-{attribute}-d" / "coarse" / f"trial_{trial_id}"
    return json.loads((folder / "trial.json").read_text())["message"]


def test_a_trials_refusal_says_the_objective_flag_on_the_command_line(
    tmp_path, capsys, monkeypatch
):
    """The trials after the default configuration report `val_acc`, not the objective:
    each is refused, and two in a row stop the search. Every place the refusal is said
    names `--objective` (before: "Choose as `objective` a metric ...")."""
    assert _cli(tmp_path, monkeypatch, "named") == 1
    out, err = capsys.readouterr()
    said = "Choose as `--objective` a metric every trial reports"
    assert "TrialsFailedError: The coarse search stopped" in err
    assert said in err and "Choose as `objective`" not in err, err
    failed = [line for line in out.splitlines() if "FAILED (" in line]
    assert failed and all(said in line for line in failed), out
    for trial_id in (1, 2):  # the trial's own record, and trials.csv's error from it
        message = _trial_message(tmp_path, "named", trial_id)
        assert said in message and "Choose as `objective`" not in message


def test_a_refused_fit_call_says_the_flags_on_the_command_line(tmp_path, capsys, monkeypatch):
    """A hypermodel's fit that sets `epochs` under Hyperband: every trial's fit call is
    refused, the default configuration's first, which stops the run (exit 2). Before:
    "within `max_epochs`" and "(fine_tuner='bayesian')" on the command line, in the
    progress lines, the stop and each trial.json."""
    assert _cli(tmp_path, monkeypatch, "SetsEpochs") == 2
    out, err = capsys.readouterr()
    said = (
        "within `--max-epochs`). Remove `epochs` and `initial_epoch` from the hypermodel's "
        "fit, or tune with a "
        "search whose trials can train the epochs it sets (--fine-tuner bayesian)."
    )
    for text in (err, _trial_message(tmp_path, "SetsEpochs", 0)):
        assert said in text, text
        assert "fine_tuner=" not in text and "`max_epochs`" not in text


def test_a_fit_that_sets_batch_size_beside_the_flag_is_refused_naming_both(
    tmp_path, capsys, monkeypatch
):
    """Before: `--batch-size 16` was dropped with exit 0 (the fit's 16 / 32 trained) while
    report.json and the reproduce line gave 16; the fit's keyword is `batch_size`, the
    option `--batch-size`."""
    assert _cli(tmp_path, monkeypatch, "SetsBatchSize", "--batch-size", "16") == 2
    err = capsys.readouterr().err
    said = (
        "SetsBatchSize.fit sets `batch_size` itself, which tunekit cannot let it do here: "
        "--batch-size 16 sets the batch size of every trial and of the retrain. Remove "
        "`batch_size` from the hypermodel's fit, or leave out --batch-size ("
    )
    for text in (err, _trial_message(tmp_path, "SetsBatchSize", 0)):
        assert said in text, text
    assert not (tmp_path / "runs" / "said_models-SetsBatchSize-d" / "report.json").exists()


def test_a_fit_calls_keywords_are_not_said_as_flags_on_the_command_line():
    """Before: "CW.fit calls model.fit with --class-weight {0: 1.0}" and "or --class-weight
    kwargs['class_weight']" (the fit's keyword said as the option, a fix not valid code)."""
    from tunekit.fit_refusals import weights_dropped
    from tunekit.fitting import HyperModelFitError

    text = weights_dropped("CW", {"class_weight": {0: 1.0, 1: 1.0}}, {0: 2.0, 1: 0.5})
    refused = refusal(HyperModelFitError(text), "1", kt.HyperParameters(), False, cli_message)
    said = str(refused)
    assert "CW.fit calls model.fit with class_weight={" in said, said
    assert "or class_weight=kwargs['class_weight']" in said, said
    assert "--class-weight {" not in said and "--class-weight kwargs" not in said
    assert "leave the run's class_weight unset" in said


def test_a_lazily_built_models_output_shape_says_no_probe_batch_on_the_command_line(
    tmp_path, capsys, monkeypatch
):
    """Before: "(output shape (2, 12))", the 2 samples the model was called on."""
    assert _cli(tmp_path, monkeypatch, "lazy12") == 2
    err = capsys.readouterr().err
    assert "outputs 12 units per sample but the data has 10 classes (output shape " in err
    assert "(output shape (None, 12))" in err and "(2, 12)" not in err, err


def _classes(n_classes=10, n=120, features=6):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, features)).astype("float32")
    return Dataset.from_arrays(x, np.arange(n) % n_classes, seed=0)


def _lazy(out_units, activation="softmax", loss="sparse_categorical_crossentropy"):
    """A Sequential without `keras.Input` whose last layer has `out_units(hp)` units."""

    def build(hp):
        model = keras.Sequential(
            [
                keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu"),
                keras.layers.Dense(out_units(hp), activation=activation),
            ]
        )
        model.compile(optimizer="adam", loss=loss, metrics=["accuracy"] if activation else [])
        return model

    return build


def test_a_lazily_built_models_shape_has_no_batch_of_the_probe():
    """The check before training, for classes and for regression targets."""
    from tunekit._kerastuner import get_hypermodel
    from tunekit.steps.check import check_model

    with pytest.raises(OutputShapeError) as info:
        check_model(get_hypermodel(_lazy(lambda hp: 12)), _classes())
    message = str(info.value)
    assert "(output shape (None, 12)); they must agree." in message, message
    assert "(2, 12)" not in message
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 6)).astype("float32")
    values = Dataset.from_arrays(x, x[:, 0], seed=0, task="regression")
    with pytest.raises(OutputShapeError) as info:
        check_model(get_hypermodel(_lazy(lambda hp: 3, None, "mse")), values)
    message = str(info.value)
    assert "builds a model that outputs shape (None, 3), but the regression targets" in message
    assert "(2, 3)" not in message


def test_a_trial_of_a_lazily_built_model_is_refused_with_its_shape_as_given(tmp_path):
    """A tuned output width of a lazily built model: the 12-unit trials are refused with
    `(None, 12)` (before: `(2, 12)`), naming the hypermodel as the command line does
    (`CoarseToFine.said`, which it sets): `--hypermodel`, not Python's `hypermodel`."""
    from tunekit import CoarseToFine

    run = CoarseToFine(
        _lazy(lambda hp: hp.Choice("out", [10, 12])),
        _classes(),
        directory=tmp_path,
        coarse_trials=4,
        coarse_epochs=1,
        seed=0,
        max_consecutive_failed_trials=4,
    )
    run.said = cli_message
    run.coarse()
    trials = list(run._tuner("coarse").oracle.trials.values())
    run.close()
    refused = [t for t in trials if t.hyperparameters.values["out"] == 12]
    assert refused and all(t.status == "FAILED" for t in refused)
    for trial in refused:
        reason = failure_reason(trial)
        said = f"`--hypermodel` (built with the values of trial id {trial.trial_id}, "
        assert reason.startswith(f"tunekit.trial_refusals.TrialRefusedError: {said}"), reason
        assert "units per sample but the data has 10 classes (output shape (None, 12))" in reason
        assert "(2, 12)" not in reason


class _ReturnsANumber(kt.HyperModel):
    """KerasTuner's "return a single float", under tunekit's default objective."""

    def build(self, hp):
        model = keras.Sequential(
            [keras.Input((6,)), keras.layers.Dense(hp.Choice("units", [2, 4]), "relu")]
        )
        model.add(keras.layers.Dense(1, activation="sigmoid"))
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        return model

    def fit(self, hp, model, x, y, validation_data=None, **kwargs):
        history = model.fit(x, y, validation_data=validation_data, **kwargs)
        return 1.0 - history.history["val_accuracy"][-1]


@pytest.mark.parametrize("said", [None, cli_message], ids=["python", "cli"])
def test_a_refusal_says_keywords_in_python_and_flags_on_the_command_line(tmp_path, said):
    """Before: the Python user read "objective="NAME:min" ... (on the command line:
    --objective NAME:min or NAME:max)", and the command line's user both."""
    rng = np.random.default_rng(0)
    x = rng.random((64, 6), dtype=np.float32)
    y = (x[:, 0] > 0.5).astype("int64")
    kwargs = {} if said is None else {"said": said}
    tuner = make_tuner(
        "grid",
        _ReturnsANumber(),
        objective="val_accuracy",
        objective_defaulted=True,
        stop_on_default_refusal=False,
        directory=tmp_path,
        project_name="p",
        seed=0,
        **kwargs,
    )
    tuner.search(x[:48], y[:48], validation_data=(x[48:], y[48:]), epochs=1, verbose=0)
    reasons = [failure_reason(t) for t in tuner.oracle.trials.values()]
    refused = "tunekit.trial_refusals.TrialRefusedError: "
    assert reasons and all(reason.startswith(refused) for reason in reasons)
    if said is None:
        said_it = 'Say what it is: objective="NAME:min" for an error or a loss, objective='
        assert all(said_it in r and "--objective" not in r for r in reasons), reasons
    else:
        said_it = "Say what it is: --objective NAME:min for an error or a loss, --objective "
        assert all(said_it in r and "objective=" not in r for r in reasons), reasons


def test_each_setting_a_trials_failure_names_is_said_as_its_flag():
    """Each setting a per-trial failure can name: the objective, the hypermodel, the
    model size limit, the fine tuner, the run folder, a fresh start and class weights."""
    from tunekit.own_loops import missing_checkpoint_message
    from tunekit.trial_refusals import said_text

    hp = kt.HyperParameters()
    hp.Choice("units", [2, 4])
    what = trial_what("2", hp)
    error = TrialRefusedError(
        f"{what} outputs 1 unit. Choose as `objective` a metric, e.g. "
        "objective='val_accuracy', or leave class_weight= unset; then rerun with "
        "overwrite=True."
    )
    python = str(refusal(error, "2", hp, stop_on_defaults=False))
    assert python == str(error)  # Python's keywords, as written
    cli = str(refusal(error, "2", hp, stop_on_defaults=False, said=cli_message))
    assert cli == (
        "`--hypermodel` (built with the values of trial id 2, {'units': 2}) builds a model "
        "that outputs 1 unit. Choose as `--objective` a metric, e.g. --objective "
        "val_accuracy, or leave --class-weight unset; then rerun with --overwrite."
    )
    oversized = "Oversized model: 5,000 parameters, over max_model_size=1000; the trial is FAILED."
    assert said_text(oversized) == oversized
    assert said_text(oversized, cli_message) == (
        "Oversized model: 5,000 parameters, over --max-model-size 1000; the trial is FAILED."
    )
    path = "/run/fine/trial_0002/checkpoint.weights.h5"
    for kwargs in (
        {"parent_epochs": 0},
        {"parent_epochs": 3, "worker": True},
        {"parent_epochs": 3},
    ):
        message = missing_checkpoint_message("0002", path, written_here=False, **kwargs)
        assert "fine_tuner='bayesian'" in message and "--" not in message, message
        cli = said_text(message, cli_message)
        assert "--fine-tuner bayesian" in cli and "fine_tuner" not in cli, cli
        assert path in cli
    worker = missing_checkpoint_message(
        "0002", path, parent_epochs=3, written_here=False, worker=True
    )
    assert "put the run folder (--directory) on" in said_text(worker, cli_message)
    earlier = missing_checkpoint_message("0002", path, parent_epochs=3, written_here=False)
    assert "Rerun with --overwrite to start" in said_text(earlier, cli_message)


def test_a_refusal_said_in_flags_reads_the_same_when_said_again():
    """The default configuration's refusal (`SearchInputError`), and `tunekit show`'s
    recorded step error, go through `cli_message` once more: a text already in flags is
    left as it is."""
    hp = kt.HyperParameters()
    hp.Choice("units", [2, 4])
    error = TrialRefusedError("Choose as `objective` one; objective='val_loss' max_model_size=9")
    said = str(refusal(error, "2", hp, stop_on_defaults=False, said=cli_message))
    assert "`--objective` one; --objective val_loss --max-model-size 9" in said
    assert cli_message(TrialRefusedError(said)) == said
