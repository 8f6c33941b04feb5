"""tunekit extends KerasTuner through its hooks, and returns KerasTuner's own types.

- no `oracle.__class__ = ...`, no `tunekit_*` attribute set on a KerasTuner
  object after construction, `keras_tuner.src` imported in one module only;
- tunekit's settings are constructor arguments of its tuners and of `make_tuner`;
- `Result.best_hyperparameters` is a `keras_tuner.HyperParameters` that builds
  the model; `CoarseToFine.get_best_hyperparameters` / `get_best_models` /
  `select()` behave as documented.
"""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np
import pytest

from hypermodels import MnistDenseHyperModel
from tunekit import CoarseToFine
from tunekit.errors import RunNotFinishedError
from tunekit.fitting import SearchInputError
from tunekit.tuners import (
    FixedSpaceBayesianOracle,
    GridOracle,
    RandomSearchOracle,
    make_tuner,
)
from tunekit.workflow import Selection, completed_trials

ROOT = Path(__file__).resolve().parents[1]
TUNEKIT = ROOT / "tunekit"
INTERNALS = TUNEKIT / "_kerastuner.py"
# Attributes tunekit may set on objects of its own making, with the reason.
OWN_MARKERS = {("to_proto", "tunekit_quiet"): "marks tunekit's own replacement function"}


def _modules() -> list[Path]:
    return sorted(TUNEKIT.rglob("*.py"))


