"""The model's first layers, its loss and its outputs agree with the data and with each other.

Split from `tunekit.steps.check`: checks on the default model once its output
shape is known (a lazily built model has been called on samples). Each is a
setup that plain Keras trains with exit 0 to a wrong model, or that fails
every trial only after it started:

- pixels scaled twice: tunekit divided the data's uint8 pixels by 255
  (`Dataset.scaling`), and the model's first layers rescale them again
  (`Rescaling(1/255)`, the usual first layer for raw pixels);
- probabilities under a loss told they are logits: a softmax (or sigmoid)
  output of several units under `from_logits=True`, which applies softmax
  again (the one-unit case is `tunekit.steps.output_checks`');
- one unit that cannot be a probability: a softmax (always 1), or an
  activation not held to [0, 1] (relu, softplus, ...) under a cross-entropy
  that reads a probability (Keras clips it there);
- class ids under a cross-entropy that cannot take them at the output's
  width: a sparse categorical cross-entropy over one unit (it knows one
  class, 0), a binary cross-entropy over several units (it compares every
  unit with the id).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import keras
import numpy as np

from tunekit.data import CLASSIFICATION, SCALED_UINT8, Dataset, StreamData
from tunekit.data._checks import CATEGORICAL_LABELS
from tunekit.errors import ModelCheckError
from tunekit.outputs import (
    output_activation,
    reads_probabilities,
    training_samples,
    unit_reading,
)
from tunekit.steps.label_forms import loss_key
from tunekit.steps.metric_reading import vector_result
from tunekit.steps.output_checks import WHAT, OutputPart, outputs_and_compile

__all__ = ["check_pairings", "check_runs_on"]

# Output activations whose values are probabilities already: a logit loss squashes them again.
_PROBABILITIES = ("softmax", "sigmoid", "hard_sigmoid")
# Keras activations whose values leave [0, 1], above 1 or below 0 (those read by their sign,
# linear, tanh and softsign, are `tunekit.outputs.SIGNED_ACTIVATIONS`, checked apart).
_UNBOUNDED = frozenset(
    {
        "relu",
        "relu6",
        "softplus",
        "exponential",
        "elu",
        "selu",
        "gelu",
        "silu",
        "swish",
        "leaky_relu",
        "mish",
        "celu",
        "hard_silu",
        "hard_swish",
        "log_sigmoid",
        "log_softmax",
        "squareplus",
        "sparse_plus",
    }
)


def check_pairings(
    model: Any, data: Dataset | StreamData, objective_names: Sequence[str] = ()
) -> None:
    """Refuses pixels scaled twice, probabilities read as logits, class ids under a
    cross-entropy of another output width (see the module's docstring), and an
    objective (`objective_names`: its metric names, `val_` or not) whose metric
    reports a vector (`tunekit.steps.metric_reading.vector_result`): every
    trial would fail after training.

    Raises:
        ModelCheckError (a `ValueError`): Naming what does not fit and the fix.
    """
    if not isinstance(model, keras.Model) or not model.built:  # unknown until built
        return
    _check_rescaling(model, data)
    parts = outputs_and_compile(model)
    for name in objective_names:
        _check_scalar_objective(name, [m for part in parts for m in part.metrics])
    for part in parts:
        _check_probabilities_as_logits(model, part, len(parts) > 1)
        _check_unit_range(model, part, len(parts) > 1)
    if len(parts) == 1 and data.task == CLASSIFICATION and _class_ids(data):
        _check_crossentropy_width(parts[0], data.num_classes)


def check_runs_on(model: Any, sample: Any) -> None:
    """Refuses a lazily built model (no `Input`) that cannot run on two of the data's
    training samples, with the error Keras raised.

    Without this the check left it to the trials, where that first call had already
    fixed a `Sequential`'s input shape to the two samples': every trial then failed on
    "already been configured to use input shape (2, ...)", which hid Keras's error.

    Raises:
        ModelCheckError (a `ValueError`): Naming the samples' shape and Keras's error.
    """
    if sample is None or not isinstance(model, keras.Model) or model.built:
        return
    try:
        model(sample, training=False)
    except Exception as error:  # noqa: BLE001 - any error: every fit would raise it too
        shapes = keras.tree.map_structure(lambda a: tuple(np.shape(a)), sample)
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        first += "" if first.endswith((".", "!", "?")) else "."
        raise ModelCheckError(
            f"{WHAT} has no keras.Input, and called on two training samples (shape "
            f"{shapes}) it raised {type(error).__name__}: {first} The model cannot take "
            "the data's samples: give it a keras.Input of their shape, or change the "
            "layers that raised."
        ) from error


def _leading_layers(model: keras.Model) -> Iterator[Any]:
    """The layers up to the first one with trainable weights, nested models opened."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _leading_layers(layer)
        else:
            yield layer
        if layer.trainable_weights:
            return


def _check_rescaling(model: keras.Model, data: Dataset | StreamData) -> None:
    if getattr(data, "scaling", None) != SCALED_UINT8:
        return
    for layer in _leading_layers(model):
        if not isinstance(layer, keras.layers.Rescaling):
            continue
        try:
            scale = np.asarray(layer.scale, dtype=float)
        except (TypeError, ValueError):  # a tensor or something else: not judged
            continue
        if scale.size and (np.allclose(scale, 1 / 255) or np.allclose(scale, 1 / 127.5)):
            raise ModelCheckError(
                f"{WHAT} starts with {layer.name!r}, a Rescaling(scale={scale.flat[0]:.6g}) "
                f"layer, but tunekit has already divided the data's uint8 pixels by 255 "
                f"(x scaling: {SCALED_UINT8}): the model would scale them a second time, "
                f"to [0, {1 / 255:.4f}], and every trial would train on inputs near 0. "
                "Remove the Rescaling layer (ToonVisionCNNHyperModel: pass rescale=False). "
                "To keep it, so that the saved model takes raw pixels, give tunekit the "
                "pixels unscaled: float32 arrays are used as given (x.astype('float32')), "
                "and image_folder_stream(..., scale=False) streams a folder's pixels as "
                "they are."
            )


def _check_probabilities_as_logits(model: keras.Model, part: OutputPart, several: bool) -> None:
    shape = tuple(part.output.shape)
    if len(shape) != 2 or not (isinstance(shape[-1], int) and shape[-1] > 1):
        return  # one unit: `output_checks._check_unit`
    if not getattr(part.loss, "from_logits", False):
        return
    activation = output_activation(model, part.output if several else None)
    if activation not in _PROBABILITIES:
        return
    output = f"has an output {part.name!r} that outputs" if several else "outputs"
    raise ModelCheckError(
        f"{WHAT} {output} {shape[-1]} units through a {activation!r} activation, but its "
        f"loss has from_logits=True, which applies {activation.removeprefix('hard_')} to "
        "them again: the loss and its gradients would be those of probabilities squashed "
        "twice, and the search would rank trials by them. Give the last layer no "
        "activation (logits), or compile the loss with from_logits=False."
    )


def _check_unit_range(model: keras.Model, part: OutputPart, several: bool) -> None:
    """One unit that cannot be a probability: a softmax (always 1), or an activation not
    held to [0, 1] under a cross-entropy that reads one (Keras clips it there)."""
    shape = tuple(part.output.shape)
    if not (len(shape) == 1 or shape[-1:] == (1,)):
        return
    activation = output_activation(model, part.output if several else None)
    output = f"has an output {part.name!r} that outputs" if several else "outputs"
    if activation == "softmax":
        raise ModelCheckError(
            f"{WHAT} {output} one unit through a 'softmax' activation, which is 1 for "
            "every sample (a softmax over one value): every trial would predict one class, "
            "or one value. Give the one unit activation='sigmoid' (a probability), or no "
            "activation with a from_logits=True loss; or end the model in one unit per "
            "class with softmax."
        )
    if (
        activation in _UNBOUNDED
        and unit_reading([part.loss], activation) is False
        and reads_probabilities([part.loss])
    ):
        raise ModelCheckError(
            f"{WHAT} {output} one unit through a {activation!r} activation, which is not "
            "held to [0, 1], but its loss is a cross-entropy that reads a probability "
            "(from_logits=False): Keras clips the output to [0, 1] there, so the loss and "
            "its gradients are wrong wherever the unit leaves that range. Give the last "
            "layer activation='sigmoid', or no activation and "
            "keras.losses.BinaryCrossentropy(from_logits=True)."
        )


def _check_scalar_objective(name: str, metrics: list[Any]) -> None:
    base = name.removeprefix("val_")
    for metric in metrics:
        if (vector := vector_result(metric)) is None:
            continue
        logged, why = vector
        if logged and (base == logged or base.endswith(f"_{logged}")):  # or by output
            raise ModelCheckError(
                f"The objective {name!r} is a metric whose result is a vector: {why}, or "
                "choose another objective. A search ranks trials by one number, and every "
                "trial would fail after training."
            )


def _class_ids(data: Dataset | StreamData) -> bool:
    """Whether the labels are class ids `(n,)` (not one-hot rows, not a dict)."""
    if isinstance(data, StreamData):
        _, y = training_samples(data, targets=True)
        return not isinstance(y, (Mapping, list, tuple)) and np.ndim(y) == 1
    return (
        not isinstance(data.y_train, Mapping)
        and data.label_mode != CATEGORICAL_LABELS
        and np.ndim(data.y_train) == 1
    )


def _check_crossentropy_width(part: OutputPart, num_classes: int | None) -> None:
    """(A width that does not fit the classes is refused by `check_model`, saying so.)"""
    shape = tuple(part.output.shape)
    units = shape[-1] if len(shape) == 2 else 1
    key = loss_key(part.loss)
    if num_classes is not None and units != num_classes and not (units == 1 == num_classes - 1):
        return
    if units == 1 and key.startswith("sparsecategorical"):
        raise ModelCheckError(
            f"{WHAT} outputs one unit per sample and is compiled with a sparse categorical "
            "cross-entropy: over one unit it knows one class (0), so label 1 is outside its "
            "range, and every trial would fail or train on wrong numbers. Compile it with "
            "loss='binary_crossentropy' for one sigmoid unit "
            "(keras.losses.BinaryCrossentropy(from_logits=True) for a logit), or end the "
            "model in Dense(2, activation='softmax')."
        )
    if isinstance(units, int) and units > 1 and key.startswith("binary") and "crossentropy" in key:
        raise ModelCheckError(
            f"{WHAT} outputs {units} units per sample and is compiled with a binary "
            "cross-entropy, which compares every unit with a 0/1 label of its own, but the "
            "labels are class ids (one per sample): every trial would fail, or score "
            "wrongly. For one class per sample, compile it with "
            "loss='sparse_categorical_crossentropy' (a softmax output); for several labels "
            f"per sample, give y as rows of {units} 0/1 values."
        )
