"""End-to-end coarse-to-fine on tiny generated data: the objective's direction, spaces whose
hyperparameters only some builds declare, and spaces smaller than the trial budget."""

from __future__ import annotations

import json
import logging
import re

import keras
import keras_tuner
import numpy as np
import pandas as pd
import pytest

from tunekit import CoarseToFine
from tunekit.data import Dataset
from tunekit.narrowing import is_usable

TINY = dict(coarse_epochs=1, max_epochs=2, final_epochs=1, batch_size=32)
HYPERBAND = dict(factor=2)  # a Bayesian fine search refuses factor=


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(240, 6)).astype("float32")
    return Dataset.from_arrays(x, (x[:, 0] + x[:, 1] > 0).astype("int64"))


@keras.saving.register_keras_serializable(package="tunekit_tests")
class F1Like(keras.metrics.SparseCategoricalAccuracy):
    """Higher is better, logged as `f1_score` (KerasTuner guessed `min` for that name).

    Registered: tunekit refuses, before training, a model it could not load back.
    """

    def __init__(self, name="f1_score", **kwargs):
        super().__init__(name=name, **kwargs)


def _scores(oracle):
    return {t.trial_id: t.score for t in oracle.trials.values() if is_usable(t)}


@pytest.mark.long
def test_max_objective_narrows_on_and_retrains_the_best_trials(tmp_path, data):
    def build(hp):
        model = keras.Sequential(
            [
                keras.Input((6,)),
                keras.layers.Dense(hp.Choice("units", [2, 4, 8, 16]), activation="relu"),
                keras.layers.Dense(2, activation="softmax"),
            ]
        )
        model.compile(
            keras.optimizers.Adam(hp.Float("lr", 1e-4, 1e-1, sampling="log")),
            "sparse_categorical_crossentropy",
            metrics=[F1Like()],
        )
        return model

    run = CoarseToFine(
        build,
        data,
        directory=tmp_path,
        project_name="f1",
        objective="val_f1_score",
        coarse_trials=5,
        top=2,
        fine_tuner="bayesian",
        fine_trials=2,
        seed=0,
        verbose=0,
        **TINY,
    )
    run.retrain()
    narrowed, retrained = run.narrow(), run.manifest.step("retrain")
    coarse, fine = _scores(run._tuners["coarse"].oracle), _scores(run._tuners["fine"].oracle)
    assert max(coarse.values()) > min(coarse.values())  # the direction matters here
    assert run.objective.direction == narrowed.direction == "max"
    best_coarse = sorted(coarse, key=lambda i: (-coarse[i], i))
    assert list(narrowed.top_trial_ids) == best_coarse[: narrowed.top]
    chosen = (coarse if retrained["phase"] == "coarse" else fine)[retrained["trial_id"]]
    assert chosen == max([*coarse.values(), *fine.values()])
    assert run.config()["direction"] == "max"  # what report.json and report.md state
    from tunekit.report import render_markdown

    text = render_markdown(
        {
            "config": run.config(),
            "best": {
                "phase": "fine",
                "trial_id": "0",
                "reason": "",
                "final_epochs": 1,
                "num_params": 1,
            },
            "run_dir": "r",
            "data": "d",
            "dataset": {"scaling": "s"},
            "backend": "b",
            "versions": {},
            "test_metrics": {},
            "phases": {},
            "timings": {},
        },
        "",
    )
    assert "objective `val_f1_score` (max: higher is better)" in text
    run.close()


def _loop_build(hp):
    model = keras.Sequential([keras.Input((6,))])
    for i in range(hp.Int("num_layers", 1, 3)):
        model.add(keras.layers.Dense(hp.Int(f"units_{i}", 4, 16, step=4), activation="relu"))
    model.add(keras.layers.Dense(2, activation="softmax"))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _session_values(session_dir) -> dict:
    """The hyperparameters a trial's TensorBoard HParams session recorded."""
    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.plugins.hparams import metadata

    acc = event_accumulator.EventAccumulator(str(session_dir))
    acc.Reload()
    content = acc.SummaryMetadata(metadata.SESSION_START_INFO_TAG).plugin_data.content
    return dict(metadata.parse_session_start_info_plugin_data(content).hparams)


