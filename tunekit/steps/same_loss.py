"""One loss for every trial, under an objective that is a loss.

Split from `tunekit.steps.value_checks`. Under an objective that is a loss
(`val_loss`, the regression default), a trial compiled with another loss than
the trials before it is refused (`check_same_loss`): a Huber loss and a squared
error are not on one scale, and the search would rank the loss's kind, not the
model. Under the total `loss`/`val_loss`, so is a trial with other weight
penalties (a tuned `kernel_regularizer`): Keras adds them to the validation loss
too, and the search would rank the penalty's size.

A loss of the user's is known by what it computes on a few training targets and
fixed predictions (`_measured`), when it can run on them; else, and for Keras's
own losses, by its class and settings.

This module is over 400 lines because a loss is read in every form Keras takes
it (names, functions, partials, objects, their measured values, penalties), and
those readings only make sense together.
"""

from __future__ import annotations

import functools
import json
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np

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
    model: keras.Model,
    *,
    penalties: bool = False,
    outputs: Sequence[str] | None = None,
    samples: Any = None,
    labels: Any = None,
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
    probes = _probe_pairs(model, labels)

    def canonical(loss: Any, output: str | None = None) -> Any:
        if isinstance(loss, str) or (  # Keras's loss by name or function: its class's default
            callable(loss)
            and hasattr(loss, "__name__")
            and str(getattr(loss, "__module__", "")).startswith("keras.")
        ):
            try:
                function = keras.losses.get(loss) if isinstance(loss, str) else loss
            except (ValueError, TypeError):
                return loss
            name = str(getattr(function, "__name__", loss))
            return _keras_defaults().get(name, name)
        if isinstance(loss, Mapping):  # one loss per output, by name
            return {str(k): canonical(v, str(k)) for k, v in loss.items()}
        if isinstance(loss, (list, tuple)):
            named = list(getattr(model, "output_names", None) or [])  # a list by position
            return [
                canonical(v, named[i] if len(named) == len(loss) else None)
                for i, v in enumerate(loss)
            ]
        measured = _measured(loss, probes.get(output if output in probes else None))
        if measured is not None:  # a loss of the user's, by what it computes
            return measured
        if isinstance(loss, functools.partial):  # partial(keras.losses.huber, delta=2.0)
            return {"partial": canonical(loss.func), "args": loss.args, **loss.keywords}
        if loss is None or hasattr(loss, "__name__"):  # a function, with what it closes on
            return None if loss is None else _function_signature(loss)
        return _loss_object(loss)

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
            "loss": {o: canonical(entry(model.loss, o), o) for o in outputs},
            "loss_weights": None,
        }
    if penalties:
        parts["penalties"] = penalty_signatures(model, samples() if samples else None)
    return json.dumps(parts, sort_keys=True, default=str)


def penalty_signatures(model: keras.Model, x: Any = None) -> list[str]:
    """The distinct weight penalties of the model, sorted, each as its class and settings
    (`L2(0.01)` and `L2(0.0001)` are two; a function of the user's by `_function_signature`):
    every layer's `*_regularizer` (kernel, bias, activity, ...) and every weight's own
    `regularizer` (`add_weight(regularizer=...)`). How many layers carry one is not kept:
    a tuned depth with the same penalty per layer is the same objective. With `x` (a few
    training samples), also each layer of the user's own that adds a loss in its `call`
    (`self.add_loss(c * ...)`), by its class and its float settings (`c`): the model is
    called once on `x` to see which do."""
    found: set[str] = set()

    def add(penalty: Any) -> None:
        if penalty is None:
            return
        if hasattr(penalty, "__name__") and not isinstance(penalty, keras.regularizers.Regularizer):
            found.add(_function_signature(penalty))
            return
        found.add(
            json.dumps(
                {"class": type(penalty).__qualname__, **_settings(penalty)},
                sort_keys=True,
                default=str,
            )
        )

    for layer in model._flatten_layers():
        for name, value in vars(layer).items():
            if name.endswith("_regularizer"):
                add(value)
    for variable in model.weights:
        add(getattr(variable, "regularizer", None))
    for layer in _adding_layers(model, x):
        floats = {k: v for k, v in _settings(layer).items() if isinstance(v, float)}
        found.add(json.dumps({"class": type(layer).__qualname__, **floats}, sort_keys=True))
    return sorted(found)


