"""`overwrite=True` deletes a run's folder only, and says what it deleted.

Probe A: a folder of the user's (`runs/notarun/thesis.txt`, no run in it) was deleted
without a word by `overwrite=True`, and a notebook cell rerun with `overwrite=True` after
a crash threw its finished trials away silently.
"""

from __future__ import annotations

import pytest

from tunekit.errors import RunConfigError
from tunekit.manifest import RunManifest


def _open(run_dir, overwrite=True):
    return RunManifest.open(run_dir, {"a": 1}, overwrite=overwrite)


def test_a_folder_that_holds_no_run_is_not_deleted(tmp_path):
    folder = tmp_path / "notarun"
    folder.mkdir()
    (folder / "thesis.txt").write_text("years of work")
    with pytest.raises(RunConfigError) as info:
        _open(folder)
    message = str(info.value)
    assert "is not a tunekit run folder (it has no manifest.json) and holds 1 entry" in message
    assert "'thesis.txt'): nothing was deleted" in message
    assert (folder / "thesis.txt").read_text() == "years of work"


def test_a_run_is_deleted_and_said_and_a_new_folder_is_not(tmp_path):
    folder = tmp_path / "run"
    manifest = _open(folder)  # new: nothing to say
    assert not any("deleted" in n for n in manifest.notices)
    manifest.release()
    trial = folder / "coarse" / "trial_0"
    trial.mkdir(parents=True)
    (trial / "trial.json").write_text("{}")
    manifest = _open(folder)
    assert manifest.notices[0].startswith("Starting over (overwrite=True, --overwrite): deleted")
    assert "(1 trial and its outputs)" in manifest.notices[0]
    assert not (folder / "coarse").exists()
    manifest.release()
