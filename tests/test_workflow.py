"""End-to-end coarse-to-fine on small images (`load_digits` at 28x28), through the Python API."""

from __future__ import annotations

import json
import logging
import math
import os
import shutil

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd
import pytest
from conftest import RUN_BUDGET as BUDGET

from hypermodels import MnistDenseHyperModel
from tunekit import CoarseToFine, NarrowedSpace, timing, trials_dataframe
from tunekit.manifest import RunConfigError, RunLockedError
from tunekit.model_files import load_keras_model


@pytest.fixture
def data(run_data):
    return run_data


@pytest.fixture
def finished(finished_run):
    return finished_run


def _value_allowed(hp, value) -> bool:
    config = hp.get_config()
    if isinstance(hp, kt.engine.hyperparameters.Fixed):
        return value == config["value"]
    if isinstance(hp, kt.engine.hyperparameters.Choice):
        return value in config["values"]
    if isinstance(hp, kt.engine.hyperparameters.Boolean):
        return value in (True, False)
    return config["min_value"] - 1e-9 <= value <= config["max_value"] + 1e-9


def test_artifacts_exist_and_agree(finished):
    run, result = finished
    for name in (
        "coarse",
        "fine",
        "narrowed_space.json",
        "best_hyperparameters.json",
        "best_model.keras",
        "trials.csv",
        "report.json",
        "report.md",
        "manifest.json",
        "timing.csv",
    ):
        assert (run.run_dir / name).exists(), name
        # `Result.artifacts` lists every file the run wrote (it left out the baseline's
        # model and the manifest), and only those (not the hidden lock)
        assert result.artifacts[name] == run.run_dir / name
    assert set(result.artifacts) == {
        p.name for p in run.run_dir.iterdir() if not p.name.startswith(".")
    }
    report = json.loads((run.run_dir / "report.json").read_text())
    assert report["test_metrics"] == result.test_metrics
    assert report["best"]["trial_id"] == result.best_trial_id
    best = json.loads((run.run_dir / "best_hyperparameters.json").read_text())
    assert best["values"] == result.best_hyperparameters.values
    assert best["final_epochs"] == result.final_epochs >= 1
    saved = NarrowedSpace.from_json((run.run_dir / "narrowed_space.json").read_text())
    assert saved.to_dict() == result.narrowed.to_dict()
    assert result.best_phase in ("coarse", "fine")
    assert "trial" in result.selection


def test_two_coarse_trials_that_never_trained_do_not_shape_the_fine_space(finished):
    """Two of this run's four coarse trials (sigmoid, one epoch) sit at chance.

    The narrowing needs 3 top trials: with only 2 that learned, it keeps the
    whole space instead of the choices of the two that did not train.
    """
    run, _ = finished
    scores = sorted(t.score for t in run.coarse().oracle.trials.values())
    assert scores[1] < 0.15 < 0.5 < scores[2]  # chance is 0.12 (the most frequent digit)
    narrowed = run.narrow()
    assert {c.rule for c in narrowed.changes} == {"chance"}
    assert "only 2 of the 4 usable coarse trials beat chance" in narrowed.top_note


def test_retrain_anneals_the_chosen_learning_rate(finished):
    run, result = finished
    report = json.loads((run.run_dir / "report.json").read_text())
    assert report["config"]["final_schedule"] == "cosine"
    rates = run.manifest.step("retrain")["history"]["learning_rate"]
    base, epochs = result.best_hyperparameters["learning_rate"], result.final_epochs
    assert rates == pytest.approx(
        [base * 0.5 * (1 + math.cos(math.pi * (e + 0.5) / epochs)) for e in range(epochs)], rel=1e-5
    )


def test_reloaded_model_reproduces_reported_test_accuracy(finished, data):
    run, result = finished
    model = keras.models.load_model(run.run_dir / "best_model.keras", safe_mode=True)
    metrics = model.evaluate(data.x_test, data.y_test, return_dict=True, verbose=0)
    assert metrics["accuracy"] == pytest.approx(result.test_metrics["accuracy"], abs=1e-6)
    assert result.test_metrics["accuracy"] > 0.5  # far above chance (0.1) even on this slice


