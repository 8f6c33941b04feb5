"""Trial callbacks' per-batch hooks: Keras may run them off the training loop; they still work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import pytest

from tunekit import timing
from tunekit.tuners.callbacks import EpochTensorBoard, InterruptCheck, TrialFacts

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def thread_safe_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on JAX: Keras may dispatch batch hooks on its callback thread."""
    from keras.src import backend

    monkeypatch.setattr(backend, "IS_THREAD_SAFE", True)


def test_a_trials_callbacks_let_keras_run_batch_hooks_off_the_loop(
    tmp_path: Path, thread_safe_backend: None
) -> None:
    clock = timing.FitClock()
    board = EpochTensorBoard(log_dir=str(tmp_path), write_graph=False)
    callbacks = keras.callbacks.CallbackList(
        clock.instrument([board, TrialFacts(), InterruptCheck()])
    )
    assert callbacks._async_train and callbacks._async_test and callbacks._async_predict
    # Keras' own TensorBoard, even logging per epoch only, makes the loop wait for each batch.
    plain = keras.callbacks.TensorBoard(log_dir=str(tmp_path), write_graph=False)
    assert not keras.callbacks.CallbackList([plain])._async_train


def test_epoch_tensorboard_keeps_per_batch_work_when_asked_for(
    tmp_path: Path, thread_safe_backend: None
) -> None:
    board = EpochTensorBoard(log_dir=str(tmp_path), update_freq="batch", write_graph=False)
    assert board.async_safe is False
    assert not keras.callbacks.CallbackList([board])._async_train
    graph = EpochTensorBoard(log_dir=str(tmp_path))  # write_graph=True: written at a batch end
    assert graph.async_safe is False


def test_epoch_tensorboard_still_writes_each_epochs_logs(tmp_path: Path) -> None:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x = keras.random.uniform((32, 4), seed=0)
    board = EpochTensorBoard(log_dir=str(tmp_path), write_graph=False)
    model.fit(x, x[:, :1], validation_data=(x, x[:, :1]), epochs=2, verbose=0, callbacks=[board])
    assert list((tmp_path / "train").glob("events.out.tfevents.*"))
    assert list((tmp_path / "validation").glob("events.out.tfevents.*"))


_ASYNC_SCRIPT = textwrap.dedent(
    """
    import json, os, signal
    import keras, numpy as np
    from tunekit import interrupts
    from tunekit.tuners.callbacks import EpochTensorBoard, InterruptCheck, TrialFacts

    class Count(keras.callbacks.Callback):
        async_safe = True
        def __init__(self, signal_at=None):
            super().__init__()
            self.batches, self.signal_at = 0, signal_at
        def on_train_batch_begin(self, batch, logs=None):
            self.batches += 1
            if self.batches == self.signal_at:
                os.kill(os.getpid(), signal.SIGINT)

    def model():
        m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        m.compile("sgd", "mse")
        return m

    out = {}
    x = np.ones((400, 4), "float32")
    y = np.ones((400, 1), "float32")
    y[7 * 4] = np.inf  # batch 7 (of 4 samples) of the second epoch has an infinite loss
    facts, count = TrialFacts(), Count()
    callbacks = [count, EpochTensorBoard(log_dir=os.environ["TB"], write_graph=False), facts]
    x2, y2 = np.concatenate([x[:100], x]), np.concatenate([np.ones((100, 1), "float32"), y])
    m = model()
    m.fit(x2, y2, batch_size=4, epochs=1, shuffle=False, verbose=0, callbacks=callbacks)
    lst = keras.callbacks.CallbackList(callbacks)
    out["async"] = lst._async_train
    out["nan_at"] = facts.nan_at
    out["nan_batches"] = count.batches
    out["num_params"] = facts.num_params

    count = Count(signal_at=30)
    try:
        with interrupts.handle_signals():
            model().fit(x, x[:, :1], batch_size=4, epochs=3, verbose=0,
                        callbacks=[count, TrialFacts(), InterruptCheck()])
        out["interrupted"] = False
    except interrupts.Interrupted:
        out["interrupted"] = True
    out["interrupt_batches"] = count.batches
    print("RESULT=" + json.dumps(out))
    """
)


