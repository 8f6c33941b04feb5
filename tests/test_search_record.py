"""What a search learnt from its trials' fits survives a resume; one number is one number.

Found by review: the record of the numbers a hypermodel's `fit` returned under a
metric's name (`tunekit.tuners.returned`: which names were scored, which one
disagreed with Keras) lived in the tuner's memory only. After a Ctrl-C, a kill or
a crash, the resumed search forgot it: a number under a name refused before the
resume was scored after it, and a disagreement under a name scored before it
failed one trial where the uninterrupted search stopped (an earlier score under
that name cannot be trusted). Now it is part of the tuner's state file
(`tunekit.tuners.search_record`), and a resumed search decides as an
uninterrupted one.

And a 0-d array (`np.array(0.93)`, a 0-d JAX array or TensorFlow tensor, a
`keras.ops` result) returned by `fit` stopped the search (KerasTuner: "Expected
... float"); as a dict's value it escaped the check against Keras's own value.
A vector was averaged into the score. Now a 0-d array is one number everywhere,
and a vector fails its trial saying what was returned and what to return.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd
import pytest

from tunekit.errors import StateFileError
from tunekit.fitting import SearchInputError, fit_hypermodel
from tunekit.progress import failure_reason
from tunekit.trial_length import SCORED_AT_END, is_number
from tunekit.tuners import make_tuner


def _data(n=64, features=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, features), dtype=np.float32)
    y = (x[:, 0] > 0.5).astype("int64")
    return x[:48], y[:48], x[48:], y[48:]


def _model(features=6):
    model = keras.Sequential(
        [
            keras.Input((features,)),
            keras.layers.Dense(4, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


class _Returns(kt.HyperModel):
    """Returns by its `form`: the History, Keras's own val_accuracy, or a count of errors
    as val_accuracy. `interrupt`: the form whose fit is Ctrl-C'd once, before training."""

    def __init__(self, forms, interrupt=None):
        super().__init__()
        self.forms, self.interrupt = forms, interrupt

    def build(self, hp):
        hp.Choice("form", self.forms)  # the grid's order; the first is the default
        return _model()

    def fit(self, hp, model, x, y, validation_data=None, **kwargs):
        if hp["form"] == self.interrupt:
            self.interrupt = None
            raise KeyboardInterrupt  # Ctrl-C in a notebook: the trial stays RUNNING
        history = model.fit(x, y, validation_data=validation_data, **kwargs)
        accuracy = history.history["val_accuracy"][-1]
        if hp["form"] == "history":
            return history
        if hp["form"] == "count":
            x_val, y_val = validation_data
            wrong = (model.predict(x_val, verbose=0)[:, 0] > 0.5) != y_val
            return {"val_accuracy": float(np.sum(wrong)) + 2.0}
        return {"val_accuracy": accuracy}  # "same" and "same_again": Keras's own value


def _search(hypermodel, directory):
    """A grid search of `hypermodel` in `directory` (resumed when it holds one)."""
    tuner = make_tuner(
        "grid",
        hypermodel,
        objective="val_accuracy:max",
        directory=directory,
        project_name="p",
        seed=0,
    )
    x, y, x_val, y_val = _data()
    _search.last = tuner
    tuner.search(x, y, validation_data=(x_val, y_val), epochs=1, batch_size=16, verbose=0)
    return tuner


def _ended(tuner):
    """`{form: (status, the start of its error)}` of the tuner's trials."""
    return {
        t.hyperparameters["form"]: (t.status, (failure_reason(t) or "")[:90])
        for t in tuner.oracle.trials.values()
    }


def _on_disk(directory):
    """`{form: status}` of the trials' `trial.json` files."""
    found = {}
    for path in sorted((directory / "p").glob("trial_*/trial.json")):
        trial = json.loads(path.read_text())
        found[trial["hyperparameters"]["values"]["form"]] = trial["status"]
    return found


def _interrupted_then_resumed(forms, at, directory):
    """The search Ctrl-C'd at form `at`, then run again (a new tuner on its folder)."""
    with pytest.raises(KeyboardInterrupt):
        _search(_Returns(forms, interrupt=at), directory)
    return _search(_Returns(forms), directory)


