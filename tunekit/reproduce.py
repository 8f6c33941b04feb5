"""The command that reproduces a run, for `report.json` and `report.md`.

A command-line run records how it was called (`tunekit.coarse_to_fine` writes
`{"argv", "cwd", "program", "run_dir"}` under the manifest's `command` key): its command is
`python -m tunekit.coarse_to_fine` with those arguments as given, shell-quoted.
A Python run gets its `CoarseToFine(...)` call with the non-default keyword
arguments, and the command line with the same settings when there is one
(checked by reading it back as the command line would: `tunekit.cli_equivalence`),
else why there is none.

A run folder can be moved: `relocated` gives these commands for where the
folder is now (its `--directory`/`--project-name`, `directory=`/`project_name=`
replaced), so that pasting one resumes this run instead of starting another.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from typing import Any

from tunekit.cli_equivalence import (
    _NoEquivalent,
    command_differences,
    data_options,
    unused_settings,
)
from tunekit.hypermodel_specs import UsageError, build_object_spec
from tunekit.objectives import objective_parts
from tunekit.params import DEFAULT_OBJECTIVES, PARAMETERS

__all__ = [
    "CLI_PROGRAM",
    "COMMAND_KEY",
    "cli_command",
    "cli_equivalent",
    "command_record",
    "command_section",
    "python_call",
    "recorded_resume_command",
    "relocated",
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
# (`{"argv": [...], "cwd", "program", "run_dir"}`, see `tunekit.coarse_to_fine`; `run_dir`
# absolute: where the run was, so that a moved folder is seen); absent for a Python run.
COMMAND_KEY = "command"
# The bundled hypermodels' classes and the command line's names for them.
_BUILTIN_SPECS = {
    "hypermodels.dense.MnistDenseHyperModel": "mnist-dense",
    "hypermodels.dense.DenseHyperModel": "dense",
    "hypermodels.cnn.ToonVisionCNNHyperModel": "toonvision-cnn",
}


def _settings(run: Any) -> dict[str, Any]:
    """The run's table settings (`tunekit.params.PARAMETERS`) that differ from their defaults.

    Settings the run ignores are left out (`tunekit.cli_equivalence.unused_settings`:
    `fine_trials` with Hyperband, `factor` with a Bayesian search, `finalists`
    with `cv` > 1, `finalist_seeds` without finalists, `verbose`, `overwrite`).
    """
    ignored = unused_settings(run)
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

    See `cli_command`, which also says why there is none.
    """
    return cli_command(run, backend)[0]


def cli_command(run: Any, backend: str) -> tuple[str | None, str | None]:
    """`(command, None)`: the command line that runs what the Python `run` ran; else
    `(None, why)`, naming the setting the command line cannot say.

    The command is checked by reading it back as the command line would
    (`tunekit.cli_equivalence.command_differences`: its parser, its data loader,
    its hypermodel): every setting, the objective, the data and the hypermodel
    must come back as the run's. There is none for a hypermodel the command
    line cannot name (defined in `__main__`, a notebook or a function, a
    `functools.partial`, a callable object no module-level name holds, or building
    another default model or with other values than `--hypermodel`'s), for
    callbacks or `hyperparameters=`, several objectives, a setting value no
    flag takes (a `class_weight` dict), data it cannot read as the run did (a
    tf.data stream, dicts of several inputs or outputs, classes that have no
    sample), or a `ToonVisionCNNHyperModel` with `rescale=True` (no such
    option); its `augment=True` is `--augment`. A `Dataset` is `--data DATA
    --task TASK`, DATA standing for it saved with `tunekit.data.save_npz`
    (none for the MNIST the command line loads by default); an image folder
    stream is its folder with `--image-size` and `--batch-size`.
    """
    try:
        argv = _cli_argv(run, backend)
    except _NoEquivalent as e:
        return None, str(e)
    try:
        differences = command_differences(run, argv)
    except _NoEquivalent as e:
        return None, str(e)
    except Exception as e:  # noqa: BLE001 (the report is written; an unchecked command is not)
        return None, f"the command could not be checked against this run ({type(e).__name__}: {e})"
    if differences:
        return None, "; ".join(differences)
    return f"{CLI_PROGRAM} {shlex.join(argv)}", None


