"""Test predictions that are not numbers: no score is made from them.

A model can compute NaN or infinity from finite inputs (`keras.ops.log` of an input that
is 0 in the test set only, a division by one, weights that overflow). Keras's `evaluate`
and an argmax count a NaN row as class 0, and `NaN > 0.5` is class 0 too: a probe's
`load_digits` run reported 0.9667 test accuracy (a Wilson interval and a confusion matrix
with it, exit 0) where 5 of its 60 test rows were NaN, 0.8833 counting them wrong. A
regression's metrics cannot be computed on them at all. Refused, naming the rows, before
any score or report is written.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tunekit.errors import PredictionsNotFiniteError

__all__ = ["FINAL", "refuse_nonfinite_predictions"]

#: The model `refuse_nonfinite_predictions` names unless told another (`about`).
FINAL = "The final model (best_model.keras)"


def refuse_nonfinite_predictions(outputs: Any, stream: bool = False) -> None:
    """Refuses test outputs (`(n, ...)`, one output's) holding NaN or infinite values.

    Args:
        outputs: The model's test outputs, in the test set's order.
        stream: Whether the test set is a stream (its rows are counted in the order its
            batches came).

    Raises:
        PredictionsNotFiniteError (a `ValueError`): Naming how many samples and which rows,
            why no score is made, and what to change.
    """
    values = np.asarray(outputs)
    if values.dtype.kind not in "fc" or not values.size or values.ndim < 1:
        return
    bad = np.flatnonzero(~np.isfinite(values.reshape(len(values), -1)).all(axis=1))
    if not bad.size:
        return
    rows = ", ".join(str(int(i)) for i in bad[:5]) + (", ..." if bad.size > 5 else "")
    order = " (in the order its batches came)" if stream else ""

    def said(what: str) -> str:
        return (
            f"{what} predicts NaN or infinite values for {bad.size} of {len(values)} test "
            f"samples (rows {rows}{order}). tunekit will not score them: Keras's metrics and "
            "an argmax count a NaN row as class 0, and a regression metric cannot be "
            "computed on it. The test inputs are finite (checked when the data was made), "
            "so the model computes these values itself: a keras.ops.log, sqrt or division "
            "of an input that is 0 or negative there, or weights that overflow. Make the "
            "model finite on such inputs (keras.ops.log1p, an epsilon, clipping) and run it "
            "as a new run; its model file is kept for you to look at."
        )

    raise PredictionsNotFiniteError(said(FINAL), said)
