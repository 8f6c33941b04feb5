"""A classifier's outputs: do they fit the data, and which classes do they predict.

Keras classifiers end in one of three layouts, and tunekit accepts each:

- `(n, k)` with `k == num_classes`: softmax probabilities or logits; the
  predicted class is the argmax (the same for both).
- `(n, 1)` or `(n,)` for 2 classes: one sigmoid unit (class 1 when the
  probability is > 0.5) or one logit (class 1 when it is > 0). Which of the
  two is read from the model's loss (`from_logits`), else from its last
  activation; for bare arrays, values outside [0, 1] can only be logits.

`check_output_shape` refuses any other output before training, and
`predicted_classes` is the one place where outputs become class ids (the
confusion matrix in `plots/`, TensorBoard and `report.json` all use it). numpy only at
import time; a model is only inspected, never imported for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tunekit import _log
from tunekit.data._targets import one_hot_rows
from tunekit.errors import OutputShapeError
from tunekit.hypermodel_kinds import own_fit
from tunekit.loss_reading import (
    SIGNED_ACTIVATIONS,
    loss_callable,
    loss_name,
    reads_probabilities,
    unit_reading,
)
from tunekit.prediction_checks import refuse_nonfinite_predictions

if TYPE_CHECKING:
    import keras

__all__ = [
    "build_on_samples",
    "training_samples",
    "fresh_metrics",
    "loss_takes_rows",
    "loss_name",
    "check_output_shape",
    "model_output_shape",
    "output_activation",
    "output_loss",
    "probability_cross_entropy",
    "reads_probabilities",
    "predict_classes",
    "predict_test_set",
    "predicted_classes",
    "SIGNED_ACTIVATIONS",
    "unit_reading",
    "uses_logits",
]


def check_output_shape(
    shape: Sequence[int | None], num_classes: int, *, what: str = "The model"
) -> None:
    """Checks that a classifier output of `shape` fits `num_classes` classes.

    Accepted: `(batch, num_classes)` (softmax or logits), and for 2 classes
    `(batch, 1)` or `(batch,)` (one sigmoid unit or one logit).

    Args:
        shape: The model's output shape, batch axis first (`None` allowed).
        num_classes: The number of classes of the data (>= 2).
        what: How the message names the model.

    Raises:
        OutputShapeError (a `ValueError`): Naming the output's width (or shape)
            and the number of classes.

    Example:
    >>> check_output_shape((None, 1), 2)   # a binary sigmoid: fine
    >>> check_output_shape((None, 5), 10)  # raises OutputShapeError
    """
    shape = tuple(shape)
    fix = (
        f"End the model in Dense({num_classes}) (softmax, or logits with a from_logits "
        "loss)"
        + (
            ", or Dense(1, activation='sigmoid') with binary_crossentropy"
            if num_classes == 2
            else "; one sigmoid unit only fits 2 classes"
        )
        + "."
    )
    if len(shape) > 2:
        raise OutputShapeError(
            f"{what} outputs shape {shape}, but a classifier of {num_classes} classes outputs "
            f"(batch, {num_classes}): flatten or pool before the last layer. {fix}"
        )
    width = shape[1] if len(shape) == 2 else 1
    if width == num_classes or (width == 1 and num_classes == 2):
        return
    raise OutputShapeError(
        f"{what} outputs {_log.count(width, 'unit')} per sample but the data has "
        f"{num_classes} classes (output shape {shape}); they must agree. {fix}"
    )


def model_output_shape(model: Any, sample: Any = None) -> tuple[int | None, ...] | None:
    """The output shape of a single-output model, or `None` if it cannot be known.

    A model with an `Input` has it already; a lazily built one (a Sequential without
    `Input`, a subclassed model) is called once on `sample` (a small batch; the batch axis
    is `None`, not its rows). Models with several outputs give `None`, as a failed call.
    """
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        outputs = None
    if outputs and len(outputs) > 1:
        return None
    # Keras's symbolic shape can have an axis the model's outputs lack (a TextVectorization
    # on Input((1,), dtype="string") says (None, 1, k), where the model outputs (n, k)):
    # a shape of more than 2 axes is read from a call on `sample` when there is one.
    if outputs and (len(outputs[0].shape) <= 2 or sample is None):  # (2, 12) once called
        return (None, *tuple(outputs[0].shape)[1:]) if len(outputs[0].shape) else ()
    if sample is None:
        return None
    try:
        result = model(sample, training=False)
    except Exception:  # noqa: BLE001 - a model that cannot run here is left to its trials
        return None
    shape = getattr(result, "shape", None)
    return None if shape is None or not len(shape) else (None, *(int(d) for d in shape[1:]))


def uses_logits(model: Any) -> bool | None:
    """Whether a one-unit classifier outputs a logit: `True`, `False`, or `None` (unknown).

    The compiled loss decides when it says: its `from_logits` (unless it is
    a subclass whose own `call` computes otherwise: its `from_logits` is its
    Keras base's, which the `call` may not follow), or a loss
    named by string or one of Keras's loss functions (`keras.losses.
    binary_crossentropy`), which take probabilities unless told otherwise,
    except the hinge losses (a margin: its sign is the class, a logit);
    else the activation of the layer that makes the output (`linear` means a
    logit, `tanh` and `softsign` a margin read by its sign, anything else a
    probability). A subclassed model's layers say
    nothing of its `call` (it may apply a sigmoid itself), nor does an op
    such as `keras.ops.sigmoid` after the last layer: unknown, `None`, and
    `predicted_classes` reads the outputs' range.
    """
    return unit_reading(_losses(model), output_activation(model))


def _losses(model: Any) -> list[Any]:
    """The model's compiled losses, one per output (a dict's values, a list, or one)."""
    loss = getattr(model, "loss", None)
    if isinstance(loss, dict):
        return list(loss.values())
    return list(loss) if isinstance(loss, (list, tuple)) else [loss]


def output_loss(model: Any, name: str, index: int, count: int) -> Any:
    """The compiled loss of a model's output `index` (named `name`) of `count`: a dict's
    value by name, a list's by position, else the one loss all outputs share."""
    loss = getattr(model, "loss", None)
    if isinstance(loss, dict):
        return loss.get(name)
    if isinstance(loss, (list, tuple)) and len(loss) == count:
        return loss[index]
    return loss


def probability_cross_entropy(model: Any) -> bool:
    """Whether `model`'s loss is a cross-entropy reading probabilities (`from_logits=False`)."""
    return reads_probabilities(_losses(model))


def output_activation(model: Any, output: Any = None) -> str | None:
    """The activation's name of the layer that makes the one output (or `output`, one
    output tensor of a functional model), or `None` when it cannot be known. A nested
    model is followed to its own output layer; an activation layer (`Softmax()`,
    `ReLU()`) names its activation."""
    layer = _output_layer(model, output)
    while layer is not None and hasattr(layer, "layers") and layer is not model:  # nested
        model, layer = layer, _output_layer(layer)
    if (name := _ACTIVATION_LAYERS.get(type(layer).__name__)) is not None:
        return name  # an activation layer: keras.layers.Softmax(), ReLU(), ...
    activation = getattr(layer, "activation", None)
    return None if activation is None else str(getattr(activation, "__name__", ""))


# Keras's activation layers, by the activation they apply.
_ACTIVATION_LAYERS = {"Softmax": "softmax", "ReLU": "relu", "ELU": "elu", "LeakyReLU": "leaky_relu"}


def _output_layer(model: Any, output: Any = None) -> Any:
    """The layer whose values are the model's one output, or `None` if it cannot be known.

    Layers that only move or pass values on (`Reshape`, `Flatten`, `Permute`,
    `Identity`, `Dropout`, `ActivityRegularization`, `Activation("linear")`)
    are stepped over: a
    sigmoid unit behind `Reshape(())` still outputs a probability. `output`,
    one of a functional model's output tensors, is followed instead of the one.
    """
    import keras  # noqa: PLC0415 - a model exists, so Keras is loaded

    passes = (
        keras.layers.Reshape,
        keras.layers.Flatten,
        keras.layers.Permute,
        keras.layers.Identity,
        keras.layers.Dropout,
        keras.layers.ActivityRegularization,
    )

    def moves_values(layer: Any) -> bool:
        if isinstance(layer, keras.layers.Activation):  # Activation("linear") is an identity
            return getattr(layer.activation, "__name__", "") == "linear"
        return isinstance(layer, passes)

    layers = getattr(model, "layers", None) or []
    if output is None and isinstance(model, keras.Sequential):
        return next((layer for layer in reversed(layers) if not moves_values(layer)), None)
    if output is None:
        try:
            outputs = model.outputs
        except (AttributeError, ValueError):  # a subclassed model: its call decides
            return None
        if not outputs or len(outputs) != 1:
            return None
        output = outputs[0]
    layer: Any = getattr(getattr(output, "_keras_history", None), "operation", None)
    while moves_values(layer) and len(nodes := layer._inbound_nodes) == 1:
        inputs = nodes[0].input_tensors
        if len(inputs) != 1:
            break
        layer = getattr(getattr(inputs[0], "_keras_history", None), "operation", None)
    return layer


def predicted_classes(outputs: Any, *, from_logits: bool | None = None) -> np.ndarray:
    """Maps a classifier's outputs to class ids, whatever its output layout.

    Args:
        outputs: `(n, k)` with `k >= 2` (softmax probabilities or logits, or
            one-hot labels): argmax. `(n, 1)` or `(n,)`: one binary unit,
            class 1 when the probability is > 0.5 (or the logit > 0).
            Integer class ids `(n,)` are returned as they are.
        from_logits: For one binary unit, whether it is a logit. Defaults to
            `None`: probabilities, unless a value lies outside [0, 1] (then
            they can only be logits). Pass `uses_logits(model)` for a model.

    Returns:
        int64 class ids, shape `(n,)`.

    Raises:
        ValueError: For outputs of rank other than 1 or 2.

    Example:
    >>> predicted_classes(np.array([[0.2], [0.7]]))
    array([0, 1])
    """
    outputs = np.asarray(outputs)
    if outputs.ndim == 2 and outputs.shape[1] >= 2:
        return np.argmax(outputs, axis=-1).astype(np.int64)
    if outputs.ndim == 2 and outputs.shape[1] == 1:
        outputs = outputs[:, 0]
    if outputs.ndim != 1:
        raise ValueError(
            f"Cannot read classes from outputs of shape {outputs.shape}: expected "
            "(n, num_classes), (n, 1) or (n,)."
        )
    if outputs.dtype.kind in "iub":
        return outputs.astype(np.int64)
    if from_logits is None:
        from_logits = bool(outputs.size) and (outputs.min() < 0 or outputs.max() > 1)
    return (outputs > (0.0 if from_logits else 0.5)).astype(np.int64)


def predict_classes(model: Any, x: Any, *, batch_size: int | None = None) -> np.ndarray:
    """Predicts class ids of `x` with a Keras classifier (see `predicted_classes`).

    Example:
    >>> y_pred = predict_classes(keras.models.load_model("runs/x/best_model.keras"), x_test)
    """
    outputs = model.predict(x, batch_size=batch_size, verbose=0)
    return predicted_classes(outputs, from_logits=uses_logits(model))


def predict_test_set(model: Any, data: Any, *, batch_size: int) -> tuple[Any, np.ndarray]:
    """What `model` predicts on the test set of `data`: `(y_true, y_pred)`.

    Args:
        model: A Keras model with one output.
        data: A `tunekit.data.Dataset` (`x_test` in batches of `batch_size`) or `StreamData`
            (its test stream; `y_true` from the same batches, in the order they came).
        batch_size: Batch size of the prediction (arrays only).

    Returns:
        `y_true` (`data.y_test` for arrays; a stream's one-hot labels
        `(n, classes)` as class ids `(n,)`) and `y_pred`: class ids `(n,)`
        for classification (see `predicted_classes`), predicted values for
        regression (`(n,)` for targets of shape `(n,)`, else `(n, k)`).

    Raises:
        DataError: A stream's test class ids the model's output cannot take, or
            constant regression targets (`tunekit.data._stream_labels.check_test_labels`).
        PredictionsNotFiniteError: NaN or infinite outputs (`refuse_nonfinite_predictions`).
    """
    from tunekit.data._stream_labels import check_test_labels
    from tunekit.data.streams import StreamData, predict_stream

    regression = getattr(data, "task", "classification") == "regression"
    if isinstance(data, StreamData):
        y_true, outputs = predict_stream(model, data.test)
    else:
        y_true, outputs = data.y_test, model.predict(data.x_test, batch_size=batch_size, verbose=0)
    refuse_nonfinite_predictions(outputs := np.asarray(outputs), isinstance(data, StreamData))
    if isinstance(data, StreamData):  # its labels are read only now
        check_test_labels(y_true, outputs, data)
    if not regression:
        if not isinstance(y_true, dict) and np.ndim(y_true) == 2 and np.shape(y_true)[1] > 1:
            y_true = np.argmax(y_true, axis=1)  # a stream's one-hot labels: class ids
        return y_true, predicted_classes(outputs, from_logits=uses_logits(model))
    if np.ndim(y_true) == 1 and outputs.ndim == 2 and outputs.shape[1] == 1:
        outputs = outputs[:, 0]
    return y_true, outputs


def training_samples(data: Any, *, targets: bool = False) -> Any:
    """Two of `data`'s training samples: `x`, or `(x, y)` with `targets=True`.

    `data` is a `tunekit.data.Dataset` (its first two samples, `y` as the model
    takes it) or `StreamData` (its first batch). The one source of the
    samples a model is called on before `fit`: to build a lazily built model,
    to check its output, to build its metrics.
    """
    from tunekit.data import _targets as tg
    from tunekit.data._stream_batches import first_batch
    from tunekit.data.streams import StreamData

    if isinstance(data, StreamData):
        x, y = first_batch(data.train)
    else:
        x = tg.take(data.x_train, slice(0, 2))
        y = data.model_targets(tg.take(data.y_train, slice(0, 2))) if targets else None
    return (x, y) if targets else x


def build_on_samples(model: keras.Model, data: Any) -> None:
    """Builds a lazily built model (no `Input`) on two of `data`'s training samples.

    `data` is a `tunekit.data.Dataset` or `StreamData` (its first batch). A
    model that is already built is left as it is.
    """
    if not model.built:
        model(training_samples(data), training=False)


def loss_takes_rows(hypermodel: Any, model: keras.Model, data: Any, x: Any, ids: Any) -> bool:
    """Whether the model's compiled loss takes one-hot rows where `data` holds class ids
    `ids` (of samples `x`), as a `hypermodel`'s own `fit` that encoded `y` trained it:
    the loss (any: a name, `"categorical_hinge"`, a `Loss`, a function) called on k + 1
    samples' predictions (k classes), with ids, then rows. `False` without an own fit."""
    import keras  # noqa: PLC0415 - a model exists, so Keras is loaded

    loss, labels = loss_callable(getattr(model, "loss", None)), np.asarray(ids)
    if not own_fit(hypermodel) or data.task != "classification":
        return False  # tunekit feeds the labels: check_label_form judged their form
    if loss is None or labels.ndim != 1:
        return False
    n = int(data.num_classes or 0) + 1  # not the classes' count: ids broadcast against rows
    predicted = model(keras.tree.map_structure(lambda a: a[:n], x), training=False)
    for targets in (labels[:n], one_hot_rows(labels[:n], data.num_classes)):
        try:
            loss(targets, predicted)
        except Exception:  # noqa: BLE001, PERF203 - the loss refuses this form of labels
            continue
        return targets.ndim == 2
    return False


def fresh_metrics(model: keras.Model, data: Any, rows: bool = False) -> None:
    """Zeroes the metric objects a rebuilt `model` was compiled with, shared ones included.

    A build that compiles with metric objects made once outside it (`METRICS =
    [keras.metrics.AUC()]`) shares them between its models. Keras's `reset_metrics`
    leaves them alone until the model has computed metrics once (its metrics container
    is built lazily), so a rebuilt model's first `evaluate` also counted the samples of
    the model trained before it: a test accuracy of 0.9533 where it scored 0.9333. Here
    the metrics are computed once on two training samples (`model.compute_metrics`),
    then reset; with `rows`, on their one-hot rows (`loss_takes_rows`), as it is scored.
    """
    if not getattr(model, "compiled", False):
        return
    x, y = training_samples(data, targets=True)
    y = one_hot_rows(y, data.num_classes) if rows else y  # the labels the model is scored with
    model.compute_metrics(x, y, model(x, training=False), sample_weight=None)
    model.reset_metrics()