def test_a_name_refused_before_a_resume_is_still_refused_after_it(tmp_path):
    """Trial 1 returns a count of errors as val_accuracy: refused, and every later number
    under that name too. Before, the resumed search scored trial 2's val_accuracy."""
    forms = ["history", "count", "same"]
    resumed = _interrupted_then_resumed(forms, "same", tmp_path)
    ended = {form: status for form, (status, _) in _ended(resumed).items()}
    assert ended == {"history": "COMPLETED", "count": "FAILED", "same": "FAILED"}, _ended(resumed)
    same = next(t for t in resumed.oracle.trials.values() if t.hyperparameters["form"] == "same")
    said = failure_reason(same)
    assert "no number it returns is trusted since an earlier trial's disagreed" in said, said
    assert "but Keras logged val_accuracy" in said  # the first refusal, quoted
    best = resumed.get_best_hyperparameters()[0]["form"]
    assert best == "history"
    # on disk, in the tuner's state file
    state = json.loads((tmp_path / "p" / "tuner0.json").read_text())
    record = state["tunekit_search_record"]
    assert list(record["refused"]) == ["val_accuracy"] and record["evaluated"] is False


def test_a_disagreement_after_a_resume_under_a_name_scored_before_it_stops_the_search(tmp_path):
    """Trial 1's number under val_accuracy was scored; trial 2's disagrees with Keras: trial
    1's score cannot be trusted either, and the search stops. Before, after a resume the
    search only failed trial 2, went on and kept trial 1's score."""
    forms = ["history", "same", "count", "same_again"]
    with pytest.raises(KeyboardInterrupt):
        _search(_Returns(forms, interrupt="count"), tmp_path)
    with pytest.raises(SearchInputError) as resumed:
        _search(_Returns(forms), tmp_path)
    said = str(resumed.value)
    assert said.startswith("The hypermodel's fit returned "), said
    assert "as 'val_accuracy', but Keras logged val_accuracy" in said
    assert "A number returned under 'val_accuracy' in an earlier trial, " in said
    assert "was scored within the tolerance" in said
    ran = _on_disk(tmp_path)
    assert ran == {"history": "COMPLETED", "same": "COMPLETED", "count": "FAILED"}, ran


def test_the_stop_on_a_name_scored_before_names_that_trial_and_this_one(tmp_path):
    """Before: "A number returned under 'val_accuracy' in an earlier trial was scored", no
    trial named. Now the earlier trial scored and the one stopping the search are named by
    their phase, their progress line's number, KerasTuner's id and their trial.json, also
    after a resume (the record keeps which trial was scored)."""
    forms = ["history", "same", "count", "same_again"]
    with pytest.raises(KeyboardInterrupt):
        _search(_Returns(forms, interrupt="count"), tmp_path)
    with pytest.raises(SearchInputError) as resumed:
        _search(_Returns(forms), tmp_path)
    said = str(resumed.value)
    tuner = _search.last
    oracle = tuner.oracle
    ids = {t.hyperparameters["form"]: t.trial_id for t in oracle.trials.values()}
    phase = tuner.phase
    scored = ids["same"]  # the second trial to end: progress line "trial 2"
    assert oracle.end_order.index(scored) == 1
    record = tmp_path / "p" / f"trial_{scored}" / "trial.json"
    assert f"in an earlier trial, {phase} trial 2 (id {scored}, {record}), was scored" in said
    stopping = ids["count"]
    this = tmp_path / "p" / f"trial_{stopping}" / "trial.json"
    number = len(oracle.end_order) + 1  # the next progress line's number
    assert said.endswith(f"the search stops at {phase} trial {number} (id {stopping}, {this}).")


def test_the_record_round_trips_through_the_tuner_state_and_a_damaged_one_is_named(tmp_path):
    tuner = _search(_Returns(["history", "same"]), tmp_path)
    record = tuner._tunekit_record
    assert record.returned["scored"] == {"val_accuracy"} and record.batched
    state = tuner.get_state()["tunekit_search_record"]
    first = tuner.oracle.end_order[1]  # "history" returns a History: no number scored
    assert state == {
        "scored": ["val_accuracy"],
        "refused": {},
        "scored_in": {"val_accuracy": first},
        "evaluated": False,
        "batched": True,
    }
    path = tmp_path / "p" / "tuner0.json"
    assert json.loads(path.read_text())["tunekit_search_record"] == state
    again = _search(_Returns(["history", "same"]), tmp_path)  # reloads, runs no trial
    assert again._tunekit_record.get_state() == state
    path.write_text("{}")  # a search saved before tunekit kept the record: an empty one
    assert _search(_Returns(["history", "same"]), tmp_path)._tunekit_record.get_state() == {
        "scored": [],
        "refused": {},
        "scored_in": {},
        "evaluated": False,
        "batched": False,
    }
    path.write_text(json.dumps({"tunekit_search_record": {"scored": "val_accuracy"}}))
    with pytest.raises(StateFileError, match=r"search record in KerasTuner's tuner state file"):
        _search(_Returns(["history", "same"]), tmp_path)


