"""The Keras callbacks of every trial and of the final retrain.

`TrialFacts`, `InterruptCheck`, `BestEpochWeights` (a trial's best-epoch
checkpoint, written once) and `EpochTensorBoard` (TensorBoard logs per epoch,
with no per-batch work).

Per-batch hooks: Keras 3 runs a callback list's `on_*_batch_end` on a worker
thread (the training loop does not wait for each batch's logs) only when every
callback in it either leaves those hooks alone or declares `async_safe`
(`keras.callbacks.CallbackList`; on backends whose `IS_THREAD_SAFE` is true,
JAX among them; TensorFlow waits for every batch in any case). tunekit's
callbacks act in `on_*_batch_begin` (always on the training loop's thread),
and `TrialFacts`' one `on_train_batch_end` only reads the loss and records it
(`async_safe`): stopping training from the callback thread races with JAX's
next step (Keras 3.15: "Array has been deleted").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from tunekit import _kerastuner, interrupts
from tunekit.model_size import param_count

__all__ = [
    "AnnounceFit",
    "BestEpochWeights",
    "EpochTensorBoard",
    "InterruptCheck",
    "TensorBoard",
    "TrialFacts",
    "empty_stream_message",
]


class TrialFacts(keras.callbacks.Callback):
    """Counts parameters and epochs, and stops training on a NaN or infinite loss, or
    at an epoch that trained on no batch (`empty_epoch`).

    The parameter count is read once the model is built: at the start of
    training, or at the end of the first epoch (or of training) for a model
    that builds itself on its first batch (a Sequential without an `Input`, a
    subclassed model). `nan_at` is `(epoch, batch)` (batch `None` for a
    validation loss) once it stopped training: the first non-finite batch loss,
    recorded by the batch-end hook (which may run on Keras' callback thread:
    `async_safe`); the next batch's begin hook, on the loop's thread, stops
    training (a batch or two later). Used in every trial and in the final
    retrain. `empty_stream_message` says what an `empty_epoch` means.
    """

    async_safe = True  # the batch-end hook only records; stopping is done on the loop's thread

    def __init__(self, expect_batches: bool = False) -> None:
        super().__init__()
        #: Whether an epoch without a batch is empty (an earlier fit of the search trained
        #: on batches); within a fit, an earlier epoch's batches say so. A fit of the
        #: user's own that calls the epoch hooks without batch hooks never sets either.
        self.expect_batches = expect_batches
        self.batches = 0  # training batches that ended, in all epochs
        self.epoch_batches: list[int] = []  # per epoch: fewer in the last when stopped in it
        self.num_params = 0
        self.epochs = 0
        self.nan_at: tuple[int, int | None] | None = None
        #: The first epoch (from 0) in which no training batch ended: the data ran out (a
        #: stream that cannot be replayed); Keras only warns and goes on with no step.
        self.empty_epoch: int | None = None
        #: What Keras logged at each epoch's end, by name (`tunekit.tuners.returned`).
        self.logged: dict[str, list[float]] = {}
        self._epoch = 0
        self._batches = 0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.num_params = param_count(self.model) or 0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch
        self._batches = 0

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.nan_at is not None:
            self.model.stop_training = True

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._batches += 1
        self.batches += 1
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            where = (self._epoch, batch)
            if self.nan_at is None or where < self.nan_at:  # threads may finish out of order
                self.nan_at = where

    def _count_params(self) -> None:
        if not self.num_params:  # a lazily built model is built by its first batch
            self.num_params = param_count(self.model) or 0

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._count_params()  # training that stopped in its first epoch

    def fit_returned(self) -> None:
        """The trial's `fit` returned: counts the parameters if no hook did (an own loop)."""
        if self.model is not None:
            self._count_params()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._count_params()
        self.epochs += 1
        self.epoch_batches.append(self._batches)
        expected = self.expect_batches or self.batches > self._batches
        if not self._batches and expected and self.empty_epoch is None:
            self.empty_epoch = epoch
            self.model.stop_training = True
        if self.nan_at is not None:  # a NaN in the epoch's last batch
            self.model.stop_training = True
        for name, value in (logs or {}).items():
            if isinstance(value, (int, float)) or getattr(value, "ndim", None) == 0:
                self.logged.setdefault(name, []).append(float(value))
        # A loss can overflow in validation only (e.g. huge weights): that fails too.
        for name, value in (logs or {}).items():
            if name.endswith("loss") and not math.isfinite(float(value)):
                self.nan_at = self.nan_at or (epoch, None)
                self.model.stop_training = True


