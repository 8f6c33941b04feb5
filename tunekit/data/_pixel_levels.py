"""uint8 inputs that tunekit divides by 255 as pixels but that hold only a few levels."""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["warn_few_levels"]

#: Below this maximum, uint8 inputs are unlikely to be 0..255 pixels.
FEW_LEVELS = 64


def warn_few_levels(x: np.ndarray, name: str) -> None:
    """Warns when uint8 `x` of the data `name` (which `load_npz` divides by 255, as
    pixels) reaches only a maximum below `FEW_LEVELS` (probe B: `load_digits().images`
    saved as uint8 0..16 trained on [0, 0.063] with no word, and a user scoring
    `best_model.keras` on the raw values got another accuracy than the report's)."""
    top = int(x.max()) if x.dtype == np.uint8 and x.size else 255
    if top < FEW_LEVELS:
        warnings.warn(
            f"The data {name!r}: its x is uint8, which tunekit divides by 255 as 0..255 pixels, "
            f"but its values reach only {top}, so the model trains on [0, {top / 255:.3f}] "
            "and best_model.keras takes x / 255. If they are not 0..255 pixels, save x as "
            "float32, which is used as given.",
            UserWarning,
            stacklevel=4,
        )
