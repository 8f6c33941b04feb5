"""Argument checks shared by the hypermodels."""

from __future__ import annotations

from collections.abc import Sequence


def check_input_shape(input_shape: Sequence[int], *, owner: str) -> tuple[int, ...]:
    """Returns `input_shape` as a tuple of positive ints, or raises `ValueError`."""
    try:
        shape = tuple(int(d) for d in input_shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"`input_shape` of {owner} must be a sequence of positive ints, "
            f"e.g. (28, 28). Received: input_shape={input_shape!r}."
        ) from None
    if not shape or any(d <= 0 for d in shape) or shape != tuple(input_shape):
        raise ValueError(
            f"`input_shape` of {owner} must be a non-empty sequence of positive ints, "
            f"e.g. (28, 28). Received: input_shape={input_shape!r}."
        )
    return shape


def check_num_classes(num_classes: int, *, owner: str) -> int:
    """Returns `num_classes` if it is an int >= 2, else raises `ValueError`."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(
            f"`num_classes` of {owner} must be an int >= 2 (a classifier needs at "
            f"least two classes). Received: num_classes={num_classes!r}."
        )
    return num_classes


def compile_classifier(model, learning_rate: float):
    """Compiles `model` with Adam, sparse categorical cross-entropy and accuracy."""
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