def _check_loop_run(run):
    _, chosen, _ = run.select()
    run.close()
    narrowed = run.narrow()
    coarse, fine = run._tuners["coarse"].oracle, run._tuners["fine"].oracle
    for trial in [*coarse.trials.values(), *fine.trials.values()]:
        assert trial.status == "COMPLETED", trial.message
        values = {
            k: v for k, v in trial.hyperparameters.values.items() if not k.startswith("tuner/")
        }
        built = {"num_layers", *(f"units_{i}" for i in range(values["num_layers"]))}
        assert set(values) == built, values  # no value of a layer the trial did not build
    for phase, oracle in (("coarse", coarse), ("fine", fine)):  # TensorBoard's HParams too
        for trial in oracle.trials.values():
            session = run.run_dir / "tensorboard" / phase / trial.trial_id / "execution0"
            logged = set(_session_values(session)) - {"phase"}
            assert logged == {
                k for k in trial.hyperparameters.values if not k.startswith("tuner/")
            }, (phase, trial.trial_id)
    top = [coarse.trials[i].hyperparameters.values for i in narrowed.top_trial_ids]
    (units_1,) = [c for c in narrowed.changes if c.name == "units_1"]
    assert units_1.active == sum(v["num_layers"] >= 2 for v in top)
    best = chosen.hyperparameters.values  # what the retrain builds
    assert {k for k in best if not k.startswith("tuner/")} == {
        "num_layers",
        *(f"units_{i}" for i in range(best["num_layers"])),
    }
    return coarse, fine


@pytest.mark.long
def test_loop_declared_layers_the_coarse_phase_never_built_are_tuned_in_the_fine_one(
    tmp_path, data
):
    # Seed 0: no coarse trial builds 3 layers, a fine Bayesian trial does (KerasTuner raised
    # "allow_new_entries is False" there, and the trial stayed RUNNING for every rerun).
    run = CoarseToFine(
        _loop_build,
        data,
        directory=tmp_path,
        project_name="loop",
        coarse_trials=4,
        top=0.5,
        fine_tuner="bayesian",
        fine_trials=4,
        seed=0,
        verbose=0,
        **TINY,
    )
    coarse, fine = _check_loop_run(run)
    assert "units_2" not in coarse.hyperparameters
    three = [t for t in fine.trials.values() if t.hyperparameters.values["num_layers"] == 3]
    assert three and all("units_2" in t.hyperparameters.values for t in three)
    (units_2,) = [hp for hp in fine.hyperparameters.space if hp.name == "units_2"]
    assert (units_2.min_value, units_2.max_value, units_2.step) == (4, 16, 4)  # full range


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_loop_declared_layers_with_hyperband(tmp_path, data, seed):
    run = CoarseToFine(
        _loop_build,
        data,
        directory=tmp_path,
        project_name="loop",
        coarse_trials=4,
        top=0.5,
        fine_tuner="hyperband",
        seed=seed,
        verbose=0,
        **{**TINY, **HYPERBAND, "max_epochs": 4},
    )
    _check_loop_run(run)


def _choice_build(choices):
    def build(hp):
        model = keras.Sequential(
            [
                keras.Input((6,)),
                keras.layers.Dense(hp.Choice("units", choices), activation="relu"),
                keras.layers.Dense(2, activation="softmax"),
            ]
        )
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    return build