def empty_stream_message(facts: TrialFacts, what: str) -> str:
    """Why `what` (e.g. "Trial 1") stopped at `facts.empty_epoch`, and the fix."""
    return (
        f"{what} trained on no batch in epoch {int(facts.empty_epoch or 0) + 1}: the training "
        "data ran out after its first pass (Keras warned 'Your input ran out of data' and "
        "went on without a step, so the scores would be those of an untrained model). "
        "A stream must start over each time it is read, once per epoch of every trial: "
        "e.g. tf.data.Dataset.from_generator(make_batches) with a function that returns a "
        "new generator, not `lambda: it` over one iterator; a PyDataset whose "
        "__getitem__ reads by index."
    )


class BestEpochWeights(_kerastuner.SaveBestEpoch):
    """KerasTuner's best-epoch checkpoint, written once when the fit is over.

    KerasTuner's `SaveBestEpoch` writes the model's weights file at every
    epoch that improves the objective (most epochs of a trial). This one
    keeps a copy of the best epoch's weights in memory (`get_weights()`) and
    writes the same file, with those weights, once: at `on_train_end`, or,
    for a hypermodel's own training loop that calls only `on_epoch_end`
    (KerasTuner's custom-loop guide), when tunekit's trial sees its `fit`
    return (`fit_returned`). That file is what Hyperband's continued trials
    and `get_best_models` read. A fit that raises (an interrupt) writes
    nothing; its trial is run again.

    Args:
        objective: The tuner's objective.
        filepath: The trial's checkpoint file.
    """

    def __init__(self, objective: Any, filepath: str) -> None:
        super().__init__(objective=objective, filepath=filepath)
        self._best: list[Any] | None = None
        #: Whether the file was written (by this object, in this process).
        self.written = False
        #: Epoch ends it was given, in all fits.
        self.epochs = 0

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epochs += 1
        super().on_epoch_end(epoch, logs)

    def _save_model(self) -> None:
        self._best = self.model.get_weights()  # a copy, written at on_train_end

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self.fit_returned()

    def fit_returned(self) -> None:
        """Writes the best epoch's weights kept since the last write, if any (once)."""
        if self._best is None:
            return
        current = self.model.get_weights()
        self.model.set_weights(self._best)
        super()._save_model()
        self.model.set_weights(current)
        self._best = None
        self.written = True


class AnnounceFit(keras.callbacks.Callback):
    """Says one line when training starts, with the epochs tunekit planned for the fit.

    The count said is `planned`, the `epochs` tunekit passes: a hypermodel's
    own `fit` may call `model.fit` several times (e.g. one epoch per call) or
    run its own loop without `epochs`, so the first `model.fit`'s count (or
    none, said as 0 before) is not the fit's. When that first `model.fit`
    received another count (a `fit` that sets its own, or one epoch per call),
    the line says that count too; what the fit trained is recorded after it. Said once, at the first
    `on_train_begin` or `on_epoch_begin` it sees (a custom loop may call only
    the epoch hooks).

    Args:
        say: Where the line goes, e.g. the run's progress logger.
        line: Makes the line from the planned epoch count.
        planned: The `epochs` tunekit passes to the fit, at least 1.

    Raises:
        ValueError: `planned` is below 1.
    """

    def __init__(
        self, say: Callable[[str], None], line: Callable[[int], str], *, planned: int
    ) -> None:
        super().__init__()
        if isinstance(planned, bool) or not isinstance(planned, int) or planned < 1:
            raise ValueError(f"`planned` must be an int >= 1. Received: planned={planned!r}.")
        self._say = say
        self._line = line
        self.planned = planned
        self._said = False

    def _announce(self) -> None:
        if self._said:
            return
        self._said = True
        text = self._line(self.planned)
        received = (self.params or {}).get("epochs")
        if isinstance(received, int) and received > 0 and received != self.planned:
            text += (
                f" That is the epochs={self.planned} tunekit passes to the hypermodel's own fit;"
                f" its first model.fit received epochs={received}: the epochs trained are the"
                " fit's own."
            )
        self._say(text)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._announce()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._announce()