def _cli_argv(run: Any, backend: str) -> list[str]:
    """`cli_command`'s arguments, before they are checked; raises `_NoEquivalent`."""
    if run.callbacks:
        names = ", ".join(f"{type(c).__name__}(...)" for c in run.callbacks)
        raise _NoEquivalent(f"callbacks=[{names}]: the command line has no option for callbacks")
    if run.hyperparameters is not None:
        raise _NoEquivalent(
            "hyperparameters=hp: the command line has no option for a search space of your own"
        )
    described = run.config()["hypermodel"]
    if "partial_args" in described:  # a functools.partial: no such option
        raise _NoEquivalent(
            f"the hypermodel is a functools.partial of {described['class']}: --hypermodel "
            "names a class, an instance or a function, without arguments"
        )
    try:  # a callable build object of yours: the module-level name holding it
        spec = _BUILTIN_SPECS.get(described["class"]) or build_object_spec(run.hypermodel)
    except UsageError as e:
        raise _NoEquivalent(str(e)) from None
    if spec is None:
        module, _, name = described["class"].rpartition(".")
        # A nested class (`mod.Outer.Inner`: `mod.Outer:Inner`) fails when read back.
        if not module or module == "__main__" or "<" in described["class"]:
            raise _NoEquivalent(
                f"the hypermodel {described['class']} is defined where --hypermodel cannot "
                "name it (it names package.module:attribute, importable: not __main__, a "
                "notebook, a function's body or another class)"
            )
        spec = f"{module}:{name}"
    argv = ["--hypermodel", spec]
    if spec == "toonvision-cnn":  # the command line builds it with rescale=False
        if described.get("rescale"):
            raise _NoEquivalent(
                "ToonVisionCNNHyperModel(rescale=True): the command line builds it with "
                "rescale=False (no option for its Rescaling(1/255) layer)"
            )
        argv += ["--augment"] if described.get("augment") else []
    argv += data_options(run)
    argv += ["--directory", str(run.run_dir.parent), "--project-name", run.run_dir.name]
    objective = _objective_text(run)
    if isinstance(objective, list):
        raise _NoEquivalent(f"objective={objective!r}: one --objective names one metric")
    if objective is not None:
        argv += ["--objective", objective]
    stream = "--batch-size" in argv  # an image folder's batches are its stream's
    for name, value in _settings(run).items():
        flag = "--workers" if name == "workers" else PARAMETERS[name].flag
        if flag is None:
            raise _NoEquivalent(f"{name}={value!r}: the command line has no option for it")
        if stream and name == "batch_size":
            continue
        if isinstance(value, bool):
            argv.append(flag)  # a flag flips its default
        else:
            argv += [flag, repr(value) if isinstance(value, float) else str(value)]
    argv += ["--backend", backend]
    return argv


def resume_command(argv: list[str], prog: str = CLI_PROGRAM) -> str:
    """The command that resumes a run started as `prog` with `argv`, for messages.

    The same program (`tunekit run` or `python -m tunekit.coarse_to_fine`, as
    typed) and options, without `--overwrite` (which would start over) and
    `--reprobe` (probing again could move a resumed run to the other backend).
    """
    kept = [a for a in argv if a not in ("--overwrite", "--reprobe")]
    return f"{prog} {shlex.join(kept)}".rstrip()


def recorded_resume_command(
    manifest: dict[str, Any], run_dir: str | os.PathLike[str] | None = None
) -> str | None:
    """`cd <folder> && <resume_command>` of a run started from the command line, else `None`.

    From the manifest's record of how the run was started (`COMMAND_KEY`).
    `run_dir`: where the run folder is now; when it is not where the record
    says the run was (or the record does not say), the command names it with
    `--directory`/`--project-name` (see `relocated`). `None`: as recorded.
    """
    recorded = manifest.get(COMMAND_KEY)
    if not isinstance(recorded, dict) or not isinstance(recorded.get("argv"), list):
        return None
    argv = [str(a) for a in recorded["argv"]]
    if run_dir is not None:
        argv = _moved_argv(argv, recorded.get("cwd"), recorded.get("run_dir"), run_dir)
    command = resume_command(argv, str(recorded.get("program") or CLI_PROGRAM))
    cwd = recorded.get("cwd")
    return f"cd {shlex.quote(str(cwd))} && {command}" if cwd else command


def command_section(run: Any, backend: str) -> dict[str, Any]:
    """How the run was started and the command that reproduces it, for `report.json`.

    Returns:
        A command line run: `{"interface": "cli", "argv", "cwd", "program", "reproduce"}`,
        `reproduce` being the program as typed (`tunekit run` or `python -m
        tunekit.coarse_to_fine`) and the arguments as given, shell-quoted. A
        Python run: `{"interface": "python", "python_call", "cli_equivalent"}` (see `python_call`,
        `cli_command`), with `"no_cli_equivalent"`: why there is none (the setting the
        command line cannot say) when `cli_equivalent` is `None`.
    """
    recorded = run.manifest.state.get(COMMAND_KEY)
    if recorded:
        return command_record(recorded)
    command, why_not = cli_command(run, backend)
    return {
        "interface": "python",
        "python_call": python_call(run),
        "cli_equivalent": command,
        **({} if command else {"no_cli_equivalent": why_not}),
    }


