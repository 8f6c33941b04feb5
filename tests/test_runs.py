"""Many runs: `tunekit ls` / `show` / `compare` and `tunekit.ls_runs` / `compare_runs`.

The run folders are real: the session's finished run (`finished_run`), and
one run with another seed and coarse budget stopped after its coarse phase
(the state a kill after the coarse search leaves: coarse done, lock free),
both copied under one `runs/` folder with a corrupt run (a truncated
`manifest.json`) and a folder that is not a run.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from conftest import RUN_BUDGET

from tunekit import compare_runs, ls_runs
from tunekit.cli_main import main
from tunekit.errors import UsageError
from tunekit.runs import COLUMNS

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("best", "sub/coarse-only", "broken")
STOPPED_TRIALS = 3  # the stopped run's coarse_trials (the finished run has RUN_BUDGET's 4)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, finished_run, run_data):
    """`runs/`: best (finished), sub/coarse-only (seed 1, 3 coarse trials), broken, notes."""
    from hypermodels import MnistDenseHyperModel
    from tunekit import CoarseToFine

    root = tmp_path_factory.mktemp("many") / "runs"
    shutil.copytree(finished_run[0].run_dir, root / "best")
    stopped = CoarseToFine(
        MnistDenseHyperModel(),
        run_data,
        directory=root / "sub",
        project_name="coarse-only",
        **{**RUN_BUDGET, "seed": 1, "coarse_trials": STOPPED_TRIALS},
    )
    stopped.coarse()
    stopped.close()
    shutil.copytree(root / "best", root / "broken", ignore=shutil.ignore_patterns("tensorboard"))
    manifest = (root / "broken" / "manifest.json").read_text()
    (root / "broken" / "manifest.json").write_text(manifest[: len(manifest) // 2])
    (root / "notes" / "drafts").mkdir(parents=True)
    (root / "notes" / "todo.txt").write_text("not a run\n")
    return root


def _cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def _manifest(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text())


def test_ls_lists_a_finished_an_interrupted_and_a_corrupt_run_and_skips_the_rest(
    runs, finished_run
):
    code, out, err = _cli("ls", str(runs))
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 4, out  # header + 3 runs; notes/ is not a run
    assert "notes" not in out and "Traceback" not in out + err

    frame = ls_runs(runs)
    assert list(frame.columns) == list(COLUMNS)
    assert tuple(frame["name"]) == NAMES  # best first; no test metric, then corrupt last
    best, stopped, broken = (frame.iloc[i] for i in range(3))

    result = finished_run[1]
    steps = _manifest(runs / "best")["steps"]
    assert best["status"] == "finished"
    assert best["hypermodel"] == "dense.MnistDenseHyperModel"
    assert best["backend"] == json.loads((runs / "best" / "report.json").read_text())["backend"]
    assert best["backend"] in ("tensorflow", "jax")
    import keras

    # A run not finished: the backend it was started on, from its manifest.
    assert (
        stopped["backend"]
        == keras.backend.backend()
        == _manifest(runs / "sub/coarse-only")["backend"]
    )
    assert (best["objective"], best["direction"]) == ("val_accuracy", "max")
    assert best["test_metric"] == "accuracy"
    assert best["test_value"] == pytest.approx(result.test_metrics["accuracy"])
    assert best["best_val"] == pytest.approx(max(p["score"] for p in result.phase_bests.values()))
    assert best["trials"] == steps["coarse"]["num_trials"] + steps["fine"]["num_trials"]
    report = json.loads((runs / "best" / "report.json").read_text())
    assert best["params"] == report["best"]["num_params"]
    assert pd.isna(best["baseline_delta"])  # RUN_BUDGET trains no baseline
    seconds = sum(s.get("seconds", 0) for s in steps.values())
    assert best["wall_time_s"] == pytest.approx(seconds, abs=0.06)
    created = _manifest(runs / "best")["created"]
    assert datetime.fromisoformat(best["started"]).timestamp() == pytest.approx(created, abs=1)

    coarse = _manifest(runs / "sub" / "coarse-only")["steps"]["coarse"]
    assert stopped["status"] == "interrupted: after coarse"
    assert stopped["trials"] == STOPPED_TRIALS
    assert stopped["best_val"] == pytest.approx(coarse["best_score"])
    assert pd.isna(stopped["test_value"]) and pd.isna(stopped["test_metric"])

    assert broken["status"].startswith("corrupt: manifest.json (not valid JSON: ")
    # Its trials still read (only the manifest is damaged): counted, not 0 (`trials >= 1`
    # dropped such a run).
    assert broken["trials"] == best["trials"] and pd.isna(broken["best_val"])


@pytest.mark.parametrize(
    "damage, status",
    [
        # Before, a run whose manifest was deleted was left out of the list altogether.
        ("manifest.json", "corrupt: manifest.json (missing, though the run's other files"),
        # Before, listed as "finished" while a rerun stops on the file (exit 2).
        ("coarse/oracle.json", "corrupt: coarse/oracle.json (not valid JSON: "),
        ("fine/tuner0.json", "corrupt: fine/tuner0.json (not valid JSON: "),
        ("narrowed_space.json", "corrupt: narrowed_space.json (not valid JSON: "),
        ("best_hyperparameters.json", "corrupt: best_hyperparameters.json (not valid JSON: "),
        # Before, "finished", and the rerun crashed on KerasTuner's bare NotFoundError.
        ("-coarse/oracle.json", "corrupt: coarse/oracle.json (missing, though the search has"),
    ],
)
def test_a_damaged_state_file_a_rerun_would_stop_on_is_listed_as_corrupt(
    tmp_path, runs, damage, status
):
    run = tmp_path / "damaged"
    shutil.copytree(runs / "best", run, ignore=shutil.ignore_patterns("tensorboard"))
    if damage == "manifest.json" or damage.startswith("-"):
        (run / damage.lstrip("-")).unlink()
    else:
        assert (run / damage).is_file()
        (run / damage).write_text("{bad")
    row = ls_runs(tmp_path).set_index("name").loc["damaged"]
    assert row["status"].startswith(status), row["status"]
    code, out, _ = _cli("show", str(run))
    assert code == 0 and out.startswith("Status: " + status)


def test_a_run_in_progress_shows_the_step_it_is_in(runs):
    lock = runs / "sub" / "coarse-only" / ".lock"
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a live tunekit process holds it
        frame = ls_runs(runs, filter='name == "sub/coarse-only"')
        assert list(frame["status"]) == ["running: narrow"]
    finally:
        os.close(fd)
    assert ls_runs(runs, filter='status.str.startswith("interrupted")')["name"].tolist() == [
        "sub/coarse-only"
    ]


def test_ls_order_filter_and_their_errors(runs):
    code, out, _ = _cli("ls", str(runs), "--order", "trials", "--format", "csv")
    assert code == 0
    frame = pd.read_csv(io.StringIO(out))
    assert frame["name"].tolist()[0] == "sub/coarse-only"  # 3 trials; best and broken: 4+
    assert frame["trials"].is_monotonic_increasing
    code, out, _ = _cli("ls", str(runs), "--order=-name", "--format", "csv")
    assert pd.read_csv(io.StringIO(out))["name"].tolist() == ["sub/coarse-only", "broken", "best"]

    code, out, _ = _cli("ls", str(runs), "--filter", 'status == "finished"', "--format", "csv")
    assert code == 0 and pd.read_csv(io.StringIO(out))["name"].tolist() == ["best"]

    code, out, err = _cli("ls", str(runs), "--order", "accuracy")
    assert code == 2 and out == ""
    assert "'accuracy' is not a column" in err and "best_val" in err and "test_value" in err
    # The command line's names, not the Python API's (order='accuracy', directory='...').
    assert err.startswith("error: --order 'accuracy' is not a column")
    code, out, err = _cli("ls", str(runs), "--filter", "trials >")
    assert code == 2 and err.startswith("error: --filter 'trials >' is not a valid pandas query")
    code, out, err = _cli("ls", str(runs), "--filter", "nonexistent > 3")
    assert code == 2 and "nonexistent" in err
    code, _, err = _cli("ls", str(runs / "missing"))
    assert code == 2 and err.startswith(f"error: DIRECTORY {str(runs / 'missing')!r} is not a")
    assert "does not exist" in err
    code, _, err = _cli("compare", str(runs / "best"))
    assert code == 2 and err.startswith("error: compare needs two or more runs; got 1.")
    code, _, err = _cli("compare", str(runs / "best"), str(runs / "missing"))
    assert code == 2 and "tunekit ls DIRECTORY" in err and "ls_runs" not in err


def test_a_filter_on_params_leaves_out_the_runs_without_a_winner(runs):
    """`params` is the one integer column with missing values (pandas' Int64): a filter on
    it raised "cannot convert float NaN to bool" with a traceback (exit 1) whenever an
    unfinished or corrupt run was in the folder."""
    assert ls_runs(runs, filter="params > 0")["name"].tolist() == ["best"]
    # a missing value behaves as in the float columns (NaN): as pandas compares NaN
    missing = ls_runs(runs, filter="not (params > 0)")["name"].tolist()
    assert set(missing) == {"sub/coarse-only", "broken"}
    assert set(ls_runs(runs, filter="params != params")["name"]) == {"sub/coarse-only", "broken"}
    assert ls_runs(runs)["params"].dtype == "Int64"  # the table itself keeps whole numbers
    code, out, err = _cli("ls", str(runs), "--filter", "params > 1000", "--format", "csv")
    assert code == 0 and "Traceback" not in err, err
    assert pd.read_csv(io.StringIO(out))["name"].tolist() == ["best"]


def test_a_corrupt_run_counts_its_readable_completed_trials(tmp_path, runs):
    run = tmp_path / "bad-report"
    shutil.copytree(runs / "best", run, ignore=shutil.ignore_patterns("tensorboard"))
    (run / "report.json").write_text("{bad")
    row = ls_runs(tmp_path).set_index("name").loc["bad-report"]
    assert row["status"].startswith("corrupt: report.json (not valid JSON")
    assert row["trials"] == ls_runs(runs).set_index("name").loc["best", "trials"] > 0


def test_compare_keeps_the_winner_trial_apart_from_a_hyperparameter_named_trial(tmp_path, runs):
    """A hyperparameter named `trial` (KerasTuner takes any name) overwrote the row
    `winner.trial`: the run's chosen trial showed as the value 32, exit 0."""
    run = tmp_path / "named"
    shutil.copytree(runs / "best", run, ignore=shutil.ignore_patterns("tensorboard"))
    report = json.loads((run / "report.json").read_text())
    best = report["best"]
    best["hyperparameters"] = {"trial": 32, **best["hyperparameters"]}
    (run / "report.json").write_text(json.dumps(report))
    frame = compare_runs(run, runs / "best")
    assert frame.loc["winner.trial"].tolist() == [f"{best['phase']}/{best['trial_id']}"] * 2
    assert frame.loc["winner.hp.trial"].iloc[0] == 32
    assert pd.isna(frame.loc["winner.hp.trial"].iloc[1])
    for name, value in best["hyperparameters"].items():
        if name != "trial":
            assert frame.loc[f"winner.hp.{name}"].iloc[0] == value


def test_compare_keeps_each_kind_of_result_together_whichever_run_has_a_row(tmp_path, runs):
    """A test metric only the second run had (`test.balanced_accuracy`) came after the
    first run's differing `winner.hp.*` rows, not among the test rows as the README
    orders them (`result.*`, `test.<metric>`, `winner.trial`, `winner.hp.*`)."""
    run = tmp_path / "more"
    shutil.copytree(runs / "best", run, ignore=shutil.ignore_patterns("tensorboard"))
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["steps"]["evaluate"]["test_metrics"]["balanced_accuracy"] = 0.5
    (run / "manifest.json").write_text(json.dumps(manifest))
    report = json.loads((run / "report.json").read_text())
    name = next(iter(report["best"]["hyperparameters"]))
    report["best"]["hyperparameters"][name] = "another"
    (run / "report.json").write_text(json.dumps(report))
    rows = list(compare_runs(runs / "best", run).index)
    order = {"result": 0, "test": 1, "winner": 2}
    results = [r for r in rows if r.split(".")[0] in order]
    differing = results[: results.index(f"winner.hp.{name}") + 1]
    assert differing == ["test.balanced_accuracy", f"winner.hp.{name}"]
    agreeing = [order[r.split(".")[0]] for r in results[len(differing) :]]
    assert agreeing == sorted(agreeing)


def test_ls_best_val_order_is_best_first_in_each_runs_direction(runs):
    frame = ls_runs(runs, order="best_val")
    scores = frame["best_val"].dropna().tolist()
    assert scores == sorted(scores, reverse=True)  # val_accuracy: higher is better
    assert pd.isna(frame["best_val"].iloc[-1])  # the corrupt run's, last


def test_ls_json_round_trips_through_pandas_read_json(runs):
    code, out, _ = _cli("ls", str(runs), "--format", "json")
    assert code == 0
    expected = ls_runs(runs)
    exact = pd.read_json(io.StringIO(out), precise_float=True)
    pd.testing.assert_frame_equal(exact, expected, check_dtype=False, check_exact=True)
    pd.testing.assert_frame_equal(pd.read_json(io.StringIO(out)), expected, check_dtype=False)


def test_compare_puts_the_two_differing_settings_first(runs):
    best, stopped = runs / "best", runs / "sub" / "coarse-only"
    frame = compare_runs(best, stopped)
    assert list(frame.columns) == [str(best), str(stopped)]
    assert set(frame.index[:2]) == {"seed", "coarse_trials"}
    assert frame.loc["seed"].tolist() == [0, 1]
    assert frame.loc["coarse_trials"].tolist() == [RUN_BUDGET["coarse_trials"], STOPPED_TRIALS]
    settings = [row for row in frame.index if not row.startswith(("result.", "test.", "winner."))]
    assert settings[:2] == list(frame.index[:2])  # every other setting agrees
    for row in settings[2:]:
        assert frame.loc[row].iloc[0] == frame.loc[row].iloc[1] or frame.loc[row].isna().all()
    assert frame.loc["result.status"].tolist() == ["finished", "interrupted: after coarse"]

    code, out, err = _cli("compare", str(best), str(stopped), "--format", "csv")
    assert code == 0, err
    assert pd.read_csv(io.StringIO(out))["setting"].tolist()[:2] == list(frame.index[:2])
    code, out, err = _cli("compare", str(best))
    assert code == 2 and "two or more runs" in err
    code, out, err = _cli("compare", str(best), str(runs / "notes"))
    assert code == 2 and "not a tunekit run folder" in err


def test_compare_shows_a_setting_left_at_its_default_by_its_value(tmp_path, runs):
    # A run's config records `baseline` (and other later settings) only off its default;
    # before, compare showed "-" for the run that trained its baseline (the default True).
    shutil.copytree(runs / "best", tmp_path / "defaults", ignore=shutil.ignore_patterns(".lock"))
    manifest = _manifest(tmp_path / "defaults")
    assert manifest["config"].pop("baseline") is False  # RUN_BUDGET turns it off
    (tmp_path / "defaults" / "manifest.json").write_text(json.dumps(manifest))
    frame = compare_runs(runs / "best", tmp_path / "defaults")
    assert frame.loc["baseline"].tolist() == [False, True]
    assert frame.loc["cv"].tolist() == [1, 1] and frame.loc["final_seeds"].notna().all()


def test_show_prints_the_report_or_the_steps_done(runs):
    code, out, _ = _cli("show", str(runs / "best"))
    assert code == 0
    title, written = (runs / "best" / "report.md").read_text().split("\n", 1)
    assert title.startswith("# tunekit run: ") and title != f"# tunekit run: {runs / 'best'}"
    # Titled with the folder shown (the run was copied from where it ran).
    assert out.startswith(f"# tunekit run: {runs / 'best'}\n" + written[:200])
    assert f"Dashboard: tensorboard --logdir {runs / 'best' / 'tensorboard'}" in out
    code, out, _ = _cli("show", str(runs / "sub" / "coarse-only"))
    assert code == 0
    assert "interrupted: after coarse (no report.md yet)" in out and "Steps done: coarse" in out
    code, out, err = _cli("show", str(runs / "nowhere"))
    assert code == 2 and "not a tunekit run folder" in err


def test_show_of_a_corrupt_run_says_so_before_its_report(runs):
    """Before, a corrupt manifest's run printed its whole report.md (a finished run's
    numbers) and only then "Status: corrupt", below what a reader reads first."""
    code, out, _ = _cli("show", str(runs / "broken"))
    assert code == 0
    first = out.splitlines()[0]
    assert first.startswith("Status: corrupt: manifest.json")
    assert first.endswith("the report below was written before the damage.")
    written = (runs / "broken" / "report.md").read_text().split("\n", 1)[1]
    assert f"# tunekit run: {runs / 'broken'}\n" + written[:200] in out  # titled where it is
    assert out.count("Status: ") == 1


def test_show_of_a_stopped_command_line_run_gives_its_resume_command(tmp_path, runs):
    import shlex
    import shutil

    run = tmp_path / "my run"
    shutil.copytree(runs / "sub" / "coarse-only", run, ignore=shutil.ignore_patterns(".lock"))
    manifest = _manifest(run)
    argv = ["--data", "rivers 2.npz", "--seed", "3", "--overwrite", "--reprobe"]
    where = str(tmp_path / "work dir")
    manifest["command"] = {"argv": argv, "cwd": where, "program": "tunekit run"}
    (run / "manifest.json").write_text(json.dumps(manifest))
    code, out, _ = _cli("show", str(run))
    assert code == 0
    (line,) = [x for x in out.splitlines() if x.startswith("Resume with: ")]
    words = shlex.split(line.removeprefix("Resume with: "))
    assert words[:3] == ["cd", where, "&&"]
    # Recorded before tunekit kept where the run was: named where it is now (the same run).
    assert words[3:] == ["tunekit", "run", "--data", "rivers 2.npz", "--seed", "3"] + [
        "--directory",
        str(tmp_path),
        "--project-name",
        "my run",
    ]
    manifest["command"]["run_dir"] = str(run)  # where it still is: the command as it ran
    (run / "manifest.json").write_text(json.dumps(manifest))
    (line,) = [x for x in _cli("show", str(run))[1].splitlines() if x.startswith("Resume with: ")]
    assert shlex.split(line.removeprefix("Resume with: "))[3:] == [
        "tunekit",
        "run",
        "--data",
        "rivers 2.npz",
        "--seed",
        "3",
    ]
    manifest["command"]["run_dir"] = str(tmp_path / "runs" / "old")  # moved since
    (run / "manifest.json").write_text(json.dumps(manifest))
    (line,) = [x for x in _cli("show", str(run))[1].splitlines() if x.startswith("Resume with: ")]
    assert shlex.split(line.removeprefix("Resume with: "))[-4:] == [
        "--directory",
        str(tmp_path),
        "--project-name",
        "my run",
    ]
    # A Python run has no command to give; a finished run needs none.
    code, out, _ = _cli("show", str(runs / "sub" / "coarse-only"))
    assert "Resume with" not in out
    code, out, _ = _cli("show", str(runs / "best"))
    assert "Resume with" not in out
    # A run stopped on a named error: the same command fails again, so it is not offered
    # as a resume (before, `show` said "Resume with:" the command that had failed).
    said = (
        "The objective 'val_auc' is not among the metrics the model reports: ['loss']. "
        "Choose one of those as `objective`; pass overwrite=True to start over"
    )
    manifest["steps"]["fine"] = {"status": "running", "error": f"SearchInputError: {said}"}
    (run / "manifest.json").write_text(json.dumps(manifest))
    code, out, _ = _cli("show", str(run))
    assert code == 0 and "Status: failed: fine" in out and "Resume with" not in out
    # A command-line run's error in its flags, as the command said it when it stopped.
    cli_said = said.replace("`objective`", "`--objective`").replace("overwrite=True", "--overwrite")
    assert f"Stopped on: fine: SearchInputError: {cli_said}" in out, out
    assert "Fix the cause, then rerun (the command it was started with: cd " in out
    # A Python run's error keeps Python's words; another library's error is never rewritten.
    manifest.pop("command")
    (run / "manifest.json").write_text(json.dumps(manifest))
    code, out, _ = _cli("show", str(run))
    assert f"Stopped on: fine: SearchInputError: {said}" in out, out
    manifest["command"] = {"argv": argv, "cwd": where, "program": "tunekit run"}
    manifest["steps"]["fine"]["error"] = "ValueError: seed=3 is odd"
    (run / "manifest.json").write_text(json.dumps(manifest))
    code, out, _ = _cli("show", str(run))
    assert "Stopped on: fine: ValueError: seed=3 is odd" in out, out
    # The hypermodel's fit failed: fixing it is new code, which a resume refuses (before,
    # `show` said to rerun the command, which was then refused)
    manifest["steps"]["fine"]["error"] = "HyperModelFitError: M.fit failed when the retrain"
    (run / "manifest.json").write_text(json.dumps(manifest))
    code, out, _ = _cli("show", str(run))
    assert "Fix the cause, then start the run over: cd " in out and "--overwrite" in out, out


@pytest.mark.parametrize(
    ("change", "status"),
    [
        (lambda m: m.pop("steps"), "corrupt: manifest.json (no 'steps' object)"),
        (lambda m: m["steps"].update(coarse=[1]), "corrupt: manifest.json (step 'coarse' is"),
        (lambda m: m["steps"].update(fine={"status": "running"}), "interrupted: fine"),
        (lambda m: m.update(created="yesterday"), "interrupted: after coarse"),
    ],
)
def test_damaged_or_stopped_manifests_give_a_status_never_a_traceback(
    runs, tmp_path, change, status
):
    manifest = _manifest(runs / "sub" / "coarse-only")
    change(manifest)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "manifest.json").write_text(json.dumps(manifest))
    assert ls_runs(tmp_path)["status"].iloc[0].startswith(status)


