"""The top of `report.md`: what was chosen, the main plots inline, links, how to reproduce.

Links are relative to the run folder, so they work on a code host, in a
Markdown preview and in a browser opened in the run folder. So are the paths
`report.json` keeps (`plots`; `paths_relative_to: "run_dir"`): the folder can be
moved. `relocate_markdown` gives `report.md` for where its folder is now (its
title and "Reproduce" section); `refresh_location` rewrites both files so.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePath
from typing import Any

from tunekit import _io
from tunekit.own_loops import epoch_budget_note
from tunekit.report_weights import shown
from tunekit.reproduce import relocated
from tunekit.results import format_value
from tunekit.score_text import score_text
from tunekit.trial_names import chosen_name

__all__ = [
    "PHASE_KEYS",
    "phase_rows",
    "refresh_location",
    "relative_paths",
    "relocate_markdown",
    "reproduce_markdown",
    "run_location",
    "space_grew_note",
    "space_growth_lines",
    "top_markdown",
]

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


def _link(path: str | os.PathLike[str], run_dir: str | os.PathLike[str]) -> str:
    """`path` relative to the run folder, with `/` (a Markdown link from report.md)."""
    return PurePath(os.path.relpath(path, run_dir)).as_posix()


def run_location(run_dir: str | os.PathLike[str]) -> dict[str, str]:
    """`report.json`'s `run_dir` (as given), `run_dir_absolute` and `paths_relative_to`."""
    return {
        "run_dir": str(run_dir),
        "run_dir_absolute": os.path.abspath(run_dir),
        "paths_relative_to": "run_dir",
    }


def relative_paths(
    paths: Mapping[str, str | os.PathLike[str]], run_dir: str | os.PathLike[str]
) -> dict[str, str]:
    """`{name: path}` with each path relative to the run folder `run_dir` (with `/`)."""
    return {name: _link(path, run_dir) for name, path in paths.items()}


def _plot_links(report: Mapping[str, Any]) -> dict[str, str]:
    """`report["plots"]` relative to the run folder; an older report's paths (relative to
    the folder the run was started from, under its `run_dir`) converted."""
    written = report.get("plots") or {}
    if report.get("paths_relative_to") == "run_dir":
        return dict(written)
    return relative_paths(written, report["run_dir"])


