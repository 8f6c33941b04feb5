"""An idle `CoarseToFine` object holds no lock: a run is locked only while a step works.

Before, the first step an object ran locked the run folder until `close()`:
a notebook kernel idle between cells (the object still alive) made every other
process's `run()`, and even a read such as `get_best_hyperparameters()`, fail
with "Another tunekit process is working on ..." while nothing was working.
"""

from __future__ import annotations

import fcntl
import logging
import os
import subprocess
import sys
import textwrap

import pytest
from conftest import BAYES_BUDGET

from tunekit import CoarseToFine
from tunekit.errors import RunLockedError

BUDGET = {**BAYES_BUDGET, "seed": 0}
MODELS = """
import keras
from tunekit.data import load_npz


def build(hp):
    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(hp.Int("units", 8, 32, step=8), activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def data(path):
    digits = load_npz(path, validation_size=397, seed=0, name="digits28")
    return digits.subset(num_train=200, num_val=100, num_test=100)
"""


def _line(process: subprocess.Popen, expected: str) -> str:
    """The next line `process` prints, which must start with `expected`."""
    line = process.stdout.readline().strip()
    assert line.startswith(expected), (line, process.stderr.read() if not line else "")
    return line


@pytest.fixture
def models(tmp_path):
    """`idle_models.py` (`build`, `data`) in `tmp_path`, imported."""
    (tmp_path / "idle_models.py").write_text(MODELS)
    sys.path.insert(0, str(tmp_path))
    try:
        import idle_models

        yield idle_models
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("idle_models", None)


def _locked(run_dir) -> bool:
    """Whether anyone holds the run's lock (a probe of its own: flock is per open file)."""
    fd = os.open(run_dir / ".lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_a_step_releases_the_lock_and_the_next_reads_a_changed_folder_again(
    tmp_path, models, digits_npz, caplog
):
    digits = models.data(digits_npz)
    settings = dict(directory=tmp_path, project_name="idle", **BUDGET)
    first = CoarseToFine(models.build, digits, **settings)
    coarse = first.coarse()
    assert not _locked(tmp_path / "idle")  # was held until first.close()
    assert first.narrow() is not None and first.coarse() is coarse  # nothing changed: kept
    # Another object starts the run over: the first one's coarse tuner is stale now.
    CoarseToFine(models.build, digits, **{**settings, "overwrite": True}).coarse()
    first.verbose = 1
    with caplog.at_level(logging.INFO, logger="tunekit"):
        first.narrow()
    assert first.tuners["coarse"] is not coarse
    assert "changed since this object last worked on it" in caplog.text
    assert not _locked(tmp_path / "idle")


@pytest.mark.long
def test_an_idle_object_in_another_process_blocks_nothing(tmp_path, models, digits_npz):
    settings = dict(directory=str(tmp_path), project_name="idle", **BUDGET)
    notebook = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        from idle_models import build, data
        from tunekit import CoarseToFine

        run = CoarseToFine(build, data({str(digits_npz)!r}), **{settings!r})
        run.fine()  # both searches done; the object stays, as in a notebook kernel
        coarse = run.tuners["coarse"]
        print("idle", flush=True)
        sys.stdin.readline()
        run.narrow()  # the folder was started over meanwhile: read again, not the old tuner
        print("reloaded", run.tuners["coarse"] is not coarse, flush=True)
        run.manifest  # opened by hand: held until close()
        print("holding", flush=True)
        sys.stdin.readline()
        run.close()
        print("closed", flush=True)
    """)
    process = subprocess.Popen(
        [sys.executable, "-c", notebook],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _line(process, "idle")
        build, digits = models.build, models.data(digits_npz)
        reader = CoarseToFine(build, digits, **settings)
        assert len(reader.get_best_hyperparameters(2)) == 2  # was RunLockedError
        CoarseToFine(build, digits, **{**settings, "overwrite": True}).coarse()
        process.stdin.write("\n")
        process.stdin.flush()
        assert _line(process, "reloaded") == "reloaded True"
        _line(process, "holding")
        with pytest.raises(RunLockedError) as info:
            CoarseToFine(build, digits, **settings).narrow()
        message = str(info.value)
        assert f"Another process (pid {process.pid}, since " in message, message
        assert "until its close()" in message
        process.stdin.write("\n")
        process.stdin.flush()
        _line(process, "closed")
        assert process.wait(timeout=60) == 0
        CoarseToFine(build, digits, **settings).narrow()  # released
    finally:
        process.kill()
        process.wait()