def test_a_search_stopped_mid_phase_counts_its_trials_seconds(tmp_path, runs):
    import shutil

    # Before, a run interrupted during its coarse phase was listed with 0.0 s: the phase
    # records its seconds only when it ends.
    run = tmp_path / "run"
    shutil.copytree(runs / "sub" / "coarse-only", run, ignore=shutil.ignore_patterns(".lock"))
    manifest = _manifest(run)
    manifest["steps"] = {"coarse": {"status": "running"}}
    (run / "manifest.json").write_text(json.dumps(manifest))
    seconds = [
        json.loads(p.read_text())["metrics"]["metrics"]["seconds"]["observations"][-1]["value"][0]
        for p in (run / "coarse").glob("trial_*/trial.json")
    ]
    assert len(seconds) == STOPPED_TRIALS and all(s > 0 for s in seconds)
    row = ls_runs(tmp_path).iloc[0]
    assert row["status"] == "interrupted: coarse"
    assert row["wall_time_s"] == pytest.approx(sum(seconds), abs=0.06)


def test_a_search_whose_last_trial_failed_is_failed_and_a_bad_trial_file_is_named(tmp_path, runs):
    manifest = _manifest(runs / "sub" / "coarse-only")
    manifest["steps"]["fine"] = {"status": "running"}
    for name, trial in (("failed", {"trial_id": "0", "status": "FAILED"}), ("bad", None)):
        run = tmp_path / name
        (run / "fine" / "trial_0").mkdir(parents=True)
        (run / "manifest.json").write_text(json.dumps(manifest))
        (run / "fine" / "trial_0" / "trial.json").write_text(
            "{" if trial is None else json.dumps(trial)
        )
    frame = ls_runs(tmp_path).set_index("name")
    assert frame.loc["failed", "status"] == "failed: fine"
    assert frame.loc["bad", "status"].startswith("corrupt: fine/trial_0/trial.json (not valid JSON")