@pytest.mark.slow  # a JAX process: about 20 s alone, 95 s on the shared machine
def test_async_batch_hooks_still_stop_at_a_nan_and_at_an_interrupt(tmp_path: Path) -> None:
    """On JAX (thread-safe: batch hooks run on Keras' callback thread), a NaN loss and a
    Ctrl-C still stop training within a couple of batches, at the right batch."""
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "PYTHONPATH": str(ROOT),
        "TB": str(tmp_path / "tb"),
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    proc = subprocess.run(
        [sys.executable, "-c", _ASYNC_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT=")]
    assert lines, proc.stderr[-3000:]
    out = json.loads(lines[0][len("RESULT=") :])
    assert out["async"] is True
    assert out["nan_at"] == [0, 25 + 7]  # 25 finite batches, then the 8th of the rest
    assert 34 <= out["nan_batches"] <= 36  # stopped within a batch or two of it
    assert out["num_params"] == 5
    assert out["interrupted"] is True
    assert 30 <= out["interrupt_batches"] <= 31


class _Watcher(keras.callbacks.Callback):
    """A callback class of a user's with a `monitor`: tunekit cannot tell whether it reads it."""

    def __init__(self, monitor: str) -> None:
        super().__init__()
        self.monitor = monitor


_CHECKPOINT = "ckpt.keras"  # never written: the callbacks are only constructed
# (callback, the warning's words on what it does in the retrain, or None: no warning)
_RETRAIN_MONITORS = [
    (lambda: keras.callbacks.EarlyStopping(monitor="val_loss"), "never stops training ("),
    (
        lambda: keras.callbacks.EarlyStopping(
            monitor="val_accuracy", restore_best_weights=True, start_from_epoch=2
        ),
        "never stops training nor restores the best weights",
    ),
    (lambda: keras.callbacks.EarlyStopping(monitor="loss"), None),
    (lambda: keras.callbacks.ReduceLROnPlateau(monitor="val_loss"), "never lowers the learning"),
    (lambda: keras.callbacks.ReduceLROnPlateau(monitor="loss"), None),
    # save_best_only=False (the default) saves every epoch whatever its monitor
    (lambda: keras.callbacks.ModelCheckpoint(_CHECKPOINT, monitor="val_loss"), None),
    (lambda: keras.callbacks.ModelCheckpoint(_CHECKPOINT), None),  # monitor="val_loss"
    (
        lambda: keras.callbacks.ModelCheckpoint(
            _CHECKPOINT, monitor="val_loss", initial_value_threshold=0.5
        ),
        None,  # the threshold serves save_best_only only
    ),
    (
        lambda: keras.callbacks.ModelCheckpoint(
            _CHECKPOINT, monitor="val_loss", save_best_only=True
        ),
        "saves every epoch, not only the best",
    ),
    (
        lambda: keras.callbacks.ModelCheckpoint(
            _CHECKPOINT, monitor="val_loss", save_best_only=True, save_freq=5
        ),
        None,  # batch logs: no val_loss in the trials either
    ),
    (
        lambda: keras.callbacks.ModelCheckpoint(_CHECKPOINT, monitor="loss", save_best_only=True),
        None,
    ),
    (lambda: _Watcher("val_loss"), "if _Watcher reads its monitor, it finds none"),
    (lambda: _Watcher("loss"), None),
]


_IDS = [
    "EarlyStopping-val",
    "EarlyStopping-val-restore",
    "EarlyStopping-loss",
    "ReduceLROnPlateau-val",
    "ReduceLROnPlateau-loss",
    "ModelCheckpoint-val-every-epoch",
    "ModelCheckpoint-default-monitor",
    "ModelCheckpoint-val-threshold-only",
    "ModelCheckpoint-val-best-only",
    "ModelCheckpoint-val-best-only-batches",
    "ModelCheckpoint-loss-best-only",
    "own-class-val",
    "own-class-loss",
]


@pytest.mark.parametrize(("make", "effect"), _RETRAIN_MONITORS, ids=_IDS)
def test_a_callback_is_said_to_act_in_the_trials_only_when_it_reads_a_validation_metric(
    tmp_path, caplog, make, effect
):
    """Keras's own warning in the retrain ("val_loss which is not available") came after the
    whole search, without saying why; then a new user's ModelCheckpoint(monitor='val_loss')
    was said to do nothing in the retrain, where (save_best_only=False) it saves every epoch
    as in the trials: the warning keyed on `monitor` alone, not on whether it is read."""
    import logging

    import numpy as np

    from tunekit import CoarseToFine
    from tunekit.data import Dataset

    def build(hp):
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])

    data = Dataset.from_arrays(np.zeros((40, 4)), np.arange(40) % 2)
    caplog.set_level(logging.WARNING, logger="tunekit")
    callback = make()
    CoarseToFine(build, data, directory=tmp_path, callbacks=[callback])
    said = [r.getMessage() for r in caplog.records if "acts in the search's trials" in r.message]
    if effect is None:
        assert said == []
        return
    assert len(said) == 1, said
    assert said[0].startswith(f"{type(callback).__name__}(monitor={callback.monitor!r}) acts")
    assert "the final retrain on train+validation has no validation data" in said[0]
    assert effect in said[0]


def test_a_fit_announces_the_epochs_planned_whatever_model_fit_receives() -> None:
    """Found by new users: a hypermodel's own `fit` that called `model.fit` once per epoch
    was announced as "1 epoch", and one with its own loop (no `epochs`) as "0 epochs"."""
    import numpy as np

    from tunekit.tuners import AnnounceFit

    said: list[str] = []
    x, y = np.zeros((8, 2), "float32"), np.zeros(8, "float32")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    announce = AnnounceFit(said.append, lambda n: f"Training for {n} epochs.", planned=3)
    for _ in range(3):  # the fit's own loop: one model.fit per epoch
        model.fit(x, y, epochs=1, verbose=0, callbacks=[announce])
    assert said == [
        "Training for 3 epochs. That is the epochs=3 tunekit passes to the hypermodel's own "
        "fit; its first model.fit received epochs=1: the epochs trained are the fit's own."
    ]
    said.clear()
    own_loop = AnnounceFit(said.append, lambda n: f"Training for {n} epochs.", planned=3)
    own_loop.set_model(model)  # a custom loop: only the epoch hooks, no params
    for epoch in range(3):
        own_loop.on_epoch_begin(epoch)
    assert said == ["Training for 3 epochs."]
    said.clear()
    same = AnnounceFit(said.append, lambda n: f"Training for {n} epochs.", planned=2)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[same])
    assert said == ["Training for 2 epochs."]
    with pytest.raises(ValueError, match=r"`planned` must be an int >= 1. Received: planned=0"):
        AnnounceFit(said.append, str, planned=0)
