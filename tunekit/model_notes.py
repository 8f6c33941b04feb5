"""What loading a run's `.keras` file alone needs: the note a run's report gives.

Split from `tunekit.model_files` (which saves the files and loads them back, rebuilt
with their weights when `keras.models.load_model` cannot load them alone). A file may
need `custom_objects=` (an unregistered class or function of the user's), `safe_mode=
False` (a `Lambda` of a Python lambda), a `from_config` of the user's that does not
rebuild its object, or hold the weights only (`WEIGHTS_ONLY`: a model Keras cannot save
whole); `file_alone_note` says which, in the words of a fix.
"""

from __future__ import annotations

import os
import re
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import keras

__all__ = [
    "RESTORE",
    "WEIGHTS_ONLY",
    "alone_note",
    "file_alone_note",
    "load_keras_model",
    "weights_only",
]

#: In a weights-only `.keras` file's `metadata.json` (see `tunekit.model_files.save_keras`).
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
    import keras

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        return keras.models.load_model(path, custom_objects=custom_objects, safe_mode=True)


def weights_only(path: str | os.PathLike[str]) -> str | None:
    """Why the `.keras` file at `path` is `save_keras`'s weights-only file, else `None`."""
    import json
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            why = json.loads(archive.read("metadata.json")).get(WEIGHTS_ONLY)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    return None if not why else why if isinstance(why, str) else "it has no get_config()"


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


#: How a note says to restore a file's model from its weights. A model built without
#: `keras.Input` (a `Sequential` of layers alone) has no weights until its first call, and
#: `load_weights` refuses it ("a model that has not yet been built"): called on a batch of
#: inputs first, it loads.
RESTORE = (
    "model = hypermodel.build(hp); if the model is built without keras.Input (its weights "
    "are made at its first call), call it on a batch of its inputs first: model(x[:1]); "
    "then model.load_weights(path)"
)


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
    except OSError:
        raise
    except Exception as e:  # noqa: BLE001 - what a from_config of the user's raises too
        return alone_note(e, path)
    return None


def alone_note(error: Exception, path: str | os.PathLike[str]) -> str:
    """What loading a saved model's file alone needs: from the error `load_model` raised
    and the custom objects the file names that Keras cannot find (`_unlocated_names`).
    For a `Lambda` layer, whether `safe_mode=False` loads the file is tried, not assumed
    (Keras cannot rebuild a Lambda whose output shape it cannot infer)."""
    why = weights_only(path)
    if why:
        return (
            "The model's .keras file holds its weights only: Keras cannot save the model "
            f"whole ({why}), and keras.models.load_model(path) cannot load it. tunekit loads "
            "the run's models by rebuilding them with the hypermodel and loading the file's "
            f"weights (as KerasTuner restores its checkpoints); do the same: {RESTORE}. "
            "For a file that loads alone, "
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
    elif not isinstance(error, (TypeError, ValueError)):  # not Keras's: a class of yours
        needs = (
            f"loading it raises {type(error).__name__}: {str(error).strip()[:300]} (a "
            "from_config() of yours that cannot rebuild its object from what its get_config() "
            "returns: cls.from_config(obj.get_config()) must rebuild it)"
        )
    else:
        names = sorted(set(_unlocated_names(path)) | set(_UNLOCATED.findall(str(error))))
        shown = ", ".join(f"'{n}': {n}" for n in names) if names else "...: ..."
        needs = (
            f"loading it needs keras.models.load_model(path, custom_objects={{{shown}}}), or "
            "the objects registered with @keras.saving.register_keras_serializable() (and a "
            "loss or metric whose get_config() leaves out a setting, as Keras's Huber its "
            "delta, then comes back with its default: tunekit's test numbers are the build's)"
        )
    return (
        "The model's .keras file cannot be loaded by keras.models.load_model(path) alone: "
        f"{needs}. tunekit loads the run's models by rebuilding them with the hypermodel and "
        f"loading the file's weights (as KerasTuner restores its checkpoints); do the same: "
        f"{RESTORE}."
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
