"""What a hypermodel's own `fit` receives from tunekit, and what it made of it.

Helpers of `tunekit.fitting.fit_hypermodel`: each call's own copies of the
containers of its arguments (`own_containers`), whether an array is
read-only (`read_only`), whether `model.fit` got other inputs than tunekit
passed (`x_changed`) or other targets for the same samples (`y_changed`), the
notes a report then gives, the message of a `fit` that fails on
train+validation (`final_fit_message`), and whether a `fit` takes the
validation split (`takes_validation_data`).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import keras
import keras_tuner as kt
import numpy as np

__all__ = [
    "X_CHANGED_NOTE",
    "Y_CHANGED_NOTE",
    "final_fit_message",
    "own_containers",
    "read_only",
    "takes_validation_data",
    "x_changed",
    "y_changed",
]


# What a final fit's report says when the hypermodel's fit changed `x` (`FitCall.x_changed`).
X_CHANGED_NOTE = (
    "The hypermodel's fit passed model.fit other inputs than the x it was given (other "
    "values, shape or keys, or a stream, which cannot be compared): the final model "
    "trained on transformed inputs, and the test set was scored on x_test as given, "
    "untransformed. If that fit preprocesses x (scales, normalises, reshapes, encodes), "
    "this test score is not the model's: do that in the model "
    "(keras.layers.Normalization, Rescaling) or in the data you pass, then rerun with "
    "overwrite=True (--overwrite). If it only augments the training data, the score "
    "holds."
)

# ... and when it changed `y` for the same samples (`FitCall.y_changed`).
Y_CHANGED_NOTE = (
    "The hypermodel's fit passed model.fit other targets than the y it was given (other "
    "values for the same samples): the final model trained on transformed targets, and "
    "the test set was scored against y_test as given. If that fit rescales or shifts y "
    "(standardises a regression target), the saved model predicts on that scale and "
    "this test score is not the model's: train on y as given, with a last layer "
    "that undoes the scaling (keras.layers.Rescaling(std, offset=mean), the training "
    "targets' std and mean), then rerun with overwrite=True (--overwrite)."
)


def own_containers(structure: Any) -> Any:
    """`structure` with a new copy of each dict, list and tuple in it, its leaves shared.

    By `keras.tree.map_structure` (key order and namedtuples kept; arrays,
    tensors, streams and `None` are leaves, passed as they are). A hypermodel's
    `fit` that replaces an entry of its `x` dict (`x["a"] = x["a"] * 2.0`)
    changes its own copy only: not the `x` of the next trial, execution, fold
    or the retrain, nor the user's `Dataset`.
    """
    return keras.tree.map_structure(lambda leaf: leaf, structure)


def read_only(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> bool:
    """Whether any array in `args` or `kwargs` (inside dicts, lists, tuples) cannot be written."""
    return any(
        isinstance(leaf, np.ndarray) and not leaf.flags.writeable
        for leaf in keras.tree.flatten([list(args), dict(kwargs)])
    )


def x_changed(received: Any, passed: Any) -> bool:
    """Whether `received` (what `model.fit` got as `x`) differs from `passed` (tunekit's `x`).

    Arrays (NumPy, or a backend's tensors) compare by shape and values, so a
    cast or a `convert_to_tensor` is no change; dicts key by key (a key
    `received` leaves out is no change, an added one is); anything
    else (a `tf.data.Dataset`, a `PyDataset`) by identity.
    """
    if received is passed:
        return False
    if isinstance(passed, Mapping) or isinstance(received, Mapping):
        if not (isinstance(passed, Mapping) and isinstance(received, Mapping)):
            return True
        # A key left out is no change (`w = x.pop("w")` for sample_weight: the model takes
        # the others, and the test set's extra array is not one of its inputs).
        return not set(received) <= set(passed) or any(
            x_changed(received[k], passed[k]) for k in received
        )
    if not (hasattr(passed, "shape") and hasattr(received, "shape")):
        return True  # a stream (or a list) other than the one passed
    try:
        return not np.array_equal(np.asarray(received), np.asarray(passed))
    except (TypeError, ValueError):  # not convertible: not the same inputs
        return True


def y_changed(received: Any, passed: Any) -> bool:
    """Whether `received` (`model.fit`'s `y`) rescales or re-encodes `passed` (tunekit's `y`).

    True when both are arrays (NumPy, or a backend's tensors) for the same number
    of samples and differ in values (`(y - mean) / std`, `y * 1000`, another
    class's ids); dicts key by key. No change: a cast, another shape of the same
    values (`(n,)` as `(n, 1)`), class ids as their one-hot rows (the test set
    is then scored with one-hot rows too), and streams (`y` `None`). Another
    number of samples (a subset, an augmentation) is `x_changed`'s to see.
    """
    if received is passed or passed is None or received is None:
        return False
    if isinstance(passed, Mapping) and isinstance(received, Mapping):
        return any(y_changed(received[k], passed[k]) for k in received if k in passed)
    if not (hasattr(passed, "shape") and hasattr(received, "shape")):
        return False
    try:
        got, given = np.asarray(received), np.asarray(passed)
    except (TypeError, ValueError):  # not convertible: not comparable
        return False
    if got.shape[:1] != given.shape[:1]:
        return False
    if got.size == given.size:  # (n,) as (n, 1): the same targets
        return not np.array_equal(got.reshape(given.shape), given)
    if given.ndim == 1 and got.ndim == 2 and np.issubdtype(given.dtype, np.integer):
        # Class ids as one-hot rows: the same labels (the test set is scored as such).
        return not (
            np.array_equal(got.sum(axis=1), np.ones(len(got)))
            and np.array_equal(got.argmax(axis=1), given)
        )
    return True


def final_fit_message(
    owner: str, final: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], e: Exception
) -> str:
    """What `fit_hypermodel` says when a hypermodel's `fit` fails on train+validation."""
    x = args[0] if args else kwargs.get("x")
    shapes = [getattr(leaf, "shape", None) for leaf in keras.tree.flatten(x)]
    size = f"{shapes[0][0]} samples" if shapes and shapes[0] else "a stream"
    lines = str(e).strip().splitlines()
    said = "; ".join(line.strip() for line in lines[:4] if line.strip())  # Keras: sizes
    said = said if len(said) <= 400 else said[:397] + "..."
    raised = f"{type(e).__name__}: {said}." if said else type(e).__name__
    if "cardinality" in str(e).lower():
        why = (
            "Keras found arrays of different lengths: an array your fit takes from outside "
            "the x and y it receives (a sample_weight, an extra input) has the training "
            "split's length, not this fit's. Per-sample arrays must be derived from the x "
            "and y that fit receives, e.g. sample_weight computed from y inside fit."
        )
    else:
        why = (
            "A fit that works in the search but not here depends on the training split "
            "itself: per-sample arrays of its length taken from outside the x and y it "
            "receives (derive them from x and y inside fit), or validation_data (here the "
            "validation split, which this fit also trains on)."
        )
    return (
        f"{owner}.fit failed when {final} called it on train+validation "
        f"({size}; the search ran it on the training split): {raised} "
        f"{why} Fix that fit and run again: its code is then new, so the run starts over "
        "(overwrite=True, or a new project_name= to keep this run's searches)."
    )


def takes_validation_data(hypermodel: Any) -> bool:
    """Whether `hypermodel.fit` names a `validation_data` parameter, with a default or not.

    KerasTuner's documentation writes `def fit(self, hp, model, x, y,
    validation_data, **kwargs)` for a `fit` that returns its own score, and a
    search always passes it. The final fits on train+validation (retrain,
    baseline, final seeds) then pass the validation split too, which they also
    train on; what the `fit` returns there is not used. A `fit` that declares
    `validation_data=None` gets it as well: such a `fit` may still read it
    (`x_val, y_val = validation_data`), and would crash after the whole search
    without it. A `fit` of `**kwargs` gets none (it may test `"validation_data"
    in kwargs` to tell a search's fit); one that reads `kwargs["validation_data"]`
    is stopped with the fix (`fit_hypermodel`).
    """
    fit = getattr(hypermodel, "fit", None)
    if fit is None or type(hypermodel).fit is kt.HyperModel.fit:
        return False
    try:
        parameters = inspect.signature(fit).parameters
    except (TypeError, ValueError):  # a builtin or C callable without a signature
        return False
    parameter = parameters.get("validation_data")
    return parameter is not None and (
        parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
    )
