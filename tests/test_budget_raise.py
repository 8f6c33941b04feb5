"""A rerun that changes a search's trial budget goes on with its trials, as KerasTuner does.

Probe A: a coarse search of 3 trials of which 2 failed by nature (units too large for the
model) stopped with `TooFewTrialsError`, and the rerun with `coarse_trials=8` was refused
as another configuration: starting over was the only way, losing the trials. A KerasTuner
tuner reloaded with a larger `max_trials` goes on. Now tunekit does too, while no step
after that search has finished (`tunekit.budgets.adopt_budgets`).
"""

from __future__ import annotations

import json
import logging

import keras
import pytest

from tunekit import CoarseToFine, Dataset
from tunekit.budgets import adopt_budgets, budget_refusal_note, budgets_note
from tunekit.errors import RunConfigError, TooFewTrialsError
from tunekit.manifest import STEPS


def _state(steps, **config):
    return {"config": dict(config), "steps": {k: {"status": v} for k, v in steps.items()}}


def _trials(run_dir, phase, count):
    for i in range(count):
        (run_dir / phase / f"trial_{i}").mkdir(parents=True)


def test_a_budget_reopens_its_search_while_nothing_after_it_finished(tmp_path):
    _trials(tmp_path, "coarse", 3)
    state = _state({"coarse": "done", "narrow": "running"}, coarse_trials=3)
    raised, folder = adopt_budgets(state, {"coarse_trials": 8}, STEPS, tmp_path)
    assert raised == [("coarse_trials: 3 -> 8", "coarse_trials", 3, 8)] and folder is None
    assert state["config"]["coarse_trials"] == 8
    assert state["steps"] == {"coarse": {"status": "running"}}  # the narrowing runs again
    assert not (tmp_path / "replaced").exists()  # nothing to set aside
    # Lowered again before more trials ran (a raise by mistake): down to the trials run.
    assert adopt_budgets(state, {"coarse_trials": 3}, STEPS, tmp_path)[0][0][2:] == (8, 3)
    # From the default (absent from a configuration) too; the fine budget alike.
    state = _state({"coarse": "done", "narrow": "done", "fine": "running"}, fine_trials=4)
    raised, folder = adopt_budgets(state, {"coarse_trials": 30, "fine_trials": 6}, STEPS, tmp_path)
    assert raised == [("fine_trials: 4 -> 6", "fine_trials", 4, 6)]  # coarse: narrowed
    assert budgets_note(raised, folder) == (
        "`fine_trials` (4 -> 6) changed: the fine search goes on to the new count, keeping "
        "the trials it ran (as KerasTuner does with another max_trials)."
    )
    state = _state({"coarse": "running"})
    assert adopt_budgets(state, {"coarse_trials": 25}, STEPS, tmp_path)[0][0][2:] == (20, 25)


def test_what_the_steps_after_it_began_is_set_aside_not_resumed(tmp_path):
    """Probe D: a fine budget raised while the retrain was interrupted; the retrain of the
    new winner went on from the old winner's backup (its weights and learning rate)."""
    backup = tmp_path / "retrain_backup"
    backup.mkdir()
    (backup / "latest.weights.h5").write_text("the old winner's")
    (tmp_path / "tensorboard" / "final").mkdir(parents=True)
    state = _state(
        {"coarse": "done", "narrow": "done", "fine": "done"},
        fine_trials=2,
    )
    state["steps"]["retrain"] = {"status": "running", "resumed_at": [17]}
    state["plan"] = [{"name": "retrain", "outputs": ["best_model.keras"]}]
    raised, folder = adopt_budgets(state, {"fine_trials": 6}, STEPS, tmp_path)
    assert raised and folder is not None and folder.parent == tmp_path / "replaced"
    assert not backup.exists() and (folder / "retrain_backup" / "latest.weights.h5").is_file()
    assert not (tmp_path / "tensorboard" / "final").exists()
    record = json.loads((folder / "replaced.json").read_text())
    assert record["steps"]["retrain"]["resumed_at"] == [17]
    assert set(record["files"]) == {"retrain_backup", "tensorboard/final"}
    assert list(state["steps"]) == ["coarse", "narrow", "fine"]
    assert f"what the steps after it had begun is kept in {folder}." in budgets_note(raised, folder)


@pytest.mark.parametrize(
    "steps, config, why",
    [
        ({"coarse": "done", "narrow": "done"}, {"coarse_trials": 8}, "may change only until"),
        ({"coarse": "running"}, {"coarse_trials": 3}, "may not go below the trials"),
        ({"coarse": "done", "narrow": "done", "fine": "done", "retrain": "done"}, {}, "until"),
    ],
    ids=["after_the_narrowing", "below_the_trials_run", "fine_search_done"],
)
def test_a_budget_is_not_adopted_where_a_finished_step_came_from_the_old_one(
    tmp_path, steps, config, why
):
    _trials(tmp_path, "coarse", 4)
    state = _state(steps, coarse_trials=5, fine_trials=4)
    before = json.dumps(state, sort_keys=True)
    config = config or {"coarse_trials": 5, "fine_trials": 6}
    assert adopt_budgets(state, {"fine_trials": 4, **config}, STEPS, tmp_path) == ([], None)
    assert json.dumps(state, sort_keys=True) == before
    changed = {k for k in ("coarse_trials", "fine_trials") if config.get(k, 0) not in (5, 4)}
    budgets = {"coarse_trials": (5, config.get("coarse_trials", 5)), "fine_trials": (4, 6)}
    assert why in budget_refusal_note(changed, budgets, state["steps"], STEPS)
    # Beside another change, the budget would have been taken alone: said so.
    both = {"coarse_trials", "top"}
    said = budget_refusal_note(both, {"coarse_trials": (3, 6)}, {}, STEPS)
    assert said == " (`coarse_trials` may change on its own: the search goes on with its trials.)"
    # A fine budget that follows from the fine tuner (None beside Hyperband) is not said.
    changed = {"fine_trials", "fine_tuner"}
    assert budget_refusal_note(changed, {"fine_trials": (None, 10)}, {}, STEPS) == ""