# --- one number, as a fit returns it ---------------------------------------------------


def _zero_d_forms():
    forms = {
        "np.array": np.array,
        "np.float32": np.float32,
        "keras.ops": keras.ops.convert_to_tensor,
        "keras.ops.mean": lambda v: keras.ops.mean(keras.ops.convert_to_tensor([v, v])),
    }
    try:
        import jax.numpy as jnp

        forms["jax"] = jnp.asarray
    except ImportError:  # pragma: no cover - the project installs both backends
        pass
    try:
        import tensorflow as tf

        forms["tf.constant"] = tf.constant
    except ImportError:  # pragma: no cover
        pass
    return forms


ZERO_D = _zero_d_forms()


@pytest.mark.parametrize("form", sorted(ZERO_D))
def test_a_zero_d_array_is_one_number(form):
    from tunekit.fit_results import as_number, not_one_number, plain_results

    value = ZERO_D[form](0.75)
    assert as_number(value) == pytest.approx(0.75)
    assert is_number(value)
    plain = plain_results(value)
    assert type(plain) is float and plain == pytest.approx(0.75)
    results = plain_results({"val_accuracy": value, "n": 3})
    assert type(results["val_accuracy"]) is float and results["n"] == 3
    assert not_one_number(value) is None and not_one_number({"val_accuracy": value}) is None


def test_what_is_not_one_number():
    from tunekit.fit_results import as_number, not_one_number, plain_results

    assert as_number(True) is None and as_number(np.array(True)) is None
    assert as_number("0.9") is None and as_number(np.array("0.9")) is None
    assert as_number(np.array([0.9])) is None and as_number([0.9]) is None
    assert as_number(np.int64(3)) == 3.0 and as_number(np.array(3)) == 3.0
    history = keras.callbacks.History()
    assert plain_results(history) is history
    said = not_one_number(np.array([0.9, 0.8], dtype="float32"))
    assert said.startswith("The hypermodel's fit returned an array of shape (2,) (float32), not")
    assert "Return one number: float(value)" in said and "History of model.fit" in said
    said = not_one_number({"val_accuracy": np.array([0.9])})
    assert "returned an array of shape (1,) (float64) as 'val_accuracy', not one number" in said
    said = not_one_number([0.9, 0.8])
    assert "returned a list of 2 numbers, not one number" in said
    assert not_one_number({"val_accuracy": 0.9, "note": "text"}) is None


class _ReturnsA(kt.HyperModel):
    """Returns `make(val_accuracy)` as one number or as the dict's value (`in_dict`)."""

    def __init__(self, make, in_dict):
        super().__init__()
        self.make, self.in_dict = make, in_dict

    def build(self, hp):
        hp.Choice("units", [4])
        return _model()

    def fit(self, hp, model, x, y, validation_data=None, **kwargs):
        history = model.fit(x, y, validation_data=validation_data, **kwargs)
        value = self.make(history.history["val_accuracy"][-1])
        return {"val_accuracy": value} if self.in_dict else value


@pytest.mark.parametrize(("form", "in_dict"), [("np.array", False), ("keras.ops", True)])
def test_a_search_scores_a_zero_d_result_as_the_number_it_holds(tmp_path, form, in_dict):
    """Before, one 0-d array stopped the search (KerasTuner's FatalTypeError)."""
    tuner = _search(_ReturnsA(ZERO_D[form], in_dict), tmp_path)
    (trial,) = tuner.oracle.trials.values()
    assert trial.status == "COMPLETED", failure_reason(trial)
    logged = trial.metrics.get_last_value("val_accuracy")
    assert trial.score == pytest.approx(logged) and 0.0 <= trial.score <= 1.0
    assert trial.metrics.get_last_value(SCORED_AT_END) == 1.0