def test_trials_table_matches_oracles(finished):
    run, _ = finished
    frame = pd.read_csv(run.run_dir / "trials.csv", dtype={"trial_id": str})
    live = trials_dataframe(run.run_dir)
    assert len(frame) == len(live)
    for phase in ("coarse", "fine"):
        oracle = run._tuner(phase).oracle
        rows = frame[frame.phase == phase]
        assert sorted(rows.trial_id) == sorted(oracle.trials)
        assert rows.trial_id.is_unique
        for trial_id, trial in oracle.trials.items():
            row = rows[rows.trial_id == trial_id].iloc[0]
            assert row.status == trial.status
            if trial.score is not None:
                assert row.score == pytest.approx(trial.score)
    assert len(frame[frame.phase == "coarse"]) == BUDGET["coarse_trials"]
    assert {"epochs", "seconds", "num_params", "hp_units_0", "val_accuracy"} <= set(frame)
    assert (frame.num_params > 0).all() and (frame.seconds > 0).all()
    # The declared samplings, which the plots' axes follow (a linear Int 32..512 was drawn
    # on a log axis because its values spanned a decade)
    space = run._tuner("coarse").oracle.hyperparameters.space
    declared = {hp.name: hp.sampling for hp in space if getattr(hp, "sampling", None)}
    assert live.attrs["sampling"] == declared and declared["learning_rate"] == "log"
    assert declared["units_0"] == "linear"


def test_trials_csv_round_trips_through_a_plain_read_csv(finished):
    run, _ = finished
    path = run.run_dir / "trials.csv"
    frame, live = pd.read_csv(path), trials_dataframe(run.run_dir)
    expected = {
        f"{phase}/{trial_id}"
        for phase in ("coarse", "fine")
        for trial_id in run._tuner(phase).oracle.trials
    }
    assert frame.trial.is_unique and set(frame.trial) == expected  # "fine/0000" != "coarse/0"
    assert list(frame.trial) == list(live.trial)
    assert list(pd.read_csv(path, dtype={"trial_id": str}).trial_id) == list(live.trial_id)
    for column in ("num_params", "epochs", "initial_epoch", "best_step", "hp_units_0"):
        assert pd.api.types.is_integer_dtype(frame[column]), column
        assert list(frame[column]) == list(live[column]), column
    nullable = pd.read_csv(path, dtype={"trial_id": str}, dtype_backend="numpy_nullable")
    for column in [c for c in live if str(live[c].dtype) == "Int64"]:  # e.g. hp_units_1
        assert str(nullable[column].dtype) == "Int64", column  # inactive cells stay <NA>
        assert nullable[column].equals(live[column]), column
    text = path.read_text()
    assert f",{live.num_params.iloc[0]}," in text and f",{live.num_params.iloc[0]}.0," not in text
    pd.testing.assert_series_equal(frame.score, live.score.astype(float), rtol=1e-6)


def test_trials_table_columns_keep_one_order_whatever_order_the_trial_files_list(
    finished, tmp_path
):
    """Trial files list metrics and values in the order each process met them (it differed
    with --workers and --trials-per-process): the table's columns must not follow it."""
    run, _ = finished
    copy = tmp_path / "run"
    shutil.copytree(run.run_dir, copy)
    for path in copy.glob("*/trial_*/trial.json"):
        state = json.loads(path.read_text())
        state["metrics"]["metrics"] = dict(reversed(state["metrics"]["metrics"].items()))
        values = state["hyperparameters"]["values"]
        state["hyperparameters"]["values"] = dict(reversed(values.items()))
        path.write_text(json.dumps(state))
    columns = list(trials_dataframe(copy).columns)
    assert columns == list(trials_dataframe(run.run_dir).columns)
    metrics = [c for c in columns if c in ("accuracy", "loss", "val_accuracy", "val_loss")]
    assert metrics == ["accuracy", "loss", "val_accuracy", "val_loss"]
    declared = [
        e["config"]["name"]
        for e in json.loads((copy / "coarse" / "oracle.json").read_text())["hyperparameters"][
            "space"
        ]
    ]
    assert [c[3:] for c in columns if c.startswith("hp_")] == [
        name for name in declared if f"hp_{name}" in columns
    ]
    assert len(declared) >= 5


