"""Nothing of a trial survives it: models, callbacks and TensorBoard writers are released.

The process's memory over many trials is measured by `benchmarks/memory.py`
(`benchmarks/results/memory_<backend>.json`); these tests check, without
timing or RSS, that tunekit itself keeps no trial's objects alive.
"""

from __future__ import annotations

import gc
import weakref
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import pytest

from tunekit.tuners import make_tuner


@pytest.fixture(autouse=True)
def _fast_gc() -> Any:
    """KerasTuner collects twice per trial: freezing the long-lived objects keeps that quick."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


def _data(n: int = 64, features: int = 8) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.random((n, features), dtype=np.float32)
    return x, (x[:, 0] > 0.5).astype("int64")


class _Recording(kt.HyperModel):
    """A tiny eager classifier that keeps a weak reference to every model it builds."""

    def __init__(self) -> None:
        super().__init__()
        self.models: list[weakref.ref[keras.Model]] = []

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        model = keras.Sequential(
            [
                keras.Input((8,)),
                keras.layers.Dense(hp.Int("units", 2, 16), activation="relu"),
                keras.layers.Dense(2, activation="softmax"),
            ]
        )
        model.compile(
            optimizer="adam",
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            run_eagerly=True,
        )
        self.models.append(weakref.ref(model))
        return model


# It once failed with "1 of 5 trial models still referenced": the last trial's checkpoint
# callback (tunekit's BestEpochWeights, which holds its model) was kept by the tuner until
# the next trial; now dropped when each trial ends.
def test_no_trial_model_or_callback_survives_a_search(tmp_path: Any) -> None:
    hypermodel = _Recording()
    tuner = make_tuner(
        "random",
        hypermodel,
        objective="val_accuracy",
        max_trials=4,
        seed=0,
        directory=str(tmp_path),
        project_name="memory",
    )
    x, y = _data()
    board = keras.callbacks.TensorBoard(str(tmp_path / "tb"), write_graph=False)
    tuner.search(
        x, y, validation_data=(x, y), epochs=1, batch_size=32, callbacks=[board], verbose=0
    )
    gc.collect()
    assert len(tuner.oracle.trials) == 4
    assert len(hypermodel.models) >= 4
    alive = [ref() for ref in hypermodel.models if ref() is not None]
    assert alive == [], f"{len(alive)} of {len(hypermodel.models)} trial models still referenced"
    # Copies of this test's callback only: other tests' objects may live in this process.
    copies = [
        o
        for o in gc.get_objects()
        if isinstance(o, keras.callbacks.TensorBoard)
        and o is not board
        and str(o.log_dir).startswith(str(tmp_path))
    ]
    assert copies == [], f"{len(copies)} per-trial TensorBoard callbacks still referenced"


class _Interrupt(keras.callbacks.Callback):
    def on_train_begin(self, logs: Any = None) -> None:
        raise KeyboardInterrupt


def _tuner(tmp_path: Any, name: str) -> Any:
    return make_tuner(
        "random",
        _Recording(),
        objective="val_accuracy",
        max_trials=2,
        seed=0,
        directory=str(tmp_path),
        project_name=name,
    )


def test_a_search_that_raises_leaves_no_object_frozen(tmp_path: Any) -> None:
    # The search freezes the long-lived objects for KerasTuner's per-trial collections.
    # It once unfroze them only when the search ended normally: after a Ctrl-C every
    # object of the process stayed out of the collector's reach (never freed) until the
    # next search ended.
    gc.unfreeze()  # as a process that froze nothing
    x, y = _data()
    with pytest.raises(KeyboardInterrupt):
        _tuner(tmp_path, "raises").search(
            x, y, validation_data=(x, y), epochs=1, callbacks=[_Interrupt()], verbose=0
        )
    assert gc.get_freeze_count() == 0


def test_a_search_keeps_what_the_user_froze(tmp_path: Any) -> None:
    # A process that froze objects itself (as this module's fixture, or a server before
    # forking) finds them frozen after a search, not thawed by it.
    marker = _Recording()
    gc.freeze()
    x, y = _data()
    _tuner(tmp_path, "kept").search(x, y, validation_data=(x, y), epochs=1, verbose=0)
    assert gc.get_freeze_count() > 0
    assert not any(o is marker for o in gc.get_objects()), "the user's frozen objects thawed"
