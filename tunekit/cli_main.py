"""The `tunekit` command: `run`, `ls`, `show`, `compare` (also `python -m tunekit`).

`tunekit run ...` is `python -m tunekit.coarse_to_fine ...` (the same options
and exit codes; see `tunekit.coarse_to_fine`). `ls` and `compare` print
`tunekit.runs.ls_runs` / `compare_runs` as a table (rich on a terminal, plain
text otherwise), CSV or JSON; `show` prints a run's `report.md`. Only `run`
loads Keras. Exit codes: 0 success, 2 bad arguments (a missing run, an
unknown column, a bad filter), and `run`'s own.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

import tunekit
from tunekit.cli_once import OnceParser
from tunekit.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["main"]

FORMATS = ("table", "csv", "json")


class _Parser(OnceParser):
    def error(self, message: str) -> NoReturn:
        if message == "argument --order: expected one argument":  # argparse took `-x` for a flag
            message += "; a reversed order needs '=': --order=-COLUMN, e.g. --order=-started"
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def build_parser(prog: str = "tunekit") -> argparse.ArgumentParser:
    """The `tunekit` parser; `run`'s options are `tunekit.cli_parser.build_parser`'s."""
    parser = _Parser(
        prog=prog,
        description="Coarse-to-fine hyperparameter tuning for Keras, and the runs it made.",
    )
    parser.add_argument("--version", action="version", version=f"tunekit {tunekit.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    commands.add_parser(
        "run",
        add_help=False,  # `tunekit run --help` is the run's own help
        help="Run (or resume) a tuning run: the options of python -m tunekit.coarse_to_fine "
        "(see tunekit run --help).",
    )
    ls = commands.add_parser(
        "ls",
        help="List the runs under a folder, best first.",
        description="One row per tunekit run folder under DIRECTORY (searched recursively; "
        "runs in progress included, a damaged run listed as corrupt), best first by the "
        "test metric (each run's direction), then by best validation score.",
    )
    ls.add_argument("directory", nargs="?", default="runs", help="Default: runs.")
    ls.add_argument(
        "--order",
        metavar="COLUMN",
        help="Sort by this column: best_val, test_value and baseline_delta best first, the "
        "others ascending; a leading '-' reverses (write --order=-started).",
    )
    ls.add_argument(
        "--filter",
        metavar="EXPR",
        help="Keep the rows matching a pandas query, e.g. "
        "'status == \"finished\" and trials >= 10'.",
    )
    _add_format(ls)
    show = commands.add_parser("show", help="Print a run's report.md.")
    show.add_argument("run", metavar="RUN", help="A run folder, e.g. runs/mnist-dense.")
    compare = commands.add_parser(
        "compare",
        help="Two or more runs side by side, differing settings first.",
        description="One column per run; rows are the settings (the run's configuration) "
        "and results; rows that differ come first.",
    )
    compare.add_argument("runs", metavar="RUN", nargs="+", help="Two or more run folders.")
    _add_format(compare)
    return parser


def _add_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help="table (rich on a terminal, plain text otherwise), csv, or json (a list of "
        "rows, floats in full: pandas.read_json(..., precise_float=True) reads it back "
        "exactly). Default: table.",
    )


def main(argv: Sequence[str] | None = None, prog: str = "tunekit") -> int:
    """Runs the `tunekit` command; returns the exit code (see the module docstring).

    `prog` is the program as typed (`python -m tunekit` passes its own): the
    resume and reproduce commands a run records start with it.
    """
    from tunekit import _log

    _log.open_closed_streams()  # `tunekit ... >&- 2>&-`: output dropped, the command runs
    argv = list(sys.argv[1:] if argv is None else argv)
    # A reader that leaves early (`| head`): later output is dropped, never a traceback.
    with _log.output_kept_safe() as stdout:
        if argv[:1] == ["run"]:
            from tunekit import coarse_to_fine

            # The run goes on to its end; its exit code is the run's (its results are files).
            return coarse_to_fine.main(argv[1:], prog=f"{prog} run")
        try:
            args = build_parser(prog).parse_args(argv)
        except SystemExit as e:  # --help / --version (0) or a bad argument (2), already reported
            return int(e.code or 0)  # help cut short by its reader (`| true`) is no failure
        code = _command(args)
        # `tunekit show RUN | head`: the output was cut short; exit 1 as Python does on EPIPE.
        return 1 if stdout.reader_left and code == 0 else code


def _command(args: argparse.Namespace) -> int:
    """`ls`, `show` or `compare`: their exit code."""
    try:
        if args.command == "ls":
            return _ls(args)
        if args.command == "show":
            return _show(Path(args.run))
        return _compare(args)
    except UsageError as e:
        print(f"error: {_as_flags(str(e))}", file=sys.stderr)
        return 2


# The Python API's names in `tunekit.runs`' messages, and what the command line calls them.
_FLAG_NAMES = (
    (re.compile(r"\b(order|filter)="), r"--\1 "),
    (re.compile(r"\bdirectory=(?=')"), "DIRECTORY "),
    (re.compile(r"\bcompare_runs got"), "tunekit compare got"),  # the same run twice
)


def _as_flags(message: str) -> str:
    """`order='x' is not a column` as `--order 'x' is not a column` (see `_FLAG_NAMES`)."""
    for pattern, replacement in _FLAG_NAMES:
        message = pattern.sub(replacement, message)
    return message


def _ls(args: argparse.Namespace) -> int:
    from tunekit.runs import ls_runs

    frame = ls_runs(args.directory, order=args.order, filter=args.filter)
    if frame.empty and args.format == "table":
        matching = f" matching {args.filter!r}" if args.filter is not None else ""
        print(f"No tunekit runs under {args.directory}{matching}.")
        return 0
    _print_frame(frame, args.format, index=False)
    return 0


def _compare(args: argparse.Namespace) -> int:
    from tunekit.runs import compare_runs

    if len(args.runs) < 2:
        raise UsageError(
            f"compare needs two or more runs; got {len(args.runs)}. "
            "E.g. tunekit compare runs/a runs/b."
        )
    for run in args.runs:  # the command's own words (compare_runs names the Python API)
        _check_run_folder(Path(run))
    _print_frame(compare_runs(*args.runs), args.format, index=True)
    return 0


def _print_frame(
    frame: pd.DataFrame, format: str, *, index: bool, out: TextIO | None = None
) -> None:
    """Prints `frame` as a table (rich on a terminal, plain otherwise), CSV or JSON."""
    import pandas as pd

    out = sys.stdout if out is None else out
    if format == "csv":
        out.write(frame.to_csv(index=index))
        return
    if format == "json":  # records; compare's row names are its `setting` column
        out.write(_records_json(frame.reset_index() if index else frame) + "\n")
        return
    shown = frame.reset_index() if index else frame
    headers = [str(c) for c in shown.columns]
    cells = [
        [_cut(_cell_text(v)) if h != "status" else _cell_text(v) for h, v in zip(headers, row)]
        for row in shown.itertuples(index=False)
    ]
    if any(c.endswith(_CUT) for row in cells for c in row):
        print(
            f"(Cells over {_CELL_WIDTH} characters are cut short with {_CUT}: "
            "--format csv or --format json gives them whole.)",
            file=out,
        )
    if out.isatty():
        from rich.console import Console
        from rich.measure import Measurement
        from rich.table import Table

        table = Table(header_style="bold")
        for header in headers:  # one line per row; a long status wraps inside its cell
            wraps = header == "status"
            table.add_column(
                header, no_wrap=not wraps, overflow="fold", max_width=40 if wraps else None
            )
        for row in cells:
            table.add_row(*row)
        console = Console(file=out)
        # Wider than the terminal rather than cut or folded letter by letter: the terminal
        # wraps the long lines (or `tunekit ls | less -S` scrolls them, as plain text).
        needed = Measurement.get(console, console.options.update(width=10_000), table).maximum
        console.width = max(console.width, needed)
        console.print(table)
        return
    text = pd.DataFrame(cells, columns=headers).to_string(index=False)
    out.write(text + "\n")


def _check_run_folder(run_dir: Path) -> None:
    """Raises `UsageError` unless `run_dir` holds a run (saying how to list runs)."""
    from tunekit.manifest import MANIFEST

    # A run whose manifest is gone still has its searches: shown, as corrupt.
    if not (run_dir / MANIFEST).is_file() and not (run_dir / "coarse" / "oracle.json").is_file():
        raise UsageError(
            f"{str(run_dir)!r} is not a tunekit run folder (no {MANIFEST} in it"
            + ("" if run_dir.exists() else "; it does not exist")
            + "). List the runs with: tunekit ls DIRECTORY."
        )


def _show(run_dir: Path) -> int:
    from tunekit.run_lock import holder
    from tunekit.runs import run_status

    _check_run_folder(run_dir)
    who = holder(run_dir)  # first: a run another process works on is said as that
    status, done = run_status(run_dir)
    if who is not None:
        print(
            f"Another process{who} is working on this run right now ({status}): what follows "
            "is how it stands, not its result; run tunekit show "
            f"{shlex.quote(str(run_dir))} again after it ends."
        )
    report = run_dir / "report.md"
    if status.startswith("corrupt") and report.is_file():  # said before a report it may belie
        print(f"Status: {status}; the report below was written before the damage.")
    elif status != "finished" and report.is_file() and who is None:  # not 100 lines down
        print(f"Status: {status}; the report below was written before (resume: see its end).")
    if report.is_file():
        # Title and "Reproduce" for where the folder is now (it may have been moved).
        text = _relocated_report(run_dir, report.read_text(encoding="utf-8"))
        if sys.stdout.isatty():
            from rich.console import Console
            from rich.markdown import Markdown

            Console().print(Markdown(text))
        else:
            print(text.rstrip("\n"))
    else:
        print(f"{run_dir}: {status} (no report.md yet)")
        print("Steps done: " + (", ".join(done) if done else "none"))
    if status != "finished":
        if not (status.startswith("corrupt") and report.is_file()):
            print(f"Status: {status}")
        from tunekit.reproduce import recorded_resume_command

        try:
            manifest = json.loads((run_dir / "manifest.json").read_text())
        except (OSError, ValueError):
            manifest = {}
        resume = recorded_resume_command(manifest, run_dir) if isinstance(manifest, dict) else None
        steps = manifest.get("steps") if isinstance(manifest, dict) else None
        errors = [
            f"{name}: {_recorded_error(step['error'], cli=resume is not None)}"
            for name, step in (steps.items() if isinstance(steps, dict) else ())
            if isinstance(step, dict) and step.get("error")
        ]
        for error in errors:
            print(f"Stopped on: {error}")
        if status.startswith("failed"):
            # The same command would fail the same way (e.g. an objective never reported).
            if resume is not None and any(e.split(": ")[1] in _START_OVER for e in errors):
                # Too few trials completed: a resume would reload the same failed ones; a
                # fixed fit is new code, which a resume refuses.
                print(f"Fix the cause, then start the run over: {resume} --overwrite")
                from tunekit.cli_summary import more_coarse_trials

                if more := more_coarse_trials(manifest, run_dir, errors):
                    print(f"Or, if some configurations fail by nature, go on with more: {more}")
            elif resume is not None:
                print(f"Fix the cause, then rerun (the command it was started with: {resume})")
        elif resume is not None and not status.startswith("running"):
            print(f"Resume with: {resume}")
    if (run_dir / "tensorboard").is_dir():
        # Shell-quoted: a folder name with spaces or quotes pastes as one argument.
        print(f"Dashboard: tensorboard --logdir {shlex.quote(str(run_dir / 'tensorboard'))}")
    return 0


def _relocated_report(run_dir: Path, text: str) -> str:
    """`report.md`'s `text` naming `run_dir` as the run's folder (title, "Reproduce")."""
    from tunekit.report_top import relocate_markdown
    from tunekit.reproduce import relocated

    try:
        report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
        return relocate_markdown(text, relocated(report, run_dir))
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return text  # no readable report.json: report.md as written


# Errors after which a resume reloads the same failed trials: the run starts over.
# A HyperModelFitError is fixed in the hypermodel's code, which a resume refuses (its hash).
# (A phase with no completed trial starts again on a rerun: `tunekit.steps.phase_restart`.)
_START_OVER = ("TooFewTrialsError", "HyperModelFitError")

# tunekit's errors defined where Keras loads (tunekit.fitting), which `show` does not import.
_KERAS_SIDE_ERRORS = ("HyperModelFitError", "SearchInputError")


def _recorded_error(error: str, cli: bool) -> str:
    """A step's recorded error (`"Type: message"`), as a run started from the command line
    would have said it: a tunekit error's keywords as flags (`objective` -> `--objective`)."""
    from tunekit.cli_parser import cli_message
    from tunekit.errors import TunekitError

    kind, colon, message = error.partition(": ")
    names: set[str] = set(_KERAS_SIDE_ERRORS)
    classes = [TunekitError]
    while classes:
        cls = classes.pop()
        names.add(cls.__name__)
        classes.extend(cls.__subclasses__())
    if not cli or not colon or kind not in names:
        return error
    return f"{kind}: {cli_message(TunekitError(message))}"


