"""TensorBoard HParams for every trial, on any Keras backend.

KerasTuner adds TensorBoard's HParams callback to each trial itself, but only
on the TensorFlow backend, without an experiment config (`hparams_config`), with
inactive conditional values and its internal `tuner/...` values as if they
were hyperparameters, and with wrong domains for log-sampled stepped values.
tunekit replaces that step (see `tuners._TunekitTunerMixin`): each trial's log
dir (KerasTuner's layout, `<logdir>/<trial_id>/execution<k>`) gets a session
with the trial's active values and its phase, and each phase declares its
experiment with the real domains of its space.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import keras
import keras_tuner as kt
import numpy as np

__all__ = [
    "METRICS",
    "HParamsSession",
    "configure_trial_logdirs",
    "hparam_values",
    "log_images",
    "write_experiment",
]

# (tag written by keras.callbacks.TensorBoard, its run subfolder, display name)
METRICS = (
    ("epoch_accuracy", "validation", "val_accuracy"),
    ("epoch_loss", "validation", "val_loss"),
    ("epoch_accuracy", "train", "accuracy"),
    ("epoch_loss", "train", "loss"),
)
_MAX_DISCRETE = 64


def _domain(hp: Any):
    from tensorboard.plugins.hparams import api as hp_api

    hps = kt.engine.hyperparameters
    config = hp.get_config()
    if isinstance(hp, hps.Fixed):
        return hp_api.Discrete([config["value"]])
    if isinstance(hp, hps.Boolean):
        return hp_api.Discrete([False, True])
    if isinstance(hp, hps.Choice):
        return hp_api.Discrete(list(config["values"]))
    if isinstance(hp, hps.Int):
        low, high, step = config["min_value"], config["max_value"], config.get("step")
        if config.get("sampling", "linear") == "linear" and step:
            values = list(range(low, high + 1, step))
            if len(values) <= _MAX_DISCRETE:
                return hp_api.Discrete(values)
        return hp_api.IntInterval(int(low), int(high))
    return hp_api.RealInterval(float(config["min_value"]), float(config["max_value"]))


def write_experiment(
    logdir: str | os.PathLike, space: kt.HyperParameters, phases: Iterable[str]
) -> None:
    """Declares an HParams experiment in `logdir` with the domains of `space`.

    Args:
        logdir: Folder of the experiment (`tensorboard --logdir` it).
        space: The `HyperParameters` whose ranges become the domains (the
            coarse space for the whole run: every narrowed space lies inside it).
        phases: Values of the extra `phase` hyperparameter, which lets the
            HParams table filter trials by phase.
    """
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp_api

    hparams = [hp_api.HParam(hp.name, _domain(hp)) for hp in space.space]
    hparams.append(hp_api.HParam("phase", hp_api.Discrete(sorted(phases))))
    metrics = [hp_api.Metric(tag, group=group, display_name=name) for tag, group, name in METRICS]
    writer = tf.summary.create_file_writer(os.fspath(logdir))
    with writer.as_default():
        hp_api.hparams_config(hparams=hparams, metrics=metrics)
    writer.close()


def hparam_values(hp: kt.HyperParameters, phase: str) -> dict[str, Any]:
    """A trial's active hyperparameter values (no `tuner/...`), plus its phase."""
    values = {
        name: value for name, value in hp.values.items()
        if not name.startswith("tuner/") and hp.is_active(name)
        and isinstance(value, (bool, int, float, str))
    }
    values["phase"] = phase
    return values


class HParamsSession(keras.callbacks.Callback):
    """Records one trial's hyperparameters as an HParams session in `logdir`.

    Writes with `tf.summary`, so it works whatever the Keras backend.
    """

    def __init__(self, logdir: str, values: Mapping[str, Any], trial_id: str) -> None:
        super().__init__()
        self.logdir = logdir
        self.values = dict(values)
        self.trial_id = trial_id

    def on_train_begin(self, logs=None):
        import tensorflow as tf
        from tensorboard.plugins.hparams import api as hp_api

        writer = tf.summary.create_file_writer(self.logdir)
        with writer.as_default():
            hp_api.hparams(self.values, trial_id=self.trial_id)
        writer.close()

    def on_train_end(self, logs=None):
        import tensorflow as tf
        from tensorboard.plugins.hparams import api_pb2, summary

        finite = all(np.isfinite(v) for v in (logs or {}).values() if isinstance(v, float))
        status = api_pb2.STATUS_SUCCESS if finite else api_pb2.STATUS_FAILURE
        writer = tf.summary.create_file_writer(self.logdir)
        with writer.as_default():
            raw = summary.session_end_pb(status).SerializeToString()
            tf.summary.experimental.write_raw_pb(raw, step=0)
        writer.close()


def configure_trial_logdirs(callbacks: list, trial, execution: int, phase: str,
                            logdir_for) -> None:
    """Points each TensorBoard callback at the trial's folder and adds its session.

    `logdir_for(base, trial_id, execution)` is KerasTuner's own layout.
    """
    for callback in list(callbacks):
        if isinstance(callback, keras.callbacks.TensorBoard):
            logdir = logdir_for(callback.log_dir, trial.trial_id, execution)
            callback.log_dir = logdir
            values = hparam_values(trial.hyperparameters, phase)
            callbacks.append(HParamsSession(logdir, values, f"{phase}/{trial.trial_id}"))


def log_images(logdir: str | os.PathLike, images: Iterable[tuple[str, np.ndarray]],
               *, step: int = 0) -> None:
    """Writes images to TensorBoard's Images tab.

    Args:
        logdir: The run folder to write into.
        images: `(tag, array)` pairs; arrays are `(n, height, width, channels)`
            floats in [0, 1] or uint8, or PNG bytes for a single image.
        step: The step to record them at.
    """
    import tensorflow as tf

    writer = tf.summary.create_file_writer(os.fspath(logdir))
    with writer.as_default():
        for tag, image in images:
            if isinstance(image, bytes):
                image = tf.image.decode_png(image)[None]
            tf.summary.image(tag, image, step=step, max_outputs=16)
    writer.close()
