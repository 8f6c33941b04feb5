"""The narrowing plot: each hyperparameter's original range and what narrowing kept."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from matplotlib.figure import Figure

from tunekit.plots._common import _Figure, _NoDataError

if TYPE_CHECKING:
    from tunekit.narrowing import NarrowedSpace

__all__ = ["narrowing"]


def _position(config: Mapping[str, Any]) -> Callable[[Any], float]:
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
    row: dict[str, Any] = {
        "name": change.name,
        "text": f"{change.before} -> {change.after}  ({change.rule})",
        "light": [],
        "dark": [],
        "marker": None,
        "slots": [],
    }
    if kind in ("Int", "Float"):
        pos = _position(before)
        row["light"] = [(0.0, 1.0)]
        if new_kind in ("Int", "Float"):
            lo, hi = pos(new["min_value"]), pos(new["max_value"])
            row["dark"] = [(lo, max(hi - lo, 0.004))]
        elif new_kind == "Fixed":
            row["marker"] = pos(new["value"])
    elif kind in ("Choice", "Boolean"):
        values = (
            before["config"].get("values", [False, True]) if kind == "Choice" else [False, True]
        )
        kept = (
            new.get("values", values) if new_kind in ("Choice", "Boolean") else [new.get("value")]
        )
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
            bars = ax.broken_barh(
                row["light"], (i - 0.32, 0.64), facecolor="0.9", edgecolor="0.6", linewidth=0.6
            )
            bars.set_gid(f"row/{row['name']}")
        if row["dark"]:
            ax.broken_barh(row["dark"], (i - 0.2, 0.4), facecolor=dark)
        for x, label, kept in row["slots"]:
            ax.text(
                x,
                i,
                label,
                ha="center",
                va="center",
                fontsize=7,
                color="white" if kept else "0.35",
                clip_on=True,
            )
        if row["marker"] is not None:
            (m,) = ax.plot(
                [row["marker"]], [i], marker="D", markersize=8, color=dark, linestyle="none"
            )
            if not row["light"]:
                m.set_gid(f"row/{row['name']}")
        ax.text(
            1.02,
            i,
            row["text"],
            transform=ax.get_yaxis_transform(),
            va="center",
            fontsize=8,
            family="monospace",
        )
    ax.set_yticks(range(len(rows)), [r["name"] for r in rows])
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(0, 1)
    ax.set_xlabel("position in the original range (log scale for log sampling)")
    ax.set_ylabel("hyperparameter")
    ax.set_title(
        f"Narrowing: {f'top {narrowed.top}' if narrowed.top else 'none'} of "
        f"{narrowed.usable} usable trials "
        f"(direction={narrowed.direction}, margin={narrowed.margin})"
    )
    return fig
