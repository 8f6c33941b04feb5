"""The check before any training: the hypermodel's model fits the data and can be saved.

Run when a run folder is first opened and before each search, so a model
that cannot fit the data (or cannot make the save-and-load trip the final
model makes) fails in seconds, leaving nothing on disk.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping

import keras
import keras_tuner as kt
import numpy as np

from tunekit.data import REGRESSION, Dataset, StreamData
from tunekit.errors import ModelSaveError, OutputShapeError
from tunekit.outputs import check_output_shape, load_keras_model, model_output_shape
from tunekit.regression import check_regression_output_shape
from tunekit.tuners import first_sample

__all__ = ["check_model", "check_round_trip"]


def check_model(hypermodel: kt.HyperModel, data: Dataset | StreamData) -> None:
    """Checks, before any training, that the hypermodel's output fits the data.

    Builds the model once with default hyperparameters (a lazily built model
    is called on two training samples; a dict `x` feeds each named input)
    and checks its output against the targets: `data.num_classes` for
    classification (`tunekit.outputs.check_output_shape`), `data.num_outputs`
    for regression (`tunekit.regression.check_regression_output_shape`);
    then that it survives a `.keras` save and safe load
    (`check_round_trip`). A model that cannot be built or run here is left
    to its trials, which report why; so is a model with several outputs
    (and a dict `y`).
    For a `StreamData`, the model is called on its first training batch (one
    batch is read, nothing else); its output width is checked only when the
    stream's classes are known.

    Raises:
        OutputShapeError (a `ValueError`): Naming the model's output shape
            and the targets' shape, with the fix.
        ModelSaveError: See `check_round_trip`.
    """
    try:
        model = hypermodel.build(kt.HyperParameters())
    except Exception:  # noqa: BLE001 - the trials report build errors with their trial
        model = None
    if model is None:
        shape = None
    else:
        sample = data.sample() if isinstance(data, StreamData) else first_sample(data.x_train, 2)
        shape = model_output_shape(model, sample)
    if shape is not None:
        check_round_trip(model)
    del model
    keras.backend.clear_session()
    if shape is None:
        return
    if isinstance(data, StreamData):
        if data.task == REGRESSION or data.num_classes is None:  # unknown for some streams
            return
        targets = ""
    else:
        if isinstance(data.y_train, Mapping):
            return
        targets = f" The targets (y_train) have shape {tuple(np.shape(data.y_train))}."
    what = "`hypermodel` (built with its default hyperparameters) builds a model that"
    try:
        if data.task == REGRESSION:
            assert isinstance(data.num_outputs, int)
            check_regression_output_shape(shape, data.num_outputs, what=what)
        else:
            assert data.num_classes is not None
            check_output_shape(shape, data.num_classes, what=what)
    except OutputShapeError as e:
        fix = ""  # the regression message already names DenseHyperModel's arguments
        if data.task != REGRESSION and hasattr(hypermodel, "num_classes"):
            name = type(hypermodel).__name__
            fix = f" For {name}, pass num_classes={data.num_classes} (and the data's input_shape)."
        raise OutputShapeError(f"{e}{targets}{fix}") from None


def check_round_trip(model: keras.Model) -> None:
    """Raises `ModelSaveError` unless `model` survives `.keras` save and safe load.

    The final model is saved and loaded back to be tested, so a model that
    cannot make that trip (e.g. an unregistered custom metric or layer)
    would fail only after the whole search, and on every rerun.
    """
    with tempfile.TemporaryDirectory(prefix="tunekit-check-") as folder:
        path = os.path.join(folder, "model.keras")
        try:
            model.save(path)
            load_keras_model(path)
        except OSError:
            return  # the disk, not the model: the run's own writes will name the file
        except Exception as e:  # noqa: BLE001 - any failure gets the same advice
            reason = (str(e).strip().splitlines() or [type(e).__name__])[-1]
            raise ModelSaveError(
                "`hypermodel` builds a model that cannot be saved as a .keras file and "
                f"loaded back with safe_mode=True ({type(e).__name__}: {reason}). tunekit "
                "saves the final model and tests the file it saved: register custom "
                "objects (layers, metrics, losses) with "
                "@keras.saving.register_keras_serializable()."
            ) from None