def _adding_layers(model: keras.Model, x: Any) -> list[Any]:
    """The layers (and a subclassed model) of the user's own classes that add a loss when
    the model runs on `x`."""
    own = [  # a subclassed model's own call may add one too
        layer
        for layer in model._flatten_layers(include_self=True)
        if not type(layer).__module__.startswith("keras.")
    ]
    if x is None or not own:
        return []
    try:
        model(x, training=False)
    except Exception:  # noqa: BLE001 - a model that cannot run here: left to its trials
        return []
    return [layer for layer in own if getattr(layer, "_losses", None)]


def _probe_pairs(model: keras.Model, labels: Any) -> dict[str | None, Any]:
    """What to measure a loss of the user's on, by output name (`None`: the only output):
    targets from `labels` (the training targets, a dict for several outputs) and fixed
    predictions of each output's shape, in two sets: inside (0.05, 0.95), where a
    probability's loss is defined, and over (-2, 3), where a penalty on predictions out
    of range or a Huber-like delta acts."""
    if labels is None:
        return {}
    try:
        shapes = [tuple(output.shape) for output in keras.tree.flatten(model.outputs)]
    except Exception:  # noqa: BLE001 - a subclassed model: no output shapes to read
        return {}
    names = list(getattr(model, "output_names", None) or [])  # a Sequential has none

    def pairs(targets: Any, shape: tuple[Any, ...]) -> list[tuple[Any, Any]]:
        y = _spread_targets(np.asarray(targets))
        full = (len(y), *[int(d or 1) for d in shape[1:]])
        size = int(np.prod(full))
        return [
            (y, np.linspace(low, high, size).reshape(full).astype("float32"))
            for low, high in ((0.05, 0.95), (-2.0, 3.0))
        ]

    if len(shapes) == 1 and not isinstance(labels, Mapping):
        return {None: pairs(labels, shapes[0])}
    if isinstance(labels, Mapping) and len(names) == len(shapes):
        return {
            name: pairs(labels[name], shape) for name, shape in zip(names, shapes) if name in labels
        }
    return {}


def _spread_targets(y: np.ndarray, count: int = 16) -> np.ndarray:
    """`count` of the targets `y`, from the smallest to the largest (by the first value
    of each): every class of an imbalanced set of labels that is not too rare, the
    extremes of real values; not the first `count`, which may all be one class."""
    if len(y) <= count:
        return y
    key = y.reshape(len(y), -1)[:, 0]
    order = np.argsort(key, kind="stable")
    return y[order[np.linspace(0, len(y) - 1, count).round().astype(int)]]


def _measured(loss: Any, pairs: Any) -> dict[str, Any] | None:
    """A loss of the user's (not Keras's own) by its name and its values on `pairs` (see
    `_probe_pairs`), as tensors: two losses that compute other values are two losses,
    however they keep their settings (a private attribute, an object they hold, a
    closure in a closure), and bookkeeping (a counter, a creation time) does not count.
    `None` when there are no pairs, for Keras's losses, when the loss cannot run on
    them, or when it is random (two calls differ): it is then read by its settings."""
    if pairs is None or isinstance(loss, str) or loss is None:
        return None
    target = getattr(loss, "func", loss)  # a functools.partial's function
    module = str(getattr(target, "__module__", "") or type(target).__module__)
    if module.startswith("keras.") and not isinstance(loss, functools.partial):
        return None

    def values() -> list[str]:
        found = []
        for y_true, y_pred in pairs:
            value = loss(keras.ops.convert_to_tensor(y_true), keras.ops.convert_to_tensor(y_pred))
            found.append(f"{float(np.mean(keras.ops.convert_to_numpy(value))):.6g}")
        return found

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            first, second = values(), values()
    except Exception:  # noqa: BLE001 - a loss that does not take the pairs: read as before
        return None
    if first != second:  # random in its call: its value says nothing of its settings
        return None
    name = getattr(target, "__qualname__", None) or type(target).__qualname__
    return {"measured": f"{module}.{name}", "values": first}


