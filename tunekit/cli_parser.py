"""The command line's options: `build_parser`, and `cli_message`, which says errors in flags.

Each option of `CoarseToFine`'s arguments is built from its row of
`tunekit.params.PARAMETERS` (type, choices, default and "Default: ..." help),
so a rule never exists in two places. Imports nothing from Keras.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from typing import Any, NoReturn

from tunekit.cli_once import OnceParser
from tunekit.distribute.cluster import DEFAULT_CHIEF_TIMEOUT, DEFAULT_WORKER_TIMEOUT
from tunekit.errors import TunekitError, quoted_texts
from tunekit.params import (
    DATA_PARAMETERS,
    HYPERMODEL_PARAMETERS,
    MAX_PORT,
    PARAMETERS,
    POSITIVE_INT,
    Boolean,
    Interval,
    Param,
)

__all__ = ["build_parser", "cli_message"]

# Options whose parsed value the CLI reads itself (`_workflow_kwargs`) get the table's
# default; the others stay None when not given, so `--quick`'s budget and the checks of
# flags that apply only with another (`tunekit.option_pairs`) see only what the user typed
# (`--fine-tuner` too: "the default fine tuner" is said only when it was not given).
_DEFAULT_SET = ("seed",)
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
    text = param.help.replace("%", "%%")  # argparse formats help with %: "10%" is text here
    if isinstance(param.constraints[0], Boolean):  # a flag that flips the default
        parser.add_argument(
            param.flag,
            dest=param.name,
            action="store_false" if param.default else "store_true",
            help=(f"{text} On by default; this flag turns it off." if param.default else text),
        )
        return
    rule = "" if param.choices else f" Must be {param.expected}."
    parser.add_argument(
        param.flag,
        dest=param.name,
        type=str if param.choices else _text_type(param),
        choices=param.choices,
        default=param.default if param.name in _DEFAULT_SET else None,
        help=f"{text}{rule} Default: {param.default_text}.",
    )


class _Switch(argparse.BooleanOptionalAction):
    """`--x` / `--no-x`, refusing both in one command (argparse lets the last one win)."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: Any = None) -> None:
        before = getattr(namespace, self.dest, None)
        super().__call__(parser, namespace, values, option_string)
        if before is not None and before != getattr(namespace, self.dest):
            parser.error(
                f"{' and '.join(self.option_strings)} both given: they contradict each "
                "other. Give one of them."
            )


def _add_switch(parser: argparse.ArgumentParser, param: Param) -> None:
    """Adds `param`'s `--x` / `--no-x` pair (argparse's `BooleanOptionalAction`).

    Its value stays `None` when neither is given, so a check can tell "not
    given" (the table's default applies) from a choice the user made.
    """
    assert param.flag is not None
    parser.add_argument(
        param.flag,
        dest=param.name,
        action=_Switch,
        default=None,
        help=f"{param.help.replace('%', '%%')} Default: {'on' if param.default else 'off'}.",
    )


class _Parser(OnceParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see --help)\n")


def build_parser(prog: str = "python -m tunekit.coarse_to_fine") -> argparse.ArgumentParser:
    """The run command's parser; `prog` is the command shown in usage and help."""
    parser = _Parser(
        prog=prog,
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
        "output of one unit per target, MSE loss. toonvision-cnn is a small CNN for images, "
        "without augmentation unless --augment is given. Default: mnist-dense.",
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
    for param in HYPERMODEL_PARAMETERS.values():
        _add_switch(parser, param)
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
        help="Run folder name inside --directory. Default: the --hypermodel name, then "
        "'-' and the --data file's name without its extension (or the folder's name) when "
        "--data is given, then '-quick' for --quick; e.g. mnist-dense-rivers-quick.",
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
        help="A first look on a tiny budget (minutes, not the default run's tens of "
        "minutes): 5,000 training and 1,000 validation samples (a random sample stratified "
        "by class, seed 0 whatever --seed; an image folder is used whole), 4 coarse trials "
        "of 1 epoch, "
        "Hyperband max_epochs 3, 2 final epochs (explicit options still win), in its own run "
        "folder: the default --project-name ending in -quick.",
    )
    add(
        "--backend",
        choices=("auto", "tensorflow", "jax"),
        default="auto",
        help="Keras backend. auto (default) probes both on this machine for this hypermodel "
        "(tens of seconds, cached for later runs) and picks the faster: JAX for dense models, "
        "TensorFlow for small CNNs on a CPU. Python API users set KERAS_BACKEND instead.",
    )
    add(
        "--reprobe",
        action="store_true",
        help="With --backend auto: probe the backends again instead of reusing this "
        "machine's cached probe (after changing hardware or load).",
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
        help="The chief's port for --workers N or --trials-per-process N (default: a free "
        "one). Like the timeouts, refused on a one-process run, which has no chief.",
    )
    dist.add_argument(
        "--chief-timeout",
        type=_seconds("chief_timeout"),
        default=None,  # None: not given (refused on a one-process run), 120 s
        help="Seconds a worker waits for an unreachable chief before it stops. "
        f"Default: {DEFAULT_CHIEF_TIMEOUT:.0f}.",
    )
    dist.add_argument(
        "--worker-timeout",
        type=_seconds("worker_timeout"),
        default=None,  # None: not given (refused on a one-process run), 300 s
        help="Seconds the chief waits for a silent worker that holds a trial: a local worker "
        f"is restarted, a remote one ends the run naming it. Default: "
        f"{DEFAULT_WORKER_TIMEOUT:.0f}.",
    )
    return parser


