"""The model's first layers, its loss and its outputs agree with the data and with each other.

Split from `tunekit.steps.check`: checks on the default model once its output
shape is known (a lazily built model has been called on samples). Each is a
setup that plain Keras trains with exit 0 to a wrong model, or that fails
every trial only after it started:

- inputs scaled twice: tunekit divided the data's uint8 pixels by 255
  (`Dataset.scaling`), or the data is in [0, 1] as given, and the model's first
  layers rescale them again (`Rescaling(1/255)`, the usual first layer for raw
  pixels; `tunekit.steps.scaling_checks`);
- probabilities under a loss told they are logits: a softmax (or sigmoid)
  output of several units under `from_logits=True`, which applies softmax
  again (the one-unit case is `tunekit.steps.output_checks`');
- outputs that cannot be probabilities under a cross-entropy that reads
  probabilities (`from_logits=False`, Keras's default, and every loss named by
  a string): a layer with no activation, or one not held to [0, 1] (relu,
  softplus, ...), of any width; Keras clips (and for several units
  normalises) them there, and the search trains to chance. One unit through
  a softmax is always 1;
- where the layers do not show the output's activation, the same read from
  the model's values, and a model compiled without a loss
  (`tunekit.steps.value_checks`);
- class ids under a cross-entropy that cannot take them at the output's
  width: a sparse categorical cross-entropy over one unit (it knows one
  class, 0), a binary cross-entropy over several units (it compares every
  unit with the id).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np

from tunekit.data import CLASSIFICATION, Dataset, StreamData
from tunekit.data._checks import CATEGORICAL_LABELS
from tunekit.errors import ModelCheckError, error_line
from tunekit.outputs import (
    SIGNED_ACTIVATIONS,
    output_activation,
    reads_probabilities,
    training_samples,
    unit_reading,
)
from tunekit.steps.label_forms import loss_key
from tunekit.steps.output_checks import WHAT, OutputPart, outputs_and_compile
from tunekit.steps.scaling_checks import check_rescaling, check_scaled_by_values
from tunekit.steps.value_checks import check_values, clipped, probability_fix, reads_what
from tunekit.steps.vector_objectives import check_scalar_objective
from tunekit.trial_refusals import every_trial

__all__ = ["check_pairings", "check_runs_on", "check_text_backend"]

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
    model: Any,
    data: Dataset | StreamData,
    objective_names: Sequence[str] = (),
    what: str = WHAT,
    read_stream: bool = True,
    sample: Any = None,
) -> None:
    """Refuses inputs scaled twice, probabilities read as logits, outputs that cannot
    be probabilities under a loss that reads them, a model compiled without a loss,
    class ids under a cross-entropy of another output width (see the module's
    docstring), and an objective (`objective_names`: its metric names, `val_` or not)
    whose metric reports a vector, or names one of its values (`val_precision/1`;
    `tunekit.steps.vector_objectives`): every trial would fail after training. `what`
    names the model in messages (the default configuration's, or a trial's).
    `read_stream=False` leaves out the checks that read a stream's first batch (a
    trial's: reading it again could move a user's reshuffling stream on); a stream's
    values are then read from `sample` (its first batch, read once), if given.

    Raises:
        ModelCheckError (a `ValueError`): Naming what does not fit and the fix.
    """
    if not isinstance(model, keras.Model) or not model.built:  # unknown until built
        return
    check_rescaling(model, data, what, sample, read_stream)
    check_scaled_by_values(model, data, what, sample, read_stream)
    check_values(
        model,
        data,
        what,
        read_stream=read_stream,
        sample=sample,
        objective_names=objective_names,
    )
    parts = outputs_and_compile(model)
    for name in objective_names:
        check_scalar_objective(name, [m for part in parts for m in part.metrics], what)
    for part in parts:
        output = f"has an output {part.name!r} that outputs" if len(parts) > 1 else "outputs"
        activation = output_activation(model, part.output if len(parts) > 1 else None)
        _check_probabilities_as_logits(part, activation, f"{what} {output}")
        _check_probability_range(part, activation, f"{what} {output}")
        if (data.task == CLASSIFICATION or len(parts) > 1) and (
            read_stream or not isinstance(data, StreamData)
        ):
            labels = _class_ids(data, part.name if len(parts) > 1 else None)
            if labels is not None:
                streamed = isinstance(data, StreamData)  # classes read from a batch
                _check_crossentropy_width(part, labels, f"{what} {output}", streamed)


def check_runs_on(model: Any, sample: Any, what: str = WHAT) -> None:
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
        shapes = keras.tree.map_structure(lambda a: tuple(np.shape(a))[1:], sample)
        first = error_line(error)
        first += "" if first.endswith((".", "!", "?")) else "."
        raise ModelCheckError(
            f"{what} has no keras.Input, and called on {len(keras.tree.flatten(sample)[0])} "
            f"training samples (per sample: {shapes}) it "
            f"raised {first} The model cannot run on the data's samples: change the layers "
            "that raised, or give it a keras.Input of one sample's shape (without the batch "
            "axis)."
        ) from error


def _check_probabilities_as_logits(part: OutputPart, activation: str | None, what: str) -> None:
    shape = tuple(part.output.shape)
    if len(shape) != 2 or not (isinstance(shape[-1], int) and shape[-1] > 1):
        return  # one unit: `output_checks._check_unit`
    if not getattr(part.loss, "from_logits", False) or activation not in _PROBABILITIES:
        return
    raise ModelCheckError(
        f"{what} {shape[-1]} units through a {activation!r} activation, but its loss has "
        f"from_logits=True, which applies {activation.removeprefix('hard_')} to them "
        "again: the loss and its gradients would be those of probabilities squashed "
        "twice, and the search would rank trials by them. Give the last layer no "
        "activation (logits), or compile the loss with from_logits=False."
    )


def _check_probability_range(part: OutputPart, activation: str | None, what: str) -> None:
    """Outputs that cannot be probabilities under a cross-entropy that reads them: one
    unit through a softmax (always 1), or any width through an activation not held to
    [0, 1] (Keras clips, and over several units normalises, them there)."""
    shape = tuple(part.output.shape)
    one = len(shape) == 1 or shape[-1:] == (1,)
    if one and activation == "softmax":
        raise ModelCheckError(
            f"{what} one unit through a softmax, which is 1 for every sample (a softmax "
            f"over one value): {every_trial(what)} would predict one class, or one value. Give "
            "the "
            "one unit activation='sigmoid' (a probability), or no activation with a "
            "from_logits=True loss; or end the model in one unit per class with softmax."
        )
    unbounded = _UNBOUNDED if one else _UNBOUNDED | SIGNED_ACTIVATIONS  # one signed: apart
    if (
        activation in unbounded
        and unit_reading([part.loss], activation) is False
        and reads_probabilities([part.loss])
    ):
        units = "one unit" if one else f"{shape[-1]} units"
        raise ModelCheckError(
            f"{what} {units} through the activation {activation!r}, which is not held to "
            f"[0, 1], but its loss is {reads_what(part.loss)}{clipped(one, part.loss)}. "
            f"{probability_fix(part.loss, one)}"
        )


def _class_ids(data: Dataset | StreamData, output: str | None) -> int | None:
    """How many classes the labels (of `output`, a dict's key) number when they are class
    ids `(n,)` (not one-hot rows, not values), else `None`."""
    if isinstance(data, StreamData):
        _, y = training_samples(data, targets=True)
    else:
        y = data.y_train
        if output is None and data.label_mode == CATEGORICAL_LABELS:
            return None
    if isinstance(y, Mapping):
        y = y.get(output) if output is not None else None
    if y is None or isinstance(y, (list, tuple)):
        return None
    labels = np.asarray(y)
    if (
        labels.ndim != 1
        or labels.dtype.kind not in "iub"
        and not (labels.dtype.kind == "f" and np.array_equal(labels, np.round(labels)))
    ):
        return None
    if output is None and data.num_classes is not None:
        return int(data.num_classes)
    return int(labels.max()) + 1 if labels.size and labels.min() >= 0 else None


def _check_crossentropy_width(
    part: OutputPart, num_classes: int, what: str, streamed: bool = False
) -> None:
    """(A width that does not fit the classes of arrays is refused by `check_model`, saying
    so; a stream's labels, when its classes are not given, are read from its first batch.)"""
    shape = tuple(part.output.shape)
    units = shape[-1] if len(shape) >= 2 else 1  # (more axes: Keras's symbolic shape may)
    key = loss_key(part.loss)
    if units == 1 and num_classes <= 2 and key.startswith("sparsecategorical"):
        raise ModelCheckError(
            f"{what} one unit per sample and is compiled with a sparse categorical "
            "cross-entropy: over one unit it knows one class (0), so label 1 is outside its "
            f"range, and {every_trial(what)} would fail or train on wrong numbers. Compile it "
            "with "
            "loss='binary_crossentropy' for one sigmoid unit "
            "(keras.losses.BinaryCrossentropy(from_logits=True) for a logit), or end the "
            "model in Dense(2, activation='softmax')."
        )
    sparse = key.startswith("sparsecategorical")
    if streamed and isinstance(units, int) and 1 < units < num_classes and sparse:
        raise ModelCheckError(
            f"{what} {units} units per sample and is compiled with a sparse categorical "
            f"cross-entropy, which takes class ids 0..{units - 1}, but the labels go up to "
            f"{num_classes - 1}: {every_trial(what)} would fail (TensorFlow) or train on wrong "
            "numbers (JAX does not check the ids). Give the classes the ids 0..K-1 (labels "
            f"1..K: y - 1 in the pipeline), or end the model in Dense({num_classes})."
        )
    if isinstance(units, int) and units > 1 and key.startswith("binary") and "crossentropy" in key:
        if units < num_classes:
            return  # too narrow for the classes: refused as such
        raise ModelCheckError(
            f"{what} {units} units per sample and is compiled with a binary "
            "cross-entropy, which compares every unit with a 0/1 label of its own, but the "
            f"labels are class ids (one per sample): {every_trial(what)} would fail, or score "
            "wrongly. For one class per sample, compile it with "
            "loss='sparse_categorical_crossentropy' (a softmax output); for several labels "
            f"per sample, give y as rows of {units} 0/1 values."
        )


def check_text_backend(
    model: Any, data: Dataset | StreamData, what: str, read_stream: bool = True
) -> None:
    """Refuses, before training, a model that reads strings under Keras on JAX.

    JAX runs no string tensors: such a model (`keras.Input(dtype="string")`
    before a `TextVectorization`), or any model fed a stream of strings, failed
    every trial inside `model.fit` ("Invalid dtype: object") with no word of
    the backend. `read_stream=False` (a trial's model) reads no stream: only the
    model's inputs are judged (the stream's were, with the default's model).

    Raises:
        ModelCheckError (a `ValueError`): Saying to run on TensorFlow.
    """
    if keras.backend.backend() != "jax":
        return
    try:
        inputs = list(model.inputs or [])  # none until a lazily built model is called
    except (AttributeError, ValueError):
        inputs = []
    text = any(str(getattr(tensor, "dtype", "")) == "string" for tensor in inputs)
    if not text and isinstance(data, StreamData) and read_stream:
        x = training_samples(data)  # the first batch's
        text = any(np.asarray(part).dtype.kind in "USO" for part in keras.tree.flatten(x))
    if text:
        raise ModelCheckError(
            f"{what} reads text (strings), which Keras on JAX cannot run: every trial would "
            "fail in model.fit. Run it on TensorFlow: --backend tensorflow on the command "
            "line (--backend auto picks it), or KERAS_BACKEND=tensorflow before Keras is "
            "imported (Python)."
        )
