"""Whether the retrain reproduced the chosen trial, on the validation samples it trained on.

The final model is rebuilt and trained from scratch on train+validation, so it has seen
the validation split: on it, it should score at least what the chosen trial scored on it
unseen. Probes found retrains that did not (a cosine retrain of 2 epochs after a trial of
3: validation accuracy 0.805 in the search, test 0.568; a retrained regression whose
validation MAE rose from 0.557 to 0.968), with no word in the report: its test score is
then the final model's, but not what the search measured. `reproduced_note` says so.
"""

from __future__ import annotations

import math
from typing import Any

from tunekit import _log
from tunekit.data.streams import StreamData
from tunekit.objectives import objective_names
from tunekit.score_text import score_text

__all__ = ["reproduced_note"]

# How much worse than the chosen trial the final model may score on the validation samples
# it trained on before the report says so: a share of the trial's score, and at least this
# much for an objective that is higher-better (an accuracy of 0.98 noted below 0.9604).
_WORSE_SHARE, _WORSE_ABOVE = 0.02, 0.01


def reproduced_note(ctx: Any, model: Any, chosen: Any, final_epochs: Any) -> str | None:
    """The note when the final model scores clearly worse on the validation split (which
    it trained on) than the chosen trial scored on it, else `None`.

    Judged on the objective's own metric (`val_<name>`: Keras's `<name>` of
    `model.evaluate` on the validation split), when the run has a validation split (not
    `cv=K`), one objective, and the model reports it. Worse: below the trial's score by
    more than `max(0.01, 2%)` of it (higher-better), or above it by more than 2% of it
    (lower-better). One evaluation of the validation split.

    Args:
        ctx: The run (`RunContext`): its data, objective, batch size.
        model: The final model, as saved.
        chosen: The chosen trial (its `score`).
        final_epochs: The epochs the retrain trained (for the note).
    """
    names = objective_names(ctx.objective)
    score = getattr(chosen, "score", None)
    if len(names) != 1 or not names[0].startswith("val_") or getattr(ctx, "cv", 1) > 1:
        return None
    if not isinstance(score, int | float) or not math.isfinite(score):
        return None
    metric, data = names[0].removeprefix("val_"), ctx.data
    try:
        if isinstance(data, StreamData):
            found = model.evaluate(data.validation, verbose=0, return_dict=True)
        else:
            if not len(data.y_val):
                return None
            targets = data.model_targets(data.y_val)
            found = model.evaluate(
                data.x_val, targets, batch_size=ctx.batch_size, verbose=0, return_dict=True
            )
        value = float(found[metric])
    except Exception:  # noqa: BLE001 - a model or metric this cannot read: nothing said
        return None
    margin = _WORSE_SHARE * abs(score)
    higher = ctx.objective.direction == "max"
    worse = value < score - max(_WORSE_ABOVE, margin) if higher else value > score + margin
    if not worse:
        return None
    return (
        f"The final model scores {names[0]} {score_text(value)} on the validation split, "
        f"which it trained on, {'below' if higher else 'above'} the chosen trial's "
        f"{score_text(score)} on it unseen: the retrain ({_log.count(final_epochs, 'epoch')}) "
        "did not reproduce the trial, so this test score is the final model's but not what the "
        "search measured. Retrain longer (--final-epochs / final_epochs=) or with "
        "final_schedule='constant' (--final-schedule constant), and look at the retrain's "
        "curves in TensorBoard."
    )