# `name=value` in a library message: a keyword argument, shown to CLI users as its flag.
_KEYWORD = re.compile(r"\b([a-z][a-z0-9_]*)=(\([^()]*\)|'[^']*'|\"[^\"]*\"|[^\s,;()]*[^\s,;().])?")
# An argument named in backticks in a library message: `objective`, `data`.
_BACKTICKED = re.compile(r"`([a-z][a-z0-9_]*)`")
# A flag followed by itself in brackets, once keywords became flags.
_REPEATED_FLAG = re.compile(r"(--[\w-]+(?: [^\s()]+)?) \(\1\)")


def _inner_lines(error: BaseException, text: str) -> list[str]:
    """Lines of the errors `error` was raised from or during (Keras's, the user's) that
    `text` quotes, longest first: other libraries' words, left as they are."""
    lines, inner, seen = set(), error.__cause__ or error.__context__, 0
    while inner is not None and seen < 5:
        if not isinstance(inner, TunekitError):  # tunekit's own words name its keywords
            lines |= {line.strip() for line in str(inner).splitlines() if len(line.strip()) > 11}
        inner, seen = inner.__cause__ or inner.__context__, seen + 1
    return sorted((line for line in lines if line in text), key=len, reverse=True)


def cli_message(error: BaseException) -> str:
    """The message of `error` as the command line says it: flags, not keywords.

    A `TunekitError` names Python keyword arguments (`pass overwrite=True`,
    `final_epochs='auto'`, `project_name=`, `image_size=(HEIGHT, WIDTH)`, or
    `objective` in backticks); each one that is also an option of this command
    becomes that option (`--overwrite`, `--final-epochs auto`, `--project-name`,
    `--image-size HEIGHT WIDTH`, `--objective`).
    Other errors, other `name=value` text (`seed: chief 0`,
    `val_accuracy=0.91`) and other libraries' messages quoted in it
    (`tunekit.errors.quoted`: Keras's "Arguments `target` and `output`...")
    are left as they are.
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
        if value.startswith("("):  # a tuple: the items of an option of several values
            items = value.strip("()").replace(",", " ").split()
            if not isinstance(action.nargs, int) or len(items) != action.nargs:
                return match.group(0)
            return " ".join([action.option_strings[0], *items])
        if isinstance(action, argparse._StoreConstAction):  # store_true / store_false
            return action.option_strings[0] if value == str(action.const) else match.group(0)
        if isinstance(action, argparse.BooleanOptionalAction):  # --augment / --no-augment
            on = {"True": True, "False": False}.get(value)
            return match.group(0) if on is None else action.option_strings[0 if on else 1]
        if value == "None" and action.default is None:  # unset: the option left out
            return f"leave out {action.option_strings[0]}"
        return f"{action.option_strings[0]} {value}" if value else action.option_strings[0]

    def named(match: re.Match) -> str:  # "`objective`" -> "`--objective`"
        action = actions.get(match.group(1))
        return f"`{action.option_strings[0]}`" if action is not None else match.group(0)

    def rewrite(part: str) -> str:
        # "task='regression' (--task regression)" names both forms: on the command line, one.
        return _REPEATED_FLAG.sub(r"\1", _BACKTICKED.sub(named, _KEYWORD.sub(flag, part)))

    said = {t: t for t in quoted_texts(text) + _inner_lines(error, text)}  # Keras's words
    said |= dict(error.cli_words)  # a remedy with no option: the command line's own
    said.pop("", None)
    for span, name, old, new in error.changes:  # "coarse_trials: 3 -> 4"
        if name in actions:
            said[span] = _change_text(actions[name], name, old, new)
    if not said:
        return rewrite(text)
    spans = sorted(said, key=len, reverse=True)
    parts = re.split("(" + "|".join(map(re.escape, spans)) + ")", text)
    return "".join(said[part] if i % 2 else rewrite(part) for i, part in enumerate(parts))


def _change_text(action: argparse.Action, name: str, old: object, new: object) -> str:
    """A changed setting as the command line gives it: `--coarse-trials: 3 -> 4`,
    `--fine-tuner: hyperband -> bayesian`, `--no-baseline: not given -> given`,
    `--no-augment -> --augment`."""
    flag = action.option_strings[0]
    if isinstance(action, argparse.BooleanOptionalAction):  # --augment / --no-augment

        def value(v: object) -> str:
            return action.option_strings[0 if v else 1]

        return f"{value(old)} -> {value(new)}"
    if isinstance(action, argparse._StoreConstAction):  # store_true / store_false

        def value(v: object) -> str:
            return "given" if v == action.const else "not given"

        return f"{flag}: {value(old)} -> {value(new)}"
    if name == "data":  # the run records the data's fingerprint, not the path given
        return f"{flag}: fingerprint {old} -> {new}"
    return f"{flag}: {_flag_value(old)} -> {_flag_value(new)}"


def _flag_value(value: object) -> str:
    """A recorded setting as its option takes it: `auto`, `0.25`, `not given` (an unset
    default, which no value of the option says), a hypermodel by its class."""
    if value is None:
        return "not given"
    if isinstance(value, str):
        return value if value.strip() and value == value.strip() else repr(value)
    if isinstance(value, (list, tuple)) and all(isinstance(v, (int, float)) for v in value):
        return " ".join(map(str, value))  # --image-size HEIGHT WIDTH
    if isinstance(value, dict) and isinstance(value.get("class"), str):
        return value["class"]  # a hypermodel's description: its class
    return str(value)
