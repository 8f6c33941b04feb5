"""The top of `report.md`: what was chosen, the main plots inline, links, how to reproduce.

Links are relative to the run folder, so they work on a code host, in a
Markdown preview and in a browser opened in the run folder.
"""

from __future__ import annotations

import os
import shlex
from pathlib import PurePath
from typing import Any

from tunekit.results import format_value

__all__ = ["top_markdown"]

# The plots shown inline at the top of report.md, most useful first (the first three
# the run wrote); every plot is linked below them.
_INLINE_PLOTS = (
    "best_so_far",
    "narrowing",
    "confusion_matrix",
    "predicted_vs_true",
    "parallel_coordinates",
    "score_vs_hyperparameters",
    "training_curves",
    "residuals",
    "score_vs_params",
)
_PLOT_TITLES = {
    "best_so_far": "Best score so far, trial by trial",
    "narrowing": "The search space narrowed between the phases",
    "confusion_matrix": "Confusion matrix on the test set",
    "predicted_vs_true": "Predicted against true values on the test set",
    "residuals": "Residuals on the test set",
    "parallel_coordinates": "Every trial's hyperparameters and score",
    "score_vs_hyperparameters": "Score against each hyperparameter",
    "score_vs_params": "Score against parameter count",
    "training_curves": "The final retrain's training curves",
}


def _link(path: str, run_dir: str) -> str:
    """`path` relative to the run folder, with `/` (a Markdown link from report.md)."""
    return PurePath(os.path.relpath(path, run_dir)).as_posix()


def top_markdown(report: dict[str, Any]) -> list[str]:
    """What was chosen, the main plots inline, links to every file, and how to reproduce it."""
    best, run_dir = report["best"], report["run_dir"]
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in report["test_metrics"].items())
    plots_written = {name: _link(path, run_dir) for name, path in report.get("plots", {}).items()}
    inline = [name for name in _INLINE_PLOTS if name in plots_written][:3]
    lines = [
        f"**Chosen:** {best['phase']} trial {best['trial_id']}"
        + (f"; test {metrics}" if metrics else "")
        + ".",
        "",
        "## Chosen hyperparameters",
        "",
        "| hyperparameter | value |",
        "|---|---|",
        *[f"| {k} | {format_value(v)} |" for k, v in best.get("hyperparameters", {}).items()],
        "",
    ]
    for name in inline:
        lines += [f"![{_PLOT_TITLES.get(name, name)}]({plots_written[name]})", ""]
    if plots_written:
        lines += [
            "Plots: " + " · ".join(f"[{name}]({link})" for name, link in plots_written.items()),
            "",
        ]
    files = ("trials.csv", "report.json", "best_hyperparameters.json", "best_model.keras")
    lines += [
        "Files: " + " · ".join(f"[{name}]({name})" for name in files),
        "",
        # Relative to the run folder, like the links: right wherever the folder is read or
        # moved to (the path the run was started with holds only from the folder it started in).
        "Dashboard (TensorBoard: the HParams tab lists every trial of both phases), "
        "from this run folder:",
        "",
        "```sh",
        "tensorboard --logdir tensorboard",
        "```",
        "",
    ]
    command = report.get("command")
    if command:
        lines += ["## Reproduce", ""]
        if command["interface"] == "cli":
            where = f" (from the folder `{command['cwd']}`)" if command.get("cwd") else ""
            # `cd` first: its relative paths (--data, --directory) hold from that folder only,
            # so pasted anywhere else it would start another run instead of resuming this one.
            cd = [f"cd {shlex.quote(command['cwd'])}"] if command.get("cwd") else []
            lines += [
                f"This run's command line, as its last session ran it{where}:",
                "",
                "```sh",
                *cd,
                command["reproduce"],
                "```",
                "",
                (
                    "Rerun as it is, it deletes this run folder and trains it all again "
                    "(`--overwrite`); add `--project-name NEW` to keep this run."
                    if "--overwrite" in command.get("argv", ())
                    else ("Rerun from anywhere (it goes to that folder first)" if cd else "Rerun")
                    + ", it resumes (a finished run is only reported again); add `--overwrite` to "
                    "train it all again, or `--project-name NEW` to keep this run."
                ),
                "",
            ]
        else:
            lines += [
                "This run was started from Python (`hypermodel` and `data` are your objects):",
                "",
                "```python",
                command["python_call"],
                "```",
                "",
            ]
            if command.get("cli_equivalent"):
                lines += [
                    "The same settings on the command line (DATA: this data saved as an .npz "
                    "or a .csv file; the hypermodel built as `--hypermodel` builds it):",
                    "",
                    "```sh",
                    command["cli_equivalent"],
                    "```",
                    "",
                ]
            else:
                lines += [
                    "There is no equivalent command line: it has no option for something "
                    "this run uses (a hypermodel or callbacks defined where the command line "
                    "cannot name them, several objectives, ...).",
                    "",
                ]
    return lines