def _uses_kerastuner_src(tree: ast.AST) -> list[int]:
    """Lines importing or reaching `keras_tuner.src` (import, attribute or module string)."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[:2] == [
            "keras_tuner",
            "src",
        ]:
            lines.append(node.lineno)
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module == "keras_tuner"
            and any(alias.name == "src" for alias in node.names)
        ):
            lines.append(node.lineno)
        elif isinstance(node, ast.Import) and any(
            a.name.split(".")[:2] == ["keras_tuner", "src"] for a in node.names
        ):
            lines.append(node.lineno)
        elif (
            isinstance(node, ast.Attribute)
            and node.attr == "src"
            and isinstance(node.value, ast.Name)
            and node.value.id in {"kt", "keras_tuner"}
        ):
            lines.append(node.lineno)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.startswith("keras_tuner.src")
        ):
            lines.append(node.lineno)
    return lines


def test_keras_tuner_src_is_imported_only_by_the_internals_module():
    offenders = {
        str(path.relative_to(ROOT)): lines
        for path in _modules()
        if path != INTERNALS
        if (lines := _uses_kerastuner_src(ast.parse(path.read_text())))
    }
    assert offenders == {}, (
        "import KerasTuner internals through tunekit._kerastuner (and list them there)"
    )
    assert _uses_kerastuner_src(ast.parse(INTERNALS.read_text()))  # the check sees imports


def test_the_internals_module_lists_each_name_and_the_installed_version():
    from tunekit import _kerastuner

    assert kt.__version__ in _kerastuner.CHECKED_VERSIONS, (
        f"KerasTuner {kt.__version__} is not among the versions tunekit._kerastuner was "
        "checked against: check each name it lists, then add the version"
    )
    doc = _kerastuner.__doc__
    for name in _kerastuner.__all__:
        if name != "CHECKED_VERSIONS":
            assert f"`{name}" in doc, f"{name} is not explained in tunekit._kerastuner"
            assert getattr(_kerastuner, name) is not None


def _attribute_assignments(tree: ast.AST):
    """`(function name or None, target)` for each attribute assignment target."""
    found = []

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(child, child.name)
                continue
            targets = []
            if isinstance(child, ast.Assign):
                targets = child.targets
            elif isinstance(child, (ast.AugAssign, ast.AnnAssign)):
                targets = [child.target]
            for target in targets:
                for sub in ast.walk(target):
                    if isinstance(sub, ast.Attribute):
                        found.append((function, sub))
            visit(child, function)

    visit(tree, None)
    return found


def test_no_class_swap_and_no_tunekit_attribute_set_on_kerastuner_objects():
    offenders = []
    for path in _modules():
        for function, target in _attribute_assignments(ast.parse(path.read_text())):
            owner = target.value.id if isinstance(target.value, ast.Name) else None
            where = f"{path.relative_to(ROOT)}:{target.lineno}"
            if target.attr == "__class__":
                offenders.append(f"{where} assigns __class__")
            elif (
                "tunekit" in target.attr
                and (owner, target.attr) not in OWN_MARKERS
                and not (owner == "self" and function == "__init__")
            ):
                offenders.append(f"{where} sets {owner}.{target.attr} outside a constructor")
    assert offenders == []


# --------------------------------------------------------------------------- tuners


def _tiny_build(hp):
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(hp.Int("units", 2, 8, step=2), activation="relu"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _tiny_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64")


ORACLES = {
    "random": RandomSearchOracle,  # KerasTuner's, with the model-size limit
    "bayesian": FixedSpaceBayesianOracle,
    "grid": GridOracle,  # KerasTuner's, resumable
}


@pytest.mark.parametrize("kind", ["random", "bayesian", "grid"])
def test_oracle_is_passed_to_a_kerastuner_tuner_with_tunekit_settings(kind, tmp_path):
    heard = []
    tuner = make_tuner(
        kind,
        _tiny_build,
        objective="val_accuracy",
        directory=str(tmp_path),
        project_name="p",
        max_trials=2,
        seed=0,
        phase="coarse",
        listeners=[lambda t, trial: heard.append((t, trial.trial_id))],
        refused_fit_args={"shuffle": "because"},
    )
    assert isinstance(tuner, kt.Tuner) and type(tuner.oracle) is ORACLES[kind]
    assert tuner.oracle.seed == 1 and tuner.trial_seed == 0
    assert (tuner.phase, tuner.refused_fit_args) == ("coarse", {"shuffle": "because"})
    assert len(tuner.listeners) == 1
    if kind == "random":
        x, y = _tiny_data()
        tuner.search(x, y, validation_data=(x, y), epochs=1, verbose=0)
        assert heard == [(tuner, "0"), (tuner, "1")]  # after each trial, in order


def test_hyperband_refuses_its_budget_and_what_the_caller_adds(tmp_path):
    tuner = make_tuner(
        "hyperband",
        _tiny_build,
        objective="val_accuracy",
        directory=str(tmp_path),
        project_name="hb",
        max_epochs=2,
        factor=2,
        refused_fit_args={"shuffle": "because"},
    )
    assert isinstance(tuner, kt.Hyperband)
    assert set(tuner.refused_fit_args) == {"epochs", "initial_epoch", "shuffle"}
    assert tuner.phase == "hb" and tuner.trial_seed is None


def test_refused_fit_args_passed_to_make_tuner_refuse_before_training(tmp_path):
    class ShufflingFit(kt.HyperModel):
        def build(self, hp):
            return _tiny_build(hp)

        def fit(self, hp, model, *args, **kwargs):
            return model.fit(*args, **{**kwargs, "shuffle": False})

    x, y = _tiny_data()
    tuner = make_tuner(
        "random",
        ShufflingFit(),
        objective="val_accuracy",
        directory=str(tmp_path),
        project_name="r",
        max_trials=1,
        refused_fit_args={"shuffle": "the run shuffles itself"},
    )
    # the space's default configuration: its refusal stops the search, before training
    with pytest.raises(SearchInputError, match="the run shuffles itself"):
        tuner.search(x, y, validation_data=(x, y), epochs=1, shuffle=True, verbose=0)
    (trial,) = tuner.oracle.trials.values()
    assert trial.status == "FAILED" and "the run shuffles itself" in trial.message


# --------------------------------------------------------------------------- results


def test_best_hyperparameters_is_a_kerastuner_hyperparameters_that_builds_the_model(finished_run):
    run, result = finished_run
    hp = result.best_hyperparameters
    assert isinstance(hp, kt.HyperParameters)
    best = json.loads((run.run_dir / "best_hyperparameters.json").read_text())
    assert hp.values == best["values"]  # what the final model was trained with
    assert hp["learning_rate"] == best["values"]["learning_rate"]
    tuned = {name for name in best["values"] if not name.startswith("tuner/")}
    assert tuned <= {one.name for one in hp.space}  # the trial's space came along

    rebuilt = MnistDenseHyperModel().build(hp)
    assert hp.values == best["values"]  # build read them, changed none
    (final,) = run.get_best_models()
    assert rebuilt.count_params() == final.count_params()
    assert [type(layer).__name__ for layer in rebuilt.layers] == [
        type(layer).__name__ for layer in final.layers
    ]
    assert [w.shape for w in rebuilt.weights] == [w.shape for w in final.weights]


def test_get_best_hyperparameters_puts_the_choice_first_then_both_phases_by_score(finished_run):
    run, result = finished_run
    selection = run.select()
    assert isinstance(selection, Selection)
    phase, trial, reason = selection  # still unpacks
    assert (phase, trial.trial_id, reason) == (
        result.best_phase,
        result.best_trial_id,
        result.selection,
    )

    ranked = [(p, t) for p in ("fine", "coarse") for t in completed_trials(run._tuner(p).oracle)]
    assert len(ranked) >= 3
    others = sorted(
        (pt for pt in ranked if (pt[0], pt[1].trial_id) != (phase, trial.trial_id)),
        key=lambda pt: -pt[1].score,
    )  # val_accuracy: higher first
    expected = [trial, *(t for _, t in others)]

    every = run.get_best_hyperparameters(num_trials=len(ranked) + 5)
    assert len(every) == len(ranked)
    assert all(isinstance(hp, kt.HyperParameters) for hp in every)
    assert [hp.values for hp in every] == [
        {k: v for k, v in t.hyperparameters.values.items() if t.hyperparameters.is_active(k)}
        for t in expected
    ]
    scores = [t.score for t in expected[1:]]
    assert scores == sorted(scores, reverse=True) and all(map(math.isfinite, scores))

    (first,) = run.get_best_hyperparameters()
    assert first.values == result.best_hyperparameters.values
    assert [hp.values for hp in run.get_best_hyperparameters(2)] == [hp.values for hp in every[:2]]
    first.values["learning_rate"] = -1.0  # copies: the run's trials are untouched
    assert run.get_best_hyperparameters()[0].values == result.best_hyperparameters.values
    for bad in (0, True, 1.5):
        with pytest.raises(ValueError, match=r"`num_trials` must be an int >= 1.*num_trials="):
            run.get_best_hyperparameters(bad)


def test_get_best_models_returns_the_saved_final_model_and_refuses_more(finished_run, run_data):
    run, _ = finished_run
    (model,) = run.get_best_models(num_models=1)
    saved = keras.models.load_model(run.run_dir / "best_model.keras", safe_mode=True)
    x = run_data.x_test[:16]
    np.testing.assert_allclose(
        model.predict(x, verbose=0), saved.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )
    with pytest.raises(ValueError, match=r"`num_models` must be 1.*get_best_models\(num_models"):
        run.get_best_models(2)


def test_best_of_an_unfinished_run_is_refused_before_training(tmp_path, run_data):
    run = CoarseToFine(
        MnistDenseHyperModel(), run_data, directory=tmp_path, coarse_trials=3, verbose=0
    )
    try:
        with pytest.raises(RunNotFinishedError, match=r"call run\(\) or fine\(\)"):
            run.get_best_hyperparameters()
        with pytest.raises(RunNotFinishedError, match=r"call run\(\) or retrain\(\)"):
            run.get_best_models()
        assert not list(run.run_dir.rglob("trial_*"))  # nothing trained
    finally:
        run.close()
