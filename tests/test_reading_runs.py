"""Reads never change a run folder; a `hypermodel=` that is not one is refused at once.

A notebook keeps its first `CoarseToFine` object after a second one, with
another after-search setting (`final_epochs`), ran the same folder. Reading
through the first (`result()`, `get_best_hyperparameters()`,
`get_best_models()`, `select()`) used to reopen the folder with its settings,
which resumes the run with them: the second run's model, report and plots
moved to `replaced/` and `tunekit ls` said "interrupted". A read now compares
first and refuses, naming the setting; `run()` still replaces as documented.
"""

from __future__ import annotations

import shutil

import keras
import keras_tuner as kt
import numpy as np
import pytest

from tunekit import CoarseToFine
from tunekit.data import Dataset
from tunekit.errors import InvalidParameterError, RunConfigError, RunNotFinishedError

SETTINGS = dict(
    coarse_trials=3,
    coarse_epochs=1,
    fine_tuner="bayesian",
    fine_trials=1,
    max_epochs=1,
    batch_size=16,
    finalists=0,
    baseline=False,
    verbose=0,
)
AFTER_SEARCH = ("best_model.keras", "report.json", "report.md", "trials.csv")


def build(hp: kt.HyperParameters) -> keras.Model:
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(hp.Int("units", 2, 4), activation="relu"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class RegHM(kt.HyperModel):
    def build(self, hp: kt.HyperParameters) -> keras.Model:
        return build(hp)


@pytest.fixture(scope="module")
def data() -> Dataset:
    rng = np.random.default_rng(0)
    return Dataset.from_arrays(rng.random((60, 4), "float32"), np.arange(60) % 2)


@pytest.fixture(scope="module")
def finished(tmp_path_factory, data):
    """A finished tiny run (final_epochs=2): its folder, to copy."""
    directory = tmp_path_factory.mktemp("runs")
    CoarseToFine(
        build, data, directory=directory, project_name="r1", final_epochs=2, **SETTINGS
    ).run()
    return directory


def _copy(finished, tmp_path):
    shutil.copytree(finished, tmp_path / "runs")
    return tmp_path / "runs"


def _listing(run_dir):
    return sorted(
        (str(p.relative_to(run_dir)), p.stat().st_mtime_ns)
        for p in run_dir.rglob("*")
        if p.is_file() and p.name != ".lock"
    )


@pytest.mark.parametrize(
    "read",
    [
        lambda run: run.result(),
        lambda run: run.get_best_hyperparameters(),
        lambda run: run.get_best_models(),
        lambda run: run.select(),
    ],
    ids=["result", "get_best_hyperparameters", "get_best_models", "select"],
)
def test_a_read_by_an_object_with_other_settings_is_refused_and_moves_nothing(
    finished, tmp_path, data, read
):
    directory = _copy(finished, tmp_path)
    run_dir = directory / "r1"
    before = _listing(run_dir)
    other = CoarseToFine(
        build, data, directory=directory, project_name="r1", final_epochs=1, **SETTINGS
    )
    with pytest.raises(RunConfigError) as error:
        read(other)
    message = str(error.value)
    assert "final_epochs: 2 -> 1" in message
    assert "use the object that ran it" in message
    assert "final_epochs=2" in message  # the folder's setting, to make a reader with
    assert "run()" in message
    assert not (run_dir / "replaced").exists()
    assert _listing(run_dir) == before  # nothing moved, nothing written
    for name in AFTER_SEARCH:
        assert (run_dir / name).exists(), name


@pytest.mark.long
def test_the_first_object_reads_after_a_second_one_ran_other_settings(tmp_path, data):
    # The probe's notebook: a runs, b (another final_epochs) runs, then a reads.
    kw = dict(directory=tmp_path, project_name="r1", **SETTINGS)
    a = CoarseToFine(build, data, final_epochs=2, overwrite=True, **kw)
    a.run()
    b = CoarseToFine(build, data, final_epochs=1, **kw)
    b_result = b.run()  # replaces a's after-search steps, as documented
    run_dir = tmp_path / "r1"
    assert len(list((run_dir / "replaced").iterdir())) == 1
    before = _listing(run_dir)
    for read in (a.get_best_hyperparameters, a.result, a.get_best_models, a.select):
        with pytest.raises(RunConfigError, match="final_epochs: 1 -> 2"):
            read()
    assert _listing(run_dir) == before
    assert (run_dir / "best_model.keras").exists()
    assert b.result().test_metrics == b_result.test_metrics  # b still reads its run
    # A write step keeps the documented behaviour: a's run() replaces b's after-search steps
    # and runs them again (before, a's own cached steps were returned and result() raised).
    result = a.run()
    assert result.best_hyperparameters is not None
    assert all((p / "best_model.keras").exists() for p in (run_dir / "replaced").iterdir())
    assert (run_dir / "best_model.keras").exists()
    with pytest.raises(RunConfigError, match="final_epochs: 2 -> 1"):
        b.result()


def test_an_object_holding_the_run_reads_it_again_after_another_took_it(finished, tmp_path, data):
    directory = _copy(finished, tmp_path)
    kw = dict(directory=directory, project_name="r1", **SETTINGS)
    a = CoarseToFine(build, data, final_epochs=2, **kw)
    a.open()  # holds the run's lock, as the step methods leave it
    b = CoarseToFine(build, data, final_epochs=1, **kw)
    b.run()  # takes the run over (the newest opener in a process does)
    with pytest.raises(RunConfigError, match="final_epochs: 1 -> 2"):
        a.result()
    assert (directory / "r1" / "best_model.keras").exists()


def test_objects_with_the_same_settings_read_each_others_finished_run(finished, tmp_path, data):
    directory = _copy(finished, tmp_path)
    run_dir = directory / "r1"
    before = _listing(run_dir)
    kw = dict(directory=directory, project_name="r1", final_epochs=2, **SETTINGS)
    first, second = CoarseToFine(build, data, **kw), CoarseToFine(build, data, **kw)
    assert first.result().test_metrics == second.result().test_metrics
    (hp,) = second.get_best_hyperparameters()
    assert first.get_best_hyperparameters()[0].values == hp.values
    (model,) = first.get_best_models()
    assert isinstance(model, keras.Model)
    assert second.select().trial.trial_id == first.select().trial.trial_id
    assert _listing(run_dir) == before
    first.close()
    second.close()


def test_a_read_changes_nothing_when_outputs_are_missing_or_the_run_is_not_there(
    finished, tmp_path, data
):
    directory = _copy(finished, tmp_path)
    run_dir = directory / "r1"
    (run_dir / "best_model.keras").unlink()
    before = _listing(run_dir)
    kw = dict(directory=directory, final_epochs=2, **SETTINGS)
    run = CoarseToFine(build, data, project_name="r1", **kw)
    with pytest.raises(RunNotFinishedError, match="best_model.keras"):
        run.get_best_models()
    with pytest.raises(RunNotFinishedError, match="best_model.keras"):
        run.result()
    assert _listing(run_dir) == before  # not marked to run again: `tunekit ls` still says done
    nowhere = CoarseToFine(build, data, project_name="none", **kw)
    with pytest.raises(RunNotFinishedError):
        nowhere.result()
    assert not (directory / "none").exists()
    fresh = CoarseToFine(build, data, project_name="r1", overwrite=True, **kw)
    with pytest.raises(RunNotFinishedError, match="overwrite=True"):
        fresh.get_best_hyperparameters()  # a read never starts the overwrite
    assert _listing(run_dir) == before


@pytest.mark.parametrize(
    ("hypermodel", "words"),
    [
        (RegHM, ["the class RegHM, not an instance", "RegHM()"]),
        (keras.Sequential, ["Keras model class Sequential", "def build(hp)"]),
        (build(kt.HyperParameters()), ["a built Keras model", "def build(hp)"]),
        (42, ["not callable"]),
    ],
    ids=["hypermodel-class", "keras-model-class", "built-model", "int"],
)
def test_a_hypermodel_argument_that_is_not_one_is_refused_at_construction(
    tmp_path, data, hypermodel, words
):
    with pytest.raises(InvalidParameterError) as error:
        CoarseToFine(hypermodel, data, directory=tmp_path, project_name="r", **SETTINGS)
    assert isinstance(error.value, ValueError)
    for word in words:
        assert word in str(error.value)
    assert not (tmp_path / "r").exists()


def test_a_hypermodel_instance_and_a_build_function_are_accepted(tmp_path, data):
    for hypermodel in (RegHM(), build):
        CoarseToFine(hypermodel, data, directory=tmp_path, project_name="r", **SETTINGS)


def test_the_command_line_still_takes_a_hypermodel_class(tmp_path, monkeypatch, data):
    # --hypermodel module:Class: the command line makes the instance itself.
    from tunekit.hypermodel_specs import resolve_hypermodel

    (tmp_path / "reading_hm.py").write_text(
        "import keras_tuner as kt\n"
        "from test_reading_runs import build\n\n"
        "class RegHM(kt.HyperModel):\n"
        "    def build(self, hp):\n"
        "        return build(hp)\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    hypermodel = resolve_hypermodel("reading_hm:RegHM")(data)
    assert isinstance(hypermodel, kt.HyperModel)
    CoarseToFine(hypermodel, data, directory=tmp_path, project_name="r", **SETTINGS)
