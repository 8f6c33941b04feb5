"""A rerun that changes only settings read after the searches keeps the searches.

`finalists`, `finalist_seeds`, `final_epochs`, `final_schedule`,
`final_seeds` and `baseline` (`tunekit.replacing.AFTER_SEARCH_SETTINGS`): a
finished hour-long search must not be refused (or redone) to try
`--finalists 3` or another retrain length. The first step they change and
every later one run again; what those steps wrote moves to `replaced/`.
The end-to-end case is in `test_workflow.py` (it copies the shared finished run).
"""

from __future__ import annotations

import json

import pytest

from tunekit import timing
from tunekit.errors import RunConfigError
from tunekit.manifest import RunManifest, with_omitted_settings
from tunekit.replacing import Replacement

BASE = {"finalists": 0, "final_epochs": "auto", "baseline": False, "coarse_trials": 4}


def _finished_manifest(run_dir, config=BASE):
    """A manifest whose every step is done, with the files its plan names."""
    manifest = RunManifest.open(run_dir, dict(config))
    plan = [
        ("coarse", ["coarse"]),
        ("narrow", ["narrowed_space.json"]),
        ("fine", ["fine"]),
        ("retrain", ["best_model.keras", "best_hyperparameters.json"]),
        ("baseline", ["baseline_model.keras"]),
        ("evaluate", ["report.json", "report.md", "trials.csv"]),
    ]
    manifest.state["plan"] = [{"name": n, "requires": [], "outputs": o} for n, o in plan]
    for name, outputs in plan:
        for output in outputs:
            if "." in output:
                (run_dir / output).write_text(f"{name} before")
            else:
                (run_dir / output / "trial_0").mkdir(parents=True)
        manifest.mark(name, "done", seconds=1.0)
    (run_dir / "tensorboard" / "final").mkdir(parents=True)
    (run_dir / "tensorboard" / "final" / "events").write_text("retrain logs")
    (run_dir / "tensorboard" / "final" / "test").mkdir()
    (run_dir / "tensorboard" / "final" / "test" / "events").write_text("report images")
    (run_dir / "tensorboard" / "coarse").mkdir()
    (run_dir / "plots").mkdir()
    header = ",".join(("step", "trial_id", "status", "seconds", *timing.PARTS))
    zeros = "," + ",".join("0" for _ in timing.PARTS)
    (run_dir / "timing.csv").write_text(f"{header}\nretrain,,,5.0{zeros}\nbaseline,,,3.0{zeros}\n")
    manifest.release()
    return manifest


