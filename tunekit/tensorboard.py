"""TensorBoard HParams for every trial, on any Keras backend.

KerasTuner adds TensorBoard's HParams callback to each trial itself, but only
on the TensorFlow backend, without an experiment config (`hparams_config`), with
inactive conditional values and its internal `tuner/...` values as if they
were hyperparameters, and with wrong domains for log-sampled stepped values.
tunekit replaces that step (see `tuners.base.TunekitTuner`): each trial's log
dir (KerasTuner's layout, `<logdir>/<trial_id>/execution<k>`) gets a session
with the trial's active values and its phase, and the run declares ONE
experiment at the top of its TensorBoard folder (TensorBoard reads a single
experiment per `--logdir`: with one per phase it picks one arbitrarily) whose
`phase` domain holds both phases and whose hyperparameters are every one any
phase declared, with the real domains of its space.

A hyperparameter a `HyperModel.fit` declares is known only once that trial
trained: sessions read their values when training starts and rewrite
themselves at its end if values appeared meanwhile, and `write_experiment`
rewrites the experiment whenever it lacks a hyperparameter.

The experiment's metric columns are each trial's own results, as `trials.csv`
has them (`experiment_metrics`; written when the trial ends by
`tunekit.hparams_results`), not Keras's epoch curves: TensorBoard shows a
column's LAST logged value, the last epoch's, while trials are ranked and
chosen by their score, the objective at their best epoch.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import numpy as np

from tunekit.hparams_results import column_description, experiment_metrics

_logger = logging.getLogger(__name__)

__all__ = [
    "METRICS",
    "HParamsSession",
    "configure_trial_logdirs",
    "experiment_metrics",
    "hparam_values",
    "phase_column",
    "log_images",
    "sample_images",
    "write_experiment",
]

# The columns of `write_experiment` by default: a classifier tuned on val_accuracy's.
METRICS = tuple(experiment_metrics(["val_accuracy"], classification=True))


_MAX_DISCRETE = 64


def _domain(hp: Any) -> Any:
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


def _own_event_files(logdir: str | os.PathLike) -> list[Path]:
    """Event files directly in `logdir` (not in its run subfolders)."""
    return sorted(Path(logdir).glob("events.out.tfevents.*"))


def _declared_experiment(logdir: str | os.PathLike) -> Any:
    """The experiment proto declared directly in `logdir`, or None."""
    from tensorboard.backend.event_processing import event_file_loader
    from tensorboard.plugins.hparams import metadata

    for path in _own_event_files(logdir):
        try:
            for event in event_file_loader.EventFileLoader(str(path)).Load():
                for value in event.summary.value:
                    if value.tag == metadata.EXPERIMENT_TAG:
                        return metadata.parse_experiment_plugin_data(
                            value.metadata.plugin_data.content
                        )
        except Exception:  # noqa: BLE001 (a truncated file: declare the experiment again)
            return None
    return None


def write_experiment(
    logdir: str | os.PathLike,
    space: kt.HyperParameters | Iterable[Any],
    phases: Iterable[str],
    metrics: Iterable[tuple[str, str, str]] = METRICS,
) -> bool:
    """Declares the HParams experiment in `logdir` with the domains of `space`.

    TensorBoard shows one experiment per `--logdir` (the first it finds), so
    a run declares exactly one, at the top of its TensorBoard folder. An
    experiment already declared there is replaced when it differs (e.g. a
    hyperparameter appeared, declared by a later trial or in
    `HyperModel.fit`), and left alone otherwise.

    Args:
        logdir: Folder of the experiment (`tensorboard --logdir` it).
        space: The `HyperParameters` (or a list of hyperparameter objects)
            whose ranges become the domains. Give every hyperparameter any
            phase declared, the widest definition first: the first of a name
            wins (the coarse space covers every narrowed one).
        phases: Values of the extra `phase` hyperparameter, which lets the
            HParams table filter trials by phase (`tunekit/phase` if the
            space has its own `phase`: `phase_column`).
        metrics: The table's metric columns, `(tag, run subfolder, display
            name)` (`experiment_metrics`). Defaults to `METRICS`: the score,
            accuracy and loss.

    Returns:
        Whether the experiment was (re)written.
    """
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp_api
    from tensorboard.plugins.hparams import metadata, summary_v2

    entries = space.space if isinstance(space, kt.HyperParameters) else list(space)
    unique: dict[str, Any] = {}
    for hp in entries:
        if not hp.name.startswith("tuner/"):
            unique.setdefault(hp.name, hp)
    hparams = [hp_api.HParam(hp.name, _domain(hp)) for hp in unique.values()]
    hparams.append(hp_api.HParam(phase_column(unique), hp_api.Discrete(sorted(set(phases)))))
    columns = [
        hp_api.Metric(
            tag, group=group, display_name=name, description=column_description(tag, name)
        )
        for tag, group, name in metrics
    ]
    pb = summary_v2.hparams_config_pb(hparams=hparams, metrics=columns)
    wanted = metadata.parse_experiment_plugin_data(pb.value[0].metadata.plugin_data.content)
    declared = _declared_experiment(logdir)
    if (
        declared is not None
        and list(declared.hparam_infos) == list(wanted.hparam_infos)
        and list(declared.metric_infos) == list(wanted.metric_infos)
    ):
        return False
    for path in _own_event_files(logdir):  # TensorBoard keeps the first experiment it reads
        path.unlink()
    writer = tf.summary.create_file_writer(os.fspath(logdir))
    with writer.as_default():
        hp_api.hparams_config(hparams=hparams, metrics=columns)
    writer.close()
    return True


def hparam_values(
    hp: kt.HyperParameters, phase: str, declared: Collection[str] | None = None
) -> dict[str, Any]:
    """A trial's active hyperparameter values (no `tuner/...`), plus its phase.

    Args:
        hp: The trial's hyperparameters.
        phase: The trial's phase, logged as the `phase` hyperparameter.
        declared: If given, only these names count: while a tunekit tuner runs
            a trial, the names its `build` and `fit` declared so far (see
            `tunekit.tuners.declared_only`): an oracle also hands a trial
            values for layers it never built. Read at each call.

    Returns:
        `{name: value}` of bools, ints, floats and strings, with the phase
        (under `phase_column`'s name: `"phase"` unless a hyperparameter has it).
    """
    values = {
        name: value
        for name, value in hp.values.items()
        if not name.startswith("tuner/")
        and hp.is_active(name)
        and (declared is None or name in declared)
        and isinstance(value, (bool, int, float, str))
    }
    values[phase_column(hp.values)] = phase
    return values


def phase_column(names: Collection[str]) -> str:
    """The HParams column of a trial's phase: `"phase"`, or `"tunekit/phase"` when the
    space has a hyperparameter named `phase` (a user's `hp.Choice("phase", ...)` keeps
    its column and values; before, tunekit's overwrote them)."""
    column = "phase"
    while column in names:
        column = f"tunekit/{column}"
    return column


class HParamsSession(keras.callbacks.Callback):
    """Records one trial's hyperparameters as an HParams session in `logdir`.

    Writes with `tf.summary`, so it works whatever the Keras backend. The
    session is written when training starts; if the values changed by the
    end of training (a hyperparameter declared after `model.fit` started,
    e.g. in a custom `HyperModel.fit`), it is written again with them (the
    session's own event file is replaced: TensorBoard keeps the first one).
    A hypermodel's own training loop that never calls `on_train_begin` or
    `on_train_end` (KerasTuner's custom-loop guide calls only `on_epoch_end`)
    gets its session written when tunekit's trial sees its `fit` return
    (`fit_returned`).

    Args:
        logdir: The session's folder (its metrics are in `train/`, `validation/`).
        values: `{name: value}`, or a function returning it, called when
            training starts and ends (so values declared in `HyperModel.fit`
            before it calls `model.fit` are included).
        trial_id: The session's name in TensorBoard, e.g. `"fine/0003"`.
    """

    def __init__(
        self,
        logdir: str,
        values: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
        trial_id: str,
    ) -> None:
        super().__init__()
        self.logdir = logdir
        self._values = values
        self.trial_id = trial_id
        self.values: dict[str, Any] = {}
        self._start = 0.0
        self._ended = False
        self._wrote_start = False

    def _current(self) -> dict[str, Any]:
        return dict(self._values() if callable(self._values) else self._values)

    def _write_start(self) -> None:
        import tensorflow as tf
        from tensorboard.plugins.hparams import api as hp_api

        for path in _own_event_files(self.logdir):  # a retried trial, or values that changed
            path.unlink()
        writer = tf.summary.create_file_writer(self.logdir)
        with writer.as_default():
            hp_api.hparams(self.values, trial_id=self.trial_id, start_time_secs=self._start)
        writer.close()
        self._wrote_start = True

    def set_model(self, model: Any) -> None:
        super().set_model(model)
        self._start = self._start or time.time()  # an own loop's fit may never begin training

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._start = time.time()
        self.values = self._current()
        self._write_start()
        self._ended = False

    def fit_returned(self) -> None:
        """Writes the session (start and end) if training never ended: a hypermodel's
        own loop that calls only `on_epoch_end` (KerasTuner's custom-loop guide)."""
        if not self._ended:
            self.on_train_end()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        import tensorflow as tf
        from tensorboard.plugins.hparams import api_pb2, summary

        self._ended = True
        self._start = self._start or time.time()
        values = self._current()
        if values != self.values or not self._wrote_start:
            self.values = values
            self._write_start()
        finite = all(np.isfinite(v) for v in (logs or {}).values() if isinstance(v, float))
        status = api_pb2.STATUS_SUCCESS if finite else api_pb2.STATUS_FAILURE
        writer = tf.summary.create_file_writer(self.logdir)
        with writer.as_default():
            raw = summary.session_end_pb(status).SerializeToString()
            tf.summary.experimental.write_raw_pb(raw, step=0)
        writer.close()


def configure_trial_logdirs(
    callbacks: list,
    trial: kt.engine.trial.Trial,
    execution: int,
    phase: str,
    logdir_for: Callable[[str, str, int], str],
    declared: Collection[str] | None = None,
) -> list[str]:
    """Points each TensorBoard callback at the trial's folder and adds its session.

    Args:
        callbacks: The trial's callbacks; changed in place.
        trial: The running trial.
        execution: Which execution of the trial (KerasTuner's
            `executions_per_trial`).
        phase: The trial's phase.
        logdir_for: `logdir_for(base, trial_id, execution)`, KerasTuner's own
            layout (`Tuner._get_tensorboard_dir`).
        declared: The names the trial declared, a collection that grows while
            it trains (see `hparam_values`); `None`: every value counts.

    Returns:
        The session folders (one per TensorBoard callback), where the trial's results
        go when it ends (`tunekit.hparams_results.write_trial_results`).
    """
    sessions = []
    for callback in list(callbacks):
        if isinstance(callback, keras.callbacks.TensorBoard):
            logdir = logdir_for(callback.log_dir, trial.trial_id, execution)
            callback.log_dir = logdir
            # A trial runs again only after its run was stopped (Ctrl-C, a kill): the
            # stopped attempt's epochs would be drawn twice beside the new ones (TensorBoard
            # reads every event file of a run). The trial trains again from its first epoch.
            for stale in ("train", "validation"):
                shutil.rmtree(Path(logdir) / stale, ignore_errors=True)
            hp = trial.hyperparameters  # read when training starts: `fit` may add values

            def values(hp: kt.HyperParameters = hp) -> dict[str, Any]:
                return hparam_values(hp, phase, declared)

            callbacks.append(HParamsSession(logdir, values, f"{phase}/{trial.trial_id}"))
            sessions.append(logdir)
    return sessions


def log_images(
    logdir: str | os.PathLike, images: Iterable[tuple[str, np.ndarray]], *, step: int = 0
) -> None:
    """Writes images to TensorBoard's Images tab.

    Args:
        logdir: The run folder to write into.
        images: `(tag, array)` pairs; arrays are `(n, height, width, channels)`
            floats in [0, 1] or uint8, or PNG bytes for a single image.
        step: The step to record them at.

    An image TensorBoard cannot encode is left out with a warning: the run's results
    do not depend on a picture.
    """
    import tensorflow as tf

    writer = tf.summary.create_file_writer(os.fspath(logdir))
    with writer.as_default():
        for tag, image in images:
            try:
                if isinstance(image, bytes):
                    image = tf.image.decode_png(image)[None]
                tf.summary.image(tag, image, step=step, max_outputs=16)
            except (tf.errors.InvalidArgumentError, ValueError) as error:  # a picture only
                _logger.warning("TensorBoard image %r not written: %s", tag, error)
    writer.close()


def sample_images(x: Any, shape: Any, count: int = 8) -> np.ndarray | None:
    """The first `count` inputs as `(n, h, w, c)` images in [0, 1], if their `shape` is an
    image's: `(h, w)`, or channels last, 1, 3 or 4 of them (TensorBoard's); else `None`
    (also for `x` None: no inputs read)."""
    if x is None or not (
        isinstance(shape, tuple) and (len(shape) == 2 or shape[2:] in ((1,), (3,), (4,)))
    ):
        return None
    images = np.asarray(x[:count], dtype="float32")
    if images.ndim == 3:
        images = images[..., None]
    if images.max(initial=0.0) > 1.0:
        images = images / 255.0
    return np.clip(images, 0.0, 1.0)
