"""Plots of a run: trials, narrowing, and the final model, as matplotlib Figures.

Tables first, plots read tables: derived data is computed by a pure function
(e.g. `best_so_far_table`), and the renderer only draws it. Figures are built
with `matplotlib.figure.Figure` directly (no pyplot state, no backend switch),
so they render headless; in a notebook a returned figure shows inline as the
value of a cell, or with `display(fig)`. A plot with nothing to draw (e.g. no
completed trial, an empty history) raises `ValueError`; `save_run_plots` skips it.

Example:

```python
frame = trials_dataframe("runs/mnist-dense")
fig = parallel_coordinates(frame)
Path("pc.png").write_bytes(figure_to_png(fig))
```
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from tunekit import _io
from tunekit.errors import TunekitError
from tunekit.outputs import predicted_classes

if TYPE_CHECKING:
    from tunekit.narrowing import NarrowedSpace

__all__ = [
    "parallel_coordinates", "score_vs_hyperparameters", "best_so_far", "best_so_far_table",
    "narrowing", "score_vs_params", "confusion_matrix", "training_curves", "figure_to_png",
    "save_run_plots",
]

_STYLE = {"coarse": ("--", "o", "tab:blue"), "fine": ("-", "^", "tab:orange")}
_OTHER_STYLE = (":", "s", "tab:gray")
_LOG_DECADES = 1.0  # log axis when values span more than a decade (learning rates)


class _Figure(Figure):
    """A `Figure` that Jupyter shows inline even when pyplot was never imported."""

    def _repr_png_(self) -> bytes:
        return figure_to_png(self)


class _NoDataError(TunekitError, ValueError):
    """Nothing to draw (e.g. no completed trial); `save_run_plots` skips the plot."""


def _style(phase: str) -> tuple[str, str, str]:
    return _STYLE.get(phase, _OTHER_STYLE)


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def _short(text: str, width: int = 14) -> str:
    return text if len(text) <= width else text[:width - 1] + "\u2026"


def _phase_legend(fig: Figure, data: pd.DataFrame, *, lines: bool) -> None:
    """A figure legend above the plots: line style (`lines`) or marker per phase."""
    handles = [Line2D([], [], color="0.3", linestyle=_style(p)[0], label=p) if lines else
               Line2D([], [], color=_style(p)[2], marker=_style(p)[1], linestyle="none", label=p)
               for p in dict.fromkeys(data["phase"].astype(str))]
    fig.legend(handles=handles, loc="outside upper right", ncols=len(handles), fontsize=8)


def _named(frame: pd.DataFrame, objective: str, objective_name: str | None,
           direction: str | None) -> tuple[str, str | None]:
    """The objective's name and direction for the axes.

    Explicit arguments win; for the `score` column of a `trials_dataframe`,
    its `attrs` (the run's objective, e.g. `val_accuracy`); else the column.
    """
    attrs = frame.attrs if objective == "score" else {}
    return (objective_name or attrs.get("objective") or objective,
            direction or attrs.get("direction"))


def _objective_label(name: str, direction: str | None = None) -> str:
    """How axes name the objective: its metric name, e.g. `val_accuracy (max)`."""
    return f"{name} ({direction})" if direction in ("max", "min") else name


def _completed(frame: pd.DataFrame, objective: str = "score") -> pd.DataFrame:
    if frame.empty or objective not in frame or "status" not in frame:
        return frame.iloc[0:0]
    score = pd.to_numeric(frame[objective], errors="coerce")
    return frame[(frame["status"] == "COMPLETED") & np.isfinite(score)]


def _hp_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if str(c).startswith("hp_")]


def _numeric(values: pd.Series) -> pd.Series | None:
    """`values` as floats (NaN where inactive), or None if categorical."""
    present = values.dropna()
    if any(isinstance(v, (bool, np.bool_, str)) for v in present):
        return None
    num = pd.to_numeric(values, errors="coerce").astype(float)
    return num if num.notna().sum() == len(present) else None


def _use_log(num: pd.Series) -> bool:
    finite = num[np.isfinite(num)]
    return bool(len(finite) and finite.min() > 0
                and math.log10(finite.max() / finite.min()) > _LOG_DECADES)


def _scale(values: pd.Series) -> tuple[pd.Series, list[float], list[str]]:
    """Scales a column to [0, 1]: returns (scaled, tick positions, tick labels)."""
    num = _numeric(values)
    if num is None:
        cats = sorted({str(v) for v in values.dropna()})
        pos = {c: (i / (len(cats) - 1) if len(cats) > 1 else 0.5) for i, c in enumerate(cats)}
        scaled = values.map(lambda v: pos[str(v)] if pd.notna(v) else np.nan).astype(float)
        return scaled, list(pos.values()), [_short(c) for c in cats]
    log = _use_log(num)
    t = np.log10(num.where(num > 0)) if log else num
    lo, hi = t.min(), t.max()
    if not np.isfinite(lo) or hi == lo:
        return t.where(t.isna(), 0.5), ([0.5] if np.isfinite(lo) else []), (
            [_fmt(num.min())] if np.isfinite(lo) else [])
    scaled = (t - lo) / (hi - lo)
    unique = np.unique(num.dropna())
    if len(unique) <= 6:  # e.g. a layer count: label the values themselves
        return scaled, list(np.unique(scaled.dropna())), [_fmt(v) for v in unique]
    ticks = [0.0, 0.25, 0.5, 0.75, 1.0]
    labels = [_fmt(10 ** (lo + k * (hi - lo)) if log else lo + k * (hi - lo)) for k in ticks]
    return scaled, ticks, labels


def parallel_coordinates(frame: pd.DataFrame, *, objective: str = "score",
                         objective_name: str | None = None,
                         direction: str | None = None) -> Figure:
    """One polyline per completed trial across the `hp_` columns, then the objective.

    Numeric axes are scaled to [0, 1] (log-scaled above a decade), categorical
    ones spread their sorted categories evenly. Colour is the objective;
    coarse trials are dashed, fine ones solid. Inactive values break the line.
    Each line's gid is `"<phase>/<trial_id>"`. All-NaN columns are left out.

    Args:
        frame: A `trials_dataframe`.
        objective: The column holding the objective. Defaults to `"score"`.
        objective_name: The objective's name on the axes, e.g.
            `"val_accuracy"`. Defaults to the run's objective for the `score`
            column of a `trials_dataframe` (its `attrs`), else `objective`.
        direction: `"max"` or `"min"`, shown next to the name. Defaults to
            the run's direction (`attrs`), else not shown.

    Example:

    ```python
    fig = parallel_coordinates(trials_dataframe("runs/mnist-dense"))
    ```
    """
    data = _completed(frame, objective).sort_values(objective, kind="stable")
    if data.empty:
        raise _NoDataError("No completed trial with a finite objective to plot.")
    columns = [c for c in _hp_columns(data) if data[c].notna().any()] + [objective]
    scaled = {c: _scale(data[c]) for c in columns}
    scores = data[objective].astype(float)
    norm = Normalize(scores.min(), max(scores.max(), scores.min() + 1e-9))
    fig = _Figure(figsize=(max(8.0, 1.25 * len(columns) + 3), 5.0), layout="constrained")
    ax = fig.add_subplot()
    xs = np.arange(len(columns))
    mappable = ScalarMappable(norm=norm, cmap="viridis")
    for i, (_, row) in enumerate(data.iterrows()):
        ys = [scaled[c][0].iloc[i] for c in columns]
        linestyle = _style(str(row["phase"]))[0]
        (line,) = ax.plot(xs, ys, linestyle=linestyle, color=mappable.to_rgba(row[objective]),
                          linewidth=1.4, alpha=0.85, marker="o", markersize=2.5)
        line.set_gid(f"{row['phase']}/{row['trial_id']}")
    for x, c in zip(xs, columns):
        ax.axvline(x, color="0.75", linewidth=0.8, zorder=0)
        for tick, label in zip(*scaled[c][1:]):
            ax.text(x - 0.04, tick, label, ha="right", va="center", fontsize=7, color="0.25",
                    bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.6, "pad": 0.5})
    name, direction = _named(frame, objective, objective_name, direction)
    label = _objective_label(name, direction)
    names = [c.removeprefix("hp_") for c in columns[:-1]] + [name]
    ax.set_xticks(xs, names, rotation=30 if len(columns) > 6 else 0,
                  ha="right" if len(columns) > 6 else "center")
    ax.set_xlim(-0.5, len(columns) - 0.7)
    ax.set_ylim(-0.05, 1.05)
    ax.set_yticks([])
    ax.set_xlabel("hyperparameter")
    ax.set_ylabel("scaled value (per axis)")
    _phase_legend(fig, data, lines=True)
    fig.colorbar(mappable, ax=ax, label=label, pad=0.01)
    ax.set_title(f"Parallel coordinates: {len(data)} completed trials")
    return fig


def score_vs_hyperparameters(frame: pd.DataFrame, *, objective: str = "score",
                             objective_name: str | None = None,
                             direction: str | None = None) -> Figure:
    """One subplot per `hp_` column: the objective against its values, marker per phase.

    Categorical values are drawn as a jittered strip; numeric ones spanning
    more than a decade on a log axis. `objective`, `objective_name` and
    `direction` as in `parallel_coordinates`.

    Example:

    ```python
    fig = score_vs_hyperparameters(trials_dataframe("runs/mnist-dense"))
    ```
    """
    data = _completed(frame, objective)
    columns = _hp_columns(frame)
    name, direction = _named(frame, objective, objective_name, direction)
    if data.empty or not columns:
        raise _NoDataError("No completed trial or no hyperparameter column to plot.")
    ncols = min(4, len(columns))
    nrows = math.ceil(len(columns) / ncols)
    fig = _Figure(figsize=(3.3 * ncols, 2.7 * nrows + 0.6), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True).ravel()
    rng = np.random.default_rng(0)
    for ax, column in zip(axes, columns):
        values = data[column]
        num = _numeric(values)
        if num is None:
            cats = sorted({str(v) for v in values.dropna()})
            x = values.map(lambda v: cats.index(str(v)) if pd.notna(v) else np.nan).astype(float)
            x = x + rng.uniform(-0.15, 0.15, len(x))
            tilt = sum(len(c) for c in cats) > 24
            ax.set_xticks(range(len(cats)), [_short(c) for c in cats], fontsize=8,
                          rotation=25 if tilt else 0, ha="right" if tilt else "center")
            ax.set_xlim(-0.6, len(cats) - 0.4)
        else:
            x = num
            if _use_log(num):
                ax.set_xscale("log")
            elif num.dropna().eq(num.dropna().round()).all():
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        for phase, part in data.groupby(data["phase"].astype(str), sort=False):
            _, marker, color = _style(phase)
            ax.scatter(x[part.index], part[objective], marker=marker, color=color, s=22,
                       alpha=0.8, label=phase, edgecolors="none")
        if not values.notna().any():
            ax.text(0.5, 0.5, "never active", transform=ax.transAxes, ha="center", color="0.5")
        ax.set_xlabel(column.removeprefix("hp_"))
        ax.set_ylabel(_objective_label(name, direction))
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    for ax in axes[len(columns):]:
        ax.remove()
    _phase_legend(fig, data, lines=False)
    fig.suptitle(f"{name} vs hyperparameters "
                 f"({len(data)} completed trials)")
    return fig


def _trial_order(ids: pd.Series) -> pd.Series:
    return ids.map(lambda s: (0, int(s), "") if str(s).isdigit() else (1, 0, str(s)))


def best_so_far_table(frame: pd.DataFrame, direction: str = "max",
                      *, objective: str = "score") -> pd.DataFrame:
    """Best objective so far per phase, by trial order; failed trials don't improve it.

    Returns:
        Columns `phase`, `trial_index` (1-based within the phase, in trial id
        order), `trial_id`, `status`, `score` (NaN unless COMPLETED) and
        `best_so_far` (NaN until the phase's first completed trial).

    Example:

    ```python
    best_so_far_table(frame, "max").groupby("phase").best_so_far.last()
    ```
    """
    if direction not in ("max", "min"):
        raise ValueError(f"`direction` must be 'max' or 'min'. Received: {direction!r}.")
    columns = ["phase", "trial_index", "trial_id", "status", "score", "best_so_far"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    out = frame[["phase", "trial_id", "status"]].copy()
    out["phase"] = out["phase"].astype(str)
    score = pd.to_numeric(frame[objective], errors="coerce")
    out["score"] = score.where((frame["status"] == "COMPLETED") & np.isfinite(score))
    ranks = {p: i for i, p in enumerate(dict.fromkeys(["coarse", "fine", *out["phase"]]))}
    out["_rank"] = out["phase"].map(ranks)
    out["_order"] = _trial_order(out["trial_id"])
    out = out.sort_values(["_rank", "_order"], kind="stable").drop(columns=["_rank", "_order"])
    out = out.reset_index(drop=True)
    groups = out.groupby("phase", sort=False)
    out["trial_index"] = groups.cumcount() + 1
    best = groups["score"].cummax() if direction == "max" else groups["score"].cummin()
    out["best_so_far"] = best.groupby(out["phase"], sort=False).ffill()
    return out[columns]


def best_so_far(frame: pd.DataFrame, *, direction: str = "max",
                objective: str = "score", objective_name: str | None = None) -> Figure:
    """Best-so-far curve per phase (step line) over each trial's objective (dots).

    `objective` is the column, `objective_name` the name on the axis (e.g.
    `"val_accuracy"`; defaults as in `parallel_coordinates`).

    Example:

    ```python
    fig = best_so_far(trials_dataframe("runs/mnist-dense"), direction="max")
    ```
    """
    table = best_so_far_table(frame, direction, objective=objective)
    if table["score"].notna().sum() == 0:
        raise _NoDataError("No completed trial with a finite objective to plot.")
    fig = _Figure(figsize=(7.5, 4.2), layout="constrained")
    ax = fig.add_subplot()
    for phase, part in table.groupby("phase", sort=False):
        linestyle, marker, color = _style(phase)
        ax.scatter(part["trial_index"], part["score"], marker=marker, color=color, alpha=0.5,
                   s=20, edgecolors="none")
        (line,) = ax.step(part["trial_index"], part["best_so_far"], where="post",
                          linestyle=linestyle, color=color, linewidth=2, label=f"{phase} best")
        line.set_gid(f"best/{phase}")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial index within phase")
    name, _ = _named(frame, objective, objective_name, direction)
    ax.set_ylabel(f"best {_objective_label(name, direction)} so far")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Best so far by phase (dots: each completed trial)")
    return fig


def _position(config: Mapping[str, Any]):
    """Maps a value to [0, 1] of a numeric hp's range (in its sampling's scale)."""
    c = config["config"]
    lo, hi, sampling = float(c["min_value"]), float(c["max_value"]), c.get("sampling")
    f = lambda v: float(v)  # noqa: E731
    if sampling == "log" and lo > 0:
        f = math.log
    elif sampling == "reverse_log" and lo > 0:
        f = lambda v: -math.log(lo + hi - float(v))  # noqa: E731
    return lambda v: 0.5 if hi == lo else min(1.0, max(0.0, (f(v) - f(lo)) / (f(hi) - f(lo))))


def _narrowing_row(change: Any) -> dict[str, Any]:
    before, after = change.before_config, change.after_config
    kind, new_kind = before.get("class_name"), after.get("class_name")
    new = after.get("config", {})
    row: dict[str, Any] = {"name": change.name, "text": f"{change.before} -> {change.after}"
                           f"  ({change.rule})", "light": [], "dark": [], "marker": None,
                           "slots": []}
    if kind in ("Int", "Float"):
        pos = _position(before)
        row["light"] = [(0.0, 1.0)]
        if new_kind in ("Int", "Float"):
            lo, hi = pos(new["min_value"]), pos(new["max_value"])
            row["dark"] = [(lo, max(hi - lo, 0.004))]
        elif new_kind == "Fixed":
            row["marker"] = pos(new["value"])
    elif kind in ("Choice", "Boolean"):
        values = before["config"].get("values", [False, True]) if kind == "Choice" else [
            False, True]
        kept = new.get("values", values) if new_kind in ("Choice", "Boolean") else [
            new.get("value")]
        n = len(values)
        for i, v in enumerate(values):
            slot = (i / n + 0.01, 1 / n - 0.02)
            row["light"].append(slot)
            if v in kept:
                row["dark"].append(slot)
            row["slots"].append(((i + 0.5) / n, str(v), v in kept))
    elif kind == "Fixed":
        row["marker"] = 0.5
    return row


def narrowing(narrowed: NarrowedSpace) -> Figure:
    """One row per hyperparameter: original range (light) and narrowed range (dark).

    Positions are fractions of the original range, in log space for log
    sampling. `Choice`/`Boolean` values are slots, kept ones dark; a `Fixed`
    result is a diamond. The right column reads `before -> after (rule)`.

    Example:

    ```python
    fig = narrowing(NarrowedSpace.from_json(Path("narrowed_space.json").read_text()))
    ```
    """
    rows = [_narrowing_row(c) for c in narrowed.changes]
    if not rows:
        raise _NoDataError("The narrowed space has no hyperparameters.")
    fig = _Figure(figsize=(12.0, 0.55 * len(rows) + 1.4), layout="constrained")
    ax = fig.add_subplot()
    dark = "#1f4e79"
    for i, row in enumerate(rows):
        if row["light"]:
            bars = ax.broken_barh(row["light"], (i - 0.32, 0.64), facecolor="0.9",
                                  edgecolor="0.6", linewidth=0.6)
            bars.set_gid(f"row/{row['name']}")
        if row["dark"]:
            ax.broken_barh(row["dark"], (i - 0.2, 0.4), facecolor=dark)
        for x, label, kept in row["slots"]:
            ax.text(x, i, label, ha="center", va="center", fontsize=7,
                    color="white" if kept else "0.35", clip_on=True)
        if row["marker"] is not None:
            (m,) = ax.plot([row["marker"]], [i], marker="D", markersize=8, color=dark,
                           linestyle="none")
            if not row["light"]:
                m.set_gid(f"row/{row['name']}")
        ax.text(1.02, i, row["text"], transform=ax.get_yaxis_transform(), va="center",
                fontsize=8, family="monospace")
    ax.set_yticks(range(len(rows)), [r["name"] for r in rows])
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(0, 1)
    ax.set_xlabel("position in the original range (log scale for log sampling)")
    ax.set_ylabel("hyperparameter")
    ax.set_title(f"Narrowing: top {narrowed.top} of {narrowed.usable} usable trials "
                 f"(direction={narrowed.direction}, margin={narrowed.margin})")
    return fig


def score_vs_params(frame: pd.DataFrame, *, objective: str = "score",
                    objective_name: str | None = None, direction: str | None = None) -> Figure:
    """The objective against the number of parameters (log x), marker per phase.

    `objective`, `objective_name` and `direction` as in `parallel_coordinates`.

    Example:

    ```python
    fig = score_vs_params(trials_dataframe("runs/mnist-dense"))
    ```
    """
    data = _completed(frame, objective)
    if "num_params" in data:
        params = pd.to_numeric(data["num_params"], errors="coerce")
        data = data[np.isfinite(params) & (params > 0)]
    if data.empty or "num_params" not in data:
        raise _NoDataError("No completed trial with a parameter count to plot.")
    fig = _Figure(figsize=(7.0, 4.2), layout="constrained")
    ax = fig.add_subplot()
    for phase, part in data.groupby(data["phase"].astype(str), sort=False):
        _, marker, color = _style(phase)
        points = ax.scatter(part["num_params"].astype(float), part[objective], marker=marker,
                            color=color, s=30, alpha=0.8, label=phase, edgecolors="none")
        points.set_gid(f"params/{phase}")
    ax.set_xscale("log")
    ax.set_xlabel("number of parameters")
    name, direction = _named(frame, objective, objective_name, direction)
    ax.set_ylabel(_objective_label(name, direction))
    ax.grid(alpha=0.3, which="both")
    ax.legend(title="phase", fontsize=8)
    ax.set_title(f"{name} vs model size ({len(data)} completed trials)")
    return fig


def confusion_matrix(y_true: Any, y_pred: Any, class_names: Sequence[str] | None = None
                     ) -> Figure:
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
            ax.text(j, i, str(counts[i, j]), ha="center", va="center",
                    fontsize=8 if n > 12 else 10,
                    color="white" if fraction[i, j] > 0.5 else "black")
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
    order = sorted(groups, key=lambda g: (0 if "loss" in g else 2 if _is_rate(g) else 1))
    ncols = min(3, len(order))
    nrows = math.ceil(len(order) / ncols)
    fig = _Figure(figsize=(4.6 * ncols, 3.6 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for i, (ax, base) in enumerate(zip(axes, order)):
        for key in groups[base]:
            values = np.asarray(history[key], dtype=float)
            (line,) = ax.plot(np.arange(1, len(values) + 1), values, color=f"C{i}", label=key,
                              linestyle="--" if key.startswith("val_") else "-",
                              marker="o" if len(values) <= 30 else None, markersize=3)
            line.set_gid(key)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(base)
        if _is_rate(base):
            ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in axes[len(order):]:
        ax.remove()
    fig.suptitle("Training curves")
    return fig


def _is_rate(name: str) -> bool:
    return name in ("lr", "learning_rate") or name.endswith("learning_rate")


def figure_to_png(fig: Figure, *, dpi: int = 100) -> bytes:
    """Returns the figure as PNG bytes.

    Example:

    ```python
    Path("plot.png").write_bytes(figure_to_png(fig))
    ```
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def save_run_plots(
    out_dir: str | os.PathLike,
    frame: pd.DataFrame,
    *,
    direction: str = "max",
    objective_name: str | None = None,
    narrowed: NarrowedSpace | None = None,
    y_true: Any = None,
    y_pred: Any = None,
    class_names: Sequence[str] | None = None,
    history: Mapping[str, Sequence[float]] | None = None,
) -> dict[str, str]:
    """Saves the run's plots as PNGs in `out_dir`, skipping those without data.

    Files: `parallel_coordinates.png`, `score_vs_hyperparameters.png`,
    `best_so_far.png`, `narrowing.png`, `score_vs_params.png`,
    `confusion_matrix.png`, `training_curves.png`. Each is written atomically.
    Plots of the objective (the `score` column) name it `objective_name`
    (e.g. `"val_accuracy"`) with its `direction`.

    Returns:
        `{name: path}` of the plots written (name without `.png`).

    Example:

    ```python
    paths = save_run_plots(run_dir / "plots", trials_dataframe(run_dir), direction="max",
                           narrowed=narrowed, y_true=y, y_pred=p, class_names=names,
                           history=fit.history)
    ```
    """
    named = dict(objective_name=objective_name, direction=direction)
    builders = {
        "parallel_coordinates": lambda: parallel_coordinates(frame, **named),
        "score_vs_hyperparameters": lambda: score_vs_hyperparameters(frame, **named),
        "best_so_far": lambda: best_so_far(frame, **named),
        "narrowing": lambda: narrowing(narrowed),
        "score_vs_params": lambda: score_vs_params(frame, **named),
        "confusion_matrix": lambda: confusion_matrix(y_true, y_pred, class_names),
        "training_curves": lambda: training_curves(history),
    }
    history = getattr(history, "history", history)  # a keras `History` works too
    missing = {"narrowing": narrowed is None, "training_curves": not history,
               "confusion_matrix": y_true is None or y_pred is None}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, str] = {}
    for name, build in builders.items():
        if missing.get(name):
            continue
        try:
            fig = build()
        except _NoDataError:
            continue
        path = out_dir / f"{name}.png"
        _io.atomic_write(path, lambda tmp, fig=fig: fig.savefig(tmp, format="png", dpi=100))
        paths[name] = str(path)
    return paths