# A table's cells are cut to this many characters (a status wraps in its own cell instead):
# one long value (a default model's layer settings) made every row of `compare` 2,664 wide.
_CELL_WIDTH = 80
_CUT = "…"


def _cut(text: str) -> str:
    return text if len(text) <= _CELL_WIDTH else text[: _CELL_WIDTH - 1] + _CUT


def _cell_text(value: Any) -> str:
    """A cell as text for the tables `tunekit ls` / `compare` print ("-" when empty)."""
    import pandas as pd

    from tunekit.results import format_value

    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.0f}" if abs(value) >= 1e4 else f"{value:.4g}"
    return format_value(value)


def _records_json(frame: pd.DataFrame) -> str:
    """`frame` as a JSON list of row objects, floats at full precision, empty cells `null`.

    `pandas.read_json` reads it back; with `precise_float=True`, every float
    exactly (pandas' own `to_json` keeps only 10 decimals).
    """
    records = [
        {str(k): None if _cell_text(v) == "-" else v for k, v in row.items()}
        for row in frame.astype(object).to_dict(orient="records")
    ]
    return json.dumps(records, default=_json_scalar)


def _json_scalar(value: Any) -> Any:
    """numpy scalars as Python ones (`json.dumps`' `default`)."""
    return value.item() if hasattr(value, "item") else str(value)
