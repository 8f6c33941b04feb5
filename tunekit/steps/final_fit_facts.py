"""What trained before each fit on train+validation, for the message of one that fails.

A `tunekit.fit_inputs.TrainedBefore` for each of those fits, holding only what
the run knows, so that the error claims no cause the comparison does not show:

- the retrain: the search's trial of its configuration trained, on other data
  (the training split, or cross-validation folds), with another seed and
  validation data, for its own number of epochs. Several things differ, so
  no cause is named (beyond what the error itself shows).
- the baseline: the retrain trained before it on the same data, epochs and
  seed; the hyperparameters differ (the hypermodel's default configuration).
- a final seed: the retrain of the same configuration trained on the same data
  and epochs; the seed differs.
"""

from __future__ import annotations

from typing import Any

from tunekit.data._targets import length
from tunekit.data.streams import StreamData
from tunekit.fit_inputs import TrainedBefore, takes_validation_data
from tunekit.steps.base import RunContext
from tunekit.trial_length import EPOCHS

__all__ = ["baseline_facts", "retrain_facts", "seed_facts"]

# What else may make a fit fail that the one before it did not.
_OR_ELSE = (
    "or on state kept from one fit to the next (in the hypermodel or a callback of yours), "
    "or it was transient (out of memory, a file or a server that did not answer)"
)


def _train_samples(ctx: RunContext) -> int | None:
    """The length of the training split the search's fits received (`None`: a stream,
    or cross-validation folds of several lengths)."""
    if ctx.cv > 1 or isinstance(ctx.data, StreamData):
        return None
    return int(length(ctx.data.y_train, "y_train"))


def _this_fit(ctx: RunContext, seed: int, epochs: int) -> str:
    """How a fit on train+validation runs: its data, seed, validation data, epochs."""
    data = ctx.data
    total = "" if isinstance(data, StreamData) else f" ({length(data.y_train_full, 'y')} samples)"
    validation = (
        "with the validation split as validation_data (which it also trains on)"
        if takes_validation_data(ctx.hypermodel)
        else "without validation_data"
    )
    return f"on train+validation{total} with seed {seed}, {validation}, for {epochs} epochs"


def retrain_facts(ctx: RunContext, phase: str, trial: Any, epochs: int) -> TrainedBefore:
    """What trained before the retrain of `phase` trial `trial` for `epochs` epochs."""
    train = _train_samples(ctx)
    if ctx.cv > 1:
        where = f"on each of its {ctx.cv} cross-validation folds"
    else:
        where = "on the training split" + (f" ({train} samples)" if train is not None else "")
    metrics = trial.metrics
    trained = ""
    if metrics.exists(EPOCHS):
        start = int(trial.hyperparameters.values.get("tuner/initial_epoch", 0))
        trained = f", up to epoch {start + int(metrics.get_last_value(EPOCHS))}"
    return TrainedBefore(
        said=(
            f"The search's {phase} trial {trial.trial_id} of this configuration trained "
            f"{where}, with validation data and a seed of its own{trained}; this fit trains "
            f"{_this_fit(ctx, ctx.seed, epochs)}, as again on a rerun of the same command."
        ),
        train_samples=train,
    )


def baseline_facts(ctx: RunContext, epochs: int, seed: int) -> TrainedBefore:
    """What trained before the baseline (`epochs` epochs, seed `seed`)."""
    return TrainedBefore(
        said=(
            f"The retrain of the chosen configuration trained before it on the same data for "
            f"{epochs} epochs with the same seed; this fit, {_this_fit(ctx, seed, epochs)}, "
            "differs from it in its hyperparameters: the hypermodel's default configuration."
        ),
        cause=f"So its failure most likely depends on those values, {_OR_ELSE}.",
        train_samples=_train_samples(ctx),
    )


def seed_facts(ctx: RunContext, epochs: int, seed: int) -> TrainedBefore:
    """What trained before a final seed's retrain of the chosen configuration."""
    return TrainedBefore(
        said=(
            f"The retrain of this configuration trained before it on the same data for "
            f"{epochs} epochs with seed {ctx.seed}; this fit, {_this_fit(ctx, seed, epochs)}, "
            "differs from it in its seed."
        ),
        cause=(
            "So its failure most likely depends on the seed: on a random draw (of Python's "
            f"random, NumPy or Keras, which tunekit seeds before each fit), {_OR_ELSE}."
        ),
        train_samples=_train_samples(ctx),
    )
