"""Whether a model loaded from its `.keras` file computes the loss and metrics it was compiled
with.

A `.keras` file keeps a model's compiled loss and metrics as their `get_config()`: a class
whose `get_config()` leaves out a setting comes back with its default. Keras's own
`keras.losses.Huber(delta=50.0)` returns no `delta` (Keras 3.15), nor does
`keras.losses.CosineSimilarity(axis=0)` its `axis`, nor many users' own classes. A run
that scored its test set on the loaded file then reported a test loss of Huber with
`delta=1` (56.66) for a model tuned and retrained on `delta=50` (1,813.05), with exit 0,
and compared it with validation losses of the other.

The same holds for a layer's setting: a layer of the user's whose `get_config()` leaves
out a hyperparameter comes back predicting otherwise.

`rebuild_verdict` runs the loaded model and one built by the hypermodel (with the file's
weights) on the same training samples: the run's models are scored as the build makes
and compiles them (`tunekit.model_files.load_saved_model`, as KerasTuner restores its
checkpoints), whether or not the samples show a difference, unless the build is not
reproducible; `compile_drift` compares their predictions and what their compiled loss
and metrics give, for the run's note. The samples are a stream's first batch only, so a
setting that matters for classes missing there goes without a note, but not mis-scored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from tunekit.errors import error_line

__all__ = [
    "CHUNK",
    "SAMPLES",
    "compile_drift",
    "drift_note",
    "drift_samples",
    "rebuild_verdict",
    "unreproducible_note",
]

#: How many training samples the comparison runs on at most: spread over the split, every
#: class, and the largest and smallest targets (a setting that matters only for large
#: errors, Huber's `delta`, or for one class, a class weight, shows there).
SAMPLES = 256

#: Samples per forward pass of the comparison: 256 images of 224x224x3 at once would hold
#: 150 MB of input and, in a convolution's activations, GBs.
CHUNK = 32

_PREDICTS_OTHERWISE = "its predictions differ"


def drift_samples(data: Any) -> tuple[Any, Any]:
    """Up to `SAMPLES` training samples of `data` as the model takes them, `(x, y)`.

    A `Dataset`'s: evenly spaced over its training split (not its first ones: a split
    sorted by class starts with one class), with for classification up to `SAMPLES / k`
    of each of its `k` classes, and for regression its 16 largest and 16 smallest
    targets (by their sum over outputs). A `StreamData`'s first batch
    (`tunekit.outputs.training_samples`).
    """
    from tunekit.data import _targets as tg  # noqa: PLC0415
    from tunekit.outputs import training_samples  # noqa: PLC0415

    if getattr(data, "x_train", None) is None or getattr(data, "y_train", None) is None:
        return training_samples(data, targets=True)
    n = tg.length(data.y_train, "y_train")
    chosen = np.arange(n)
    if n > SAMPLES:
        parts = [np.linspace(0, n - 1, SAMPLES // 2).astype(np.int64)]
        labels = data.y_train
        if not isinstance(labels, dict) and np.ndim(labels) == 1:
            if data.task == "classification":
                classes = np.unique(labels)
                each = max(1, SAMPLES // (2 * len(classes)))
                parts += [np.flatnonzero(labels == c)[:each] for c in classes]
            else:
                order = np.argsort(np.asarray(labels, dtype=np.float64), kind="stable")
                parts += [order[:16], order[-16:]]
        elif not isinstance(labels, dict):  # (n, k) targets: by their sum
            order = np.argsort(np.asarray(labels, dtype=np.float64).reshape(n, -1).sum(axis=1))
            parts += [order[:16], order[-16:]]
        chosen = np.unique(np.concatenate(parts))
    x = tg.take(data.x_train, chosen)
    return x, data.model_targets(tg.take(data.y_train, chosen))


def compile_drift(model: Any, reference: Any, x: Any, y: Any) -> str | None:
    """How `model`'s compiled loss and metrics differ from `reference`'s on samples `(x, y)`.

    Both models hold the same weights (`reference` built by the hypermodel, then given
    `model`'s), so only what they were compiled with can differ. Each is run on `x`
    (`training=False`, `CHUNK` samples at a time), then its `compute_loss` and
    `compute_metrics` on `y` (metrics zeroed after). Values under a name both report are
    compared (relative tolerance 1e-4), and the names themselves (a metric whose
    `get_config()` leaves out its `name` comes back under its default one).

    Models that predict otherwise on `x` (a layer's `get_config()` that leaves out a
    setting) differ by that first (`"its predictions differ by up to 0.91: ..."`).

    Returns:
        E.g. `"loss (Huber) 56.66 where the build's gives 1813"`; what `model`'s raise
        where `reference`'s compute; or `None`: they agree, or `reference` cannot compute
        them on these samples (no verdict).
    """
    return rebuild_verdict(model, reference, x, y)[1]


def rebuild_verdict(
    model: Any, reference: Any, x: Any, y: Any, again: Callable[[], Any] | None = None
) -> tuple[bool, str | None]:
    """Whether `reference` can stand for `model`, and `compile_drift`'s difference.

    `reference` stands for `model` when it computes its own compiled loss and metrics on
    `(x, y)`. When the two predict otherwise on `x` (relative tolerance 1e-4), a layer's
    `get_config()` leaves out a setting (the file comes back with its default, as
    KerasTuner's restores by rebuilding do not) or the build makes other layers each time
    (its layers depend on more than its hyperparameters): with `again` (default `None`),
    another build with the same weights tells which. When it predicts as `reference`, the
    build is reproducible and `reference` stands; otherwise the file's `model`, the one
    trained, is kept (`stands` False). A `model` that cannot predict at all leaves the
    verdict to `reference` alone.

    Returns:
        `(stands, drift)`: with `stands` False, `drift` says why the build is not
        reproducible (for `unreproducible_note`), or is `None` (no verdict).
    """
    try:
        want_pred = _forward(reference, x)
        want = _scores(reference, x, y, want_pred)
    except Exception:  # noqa: BLE001 - no verdict: the evaluation itself will say
        return False, None
    try:
        got_pred = _forward(model, x)
    except Exception as e:  # noqa: BLE001 - the file's model cannot predict; the build's can
        return True, f"it raises {error_line(e)} where the build's predicts"
    apart = _apart(got_pred, want_pred)
    if apart is not None:
        if again is not None:
            try:
                reproduced = _apart(_forward(again(), x), want_pred) is None
            except Exception:  # noqa: BLE001 - a build that fails now is no reference
                reproduced = False
            if not reproduced:  # the build makes other layers: the file is the model trained
                return False, (
                    f"its predictions differ from the file's by up to {apart:.4g}, and a "
                    "second build predicts otherwise than the first"
                )
        own = sorted({type(layer).__name__ for layer in _layers(model) if _own(layer)})
        suspects = f" (your layers: {', '.join(own)})" if own else ""
        return True, (
            f"{_PREDICTS_OTHERWISE} by up to {apart:.4g}: a layer's get_config() leaves out "
            f"a setting{suspects}"
        )
    try:
        got = _scores(model, x, y, got_pred)
    except Exception as e:  # noqa: BLE001 - the build's compute, the file's raise
        return True, f"its compiled loss or metrics raise {error_line(e)} where the build's compute"
    differ = []
    for name, value in want.items():
        other = got.get(name)
        if other is None:
            continue
        if other.shape != value.shape or not np.allclose(
            other, value, rtol=1e-4, atol=1e-7, equal_nan=True
        ):
            kind = f" ({_loss_name(model.loss)})" if name == "loss" and model.loss else ""
            differ.append(f"{name}{kind} {_text(other)} where the build's gives {_text(value)}")
    if sorted(got) != sorted(want):  # a metric's name left out of its get_config()
        differ.append(f"its metrics are named {sorted(got)} where the build's are {sorted(want)}")
    return True, "; ".join(differ) or None


def drift_note(drift: str) -> str:
    """The run's note (`report.json["model_file_note"]`) for a file whose model loads with
    other compiled numbers (`compile_drift`'s `drift`)."""
    from tunekit.model_notes import RESTORE  # noqa: PLC0415

    return (
        "keras.models.load_model(path) loads the model's .keras file, but not as the "
        "hypermodel's build makes and compiles it: on the same training samples and "
        f"weights, {drift}. A class (a layer, loss or metric) whose get_config() leaves out "
        "a setting comes back with its default (Keras's Huber drops delta, CosineSimilarity "
        "axis); return every __init__ argument from get_config(). tunekit tests and "
        "reports the run's models as the build compiles them, by rebuilding them with the "
        "hypermodel and loading the file's weights (as KerasTuner restores its checkpoints); "
        f"do the same ({RESTORE})"
        + (
            "."
            if drift.startswith(_PREDICTS_OTHERWISE)
            else ", or compile the loaded model again with the build's loss and metrics "
            "before you evaluate it."
        )
    )


def unreproducible_note(why: str) -> str:
    """The run's note for a file that loads alone while the hypermodel's build of its
    configuration does not make its model again (`why`: a second build predicts otherwise;
    the build cannot take the file's weights)."""
    return (
        "The hypermodel's build of the chosen hyperparameters does not make the saved model "
        f"again: {why}. Its layers depend on more than its hyperparameters (Python's random, "
        "a counter, a global). tunekit tested the .keras file's model, the one trained, and "
        "keras.models.load_model(path) gives it back; KerasTuner's restores and "
        "build(hp) + load_weights(path) do not. Make build(hp) depend on hp alone, or draw "
        "what it draws with hp (hp.Choice, hp.Int)."
    )


def _forward(model: Any, x: Any) -> Any:
    """`model(x, training=False)`, `CHUNK` samples at a time for an array or a dict of arrays
    (a `Dataset`'s; a stream's batch is called whole), concatenated along the samples."""
    import keras  # noqa: PLC0415 - a model exists, so Keras is loaded

    from tunekit.data import _targets as tg  # noqa: PLC0415

    arrays = isinstance(x, np.ndarray) or (
        isinstance(x, Mapping) and all(isinstance(v, np.ndarray) for v in x.values())
    )
    n = tg.length(x, "x") if arrays else 0
    if n <= CHUNK:
        return model(x, training=False)
    parts = [model(tg.take(x, slice(i, i + CHUNK)), training=False) for i in range(0, n, CHUNK)]
    return keras.tree.map_structure(lambda *p: keras.ops.concatenate(p, axis=0), *parts)


def _apart(got: Any, want: Any) -> float | None:
    """The largest difference between two models' predictions (one structure of tensors),
    or `None` when they agree to 1e-4 (relative) and 1e-6 (absolute)."""
    import keras  # noqa: PLC0415

    first, second = keras.tree.flatten(got), keras.tree.flatten(want)
    if len(first) != len(second):
        return float("inf")
    largest = None
    for a, b in zip(first, second, strict=True):
        a, b = keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b)
        if a.shape != b.shape:
            return float("inf")
        if not np.allclose(a, b, rtol=1e-4, atol=1e-6, equal_nan=True):
            gap = float(np.nanmax(np.abs(a.astype(np.float64) - b.astype(np.float64))))
            largest = gap if largest is None else max(largest, gap)
    return largest


def _layers(model: Any) -> list[Any]:
    """`model`'s layers, also those inside its nested models and layers."""
    found, stack = [], list(getattr(model, "layers", []))
    while stack:
        layer = stack.pop()
        found.append(layer)
        stack.extend(getattr(layer, "layers", []) or [])
    return found


def _own(layer: Any) -> bool:
    """Whether `layer`'s class is the user's: not Keras's, TensorFlow's or KerasTuner's."""
    root = type(layer).__module__.split(".")[0]
    return root not in {"keras", "tf_keras", "tensorflow", "keras_tuner", "keras_hub"}


def _scores(model: Any, x: Any, y: Any, y_pred: Any) -> dict[str, np.ndarray]:
    """`model`'s compiled loss and metrics on `(x, y)` and its predictions `y_pred`, by name
    (metrics zeroed after)."""
    import keras  # noqa: PLC0415 - a model exists, so Keras is loaded

    loss = model.compute_loss(x, y, y_pred, training=False)
    found = {"loss": np.asarray(keras.ops.convert_to_numpy(loss), dtype=float)}
    if getattr(model, "compiled", False):
        try:
            values = model.compute_metrics(x, y, y_pred, sample_weight=None)
        finally:
            model.reset_metrics()
        for name, value in values.items():
            if name != "loss":  # the loss tracker: not updated here
                found[name] = np.asarray(keras.ops.convert_to_numpy(value), dtype=float)
    return found


def _loss_name(loss: Any) -> str:
    """A compiled loss's name in a note: `Huber`, `mse`, `my_loss`; `"total"` for a loss per
    output (a dict or list Keras keeps in a tracking wrapper, not a class to name)."""
    import keras  # noqa: PLC0415

    if isinstance(loss, str):
        return loss
    if isinstance(loss, keras.losses.Loss):
        return type(loss).__name__
    if callable(loss) and hasattr(loss, "__name__"):
        return str(loss.__name__)
    return "total"


def _text(value: np.ndarray) -> str:
    """A value in a note: one number to 4 significant digits, or the first few of several."""
    flat = value.ravel()
    shown = ", ".join(f"{v:.4g}" for v in flat[:4]) + (", ..." if flat.size > 4 else "")
    return shown if flat.size == 1 else f"[{shown}]"