@pytest.mark.long
def test_space_smaller_than_the_budget_goes_on_with_every_configuration(tmp_path, data, capsys):
    # val_loss has no chance level: one epoch on 168 samples may leave a trial at chance,
    # which would keep the whole space (`test_narrow_chance.py`) instead of narrowing.
    run = CoarseToFine(
        _choice_build([8, 16]),
        data,
        directory=tmp_path,
        project_name="two",
        objective="val_loss",
        coarse_trials=20,
        fine_tuner="bayesian",
        fine_trials=2,
        seed=0,
        **TINY,
    )
    _, chosen, _ = run.select()  # the fine phase ran too, and ended
    run.close()
    out = capsys.readouterr().out
    assert (
        "[coarse] the search space is exhausted: it holds only 2 distinct configurations "
        "(all tried), fewer than coarse_trials=20"
    ) in out
    assert len(run._tuners["coarse"].oracle.trials) == 2
    narrowed = run.narrow()
    assert (narrowed.usable, narrowed.top) == (2, 2)
    note = "the space holds only 2 distinct configurations, all tried in the coarse phase"
    assert note in narrowed.top_note and note in str(narrowed)
    saved = json.loads((run.run_dir / "narrowed_space.json").read_text())
    assert note in saved["top_note"]
    assert chosen.hyperparameters.values["units"] in (8, 16)


@pytest.mark.long
def test_a_hyperband_phase_that_runs_out_of_configurations_says_so(tmp_path, data, capsys):
    """Found by a probe: the fine Hyperband phase counted `trial 5/6` and ended after 5,
    unsaid, when its brackets found no configuration left to start with."""
    run = CoarseToFine(
        _choice_build([8, 16]),
        data,
        directory=tmp_path,
        project_name="two-hb",
        objective="val_loss",  # no chance level (see above)
        coarse_trials=5,
        fine_tuner="hyperband",
        seed=0,
        **HYPERBAND,
        **TINY,
    )
    run.select()
    run.close()
    out = capsys.readouterr().out
    ran = len(run._tuners["fine"].oracle.trials)
    planned = re.search(rf"\[fine\] Hyperband ran {ran} of the (\d+) trials its brackets plan: "
                        r"the space holds no other configuration", out)  # fmt: skip
    assert planned is not None, out
    assert ran < int(planned.group(1))


@pytest.mark.slow
@pytest.mark.parametrize("fine_tuner", ["bayesian", "hyperband"])
def test_space_of_one_configuration_ends_cleanly(tmp_path, data, fine_tuner):
    run = CoarseToFine(
        _choice_build([8]),
        data,
        directory=tmp_path,
        project_name="one",
        objective="val_loss",  # no chance level (see the test above)
        coarse_trials=5,
        fine_tuner=fine_tuner,
        **({"fine_trials": 3} if fine_tuner == "bayesian" else HYPERBAND),
        seed=0,
        verbose=0,
        **TINY,
    )
    result = run.run()
    assert (result.narrowed.usable, result.narrowed.top) == (1, 1)
    assert result.best_hyperparameters.values == {"units": 8}
    assert "narrowed from all 1 usable" in result.narrowed.top_note


