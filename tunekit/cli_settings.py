"""The `CoarseToFine` keyword arguments the command line's options give (`workflow_kwargs`).

Split from `tunekit.coarse_to_fine`, which runs with them, so that
`tunekit.cli_equivalence` can read a command back into the settings it runs
with (a Python run's "same settings on the command line"). Imports nothing
from Keras.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["QUICK", "WORKFLOW_OPTIONS", "default_project_name", "workflow_kwargs"]

QUICK = dict(coarse_trials=4, coarse_epochs=1, fine_trials=4, max_epochs=3, final_epochs=2)
# The options passed on to `CoarseToFine` as they are, when given.
WORKFLOW_OPTIONS = (
    "coarse_trials",
    "coarse_epochs",
    "fine_trials",
    "max_epochs",
    "factor",
    "top",
    "margin",
    "final_epochs",
    "final_schedule",
    "batch_size",
    "executions_per_trial",
    "max_model_size",
    "max_retries_per_trial",
    "max_consecutive_failed_trials",
    "class_weight",
    "cv",
    "finalists",
    "finalist_seeds",
    "final_seeds",
    "progress",
    "trials_per_process",
)


def default_project_name(args: argparse.Namespace) -> str:
    """`<hypermodel>[-<data>][-quick]`: another --data or --quick gets its own run folder.

    E.g. `mnist-dense`, `mnist-dense-rivers` for `--data rivers.npz`,
    `mnist-dense-quick`; so a rerun on other data or the full budget after a
    quick look is not refused as "another configuration".
    """
    name = args.hypermodel.replace(":", "-")
    if args.data is not None:
        data = Path(args.data).resolve()  # `.` or `..` have no name of their own
        name += "-" + ((data.name or "root") if data.is_dir() else data.stem)
    return f"{name}-quick" if args.quick else name


def workflow_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """`CoarseToFine`'s keyword arguments from parsed options (`tunekit.cli_parser`).

    Options not given are left out (`CoarseToFine`'s defaults apply), but for
    `--quick`'s budget; `objective` is `--objective` as given (None: the task's
    default), `fine_tuner` `--fine-tuner` as given (None: hyperband), `verbose` 0
    under `--quiet`.
    """
    kwargs = {n: getattr(args, n) for n in WORKFLOW_OPTIONS if getattr(args, n) is not None}
    if args.quick:  # its fine_trials= only for the Bayesian search that uses them
        quick = {
            k: v for k, v in QUICK.items() if k != "fine_trials" or args.fine_tuner == "bayesian"
        }
        kwargs = {**quick, **kwargs}
    return dict(
        kwargs,
        defaults_first=args.defaults_first,
        baseline=args.baseline,
        fine_tuner=args.fine_tuner,
        objective=args.objective,
        seed=args.seed,
        directory=args.directory,
        overwrite=args.overwrite,
        project_name=(
            default_project_name(args) if args.project_name is None else args.project_name
        ),
        verbose=0 if args.quiet else 1,
    )
