"""Command line: `python -m tunekit.coarse_to_fine [options]`.

Runs (or resumes) the coarse-to-fine workflow and prints a summary. Exit
codes: 0 success, 2 bad arguments or input (before any training), 1 a failure
during the run, 130 / 143 interrupted by Ctrl-C / SIGTERM (rerun to resume).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import re
import shlex
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from tunekit import _log, _native_logs, interrupts
from tunekit.distribute.cluster import (
    DEFAULT_CHIEF_TIMEOUT,
    DEFAULT_WORKER_TIMEOUT,
    ENV_VARS,
    check_port_free,
    cluster_from,
)
from tunekit.errors import TunekitError, UsageError
from tunekit.hypermodel_specs import check_spec, resolve_hypermodel
from tunekit.manifest import check_run_location, check_writable
from tunekit.objectives import describe_objective, parse_objective
from tunekit.params import (
    DATA_PARAMETERS,
    DEFAULT_OBJECTIVES,
    MAX_PORT,
    PARAMETERS,
    POSITIVE_INT,
    Boolean,
    Interval,
    Param,
    check_cv,
)
from tunekit.processes import apply_process_limits

QUICK = dict(coarse_trials=4, coarse_epochs=1, fine_trials=4, max_epochs=3, final_epochs=2)
QUICK_DATA = dict(num_train=5000, num_val=1000)


# Options whose parsed value the CLI reads itself (`_check_before_loading`, `_workflow_kwargs`)
# get the table's default; the others stay None when not given, so `--quick`'s budget and
# the checks of flags the fine tuner ignores see only what the user typed.
_DEFAULT_SET = ("fine_tuner", "seed")
_GROUP_TITLES = {
    "narrowing": "narrowing (between the coarse and fine searches)",
    "retrain": "final retrain (on train+validation)",
}


def _text_type(param: Param) -> Callable[[str], Any]:
    """An argparse `type=` that parses and checks a flag's text by `param`'s rules."""

    def parse(text: str) -> Any:
        try:
            return param.from_text(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    parse.__name__ = param.name
    return parse


def _positive(name: str) -> Callable[[str], Any]:
    """An argparse `type=` for an int >= 1 (`--image-size`)."""
    return _text_type(Param(name, POSITIVE_INT, None, ""))


def _seconds(name: str) -> Callable[[str], Any]:
    """An argparse `type=` for a number of seconds > 0 (the timeouts)."""
    return _text_type(Param(name, (Interval("real", 0, closed="neither"),), None, ""))


def _add_parameter(parser: argparse.ArgumentParser | argparse._ArgumentGroup, param: Param) -> None:
    """Adds `param`'s option: type, choices, default and "Default: ..." help from the table."""
    assert param.flag is not None
    if isinstance(param.constraints[0], Boolean):  # a flag that flips the default
        parser.add_argument(
            param.flag,
            dest=param.name,
            action="store_false" if param.default else "store_true",
            help=(
                f"{param.help} On by default; this flag turns it off."
                if param.default
                else param.help
            ),
        )
        return
    rule = "" if param.choices else f" Must be {param.expected}."
    parser.add_argument(
        param.flag,
        dest=param.name,
        type=str if param.choices else _text_type(param),
        choices=param.choices,
        default=param.default if param.name in _DEFAULT_SET else None,
        help=f"{param.help}{rule} Default: {param.default_text}.",
    )


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m tunekit.coarse_to_fine",
        description="Coarse-to-fine hyperparameter tuning: a wide RandomSearch, a search space "
        "narrowed to where the best trials lie, a Hyperband or Bayesian search in it, then the "
        "best model retrained on train+validation and evaluated on the test set. Rerun the "
        "same command to resume.",
    )
    add = parser.add_argument
    add(
        "--hypermodel",
        default="mnist-dense",
        help="mnist-dense, dense, toonvision-cnn, or package.module:attribute naming your own "
        "HyperModel class, instance or build(hp) function. mnist-dense and dense are the same "
        "tunable dense network (DenseHyperModel); on regression data either ends in a linear "
        "output of one unit per target, MSE loss. Default: mnist-dense.",
    )
    add(
        "--data",
        default=None,
        help="A Keras-layout .npz (x_train, y_train, x_test, y_test; optional x_val, y_val, "
        "class_names), a .csv file with a header row (with --target), or an image folder with "
        "one subfolder per class, streamed from disk (decoded and batched on the fly, at its "
        "native size; grayscale images give 1 channel). Integer labels make a classification "
        "task (classes: max + 1, or the subfolders), real-valued targets a regression task "
        "(see --task); uint8 pixels (and decoded images) are divided by 255, other dtypes (and "
        "CSV values) are used as they are. Default: MNIST from $TUNEKIT_MNIST_PATH, else "
        "Keras's download.",
    )
    for param in DATA_PARAMETERS.values():
        _add_parameter(parser, param)
    add(
        "--image-size",
        type=_positive("image_size"),
        nargs=2,
        metavar=("HEIGHT", "WIDTH"),
        help="Size images of an image folder are resized to. Default: the folder's own "
        "(its most common image size).",
    )
    add("--directory", default="runs", help="Parent folder of runs. Default: runs.")
    add(
        "--project-name",
        default=None,
        help="Run folder name inside --directory. Default: the --hypermodel name (with "
        "'-quick' appended for --quick).",
    )
    add(
        "--objective",
        default=None,
        help="Metric to optimise, as Keras logs it, with its direction: NAME:max or NAME:min "
        "(e.g. val_f1_score:max). A bare NAME is accepted only for Keras metrics whose "
        "direction is certain (val_accuracy, val_auc, val_loss, val_mae, ...). "
        "Default: val_accuracy (max) for classification, val_loss (min) for regression.",
    )
    add(
        "--direction",
        choices=("max", "min"),
        default=None,
        help="Direction of --objective, the same as writing NAME:max or NAME:min.",
    )
    groups = {name: parser.add_argument_group(title) for name, title in _GROUP_TITLES.items()}
    for param in PARAMETERS.values():
        if param.flag is not None:
            _add_parameter(groups[param.group] if param.group else parser, param)
    add(
        "--quick",
        action="store_true",
        help="A first look in about a minute: 5,000 training and 1,000 validation samples, "
        "4 coarse trials of 1 epoch, Hyperband max_epochs 3, 2 final epochs (explicit "
        "options still win), in its own run folder <hypermodel>-quick.",
    )
    add(
        "--backend",
        choices=("auto", "tensorflow", "jax"),
        default="auto",
        help="Keras backend. auto (default) probes both on this machine for this hypermodel "
        "(a few seconds, cached) and picks the faster: JAX for dense models, TensorFlow for "
        "small CNNs on a CPU. Python API users set KERAS_BACKEND instead.",
    )
    add("--quiet", action="store_true", help="Print only the final summary.")
    dist = parser.add_argument_group(
        "parallel and distributed tuning",
        "KerasTuner's chief/worker engine. A process whose KERASTUNER_TUNER_ID contains "
        "'chief' serves the oracle on KERASTUNER_ORACLE_IP:KERASTUNER_ORACLE_PORT; one with "
        "any other KERASTUNER_TUNER_ID is a worker of that chief. See the README.",
    )
    dist.add_argument(
        "--workers",
        type=int,
        default=1,
        help="Local worker processes, each pinned to its share of the CPU cores. 1 "
        "(default): one process. N > 1: a chief on 127.0.0.1 and N workers. On a chief "
        "started with KERASTUNER_TUNER_ID=chief: local workers besides remote ones (0: none).",
    )
    dist.add_argument(
        "--port",
        type=_text_type(Param("port", (Interval("int", 1, MAX_PORT),), None, "")),
        help="The chief's port for --workers N (default: a free one).",
    )
    dist.add_argument(
        "--chief-timeout",
        type=_seconds("chief_timeout"),
        default=DEFAULT_CHIEF_TIMEOUT,
        help="Seconds a worker waits for an unreachable chief before it stops. "
        f"Default: {DEFAULT_CHIEF_TIMEOUT:.0f}.",
    )
    dist.add_argument(
        "--worker-timeout",
        type=_seconds("worker_timeout"),
        default=DEFAULT_WORKER_TIMEOUT,
        help="Seconds the chief waits for a silent worker that holds a trial: a local worker "
        f"is restarted, a remote one ends the run naming it. Default: "
        f"{DEFAULT_WORKER_TIMEOUT:.0f}.",
    )
    return parser


