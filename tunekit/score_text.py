"""A score as one line of text shows it, readable whatever its scale."""

from __future__ import annotations

import math

__all__ = ["score_text"]


def score_text(value: float) -> str:
    """`value` with 4 decimals (`0.9812`, `1534.2500`), or with 4 significant digits where
    4 decimals would show it as 0 or drop its digits (`3.215e-05`, `0.000512`): a loss or
    an MSE of targets in the thousandths is not `0.0000`. 0, NaN and infinities as
    `f"{value:.4f}"`."""
    number = float(value)
    if number != 0 and math.isfinite(number) and abs(number) < 1e-3:
        return f"{number:.4g}"
    return f"{number:.4f}"