def test_trials_csv_writes_ints_as_ints_and_floats_without_noise():
    from tunekit.results import trials_csv

    frame = pd.DataFrame(
        {
            "trial": ["coarse/0", "fine/0000"],
            "phase": ["coarse", "fine"],
            "trial_id": ["0", "0000"],
            "num_params": pd.array([203530, None], dtype="Int64"),
            "hp_dropout": [0.1 + 0.05, None],
            "hp_learning_rate": [0.0031622776601683794, 1e-5],
            "val_accuracy": [float(np.float32(0.975)), float("nan")],
            "hp_relu": [True, None],
        }
    )
    text = trials_csv(frame)
    assert text.splitlines()[1:] == [
        "coarse/0,coarse,0,203530,0.15,0.00316227766016838,0.975,True",
        "fine/0000,fine,0000,,,1e-05,,",
    ]
    back = pd.read_csv(__import__("io").StringIO(text), dtype={"trial_id": str})
    assert list(back.trial) == ["coarse/0", "fine/0000"]
    assert list(back.trial_id) == ["0", "0000"]
    assert back.hp_dropout[0] == 0.15 and back.val_accuracy[0] == 0.975


def test_report_md_lists_every_chosen_hyperparameter(finished):
    from tunekit.results import format_value

    run, result = finished
    text = (run.run_dir / "report.md").read_text()
    assert "## Chosen hyperparameters" in text
    chosen = {
        k: v for k, v in result.best_hyperparameters.values.items() if not k.startswith("tuner/")
    }
    assert chosen
    for name, value in chosen.items():
        line = f"| {name} | {format_value(value)} |"
        assert line in text, line
        if isinstance(value, float):
            assert float(format_value(value)) == pytest.approx(value, rel=1e-14)
    report = json.loads((run.run_dir / "report.json").read_text())
    assert report["best"]["hyperparameters"] == chosen


def test_fine_trials_lie_inside_narrowed_space_inside_original(finished):
    run, result = finished
    coarse_space = {hp.name: hp for hp in run._tuner("coarse").oracle.hyperparameters.space}
    narrowed = {hp.name: hp for hp in result.narrowed.hyperparameters.space}
    assert set(narrowed) == set(coarse_space)
    fine = run._tuner("fine").oracle
    assert fine.trials
    for trial in fine.trials.values():
        for name, value in trial.hyperparameters.values.items():
            if name.startswith("tuner/") or not trial.hyperparameters.is_active(name):
                continue
            assert _value_allowed(narrowed[name], value), (name, value)
            assert _value_allowed(coarse_space[name], value), (name, value)


def test_rerun_of_finished_run_does_no_work(finished, data, caplog):
    run, result = finished
    again = CoarseToFine(
        MnistDenseHyperModel(),
        data,
        directory=run.run_dir.parent,
        project_name="e2e",
        **{**BUDGET, "verbose": 1},
    )
    mtimes = {p: p.stat().st_mtime_ns for p in run.run_dir.rglob("trial.json")}
    with caplog.at_level(logging.INFO, logger="tunekit"):
        assert again.run().test_metrics == result.test_metrics
    assert {p: p.stat().st_mtime_ns for p in run.run_dir.rglob("trial.json")} == mtimes
    # Said as such: the summary alone looked like a run that had just been made.
    assert f"The run in {run.run_dir} is already finished: reporting it again" in caplog.text


@pytest.mark.long
def test_resume_after_coarse_does_not_repeat_it(tmp_path, data, monkeypatch):
    first = CoarseToFine(
        MnistDenseHyperModel(),
        data,
        directory=tmp_path,
        project_name="r",
        **{**BUDGET, "max_epochs": 1, "final_epochs": 1},
    )
    first.coarse()
    first.close()
    coarse_files = sorted((tmp_path / "r" / "coarse").glob("trial_*/trial.json"))
    mtimes = [p.stat().st_mtime_ns for p in coarse_files]
    assert len(coarse_files) == BUDGET["coarse_trials"]

    second = CoarseToFine(
        MnistDenseHyperModel(),
        data,
        directory=tmp_path,
        project_name="r",
        **{**BUDGET, "max_epochs": 1, "final_epochs": 1},
    )
    result = second.run()
    assert [p.stat().st_mtime_ns for p in coarse_files] == mtimes
    assert len(second._tuner("coarse").oracle.trials) == BUDGET["coarse_trials"]
    assert math.isfinite(result.test_metrics["accuracy"])