def _is_csv(path: str) -> bool:
    return os.path.isfile(path) and Path(path).suffix.lower() == ".csv"


def _load_data(args: argparse.Namespace) -> Any:
    """The `Dataset` that `--data` (`--target`, `--task`, `--image-size`) names.

    Raises:
        UsageError: `--data` does not exist, or `--task regression` for
            labelled images (MNIST or a folder of class subfolders).
        DataError: The file's content is refused (messages name `target=` /
            `task=`, which `cli_message` turns into the flags).
    """
    from tunekit.data import REGRESSION, load_csv, load_mnist, load_npz

    if args.task == REGRESSION and (args.data is None or os.path.isdir(args.data)):
        what = "MNIST" if args.data is None else f"the image folder {args.data!r}"
        raise UsageError(
            f"--task regression does not apply to {what}: its labels are classes (one per "
            "subfolder or digit). Leave out --task, or pass a .npz or .csv of real-valued "
            "targets as --data."
        )
    if args.data is None:
        data = load_mnist()
    elif os.path.isdir(args.data):
        return _folder_stream(args)
    elif _is_csv(args.data):
        data = load_csv(args.data, args.target, args.task)
    elif os.path.isfile(args.data):
        data = load_npz(args.data, task=args.task)
    else:
        raise UsageError(f"--data {args.data!r} does not exist: pass a .npz file or a folder.")
    return data.subset(**QUICK_DATA) if args.quick else data


