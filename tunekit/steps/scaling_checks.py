"""Inputs the model scales a second time, into a range too narrow to learn from.

Split from `tunekit.steps.pairing_checks` and `tunekit.steps.value_checks`. A model
whose first layers divide its inputs by 255 (`Rescaling(1/255)`, the usual first layer
for raw pixels, or `1/127.5`, `1/256`...: `squeezed`), an op or a `Lambda` that does
(`inputs / 255.0`, read by the values that reach its first layer with weights, also in a
subclassed model's `call`), or a `Normalization` adapted on raw pixels, trains on inputs
that hardly vary (a range 1/255 wide), at chance with exit 0, when its inputs were in
[0, 1] already. Whoever scaled them first:

- tunekit divided the data's uint8 pixels by 255 (`Dataset.scaling` is `SCALED_UINT8`);
- or the data came in [0, 1] and is used as given (`UNSCALED`: `load_digits().images /
  16`, MNIST as float32 divided by 255, an `.npz` of float32 in [0, 1], a stream scaled by
  its own pipeline). The evidence is the values (`unit_range`): every value of a
  `Dataset`'s training `x` (of the input the scaling takes, when there are several), or of
  a stream's first batch, lies in [0, 1], and they are not all one value. Binary 0/1
  features count: divided by 255 they are squeezed as much. Standardised data (negative
  values) and raw pixels (up to 255) are not in [0, 1], and are left alone.

The message says which of the two it is, and the fix as the interface says it: from
Python, `ToonVisionCNNHyperModel(rescale=False)`; on the command line (`cli_words`),
`--hypermodel toonvision-cnn`, built without its `Rescaling` layer.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from tunekit.data import SCALED_UINT8, Dataset, StreamData
from tunekit.errors import ModelCheckError, said_as
from tunekit.outputs import training_samples
from tunekit.steps.value_checks import value_sample
from tunekit.trial_refusals import every_trial

__all__ = [
    "FirstScaling",
    "check_rescaling",
    "check_scaled_by_values",
    "first_scaling",
    "scaled_twice",
    "squeezed",
    "unit_range",
]

# The remedies: Python's words, and the command line's (`TunekitError.cli_words`).
_REMOVE = "(the bundled ToonVisionCNNHyperModel: pass rescale=False)"
_CLI_REMOVE = "(the bundled CNN: --hypermodel toonvision-cnn builds it without its Rescaling layer)"
_KEEP_UINT8 = (
    "give tunekit the pixels unscaled: an .npz of float32 pixels in [0, 255] (used as given), "
    "float32 arrays, or image_folder_stream(..., scale=False)."
)
_KEEP_GIVEN = (
    "give tunekit the raw pixels in [0, 255], not divided beforehand: float32 arrays, an .npz "
    "of float32 pixels (used as given), or image_folder_stream(..., scale=False)."
)
_CLI_KEEP = (
    "give --data an .npz of float32 pixels in [0, 255] (used as given: tunekit divides only uint8)."
)


@dataclass(frozen=True)
class FirstScaling:
    """What put the model's inputs in [0, 1] before its own scaling: `uint8` when tunekit
    divided uint8 pixels by 255, else the data came so (`said`: the message's clause)."""

    said: str
    uint8: bool


def squeezed(scale: float) -> bool:
    """Whether scaling inputs already in [0, 1] by `scale` squeezes them to a range of 1/100
    or less (1/255, 1/256, 1/127.5, 1/128...), where they hardly vary."""
    return 0 < abs(scale) <= 1 / 100 + 1e-9


def unit_range(values: Any) -> tuple[float, float] | None:
    """`(low, high)`, the 0.1% and 99.9% quantiles of `values` (an array, bool, integer or
    float; of up to a million of them, evenly spaced), when those lie in [0, 1] give or take
    0.05 and differ; `None` otherwise (NaN, text, empty, values beyond). A few values just
    outside [0, 1] (a resize's overshoot: 1.02, -0.01) leave data that a 1/255 scaling
    squeezes all the same, so they do not end the check."""
    try:
        array = np.asarray(values)
    except Exception:  # noqa: BLE001 - not array-like: not judged
        return None
    if array.size == 0 or array.dtype.kind not in "biuf":
        return None
    flat = array.ravel()
    if flat.size > 1_000_000:
        flat = flat[:: flat.size // 1_000_000 + 1]
    low, high = (float(q) for q in np.quantile(flat.astype("float64"), [0.001, 0.999]))
    return (low, high) if -0.05 <= low < high <= 1.05 else None  # NaN compares False


def first_scaling(
    data: Dataset | StreamData,
    model: Any = None,
    index: int | None = 0,
    sample: Any = None,
    read_stream: bool = True,
) -> FirstScaling | None:
    """What scaled the inputs of `model`'s input `index` (`None`: unknown) into [0, 1]
    already: tunekit (`SCALED_UINT8`), or the data (`unit_range` of a `Dataset`'s training
    `x`, or of a stream's first batch: `sample`, or read when `read_stream`); `None` when
    neither did, or the input's values are not known."""
    if getattr(data, "scaling", None) == SCALED_UINT8:
        return FirstScaling(
            f"tunekit has already divided the data's uint8 pixels by 255 (x scaling: "
            f"{SCALED_UINT8})",
            uint8=True,
        )
    if isinstance(data, Dataset):
        x, where = data.x_train, "the training x"
    elif sample is not None or read_stream:
        x = sample if sample is not None else training_samples(data)
        where = "the stream's first batch"
    else:
        return None
    part, name = _input_part(x, model, index)
    found = unit_range(part) if part is not None else None
    if found is None:
        return None
    where = f"input {name!r} of {where}" if name else where
    return FirstScaling(
        f"the data's values already lie in [0, 1] ({found[0]:.4g} to {found[1]:.4g} in "
        f"{where}, all but 0.2% of them, used as given)",
        uint8=False,
    )


def scaled_twice(what: str, scale: float, by: str, first: FirstScaling) -> ModelCheckError:
    """The refusal of a model that scales inputs `first` put in [0, 1] again `by` (its
    Rescaling layers, or its ops), by `scale` in all; its remedies said for both
    interfaces (`cli_words`)."""
    keep = _KEEP_UINT8 if first.uint8 else _KEEP_GIVEN
    error = ModelCheckError(
        f"{what} starts by rescaling its inputs by {scale:.6g} ({by}), but {first.said}: "
        f"the model would scale them a second time, into a range {abs(scale):.4f} wide, "
        f"and {every_trial(what)} would train on inputs that hardly vary. Remove the "
        f"scaling from the model {_REMOVE}. To keep it, so that the saved model takes raw "
        f"pixels, {keep}"
    )
    return said_as(error, cli_words={_REMOVE: _CLI_REMOVE, keep: _CLI_KEEP})


def check_rescaling(
    model: keras.Model,
    data: Dataset | StreamData,
    what: str,
    sample: Any = None,
    read_stream: bool = True,
) -> None:
    """Refuses leading `Rescaling` layers (their combined scale, per input) that squeeze
    inputs already in [0, 1] (`first_scaling`), and a leading `Normalization` whose
    statistics are of raw pixels on such inputs.

    Raises:
        ModelCheckError (a `ValueError`): `scaled_twice`'s message, or the Normalization's.
    """
    scales: dict[int | None, tuple[float, list[str]]] = {}
    for layer in _leading_layers(model):
        index = _input_index(model, layer)
        if isinstance(layer, keras.layers.Normalization):
            reach = abs(scales.get(index, (1.0, []))[0])
            _check_normalization(layer, what, reach, data, model, index, sample, read_stream)
        if isinstance(layer, keras.layers.Rescaling):
            try:
                scale = float(np.mean(np.asarray(layer.scale, dtype=float)))
            except (TypeError, ValueError):  # a tensor or something else: not judged
                return
            before, names = scales.get(index, (1.0, []))
            scales[index] = (before * scale, [*names, layer.name])
    for index, (scale, names) in scales.items():
        if not squeezed(scale):
            continue
        first = first_scaling(data, model, index, sample, read_stream)
        if first is not None:
            raise scaled_twice(what, scale, ", ".join(map(repr, names)), first)


def check_scaled_by_values(
    model: keras.Model,
    data: Dataset | StreamData,
    what: str,
    sample: Any = None,
    read_stream: bool = True,
) -> None:
    """Inputs already in [0, 1] (`first_scaling`) that an op or a `Lambda` before the
    model's first layer with weights (`inputs / 255.0`) divides again: the values reaching
    that layer span 1/100 of the inputs' range or less (`squeezed`), on up to 32 training
    samples. One input only. Leading `Rescaling` layers alone are `check_rescaling`'s.

    Raises:
        ModelCheckError (a `ValueError`): `scaled_twice`'s message.
    """
    try:
        inputs = model.inputs
    except Exception:  # noqa: BLE001 - a subclassed model: no graph to cut
        inputs = None
    if inputs is None:  # a subclassed model: its call is code; what reaches its first layer
        _check_subclassed_scaling(model, data, what, sample, read_stream)
        return
    if len(inputs) != 1:
        return
    operations = getattr(model, "operations", None) or model.layers
    leading = []
    for operation in operations:
        if getattr(operation, "trainable_weights", None):
            first_layer = operation
            break
        leading.append(operation)
    else:
        return
    # Only an op (`inputs / 255.0`) or a Lambda hides its scale: layers show theirs, or keep
    # the values (Flatten, Reshape, Dropout...); no model call for them, in every trial
    if not any(
        isinstance(o, keras.layers.Lambda) or not isinstance(o, keras.layers.Layer) for o in leading
    ):
        return
    first = first_scaling(data, model, 0, sample, read_stream)
    if first is None:
        return
    try:
        x = np.asarray(keras.tree.flatten(value_sample(data, sample))[0], dtype=float)
        reached = keras.Model(model.inputs, first_layer.input)(x, training=False)
        values = np.asarray(keras.ops.convert_to_numpy(keras.tree.flatten(reached)[0]))
    except Exception:  # noqa: BLE001 - a graph not cut there (shared layers...): not judged
        return
    spread = float(np.ptp(x))
    if spread <= 0 or not np.all(np.isfinite(values)):
        return
    scale = float(np.ptp(values)) / spread
    if squeezed(scale):
        names = ", ".join(repr(o.name) for o in leading[1:] if hasattr(o, "name"))
        raise scaled_twice(what, scale, f"by its values: {names}", first)


def _leading_layers(model: keras.Model) -> Iterator[Any]:
    """The layers up to the first one with trainable weights, nested models opened."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _leading_layers(layer)
        else:
            yield layer
        if layer.trainable_weights:
            return


def _input_index(model: keras.Model, layer: Any) -> int | None:
    """Which of `model`'s inputs `layer` takes, through layers of one input each: 0 for
    a model of one input; `None` when not known (several, a nested model's layer)."""
    try:
        inputs = list(model.inputs)
    except Exception:  # noqa: BLE001 - a subclassed model: one input, or not judged
        return 0
    if len(inputs) == 1:
        return 0
    try:
        node = layer._inbound_nodes[0]
        while True:
            tensors = list(node.input_tensors)
            if len(tensors) != 1:
                return None
            history = tensors[0]._keras_history
            if isinstance(history.operation, keras.layers.InputLayer):
                return next((i for i, t in enumerate(inputs) if t is tensors[0]), None)
            node = history.operation._inbound_nodes[history.node_index]
    except (AttributeError, IndexError):
        return None


def _input_part(x: Any, model: Any, index: int | None) -> tuple[Any, str | None]:
    """The values of `x` that `model`'s input `index` takes, and its name when there are
    several; `(None, None)` when not known."""
    flat = keras.tree.flatten(x)
    if len(flat) == 1:
        return (flat[0], None) if index == 0 else (None, None)
    if index is None or model is None:
        return None, None
    try:
        tensor = list(model.inputs)[index]
    except Exception:  # noqa: BLE001 - no graph: not judged
        return None, None
    if isinstance(x, Mapping):
        struct = getattr(model, "_inputs_struct", None)
        keys = [k for k, t in struct.items() if t is tensor] if isinstance(struct, Mapping) else []
        key = keys[0] if keys else tensor.name
        return (x[key], str(key)) if key in x else (None, None)
    if isinstance(x, (list, tuple)) and len(x) == len(model.inputs):
        return x[index], getattr(tensor, "name", str(index))
    return None, None


def _check_normalization(
    layer: Any,
    what: str,
    reach: float,
    data: Dataset | StreamData,
    model: Any,
    index: int | None,
    sample: Any,
    read_stream: bool,
) -> None:
    """A leading `Normalization` whose statistics are of raw pixels (a mean above 1.5x, or
    a standard deviation above 10x, the range `reach` of the values that reach it: 1 for
    inputs in [0, 1], unless a `Rescaling` before it changed that) squeezes inputs already
    in [0, 1] into a sliver (accuracy 0.11 on MNIST)."""
    try:
        mean = np.asarray(keras.ops.convert_to_numpy(layer.mean), dtype=float)
        variance = np.asarray(keras.ops.convert_to_numpy(layer.variance), dtype=float)
    except Exception:  # noqa: BLE001 - not built or not adapted: nothing to judge
        return
    if not mean.size or not np.all(np.isfinite(mean)) or not np.all(np.isfinite(variance)):
        return
    top, std = float(np.max(np.abs(mean))), float(np.sqrt(np.max(variance)))
    if top <= 1.5 * reach and std <= 10 * reach:
        return
    first = first_scaling(data, model, index, sample, read_stream)
    if first is None:
        return
    given = "give tunekit the pixels unscaled" if first.uint8 else "give tunekit raw pixels"
    raise ModelCheckError(
        f"{what} starts with a Normalization layer ({layer.name!r}) whose statistics are of "
        f"raw pixels (mean up to {top:.4g}, standard deviation {std:.4g}), but "
        f"{first.said}: the inputs, in [0, {reach:g}] there, would reach the model as values "
        "that hardly vary. Adapt the layer on the data tunekit passes "
        "(layer.adapt(data.x_train)), or give it mean/255 and variance/255**2; or "
        f"{given} (an .npz of float32 pixels in [0, 255], used as given)."
    )


def _check_subclassed_scaling(
    model: keras.Model,
    data: Dataset | StreamData,
    what: str,
    sample: Any,
    read_stream: bool,
) -> None:
    """`check_scaled_by_values` for a subclassed model (`self.out(self.d(x / 255.0))` in
    its `call`): the values its first layer with weights receives, in one call of the model
    on up to 32 training samples. Keras has no hook on a layer's inputs, so each such
    layer's `call` is wrapped on the instance for that one call, then restored."""
    layers = [
        layer
        for layer in model._flatten_layers(include_self=False)
        if getattr(layer, "trainable_weights", None)
    ]
    if not layers:
        return
    first = first_scaling(data, model, 0, sample, read_stream)
    if first is None:
        return
    seen: list[Any] = []

    def wrap(layer: Any) -> None:
        original = layer.call

        def call(*args: Any, **kwargs: Any) -> Any:
            if not seen and args:
                seen.append(args[0])
            return original(*args, **kwargs)

        layer.call = call

    try:
        x = value_sample(data, sample)
        flat = keras.tree.flatten(x)
        if len(flat) != 1:
            return
        given = np.asarray(flat[0], dtype=float)
        for layer in layers:
            wrap(layer)
        model(x, training=False)
        values = np.asarray(keras.ops.convert_to_numpy(keras.tree.flatten(seen[0])[0]))
    except Exception:  # noqa: BLE001 - a model that cannot run here: left to its trials
        return
    finally:
        for layer in layers:
            vars(layer).pop("call", None)  # the class's own call again
    spread = float(np.ptp(given))
    if spread <= 0 or values.dtype.kind not in "fiu" or not np.all(np.isfinite(values)):
        return
    scale = float(np.ptp(values)) / spread
    if squeezed(scale):
        raise scaled_twice(what, scale, "in its call, by its values", first)