@pytest.mark.long
def test_a_model_whose_file_needs_custom_objects_is_tuned_and_restored_from_its_weights(
    tmp_path, data, caplog
):
    """An unregistered custom metric (keras.io's getting-started pattern): plain KerasTuner
    tunes it. Before, tunekit refused it before training (ModelSaveError), because
    `load_model(best_model.keras)` alone cannot find the metric by name; now the run's
    models are rebuilt with the hypermodel and given the file's weights, as KerasTuner
    restores its checkpoints, and the run says what loading the file alone needs."""

    class Unregistered(keras.metrics.Mean):
        def update_state(self, y_true, y_pred, sample_weight=None):
            return super().update_state(y_pred[:, 0], sample_weight)

    class MyLoss(keras.losses.Loss):
        def call(self, y_true, y_pred):
            return keras.losses.sparse_categorical_crossentropy(y_true, y_pred)

    def top_share(y_true, y_pred):  # a function metric
        return keras.ops.max(y_pred, axis=-1)

    def build(hp):
        model = keras.Sequential(
            [
                keras.Input((6,)),
                keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu"),
                keras.layers.Dense(2, activation="softmax"),
            ]
        )
        model.compile("adam", MyLoss(), metrics=[Unregistered(name="mine"), top_share])
        return model

    def custom_run(**settings):
        options = dict(objective="val_mine:max", coarse_trials=3, verbose=0, **TINY, **HYPERBAND)
        return CoarseToFine(
            build, data, directory=tmp_path, project_name="custom", **options, **settings
        )

    caplog.set_level(logging.WARNING, logger="tunekit")
    run = custom_run()
    result = run.run()
    path = tmp_path / "custom" / "best_model.keras"
    with pytest.raises(TypeError):  # the file alone: Keras cannot find the metric by name
        keras.models.load_model(path)
    note = json.loads((tmp_path / "custom" / "report.json").read_text())["model_file_note"]
    # Every object it needs: Keras names one per failed load (the note named only the first).
    needed = "custom_objects={'MyLoss': MyLoss, 'Unregistered': Unregistered, 'top_share': "
    assert needed + "top_share}" in note
    assert any(r.getMessage() == note for r in caplog.records)  # said before training
    objects = {"MyLoss": MyLoss, "Unregistered": Unregistered, "top_share": top_share}
    loaded = keras.models.load_model(path, custom_objects=objects)  # the note's call loads
    evaluated = loaded.evaluate(
        data.x_test, data.y_test, batch_size=256, return_dict=True, verbose=0
    )
    assert result.test_metrics["mine"] == pytest.approx(evaluated["mine"], rel=1e-5)
    run.close()
    # A rerun with another retrain setting retrains and reports again without checking the
    # model before training: its report dropped the note, though the file still needs it.
    again = custom_run(final_schedule="constant")
    again.run()
    report = json.loads((tmp_path / "custom" / "report.json").read_text())
    assert report["config"]["final_schedule"] == "constant"
    assert report["model_file_note"] == note
    assert note in (tmp_path / "custom" / "report.md").read_text()
    again.close()


def test_metric_objects_a_build_shares_count_only_the_test_set_in_a_rebuilt_model(tmp_path, data):
    """Metric objects made once outside `build`, in a model whose file needs custom objects
    (so it is rebuilt from its weights): Keras's evaluate left the shared objects' counts
    alone, and the test accuracy counted the retrain's samples too (0.9533 where the model
    scored 0.9333)."""

    class Identity(keras.layers.Layer):  # unregistered: the file cannot be loaded alone
        def call(self, x):
            return x

    accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")  # shared

    def build(hp):
        model = keras.Sequential(
            [
                keras.Input((6,)),
                keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu"),
                Identity(),
                keras.layers.Dense(2, activation="softmax"),
            ]
        )
        model.compile("adam", "sparse_categorical_crossentropy", metrics=[accuracy])
        return model

    result = CoarseToFine(
        build,
        data,
        directory=tmp_path,
        project_name="shared",
        coarse_trials=3,
        verbose=0,
        **TINY,
        **HYPERBAND,
    ).run()
    path = tmp_path / "shared" / "best_model.keras"
    loaded = keras.models.load_model(path, custom_objects={"Identity": Identity})
    predicted = loaded.predict(data.x_test, verbose=0).argmax(axis=1)
    expected = float(np.mean(predicted == data.y_test))
    assert result.test_metrics["accuracy"] == pytest.approx(expected, abs=1e-6)


class SigmoidNetWithoutConfig(keras.Model):
    """One sigmoid unit, no get_config(): its file is rebuilt by `build` + `load_weights`."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(units, activation="relu")
        self.out = keras.layers.Dense(1, activation="sigmoid")

    def call(self, x):
        return self.out(self.hidden(x))


@pytest.mark.long
def test_a_rebuilt_models_test_metrics_have_the_names_its_trials_logged(tmp_path, data):
    """Keras numbers a metric made without a name (`AUC()`, `Precision()`) per Python
    session, so the model rebuilt for the test set logged `auc_1` and `precision_1` where its
    trials logged `auc` and `precision`: `result.test_metrics["auc"]` raised KeyError and two
    runs' test rows did not line up in `tunekit compare`."""

    def build(hp):
        model = SigmoidNetWithoutConfig(hp.Int("units", 4, 8, step=4))
        model.compile(
            "adam",
            "binary_crossentropy",
            metrics=[keras.metrics.AUC(), keras.metrics.Precision(), "accuracy"],
        )
        return model

    run = CoarseToFine(
        build,
        data,
        directory=tmp_path,
        project_name="names",
        objective="val_auc",
        coarse_trials=3,
        verbose=0,
        **TINY,
        **HYPERBAND,
    )
    result = run.run()
    run.close()
    assert set(result.test_metrics) == {"loss", "auc", "precision", "accuracy"}
    trials = pd.read_csv(tmp_path / "names" / "trials.csv")
    assert {"auc", "precision", "val_auc", "val_precision"} <= set(trials.columns)