def _loss_object(loss: Any) -> dict[str, Any]:
    """A loss object by its class (a Keras loss by the function it wraps: `"mse"` and
    `MeanSquaredError()` are one) and settings, `from_logits` aside: a logit under
    `from_logits=True` and its softmax under `False` are one loss, and the pairing checks
    refuse an output and a `from_logits` that do not go together."""
    kind = type(loss)
    kwargs = getattr(loss, "_fn_kwargs", None) or {}  # Huber's delta, ...
    settings = {**_settings(loss), **{k: _plain(v) for k, v in kwargs.items()}}
    settings.pop("from_logits", None)
    name = getattr(getattr(loss, "fn", None), "__name__", None)
    if kind.__module__.startswith("keras.") and name:
        return {"keras": str(name), **settings}
    return {"class": f"{kind.__module__}.{kind.__qualname__}", **settings}


@functools.lru_cache(maxsize=1)
def _keras_defaults() -> dict[str, Any]:
    """Keras's loss functions by name -> `_loss_object` of their class's default instance
    (`"binary_crossentropy"` -> `BinaryCrossentropy()`'s)."""
    found: dict[str, Any] = {}
    for value in vars(keras.losses).values():
        if not (isinstance(value, type) and issubclass(value, keras.losses.Loss)):
            continue
        try:
            instance = value()
        except Exception:  # noqa: BLE001 - a class that needs arguments: no default
            continue
        name = getattr(getattr(instance, "fn", None), "__name__", None)
        if name:
            found.setdefault(str(name), _loss_object(instance))
    return found


