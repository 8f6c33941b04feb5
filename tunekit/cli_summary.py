"""The command line's closing summary: phases, choice, narrowing, test metrics, time.

Read from the `RunResult` and the run's `report.json` (intervals, the
baseline's verdict, the backend), so it says what the files say. A run that
failed closes with its error and, when a rerun resumes it, the command
(`failed_run`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tunekit import _log
from tunekit.errors import NoCompletedTrialsError, TooFewTrialsError, TrialsFailedError
from tunekit.hypermodel_options import augmentation_text
from tunekit.regression import OWN_PREFIX
from tunekit.reproduce import resume_command
from tunekit.score_text import score_text
from tunekit.trial_names import chosen_name

__all__ = ["failed_run", "final_seeds_line", "narrowing_line", "opening", "summary"]


def failed_run(error: BaseException, message: str, argv: list[str], prog: str) -> str:
    """What the command line says after `run.run()` raised `error` (after "the run failed: ").

    Args:
        error: The error (any `Exception` but KerasTuner's fatal ones and `UsageError`).
        message: Its message as the command line says it (`cli_parser.cli_message`).
        argv: The command line's arguments, as typed.
        prog: The program as typed (`tunekit.reproduce.typed_program`).

    Returns:
        `message` alone for an error that says what a rerun does
        (`NoCompletedTrialsError`, `TooFewTrialsError` but for the command that resumes
        it with twice the coarse trials when more may help, a `TrialsFailedError` of a
        phase with no completed trial, `restarts`, or that no rerun gets past,
        `starts_over`); for another `TrialsFailedError`, the command that resumes it
        allowing twice the failures in a row (a fixed hypermodel or data starts over,
        as its message says), or, its phase's budget used up, the command as it is;
        otherwise `"<Type>: <message>\nFix the cause and resume with:\n  <resume>"`.
    """
    resume = resume_command(argv, prog)
    if isinstance(error, TooFewTrialsError) and error.coarse_trials:  # more trials may help
        go_on = resume_command(
            with_option(argv, "--coarse-trials", str(2 * error.coarse_trials)), prog
        )
        return f"{message}\nTo go on with more coarse trials, resume with:\n  {go_on}"
    if isinstance(error, (NoCompletedTrialsError, TooFewTrialsError)):
        return message  # a phase with no completed trial starts again; too few: start over
    named = f"{type(error).__name__}: {message}"
    if isinstance(error, TrialsFailedError):
        if error.restarts or error.starts_over:  # a rerun starts it again, or cannot help
            return named
        if error.trials_left == 0:  # the budget used: a rerun goes on with what completed
            return f"{named}\nResume with:\n  {resume}"
        if error.max_failed:
            more = with_option(argv, "--max-consecutive-failed-trials", str(2 * error.max_failed))
            resume = resume_command(more, prog)
        return f"{named}\nTo allow more failures in a row, resume with:\n  {resume}"
    return f"{named}\nFix the cause and resume with:\n  {resume}"


def with_option(argv: list[str], flag: str, value: str) -> list[str]:
    """`argv` with `flag value` in place of the `flag` it holds, for a command a message gives.

    The flag is found as typed in full (`--flag value`, `--flag=value`) or
    shortened as argparse takes it (`--max-consec 2`): a command that only added
    `flag value` to what the user typed would be refused as giving it twice.
    """
    kept: list[str] = []
    skip = False
    for word in argv:
        if skip:
            skip = False
            continue
        name = word.split("=", 1)[0]
        if name.startswith("--") and len(name) > 2 and flag.startswith(name):
            skip = "=" not in word  # its value is the next word
            continue
        kept.append(word)
    return [*kept, flag, value]


def more_coarse_trials(manifest: dict[str, Any], run_dir: Path, errors: list[str]) -> str | None:
    """The command that resumes a run stopped for too few completed coarse trials with twice
    its coarse budget (`tunekit.replacing.adopt_larger_budgets`), when its error says more
    trials may help (not when every configuration of the space was tried)."""
    from tunekit.reproduce import recorded_resume_command

    budget = (manifest.get("config") or {}).get("coarse_trials")
    said = any(
        e.startswith("narrow: TooFewTrialsError") and "a larger --coarse-trials" in e
        for e in errors
    )
    command = manifest.get("command")
    if not (said and isinstance(budget, int) and isinstance(command, dict)):
        return None
    argv = with_option(
        [str(a) for a in command.get("argv", [])], "--coarse-trials", str(2 * budget)
    )
    return recorded_resume_command({**manifest, "command": {**command, "argv": argv}}, run_dir)


def opening(run: Any, data: Any, spec: str) -> str:
    """The lines printed before the run starts: its folder, its data and its hypermodel.

    The hypermodel line names `--hypermodel` and, for `toonvision-cnn`, whether
    its augmentation is on (`--augment`) or off (the default), as recorded
    in the run's `config()["hypermodel"]`.
    """
    augmentation = augmentation_text(run.config()["hypermodel"])
    return (
        f"Run folder: {run.run_dir}\nData: {data.summary()}; x scaling: {data.scaling}\n"
        f"Hypermodel: {spec}" + (f"; {augmentation}" if augmentation else "")
    )


def narrowing_line(narrowed: Any) -> str:
    """How many hyperparameters the narrowing changed; the table itself was printed before."""
    changes = getattr(narrowed, "changes", None)
    if changes is None:  # not a NarrowedSpace: show it as it is
        return f"Narrowing:\n{narrowed}"
    if changes and all(c.rule == "chance" for c in changes):
        return (
            "Narrowing: none, the whole space was kept (too few coarse trials beat chance); "
            "see narrowed_space.json and report.md"
        )
    changed = [c.name for c in changes if c.before != c.after]
    shown = ", ".join(changed[:6]) + (", ..." if len(changed) > 6 else "")
    # The narrow step's note when it left coarse trials at chance out (`steps.narrow.LEFT_OUT`;
    # not imported: that module loads KerasTuner, and this one serves `--help` and `show`).
    left_out = "no better than chance" in (getattr(narrowed, "top_note", None) or "")
    return (
        f"Narrowing: {len(changed)} of {len(changes)} hyperparameters narrowed"
        + (f" ({shown})" if changed else "")
        + (f", from the {narrowed.top} coarse trials that beat chance" if left_out else "")
        + "; before -> after in narrowed_space.json and report.md"
    )


def _phase_text(phase: str, best: dict[str, Any], listed: dict[str, Any]) -> str:
    """`"fine best 0.9712 (id 3), 1 trial failed"` (KerasTuner's id, as in the progress line
    and the trial's folder `trial_3`), from `RunResult.phase_bests` and
    report.json's `phases`; a phase the hypermodel skipped whole (no best) says so."""
    failed = f", {_log.count(n, 'trial')} failed" if (n := listed.get("failed")) else ""
    if best["score"] is None:  # every fine trial skipped (`tunekit.steps.fine_skips`)
        ran = listed.get("all_skipped") or listed.get("trials") or 0
        return (
            f"{phase}: none of its {_log.count(ran, 'trial')} completed, each skipped by the "
            "hypermodel's FailedTrialError"
        )
    rejected = (
        f"; {best['rejected_oversized']} larger than --max-model-size rejected"
        if "rejected_oversized" in best
        else ""
    )
    return f"{phase} best {score_text(best['score'])} (id {best['trial_id']}{rejected}){failed}"


def summary(result: Any, session_seconds: float | None = None) -> str:
    """The closing summary printed by the command line.

    Args:
        result: The `RunResult`.
        session_seconds: Wall time of this process so far (start-up, data
            loading and probe included), or None to leave it out.
    """
    try:  # what report.json adds: the backend, intervals and the baseline's verdict
        report = json.loads((Path(result.run_dir) / "report.json").read_text())
    except (OSError, ValueError):
        report = {}
    listed = report.get("phases") or {}
    phases = ", ".join(
        _phase_text(p, v, listed.get(p) or {}) for p, v in result.phase_bests.items()
    )
    intervals = report.get("test_intervals") or {}

    def test_value(name: str, value: float) -> str:
        found = intervals.get(name)
        if not found or found["interval"] is None:  # none: the Test line says why once
            return f"{name} {score_text(value)}"
        low, high = found["interval"]
        shown = f"[{score_text(low)}, {score_text(high)}]"
        return f"{name} {score_text(value)} (95% {found['method']} {shown})"

    tests = ", ".join(test_value(k, v) for k, v in result.test_metrics.items())
    tests += "".join(
        sorted({f" (intervals {f['method']})" for f in intervals.values() if f["interval"] is None})
    )
    baseline = (report.get("baseline") or {}).get("verdict")
    try:  # the objective's metric leads the final seeds' line when they measured it
        manifest = json.loads((Path(result.run_dir) / "manifest.json").read_text())
        objective = str(manifest["config"]["objective"])
    except (OSError, ValueError, KeyError, TypeError):
        objective = None
    seeds = final_seeds_line(report.get("final_seeds"), objective)
    return "\n".join(
        [
            "",
            "== Summary ==",
            f"Phases: {phases}",
            f"Chosen: {chosen_name(result.run_dir, result.best_phase, result.best_trial_id)}: "
            f"{result.selection}",
            narrowing_line(result.narrowed),
            f"Final model: {_log.count(result.final_epochs, 'epoch')} on train+validation"
            + (f" ({rule})" if (rule := report.get("best", {}).get("final_epochs_rule")) else ""),
            *([note] if (note := report.get("best", {}).get("retrain_note")) else []),
            f"Test: {tests}",
            *[report[k] for k in ("test_note", "test_batches_note") if report.get(k)],
            *[n for k in ("x_note", "reproduced_note") if (n := report.get("best", {}).get(k))],
            *([f"Baseline: {baseline}"] if baseline else []),
            *([seeds] if seeds else []),
            *([f"Backend: {report['backend']}"] if report.get("backend") else []),
            "Time: "
            + ", ".join(f"{k} {v:.0f}s" for k, v in result.timings.items())
            + (
                ""
                if session_seconds is None
                else f"; this command {session_seconds:.0f}s in all (start-up, data, probe "
                "included"
                # A resumed run: its steps' times count the sessions before this one too.
                + (
                    "; the steps' times include the earlier sessions of this run)"
                    if sum(result.timings.values()) > session_seconds
                    else ")"
                )
            ),
            f"Artifacts in {result.run_dir}: " + ", ".join(sorted(result.artifacts)),
        ]
    )


def final_seeds_line(section: dict[str, Any] | None, objective: str | None = None) -> str | None:
    """`report.json`'s final seeds in one line: the headline metric's mean, std and values.

    The headline metric is the objective's (`objective`, e.g. `"val_mae"`: `mae`) when
    the seeds measured it, else `accuracy`, else `r2`, else `loss`; beside it the mean of
    tunekit's `sklearn_<name>` when the seeds have one, and of `balanced_accuracy` (its
    `sklearn_` one beside a model's own) when the classes were weighed (the quantity the
    baseline's verdict is then decided on). None when the run had one seed.
    """
    if not section:
        return None
    summary = section["summary"]
    tuned = (objective or "").removeprefix("val_")
    name = next((m for m in (tuned, "accuracy", "r2", "loss") if m and m in summary), None)
    if name is None:
        return None
    value = summary[name]
    std = "n/a" if value["std"] is None else score_text(value["std"])
    per = ", ".join(score_text(m[name]) for m in section["per_seed"].values() if name in m)
    # tunekit's value beside the model's metric of the name; balanced accuracy (weighed classes)
    beside = dict.fromkeys(
        [OWN_PREFIX + name, "balanced_accuracy", OWN_PREFIX + "balanced_accuracy"]
    )
    beside.pop(name, None)
    return (
        f"Final seeds: {name} mean {score_text(value['mean'])}, std {std} over "
        f"{_log.count(value['n'], 'seed')} ({per})"
        + "".join(f"; {m} mean {score_text(summary[m]['mean'])}" for m in beside if m in summary)
        + f"; the saved model is seed {section['saved_seed']}'s"
    )
