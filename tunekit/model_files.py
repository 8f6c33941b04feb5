"""A run's `.keras` files: saved, loaded back alone or rebuilt with their weights.

tunekit saves the final model and tests the file it saved, so each model is
checked before training to survive that trip (`check_round_trip`: the default
configuration's before the search, the chosen one's before the retrain; each
trial's file, `tunekit.steps.file_checks`); a file that `keras.models.load_model`
cannot load alone (an unregistered custom object, a `Lambda` of a Python lambda)
is restored as KerasTuner restores its checkpoints, and the report says what
loading it alone needs (`tunekit.model_notes.file_alone_note`).
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tunekit.compile_drift import (
    compile_drift,
    drift_note,
    drift_samples,
    rebuild_verdict,
    unreproducible_note,
)
from tunekit.errors import ModelSaveError, error_line
from tunekit.model_notes import WEIGHTS_ONLY, alone_note, file_alone_note, load_keras_model
from tunekit.outputs import (
    build_on_samples,
    fresh_metrics,
    loss_takes_rows,
    training_samples,
)

if TYPE_CHECKING:
    import keras

__all__ = [
    "WEIGHTS_ONLY",
    "check_round_trip",
    "file_alone_note",
    "load_keras_model",
    "load_saved_model",
    "restore_weights",
    "save_advice",
    "save_keras",
]


def load_saved_model(
    path: str | os.PathLike[str],
    hypermodel: Any,
    hyperparameters: Callable[[], Any],
    data: Any,
    notes: list[str] | None = None,
) -> keras.Model:
    """A `.keras` file a run saved, as a model: loaded alone, or rebuilt with its weights.

    `load_keras_model(path)` (`safe_mode=True`) first. A file it cannot load
    alone (an unregistered custom metric, loss or layer, a `Lambda` of a
    Python lambda, a `from_config` of the user's that raises; the check before
    training said so, see `check_round_trip`) is restored as KerasTuner restores
    its checkpoints: `hypermodel.build(hyperparameters())`, the user's own code, built on
    `data`'s samples if it is built lazily, then the file's weights
    (`model.load_weights(path)`). Nothing is deserialised unsafely. A file that loads
    alone is rebuilt too, and the rebuild is returned (`tunekit.compile_drift.rebuild_verdict`,
    on up to 256 training samples): the model is then scored with the layers, loss and
    metrics the build makes, which a file loses when a `get_config()` leaves out a setting
    (Keras's `Huber` drops `delta`; a layer of the user's, a hyperparameter), also when the
    samples do not show it (a stream's first batch). When they show it, the note saying
    so is appended to `notes` (default `None`: not kept). A build that is not reproducible
    (a second build predicts otherwise than the first) leaves the file's model, the one
    trained, to be returned. Either way, the
    compiled metrics are built and zeroed before it is returned (`fresh_metrics`), so its
    `evaluate` works as the model's in memory did, also with its own `test_step`.

    Args:
        path: The file, e.g. `<run>/best_model.keras`.
        hypermodel: The run's `keras_tuner.HyperModel`.
        hyperparameters: Returns the configuration the file's model was built
            from (`keras_tuner.HyperParameters` for the defaults); called only
            when the file cannot be loaded alone.
        data: The run's data (for a lazily built model's first call).

    Raises:
        OSError: The file cannot be read.
        Exception: What `load_model` raised (a `TypeError` or `ValueError` for
            objects Keras cannot find by name or a lambda; what a `from_config`
            of the user's raises), when the rebuilt model cannot take the file's
            weights either.
    """
    try:
        model = load_keras_model(path)
    except OSError:
        raise
    except Exception as error:  # noqa: BLE001 - as check_round_trip accepted the file
        try:
            model = _rebuilt(hypermodel, hyperparameters, data, path)
        except Exception:  # noqa: BLE001 - the first error says more
            raise error from None
        _zero_metrics(model, hypermodel, data)  # metric objects the build shares: no counts
        return model
    try:
        reference = _rebuilt(hypermodel, hyperparameters, data, path)
    except Exception as e:  # noqa: BLE001 - the file loads alone: no comparison
        reference = None
        if _built_again(hypermodel, hyperparameters) and notes is not None:
            notes.append(
                unreproducible_note(f"it cannot take the file's weights ({error_line(e)})")
            )
    if reference is not None:
        again = lambda: _rebuilt(hypermodel, hyperparameters, data, path)  # noqa: E731
        stands, drift = rebuild_verdict(model, reference, *drift_samples(data), again=again)
        if not stands and drift is not None and notes is not None:
            notes.append(unreproducible_note(drift))
        if stands:  # scored as compiled, also where the samples show no difference
            try:
                _zero_metrics(reference, hypermodel, data)
            except Exception:
                if drift is not None:  # the file's model would be scored otherwise
                    raise
            else:
                if drift is not None and notes is not None:
                    notes.append(drift_note(drift))
                return reference
    if any(getattr(metric, "built", True) is False for metric in model.metrics):
        # Loaded with its compiled metrics not yet built (TensorFlow builds them in the
        # first train or test step that updates them): a model whose own `test_step`
        # never updates them, and whose `metrics` lists them (`super().metrics + [...]`),
        # failed its first `evaluate` with "Cannot get result() since the metric has not
        # yet been built", where the model in memory evaluated. Built here on two
        # training samples, then zeroed, as the model in memory was by its training.
        try:
            _zero_metrics(model, hypermodel, data)
        except Exception:  # noqa: BLE001, S110 - the evaluation says what it meets
            pass
    return model


def _rebuilt(
    hypermodel: Any, hyperparameters: Callable[[], Any], data: Any, path: str | os.PathLike[str]
) -> keras.Model:
    """The hypermodel's build of `hyperparameters()` with the file's weights: a run's model
    as KerasTuner restores its checkpoints (in a fresh session, as each trial's: Keras
    numbers the metrics a build makes without a name, and the test set's would be `auc_1`,
    not `auc`).

    Raises:
        Exception: What the build, its first call or `load_weights` raised.
    """
    import keras  # noqa: PLC0415 (this module loads without Keras)

    keras.backend.clear_session(free_memory=False)
    model = hypermodel.build(hyperparameters())
    build_on_samples(model, data)
    restore_weights(model, path)
    return model


def _built_again(hypermodel: Any, hyperparameters: Callable[[], Any]) -> bool:
    """Whether `hypermodel.build(hyperparameters())` makes a model (then the rebuild failed
    at the file's weights, not at the build)."""
    try:
        import keras  # noqa: PLC0415

        return isinstance(hypermodel.build(hyperparameters()), keras.Model)
    except Exception:  # noqa: BLE001 - a build that raises: no note to give
        return False


def _zero_metrics(model: keras.Model, hypermodel: Any, data: Any) -> None:
    """`fresh_metrics` on the labels' form the model is scored with (`loss_takes_rows`)."""
    arrays = (getattr(data, "x_train", None), getattr(data, "y_train", None))
    x, ids = arrays if arrays[1] is not None else training_samples(data, targets=True)
    rows = loss_takes_rows(hypermodel, model, data, x, ids)  # reads k + 1 samples
    fresh_metrics(model, data, rows)


def restore_weights(model: keras.Model, path: str | os.PathLike[str]) -> None:
    """`model.load_weights(path)` (a `.keras` file's weights), without the optimizer warning.

    The optimizer's state is not needed to predict or evaluate (see
    `load_keras_model`).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model.load_weights(path)


def check_round_trip(
    model: keras.Model,
    rebuild: Callable[[], keras.Model] | None = None,
    what: str = "`hypermodel` builds a model that",
    samples: tuple[Any, Any] | None = None,
) -> str | None:
    """Checks that `model` survives a `.keras` save and load; returns a note, or `None`.

    The final model is saved and loaded back to be tested, so a model that
    cannot make that trip would fail only after the whole search, and on
    every rerun. A file that `keras.models.load_model(path, safe_mode=True)`
    cannot load alone (it names an unregistered custom metric, loss or layer,
    holds a `Lambda` of a Python lambda, or a `from_config` of the user's raises)
    is accepted when `rebuild()` (the hypermodel's build) takes its weights
    (`model.load_weights(path)`), as KerasTuner restores its checkpoints: tunekit
    then loads the run's models that way (`load_saved_model`), and the note
    returned says what loading the file alone needs. `what` names the model in
    the refusal (default: the hypermodel's). With `samples` (`(x, y)`, default `None`),
    a file that loads alone whose compiled loss or metrics give other numbers on them
    than `model`'s gets `tunekit.compile_drift.drift_note` as its note.

    Raises:
        ModelSaveError: The model cannot be saved, or its file cannot be
            loaded back either way.
    """
    with tempfile.TemporaryDirectory(prefix="tunekit-check-") as folder:
        path = os.path.join(folder, "model.keras")
        saved = False
        try:
            unsaved = _save(model, path)  # whole, or its weights only: why not whole
            saved = True
            if unsaved is not None:
                raise unsaved
            loaded = load_keras_model(path)
            drift = None if samples is None else compile_drift(loaded, model, *samples)
            if drift is not None:
                return drift_note(drift)
        except OSError:
            return None  # the disk, not the model: the run's own writes will name the file
        except Exception as e:  # noqa: BLE001 - any failure gets the same advice
            if rebuild is not None and saved and _takes_weights(rebuild, path):
                return alone_note(e, path)
            raise ModelSaveError(
                f"{what} cannot be saved as a .keras file and loaded back with "
                f"safe_mode=True ({save_advice(e, saved)}"
            ) from None
    return None


def save_advice(error: Exception, saved: bool = True) -> str:
    """What a failed `.keras` save (`saved=False`: Keras's save raised `error`) or load
    raised, in one line, then `"). tunekit saves ...: <the fix>"`: the end of a refusal
    (`check_round_trip`, `tunekit.steps.file_checks`)."""
    text = str(error)
    reason = (text.strip().splitlines() or [type(error).__name__])[-1]
    fix = (
        "register custom objects (layers, metrics, losses) with "
        "@keras.saving.register_keras_serializable()."
    )
    if "`Lambda` layer" in text:
        fix = (
            "replace the Lambda layer by a keras.layers.Layer subclass registered with "
            "@keras.saving.register_keras_serializable() (safe_mode=True never loads "
            "Python lambdas)."
        )
    elif "get_config()" in text:  # Keras's message: its first paragraph, not code
        reason = " ".join(text.strip().split("\n\n")[0].split())
        fix = (
            "give the class a get_config() that returns its __init__ arguments "
            "(config = super().get_config(); config.update(...)), and register it "
            "with @keras.saving.register_keras_serializable()."
        )
    elif not saved:  # a get_config (or a save_own_variables) of the user's that raises
        fix = (
            "Keras's save raised it: make each class of yours (layer, model, loss, metric) "
            "save, e.g. a get_config() that returns its __init__ arguments without raising "
            "(config = super().get_config(); config.update(...)), registered with "
            "@keras.saving.register_keras_serializable()."
        )
    return (
        f"{type(error).__name__}: {reason}). tunekit saves the final model and tests the "
        f"file it saved: {fix}"
    )


def save_keras(model: keras.Model, path: str | os.PathLike[str]) -> None:
    """`model.save(path)`, to a temporary name beside `path`, then moved there.

    A model Keras cannot save whole (a subclassed `keras.Model` whose class has
    no `get_config()`, a loss or metric object Keras cannot serialise: a callable
    dataclass, a `functools.partial` of a method), which plain KerasTuner
    tunes (its checkpoints are weights), is saved as a `.keras` file of its
    weights only: Keras's layout (`metadata.json`, `config.json` naming the
    class with an empty config, `model.weights.h5` from `model.save_weights`),
    marked `WEIGHTS_ONLY` in its metadata. `model.load_weights(path)` reads it
    into `hypermodel.build(hp)`, as tunekit restores the run's models
    (`load_saved_model`); `keras.models.load_model` cannot load it alone, and
    `file_alone_note` says so.

    Raises:
        OSError: The file cannot be written.
        Exception: What Keras's save raised otherwise (an `AttributeError` of a
            `get_config` of the user's; refused before training, `check_round_trip`
            and `tunekit.steps.file_checks`). Nothing is left beside `path`.
    """
    _save(model, path)


def _save(model: keras.Model, path: str | os.PathLike[str]) -> Exception | None:
    """`save_keras`; returns `None` when the model was saved whole, else the error that
    made Keras's whole save fail (the file then holds the weights)."""
    import json
    import zipfile

    import keras

    path = os.fspath(path)
    partial = path + ".partial.keras"  # Keras insists on the suffix
    try:
        try:
            model.save(partial)
        except (NotImplementedError, TypeError, ValueError) as error:  # cannot be serialised
            weights = path + ".partial.weights.h5"
            try:
                model.save_weights(weights)
                kind = type(model)
                config = {"module": kind.__module__, "class_name": kind.__name__, "config": {}}
                why = " ".join(str(error).strip().split("\n\n")[0].split())[:300]
                metadata = {"keras_version": keras.__version__, WEIGHTS_ONLY: why or True}
                with zipfile.ZipFile(partial, "w") as archive:
                    archive.writestr("metadata.json", json.dumps(metadata))
                    archive.writestr("config.json", json.dumps(config))
                    archive.write(weights, "model.weights.h5")
            finally:
                if os.path.exists(weights):
                    os.remove(weights)
            os.replace(partial, path)
            return error
        os.replace(partial, path)
        return None
    finally:  # a save that raised: its half-written file is no use to anyone
        if os.path.exists(partial):
            os.remove(partial)


def _takes_weights(rebuild: Callable[[], keras.Model], path: str) -> bool:
    """Whether the model `rebuild()` makes loads the weights of the `.keras` file at `path`."""
    try:
        restore_weights(rebuild(), path)
    except Exception:  # noqa: BLE001 - any failure: the file cannot be restored this way
        return False
    return True
