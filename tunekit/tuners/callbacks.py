"""The Keras callbacks of every trial and of the final retrain.

`TrialFacts`, `InterruptCheck`, and `BestEpochWeights` (a trial's best-epoch
checkpoint, written once).
"""

from __future__ import annotations

import math
from typing import Any

import keras

from tunekit import _kerastuner, interrupts
from tunekit.model_size import param_count

__all__ = ["BestEpochWeights", "InterruptCheck", "TrialFacts"]


class TrialFacts(keras.callbacks.Callback):
    """Counts parameters and epochs, and stops training on a NaN or infinite loss.

    The parameter count is read once the model is built: at the start of
    training, or after the first batch for a model that builds itself on its
    first batch (a Sequential without an `Input`, a subclassed model).
    `nan_at` is `(epoch, batch)` (batch `None` for a validation loss) once it
    stopped training. Used in every trial and in the final retrain.
    """

    def __init__(self) -> None:
        super().__init__()
        self.num_params = 0
        self.epochs = 0
        self.nan_at: tuple[int, int | None] | None = None
        self._epoch = 0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.num_params = param_count(self.model) or 0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if not self.num_params:  # a lazily built model is built by its first batch
            self.num_params = param_count(self.model) or 0
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.nan_at = (self._epoch, batch)
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epochs += 1
        # A loss can overflow in validation only (e.g. huge weights): that fails too.
        for name, value in (logs or {}).items():
            if name.endswith("loss") and not math.isfinite(float(value)):
                self.nan_at = self.nan_at or (epoch, None)
                self.model.stop_training = True


class BestEpochWeights(_kerastuner.SaveBestEpoch):
    """KerasTuner's best-epoch checkpoint, written once when training ends.

    KerasTuner's `SaveBestEpoch` writes the model's weights file at every
    epoch that improves the objective (most epochs of a trial). This one
    keeps a copy of the best epoch's weights in memory (`get_weights()`) and
    writes the same file, with those weights, once at the end of the fit: what
    Hyperband's continued trials and `get_best_models` read. A fit that
    raises (an interrupt) writes nothing; its trial is run again.

    Args:
        objective: The tuner's objective.
        filepath: The trial's checkpoint file.
    """

    def __init__(self, objective: Any, filepath: str) -> None:
        super().__init__(objective=objective, filepath=filepath)
        self._best: list[Any] | None = None

    def _save_model(self) -> None:
        self._best = self.model.get_weights()  # a copy, written at on_train_end

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self._best is None:
            return
        current = self.model.get_weights()
        self.model.set_weights(self._best)
        super()._save_model()
        self.model.set_weights(current)
        self._best = None


class InterruptCheck(keras.callbacks.Callback):
    """Stops training at the next batch after Ctrl-C or SIGTERM (see `tunekit.interrupts`).

    Raises `tunekit.interrupts.Interrupted` out of `fit`, `evaluate` or
    `predict` rather than setting `stop_training`: an interrupted trial must
    not end as COMPLETED with the score of its first epochs. KerasTuner leaves
    it RUNNING, and a rerun retries it. A no-op unless the command line
    installed its signal handlers.
    """

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        interrupts.check()

    def on_test_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        interrupts.check()

    def on_predict_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        interrupts.check()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        interrupts.check()
