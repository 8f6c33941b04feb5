"""KerasTuner's `hyperparameters=`, `tune_new_entries=` and `allow_new_entries=`, in a run.

keras.io's getting-started guide tunes a subset of a hypermodel's space
(`tune_new_entries=False`), fixes one of its hyperparameters (`hp.Fixed`) and
overrides a range, all through the tuner's `hyperparameters=`. Before, a
`CoarseToFine` run had no such argument: a user of a bundled hypermodel could
not restrict its space at all.
"""

from __future__ import annotations

import logging

import keras
import keras_tuner as kt
import numpy as np
import pytest
from conftest import RUN_BUDGET

from tunekit import CoarseToFine
from tunekit.data import Dataset
from tunekit.errors import InvalidParameterError, ModelCheckError, RunConfigError

TINY = {**RUN_BUDGET, "coarse_trials": 3, "top": 1.0, "baseline": True, "final_epochs": 1}


def _data() -> Dataset:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return Dataset.from_arrays(x[:300, :8] / 16.0, y[:300] % 3, seed=0)


def build(hp: kt.HyperParameters) -> keras.Model:
    units = hp.Int("units", 4, 32, step=4, default=8)
    activation = hp.Choice("activation", ["relu", "tanh"])
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(units, activation=activation),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    rate = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3)
    model.compile(
        optimizer=keras.optimizers.Adam(rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def _trial_values(run: CoarseToFine) -> list[dict]:
    return [
        {k: v for k, v in trial.hyperparameters.values.items() if not k.startswith("tuner/")}
        for phase in ("coarse", "fine")
        for trial in run._tuner(phase).oracle.trials.values()
    ]


@pytest.mark.long
def test_a_subset_of_the_space_is_tuned_and_the_rest_built_at_its_defaults(tmp_path):
    """keras.io: `hyperparameters=hp, tune_new_entries=False` tunes only `hp`'s entries."""
    hp = kt.HyperParameters()
    hp.Float("learning_rate", 1e-3, 5e-3, sampling="log")
    run = CoarseToFine(
        build,
        _data(),
        directory=tmp_path,
        project_name="subset",
        hyperparameters=hp,
        tune_new_entries=False,
        **{**TINY, "baseline": False},
    )
    result = run.run()
    values = _trial_values(run)
    assert len(values) >= 4
    for trial in values:  # the others at their defaults, in every trial of both phases
        assert trial["units"] == 8 and trial["activation"] == "relu", trial
        assert 1e-3 <= trial["learning_rate"] <= 5e-3, trial
    assert len({trial["learning_rate"] for trial in values}) > 1  # and it was tuned
    assert [c.name for c in run.ensure("narrow").changes] == ["learning_rate"]
    # The saved model is the defaults' architecture: 8*8+8 + 8*3+3 parameters.
    assert keras.models.load_model(result.run_dir / "best_model.keras").count_params() == 99
    # Plain KerasTuner's RandomSearch with the same arguments: the same rule.
    plain = kt.RandomSearch(
        build,
        objective="val_accuracy",
        max_trials=2,
        hyperparameters=hp,
        tune_new_entries=False,
        directory=str(tmp_path),
        project_name="plain",
    )
    data = _data()
    plain.search(
        data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), epochs=1, verbose=0
    )
    for trial in plain.oracle.trials.values():
        assert trial.hyperparameters["units"] == 8, trial.hyperparameters.values
        assert trial.hyperparameters["activation"] == "relu"
    assert [hp.name for hp in plain.oracle.hyperparameters.space] == ["learning_rate"]
    import json

    command = json.loads((result.run_dir / "report.json").read_text())["command"]
    assert "hyperparameters=hp, tune_new_entries=False" in command["python_call"]
    assert command["cli_equivalent"] is None  # the command line has no such option
    run.close()


def test_a_fixed_value_holds_in_every_trial_the_baseline_and_a_resume_checks_it(tmp_path):
    hp = kt.HyperParameters()
    hp.Fixed("activation", "tanh")
    hp.Int("units", 16, 32, step=4)  # overrides the hypermodel's 4-32
    options = dict(directory=tmp_path, project_name="fixed", **TINY)
    run = CoarseToFine(build, _data(), hyperparameters=hp, **options)
    result = run.run()
    values = _trial_values(run)
    assert {trial["activation"] for trial in values} == {"tanh"}
    assert min(trial["units"] for trial in values) >= 16
    assert len({trial["learning_rate"] for trial in values}) > 1  # the rest is tuned too
    baseline = keras.models.load_model(result.run_dir / "baseline_model.keras")
    assert baseline.layers[0].activation.__name__ == "tanh"  # the space's defaults
    assert baseline.layers[0].units == 16
    run.close()
    # The same run resumes; another space is refused, naming the setting.
    assert CoarseToFine(build, _data(), hyperparameters=hp, **options).run().test_metrics
    other = kt.HyperParameters()
    other.Fixed("activation", "relu")
    with pytest.raises(RunConfigError, match="hyperparameters"):
        CoarseToFine(build, _data(), hyperparameters=other, **options).run()
    with pytest.raises(RunConfigError, match="hyperparameters"):
        CoarseToFine(build, _data(), **options).run()


def _conditional(hp: kt.HyperParameters) -> keras.Model:
    layers = [keras.Input((8,))]
    for i in range(hp.Int("layers", 1, 2)):
        with hp.conditional_scope("layers", list(range(i + 1, 3))):
            layers.append(keras.layers.Dense(hp.Int(f"units_{i}", 4, 32, step=4)))
    model = keras.Sequential([*layers, keras.layers.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class _BatchSizeInFit(kt.HyperModel):
    def build(self, hp):
        return build(hp)

    def fit(self, hp, model, *args, **kwargs):
        return model.fit(*args, batch_size=hp.Choice("batch_size", [16, 32]), **kwargs)


def test_an_override_under_other_conditions_or_a_late_new_entry_says_what_to_do(tmp_path):
    """Before: `units_1` declared outside the hypermodel's conditional_scope made a second
    entry, and every trial's value was clipped to the top of the range (64 of 32-64); a
    name declared in `fit` under allow_new_entries=False ended the run with KerasTuner's
    bare RuntimeError after the first trial."""
    from tunekit import SearchInputError

    hp = kt.HyperParameters()
    hp.Fixed("layers", 2)
    hp.Int("units_1", 4, 8, step=4)  # the hypermodel declares it under `layers`
    with pytest.raises(ModelCheckError, match=r"declares \['units_1'\] under other conditions"):
        CoarseToFine(
            _conditional, _data(), hyperparameters=hp, directory=tmp_path, project_name="c", **TINY
        ).check_model()
    hp = kt.HyperParameters()
    hp.Float("learning_rate", 1e-3, 1e-2)
    hp.Int("units", 4, 32, step=4)
    hp.Choice("activation", ["relu", "tanh"])
    run = CoarseToFine(
        _BatchSizeInFit(),
        _data(),
        directory=tmp_path,
        project_name="late",
        hyperparameters=hp,
        allow_new_entries=False,
        **TINY,
    )
    with pytest.raises(
        SearchInputError, match=r"declared \['batch_size'\], which hyperparameters="
    ):
        run.coarse()
    run.close()


def test_space_settings_that_cannot_work_are_refused_before_training(tmp_path, caplog):
    only_rate = kt.HyperParameters()
    only_rate.Float("learning_rate", 1e-3, 1e-2)
    options = dict(directory=tmp_path, **TINY)
    with pytest.raises(
        ModelCheckError, match=r"allow_new_entries=False.*\['units', 'activation'\]"
    ):
        CoarseToFine(
            build,
            _data(),
            hyperparameters=only_rate,
            allow_new_entries=False,
            project_name="a",
            **options,
        ).run()
    fixed = kt.HyperParameters()
    fixed.Fixed("units", 8)
    with pytest.raises(
        ModelCheckError, match="tune_new_entries=False and `hyperparameters` has no"
    ):
        CoarseToFine(
            build,
            _data(),
            hyperparameters=fixed,
            tune_new_entries=False,
            project_name="b",
            **options,
        ).run()
    with pytest.raises(
        InvalidParameterError, match="tune_new_entries=False needs the search space"
    ):
        CoarseToFine(build, _data(), tune_new_entries=False, project_name="c", **options)
    with pytest.raises(InvalidParameterError, match="must be a keras_tuner.HyperParameters"):
        CoarseToFine(build, _data(), hyperparameters={"units": 8}, project_name="d", **options)
    assert not any((tmp_path / name).exists() for name in "abcd")  # nothing trained or written
    # A misspelt name restricts nothing: said before training.
    typo = kt.HyperParameters()
    typo.Float("learning_rte", 1e-3, 1e-2)
    caplog.set_level(logging.WARNING, logger="tunekit")
    CoarseToFine(build, _data(), hyperparameters=typo, project_name="e", **options).check_model()
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "hyperparameters= lists ['learning_rte'], which the hypermodel's build" in said
    assert "'learning_rate'" in said
    assert "Its own fit may" not in said  # a build function has no fit of its own
    np.testing.assert_equal(len(list((tmp_path / "e").glob("coarse/trial_*"))), 0)
    # Found by a helper: an entry of the hypermodel's own fit (hp.Fixed("batch_size", 32))
    # was said to be maybe misspelt, with a list of declared names that left it out.

    class OwnFit(kt.HyperModel):
        def build(self, hp):
            return build(hp)

        def fit(self, hp, model, *args, **kwargs):
            return model.fit(*args, batch_size=hp.Choice("batch_size", [16, 32]), **kwargs)

    caplog.clear()
    batch = kt.HyperParameters()
    batch.Fixed("batch_size", 32)
    CoarseToFine(
        OwnFit(), _data(), hyperparameters=batch, project_name="f", **options
    ).check_model()
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "['batch_size'], which the hypermodel's build does not ask for, with the" in said
    assert "Its own fit may (e.g. a batch_size" in said and "'learning_rate'" in said


def _momentum_if_sgd(hp: kt.HyperParameters) -> keras.Model:
    model = build(hp)
    if hp.Choice("optimizer", ["adam", "sgd"]) == "sgd":
        with hp.conditional_scope("optimizer", ["sgd"]):
            model.compile(
                keras.optimizers.SGD(momentum=hp.Float("momentum", 0.0, 0.9, step=0.3)),
                loss="sparse_categorical_crossentropy",
                metrics=["accuracy"],
            )
    return model


def _momentum_if_sgd_and_nested(hp: kt.HyperParameters) -> keras.Model:
    """`momentum` only for `sgd` and `nest`: two values away from the defaults."""
    model = build(hp)
    if hp.Choice("optimizer", ["adam", "sgd"]) == "sgd":
        with hp.conditional_scope("optimizer", ["sgd"]):
            if hp.Boolean("nest", default=False):
                with hp.conditional_scope("nest", [True]):
                    hp.Float("momentum", 0.0, 0.9, step=0.3)
    return model


def _rate_at_the_smallest_count(hp: kt.HyperParameters) -> keras.Model:
    """`rate` only at the smallest value of an `Int` whose default is another."""
    model = build(hp)
    if hp.Int("layers", 0, 3, default=2) == 0:
        with hp.conditional_scope("layers", [0]):
            hp.Float("rate", 1e-3, 1e-1, sampling="log")
    return model


def _inside_sgd(hp, declare):
    hp.Choice("optimizer", ["adam", "sgd"])
    with hp.conditional_scope("optimizer", ["sgd"]):
        declare(hp)


def _inside_sgd_and_nested(hp, declare):
    hp.Choice("optimizer", ["adam", "sgd"])
    with hp.conditional_scope("optimizer", ["sgd"]):
        hp.Boolean("nest", default=False)
        with hp.conditional_scope("nest", [True]):
            declare(hp)


def _inside_layers(values, low=1, high=2, default=1):
    def inside(hp, declare):
        hp.Int("layers", low, high, default=default)
        with hp.conditional_scope("layers", values):
            declare(hp)

    return inside


@pytest.mark.parametrize(
    "hypermodel, name, override, inside",
    [
        (
            _momentum_if_sgd,
            "momentum",
            lambda hp: hp.Float("momentum", 0.5, 0.9, step=0.4),
            _inside_sgd,
        ),
        (
            _conditional,
            "units_1",
            lambda hp: hp.Int("units_1", 4, 8, step=4),
            _inside_layers([2]),
        ),
        (  # found by a retry: two values away from the defaults
            _momentum_if_sgd_and_nested,
            "momentum",
            lambda hp: hp.Float("momentum", 0.3, 0.9, step=0.3),
            _inside_sgd_and_nested,
        ),
        (  # found by a retry: an Int's smallest value, not its default
            _rate_at_the_smallest_count,
            "rate",
            lambda hp: hp.Float("rate", 1e-2, 1e-1, sampling="log"),
            _inside_layers([0], low=0, high=3, default=2),
        ),
    ],
)
def test_an_override_outside_a_scope_the_defaults_do_not_reach_is_refused_before_training(
    tmp_path, caplog, hypermodel, name, override, inside
):
    """Found by a probe: `momentum` under `optimizer == "sgd"` (the default is adam), or the
    units of a layer the default count does not build, overridden outside its scope, was only
    said to be maybe misspelt; the search then trained trials and failed at the first that
    reached the scope, saying the hypermodel declares it twice."""
    hp = kt.HyperParameters()
    override(hp)
    options = dict(directory=tmp_path, project_name="outside", **TINY)
    with pytest.raises(ModelCheckError, match=rf"declares \['{name}'\] under other conditions"):
        CoarseToFine(hypermodel, _data(), hyperparameters=hp, **options).check_model()
    assert not list(tmp_path.glob("outside/coarse/trial_*"))
    # Inside the scope, the override applies: no warning that it may be misspelt.
    within = kt.HyperParameters()
    inside(within, override)
    caplog.set_level(logging.WARNING, logger="tunekit")
    options["project_name"] = "inside"
    CoarseToFine(hypermodel, _data(), hyperparameters=within, **options).check_model()
    assert "does not ask for" not in caplog.text


@pytest.mark.parametrize(
    "phase, settings",
    [
        ("coarse", {**TINY, "coarse_trials": 4}),
        (
            "fine",
            {k: v for k, v in TINY.items() if k != "factor"}
            | {"fine_tuner": "bayesian", "fine_trials": 4},
        ),
    ],
)
def test_a_small_subset_is_trained_once_per_configuration(tmp_path, phase, settings):
    """A 2-value choice with `tune_new_entries=False`. Coarse: KerasTuner recorded each trial
    by all its values (the untuned defaults included) and forgot what it had proposed, so 4
    coarse trials trained relu 3 times, no exhaustion was said, and the narrowing counted
    each. Fine (Bayesian): its Gaussian process proposed its optimum again, so fine_trials=4
    trained each value twice."""
    hp = kt.HyperParameters()
    hp.Choice("activation", ["relu", "tanh"])
    run = CoarseToFine(
        build,
        _data(),
        directory=tmp_path,
        project_name="small",
        hyperparameters=hp,
        tune_new_entries=False,
        **settings | {"baseline": False},
    )
    run.run()
    trained = [
        trial.hyperparameters.values["activation"]
        for trial in run._tuner(phase).oracle.trials.values()
        if trial.status == "COMPLETED"
    ]
    assert sorted(trained) == ["relu", "tanh"]  # each once, then the space is exhausted


def _act_in_each_pass(hp: kt.HyperParameters) -> keras.Model:
    """keras.io's loop of layers, with the activation declared in each pass's scope."""
    model = keras.Sequential([keras.Input((8,))])
    for i in range(hp.Int("layers", 2, 3)):  # each build declares "act" twice
        with hp.conditional_scope("layers", list(range(i + 1, 4))):
            units = hp.Int(f"units_{i}", 4, 8, step=4)
            model.add(keras.layers.Dense(units, activation=hp.Choice("act", ["relu", "tanh"])))
    model.add(keras.layers.Dense(3, activation="softmax"))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_a_name_declared_in_each_pass_of_a_loops_scope_is_refused_before_training(tmp_path):
    """Before, the coarse search ran (plain KerasTuner's too fails the trials that reach the
    later entries), then the fine phase's tuner raised a bare `KeyError: 'act'`."""
    from tunekit import SearchInputError

    run = CoarseToFine(_act_in_each_pass, _data(), directory=tmp_path, project_name="loop", **TINY)
    with pytest.raises(SearchInputError, match=r"declares 'act' more than once") as refused:
        run.coarse()
    run.close()
    assert "(layers in [1, 2, 3]; layers in [2, 3])" in str(refused.value)
    assert "hp.Choice(f'act_{i}', ...)" in str(refused.value)
    assert not list((tmp_path / "loop" / "coarse").glob("trial_*"))  # before any trial
    # Under exclusive conditions too: KerasTuner keeps one value per name, and fails the
    # trials of one branch with KeyError (helper retry: every "wide" trial failed).
    hp = kt.HyperParameters()
    hp.Choice("model", ["a", "b"])
    with hp.conditional_scope("model", ["a"]):
        hp.Int("units", 4, 8, step=4)
    with hp.conditional_scope("model", ["b"]):
        hp.Int("units", 1, 3)
    from tunekit.tuners.base_oracle import check_names_declared_once

    with pytest.raises(SearchInputError, match=r"\(model in \['a'\]; model in \['b'\]\)"):
        check_names_declared_once(hp)
