"""Plots of the final model: its confusion matrix (classification), predicted against
true values and the residuals (regression), and its training curves."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from tunekit.outputs import predicted_classes
from tunekit.plots._common import _Figure, _NoDataError

__all__ = ["confusion_matrix", "predicted_vs_true", "residuals", "training_curves"]

_MAX_TARGET_PANELS = 6  # targets drawn per regression figure (the first ones)


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


def _target_columns(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    """Targets and predictions as `(n, k)` float arrays of the same shape (`(n,)` -> `(n, 1)`)."""
    true, pred = (np.asarray(y, dtype=float) for y in (y_true, y_pred))
    true, pred = (y[:, None] if y.ndim == 1 else y for y in (true, pred))
    if true.ndim != 2 or true.shape != pred.shape:
        raise ValueError(
            f"Targets of shape {np.shape(y_true)} and predictions of shape "
            f"{np.shape(y_pred)} do not match: one prediction per target is needed."
        )
    if true.size == 0:
        raise _NoDataError("No targets to plot.")
    return true, pred


def _target_axes(k: int) -> tuple[_Figure, list[Any]]:
    shown = min(k, _MAX_TARGET_PANELS)
    ncols = min(3, shown)
    nrows = math.ceil(shown / ncols)
    fig = _Figure(figsize=(4.4 * ncols, 4.0 * nrows), layout="constrained")
    axes = list(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax in axes[shown:]:
        ax.remove()
    return fig, axes[:shown]


def predicted_vs_true(y_true: Any, y_pred: Any) -> Figure:
    """Regression: each test sample's prediction against its true value, with the diagonal.

    One panel per target (the first six of `(n, k)` targets), titled with its
    R² (scikit-learn's `r2_score`); a perfect model puts every point on the
    dashed line `predicted = true`.

    Args:
        y_true: Targets, shape `(n,)` or `(n, k)`.
        y_pred: Predictions of the same shape (`(n, 1)` for `(n,)` targets too).

    Raises:
        ValueError: The shapes do not match (both are named), or no sample.

    Example:

    ```python
    fig = predicted_vs_true(y_test, model.predict(x_test))
    ```
    """
    from sklearn.metrics import r2_score

    true, pred = _target_columns(y_true, y_pred)
    fig, axes = _target_axes(true.shape[1])
    for j, ax in enumerate(axes):
        low = float(min(true[:, j].min(), pred[:, j].min()))
        high = float(max(true[:, j].max(), pred[:, j].max()))
        ax.scatter(true[:, j], pred[:, j], s=12, alpha=0.6, color="tab:blue", gid="samples")
        ax.plot([low, high], [low, high], "--", color="gray", linewidth=1, gid="diagonal")
        ax.set_xlabel("true" if true.shape[1] == 1 else f"true (target {j})")
        ax.set_ylabel("predicted")
        r2 = r2_score(true[:, j], pred[:, j]) if len(true) >= 2 else math.nan
        ax.set_title(f"R² {r2:.3f} (n={len(true)})")
        ax.grid(alpha=0.3)
    fig.suptitle("Test set: predicted against true values")
    return fig


def residuals(y_true: Any, y_pred: Any) -> Figure:
    """Regression: each test sample's residual (true - predicted) against its prediction.

    One panel per target (the first six), with the zero line; a good model's
    residuals scatter evenly around zero, with no trend or funnel.

    Args:
        y_true: Targets, shape `(n,)` or `(n, k)`.
        y_pred: Predictions of the same shape (`(n, 1)` for `(n,)` targets too).

    Raises:
        ValueError: The shapes do not match (both are named), or no sample.

    Example:

    ```python
    fig = residuals(y_test, model.predict(x_test))
    ```
    """
    true, pred = _target_columns(y_true, y_pred)
    fig, axes = _target_axes(true.shape[1])
    for j, ax in enumerate(axes):
        error = true[:, j] - pred[:, j]
        ax.scatter(pred[:, j], error, s=12, alpha=0.6, color="tab:orange", gid="residuals")
        ax.axhline(0.0, linestyle="--", color="gray", linewidth=1)
        ax.set_xlabel("predicted" if true.shape[1] == 1 else f"predicted (target {j})")
        ax.set_ylabel("true - predicted")
        rmse = float(np.sqrt(np.mean(error**2)))
        ax.set_title(f"RMSE {rmse:.4g} (n={len(true)})")
        ax.grid(alpha=0.3)
    fig.suptitle("Test set: residuals")
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
