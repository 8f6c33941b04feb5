"""A trial stopped by the machine stops the search unfinished; the rerun runs it again.

Found by a new-user probe: a full disk while KerasTuner wrote a fine trial's checkpoint
(h5py's `OSError: [Errno 28] Can't synchronously write data`) was saved as that trial's
failure, never run again; the run went on and its finalists and test score changed with
the moment the disk filled, exit 0.
"""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import pytest

from tunekit import CoarseToFine, TrialMachineError
from tunekit.data import Dataset
from tunekit.tuners.machine_errors import machine_cause


class DiskFills(kt.HyperModel):
    """Its fit raises `OSError(raised)` in fit number `FAIL_AT` (class-wide count)."""

    FAIL_AT: int | None = 2
    RAISED: OSError = OSError(errno.ENOSPC, "No space left on device")
    fits = 0

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        model = keras.Sequential(
            [
                keras.Input((8,)),
                keras.layers.Dense(hp.Int("units", 2, 8, step=2)),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    def fit(self, hp: kt.HyperParameters, model: keras.Model, *args: Any, **kwargs: Any) -> Any:
        type(self).fits += 1
        if type(self).fits == type(self).FAIL_AT:
            try:
                raise type(self).RAISED
            except OSError as e:  # as h5py's write inside Keras's: a cause along the chain
                raise RuntimeError("Unable to save the checkpoint") from e
        return model.fit(*args, **kwargs)


def _data() -> Dataset:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 240)
    x = (rng.normal(size=(240, 8)) + y[:, None]).astype("float32")
    return Dataset.from_arrays(x, y, seed=0)


def _run(tmp_path: Path) -> CoarseToFine:
    return CoarseToFine(
        DiskFills(),
        _data(),
        directory=tmp_path,
        project_name="r",
        coarse_trials=3,
        coarse_epochs=1,
        batch_size=32,
        verbose=0,
    )


def _statuses(tmp_path: Path) -> dict[str, str]:
    folder = tmp_path / "r" / "coarse"
    return {
        p.parent.name: json.loads(p.read_text())["status"]
        for p in folder.glob("trial_*/trial.json")
    }


def test_a_full_disk_in_a_trial_stops_the_search_and_the_rerun_runs_that_trial(tmp_path):
    DiskFills.fits, DiskFills.FAIL_AT = 0, 2
    DiskFills.RAISED = OSError(errno.ENOSPC, "No space left on device")
    with pytest.raises(
        TrialMachineError, match=r"coarse trial 2 \(id 1, .*\) stopped on the machine"
    ):
        _run(tmp_path).coarse()
    assert "FAILED" not in _statuses(tmp_path).values()  # not the configuration's failure
    DiskFills.FAIL_AT = None  # space freed: the same command again
    _run(tmp_path).coarse()
    statuses = _statuses(tmp_path)
    assert statuses == {"trial_0": "COMPLETED", "trial_1": "COMPLETED", "trial_2": "COMPLETED"}


@pytest.mark.parametrize(
    "raised, machine",
    [
        (OSError(errno.ENOSPC, "No space left on device"), True),
        (OSError(errno.EROFS, "Read-only file system"), True),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), True),
        (FileNotFoundError(errno.ENOENT, "No such file", "my_vocab.txt"), False),
        (PermissionError(errno.EACCES, "Permission denied"), False),
        (ValueError("a configuration's own error"), False),
    ],
)
def test_only_the_machines_faults_stop_a_search(raised, machine):
    try:
        try:
            raise raised
        except Exception as e:
            raise RuntimeError("wrapped") from e
    except RuntimeError as outer:
        assert (machine_cause(outer) is raised) is machine


def test_another_os_error_stays_the_trials_failure(tmp_path):
    """A file the hypermodel names that does not exist is its own fault: KerasTuner's rule."""
    DiskFills.fits, DiskFills.FAIL_AT = 0, 2
    DiskFills.RAISED = FileNotFoundError(errno.ENOENT, "No such file", "my_vocab.txt")
    _run(tmp_path).coarse()
    assert sorted(_statuses(tmp_path).values()) == ["COMPLETED", "COMPLETED", "FAILED"]