def _csv_columns(path: str) -> list[str]:
    """The header row of a CSV file (empty if it cannot be read: the loader will say why)."""
    import csv

    try:
        with open(path, newline="", encoding="utf-8") as f:
            return next(csv.reader(f), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


FOLDER_BATCH_SIZE = 32  # an image folder's batches unless --batch-size is given


def _folder_stream(args: argparse.Namespace) -> Any:
    """An image folder streamed from disk (`tunekit.image_streams.ImageFolderStream`).

    At the folder's native size and colour mode (1 channel for grayscale
    images) unless `--image-size` is given; batches of `--batch-size`
    (default 32). Only files are listed: no Keras or TensorFlow is imported
    before the backend is chosen (`_as_workflow_data` wraps it afterwards).
    Workers rerun the same command, so they build the same stream; the chief
    compares its fingerprint (files, sizes, mtimes).
    """
    from tunekit.image_streams import folder_format, image_folder_stream

    size, color_mode = folder_format(args.data)
    if args.batch_size is None:
        args.batch_size = FOLDER_BATCH_SIZE  # also recorded in the run's settings
    stream = image_folder_stream(
        args.data,
        tuple(args.image_size) if args.image_size else size,
        batch_size=args.batch_size,
        seed=args.seed,
        color_mode=color_mode,
    )
    return stream


def _as_workflow_data(data: Any) -> Any:
    """What `CoarseToFine` takes: an image folder stream becomes a `StreamData` (loads Keras)."""
    from tunekit.image_streams import ImageFolderStream

    if isinstance(data, ImageFolderStream):
        from tunekit.data import StreamData

        return StreamData.from_image_folder(data)
    return data


def _check_before_loading(args: argparse.Namespace) -> None:
    """Everything checkable without data, Keras or a probe; raises `UsageError`.

    The hypermodel's module and attribute (located and parsed, not imported:
    see `check_spec`), the data path, flags the chosen fine tuner ignores,
    and whether the run folder can be created and written.
    """
    check_spec(args.hypermodel)
    if args.data is not None and not os.path.exists(args.data):
        raise UsageError(
            f"--data {args.data!r} does not exist: pass a .npz file, a .csv file or a folder."
        )
    if args.data is not None and _is_csv(args.data) and args.target is None:
        columns = _csv_columns(args.data)
        raise UsageError(
            f"--data {args.data!r} is a CSV file: name the column to predict with --target "
            "COLUMN" + (f" (its columns are {columns})." if columns else ".")
        )
    if args.target is not None and not (args.data is not None and _is_csv(args.data)):
        raise UsageError(
            "--target only applies to a CSV file passed as --data (.csv); an .npz holds "
            "its targets as y_train / y_test, an image folder as its subfolders."
        )

    if args.image_size is not None and not (args.data and os.path.isdir(args.data)):
        raise UsageError(
            "--image-size only applies to an image folder passed as --data "
            "(.npz files and MNIST keep their size)."
        )
    if args.fine_tuner == "hyperband" and args.fine_trials is not None:
        raise UsageError(
            "--fine-trials only applies to --fine-tuner bayesian; Hyperband's "
            "budget is --max-epochs and --factor."
        )
    if args.fine_tuner == "bayesian" and args.factor is not None:
        raise UsageError(
            "--factor only applies to --fine-tuner hyperband; the Bayesian "
            "search's budget is --fine-trials and --max-epochs."
        )
    check_cv(args.cv or 1, args.fine_tuner)  # before loading data or probing backends
    kwargs = _workflow_kwargs(args)
    check_run_location(
        kwargs["directory"], kwargs["project_name"], names=("--directory", "--project-name")
    )
    check_writable(os.path.join(kwargs["directory"], kwargs["project_name"]))


def _select_backend(args: argparse.Namespace, data: Any, processes: int = 1) -> dict[str, Any]:
    """Sets `KERAS_BACKEND` for this process (before Keras loads); returns the choice.

    `processes`: local workers that will train at once; `auto` measures each
    backend that way.
    """
    if args.backend == "auto" and (
        data.task != "classification" or not isinstance(data.input_shape, tuple)
    ):
        # The probe times a classifier of the data's input shape; it does not cover
        # regression (or several inputs) yet, so those run on TensorFlow, as a failed probe does.
        choice: dict[str, Any] = {
            "backend": "tensorflow",
            "requested": False,
            "reason": "--backend auto probes classification data only; TensorFlow is used "
            f"for {data.task} data (pass --backend jax to use JAX)",
        }
    elif args.backend == "auto":
        from tunekit.backends import choose_backend

        choice = choose_backend(
            args.hypermodel,
            data.input_shape,
            data.num_classes,
            args.batch_size or 128,
            processes=processes,
        )
    else:
        choice = {"backend": args.backend, "requested": True}
    interrupts.check()  # a signal during the probe
    if "keras" in sys.modules:  # e.g. main() called from a process that already uses Keras
        import keras

        if keras.backend.backend() != choice["backend"]:
            print(
                f"warning: Keras is already loaded with the {keras.backend.backend()} "
                f"backend in this process; using it instead of {choice['backend']}.",
                file=sys.stderr,
            )
            choice = {**choice, "backend": keras.backend.backend()}
    os.environ["KERAS_BACKEND"] = choice["backend"]
    # TensorFlow's start-up lines (see _native_logs). TensorFlow loads on either backend
    # (tunekit writes TensorBoard's logs with tf.summary), so it is imported here.
    with _native_logs.filtered_stderr():
        import keras  # noqa: F401

        if importlib.util.find_spec("tensorflow") is not None:
            import tensorflow  # noqa: F401
    return choice


def _default_project_name(args: argparse.Namespace) -> str:
    """`<hypermodel>[-<data>][-quick]`: another --data or --quick gets its own run folder.

    E.g. `mnist-dense`, `mnist-dense-rivers` for `--data rivers.npz`,
    `mnist-dense-quick`; so a rerun on other data or the full budget after a
    quick look is not refused as "another configuration".
    """
    name = args.hypermodel.replace(":", "-")
    if args.data is not None:
        data = Path(args.data)
        name += "-" + (data.name if data.is_dir() else data.stem)
    return f"{name}-quick" if args.quick else name


def _workflow_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    names = (
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
        "class_weight",
        "cv",
        "finalists",
        "finalist_seeds",
        "final_seeds",
    )
    kwargs = {n: getattr(args, n) for n in names if getattr(args, n) is not None}
    if args.quick:
        kwargs = {**QUICK, **kwargs}
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
            _default_project_name(args) if args.project_name is None else args.project_name
        ),
        verbose=0 if args.quiet else 1,
    )