class NetWithoutConfig(keras.Model):
    """A subclassed model without get_config(): Keras cannot save it whole."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(units, activation="relu")
        self.out = keras.layers.Dense(2, activation="softmax")

    def call(self, x):
        return self.out(self.hidden(x))


def test_a_subclassed_model_keras_cannot_save_whole_is_tuned_as_plain_kerastuner_tunes_it(
    tmp_path, data, caplog
):
    """A subclassed `keras.Model` whose class has no get_config() was refused before
    training (ModelSaveError); plain KerasTuner tunes it (its checkpoints are weights). Its
    `.keras` file now holds the weights, which `build(hp)` + `load_weights` restore."""

    def build(hp):
        model = NetWithoutConfig(hp.Int("units", 4, 8, step=4))
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    caplog.set_level(logging.WARNING, logger="tunekit")
    run = CoarseToFine(
        build,
        data,
        directory=tmp_path,
        project_name="net",
        coarse_trials=3,
        verbose=0,
        **TINY,
        **HYPERBAND,
    )
    result = run.run()
    path = tmp_path / "net" / "best_model.keras"
    with pytest.raises(TypeError):
        keras.models.load_model(path)
    note = json.loads((tmp_path / "net" / "report.json").read_text())["model_file_note"]
    assert "holds its weights only" in note and "model.load_weights(path)" in note
    assert any(r.getMessage() == note for r in caplog.records)  # said before training
    model = build(keras_tuner.HyperParameters.from_config(result.best_hyperparameters.get_config()))
    model(data.x_test[:1])
    model.load_weights(path)  # the note's way
    predicted = model.predict(data.x_test, verbose=0).argmax(axis=1)
    assert result.test_metrics["accuracy"] == pytest.approx(np.mean(predicted == data.y_test))
    (best,) = run.get_best_models()
    assert np.allclose(best.predict(data.x_test, verbose=0), model.predict(data.x_test, verbose=0))
    run.close()


@pytest.mark.long
def test_a_list_objective_ranks_trials_by_keras_tuners_sum_and_resumes_only_the_same(
    tmp_path, data
):
    """`objective=[...]` is what plain KerasTuner tunes as a `MultiObjective`."""
    from tunekit.errors import RunConfigError

    def build(hp):
        model = keras.Sequential(
            [
                keras.Input((6,)),
                keras.layers.Dense(hp.Int("units", 2, 16), activation="relu"),
                keras.layers.Dense(1, activation="sigmoid"),
            ]
        )
        model.compile(
            keras.optimizers.Adam(hp.Float("lr", 1e-3, 1e-1, sampling="log")),
            "binary_crossentropy",
            metrics=[keras.metrics.AUC(name="auc")],
        )
        return model

    settings = dict(directory=tmp_path, project_name="sum", coarse_trials=3, seed=0, verbose=0)
    run = CoarseToFine(build, data, objective=["val_loss", "val_auc"], **settings, **TINY)
    run.run()
    oracle = run._tuners["coarse"].oracle
    for trial in oracle.trials.values():
        losses, aucs = (trial.metrics.get_history(n) for n in ("val_loss", "val_auc"))
        sums = [np.mean(loss.value) - np.mean(auc.value) for loss, auc in zip(losses, aucs)]
        assert trial.score == pytest.approx(min(sums))  # KerasTuner's: the best epoch's sum
    text = (run.run_dir / "report.md").read_text()
    # The run's settings keep the parts sorted (the same sum in any order).
    assert "objective `multi_objective = -val_auc + val_loss` (min: lower is better)" in text
    assert "objective=['val_loss:min', 'val_auc:max']" in text  # the call that reproduces it
    run.close()
    with pytest.raises(RunConfigError, match="objectives"):
        CoarseToFine(build, data, objective=["val_loss", "val_accuracy"], **settings, **TINY).run()


@pytest.mark.long
def test_failed_trials_are_counted_in_the_report_and_the_summary(tmp_path, data):
    """Before, report.md's trial count mixed failed trials in with the others, unnamed."""
    from tunekit.cli_summary import summary

    def build(hp):
        if hp.Choice("init", ["glorot_uniform", "not_an_initializer"]) != "glorot_uniform":
            raise ValueError("this configuration cannot be built")
        model = keras.Sequential(
            [
                keras.Input((6,)),
                keras.layers.Dense(hp.Int("units", 2, 16), activation="relu"),
                keras.layers.Dense(2, activation="softmax"),
            ]
        )
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    run = CoarseToFine(
        build,
        data,
        directory=tmp_path,
        project_name="failing",
        coarse_trials=6,
        max_consecutive_failed_trials=6,
        max_retries_per_trial=0,
        seed=1,
        verbose=0,
        **TINY,
        **HYPERBAND,
    )
    result = run.run()
    rows = [line.split(",") for line in (run.run_dir / "trials.csv").read_text().splitlines()]
    header = rows[0]
    report = json.loads((run.run_dir / "report.json").read_text())
    text = (run.run_dir / "report.md").read_text()
    for phase in ("coarse", "fine"):
        trials = [r for r in rows[1:] if r[header.index("phase")] == phase]
        failed = sum(r[header.index("status")] == "FAILED" for r in trials)
        assert report["phases"][phase]["trials"] == len(trials)
        assert report["phases"][phase]["failed"] == failed
        assert f"| {phase} | {len(trials)}{f' ({failed} failed)' if failed else ''} |" in text
    failed = report["phases"]["coarse"]["failed"]
    assert 0 < failed < report["phases"]["coarse"]["trials"]
    assert f"{failed} trial{'s' if failed > 1 else ''} failed" in summary(result)
    run.close()