class _StopsAtTrial(MnistDenseHyperModel):
    """Raises KeyboardInterrupt (as Ctrl-C does) in the fit of trial `stop_at` (0-based)."""

    stop_at: int | None = None
    fits = 0

    def fit(self, hp, model, *args, **kwargs):
        type(self).fits += 1
        if self.stop_at is not None and type(self).fits > self.stop_at:
            raise KeyboardInterrupt
        return super().fit(hp, model, *args, **kwargs)


def test_a_search_stopped_and_resumed_counts_the_time_of_both_sessions(tmp_path, data):
    import time

    def trial_seconds(run_dir):
        return [
            json.loads(p.read_text())["metrics"]["metrics"]["seconds"]["observations"][-1]["value"][
                0
            ]
            for p in (run_dir / "coarse").glob("trial_*/trial.json")
            if json.loads(p.read_text())["status"] == "COMPLETED"
        ]

    # Before, a phase's seconds were recorded only when it ended: the time of a session
    # stopped mid-phase was lost from the run's step times.
    _StopsAtTrial.stop_at, _StopsAtTrial.fits = 2, 0
    first = CoarseToFine(_StopsAtTrial(), data, directory=tmp_path, project_name="s", **BUDGET)
    with pytest.raises(KeyboardInterrupt):
        first.coarse()
    first.close()
    run_dir = tmp_path / "s"
    step = json.loads((run_dir / "manifest.json").read_text())["steps"]["coarse"]
    done = trial_seconds(run_dir)
    assert step["status"] == "running" and len(done) == 2
    assert step["seconds"] >= sum(done) > 0

    _StopsAtTrial.stop_at = None
    second = CoarseToFine(_StopsAtTrial(), data, directory=tmp_path, project_name="s", **BUDGET)
    start = time.perf_counter()
    second.coarse()
    took = time.perf_counter() - start
    second.close()
    final = json.loads((run_dir / "manifest.json").read_text())["steps"]["coarse"]
    assert final["status"] == "done" and len(trial_seconds(run_dir)) == BUDGET["coarse_trials"]
    assert step["seconds"] < final["seconds"] <= step["seconds"] + took


def test_the_fine_search_draws_other_numbers_than_the_coarse_one(finished):
    from tunekit.steps.search import phase_seed
    from tunekit.tuners.oracles import kerastuner_seed

    # Before, both phases' oracles had the run's seed: the fine search's configurations were
    # the coarse ones moved into the narrowed ranges (a new user found fine trial 0 at the
    # same log position of its learning-rate range as coarse trial 1).
    run, _ = finished
    coarse, fine = run._tuner("coarse").oracle, run._tuner("fine").oracle
    assert coarse.seed == kerastuner_seed(run.seed) == kerastuner_seed(0)
    assert fine.seed == kerastuner_seed(phase_seed(0, "fine")) != coarse.seed
    assert phase_seed(0, "fine") == phase_seed(0, "fine")  # the same on every rerun
    assert len({phase_seed(s, p) for s in range(50) for p in ("coarse", "fine")}) == 100
    assert phase_seed(None, "fine") is None

    wide = kt.HyperParameters()
    wide.Float("learning_rate", 1e-4, 1e-2, sampling="log")
    narrow = kt.HyperParameters()
    narrow.Float("learning_rate", 2e-4, 1e-2, sampling="log")

    def first_draw_position(hp, seed):
        oracle = kt.oracles.RandomSearchOracle(
            objective="val_loss", max_trials=1, seed=seed, hyperparameters=hp
        )
        value = oracle.populate_space("0")["values"]["learning_rate"]
        return hp.space[0].value_to_prob(value)

    # (Seed 7: KerasTuner's own oracle takes seed 0 as "no seed"; tunekit's does not.)
    same = first_draw_position(wide, 7), first_draw_position(narrow, 7)
    assert same[0] == pytest.approx(same[1])  # the flaw: one seed, the same place
    moved = first_draw_position(narrow, phase_seed(7, "fine"))
    assert moved != pytest.approx(same[0], abs=1e-3)