# The options that name the run folder, and the shortest abbreviations argparse could take.
_LOCATION_FLAGS = (("--directory", 5), ("--project-name", 6))


def _is_location_flag(arg: str) -> bool:
    name = arg.split("=", 1)[0]
    return any(len(name) >= n and flag.startswith(name) for flag, n in _LOCATION_FLAGS)


def _same_folder(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def _moved_argv(
    argv: list[str],
    cwd: str | None,
    recorded_dir: str | None,
    run_dir: str | os.PathLike[str],
) -> list[str]:
    """`argv` naming the run folder `run_dir` (where it is now), unless it is where it was.

    `recorded_dir`: where the run was (absolute, or relative to `cwd`);
    unknown (`None`, a run recorded before tunekit kept it): named anyway, the
    same run either way. The new `--directory` is relative to `cwd` (the
    command's `cd`) when the folder is inside it, else absolute.
    """
    now = os.path.abspath(run_dir)
    if recorded_dir is not None and _same_folder(os.path.join(cwd or "", recorded_dir), now):
        return argv
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif _is_location_flag(arg):
            skip = "=" not in arg  # `--directory X`: X goes too; `--directory=X` is one
        else:
            kept.append(arg)
    parent = os.path.dirname(now)
    if cwd and os.path.isabs(cwd):
        inside = os.path.relpath(parent, cwd)
        if not inside.startswith(os.pardir):
            parent = inside
    return [*kept, "--directory", parent, "--project-name", os.path.basename(now)]


def relocated(report: dict[str, Any], run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """`report` (a `report.json`) for its run folder where it is now, `run_dir`.

    Its `run_dir` is `run_dir` as given and its `command` names that folder
    (`--directory`/`--project-name` of a command line; the `directory=` and
    `project_name=` of a Python call, absolute, and of its command line). A
    folder that was not moved keeps its commands as they were. Reads reports
    from before `run_dir_absolute` was kept: their `run_dir` is taken from
    the command line's folder (`cwd`), or the current folder for a Python run.
    """
    report = dict(report)
    recorded = report.get("run_dir_absolute")
    command = report.get("command")
    cwd = command.get("cwd") if isinstance(command, dict) else None
    if recorded is None and isinstance(report.get("run_dir"), str):
        recorded = os.path.join(cwd or os.getcwd(), report["run_dir"])
    report["run_dir"] = str(run_dir)
    report["run_dir_absolute"] = os.path.abspath(run_dir)
    if not isinstance(command, dict) or (recorded and _same_folder(recorded, run_dir)):
        return report
    command = dict(command)
    if command.get("interface") == "cli" and isinstance(command.get("argv"), list):
        argv = _moved_argv([str(a) for a in command["argv"]], cwd, None, run_dir)
        was, old = str(command.get("reproduce") or CLI_PROGRAM), shlex.join(command["argv"])
        program = command.get("program") or (was.removesuffix(old).rstrip() or CLI_PROGRAM)
        command["argv"] = argv
        command["reproduce"] = f"{program} {shlex.join(argv)}".rstrip()
    if isinstance(command.get("python_call"), str):
        now = os.path.abspath(run_dir)
        command["python_call"] = re.sub(
            r"directory=(?:'[^']*'|\"[^\"]*\"), project_name=(?:'[^']*'|\"[^\"]*\")",
            lambda _: f"directory={os.path.dirname(now)!r}, project_name={os.path.basename(now)!r}",
            command["python_call"],
            count=1,
        )
    if isinstance(command.get("cli_equivalent"), str):
        program, _, arguments = command["cli_equivalent"].partition(" --")
        argv = _moved_argv(shlex.split("--" + arguments), None, None, run_dir)
        command["cli_equivalent"] = f"{program} {shlex.join(argv)}"
    report["command"] = command
    return report


def command_record(recorded: dict[str, Any]) -> dict[str, Any]:
    """`report.json`'s `command` of a command-line run from the manifest's `COMMAND_KEY`."""
    argv = [str(a) for a in recorded["argv"]]
    program = recorded.get("program", CLI_PROGRAM)
    return {
        "interface": "cli",
        "argv": argv,
        "cwd": recorded.get("cwd"),
        "program": program,
        "reproduce": f"{program} {shlex.join(argv)}".rstrip(),
    }
