"""What the check before training asks of a model's outputs, so its scores mean what they say.

Split from `tunekit.steps.check`: the checks that need the output shape
(known once a lazily built model has been called on samples).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import keras

from tunekit.data import REGRESSION, Dataset, StreamData
from tunekit.errors import ModelCheckError
from tunekit.loss_reading import unread_unit
from tunekit.outputs import (
    SIGNED_ACTIVATIONS,
    model_output_shape,
    output_activation,
    output_loss,
    probability_cross_entropy,
    reads_probabilities,
    unit_reading,
    uses_logits,
)
from tunekit.steps.compile_checks import check_loss_weights
from tunekit.steps.metric_reading import fails_on_class_ids, metric_name, misreading
from tunekit.trial_refusals import every_trial

__all__ = [
    "WHAT",
    "check_built_model",
    "check_output_logits",
    "check_logit_accuracy",
    "check_metrics_structure",
    "check_scorable_uncompiled",
    "OutputPart",
    "metric_entries",
    "model_sample",
    "outputs_and_compile",
    "output_part",
]

WHAT = "`hypermodel` (built with its default hyperparameters) builds a model that"
# Output activations a logit or margin cannot come through: never below 0, never class 0.
_NEVER_NEGATIVE = {"sigmoid", "hard_sigmoid", "softmax", "relu", "relu6", "softplus", "exponential"}

# How the messages name what one output unit holds, by `uses_logits`.
_UNIT = {
    True: "one logit (its loss has from_logits=True or is a hinge loss, or names no "
    "from_logits and its last layer is linear)",
    False: "one probability (its loss reads probabilities, or its last layer is a sigmoid)",
    None: "one unit per sample",
}


def check_logit_accuracy(
    model: keras.Model, shape: tuple[int | None, ...], what: str = WHAT
) -> None:
    """Refuses a one-unit classifier measured by a metric that reads its unit wrong.

    tunekit reads the unit as a logit or a probability
    (`tunekit.outputs.uses_logits`). Keras's accuracy, precision, recall,
    AUC, cross-entropy and the like read it as a probability unless given
    `threshold=0.0` / `thresholds=0.0` / `from_logits=True`, which in turn
    are wrong for a probability; `Accuracy`, the categorical accuracies and
    the IoUs over class ids are wrong for one unit either way. The search
    would rank trials, and the report print test metrics, by numbers that
    disagree with the report's own classes. A unit that cannot hold what its
    loss reads (a sigmoid under `from_logits=True`, a linear unit under a
    probability cross-entropy) is refused too.

    Raises:
        ModelCheckError (a `ValueError`): Naming the metric and its fix.
    """
    if not (len(shape) == 1 or shape[-1:] == (1,)):
        return
    if (logit := uses_logits(model)) is None and getattr(model, "loss", None) is not None:
        raise ModelCheckError(unread_unit(what, model.loss, output_activation(model)))
    try:  # (a functools.partial loss is not serializable: read above all the same)
        config = model.get_compile_config() or {}
    except Exception:  # noqa: BLE001 - a model compiled in an unusual way: not checked
        return
    metrics = metric_entries([config.get("metrics"), config.get("weighted_metrics")])
    weighted = metric_entries([config.get("weighted_metrics")])
    _check_unit(
        shape,
        logit,
        output_activation(model),
        probability_cross_entropy(model),
        metrics,
        f"{what} outputs",
        lambda metric, fix: f"{_key(metric, weighted)}=[{fix}]",
    )


def _key(metric: Any, weighted: list[Any]) -> str:
    """The `compile` argument that gave `metric`: `weighted_metrics` or `metrics`."""
    return "weighted_metrics" if any(metric == entry for entry in weighted) else "metrics"


def _check_unit(
    shape: tuple[int | None, ...],
    logit: bool | None,
    activation: str | None,
    probability_loss: bool,
    metrics: list[Any],
    unit: str,
    compile_with: Any,
) -> None:
    """`check_logit_accuracy` on one one-unit output, told what its loss and layer say.

    `unit` starts each message ("... builds a model that outputs", or "... has an
    output 'a' that outputs"); `compile_with(metric, fix)` says how to compile the fix
    in place of `metric`.
    """
    if logit and activation in _NEVER_NEGATIVE:
        raise ModelCheckError(
            f"{unit} one unit through a {activation!r} activation, which is never "
            "below 0, but its loss reads that unit as a logit or margin, class 1 above 0 "
            "(from_logits=True, or a hinge loss): every sample would be class 1, and the "
            "loss would squash an already squashed value. For a probability, compile with "
            "from_logits=False (e.g. loss='binary_crossentropy'); for a logit, give the last "
            "layer no activation (or 'tanh' with a hinge loss)."
        )
    if logit is False and activation in SIGNED_ACTIVATIONS and probability_loss:
        raise ModelCheckError(
            f"{unit} one unit through a {activation!r} activation, which can be "
            "below 0, but its loss is a cross-entropy that reads a probability "
            "(from_logits=False): Keras clips the output to [0, 1] there, and the unit "
            "cannot be read as both a logit (class 1 above 0) and a probability (above "
            "0.5). Give the last layer activation='sigmoid', or no activation and "
            "keras.losses.BinaryCrossentropy(from_logits=True)."
        )
    for metric in metrics:
        if len(shape) == 1 and metric in ("accuracy", "acc"):
            threshold = "0.0" if logit else "0.5"
            fix = f"keras.metrics.BinaryAccuracy(threshold={threshold}, name='accuracy')"
            raise ModelCheckError(
                f"{unit} shape (n,), and Keras resolves its metric {metric!r} for that "
                "shape to categorical accuracy, an argmax over the batch: "
                f"{every_trial(unit)} would score 0 or 1 by chance. Compile it with "
                f"{compile_with(metric, fix)} (class 1 above {threshold}), or output shape "
                "(n, 1)."
            )
        if len(shape) == 2 and fails_on_class_ids(metric):
            raise ModelCheckError(
                f"{unit} shape (n, 1), and its metric {metric_name(metric)!r} needs "
                f"labels of that rank, where the labels are class ids (n,): {every_trial(unit)} "
                "would fail in Keras ('target and output must have the same rank'). The loss "
                "already reports the binary cross-entropy (loss, val_loss): drop the metric, "
                "or end the model with keras.layers.Reshape(()) to output shape (n,)."
            )
        reading = misreading(metric, logit)
        if reading is None:
            continue
        reads, fix = reading
        if not fix:  # nothing says what the unit holds: the model's author must
            raise ModelCheckError(
                f"{unit} {_UNIT[None]}, and nothing says whether that unit is a logit (class "
                "1 above 0) or a probability (above 0.5): its loss is a function of yours "
                "without from_logits, and its layers do not show the output's activation (a "
                "subclassed model's call, or an op after the last layer, may apply a sigmoid). "
                f"Its metric {metric_name(metric)!r} {reads}, so the search could rank trials "
                "by a wrong count. Say which: give your loss function the attribute "
                "(my_loss.from_logits = True for a logit, False for a probability), or compile "
                "with keras.losses.BinaryCrossentropy(from_logits=...)."
            )
        other = (
            ", or give the last layer activation='sigmoid' and the loss from_logits=False"
            if logit
            else ""
        )
        raise ModelCheckError(
            f"{unit} {_UNIT[logit]}, but its metric {metric_name(metric)!r} {reads}: the "
            "score the search ranks trials by, and the test metric reported, would count the "
            f"wrong samples. Compile it with {compile_with(metric, fix)}{other}."
        )


def check_scorable_uncompiled(
    model: keras.Model,
    shape: tuple[int | None, ...] | None,
    data: Dataset | StreamData,
    what: str = WHAT,
) -> None:
    """A model never compiled is scored from its predictions: they must say what they mean.

    Without a loss, nothing says whether one output unit is a logit (class 1
    above 0) or a probability (above 0.5) unless it ends in a sigmoid; and a
    model with several outputs has nothing to score them by. Either would
    give a test accuracy that may be wrong, after the whole search.
    """
    try:
        outputs = len(model.outputs or [])
    except (AttributeError, ValueError):  # a lazily built or subclassed model
        outputs = 1
    if outputs > 1 or isinstance(getattr(data, "y_train", None), Mapping):
        raise ModelCheckError(
            f"{what} has several outputs and is not compiled (the hypermodel's own fit "
            "trains it without compile): tunekit would have no metric to score its test set "
            "by. Compile the model in build() with its losses and metrics; your fit may "
            "still train it its own way."
        )
    if data.task == REGRESSION or shape is None or not (len(shape) == 1 or shape[-1:] == (1,)):
        return
    layers = getattr(model, "layers", None) or []
    activation = getattr(layers[-1], "activation", None) if layers else None
    name = getattr(activation, "__name__", None)
    if name != "sigmoid":
        raise ModelCheckError(
            f"{what} outputs one unit per sample and is not compiled (the hypermodel's own "
            f"fit trains it without compile), and its last layer's activation is {name!r}: "
            "without a loss, nothing says whether that unit is a logit (class 1 above 0) or "
            "a probability (class 1 above 0.5), so its test accuracy could be wrong. Give the "
            "last layer activation='sigmoid', or compile the model in build() with its loss "
            "(keras.losses.BinaryCrossentropy(from_logits=True) for a logit); your fit may "
            "still train it its own way."
        )


def model_sample(data: Dataset | StreamData) -> Any:
    """Two training samples (a stream's first batch) to call a lazily built model on.

    `None` when `x_train` is not arrays: such a model is then not checked.
    """
    from tunekit.outputs import training_samples
    from tunekit.tuners import first_sample

    if isinstance(data, StreamData) or first_sample(data.x_train) is not None:
        return training_samples(data)
    return None


def metric_entries(metrics: Any) -> list[Any]:
    """The metrics of a compile config: names, serialized metrics or objects, flat."""
    if metrics is None:
        return []
    if isinstance(metrics, (list, tuple)):
        return [m for item in metrics for m in metric_entries(item)]
    if isinstance(metrics, Mapping) and "class_name" not in metrics:  # one list per output
        return [m for item in metrics.values() for m in metric_entries(item)]
    return [metrics]


def check_built_model(
    model: Any, what: str, data: Dataset | StreamData, sample: Any = None
) -> tuple[int | None, ...] | None:
    """The output checks on a built model: the defaults' before training, each trial's.

    `what` names the model in messages. The check before training sees the
    default configuration only; a tuned output activation or loss (a linear
    unit with `from_logits=True` among sigmoid ones) makes another model, so
    each trial's is checked too. A model whose output is known only once
    called (no `Input`) is called on `sample` (`model_sample`) when given,
    which builds it as `fit` would; without one it is not checked.

    Returns:
        The model's output shape (`tunekit.outputs.model_output_shape`).

    Raises:
        ModelCheckError (a `ValueError`): As `check_loss_weights` (first),
            `check_scorable_uncompiled`, `check_logit_accuracy` and
            `check_output_logits`.
    """
    check_loss_weights(model, what)  # before Keras reads them on the samples
    shape = model_output_shape(model, sample)
    if not isinstance(model, keras.Model):
        return shape
    if not getattr(model, "compiled", True):
        check_scorable_uncompiled(model, shape, data, what)
    if shape is not None and data.task != REGRESSION and data.num_classes == 2:
        check_logit_accuracy(model, shape, what)
    check_output_logits(model, what, data.task)
    check_metrics_structure(model, what)
    return shape


def output_part(value: Any, name: str, index: int, count: int) -> Any:
    """A compile setting's part for one of `count` outputs: by name, by position, or all."""
    if isinstance(value, Mapping) and "class_name" not in value:
        return value.get(name)
    if isinstance(value, (list, tuple)) and len(value) == count:
        if all(isinstance(v, (list, tuple)) or v is None for v in value):
            return value[index]  # one list per output (metrics), or one loss per output
    return value


class OutputPart(NamedTuple):
    """One output of a model and its own part of the compile (`outputs_and_compile`)."""

    name: str
    output: Any  # the output tensor
    loss: Any  # the compiled loss object (`tunekit.outputs.output_loss`)
    metrics: list[Any]  # `metrics` and `weighted_metrics`, serialized, flat
    weighted: list[Any]  # those given as `weighted_metrics`


def outputs_and_compile(model: keras.Model) -> list[OutputPart]:
    """Each output's `OutputPart`: its name, tensor, loss and metrics.

    Empty when the model's outputs or compile config cannot be read (not built,
    subclassed, or compiled in an unusual way: then not checked).
    """
    try:
        outputs = list(model.outputs or [])
        names = getattr(model, "output_names", None)
        if names is None and len(outputs) == 1:  # a Sequential has none: its last layer's
            names = [model.layers[-1].name]
        names = list(names or [])
        config = model.get_compile_config() or {}
    except Exception:  # noqa: BLE001 - not built, or compiled in an unusual way: not checked
        return []
    count = len(outputs)
    if len(names) != count:
        return []

    def part(key: str, name: str, index: int) -> list[Any]:
        return metric_entries([output_part(config.get(key), name, index, count)])

    return [
        OutputPart(
            name,
            output,
            output_loss(model, name, index, count),
            part("metrics", name, index) + part("weighted_metrics", name, index),
            part("weighted_metrics", name, index),
        )
        for index, (name, output) in enumerate(zip(names, outputs, strict=True))
    ]


def check_output_logits(model: keras.Model, what: str = WHAT, task: str | None = None) -> None:
    """`check_logit_accuracy` for each one-unit output of a model with several outputs.

    Each output is read by its own loss (`tunekit.outputs.output_loss`) and the
    layer behind it. Under `task="regression"` only an output whose loss
    reads a logit is checked (a one-unit regression target is no class).

    Raises:
        ModelCheckError (a `ValueError`): Naming the output, the metric and its fix.
    """
    parts = outputs_and_compile(model)
    if len(parts) < 2:
        return
    for part in parts:
        shape = tuple(part.output.shape)
        if not (len(shape) == 1 or shape[-1:] == (1,)):
            continue
        activation = output_activation(model, part.output)
        logit = unit_reading([part.loss], activation)
        if task == REGRESSION and not logit:
            continue
        _check_unit(
            shape,
            logit,
            activation,
            reads_probabilities([part.loss]),
            part.metrics,
            f"{what} has an output {part.name!r} that outputs",
            lambda metric, fix, part=part: (
                f"{_key(metric, part.weighted)}={{{part.name!r}: [{fix}]}}"
            ),
        )


def check_metrics_structure(model: keras.Model, what: str = WHAT) -> None:
    """Refuses metrics given as a list to a model whose outputs are a dict.

    Keras compiles such a model but fails every `fit` on it ("Expected an
    instance of dict ... got ('accuracy',)"), naming no fix.

    Raises:
        ModelCheckError (a `ValueError`): Naming the argument and the dict to give.
    """
    try:
        output = model.output
        config = model.get_compile_config() or {}
    except Exception:  # noqa: BLE001 - not built, subclassed, or compiled in an unusual way
        return
    if not isinstance(output, Mapping):
        return
    for key in ("metrics", "weighted_metrics"):
        value = config.get(key)
        if isinstance(value, (list, tuple)) and value:
            example = ", ".join(f"{name!r}: [...]" for name in sorted(output))
            raise ModelCheckError(
                f"{what} outputs a dict ({sorted(output)}), but its {key} are a list: Keras "
                f"takes the {key} of such a model only as a dict by output name, and every "
                f"trial would fail ('Expected an instance of dict'). Compile it with "
                f"{key}={{{example}}}."
            )
