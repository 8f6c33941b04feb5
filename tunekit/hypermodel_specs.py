"""Hypermodels named on the command line: built-in names or `package.module:attribute`."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from typing import Any

__all__ = ["BUILTIN_HYPERMODELS", "UsageError", "check_spec", "resolve_hypermodel"]

BUILTIN_HYPERMODELS = ("mnist-dense", "toonvision-cnn")


class UsageError(ValueError):
    """Bad arguments or input: the command line exits with code 2."""


def _split(spec: str) -> tuple[str, str]:
    """`package.module:attribute` -> (module, attribute), or raises `UsageError`."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise UsageError(
            f"--hypermodel {spec!r} is not one of {list(BUILTIN_HYPERMODELS)} nor of the form "
            "package.module:attribute.")
    return module_name, attribute


def check_spec(spec: str) -> None:
    """Checks `spec` names a built-in or an importable module, without importing Keras."""
    if spec in BUILTIN_HYPERMODELS:
        return
    module_name, _ = _split(spec)
    sys.path.insert(0, os.getcwd())
    try:
        found = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        found = None
    finally:
        sys.path.pop(0)
    if found is None:
        raise UsageError(f"--hypermodel {spec!r}: cannot import {module_name!r} (no such module "
                         "on the Python path or in the current folder).")


def resolve_hypermodel(spec: str) -> Any:
    """Returns a factory `f(data) -> hypermodel` for `spec`, or raises `UsageError`.

    The bundled hypermodels take `input_shape` and `num_classes` from the data;
    `toonvision-cnn` adds its `Rescaling(1/255)` layer only when the data's
    values exceed 1 (0-255 floats), never on data tunekit already divided by 255.
    """
    if spec == "mnist-dense":
        from hypermodels import MnistDenseHyperModel

        return lambda data: MnistDenseHyperModel(data.input_shape, data.num_classes)
    if spec == "toonvision-cnn":
        from hypermodels import ToonVisionCNNHyperModel

        # tunekit's loaders divide uint8 pixels (and decoded images) by 255, so the
        # Rescaling(1/255) layer is only added for data given as 0-255 floats.
        return lambda data: ToonVisionCNNHyperModel(
            data.input_shape, data.num_classes, augment=data.name != "mnist",
            rescale=float(data.x_train.max(initial=0.0)) > 1.0)
    module_name, attribute = _split(spec)
    sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise UsageError(f"--hypermodel {spec!r}: cannot import {module_name!r} ({e}).") from None
    finally:
        sys.path.pop(0)
    if not hasattr(module, attribute):
        raise UsageError(f"--hypermodel {spec!r}: module {module_name!r} has no {attribute!r}.")
    target = getattr(module, attribute)
    import keras_tuner as kt

    if isinstance(target, type) and issubclass(target, kt.HyperModel):
        def make(data):
            try:
                return target(input_shape=data.input_shape, num_classes=data.num_classes)
            except TypeError:
                return target()
        return make
    if isinstance(target, kt.HyperModel) or callable(target):
        return lambda data: target
    raise UsageError(
        f"--hypermodel {spec!r} is a {type(target).__name__}, not a keras_tuner.HyperModel "
        "class or instance nor a build(hp) function.")
