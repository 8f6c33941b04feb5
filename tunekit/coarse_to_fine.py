"""Command line: `python -m tunekit.coarse_to_fine [options]`.

Runs (or resumes) the coarse-to-fine workflow and prints a summary. Exit
codes: 0 success, 2 bad arguments or input (before any training), 1 a failure
during the run, 130 / 143 interrupted by Ctrl-C / SIGTERM (rerun to resume).

The options are built in `tunekit.cli_parser` (`build_parser`, and
`cli_message`, which says errors in flags); `--data` is loaded and the
backend chosen in `tunekit.cli_data`. This module checks the arguments
before anything loads, and runs: locally, as a chief or as a worker.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator, Sequence

from tunekit import _log, _native_logs, interrupts
from tunekit.cli_changes import restated
from tunekit.cli_data import as_workflow_data as _as_workflow_data
from tunekit.cli_data import csv_columns as _csv_columns
from tunekit.cli_data import folder_stream as _folder_stream  # noqa: F401 (tests import it here)
from tunekit.cli_data import is_csv as _is_csv
from tunekit.cli_data import load_data as _load_data
from tunekit.cli_data import select_backend as _select_backend
from tunekit.cli_parser import build_parser, cli_message
from tunekit.cli_settings import QUICK  # noqa: F401 (tests import it here)
from tunekit.cli_settings import default_project_name as _default_project_name  # noqa: F401
from tunekit.cli_settings import workflow_kwargs as _workflow_kwargs
from tunekit.cli_summary import failed_run, opening, summary
from tunekit.distribute.cluster import ENV_VARS, check_port_free, cluster_from
from tunekit.errors import UnknownDirectionError, UsageError
from tunekit.hypermodel_specs import check_data_shape, check_spec, resolve_hypermodel
from tunekit.manifest import check_run_location, check_writable
from tunekit.objectives import describe_objective, parse_objective
from tunekit.option_pairs import check_finalist_seeds, check_progress
from tunekit.params import DEFAULT_OBJECTIVES, PARAMETERS, check_cv, check_fine_budget
from tunekit.processes import apply_process_limits
from tunekit.reproduce import CLI_PROGRAM, COMMAND_KEY, resume_command, typed_program

# Python loggers of the frameworks whose warnings --quiet hides (see `_warnings_hidden`).
_FRAMEWORK_LOGGERS = ("tensorflow", "absl")


def _refuse_other_text(path: str) -> None:
    """Refuses a data file that is text but not a `.csv` (a `.tsv`, `.txt`, a compressed
    CSV), which the `.npz` reader took for a broken archive, naming what tunekit reads."""
    import gzip

    with open(path, "rb") as handle:
        head = handle.read(4096)
    if head.startswith(b"PK"):  # a zip archive: the .npz reader's business
        return
    compressed = head.startswith(b"\x1f\x8b")
    if compressed:
        try:
            with gzip.open(path, "rb") as handle:
                head = handle.read(4096)
        except OSError:
            return
    text = head.replace(b"\r", b"").replace(b"\t", b"")
    if not head or any(byte < 32 and byte != 10 for byte in text[:4096]):
        return  # not text: left to the .npz reader's message
    tabs = b"\t" in head.split(b"\n", 1)[0]
    raise UsageError(
        f"--data {path!r} is {'gzip-compressed ' if compressed else ''}text"
        f"{' (columns separated by tabs)' if tabs else ''}, not a .npz archive; tunekit reads "
        "tables from comma-separated files named .csv. Save it as one (pandas: "
        f"pd.read_csv(path{', sep=chr(9)' if tabs else ''}).to_csv('data.csv', index=False)) "
        "and pass that."
    )


def _why(run: object) -> str | None:
    """How the backend in effect was chosen when not as typed (Keras already loaded)."""
    choice = getattr(run, "backend_choice", None) or {}
    return choice.get("overridden")


def _check_folder_options(args: argparse.Namespace) -> None:
    """Refuses what an image folder (streamed from disk) cannot take: `--cv`; `UsageError`.

    The same refusals as `CoarseToFine`'s for a stream, said before Keras loads.
    """
    as_npz = (
        "save its images as an .npz (x_train, y_train, x_test, y_test) and pass that file as --data"
    )
    if (args.cv or 1) > 1:
        raise UsageError(
            f"--cv {args.cv} needs arrays to split into folds; --data {args.data!r} is an "
            "image folder, streamed from disk, which cannot be split by index. Leave out "
            f"--cv, or {as_npz}."
        )


def _check_before_loading(args: argparse.Namespace) -> None:
    """Everything checkable without data, Keras or a probe; raises `UsageError`.

    The hypermodel's module and attribute (located and parsed, not imported:
    see `check_spec`) and whether `--augment` / `--no-augment` applies to it, the data
    path, flags that apply only with another (the fine tuner's budget, `--cv`,
    `--finalist-seeds`, `--progress`),
    and whether the run folder can be created and written.
    """
    check_spec(args.hypermodel, args.augment)
    if args.data is not None and not os.path.exists(args.data):
        raise UsageError(
            f"--data {args.data!r} does not exist: pass a .npz file, a .csv file or a folder."
        )
    if args.data is not None and os.path.isfile(args.data) and not _is_csv(args.data):
        _refuse_other_text(args.data)
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
    # Options that apply only with another (`tunekit.option_pairs`): before any data or probe.
    tuner = args.fine_tuner or PARAMETERS["fine_tuner"].default  # None: not given
    check_fine_budget(tuner, fine_trials=args.fine_trials, factor=args.factor, flags=True)
    check_cv(args.cv or 1, tuner, args.finalists or 0, tuner_given=args.fine_tuner is not None)
    check_finalist_seeds(args.finalists or 0, args.finalist_seeds)
    check_progress(0 if args.quiet else 1, args.progress, flags=True)
    if args.data is not None and os.path.isdir(args.data):
        _check_folder_options(args)
    kwargs = _workflow_kwargs(args)
    check_run_location(
        kwargs["directory"], kwargs["project_name"], names=("--directory", "--project-name")
    )
    check_writable(os.path.join(kwargs["directory"], kwargs["project_name"]))


@contextlib.contextmanager
def _warnings_hidden(hidden: bool) -> Iterator[None]:
    """Within the block, TensorFlow's and absl's Python loggers show errors only (if `hidden`).

    For --quiet: TensorFlow warns e.g. "5 out of the last 11 calls to
    <function ...> triggered tf.function retracing" (expected: every trial
    builds a new model). The levels are restored on exit; tunekit's own
    warnings still show.
    """
    loggers = [logging.getLogger(name) for name in _FRAMEWORK_LOGGERS] if hidden else []
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def main(argv: Sequence[str] | None = None, prog: str = CLI_PROGRAM) -> int:
    """Runs the command line; returns the exit code (see the module docstring).

    `prog` is the command named in usage, help, the resume command and
    report.md's Reproduce section (`tunekit run` passes its own).

    SIGINT and SIGTERM are handled by `tunekit.interrupts` while it runs (the
    previous handlers are restored on return): the run stops at the next
    batch or step boundary with code 130 / 143, and a second signal exits at
    once.
    """
    _log.open_closed_streams()  # `... >&- 2>&-`: output dropped, the run goes on
    apply_process_limits()  # a local worker: its cores, and it dies with its chief
    _native_logs.quiet_environment()  # before Keras loads (and inherited by subprocesses)
    argv = list(sys.argv[1:] if argv is None else argv)
    started = time.monotonic()  # the summary's "this command ... in all"
    # A reader that leaves early (`... | head`): the run goes on to its end, its later
    # output dropped (no "Logging error" blocks, no traceback); the exit code is the run's.
    with _log.output_kept_safe():
        try:
            args = build_parser(prog).parse_args(argv)
        except SystemExit as e:  # --help (0) or a bad argument (2), already reported
            return int(e.code or 0)
        args.started = started
        # tunekit's progress (the "tunekit" logger) as plain lines: stdout, warnings on stderr.
        with _log.cli_output(quiet=args.quiet), _warnings_hidden(args.quiet):
            return _run(args, argv, prog)


def _run(args: argparse.Namespace, argv: list[str], prog: str = CLI_PROGRAM) -> int:
    if args.reprobe and args.backend != "auto":
        print(
            f"error: --reprobe probes the backends again for --backend auto; with --backend "
            f"{args.backend} nothing is probed. Drop --reprobe, or use --backend auto.",
            file=sys.stderr,
        )
        return 2
    if args.objective is None and args.direction is not None:
        print(
            f"error: --direction {args.direction} needs --objective NAME: it gives that "
            "metric's direction. The default objective's is known (val_accuracy:max for "
            "classification, val_loss:min for regression).",
            file=sys.stderr,
        )
        return 2
    args.direction_error = None
    if args.objective is not None:
        try:  # never guess a direction; the syntax before any probe or data
            name, direction = parse_objective(
                args.objective, args.direction, argument="--objective"
            )
        except UnknownDirectionError as e:  # asked once the model is built (CoarseToFine):
            args.direction_error = str(e)  # a vector metric's refusal comes first
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        else:
            args.objective = f"{name}:{direction}"
            if not args.quiet:
                print(f"Objective: {describe_objective(name, direction)}", flush=True)
    resume = resume_command(argv, prog)
    with interrupts.handle_signals(resume):
        try:
            code = _main(args, argv, resume, prog)
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


def _main(args: argparse.Namespace, argv: list[str], resume: str, prog: str = CLI_PROGRAM) -> int:
    run = None
    try:
        try:
            cluster = cluster_from(
                os.environ,
                workers=args.workers,
                port=args.port,
                chief_timeout=args.chief_timeout,
                worker_timeout=args.worker_timeout,
                trials_per_process=args.trials_per_process,
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
            check_data_shape(args.hypermodel, data)  # before the backend probe
            if args.objective is None:  # the task's default (CoarseToFine's objective=None)
                name, direction = parse_objective(DEFAULT_OBJECTIVES[data.task])
                if not args.quiet:
                    print(f"Objective: {describe_objective(name, direction)}", flush=True)
            interrupts.check()
            location = _workflow_kwargs(args)
            backend = _select_backend(
                args,
                data,
                max(1, cluster.workers) if cluster.role == "chief" else 1,
                run_dir=os.path.join(location["directory"], location["project_name"]),
            )
            data = _as_workflow_data(data)  # after the backend is chosen: may load Keras
            make_hypermodel = resolve_hypermodel(args.hypermodel, augment=args.augment)
            from tunekit.trial_refusals import saying
            from tunekit.workflow import CoarseToFine

            with saying(cli_message):  # its warnings, errors and report name the flags
                run = CoarseToFine(make_hypermodel(data), data, **_workflow_kwargs(args))
            run.backend_choice = backend
            if cluster.role == "worker":
                from tunekit.distribute.launch import work
                from tunekit.distribute.refusal import said as worker_said

                return work(run, cluster, resume, message=lambda e: worker_said(e, argv), argv=argv)
            run.open()  # checks the run folder before any training; locked until run() ends
            # How it was called, for report.md's command that reproduces the run.
            run.manifest.state[COMMAND_KEY] = {
                "argv": argv,
                "cwd": os.getcwd(),
                "program": prog,
                "run_dir": os.path.abspath(run.run_dir),  # a moved folder's commands name it
            }
            run.manifest.save()
            if cluster.role == "chief":
                from tunekit.distribute.launch import cli_chief

                chief = cli_chief(run, cluster, argv, backend["backend"], quiet=args.quiet)
                # A finished search (a rerun to finish or reread a run) needs no worker.
                searched = all(run.manifest.is_done(phase) for phase in ("coarse", "fine"))
                run.runner = chief if searched else chief.start()
        except (ValueError, TypeError, RuntimeError, OSError) as e:
            cli_said = isinstance(e, UnknownDirectionError) and args.direction_error
            # A refused rerun: said by the options typed otherwise.
            refusal = e if run is None else restated(e, argv, run.run_dir, why=_why(run))
            print(
                f"error: {args.direction_error if cli_said else cli_message(refusal)}",
                file=sys.stderr,
            )
            return 2
        if not args.quiet:
            print(opening(run, data, args.hypermodel), flush=True)  # folder, data, hypermodel
        try:
            result = run.run()
        except KeyboardInterrupt:  # a KeyboardInterrupt raised by user code
            raise interrupts.Interrupted(signal.SIGINT) from None
        except Exception as e:  # noqa: BLE001 (reported, not swallowed: exit code 1)
            from keras_tuner import errors as kt_errors

            if isinstance(e, (kt_errors.FatalValueError, kt_errors.FailedTrialError, UsageError)):
                print(f"error: {cli_message(e)}", file=sys.stderr)  # FailedTrialError: a final
                return 2  # fit's HyperModelFitError (a search's trial ends FAILED on it)
            said = failed_run(e, cli_message(e), argv, prog)  # the resume command, if it resumes
            print(f"error: the run failed: {said}", file=sys.stderr)
            return 1
        finally:
            run.close()  # and its chief, if any: workers leave once told there is nothing left
        print(summary(result, time.monotonic() - args.started), flush=True)
        return 0
    finally:
        if run is not None:
            run.runner.close()


if __name__ == "__main__":
    raise SystemExit(main(prog=typed_program()))