def test_the_coarse_searches_of_nearby_seeds_are_not_copies_one_trial_apart():
    """Found by a helper: KerasTuner counts its seed up by one per value drawn, so in a
    space of 2 hyperparameters the coarse search of seed 2 drew seed 0's configurations one
    trial later (seed 4, two later): runs "over 3 seeds" could compare near copies. Seed 0
    keeps its search."""
    from tunekit.steps.search import phase_seed
    from tunekit.tuners.oracles import kerastuner_seed

    space = kt.HyperParameters()
    space.Int("units", 16, 512, step=16)
    space.Float("learning_rate", 1e-4, 1e-2, sampling="log")

    def draws(seed):
        oracle = kt.oracles.RandomSearchOracle(
            objective="val_loss", max_trials=8, seed=seed, hyperparameters=space
        )
        found = [oracle.populate_space(str(i))["values"] for i in range(8)]
        return {(v["units"], round(v["learning_rate"], 12)) for v in found}

    seeds = (0, 1, 2, 4)
    old = {s: draws(s + 1) for s in seeds}  # the seeds the coarse oracle had before
    assert len(old[0] & old[2]) == 7 and len(old[0] & old[4]) == 6  # the flaw
    new = {s: draws(kerastuner_seed(phase_seed(s, "coarse"))) for s in seeds}
    assert new[0] == old[0]  # seed 0's default run is unchanged
    assert all(not (new[a] & new[b]) for a in seeds for b in seeds if a < b)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"coarse_trials": 5}, r"coarse_trials: 4 -> 5"),
        # Before: "max_model_size: 50000 -> None", a setting recorded only off its default
        # (max_consecutive_failed_trials was this case: a rerun may now change it).
        ({"max_model_size": 50_000}, r"\(max_model_size: None -> 50000\)"),
    ],
)
def test_refuses_other_configuration_naming_the_key(finished, data, change, named):
    run, _ = finished
    other = CoarseToFine(
        MnistDenseHyperModel(),
        data,
        directory=run.run_dir.parent,
        project_name="e2e",
        **{**BUDGET, **change},
    )
    with pytest.raises(RunConfigError, match=named) as info:
        other.coarse()
    assert "-> None" not in str(info.value)


