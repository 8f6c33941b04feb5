"""A fine phase whose every trial the hypermodel skipped (FailedTrialError): the best coarse trial.

Found by a probe: a hypermodel raising `keras_tuner.errors.FailedTrialError` for one
combination of values (KerasTuner's documented way to skip a configuration) had 3 of 5
coarse trials completed, and both Bayesian fine trials drew that combination; the run
died with `NoCompletedTrialsError` (exit 1), telling the user to fix the hypermodel and
that a rerun fails the same way. The pick rule ("the best fine trial unless a coarse trial
scored better") gives the best coarse trial; a trial that crashed (any other error) still
stops the run. See `tunekit.steps.fine_skips`.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import keras_tuner as kt
import numpy as np
import pytest
from keras_tuner.engine import trial as trial_module

from tunekit.coarse_to_fine import main

# Coarse trials train 1 epoch, fine ones 2 (max_epochs), the retrain 1 (final_epochs):
# `fit` skips (or crashes on) every fine trial and nothing else.
_HYPERMODEL = """
    import keras
    import keras_tuner as kt

    class Skips(kt.HyperModel):
        error = kt.errors.FailedTrialError
        fits = 0

        def build(self, hp):
            model = keras.Sequential([
                keras.Input((8, 8)), keras.layers.Flatten(),
                keras.layers.Dense(hp.Int("units", 4, 16, step=4), activation="relu"),
                keras.layers.Dense(3, activation="softmax")])
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                          metrics=["accuracy"])
            return model

        def fit(self, hp, model, x, y, **kwargs):
            if kwargs.get("epochs") == 2:
                raise type(self).error("2 epochs: too slow for this configuration")
            type(self).fits += 1
            return model.fit(x, y, **kwargs)

    class Crashes(Skips):
        error = ValueError
"""


def _npz(path: Path) -> Path:
    rng = np.random.default_rng(0)

    def split(n):
        y = np.arange(n) % 3
        x = rng.integers(0, 60, (n, 8, 8)).astype(np.uint8)
        for i, label in enumerate(y):
            x[i, (label * 8) // 3] = 250
        return x, y

    (x, y), (x_test, y_test) = split(90), split(30)
    np.savez(path, x_train=x, y_train=y, x_test=x_test, y_test=y_test)
    return path


def _args(tmp_path: Path, hypermodel: str) -> list[str]:
    data = _npz(tmp_path / "data.npz")
    args = ["--hypermodel", f"skipping:{hypermodel}", "--data", str(data)]
    args += ["--directory", str(tmp_path / "runs"), "--project-name", "run"]
    args += ["--backend", "tensorflow", "--finalists", "0", "--no-baseline"]
    args += ["--coarse-trials", "3", "--coarse-epochs", "1", "--fine-tuner", "bayesian"]
    args += ["--fine-trials", "2", "--max-epochs", "2", "--final-epochs", "1"]
    return args + ["--max-consecutive-failed-trials", "5"]  # the budget ends the phase


@pytest.mark.long
def test_every_fine_trial_skipped_picks_the_best_coarse_trial_and_says_so(
    tmp_path, capsys, monkeypatch
):
    """Before: exit 1, `NoCompletedTrialsError: No fine trial completed ...`."""
    (tmp_path / "skipping.py").write_text(textwrap.dedent(_HYPERMODEL))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    args = _args(tmp_path, "Skips")
    assert main(args) == 0
    out = capsys.readouterr().out
    run_dir = tmp_path / "runs" / "run"
    report = json.loads((run_dir / "report.json").read_text())
    fine, coarse = report["phases"]["fine"], report["phases"]["coarse"]
    assert fine["all_skipped"] == 2 and fine["trials"] == 2 and fine["failed"] == 2
    assert fine["best_trial_id"] is None and fine["best_score"] is None
    assert coarse["all_skipped"] is None and coarse["best_trial_id"] is not None
    best = report["best"]
    assert (best["phase"], best["trial_id"]) == ("coarse", coarse["best_trial_id"])
    said = "none of the 2 fine trials completed (each was skipped by a FailedTrialError"
    assert said in best["reason"], best["reason"]
    assert best["reason"].startswith(f"val_accuracy={coarse['best_score']:.4f}, the best coarse")
    markdown = (run_dir / "report.md").read_text()
    row = "| fine | 2 (2 failed), all skipped by the hypermodel's FailedTrialError | - | - |"
    assert row in markdown, markdown
    from tunekit.trial_names import chosen_name

    chosen = chosen_name(run_dir, "coarse", coarse["best_trial_id"])  # its progress number
    assert chosen.startswith("coarse trial ") and chosen[len("coarse trial ")].isdigit()
    assert f"Chosen: {chosen}: " in markdown
    summary = out[out.index("== Summary ==") :]
    assert "fine: none of its 2 trials completed, each skipped by the hypermodel's" in summary
    assert f"Chosen: {chosen}: {best['reason']}" in summary
    assert "The fine phase ends: none of the 2 fine trials completed" in out
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["steps"]["fine"]["status"] == "done"
    assert manifest["steps"]["fine"]["all_skipped"] == 2

    # A rerun reports the finished run: the fine phase is done, its trials not run again.
    fine_files = {p: p.read_text() for p in (run_dir / "fine").glob("trial_*/trial.json")}
    assert main(args) == 0
    again = json.loads((run_dir / "report.json").read_text())
    assert again["best"]["reason"] == best["reason"]
    assert {p: p.read_text() for p in (run_dir / "fine").glob("trial_*/trial.json")} == (fine_files)


@pytest.mark.long
def test_finalists_drawn_from_coarse_trials_alone_say_the_fine_phase_was_skipped(
    tmp_path, capsys, monkeypatch
):
    """Before: the finalists' reason said "best mean val_accuracy over 2 seeds among 2
    finalists" with no word of why no fine trial was among them."""
    (tmp_path / "skipping.py").write_text(textwrap.dedent(_HYPERMODEL))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    args = _args(tmp_path, "Skips")
    args[args.index("--finalists") + 1] = "2"
    assert main([*args, "--finalist-seeds", "1"]) == 0
    report = json.loads((tmp_path / "runs" / "run" / "report.json").read_text())
    best = report["best"]
    assert best["phase"] == "coarse" and "among 2 finalists" in best["reason"], best["reason"]
    said = "none of the 2 fine trials completed (each was skipped by a FailedTrialError"
    assert said in best["reason"] and "every finalist is a coarse trial" in best["reason"]
    assert best["reason"] in capsys.readouterr().out


