"""The Keras callbacks of every trial and of the final retrain: `TrialFacts`, `InterruptCheck`."""

from __future__ import annotations

import math
from typing import Any

import keras

from tunekit import interrupts
from tunekit.model_size import param_count

__all__ = ["InterruptCheck", "TrialFacts"]


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