def _build(hp):  # configurations of 32 units or more fail by nature
    units = hp.Int("units", 8, 64, step=8, default=16)
    if units >= 32:
        raise ValueError(f"no room for units={units}")
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(units, "relu")])
    model.add(keras.layers.Dense(3, activation="softmax"))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_a_coarse_search_stopped_for_too_few_trials_goes_on_with_a_larger_budget(tmp_path, caplog):
    from sklearn.datasets import load_digits

    from tunekit.cli_parser import cli_message
    from tunekit.cli_summary import failed_run

    x, y = load_digits(return_X_y=True)
    data = Dataset.from_arrays((x[:240, :8] / 16).astype("float32"), y[:240] % 3, seed=0)
    budget = dict(directory=tmp_path, project_name="p", coarse_epochs=1, max_epochs=2)
    budget |= dict(final_epochs=1, baseline=False, seed=0, verbose=0)
    budget |= dict(max_consecutive_failed_trials=10)
    with pytest.raises(TooFewTrialsError, match="rerun with a larger coarse_trials=") as caught:
        CoarseToFine(_build, data, coarse_trials=3, **budget).run()
    assert caught.value.coarse_trials == 3
    said = failed_run(caught.value, cli_message(caught.value), ["--coarse-trials", "3"], "p")
    assert said.endswith("To go on with more coarse trials, resume with:\n  p --coarse-trials 6")
    first = json.loads((tmp_path / "p" / "coarse" / "oracle.json").read_text())["tried_so_far"]
    assert len(first) == 3
    with caplog.at_level(logging.INFO, logger="tunekit"):
        CoarseToFine(_build, data, coarse_trials=8, **(budget | dict(verbose=1))).run()
    assert "`coarse_trials` (3 -> 8) changed: the coarse search goes on" in caplog.text
    oracle = json.loads((tmp_path / "p" / "coarse" / "oracle.json").read_text())
    assert len(oracle["tried_so_far"]) == 8 and set(first) <= set(oracle["tried_so_far"])
    manifest = json.loads((tmp_path / "p" / "manifest.json").read_text())
    assert manifest["config"]["coarse_trials"] == 8
    assert all(step["status"] == "done" for step in manifest["steps"].values())
    assert (tmp_path / "p" / "best_model.keras").is_file()
    report = json.loads((tmp_path / "p" / "report.json").read_text())
    assert report["best"]["hyperparameters"]["units"] < 32
    # Once the narrowing is made from them, the budget is part of the run's results.
    with pytest.raises(RunConfigError, match=r"coarse_trials: 8 -> 12"):
        CoarseToFine(_build, data, coarse_trials=12, **budget).run()


def test_show_gives_the_command_that_goes_on_with_more_coarse_trials(tmp_path, capsys):
    from tunekit.cli_main import main

    run = tmp_path / "runs" / "p"
    run.mkdir(parents=True)
    said = (
        "TooFewTrialsError: Only 1 of the 3 coarse trials completed with a finite score; "
        "narrowing needs 3. Resuming as it is would reload the same trials. If some "
        "configurations fail by nature, rerun with a larger coarse_trials= (the coarse "
        "search goes on with new trials, keeping these). If they all fail, fix what made "
        "them fail, then start the run over with overwrite=True."
    )
    argv = ["--data", "d.npz", "--coarse-trials=3", "--project-name", "p"]
    manifest = {
        "config": {"coarse_trials": 3},
        "steps": {"coarse": {"status": "done"}, "narrow": {"status": "running", "error": said}},
        "command": {"argv": argv, "cwd": str(tmp_path), "program": "tunekit run"},
    }
    (run / "manifest.json").write_text(json.dumps(manifest))
    main(["show", str(run)])
    out = capsys.readouterr().out
    assert "Status: failed: narrow" in out, out
    assert "rerun with a larger --coarse-trials (the coarse search goes on" in out, out
    more = next(line for line in out.splitlines() if "go on with more: cd " in line)
    assert more.endswith(
        " && tunekit run --data d.npz --coarse-trials 6 --directory runs --project-name p"
    )
    # Every configuration tried: more trials cannot help, and no such command is given.
    manifest["steps"]["narrow"]["error"] = (
        said.split(" If some")[0]
        + " If every configuration fails, fix what made them fail, then start the run over "
        "with overwrite=True."
    )
    (run / "manifest.json").write_text(json.dumps(manifest))
    main(["show", str(run)])
    out = capsys.readouterr().out
    assert "go on with more" not in out and "start the run over: cd " in out, out
