"""Plots of the trials table (`trials_dataframe`): one row per trial, `hp_` columns.

`parallel_coordinates`, `score_vs_hyperparameters`, `best_so_far` (and its
table, `best_so_far_table`) and `score_vs_params`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullFormatter, NullLocator

from tunekit.plots._common import (
    _completed,
    _Figure,
    _fmt,
    _hp_columns,
    _named,
    _NoDataError,
    _numeric,
    _objective_label,
    _phase_legend,
    _sampling,
    _short,
    _style,
    _use_log,
)

__all__ = [
    "best_so_far",
    "best_so_far_table",
    "parallel_coordinates",
    "score_vs_hyperparameters",
    "score_vs_params",
]


def _scale(
    values: pd.Series, sampling: str | None = None
) -> tuple[pd.Series, list[float], list[str]]:
    """Scales a column to [0, 1] (log per `_use_log`): (scaled, tick positions, labels)."""
    num = _numeric(values)
    if num is None:
        cats = sorted({str(v) for v in values.dropna()})
        pos = {c: (i / (len(cats) - 1) if len(cats) > 1 else 0.5) for i, c in enumerate(cats)}
        scaled = values.map(lambda v: pos[str(v)] if pd.notna(v) else np.nan).astype(float)
        return scaled, list(pos.values()), [_short(c) for c in cats]
    log = _use_log(num, sampling)
    t = np.log10(num.where(num > 0)) if log else num
    lo, hi = t.min(), t.max()
    if not np.isfinite(lo) or hi == lo:
        return (
            t.where(t.isna(), 0.5),
            ([0.5] if np.isfinite(lo) else []),
            ([_fmt(num.min())] if np.isfinite(lo) else []),
        )
    scaled = (t - lo) / (hi - lo)
    unique = np.unique(num.dropna())
    if len(unique) <= 6:  # e.g. a layer count: label the values themselves
        return scaled, list(np.unique(scaled.dropna())), [_fmt(v) for v in unique]
    ticks = [0.0, 0.25, 0.5, 0.75, 1.0]
    labels = [_fmt(10 ** (lo + k * (hi - lo)) if log else lo + k * (hi - lo)) for k in ticks]
    return scaled, ticks, labels


def parallel_coordinates(
    frame: pd.DataFrame,
    *,
    objective: str = "score",
    objective_name: str | None = None,
    direction: str | None = None,
) -> Figure:
    """One polyline per completed trial across the `hp_` columns, then the objective.

    Numeric axes are scaled to [0, 1] (log-scaled for a hyperparameter declared
    with `sampling="log"`, or, not declared, spanning over a decade), categorical
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
    # The objective on its own linear scale: a log one (over a decade: 0.04..0.6) squeezed
    # the high scores that matter together.
    scaled = {
        c: _scale(data[c], "linear" if c == objective else _sampling(frame, c)) for c in columns
    }
    scores = data[objective].astype(float)
    norm = Normalize(scores.min(), max(scores.max(), scores.min() + 1e-9))
    fig = _Figure(figsize=(max(8.0, 1.25 * len(columns) + 3), 5.0), layout="constrained")
    ax = fig.add_subplot()
    xs = np.arange(len(columns))
    mappable = ScalarMappable(norm=norm, cmap="viridis")
    for i, (_, row) in enumerate(data.iterrows()):
        ys = [scaled[c][0].iloc[i] for c in columns]
        linestyle = _style(str(row["phase"]))[0]
        (line,) = ax.plot(
            xs,
            ys,
            linestyle=linestyle,
            color=mappable.to_rgba(row[objective]),
            linewidth=1.4,
            alpha=0.85,
            marker="o",
            markersize=2.5,
        )
        line.set_gid(f"{row['phase']}/{row['trial_id']}")
    for x, c in zip(xs, columns):
        ax.axvline(float(x), color="0.75", linewidth=0.8, zorder=0)
        for tick, label in zip(*scaled[c][1:]):
            ax.text(
                x - 0.04,
                tick,
                label,
                ha="right",
                va="center",
                fontsize=7,
                color="0.25",
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.6, "pad": 0.5},
            )
    name, direction = _named(frame, objective, objective_name, direction)
    label = _objective_label(name, direction)
    names = [c.removeprefix("hp_") for c in columns[:-1]] + [name]
    ax.set_xticks(
        xs,
        names,
        rotation=30 if len(columns) > 6 else 0,
        ha="right" if len(columns) > 6 else "center",
    )
    ax.set_xlim(-0.5, len(columns) - 0.7)
    ax.set_ylim(-0.05, 1.05)
    ax.set_yticks([])
    ax.set_xlabel("hyperparameter")
    ax.set_ylabel("scaled value (per axis)")
    _phase_legend(fig, data, lines=True)
    fig.colorbar(mappable, ax=ax, label=label, pad=0.01)
    ax.set_title(f"Parallel coordinates: {len(data)} completed trials")
    return fig


