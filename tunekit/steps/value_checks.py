"""The model's values and loss, where its layers do not say what they are.

Split from `tunekit.steps.pairing_checks`, which reads the output layer's
activation. A subclassed model's `call`, a `Lambda` layer or an op after the
last layer may apply a softmax or leave logits, and the layers do not show
which; the model's values on up to 32 training samples do:

- rows that are probabilities (each in [0, 1], summing to 1) under a
  categorical cross-entropy with `from_logits=True`, which applies softmax
  to them again (the search ranks trials trained on twice-squashed values);
- a value outside [0, 1] under a Keras cross-entropy that reads probabilities
  (`from_logits=False`, Keras's default, and every loss named by a string), or
  under Keras's KL divergence:
  Keras clips (and over several units rescales) it there, and trains toward
  chance (test accuracy 0.17 on `load_digits` with exit 0).

A sigmoid under `from_logits=True` cannot be told from a logit by its values,
and is left alone. Also refused: a model compiled without a loss, whose `fit`
Keras stops in every trial ("No loss to compute"): no `loss=`, no loss a
layer adds (`add_loss`; a weight penalty alone trains toward zero weights, at
chance), and Keras's own `train_step` and `compute_loss`. A trial compiled
with another loss than the trials before it is `tunekit.steps.same_loss`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np

from tunekit.data import Dataset, StreamData
from tunekit.data import _targets as tg
from tunekit.errors import ModelCheckError
from tunekit.loss_reading import is_kl_divergence
from tunekit.outputs import output_activation, training_samples, unit_reading
from tunekit.steps.label_forms import loss_key
from tunekit.steps.same_loss import output_entry

__all__ = [
    "value_sample",
    "check_values",
    "clipped",
    "probability_fix",
    "reads_what",
]


def check_values(
    model: keras.Model,
    data: Dataset | StreamData,
    what: str,
    *,
    read_stream: bool = True,
    sample: Any = None,
    objective_names: Sequence[str] = (),
) -> None:
    """Refuses a model compiled without a loss, and an output whose values do not fit
    its cross-entropy (see the module's docstring), read on up to 32 of `data`'s
    training samples (a stream's first batch: `sample`, or read when `read_stream`).
    A softmax applied only when not training (logits in training) under a logit loss
    trains right, and is refused only under an objective that is a loss
    (`objective_names`), which its validation loss would mislead.
    `what` starts each message ("`hypermodel` ... builds a model that").

    Raises:
        ModelCheckError (a `ValueError`): Naming what the values or the compile say,
            and the fix.
    """
    if not (isinstance(data, Dataset) or read_stream or sample is not None):
        return
    x = value_sample(data, sample)
    _check_has_loss(model, x, what)
    _check_output_values(model, x, what, objective_names)


def clipped(one: bool, loss: Any = None) -> str:
    """What Keras does to outputs outside [0, 1] under `loss`, which reads probabilities."""
    if is_kl_divergence(loss):
        how = "clips the outputs to [1e-7, 1]"
    else:
        how = "clips the output to [0, 1]" if one else "clips the outputs to [0, 1] and rescales"
    return (
        f": Keras {how} there, so the loss and its gradients are wrong wherever the "
        "output leaves that range, and the search ranks trials trained toward chance"
    )


def reads_what(loss: Any) -> str:
    """How a message names `loss`, a loss that reads probabilities."""
    if is_kl_divergence(loss):
        return "a KL divergence, which reads probability distributions"
    return "a cross-entropy that reads probabilities (from_logits=False)"


def probability_fix(loss: Any, one: bool) -> str:
    """How to give a loss that reads probabilities what it reads, or logits."""
    if is_kl_divergence(loss):
        return (
            "Give the last layer activation='softmax' (a KL divergence has no "
            "from_logits), or compile keras.losses.CategoricalCrossentropy(from_logits=True)."
        )
    if one or loss_key(loss).startswith("binary"):
        return (
            "Give the last layer activation='sigmoid', or no activation and "
            "keras.losses.BinaryCrossentropy(from_logits=True)."
        )
    sparse = loss_key(loss).startswith("sparse")
    base = "SparseCategoricalCrossentropy" if sparse else "CategoricalCrossentropy"
    return (
        "Give the last layer activation='softmax', or no activation and "
        f"keras.losses.{base}(from_logits=True)."
    )


def value_sample(data: Dataset | StreamData, sample: Any) -> Any:
    """Up to 32 training samples of an array dataset; a stream's first batch."""
    if isinstance(data, Dataset):
        count = min(32, len(next(iter(keras.tree.flatten(data.x_train)))))
        return tg.take(data.x_train, slice(0, count))
    return sample if sample is not None else training_samples(data)


def _check_has_loss(model: keras.Model, x: Any, what: str) -> None:
    if getattr(model, "loss", None) is not None or not getattr(model, "compiled", False):
        return
    default = keras.Model
    if type(model).train_step is not default.train_step or (
        type(model).compute_loss is not default.compute_loss
    ):
        return  # a train_step or compute_loss of its own decides what the loss is
    try:
        model(x, training=True)
    except Exception:  # noqa: BLE001 - a model that cannot run here: left to its trials
        return
    # add_loss in a layer's or the model's call; a penalty alone (kernel_regularizer, or an
    # activity_regularizer, whose loss Keras adds as add_loss) is not a loss to train on
    added = any(
        getattr(layer, "_losses", None) and getattr(layer, "activity_regularizer", None) is None
        for layer in model._flatten_layers()
    )
    if not added:
        raise ModelCheckError(
            f"{what} is compiled without a loss (no loss= in compile(), and no layer adds "
            'one with add_loss): Keras stops every fit with "No loss to compute", or, '
            "with weight penalties (kernel_regularizer), trains on the penalties alone. Pass "
            "the loss to compile(), e.g. loss='sparse_categorical_crossentropy' for class "
            "ids and a softmax output, or 'mse' for regression."
        )


def _check_output_values(
    model: keras.Model, x: Any, what: str, objective_names: Sequence[str] = ()
) -> None:
    """Where the layers do not show an output's activation, reads its values (each
    output of several by its own loss)."""
    try:
        symbolic = model.output
    except (AttributeError, ValueError):  # a subclassed model: its call decides
        symbolic = None
    if symbolic is not None:  # every output's layer known: the layer checks read them
        flat = keras.tree.flatten(symbolic)
        if all(output_activation(model, t if len(flat) > 1 else None) for t in flat):
            return
    try:
        values = model(x, training=False)
    except Exception:  # noqa: BLE001 - a model that cannot run here: left to its trials
        return
    parts = _outputs(model, values)
    for index, (name, value, symbolic) in enumerate(parts):
        loss = output_entry(getattr(model, "loss", None), name, index, len(parts))
        if not hasattr(value, "shape") or not (
            "crossentropy" in loss_key(loss) or is_kl_divergence(loss)
        ):
            continue
        if output_activation(model, symbolic if len(parts) > 1 else None) is not None:
            continue  # the layer is known: the layer checks read it
        logits = unit_reading([loss], None)
        if logits is None:
            continue  # a function of the user's: what it reads is unknown
        array = np.asarray(keras.ops.convert_to_numpy(value), dtype=float)
        if array.size == 0 or not np.all(np.isfinite(array)):
            continue
        output = f"has an output {name!r} that outputs" if len(parts) > 1 else "outputs"
        if logits and not loss_key(loss).startswith("binary") and _probability_rows(array):
            trains_on = model(x, training=True)
            trained = _outputs(model, trains_on)[index][1] if len(parts) > 1 else trains_on
            in_training = _probability_rows(np.asarray(keras.ops.convert_to_numpy(trained)))
            loss_objective = any(n.removeprefix("val_").endswith("loss") for n in objective_names)
            if in_training or loss_objective:
                raise ModelCheckError(_squashed_twice(what, output, array, in_training))
        one = array.ndim == 1 or array.shape[-1] == 1
        if not logits and not np.all((array >= -1e-6) & (array <= 1 + 1e-6)):
            raise ModelCheckError(
                f"{what} {output} values from {array.min():.4g} to {array.max():.4g} on the "
                "training samples tried (the layers do not show its activation: a subclassed "
                "model's call, a Lambda or an op after the last layer), but its loss is "
                f"{reads_what(loss)}{clipped(one, loss)}. {probability_fix(loss, one)}"
            )


def _probability_rows(array: np.ndarray) -> bool:
    """Rows of several values, each in [0, 1], summing to 1: a softmax's."""
    return bool(
        array.ndim == 2
        and array.shape[-1] > 1
        and np.all((array >= -1e-6) & (array <= 1 + 1e-6))
        and np.allclose(array.sum(axis=-1), 1.0, atol=1e-4)
    )


def _squashed_twice(what: str, output: str, array: np.ndarray, in_training: bool) -> str:
    if in_training:
        return (
            f"{what} {output} rows of {array.shape[-1]} values that are probabilities (each "
            "in [0, 1], summing to 1 on every training sample tried: a softmax in the "
            "model's call, a Lambda or an op after the last layer), but its loss has "
            "from_logits=True, which applies softmax to them again: the loss and its "
            "gradients would be those of probabilities squashed twice, and the search "
            "would rank trials by them. Return the logits (no softmax), or compile the "
            "loss with from_logits=False."
        )
    return (
        f"{what} {output} logits in training but rows of {array.shape[-1]} probabilities "
        "when not training (a softmax its call applies at inference), and its loss has "
        "from_logits=True: the training is right, but the validation loss the objective "
        "ranks trials by applies softmax to probabilities. Rank them by a metric "
        "(objective='val_accuracy'), or return logits in both modes."
    )


def _outputs(model: keras.Model, values: Any) -> list[tuple[str | None, Any, Any]]:
    """`(name, value, symbolic output or None)` per output of a model's call."""
    try:
        symbolic = model.output
    except (AttributeError, ValueError):  # a subclassed model: its call decides
        symbolic = None
    if isinstance(values, Mapping):
        by_name = symbolic if isinstance(symbolic, Mapping) else {}
        return [(str(k), v, by_name.get(k)) for k, v in values.items()]
    if isinstance(values, (list, tuple)):
        names = list(getattr(model, "output_names", None) or [])
        symbols = list(symbolic) if isinstance(symbolic, (list, tuple)) else []
        return [
            (names[i] if i < len(names) else str(i), v, symbols[i] if i < len(symbols) else None)
            for i, v in enumerate(values)
        ]
    return [(None, values, None)]