@pytest.mark.parametrize(
    ("change", "redone"),
    [
        ({"finalists": 3}, ["retrain", "baseline", "evaluate"]),
        ({"final_epochs": 5}, ["retrain", "baseline", "evaluate"]),
        ({"baseline": True}, ["baseline", "evaluate"]),
        ({"final_seeds": 3}, ["baseline", "evaluate"]),
    ],
)
def test_each_after_search_setting_redoes_its_first_step_and_the_later_ones(
    tmp_path, change, redone
):
    run_dir = tmp_path / "run"
    _finished_manifest(run_dir)
    manifest = RunManifest.open(run_dir, {**BASE, **change})
    try:
        steps = manifest.state["steps"]
        assert sorted(steps) == sorted(
            {"coarse", "narrow", "fine", "retrain", "baseline", "evaluate"} - set(redone)
        )
        assert all(manifest.is_done(n) for n in ("coarse", "narrow", "fine"))
        (replaced,) = (run_dir / "replaced").iterdir()
        record = json.loads((replaced / "replaced.json").read_text())
        assert sorted(record["steps"]) == sorted(redone)
        # Every old setting, also those the manifest leaves out at their defaults.
        assert record["config"] == with_omitted_settings(BASE)
        assert {"final_seeds", "finalist_seeds"} <= set(record["config"])
        # The searches' files stay; each redone step's files moved, nothing deleted.
        assert (run_dir / "coarse" / "trial_0").is_dir()
        assert (run_dir / "tensorboard" / "coarse").is_dir()
        for name in ("report.json", "report.md", "trials.csv", "baseline_model.keras"):
            assert not (run_dir / name).exists()
            assert (replaced / name).read_text().endswith("before")
        assert not (run_dir / "plots").exists() and (replaced / "plots").is_dir()
        retrain_redone = "retrain" in redone
        assert (run_dir / "best_model.keras").exists() != retrain_redone
        assert (replaced / "tensorboard" / "final" / "events").exists() == retrain_redone
        # The report's images go with the report, whatever else is redone.
        assert (replaced / "tensorboard" / "final" / "test" / "events").exists()
        assert not (run_dir / "tensorboard" / "final" / "test").exists()
        kept_rows = [r["step"] for r in timing.read_rows(run_dir / "timing.csv")]
        moved_rows = [r["step"] for r in timing.read_rows(replaced / "timing.csv")]
        assert sorted(kept_rows + moved_rows) == ["baseline", "retrain"]
        assert not set(kept_rows) & set(redone) and set(moved_rows) <= set(redone)
        assert manifest.replacement.folder == replaced
        assert manifest.replacement.diff.startswith(f"{next(iter(change))}: ")
        # Saved at once: a process killed now resumes with the new settings, nothing moved.
        on_disk = json.loads((run_dir / "manifest.json").read_text())
        assert sorted(on_disk["steps"]) == sorted(steps)
    finally:
        manifest.release()
    again = RunManifest.open(run_dir, {**BASE, **change})
    again.release()
    assert len(list((run_dir / "replaced").iterdir())) == 1


def test_a_search_setting_changed_with_an_after_search_one_is_still_refused(tmp_path):
    run_dir = tmp_path / "run"
    _finished_manifest(run_dir)
    before = sorted(p.name for p in run_dir.iterdir())
    with pytest.raises(RunConfigError, match=r"coarse_trials: 4 -> 5.*finalists: 0 -> 3") as info:
        RunManifest.open(run_dir, {**BASE, "finalists": 3, "coarse_trials": 5})
    assert "(`finalists` may change on its own: the searches are kept" in str(info.value)
    assert sorted(p.name for p in run_dir.iterdir()) == before


def test_the_message_names_the_steps_that_run_now_and_where_the_old_files_went(tmp_path):
    moved = Replacement("final_seeds: 1 -> 2", tmp_path / "replaced" / "20261202T000000Z")
    text = moved.message(tmp_path, ["final_seeds", "baseline", "evaluate"])
    assert "(final_seeds: 1 -> 2): the searches and their trials are kept" in text
    assert "; the final model's other seeds, the baseline and the test evaluation run now." in text
    assert text.endswith(f"kept in {tmp_path / 'replaced' / '20261202T000000Z'}.")
    fresh = Replacement("finalists: 0 -> 3", None).message(tmp_path, ["finalists", "retrain"])
    assert fresh.endswith(
        "the finalists' retraining and the retraining on train+validation run now (none of "
        "the steps these settings change had run)."
    )


def test_two_replacements_in_one_second_keep_both_archives(tmp_path, monkeypatch):
    """`replaced/<UTC time>/` was named to the second: a second replacement within it
    overwrote the first's archived files and its `replaced.json`."""
    import time

    from tunekit.replacing import set_aside

    monkeypatch.setattr(
        time, "gmtime", lambda *_: time.struct_time((2026, 12, 5, 0, 0, 0, 0, 1, 0))
    )
    folders = []
    for text in ("first", "second", "third"):
        (tmp_path / "report.json").write_text(text)
        folders.append(set_aside(tmp_path, ["report.json"], {"why": text}))
    assert [f.name for f in folders] == [
        "20261205T000000Z",
        "20261205T000000Z-2",
        "20261205T000000Z-3",
    ]
    for folder, text in zip(folders, ("first", "second", "third"), strict=True):
        assert (folder / "report.json").read_text() == text
        assert json.loads((folder / "replaced.json").read_text())["why"] == text