def test_a_run_refused_at_its_first_trial_is_failed_not_interrupted(tmp_path, run_data):
    # Before, an objective the model never reports (refused when the first trial reports its
    # metrics) was listed as "interrupted: coarse", as if a rerun could carry on. The first
    # trial is the default configuration, whose refusal stops the search at once. A callback
    # of the run's own (which might write the objective into the logs) leaves the objective
    # to the first trial, so that trial is where this run is refused.
    import keras

    from hypermodels import MnistDenseHyperModel
    from tunekit import CoarseToFine, SearchInputError

    run = CoarseToFine(
        MnistDenseHyperModel(),
        run_data,
        directory=tmp_path,
        project_name="typo",
        objective="val_auc",
        callbacks=[keras.callbacks.Callback()],
        **RUN_BUDGET,
    )
    with pytest.raises(SearchInputError, match="Trial id 0, with the values .*: The objective"):
        run.coarse()
    run.close()
    step = _manifest(tmp_path / "typo")["steps"]["coarse"]
    assert step["status"] == "running" and step["error"].startswith("SearchInputError: ")
    assert ls_runs(tmp_path).set_index("name").loc["typo", "status"] == "failed: coarse"


def test_a_run_that_failed_between_searches_is_failed_and_not_told_to_resume(tmp_path, run_data):
    """Before, a narrowing refused for too few completed coarse trials (a build that fails
    for most configurations) recorded nothing: `ls` said "interrupted: after coarse" and
    `show` gave a resume command that fails the same way every time."""
    import keras

    from tunekit import CoarseToFine, TooFewTrialsError

    def build(hp):
        if hp.Int("units", 8, 64, step=8, default=16) != 16:
            raise ValueError("only 16 units build")
        model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten()])
        model.add(keras.layers.Dense(10, activation="softmax"))
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    run = CoarseToFine(
        build,
        run_data,
        directory=tmp_path,
        project_name="fails",
        **{**RUN_BUDGET, "coarse_trials": 3, "max_consecutive_failed_trials": 5},
    )
    with pytest.raises(TooFewTrialsError, match="Only 1 of the 3 coarse trials"):
        run.run()
    run.close()
    steps = _manifest(tmp_path / "fails")["steps"]
    assert steps["coarse"]["status"] == "done"
    assert steps["narrow"]["error"].startswith("TooFewTrialsError: Only 1 of the 3")
    assert not steps.get("fine", {}).get("error")  # recorded once, on the step that raised
    assert ls_runs(tmp_path).set_index("name").loc["fails", "status"] == "failed: narrow"
    code, out, _ = _cli("show", str(tmp_path / "fails"))
    assert code == 0 and "Status: failed: narrow" in out
    assert "Stopped on: narrow: TooFewTrialsError: Only 1 of the 3" in out
    assert "Resume with" not in out


