"""The retrain's per-epoch backup, restored from its previous copy when the latest is damaged.

The retrain resumes after a crash, a kill or a Ctrl-C from its last finished
epoch with `keras.callbacks.BackupAndRestore`. Keras writes the backup's
`latest.weights.h5` in place: a full disk while it is written leaves it
truncated, and every rerun then stopped on it (`ValueError: A total of 3
objects could not be loaded`), with a resume command that could never work
and no word on the file. Keras's `double_checkpoint=True` keeps the previous
epoch's copy (`latest.weights.h5.bkp`) and restores it when the latest cannot
be opened (an `OSError`); `RetrainBackup` does so for any error loading it (h5py
raises `RuntimeError: Can't get deprecated info for object` too), and
when no copy loads, stops with `StateFileError` naming the file and the one
fix: delete the backup folder, so the retrain starts from its first epoch.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import keras

from tunekit.errors import StateFileError

__all__ = ["RetrainBackup"]

_LATEST = "latest.weights.h5"
_METADATA = "training_metadata.json"


class RetrainBackup(keras.callbacks.BackupAndRestore):
    """`keras.callbacks.BackupAndRestore(backup_dir, double_checkpoint=True)`, whose restore
    falls back to the previous epoch's copy on any load error (see the module).

    Args:
        backup_dir: The folder of the backup (deleted when the fit ends, as Keras does).

    Raises (in `fit`, at its start):
        StateFileError: Neither the latest backup nor its previous copy loads.
    """

    def __init__(self, backup_dir: str) -> None:
        super().__init__(backup_dir, double_checkpoint=True)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        try:
            super().on_train_begin(logs)
            return
        except Exception as e:  # noqa: BLE001 - h5py's RuntimeError too: any load error
            damaged: BaseException = e
        folder = Path(self.backup_dir)
        previous = folder / f"{_LATEST}.bkp"
        if previous.is_file():
            shutil.copyfile(previous, folder / _LATEST)
            if (folder / f"{_METADATA}.bkp").is_file():
                shutil.copyfile(folder / f"{_METADATA}.bkp", folder / _METADATA)
            try:
                super().on_train_begin(logs)
                return
            except Exception as e:  # noqa: BLE001 - as above
                damaged = e
        raise StateFileError(
            f"The retrain's backup {folder / _LATEST} cannot be loaded "
            f"({type(damaged).__name__}: {str(damaged).splitlines()[0] if str(damaged) else ''}), "
            "nor a previous copy: it was damaged while written (e.g. the disk was full). "
            f"Delete the folder {folder} and rerun the same command: the retrain starts again "
            "from its first epoch; every trial and other step is kept."
        ) from damaged
