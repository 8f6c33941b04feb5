"""benchmarks/peers.py's space adapter: KerasTuner's declared space as Optuna distributions."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import keras_tuner as kt
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from hypermodels import MnistDenseHyperModel, ToonVisionCNNHyperModel

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `benchmarks` is a folder of the repository, not installed
    sys.path.insert(0, str(ROOT))

from benchmarks.peers import (  # noqa: E402
    OptunaHyperParameters,
    optuna_distribution,
    retrain_epochs,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _expected(hp: Any) -> Any:
    """The distribution each KerasTuner type should map to, written out per type."""
    if isinstance(hp, kt.engine.hyperparameters.Boolean):
        return CategoricalDistribution([False, True])
    if isinstance(hp, kt.engine.hyperparameters.Choice):
        return CategoricalDistribution(hp.values)
    log = hp.sampling == "log"
    if isinstance(hp, kt.engine.hyperparameters.Int):
        return IntDistribution(hp.min_value, hp.max_value, log=log, step=hp.step or 1)
    return FloatDistribution(hp.min_value, hp.max_value, log=log, step=hp.step)


def _suggested(hypermodel: kt.HyperModel, fixed: dict[str, Any]) -> optuna.trial.Trial:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.enqueue_trial(fixed)
    trial = study.ask()
    hp = OptunaHyperParameters(trial)
    hypermodel.build(hp)
    for name, value in trial.params.items():  # the model was built with Optuna's values
        assert hp.values[name] == value
    return trial


@pytest.mark.parametrize(
    ("hypermodel", "fixed"),
    [
        (MnistDenseHyperModel(), {"num_extra_layers": 3}),  # every conditional layer active
        (ToonVisionCNNHyperModel((28, 28, 1), 10, augment=False, rescale=False), {}),
    ],
    ids=["dense", "cnn"],
)
def test_every_declared_hyperparameter_gets_its_optuna_distribution(
    hypermodel: kt.HyperModel, fixed: dict[str, Any]
) -> None:
    declared = kt.HyperParameters()
    hypermodel.build(declared)
    trial = _suggested(hypermodel, fixed)
    assert set(trial.distributions) == {hp.name for hp in declared.space}
    for hp in declared.space:
        assert trial.distributions[hp.name] == _expected(hp), hp.name


def test_dense_space_as_optuna_sees_it() -> None:
    trial = _suggested(MnistDenseHyperModel(), {"num_extra_layers": 3})
    d = trial.distributions
    assert d["units_0"] == IntDistribution(32, 512, step=32)
    assert d["num_extra_layers"] == IntDistribution(0, 3)
    assert d["activation"] == CategoricalDistribution(["relu", "tanh", "sigmoid"])
    assert d["dropout"] == FloatDistribution(0.0, 0.5, step=0.05)
    assert d["learning_rate"] == FloatDistribution(1e-4, 1e-2, log=True)


def test_cnn_choices_stay_categorical() -> None:
    hypermodel = ToonVisionCNNHyperModel((28, 28, 1), 10, augment=False, rescale=False)
    d = _suggested(hypermodel, {}).distributions
    assert d["kernel_size_1"] == CategoricalDistribution([3, 5])
    assert d["learning_rate"] == CategoricalDistribution([1e-2, 1e-3, 1e-4])
    assert d["dropout_2"] == FloatDistribution(0.0, 0.9, step=0.1)


def test_inactive_conditional_hyperparameters_are_not_suggested() -> None:
    trial = _suggested(MnistDenseHyperModel(), {"num_extra_layers": 1})
    assert "units_1" in trial.params
    assert "units_2" not in trial.params and "units_3" not in trial.params


def test_boolean_fixed_and_unsupported_types() -> None:
    hp = kt.HyperParameters()
    hp.Boolean("flag")
    hp.Fixed("width", 7)
    hp.Int("log_int", 1, 64, sampling="log")
    hp.Float("reverse", 0.1, 1.0, sampling="reverse_log")
    by_name = {h.name: h for h in hp.space}
    assert optuna_distribution(by_name["flag"]) == CategoricalDistribution([False, True])
    assert optuna_distribution(by_name["width"]) is None
    assert optuna_distribution(by_name["log_int"]) == IntDistribution(1, 64, log=True)
    with pytest.raises(ValueError, match="reverse_log.*'reverse'"):
        optuna_distribution(by_name["reverse"])

    study = optuna.create_study()
    study.enqueue_trial({"flag": True})
    trial = study.ask()
    adapted = OptunaHyperParameters(trial)
    assert adapted.Boolean("flag") is True
    assert adapted.Fixed("width", 7) == 7
    assert set(trial.distributions) == {"flag"}


def test_retrain_epochs_follows_tunekits_rule() -> None:
    assert retrain_epochs(best_step=3, ran=9, initial_epoch=0, max_epochs=9) == 4
    assert retrain_epochs(best_step=8, ran=9, initial_epoch=0, max_epochs=9) == 9
    # A Hyperband trial continuing from epoch 3, best at its second epoch of six: epoch 5.
    assert retrain_epochs(best_step=1, ran=6, initial_epoch=3, max_epochs=9) == 5
    # Still improving at the end of a short bracket: the search's longest training.
    assert retrain_epochs(best_step=2, ran=3, initial_epoch=0, max_epochs=9) == 9
