"""Argument checks shared by the hypermodels."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras


def check_input_shape(input_shape: Sequence[int], *, owner: str) -> tuple[int, ...]:
    """Returns `input_shape` as a tuple of positive ints, or raises `ValueError`."""
    try:
        dims = tuple(input_shape)
    except TypeError:
        dims = None
    if not dims or not all(_is_int(d) and d > 0 for d in dims):
        raise ValueError(
            f"`input_shape` of {owner} must be a non-empty sequence of positive ints, "
            f"e.g. (28, 28). Received: input_shape={input_shape!r}."
        )
    return tuple(int(d) for d in dims)


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_num_classes(num_classes: int, *, owner: str) -> int:
    """Returns `num_classes` if it is an int >= 2, else raises `ValueError`."""
    if not _is_int(num_classes) or num_classes < 2:
        raise ValueError(
            f"`num_classes` of {owner} must be an int >= 2 (a classifier needs at "
            f"least two classes). Received: num_classes={num_classes!r}."
        )
    return int(num_classes)


def check_flag(value: bool, name: str, *, owner: str) -> bool:
    """Returns `value` as a `bool` if it is one (a NumPy bool too), else raises `ValueError`:
    `bool("False")` is True, so a string read from a config file would turn the option on."""
    if type(value).__name__ not in ("bool", "bool_"):
        raise ValueError(
            f"`{name}` of {owner} must be True or False. Received: {name}={value!r} "
            f"({type(value).__name__})."
        )
    return bool(value)


LABEL_MODES = ("int", "categorical")


def check_label_mode(label_mode: str, *, owner: str) -> str:
    """Returns `label_mode` if it is `"int"` or `"categorical"`, else raises `ValueError`."""
    if label_mode not in LABEL_MODES:
        raise ValueError(
            f"`label_mode` of {owner} must be 'int' (class ids, shape (n,)) or 'categorical' "
            f"(one-hot rows, shape (n, num_classes)), as in "
            f"keras.utils.image_dataset_from_directory. Received: label_mode={label_mode!r}."
        )
    return label_mode


def compile_classifier(
    model: keras.Model, learning_rate: float, label_mode: str = "int"
) -> keras.Model:
    """Compiles `model` with Adam, the cross-entropy of the labels' form (sparse
    categorical for class ids, `label_mode="int"`; categorical for one-hot rows) and
    accuracy."""
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="sparse_categorical_crossentropy"
        if label_mode == "int"
        else "categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
