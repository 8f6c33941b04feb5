"""What tunekit can read of the objective's metric, for the chance check (`tunekit.steps.chance`).

Split from `tunekit.steps.chance`. The chance check knows a metric by the class
the default configuration's model compiles under the objective's name, read
from the model `build()` returns. Where that cannot be read, the check's note
says so instead of naming the metric as something it may not be:

- `build()` returns no Keras model, or an uncompiled one: the hypermodel's own
  `fit` builds or compiles it (or computes the number itself), which tunekit
  does not see;
- the compile cannot be read (a subclassed model Keras has not built);
- the hypermodel's own `fit` returns or logs a name the model does not compile.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import keras
import keras_tuner as kt

from tunekit import hypermodel_kinds
from tunekit.steps.base import RunContext
from tunekit.steps.metric_reading import _name_and_config
from tunekit.steps.output_checks import outputs_and_compile

__all__ = [
    "KERAS_ACCURACIES",
    "NOT_COMPILED",
    "NO_MODEL",
    "UNREADABLE",
    "compiled_metrics",
    "logged_as",
    "own_fit",
    "unread",
    "why_unread",
]

# Why the default model's compiled metrics are unread (`_compiled`): no Keras model, not
# compiled (both: the own fit builds or compiles it), or unreadable (a subclassed model).
NO_MODEL, NOT_COMPILED, UNREADABLE = "no model", "not compiled", "unreadable"
#: Keras's accuracy metrics (their chance level is the most frequent class's share): with
#: `auc`, the names taken at their word when the compile cannot be read.
KERAS_ACCURACIES = (
    "accuracy",
    "sparse_categorical_accuracy",
    "categorical_accuracy",
    "binary_accuracy",
)


def compiled_metrics(ctx: RunContext) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    """`(output prefix, metrics)` of the default configuration's model (prefix `digit_`
    for several outputs, else `""`), or `()` when it cannot be built or read."""
    hypermodel = getattr(ctx, "hypermodel", None)
    if hypermodel is None:
        return ()
    return _compiled(hypermodel, getattr(ctx, "hyperparameters", None))[0]


def why_unread(ctx: RunContext) -> str:
    """Why the default model's metrics are unread: `NO_MODEL`, `NOT_COMPILED`,
    `UNREADABLE` (also without a hypermodel), or `""` when they were read."""
    hypermodel = getattr(ctx, "hypermodel", None)
    if hypermodel is None:
        return UNREADABLE
    return _compiled(hypermodel, getattr(ctx, "hyperparameters", None))[1]


def own_fit(ctx: RunContext) -> bool:
    """Whether the hypermodel overrides `HyperModel.fit` (what it returns or logs is its own)."""
    hypermodel = getattr(ctx, "hypermodel", None)
    return hypermodel is not None and hypermodel_kinds.own_fit(hypermodel)


def unread(ctx: RunContext, levels: str) -> str | None:
    """Why a validation objective that is neither a known accuracy nor a ROC AUC of the
    default model may still be one, for the note: its metric is compiled or computed where
    tunekit cannot read it. `None` when the metrics were read and the objective is one of
    them, or the default fit logs it (`train_step`, `add_metric`: not an accuracy)."""
    name, why = ctx.objective.name, why_unread(ctx)
    cannot = (
        f"so tunekit cannot read what {name} is: it cannot tell whether it is a "
        "classifier's accuracy or a binary ROC AUC, whose chance levels it knows"
    )
    if why == NOT_COMPILED:
        return (
            f"the model build() returns is not compiled (your hypermodel's own fit compiles "
            f"it or computes {name} itself), {cannot}; compile the metrics in build() to "
            "have trials at chance left out of the narrowing"
        )
    if why == NO_MODEL:
        return (
            f"build() returns no Keras model (your hypermodel's own fit builds it), {cannot}; "
            "build the model and compile its metrics in build() to have trials at chance "
            "left out of the narrowing"
        )
    if why == UNREADABLE:
        words = ", ".join(f"val_{n}" for n in (*KERAS_ACCURACIES, "auc"))
        return (
            "tunekit could not read the metrics of the model build() returns (a subclassed "
            "model, or one whose outputs or compile it cannot read), so it cannot tell what "
            f"{name} is; without them it takes only Keras's own names at their word "
            f"({words}); it knows the chance level of {levels}"
        )
    base = name.removeprefix("val_")
    logged = any(logged_as(metrics, base, prefix) for prefix, metrics in compiled_metrics(ctx))
    if own_fit(ctx) and not logged:
        return (
            f"{name} is none of the metrics the model build() returns compiles: your "
            "hypermodel's own fit computes it (a number it returns) or compiles it, so "
            f"tunekit cannot tell what {name} is or what its chance level is; it knows the "
            f"chance level of {levels}"
        )
    return None


@functools.lru_cache(maxsize=4)
def _compiled(
    hypermodel: Any, hyperparameters: Any
) -> tuple[tuple[tuple[str, tuple[Any, ...]], ...], str]:
    """`(output prefix, metrics)` of the default model's outputs, and why they are unread
    (`""` when read; `NO_MODEL`, `NOT_COMPILED` or `UNREADABLE`, then no outputs)."""
    try:
        model = hypermodel.build(
            kt.HyperParameters() if hyperparameters is None else hyperparameters.copy()
        )
        if not isinstance(model, keras.Model):
            return (), NO_MODEL
        if not getattr(model, "compiled", True):
            return (), NOT_COMPILED
        parts = outputs_and_compile(model)
    except Exception:  # noqa: BLE001 - checked before the search: not this step's business
        return (), UNREADABLE
    finally:
        keras.backend.clear_session()
    if not parts:
        return (), UNREADABLE
    several = len(parts) > 1
    return tuple((f"{part.name}_" if several else "", tuple(part.metrics)) for part in parts), ""


def logged_as(metrics: tuple[Any, ...], base: str, prefix: str) -> str | None:
    """What the compiled metric Keras logs as `base` is (`"a SparseTopKCategoricalAccuracy"`,
    `"a metric function of yours"`), or `None` when none of `metrics` is logged so."""
    for metric in metrics:
        kind, config = _name_and_config(metric)
        if isinstance(metric, str):
            logged = metric
        elif isinstance(metric, Mapping) and isinstance(metric.get("config"), str):
            logged = str(metric["config"])  # a function, by its name
        elif callable(metric) and not isinstance(metric, keras.metrics.Metric):
            logged = str(getattr(metric, "__name__", ""))
        else:
            logged = str(config.get("name") or getattr(metric, "name", "") or "")
        if prefix + logged == base:
            if not kind:
                return "a metric function of yours"
            return f"{'an' if kind[0] in 'AEIOU' else 'a'} {kind}"
    return None