def top_markdown(report: dict[str, Any]) -> list[str]:
    """What was chosen, the main plots inline, links to every file, and how to reproduce it."""
    best = report["best"]
    metrics = ", ".join(
        f"{shown(k, report)} {score_text(v)}" for k, v in report["test_metrics"].items()
    )
    plots_written = _plot_links(report)
    inline = [name for name in _INLINE_PLOTS if name in plots_written][:3]
    lines = [
        f"**Chosen:** {chosen_name(report['run_dir'], best['phase'], best['trial_id'])}"
        + (f"; test {metrics}" if metrics else "")
        + ".",
        "",
        # Validation or test splits lacking classes: the choice or the test score is weaker.
        *[
            line
            for note in report.get("split_notes") or ()
            for line in (f"> **Warning:** {note}", "")
        ],
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
    return lines + reproduce_markdown(report.get("command"))


def reproduce_markdown(command: Mapping[str, Any] | None) -> list[str]:
    """report.md's "Reproduce" section for `report.json`'s `command` (none: no section)."""
    lines: list[str] = []
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
                placeholder = " --data DATA " in f"{command['cli_equivalent']} "
                lines += [
                    "The same settings on the command line"
                    + (
                        " (DATA: this run's data, its splits as they are, saved with "
                        "`tunekit.data.save_npz(data, 'data.npz')`: `--data data.npz`)"
                        if placeholder
                        else ""
                    )
                    + ":",
                    "",
                    "```sh",
                    command["cli_equivalent"],
                    "```",
                    "",
                ]
            else:
                why = command.get("no_cli_equivalent")
                lines += [
                    "There is no equivalent command line: "
                    + (
                        f"{why}."
                        if why
                        else "it has no option for something this run uses (a hypermodel or "
                        "callbacks defined where the command line cannot name them, several "
                        "objectives, ...)."
                    ),
                    "",
                ]
    return lines


_TITLE = "# tunekit run: "


def relocate_markdown(text: str, report: Mapping[str, Any]) -> str:
    """`report.md`'s `text` with the title and "Reproduce" section of `report`.

    `report`: its `report.json`, `tunekit.reproduce.relocated` to where the
    folder is now. The rest of the text is left as it is (its links are
    relative to the run folder).
    """
    lines = text.split("\n")
    if lines and lines[0].startswith(_TITLE):
        lines[0] = _TITLE + str(report["run_dir"])
    if "## Reproduce" in lines:
        start = lines.index("## Reproduce")
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        lines[start:end] = reproduce_markdown(report.get("command"))
    return "\n".join(lines)


def refresh_location(run_dir: Path) -> None:
    """Rewrites `report.json` and `report.md` in `run_dir` for where the folder is now.

    For a rerun of a finished run (only reported again), whose folder may have
    been moved: `run_dir`, the command that reproduces it and the plot paths
    (relative to the run folder) as a report written now would have them. The
    command is the manifest's record of the command that ran last, when there
    is one. Missing or unreadable files are left alone (the rerun's evaluate
    step writes them again when they are missing).
    """
    from tunekit.errors import StateFileError
    from tunekit.reproduce import COMMAND_KEY, command_record

    try:
        report = _io.read_json(run_dir / "report.json", what="report")
        manifest = _io.read_json(run_dir / "manifest.json", what="run manifest")
        text = (run_dir / "report.md").read_text(encoding="utf-8")
    except (OSError, ValueError, StateFileError):
        return
    if not isinstance(report, dict) or not isinstance(report.get("run_dir"), str):
        return
    report["plots"] = _plot_links(report)
    report["paths_relative_to"] = "run_dir"
    recorded = manifest.get(COMMAND_KEY) if isinstance(manifest, dict) else None
    if isinstance(recorded, dict) and isinstance(recorded.get("argv"), list):
        report["command"] = command_record(recorded)  # the command that ran last
        if isinstance(recorded.get("run_dir"), str):  # where that command put the run
            report["run_dir_absolute"] = recorded["run_dir"]
    report = relocated(report, run_dir)
    _io.write_json(run_dir / "report.json", report)
    _io.write_text(run_dir / "report.md", relocate_markdown(text, report))


def space_grew_note(
    phase: str,
    names: Sequence[str],
    drawn_without: Sequence[str] = (),
    *,
    command_line: bool = False,
) -> str:
    """Why a parallel phase whose space grew may not be one process's trials, and the fix
    (one worker: `workers=1`, or `--workers 1` for a run started on the `command_line`).

    KerasTuner draws a trial's values from the space known when the trial is
    handed out; a name first declared in the hypermodel's `fit` or in a branch
    of `build` the default configuration does not take joins the space when a
    trial that declared it ends. One process hands out the next trial only
    then; a chief hands out trials while others run, so trials drawn before the
    name was known (`drawn_without`, each named as `tunekit.trial_names` does, e.g.
    `"coarse trial 3 (id 4)"`, `"coarse trial (id 5)"` while it runs) took its default
    and the later random draws shift.
    """
    listed = ", ".join(repr(name) for name in names)
    before = (
        f"; {', '.join(drawn_without)} drawn while an earlier trial still ran"
        if drawn_without
        else ""
    )
    return (
        f"[{phase}] the search space grew during the parallel search: {listed} "
        f"appeared only when a trial declared {'it' if len(names) == 1 else 'them'} (in fit, "
        f"or in a branch of build the default configuration does not take){before}. Trials "
        "drawn before they were known may differ from one process's (other values, other "
        "scores): this run is not exactly the one-process run. For exactness, declare "
        "every hyperparameter in build, whatever the branch (e.g. hp.Choice(...) at the "
        "top of build, also for one used only in fit), or run with one worker "
        f"({'--workers 1' if command_line else 'workers=1'})."
    )


def space_growth_lines(report: dict[str, Any]) -> list[str]:
    """report.md's lines on phases whose space grew while trials ran in parallel, and on
    Hyperband trials whose fit trained another number of epochs than given
    (`epoch_budget_ignored`, trial ids: see `tunekit.own_loops`)."""
    grown = [(p, v.get("space_grew")) for p, v in report["phases"].items()]
    ignored = [(p, v.get("epoch_budget_ignored")) for p, v in report["phases"].items()]
    cli = (report.get("command") or {}).get("interface") == "cli"  # its fixes name flags
    return [
        *(
            line
            for p, names in grown
            if names
            for line in ("", space_grew_note(p, names, command_line=cli))
        ),
        *(
            line
            for p, ids in ignored
            if ids
            for line in ("", epoch_budget_note(p, ids, command_line=cli))
        ),
    ]


# More of a phase's manifest record in report.json's `phases`; `all_skipped`: a fine
# phase's trials, each skipped by the hypermodel's FailedTrialError (`tunekit.steps.fine_skips`).
PHASE_KEYS = ("space_grew", "epoch_budget_ignored", "all_skipped")


def phase_rows(report: Mapping[str, Any]) -> list[str]:
    """The rows of `report.md`'s Phases table: trials (failed), best trial, best score, seconds.

    A fine phase whose every trial the hypermodel skipped (`all_skipped`; its
    FailedTrialError) has no best: its row says so, with `-` for the best.
    """
    rows = ["| phase | trials | best trial (id) | best score | seconds |", "|---|---|---|---|---|"]
    for p, v in report["phases"].items():
        failed = f" ({v['failed']} failed)" if v.get("failed") else ""
        if v.get("all_skipped"):
            best = ", all skipped by the hypermodel's FailedTrialError | - | -"
        else:
            best = f" | id {v['best_trial_id']} | {score_text(v['best_score'])}"
        rows.append(f"| {p} | {v['trials']}{failed}{best} | {v['seconds']} |")
    return rows
