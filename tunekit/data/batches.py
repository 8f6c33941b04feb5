"""Whole batches for the searches' trials: a few training samples repeated; validation
and test batches that divide their split.

See `full_batches`, `validation_batch_size` and `evaluation_batch_size`. Used by the
search, finalists, retrain, baseline, final seeds and evaluate steps, the cross-validating
tuners and the report.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from tunekit.data import _targets as tg
from tunekit.hypermodel_kinds import own_fit

__all__ = [
    "EVALUATION_BATCH",
    "MAX_PADDING",
    "evaluation_batch_size",
    "full_batches",
    "pads_trials",
    "repeats",
    "sample_bytes",
    "test_batch_size",
    "trial_repeats",
    "uneven_test_note",
    "validation_batch_size",
]

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
    from tunekit.data.streams import StreamData

    return ctx.cv == 1 and not isinstance(ctx.data, StreamData) and not own_fit(ctx.hypermodel)


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


# The largest validation split `validation_batch_size` puts in one batch (bytes of `x`).
WHOLE_SPLIT_BYTES = 64 * 2**20


def validation_batch_size(num_val: int, batch_size: int, sample_bytes: int = 0) -> int:
    """A validation batch size that divides `num_val`: no partial last batch.

    A partial last batch has a shape of its own, which JAX compiles (and
    TensorFlow traces) again in every trial; and Keras's TensorFlow backend
    averages a model's per-output losses (`val_digit_loss`) over batches, not
    samples, so a partial batch counted as much as a full one: an objective of
    one output's loss ranked the trials by a biased score (up to 7% off, both
    ways, for 521 validation samples in batches of 128).

    The largest divisor of `num_val` between `batch_size` and `4 * batch_size`
    (10,000 validation samples, batch 128: 500; fewer than `batch_size`: all
    in one batch); else the largest down to `batch_size // 8` (1,034: 94);
    else (a prime) the whole split in one batch when its `x` holds at most
    `WHOLE_SPLIT_BYTES` (64 MiB: `num_val * sample_bytes`); else `batch_size`.
    Only how the validation pass is cut changes: its metrics are means over
    all samples.

    Args:
        num_val: Validation samples.
        batch_size: The training batch size.
        sample_bytes: Bytes of one sample's `x` (`sample_bytes`); 0: unknown, taken
            as small.
    """
    for size in range(min(num_val, 4 * batch_size), max(1, batch_size // 8) - 1, -1):
        if num_val % size == 0:
            return size
    if num_val * sample_bytes <= WHOLE_SPLIT_BYTES:
        return max(1, num_val)
    return batch_size


def sample_bytes(x: Any) -> int:
    """Bytes of one sample of `x` (an array `(n, ...)`, or a dict, list or tuple of them)."""
    from tunekit.data._row_hashes import leaves

    total = 0
    for leaf in leaves(x):
        array = np.asarray(leaf) if not hasattr(leaf, "dtype") else leaf
        if getattr(array, "ndim", 0) >= 1 and len(array):
            total += int(np.prod(array.shape[1:], dtype=np.int64)) * array.dtype.itemsize
    return total


EVALUATION_BATCH = 256
"""The smallest base of `evaluation_batch_size` (samples): evaluations after the search
run in big batches."""


def evaluation_batch_size(num: int, batch_size: int, sample_bytes: int = 0) -> int:
    """The batch size of an evaluation after the search: one that divides `num`.

    `validation_batch_size(num, max(batch_size, EVALUATION_BATCH), sample_bytes)`:
    the test set (of the saved model, the final seeds' models and the baseline)
    is cut into whole batches, so that a value a model averages per batch
    rather than per sample (a metric function that returns a batch mean, a
    `keras.metrics.Mean` loss tracker of its own `test_step`) is its mean over
    samples: 300 test samples in batches of 256 and 44 weighed the 44 as much
    as the 256 (a batch-mean accuracy 0.5953 for 0.6467). MNIST's 10,000 test
    samples, batch 128: 1,000; 300: all in one batch. A prime count whose `x`
    holds over 64 MiB has no such size: `max(batch_size, EVALUATION_BATCH)`
    then, and the report says so (`uneven_test_note`).

    Args:
        num: Samples of the split.
        batch_size: The run's training batch size.
        sample_bytes: Bytes of one sample's `x` (`sample_bytes`); 0: unknown, taken as small.
    """
    return validation_batch_size(num, max(batch_size, EVALUATION_BATCH), sample_bytes)


def test_batch_size(data: Any, batch_size: int) -> int:
    """`evaluation_batch_size` of `data`'s test split (in-memory arrays).

    `data`: a `Dataset` (a `StreamData` brings its own batches: then
    `max(batch_size, EVALUATION_BATCH)`, which Keras ignores).
    `batch_size`: the run's training batch size.
    """
    from tunekit.data.streams import StreamData

    if isinstance(data, StreamData):
        return max(batch_size, EVALUATION_BATCH)
    num = tg.length(data.y_test, "y_test")
    return evaluation_batch_size(num, batch_size, sample_bytes(data.x_test))


def uneven_test_note(data: Any, batch_size: int) -> str | None:
    """The report's note when the test evaluation's batches are not all of one size.

    Arrays: `test_batch_size` (uneven only for a prime count whose `x` holds
    over 64 MiB); a stream: its test batches as read (`StreamData.test_batches`;
    `()`: not read, no note). Keras's loss and compiled metrics, each output's
    loss (`tunekit.steps.base.test_metrics`) and the scores tunekit computes
    from the predictions are means over samples whatever the batches; a value
    the model averages per batch is not.

    Returns:
        The note, or `None` when every batch holds as many samples.
    """
    from tunekit.data.streams import StreamData

    if isinstance(data, StreamData):
        sizes = tuple(getattr(data, "test_batches", ()) or ())
        if len(set(sizes)) < 2:
            return None
        num, size, last = sum(sizes), sizes[0], sizes[-1]
        fix = "Batch the test stream so that its batches divide its samples to rule that out."
    else:
        num = tg.length(data.y_test, "y_test")
        size = test_batch_size(data, batch_size)
        if num <= size or num % size == 0:
            return None
        last = num % size
        fix = (
            f"No batch size divides {num} test samples (a prime) within {size // 8}..{4 * size}, "
            "and all of them in one batch would pass 64 MiB."
        )
    return (
        f"The test set's {num} samples were evaluated in batches of {size} and a last one "
        f"of {last}: a value your model averages per batch rather than per sample (a metric "
        "function that returns a batch mean, a `keras.metrics.Mean` loss tracker in your "
        "own `test_step`) weighs that batch as much as a full one and may be off; Keras's "
        f"loss and built-in metrics are means over samples. {fix}"
    )
