"""A run's `.keras` files: saved, loaded back alone or rebuilt with their weights.

tunekit saves the final model and tests the file it saved, so each model is
checked before training to survive that trip (`check_round_trip`); a file
that `keras.models.load_model` cannot load alone (an unregistered custom
object, a `Lambda` of a Python lambda) is restored as KerasTuner restores its
checkpoints, and the report says what loading it alone needs
(`file_alone_note`).
"""

from __future__ import annotations

import os
import re
import tempfile
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from tunekit.errors import ModelSaveError
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
    "save_keras",
]

#: In a weights-only `.keras` file's `metadata.json` (see `save_keras`).
WEIGHTS_ONLY = "tunekit_weights_only"


def load_keras_model(
    path: str | os.PathLike[str], custom_objects: dict[str, Any] | None = None
) -> keras.Model:
    """`keras.models.load_model(path, safe_mode=True)`, without Keras's optimizer warning.

    A model saved before its optimizer built its variables (tunekit's
    round-trip check, a model whose optimizer state is not needed) loads with
    "Skipping variable loading for optimizer ...": harmless for predictions
    and evaluation, and alarming to read, so it is not shown.
    """
    import warnings

    import keras

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        return keras.models.load_model(path, custom_objects=custom_objects, safe_mode=True)


def load_saved_model(
    path: str | os.PathLike[str], hypermodel: Any, hyperparameters: Callable[[], Any], data: Any
) -> keras.Model:
    """A `.keras` file a run saved, as a model: loaded alone, or rebuilt with its weights.

    `load_keras_model(path)` (`safe_mode=True`) first. A file it cannot load
    alone (an unregistered custom metric, loss or layer, a `Lambda` of a
    Python lambda; the check before training said so, see
    `tunekit.steps.check.check_round_trip`) is restored as KerasTuner restores
    its checkpoints: `hypermodel.build(hyperparameters())`, the user's own code, built on
    `data`'s samples if it is built lazily, then the file's weights
    (`model.load_weights(path)`). Nothing is deserialised unsafely.

    Args:
        path: The file, e.g. `<run>/best_model.keras`.
        hypermodel: The run's `keras_tuner.HyperModel`.
        hyperparameters: Returns the configuration the file's model was built
            from (`keras_tuner.HyperParameters` for the defaults); called only
            when the file cannot be loaded alone.
        data: The run's data (for a lazily built model's first call).

    Raises:
        OSError: The file cannot be read.
        TypeError, ValueError: What `load_model` raised, when the rebuilt
            model cannot take the file's weights either.
    """
    try:
        return load_keras_model(path)
    except (TypeError, ValueError) as error:  # objects Keras cannot find by name, a lambda
        try:
            # A fresh session, as each trial's: Keras numbers the metrics a build makes
            # without a name (`AUC()`), and the test set's would be `auc_1`, not `auc`.
            import keras  # noqa: PLC0415 (this module loads without Keras)

            keras.backend.clear_session(free_memory=False)
            model = hypermodel.build(hyperparameters())
            build_on_samples(model, data)
            restore_weights(model, path)
        except Exception:  # noqa: BLE001 - the first error says more
            raise error from None
        arrays = (getattr(data, "x_train", None), getattr(data, "y_train", None))
        x, ids = arrays if arrays[1] is not None else training_samples(data, targets=True)
        rows = loss_takes_rows(hypermodel, model, data, x, ids)  # reads k + 1 samples
        fresh_metrics(model, data, rows)  # metric objects the build shares keep no counts
        return model


