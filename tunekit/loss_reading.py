"""What a compiled loss says of the output it reads: a logit, a margin or a probability.

A Keras loss says it with `from_logits`; a loss named by a string, or one of
Keras's loss functions, reads probabilities unless told otherwise; a hinge loss
reads a margin, its sign the class. A subclass of a Keras loss whose `call`
computes otherwise goes by its own name, and its `from_logits` (its Keras base's
attribute, which its `call` may not follow) says nothing. A loss of the user's own
that says nothing is read by what it computes (`threshold_by_values`) where the
output's layer can hold either; else the layer's activation decides. Keras is
imported only to call a loss the model has already compiled.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "KL_DIVERGENCE_KEYS",
    "SIGNED_ACTIVATIONS",
    "is_kl_divergence",
    "keras_loss_key",
    "loss_name",
    "reads_probabilities",
    "threshold_by_values",
    "unit_reading",
    "unread_unit",
]

# Output activations read by their sign, class 1 above 0: a logit, or a margin in (-1, 1).
SIGNED_ACTIVATIONS = frozenset({"linear", "tanh", "softsign"})
# Keras's Kullback-Leibler divergence (`keras_loss_key`): it reads probability distributions,
# clipping the outputs to [epsilon, 1], and has no `from_logits`.
KL_DIVERGENCE_KEYS = frozenset({"kld", "kldivergence", "kullbackleiblerdivergence"})
# Losses whose output is a margin: its sign is the class.
_MARGIN_LOSSES = {"hinge", "squared_hinge", "Hinge", "SquaredHinge"}


def unit_reading(losses: Sequence[Any], activation: str | None) -> bool | None:
    """`uses_logits` for one output: its compiled loss(es) and its layer's activation name.

    A loss of the user's own that names no `from_logits` (a function, or a subclass of a
    Keras loss with its own `call`), on a layer that can hold either (a signed activation,
    or `None`: unknown), is read by its values (`threshold_by_values`); `None` when they
    do not say either."""
    for item in losses:
        if item is not None and hasattr(item, "from_logits") and not _own_call(item):
            return bool(item.from_logits)
        if loss_name(item) in _MARGIN_LOSSES:
            return True  # a margin, class 1 above 0 (Keras's hinge maps labels 0/1 to -1/1)
        if isinstance(item, str) or (
            callable(item) and getattr(item, "__module__", "").startswith("keras.")
        ):
            return False  # a loss named by string, or Keras's function: probabilities
    if activation is None or activation in SIGNED_ACTIVATIONS:
        own = [item for item in losses if item is not None and callable(item)]
        if own:
            return threshold_by_values(own[0])  # a loss of the user's own saying nothing
    return None if activation is None else activation in SIGNED_ACTIVATIONS


def threshold_by_values(loss: Any) -> bool | None:
    """Whether a loss of the user's own reads a one-unit output as a logit or margin
    (`True`: class 1 above 0), or as a probability (`False`: class 1 above 0.5), by its
    values for labels 0 and 1 at outputs -1, 0, 0.25, 0.75, 1 and 2 (batches of one).

    A probability loss is least at the label (0 for class 0, 1 for class 1) and no lower
    beyond it (an MSE rises, a clipped cross-entropy stays); a logit or margin loss keeps
    falling below 0 for class 0 (a logistic loss, a hinge). `None` when the values do not
    say: the loss fails or is not finite on these outputs (an unclipped log), or does not
    prefer each class's own label. A probe's linear unit trained toward 0/1 by the user's
    own MSE, read as a logit by its layer, scored 0.56 where the same model under 'mse'
    scored 0.76 (exit 0).
    """
    import keras  # noqa: PLC0415 - a compiled model exists, so Keras is loaded
    import numpy as np  # noqa: PLC0415

    def value(label: float, output: float) -> float:
        pair = (np.full((1, 1), label, "float32"), np.full((1, 1), output, "float32"))
        return float(np.mean(keras.ops.convert_to_numpy(loss(*pair))))

    try:
        at = {(y, z): value(y, z) for y in (0, 1) for z in (-1.0, 0.0, 0.25, 0.75, 1.0, 2.0)}
    except Exception:  # noqa: BLE001 - a loss that cannot run on these: it does not say
        return None
    if not all(np.isfinite(list(at.values()))):
        return None
    if not (at[0, 0.25] < at[0, 0.75] and at[1, 0.75] < at[1, 0.25]):
        return None  # it does not prefer each class's own label
    tolerance = 1e-6 * (1.0 + abs(at[0, 0.0]) + abs(at[1, 1.0]))
    if at[0, -1.0] < at[0, 0.0] - tolerance:
        return True  # still falling below 0 for class 0: a logit or a margin
    if at[1, 2.0] >= at[1, 1.0] - tolerance:
        return False  # least at 0 for class 0 and at 1 for class 1: a probability
    return None


def unread_unit(what: str, loss: Any, activation: str | None) -> str:
    """The refusal of a one-unit classifier compiled with a loss of the user's own that
    names no `from_logits` (`loss`: a function, or a subclass of a Keras loss with its
    own `call`) and whose values do not say either (`threshold_by_values`), on a layer
    that can hold either (`activation`: a signed one, or `None` when unknown). Read by
    its range, a linear unit trained toward 0/1 by the user's own MSE reached below 0,
    and its test accuracy was counted above 0 (0.56, where the same model compiled with
    `'mse'` scored 0.76; exit 0)."""
    if isinstance(loss, dict):
        loss = list(loss.values())
    if isinstance(loss, (list, tuple)):
        loss = next((item for item in loss if callable(item)), loss[0] if loss else None)
    layer = (
        f"its last layer's activation is {activation!r}, which can hold either"
        if activation is not None
        else "its layers do not show the output's activation (a subclassed model's call, "
        "or an op after the last layer, may apply a sigmoid)"
    )
    name = loss_name(loss)
    if _own_call(loss):
        says = (
            f"its loss {name!r} computes in a call of its own, so its from_logits (its Keras "
            "base's) may not be what it reads"
        )
        fix = f"write {name}.call so that it is finite for outputs from -1 to 2"
    else:
        says = f"its loss {name!r} is your own and names no from_logits"
        fix = (
            f"give your loss the attribute ({name}.from_logits = True for a logit, False "
            "for a probability; self.from_logits on a keras.losses.Loss)"
        )
    return (
        f"{what} outputs one unit per sample, and nothing says whether that unit is a logit "
        f"(class 1 above 0) or a probability (class 1 above 0.5): {says}; called on labels "
        "0 and 1 at outputs from -1 to 2, it fails, is not finite, or does not prefer each "
        f"class's own label; and {layer}. tunekit reads the unit to score the test set "
        f"(accuracy, the confusion matrix) and will not guess. Say which: {fix}, end the "
        "model in activation='sigmoid', or compile with "
        "keras.losses.BinaryCrossentropy(from_logits=...)."
    )


def loss_name(loss: Any) -> str:
    """A loss's name: a string as given, a function's `__name__`, an object's class name;
    a subclass of a Keras loss (`class MyBCE(keras.losses.BinaryCrossentropy)`) goes by
    the Keras class it computes with, unless it overrides `call`."""
    if isinstance(loss, str):
        return loss
    if getattr(loss, "__name__", ""):
        return str(loss.__name__)
    keras_classes = (c for c in type(loss).__mro__ if c.__module__.startswith("keras."))
    base = next(keras_classes, type(loss))
    if base.__name__ in ("Loss", "LossFunctionWrapper") or getattr(
        type(loss), "call", None
    ) is not getattr(base, "call", None):
        return type(loss).__name__  # its own computation: its own name
    return base.__name__


def _own_call(loss: Any) -> bool:
    """Whether a loss object subclasses one of Keras's losses (`BinaryCrossentropy`, not
    the bare `Loss`) with a `call` of its own: its `from_logits` is the base's setting,
    which that `call` may not follow. A loss written on `keras.losses.Loss` keeps its
    `from_logits`: its author gave it one."""
    kind = type(loss)
    if isinstance(loss, str) or hasattr(loss, "__name__") or kind.__module__.startswith("keras."):
        return False
    base = next((c for c in kind.__mro__ if c.__module__.startswith("keras.")), None)
    return (
        base is not None
        and base.__name__ not in ("Loss", "LossFunctionWrapper")
        and loss_name(loss) == kind.__name__
    )


def keras_loss_key(loss: Any) -> str:
    """The name of the Keras loss `loss` computes as, lower case without underscores
    (`"sparsecategoricalcrossentropy"`), or `""` for a loss of the user's own: a
    function outside Keras, a class written on `keras.losses.Loss`, or a subclass whose
    `call` computes otherwise. A loss's own name says nothing of what it computes (a
    label-smoothed cross-entropy on class ids may be named `categorical_crossentropy_ls`),
    so only Keras's losses are judged by theirs."""
    if loss is None:
        return ""
    if not isinstance(loss, str):
        if getattr(loss, "__name__", ""):  # a function: Keras's, or the user's own
            if not str(getattr(loss, "__module__", "")).startswith("keras."):
                return ""
        elif loss_name(loss) == type(loss).__name__ and not type(loss).__module__.startswith(
            "keras."
        ):
            return ""  # its own computation
    return loss_name(loss).lower().replace("_", "")


