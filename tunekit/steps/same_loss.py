"""One loss for every trial, under an objective that is a loss.

Split from `tunekit.steps.value_checks`. Under an objective that is a loss
(`val_loss`, the regression default), a trial compiled with another loss than
the trials before it is refused (`check_same_loss`): a Huber loss and a squared
error are not on one scale, and the search would rank the loss's kind, not the
model. Under the total `loss`/`val_loss`, so is a trial with other weight
penalties (a tuned `kernel_regularizer`): Keras adds them to the validation loss
too, and the search would rank the penalty's size.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from typing import Any

import keras

from tunekit.errors import ModelCheckError

__all__ = ["check_same_loss", "loss_signature", "output_entry", "penalty_signatures"]


def output_entry(entries: Any, name: str | None, index: int, count: int) -> Any:
    """The entry of output `index` (named `name`) of `count` in a compile argument given
    per output (`loss`, `loss_weights`: a dict by name, a list by position) or for all
    (anything else), or `None`."""
    if isinstance(entries, Mapping):  # by output name; one entry for one output
        return entries.get(name) if name is not None else next(iter(entries.values()), None)
    if isinstance(entries, (list, tuple)):
        return entries[index] if len(entries) == count else None
    return entries


def loss_signature(
    model: keras.Model, *, penalties: bool = False, outputs: Sequence[str] | None = None
) -> str | None:
    """What the model's compiled loss computes, as text two models share exactly when
    their losses are the same: each output's loss (a name by Keras's function,
    `"mse"` and `"mean_squared_error"` alike; a function by its module and name; a
    `functools.partial` by its function and arguments; an object by its class, its
    settings (its `name` aside: the config, the keywords Keras's loss classes keep apart
    from it such as `Huber`'s `delta`, and the plain values a class of the user's
    keeps) and the compile's `loss_weights`; with `penalties`, also the distinct weight
    penalties of its layers and weights (`penalty_signatures`), which Keras adds to the
    total `loss` and `val_loss`. With `outputs` (names in `model.output_names`), only
    those outputs' losses, without weights: what their own `<name>_loss` logs read
    (Keras logs them unweighted). `None` when the model was not compiled."""
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
        if isinstance(loss, functools.partial):  # partial(keras.losses.huber, delta=2.0)
            return {"partial": canonical(loss.func), "args": loss.args, **loss.keywords}
        if loss is None or hasattr(loss, "__name__"):  # a function, with what it closes on
            return None if loss is None else _function_signature(loss)
        kind = type(loss)
        try:
            config = {k: v for k, v in loss.get_config().items() if k != "name"}
        except Exception:  # noqa: BLE001 - a loss of the user's without a config
            config = {}
        kept = {  # settings a class of the user's keeps, its config or not (Scaled(s=100))
            k: v
            for k, v in vars(loss).items()
            if not k.startswith("_") and k != "name" and isinstance(v, (bool, int, float, str))
        }
        kwargs = getattr(loss, "_fn_kwargs", None) or {}  # Huber's delta, ...
        return {"class": f"{kind.__module__}.{kind.__qualname__}", **kept, **config, **kwargs}

    try:
        weights = (model.get_compile_config() or {}).get("loss_weights")
    except Exception:  # noqa: BLE001 - compiled in an unusual way: the loss alone
        weights = None
    parts = {"loss": canonical(getattr(model, "loss", None)), "loss_weights": weights}
    if outputs:
        names = list(model.output_names)

        def entry(entries: Any, output: str) -> Any:
            return output_entry(entries, output, names.index(output), len(names))

        # Keras logs `<name>_loss` unweighted: the other outputs and the weights do not enter
        parts = {
            "loss": {o: canonical(entry(model.loss, o)) for o in outputs},
            "loss_weights": None,
        }
    if penalties:
        parts["penalties"] = penalty_signatures(model)
    return json.dumps(parts, sort_keys=True, default=str)


def penalty_signatures(model: keras.Model) -> list[str]:
    """The distinct weight penalties of the model, sorted, each as its class and settings
    (`L2(0.01)` and `L2(0.0001)` are two; a function of the user's by `_function_signature`):
    every layer's `*_regularizer` (kernel, bias, activity, ...) and every weight's own
    `regularizer` (`add_weight(regularizer=...)`). How many layers carry one is not kept:
    a tuned depth with the same penalty per layer is the same objective."""
    found: set[str] = set()

    def add(penalty: Any) -> None:
        if penalty is None:
            return
        if hasattr(penalty, "__name__") and not isinstance(penalty, keras.regularizers.Regularizer):
            found.add(_function_signature(penalty))
            return
        try:
            config = penalty.get_config()
        except Exception:  # noqa: BLE001 - a penalty of the user's without a config
            config = {}
        kept = {
            k: v
            for k, v in vars(penalty).items()
            if not k.startswith("_") and isinstance(v, (bool, int, float, str))
        }
        kind = type(penalty)
        found.add(
            json.dumps({"class": kind.__qualname__, **kept, **config}, sort_keys=True, default=str)
        )

    for layer in model._flatten_layers():
        for name, value in vars(layer).items():
            if name.endswith("_regularizer"):
                add(value)
    for variable in model.weights:
        add(getattr(variable, "regularizer", None))
    return sorted(found)


def _function_signature(function: Any) -> str:
    """A function by its module and name, and the plain values it closes on or defaults to
    (`lambda y, p: s * mse(y, p)` with a tuned `s` is another loss for each `s`)."""
    cells = []
    for cell in getattr(function, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        cells.append(value if isinstance(value, (bool, int, float, str)) else type(value).__name__)
    defaults = [
        v for v in getattr(function, "__defaults__", None) or () if isinstance(v, (int, float))
    ]
    name = f"{function.__module__}.{getattr(function, '__qualname__', function.__name__)}"
    return json.dumps([name, cells, defaults], default=str)


def check_same_loss(
    model: keras.Model, what: str, objective_names: list[str], seen: dict[str, str]
) -> None:
    """Under an objective that is a loss (`loss`, `val_loss`, an output's `..._loss`),
    refuses a trial's model compiled with another loss than the first trial's model
    checked in this run (`seen`: `loss_signature` -> that model's `what`; filled here).

    Raises:
        ModelCheckError (a `ValueError`): Naming both losses and the fix.
    """
    bases = [n.removeprefix("val_") for n in objective_names]
    total = "loss" in bases
    outputs = [b.removesuffix("_loss") for b in bases if b != "loss" and b.endswith("_loss")]
    if not total and not outputs:
        return
    try:  # an output's own loss reads that output's loss only
        known = set(model.output_names) if len(model.output_names) > 1 else set()
    except Exception:  # noqa: BLE001 - no output names: the whole loss
        known = set()
    whole = total or not set(outputs) <= known
    signature = loss_signature(model, penalties=total, outputs=None if whole else outputs)
    if signature is None or signature in seen:
        return
    if not seen:  # the model of "trial id N, {values}"
        seen[signature] = what.partition("built with the values of ")[2].partition(") builds")[0]
        return
    first, first_trial = next(iter(seen.items()))
    objective = next(n for n in objective_names if n.endswith("loss"))
    now, then = json.loads(signature), json.loads(first)
    if now["loss"] == then["loss"] and now["loss_weights"] == then["loss_weights"]:
        raise ModelCheckError(
            f"{what} has {_penalties(now)}, but the model of an earlier trial "
            f"({first_trial or 'the first checked'}) has {_penalties(then)}. Keras adds "
            f"the penalties (kernel_regularizer, activity_regularizer, ...) to {objective!r} "
            "on the validation data too, so the objective would rank the penalty's size "
            "(a smaller one reads lower), not how well the model predicts. Rank the trials "
            "by a metric the penalties do not enter (e.g. compile metrics=['mse'] and pass "
            "objective='val_mse', or 'val_accuracy' for a classifier), or do not tune the "
            "penalty."
        )
    raise ModelCheckError(
        f"{what} is compiled with the loss {_shown(signature)}, but the model of an earlier "
        f"trial ({first_trial or 'the first checked'}) with {_shown(first)}. The "
        f"objective {objective!r} ranks every trial by its own loss, and losses of "
        "different kinds (or weights) are not on one scale: the search would pick the "
        "loss that reads lowest, not the best model. Rank the trials by a metric every "
        "trial computes the same way (e.g. compile metrics=['mse'] and pass "
        "objective='val_mse', or 'val_accuracy' for a classifier), or do not tune the loss."
    )


def _penalties(parts: dict[str, Any]) -> str:
    """The weight penalties of a loss signature's parts, short enough for a message."""
    shown = [json.loads(p) for p in parts.get("penalties", [])]
    if not shown:
        return "no weight penalty"
    text = json.dumps(shown, sort_keys=True)
    return "the weight penalties " + (text if len(text) <= 160 else text[:157] + "...")


def _shown(signature: str) -> str:
    """A loss signature, short enough for a message."""
    parts = json.loads(signature)
    text = json.dumps(parts["loss"], sort_keys=True)
    if parts.get("loss_weights") is not None:
        text += f" (loss_weights {json.dumps(parts['loss_weights'])})"
    return text if len(text) <= 160 else text[:157] + "..."
