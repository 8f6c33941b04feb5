"""Whole batches for the searches' trials: a few training samples repeated.

See `full_batches`. Used by the search step and the report.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from tunekit.data import _targets as tg

__all__ = ["MAX_PADDING", "full_batches", "pads_trials", "repeats", "trial_repeats"]

MAX_PADDING = 0.01
"""The largest share of the training samples `full_batches` repeats (1%)."""


def repeats(n: int, batch_size: int) -> int:
    """How many of `n` training samples `full_batches` repeats (0: none; see there)."""
    missing = -n % batch_size
    return 0 if n <= batch_size or missing > MAX_PADDING * n else missing


def pads_trials(ctx: Any) -> bool:
    """Whether a run's search trials train on whole batches (`full_batches`).

    `ctx`: the run (its `data`, `cv` and `hypermodel`). In-memory arrays
    without cross-validation, for a hypermodel without its own `fit`.
    """
    import keras_tuner as kt

    from tunekit.data.streams import StreamData

    return (
        ctx.cv == 1
        and not isinstance(ctx.data, StreamData)
        and type(ctx.hypermodel).fit is kt.HyperModel.fit
    )


def trial_repeats(ctx: Any) -> int:
    """How many training samples each of a run's search trials sees twice per epoch."""
    if not pads_trials(ctx):
        return 0
    return repeats(tg.length(ctx.data.y_train, "y_train"), ctx.batch_size)


def full_batches(x: Any, y: Any, batch_size: int, seed: int | None) -> tuple[Any, Any, int]:
    """The training arrays with a few samples repeated so that every batch is full.

    Keras cuts an epoch of `n` samples into batches of `batch_size` and a last,
    partial one of `n % batch_size`. That batch has a shape of its own, which
    JAX compiles (and TensorFlow traces) again in every trial: 1.5-3.3 s per
    trial on the project's 2-core CPU for an MNIST MLP, more than one
    training epoch's worth of a 1-epoch coarse trial (measured on 50,000
    against 49,920 samples, batch 128), and it was counted as training in the
    time split. The search's trials therefore train on the `n` samples plus
    `batch_size - n % batch_size` of them drawn once without replacement
    (`numpy.random.default_rng(seed)`), appended to the end; Keras shuffles
    the whole per epoch as before, so each epoch still sees every sample,
    and the drawn ones twice (MNIST: 48 of 50,000). Nothing is repeated when
    that would be more than `MAX_PADDING` (1%) of the samples, when there
    is no partial batch, or when `n <= batch_size` (one batch per epoch).
    The validation split is never padded (see `validation_batch_size`), nor
    the data of the finalists, retrain, baseline and final seeds, nor the
    trials of a hypermodel with its own `fit` (it may pair `x` with arrays of
    its own, such as sample weights).

    Args:
        x: Inputs: an array `(n, ...)`, or a dict, list or tuple of them.
        y: Targets `(n,)` or `(n, k)`, or a dict of them.
        batch_size: The trials' batch size.
        seed: Seed of the draw (`None`: fresh entropy).

    Returns:
        `(x, y, repeated)`: the padded copies and how many samples were
        repeated, or `x`, `y` themselves and 0.
    """
    n = tg.length(y, "y_train")
    missing = repeats(n, batch_size)
    if not missing:
        return x, y, 0
    extra = np.sort(np.random.default_rng(seed).choice(n, missing, replace=False))

    def pad(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {key: pad(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(pad(item) for item in value)
        array = np.asarray(value)
        return np.concatenate([array, array[extra]])

    return pad(x), pad(y), missing