def restore_weights(model: keras.Model, path: str | os.PathLike[str]) -> None:
    """`model.load_weights(path)` (a `.keras` file's weights), without the optimizer warning.

    The optimizer's state is not needed to predict or evaluate (see
    `load_keras_model`).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model.load_weights(path)


def check_round_trip(
    model: keras.Model, rebuild: Callable[[], keras.Model] | None = None
) -> str | None:
    """Checks that `model` survives a `.keras` save and load; returns a note, or `None`.

    The final model is saved and loaded back to be tested, so a model that
    cannot make that trip would fail only after the whole search, and on
    every rerun. A file that `keras.models.load_model(path, safe_mode=True)`
    cannot load alone (it names an unregistered custom metric, loss or layer,
    or holds a `Lambda` of a Python lambda) is accepted when `rebuild()` (the
    hypermodel's build) takes its weights (`model.load_weights(path)`), as
    KerasTuner restores its checkpoints: tunekit then loads the run's models
    that way (`tunekit.steps.base.load_saved_model`), and the note returned
    says what loading the file alone needs.

    Raises:
        ModelSaveError: The model cannot be saved, or its file cannot be
            loaded back either way.
    """
    with tempfile.TemporaryDirectory(prefix="tunekit-check-") as folder:
        path = os.path.join(folder, "model.keras")
        try:
            unsaved = _save(model, path)  # whole, or its weights only: why not whole
            if unsaved is not None:
                raise unsaved
            load_keras_model(path)
        except OSError:
            return None  # the disk, not the model: the run's own writes will name the file
        except Exception as e:  # noqa: BLE001 - any failure gets the same advice
            reason = (str(e).strip().splitlines() or [type(e).__name__])[-1]
            if rebuild is not None and _takes_weights(rebuild, path):
                return _file_alone_note(e, path)
            lambda_layer = "`Lambda` layer" in str(e)
            fix = (
                "replace the Lambda layer by a keras.layers.Layer subclass registered with "
                "@keras.saving.register_keras_serializable() (safe_mode=True never loads "
                "Python lambdas)."
                if lambda_layer
                else "register custom objects (layers, metrics, losses) with "
                "@keras.saving.register_keras_serializable()."
            )
            if "get_config()" in str(e):  # Keras's message: its first paragraph, not code
                reason = " ".join(str(e).strip().split("\n\n")[0].split())
                fix = (
                    "give the class a get_config() that returns its __init__ arguments "
                    "(config = super().get_config(); config.update(...)), and register it "
                    "with @keras.saving.register_keras_serializable()."
                )
            raise ModelSaveError(
                "`hypermodel` builds a model that cannot be saved as a .keras file and "
                f"loaded back with safe_mode=True ({type(e).__name__}: {reason}). tunekit "
                f"saves the final model and tests the file it saved: {fix}"
            ) from None
    return None


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


def _weights_only(path: str | os.PathLike[str]) -> str | None:
    """Why the `.keras` file at `path` is `save_keras`'s weights-only file, else `None`."""
    import json
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            why = json.loads(archive.read("metadata.json")).get(WEIGHTS_ONLY)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    return None if not why else why if isinstance(why, str) else "it has no get_config()"


def _takes_weights(rebuild: Callable[[], keras.Model], path: str) -> bool:
    """Whether the model `rebuild()` makes loads the weights of the `.keras` file at `path`."""
    try:
        restore_weights(rebuild(), path)
    except Exception:  # noqa: BLE001 - any failure: the file cannot be restored this way
        return False
    return True


_UNLOCATED = re.compile(r"Could not locate (?:function|class) '([^']+)'")


def _unlocated_names(path: str | os.PathLike[str]) -> list[str]:
    """Every custom object a `.keras` file names that Keras would not find, in its order.

    Read from the file's `config.json` (Keras names only the first it fails
    on): a class from outside Keras that is not registered
    (`@keras.saving.register_keras_serializable()` gives `Package>Name`), or
    a plain Python function (`module: builtins`).
    """
    import json
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return []
    names: list[str] = []

    def visit(item: Any) -> None:
        if isinstance(item, dict):
            module, kind = item.get("module"), item.get("class_name")
            if kind == "function" and module == "builtins" and isinstance(item.get("config"), str):
                name = item["config"]
            elif isinstance(kind, str) and not str(module or "").startswith("keras"):
                registered = str(item.get("registered_name") or "")
                name = "" if ">" in registered else kind
            else:
                name = ""
            if name.startswith("__"):  # Keras's own markers (`__keras_tensor__`, `__lambda__`)
                name = ""
            if name and name not in names:
                names.append(name)
            for value in item.values():
                visit(value)
        elif isinstance(item, list):
            for value in item:
                visit(value)

    visit(config)
    return names


def file_alone_note(path: str | os.PathLike[str], missing: str | None = None) -> str | None:
    """What loading the `.keras` file at `path` alone needs, or `None` if `load_model` can.

    `missing` (default `None`) when there is no file at `path`.

    Raises:
        OSError: The file cannot be read.
    """
    if not os.path.isfile(path):
        return missing
    try:
        load_keras_model(path)
    except (TypeError, ValueError) as e:
        return _file_alone_note(e, path)
    return None


def _file_alone_note(error: Exception, path: str | os.PathLike[str]) -> str:
    """What loading a saved model's file alone needs: from the error `load_model` raised
    and the custom objects the file names that Keras cannot find (`_unlocated_names`).
    For a `Lambda` layer, whether `safe_mode=False` loads the file is tried, not assumed
    (Keras cannot rebuild a Lambda whose output shape it cannot infer)."""
    why = _weights_only(path)
    if why:
        return (
            "The model's .keras file holds its weights only: Keras cannot save the model "
            f"whole ({why}), and keras.models.load_model(path) cannot load it. tunekit loads "
            "the run's models by rebuilding them with the hypermodel and loading the file's "
            "weights (as KerasTuner restores its checkpoints); do the same: model = "
            "hypermodel.build(hp); model.load_weights(path). For a file that loads alone, "
            "give each class of yours (the model's, its loss's, its metrics') a get_config() "
            "that returns its __init__ arguments and register it with "
            "@keras.saving.register_keras_serializable()."
        )
    if "`Lambda` layer" in str(error):
        unsafe = _unsafe_load_error(path)
        needs = (
            "loading it needs keras.models.load_model(path, safe_mode=False) (it holds a "
            "Lambda layer of a Python lambda, which safe mode never loads; only for a file "
            "you trust)"
            if unsafe is None
            else "it holds a Lambda layer of a Python lambda, which safe mode never loads, "
            f"and keras.models.load_model(path, safe_mode=False) fails on it too ({unsafe}). "
            "For a file that loads alone, give the Lambda output_shape=, or make it a Layer "
            "subclass registered with @keras.saving.register_keras_serializable()"
        )
    else:
        names = sorted(set(_unlocated_names(path)) | set(_UNLOCATED.findall(str(error))))
        shown = ", ".join(f"'{n}': {n}" for n in names) if names else "...: ..."
        needs = (
            f"loading it needs keras.models.load_model(path, custom_objects={{{shown}}}), or "
            "the objects registered with @keras.saving.register_keras_serializable()"
        )
    return (
        "The model's .keras file cannot be loaded by keras.models.load_model(path) alone: "
        f"{needs}. tunekit loads the run's models by rebuilding them with the hypermodel and "
        "loading the file's weights (as KerasTuner restores its checkpoints); do the same: "
        "model = hypermodel.build(hp); model.load_weights(path)."
    )


def _unsafe_load_error(path: str | os.PathLike[str]) -> str | None:
    """`None` if `keras.models.load_model(path, safe_mode=False)` loads the file (one this
    run wrote) into a model that runs on one sample of zeros, else Keras's error, in one
    line. (A deserialized lambda may load and then fail at its first call: its names,
    `keras.ops` among them, are not those of the module that defined it.)"""
    import keras

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded = keras.models.load_model(path, safe_mode=False)
            zeros = keras.tree.map_structure(
                lambda t: np.zeros([1] + [d or 1 for d in t.shape[1:]], t.dtype), loaded.inputs
            )
            loaded(zeros, training=False)
    except Exception as e:  # noqa: BLE001 - any failure: the note must not advise it
        first = (str(e).strip().splitlines() or [""])[0].rstrip(".")
        return f"{type(e).__name__}: {first}" if first else type(e).__name__
    return None
