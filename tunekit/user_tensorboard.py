"""Your own `keras.callbacks.TensorBoard` in `callbacks=`: one subfolder per phase.

KerasTuner points each trial's copy of a TensorBoard callback at
`<log_dir>/<trial_id>/execution<k>` (`Tuner._deepcopy_callbacks` and
`_configure_tensorboard_dir`), but trial ids restart in each search, and the
fits after the searches (the finalists, the retrain, the baseline, the final
seeds) received your callback itself: the coarse and fine trials of the same id
shared (and cleared) one folder, and every later fit wrote into `<log_dir>`
itself, its epochs drawn over the last one's. Here each phase gets a copy of
your callback (made the way KerasTuner copies it for a trial: `copy.deepcopy`),
pointed at its own subfolder:

- `<log_dir>/coarse/<trial_id>/execution<k>`, `<log_dir>/fine/...` (the
  searches; KerasTuner's layout below the phase);
- `<log_dir>/finalists/<phase>_<trial_id>/seed<k>`;
- `<log_dir>/final` (the retrain of the chosen configuration);
- `<log_dir>/baseline`, `<log_dir>/final_seeds/seed<k>`.

Your callback object is not changed. A fit that starts from its first epoch
(a step a rerun replaces, a stopped fit, another run's logs in the same
`log_dir`) and a search that starts from its first trial first move what their folder held
to `<log_dir>/replaced/<UTC time>/` (as `tunekit.replacing` does in the run), so
TensorBoard draws each epoch once and nothing is deleted.
"""

from __future__ import annotations

import copy
import itertools
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path

import keras

_logger = logging.getLogger(__name__)

#: Where a fit that starts again moves its folder's earlier logs (as `tunekit.replacing`).
REPLACED = "replaced"

__all__ = ["phase_callbacks", "set_aside_logs"]


def phase_callbacks(
    callbacks: Iterable[keras.callbacks.Callback], *parts: str, fresh: bool = False
) -> list[keras.callbacks.Callback]:
    """`callbacks` with each TensorBoard callback replaced by a copy writing to `log_dir/parts`.

    Args:
        callbacks: The user's callbacks (`CoarseToFine(callbacks=...)`); not changed.
        *parts: The subfolder below each TensorBoard callback's `log_dir`,
            e.g. `("final",)` or `("final_seeds", "seed3")`.
        fresh: Whether the fit starts from its first epoch: an existing
            subfolder (an earlier fit's) is moved to `<log_dir>/replaced/<UTC
            time>/` first. Defaults to `False` (a search: KerasTuner clears a
            retried trial's folder itself; a resumed retrain appends).

    Returns:
        A new list: the other callbacks are the same objects.
    """
    out = []
    for callback in callbacks:
        if not isinstance(callback, keras.callbacks.TensorBoard):
            out.append(callback)
            continue
        base = os.fspath(callback.log_dir)
        try:  # as KerasTuner copies a search's callbacks for each trial
            copied = copy.deepcopy(callback)
        except Exception:  # noqa: BLE001 (e.g. holds a lock): Keras resets its writers in set_model
            copied = copy.copy(callback)
        copied.log_dir = os.path.join(base, *parts)
        out.append(copied)
    if fresh:
        set_aside_logs(callbacks, *parts)
    return out


def set_aside_logs(callbacks: Iterable[keras.callbacks.Callback], *parts: str) -> None:
    """Moves what each TensorBoard callback's `log_dir/parts` holds to
    `<log_dir>/replaced/<UTC time>/parts`, for a fit (or a search) that starts from its
    first epoch (trial); a folder that does not exist or is empty is left alone."""
    for callback in callbacks:
        if isinstance(callback, keras.callbacks.TensorBoard):
            _set_aside(Path(os.fspath(callback.log_dir)), Path(*parts))


def _set_aside(base: Path, relative: Path) -> None:
    folder = base / relative
    if not folder.is_dir() or not any(folder.iterdir()):
        return
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = base / REPLACED / stamp / relative
    for n in itertools.count(1):  # the same fit replaced twice within a second
        if not target.exists():
            break
        target = base / REPLACED / f"{stamp}-{n}" / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(folder, target)
    _logger.warning(
        "The TensorBoard logs of an earlier fit in %s were moved to %s: this fit starts "
        "from its first epoch.",
        folder,
        target,
    )