# `name=value` in a library message: a keyword argument, shown to CLI users as its flag.
_KEYWORD = re.compile(r"\b([a-z][a-z0-9_]*)=('[^']*'|\"[^\"]*\"|[^\s,;()]*[^\s,;().])?")


def cli_message(error: BaseException) -> str:
    """The message of `error` as the command line says it: flags, not keywords.

    A `TunekitError` names Python keyword arguments (`pass overwrite=True`,
    `final_epochs='auto'`, `project_name=`); each one that is also an option
    of this command becomes that option (`--overwrite`, `--final-epochs auto`,
    `--project-name`). Other errors, and other `name=value` text (`seed:
    chief 0`, `val_accuracy=0.91`), are left as they are.
    """
    text = str(error)
    if not isinstance(error, TunekitError):
        return text
    actions = {a.dest: a for a in build_parser()._actions if a.option_strings}

    def flag(match: re.Match) -> str:
        action = actions.get(match.group(1))
        if action is None:
            return match.group(0)
        value = (match.group(2) or "").strip("'\"")
        if isinstance(action, argparse._StoreConstAction):  # store_true / store_false
            return action.option_strings[0] if value == str(action.const) else match.group(0)
        return f"{action.option_strings[0]} {value}" if value else action.option_strings[0]

    return _KEYWORD.sub(flag, text)


