"""Resume after a kill, a damaged state file, a full disk or a deleted output: nothing is lost."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys

import pytest

from tunekit.state_files import damaged_output as _unreadable
from tunekit.state_files import whole_image as _whole_image

ARGS = [
    "--finalists",
    "0",
    "--no-baseline",
    "--coarse-trials",
    "4",
    "--coarse-epochs",
    "1",
    "--max-epochs",
    "2",
    "--factor",
    "2",
    "--top",
    "2",
    "--final-epochs",
    "2",
    "--project-name",
    "killed",
]


def _cli_env(fault=None):
    """This process's environment for a CLI subprocess, with `TUNEKIT_FAULT=fault` or none."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TUNEKIT_FAULT", None)
    if fault:
        env["TUNEKIT_FAULT"] = fault
    return env


def _cli(args, cwd, fault=None):
    env = _cli_env(fault)
    return subprocess.run(
        [sys.executable, "-m", "tunekit.coarse_to_fine", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _completed_trials(run_dir):
    """{(phase, trial_id): trial.json text} of every COMPLETED trial on disk."""
    found = {}
    for phase in ("coarse", "fine"):
        for path in sorted((run_dir / phase).glob("trial_*/trial.json")):
            text = path.read_text()
            state = json.loads(text)
            if state["status"] == "COMPLETED":
                found[(phase, state["trial_id"])] = text
    return found


@pytest.fixture(scope="module")
def killed_after_coarse(tmp_path_factory, small_npz):
    """A run SIGKILLed right after its coarse phase (shared: each CLI start costs ~10 s).

    Tests copy its `killed/` folder into their own `tmp_path` (no state file holds a path).
    """
    directory = tmp_path_factory.mktemp("killed_after_coarse")
    args = ["--data", str(small_npz), "--directory", str(directory), *ARGS]
    assert _cli(args, directory, "phase.end:1").returncode == -signal.SIGKILL  # coarse done
    return directory / "killed"


def _copy_run(source, tmp_path):
    shutil.copytree(source, tmp_path / "killed")
    return tmp_path / "killed"


def test_corrupt_state_file_is_named_and_left_untouched(tmp_path, small_npz, killed_after_coarse):
    args = ["--data", str(small_npz), "--directory", str(tmp_path), *ARGS]
    _copy_run(killed_after_coarse, tmp_path)  # coarse done, then killed
    trial = tmp_path / "killed" / "coarse" / "trial_1" / "trial.json"
    trial.write_text('{"trial_id": "1", "hyperpa')  # truncated by a crash elsewhere
    files = lambda: {
        p: p.read_bytes()
        for p in (tmp_path / "killed").rglob("*")  # noqa: E731
        if p.is_file() and p.name != ".lock"
    }
    before = files()
    rerun = _cli(args, tmp_path)
    assert rerun.returncode == 2
    err = rerun.stderr.strip()
    assert str(trial) in err and "completed trial" in err and "--overwrite" in err
    assert files() == before


def test_a_trial_folder_missing_from_a_search_is_named_and_nothing_runs(
    tmp_path, small_npz, killed_after_coarse
):
    """Before, a resume without one finished trial's folder handed its id out again: the
    coarse search overwrote its last trial forever ("trial 175/4"), and a fine search
    overwrote its best trial and exited 0 with another winner. Now it is refused, naming
    the folder, before any training; `tunekit ls` lists the run as corrupt."""
    from tunekit.runs import ls_runs

    args = ["--data", str(small_npz), "--directory", str(tmp_path), *ARGS]
    run_dir = _copy_run(killed_after_coarse, tmp_path)
    project, trial = run_dir / "coarse", "trial_1"
    shutil.rmtree(project / trial, ignore_errors=True)
    files = lambda: {
        p: p.read_bytes()
        for p in run_dir.rglob("*")  # noqa: E731
        if p.is_file() and p.name != ".lock"
    }
    before = files()
    rerun = _cli(args, tmp_path)
    assert rerun.returncode == 2, rerun.stderr
    err = rerun.stderr.strip()
    assert f"{project} lists 1 trial(s) whose folder or trial.json is missing ({trial})" in err
    assert f"Safe options: restore {trial} from a backup" in err and "--overwrite" in err
    assert "Epoch" not in rerun.stdout and "trial 1/" not in rerun.stdout  # nothing trained
    assert files() == before
    status = ls_runs(tmp_path).set_index("name").loc["killed", "status"]
    assert status.startswith(f"corrupt: coarse/{trial} (missing, with 1 in all"), status


@pytest.mark.parametrize(
    "content, reason",
    [
        ('{"config": {"hypermodel": "mnist-de', "is corrupt or truncated"),
        ("[]", "is not what tunekit wrote"),
        ('{"config": {}, "steps": {"coarse": "done"}}', "is not what tunekit wrote"),
    ],
    ids=["truncated", "list", "step_not_an_object"],
)
def test_a_damaged_manifest_names_the_trials_kept_and_the_safe_options(
    tmp_path, capsys, small_npz, killed_after_coarse, content, reason
):
    from tunekit.coarse_to_fine import main

    run_dir = _copy_run(killed_after_coarse, tmp_path)
    coarse = len(_completed_trials(run_dir))
    (run_dir / "manifest.json").write_text(content)
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file() and p.name != ".lock"}
    args = ["--data", str(small_npz), "--directory", str(tmp_path), *ARGS]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert str(run_dir / "manifest.json") in err and reason in err, err
    assert f"Found {coarse} completed coarse and 0 completed fine trial(s)" in err, err
    assert "restore manifest.json from a backup" in err and "--overwrite" in err, err
    after = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file() and p.name != ".lock"}
    assert after == before