def _plain(value: Any) -> Any:
    """`value` as JSON-able plain data when it is a setting (a number, a string, a small
    array or tensor, a list or dict of those), else `None` (an object, a function...)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        items = [_plain(v) for v in value]
        return items if all(i is not None or v is None for i, v in zip(items, value)) else None
    if isinstance(value, Mapping):
        found = {str(k): _plain(v) for k, v in value.items()}
        return found if all(i is not None for i in found.values()) else None
    if hasattr(value, "shape") and hasattr(value, "dtype"):  # an array, tensor or variable
        try:
            array = np.asarray(keras.ops.convert_to_numpy(value))
        except Exception:  # noqa: BLE001 - not readable here: not a setting
            return None
        if array.size <= 1024 and array.dtype.kind in "biuf":
            return array.tolist()
    return None


def _settings(thing: Any, depth: int = 0) -> dict[str, Any]:
    """A loss's or penalty's settings, its name aside: its config, and the plain values a
    class of the user's keeps outside it (`Scaled(s=100)`, `WeightedBCE([1.0, 20.0])`):
    public attributes, private ones named after an `__init__` argument (`self._s = s`,
    a dataclass's `_scale` field), those of an object it holds (`self.cfg.scale`, two
    levels deep), and plain class attributes of the user's classes. Other private
    attributes are bookkeeping (a call counter, a creation time), not settings."""
    try:
        config = {k: _plain(v) for k, v in thing.get_config().items() if k != "name"}
    except Exception:  # noqa: BLE001 - a class of the user's without a config
        config = {}
    kind = thing.__class__
    keras_own, arguments = _keras_attributes(kind), _init_arguments(kind)
    kept: dict[str, Any] = {}
    for key, value in getattr(thing, "__dict__", {}).items():
        private = key.startswith("_") and key not in arguments and key[1:] not in arguments
        if key in keras_own or key == "name" or private:
            continue
        plain = _plain(value)
        if plain is None and depth < 2 and _holds_settings(value):
            plain = _settings(value, depth + 1) or None
        if plain is not None:
            kept[key] = plain
    for base in kind.__mro__:  # class attributes of the user's own classes
        if _library_class(base):
            continue
        for key, value in vars(base).items():
            if key.startswith("__") or key in keras_own or callable(value):
                continue
            if (plain := _plain(value)) is not None:
                kept.setdefault(f"{base.__qualname__}.{key}", plain)
    return {**kept, **config}


def _library_class(kind: type) -> bool:
    """Whether `kind` is Keras's, Python's or NumPy's (its attributes are not the user's)."""
    return str(kind.__module__).split(".")[0] in ("keras", "builtins", "numpy", "abc")


def _holds_settings(value: Any) -> bool:
    """Whether `value` is an object whose attributes may be settings (`self.cfg`): not a
    type, a module or a function, and with attributes of its own."""
    import types

    if isinstance(value, (type, types.ModuleType, types.FunctionType, types.MethodType)):
        return False
    return bool(getattr(value, "__dict__", None))


@functools.lru_cache(maxsize=64)
def _init_arguments(kind: Any) -> frozenset[str]:
    """The `__init__` argument names of `kind` and of its user-defined bases."""
    import inspect

    names: set[str] = set()
    for base in kind.__mro__:
        if _library_class(base) or "__init__" not in vars(base):
            continue
        try:
            names |= set(inspect.signature(base.__init__).parameters) - {"self"}
        except (TypeError, ValueError):
            continue
    return frozenset(names)


@functools.lru_cache(maxsize=64)
def _keras_attributes(kind: Any) -> frozenset[str]:
    """The attributes Keras's own class under `kind` keeps (read from a default instance),
    which are not the user's class's settings."""
    for base in kind.__mro__:
        if base.__module__.startswith("keras."):
            try:
                return frozenset(vars(base()))
            except Exception:  # noqa: BLE001 - a class that needs arguments
                break
    return frozenset()


def _function_signature(function: Any) -> str:
    """A function by its module and name, and the plain values it closes on or defaults to
    (`lambda y, p: s * mse(y, p)` with a tuned `s` is another loss for each `s`)."""
    cells = []
    for cell in getattr(function, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        plain = _plain(value)
        if plain is None and _holds_settings(value):  # `lambda y, p: cfg.scale * mse(y, p)`
            plain = {type(value).__qualname__: _settings(value, 1)}
        cells.append(type(value).__name__ if plain is None else plain)
    defaults = [
        v for v in getattr(function, "__defaults__", None) or () if isinstance(v, (int, float))
    ]
    name = f"{function.__module__}.{getattr(function, '__qualname__', function.__name__)}"
    owner = getattr(function, "__self__", None)  # a bound method: its object's settings
    if owner is None and _holds_settings(function):  # a callable object with a __name__
        owner = function
    if owner is not None and not isinstance(owner, type):
        return json.dumps([name, cells, defaults, _settings(owner)], default=str, sort_keys=True)
    return json.dumps([name, cells, defaults], default=str)


def check_same_loss(
    model: keras.Model,
    what: str,
    objective_names: list[str],
    seen: dict[str, str],
    samples: Any = None,
    labels: Any = None,
) -> None:
    """Under an objective that is a loss (`loss`, `val_loss`, an output's `..._loss`),
    refuses a trial's model compiled with another loss than the first trial's model
    checked in this run (`seen`: `loss_signature` -> that model's `what`; filled here).
    `samples()`, if given, returns a few training samples: under the total loss, the
    losses the user's own layers add are read by running the model on them.

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
    signature = loss_signature(
        model,
        penalties=total,
        outputs=None if whole else outputs,
        samples=samples if total else None,
        labels=labels,
    )
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
            f"the penalties (kernel_regularizer, activity_regularizer, a layer's add_loss) to "
            f"{objective!r} "
            "on the validation data too, so the objective would rank the penalty's size "
            "(a smaller one reads lower), not how well the model predicts. Rank the trials "
            "by a metric the penalties do not enter (e.g. compile metrics=['mse'] and pass "
            "objective='val_mse', or 'val_accuracy' for a classifier), or do not tune the "
            "penalty."
        )
    raise ModelCheckError(
        f"{what} is compiled with the loss {_shown(signature, first)}, but the model of an "
        f"earlier trial ({first_trial or 'the first checked'}) with {_shown(first, signature)}. "
        "The "
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


def _shown(signature: str, other: str) -> str:
    """A loss signature, short enough for a message: its loss where that differs from
    `other`'s, then its `loss_weights` (where those differ, before the loss)."""
    parts, others = json.loads(signature), json.loads(other)
    weights = f"loss_weights {json.dumps(parts.get('loss_weights'))}"
    loss = json.dumps(parts["loss"], sort_keys=True)
    loss = loss if len(loss) <= 160 else loss[:157] + "..."
    if parts["loss"] == others["loss"]:  # the weights differ
        return f"{loss[:60] + '...' if len(loss) > 60 else loss} ({weights})"
    return loss + (f" ({weights})" if parts.get("loss_weights") is not None else "")