def reads_probabilities(losses: Sequence[Any]) -> bool:
    """`probability_cross_entropy` for one output's compiled loss(es): a Keras
    cross-entropy (`keras_loss_key`) with `from_logits=False`, or Keras's KL divergence
    (`KL_DIVERGENCE_KEYS`), which has no logit form."""
    return any(
        ("crossentropy" in keras_loss_key(item) and not getattr(item, "from_logits", False))
        or is_kl_divergence(item)
        for item in losses
    )


def is_kl_divergence(loss: Any) -> bool:
    """Whether `loss` is Keras's KL divergence (`"kld"`, `KLDivergence()`, ...)."""
    return loss is not None and keras_loss_key(loss) in KL_DIVERGENCE_KEYS


def loss_callable(loss: Any) -> Any:
    """The function (or `Loss` object) a compiled `loss` computes with, or `None`.

    A loss named by string (`"categorical_hinge"`, `"mse"`, a registered name) is
    Keras's function of that name (`keras.losses.get`); a list or dict of one loss is
    that loss; an object that can be called is itself. `None` for anything else (no
    loss, several, a name Keras does not know).
    """
    if isinstance(loss, dict):
        loss = next(iter(loss.values())) if len(loss) == 1 else None
    elif isinstance(loss, (list, tuple)):
        loss = loss[0] if len(loss) == 1 else None
    if isinstance(loss, str):
        import keras  # noqa: PLC0415 - a compiled model exists, so Keras is loaded

        try:
            loss = keras.losses.get(loss)
        except (ValueError, TypeError):
            return None
    return loss if callable(loss) else None