def test_a_zero_d_count_of_errors_in_a_dict_is_checked_against_keras(tmp_path):
    """`{"val_accuracy": np.array(count)}`: before, the check against Keras's own value
    skipped it, and the count (2 or more) won as an accuracy."""
    count = _ReturnsA(lambda v: np.array(2.0 + 16 * (1 - v)), True)
    # the only trial is the default configuration's: its refusal stops the search
    with pytest.raises(SearchInputError, match="but Keras logged val_accuracy"):
        _search(count, tmp_path)


def test_a_vector_in_a_returned_dict_fails_its_trial_saying_what_to_return(tmp_path):
    """Before, `{"val_accuracy": np.array([a, b])}` was averaged into the score (exit 0)."""
    vector = _ReturnsA(lambda v: np.array([v, 1 - v]), True)
    # the only trial is the default configuration's: its refusal stops the search
    with pytest.raises(SearchInputError) as info:
        _search(vector, tmp_path)
    said = str(info.value)
    assert "returned an array of shape (2,) (float64) as 'val_accuracy', not one number" in said
    assert "Return one number: float(value)" in said


def test_fit_hypermodel_gives_a_zero_d_result_as_a_float():
    """Every step that reads a fit's number (a search, the finalists) gets a float."""

    class Zero(kt.HyperModel):
        def build(self, hp):
            return _model()

        def fit(self, hp, model, *args, **kwargs):
            model.fit(*args, **kwargs)
            return np.array(0.5, dtype="float32")

    x, y, _, _ = _data()
    model = _model()
    fitted = fit_hypermodel(Zero(), kt.HyperParameters(), model, x, y, epochs=1, verbose=0)
    assert type(fitted.results) is float and fitted.results == 0.5


# --- a grid search resumed -------------------------------------------------------------


def _grid_build(hp):
    hp.Choice("units", [2, 3, 4])
    return _model()


class _GridFit(kt.HyperModel):
    """`_grid_build`'s model; Ctrl-C during the fit of `interrupt` units, once."""

    def __init__(self, interrupt=None):
        super().__init__()
        self.interrupt = interrupt

    def build(self, hp):
        return _grid_build(hp)

    def fit(self, hp, model, *args, **kwargs):
        if hp["units"] == self.interrupt:
            self.interrupt = None
            raise KeyboardInterrupt
        return model.fit(*args, **kwargs)


def _ctrl_c_after(trials):
    """A listener (called once a trial ended and was saved) that Ctrl-C's after `trials`."""

    def listener(tuner, trial):
        if len(tuner.oracle.end_order) == trials:
            raise KeyboardInterrupt

    return [listener]


def _grid(hypermodel, directory, listeners=()):
    tuner = make_tuner(
        "grid",
        hypermodel,
        objective="val_accuracy:max",
        directory=directory,
        project_name="p",
        seed=0,
        listeners=listeners,
    )
    x, y, x_val, y_val = _data()
    tuner.search(x, y, validation_data=(x_val, y_val), epochs=1, batch_size=16, verbose=0)
    return tuner


@pytest.mark.parametrize("when", ["between", "during"])
def test_a_resumed_grid_search_tries_the_rest_of_the_grid_once(tmp_path, when):
    """KerasTuner's grid oracle keeps its walk through the grid in memory only. Before,
    stopped between two trials, the resumed search ended at once with 1 of the 3
    combinations (exit 0); stopped during a trial, it crashed with a KeyError."""
    with pytest.raises(KeyboardInterrupt):
        if when == "between":
            _grid(_GridFit(), tmp_path, _ctrl_c_after(1))
        else:
            _grid(_GridFit(interrupt=3), tmp_path)
    tuner = _grid(_GridFit(), tmp_path)
    tried = sorted(t.hyperparameters["units"] for t in tuner.oracle.trials.values())
    assert tried == [2, 3, 4]
    assert all(t.status == "COMPLETED" for t in tuner.oracle.trials.values())


