"""Plots of the final model: its confusion matrix and its training curves."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from tunekit.outputs import predicted_classes
from tunekit.plots._common import _Figure, _NoDataError

__all__ = ["confusion_matrix", "training_curves"]


def confusion_matrix(y_true: Any, y_pred: Any, class_names: Sequence[str] | None = None) -> Figure:
    """Counts per (true, predicted) class, coloured by row-normalised fraction.

    `y_true`/`y_pred` are class indices (or labels, if `class_names` are the
    labels); model outputs and one-hot arrays are reduced to class ids by
    `tunekit.outputs.predicted_classes` (argmax of `(n, k)`, a 0.5 threshold
    on one sigmoid unit `(n, 1)`); for a model, pass
    `tunekit.predict_classes(model, x)`.

    Example:

    ```python
    fig = confusion_matrix(y_test, predict_classes(model, x_test), [str(d) for d in range(10)])
    ```
    """
    from sklearn.metrics import confusion_matrix as sk_confusion_matrix

    y_true, y_pred = (np.asarray(y) for y in (y_true, y_pred))
    y_true, y_pred = (predicted_classes(y) if y.ndim == 2 else y for y in (y_true, y_pred))
    if y_true.size == 0:
        raise _NoDataError("No labels to plot.")
    if class_names is None:
        labels = np.unique(np.concatenate([y_true, y_pred]))
        class_names = [str(v) for v in labels]
    elif y_true.dtype.kind in "iufb":
        labels = np.arange(len(class_names))
    else:
        labels = np.asarray(class_names)
    counts = sk_confusion_matrix(y_true, y_pred, labels=labels)
    rows = counts.sum(axis=1, keepdims=True)
    fraction = np.divide(counts, rows, out=np.zeros(counts.shape, float), where=rows > 0)
    accuracy = float(np.mean(y_true == y_pred))
    n = len(labels)
    size = max(4.5, 0.5 * n + 2.5)
    fig = _Figure(figsize=(size + 1.0, size), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(fraction, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            ax.text(
                j,
                i,
                str(counts[i, j]),
                ha="center",
                va="center",
                fontsize=8 if n > 12 else 10,
                color="white" if fraction[i, j] > 0.5 else "black",
            )
    ax.set_xticks(range(n), class_names, rotation=45 if n > 10 else 0)
    ax.set_yticks(range(n), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(image, ax=ax, label="fraction of the true class", shrink=0.8)
    ax.set_title(f"Confusion matrix: accuracy {accuracy:.2%} (n={y_true.size})")
    return fig


def training_curves(history: Mapping[str, Sequence[float]]) -> Figure:
    """One panel per quantity, per epoch: `loss` with `val_loss`, `accuracy` with
    `val_accuracy`, the learning rate on its own, and so on.

    No two quantities share an axis, so a learning rate of 1e-3 is not drawn
    as a flat line at 0 under an accuracy. Each panel's y label is its
    quantity; each line's gid is its history key.

    Example:

    ```python
    fig = training_curves(model.fit(...).history)
    ```
    """
    keys = [k for k, v in history.items() if len(v)]
    groups: dict[str, list[str]] = {}
    for key in keys:
        groups.setdefault(key.removeprefix("val_"), []).append(key)
    if not groups:
        raise _NoDataError("The history is empty.")
    # losses first, then metrics, then anything that is not a model metric (learning rate)
    order = sorted(groups, key=lambda g: 0 if "loss" in g else 2 if _is_rate(g) else 1)
    ncols = min(3, len(order))
    nrows = math.ceil(len(order) / ncols)
    fig = _Figure(figsize=(4.6 * ncols, 3.6 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for i, (ax, base) in enumerate(zip(axes, order)):
        for key in groups[base]:
            values = np.asarray(history[key], dtype=float)
            (line,) = ax.plot(
                np.arange(1, len(values) + 1),
                values,
                color=f"C{i}",
                label=key,
                linestyle="--" if key.startswith("val_") else "-",
                marker="o" if len(values) <= 30 else None,
                markersize=3,
            )
            line.set_gid(key)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(base)
        if _is_rate(base):
            ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in axes[len(order) :]:
        ax.remove()
    fig.suptitle("Training curves")
    return fig


def _is_rate(name: str) -> bool:
    return name in ("lr", "learning_rate") or name.endswith("learning_rate")
