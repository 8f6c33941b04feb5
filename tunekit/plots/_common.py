"""Shared pieces of tunekit's plots: styles per phase, the no-data error, axis helpers.

Private to `tunekit.plots`; `figure_to_png` is re-exported there.
"""

from __future__ import annotations

import io
import math
from typing import Literal

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from tunekit.errors import TunekitError

_LineStyle = Literal["-", "--", ":"]
# phase -> (line style, marker, colour)
_STYLE: dict[str, tuple[_LineStyle, str, str]] = {
    "coarse": ("--", "o", "tab:blue"),
    "fine": ("-", "^", "tab:orange"),
}
_OTHER_STYLE: tuple[_LineStyle, str, str] = (":", "s", "tab:gray")
_LOG_DECADES = 1.0  # log axis when values span more than a decade (learning rates)


class _Figure(Figure):
    """A `Figure` that Jupyter shows inline even when pyplot was never imported."""

    def _repr_png_(self) -> bytes:
        return figure_to_png(self)


class _NoDataError(TunekitError, ValueError):
    """Nothing to draw (e.g. no completed trial); `save_run_plots` skips the plot."""


def _style(phase: str) -> tuple[_LineStyle, str, str]:
    return _STYLE.get(phase, _OTHER_STYLE)


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def _short(text: str, width: int = 14) -> str:
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def _phase_legend(fig: Figure, data: pd.DataFrame, *, lines: bool) -> None:
    """A figure legend above the plots: line style (`lines`) or marker per phase."""
    handles = [
        Line2D([], [], color="0.3", linestyle=_style(p)[0], label=p)
        if lines
        else Line2D([], [], color=_style(p)[2], marker=_style(p)[1], linestyle="none", label=p)
        for p in dict.fromkeys(data["phase"].astype(str))
    ]
    fig.legend(handles=handles, loc="outside upper right", ncols=len(handles), fontsize=8)


def _named(
    frame: pd.DataFrame, objective: str, objective_name: str | None, direction: str | None
) -> tuple[str, str | None]:
    """The objective's name and direction for the axes.

    Explicit arguments win; for the `score` column of a `trials_dataframe`,
    its `attrs` (the run's objective, e.g. `val_accuracy`); else the column.
    """
    attrs = frame.attrs if objective == "score" else {}
    return (
        objective_name or attrs.get("objective") or objective,
        direction or attrs.get("direction"),
    )


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


def _use_log(num: pd.Series, sampling: str | None = None) -> bool:
    """Whether to draw `num` on a log axis: as its hyperparameter's declared `sampling`
    (`"log"`: yes; `"linear"`, `"reverse_log"`: no) when known, else when it spans more
    than `_LOG_DECADES` decades. Never with a value <= 0."""
    finite = num[np.isfinite(num)]
    if not len(finite) or finite.min() <= 0:
        return False
    if sampling is not None:
        return sampling == "log"
    return bool(math.log10(finite.max() / finite.min()) > _LOG_DECADES)


def _sampling(frame: pd.DataFrame, column: str) -> str | None:
    """The declared sampling of an `hp_` column (`trials_dataframe`'s attrs), or None."""
    if not column.startswith("hp_"):
        return None
    found = frame.attrs.get("sampling", {}).get(column.removeprefix("hp_"))
    return found if isinstance(found, str) else None


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