def score_vs_hyperparameters(
    frame: pd.DataFrame,
    *,
    objective: str = "score",
    objective_name: str | None = None,
    direction: str | None = None,
) -> Figure:
    """One subplot per `hp_` column: the objective against its values, marker per phase.

    Categorical values are drawn as a jittered strip; numeric ones on a log
    axis when declared with `sampling="log"` (not declared: spanning more than
    a decade). `objective`, `objective_name` and
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
            ax.set_xticks(
                range(len(cats)),
                [_short(c) for c in cats],
                fontsize=8,
                rotation=25 if tilt else 0,
                ha="right" if tilt else "center",
            )
            ax.set_xlim(-0.6, len(cats) - 0.4)
        else:
            x = num
            if _use_log(num, _sampling(frame, column)):
                ax.set_xscale("log")
                finite = num[np.isfinite(num)]
                low, high = math.log10(finite.min()), math.log10(finite.max())
                if math.floor(high) - math.ceil(low) >= 1:  # two powers of ten inside: them
                    ax.xaxis.set_minor_formatter(NullFormatter())  # labelled minors overlapped
                else:  # within about a decade (1e-3..9e-3, units 17..36): 3 ticks, evenly apart
                    ticks = [float(f"{t:.2g}") for t in np.geomspace(10**low, 10**high, 3)]
                    ax.set_xticks(sorted(set(ticks)), [_fmt(t) for t in sorted(set(ticks))])
                    ax.xaxis.set_minor_locator(NullLocator())
            elif num.dropna().eq(num.dropna().round()).all():
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        for phase, part in data.groupby(data["phase"].astype(str), sort=False):
            _, marker, color = _style(phase)
            ax.scatter(
                x[part.index],
                part[objective],
                marker=marker,
                color=color,
                s=22,
                alpha=0.8,
                label=phase,
                edgecolors="none",
            )
        if not values.notna().any():
            ax.text(0.5, 0.5, "never active", transform=ax.transAxes, ha="center", color="0.5")
        ax.set_xlabel(column.removeprefix("hp_"))
        ax.set_ylabel(_objective_label(name, direction))
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    for ax in axes[len(columns) :]:
        ax.remove()
    _phase_legend(fig, data, lines=False)
    fig.suptitle(f"{name} vs hyperparameters ({len(data)} completed trials)")
    return fig


def _trial_order(ids: pd.Series) -> pd.Series:
    return ids.map(lambda s: (0, int(s), "") if str(s).isdigit() else (1, 0, str(s)))


def best_so_far_table(
    frame: pd.DataFrame, direction: str = "max", *, objective: str = "score"
) -> pd.DataFrame:
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


def best_so_far(
    frame: pd.DataFrame,
    *,
    direction: str = "max",
    objective: str = "score",
    objective_name: str | None = None,
) -> Figure:
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
        ax.scatter(
            part["trial_index"],
            part["score"],
            marker=marker,
            color=color,
            alpha=0.5,
            s=20,
            edgecolors="none",
            zorder=3,  # above every phase's step line: a dot under a line was hidden
        )
        (line,) = ax.step(
            part["trial_index"],
            part["best_so_far"],
            where="post",
            linestyle=linestyle,
            color=color,
            linewidth=2,
            label=f"{phase} best",
        )
        line.set_gid(f"best/{phase}")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial index within phase")
    name, _ = _named(frame, objective, objective_name, direction)
    ax.set_ylabel(f"best {_objective_label(name, direction)} so far")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Best so far by phase (dots: each completed trial)")
    return fig


def score_vs_params(
    frame: pd.DataFrame,
    *,
    objective: str = "score",
    objective_name: str | None = None,
    direction: str | None = None,
) -> Figure:
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
        points = ax.scatter(
            part["num_params"].astype(float),
            part[objective],
            marker=marker,
            color=color,
            s=30,
            alpha=0.8,
            label=phase,
            edgecolors="none",
        )
        points.set_gid(f"params/{phase}")
    ax.set_xscale("log")
    ax.set_xlabel("number of parameters")
    name, direction = _named(frame, objective, objective_name, direction)
    ax.set_ylabel(_objective_label(name, direction))
    ax.grid(alpha=0.3, which="both")
    ax.legend(title="phase", fontsize=8)
    ax.set_title(f"{name} vs model size ({len(data)} completed trials)")
    return fig
