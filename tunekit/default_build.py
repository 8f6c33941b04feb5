"""The builds tunekit's checks make before any training, and their one refusal.

Before any trial tunekit builds the hypermodel with its default hyperparameters
several times: the model check (`tunekit.steps.check.check_model`), the
default model a run records (`tunekit.model_description`), the space it
declares (`declared_space`), the check of `hyperparameters=`
(`tunekit.steps.space_checks`) and of `max_model_size` (`tunekit.tuners.size_check`).
A build that raises in any of them (also one that raises only from its second
call: a layer held by the hypermodel and called again in each build) is the
same fault, so each of those builds goes through `build_with_defaults`: the
same `ModelCheckError` naming the error and the user's line, whichever
build met it first.

Those builds are told apart by what an earlier one did: each build with the
defaults that succeeds is noted (`note_built`, per object, for this process).
A build that fails with the same values as one that succeeded (or a subset of
them: it stopped part way) did not fail from a value but from state the
object keeps between builds (a layer made in `__init__` and reused, a
counter), and the refusal says that instead of asking for a `default=`.
"""

from __future__ import annotations

import os
import traceback
import weakref
from typing import Any

from tunekit.errors import ModelCheckError, error_line

__all__ = ["build_error", "build_with_defaults", "check_built_a_model", "note_built"]

# Per hypermodel object: the values of each build with the defaults that succeeded.
_BUILT: weakref.WeakKeyDictionary[Any, list[dict[str, Any]]] = weakref.WeakKeyDictionary()


def build_with_defaults(hypermodel: Any, hp: Any) -> Any:
    """`hypermodel.build(hp)`, with a build that raises refused as `build_error` says.

    Args:
        hypermodel: A `keras_tuner.HyperModel`.
        hp: The `keras_tuner.HyperParameters` to build with (the defaults, the
            run's `hyperparameters=` first).

    Returns:
        What the build returns (a model; the hyperparameters it declares are in `hp`).

    Raises:
        ModelCheckError (a `ValueError`): The build raised any `Exception`.
    """
    try:
        model = hypermodel.build(hp)
    except Exception as e:  # noqa: BLE001 - any error: KerasTuner's tuner would stop on it
        raise build_error(e, hypermodel, hp) from e
    note_built(hypermodel, hp)
    return model


DEFAULTS = "its default hyperparameters"


def check_built_a_model(built: Any, values: str = DEFAULTS) -> None:
    """Refuses what a build returned when it is not a `keras.Model`: KerasTuner's tuner
    stops its trial on it (`FatalTypeError`, in `Tuner._try_build`), also for a
    hypermodel with its own `fit`, so the build with the defaults is refused before any
    training.

    Args:
        built: What `hypermodel.build(hp)` returned.
        values: The values it was built with, in words (default: the defaults).

    Raises:
        ModelCheckError (a `ValueError`): `built` is not a `keras.Model`; the message
            names what it is and the fix (`None`: a missing `return model`; a tuple or
            list holding a model: return the model alone; a layer: wrap it in a model;
            a class: an instance; a Keras 2 `tf_keras` model: build it with Keras 3).
    """
    import keras  # noqa: PLC0415 - a build ran: Keras is loaded

    if isinstance(built, keras.Model):
        return
    kind = built if isinstance(built, type) else type(built)
    what = f"{kind.__module__}.{kind.__qualname__}"
    if isinstance(built, type):
        what = f"the class {what}"
        fix = "return an instance of it (a model built and compiled), not the class."
    elif built is None:
        fix = "does build end with `return model`?"
    elif isinstance(built, list | tuple) and any(isinstance(b, keras.Model) for b in built):
        fix = (
            "return the model alone (build it, compile it, `return model`); other objects "
            "the build makes can be kept on the hypermodel or made again in its `fit`."
        )
    elif isinstance(built, keras.layers.Layer):
        fix = (
            "a layer is not a model: wrap it, e.g. `keras.Sequential([keras.Input(shape), "
            "layer])`, or `keras.Model(inputs, outputs)`, compile it and return that."
        )
    elif kind.__module__.split(".")[0] == "tf_keras":
        fix = (
            "it is a Keras 2 model (tf_keras); KerasTuner 1.4 and tunekit tune Keras 3 "
            "models: build it with `import keras` (Keras 3), not `tf_keras`."
        )
    else:
        fix = "build a keras.Model (compiled unless the hypermodel's own fit compiles it)."
    stop = (
        "KerasTuner's tuner stops at the first trial on anything else, so no search can start"
        if values == DEFAULTS
        else "KerasTuner's tuner would stop the whole search on it; this trial fails and the "
        "search goes on"
    )
    raise ModelCheckError(
        f"`hypermodel`'s build returned {what} with {values}, not a keras.Model. {stop}: {fix}"
    )


def note_built(hypermodel: Any, hp: Any) -> None:
    """Notes that `hypermodel.build(hp)` with the defaults succeeded (for `build_error`).

    Args:
        hypermodel: The object built (an object that cannot be weakly
            referenced or hashed is not noted).
        hp: The `keras_tuner.HyperParameters` after the build (its values).
    """
    values = dict(getattr(hp, "values", {}))
    try:
        seen = _BUILT.setdefault(hypermodel, [])
    except TypeError:
        return
    if values not in seen:
        seen.append(values)


def _built_before(hypermodel: Any, hp: Any) -> bool:
    """Whether a noted build of `hypermodel` succeeded with the values `hp` holds."""
    try:
        seen = _BUILT.get(hypermodel, [])
    except TypeError:
        return False
    values = dict(getattr(hp, "values", {}))
    return any(all(k in old and old[k] == v for k, v in values.items()) for old in seen)


def build_error(error: Exception, hypermodel: Any = None, hp: Any = None) -> ModelCheckError:
    """The refusal of a hypermodel whose build raises with its default hyperparameters
    (`error` caught one frame above the build: that frame is not the user's).

    Args:
        error: What the build raised.
        hypermodel: The object built, or `None` (not known).
        hp: The `keras_tuner.HyperParameters` the failing build was given
            (with what it declared before it failed), or `None`.

    Returns:
        The `ModelCheckError` to raise. When an earlier build of the same
        object with the same values succeeded in this process (`note_built`),
        it says that state kept on the object between builds causes the error;
        else it asks for a fix of the line or a hyperparameter's `default=`.
    """
    frames = traceback.extract_tb(error.__traceback__)[1:]  # [0]: the call above
    own = [f for f in frames if "site-packages" not in f.filename]  # the user's line first
    last = (own or frames)[-1:]
    where = "".join(f" (at {os.path.basename(f.filename)}:{f.lineno})" for f in last)
    if hypermodel is not None and hp is not None and _built_before(hypermodel, hp):
        return ModelCheckError(
            f"`hypermodel`'s build raised {error_line(error)}{where} when built again with "
            "its default hyperparameters: the first build of the same object with the same "
            "values succeeded and a later one failed, so state kept on the object between "
            "builds causes it (e.g. a layer created in __init__ and reused in every build: "
            "create layers inside build; or a counter the build changes), not a "
            "hyperparameter's value. KerasTuner builds the same object for every trial, so "
            "no search can start: make each build start afresh."
        )
    return ModelCheckError(
        f"`hypermodel`'s build raised {error_line(error)}{where} when built "
        "with its default hyperparameters (each hyperparameter's default, or its first "
        "value). KerasTuner builds it that way to declare the search space before any "
        "trial, so no search can start: fix that line, or, if a hyperparameter's value "
        "causes the error, give that hyperparameter a default= that builds."
    )