def test_second_process_on_same_run_is_refused_until_the_first_dies(tmp_path, data):
    import subprocess
    import sys
    import textwrap

    first = CoarseToFine(
        MnistDenseHyperModel(), data, directory=tmp_path, project_name="l", **BUDGET
    )
    first.open()  # opens and locks
    first.close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
        import fcntl, os, sys, time
        fd = os.open({str(tmp_path / "l" / ".lock")!r}, os.O_RDWR)
        fcntl.flock(fd, fcntl.LOCK_EX)
        print("locked", flush=True)
        time.sleep(60)
    """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        second = CoarseToFine(
            MnistDenseHyperModel(), data, directory=tmp_path, project_name="l", **BUDGET
        )
        with pytest.raises(
            RunLockedError,
            match=r"Another process \(its pid is not in \.lock: it did not write its record\) is "
            "working on the run in ",
        ):
            second.open()
    finally:
        holder.kill()
        holder.wait()
    second.open()  # the lock died with its holder
    second.close()


def test_same_process_reopening_a_run_takes_it_over(tmp_path, data):
    first = CoarseToFine(
        MnistDenseHyperModel(), data, directory=tmp_path, project_name="n", **BUDGET
    )
    first.open()
    second = CoarseToFine(
        MnistDenseHyperModel(), data, directory=tmp_path, project_name="n", **BUDGET
    )
    second.open()  # a rerun notebook cell: no stale-lock error
    second.close()


def test_result_before_the_run_finished_says_so(tmp_path, data):
    run = CoarseToFine(MnistDenseHyperModel(), data, directory=tmp_path, project_name="u", **BUDGET)
    with pytest.raises(RuntimeError, match=r"has not finished: call run\(\) or evaluate\(\)"):
        run.result()
    run.close()


@pytest.mark.long
def test_user_build_function_and_seeded_reproducibility(tmp_path, data):
    def build(hp):
        model = keras.Sequential(
            [
                keras.Input((28, 28)),
                keras.layers.Flatten(),
                keras.layers.Dense(hp.Int("units", 16, 64, step=16), activation="relu"),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )
        model.compile(
            optimizer=keras.optimizers.Adam(hp.Float("lr", 1e-3, 1e-2, sampling="log")),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    budget = {**BUDGET, "coarse_trials": 3, "max_epochs": 1, "final_epochs": 1}
    results = [
        CoarseToFine(build, data, directory=tmp_path / str(i), **budget).run() for i in range(2)
    ]
    assert results[0].best_hyperparameters.values == results[1].best_hyperparameters.values
    np.testing.assert_allclose(
        results[0].test_metrics["accuracy"], results[1].test_metrics["accuracy"]
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"fine_tuner": "grid"}, r"`fine_tuner` must be one of \['hyperband', 'bayesian'\]"),
        # A budget the fine tuner does not use was dropped silently (the CLI refused it).
        ({"fine_trials": 3}, r"fine_trials= only applies to fine_tuner='bayesian'"),
        (
            {"fine_tuner": "bayesian", "factor": 2},
            r"factor= only applies to fine_tuner='hyperband'",
        ),
        (
            {"coarse_trials": 0},
            r"`coarse_trials` must be an int >= 3: the narrowing needs 3 "
            r"completed coarse trials. Received: coarse_trials=0",
        ),
        ({"coarse_trials": 2}, r"`coarse_trials` must be an int >= 3"),
        ({"coarse_epochs": -1}, r"`coarse_epochs` must be an int >= 1"),
        ({"max_epochs": 2.5}, r"`max_epochs` must be an int >= 1"),
        (
            {"top": 0},
            r"`top` must be an int >= 1 \(a count\) or a float in \(0, 1\] \(a fraction\)",
        ),
        ({"top": 1.5}, r"`top` must be an int >= 1 \(a count\) or a float"),
        ({"margin": -0.1}, r"`margin` must be a finite number >= 0"),
        ({"final_epochs": "best"}, r"`final_epochs` must be 'auto' or an int >= 1"),
        ({"final_schedule": "linear"}, r"`final_schedule` must be one of \['cosine', 'constant'\]"),
        ({"seed": -1}, r"`seed` must be an int in \[0, "),
        ({"factor": 1}, r"`factor` must be an int >= 2"),
        # Probe G: scikit-learn's cv=None; the message now says how to turn folds off.
        ({"cv": None}, r"`cv` must be an int >= 1.*cv=1, the default, runs no cross-valid"),
    ],
)
def test_bad_arguments_fail_before_any_work(tmp_path, data, kwargs, message):
    with pytest.raises(ValueError, match=message):
        CoarseToFine(MnistDenseHyperModel(), data, directory=tmp_path, **kwargs)
    assert not any(tmp_path.iterdir())


def test_bad_types_are_refused(tmp_path, data):
    with pytest.raises(TypeError, match="`data` must be a tunekit.data.Dataset"):
        CoarseToFine(MnistDenseHyperModel(), (data.x_train, data.y_train), directory=tmp_path)
    with pytest.raises(TypeError, match="`hypermodel` must be"):
        CoarseToFine("mnist-dense", data, directory=tmp_path)


def test_run_plots_render_from_the_real_run(finished):
    from tunekit import plots

    run, _ = finished
    report = json.loads((run.run_dir / "report.json").read_text())
    expected = {
        "parallel_coordinates",
        "score_vs_hyperparameters",
        "best_so_far",
        "narrowing",
        "score_vs_params",
        "confusion_matrix",
        "training_curves",
    }
    assert set(report["plots"]) == expected
    for path in report["plots"].values():  # relative to the run folder: it can be moved
        assert not os.path.isabs(path)
        assert open(run.run_dir / path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    frame = trials_dataframe(run.run_dir)
    assert frame.attrs["objective"] == "val_accuracy" and frame.attrs["direction"] == "max"
    assert frame.attrs["sampling"]["learning_rate"] == "log"
    assert plots.score_vs_params(frame).axes[0].get_ylabel() == "val_accuracy (max)"
    completed = frame[frame.status == "COMPLETED"]
    figure = plots.parallel_coordinates(frame)
    gids = {line.get_gid() for ax in figure.axes for line in ax.get_lines() if line.get_gid()}
    assert gids == {f"{p}/{t}" for p, t in zip(completed.phase, completed.trial_id)}


@pytest.mark.parametrize("run_fixture, mask", [("finished_run", 0o022), ("fit_hp_run", 0o027)])
def test_every_file_of_a_run_honours_the_umask(request, run_fixture, mask):
    run, _ = request.getfixturevalue(run_fixture)  # made under umask `mask` (conftest)
    modes = {
        str(path.relative_to(run.run_dir)): oct(path.stat().st_mode & 0o777)
        for path in run.run_dir.rglob("*")
        if path.is_file()
    }
    assert {
        "report.md",
        "trials.csv",
        "manifest.json",
        "best_model.keras",
        "plots/training_curves.png",
        "coarse/oracle.json",
        "coarse/trial_0/trial.json",
        "coarse/tuner0.json",
    } <= set(modes)
    assert {name: mode for name, mode in modes.items() if mode != oct(0o666 & ~mask)} == {}


def test_the_run_is_a_loop_of_steps_the_manifest_records(finished):
    """Each step has a name, its inputs and its outputs; the manifest keeps the plan."""
    run, result = finished
    manifest = json.loads((run.run_dir / "manifest.json").read_text())
    assert (
        [s["name"] for s in manifest["plan"]]
        == [s.name for s in run.steps]
        == ["coarse", "narrow", "fine", "retrain", "evaluate"]  # finalists, baseline: off here
    )
    plan = {s["name"]: s for s in manifest["plan"]}
    assert plan["narrow"] == {
        "name": "narrow",
        "requires": ["coarse"],
        "outputs": ["narrowed_space.json"],
    }
    assert plan["retrain"]["outputs"] == ["best_model.keras", "best_hyperparameters.json"]
    assert plan["evaluate"]["requires"] == ["retrain"]
    assert all(manifest["steps"][s]["status"] == "done" for s in plan)
    for step in manifest["plan"]:  # every output a step declares is there
        assert all((run.run_dir / name).exists() for name in step["outputs"])
    # One process ran the trials: the workflow's runner is the local one, and says so.
    assert run.runner.facts() is None
    assert json.loads((run.run_dir / "report.json").read_text())["distributed"] is None


def test_a_finished_run_retrained_for_another_length_keeps_its_trials(
    tmp_path, finished, data, caplog
):
    """End to end: the searches are not rerun; the new retrain and report replace the old."""
    run, result = finished
    run_dir = tmp_path / "e2e"
    shutil.copytree(run.run_dir, run_dir, ignore=shutil.ignore_patterns(".lock"))
    trials = {p: p.read_bytes() for p in run_dir.glob("*/trial_*/trial.json")}
    assert trials
    old = json.loads((run_dir / "manifest.json").read_text())
    old_model = (run_dir / "best_model.keras").read_bytes()
    assert old["steps"]["retrain"]["final_epochs"] != 1

    other = CoarseToFine(
        MnistDenseHyperModel(),
        data,
        directory=tmp_path,
        project_name="e2e",
        **{**BUDGET, "final_epochs": 1, "verbose": 1},
    )
    with caplog.at_level(logging.INFO, logger="tunekit"):
        new = other.run()
    # Said from Python too, naming the steps that run now (BUDGET: no finalists, no baseline).
    assert "(final_epochs: 'auto' -> 1): the searches and their trials are kept; " in caplog.text
    assert (
        "; the retraining on train+validation and the test evaluation run now. What the "
        "earlier steps wrote is kept in " in caplog.text
    )

    assert {p: p.read_bytes() for p in run_dir.glob("*/trial_*/trial.json")} == trials
    state = json.loads((run_dir / "manifest.json").read_text())
    for step in ("coarse", "narrow", "fine"):
        assert state["steps"][step] == old["steps"][step]
    assert state["config"]["final_epochs"] == 1
    assert state["steps"]["retrain"]["final_epochs"] == 1
    assert len(state["steps"]["retrain"]["history"]["loss"]) == 1
    (replaced,) = (run_dir / "replaced").iterdir()
    assert (replaced / "best_model.keras").read_bytes() == old_model
    report = json.loads((run_dir / "report.json").read_text())
    assert report["test_metrics"]["accuracy"] == pytest.approx(new.test_metrics["accuracy"])
    model = load_keras_model(run_dir / "best_model.keras")
    assert model.evaluate(data.x_test, data.y_test, verbose=0, return_dict=True)["accuracy"] == (
        pytest.approx(new.test_metrics["accuracy"], abs=1e-6)
    )
    rows = timing.read_rows(run_dir / "timing.csv")
    assert [r["step"] for r in rows].count("retrain") == 1
    assert result.test_metrics  # the shared run itself is untouched
