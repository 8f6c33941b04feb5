"""What a stream's model outputs: which outputs take class ids, and a unit that models a quantity.

A `StreamData`'s class ids are checked against the model's outputs where tunekit
reads them whole (`tunekit.data._stream_labels`). One output is judged by the
stream's task; the outputs of a dict `y` each by their compiled loss
(`classifying_outputs`): a Keras cross-entropy or hinge takes class ids, a
regression loss (`mse`) or a loss of the user's own is left alone. A model of a
quantity (one unit compiled with a regression loss, `quantity_unit`) fed integer
counts, which a stream takes for class ids by their dtype, is told so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tunekit.loss_reading import keras_loss_key, loss_name
from tunekit.outputs import output_activation, output_loss

__all__ = ["classifying_outputs", "quantity_unit"]

# Keras's regression losses (`keras_loss_key`): a model compiled with one predicts a quantity.
_REGRESSION_LOSSES = frozenset(
    {
        "mse",
        "meansquarederror",
        "mae",
        "meanabsoluteerror",
        "msle",
        "meansquaredlogarithmicerror",
        "mape",
        "meanabsolutepercentageerror",
        "huber",
        "logcosh",
        "poisson",
    }
)
# Output activations of a classifier's one unit (a probability, or a margin read by its sign).
_CLASSIFIER_UNITS = frozenset({"sigmoid", "softmax", "tanh", "softsign", "hard_sigmoid"})


def classifying_outputs(model: Any, data: Any) -> dict[str, Any]:
    """`{output name: output shape}` of a model's outputs that take class ids, for a
    `StreamData` of a dict `y` (`data.output_names`): those compiled with a Keras
    cross-entropy or hinge loss. `{}` for one output, or when the outputs cannot be
    read (a subclassed model before it is called)."""
    names = set(getattr(data, "output_names", None) or [])
    if not names:
        return {}
    try:
        output = model.output
    except (AttributeError, ValueError):
        return {}
    if isinstance(output, Mapping):
        tensors = {str(k): v for k, v in output.items()}
    else:
        listed = list(output) if isinstance(output, (list, tuple)) else [output]
        labels = list(getattr(model, "output_names", None) or [])
        if len(labels) != len(listed):
            return {}
        tensors = dict(zip(labels, listed, strict=True))
    found = {}
    for index, (name, tensor) in enumerate(tensors.items()):
        key = keras_loss_key(output_loss(model, name, index, len(tensors)))
        if name in names and ("crossentropy" in key or "hinge" in key):
            found[name] = tuple(tensor.shape)
    return found


def quantity_unit(model: Any, shape: Any) -> str:
    """`"one linear unit compiled with the loss 'mse'"` when a one-output `model` of
    output `shape` models a quantity: one unit, a Keras regression loss, no classifier
    activation (sigmoid, softmax, tanh); else `""`."""
    if shape is None or model is None or (len(shape) == 2 and shape[1] != 1) or len(shape) > 2:
        return ""
    loss = getattr(model, "loss", None)
    if isinstance(loss, (Mapping, list, tuple)):  # one output: one loss, however given
        loss = next(iter(loss.values() if isinstance(loss, Mapping) else loss), None)
    if keras_loss_key(loss) not in _REGRESSION_LOSSES:
        return ""
    activation = output_activation(model)
    if activation in _CLASSIFIER_UNITS:
        return ""
    unit = f"one {activation} unit" if activation else "one unit"
    return f"{unit} compiled with the loss {loss_name(loss)!r}"