class InterruptCheck(keras.callbacks.Callback):
    """Stops training at the next batch after Ctrl-C or SIGTERM (see `tunekit.interrupts`).

    Raises `tunekit.interrupts.Interrupted` out of `fit`, `evaluate` or
    `predict` rather than setting `stop_training`: an interrupted trial must
    not end as COMPLETED with the score of its first epochs. KerasTuner leaves
    it RUNNING, and a rerun retries it. A no-op unless the command line
    installed its signal handlers.

    It checks at each batch's begin, on the training loop's thread: a
    batch-end hook would make Keras wait for every batch's result (see the
    module docstring).
    """

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        interrupts.check()

    def on_test_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        interrupts.check()

    def on_predict_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        interrupts.check()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        interrupts.check()


def scalar_logs(logs: dict[str, Any] | None) -> dict[str, Any] | None:
    """`logs` with each vector value `(k,)` split into `k` scalars named `name/i`."""
    if not logs:
        return logs
    out: dict[str, Any] = {}
    for name, value in logs.items():
        shape = np.shape(value)
        if len(shape) == 0:
            out[name] = value
        elif shape == (1,):
            out[name] = np.ravel(value)[0]
        else:
            out.update({f"{name}/{i}": v for i, v in enumerate(np.ravel(value))})
    return out


class TensorBoard(keras.callbacks.TensorBoard):
    """Keras' `TensorBoard`, for an uncompiled model too.

    A hypermodel's own training loop (KerasTuner's documented custom-loop
    `fit`, which calls `callback.on_epoch_end` itself) may train a model it
    never compiled: there is no optimizer, so no learning rate to log.
    Keras' callback reads `model.optimizer` and fails the trial; this one
    logs the rest; such a loop never calls `on_train_end` either, so its
    event files are closed when tunekit's trial sees the `fit` return
    (`fit_returned`). A metric with one value per threshold
    (`Precision(thresholds=[0.3, 0.5])`, shape `(k,)`) is logged as `k`
    scalars, `precision/0` ... `precision/k-1`: Keras' callback fails the
    trial on it ("Expected scalar shape").

    Args:
        **kwargs: `keras.callbacks.TensorBoard`'s arguments.
    """

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        super().on_epoch_end(epoch, scalar_logs(logs))

    def on_test_end(self, logs: dict[str, Any] | None = None) -> None:
        super().on_test_end(scalar_logs(logs))

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        super().on_train_batch_end(batch, scalar_logs(logs))

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._ended = False
        super().on_train_begin(logs)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        super().on_train_end(logs)
        self._ended = True

    def fit_returned(self) -> None:
        """Closes (flushes) the event files if training never ended (an own loop's fit)."""
        if not getattr(self, "_ended", False) and getattr(self, "_writers", None):
            self._close_writers()
            self._writers: dict[str, Any] = {}  # a further fit opens new ones
        self._ended = True

    def _collect_learning_rate(self, logs: dict[str, Any]) -> dict[str, Any]:
        if getattr(self.model, "optimizer", None) is None:
            return logs
        return super()._collect_learning_rate(logs)


class EpochTensorBoard(TensorBoard):
    """Keras' `TensorBoard` without its per-batch work when it logs per epoch only.

    With `update_freq="epoch"`, no profiling, no steps-per-second and no
    graph, Keras' `on_train_batch_end` writes nothing (its batch summaries
    have no writer) but still runs at every batch, and, being a batch hook,
    makes Keras wait for each batch's logs (see the module docstring). Here it
    does nothing in that configuration and the callback is `async_safe`; any
    other configuration behaves exactly as `keras.callbacks.TensorBoard`.

    Args:
        **kwargs: `keras.callbacks.TensorBoard`'s arguments.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._epoch_only = (
            self.update_freq == "epoch"
            and not self._should_trace
            and not self.write_steps_per_second
            and not self.write_graph
        )
        self.async_safe = self._epoch_only

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if not self._epoch_only:
            super().on_train_batch_end(batch, logs)
