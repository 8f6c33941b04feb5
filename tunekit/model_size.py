"""The parameter count of any model `model.fit` can train, once it is built.

A Sequential without an `Input` (the ToonVision article's style) or a
subclassed `keras.Model` has no weights until it has seen its first batch:
`count_params()` raises before then. Trial bookkeeping and reports read the
count through `param_count`, which says `None` until the model is built.
"""

from __future__ import annotations

import keras

__all__ = ["param_count"]


def param_count(model: keras.Model) -> int | None:
    """Number of scalars in the model's weights, or `None` while it is not built yet.

    Args:
        model: Any Keras model: functional, Sequential with or without an
            `Input`, subclassed, with one or several inputs.

    Returns:
        The count (trainable and non-trainable weights), or `None` if the
        model builds itself lazily and has not been called yet.
    """
    if not model.built:
        return None
    try:
        return int(model.count_params())
    except ValueError:  # a sublayer the model has not built yet
        return None