def _summary(result: Any) -> str:
    phases = ", ".join(
        f"{p} best {v['score']:.4f} (trial {v['trial_id']})" for p, v in result.phase_bests.items()
    )
    tests = ", ".join(f"{k} {v:.4f}" for k, v in result.test_metrics.items())
    return "\n".join(
        [
            "",
            "== Summary ==",
            f"Phases: {phases}",
            f"Chosen: {result.best_phase} trial {result.best_trial_id} ({result.selection})",
            f"Narrowing:\n{result.narrowed}",
            f"Final model: {result.final_epochs} epochs on train+validation",
            f"Test: {tests}",
            "Time: " + ", ".join(f"{k} {v:.0f}s" for k, v in result.timings.items()),
            f"Artifacts in {result.run_dir}: " + ", ".join(sorted(result.artifacts)),
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit code (see the module docstring).

    SIGINT and SIGTERM are handled by `tunekit.interrupts` while it runs (the
    previous handlers are restored on return): the run stops at the next
    batch or step boundary with code 130 / 143, and a second signal exits at
    once.
    """
    apply_process_limits()  # a local worker: its cores, and it dies with its chief
    _native_logs.quiet_environment()  # before Keras loads (and inherited by subprocesses)
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # --help (0) or a bad argument (2), already reported
        return int(e.code or 0)
    # tunekit's progress (the "tunekit" logger) as plain lines: stdout, warnings on stderr.
    with _log.cli_output(quiet=args.quiet):
        return _run(args, argv)


def _run(args: argparse.Namespace, argv: list[str]) -> int:
    if args.objective is None and args.direction is not None:
        print(
            f"error: --direction {args.direction} needs --objective NAME: it gives that "
            "metric's direction. The default objective's is known (val_accuracy:max for "
            "classification, val_loss:min for regression).",
            file=sys.stderr,
        )
        return 2
    if args.objective is not None:
        try:  # before any probe or data loading: never guess a direction
            name, direction = parse_objective(
                args.objective, args.direction, argument="--objective"
            )
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        args.objective = f"{name}:{direction}"
        if not args.quiet:
            print(f"Objective: {describe_objective(name, direction)}", flush=True)
    resume = "python -m tunekit.coarse_to_fine " + shlex.join(
        [a for a in argv if a != "--overwrite"]
    )
    with interrupts.handle_signals():
        try:
            code = _main(args, argv, resume)
            if code == 0:
                interrupts.check()  # a signal after the last check: still reported as one
            return code
        except interrupts.Interrupted as e:
            print(
                f"\nInterrupted ({signal.Signals(e.signum).name}); completed trials are "
                f"saved. Resume with:\n  {resume}",
                file=sys.stderr,
                flush=True,
            )
            return e.exit_code


def _main(args: argparse.Namespace, argv: list[str], resume: str) -> int:
    run = None
    try:
        try:
            cluster = cluster_from(
                os.environ,
                workers=args.workers,
                port=args.port,
                chief_timeout=args.chief_timeout,
                worker_timeout=args.worker_timeout,
            )
            _check_before_loading(args)
            if cluster.role == "chief":  # refuse a taken port before loading anything
                cluster = dataclasses.replace(
                    cluster, port=check_port_free(cluster.ip, cluster.port)
                )
                # gRPC's fork handlers only warn when the chief starts its workers.
                os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
                # The chief's own tuners are plain local ones whose oracles tunekit serves.
                for name in ENV_VARS:
                    os.environ.pop(name, None)
            data = _load_data(args)
            if args.objective is None:  # the task's default (see CoarseToFine's objective=)
                name, direction = parse_objective(DEFAULT_OBJECTIVES[data.task])
                args.objective = f"{name}:{direction}"
                if not args.quiet:
                    print(f"Objective: {describe_objective(name, direction)}", flush=True)
            interrupts.check()
            backend = _select_backend(
                args, data, max(1, cluster.workers) if cluster.role == "chief" else 1
            )
            data = _as_workflow_data(data)  # after the backend is chosen: may load Keras
            make_hypermodel = resolve_hypermodel(args.hypermodel)
            from tunekit.workflow import CoarseToFine

            run = CoarseToFine(make_hypermodel(data), data, **_workflow_kwargs(args))
            run.backend_choice = backend
            if cluster.role == "worker":
                from tunekit.distribute.launch import work

                return work(run, cluster, resume, message=cli_message)
            run.open()  # checks and locks the run folder before any training
            if cluster.role == "chief":
                from tunekit.distribute.launch import cli_chief

                run.runner = cli_chief(
                    run, cluster, argv, backend["backend"], quiet=args.quiet
                ).start()
        except (ValueError, TypeError, RuntimeError, OSError) as e:
            print(f"error: {cli_message(e)}", file=sys.stderr)
            return 2
        if not args.quiet:
            print(
                f"Run folder: {run.run_dir}\nData: {data.summary()}; x scaling: {data.scaling}",
                flush=True,
            )
        try:
            result = run.run()
        except KeyboardInterrupt:  # a KeyboardInterrupt raised by user code
            raise interrupts.Interrupted(signal.SIGINT) from None
        except Exception as e:  # noqa: BLE001 (reported, not swallowed: exit code 1)
            from keras_tuner import errors as kt_errors

            if isinstance(e, kt_errors.FatalValueError):
                print(f"error: {cli_message(e)}", file=sys.stderr)
                return 2
            print(
                f"error: the run failed: {type(e).__name__}: {cli_message(e)}\nFix the cause "
                f"and resume with:\n  {resume}",
                file=sys.stderr,
            )
            return 1
        finally:
            run.close()  # and its chief, if any: workers leave once told there is nothing left
        print(_summary(result), flush=True)
        return 0
    finally:
        if run is not None:
            run.runner.close()


if __name__ == "__main__":
    raise SystemExit(main())
