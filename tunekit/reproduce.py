"""The command that reproduces a run, for `report.json` and `report.md`.

A command-line run records how it was called (`tunekit.coarse_to_fine` writes
`{"argv", "cwd"}` under the manifest's `command` key): its command is
`python -m tunekit.coarse_to_fine` with those arguments as given, shell-quoted.
A Python run gets its `CoarseToFine(...)` call with the non-default keyword
arguments, and the command line with the same settings when there is one.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from typing import Any

from tunekit.objectives import objective_parts
from tunekit.params import DEFAULT_OBJECTIVES, PARAMETERS

__all__ = [
    "CLI_PROGRAM",
    "COMMAND_KEY",
    "cli_equivalent",
    "command_section",
    "python_call",
    "recorded_resume_command",
    "resume_command",
    "typed_program",
]

CLI_PROGRAM = "python -m tunekit.coarse_to_fine"


def typed_program(prog: str = CLI_PROGRAM) -> str:
    """`prog` with this process's interpreter when `python` on `PATH` is another one.

    A run started as `/opt/envs/tk/bin/python -m tunekit.coarse_to_fine ...`
    would otherwise be resumed, reproduced and shown as `python -m ...`, which
    may be another environment without tunekit (or another version of it).
    """
    if not prog.startswith("python "):
        return prog
    on_path = shutil.which("python")
    if on_path is not None and os.path.realpath(on_path) == os.path.realpath(sys.executable):
        return prog
    return f"{shlex.quote(sys.executable)} {prog.removeprefix('python ')}"


# The manifest key under which the command line records how it was called
# (`{"argv": [...], "cwd": ...}`, see `tunekit.coarse_to_fine`); absent for a Python run.
COMMAND_KEY = "command"
# The bundled hypermodels' classes and the command line's names for them.
_BUILTIN_SPECS = {
    "hypermodels.dense.MnistDenseHyperModel": "mnist-dense",
    "hypermodels.dense.DenseHyperModel": "dense",
    "hypermodels.cnn.ToonVisionCNNHyperModel": "toonvision-cnn",
}


def _settings(run: Any) -> dict[str, Any]:
    """The run's table settings (`tunekit.params.PARAMETERS`) that differ from their defaults.

    Settings the run ignores are left out: `fine_trials` with Hyperband, `factor`
    with a Bayesian search, `finalists` with `cv` > 1 (off), `finalist_seeds`
    without finalists. `verbose` and `overwrite` do not change the run.
    """
    ignored = {"verbose", "overwrite"}
    ignored.add("fine_trials" if run.fine_tuner == "hyperband" else "factor")
    if run.cv > 1:
        ignored.add("finalists")
    if run.finalists <= 1:
        ignored.add("finalist_seeds")
    changed = {}
    for name, param in PARAMETERS.items():
        value = getattr(run, name, param.default)
        if name not in ignored and value != param.default:
            changed[name] = value
    return changed


def _objective_text(run: Any) -> str | list[str] | None:
    """`name:direction` when the objective is not the task's default, else `None`.

    KerasTuner's sum of objectives is the list of its parts.
    """
    if parts := objective_parts(run.objective):
        return [f"{name}:{direction}" for name, direction in parts]
    name, direction = run.objective.name, run.objective.direction
    return None if name == DEFAULT_OBJECTIVES[run.data.task] else f"{name}:{direction}"


def python_call(run: Any) -> str:
    """The `CoarseToFine(...)` call of `run`: its non-default keyword arguments.

    The hypermodel and the data are the names `hypermodel` and `data`
    (they are Python objects); callbacks are named by class.
    """
    keywords: dict[str, Any] = {
        "directory": str(run.run_dir.parent),
        "project_name": run.run_dir.name,
    }
    objective = _objective_text(run)
    if objective is not None:
        keywords["objective"] = objective
    keywords.update(_settings(run))
    arguments = ["hypermodel", "data", *(f"{k}={v!r}" for k, v in keywords.items())]
    if run.callbacks:
        names = ", ".join(f"{type(c).__name__}(...)" for c in run.callbacks)
        arguments.append(f"callbacks=[{names}]")
    if run.hyperparameters is not None:  # a Python object, named as callbacks are
        arguments.append("hyperparameters=hp")
        arguments += [
            f"{name}=False"
            for name in ("tune_new_entries", "allow_new_entries")
            if not getattr(run, name)
        ]
    return f"CoarseToFine({', '.join(arguments)})"


def cli_equivalent(run: Any, backend: str) -> str | None:
    """The command line with the same settings as a Python `run`, or `None` if there is none.

    There is none for a hypermodel the command line cannot name (defined in
    `__main__`, a notebook or a function, or a `functools.partial`) or for
    callbacks or `hyperparameters=` (no such option).
    The data is `--data DATA` (a placeholder: the arrays came from Python),
    except for MNIST, the command line's default data.
    """
    if run.callbacks or run.hyperparameters is not None:
        return None
    if "partial_args" in run.config()["hypermodel"]:  # a functools.partial: no such option
        return None
    described = run.config()["hypermodel"]["class"]
    spec = _BUILTIN_SPECS.get(described)
    if spec is None:
        module, _, name = described.rpartition(".")
        if not module or module == "__main__" or "<" in described:
            return None
        # A nested qualname (`Outer.Inner`) is not one attribute of its module.
        spec = f"{module}:{name}" if "." not in name else None
    if spec is None:
        return None
    argv = ["--hypermodel", spec]
    if getattr(run.data, "name", None) != "mnist":
        argv += ["--data", "DATA"]
    argv += ["--directory", str(run.run_dir.parent), "--project-name", run.run_dir.name]
    objective = _objective_text(run)
    if isinstance(objective, list):
        return None  # one --objective names one metric
    if objective is not None:
        argv += ["--objective", objective]
    for name, value in _settings(run).items():
        flag = PARAMETERS[name].flag
        if name == "workers":
            argv += ["--workers", str(value)]
        elif flag is None:
            return None  # no option for it
        elif isinstance(value, bool):
            argv.append(flag)  # a flag flips its default
        else:
            argv += [flag, repr(value) if isinstance(value, float) else str(value)]
    argv += ["--backend", backend]
    return f"{CLI_PROGRAM} {shlex.join(argv)}"


def resume_command(argv: list[str], prog: str = CLI_PROGRAM) -> str:
    """The command that resumes a run started as `prog` with `argv`, for messages.

    The same program (`tunekit run` or `python -m tunekit.coarse_to_fine`, as
    typed) and options, without `--overwrite` (which would start over) and
    `--reprobe` (probing again could move a resumed run to the other backend).
    """
    kept = [a for a in argv if a not in ("--overwrite", "--reprobe")]
    return f"{prog} {shlex.join(kept)}".rstrip()


def recorded_resume_command(manifest: dict[str, Any]) -> str | None:
    """`cd <folder> && <resume_command>` of a run started from the command line, else `None`.

    From the manifest's record of how the run was started (`COMMAND_KEY`).
    """
    recorded = manifest.get(COMMAND_KEY)
    if not isinstance(recorded, dict) or not isinstance(recorded.get("argv"), list):
        return None
    command = resume_command(
        [str(a) for a in recorded["argv"]], str(recorded.get("program") or CLI_PROGRAM)
    )
    cwd = recorded.get("cwd")
    return f"cd {shlex.quote(str(cwd))} && {command}" if cwd else command


def command_section(run: Any, backend: str) -> dict[str, Any]:
    """How the run was started and the command that reproduces it, for `report.json`.

    Returns:
        A command line run: `{"interface": "cli", "argv", "cwd", "reproduce"}`,
        `reproduce` being the program as typed (`tunekit run` or `python -m
        tunekit.coarse_to_fine`) and the arguments as given, shell-quoted. A
        Python run: `{"interface": "python", "python_call", "cli_equivalent"}` (see `python_call`,
        `cli_equivalent`; the latter may be `None`).
    """
    recorded = run.manifest.state.get(COMMAND_KEY)
    if recorded:
        argv = [str(a) for a in recorded["argv"]]
        return {
            "interface": "cli",
            "argv": argv,
            "cwd": recorded.get("cwd"),
            "reproduce": f"{recorded.get('program', CLI_PROGRAM)} {shlex.join(argv)}".rstrip(),
        }
    return {
        "interface": "python",
        "python_call": python_call(run),
        "cli_equivalent": cli_equivalent(run, backend),
    }
