"""Plots of a run: trials, narrowing, and the final model, as matplotlib Figures.

Three groups, one module each: trials (`tunekit.plots.trials`), the narrowed
space (`tunekit.plots.narrowed`), the final model (`tunekit.plots.final_model`);
every plot is importable from `tunekit.plots` itself.

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

import os
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from matplotlib.figure import Figure

from tunekit import _io
from tunekit.plots._common import _NoDataError, figure_to_png
from tunekit.plots.final_model import (
    confusion_matrix,
    predicted_vs_true,
    residuals,
    training_curves,
)
from tunekit.plots.narrowed import narrowing
from tunekit.plots.trials import (
    best_so_far,
    best_so_far_table,
    parallel_coordinates,
    score_vs_hyperparameters,
    score_vs_params,
)

if TYPE_CHECKING:
    from tunekit.narrowing import NarrowedSpace

__all__ = [
    "parallel_coordinates",
    "score_vs_hyperparameters",
    "best_so_far",
    "best_so_far_table",
    "narrowing",
    "score_vs_params",
    "confusion_matrix",
    "predicted_vs_true",
    "residuals",
    "training_curves",
    "figure_to_png",
    "save_run_plots",
]


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
    regression: bool = False,
) -> dict[str, str]:
    """Saves the run's plots as PNGs in `out_dir`, skipping those without data.

    Files: `parallel_coordinates.png`, `score_vs_hyperparameters.png`,
    `best_so_far.png`, `narrowing.png`, `score_vs_params.png`,
    `confusion_matrix.png` (or, with `regression=True`, `predicted_vs_true.png`
    and `residuals.png` of `y_true` / `y_pred`), `training_curves.png`. Each is
    written atomically.
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
    history = getattr(history, "history", history)  # a keras `History` works too
    named: dict[str, Any] = {"objective_name": objective_name, "direction": direction}
    # (file name, how to draw it); None: its data was not given.
    builders: list[tuple[str, Callable[[], Figure] | None]] = [
        ("parallel_coordinates", lambda: parallel_coordinates(frame, **named)),
        ("score_vs_hyperparameters", lambda: score_vs_hyperparameters(frame, **named)),
        ("best_so_far", lambda: best_so_far(frame, **named)),
        ("narrowing", None if narrowed is None else partial(narrowing, narrowed)),
        ("score_vs_params", lambda: score_vs_params(frame, **named)),
        *(
            [
                ("predicted_vs_true", partial(predicted_vs_true, y_true, y_pred)),
                ("residuals", partial(residuals, y_true, y_pred)),
            ]
            if regression and y_true is not None and y_pred is not None
            else []
        ),
        (
            "confusion_matrix",
            None
            if regression or y_true is None or y_pred is None
            else partial(confusion_matrix, y_true, y_pred, class_names),
        ),
        ("training_curves", partial(training_curves, history) if history else None),
    ]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, str] = {}
    for name, build in builders:
        if build is None:  # no data given for it
            continue
        try:
            fig = build()
        except _NoDataError:
            continue
        path = out_dir / f"{name}.png"
        _io.atomic_write(path, partial(_save_png, fig))
        paths[name] = str(path)
    return paths


def _save_png(fig: Figure, path: str) -> None:
    fig.savefig(path, format="png", dpi=100)
