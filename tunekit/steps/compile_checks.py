"""The compile's `loss_weights`, checked before any training: numbers, one per loss.

In Keras 3 the third positional argument of `model.compile` is `loss_weights`,
not `metrics` as in Keras 2: `model.compile("adam", loss, ["accuracy"])`
compiles, and every `fit` then fails with an error that names neither
(TensorFlow: "dtype='string' is not a valid dtype for Keras type promotion").
Keras's own rule for the count (`keras.src.trainers.compile_utils.CompileLoss.
build`): a list or dict of weights has one weight per loss given (a loss given
once, `loss="mse"`, takes one weight, on every output); a dict of losses by
output takes a dict of weights by the same names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras

from tunekit.errors import ModelCheckError
from tunekit.trial_refusals import every_trial

__all__ = ["check_loss_weights"]


def _is_object(value: Any) -> bool:
    """A serialized Keras object (`get_compile_config`'s form of a metric or loss)."""
    return isinstance(value, Mapping) and "class_name" in value


def _leaves(value: Any) -> list[Any]:
    """The entries of a compile setting, flat (a serialized object is one)."""
    if isinstance(value, (list, tuple)):
        return [leaf for item in value for leaf in _leaves(item)]
    if isinstance(value, Mapping) and not _is_object(value):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    return [value]


def _shown(value: Any) -> str:
    """A compile setting as the user wrote it (a serialized object by its class)."""
    if _is_object(value):
        return f"{value['class_name']}(...)"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k!r}: {_shown(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _is_weight(value: Any) -> bool:
    """A number (a NumPy or backend one too), or `None` (Keras leaves that loss unweighted)."""
    if _is_object(value):
        return value["class_name"] in ("__numpy__", "__tensor__")
    return value is None or isinstance(value, (int, float))


def check_loss_weights(model: Any, what: str) -> None:
    """Refuses a compile whose `loss_weights` Keras cannot apply, before any training.

    Read from `model.get_compile_config()` (a model not compiled, or compiled
    in an unusual way, is not checked). `loss_weights` must be `None`, a
    number, or a list / dict of numbers (`None` among them: that loss is not
    weighted); a list or dict has one weight per loss (a loss given once takes
    one), and with a dict of losses a dict of weights has the same keys.

    Args:
        model: The built model (a `keras.Model`; anything else is not checked).
        what: The model in messages ("The model built with the default
            hyperparameters").

    Raises:
        ModelCheckError (a `ValueError`): Naming the `loss_weights` received
            and the fix: for strings or objects (Keras 2's positional
            `metrics`), `metrics=[...]` by name; for a count or keys that do
            not match the losses, one weight per loss.
    """
    if not isinstance(model, keras.Model) or not getattr(model, "compiled", False):
        return
    try:
        config = model.get_compile_config() or {}
    except Exception:  # noqa: BLE001 - compiled in an unusual way: not checked
        return
    weights, loss = config.get("loss_weights"), config.get("loss")
    if weights is None:
        return
    leaves = _leaves(weights)
    received = f"loss_weights={_shown(weights)}"
    if not all(_is_weight(leaf) for leaf in leaves):  # names or objects, once serialized
        raise ModelCheckError(
            f"{what} was compiled with {received}: loss_weights must be numbers, one per "
            f"loss, and {every_trial(what)} would fail. In Keras 3 the third positional "
            "argument of model.compile is loss_weights, not metrics (as in Keras 2): pass "
            f"the metrics by name, model.compile(optimizer, loss, metrics={_shown(weights)})."
        )
    if not isinstance(weights, (list, tuple, Mapping)) or None in _leaves(loss) + leaves:
        return  # one number; or a loss or weight left out: Keras's count rule is not followed
    losses = len(_leaves(loss))
    if isinstance(loss, Mapping) and not _is_object(loss) and isinstance(weights, Mapping):
        if set(weights) != set(loss):
            raise ModelCheckError(
                f"{what} was compiled with loss={{{', '.join(map(repr, loss))}}} and "
                f"{received}: the weights' keys must be the losses' (the outputs' names); "
                f"a missing one fails {every_trial(what)}, and a stray one is not applied as "
                "meant. "
                f"Give loss_weights={{{', '.join(f'{k!r}: ...' for k in loss)}}}."
            )
    elif len(leaves) != losses:
        once = "" if losses != 1 else " (a loss given once, on every output, takes one weight)"
        raise ModelCheckError(
            f"{what} was compiled with {len(leaves)} loss_weights ({received}) for {losses} "
            f"loss{'es' if losses != 1 else ''}{once}: Keras fails {every_trial(what)} "
            "('`loss_weights` must match the number of losses'). Give one weight per loss, "
            "or one loss per output (loss={'out_a': ..., 'out_b': ...}) with its weight."
        )
