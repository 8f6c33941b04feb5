"""Callables that are not build functions: Keras objects passed as the hypermodel.

A hypermodel is a `keras_tuner.HyperModel` or a callable `build(hp)` returning a
compiled model (a function, or an object with `__call__(self, hp)`). A Keras layer
(an adapted `keras.layers.Normalization`), model, optimizer, loss, metric,
initializer, regularizer or constraint is callable too, but on tensors: called as
`build(hp)` it failed deep inside Keras ("object of type 'HyperParameters' has no
len()"). `not_a_build` says what such an object is, so that `CoarseToFine(...)` and
`--hypermodel module:NAME` refuse it before anything is built. Imports Keras only
when it is loaded already (a Keras object means it is).
"""

from __future__ import annotations

import sys
from typing import Any

from tunekit.errors import UsageError

__all__ = ["BUILD_REMEDY", "not_a_build", "own_fit", "refuse_not_a_build"]

#: What to pass instead, said by both refusals.
BUILD_REMEDY = (
    "pass a function build(hp) that returns a compiled model (e.g. `def build(hp): "
    "model = ...(units=hp.Int('units', 32, 256)); model.compile(...); return model`), "
    "or a keras_tuner.HyperModel"
)
# Keras's families of callables that are not build functions, by their public module.
_FAMILIES = (
    ("Model", "models"),
    ("Layer", "layers"),
    ("optimizers.Optimizer", "optimizers"),
    ("losses.Loss", "losses"),
    ("metrics.Metric", "metrics"),
    ("initializers.Initializer", "initializers"),
    ("regularizers.Regularizer", "regularizers"),
    ("constraints.Constraint", "constraints"),
)


def not_a_build(obj: Any) -> str | None:
    """What `obj` is when it is a Keras object or class called on tensors, not on `hp`.

    Args:
        obj: The hypermodel given (anything).

    Returns:
        E.g. `"a keras.layers.Normalization instance"`, `"a built Keras model
        (Sequential 'sequential')"`, `"the keras.layers.Dense class"`, `"a MyLayer
        instance (a keras.layers.Layer)"`; None for anything else (a function, a
        HyperModel, a callable build object, or any object when Keras is not loaded).
    """
    keras = sys.modules.get("keras")
    if keras is None:
        return None
    cls = obj if isinstance(obj, type) else type(obj)
    for path, module in _FAMILIES:
        base: Any = keras
        for part in path.split("."):
            base = getattr(base, part, None)
        if not (isinstance(base, type) and issubclass(cls, base)):
            continue
        public = getattr(getattr(keras, module, None), cls.__name__, None) is cls
        name = f"keras.{module}.{cls.__name__}" if public else cls.__name__
        if isinstance(obj, type):
            return f"the {name} class"
        if path == "Model":
            return f"a built Keras model ({cls.__name__} {getattr(obj, 'name', '')!r})"
        family = "" if public else f" (a keras.{path})"
        return f"{'an' if name[0] in 'AEIOU' else 'a'} {name} instance{family}"
    return None


def refuse_not_a_build(obj: Any, said: str) -> None:
    """Raises `UsageError` (exit 2 on the command line) if `not_a_build(obj)` says what it
    is, naming it `said` (e.g. `"--hypermodel 'prep:norm'"`)."""
    what = not_a_build(obj)
    if what is not None:
        tuned = ", which has no hyperparameters to tune" if "built Keras model" in what else ""
        raise UsageError(
            f"{said} is {what}{tuned}, not a build function or a keras_tuner.HyperModel: "
            f"calling it as build(hp) cannot make a model; {BUILD_REMEDY}."
        )


def own_fit(hypermodel: Any) -> bool:
    """Whether `hypermodel` (a `keras_tuner.HyperModel`) overrides `HyperModel.fit`: its
    own `fit` trains the model, and what it passes to `model.fit` is its own."""
    import keras_tuner as kt  # noqa: PLC0415 - a HyperModel exists, so it is loaded

    return type(hypermodel).fit is not kt.HyperModel.fit
