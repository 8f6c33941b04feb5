"""The retrain's backup restores its previous epoch's copy when the latest is damaged.

Found by a new-user probe: a full disk while Keras wrote the retrain's
`latest.weights.h5` left it truncated, and every rerun stopped on it (`ValueError: A total
of 3 objects could not be loaded`) with a resume command that could never work.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from tunekit.errors import StateFileError
from tunekit.retrain_backup import RetrainBackup


class _Stop(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:  # after the backup of the second epoch
            raise RuntimeError("killed")


def _model() -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile("adam", "mse")
    return model


def _fit(backup: Path, epochs: int = 4, stop: bool = False) -> keras.callbacks.History:
    x, y = np.ones((8, 4), "float32"), np.zeros((8, 2), "float32")
    callbacks = [RetrainBackup(str(backup)), *([_Stop()] if stop else [])]
    return _model().fit(x, y, epochs=epochs, verbose=0, callbacks=callbacks)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:300])


def test_a_damaged_latest_backup_resumes_from_the_previous_epochs_copy(tmp_path):
    backup = tmp_path / "retrain_backup"
    with pytest.raises(RuntimeError, match="killed"):
        _fit(backup, stop=True)
    latest = backup / "latest.weights.h5"
    assert (backup / "latest.weights.h5.bkp").is_file()
    _truncate(latest)  # a full disk while the second epoch's weights were written
    history = _fit(backup)
    assert history.epoch == [1, 2, 3]  # from the first epoch's copy: one epoch again
    assert not backup.exists()  # done: removed, as Keras does


def test_no_loadable_copy_is_said_with_the_folder_to_delete(tmp_path):
    backup = tmp_path / "retrain_backup"
    with pytest.raises(RuntimeError, match="killed"):
        _fit(backup, stop=True)
    _truncate(backup / "latest.weights.h5")
    _truncate(backup / "latest.weights.h5.bkp")
    with pytest.raises(StateFileError, match=rf"Delete the folder {backup} and rerun"):
        _fit(backup)


def test_any_error_loading_the_backup_is_said_with_the_folder_to_delete(tmp_path, monkeypatch):
    """A probe's truncated backup made h5py raise `RuntimeError: Can't get deprecated info for
    object`, which the fallback did not catch: every rerun failed on the raw error."""
    backup = tmp_path / "retrain_backup"
    with pytest.raises(RuntimeError, match="killed"):
        _fit(backup, stop=True)

    def damaged(self, *args, **kwargs):
        raise RuntimeError("Can't get deprecated info for object (addr overflow)")

    monkeypatch.setattr(keras.Model, "load_weights", damaged)
    with pytest.raises(StateFileError, match=r"RuntimeError: Can't get deprecated info"):
        _fit(backup)
