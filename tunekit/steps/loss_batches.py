"""An objective of one output's loss needs validation batches of one size (TensorFlow).

Keras's TensorFlow backend averages a model's per-output losses (`val_reg_loss`) over
the validation batches, not over samples: a partial last batch weighs as much as a full
one (its total `val_loss` and its metrics are means over samples; JAX's per-output losses
are too). tunekit cuts arrays' validation split into batches that divide it
(`tunekit.data.batches.validation_batch_size`), but a stream comes batched: 150
validation samples in batches of 64 scored every trial 32.11 for a sample mean of 20.11,
exit 0. Such a run is refused before training.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from tunekit.data.batches import validation_batch_size
from tunekit.errors import ModelCheckError

__all__ = ["check_output_loss_batches"]


def check_output_loss_batches(model: Any, data: Any, objective_names: Sequence[str]) -> None:
    """Refuses an objective of one output's loss (`val_<output>_loss`, of a model of several
    outputs) on TensorFlow when the validation stream's batches (`data.validation_batches`,
    read when the `StreamData` was made) end in a partial one.

    Raises:
        ModelCheckError: Naming the objective, the batches and three fixes.
    """
    sizes = tuple(getattr(data, "validation_batches", ()) or ())
    if keras.backend.backend() != "tensorflow" or len(sizes) < 2 or sizes[-1] == sizes[0]:
        return
    outputs = list(getattr(model, "output_names", None) or [])
    if len(outputs) < 2:
        return
    named = [name for name in objective_names if name in {f"val_{o}_loss" for o in outputs}]
    if not named:
        return
    total = sum(sizes)
    even = validation_batch_size(total, sizes[0])
    raise ModelCheckError(
        f"The objective {named[0]!r} is one output's loss, and Keras's TensorFlow backend "
        "averages each output's loss over the validation batches, not the samples: the "
        f"validation stream's {total} samples come in batches of {sizes[0]} and a last one "
        f"of {sizes[-1]}, which would weigh as much as a full batch in every trial's score. "
        f"Batch the validation stream so that its batches divide its {total} samples (e.g. "
        f"validation.unbatch().batch({even})), or tune objective='val_loss' (all outputs' "
        "loss, a mean over samples), or run on JAX (KERAS_BACKEND=jax)."
    )