@pytest.mark.long
def test_fine_trials_that_crashed_still_stop_the_run(tmp_path, capsys, monkeypatch):
    """Any other error than the hypermodel's FailedTrialError is a bug: the stop stays."""
    (tmp_path / "skipping.py").write_text(textwrap.dedent(_HYPERMODEL))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(_args(tmp_path, "Crashes")) == 1
    err = capsys.readouterr().err
    assert "No fine trial completed with a finite val_accuracy (2 ran" in err, err
    assert "ValueError: 2 epochs: too slow for this configuration" in err, err
    manifest = json.loads((tmp_path / "runs" / "run" / "manifest.json").read_text())
    assert manifest["steps"]["fine"]["status"] != "done"
    assert not (tmp_path / "runs" / "run" / "report.json").exists()


def _failed(traceback_text: str) -> trial_module.Trial:
    trial = trial_module.Trial(kt.HyperParameters(), trial_id="0")
    trial.status = trial_module.TrialStatus.FAILED
    trial.message = traceback_text
    return trial


def _traceback(path: str, error: str) -> str:
    return (
        "Traceback (most recent call last):\n"
        '  File "/x/keras_tuner/src/engine/base_tuner.py", line 274, in _try_run\n'
        "    self._run_and_update_trial(trial)\n"
        f'  File "{path}", line 20, in build\n'
        "    raise SomeError()\n"
        f"{error}\n"
    )


class Skip(kt.errors.FailedTrialError):
    """A hypermodel's own subclass of the skip signal."""


def test_only_the_hypermodels_own_failed_trial_error_is_a_skip():
    from tunekit import trial_skips
    from tunekit.steps.fine_skips import all_skipped, skipped_by_hypermodel

    user = str(Path("models.py").resolve())  # a file of the user's, outside tunekit
    skip = _failed(_traceback(user, "keras_tuner.src.errors.FailedTrialError: too slow"))
    assert skipped_by_hypermodel(skip)
    own = _failed(_traceback(user, f"{__name__}.Skip: too slow"))
    assert skipped_by_hypermodel(own)
    crash = _failed(_traceback(user, "ValueError: bad units"))
    assert not skipped_by_hypermodel(crash)
    # tunekit's own FailedTrialErrors (a NaN loss, an oversized model) and refusals: not skips
    tunekit_dir = trial_skips._OWN_DIRS[0]
    nan = _traceback(
        f"{tunekit_dir}/tuners/base.py", "keras_tuner.src.errors.FailedTrialError: The loss"
    )
    assert not skipped_by_hypermodel(_failed(nan))
    refused = _traceback(user, "tunekit.trial_refusals.TrialRefusedError: 9 units")
    assert not skipped_by_hypermodel(_failed(refused))
    completed = _failed(skip.message)
    completed.status = trial_module.TrialStatus.COMPLETED
    assert not skipped_by_hypermodel(completed)
    assert all_skipped([skip, own]) == 2
    assert all_skipped([skip, crash]) == 0  # one crash among them: the run stops
    assert all_skipped([]) == 0