def test_a_continued_trial_whose_parent_ranked_no_epoch_says_so_in_a_resumed_search(tmp_path):
    """Hyperband continues a trial that trained 2 epochs whose objective was never finite (no
    checkpoint was written). That fact was kept in the process that ran it only: in a
    resumed search the message blamed a checkpoint removed from the run folder. The
    trial's saved score says it."""
    from keras_tuner import errors as kt_errors
    from keras_tuner.engine.trial import Trial

    tuner = make_tuner(
        "hyperband",
        _grid_build,
        objective="val_accuracy:max",
        directory=tmp_path,
        project_name="p",
        seed=0,
        max_epochs=4,
    )
    hp = tuner.oracle.get_space()
    parent = Trial(hp.copy(), trial_id="0000", status="COMPLETED")
    parent.metrics.register("epochs", "max")
    parent.metrics.update("epochs", 2.0)
    parent.score = float("nan")
    tuner.oracle.trials["0000"] = parent  # as reloaded from its trial.json
    child = hp.copy()
    child.values.update({"tuner/trial_id": "0000", "tuner/epochs": 4, "tuner/initial_epoch": 2})
    with pytest.raises(kt_errors.FailedTrialError) as info:
        tuner._build_hypermodel(child)
    said = str(info.value)
    assert "an earlier session of this run (or a worker) ran trial 0000, whose fit reported 2 " in (
        said
    )
    assert "none with an objective value the checkpoint could rank" in said
    assert "no longer in the run folder" not in said


# --- a whole run killed mid-search, then run again --------------------------------------

_RUN_SCRIPT = '''
import sys
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np

from tunekit import CoarseToFine
from tunekit.data import Dataset

RUN = Path(sys.argv[1]) / "returns"


class Returns(kt.HyperModel):
    """Coarse trial 0 returns its History, trial 1 a count of errors as val_accuracy
    (refused), trial 2 Keras's own val_accuracy; every other fit its History."""

    def build(self, hp):
        model = keras.Sequential(
            [
                keras.Input((8,)),
                keras.layers.Dense(hp.Int("units", 4, 16, step=4), activation="relu"),
                keras.layers.Dense(2, activation="softmax"),
            ]
        )
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    def fit(self, hp, model, x, y, validation_data=None, **kwargs):
        history = model.fit(x, y, validation_data=validation_data, **kwargs)
        coarse = len(list((RUN / "coarse").glob("trial_*")))  # this trial's folder is made
        if (RUN / "fine").exists() or coarse not in (2, 3):
            return history
        if coarse == 2:
            x_val, y_val = validation_data
            wrong = np.argmax(model.predict(x_val, verbose=0), axis=1) != y_val
            return {"val_accuracy": float(np.sum(wrong)) + 2.0}
        return {"val_accuracy": history.history["val_accuracy"][-1]}


rng = np.random.default_rng(0)
x = rng.normal(size=(60, 8)).astype("float32")
data = Dataset.from_arrays(x, (x[:, 0] > 0).astype(int), seed=0)
CoarseToFine(
    Returns(),
    data,
    objective="val_accuracy:max",
    directory=sys.argv[1],
    project_name="returns",
    coarse_trials=5,
    coarse_epochs=1,
    fine_tuner="bayesian",
    fine_trials=1,
    max_epochs=1,
    seed=0,
    verbose=0,
    finalists=0,
    baseline=False,
).run()
'''


def _run_script(tmp_path, fault=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNEKIT_FAULT")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if fault:
        env["TUNEKIT_FAULT"] = fault
    return subprocess.run(
        [sys.executable, str(tmp_path / "run_returns.py"), str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.long
def test_a_run_killed_after_a_refusal_refuses_the_same_name_when_rerun(tmp_path):
    """`CoarseToFine(...).run()` killed (SIGKILL) at coarse trial 2's start, after trial 1's
    count of errors as val_accuracy was refused; the same script run again. Before, the
    rerun scored trial 2's val_accuracy (COMPLETED); an uninterrupted run fails it."""
    (tmp_path / "run_returns.py").write_text(_RUN_SCRIPT)
    killed = _run_script(tmp_path, "coarse.trial_start:3")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    rerun = _run_script(tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    run_dir = tmp_path / "returns"
    frame = pd.read_csv(run_dir / "trials.csv", dtype={"trial_id": str})
    coarse = frame[frame.phase == "coarse"].set_index("trial_id").status.to_dict()
    assert coarse == {"0": "COMPLETED", "1": "FAILED", "2": "FAILED", "3": "COMPLETED"}, coarse
    trial = json.loads((run_dir / "coarse" / "trial_2" / "trial.json").read_text())
    assert "a name under which no number it returns is trusted" in trial["message"]