class DictInputNet(keras.Model):
    """A subclassed model of two inputs (a dict), built on its first call."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.a = keras.layers.Dense(units, activation="relu")
        self.b = keras.layers.Dense(units, activation="relu")
        self.joined = keras.layers.Concatenate()
        self.out = keras.layers.Dense(2, activation="softmax")

    def call(self, x):
        return self.out(self.joined([self.a(x["p"]), self.b(x["q"])]))


def test_hyperband_continues_trials_of_a_model_built_on_its_first_call(tmp_path):
    """Found by a helper: every Hyperband trial that continues another failed ("loading
    weights into a model that has not yet been built"), as in plain KerasTuner, for a
    subclassed model of a dict of inputs; the search quietly lost its promotions."""
    import tunekit

    def build(hp):
        model = DictInputNet(hp.Int("units", 4, 16, step=4))
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    rng = np.random.default_rng(0)
    x = {"p": rng.normal(size=(200, 3)), "q": rng.normal(size=(200, 2))}
    data = Dataset.from_arrays(x, (x["p"][:, 0] > 0).astype("int64"), seed=0)
    run = CoarseToFine(
        build,
        data,
        directory=tmp_path,
        coarse_trials=3,
        verbose=0,
        **{**TINY, **HYPERBAND, "max_epochs": 4},
    )
    run.run()
    trials = tunekit.trials_dataframe(run.run_dir)
    fine = trials[trials["phase"] == "fine"]
    continued = fine[fine["initial_epoch"] > 0]  # Hyperband continued another trial
    assert len(continued) >= 2 and set(continued["status"]) == {"COMPLETED"}
