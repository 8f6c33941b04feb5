"""Whether a model takes the data as the data holds it: its input names and shape, the
names of its outputs for a dict `y`.

Part of the check before training (`tunekit.steps.check`). The test set is fed to
the final model as the data holds it, whatever a hypermodel's own `fit` does, so
these hold with an own `fit` too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

from tunekit.data._float32 import column_named, merged_column, offset_fix, wide
from tunekit.errors import ModelCheckError
from tunekit.steps.output_checks import WHAT as _WHAT
from tunekit.steps.output_checks import outputs_and_compile

__all__ = [
    "check_input_names",
    "check_input_precision",
    "check_input_shape",
    "check_output_names",
]


_OWN_FIT_INPUTS = (
    " The test set is scored on the data's x as it is, so a hypermodel fit that adds, "
    "renames or drops inputs cannot make up for it: compute them inside the model."
)


def check_input_names(model: keras.Model, x: Mapping[str, Any], fed_as_is: bool) -> None:
    """Each input of a functional model has its array in a dict `x` (Keras's own rule).

    Keras feeds a dict to a model built on a dict of `Input`s by its keys, and to
    one built on a list of `Input`s by their names; a missing one fails every trial,
    or, when the hypermodel's own `fit` (`fed_as_is` False) adds it, the test set.
    """
    own = "" if fed_as_is else _OWN_FIT_INPUTS
    try:
        structure = model.input
    except (AttributeError, ValueError):  # a Sequential's until called; a lazy model's
        structure = None
    if isinstance(structure, Mapping):
        needed = [str(k) for k in structure]
    else:  # a list of Inputs, or one (a Sequential's too): fed a dict by their names
        needed = [str(getattr(t, "name", "")) for t in getattr(model, "inputs", None) or []]
    if not needed:  # not built yet
        return
    if len(needed) == 1 and needed[0].startswith("keras_tensor") and needed[0] not in x:
        raise ModelCheckError(
            f"{_WHAT} has one keras.Input without a name, and x is a dict of arrays (keys: "
            f"{sorted(map(str, x))}): Keras feeds a dict to a model's inputs by their names, "
            "so no trial could run. Name the input after the key, keras.Input(shape, "
            f"name={sorted(map(str, x))[0]!r}), or pass x as an array."
        )
    missing = [name for name in needed if name not in x]
    if missing:
        raise ModelCheckError(
            f"{_WHAT} takes the inputs {needed}, and the data's dict of arrays has no "
            f"{missing} (its keys: {sorted(map(str, x))}). Keras feeds a dict to a model's "
            "inputs by name: key the arrays by the names of the model's keras.Input(name=...) "
            "(or the keys of the dict of inputs it was built on)." + own
        )
    # A model built on a dict of Inputs takes a dict of other keys in key order, not by
    # name (Keras only warns): an extra array can feed another input, silently.
    extra = sorted(str(k) for k in x if k not in needed) if isinstance(structure, Mapping) else []
    if extra:
        raise ModelCheckError(
            f"{_WHAT} takes the inputs {needed} (a dict of keras.Input), and the data's dict "
            f"of arrays also has {extra}: Keras would feed such a dict by position, not by "
            "name, so an array could reach the wrong input. Drop the extra arrays from x (or "
            "add an input for them)." + own
        )


_SPLITS = ("x_train", "x_val", "x_test")


def _input_label(tensor: Any) -> str:
    """`" 'ids'"`: an `Input`'s name for a message; `""` for an unnamed one."""
    label = str(getattr(tensor, "name", ""))
    return "" if label.startswith("keras_tensor") else f" {label!r}"


def check_input_precision(model: keras.Model, splits: Mapping[str, Any]) -> None:
    """Each input array of `splits` (`{"x_train": x, ...}` of a `Dataset`, or `{"the
    stream's first batch": x}`) that holds whole numbers beyond 2**24 as int32 or 64-bit
    numbers (IDs, which `tunekit.data.Dataset.from_arrays` keeps as given; a stream's
    int64 column) against the dtype of the `keras.Input` it feeds, to which Keras casts it:
    a float32 input merges such values (`2**40 + 1` is `2**40` there), so the model would
    train on, and be scored with, other values than the data's, with nothing said. An
    integer input (`dtype="int64"`, for an `IntegerLookup` or an `Embedding`) keeps them.
    A dict `x` is checked input by input, by Keras's names; a model whose inputs are not
    known yet (a lazily built one) is left alone.

    Raises:
        ModelCheckError (a `ValueError`): Naming the split, column and input, how many
            distinct values become how many, and the fix.
    """
    try:
        inputs, structure = list(model.inputs or []), model.input
    except (AttributeError, ValueError):  # a Sequential's until called; a lazy model's
        return
    for split, x in splits.items():
        if isinstance(x, Mapping):
            named = (
                structure.items()
                if isinstance(structure, Mapping)
                else [(getattr(t, "name", None), t) for t in inputs]
            )
            fed = [(f"{split}[{k!r}]", x.get(k), t) for k, t in named]
        else:
            fed = [(split, x, inputs[0])] if len(inputs) == 1 else []
        for name, given, tensor in fed:
            array = np.asarray(given) if hasattr(given, "dtype") else None  # a tensor too
            if array is None or not wide(array.dtype):
                continue
            dtype = str(getattr(tensor, "dtype", None))
            # Keras casts a float64 array to its float dtype before any Input (an int64
            # one too), and an integer array to the Input's dtype.
            floats = array.dtype.kind == "f" and split in _SPLITS  # a stream's: not cast
            cast = keras.config.floatx() if floats else dtype
            try:
                found = merged_column(array, array.astype(cast))
            except TypeError:  # a dtype NumPy lacks (bfloat16): left to Keras
                continue
            if found is None:
                continue
            column, distinct, kept = found
            if floats and dtype.startswith(("int", "uint")):
                raise ModelCheckError(
                    f"{name}{column_named(array, column)} holds whole numbers beyond 2**24 as "
                    f"{array.dtype}, and {_WHAT} takes them through its keras.Input"
                    f"{_input_label(tensor)} of dtype {dtype}: Keras casts a float array to "
                    f"{cast} before any Input, an integer one too, where {distinct} distinct "
                    f"values become {kept}, so trials would train on other values than the "
                    "data's. Pass them as integers (ids.astype('int64')), and predict with "
                    "integers too."
                )
            given_as = "give that Input dtype='int64'"
            if floats:
                given_as = (
                    "pass them as integers (ids.astype('int64')) to an Input of dtype='int64'"
                )
            offset = offset_fix(name, array.ndim > 1)
            if split not in _SPLITS:  # a stream's
                offset = "subtract an offset in the stream: ds.map(lambda x, y: (x - offset, y))"
            raise ModelCheckError(
                f"{name}{column_named(array, column)} holds whole numbers beyond 2**24 (kept "
                f"as given, as identifiers are), and {_WHAT} takes them through its "
                f"keras.Input{_input_label(tensor)} of dtype {dtype}: Keras casts them to "
                f"{cast}, where "
                f"{distinct} distinct values become {kept}, so trials would train on other "
                f"values than the data's. For identifiers, {given_as} (for an IntegerLookup or "
                "an Embedding), or map them to small ids (np.unique(ids, return_inverse=True)"
                f"[1]); for a quantity (a timestamp, a count), {offset}."
            )


def check_output_names(model: keras.Model, y: Mapping[str, Any]) -> None:
    """A dict `y` has an array for each output of the model and no other (Keras's rule).

    Keras matches a dict of targets to a model's outputs by their names (a dict of
    outputs' keys, or the output layers' names; an output without a loss or a
    metric needs none, nor does a model not compiled yet); any other key fails every trial
    with "Expected float32, but got <key> of type 'str'" or "y_true and y_pred have
    different structures", and the test set is scored against the same dict.
    Models whose outputs are not known before they are called (subclassed, a
    Sequential not yet built) are left to their trials.
    """
    try:
        structure = model.output
    except (AttributeError, ValueError):  # a subclassed model's, a lazily built one's
        return
    keys = sorted(map(str, y))
    if isinstance(structure, Mapping):
        names = sorted(map(str, structure))
    elif isinstance(structure, (list, tuple)):
        names = sorted(map(str, getattr(model, "output_names", None) or []))
    else:
        raise ModelCheckError(
            f"{_WHAT} has one output, not a dict of outputs, and y is a dict of arrays (keys: "
            f"{keys}): Keras cannot match such targets to it, so no trial could run. Pass y "
            "as an array, or build the model with a dict of outputs keyed like y, "
            f"keras.Model(inputs, {{{keys[0]!r}: output}})."
        )
    if not names or names == keys:
        return
    # An output with no loss and no metric (an embedding the model also returns) needs no
    # targets; a model whose compile cannot be read (not compiled yet) is left to its trials.
    scored = {str(part.name) for part in outputs_and_compile(model) if part.loss or part.metrics}
    missing = sorted((set(names) - set(keys)) & scored)
    extra = sorted(set(keys) - set(names))
    if not missing and not extra:
        return
    raise ModelCheckError(
        f"{_WHAT} has the outputs {names}, and y is a dict of arrays keyed {keys}"
        + (f": no targets for {missing}" if missing else "")
        + (f"{';' if missing else ':'} no output named {extra}" if extra else "")
        + ". Keras matches a dict of targets to a model's outputs by name, so no trial could "
        "run: key y by the names of the model's outputs (the keys of its dict of outputs, "
        "or its output layers' name=...), or rename the outputs after y's keys. The "
        "objective and the metrics' names follow the outputs' names (val_<output>_<metric>)."
    )


def check_input_shape(model: keras.Model, x_shape: tuple[int, ...], what: str = "x_train") -> None:
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):  # a subclassed model declares none
        return
    if not inputs or len(inputs) != 1:
        return
    declared = tuple(inputs[0].shape)[1:]
    sample = x_shape[1:]
    candidates = [sample]  # Keras adds or drops a last axis of size 1 to match
    if sample[-1:] == (1,):
        candidates.append(sample[:-1])
    candidates.append((*sample, 1))
    for shape in candidates:
        if len(shape) == len(declared) and all(
            d is None or d == s for d, s in zip(declared, shape, strict=True)
        ):
            return
    folder = (
        " (an image folder's images: image_size=(HEIGHT, WIDTH) resizes them; grayscale "
        "folders give 1 channel, others 3)"
        if what != "x_train" and len(sample) == 3
        else ""
    )
    raise ModelCheckError(
        f"{_WHAT} takes inputs of shape {declared} (its Input), but each sample of "
        f"{what} has shape {sample} ({what} has shape {x_shape}). Give the model's "
        f"keras.Input shape={sample}, or reshape the data{folder}."
    )