def test_run_is_the_coarse_to_fine_command():
    code, out, _ = _cli("run", "--help")
    assert code == 0 and "--coarse-trials" in out and "--fine-tuner" in out
    assert out.startswith("usage: tunekit run ")  # the command the user typed, not the module
    code, _, err = _cli("run", "--coarse-trials", "0")
    assert code == 2 and "--coarse-trials" in err


def test_python_m_tunekit_ls_as_a_subprocess(runs):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "tunekit", "ls", str(runs), "--format", "csv"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert pd.read_csv(io.StringIO(proc.stdout))["name"].tolist() == list(NAMES)
    # `python -m tunekit run` is the program as typed: in its usage, and so in the resume and
    # reproduce commands it records (before, they said `tunekit run`, which may not be on PATH).
    proc = subprocess.run(
        [sys.executable, "-m", "tunekit", "run", "--help"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # (With another `python` first on PATH, e.g. a virtual environment not activated, the
    # program names this interpreter: `tunekit.reproduce.typed_program`.)
    from tunekit.reproduce import typed_program

    typed = typed_program("python -m tunekit run")
    assert proc.returncode == 0 and proc.stdout.startswith(f"usage: {typed} "), proc.stdout[:200]


def test_on_a_terminal_the_table_is_drawn_by_rich(runs):
    from tunekit.cli_main import _print_frame

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    _print_frame(ls_runs(runs), "table", index=False, out=out)
    text = out.getvalue()
    assert "┃" in text and "best" in text and "finished" in text and "broken" in text


@pytest.mark.parametrize("terminal", [False, True], ids=["plain", "rich"])
def test_a_long_cell_is_cut_in_the_table_and_whole_in_csv(tmp_path, terminal):
    """Before: one long setting (a default model's layer settings) made every row of
    `tunekit compare` thousands of characters wide."""
    root = _hand_made_runs(tmp_path)
    long = "x" * 3000
    manifest = json.loads((root / "x" / "manifest.json").read_text())
    manifest["config"]["layers"] = long
    (root / "x" / "manifest.json").write_text(json.dumps(manifest))

    class Out(io.StringIO):
        def isatty(self) -> bool:
            return terminal

    from tunekit.cli_main import _print_frame
    from tunekit.runs import compare_runs

    out = Out()
    _print_frame(compare_runs(root / "x", root / "y"), "table", index=True, out=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("(Cells over 80 characters are cut short with …: --format csv")
    assert max(len(line) for line in lines) < 300 and "x" * 79 + "…" in out.getvalue()
    code, csv_text, _ = _cli("compare", str(root / "x"), str(root / "y"), "--format", "csv")
    assert code == 0 and long in csv_text


def _hand_made_runs(root: Path) -> Path:
    """Two finished run folders written by hand (no training): `x` (0.9) and `y` (0.8)."""
    for name, accuracy in (("x", 0.9), ("y", 0.8)):
        (root / name).mkdir(parents=True)
        manifest = {
            "config": {"objective": "val_accuracy", "direction": "max", "seed": 0},
            "steps": {"evaluate": {"status": "done", "test_metrics": {"accuracy": accuracy}}},
        }
        (root / name / "manifest.json").write_text(json.dumps(manifest))
    return root


@pytest.mark.parametrize("expression", ["1", "trials", "trials + 1", "status", "a = 1", "x, y"])
def test_a_filter_that_is_not_a_condition_exits_2_and_says_so(tmp_path, expression):
    root = _hand_made_runs(tmp_path / "runs")
    code, out, err = _cli("ls", str(root), "--filter", expression)
    assert (code, out) == (2, "")
    assert f"--filter {expression!r} is not " in err and "Traceback" not in err
    with pytest.raises(UsageError, match="filter="):
        ls_runs(root, filter=expression)
    kept = ls_runs(root, filter="test_value > 0.85")  # a condition still filters
    assert kept["name"].tolist() == ["x"]
    assert ls_runs(root, filter='status == "running"').empty


def test_show_quotes_the_dashboard_folder_so_the_command_pastes(tmp_path):
    root = _hand_made_runs(tmp_path / "my runs")
    (root / "x" / "tensorboard").mkdir()
    code, out, _ = _cli("show", str(root / "x"))
    assert code == 0
    logdir = str(root / "x" / "tensorboard")
    assert out.splitlines()[-1] == f"Dashboard: tensorboard --logdir '{logdir}'"


@pytest.mark.parametrize(
    ("change", "status", "started"),
    [
        (lambda m: m.update(created=1e300), "finished", None),  # past time_t: no start time
        (lambda m: m.update(created=-1e300), "finished", None),
        (lambda m: m["config"].update(direction=5), "corrupt: manifest.json (config.direction", 0),
        (lambda m: m["config"].update(objective=["x"]), "corrupt: manifest.json (config.obj", 0),
    ],
)
def test_out_of_range_or_wrongly_typed_manifest_values_never_raise(
    tmp_path, change, status, started
):
    root = _hand_made_runs(tmp_path / "runs")
    manifest = _manifest(root / "x")
    change(manifest)
    (root / "x" / "manifest.json").write_text(json.dumps(manifest))
    frame = ls_runs(root, order="name").set_index("name")
    assert frame.loc["x", "status"].startswith(status)
    assert frame.loc["y", "status"] == "finished" and frame.loc["y", "started"] is None
    if started is None:
        assert frame.loc["x", "started"] is None and frame.loc["x", "test_value"] == 0.9
    assert compare_runs(root / "x", root / "y").loc["result.status"].iloc[0].startswith(status)
    code, out, err = _cli("ls", str(root), "--format", "csv")
    assert code == 0 and "Traceback" not in err and len(out.splitlines()) == 3


def test_compare_on_the_command_line_names_the_command_that_lists_runs(tmp_path):
    root = _hand_made_runs(tmp_path / "runs")
    code, out, err = _cli("compare", str(root), str(root / "x"))
    assert (code, out) == (2, "")
    assert err == (
        f"error: {str(root)!r} is not a tunekit run folder (no manifest.json in it). "
        "List the runs with: tunekit ls DIRECTORY.\n"
    )


def test_a_reversed_order_without_equals_says_to_write_it_with_equals(tmp_path):
    root = _hand_made_runs(tmp_path / "runs")
    code, out, err = _cli("ls", "--order", "-started", str(root))
    assert (code, out) == (2, "")
    assert "--order=-COLUMN, e.g. --order=-started" in err
    code, out, _ = _cli("ls", f"--order=-{'name'}", str(root), "--format", "csv")
    assert code == 0 and pd.read_csv(io.StringIO(out))["name"].tolist() == ["y", "x"]


def test_a_classifier_without_an_accuracy_metric_is_listed_by_its_report_accuracy():
    """Compiled with `err` and `myacc` only: `ls` listed `test_metric` = `err` and no
    `baseline_delta`, where the report compared the baseline on accuracy (0.9419 against
    0.7093). The accuracy comes from the report's confusion matrix."""
    import types

    from tunekit.runs import _baseline_delta, _test_metric

    report = {
        "confusion_matrix": {"counts": [[30, 2], [3, 51]]},
        "baseline": {"metrics": [{"name": "accuracy", "tuned": 81 / 86, "baseline": 0.7093}]},
    }
    run = types.SimpleNamespace(
        steps={"evaluate": {"test_metrics": {"err": 0.0581, "loss": 0.2, "myacc": 0.94}}},
        step_status=lambda step: "done",
        report=report,
    )
    name, value, direction = _test_metric(run, "val_err", "min")
    assert (name, direction) == ("accuracy", "max") and value == pytest.approx(81 / 86)
    assert _baseline_delta(run, name) == pytest.approx(81 / 86 - 0.7093)


def _reproduce_block(out: str) -> list[list[str]]:
    """The lines of `show`'s "Reproduce" shell block, each split as the shell would."""
    block = out.split("## Reproduce", 1)[1].split("```sh\n", 1)[1].split("\n```", 1)[0]
    return [shlex.split(line) for line in block.splitlines()]


def test_a_moved_run_is_shown_and_reproduced_where_it_is_now(tmp_path, runs, finished_run):
    """Found by a new-user probe: after `mv runs/mv_demo archive/mv_demo`, `show` still
    titled it `runs/mv_demo` and gave `--directory runs --project-name mv_demo`, which
    trained the whole run again in a new `runs/mv_demo` (exit 0); report.json's plot paths
    were relative to the folder the run started in, so they broke once moved."""
    moved = tmp_path / "archive" / "moved run"
    shutil.copytree(runs / "best", moved, ignore=shutil.ignore_patterns(".lock"))
    report = json.loads((moved / "report.json").read_text())
    assert report["paths_relative_to"] == "run_dir"
    assert report["plots"] and all((moved / p).is_file() for p in report["plots"].values())
    code, out, _ = _cli("show", str(moved))  # a Python run: its call names the folder now
    assert code == 0 and out.splitlines()[0] == f"# tunekit run: {moved}"
    assert f"directory={str(moved.parent)!r}, project_name='moved run'" in out
    assert str(finished_run[0].run_dir) not in out
    # A command-line run's report from before tunekit kept where the run was: its plot
    # paths relative to the folder it started in, `--directory runs` (relative to `cwd`).
    work = tmp_path / "work"
    argv = ["--data", "d.npz", "--directory", "runs", "--project-name", "e2e", "--seed", "1"]
    report.update(
        run_dir="runs/e2e",
        plots={k: f"runs/e2e/{v}" for k, v in report["plots"].items()},
        command={
            "interface": "cli",
            "argv": argv,
            "cwd": str(work),
            "reproduce": f"tunekit run {shlex.join(argv)}",
        },
    )
    del report["run_dir_absolute"], report["paths_relative_to"]
    (moved / "report.json").write_text(json.dumps(report))
    code, out, _ = _cli("show", str(moved))
    assert code == 0 and out.splitlines()[0] == f"# tunekit run: {moved}"
    assert _reproduce_block(out) == [
        ["cd", str(work)],
        ["tunekit", "run", "--data", "d.npz", "--seed", "1"]
        + ["--directory", str(moved.parent), "--project-name", "moved run"],
    ]
    links = re.findall(r"\]\((plots/[^)]+)\)", out)
    assert links and all((moved / link).is_file() for link in links)
    # Moved within the folder it was run from: --directory relative to it, after the `cd`.
    inside = work / "archive" / "x"
    shutil.copytree(moved, inside)
    assert _reproduce_block(_cli("show", str(inside))[1])[1][-4:] == [
        "--directory",
        "archive",
        "--project-name",
        "x",
    ]
    # Where it ran (`work/runs/e2e`): the command as it ran.
    shutil.copytree(moved, work / "runs" / "e2e")
    assert _reproduce_block(_cli("show", str(work / "runs" / "e2e"))[1])[1] == [
        "tunekit",
        "run",
        *argv,
    ]


def test_a_rerun_of_a_moved_finished_run_writes_its_report_for_where_it_is(
    tmp_path, runs, run_data
):
    """The rerun of a moved finished run said "reporting it again" but left report.json's
    `run_dir`, plot paths and command naming the old folder."""
    from hypermodels import MnistDenseHyperModel
    from tunekit import CoarseToFine

    moved = tmp_path / "archive" / "moved"
    shutil.copytree(runs / "best", moved, ignore=shutil.ignore_patterns(".lock"))
    report = json.loads((moved / "report.json").read_text())
    old_dir = report["run_dir"]  # as a report from before wrote it: paths from the start folder
    report["plots"] = {k: os.path.join(old_dir, v) for k, v in report["plots"].items()}
    del report["run_dir_absolute"], report["paths_relative_to"]
    (moved / "report.json").write_text(json.dumps(report))
    again = CoarseToFine(
        MnistDenseHyperModel(), run_data, directory=moved.parent, project_name="moved", **RUN_BUDGET
    )
    again.run()
    report = json.loads((moved / "report.json").read_text())
    assert report["run_dir"] == str(moved) and report["run_dir_absolute"] == str(moved)
    assert report["paths_relative_to"] == "run_dir"
    assert all((moved / p).is_file() for p in report["plots"].values())
    assert report["plots"]["best_so_far"] == "plots/best_so_far.png"
    assert (
        f"directory={str(moved.parent)!r}, project_name='moved'"
        in (report["command"]["python_call"])
    )
    markdown = (moved / "report.md").read_text()
    assert markdown.startswith(f"# tunekit run: {moved}\n") and old_dir not in markdown


def test_an_exception_in_the_retrain_is_failed_not_interrupted(
    tmp_path, finished_run, run_data, monkeypatch
):
    """Before, only tunekit's own errors were recorded: a Keras error in the retrain (the
    cosine schedule setting a rate it could not) was listed as "interrupted: retrain", as if
    a rerun could carry on, where the README says a fit error shows as "failed: <step>"."""
    from collections import Counter

    from hypermodels import MnistDenseHyperModel
    from tunekit import CoarseToFine, _faults

    run_dir = tmp_path / "e2e"
    shutil.copytree(finished_run[0].run_dir, run_dir, ignore=shutil.ignore_patterns(".lock"))
    (run_dir / "best_model.keras").unlink()  # only the retrain and what follows run again
    monkeypatch.setenv("TUNEKIT_FAULT", "retrain.epoch_end:1:raise")
    monkeypatch.setattr(_faults, "_hits", Counter())
    run = CoarseToFine(
        MnistDenseHyperModel(), run_data, directory=tmp_path, project_name="e2e", **RUN_BUDGET
    )
    with pytest.raises(RuntimeError, match="injected fault at retrain.epoch_end"):
        run.run()
    run.close()
    step = _manifest(run_dir)["steps"]["retrain"]
    assert step["status"] == "running"
    assert step["error"].startswith("RuntimeError: injected fault at retrain.epoch_end")
    assert ls_runs(tmp_path).set_index("name").loc["e2e", "status"] == "failed: retrain"


def test_a_kill_in_the_retrain_stays_interrupted(tmp_path, finished_run, run_data, monkeypatch):
    """The other side: an `Interrupted` (SIGINT, SIGTERM) is not an error of the run."""
    from hypermodels import MnistDenseHyperModel
    from tunekit import CoarseToFine
    from tunekit.errors import Interrupted
    from tunekit.steps.retrain import RetrainStep

    run_dir = tmp_path / "e2e"
    shutil.copytree(finished_run[0].run_dir, run_dir, ignore=shutil.ignore_patterns(".lock"))
    (run_dir / "best_model.keras").unlink()

    def stopped(self, ctx):
        ctx.manifest.mark("retrain", "running")
        raise Interrupted(15)

    monkeypatch.setattr(RetrainStep, "ensure", stopped)
    run = CoarseToFine(
        MnistDenseHyperModel(), run_data, directory=tmp_path, project_name="e2e", **RUN_BUDGET
    )
    with pytest.raises(Interrupted):
        run.run()
    run.close()
    assert "error" not in _manifest(run_dir)["steps"]["retrain"]
    assert ls_runs(tmp_path).set_index("name").loc["e2e", "status"] == "interrupted: retrain"


def _named_run(root: Path, name: str, objective: str, test: dict, report: dict) -> None:
    """A finished run folder by hand: `manifest.json` with `test` metrics, `report.json`."""
    (root / name).mkdir(parents=True)
    manifest = {
        "config": {"objective": objective, "direction": "min", "seed": 0},
        "steps": {"evaluate": {"status": "done", "test_metrics": test}},
    }
    (root / name / "manifest.json").write_text(json.dumps(manifest))
    (root / name / "report.json").write_text(json.dumps(report))


def test_ls_and_compare_rank_every_run_on_tunekits_own_test_mse_and_accuracy(tmp_path):
    """The probe's runs (names_reg*.py, cvfolds.py): a model compiling an MSLE as `mse` had
    `test_metric=mse`, `test_value=0.4367` (its MSLE), ranked above a run whose 3.114 is a real
    MSE; `baseline_delta` was empty when the baseline table held `sklearn_mse` only. Every run
    is ranked on tunekit's (scikit-learn's) MSE / accuracy, named as the report names it."""
    root = tmp_path / "runs"
    own = {"loss": 1.6925, "mse": 0.4367, "mae": 1.5515, "sklearn_mse": 1.6925}
    sk_row = {"name": "sklearn_mse", "tuned": 1.6925, "baseline": 1.8466}
    mse_row = {"name": "mse", "tuned": 0.4367, "baseline": 0.5075, "objective": True}
    _named_run(root, "reg_loss", "val_loss", own, {"baseline": {"metrics": [sk_row]}})
    _named_run(root, "reg_mse", "val_mse", own, {"baseline": {"metrics": [sk_row, mse_row]}})
    _named_run(root, "cv_reg", "val_loss", {"loss": 3.114, "mse": 3.114}, {})
    top2 = {  # SparseTopKCategoricalAccuracy(k=2, name="accuracy"): 0.7037
        "test_intervals": {"sklearn_accuracy": {"value": 0.5556, "interval": [0.4, 0.7]}},
        "confusion_matrix": {"counts": [[5, 4], [8, 10]]},  # 15 / 27 = 0.5556
        "baseline": {
            "metrics": [
                {"name": "sklearn_accuracy", "tuned": 0.5556, "baseline": 0.3704},
                {"name": "accuracy", "tuned": 0.7037, "baseline": 0.7407, "objective": True},
            ]
        },
    }
    _named_run(root, "top2", "val_accuracy", {"loss": 1.24, "accuracy": 0.7037}, top2)
    frame = ls_runs(root).set_index("name")
    regression = [name for name in frame.index if name != "top2"]
    assert regression == ["reg_loss", "reg_mse", "cv_reg"]  # 1.69, 1.69, 3.11: lower first
    for name in ("reg_loss", "reg_mse"):
        assert frame.loc[name, "test_metric"] == "sklearn_mse"
        assert frame.loc[name, "test_value"] == pytest.approx(1.6925)
        assert frame.loc[name, "baseline_delta"] == pytest.approx(1.6925 - 1.8466)
    assert (frame.loc["cv_reg", "test_metric"], frame.loc["cv_reg", "test_value"]) == ("mse", 3.114)
    assert frame.loc["top2", "test_metric"] == "sklearn_accuracy"
    assert frame.loc["top2", "test_value"] == pytest.approx(0.5556)
    assert frame.loc["top2", "baseline_delta"] == pytest.approx(0.5556 - 0.3704)
    del top2["test_intervals"]  # an older report: the confusion matrix's accuracy
    (root / "top2" / "report.json").write_text(json.dumps(top2))
    frame = ls_runs(root).set_index("name")
    assert frame.loc["top2", "test_metric"] == "sklearn_accuracy"
    assert frame.loc["top2", "test_value"] == pytest.approx(15 / 27)
    table = compare_runs(root / "reg_mse", root / "cv_reg")
    assert table.loc["result.test_metric"].tolist() == ["sklearn_mse", "mse"]
    assert table.loc["result.test_value"].tolist() == pytest.approx([1.6925, 3.114])


def test_show_says_an_unfinished_runs_status_before_its_older_report(tmp_path, runs):
    """A run interrupted in its evaluation after an earlier report: `show` printed the
    whole report, its test accuracy at the top, and said "Status: interrupted: evaluate"
    only about 110 lines down. The status comes first now, and again with the resume."""
    run = tmp_path / "again"
    shutil.copytree(runs / "best", run, ignore=shutil.ignore_patterns("tensorboard"))
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["steps"]["evaluate"] = {"status": "running"}
    (run / "manifest.json").write_text(json.dumps(manifest))
    assert (run / "report.md").is_file()
    code, out, _ = _cli("show", str(run))
    first = out.splitlines()[0]
    assert code == 0 and first.startswith("Status: interrupted: evaluate; the report below"), out
    assert out.splitlines().count("Status: interrupted: evaluate") == 1
