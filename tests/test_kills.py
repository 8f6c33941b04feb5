"""SIGKILL at each stage and SIGTERM mid-trial, then the same command: it resumes, losing nothing.

Split from `tests/test_resume.py` (whose helpers it uses) so that the two long files run
on different pytest-xdist workers.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from test_resume import ARGS, _cli, _cli_env, _completed_trials

# Every stage; the default suite kills at a half-written state file, a fine trial and a
# retrain epoch (the other tests here resume a run killed after its coarse phase).
ALL_KILLS = [
    "coarse.trial_start:3",
    "write.mid:3",
    "phase.end:1",
    "fine.trial_start:3",
    "retrain.epoch_end:1",
]
FAST_KILLS = ["write.mid:3", "fine.trial_start:3", "retrain.epoch_end:1"]


@pytest.mark.parametrize(
    "kills",
    [FAST_KILLS, pytest.param(ALL_KILLS, marks=pytest.mark.slow)],
    ids=["three-stages", "every-stage"],
)
@pytest.mark.long
def test_sigkill_at_every_stage_then_rerun_resumes_and_loses_nothing(tmp_path, small_npz, kills):
    args = ["--data", str(small_npz), "--directory", str(tmp_path), *ARGS]
    run_dir = tmp_path / "killed"
    # Each rerun of the same command is killed at the next stage, then one finishes.
    seen: dict = {}
    narrowing_before = None
    for fault in kills:
        proc = _cli(args, tmp_path, fault)
        assert proc.returncode == -signal.SIGKILL, (fault, proc.returncode, proc.stderr[-2000:])
        now = _completed_trials(run_dir)
        for key, text in seen.items():  # nothing completed is lost or rewritten
            assert now.get(key) == text, (fault, key)
        seen = now
        if narrowing_before is None and (run_dir / "narrowed_space.json").exists():
            narrowing_before = (run_dir / "narrowed_space.json").read_text()
        assert not list(run_dir.rglob("*.keras.tmp*")), "no half-written model"
    assert narrowing_before is not None

    final = _cli(args, tmp_path)
    assert final.returncode == 0, final.stderr[-3000:]
    now = _completed_trials(run_dir)
    for key, text in seen.items():
        assert now.get(key) == text, key
    assert (run_dir / "narrowed_space.json").read_text() == narrowing_before

    frame = pd.read_csv(run_dir / "trials.csv", dtype={"trial_id": str})
    assert frame.groupby("phase").trial_id.apply(lambda s: s.is_unique).all()
    coarse = frame[frame.phase == "coarse"]
    assert len(coarse) == 4 and set(coarse.status) == {"COMPLETED"}
    oracle = json.loads((run_dir / "fine" / "oracle.json").read_text())
    assert sorted(frame[frame.phase == "fine"].trial_id) == sorted(oracle["end_order"])
    report = json.loads((run_dir / "report.json").read_text())
    assert report["best"]["final_epochs"] == 2
    assert (run_dir / "best_model.keras").stat().st_size > 0
    # The retrain killed after its first epoch resumed at the second: its curves hold both.
    retrain = json.loads((run_dir / "manifest.json").read_text())["steps"]["retrain"]
    assert len(retrain["history"]["loss"]) == 2 and "epoch_logs" not in retrain
    assert all(np.isfinite(v) for v in retrain["history"]["loss"])
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert all(
        manifest["steps"][s]["status"] == "done"
        for s in ("coarse", "narrow", "fine", "retrain", "evaluate")
    )
    # A resumed retrain draws other random numbers than one run straight through: said
    # (report.json, report.md, the summary), with how to retrain it in one session.
    assert retrain["resumed_at"] == [1]
    note = report["best"]["retrain_note"]
    assert note.startswith("The retrain was stopped and resumed after epoch 1 of 2.")
    assert note in (run_dir / "report.md").read_text() and note in final.stdout
    assert "delete best_model.keras and rerun the same command" in note
    (run_dir / "best_model.keras").unlink()
    again = _cli(args, tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert _completed_trials(run_dir) == now  # no trial ran again
    report = json.loads((run_dir / "report.json").read_text())
    assert report["best"]["retrain_note"] is None and "resumed" not in again.stdout


@pytest.mark.long
def test_sigterm_during_a_trial_saves_and_prints_the_resume_command(tmp_path, small_npz):
    args = ["--data", str(small_npz), "--directory", str(tmp_path), *ARGS]
    env = _cli_env()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tunekit.coarse_to_fine", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in proc.stdout:  # wait until one coarse trial has completed
        if line.startswith("[coarse] trial 1/"):
            break
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-2000:]
    assert "Resume with:" in err and "python -m tunekit.coarse_to_fine" in err
    saved = _completed_trials(tmp_path / "killed")
    assert len(saved) >= 1
    final = _cli(args, tmp_path)
    assert final.returncode == 0, final.stderr[-3000:]
    now = _completed_trials(tmp_path / "killed")
    assert all(now[key] == text for key, text in saved.items())
