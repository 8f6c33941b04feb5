"""The model's values and loss, where its layers do not say what they are.

Split from `tunekit.steps.pairing_checks`, which reads the output layer's
activation. A subclassed model's `call`, a `Lambda` layer or an op after the
last layer may apply a softmax or leave logits, and the layers do not show
which; the model's values on up to 32 training samples do:

- rows that are probabilities (each in [0, 1], summing to 1) under a
  categorical cross-entropy with `from_logits=True`, which applies softmax
  to them again (the search ranks trials trained on twice-squashed values);
- a value outside [0, 1] under a Keras cross-entropy that reads probabilities
  (`from_logits=False`, Keras's default, and every loss named by a string):
  Keras clips (and over several units rescales) it there, and trains toward
  chance (test accuracy 0.17 on `load_digits` with exit 0).

A sigmoid under `from_logits=True` cannot be told from a logit by its values,
and is left alone. Also refused: a model compiled without a loss, whose `fit`
Keras stops in every trial ("No loss to compute"): no `loss=`, no loss a
layer adds (`add_loss`), and Keras's own `train_step` and `compute_loss`; and,
under an objective that is a loss (`val_loss`, the regression default), a
trial compiled with another loss than the trials before it (`check_same_loss`):
a Huber loss and a squared error are not on one scale, and the search would
rank the loss's kind, not the model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

from tunekit.data import Dataset, StreamData
from tunekit.data import _targets as tg
from tunekit.errors import ModelCheckError
from tunekit.outputs import output_activation, training_samples, unit_reading
from tunekit.steps.label_forms import loss_key

__all__ = ["check_same_loss", "check_values", "clipped", "loss_signature", "probability_fix"]


def check_values(
    model: keras.Model,
    data: Dataset | StreamData,
    what: str,
    *,
    read_stream: bool = True,
    sample: Any = None,
) -> None:
    """Refuses a model compiled without a loss, and one output whose values do not fit
    its cross-entropy (see the module's docstring), read on up to 32 of `data`'s
    training samples (a stream's first batch: `sample`, or read when `read_stream`).
    `what` starts each message ("`hypermodel` ... builds a model that").

    Raises:
        ModelCheckError (a `ValueError`): Naming what the values or the compile say,
            and the fix.
    """
    if not (isinstance(data, Dataset) or read_stream or sample is not None):
        return
    x = _value_sample(data, sample)
    _check_has_loss(model, x, what)
    _check_output_values(model, x, what)


def clipped(one: bool) -> str:
    how = "clips the output to [0, 1]" if one else "clips the outputs to [0, 1] and rescales"
    return (
        f": Keras {how} there, so the loss and its gradients are wrong wherever the "
        "output leaves that range, and the search ranks trials trained toward chance"
    )


def probability_fix(loss: Any, one: bool) -> str:
    """How to give a cross-entropy that reads probabilities what it reads, or logits."""
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


def _value_sample(data: Dataset | StreamData, sample: Any) -> Any:
    """Up to 32 training samples of an array dataset; a stream's first batch."""
    if isinstance(data, Dataset):
        count = min(32, len(next(iter(keras.tree.flatten(data.x_train)))))
        return tg.take(data.x_train, slice(0, count))
    return sample if sample is not None else training_samples(data)


def _single_loss(model: keras.Model) -> Any:
    """The model's one compiled loss, or `None` (none, or one per output)."""
    loss = getattr(model, "loss", None)
    if isinstance(loss, Mapping) or isinstance(loss, (list, tuple)):
        return loss[0] if isinstance(loss, (list, tuple)) and len(loss) == 1 else None
    return loss


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
        added = bool(model.losses)  # add_loss in a layer's or the model's call
    except Exception:  # noqa: BLE001 - a model that cannot run here: left to its trials
        return
    if not added:
        raise ModelCheckError(
            f"{what} is compiled without a loss (no loss= in compile(), and no layer adds "
            'one with add_loss): Keras stops every fit with "No loss to compute". Pass '
            "the loss to compile(), e.g. loss='sparse_categorical_crossentropy' for class "
            "ids and a softmax output, or 'mse' for regression."
        )


def _check_output_values(model: keras.Model, x: Any, what: str) -> None:
    """Where the layers do not show the one output's activation, reads its values."""
    loss = _single_loss(model)
    if "crossentropy" not in loss_key(loss):
        return
    if output_activation(model) is not None:
        return  # the layer is known: the layer checks read it
    logits = unit_reading([loss], None)
    if logits is None:
        return  # a function of the user's: what it reads is unknown
    try:
        values = model(x, training=False)
    except Exception:  # noqa: BLE001 - a model that cannot run here: left to its trials
        return
    if not hasattr(values, "shape") or isinstance(values, (Mapping, list, tuple)):
        return
    values = np.asarray(keras.ops.convert_to_numpy(values), dtype=float)
    if values.size == 0 or not np.all(np.isfinite(values)):
        return
    in_range = bool(np.all((values >= -1e-6) & (values <= 1 + 1e-6)))
    binary = loss_key(loss).startswith("binary")
    if logits and not binary and values.ndim == 2 and values.shape[-1] > 1:
        if in_range and np.allclose(values.sum(axis=-1), 1.0, atol=1e-4):
            raise ModelCheckError(
                f"{what} outputs rows of {values.shape[-1]} values that are probabilities (each "
                "in [0, 1], summing to 1 on every training sample tried: a softmax in the "
                "model's call, a Lambda or an op after the last layer), but its loss has "
                "from_logits=True, which applies softmax to them again: the loss and its "
                "gradients would be those of probabilities squashed twice, and the search "
                "would rank trials by them. Return the logits (no softmax), or compile the "
                "loss with from_logits=False."
            )
    one = values.ndim == 1 or values.shape[-1] == 1
    if not logits and not in_range:
        low, high = float(values.min()), float(values.max())
        raise ModelCheckError(
            f"{what} outputs values from {low:.4g} to {high:.4g} on the training samples tried "
            "(the layers do not show its activation: a subclassed model's call, a Lambda "
            "or an op after the last layer), but its loss is a cross-entropy that reads "
            f"probabilities (from_logits=False){clipped(one)}. "
            f"{probability_fix(loss, one)}"
        )


def loss_signature(model: keras.Model) -> str | None:
    """What the model's compiled loss computes, as text two models share exactly when
    their losses are the same: each output's loss (a name by Keras's function,
    `"mse"` and `"mean_squared_error"` alike; a function by its module and name; an
    object by its class, its settings (its `name` aside) and the keywords Keras's loss
    classes keep apart from them, such as `Huber`'s `delta`) and the `loss_weights`.
    `None` when the model was not compiled."""
    if not getattr(model, "compiled", False):
        return None

    def canonical(loss: Any) -> Any:
        if isinstance(loss, str):
            try:
                return str(getattr(keras.losses.get(loss), "__name__", loss))
            except (ValueError, TypeError):
                return loss
        if isinstance(loss, Mapping):  # one loss per output, by name
            return {str(k): canonical(v) for k, v in loss.items()}
        if isinstance(loss, (list, tuple)):
            return [canonical(v) for v in loss]
        if loss is None or hasattr(loss, "__name__"):  # a function
            return None if loss is None else f"{loss.__module__}.{loss.__name__}"
        kind = type(loss)
        try:
            config = {k: v for k, v in loss.get_config().items() if k != "name"}
        except Exception:  # noqa: BLE001 - a loss of the user's without a config
            config = {}
        kwargs = getattr(loss, "_fn_kwargs", None)  # Huber's delta, ...
        return {"class": f"{kind.__module__}.{kind.__qualname__}", **config, **(kwargs or {})}

    weights = getattr(model, "loss_weights", None)
    parts = {"loss": canonical(getattr(model, "loss", None)), "loss_weights": weights}
    return json.dumps(parts, sort_keys=True, default=str)


def check_same_loss(
    model: keras.Model, what: str, objective_names: list[str], seen: dict[str, str]
) -> None:
    """Under an objective that is a loss (`loss`, `val_loss`, an output's `..._loss`),
    refuses a trial's model compiled with another loss than the first trial's model
    checked in this run (`seen`: `loss_signature` -> that model's `what`; filled here).

    Raises:
        ModelCheckError (a `ValueError`): Naming both losses and the fix.
    """
    if not any(n.removeprefix("val_") == "loss" or n.endswith("_loss") for n in objective_names):
        return
    signature = loss_signature(model)
    if signature is None or signature in seen:
        return
    if not seen:  # the model of "trial id N, {values}"
        seen[signature] = what.partition("built with the values of ")[2].partition(") builds")[0]
        return
    first, first_trial = next(iter(seen.items()))
    objective = next(n for n in objective_names if n.endswith("loss"))
    raise ModelCheckError(
        f"{what} is compiled with the loss {_shown(signature)}, but the model of an earlier "
        f"trial ({first_trial or 'the first checked'}) with {_shown(first)}. The "
        f"objective {objective!r} ranks every trial by its own loss, and losses of "
        "different kinds (or weights) are not on one scale: the search would pick the "
        "loss that reads lowest, not the best model. Rank the trials by a metric every "
        "trial computes the same way (e.g. compile metrics=['mse'] and pass "
        "objective='val_mse', or 'val_accuracy' for a classifier), or do not tune the loss."
    )


def _shown(signature: str) -> str:
    """A loss signature, short enough for a message."""
    parts = json.loads(signature)
    text = json.dumps(parts["loss"], sort_keys=True)
    if parts.get("loss_weights") is not None:
        text += f" (loss_weights {json.dumps(parts['loss_weights'])})"
    return text if len(text) <= 160 else text[:157] + "..."
