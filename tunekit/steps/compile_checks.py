"""The compile's `loss_weights` (and a dict `loss`'s keys), checked before any training.

In Keras 3 the third positional argument of `model.compile` is `loss_weights`,
not `metrics` as in Keras 2: `model.compile("adam", loss, ["accuracy"])`
compiles, and every `fit` then fails with an error that names neither
(TensorFlow: "dtype='string' is not a valid dtype for Keras type promotion").
Keras's own rule for the count (`keras.src.trainers.compile_utils.CompileLoss.
build`): a list or dict of weights has one weight per loss given (a loss given
once, `loss="mse"`, takes one weight, on every output); a dict of losses by
output takes a dict of weights by the same names. Where the loss is not a dict,
Keras applies a dict of weights by position whatever its keys (a one-output model's
`loss_weights={"outt": 0.5}` halves its loss): tunekit asks its keys to be the
outputs' names. A dict of losses fails every fit on a `Sequential` (it has no output
names: "'NoneType' object is not iterable") and under keys that are not outputs.
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
    one), and with a dict of losses a dict of weights has the same keys; a dict of
    weights is keyed by output names (a `Sequential`'s: its last layer's), and a dict
    of losses too, which a `Sequential` cannot take.

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
    _check_loss_keys(model, loss, what)
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
    names = _output_names(model)
    by_output = isinstance(loss, Mapping) and not _is_object(loss)  # checked below
    if isinstance(weights, Mapping) and names and not by_output and not set(weights) <= set(names):
        outputs = "its output is" if len(names) == 1 else "its outputs are"
        raise ModelCheckError(
            f"{what} was compiled with {received}, but {outputs} named {names}: Keras "
            "applies a dict of loss_weights by position when the loss is not a dict by "
            "output, whatever its keys, so a key that names no output weighs a loss all the "
            "same (a typo, or a weight meant for another model). Key it by the output names "
            f"(loss_weights={{{', '.join(f'{k!r}: ...' for k in names)}}}), or give a number."
        )
    if isinstance(weights, Mapping) and names and len(names) > 1 and not by_output:
        _check_weights_order(weights, names, what)
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


def _check_weights_order(weights: Mapping, names: list[str], what: str) -> None:
    """Refuses a dict of weights that Keras would apply to other outputs than its keys name.

    Under a loss that is not a dict by output, Keras 3 (`CompileLoss.build`)
    flattens a dict of `loss_weights` in the sorted order of its keys and applies
    the values by position: `{'z_out': 1.0, 'a_out': 0.0}` on outputs
    `['z_out', 'a_out']` weighs `z_out` 0.0 and `a_out` 1.0; one weight given for one
    of several outputs applies to all of them. Only keys that sort into the outputs'
    order, one per output, are applied as named.
    """
    if sorted(str(key) for key in weights) == names:
        return
    values = [weights[key] for key in sorted(weights)]
    if len(values) == 1:  # one weight: Keras applies it to every output
        values = values * len(names)
    applied = dict(zip(names, values, strict=False))
    raise ModelCheckError(
        f"{what} was compiled with loss_weights={_shown(weights)} on the outputs {names} and "
        "a loss that is not a dict by output: Keras then applies the dict's values in the "
        f"sorted order of its keys, by position ({applied} here), not by name, so the "
        "outputs are weighed otherwise than the keys say, with no error. Give the loss as a "
        f"dict by output (loss={{{', '.join(f'{k!r}: ...' for k in names)}}}) with these "
        "weights, or the weights as a list in the outputs' order "
        f"(loss_weights=[{', '.join(f'<{k}>' for k in names)}])."
    )


def _output_names(model: keras.Model) -> list[str] | None:
    """The names Keras keys a dict `loss` or `loss_weights` by: the keys of a dict of
    outputs, else a functional model's `output_names`, a `Sequential`'s last layer's
    name; `None` when unknown (a subclassed model)."""
    try:
        output = model.output
    except Exception:  # noqa: BLE001 - not built, or subclassed: by output_names
        output = None
    if isinstance(output, Mapping):
        return [str(name) for name in output]
    names = getattr(model, "output_names", None)
    if names:
        return [str(name) for name in names]
    if isinstance(model, keras.Sequential) and model.layers:
        return [model.layers[-1].name]
    return None


def _check_loss_keys(model: keras.Model, loss: Any, what: str) -> None:
    """Refuses a dict `loss` that Keras cannot key: on a `Sequential` (it has no
    `output_names`, and every fit fails with "'NoneType' object is not iterable"), or by
    names that are not the model's outputs (every fit fails: "Expected keys ...")."""
    if not isinstance(loss, Mapping) or _is_object(loss):
        return
    keys = ", ".join(f"{k!r}: ..." for k in loss)
    if isinstance(model, keras.Sequential):
        raise ModelCheckError(
            f"{what} is a keras.Sequential compiled with loss={{{keys}}}: Keras keys a dict "
            "of losses by the model's output names, which a Sequential does not have, and "
            "every trial would fail in fit (\"TypeError: 'NoneType' object is not iterable\"). "
            "Give its one loss as it is (loss=...), and loss_weights as a number if any; or "
            "build a functional model, keras.Model(inputs, outputs), whose output layers' "
            "names key the dict."
        )
    names = _output_names(model)
    if names is not None and not set(loss) <= set(names):
        outputs = "its output is" if len(names) == 1 else "its outputs are"
        raise ModelCheckError(
            f"{what} was compiled with loss={{{keys}}}, but {outputs} named {names}: "
            "every trial would fail in fit (Keras expects the outputs' names as keys). Key "
            "the losses (and loss_weights) by those names."
        )