def _limit_file_size(limit: int):
    def apply():
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.long
def test_full_disk_mid_run_keeps_every_state_file_whole_and_names_the_file(
    tmp_path, small_npz, killed_after_coarse
):
    args = ["--data", str(small_npz), "--directory", str(tmp_path), *ARGS]
    run_dir = _copy_run(killed_after_coarse, tmp_path)  # coarse done, then killed
    env = _cli_env()
    full = subprocess.run(
        [sys.executable, "-m", "tunekit.coarse_to_fine", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_limit_file_size(6144),
    )  # the manifest (with the command line) is smaller, narrowed_space.json (~11 KB) larger
    assert full.returncode == 1, full.stderr[-2000:]
    assert "File too large" in full.stderr and str(run_dir / "narrowed_space.json") in full.stderr
    for path in run_dir.rglob("*.json"):
        json.loads(path.read_text())  # every state file is whole
    assert not list(run_dir.rglob("*.tmp"))
    assert not (run_dir / "narrowed_space.json").exists()
    final = _cli(args, tmp_path)  # space again: the same command resumes
    assert final.returncode == 0, final.stderr[-3000:]
    # `--backend auto` (the default) resumes on the run's backend, without probing.
    started = json.loads((run_dir / "manifest.json").read_text())["backend"]
    said = final.stdout + final.stderr
    assert f"Backend: {started} (the backend this run was started on" in said, said[-3000:]
    assert "samples/s" not in said


def test_a_run_written_by_other_versions_is_refused(tmp_path, small_npz, killed_after_coarse):
    args = ["--data", str(small_npz), "--directory", str(tmp_path), *ARGS]
    manifest_path = _copy_run(killed_after_coarse, tmp_path) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["versions"]["keras-tuner"] = "1.3.5"
    manifest_path.write_text(json.dumps(manifest))
    proc = _cli(args, tmp_path)
    assert proc.returncode == 2
    assert "keras-tuner: '1.3.5' -> " in proc.stderr and "--overwrite" in proc.stderr


def _open_manifest(run_dir, backend, **config):
    from tunekit.manifest import RunManifest

    manifest = RunManifest.open(run_dir, {"seed": 0, **config}, backend=backend)
    return manifest


def test_a_run_with_results_resumed_on_another_backend_is_refused_naming_both(tmp_path):
    from tunekit.errors import RunConfigError

    manifest = _open_manifest(tmp_path / "run", "tensorflow")
    manifest.mark("coarse", "done")  # something worth keeping
    manifest.release()
    before = (tmp_path / "run" / "manifest.json").read_bytes()
    with pytest.raises(RunConfigError) as info:
        _open_manifest(tmp_path / "run", "jax")
    message = str(info.value)
    assert "backend: 'tensorflow' -> 'jax'" in message, message
    assert "Resume it on tensorflow (KERAS_BACKEND=tensorflow" in message, message
    assert "overwrite=True" in message and "with the original settings" not in message
    with pytest.raises(RunConfigError) as info:  # and another setting: both named
        _open_manifest(tmp_path / "run", "jax", cv=3)
    message = str(info.value)
    assert "cv: 1 -> 3" in message and "backend: 'tensorflow' -> 'jax'" in message, message
    assert "with the original settings" in message
    assert (tmp_path / "run" / "manifest.json").read_bytes() == before
    _open_manifest(tmp_path / "run", "tensorflow").release()  # its own backend resumes


def test_a_resume_on_other_data_says_the_contents_changed_not_only_the_digests(tmp_path):
    """Before: "data: 'b51b...' -> '0c25...'" alone, for an .npz edited under its name."""
    from tunekit.errors import RunConfigError

    manifest = _open_manifest(tmp_path / "run", "tensorflow", data="b51b7e")
    manifest.mark("coarse", "done")
    manifest.release()
    with pytest.raises(RunConfigError) as info:
        _open_manifest(tmp_path / "run", "tensorflow", data="0c25aa")
    message = str(info.value)
    assert "data: 'b51b7e' -> '0c25aa'" in message
    assert "the data differs from the data the run started with (its fingerprint" in message
    # Found by a helper: only --task changed (the same CSV read as regression) said nothing
    # of the task.
    assert "changed: other values or task=" in message


def test_a_build_run_as_the_main_script_resumes_when_imported_from_it(tmp_path):
    """Found by a helper: `python r_main.py` recorded `__main__.build`; reading the finished
    run from a notebook with `from r_main import build` was refused as another
    configuration, with overwrite=True (deleting the run) as the advice."""
    from tunekit.errors import RunConfigError

    def hypermodel(name, **settings):
        return {"hypermodel": {"class": name, **settings}}

    manifest = _open_manifest(tmp_path / "run", "tensorflow", **hypermodel("__main__.build"))
    manifest.mark("coarse", "done")
    manifest.release()
    again = _open_manifest(tmp_path / "run", "tensorflow", **hypermodel("r_main.build"))
    assert again.is_done("coarse")
    again.release()
    for other in ("r_main.build_other", "__main__.other", "r_main.Build"):  # other code
        with pytest.raises(RunConfigError, match="hypermodel"):
            _open_manifest(tmp_path / "run", "tensorflow", **hypermodel(other))
    with pytest.raises(RunConfigError, match="hypermodel"):  # the same name, other settings
        _open_manifest(tmp_path / "run", "tensorflow", **hypermodel("r_main.build", units=4))


def test_a_run_without_results_on_another_backend_starts_over_and_an_old_one_adopts_it(
    tmp_path,
):
    manifest = _open_manifest(tmp_path / "new", "tensorflow")  # nothing finished, no trial
    manifest.release()
    manifest = _open_manifest(tmp_path / "new", "jax")
    assert manifest.state["backend"] == "jax" and manifest.state["steps"] == {}
    manifest.release()
    # A manifest written before backends were recorded resumes, and records this one.
    manifest = _open_manifest(tmp_path / "old", "tensorflow")
    manifest.mark("coarse", "done")
    del manifest.state["backend"]
    manifest.save()
    manifest.release()
    manifest = _open_manifest(tmp_path / "old", "jax")
    assert manifest.state["steps"]["coarse"]["status"] == "done"
    manifest.save()
    manifest.release()
    assert json.loads((tmp_path / "old" / "manifest.json").read_text())["backend"] == "jax"


def test_the_cli_refuses_another_backend_on_a_resumed_run_and_changes_nothing(
    tmp_path, small_npz, killed_after_coarse
):
    """The command line's `--backend` on a resumed run: another explicit one is refused
    with exit 2 and nothing changed (`auto` resuming on the run's own: the full-disk test)."""
    run_dir = _copy_run(killed_after_coarse, tmp_path)
    started = json.loads((run_dir / "manifest.json").read_text())["backend"]
    other = {"tensorflow": "jax", "jax": "tensorflow"}[started]
    files = lambda: {  # noqa: E731
        p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file() and p.name != ".lock"
    }
    before = files()
    args = ["--data", str(small_npz), "--directory", str(tmp_path), *ARGS]
    proc = _cli([*args, "--backend", other], tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert f"--backend: {started} -> {other}" in proc.stderr, proc.stderr[-2000:]
    assert f"Resume it on {started} (--backend {started}, or auto)" in proc.stderr
    assert "KERAS_BACKEND" not in proc.stderr
    assert "--overwrite" in proc.stderr and "Traceback" not in proc.stderr
    assert files() == before


@pytest.mark.parametrize(
    "deleted",
    [
        "best_model.keras",
        "narrowed_space.json",
        "report.json",
        "fine",
        "truncated:best_model.keras",
        "emptied:report.json",
        "emptied:trials.csv",
        "garbled:report.json",
        "emptied:report.md",
        "plots/confusion_matrix.png",
        "truncated:plots/confusion_matrix.png",
    ],
)
@pytest.mark.long
def test_a_finished_run_missing_an_output_redoes_that_step_only(
    tmp_path, finished_run, deleted, caplog
):
    """A deleted or damaged output of a done step is rebuilt by a rerun (it failed every
    rerun before, or kept the damaged file: a `{}` report.json, an empty trials.csv);
    no trial of a phase whose project is there runs again. A deleted `fine/` project runs
    the fine search again (it was reported from the manifest with exit 0). A truncated
    model counts as deleted (every rerun failed on "File not found", with a resume command
    that could not work)."""
    import shutil

    import keras
    from conftest import RUN_BUDGET

    from hypermodels import MnistDenseHyperModel
    from tunekit import CoarseToFine

    run, result = finished_run
    copy = tmp_path / run.run_dir.name
    shutil.copytree(run.run_dir, copy)
    trials = {p: sorted(x.name for x in (copy / p).glob("trial_*")) for p in ("coarse", "fine")}
    how, _, deleted = deleted.rpartition(":")
    truncated = bool(how)  # damaged, not deleted
    if how == "truncated":
        with open(copy / deleted, "r+b") as f:
            f.truncate(100)
    elif how == "emptied":
        (copy / deleted).write_text("{}" if deleted.endswith(".json") else "")
    elif how == "garbled":
        (copy / deleted).write_text('{"top": 3, "hyperpar')
    elif (copy / deleted).is_dir():
        shutil.rmtree(copy / deleted)
    else:
        (copy / deleted).unlink()
    caplog.set_level(logging.INFO, logger="tunekit")
    rerun = CoarseToFine(
        MnistDenseHyperModel(),
        run.data,
        directory=tmp_path,
        project_name=copy.name,
        **{**RUN_BUDGET, "verbose": 1},
    ).run()
    assert (copy / deleted).exists()
    assert not _unreadable(copy / deleted)
    assert (copy / deleted).is_dir() or _whole_image(copy / deleted)
    assert {
        p: sorted(x.name for x in (copy / p).glob("trial_*")) for p in ("coarse", "fine")
    } == trials
    assert (rerun.best_phase, rerun.best_trial_id) == (result.best_phase, result.best_trial_id)
    keras.models.load_model(copy / "best_model.keras", safe_mode=True)
    assert set(rerun.test_metrics) == set(result.test_metrics)
    said = f"Missing or unreadable in {copy}: {deleted}{' (unreadable)' if truncated else ''}; "
    assert any(r.getMessage().startswith(said) for r in caplog.records), caplog.text
    # TensorBoard shows the step that ran again once: the earlier step's logs are set aside
    # (before, a redone retrain's epochs were drawn twice, from two models).
    final = copy / "tensorboard" / "final"
    for part in ("train", "test"):
        assert len(list((final / part).glob("events.out.tfevents.*"))) == 1, part
    if deleted in ("best_model.keras", "fine", "report.json"):
        aside = list((copy / "replaced").glob("*/tensorboard/final/*/events.out.tfevents.*"))
        assert aside, "the earlier logs were not kept"


def test_a_search_whose_oracle_file_is_gone_is_refused_naming_it(tmp_path):
    """Before, the rerun crashed in KerasTuner's reload with a bare NotFoundError (and `ls`
    said "finished"), then printed a resume command that failed the same way."""
    from tunekit._io import StateFileError
    from tunekit.state_files import check_kerastuner_project

    project = tmp_path / "coarse"
    (project / "trial_0").mkdir(parents=True)
    (project / "trial_0" / "trial.json").write_text('{"trial_id": "0", "status": "COMPLETED"}')
    assert check_kerastuner_project(project) == 1  # killed before KerasTuner's first save
    (project / "tuner0.json").write_text("{}")  # KerasTuner would reload: it needs its oracle
    with pytest.raises(StateFileError, match=r"oracle\.json is missing\. Found 1 completed"):
        check_kerastuner_project(project)
    (project / "oracle.json").write_text("{}")
    assert check_kerastuner_project(project) == 1
